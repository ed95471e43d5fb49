"""Hidden results: until a consultation closes, a state's stance and statement reach only that
state, the secretariat and the chair, in every channel: API, events, records, live updates,
email outbox, metrics and logs. After close, everyone sees everything."""
import datetime
import json
import socket
import sqlite3
import threading

from harness import GavelTest, main, make_demo_db, scaled, wait_until

OPTIONS = ["zebra_alpha", "zebra_bravo", "zebra_charlie", "zebra_delta"]
# What each state answered: the stance word and texts that only it (and the secretariat and
# the chair) may see while the consultation is open. MG answers twice (the history keeps both).
SECRETS = {
    "MG": ["zebra_alpha", "quokka statement of Madagascar", "revised quokka wording of Madagascar"],
    "KM": ["zebra_bravo", "narwhal statement of the Comoros"],
    "RE": ["zebra_charlie", "axolotl letter of France/Reunion", "NV-pangolin-2026-RE"],
}
READERS = {"secretariat": None, "chair": None, "observer": None, "mg.delegate": "MG", "km.delegate": "KM",
           "re.delegate": "RE", "sc.delegate": "SC", "anonymous": None}
PRIVILEGED = ("secretariat", "chair")


def strip_options(x):
    """The value with the list of options removed wherever it appears: the question's
    possible stances are public, a state's choice among them is not."""
    if isinstance(x, list):
        if x == OPTIONS:
            return "<options>"
        return [strip_options(v) for v in x]
    if isinstance(x, dict):
        return {k: strip_options(v) for k, v in x.items()}
    return x


def public_text(body):
    """A response body as text to search, with the options list taken out of JSON."""
    if isinstance(body, (dict, list)):
        return json.dumps(strip_options(body), ensure_ascii=False, separators=(",", ":"))
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return body


def sse_text(raw):
    """A Server-Sent Events stream as text, each data line's JSON without the options list."""
    out = []
    for line in raw.decode("utf-8", "replace").split("\n"):
        if line.startswith("data: "):
            try:
                line = "data: " + public_text(json.loads(line[6:]))
            except ValueError:
                pass
        out.append(line)
    return "\n".join(out)


class StreamReader(threading.Thread):
    """Reads GET /v1/stream on a raw socket until stopped."""

    def __init__(self, port, token, last_event_id=None):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
        head = f"GET /v1/stream HTTP/1.1\r\nHost: localhost\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if last_event_id is not None:
            head += f"Last-Event-ID: {last_event_id}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.sock.settimeout(0.2)
        self.raw = b""
        self.stopped = threading.Event()
        self.start()

    def run(self):
        while not self.stopped.is_set():
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            self.raw += chunk

    def stop(self):
        self.stopped.set()
        self.join(scaled(5))
        self.sock.close()
        return self.raw


def may_see(reader, member):
    return reader in PRIVILEGED or READERS.get(reader) == member


def audience_limited_to(audience, member):
    """Whether an outbox audience reaches only the secretariat, the chair and member's delegates."""
    items = audience if isinstance(audience, list) else [audience]
    for a in items:
        if a in ("secretariat", "chair", member):
            continue
        if isinstance(a, dict) and a.get("members") == [member] and a.get("kind") == "delegates_of_member":
            continue
        return False
    return bool(items)


