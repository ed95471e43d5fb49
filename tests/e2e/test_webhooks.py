"""Webhooks and the change feed, as an integrator sees them: a real HTTP receiver on loopback
gets each event the secretariat registered it for, signed per the Standard Webhooks scheme,
again after it was down (also across a restart of the server), and never a stance that is
still hidden; `gavel webhook status` and /metrics count the deliveries; GET
/v1/forums/{forum}/events pages through every event with `next`."""
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import threading

from harness import GavelTest, Server, free_port, main, make_demo_db, run, scaled, wait_until

OPTIONS = ["support", "support_with_reservations", "oppose", "abstain"]
SECRETS = {"MG": "quokka statement of Madagascar", "KM": "narwhal statement of the Comoros",
           "SC": "axolotl statement of Seychelles"}


class Receiver:
    """An HTTP server on a fixed loopback port that records every POST it answers."""

    def __init__(self, port):
        self.port = port
        self.got = []          # (headers as a dict with lower-case names, body bytes)
        self.paths = []
        self.lock = threading.Lock()
        self.httpd = None

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with owner.lock:
                    owner.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    owner.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def bodies(self):
        with self.lock:
            return [(h, b) for h, b in self.got]

    def events(self):
        return [json.loads(b) for _, b in self.bodies()]


def signature_ok(secret, headers, body):
    """The Standard Webhooks check: HMAC-SHA256 under the secret's decoded key of id.timestamp.body."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return expected in headers["webhook-signature"].split(" ")


class WebhookTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.receivers = []

    def tearDown(self):
        for r in self.receivers:
            r.stop()
        super().tearDown()

    def receiver(self):
        r = Receiver(free_port()).start()
        self.receivers.append(r)
        return r

    def status(self, db):
        return run("webhook", "status", "--db", db).stdout

    def consultation(self, srv, sec):
        st, _, f = srv.request("GET", "/v1/forums/midiocc", token=sec)
        now = datetime.datetime.fromisoformat(f["now"].replace("Z", "+00:00"))
        deadline = (now + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", {
            "workflow": "consultation", "title": "Regional labour mobility scheme",
            "params": {"question": "Do you support the scheme?", "deadline": deadline,
                       "visibility": "hidden_until_close"}}, sec)
        self.assertEqual(st, 201, b)
        return b["item"]["id"]

    def test_signed_deliveries_retried_and_never_a_hidden_stance(self):
        db = make_demo_db(self.tmp)
        srv = self.server(db)
        sec = srv.login("secretariat")
        rx = self.receiver()

        # Only the secretariat registers endpoints; the secret is shown once, never listed.
        url = f"http://127.0.0.1:{rx.port}/gavel"
        st, _, b = srv.request("POST", "/v1/forums/midiocc/webhooks", {"url": url}, srv.login("mg.delegate"))
        self.assertEqual(st, 403, b)
        st, _, b = srv.request("POST", "/v1/forums/midiocc/webhooks", {"url": "ftp://example.org/x"}, sec)
        self.assertEqual(st, 422, b)
        st, _, b = srv.request("POST", "/v1/forums/midiocc/webhooks", {"url": "http://example.org/x"}, sec)
        self.assertEqual((st, b["error"]["field"]), (422, "url"), b)
        st, _, hook = srv.request("POST", "/v1/forums/midiocc/webhooks", {"url": url, "events": []}, sec)
        self.assertEqual(st, 201, hook)
        secret = hook["secret"]
        self.assertTrue(secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24, secret)
        st, _, listed = srv.request("GET", "/v1/forums/midiocc/webhooks", token=sec)
        self.assertEqual([h["url"] for h in listed["webhooks"]], [url])
        self.assertNotIn(secret, json.dumps(listed))
        # One endpoint asks only for timers: it gets none of the actions below.
        st, _, only_timers = srv.request("POST", "/v1/forums/midiocc/webhooks",
                                         {"url": f"http://127.0.0.1:{rx.port}/timers", "events": ["timer"]}, sec)
        self.assertEqual(st, 201, only_timers)

        item = self.consultation(srv, sec)
        for who, member in (("mg.delegate", "MG"), ("km.delegate", "KM")):
            st, _, b = srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                                   {"params": {"stance": "oppose" if member == "MG" else "abstain",
                                               "statement": SECRETS[member]}}, srv.login(who))
            self.assertEqual(st, 200, b)

        def submits():
            return [e for e in rx.events() if e["type"] == "action.submit_position"]
        self.assertEqual(len(wait_until(lambda: len(submits()) == 2 and submits())), 2, rx.events())
        for headers, body in rx.bodies():
            self.assertTrue(signature_ok(secret, headers, body), headers)
            self.assertFalse(signature_ok("whsec_" + base64.b64encode(b"x" * 24).decode(), headers, body))
            self.assertEqual(headers["content-type"], "application/json")
        created = [e for e in rx.events() if e["data"]["kind"] == "create"]
        self.assertEqual(len(created), 1, rx.events())
        self.assertEqual(created[0]["data"]["item_id"], item)
        for e in submits():
            self.assertEqual((e["data"]["params"], e["data"]["sealed"]), (None, True), e)
        ids = [h["webhook-id"] for h, _ in rx.bodies()]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(set(rx.paths), {"/gavel"}, "the endpoint for timers gets no action")

        # The receiver is down: the delivery fails, waits, and is made once it is back, also
        # across a restart of the server (the state is in the database).
        rx.stop()
        st, _, b = srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                               {"params": {"stance": "support", "statement": SECRETS["SC"]}}, srv.login("sc.delegate"))
        self.assertEqual(st, 200, b)
        self.assertTrue(wait_until(lambda: "last error:" in self.status(db)), self.status(db))
        out = self.status(db)
        self.assertIn("pending 1", out)
        self.assertIn("recent failures:", out)
        srv.stop()
        rx.start()
        srv = self.server(db)
        sec = srv.login("secretariat")
        # Back-off is timed by the server's clock: move it past the first retry.
        st, _, b = srv.request("POST", "/v1/test/clock", {"advance_seconds": 120}, sec)
        self.assertEqual(st, 200, b)
        self.assertTrue(wait_until(lambda: len(submits()) == 3), rx.events())
        for headers, body in rx.bodies():
            self.assertTrue(signature_ok(secret, headers, body))
        out = self.status(db)
        self.assertIn(f"webhook {hook['id']}  {url}", out)
        self.assertTrue(wait_until(lambda: "pending 0  delivered 4" in self.status(db)), self.status(db))
        st, _, metrics = srv.request("GET", "/metrics")
        metrics = metrics.decode()
        self.assertIn('gavel_webhook_deliveries_total{result="delivered"} 1', metrics)
        self.assertIn("gavel_webhook_pending 0", metrics)

        # Closing makes the stances public: later deliveries may say what is no longer hidden,
        # but no delivery ever carried a stance while it was hidden.
        text = "\n".join(b.decode() for _, b in rx.bodies())
        for member, words in SECRETS.items():
            self.assertNotIn(words, text, f"{member}'s statement left while hidden")
        for stance in ('"oppose"', '"abstain"', '"stance"'):
            self.assertNotIn(stance, text)

        # Removing the endpoint stops its deliveries; the command line sees the same endpoints.
        st, _, b = srv.request("DELETE", f"/v1/forums/midiocc/webhooks/{hook['id']}", token=sec)
        self.assertEqual(st, 200, b)
        st, _, b = srv.request("DELETE", f"/v1/forums/midiocc/webhooks/{hook['id']}", token=sec)
        self.assertEqual(st, 404, b)
        listed = run("webhook", "list", "--db", db).stdout
        self.assertNotIn(url, listed)
        self.assertIn("/timers", listed)

    def test_command_line_registration(self):
        db = make_demo_db(self.tmp)
        rx = self.receiver()
        url = f"http://127.0.0.1:{rx.port}/accounts"
        out = run("webhook", "add", "--db", db, url, "--events", "account, meeting").stdout
        self.assertIn("events: account,meeting", out)
        secret = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("secret: ")][0]
        bad = run("webhook", "add", "--db", db, "http://example.org/x", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("https://", bad.stderr)
        srv = self.server(db)
        sec = srv.login("secretariat")
        st, _, b = srv.request("POST", "/v1/meetings", {"title": "Second meeting", "place": "Victoria",
                                                        "starts_on": "2030-03-10"}, sec)
        self.assertEqual(st, 201, b)
        self.consultation(srv, sec)
        got = wait_until(lambda: rx.bodies())
        self.assertTrue(got)
        headers, body = got[0]
        self.assertTrue(signature_ok(secret, headers, body))
        self.assertEqual(json.loads(body)["data"]["kind"], "meeting")
        self.assertTrue(wait_until(lambda: "delivered 1" in self.status(db)), self.status(db))
        self.assertEqual([json.loads(b)["data"]["kind"] for _, b in rx.bodies()], ["meeting"])
        self.assertIn("webhook 1 removed", run("webhook", "remove", "--db", db, "1").stdout)
        self.assertIn("no webhooks", run("webhook", "list", "--db", db).stdout)

    def test_change_feed_pages_with_next_and_hides_stances(self):
        srv = self.server(make_demo_db(self.tmp))
        sec = srv.login("secretariat")
        item = self.consultation(srv, sec)
        for who, member in (("mg.delegate", "MG"), ("km.delegate", "KM")):
            st, _, b = srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                                   {"params": {"stance": "oppose", "statement": SECRETS[member]}}, srv.login(who))
            self.assertEqual(st, 200, b)
        obs = srv.login("observer")
        st, _, whole = srv.request("GET", "/v1/forums/midiocc/events?limit=1000", token=obs)
        self.assertEqual(st, 200, whole)
        self.assertFalse(whole["more"])
        all_ids = [e["id"] for e in whole["events"]]
        self.assertEqual(all_ids, sorted(all_ids))
        self.assertGreaterEqual(len(all_ids), 4)

        pages, after, seen = 0, 0, []
        while True:
            st, _, page = srv.request("GET", f"/v1/forums/midiocc/events?after={after}&limit=2", token=obs)
            self.assertEqual(st, 200, page)
            pages += 1
            seen += [e["id"] for e in page["events"]]
            self.assertLessEqual(len(page["events"]), 2)
            self.assertEqual(page["more"], page["next"] < all_ids[-1])
            if not page["events"]:
                self.assertEqual(page["next"], after, "an empty page keeps the position")
                break
            after = page["next"]
        self.assertEqual(seen, all_ids)
        self.assertGreaterEqual(pages, 3)
        # Polling the last `next` again finds what happened since, and nothing twice.
        st, _, b = srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                               {"params": {"stance": "support", "statement": SECRETS["SC"]}}, srv.login("sc.delegate"))
        self.assertEqual(st, 200, b)
        st, _, page = srv.request("GET", f"/v1/forums/midiocc/events?after={after}", token=obs)
        self.assertEqual([e["action"] for e in page["events"]], ["submit_position"])

        text = json.dumps(whole)
        for words in SECRETS.values():
            self.assertNotIn(words, text)
        # A state sees its own stance in the feed, as in the item's event list.
        st, _, mine = srv.request("GET", "/v1/forums/midiocc/events?limit=1000", token=srv.login("mg.delegate"))
        self.assertIn(SECRETS["MG"], json.dumps(mine))
        self.assertNotIn(SECRETS["KM"], json.dumps(mine))
        st, _, b = srv.request("GET", "/v1/forums/midiocc/events?after=x", token=obs)
        self.assertEqual((st, b["error"]["field"]), (422, "after"))
        st, _, b = srv.request("GET", "/v1/forums/other/events", token=obs)
        self.assertEqual(st, 404)
        st, _, b = srv.request("GET", "/v1/forums/midiocc/events")
        self.assertEqual(st, 401)


if __name__ == "__main__":
    main()
