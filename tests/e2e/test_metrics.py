"""/metrics as an operator's Prometheus sees it: after real requests, a timer and mail to a
real SMTP server (aiosmtpd on loopback), the figures moved, the outbox backlog went back to
zero once the mail was accepted, `promtool check metrics` finds nothing to complain about,
and behind a trusted proxy on this machine access is decided on the forwarded client."""
import datetime
import os
import shutil
import socket
import subprocess
import time

from harness import GavelTest, free_port, main, make_demo_db, scaled, wait_until
from test_email import Sink


def parse(text):
    """The samples of a Prometheus text page: {'name{labels}': value}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        samples[series] = float(value)
    return samples


def series(name, **labels):
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class Stream:
    """A live update stream held open on its own connection."""

    def __init__(self, port, token):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
        self.sock.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("the stream closed before its headers")
            head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError("the stream was refused: " + head.decode("latin-1")[:200])

    def close(self):
        self.sock.close()


class MetricsTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.sinks = []

    def tearDown(self):
        for s in self.sinks:
            s.stop()
        super().tearDown()

    def config(self, smtp_port, extra=""):
        path = self.tmp("gavel.conf.lua")
        with open(path, "w") as f:
            f.write('trusted_proxies = { "127.0.0.1" }\n'
                    'metrics = { allow = { "203.0.113.0/24" } }\n'
                    f'plugins = {{ email = {{ smtp = "smtp://127.0.0.1:{smtp_port}", security = "none",'
                    ' from = "noreply@midiocc.example", first_retry = "1m", digest_at = "00:00" } }\n' + extra)
        return path

    def metrics(self, srv, headers=None):
        st, h, body = srv.request("GET", "/metrics", headers=headers)
        self.assertEqual(st, 200, body)
        self.assertTrue(h["content-type"].startswith("text/plain; version=0.0.4"), h)
        return body.decode()

    def value(self, srv, name, **labels):
        return parse(self.metrics(srv)).get(series(name, **labels))

    def advance(self, srv, tok, seconds):
        st, _, b = srv.request("POST", "/v1/test/clock", {"advance_seconds": seconds}, tok)
        self.assertEqual(st, 200, b)
        return b

    def promtool(self, text):
        """`promtool check metrics` on text: no output, exit 0. Skipped only outside CI
        when promtool is not installed (scripts/install-deps installs it)."""
        tool = shutil.which("promtool")
        if tool is None:
            if os.environ.get("CI") == "true":
                self.fail("promtool is missing in CI: scripts/install-deps installs the prometheus package")
            return False
        p = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=scaled(60))
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""), "promtool found problems")
        return True

    def test_figures_move_and_promtool_accepts_them(self):
        port = free_port()
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config(port))
        sec = srv.login("secretariat")
        for user, addr in (("km.delegate", "km@example.org"), ("mg.delegate", "mg@example.org")):
            st, _, b = srv.request("PATCH", "/v1/me", {"email": addr}, srv.login(user))
            self.assertEqual(st, 200, b)

        # A consultation while the mail server is down: its notification waits in the outbox.
        now = datetime.datetime.fromisoformat(self.advance(srv, sec, 0)["now"].replace("Z", "+00:00"))
        deadline = (now + datetime.timedelta(hours=72)).strftime("%Y-%m-%dT%H:%M:%SZ")
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                               {"workflow": "consultation", "title": "Labour mobility",
                                "params": {"question": "Do you support it?", "deadline": deadline}}, sec)
        self.assertEqual(st, 201, b)
        item = b["item"]["id"]

        def tried():
            p = parse(self.metrics(srv))
            return p["gavel_email_pending"] >= 2 and p["gavel_email_deferred_total"] >= p["gavel_email_pending"]
        self.assertTrue(wait_until(tried), "every delivery (KM's and MG's at least) was tried and deferred")
        waiting = self.value(srv, "gavel_email_pending")
        self.assertEqual(self.value(srv, "gavel_email_outbox_pending"), 1)
        self.assertEqual(self.value(srv, "gavel_email_pending"), waiting)
        self.assertEqual(self.value(srv, "gavel_email_sent_total"), 0)
        self.advance(srv, sec, 120)
        self.assertGreaterEqual(self.value(srv, "gavel_email_outbox_oldest_pending_age_seconds"), 120)

        # The mail server is back and the back-off has passed: the backlog drains to zero.
        smtp = Sink(port=port).start()
        self.sinks.append(smtp)
        smtp.wait_for("km@example.org")
        smtp.wait_for("mg@example.org")
        self.assertTrue(wait_until(lambda: self.value(srv, "gavel_email_sent_total") == waiting))
        self.assertEqual(len(smtp.messages), waiting)
        self.assertEqual(self.value(srv, "gavel_email_outbox_pending"), 0)
        self.assertEqual(self.value(srv, "gavel_email_outbox_oldest_pending_age_seconds"), 0)
        self.assertEqual(self.value(srv, "gavel_email_pending"), 0)
        self.assertEqual(self.value(srv, "gavel_email_failed_total"), 0)

        # The 48-hour reminder was due 24 h after the opening; the clock jumps 25 h, so it
        # fires about an hour late.
        self.assertEqual(self.value(srv, "gavel_timers_fired_total"), 0)
        self.advance(srv, sec, 25 * 3600)
        page = parse(self.metrics(srv))
        self.assertGreaterEqual(page["gavel_timers_fired_total"], 1)
        self.assertGreaterEqual(page["gavel_timers_pending"], 1, "the 24-hour reminder and the deadline wait")
        self.assertGreaterEqual(page["gavel_timer_lag_seconds"], 3600 - 120)
        self.assertLess(page["gavel_timer_lag_seconds"], 2 * 3600)

        # A refused request and a missing item count as 4xx on their route template.
        st, _, _ = srv.request("GET", "/v1/items/999999", token=sec)
        self.assertEqual(st, 404)
        st, _, _ = srv.request("POST", f"/v1/items/{item}/actions/submit_position", {"params": {"stance": "maybe"}},
                               sec)
        self.assertGreaterEqual(st, 400)
        stream = Stream(srv.port, sec)
        try:
            self.assertTrue(wait_until(lambda: self.value(srv, "gavel_stream_clients") == 1))
            text = self.metrics(srv)
        finally:
            stream.close()
        self.assertTrue(wait_until(lambda: self.value(srv, "gavel_stream_clients") == 0))

        page = parse(text)
        created = dict(method="POST", route="/v1/forums/{forum}/items", status="2xx")
        self.assertEqual(page[series("gavel_http_requests_total", **created)], 1)
        self.assertEqual(page[series("gavel_http_request_duration_seconds_count", **created)], 1)
        self.assertEqual(page[series("gavel_http_request_duration_seconds_bucket", **created, le="+Inf")], 1)
        missing = dict(method="GET", route="/v1/items/{id}", status="4xx")
        self.assertEqual(page[series("gavel_http_request_duration_seconds_count", **missing)], 1)
        refused = dict(method="POST", route="/v1/items/{id}/actions/{action}", status="4xx")
        self.assertEqual(page[series("gavel_http_request_duration_seconds_count", **refused)], 1)
        self.assertNotIn(series("gavel_http_request_duration_seconds_count", method="GET", route="/v1/stream",
                                status="2xx"), page, "a stream's lifetime is not a request duration")
        self.assertGreaterEqual(page["gavel_commit_batch_size_count"], 1)
        self.assertGreaterEqual(page["gavel_commit_duration_seconds_count"], page["gavel_commit_batch_size_count"])
        self.assertGreaterEqual(page["gavel_sqlite_commit_duration_seconds_count"],
                                page["gavel_commit_duration_seconds_count"])
        self.assertGreaterEqual(page["gavel_actions_total"], 1)
        self.assertGreaterEqual(page["gavel_actions_failed_total"], 1)
        version = srv.request("GET", "/healthz")[2]["version"]
        self.assertEqual(page[series("gavel_build_info", version=version)], 1)
        self.assertGreater(page["process_resident_memory_bytes"], 1 << 20)
        self.assertGreater(page["process_open_fds"], 3)
        self.assertGreater(page["process_cpu_seconds_total"], 0)
        self.assertLessEqual(abs(page["process_start_time_seconds"] - time.time()), scaled(600))
        self.assertEqual(page["gavel_email_configured"], 1)

        if not self.promtool(text):
            self.skipTest("promtool is not installed (outside CI only): the page was not linted")

    def test_access_is_decided_on_the_forwarded_client(self):
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config(free_port()))
        # The proxy is on this machine: the peer is loopback, the client is whoever it names.
        public = {"X-Forwarded-For": "198.51.100.9"}
        st, _, b = srv.request("GET", "/metrics", headers=public)
        self.assertEqual(st, 403, b)
        self.assertEqual(b["error"]["code"], "forbidden")
        # A chain through another trusted hop still ends at the public client.
        st, _, _ = srv.request("GET", "/metrics", headers={"X-Forwarded-For": "198.51.100.9, 127.0.0.1"})
        self.assertEqual(st, 403)
        # A client in metrics.allow, or on this machine, is served.
        self.metrics(srv, headers={"X-Forwarded-For": "203.0.113.7"})
        self.metrics(srv, headers={"X-Forwarded-For": "127.0.0.1"})
        self.metrics(srv)

    def test_without_trusted_proxies_forwarding_headers_are_ignored(self):
        db = make_demo_db(self.tmp)
        path = self.tmp("plain.conf.lua")
        with open(path, "w") as f:
            f.write("-- no trusted proxies\n")
        srv = self.server(db, "--config", path)
        # Anyone may write the header: without trusted proxies it names no one.
        self.metrics(srv, headers={"X-Forwarded-For": "198.51.100.9"})
        page = parse(self.metrics(srv))
        self.assertEqual(page["gavel_email_configured"], 0)
        self.assertNotIn("gavel_email_outbox_pending", page)
        self.promtool(self.metrics(srv))


if __name__ == "__main__":
    main()
