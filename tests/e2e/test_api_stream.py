"""Live updates over Server-Sent Events: delivery, resumption with Last-Event-ID, and
the rule that a hidden stance never reaches another state's stream."""
import datetime
import socket
import time

from harness import GavelTest, main, make_demo_db, run, scaled


class Sse:
    """A raw-socket SSE reader."""

    def __init__(self, port, token, last_event_id=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n{extra}\r\n".encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])

    def _until(self, marker, timeout=10):
        deadline = time.time() + scaled(timeout)
        while marker not in self.buf:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise AssertionError("timed out waiting for the stream: " + repr(self.buf[-300:]))
            if not chunk:
                raise AssertionError("stream closed")
            self.buf += chunk
        out, self.buf = self.buf.split(marker, 1)
        return out

    def event(self, timeout=10):
        """The next event as (id, type, data)."""
        while True:
            block = self._until(b"\n\n", timeout).decode()
            fields = {}
            for line in block.split("\n"):
                if line.startswith(":") or not line:
                    continue
                k, _, v = line.partition(": ")
                fields[k] = v
            if "data" in fields:
                return int(fields["id"]), fields["event"], fields["data"]

    def events_until(self, last_id):
        """Every event up to and including the one numbered last_id (waiting for it, with the
        scaled timeout of event())."""
        out = []
        while not out or out[-1][0] < last_id:
            out.append(self.event())
        return out

    def closes_within(self, seconds):
        """True if the server ends the stream within seconds (scaled) without sending another
        event."""
        try:
            self.event(timeout=seconds)
            return False
        except AssertionError as e:
            return "stream closed" in str(e)

    def close(self):
        self.sock.close()


class StreamTest(GavelTest):
    def test_delivery_resumption_and_hidden_stances(self):
        srv = self.server(make_demo_db(self.tmp))
        sec, km, mg, obs = (srv.login(u) for u in ["secretariat", "km.delegate", "mg.delegate", "observer"])
        streams = {name: Sse(srv.port, tok) for name, tok in [("sec", sec), ("km", km), ("mg", mg), ("obs", obs)]}
        for s in streams.values():
            self.assertEqual(s.status, 200)
        deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                               {"workflow": "consultation", "title": "Hidden",
                                "params": {"question": "Q?", "deadline": deadline, "visibility": "hidden_until_close",
                                           "options": ["yes_quokka", "no_quokka"]}}, sec)
        item = b["item"]["id"]
        for s in streams.values():
            created = s.event()
            self.assertEqual(created[1], "item")
            self.assertIn('"action":"create"', created[2])
        st, _, r = srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                               {"params": {"stance": "no_quokka", "statement": "Madagascar's secret platypus"}}, mg)
        self.assertEqual(st, 200)
        seen = {name: s.event() for name, s in streams.items()}
        for name in ("km", "obs"):
            self.assertNotIn("no_quokka", seen[name][2], name)
            self.assertNotIn("platypus", seen[name][2], name)
            self.assertIn('"sealed":true', seen[name][2])
        self.assertIn("no_quokka", seen["mg"][2], "Madagascar sees its own stance")
        self.assertIn("platypus", seen["sec"][2], "the secretariat sees every stance")
        self.assertEqual(seen["km"][0], r["receipt"]["event_id"], "the event id is the receipt's")

        # A client that went away resumes where it left off.
        last = seen["km"][0]
        streams["km"].close()
        srv.request("POST", f"/v1/items/{item}/actions/submit_position", {"params": {"stance": "yes_quokka"}}, km)
        srv.request("POST", f"/v1/items/{item}/actions/close", {"params": {}}, sec)
        again = Sse(srv.port, km, last_event_id=last)
        got = [again.event() for _ in range(2)]
        self.assertEqual([g[0] for g in got], [last + 1, last + 2])
        self.assertIn('"action":"close"', got[1][2])
        # Replaying from the start shows the stances now that results are visible.
        replay = Sse(srv.port, obs, last_event_id=0)
        evs = replay.events_until(got[1][0])
        self.assertEqual([e[0] for e in evs], sorted(e[0] for e in evs), "in order")
        self.assertIn("no_quokka", "".join(e[2] for e in evs))
        self.assertNotIn("/workflows/", "".join(e[2] for e in evs), "no server paths for the observer")
        self.assertNotIn("km.delegate", "".join(e[2] for e in evs if e[1] == "forum"),
                         "accounts are not the observer's business")
        for s in list(streams.values()) + [again, replay]:
            s.close()

    def test_signing_out_or_being_disabled_ends_the_stream(self):
        srv = self.server(make_demo_db(self.tmp))
        sec, km = srv.login("secretariat"), srv.login("km.delegate")
        s = Sse(srv.port, km)
        st, _, _ = srv.request("PATCH", "/v1/users/km.delegate", {"disabled": True}, sec)
        self.assertEqual(st, 200)
        self.assertTrue(s.closes_within(3))
        s.close()
        mg = srv.login("mg.delegate")
        s2 = Sse(srv.port, mg)
        self.assertEqual(srv.request("POST", "/v1/logout", None, mg)[0], 200)
        self.assertTrue(s2.closes_within(3))
        s2.close()

    def test_an_expired_session_or_a_change_made_elsewhere_ends_the_stream(self):
        cfg = self.tmp("gavel.conf.lua")
        # Long enough to open the stream on a busy machine; the test waits it out.
        lifetime = int(scaled(3))
        with open(cfg, "w") as f:
            f.write(f'sessions = {{ token_absolute = "{lifetime}s" }}\n')
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", cfg)
        mg = srv.login("mg.delegate")
        signed_in = time.monotonic()
        s = Sse(srv.port, mg)
        time.sleep(max(0.0, signed_in + lifetime + 0.5 - time.monotonic()))
        sec = srv.login("secretariat")
        deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        srv.request("POST", "/v1/forums/midiocc/items",
                    {"workflow": "consultation", "title": "After expiry", "params": {"question": "Q?", "deadline": deadline}}, sec)
        self.assertTrue(s.closes_within(3), "an expired session's stream stayed open")
        s.close()
        # A role changed with the command line (not through this server) ends the stream too.
        chair = srv.login("chair")
        s2 = Sse(srv.port, chair)
        run("user", "set", "--db", db, "chair", "--role", "observer")
        srv.request("POST", "/v1/forums/midiocc/items",
                    {"workflow": "consultation", "title": "After demotion", "params": {"question": "Q?", "deadline": deadline}},
                    srv.login("secretariat"))
        self.assertTrue(s2.closes_within(3), "a demoted chair's stream stayed open")
        s2.close()

    def test_requires_sign_in(self):
        srv = self.server(make_demo_db(self.tmp))
        st, _, b = srv.request("GET", "/v1/stream")
        self.assertEqual(st, 401)


if __name__ == "__main__":
    main()
