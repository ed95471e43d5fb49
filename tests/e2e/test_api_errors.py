"""Every error status the API uses, each for what it means, with a JSON body naming the
problem — and a server that keeps serving everyone else."""
import datetime
import socket

from harness import GavelTest, main, make_demo_db, scaled


class ErrorsTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.srv = self.server(make_demo_db(self.tmp))
        self.sec = self.srv.login("secretariat")
        self.km = self.srv.login("km.delegate")
        deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        st, _, b = self.srv.request("POST", "/v1/forums/midiocc/items",
                                    {"workflow": "consultation", "title": "Q", "params": {"question": "Q?", "deadline": deadline}},
                                    self.sec)
        self.item = b["item"]["id"]

    def check(self, status, code, resp, field=None):
        st, h, body = resp
        self.assertEqual(st, status, body)
        self.assertTrue(h["content-type"].startswith("application/json"), h)
        self.assertEqual(body["error"]["code"], code)
        self.assertTrue(body["error"]["message"])
        if field:
            self.assertEqual(body["error"].get("field"), field)
        return body["error"]

    def test_400_bad_request(self):
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", raw=b'{"params": {',
                             token=self.km, headers={"Content-Type": "application/json"})
        self.assertIn("not valid JSON", self.check(400, "bad_request", r)["message"])
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", raw=b'[1, 2]',
                             token=self.km, headers={"Content-Type": "application/json"})
        self.check(400, "bad_request", r)
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", {"parms": {}}, self.km)
        self.check(400, "bad_request", r, "parms")
        r = self.srv.request("GET", "/v1/forums/midiocc/items?limit=0", token=self.km)
        self.check(400, "bad_request", r, "limit")

    def test_401_unauthenticated(self):
        self.check(401, "unauthenticated", self.srv.request("GET", "/v1/me"))
        self.check(401, "unauthenticated", self.srv.request("GET", "/v1/me", token="not-a-token"))
        r = self.srv.request("POST", "/v1/login", {"username": "km.delegate", "password": "wrong"})
        self.assertEqual(self.check(401, "unauthenticated", r)["message"], "invalid username or password")
        r = self.srv.request("POST", "/v1/login", {"username": "nobody", "password": "wrong"})
        self.assertEqual(self.check(401, "unauthenticated", r)["message"], "invalid username or password")

    def test_403_forbidden(self):
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/close", {}, self.km)
        self.check(403, "forbidden", r)
        r = self.srv.request("GET", "/v1/users", token=self.km)
        self.check(403, "forbidden", r)

    def test_404_not_found(self):
        self.check(404, "not_found", self.srv.request("GET", "/v1/items/99999", token=self.km))
        self.check(404, "not_found", self.srv.request("GET", "/v1/nothing-here", token=self.km))
        self.check(404, "not_found", self.srv.request("GET", "/v1/forums/other", token=self.km))
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/fly", {}, self.km)
        self.check(404, "not_found", r, "action")
        self.check(404, "not_found", self.srv.request("GET", "/v1/items/abc", token=self.km))

    def test_405_method_not_allowed(self):
        self.check(405, "method_not_allowed", self.srv.request("DELETE", f"/v1/items/{self.item}", token=self.km))

    def test_409_conflict(self):
        self.srv.request("POST", f"/v1/items/{self.item}/actions/close", {}, self.sec)
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/close", {}, self.sec)
        self.check(409, "wrong_state", r)
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", {"params": {"stance": "support"}}, self.km)
        self.check(409, "wrong_state", r)
        r = self.srv.request("POST", "/v1/users", {"username": "km.delegate", "role": "observer"}, self.sec)
        self.check(409, "already_exists", r, "username")

    def test_409_deadline_passed(self):
        self.srv.request("POST", "/v1/test/clock", {"advance_seconds": 8 * 86400}, self.sec)
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", {"params": {"stance": "support"}}, self.km)
        self.check(409, "deadline_passed", r)

    def test_413_payload_too_large(self):
        body = b'{"params": {"statement": "' + b"x" * (1 << 20) + b'"}}'
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", raw=body, token=self.km,
                             headers={"Content-Type": "application/json"})
        self.assertEqual(r[0], 413)
        self.assertEqual(r[2]["error"]["code"], "payload_too_large")

    def test_415_unsupported_media_type(self):
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", raw=b"stance=support",
                             token=self.km, headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.check(415, "unsupported_media_type", r, "Content-Type")

    def test_422_invalid_parameter(self):
        r = self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", {"params": {"stance": "maybe"}}, self.km)
        e = self.check(422, "invalid_parameter", r, "stance")
        self.assertIn("support, support_with_reservations, oppose, abstain", e["message"])
        r = self.srv.request("POST", "/v1/forums/midiocc/items",
                             {"workflow": "consultation", "title": "Q", "params": {"question": "Q?", "deadline": "tomorrow"}},
                             self.sec)
        self.check(422, "invalid_parameter", r, "deadline")
        r = self.srv.request("POST", "/v1/forums/midiocc/items", {"workflow": "nonsense", "title": "Q"}, self.sec)
        self.check(422, "invalid_parameter", r, "workflow")

    def test_429_too_many_requests(self):
        for _ in range(5):
            self.srv.request("POST", "/v1/login", {"username": "mu.delegate", "password": "wrong"})
        r = self.srv.request("POST", "/v1/login", {"username": "mu.delegate", "password": "demo-password-1"})
        self.check(429, "too_many_requests", r)
        self.assertIn("retry-after", r[1])

    def test_garbage_does_not_stop_the_server(self):
        for junk in [b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST /v1/login HTTP/1.1\r\nContent-Length: 5\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n", b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n" * 3]:
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=scaled(5)) as s:
                s.sendall(junk)
                try:
                    s.recv(4096)
                except OSError:
                    pass
        st, _, b = self.srv.request("GET", "/healthz")
        self.assertEqual((st, b["status"]), (200, "ok"))
        self.assertEqual(self.srv.request("GET", f"/v1/items/{self.item}", token=self.km)[0], 200)


if __name__ == "__main__":
    main()
