"""gavel.conf.lua mistakes end to end: each stops `gavel serve` with exit status 1 and one
line `file:line: message` (never a crash), and GAVEL_CONFIG and GAVEL_DATABASE take their
place between the options and the file."""
import http.client
import os
import re
import subprocess
import time

from harness import BINARY, GavelTest, check_sanitizer, free_port, main, make_demo_db, run, scaled


class ConfigTest(GavelTest):
    def write(self, text, name="gavel.conf.lua"):
        path = self.tmp(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def mistake(self, text, line, message, db=None):
        """Serves with a configuration holding one mistake; returns the one line printed."""
        path = self.write(text if text.startswith("listen") else 'listen = "127.0.0.1:0"\n' + text)
        args = ["serve", "--config", path, "--db", db or self.tmp("none.db")]
        p = run(*args, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertEqual(lines[0], f"{path}:{line}: {message}")
        return lines[0]

    def test_addresses_and_prefix_lengths(self):
        self.mistake('trusted_proxies = { "10.0.0.0/33" }', 2,
                     'trusted_proxies: "10.0.0.0/33" has a bad prefix length: after the / comes a number from 0 to 32')
        self.mistake('metrics = { allow = { "10.0.0.0/99" } }', 2,
                     'metrics.allow: "10.0.0.0/99" has a bad prefix length: after the / comes a number from 0 to 32')
        self.mistake('metrics = {\n  allow = {\n    "::1",\n    "fd00::/129",\n  },\n}', 5,
                     'metrics.allow: "fd00::/129" has a bad prefix length: after the / comes a number from 0 to 128')
        self.mistake('trusted_proxies = { "127.0.0.1",\n  "proxy.local" }', 3,
                     'trusted_proxies: "proxy.local" is not an IP address or network such as "10.0.0.0/8" '
                     'or "fd00::/8" (host names are not looked up)')
        self.mistake('trusted_proxies = { "10.0.0.0/" }', 2,
                     'trusted_proxies: "10.0.0.0/" has a bad prefix length: after the / comes a number from 0 to 32')
        self.mistake('trusted_proxies = { 10 }', 2,
                     'trusted_proxies: entry 1 must be an address in quotes, not a whole number')
        self.mistake('trusted_proxies = "10.0.0.1"', 2,
                     'trusted_proxies must be a list such as { "127.0.0.1" }, not a text')

    def test_log_level(self):
        self.mistake('log_level = "verbose"', 2,
                     'log_level must be "debug", "info", "warn", "error" or "off", not "verbose"')

    def test_wrong_types(self):
        self.mistake('database = 5', 2, "database must be a text in quotes, not a whole number")
        self.mistake('workflows = ""', 2, "workflows must not be empty")
        self.mistake('sessions = "30m"', 2, "sessions must be a table { ... }, not a text")
        self.mistake('sessions = { idle = "soon" }', 2,
                     'idle must be a duration such as "30m" or "12h", not "soon"')
        self.mistake('limits = { body = "big" }', 2, "body must be a whole number from 1024 to 67108864")
        self.mistake('login = { max_failures = 0 }', 2, "max_failures must be a whole number from 1 to 1000")
        self.mistake('listen = "localhost:80"', 1,
                     'listen must be ADDRESS:PORT such as "127.0.0.1:8080" or "[::1]:8080"')
        self.mistake('plugins = "audit"', 2,
                     "plugins must be a table such as { audit = { ... }, email = false }, not a text")

    def test_unknown_settings(self):
        self.mistake('\nlog_levl = "info"', 3,
                     "unknown setting 'log_levl' in the configuration (did you mean 'log_level'?)")
        self.mistake('limits = {\n  batch = 10,\n  bodyy = 2048 }', 4,
                     "unknown setting 'bodyy' in limits (did you mean 'body'?)")

    def test_plugin_settings(self):
        db = make_demo_db(self.tmp)
        self.mistake('plugins = {\n  audit = {\n    colour = "blue",\n  },\n}', 4,
                     "plugins.audit: unknown setting 'colour' (known: key_file)", db=db)
        self.mistake('plugins = {\n  email = { from = "a@example.org",\n            smtp = 25 },\n}', 4,
                     "plugins.email: smtp must be a string", db=db)
        self.mistake('plugins = {\n  web = false,\n  mail = {},\n}', 4,
                     "plugins: no plugin named 'mail' (there are: audit, email, web, webhook)", db=db)

    def test_not_lua(self):
        p = run("serve", "--config", self.write('listen = "127.0.0.1:0"\nlisten = = 1\n'), check=False)
        self.assertEqual(p.returncode, 1)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertRegex(lines[0], r"gavel\.conf\.lua:2: ")

    def serve_until_healthy(self, *args, env=None):
        """Starts serve with args; returns its answer to GET /healthz, then stops it."""
        port = free_port()
        e = dict(os.environ, GAVEL_LOG_LEVEL="warn")
        e.update(env or {})
        proc = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}", *args], env=e,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + scaled(30)
            while time.time() < deadline:
                if proc.poll() is not None:
                    err = proc.communicate()[1]
                    check_sanitizer(err, "gavel serve")
                    return None, err
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(5))
                    conn.request("GET", "/healthz")
                    status = conn.getresponse().status
                    conn.close()
                    return status, ""
                except OSError:
                    time.sleep(0.05)
            return None, "timed out"
        finally:
            if proc.poll() is None:
                proc.terminate()
                check_sanitizer(proc.communicate(timeout=scaled(30))[1], "gavel serve")

    def test_environment_between_options_and_file(self):
        db = make_demo_db(self.tmp)
        conf = self.write(f'database = "{self.tmp("missing-from-file.db")}"\n', "env.conf.lua")
        bad = self.write('log_level = "loud"\n', "bad.conf.lua")
        # GAVEL_CONFIG is read when there is no --config.
        status, err = self.serve_until_healthy(env={"GAVEL_CONFIG": conf})
        self.assertIsNone(status)
        self.assertIn("no database at " + self.tmp("missing-from-file.db"), err)
        # GAVEL_DATABASE wins over the file's database.
        status, err = self.serve_until_healthy(env={"GAVEL_CONFIG": conf, "GAVEL_DATABASE": db})
        self.assertEqual(status, 200, err)
        # --db wins over GAVEL_DATABASE, --config over GAVEL_CONFIG.
        status, err = self.serve_until_healthy("--db", self.tmp("missing-option.db"),
                                               env={"GAVEL_CONFIG": conf, "GAVEL_DATABASE": db})
        self.assertIn("no database at " + self.tmp("missing-option.db"), err)
        status, err = self.serve_until_healthy("--config", conf, "--db", db, env={"GAVEL_CONFIG": bad})
        self.assertEqual(status, 200, err)
        status, err = self.serve_until_healthy("--db", db, env={"GAVEL_CONFIG": bad})
        self.assertIn(f"{bad}:1: log_level", err)
        # Admin commands find the database the same way.
        p = run("user", "list", env={"GAVEL_DATABASE": db})
        self.assertIn("secretariat", p.stdout)
        dbconf = self.write(f'database = "{db}"\n', "db.conf.lua")
        p = run("user", "list", env={"GAVEL_CONFIG": dbconf})
        self.assertIn("secretariat", p.stdout)
        p = run("audit", "verify", env={"GAVEL_CONFIG": dbconf})
        self.assertIn("ok:", p.stdout)
        p = run("backup", self.tmp("copy.db"), env={"GAVEL_CONFIG": dbconf})
        self.assertTrue(os.path.exists(self.tmp("copy.db")))
        p = run("user", "list", env={"GAVEL_CONFIG": conf}, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no database at " + self.tmp("missing-from-file.db"), p.stderr)
        # --config on an admin command wins over GAVEL_CONFIG, as it does for serve.
        p = run("user", "list", "--config", dbconf, env={"GAVEL_CONFIG": conf})
        self.assertIn("secretariat", p.stdout)
        p = run("meeting", "list", "--config", conf, env={"GAVEL_CONFIG": dbconf}, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no database at " + self.tmp("missing-from-file.db"), p.stderr)
        p = run("user", "list", "--help")
        self.assertIn("--config", p.stdout + p.stderr)


if __name__ == "__main__":
    main()
