"""What the notification emails say and how they are built, read from a real SMTP server on
loopback and parsed with Python's email package: multipart/alternative with a plain text
and an HTML part; the question or text, the deadline in the reader's zone and language, the
workflow's own sentence and the state at the event; List-Id, one-click List-Unsubscribe
(RFC 8058) that really turns mail off for that reader only; threading headers; and never a
hidden stance."""
import datetime
import re
import sqlite3
import time
import urllib.parse
import zoneinfo

from harness import GavelTest, main, make_demo_db, scaled, wait_until
from test_email import Sink

FR_MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]


def when(dt, zone, lang):
    """A time as a reader of that zone and language reads it in a message."""
    t = dt.astimezone(zoneinfo.ZoneInfo(zone))
    if lang == "fr":
        return f"{t.day} {FR_MONTHS[t.month - 1]} {t.year} à {t:%H:%M} ({zone})"
    return f"{t.day} {EN_MONTHS[t.month - 1]} {t.year} at {t:%H:%M} ({zone})"


def parts(msg):
    """The plain text and the HTML of a multipart/alternative message."""
    return (msg.get_body(preferencelist=("plain",)).get_content(),
            msg.get_body(preferencelist=("html",)).get_content())


class EmailMessagesTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.sinks = []

    def tearDown(self):
        for s in self.sinks:
            s.stop()
        super().tearDown()

    def start(self, relay_up=True, **extra):
        smtp = Sink()
        if relay_up:
            smtp.start()
        self.sinks.append(smtp)
        db = make_demo_db(self.tmp)
        settings = {"smtp": f"smtp://127.0.0.1:{smtp.port}", "security": "none", "from": "noreply@midiocc.example",
                    "base_url": "https://gavel.example/", "digest_at": "00:00", **extra}
        path = self.tmp("gavel.conf.lua")
        with open(path, "w") as f:
            f.write("plugins = { email = { " + ", ".join(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}"
                                                         for k, v in settings.items()) + " } }\n")
        srv = self.server(db, "--config", path)
        tok = {u: srv.login(u) for u in ("secretariat", "km.delegate", "mg.delegate", "mu.delegate", "sc.delegate")}
        # KM reads French in Paris; MG English in the forum's zone (Indian/Mauritius); the
        # others get no mail.
        for user, body in (("km.delegate", {"email": "km@example.org", "language": "fr", "time_zone": "Europe/Paris"}),
                           ("mg.delegate", {"email": "mg@example.org", "language": "en"}),
                           ("mu.delegate", {"email": None}), ("sc.delegate", {"email": None})):
            st, _, b = srv.request("PATCH", "/v1/me", body, tok[user])
            self.assertEqual(st, 200, b)
        return smtp, db, srv, tok

    def deliveries(self, db):
        con = sqlite3.connect(db)
        rows = con.execute("SELECT state, attempts FROM email_deliveries ORDER BY id").fetchall()
        con.close()
        return rows

    def now(self, srv, tok):
        clock = srv.request("POST", "/v1/test/clock", {"advance_seconds": 0}, tok["secretariat"])[2]
        return datetime.datetime.fromisoformat(clock["now"].replace("Z", "+00:00"))

    def iso(self, dt):
        return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def assert_structure(self, msg):
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        kinds = [p.get_content_type() for p in msg.iter_parts()]
        self.assertEqual(kinds, ["text/plain", "text/html"])
        for p in msg.iter_parts():
            self.assertEqual(p.get_content_charset(), "utf-8")
            self.assertIn(p["Content-Transfer-Encoding"], ("base64", "quoted-printable"))
        self.assertFalse(msg.defects, msg.defects)
        self.assertEqual(msg["List-Id"], "MiDIOCC <midiocc.gavel.midiocc.example>")
        self.assertEqual(msg["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertRegex(msg["List-Unsubscribe"], r"^<https://gavel\.example/v1/email/unsubscribe\?user=\d+&token=[0-9a-f]{32}>$")

    def test_a_consultation_says_what_is_asked_in_each_language(self):
        smtp, db, srv, tok = self.start()
        deadline = self.now(srv, tok) + datetime.timedelta(hours=72)
        question = {"en": "Do you support the <framework> & its annex?", "fr": "Soutenez-vous le <cadre> et son annexe ?"}
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", {
            "workflow": "consultation", "title": {"en": "Labour mobility", "fr": "Mobilité de la main-d’œuvre"},
            "params": {"question": question, "deadline": self.iso(deadline), "visibility": "hidden_until_close"}},
            tok["secretariat"])
        self.assertEqual(st, 201, b)
        item = b["item"]["id"]
        km = smtp.wait_for("km@example.org")[0]["msg"]
        mg = smtp.wait_for("mg@example.org")[0]["msg"]
        for msg in (km, mg):
            self.assert_structure(msg)
        km_text, km_html = parts(km)
        mg_text, mg_html = parts(mg)
        # French: the question, the deadline in Paris time with a French date, the workflow's
        # sentence and state label, the link.
        self.assertIn("Soutenez-vous le <cadre> et son annexe ?", km_text)
        self.assertIn(f"Date limite : {when(deadline, 'Europe/Paris', 'fr')}.", km_text)
        self.assertIn("Secretariat a ouvert la consultation.", km_text)
        self.assertIn("État : Ouverte.", km_text)
        self.assertIn(f"https://gavel.example/items/{item}", km_text)
        self.assertEqual(km["Content-Language"], "fr")
        # English, in the forum's zone.
        self.assertIn("Do you support the <framework> & its annex?", mg_text)
        self.assertIn(f"Deadline: {when(deadline, 'Indian/Mauritius', 'en')}.", mg_text)
        self.assertIn("Secretariat opened the consultation.", mg_text)
        self.assertIn("State: Open.", mg_text)
        # The HTML says the same, escaped, with the links as links.
        self.assertIn("Soutenez-vous le &lt;cadre&gt; et son annexe ?", km_html)
        self.assertIn("Do you support the &lt;framework&gt; &amp; its annex?", mg_html)
        self.assertNotIn("<framework>", mg_html)
        self.assertIn(when(deadline, "Europe/Paris", "fr"), km_html)
        self.assertIn(f'<a href="https://gavel.example/items/{item}">', km_html)
        self.assertIn('<html lang="fr">', km_html)
        # The thread: the first message names the item's root.
        self.assertEqual(km["References"], f"<gavel.midiocc.item.{item}@midiocc.example>")
        self.assertIsNone(km["In-Reply-To"])

        # A hidden stance never travels, not even in the reminder or the closing.
        st, _, _ = srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                               {"params": {"stance": "oppose", "statement": "okapi-secret"}}, tok["km.delegate"])
        self.assertEqual(st, 200)
        srv.request("POST", "/v1/test/clock", {"advance_seconds": 25 * 3600}, tok["secretariat"])
        reminder = smtp.wait_for("mg@example.org", 2)[1]["msg"]
        self.assert_structure(reminder)
        text, _ = parts(reminder)
        self.assertIn(f"Deadline: {when(deadline, 'Indian/Mauritius', 'en')}.", text)
        self.assertIn("Do you support the <framework> & its annex?", text)
        self.assertEqual(reminder["In-Reply-To"], mg["Message-ID"])
        self.assertEqual(reminder["References"], f"<gavel.midiocc.item.{item}@midiocc.example> {mg['Message-ID']}")
        srv.request("POST", "/v1/test/clock", {"advance_seconds": 48 * 3600}, tok["secretariat"])
        time.sleep(scaled(1.5))
        for m in smtp.messages:
            raw = m["msg"].as_string()
            text, html = parts(m["msg"])
            for s in (raw, text, html):
                self.assertNotIn("okapi-secret", s)
                self.assertNotIn("oppose", s)

    def test_the_state_line_is_the_state_at_the_event_and_messages_thread(self):
        # One transfer at a time, so that each message is composed after the one before it
        # was sent; the relay is down at first.
        smtp, db, srv, tok = self.start(parallel=1, relay_up=False)
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", {
            "workflow": "decision", "title": {"en": "Fisheries", "fr": "Pêche"},
            "params": {"text": {"en": "The council adopts the fisheries plan.", "fr": "Le conseil adopte le plan de pêche."}}},
            tok["secretariat"])
        self.assertEqual(st, 201, b)
        item = b["item"]["id"]
        deadline = self.now(srv, tok) + datetime.timedelta(hours=96)
        st, _, b = srv.request("POST", f"/v1/items/{item}/actions/circulate_for_silence",
                               {"params": {"deadline": self.iso(deadline)}}, tok["secretariat"])
        self.assertEqual(st, 200, b)
        st, _, b = srv.request("POST", f"/v1/items/{item}/actions/break_silence",
                               {"params": {"reason": "Paragraph 2 needs work."}}, tok["mg.delegate"])
        self.assertEqual(st, 200, b)
        # The notices wait for the relay while the item has moved on; once it is back, the
        # first still says what the state was when the text went under silence.
        self.assertTrue(wait_until(lambda: sum(r[1] >= 1 for r in self.deliveries(db)) >= 4), self.deliveries(db))
        smtp.start()
        srv.request("POST", "/v1/test/clock", {"advance_seconds": 130}, tok["secretariat"])
        km = smtp.wait_for("km@example.org", 2)
        mg = smtp.wait_for("mg@example.org", 2)

        def about(got, words):
            texts = [parts(m["msg"])[0] for m in got]
            found = [t for t in texts if words in t]
            self.assertEqual(len(found), 1, texts)
            return found[0]

        first_fr = about(km, "approbation tacite jusqu'au")
        first_en = about(mg, "under silence procedure until")
        self.assertIn("État : En procédure d'approbation tacite.", first_fr)
        self.assertIn("State: Under silence procedure.", first_en)
        # The silence notice has the text and the deadline, in each reader's zone and language.
        self.assertIn("Le conseil adopte le plan de pêche.", first_fr)
        self.assertIn("The council adopts the fisheries plan.", first_en)
        self.assertIn(f"jusqu'au {when(deadline, 'Europe/Paris', 'fr')}", first_fr)
        self.assertIn(f"Date limite : {when(deadline, 'Europe/Paris', 'fr')}.", first_fr)
        self.assertIn(f"Deadline: {when(deadline, 'Indian/Mauritius', 'en')}.", first_en)
        second_fr = about(km, "a rompu le silence")
        second_en = about(mg, "broke silence")
        self.assertIn("Madagascar a rompu le silence : Paragraph 2 needs work.", second_fr)
        self.assertIn("État : Silence rompu.", second_fr)
        self.assertIn("State: Silence broken.", second_en)
        # Threading: each message answers the one this reader was sent before it, under the
        # item's root (in the order they arrived: retries may deliver them in any order).
        root = f"<gavel.midiocc.item.{item}@midiocc.example>"
        for got in (km, mg):
            a, b2 = got[0]["msg"], got[1]["msg"]
            self.assertEqual(a["References"], root)
            self.assertEqual(b2["In-Reply-To"], a["Message-ID"])
            self.assertEqual(b2["References"], f"{root} {a['Message-ID']}")
            self.assertNotEqual(a["Message-ID"], b2["Message-ID"])

    def test_one_click_unsubscribe_stops_mail_for_that_reader_only(self):
        smtp, db, srv, tok = self.start()
        deadline = self.now(srv, tok) + datetime.timedelta(hours=72)
        params = {"question": "First?", "deadline": self.iso(deadline)}
        self.assertEqual(srv.request("POST", "/v1/forums/midiocc/items", {"workflow": "consultation", "title": "One",
                                                                          "params": params}, tok["secretariat"])[0], 201)
        km = smtp.wait_for("km@example.org")[0]["msg"]
        smtp.wait_for("mg@example.org")
        url = urllib.parse.urlsplit(km["List-Unsubscribe"].strip("<>"))
        path = f"{url.path}?{url.query}"
        # A link followed (a mail scanner, a click) only asks; a forged or another's token is refused.
        st, _, body = srv.request("GET", path)
        self.assertEqual(st, 200)
        self.assertIn(b'method="post"', body)
        self.assertEqual(srv.request("GET", "/v1/me", token=tok["km.delegate"])[2]["notify"], "each")
        forged = re.sub(r"token=[0-9a-f]", "token=0" if "token=0" not in path else "token=1", path)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        self.assertEqual(srv.request("POST", forged, raw=b"List-Unsubscribe=One-Click", headers=form)[0], 404)
        mg_id = srv.request("GET", "/v1/me", token=tok["mg.delegate"])[2]["id"]
        other = re.sub(r"user=\d+", f"user={mg_id}", path)
        self.assertEqual(srv.request("POST", other, raw=b"List-Unsubscribe=One-Click", headers=form)[0], 404)
        # The one-click POST as a mail provider sends it, with no session.
        st, _, _ = srv.request("POST", path, raw=b"List-Unsubscribe=One-Click", headers=form)
        self.assertEqual(st, 200)
        self.assertEqual(srv.request("GET", "/v1/me", token=tok["km.delegate"])[2]["notify"], "none")
        self.assertEqual(srv.request("GET", "/v1/me", token=tok["mg.delegate"])[2]["notify"], "each")
        params = {"question": "Second?", "deadline": self.iso(deadline)}
        self.assertEqual(srv.request("POST", "/v1/forums/midiocc/items", {"workflow": "consultation", "title": "Two",
                                                                          "params": params}, tok["secretariat"])[0], 201)
        smtp.wait_for("mg@example.org", 2)
        time.sleep(scaled(1.5))
        self.assertEqual(len(smtp.to("km@example.org")), 1, "no more mail after unsubscribing")


if __name__ == "__main__":
    main()