class HiddenResultsTest(GavelTest):
    def test_hidden_until_close_in_every_channel(self):
        srv = self.server(make_demo_db(self.tmp))
        tok = {u: srv.login(u) for u in READERS if u != "anonymous"}
        tok["anonymous"] = None
        sec = tok["secretariat"]

        st, _, m = srv.request("POST", "/v1/meetings", {"title": "Second meeting", "place": "Antananarivo",
                                                        "starts_on": "2030-03-10"}, sec)
        self.assertEqual(st, 201, m)
        meeting = m["meeting"]["id"]
        live = {u: StreamReader(srv.port, t) for u, t in tok.items() if u not in PRIVILEGED}
        st, _, f = srv.request("GET", "/v1/forums/midiocc", token=sec)
        now = datetime.datetime.fromisoformat(f["now"].replace("Z", "+00:00"))
        deadline = (now + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", {
            "workflow": "consultation", "title": "Regional labour mobility scheme",
            "params": {"question": "Do you support the scheme?", "deadline": deadline, "options": OPTIONS,
                       "visibility": "hidden_until_close", "meeting": meeting}}, sec)
        self.assertEqual(st, 201, b)
        item = b["item"]["id"]

        answers = [
            ("mg.delegate", "submit_position", {"stance": "zebra_alpha", "statement": SECRETS["MG"][1]}),
            ("km.delegate", "submit_position", {"stance": "zebra_bravo", "statement": SECRETS["KM"][1]}),
            ("mg.delegate", "submit_position", {"stance": "zebra_alpha", "statement": SECRETS["MG"][2]}),
            ("secretariat", "record_on_behalf", {"member": "RE", "stance": "zebra_charlie",
                                                 "statement": SECRETS["RE"][1], "reference": SECRETS["RE"][2]}),
        ]
        seen = {}  # reader -> [(channel, text)]
        for who, action, params in answers:
            st, _, b = srv.request("POST", f"/v1/items/{item}/actions/{action}", {"params": params}, tok[who])
            self.assertEqual(st, 200, b)
            seen.setdefault(who, []).append((f"the answer to its own {action}", public_text(b)))
        # A reminder to the states that have not answered goes through the outbox too.
        st, _, b = srv.request("POST", "/v1/test/clock", {"advance_seconds": 25 * 3600}, sec)
        self.assertEqual(b["timers_fired"], 1, b)

        replay = {u: StreamReader(srv.port, t, last_event_id=0) for u, t in tok.items()}

        def wanted(u):
            return ["401 Unauthorized"] if u == "anonymous" else ['"action":"submit_position"',
                                                                  '"action":"record_on_behalf"']

        def streams_carried_the_answers():
            readers = [(u, r) for u, r in replay.items()] + [(u, r) for u, r in live.items()]
            return all(all(w in sse_text(r.raw) for w in wanted(u)) for u, r in readers)

        # Wait for the last answer on every stream (it comes after all the others).
        wait_until(streams_carried_the_answers)
        for u, r in replay.items():
            seen.setdefault(u, []).append(("GET /v1/stream with Last-Event-ID: 0", sse_text(r.stop())))
        for u, r in live.items():
            seen.setdefault(u, []).append(("GET /v1/stream (live)", sse_text(r.stop())))
        # The streams did carry the answers (as events without their content).
        for u, channels in seen.items():
            for channel, text in channels:
                if "stream" in channel:
                    for w in wanted(u):
                        self.assertIn(w, text, f"{u}: {channel}")

        paths = [f"/v1/items/{item}", f"/v1/items/{item}/events", f"/v1/items/{item}/positions",
                 f"/v1/items/{item}/positions?history=true", "/v1/forums/midiocc/items",
                 "/v1/forums/midiocc/items?awaiting=me", f"/v1/forums/midiocc/items?meeting={meeting}",
                 f"/v1/meetings/{meeting}", f"/v1/meetings/{meeting}/record",
                 f"/v1/meetings/{meeting}/record?format=md", f"/v1/meetings/{meeting}/record?format=html"]
        for reader, t in tok.items():
            for p in paths:
                st, _, b = srv.request("GET", p, token=t)
                self.assertEqual(st, 401 if t is None else 200, f"{reader} GET {p}: {b}")
                seen.setdefault(reader, []).append(("GET " + p, public_text(b)))

        leaks = []
        for reader, channels in seen.items():
            for member, words in SECRETS.items():
                if may_see(reader, member):
                    continue
                for channel, text in channels:
                    for w in words:
                        if w in text:
                            leaks.append(f"{reader} sees {member}'s {w!r} in {channel}")
        # The email outbox: a row may carry a stance only to that state, the secretariat and the chair.
        con = sqlite3.connect(srv.db)
        rows = con.execute("SELECT id, topic, audience, payload FROM outbox ORDER BY id").fetchall()
        con.close()
        self.assertTrue(any(r[1] == "reminder" for r in rows), "the reminder is in the outbox")
        for oid, topic, audience, payload in rows:
            text = public_text(json.loads(payload)) + public_text(json.loads(audience))
            for member, words in SECRETS.items():
                if audience_limited_to(json.loads(audience), member):
                    continue
                leaks += [f"outbox row {oid} ({topic}, to {audience}) carries {member}'s {w!r}" for w in words if w in text]
        # Metrics are served to loopback without a token.
        st, _, metrics = srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        for member, words in SECRETS.items():
            leaks += [f"/metrics shows {member}'s {w!r}" for w in words if w in metrics.decode()]
        if leaks:
            self.fail(f"{len(leaks)} hidden stances leaked:\n" + "\n".join(leaks))

        # Those entitled do see: each state its own answer, the secretariat and the chair all.
        for reader in ("secretariat", "chair", "mg.delegate", "km.delegate", "re.delegate"):
            st, _, b = srv.request("GET", f"/v1/items/{item}/positions?history=true", token=tok[reader])
            text = json.dumps(b, ensure_ascii=False)
            for member, words in SECRETS.items():
                if may_see(reader, member):
                    for w in words:
                        self.assertIn(w, text, f"{reader} should see {member}'s {w!r}")
        st, _, b = srv.request("GET", f"/v1/items/{item}", token=tok["mg.delegate"])
        mine = [x for x in b["summary"]["members"] if x["member"] == "MG"][0]
        self.assertEqual((mine["stance"], mine["statement"]), ("zebra_alpha", SECRETS["MG"][2]))
        self.assertNotIn("counts", b["summary"], "partial counts would tell others' stances")
        st, _, b = srv.request("GET", f"/v1/items/{item}", token=tok["chair"])
        self.assertEqual(b["summary"]["counts"], {"zebra_alpha": 1, "zebra_bravo": 1, "zebra_charlie": 1})
        # Who answered is not hidden, only what they answered.
        st, _, b = srv.request("GET", f"/v1/items/{item}", token=tok["observer"])
        self.assertEqual(b["summary"]["answered"], ["KM", "MG", "RE"])
        self.assertTrue(b["summary"]["hidden"])

        # After close, everyone sees everything.
        st, _, b = srv.request("POST", f"/v1/items/{item}/actions/close", {"params": {"reason": "All heard."}}, sec)
        self.assertEqual(st, 200, b)
        for reader in ("observer", "sc.delegate", "km.delegate"):
            st, _, b = srv.request("GET", f"/v1/items/{item}/positions?history=true", token=tok[reader])
            text = json.dumps(b, ensure_ascii=False)
            for words in SECRETS.values():
                for w in words:
                    self.assertIn(w, text, f"{reader} after close")
        st, _, b = srv.request("GET", f"/v1/items/{item}", token=tok["observer"])
        self.assertEqual(b["summary"]["counts"], {"zebra_alpha": 1, "zebra_bravo": 1, "zebra_charlie": 1})
        st, _, rec = srv.request("GET", f"/v1/meetings/{meeting}/record?format=md", token=tok["observer"])
        for words in SECRETS.values():
            self.assertIn(words[0], rec.decode())
        st, _, ev = srv.request("GET", f"/v1/items/{item}/events", token=tok["sc.delegate"])
        self.assertIn(SECRETS["KM"][1], json.dumps(ev, ensure_ascii=False))

        # The server's log never holds a stance or a statement, open or closed.
        srv.stop()
        log = srv.output()
        self.assertIn("http.request", log)
        for member, words in SECRETS.items():
            for w in words:
                self.assertNotIn(w, log, f"the log holds {member}'s {w!r}")
        for w in OPTIONS:
            self.assertNotIn(w, log)


if __name__ == "__main__":
    main()
