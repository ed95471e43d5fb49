"""A plugin built outside the tree as a shared object, against include/gavel/plugin.h alone,
loaded by the real server from gavel.conf.lua: every entry of the plugin API, seen from
outside (HTTP, the command line, the database)."""
import base64
import hashlib
import hmac
import os
import re
import shutil
import sqlite3
import subprocess

from harness import GavelTest, SOURCE, make_demo_db, run, main

CC = os.environ.get("CC", "cc")
EXAMPLE = os.path.join(SOURCE, "tests", "plugin", "example.c")

DOUBLED = '''workflow "doubled" {
  title = { en = "Doubled", fr = "Doublé" },
  states = { "noted" },
  create {
    by = "secretariat",
    params = { n = integer { default = 21 } },
    to = "noted",
    run = function(item, p)
      item.data.doubled = gavel.call("example.double", p.n)
    end,
  },
}
'''


def api_functions():
    """The functions include/gavel/plugin.h declares, with errors.h, which it includes."""
    names = set()
    for header in ("plugin.h", "errors.h"):
        with open(os.path.join(SOURCE, "include", "gavel", header), encoding="utf-8") as f:
            text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        names |= set(re.findall(r"^[a-z][\w \*]*?\b(gv_\w+)\s*\(", text, re.M))
    return names


