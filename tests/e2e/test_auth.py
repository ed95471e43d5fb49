"""Accounts and access end to end: password hashing off the loop, sessions of both kinds,
CSRF, timeouts, throttling, profiles and accreditation."""
import http.client
import json
import os
import sqlite3
import ssl
import subprocess
import threading
import time

from harness import DEMO_PASSWORD, GavelTest, Server, main, make_demo_db, run, scaled


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class AuthTest(GavelTest):
    def config(self, text):
        return write(self.tmp("gavel.conf.lua"), text)

    def test_logins_hash_off_the_loop_and_the_queue_is_bounded(self):
        cfg = self.config('limits = { password_queue = 3 }\n')
        srv = self.server(make_demo_db(self.tmp), "--config", cfg)
        results, health = [], []
        done = threading.Event()

        def login(i):
            st, h, b = srv.request("POST", "/v1/login", {"username": "km.delegate", "password": DEMO_PASSWORD})
            results.append((st, h, time.monotonic()))

        threads = [threading.Thread(target=login, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        while any(t.is_alive() for t in threads) and len(health) < 5:
            st, _, b = srv.request("GET", "/healthz")
            health.append((st, time.monotonic()))
        for t in threads:
            t.join()
        statuses = sorted(r[0] for r in results)
        self.assertIn(200, statuses)
        self.assertIn(429, statuses, "beyond the queue the server answers 429")
        self.assertTrue(all(r[1].get("retry-after") for r in results if r[0] == 429))
        last_login = max(r[2] for r in results if r[0] == 200)
        self.assertTrue(health and health[0][0] == 200 and health[0][1] < last_login,
                        "/healthz answered while logins were still hashing")

    def test_bearer_and_cookie_sessions_with_csrf(self):
        srv = self.server(make_demo_db(self.tmp))
        st, h, b = srv.request("POST", "/v1/login", {"username": "km.delegate", "password": DEMO_PASSWORD})
        self.assertEqual(set(b), {"token"})
        self.assertGreaterEqual(len(b["token"]), 22, "at least 128 random bits")
        self.assertNotIn("set-cookie", h)
        st, h, b = srv.request("POST", "/v1/login", {"username": "km.delegate", "password": DEMO_PASSWORD, "cookie": True})
        self.assertEqual(st, 200)
        self.assertEqual(set(b), {"csrf"}, "a browser gets only the CSRF token")
        cookie = h["set-cookie"]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertNotIn("Secure", cookie, "no Secure over plain HTTP")
        session = cookie.split(";")[0]
        self.assertTrue(session.startswith("gavel_session="))
        csrf = b["csrf"]
        # Tokens are stored hashed.
        con = sqlite3.connect(srv.db)
        stored = [r[0] for r in con.execute("SELECT token_hash FROM sessions")]
        con.close()
        self.assertNotIn(session.split("=", 1)[1], stored)
        self.assertTrue(all(len(x) == 64 for x in stored))
        ck = {"Cookie": session}
        self.assertEqual(srv.request("GET", "/v1/me", headers=ck)[0], 200)
        body = {"language": "fr"}
        st, _, b = srv.request("PATCH", "/v1/me", body, headers=ck)
        self.assertEqual((st, b["error"]["field"]), (403, "X-CSRF-Token"))
        st, _, b = srv.request("PATCH", "/v1/me", body, headers={**ck, "X-CSRF-Token": "wrong"})
        self.assertEqual(st, 403)
        host = f"127.0.0.1:{srv.port}"
        st, _, b = srv.request("PATCH", "/v1/me", body, headers={**ck, "X-CSRF-Token": csrf, "Origin": "https://evil.example"})
        self.assertEqual((st, b["error"]["field"]), (403, "Origin"))
        st, _, b = srv.request("PATCH", "/v1/me", body, headers={**ck, "X-CSRF-Token": csrf, "Origin": "http://" + host})
        self.assertEqual(st, 200)
        st, _, b = srv.request("PATCH", "/v1/me", {"language": "en"}, headers={**ck, "X-CSRF-Token": csrf})
        self.assertEqual((st, b["language"]), (200, "en"), "no Origin, valid token: accepted")
        # A bearer token cannot be used as a cookie and the other way round.
        tok = srv.login("mg.delegate")
        self.assertEqual(srv.request("GET", "/v1/me", headers={"Cookie": "gavel_session=" + tok})[0], 401)
        # Logout ends the cookie session and clears the cookie.
        st, h, _ = srv.request("POST", "/v1/logout", None, headers={**ck, "X-CSRF-Token": csrf})
        self.assertEqual(st, 200)
        self.assertIn("Max-Age=0", h["set-cookie"])
        self.assertEqual(srv.request("GET", "/v1/me", headers=ck)[0], 401)

    def test_tls_cookies_are_host_prefixed_and_secure(self):
        cert, key = self.tmp("cert.pem"), self.tmp("key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        cfg = self.config(f'tls = {{ certificate = "{cert}", key = "{key}" }}\n')
        srv = self.server(make_demo_db(self.tmp), "--config", cfg)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=scaled(30))
        conn.request("POST", "/v1/login", json.dumps({"username": "km.delegate", "password": DEMO_PASSWORD, "cookie": True}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie")
        self.assertEqual(r.status, 200)
        self.assertTrue(cookie.startswith("__Host-gavel_session="))
        self.assertIn("; Secure", cookie)
        self.assertIn("Path=/", cookie)
        conn.request("GET", "/v1/me", headers={"Cookie": cookie.split(";")[0]})
        r = conn.getresponse()
        self.assertEqual(json.loads(r.read())["username"], "km.delegate")
        conn.close()

    def test_behind_a_tls_proxy_browsers_still_work(self):
        # A trusted proxy that ends TLS says so: the cookie is __Host- and Secure, and the
        # browser's https Origin is its own. The same header from anyone else changes nothing.
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config('trusted_proxies = { "127.0.0.1" }\n'))
        fwd = {"X-Forwarded-Proto": "https", "Host": "gavel.example.org"}
        st, h, b = srv.request("POST", "/v1/login", {"username": "km.delegate", "password": DEMO_PASSWORD, "cookie": True},
                               headers=fwd)
        self.assertEqual(st, 200)
        self.assertTrue(h["set-cookie"].startswith("__Host-gavel_session="))
        self.assertIn("; Secure", h["set-cookie"])
        ck = {"Cookie": h["set-cookie"].split(";")[0], "X-CSRF-Token": b["csrf"], **fwd}
        st, _, _ = srv.request("PATCH", "/v1/me", {"language": "fr"}, headers={**ck, "Origin": "https://gavel.example.org"})
        self.assertEqual(st, 200)
        st, _, b = srv.request("PATCH", "/v1/me", {"language": "fr"}, headers={**ck, "Origin": "http://gavel.example.org"})
        self.assertEqual((st, b["error"]["field"]), (403, "Origin"))
        srv.stop()
        srv = self.server(db)  # no trusted proxy: the header is anyone's word
        st, h, _ = srv.request("POST", "/v1/login", {"username": "km.delegate", "password": DEMO_PASSWORD, "cookie": True},
                               headers=fwd)
        self.assertTrue(h["set-cookie"].startswith("gavel_session="))
        self.assertNotIn("Secure", h["set-cookie"])

    def test_idle_and_absolute_timeouts(self):
        # The lifetimes stretch with the machine's slowness; the waits follow the clock,
        # measured from what the client saw (a session is made between sending a login and
        # reading its answer).
        idle_s, absolute_s = int(scaled(2)), int(scaled(5))
        cfg = self.config(f'sessions = {{ token_idle = "{idle_s}s", token_absolute = "{absolute_s}s" }}\n')
        srv = self.server(make_demo_db(self.tmp), "--config", cfg)
        idle = srv.login("km.delegate")
        idle_made = time.monotonic()
        active = srv.login("mg.delegate")
        active_made = time.monotonic()
        # Used every fifth of the idle period, the active session outlives the idle one.
        while time.monotonic() < idle_made + idle_s + 0.3:
            time.sleep(idle_s / 5)
            self.assertEqual(srv.request("GET", "/v1/me", token=active)[0], 200)
        self.assertEqual(srv.request("GET", "/v1/me", token=idle)[0], 401, f"idle for over {idle_s} s")
        time.sleep(max(0.0, active_made + absolute_s + 0.3 - time.monotonic()))
        st, _, b = srv.request("GET", "/v1/me", token=active)
        self.assertEqual(st, 401, f"older than {absolute_s} s, in use or not")

    def test_logout_and_disabling_end_sessions_at_once(self):
        srv = self.server(make_demo_db(self.tmp))
        sec = srv.login("secretariat")
        km = srv.login("km.delegate")
        km2 = srv.login("km.delegate")
        self.assertEqual(srv.request("POST", "/v1/logout", None, km)[0], 200)
        self.assertEqual(srv.request("GET", "/v1/me", token=km)[0], 401)
        self.assertEqual(srv.request("GET", "/v1/me", token=km2)[0], 200, "other sessions live on")
        self.assertEqual(srv.request("PATCH", "/v1/users/km.delegate", {"disabled": True}, sec)[0], 200)
        self.assertEqual(srv.request("GET", "/v1/me", token=km2)[0], 401)
        st, _, b = srv.request("POST", "/v1/login", {"username": "km.delegate", "password": DEMO_PASSWORD})
        self.assertEqual((st, b["error"]["message"]), (401, "invalid username or password"))

    def test_api_tokens(self):
        db = make_demo_db(self.tmp)
        out = run("token", "create", "--db", db, "mu.delegate", "--label", "delegation script").stdout
        token = out.strip().split("\n")[-1]
        self.assertIn("mu.delegate", run("token", "list", "--db", db).stdout)
        srv = self.server(db)
        st, _, b = srv.request("GET", "/v1/me", token=token)
        self.assertEqual((st, b["username"]), (200, "mu.delegate"))
        tid = out.split()[1]
        run("token", "revoke", "--db", db, tid)
        self.assertEqual(srv.request("GET", "/v1/me", token=token)[0], 401)
        self.assertIn("revoked", run("token", "list", "--db", db, "mu.delegate").stdout)

    def test_throttling_does_not_lock_out_the_real_user(self):
        cfg = self.config('trusted_proxies = { "127.0.0.1" }\n')
        srv = self.server(make_demo_db(self.tmp), "--config", cfg)
        attacker = {"X-Forwarded-For": "203.0.113.5"}
        for _ in range(5):
            st, _, _ = srv.request("POST", "/v1/login", {"username": "sc.delegate", "password": "guess"}, headers=attacker)
            self.assertEqual(st, 401)
        st, _, b = srv.request("POST", "/v1/login", {"username": "sc.delegate", "password": DEMO_PASSWORD}, headers=attacker)
        self.assertEqual(st, 429, "the attacker's address is throttled, even with the right password")
        st, _, b = srv.request("POST", "/v1/login", {"username": "sc.delegate", "password": DEMO_PASSWORD},
                               headers={"X-Forwarded-For": "198.51.100.7"})
        self.assertEqual(st, 200, "the real user, elsewhere, signs in")

    def test_unknown_users_get_the_same_answer_and_work(self):
        srv = self.server(make_demo_db(self.tmp))
        t0 = time.monotonic()
        a = srv.request("POST", "/v1/login", {"username": "nobody.here", "password": "x"})
        t1 = time.monotonic()
        b = srv.request("POST", "/v1/login", {"username": "km.delegate", "password": "x"})
        self.assertEqual((a[0], a[2]), (b[0], b[2]))
        self.assertGreater(t1 - t0, 0.05, "an unknown user still costs a password hash")

    def test_profiles(self):
        srv = self.server(make_demo_db(self.tmp))
        tok = srv.login("re.delegate")
        st, _, me = srv.request("GET", "/v1/me", token=tok)
        self.assertEqual((me["member"], me["time_zone"], me["notify"]), ("RE", "Indian/Mauritius", "each"))
        st, _, me = srv.request("PATCH", "/v1/me", {"language": "fr", "time_zone": "Indian/Reunion",
                                                    "email": "delegation@re.example", "notify": "digest"}, tok)
        self.assertEqual(st, 200)
        # The answer of a change is the same profile as GET /v1/me (the pages keep it).
        self.assertEqual((me["forum"], me["chair_powers"], me["language"]), ("midiocc", False, "fr"))
        me = srv.request("GET", "/v1/me", token=tok)[2]
        self.assertEqual((me["language"], me["time_zone"], me["email"], me["notify"]),
                         ("fr", "Indian/Reunion", "delegation@re.example", "digest"))
        for bad in [{"language": "de"}, {"time_zone": "Mars/Base"}, {"email": "nope"}, {"notify": "sometimes"},
                    {"role": "secretariat"}]:
            st, _, b = srv.request("PATCH", "/v1/me", bad, tok)
            self.assertEqual(st, 400 if "role" in bad else 422, bad)
            self.assertEqual(b["error"]["field"], list(bad)[0])
        self.assertEqual(srv.request("GET", "/v1/me", token=tok)[2]["role"], "delegate")

    def test_accreditation(self):
        srv = self.server(make_demo_db(self.tmp))
        sec, km = srv.login("secretariat"), srv.login("km.delegate")
        st, _, u = srv.request("POST", "/v1/users", {"username": "km.second", "role": "delegate", "member": "KM",
                                                     "display_name": "Second delegate of Comoros"}, sec)
        self.assertEqual(st, 201)
        self.assertTrue(u["must_change_password"])
        pw = u["password"]
        self.assertEqual(srv.request("POST", "/v1/users", {"username": "x.y", "role": "delegate"}, km)[0], 403)
        self.assertEqual(srv.request("POST", "/v1/users", {"username": "x.y", "role": "delegate"}, sec)[0], 422)
        st, _, acc = srv.request("GET", "/v1/me/member/accounts", token=km)
        self.assertEqual(acc["member"], "KM")
        self.assertEqual(sorted(a["username"] for a in acc["accounts"]), ["km.delegate", "km.second"])
        self.assertEqual(srv.request("GET", "/v1/me/member/accounts", token=sec)[0], 403)
        con = sqlite3.connect(srv.db)
        ev = con.execute("SELECT action, member, actor_id FROM events WHERE params LIKE '%km.second%' ORDER BY id").fetchall()
        self.assertEqual(ev[0][:2], ("account.created", "KM"))
        self.assertIsNotNone(ev[0][2], "the secretariat account that did it is recorded")
        told = con.execute("SELECT audience FROM outbox WHERE topic = 'account.added_to_member' "
                           "AND payload LIKE '%km.second%'").fetchone()
        self.assertEqual(json.loads(told[0])["members"], ["KM"], "KM's delegates are told")
        con.close()
        # The new delegate must change the given password first.
        tok = srv.login("km.second", pw)
        st, _, b = srv.request("GET", "/v1/forums/midiocc/items", token=tok)
        self.assertEqual(st, 403)
        self.assertIn("change your password", b["error"]["message"])
        self.assertEqual(srv.request("POST", "/v1/me/password", {"current_password": "bad", "new_password": "a-new-long-password"},
                                     tok)[0], 403)
        self.assertEqual(srv.request("POST", "/v1/me/password", {"current_password": pw, "new_password": "short"}, tok)[0], 422)
        self.assertEqual(srv.request("POST", "/v1/me/password", {"current_password": pw, "new_password": "a-new-long-password"},
                                     tok)[0], 200)
        self.assertEqual(srv.request("GET", "/v1/forums/midiocc/items", token=tok)[0], 200)
        # Moving an account to another state is recorded, ends its sessions, and tells the new state.
        st, _, u = srv.request("PATCH", "/v1/users/km.second", {"member": "MG"}, sec)
        self.assertEqual((st, u["member"]), (200, "MG"))
        self.assertEqual(srv.request("GET", "/v1/me", token=tok)[0], 401)
        con = sqlite3.connect(srv.db)
        last = con.execute("SELECT action, params FROM events WHERE kind = 'account' ORDER BY id DESC LIMIT 1").fetchone()
        con.close()
        self.assertEqual(last[0], "account.role_changed")
        self.assertEqual((json.loads(last[1])["old_member"], json.loads(last[1])["member"]), ("KM", "MG"))
        # A reset password must be changed at next sign-in.
        st, _, r = srv.request("POST", "/v1/users/mu.delegate/reset-password", None, sec)
        self.assertEqual(st, 200)
        st, _, b = srv.request("POST", "/v1/login", {"username": "mu.delegate", "password": r["password"]})
        self.assertEqual((st, b.get("must_change_password")), (200, True))


if __name__ == "__main__":
    main()
