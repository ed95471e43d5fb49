"""Calendars and exports: the secret iCalendar address (RFC 5545, revocable, rotated), CSV
exports of positions (hidden stances stay hidden) and decisions, and bulk account import
from CSV (every row checked, all or nothing) over the API and the command line."""
import csv
import datetime
import io
import json
import sqlite3

from harness import GavelTest, main, make_demo_db, run

MAURITIUS = datetime.timezone(datetime.timedelta(hours=4))


def unfold(raw):
    """Checks the iCalendar octets strictly and returns the unfolded content lines."""
    assert raw.endswith(b"\r\n"), "the calendar ends with CRLF"
    physical = raw[:-2].split(b"\r\n")
    lines = []
    for p in physical:
        assert b"\n" not in p and b"\r" not in p, f"a bare line break in {p!r}"
        assert len(p) <= 75, f"a line of {len(p)} octets: {p!r}"
        p.decode("utf-8")  # a fold never splits a character
        if p.startswith(b" "):
            assert lines, "a continuation line first"
            lines[-1] += p[1:]
        else:
            lines.append(p)
    return [line.decode("utf-8") for line in lines]


def unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append("\n" if v[i + 1] in "nN" else v[i + 1])
            i += 2
        else:
            assert v[i] not in ",;", f"an unescaped separator in TEXT {v!r}"
            out.append(v[i])
            i += 1
    return "".join(out)


def parse_ics(raw):
    """The calendar's properties and its events as [{name(;params): value}], checking nesting
    and the properties RFC 5545 requires."""
    lines = unfold(raw)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR", lines[:2]
    cal, events, cur, stack = {}, [], None, []
    for line in lines:
        name, sep, value = line.partition(":")
        assert sep, f"no colon in {line!r}"
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                cur = {}
            continue
        if name == "END":
            assert stack and stack.pop() == value, f"END:{value} does not close its BEGIN"
            if value == "VEVENT":
                for required in ("UID", "DTSTAMP"):
                    assert required in cur, f"an event without {required}: {cur}"
                assert any(k.startswith("DTSTART") for k in cur), cur
                events.append(cur)
                cur = None
            continue
        (cur if cur is not None else cal)[name] = value
    assert not stack
    assert cal.get("VERSION") == "2.0" and cal.get("PRODID"), cal
    assert len({e["UID"] for e in events}) == len(events), "UIDs are unique"
    return cal, events


def read_csv(body):
    text = body.decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


class ExportsTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.srv = self.server(make_demo_db(self.tmp))
        self.tok = {u: self.srv.login(u) for u in ("secretariat", "chair", "observer", "km.delegate", "mg.delegate")}
        self.sec = self.tok["secretariat"]

    def req(self, method, path, body=None, who=None, **kw):
        return self.srv.request(method, path, body, self.tok[who] if who else None, **kw)

    def now(self):
        f = self.req("GET", "/v1/forums/midiocc", who="secretariat")[2]
        return datetime.datetime.fromisoformat(f["now"].replace("Z", "+00:00"))

    def consultation(self, title, deadline, visibility="open", options=None):
        params = {"question": "Do you agree?", "deadline": deadline, "visibility": visibility}
        if options:
            params["options"] = options
        st, _, b = self.req("POST", "/v1/forums/midiocc/items",
                            {"workflow": "consultation", "title": title, "params": params}, "secretariat")
        self.assertEqual(st, 201, b)
        return b["item"]["id"]

    def calendar(self, who):
        st, _, b = self.req("POST", "/v1/me/calendar", {}, who)
        self.assertEqual(st, 201, b)
        self.assertTrue(b["url"].endswith("/v1/calendar/" + b["token"] + ".ics"), b)
        return b["token"]

    def feed(self, token):
        return self.srv.request("GET", f"/v1/calendar/{token}.ics")

    def test_calendar_feed(self):
        title = "Regional labour mobility, phase two; a long title that must be folded across several lines, " \
                "with commas, semicolons; and accents: Comores, Réunion, Maurice"
        st, _, m = self.req("POST", "/v1/meetings", {"title": title, "place": "Port Louis, Mauritius",
                                                     "starts_on": "2030-03-10", "ends_on": "2030-03-12"}, "secretariat")
        self.assertEqual(st, 201, m)
        # A deadline at 18:00 in the forum's zone (Indian/Mauritius, UTC+4) three days on.
        day = (self.now() + datetime.timedelta(days=3)).astimezone(MAURITIUS).date()
        local = datetime.datetime(day.year, day.month, day.day, 18, 0, tzinfo=MAURITIUS)
        item = self.consultation("Scheme consultation", local.isoformat())

        km = self.calendar("km.delegate")
        st, h, raw = self.feed(km)
        self.assertEqual(st, 200, raw)
        self.assertEqual(h["content-type"], "text/calendar; charset=utf-8")
        cal, events = parse_ics(raw)
        meeting = [e for e in events if e["UID"].startswith("meeting-")]
        self.assertEqual(len(meeting), 1, events)
        self.assertEqual(meeting[0]["DTSTART;VALUE=DATE"], "20300310")
        self.assertEqual(meeting[0]["DTEND;VALUE=DATE"], "20300313", "DTEND is the day after the last day")
        self.assertEqual(unescape(meeting[0]["SUMMARY"]), title)
        self.assertEqual(unescape(meeting[0]["LOCATION"]), "Port Louis, Mauritius")
        deadlines = [e for e in events if e["UID"].startswith(f"item-{item}-")]
        self.assertEqual(len(deadlines), 1, events)
        utc = local.astimezone(datetime.timezone.utc)
        self.assertEqual(deadlines[0]["DTSTART"], utc.strftime("%Y%m%dT%H%M%SZ"))
        self.assertEqual(deadlines[0]["DTSTART"][9:], "140000Z", "18:00 in Mauritius is 14:00 UTC")
        self.assertIn("Scheme consultation", unescape(deadlines[0]["SUMMARY"]))
        self.assertIn("T18:00:00+04:00", unescape(deadlines[0]["DESCRIPTION"]))

        # The secretariat sees the deadline too; an observer, who is asked nothing, only meetings.
        _, _, raw = self.feed(self.calendar("secretariat"))
        self.assertEqual(len([e for e in parse_ics(raw)[1] if e["UID"].startswith("item-")]), 1)
        _, _, raw = self.feed(self.calendar("observer"))
        events = parse_ics(raw)[1]
        self.assertEqual([e["UID"].split("-")[0] for e in events], ["meeting"])
        # Once the consultation is closed its deadline leaves every calendar.
        st, _, b = self.req("POST", f"/v1/items/{item}/actions/close", {"params": {}}, "secretariat")
        self.assertEqual(st, 200, b)
        self.assertEqual([e for e in parse_ics(self.feed(km)[2])[1] if e["UID"].startswith("item-")], [])

        # Rotation: the old address stops working, the new one works, another user's is untouched.
        mg = self.calendar("mg.delegate")
        km2 = self.calendar("km.delegate")
        self.assertNotEqual(km, km2)
        self.assertEqual(self.feed(km)[0], 404)
        self.assertEqual(self.feed(km2)[0], 200)
        self.assertEqual(self.feed(mg)[0], 200)
        mg2 = self.calendar("mg.delegate")
        self.assertEqual(self.feed(mg)[0], 404, "a rotated token is not accepted")
        self.assertEqual(self.feed(mg2)[0], 200)
        st, _, status = self.req("GET", "/v1/me/calendar", who="km.delegate")
        self.assertTrue(status["active"])
        # Revoked: 404, and nothing else to revoke.
        self.assertEqual(self.req("DELETE", "/v1/me/calendar", who="km.delegate")[0], 200)
        self.assertEqual(self.feed(km2)[0], 404)
        self.assertEqual(self.req("DELETE", "/v1/me/calendar", who="km.delegate")[0], 404)
        self.assertFalse(self.req("GET", "/v1/me/calendar", who="km.delegate")[2]["active"])
        self.assertEqual(self.feed("not-a-token")[0], 404)
        # A disabled account's address stops working; the token is never stored in clear.
        self.assertEqual(self.req("PATCH", "/v1/users/mg.delegate", {"disabled": True}, "secretariat")[0], 200)
        self.assertEqual(self.feed(mg2)[0], 404)
        with open(self.srv.db, "rb") as f:
            self.assertNotIn(mg2.encode(), f.read())
        self.assertEqual(self.srv.request("POST", "/v1/me/calendar", {})[0], 401)
        self.assertNotIn(mg2, self.srv.output(), "the access log names the route, not the token")

    def test_positions_csv_and_hidden_stances(self):
        deadline = (self.now() + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        options = ["zebra_alpha", "zebra_bravo"]
        item = self.consultation("Hidden", deadline, "hidden_until_close", options)
        secret = '=HYPERLINK("http://evil.example","quokka"), with "quotes"\nand a second line'
        for who, stance, text in (("km.delegate", "zebra_bravo", secret), ("mg.delegate", "zebra_alpha", "+plain")):
            st, _, b = self.req("POST", f"/v1/items/{item}/actions/submit_position",
                                {"params": {"stance": stance, "statement": text}}, who)
            self.assertEqual(st, 200, b)
        path = f"/v1/items/{item}/positions.csv"
        st, h, raw = self.req("GET", path, who="mg.delegate")
        self.assertEqual(st, 200, raw)
        self.assertTrue(h["content-type"].startswith("text/csv"), h)
        self.assertIn("attachment", h["content-disposition"])
        self.assertTrue(raw.startswith(b'"member","member_name","stance","statement"'), raw[:80])
        self.assertNotIn(b"zebra_bravo", raw, "KM's hidden stance is not in MG's export")
        self.assertNotIn(b"quokka", raw)
        rows = read_csv(raw)
        head, body = rows[0], {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
        self.assertEqual(head, ["member", "member_name", "stance", "statement", "reference", "on_behalf", "at", "sealed"])
        self.assertEqual(body["MG"]["stance"], "zebra_alpha")
        self.assertEqual(body["MG"]["statement"], "'+plain", "a cell starting with + is neutralised")
        self.assertEqual((body["KM"]["stance"], body["KM"]["statement"], body["KM"]["sealed"]), ("", "", "true"))
        # The JSON view and the CSV agree on what MG may see.
        _, _, js = self.req("GET", f"/v1/items/{item}/positions", who="mg.delegate")
        self.assertEqual({p["member"]: p.get("stance", "") for p in js["positions"]},
                         {m: r["stance"] for m, r in body.items()})
        # Same for the history, and for an observer nothing at all.
        _, _, raw_h = self.req("GET", path + "?history=true", who="observer")
        self.assertNotIn(b"zebra_", raw_h)
        self.assertEqual(len(read_csv(raw_h)), 3)
        # The secretariat sees KM's statement, quoted, neutralised and whole.
        _, _, raw = self.req("GET", path, who="secretariat")
        body = {r[0]: r for r in read_csv(raw)[1:]}
        self.assertEqual(body["KM"][2], "zebra_bravo")
        self.assertEqual(body["KM"][3], "'" + secret)
        self.assertNotIn(b'\n"', raw.replace(b'\r\n"', b""), "records end with CRLF")
        self.assertTrue(raw.endswith(b"\r\n"))
        self.assertEqual(self.req("GET", "/v1/items/999999/positions.csv", who="secretariat")[0], 404)
        self.assertEqual(self.srv.request("GET", path)[0], 401)

    def test_decisions_csv(self):
        st, _, b = self.req("POST", "/v1/forums/midiocc/items", {
            "workflow": "decision", "title": {"en": "Framework, adopted", "fr": "Cadre, adopté"},
            "params": {"text": {"en": "@The Dialogue adopts the framework.", "fr": "@Le Dialogue adopte le cadre."}}},
            "secretariat")
        self.assertEqual(st, 201, b)
        dec = b["item"]["id"]
        st, _, b = self.req("POST", f"/v1/items/{dec}/actions/record_outcome", {"params": {
            "outcome": "adopted_with_reservations", "reservations": [{"member": "KM", "text": "-on paragraph 2"}]}},
            "chair")
        self.assertEqual(st, 200, b)
        year = self.now().astimezone(MAURITIUS).year
        st, h, raw = self.req("GET", f"/v1/forums/midiocc/decisions.csv?year={year}", who="observer")
        self.assertEqual(st, 200, raw)
        self.assertTrue(h["content-type"].startswith("text/csv"))
        rows = read_csv(raw)
        self.assertEqual(rows[0], ["number", "item_id", "title", "outcome", "decided_at", "meeting_id",
                                   "reservations", "text"])
        self.assertEqual(len(rows), 2, rows)
        row = dict(zip(rows[0], rows[1]))
        self.assertEqual(row["number"], f"MiDIOCC/{year}/1")
        self.assertEqual(row["item_id"], str(dec))
        self.assertEqual(row["title"], "Framework, adopted")
        self.assertEqual(row["outcome"], "adopted_with_reservations")
        self.assertEqual(row["reservations"], "KM: -on paragraph 2")
        self.assertTrue(row["decided_at"].endswith("+04:00"), row)
        self.assertTrue(row["text"].startswith("'@"), "a cell starting with @ is neutralised")
        self.assertEqual(len(read_csv(self.req("GET", "/v1/forums/midiocc/decisions.csv?year=2020", who="observer")[2])), 1)
        self.assertEqual(self.req("GET", "/v1/forums/midiocc/decisions.csv?year=20x6", who="observer")[0], 422)
        self.assertEqual(self.req("GET", "/v1/forums/other/decisions.csv", who="observer")[0], 404)

    def post_csv(self, text, who="secretariat", ctype="text/csv"):
        return self.srv.request("POST", "/v1/users/import", token=self.tok[who], raw=text.encode(),
                                headers={"Content-Type": ctype})

    def users(self):
        return {u["username"] for u in self.req("GET", "/v1/users", who="secretariat")[2]["users"]}

    def test_import_api_all_or_nothing(self):
        before = self.users()
        bad = ("username,role,member,name,email,language\r\n"
               "ok.one,observer,,Fine,ok@example.org,en\r\n"        # line 2: fine
               "x.king,king,,,,\r\n"                                # 3: unknown role
               "x.zz,delegate,ZZ,,,\r\n"                            # 4: member not in the forum
               "x.nomember,delegate,,,,\r\n"                        # 5: delegate without member
               "ok.one,observer,,,,\r\n"                            # 6: twice in the file
               "km.delegate,observer,,,,\r\n"                       # 7: already exists
               "x.mail,observer,,,not-an-address,\r\n"              # 8: bad email
               "x.lang,observer,,,,de\r\n")                         # 9: bad language
        st, _, b = self.post_csv(bad)
        self.assertEqual(st, 422, b)
        lines = {r["line"]: r for r in b["rows"]}
        self.assertEqual(sorted(lines), [3, 4, 5, 6, 7, 8, 9], b)
        self.assertIn("king", lines[3]["message"])
        self.assertIn("ZZ", lines[4]["message"])
        self.assertIn("twice", lines[6]["message"])
        self.assertIn("already taken", lines[7]["message"])
        self.assertEqual(lines[8]["field"], "email")
        self.assertEqual(lines[9]["field"], "language")
        self.assertEqual(self.users(), before, "nothing was created")

        # As a spreadsheet program saves it: a byte order mark first.
        good = ('\ufeffusername,role,member,name,email,language\n'
                'km.third,delegate,KM,"Third, of the Comoros",km3@example.org,fr\n'
                'obs.two,observer,,Second observer,,\n')
        st, _, b = self.post_csv(good)
        self.assertEqual(st, 201, b)
        self.assertEqual(b["count"], 2)
        made = {u["username"]: u for u in b["created"]}
        self.assertEqual(made["km.third"]["display_name"], "Third, of the Comoros")
        self.assertEqual(made["km.third"]["member"], "KM")
        self.assertEqual(made["km.third"]["line"], 2)
        self.assertEqual(self.users(), before | {"km.third", "obs.two"})
        tok = self.srv.login("obs.two", made["obs.two"]["password"])
        self.assertTrue(self.srv.request("GET", "/v1/me", token=tok)[2]["must_change_password"])
        # The same file again: every row is now taken.
        st, _, b = self.post_csv(good)
        self.assertEqual((st, [r["line"] for r in b["rows"]]), (422, [2, 3]))
        self.assertEqual(self.post_csv(good, who="km.delegate")[0], 403)
        self.assertEqual(self.post_csv(good, ctype="application/json")[0], 415)
        st, _, b = self.post_csv('username,role\n"unclosed,observer\n')
        self.assertEqual(st, 422, b)
        self.assertEqual(b["rows"][0]["line"], 2)
        st, _, b = self.post_csv("user,role\nx.y,observer\n")
        self.assertEqual((st, b["rows"][0]["line"]), (422, 1))


class ImportCliTest(GavelTest):
    def test_cli_import(self):
        db = make_demo_db(self.tmp)
        bad = self.tmp("bad.csv")
        with open(bad, "w") as f:
            f.write("username,role,member\nfine.one,observer,\nzz.one,delegate,ZZ\nfine.one,chair,\n")
        p = run("user", "import", "--db", db, bad, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{bad}:3: ", p.stderr)
        self.assertIn(f"{bad}:4: username: ", p.stderr)
        self.assertIn("nothing was created", p.stderr)
        self.assertNotIn("fine.one", run("user", "list", "--db", db).stdout)
        good = self.tmp("good.csv")
        with open(good, "w") as f:
            f.write("name,username,role,member,language\r\n\"Délégué, deux\",km.two,delegate,KM,fr\r\n"
                    "Observer,obs.cli,observer,,\r\n")
        p = run("user", "import", "--db", db, good)
        self.assertIn("created 2 accounts", p.stdout)
        self.assertRegex(p.stdout, r"km\.two\s+delegate\s+KM\s+password: \S{16,}")
        users = {u["username"]: u for u in json.loads(run("user", "list", "--db", db, "--json").stdout)}
        self.assertEqual(users["km.two"]["display_name"], "Délégué, deux")
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("SELECT language, must_change_password FROM users WHERE username = 'km.two'")
                         .fetchone(), ("fr", 1))
        con.close()
        self.assertIn("obs.cli", users)
        p = run("user", "import", "--db", db, self.tmp("missing.csv"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot read", p.stderr)


if __name__ == "__main__":
    main()
