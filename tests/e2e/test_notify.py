"""systemd's notify protocol, with a socket standing in for systemd: the server says it is
ready once it serves, feeds the watchdog, says when it reloads (SIGHUP) and stops."""
import os
import signal
import socket
import time
import unittest

from harness import GavelTest, main, make_demo_db


def built_with_systemd():
    cache = os.path.join(os.environ.get("GAVEL_BUILD_DIR", "build/release"), "CMakeCache.txt")
    try:
        with open(cache) as f:
            return "SYSTEMD_FOUND:INTERNAL=1" in f.read()
    except OSError:
        return False


@unittest.skipUnless(built_with_systemd(), "built without libsystemd")
class NotifyTest(GavelTest):
    def receive_until(self, sock, wanted, seconds=30):
        got = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                continue
            if wanted in got[-1]:
                return got
        raise AssertionError(f"no {wanted!r} among {got}")

    def test_ready_watchdog_reload_stop(self):
        db = make_demo_db(self.tmp)
        path = self.tmp("notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.5)
        try:
            srv = self.server(db, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"})
            got = self.receive_until(sock, "READY=1")
            self.assertIn("STATUS=serving", got[-1])
            self.assertIn(f"MAINPID={srv.proc.pid}", got[-1])
            # Fed at half the interval, for as long as the server runs.
            for _ in range(3):
                self.receive_until(sock, "WATCHDOG=1")
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)
            srv.proc.send_signal(signal.SIGHUP)
            self.receive_until(sock, "RELOADING=1")
            self.receive_until(sock, "READY=1")
            srv.proc.send_signal(signal.SIGTERM)
            self.receive_until(sock, "STOPPING=1")
            self.assertEqual(srv.proc.wait(timeout=60), 0)
            srv.stop()
        finally:
            sock.close()

    def test_no_watchdog_unless_asked(self):
        db = make_demo_db(self.tmp)
        path = self.tmp("notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.5)
        try:
            srv = self.server(db, env={"NOTIFY_SOCKET": path})
            self.receive_until(sock, "READY=1")
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)
            srv.proc.send_signal(signal.SIGTERM)
            got = self.receive_until(sock, "STOPPING=1")
            self.assertFalse(any("WATCHDOG=1" in m for m in got), got)
            self.assertEqual(srv.proc.wait(timeout=60), 0)
            srv.stop()
        finally:
            sock.close()


if __name__ == "__main__":
    main()
