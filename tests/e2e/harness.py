"""Shared helpers for Gavel's end-to-end tests: the real binary, temporary databases,
a real server on a free port, and HTTP over real sockets."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BINARY = os.environ.get("GAVEL_BINARY", "build/release/gavel")
SOURCE = os.environ.get("GAVEL_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEMO_PASSWORD = "demo-password-1"

# Every wait in the tests is multiplied by this factor: a busy machine or a sanitizer
# build is slower, never differently behaved. ctest sets it per build (larger under the
# sanitizers); a run by hand may set it too.
TIMEOUT_SCALE = max(1.0, float(os.environ.get("GAVEL_TEST_TIMEOUT_SCALE", "1") or "1"))


def scaled(seconds):
    """A wait of `seconds` on a quiet machine, stretched by GAVEL_TEST_TIMEOUT_SCALE."""
    return seconds * TIMEOUT_SCALE


def wait_until(condition, timeout=20, every=0.05):
    """Polls condition() until it returns something true (which is returned) or the scaled
    timeout passes (then the last falsy value is returned)."""
    end = time.monotonic() + scaled(timeout)
    while True:
        got = condition()
        if got or time.monotonic() >= end:
            return got
        time.sleep(every)

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


def check_sanitizer(text, what):
    for marker in SANITIZER_MARKERS:
        if marker in text:
            raise AssertionError(f"sanitizer report from {what}:\n{text[-4000:]}")


def run(*args, input=None, check=True, env=None):
    """Runs the gavel binary; returns CompletedProcess with text output."""
    e = dict(os.environ)
    e.setdefault("GAVEL_LOG_LEVEL", "warn")
    if env:
        e.update(env)
    p = subprocess.run([BINARY, *args], input=input, capture_output=True, text=True, env=e, timeout=scaled(300))
    check_sanitizer(p.stderr, "gavel " + " ".join(args))
    if check and p.returncode != 0:
        raise AssertionError(f"gavel {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="gavel-e2e-")

    def __call__(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


_TEMPLATE = None


def make_demo_db(tmp, name="g.db"):
    """A fresh demo database. The first one is made with `gavel init --demo` (eight
    password hashes); later ones in the same process are copies of it."""
    global _TEMPLATE
    if _TEMPLATE is None or not os.path.exists(_TEMPLATE):
        _TEMPLATE = os.path.join(tempfile.mkdtemp(prefix="gavel-template-"), "demo.db")
        run("init", "--db", _TEMPLATE, "--forum", "midiocc", "--demo", "--demo-password", DEMO_PASSWORD)
    db = tmp(name)
    shutil.copyfile(_TEMPLATE, db)
    os.chmod(db, 0o600)
    return db


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The real gavel server on a free loopback port."""

    def __init__(self, db, *extra, test_clock=True, env=None):
        self.db = db
        self.port = free_port()
        self.extra = list(extra)
        self.test_clock = test_clock
        self.env = env
        self.proc = None
        self.log_path = db + ".server.log"

    def start(self):
        args = [BINARY, "serve", "--db", self.db, "--listen", f"127.0.0.1:{self.port}", *self.extra]
        if self.test_clock:
            args.append("--test-clock")
        e = dict(os.environ)
        e.setdefault("GAVEL_LOG_LEVEL", "info")
        if self.env:
            e.update(self.env)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=e)
        deadline = time.monotonic() + scaled(30)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not start:\n" + self.output())

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server with sig, waiting up to the scaled timeout; returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=scaled(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop on " + str(sig) + ":\n" + self.output()[-3000:])
        self.log.close()
        rc = self.proc.returncode
        self.proc = None
        check_sanitizer(self.output(), "the server")
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    # --- HTTP -------------------------------------------------------------------------

    def request(self, method, path, body=None, token=None, headers=None, raw=None, timeout=30):
        """Sends one request on a new connection; returns (status, headers, parsed body).
        timeout is in quiet-machine seconds (scaled)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))
        h = {}
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        ctype = r.getheader("Content-Type", "")
        parsed = payload
        if "json" in ctype and payload:
            parsed = json.loads(payload)
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed

    def login(self, username, password=DEMO_PASSWORD):
        st, _, body = self.request("POST", "/v1/login", {"username": username, "password": password})
        if st != 200:
            raise AssertionError(f"login {username}: {st} {body}")
        return body["token"]


class GavelTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.tmp.cleanup()

    def server(self, db, *extra, **kw):
        s = Server(db, *extra, **kw).start()
        self.servers.append(s)
        return s


def main():
    unittest.main(verbosity=2)
