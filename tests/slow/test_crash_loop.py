"""Nothing acknowledged is ever lost: delegates submit positions while the server is killed
(SIGKILL) twenty times at random moments. Every action that was answered 200 is in the
record afterwards, exactly as sent, in the positions' history and in the audit log; the
database passes SQLite's integrity check and `gavel audit verify`."""
import datetime
import os
import random
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import GavelTest, Server, main, make_demo_db, run, scaled  # noqa: E402

KILLS = int(os.environ.get("GAVEL_CRASH_KILLS", "20"))
STANCES = ["support", "support_with_reservations", "oppose", "abstain"]


class CrashLoopTest(GavelTest):
    def test_acknowledged_actions_survive_twenty_kills(self):
        db = make_demo_db(self.tmp)
        srv = self.server(db)
        sec = srv.login("secretariat")
        deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        items = []
        for i in range(8):
            st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                                   {"workflow": "consultation", "title": f"Crash {i}",
                                    "params": {"question": "Q?", "deadline": deadline}}, sec)
            self.assertEqual(st, 201)
            items.append(b["item"]["id"])
        tokens = {m: srv.login(f"{m.lower()}.delegate") for m in ("KM", "MG", "MU", "RE", "SC")}
        srv.stop()
        self.servers.remove(srv)

        acked = []          # (event_id, item, member, stance, statement)
        lock = threading.Lock()
        rng = random.Random(7)
        counter = [0]

        def client(member, server, stop):
            while not stop.is_set():
                item = rng.choice(items)
                with lock:
                    counter[0] += 1
                    n = counter[0]
                stance, statement = rng.choice(STANCES), f"{member} statement {n}"
                try:
                    st, _, b = server.request("POST", f"/v1/items/{item}/actions/submit_position",
                                              {"params": {"stance": stance, "statement": statement}},
                                              tokens[member], timeout=scaled(10))
                except OSError:
                    return  # the server is gone: this one was never answered
                if st == 200:
                    with lock:
                        acked.append((b["receipt"]["event_id"], item, member, stance, statement))

        for _ in range(KILLS):
            server = Server(db, test_clock=False).start()
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(m, server, stop)) for m in tokens]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 1.2))
            server.kill()
            stop.set()
            for t in threads:
                t.join(scaled(30))

        self.assertGreater(len(acked), 50, "the clients got answers between the kills")
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        rows = {r[0]: r[1:] for r in con.execute(
            "SELECT e.id, e.item_id, e.member, p.stance, p.statement FROM events e"
            " JOIN positions p ON p.event_id = e.id WHERE e.action = 'submit_position'")}
        con.close()
        lost = [a for a in acked if rows.get(a[0]) != a[1:]]
        self.assertEqual(lost, [], f"{len(lost)} of {len(acked)} acknowledged actions are missing or changed")

        # The audit log took every one of them, and still verifies.
        srv = self.server(db)
        st, _, _ = srv.request("GET", "/v1/audit/checkpoint", token=srv.login("observer"))
        self.assertEqual(st, 200)
        srv.stop()
        out = run("audit", "verify", "--db", db).stdout
        self.assertRegex(out, r"^ok: \d+ entries")
        con = sqlite3.connect(db)
        missing = con.execute("SELECT count(*) FROM events WHERE id NOT IN (SELECT event_id FROM audit_leaves)").fetchone()[0]
        con.close()
        self.assertEqual(missing, 0)


if __name__ == "__main__":
    main()