class SharedObjectPlugin(GavelTest):
    def build(self, name="example.so", *defines):
        """cc with include/ alone on the include path: no core/ header can be reached."""
        out = self.tmp(name)
        subprocess.run([CC, "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Werror", "-shared", "-fPIC", *defines, "-I", os.path.join(SOURCE, "include"), EXAMPLE,
                        "-o", out], check=True, capture_output=True, text=True)
        return out

    def config(self, so, extra=""):
        path = self.tmp("gavel.conf.lua")
        with open(path, "w") as f:
            f.write('plugins = { example = { path = "%s", greeting = "bonjour" }%s }\n' % (so, extra))
        return path

    def test_every_entry_of_the_api(self):
        so = self.build()
        # The plugin calls every function of the header, and nothing of the host but them.
        undefined = subprocess.run(["nm", "-D", "--undefined-only", so], capture_output=True, text=True,
                                   check=True).stdout.split()
        self.assertEqual(api_functions() - set(undefined), set(), "functions of the API the plugin does not use")
        wf = self.tmp("workflows")
        shutil.copytree(os.path.join(SOURCE, "workflows"), wf)
        with open(os.path.join(wf, "doubled.lua"), "w") as f:
            f.write(DOUBLED)
        db = make_demo_db(self.tmp)
        cfg = self.config(so)
        srv = self.server(db, "--config", cfg, "--workflows", wf)
        sec = srv.login("secretariat")

        # A workflow function, an event hook writing the plugin's table, a receipt field.
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", {"workflow": "doubled", "title": "D",
                                                                      "params": {"n": 21}}, sec)
        self.assertEqual(st, 201, b)
        self.assertEqual(b["item"]["data"]["doubled"], 42)
        self.assertEqual(b["receipt"]["example_event"], b["receipt"]["event_id"])
        self.assertIn("audit_index", b["receipt"], "the built-in plugins run beside it")
        item = b["item"]["id"]

        # A public route with its own headers, reading its tables and every helper.
        st, h, s = srv.request("GET", "/v1/example/state")
        self.assertEqual(st, 200, s)
        self.assertEqual(h["x-example"], "yes")
        self.assertEqual(s["greeting"], "bonjour")
        self.assertGreaterEqual(s["seen"], 2)   # the login and the creation, at least
        self.assertTrue(s["digests"])
        self.assertGreaterEqual(s["commits"], 1)
        self.assertTrue(s["serving"])
        self.assertEqual(s["forum"], "midiocc")
        self.assertEqual(s["forum_name"], "MiDIOCC")
        self.assertEqual(s["member_name"], "Maurice")
        self.assertEqual(s["time_zone"], "Indian/Mauritius")
        self.assertTrue(s["now"])
        self.assertEqual(s["for_command"], 0)
        self.assertEqual(s["hmac"], hmac.new(b"key", b"abc", hashlib.sha256).hexdigest())
        self.assertEqual(s["sha256"], hashlib.sha256(b"abc").hexdigest())
        self.assertTrue(s["signed"])
        self.assertTrue(s["random"])
        self.assertEqual(s["base64"], base64.b64encode(b"hello").decode())
        self.assertEqual(s["unbase64"], "hello")
        self.assertEqual(s["clock_format"], "1970-01-02T00:00:00.000Z")
        self.assertEqual(s["clock_parse"], 86400000)
        self.assertEqual(s["duration"], 14 * 86400000)
        self.assertEqual(s["local"], "04:00")
        self.assertTrue(s["real_ms"])
        self.assertTrue(s["str"])
        # Version 3: the event hook got the rows each event wrote, with a matching state digest,
        # and the item's row as the creation left it is the one the database holds.
        self.assertGreater(s["state_rows"], 0)
        self.assertGreater(s["workflow_versions"], 3, "every stored workflow version, with its source")
        self.assertTrue(s["forum_definition"])
        self.assertGreaterEqual(s["items_matched"], 1)
        self.assertTrue(s["state_digests_ok"])

        # Version 5: a request's body, and an event as an observer sees it.
        st, _, e = srv.request("POST", f"/v1/example/echo?event={b['receipt']['event_id']}", {"x": [1, 2]}, sec)
        self.assertEqual(st, 200, e)
        self.assertEqual((e["body"], e["body_len"]), ({"x": [1, 2]}, len('{"x": [1, 2]}')))
        self.assertEqual((e["event"]["id"], e["event"]["kind"], e["event"]["item_id"]),
                         (b["receipt"]["event_id"], "create", item))
        st, _, e = srv.request("POST", "/v1/example/echo?event=999999", {}, sec)
        self.assertEqual(st, 404, e)

        # A second reply to one request is refused (and logged); the first one stands.
        st, _, body = srv.request("GET", "/v1/example/twice/hello")
        self.assertEqual((st, body), (200, b"hello"))
        st, _, s = srv.request("GET", "/v1/example/state")
        self.assertEqual(s["second_reply"], "wrong_state")
        self.assertIn('refused="a second reply to a request"', srv.output())

        # A route that needs a caller: who they are, and the item as they see it.
        st, _, b = srv.request("GET", f"/v1/example/items/{item}")
        self.assertEqual(st, 401)
        first = srv.request("GET", f"/v1/items/{item}/events", token=sec)[2]["events"][0]
        st, _, w = srv.request("GET", f"/v1/example/items/{item}?lang=fr&event={first['id']}", token=sec,
                               headers={"X-Agent": "test"})
        self.assertEqual(st, 200, w)
        self.assertEqual(w["event_action"], first["action"])
        self.assertEqual(w["event_state_label"], first.get("state_label", first["to_state"]))
        self.assertTrue(w["notify_refused"])
        self.assertEqual((w["username"], w["role"], w["agent"]), ("secretariat", "secretariat", "test"))
        self.assertEqual((w["title"], w["workflow"], w["state_label"]), ("D", "doubled", "noted"))
        self.assertGreaterEqual(w["secretariat"], 1)
        self.assertEqual(w["user1"], "secretariat")
        self.assertFalse(w["answered"])
        st, _, e = srv.request("GET", "/v1/example/items/999999", token=sec)
        self.assertEqual((st, e["error"]["code"], e["error"]["field"]), (404, "not_found", "item"))
        # Version 4: the plugin's own line in /metrics.
        st, _, page = srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        commits = re.search(r"^gavel_example_commits_total (\d+)$", page.decode(), re.M)
        self.assertTrue(commits and int(commits.group(1)) >= 1, "the plugin's metric is served")
        self.assertIn("# TYPE gavel_example_commits_total counter", page.decode())
        srv.stop()
        self.assertIn("example.committed", srv.output())
        self.assertIn('example.ready message="bonjour"', srv.output())

        # A command, in a transaction of its own, on the database the server wrote.
        p = run("example", "note", "--db", db, "--config", cfg, "a note")
        self.assertIn("notes=1", p.stdout)
        self.assertIn("for_command=1", p.stdout)
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("SELECT text FROM example_notes").fetchall(), [("a note",)])
        seen = con.execute("SELECT count(*) FROM example_seen").fetchone()[0]
        con.close()
        self.assertIn(f"seen={seen}", p.stdout)

    def test_refused_plugins(self):
        db = make_demo_db(self.tmp)
        # Built for a newer host: refused before any of its code runs.
        newer = self.build("newer.so", "-DEXAMPLE_API_VERSION=99")
        p = run("serve", "--db", db, "--listen", "127.0.0.1:0", "--config", self.config(newer), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("needs plugin API 99", p.stderr)
        # A path that is no plugin, and a plugin under another name.
        p = run("serve", "--db", db, "--listen", "127.0.0.1:0", "--config", self.config(self.tmp("none.so")), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot load", p.stderr)
        so = self.build()
        path = self.tmp("gavel.conf.lua")
        with open(path, "w") as f:
            f.write('plugins = { other = { path = "%s" } }\n' % so)
        p = run("serve", "--db", db, "--listen", "127.0.0.1:0", "--config", path, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("is the plugin 'example'", p.stderr)


if __name__ == "__main__":
    main()
