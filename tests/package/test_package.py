"""The Debian package as an operator meets it: built with scripts/package, checked with
lintian, installed with dpkg (twice, keeping a changed conffile), the installed binary
started as the gavel user with the installed configuration, the unit verified, then
purged. Changes the machine (a package, a system user): it runs only as root and only
when GAVEL_PACKAGE_TEST=1 (scripts/test sets it), and cleans up even when it fails."""
import fcntl
import grp
import http.client
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE = os.environ.get("GAVEL_SOURCE_DIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PACKAGE_DIR = os.environ.get("GAVEL_PACKAGE_DIR", os.path.join(SOURCE, "build", "package"))
CONF = "/etc/gavel/gavel.conf.lua"
UNIT = "/lib/systemd/system/gavel.service"
STATE = "/var/lib/gavel"
SKIP = 77
# Present while this test has the package installed: a run killed half-way (a timeout)
# leaves it, and the next run then knows the installed package is its own to purge.
MARKER = "/var/lib/gavel-package-test.installed"


def sh(*args, check=True, env=None, timeout=600):
    p = subprocess.run(list(args), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       env=env, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def installed(name):
    p = sh("dpkg-query", "-W", "-f=${Status}", name, check=False)
    return p.returncode == 0 and "install ok installed" in p.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.had_user = user_exists("gavel")
        cls.had_state = os.path.exists(STATE)
        cls.tmp = tempfile.mkdtemp(prefix="gavel-package-")
        cls.deb = None

    @classmethod
    def tearDownClass(cls):
        # Whatever happened: no package, no test database, no user the test created.
        sh("dpkg", "--purge", "gavel", check=False)
        if os.path.exists(MARKER):
            os.unlink(MARKER)
        if not cls.had_state:
            shutil.rmtree(STATE, ignore_errors=True)
        if not cls.had_user and user_exists("gavel"):
            sh("userdel", "gavel", check=False)
            try:
                grp.getgrnam("gavel")
                sh("groupdel", "gavel", check=False)
            except KeyError:
                pass
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_package(self):
        self.build()
        self.lintian()
        self.install()
        self.reinstall_keeps_changed_conffile()
        self.serve_as_gavel_user()
        self.verify_unit()
        self.purge()

    # --- steps ------------------------------------------------------------------------------

    def build(self):
        env = dict(os.environ, GAVEL_PACKAGE_DIR=PACKAGE_DIR)
        p = sh(os.path.join(SOURCE, "scripts", "package"), env=env, timeout=1500)
        type(self).deb = p.stdout.strip().splitlines()[-1]
        self.assertTrue(self.deb.endswith(".deb") and os.path.exists(self.deb), p.stdout + p.stderr)
        self.assertIn("hardening checked", p.stderr)
        listing = sh("dpkg-deb", "-c", self.deb).stdout
        for path in ("./usr/bin/gavel", "./etc/gavel/gavel.conf.lua", "./lib/systemd/system/gavel.service",
                     "./usr/share/gavel/workflows/consultation.lua",
                     "./usr/share/gavel/workflows/forums/midiocc.lua",
                     "./usr/share/man/man1/gavel.1.gz", "./usr/share/man/man5/gavel.conf.lua.5.gz",
                     "./usr/include/gavel/plugin.h", "./usr/include/gavel/errors.h", "./usr/share/pkgconfig/gavel-plugin.pc",
                     "./usr/lib/gavel/plugins/", "./usr/share/doc/gavel/copyright",
                     "./usr/share/doc/gavel/changelog.Debian.gz"):
            self.assertIn(" " + path + "\n", listing + "\n", f"{path} is not in the package")
        conffiles = sh("dpkg-deb", "--info", self.deb, "conffiles").stdout.split()
        self.assertEqual(conffiles, [CONF])

    def lintian(self):
        p = sh("lintian", "--tag-display-limit", "0", self.deb, check=False)
        out = p.stdout + p.stderr
        print("lintian:\n" + out, file=sys.stderr)
        errors = [l for l in out.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], "lintian reports errors")

    def install(self):
        with open(MARKER, "w") as f:
            f.write(f"had_user={int(self.had_user)} had_state={int(self.had_state)}\n")
        sh("dpkg", "-i", self.deb, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        self.assertTrue(os.access("/usr/bin/gavel", os.X_OK))
        user = pwd.getpwnam("gavel")
        self.assertLess(user.pw_uid, 1000, "gavel is not a system user")
        st = os.stat(STATE)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o750)
        self.assertEqual(st.st_uid, user.pw_uid)
        self.assertIn("gavel 0.1.0", sh("/usr/bin/gavel", "--version").stdout)
        if shutil.which("pkg-config"):
            env = dict(os.environ, PKG_CONFIG_ALLOW_SYSTEM_CFLAGS="1")
            self.assertEqual(sh("pkg-config", "--cflags", "gavel-plugin", env=env).stdout.strip(), "-I/usr/include")
            self.assertEqual(sh("pkg-config", "--variable=plugindir", "gavel-plugin").stdout.strip(),
                             "/usr/lib/gavel/plugins")
            self.assertTrue(os.path.isdir("/usr/lib/gavel/plugins"))
        with open(UNIT) as f:
            unit = f.read()
        for line in ("Type=notify", "User=gavel", "ProtectSystem=strict", "ReadWritePaths=/var/lib/gavel",
                     "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec="):
            self.assertIn(line, unit)
        self.assertIn("gavel.conf.lua", sh("man", "-w", "5", "gavel.conf.lua", check=False).stdout
                      or "gavel.conf.lua (man-db absent)")

    def reinstall_keeps_changed_conffile(self):
        with open(CONF, "a") as f:
            f.write('log_level = "warn" -- changed by the operator\n')
        sh("dpkg", "-i", self.deb, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        with open(CONF) as f:
            self.assertIn("changed by the operator", f.read())
        self.assertTrue(os.path.isdir(STATE))

    def serve_as_gavel_user(self):
        db = os.path.join(STATE, "gavel.db")
        p = sh("runuser", "-u", "gavel", "--", "env", "GAVEL_LOG_LEVEL=info",
               "/usr/bin/gavel", "init", "--db", db, "--forum", "midiocc")
        # The installed binary finds the installed workflows, not a build tree.
        self.assertIn("path=/usr/share/gavel/workflows/", p.stderr)
        self.assertEqual(os.stat(db).st_uid, pwd.getpwnam("gavel").pw_uid)

        # A notify socket stands in for systemd: readiness, watchdog and stop must reach it.
        os.chmod(self.tmp, 0o755)
        sock_path = os.path.join(self.tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        os.chmod(sock_path, 0o666)
        sock.settimeout(1)
        port = free_port()
        log = open(os.path.join(self.tmp, "serve.log"), "w+")
        # setpriv execs the server itself (runuser would stay between, and die of SIGTERM).
        proc = subprocess.Popen(["setpriv", "--reuid=gavel", "--regid=gavel", "--init-groups", "--",
                                 "env", f"NOTIFY_SOCKET={sock_path}",
                                 "WATCHDOG_USEC=400000", "/usr/bin/gavel", "serve", "--config", CONF,
                                 "--listen", f"127.0.0.1:{port}"],
                                cwd=STATE, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            messages = []
            deadline = time.time() + 60
            while time.time() < deadline and not any("WATCHDOG=1" in m for m in messages):
                self.assertIsNone(proc.poll(), "the server exited early")
                try:
                    messages.append(sock.recv(4096).decode())
                except socket.timeout:
                    pass
            self.assertTrue(any("READY=1" in m for m in messages), messages)
            self.assertTrue(any("WATCHDOG=1" in m for m in messages), messages)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            conn.close()
            self.assertEqual(r.status, 200)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0)
            rest = []
            try:
                while True:
                    rest.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
            self.assertTrue(any("STOPPING=1" in m for m in rest), rest)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            sock.close()
            log.seek(0)
            out = log.read()
            log.close()
        # The operator's log_level = "warn" from the kept conffile is in force.
        self.assertNotIn(" info ", out)

    def verify_unit(self):
        if not shutil.which("systemd-analyze"):
            print("systemd-analyze is not installed: the unit is not verified", file=sys.stderr)
            return
        p = sh("systemd-analyze", "verify", UNIT, check=False)
        print(f"systemd-analyze verify {UNIT}: exit {p.returncode}\n{p.stdout}{p.stderr}", file=sys.stderr)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("gavel.service:", p.stderr, p.stderr)

    def purge(self):
        sh("dpkg", "--purge", "gavel")
        self.assertFalse(installed("gavel"))
        for path in ("/usr/bin/gavel", CONF, UNIT, "/usr/share/gavel"):
            self.assertFalse(os.path.exists(path), f"{path} is left after purge")
        # The database is never deleted by the package: it is the forum's record.
        self.assertTrue(os.path.exists(os.path.join(STATE, "gavel.db")))


def main():
    if os.environ.get("GAVEL_PACKAGE_TEST") != "1":
        print("skipped: set GAVEL_PACKAGE_TEST=1 (scripts/test does) to install and purge the package")
        return SKIP
    if os.geteuid() != 0:
        print("skipped: installing a package needs root")
        return SKIP
    for tool in ("dpkg", "dpkg-deb", "lintian", "cpack", "runuser", "setpriv"):
        if not shutil.which(tool):
            print(f"skipped: {tool} is not installed")
            return SKIP
    # One package test at a time on a machine, whichever tree it comes from.
    lock = open("/run/lock/gavel-package-test.lock", "w") if os.path.isdir("/run/lock") else \
        open(os.path.join(tempfile.gettempdir(), "gavel-package-test.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if installed("gavel") and os.path.exists(MARKER):
        # An earlier run was killed with the package installed: undo it as it would have.
        with open(MARKER) as f:
            before = dict(kv.split("=") for kv in f.read().split())
        sh("dpkg", "--purge", "gavel", check=False)
        if before.get("had_state") == "0":
            shutil.rmtree(STATE, ignore_errors=True)
        if before.get("had_user") == "0" and user_exists("gavel"):
            sh("userdel", "gavel", check=False)
            sh("groupdel", "gavel", check=False)
        os.unlink(MARKER)
    if installed("gavel"):
        print("skipped: a gavel package is installed on this machine; the test leaves it alone")
        return SKIP
    result = unittest.main(exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
