"""The email plugin end to end, against a real SMTP server (aiosmtpd) on loopback:
notifications reach the people an action concerns, once, in their language, with a stable
Message-ID; reminders skip states that answered; failed sends are retried with back-off and
survive a killed server; STARTTLS is required and the certificate verified; 5xx answers are
final; digests gather a day's notifications; mistakes in the settings stop the start."""
import asyncio
import datetime
import email
import email.policy
import os
import socket
import sqlite3
import ssl
import subprocess
import threading
import logging
import time

from aiosmtpd.controller import Controller

# The refused handshakes below are expected; aiosmtpd would log each with a traceback.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

from harness import BINARY, GavelTest, free_port, main, make_demo_db, run, scaled, wait_until


class Sink:
    """A real SMTP server on loopback keeping every message it accepts."""

    def __init__(self, port=None, tls=None, reject=(), reject_sender=False):
        self.port = port or free_port()
        self.tls = tls
        self.reject = set(reject)
        self.reject_sender = reject_sender
        self.hold = threading.Event()
        self.hold.set()
        self.holding = threading.Event()
        self.messages = []
        self.lock = threading.Lock()
        self.controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.reject_sender:
            return "550 5.7.1 sender not allowed"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if not self.hold.is_set():
            # The server takes its time over the message (a slow relay or a content scan).
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait)
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append({"to": list(envelope.rcpt_tos), "from": envelope.mail_from, "msg": msg,
                                  "tls": session.ssl is not None})
        return "250 OK"

    def start(self):
        kw = {}
        if self.tls:
            kw = {"tls_context": self.tls, "require_starttls": True}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def to(self, address):
        with self.lock:
            return [m for m in self.messages if address in m["to"]]

    def wait_for(self, address, count=1, timeout=20):
        deadline = time.time() + scaled(timeout)
        while time.time() < deadline:
            got = self.to(address)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{count} message(s) to {address} did not arrive; have {len(self.to(address))}")


def body_text(msg):
    """The plain text part (messages are multipart/alternative with an HTML part)."""
    return msg.get_body(preferencelist=("plain",)).get_content()


class EmailTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.sinks = []

    def tearDown(self):
        for s in self.sinks:
            s.stop()
        super().tearDown()

    def sink(self, **kw):
        s = Sink(**kw).start()
        self.sinks.append(s)
        return s

    def config(self, port, **extra):
        settings = {"smtp": f"smtp://127.0.0.1:{port}", "security": "none", "from": "noreply@midiocc.example",
                    "base_url": "https://gavel.example/", "digest_at": "00:00", **extra}
        text = ", ".join(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items())
        path = self.tmp("gavel.conf.lua")
        with open(path, "w") as f:
            f.write(f"plugins = {{ email = {{ {text} }} }}\n")
        return path

    def deliveries(self, db):
        con = sqlite3.connect(db)
        rows = con.execute("SELECT d.state, d.attempts, u.username, d.kind, d.message_id, d.last_error"
                           " FROM email_deliveries d JOIN users u ON u.id = d.user_id ORDER BY d.id").fetchall()
        con.close()
        return rows

    def people(self, srv):
        """Every demo account signed in; their mail settings as the tests need them."""
        tok = {u: srv.login(u) for u in ("secretariat", "chair", "km.delegate", "mg.delegate", "mu.delegate",
                                         "re.delegate", "sc.delegate")}
        for user, body in (("km.delegate", {"email": "km@example.org", "language": "fr"}),
                           ("mg.delegate", {"email": "mg@example.org", "language": "en"}),
                           ("mu.delegate", {"email": "mu@example.org", "notify": "none"}),
                           ("re.delegate", {"email": "re@example.org", "notify": "digest", "language": "fr"}),
                           ("sc.delegate", {"email": None})):
            st, _, b = srv.request("PATCH", "/v1/me", body, tok[user])
            self.assertEqual(st, 200, b)
        return tok

    def consultation(self, srv, tok, title, hours=72, hidden=False):
        clock = srv.request("POST", "/v1/test/clock", {"advance_seconds": 0}, tok["secretariat"])[2]
        now = datetime.datetime.fromisoformat(clock["now"].replace("Z", "+00:00"))
        deadline = now + datetime.timedelta(hours=hours)
        params = {"question": "Do you support the framework?", "deadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if hidden:
            params["visibility"] = "hidden_until_close"
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                               {"workflow": "consultation", "title": title, "params": params}, tok["secretariat"])
        self.assertEqual(st, 201, b)
        return b["item"]["id"]

    def advance(self, srv, tok, seconds):
        st, _, b = srv.request("POST", "/v1/test/clock", {"advance_seconds": seconds}, tok["secretariat"])
        self.assertEqual(st, 200, b)

    def test_each_person_once_in_their_language(self):
        smtp = self.sink()
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config(smtp.port))
        tok = self.people(srv)
        item = self.consultation(srv, tok, {"en": "Labour mobility", "fr": "Mobilité de la main-d’œuvre"})
        km = smtp.wait_for("km@example.org")[0]["msg"]
        mg = smtp.wait_for("mg@example.org")[0]["msg"]
        time.sleep(1.5)  # anything else would have arrived by now
        # The consultation goes to the states' delegates: not to mu (notify none), sc (no
        # address) or re (digest), and not to the secretariat or the chair.
        self.assertEqual(sorted(a for m in smtp.messages for a in m["to"]), ["km@example.org", "mg@example.org"])
        self.assertEqual(km["Subject"], "[MiDIOCC] Nouveau : Mobilité de la main-d’œuvre")
        self.assertEqual(mg["Subject"], "[MiDIOCC] New: Labour mobility")
        self.assertEqual(km["Content-Language"], "fr")
        self.assertIn("Consultation des États membres", body_text(km))
        self.assertIn("Secretariat opened the consultation", body_text(mg))
        self.assertIn(f"https://gavel.example/items/{item}", body_text(mg))
        self.assertEqual(km["From"], "MiDIOCC <noreply@midiocc.example>")
        self.assertEqual(mg["To"].addresses[0].addr_spec, "mg@example.org")
        self.assertEqual(km["Auto-Submitted"], "auto-generated")
        self.assertRegex(km["Message-ID"], r"^<gavel\.midiocc\.\d+\.\d+@midiocc\.example>$")
        self.assertNotEqual(km["Message-ID"], mg["Message-ID"])
        self.assertEqual(km["References"], f"<gavel.midiocc.item.{item}@midiocc.example>")
        # The relay has the messages; the plugin records them as sent just after.
        expected = {"km.delegate": "sent", "mg.delegate": "sent", "re.delegate": "waiting"}
        wait_until(lambda: {r[2]: r[0] for r in self.deliveries(db)} == expected)
        self.assertEqual({r[2]: r[0] for r in self.deliveries(db)}, expected)

        # A hidden stance never travels by mail.
        hidden = self.consultation(srv, tok, "Hidden", hidden=True)
        smtp.wait_for("km@example.org", 2)
        st, _, _ = srv.request("POST", f"/v1/items/{hidden}/actions/submit_position",
                               {"params": {"stance": "oppose", "statement": "okapi-secret"}}, tok["km.delegate"])
        self.assertEqual(st, 200)
        self.advance(srv, tok, 73 * 3600)  # the deadline closes it; "closed" is news for the delegates
        time.sleep(2)
        for m in smtp.messages:
            self.assertNotIn("okapi-secret", m["msg"].as_string())
            self.assertNotIn("okapi-secret", body_text(m["msg"]))

    def test_reminders_skip_states_that_answered(self):
        smtp = self.sink()
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config(smtp.port))
        tok = self.people(srv)
        item = self.consultation(srv, tok, "Seasonal workers", hours=72)
        smtp.wait_for("km@example.org")
        smtp.wait_for("mg@example.org")
        self.assertEqual(srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                                     {"params": {"stance": "support"}}, tok["mg.delegate"])[0], 200)
        self.advance(srv, tok, 25 * 3600)  # 47 h before the deadline: the 48 h reminder
        reminder = smtp.wait_for("km@example.org", 2)[1]["msg"]
        self.assertEqual(reminder["Subject"], "[MiDIOCC] Rappel : Seasonal workers")
        self.assertIn("Comores n'a pas encore répondu", body_text(reminder))
        time.sleep(1.5)
        self.assertEqual(len(smtp.to("mg@example.org")), 1, "a state that answered gets no reminder")

        # The 24 h reminder is queued while the mail server is down; KM answers before it is
        # retried: the reminder is dropped, not sent late.
        smtp.stop()
        self.advance(srv, tok, 24 * 3600)
        deadline = time.time() + scaled(20)
        while time.time() < deadline and not any(r[2] == "km.delegate" and r[1] >= 1 and r[0] == "pending"
                                                 for r in self.deliveries(db)):
            time.sleep(0.1)
        self.assertEqual(srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                                     {"params": {"stance": "oppose"}}, tok["km.delegate"])[0], 200)
        smtp.start()
        self.advance(srv, tok, 5 * 60)
        deadline = time.time() + scaled(20)
        while time.time() < deadline and any(r[0] == "pending" for r in self.deliveries(db)):
            time.sleep(0.1)
        self.assertEqual(len(smtp.to("km@example.org")), 2, "no late reminder after answering")
        states = [r for r in self.deliveries(db) if r[2] == "km.delegate"]
        self.assertEqual(states[-1][0], "skipped")

    def test_retries_survive_a_killed_server(self):
        port = free_port()
        db = make_demo_db(self.tmp)
        cfg = self.config(port, first_retry="2m")
        srv = self.server(db, "--config", cfg)
        tok = self.people(srv)
        self.consultation(srv, tok, "While the mail server is down")
        deadline = time.time() + scaled(20)
        while time.time() < deadline and sum(r[1] >= 1 for r in self.deliveries(db) if r[0] == "pending") < 2:
            time.sleep(0.1)
        rows = [r for r in self.deliveries(db) if r[0] == "pending"]
        self.assertEqual(len(rows), 2)
        self.assertTrue(all(r[1] == 1 and "onnect" in (r[5] or "") for r in rows), rows)
        srv.kill()
        smtp = self.sink(port=port)
        srv = self.server(db, "--config", cfg)
        tok = {"secretariat": srv.login("secretariat")}
        time.sleep(1.5)
        self.assertEqual(smtp.messages, [], "not before the back-off has passed")
        self.advance(srv, tok, 130)
        got = smtp.wait_for("km@example.org")
        smtp.wait_for("mg@example.org")
        expect = {r[2]: r[4] for r in self.deliveries(db)}
        self.assertEqual(got[0]["msg"]["Message-ID"], expect["km.delegate"], "the Message-ID is the one assigned first")
        time.sleep(1.5)
        self.assertEqual(len(smtp.to("km@example.org")), 1)
        wait_until(lambda: [r[0] for r in self.deliveries(db) if r[2] == "km.delegate"] == ["sent"])
        self.assertEqual([(r[0], r[1]) for r in self.deliveries(db) if r[2] == "km.delegate"], [("sent", 2)])

    def make_cert(self):
        key, cert = self.tmp("smtp.key"), self.tmp("smtp.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx, cert

    def test_starttls_is_required_and_verified(self):
        ctx, cert = self.make_cert()
        smtp = self.sink(tls=ctx)
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config(smtp.port, security="starttls", ca_file=cert))
        tok = self.people(srv)
        self.consultation(srv, tok, "Over TLS")
        got = smtp.wait_for("km@example.org")[0]
        self.assertTrue(got["tls"], "the message went after STARTTLS")
        srv.stop()
        # Without the certificate's issuer the server is not trusted: nothing is sent.
        srv = self.server(db, "--config", self.config(smtp.port, security="starttls"))
        sec = srv.login("secretariat")
        self.consultation(srv, {"secretariat": sec}, "Untrusted")
        deadline = time.time() + scaled(20)
        while time.time() < deadline and sum(r[0] == "pending" and r[1] >= 1 for r in self.deliveries(db)) < 2:
            time.sleep(0.1)
        errors = [r[5] for r in self.deliveries(db) if r[0] == "pending" and r[1] >= 1]
        self.assertTrue(errors and all("certificate" in e.lower() for e in errors), errors)
        self.assertEqual(len(smtp.to("km@example.org")), 1)

    def test_final_failures_and_daily_digest(self):
        smtp = self.sink(reject=["mg@example.org"])
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config(smtp.port))
        tok = self.people(srv)
        self.consultation(srv, tok, {"en": "First", "fr": "Premier"}, hours=200)
        self.consultation(srv, tok, {"en": "Second", "fr": "Second"}, hours=200)
        smtp.wait_for("km@example.org", 2)
        deadline = time.time() + scaled(20)
        while time.time() < deadline and sum(r[0] == "failed" for r in self.deliveries(db)) < 2:
            time.sleep(0.1)
        failed = [r for r in self.deliveries(db) if r[0] == "failed"]
        self.assertEqual([(r[2], r[1]) for r in failed], [("mg.delegate", 1)] * 2, "550 is final: one attempt")
        self.assertIn("550", failed[0][5])
        status = run("email", "status", "--db", db, "--config", self.tmp("gavel.conf.lua")).stdout
        self.assertRegex(status, r"failed\s+2")
        self.assertIn("550", status)

        # re asked for a digest: nothing yet, then one message the next day with both items.
        self.assertEqual(smtp.to("re@example.org"), [])
        self.advance(srv, tok, 24 * 3600)
        digest = smtp.wait_for("re@example.org")[0]["msg"]
        self.assertTrue(digest["Subject"].startswith("[MiDIOCC] Résumé du "), digest["Subject"])
        text = body_text(digest)
        self.assertIn("Nouveau : Premier", text)
        self.assertIn("Nouveau : Second", text)
        self.assertRegex(digest["Message-ID"], r"^<gavel\.midiocc\.digest\.\d{8}\.\d+@midiocc\.example>$")
        self.advance(srv, tok, 3600)
        time.sleep(1.5)
        self.assertEqual(len(smtp.to("re@example.org")), 1)

    def test_a_slow_mail_server_never_holds_up_the_web(self):
        smtp = self.sink()
        smtp.hold.clear()
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config(smtp.port, parallel=2, timeout="5m"))
        tok = self.people(srv)
        self.consultation(srv, tok, "While the relay thinks")
        self.assertTrue(smtp.holding.wait(scaled(20)), "a message reached the relay")
        # The relay sits on the message: everyone else is still served.
        for _ in range(5):
            st, _, body = srv.request("GET", "/v1/forums/midiocc/items", token=tok["km.delegate"], timeout=10)
            self.assertEqual(st, 200)
        self.assertEqual(srv.request("POST", "/v1/test/clock", {"advance_seconds": 0}, tok["secretariat"], timeout=10)[0], 200)
        smtp.hold.set()
        smtp.wait_for("km@example.org")
        smtp.wait_for("mg@example.org")
        # A stop while a message is in the relay's hands ends promptly, and the delivery is
        # kept for the next start rather than half-sent.
        smtp.hold.clear()
        smtp.holding.clear()
        self.consultation(srv, tok, "Interrupted")
        self.assertTrue(smtp.holding.wait(scaled(20)))
        t0 = time.time()
        self.assertEqual(srv.stop(), 0)
        self.assertLess(time.time() - t0, scaled(25), "the stop waited for the relay")
        smtp.hold.set()
        pending = [r for r in self.deliveries(db) if r[0] != "sent" and r[2] in ("km.delegate", "mg.delegate")]
        self.assertTrue(pending, "the interrupted deliveries are still to be sent")

    def test_a_refused_sender_is_retried_not_dropped(self):
        smtp = self.sink(reject_sender=True)
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--config", self.config(smtp.port))
        tok = self.people(srv)
        # A display name with punctuation stays one name in the To header.
        self.assertEqual(srv.request("PATCH", "/v1/me", {"display_name": "Rakoto, Hery (MG)"}, tok["mg.delegate"])[0], 200)
        self.consultation(srv, tok, "Relay misconfigured")
        deadline = time.time() + scaled(20)
        while time.time() < deadline and sum(r[0] == "pending" and r[1] >= 1 for r in self.deliveries(db)) < 2:
            time.sleep(0.1)
        rows = [r for r in self.deliveries(db) if r[2] in ("km.delegate", "mg.delegate")]
        self.assertEqual([r[0] for r in rows], ["pending", "pending"], rows)
        self.assertIn("550", rows[0][5])
        smtp.reject_sender = False  # the relay is set right
        self.advance(srv, tok, 120)
        mg = smtp.wait_for("mg@example.org")[0]["msg"]
        self.assertEqual(len(mg["To"].addresses), 1)
        self.assertEqual(mg["To"].addresses[0].display_name, "Rakoto, Hery (MG)")

    def serve_fails(self, db, cfg):
        p = subprocess.run([BINARY, "serve", "--db", db, "--listen", "127.0.0.1:0", "--config", cfg],
                           capture_output=True, text=True, timeout=scaled(60))
        self.assertNotEqual(p.returncode, 0)
        return p.stderr

    def test_settings_are_checked_and_a_test_message_goes(self):
        smtp = self.sink()
        db = make_demo_db(self.tmp)
        self.assertIn("plugins.email: unknown setting 'smpt'", self.serve_fails(db, self.config(smtp.port, smpt="x")))
        self.assertIn("allowed only for a server on this machine",
                      self.serve_fails(db, self.config(smtp.port, smtp="smtp://mail.example.org:25")))
        self.assertIn("from must be a plain address", self.serve_fails(db, self.config(smtp.port, **{"from": "x"})))
        pw = self.tmp("pw")
        with open(pw, "w") as f:
            f.write("secret\n")
        os.chmod(pw, 0o644)
        self.assertIn("can be read by other users",
                      self.serve_fails(db, self.config(smtp.port, password_file=pw, username="u")))
        cfg = self.config(smtp.port)
        out = run("email", "test", "--db", db, "--config", cfg, "admin@example.org").stdout
        self.assertIn("sent a test message to admin@example.org", out)
        self.assertEqual(smtp.wait_for("admin@example.org")[0]["msg"]["Subject"], "Gavel: test message")
        smtp.stop()
        p = run("email", "test", "--db", db, "--config", cfg, "admin@example.org", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("gavel email test:", p.stderr)


if __name__ == "__main__":
    main()
