"""API details an integrator notices: WWW-Authenticate on 401, a Retry-After that is the real
wait, idempotency keys compared on the parsed JSON, paging on every list, API tokens with
scopes over the API, HSTS and certificate reload under TLS, JSON logs with request ids."""
import datetime
import http.client
import json
import os
import signal
import ssl
import subprocess

from harness import GavelTest, main, make_demo_db, run, scaled, wait_until
import test_openapi


def deadline_in(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiDetailsTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.srv = self.server(make_demo_db(self.tmp))

    def raw_post(self, path, data, token, headers):
        """Sends data exactly as given (the harness would re-serialise it)."""
        h = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
        h.update(headers)
        return self.srv.request("POST", path, raw=data.encode(), headers=h)

    def test_every_401_names_the_bearer_scheme(self):
        st, h, b = self.srv.request("GET", "/v1/me")
        self.assertEqual(st, 401)
        self.assertEqual(h.get("www-authenticate"), 'Bearer realm="gavel"')
        st, h, _ = self.srv.request("GET", "/v1/me", token="not-a-token")
        self.assertEqual(st, 401)
        self.assertTrue(h.get("www-authenticate", "").startswith('Bearer realm="gavel"'), h)
        self.assertIn('error="invalid_token"', h["www-authenticate"])
        st, h, _ = self.srv.request("POST", "/v1/login", {"username": "secretariat", "password": "wrong-password"})
        self.assertEqual(st, 401)
        self.assertIn("www-authenticate", h)
        # Other errors carry no challenge.
        st, h, _ = self.srv.request("GET", "/v1/nowhere")
        self.assertEqual(st, 404)
        self.assertNotIn("www-authenticate", h)

    def test_lockout_retry_after_is_the_real_wait(self):
        for _ in range(5):
            st, _, _ = self.srv.request("POST", "/v1/login", {"username": "km.delegate", "password": "wrong-password"})
            self.assertEqual(st, 401)
        st, h, b = self.srv.request("POST", "/v1/login", {"username": "km.delegate", "password": "wrong-password"})
        self.assertEqual(st, 429, b)
        wait = int(h["retry-after"])
        # The lockout lasts 15 minutes from the failures just made: close to 900 seconds, never 5.
        self.assertGreater(wait, 800)
        self.assertLessEqual(wait, 900)

    def test_idempotency_key_compares_the_parsed_json(self):
        sec = self.srv.login("secretariat")
        km = self.srv.login("km.delegate")
        st, _, b = self.srv.request("POST", "/v1/forums/midiocc/items",
                                    {"workflow": "consultation", "title": "Q",
                                     "params": {"question": "Q?", "deadline": deadline_in(7)}}, sec)
        self.assertEqual(st, 201)
        path = f"/v1/items/{b['item']['id']}/actions/submit_position"
        st1, h1, b1 = self.raw_post(path, '{"params":{"stance":"support","statement":"yes"}}', km, {"Idempotency-Key": "sp-1"})
        self.assertEqual(st1, 200, b1)
        # The same JSON with other spacing and key order is a replay of the same request.
        st2, h2, b2 = self.raw_post(path, '{ "params" : { "statement" : "yes",\n "stance" : "support" } }', km,
                                    {"Idempotency-Key": "sp-1"})
        self.assertEqual(st2, 200, b2)
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertEqual(b1, b2)
        # A different value is still a reused key.
        st3, _, b3 = self.raw_post(path, '{"params":{"stance":"oppose","statement":"yes"}}', km, {"Idempotency-Key": "sp-1"})
        self.assertEqual(st3, 422)
        self.assertEqual(b3["error"]["code"], "idempotency_key_reused")

    def walk(self, path, key, token, limit):
        """Follows `next` from the first page to the last; returns every element and the page count."""
        seen, after, pages = [], None, 0
        while True:
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit={limit}" + (f"&after={after}" if after is not None else "")
            st, _, b = self.srv.request("GET", url, token=token)
            self.assertEqual(st, 200, (url, b))
            self.assertIn("next", b)
            self.assertLessEqual(len(b[key]), limit)
            seen += b[key]
            pages += 1
            if b["next"] is None:
                return seen, pages
            after = b["next"]

    def test_every_list_pages_with_next(self):
        sec = self.srv.login("secretariat")
        st, _, b = self.srv.request("POST", "/v1/forums/midiocc/items",
                                    {"workflow": "consultation", "title": "Q",
                                     "params": {"question": "Q?", "deadline": deadline_in(7)}}, sec)
        item = b["item"]["id"]
        for m in ("KM", "MG", "SC"):
            self.srv.request("POST", f"/v1/items/{item}/actions/record_on_behalf",
                             {"params": {"member": m, "stance": "support", "reference": "letter " + m}}, sec)
        for n in range(3):
            st, _, b = self.srv.request("POST", "/v1/meetings", {"title": f"Session {n}", "place": "Geneva",
                                                                "starts_on": f"2030-0{n + 1}-10",
                                                                "ends_on": f"2030-0{n + 1}-11"}, sec)
            self.assertEqual(st, 201, b)
        for path, key in ((f"/v1/items/{item}/events", "events"), ("/v1/users", "users"),
                          ("/v1/meetings", "meetings"), ("/v1/incidents", "incidents")):
            st, _, whole = self.srv.request("GET", path, token=sec)
            self.assertEqual(st, 200, (path, whole))
            self.assertIsNone(whole["next"], path)
            paged, pages = self.walk(path, key, sec, 2)
            self.assertEqual(paged, whole[key], path)
            if len(whole[key]) > 2:
                self.assertGreater(pages, 1, path)
        self.assertGreater(len(self.srv.request("GET", "/v1/users", token=sec)[2]["users"]), 2)
        # Bad paging values are a clear 422 naming the parameter.
        for q in ("limit=0", "limit=100000", "limit=x", "after=-1"):
            st, _, b = self.srv.request("GET", "/v1/users?" + q, token=sec)
            self.assertEqual(st, 422, q)
            self.assertEqual(b["error"]["field"], q.split("=")[0])

    def test_api_tokens_with_scopes_over_the_api(self):
        km = self.srv.login("km.delegate")
        st, _, b = self.srv.request("POST", "/v1/tokens", {"label": "reader", "scope": "read", "expires_in": "30d"}, km)
        self.assertEqual(st, 201, b)
        reader, reader_id = b["token"], b["id"]
        self.assertEqual(b["scope"], "read")
        self.assertIsNotNone(b["expires_at"])
        st, _, b = self.srv.request("POST", "/v1/tokens", {"label": "robot", "scope": "act"}, km)
        self.assertEqual(st, 201, b)
        actor = b["token"]
        self.assertIsNone(b["expires_at"])
        # The list shows scope, expiry and last use, never the secret.
        st, _, b = self.srv.request("GET", "/v1/tokens", token=km)
        self.assertEqual(st, 200, b)
        self.assertEqual([t["label"] for t in b["tokens"]], ["reader", "robot"])
        self.assertIsNone(b["next"])
        for t in b["tokens"]:
            self.assertNotIn("token", t)
            self.assertIn("last_used_at", t)
            self.assertIn("expires_at", t)
        self.assertEqual(self.srv.request("GET", "/v1/tokens?limit=1", token=km)[2]["next"], reader_id)
        # read: GET only.
        self.assertEqual(self.srv.request("GET", "/v1/me", token=reader)[0], 200)
        sec = self.srv.login("secretariat")
        st, _, b = self.srv.request("POST", "/v1/forums/midiocc/items",
                                    {"workflow": "consultation", "title": "Q",
                                     "params": {"question": "Q?", "deadline": deadline_in(7)}}, sec)
        path = f"/v1/items/{b['item']['id']}/actions/submit_position"
        st, _, b = self.srv.request("POST", path, {"params": {"stance": "support"}}, reader)
        self.assertEqual(st, 403)
        self.assertIn("scope", b["error"]["message"])
        # act: actions, but no account or token changes.
        self.assertEqual(self.srv.request("POST", path, {"params": {"stance": "support"}}, actor)[0], 200)
        self.assertEqual(self.srv.request("POST", "/v1/tokens", {"scope": "admin"}, actor)[0], 403)
        self.assertEqual(self.srv.request("PATCH", "/v1/me", {"display_name": "X"}, actor)[0], 403)
        # Another user's tokens are neither listed nor revocable; the secretariat sees all.
        mg = self.srv.login("mg.delegate")
        self.assertEqual(self.srv.request("GET", "/v1/tokens", token=mg)[2]["tokens"], [])
        self.assertEqual(self.srv.request("DELETE", f"/v1/tokens/{reader_id}", token=mg)[0], 404)
        self.assertEqual(self.srv.request("GET", "/v1/tokens?all=true", token=mg)[0], 403)
        st, _, b = self.srv.request("GET", "/v1/tokens?all=true", token=sec)
        self.assertEqual([t["username"] for t in b["tokens"]], ["km.delegate", "km.delegate"])
        # Revoked: the token no longer works.
        st, _, b = self.srv.request("DELETE", f"/v1/tokens/{reader_id}", token=km)
        self.assertEqual((st, b["revoked"]), (200, True))
        st, h, _ = self.srv.request("GET", "/v1/me", token=reader)
        self.assertEqual(st, 401)
        self.assertIn("www-authenticate", h)
        # Bad requests name the field.
        for body, field in (({"scope": "root"}, "scope"), ({"expires_in": "soon"}, "expires_in")):
            st, _, b = self.srv.request("POST", "/v1/tokens", body, km)
            self.assertEqual((st, b["error"]["field"]), (422, field))

    def test_cli_token_scope_expiry_and_last_use(self):
        db = make_demo_db(self.tmp, "cli.db")
        out = run("token", "create", "--db", db, "mu.delegate", "--scope", "read", "--expires", "30d").stdout
        self.assertIn("mu.delegate", out)
        bad = run("token", "create", "--db", db, "mu.delegate", "--scope", "root", check=False)
        self.assertNotEqual(bad.returncode, 0)
        listing = run("token", "list", "--db", db).stdout
        header, row = listing.splitlines()[0], listing.splitlines()[1]
        for column in ("SCOPE", "EXPIRES", "LAST USED"):
            self.assertIn(column, header)
        self.assertIn("read", row)
        self.assertNotIn("never", row, "the expiry is shown")


class TlsTest(GavelTest):
    def make_cert(self, name):
        cert, key = self.tmp(name + ".cert.pem"), self.tmp(name + ".key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=" + name],
                       check=True, capture_output=True)
        return cert, key

    def served_cert(self, port):
        """The certificate the server presents, as PEM, and the answer to GET /healthz."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=scaled(30))
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        der = conn.sock.getpeercert(binary_form=True)
        headers = {k.lower(): v for k, v in r.getheaders()}
        conn.close()
        return ssl.DER_cert_to_PEM_cert(der), headers

    def same_cert(self, pem, path):
        with open(path) as f:
            return ssl.PEM_cert_to_DER_cert(pem) == ssl.PEM_cert_to_DER_cert(f.read())

    def test_hsts_and_certificate_reload_on_sighup(self):
        cert, key = self.make_cert("first")
        live_cert, live_key = self.tmp("live.cert.pem"), self.tmp("live.key.pem")
        os.rename(cert, live_cert)
        os.rename(key, live_key)
        cfg = self.tmp("gavel.conf.lua")
        with open(cfg, "w") as f:
            f.write(f'tls = {{ certificate = "{live_cert}", key = "{live_key}" }}\n')
        srv = self.server(make_demo_db(self.tmp), "--config", cfg)
        pem, headers = self.served_cert(srv.port)
        self.assertTrue(self.same_cert(pem, live_cert))
        self.assertEqual(headers.get("strict-transport-security"), "max-age=31536000")
        # A renewed certificate and key replace the files; SIGHUP makes the server use them.
        cert2, key2 = self.make_cert("second")
        os.replace(key2, live_key)
        os.replace(cert2, live_cert)
        srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.same_cert(self.served_cert(srv.port)[0], live_cert)),
                        "the new certificate is served after SIGHUP:\n" + srv.output()[-2000:])
        self.assertIn("tls.reloaded", srv.output())
        # A broken file keeps the certificate in service.
        with open(live_cert, "w") as f:
            f.write("not a certificate\n")
        srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "tls.reload_failed" in srv.output()), srv.output()[-2000:])
        pem, _ = self.served_cert(srv.port)
        self.assertIn("BEGIN CERTIFICATE", pem)

    def test_no_hsts_over_plain_http(self):
        srv = self.server(make_demo_db(self.tmp))
        st, h, _ = srv.request("GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertNotIn("strict-transport-security", h)


class JsonLogTest(GavelTest):
    def test_json_log_lines_carry_the_request_id(self):
        cfg = self.tmp("gavel.conf.lua")
        with open(cfg, "w") as f:
            f.write('log_format = "json"\n')
        srv = self.server(make_demo_db(self.tmp), "--config", cfg)
        st, h, _ = srv.request("GET", "/healthz", headers={"X-Request-Id": "integrator-42"})
        self.assertEqual((st, h.get("x-request-id")), (200, "integrator-42"))
        st, h, _ = srv.request("GET", "/v1/me")
        generated = h.get("x-request-id", "")
        self.assertEqual(st, 401)
        self.assertGreaterEqual(len(generated), 16)
        # A forged id (spaces, quotes) is replaced, never logged as given.
        st, h, _ = srv.request("GET", "/healthz", headers={"X-Request-Id": 'x" status=200'})
        self.assertNotEqual(h.get("x-request-id"), 'x" status=200')

        def request_lines():
            out = []
            for line in srv.output().splitlines():
                if line.startswith("{"):
                    out.append(json.loads(line))
            return [o for o in out if o.get("event") == "http.request"]

        wait_until(lambda: len(request_lines()) >= 3)
        lines = request_lines()
        by_id = {o["request_id"]: o for o in lines}
        self.assertEqual(by_id["integrator-42"]["status"], 200)
        self.assertEqual(by_id["integrator-42"]["route"], "/healthz")
        self.assertEqual(by_id[generated]["status"], 401)
        self.assertEqual(by_id[generated]["level"], "info")
        self.assertIn("time", by_id[generated])
        srv.stop()
        # Every line the server wrote is one JSON object.
        for line in srv.output().splitlines():
            if line.strip():
                json.loads(line)

    def test_text_log_lines_carry_the_request_id(self):
        srv = self.server(make_demo_db(self.tmp))
        st, h, _ = srv.request("GET", "/healthz", headers={"X-Request-Id": "text-7"})
        self.assertEqual(h.get("x-request-id"), "text-7")
        self.assertTrue(wait_until(lambda: "request_id=text-7" in srv.output()))

    def test_a_wrong_log_format_stops_start_up(self):
        cfg = self.tmp("gavel.conf.lua")
        with open(cfg, "w") as f:
            f.write('log_format = "xml"\n')
        r = run("serve", "--db", make_demo_db(self.tmp), "--config", cfg, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("gavel.conf.lua:1: log_format must be", r.stderr)


class ApiDetailsDocumentTest(test_openapi.OpenApiLiveTest):
    """The new answers, checked against docs/openapi.yaml like the other live calls."""

    test_live_responses_match_the_document = None  # test_openapi runs it

    def test_tokens_and_pages_match_the_document(self):
        srv = self.server(make_demo_db(self.tmp))
        km, sec = srv.login("km.delegate"), srv.login("secretariat")
        b, _ = self.call(srv, "POST", "/v1/tokens", 201, {"label": "x", "scope": "act", "expires_in": "1d"}, km)
        self.call(srv, "GET", "/v1/tokens", 200, token=km)
        self.call(srv, "GET", "/v1/tokens?all=true&limit=1", 200, token=sec)
        self.call(srv, "GET", "/v1/tokens?all=true", 403, token=km)
        self.call(srv, "POST", "/v1/tokens", 422, {"scope": "everything"}, km)
        self.call(srv, "DELETE", f"/v1/tokens/{b['id']}", 200, token=km)
        self.call(srv, "DELETE", "/v1/tokens/999", 404, token=km)
        self.call(srv, "GET", "/v1/users?limit=2", 200, token=sec)
        self.call(srv, "GET", "/v1/users?limit=0", 422, token=sec)
        self.call(srv, "GET", "/v1/meetings?limit=1", 200, token=km)
        self.call(srv, "GET", "/v1/incidents?limit=1", 200, token=sec)
        _, h = self.call(srv, "GET", "/v1/tokens", 401)
        self.assertIn("www-authenticate", h)


if __name__ == "__main__":
    main()
