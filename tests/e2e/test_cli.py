"""The gavel command line end to end: init, users, meetings, backup, usage errors."""
import json
import os
import sqlite3
import stat
import subprocess

from harness import BINARY, DEMO_PASSWORD, GavelTest, main, make_demo_db, run


class CliTest(GavelTest):
    def test_version_and_help(self):
        p = run("--version")
        self.assertRegex(p.stdout, r"^gavel \d+\.\d+\.\d+\n$")
        p = run("--help")
        for cmd in ("init", "user add", "meeting add", "backup", "incidents"):
            self.assertIn(cmd, p.stdout)
        for cmd in (["init"], ["user", "add"], ["user", "list"], ["user", "disable"], ["user", "passwd"],
                    ["meeting", "add"], ["meeting", "list"], ["backup"], ["incidents"]):
            p = run(*cmd, "--help")
            self.assertIn("usage: gavel " + " ".join(cmd), p.stdout)

    def test_wrong_option_one_line_and_usage(self):
        p = run("user", "list", "--bogus", check=False)
        self.assertEqual(p.returncode, 2)
        lines = p.stderr.strip().split("\n")
        self.assertEqual(lines[0], "gavel user list: unknown option --bogus")
        self.assertTrue(lines[1].startswith("usage: gavel user list"))
        p = run("init", "--db", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("option --db needs a value", p.stderr)
        p = run("frobnicate", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", p.stderr)
        p = run("user", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("gavel user add", p.stderr)

    def test_init_demo(self):
        db = self.tmp("g.db")
        p = run("init", "--db", db, "--forum", "midiocc", "--demo")
        self.assertIn("forum midiocc (MiDIOCC), 5 members, time zone Indian/Mauritius", p.stdout)
        logins = {}
        for line in p.stdout.splitlines():
            parts = line.split()
            if "password:" in parts:
                logins[parts[0]] = parts[-1]
        self.assertEqual(sorted(logins), sorted(["secretariat", "chair", "observer", "km.delegate", "mg.delegate",
                                                 "mu.delegate", "re.delegate", "sc.delegate"]))
        self.assertEqual(len(set(logins.values())), 8, "each demo user gets its own password")
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o600)
        users = json.loads(run("user", "list", "--db", db, "--json").stdout)
        by_name = {u["username"]: u for u in users}
        self.assertEqual(by_name["chair"]["role"], "chair")
        self.assertEqual(by_name["mg.delegate"]["member"], "MG")
        self.assertIsNone(by_name["observer"]["member"])
        # A second run changes nothing and prints no passwords.
        p = run("init", "--db", db, "--forum", "midiocc", "--demo")
        self.assertNotIn("password:", p.stdout)
        self.assertEqual(len(json.loads(run("user", "list", "--db", db, "--json").stdout)), 8)
        # The passwords work (checked through the stored hash format).
        con = sqlite3.connect(db)
        h = con.execute("SELECT password_hash FROM users WHERE username='km.delegate'").fetchone()[0]
        self.assertTrue(h.startswith("pbkdf2-sha256$600000$"))
        con.close()

    def test_init_sample_content(self):
        db = self.tmp("s.db")
        p = run("init", "--db", db, "--forum", "midiocc", "--demo", "--sample", "--demo-password", DEMO_PASSWORD)
        self.assertIn("demo content", p.stdout)
        con = sqlite3.connect(db)
        states = dict(con.execute("SELECT workflow, state FROM items").fetchall())
        con.close()
        self.assertEqual(states, {"agenda_item": "scheduled", "draft": "circulating", "consultation": "open",
                                  "decision": "under_silence"})
        self.assertEqual(run("init", "--db", self.tmp("t.db"), "--forum", "midiocc", "--sample", check=False).returncode, 2)

    def test_init_unknown_forum_and_bad_file(self):
        p = run("init", "--db", self.tmp("x.db"), "--forum", "nosuch", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no forum 'nosuch'", p.stderr)
        bad = self.tmp("bad.lua")
        with open(bad, "w") as f:
            f.write('forum "bad" {\n  name = "Bad",\n  languages = { "en" },\n  time_zone = "Mars/Olympus",\n'
                    '  members = { member "AA" "A" },\n}\n')
        p = run("init", "--db", self.tmp("y.db"), "--forum-file", bad, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.strip(), bad + ":4: time_zone 'Mars/Olympus' is not a known time zone "
                         "(use an IANA name such as \"Indian/Mauritius\")")
        self.assertFalse(os.path.exists(self.tmp("y.db")))

    def test_users(self):
        db = make_demo_db(self.tmp)
        p = run("user", "add", "--db", db, "km.second", "--role", "delegate", "--member", "KM", "--name", "Second KM")
        self.assertIn("created km.second (delegate, KM)", p.stdout)
        self.assertRegex(p.stdout, r"password: \S{16,}")
        p = run("user", "add", "--db", db, "km.second", "--role", "observer", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already taken", p.stderr)
        p = run("user", "add", "--db", db, "zz", "--role", "delegate", "--member", "ZZ", check=False)
        self.assertIn("'ZZ' is not a member of MiDIOCC", p.stderr)
        p = run("user", "add", "--db", db, "zz", "--role", "delegate", check=False)
        self.assertIn("a delegate must be bound to a member state", p.stderr)
        p = run("user", "add", "--db", db, "zz", "--role", "king", check=False)
        self.assertIn("unknown role 'king'", p.stderr)
        p = run("user", "add", "--db", db, "Bad Name", "--role", "observer", check=False)
        self.assertIn("must be 2 to 63 lowercase letters", p.stderr)
        p = run("user", "add", "--db", db, "obs2", "--role", "observer", "--password-stdin", input="short\n", check=False)
        self.assertIn("at least 8 characters", p.stderr)
        run("user", "add", "--db", db, "obs2", "--role", "observer", "--password-stdin", input="a-long-password\n")
        out = run("user", "list", "--db", db, "--member", "KM").stdout
        self.assertIn("km.delegate", out)
        self.assertIn("km.second", out)
        self.assertNotIn("mg.delegate", out)
        run("user", "disable", "--db", db, "km.second")
        users = {u["username"]: u for u in json.loads(run("user", "list", "--db", db, "--json").stdout)}
        self.assertTrue(users["km.second"]["disabled"])
        p = run("user", "passwd", "--db", db, "mu.delegate")
        self.assertIn("password of mu.delegate reset", p.stdout)
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("SELECT must_change_password FROM users WHERE username='mu.delegate'").fetchone()[0], 1)
        # Every accreditation change is in the record, and KM's delegates are told.
        actions = [r[0] for r in con.execute("SELECT action FROM events WHERE kind='account' ORDER BY id")]
        self.assertEqual(actions[-4:], ["account.created", "account.created", "account.disabled", "account.password_reset"])
        notices = con.execute("SELECT audience FROM outbox WHERE topic='account.added_to_member' "
                              "AND payload LIKE '%km.second%'").fetchall()
        self.assertEqual(len(notices), 1)
        self.assertEqual(json.loads(notices[0][0])["members"], ["KM"])
        con.close()
        p = run("user", "set", "--db", db, "km.second", "--member", "MG")
        self.assertIn("km.second is now delegate of MG", p.stdout)
        p = run("user", "set", "--db", db, "km.second", "--member", "XX", check=False)
        self.assertIn("'XX' is not a member", p.stderr)
        p = run("user", "set", "--db", db, "obs2", "--role", "chair")
        self.assertIn("obs2 is now chair", p.stdout)
        con = sqlite3.connect(db)
        changed = con.execute("SELECT params FROM events WHERE action = 'account.role_changed' ORDER BY id").fetchall()
        con.close()
        self.assertEqual(json.loads(changed[0][0])["old_member"], "KM")
        self.assertEqual(json.loads(changed[0][0])["member"], "MG")
        p = run("user", "disable", "--db", db, "nobody", check=False)
        self.assertIn("no user 'nobody'", p.stderr)

    def test_meetings(self):
        db = make_demo_db(self.tmp)
        p = run("meeting", "add", "--db", db, "--title", "Third meeting", "--title-fr", "Troisième réunion",
                "--place", "Victoria, Seychelles", "--start", "2026-12-10", "--end", "2026-12-11")
        self.assertIn("meeting 1: Third meeting, Victoria, Seychelles, 2026-12-10 to 2026-12-11", p.stdout)
        out = run("meeting", "list", "--db", db).stdout
        self.assertIn("2026-12-10 2026-12-11 Victoria, Seychelles", out)
        p = run("meeting", "add", "--db", db, "--title", "X", "--place", "Y", "--start", "2026-13-01", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("dates must be YYYY-MM-DD", p.stderr)
        p = run("meeting", "add", "--db", db, "--title", "X", "--place", "Y", "--start", "2026-12-10",
                "--end", "2026-12-01", check=False)
        self.assertIn("--end is before --start", p.stderr)

    def test_backup_while_writing(self):
        db = make_demo_db(self.tmp)
        # Hold a write transaction open in another process while the backup runs.
        writer = subprocess.Popen(["/usr/bin/python3", "-c",
                                   "import sqlite3,sys,time\n"
                                   "c=sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                                   "c.execute('BEGIN IMMEDIATE')\n"
                                   "c.execute(\"UPDATE users SET display_name='changed' WHERE username='chair'\")\n"
                                   "print('ready', flush=True)\n"
                                   "time.sleep(3)\n"
                                   "c.execute('ROLLBACK')\n", db], stdout=subprocess.PIPE, text=True)
        self.assertEqual(writer.stdout.readline().strip(), "ready")
        out = self.tmp("backup.db")
        run("backup", "--db", db, out)
        writer.wait()
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        con = sqlite3.connect(out)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(con.execute("SELECT count(*) FROM users").fetchone()[0], 8)
        self.assertEqual(con.execute("SELECT display_name FROM users WHERE username='chair'").fetchone()[0], "Acting chair")
        con.close()
        p = run("backup", "--db", db, out, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already exists", p.stderr)
        # The copy is a working Gavel database.
        self.assertIn("km.delegate", run("user", "list", "--db", out).stdout)

    def test_record(self):
        db = make_demo_db(self.tmp)
        run("meeting", "add", "--db", db, "--title", "Third <meeting>", "--title-fr", "Troisième réunion",
            "--place", "Moroni", "--start", "2026-12-10")
        md = run("record", "--db", db, "--meeting", "1").stdout
        self.assertIn("# Conclusions et recommandations — Troisième réunion", md)
        self.assertIn("# Conclusions and Recommendations — Third <meeting>", md)
        html = run("record", "--db", db, "--meeting", "1", "--format", "html").stdout
        self.assertIn("Third &lt;meeting&gt;", html)
        self.assertNotIn("<meeting>", html)
        data = json.loads(run("record", "--db", db, "--meeting", "1", "--format", "json").stdout)
        self.assertEqual(data["meeting"]["place"], "Moroni")
        self.assertEqual(data["decisions"], [])
        p = run("record", "--db", db, "--meeting", "9", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no meeting", p.stderr)
        p = run("record", "--db", db, "--meeting", "1", "--format", "pdf", check=False)
        self.assertEqual(p.returncode, 2)

    def test_incidents(self):
        db = make_demo_db(self.tmp)
        self.assertEqual(run("incidents", "--db", db).stdout.strip(), "no incidents")
        # A workflow whose action fails at run time: the failure is listed for the secretariat.
        wf = self.tmp("workflows")
        os.mkdir(wf)
        with open(os.path.join(wf, "broken.lua"), "w") as f:
            f.write('workflow "broken" {\n  states = { "open" },\n'
                    '  create { by = "secretariat", to = "open", run = function(item) error("boom") end },\n}\n')
        from harness import Server
        srv = Server(db, "--workflows", wf).start()
        try:
            st, _, b = srv.request("POST", "/v1/forums/midiocc/items", {"workflow": "broken", "title": "x"},
                                   srv.login("secretariat"))
            self.assertEqual(st, 500)
            self.assertEqual(b["error"]["code"], "workflow_error")
        finally:
            srv.stop()
        out = run("incidents", "--db", db).stdout
        self.assertIn("script_error", out)
        self.assertIn("broken/create", out)
        self.assertIn("broken.lua:3: boom", out)
        listed = json.loads(run("incidents", "--db", db, "--json").stdout)
        self.assertEqual(listed[0]["kind"], "script_error")

    def test_missing_database(self):
        p = run("user", "list", "--db", self.tmp("none.db"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no database at", p.stderr)
        self.assertFalse(os.path.exists(self.tmp("none.db")))


if __name__ == "__main__":
    main()
