"""Group commit: concurrent actions share transactions, each answered after its own commit;
a failing action does not fail the others."""
import datetime
import http.client
import json
import re
import threading

from harness import GavelTest, main, make_demo_db, scaled


class GroupCommitTest(GavelTest):
    def test_concurrent_clients(self):
        srv = self.server(make_demo_db(self.tmp))
        sec = srv.login("secretariat")
        deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        items = []
        for i in range(40):
            st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                                   {"workflow": "consultation", "title": f"Q{i}", "params": {"question": "Q?", "deadline": deadline}}, sec)
            self.assertEqual(st, 201)
            items.append(b["item"]["id"])
        tokens = {m: srv.login(m + ".delegate") for m in ["km", "mg", "mu", "re", "sc"]}
        results = []
        lock = threading.Lock()
        start = threading.Barrier(25)

        def worker(w):
            member = ["km", "mg", "mu", "re", "sc"][w % 5]
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=scaled(60))
            start.wait()
            for k in range(w, len(items), 5):
                stance = "not_a_stance" if k % 10 == 3 else "support"
                conn.request("POST", f"/v1/items/{items[k]}/actions/submit_position",
                             json.dumps({"params": {"stance": stance}}),
                             {"Authorization": "Bearer " + tokens[member], "Content-Type": "application/json"})
                r = conn.getresponse()
                body = json.loads(r.read())
                with lock:
                    results.append((items[k], member.upper(), stance, r.status, body))
            conn.close()

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(25)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r for r in results if r[2] == "support"]
        bad = [r for r in results if r[2] != "support"]
        self.assertTrue(ok and bad)
        self.assertTrue(all(r[3] == 200 for r in ok), [r for r in ok if r[3] != 200][:3])
        self.assertTrue(all(r[3] == 422 for r in bad))
        # Everything acknowledged is there; nothing refused is.
        for item, member, stance, status, body in ok:
            self.assertIn(member, body["item"]["summary"]["answered"], "the answer shows the committed position")
        for item in items:
            pos = srv.request("GET", f"/v1/items/{item}/positions", token=sec)[2]["positions"]
            want = sorted({r[1] for r in ok if r[0] == item})
            self.assertEqual(sorted(p["member"] for p in pos), want, f"item {item}")
        # Receipts are unique events.
        ids = [r[4]["receipt"]["event_id"] for r in ok]
        self.assertEqual(len(ids), len(set(ids)))
        # The transactions held more than one action each on average.
        metrics = srv.request("GET", "/metrics")[2].decode()
        count = int(re.search(r"^gavel_commit_batch_size_count (\d+)$", metrics, re.M).group(1))
        total = int(re.search(r"^gavel_commit_batch_size_sum (\d+)$", metrics, re.M).group(1))
        self.assertGreater(total, count, f"{total} actions in {count} commits: no batching happened")


if __name__ == "__main__":
    main()
