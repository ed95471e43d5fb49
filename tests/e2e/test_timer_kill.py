"""Durable timers survive a crash: the server is SIGKILLed between setting a deadline and
its due time, restarted after it, and the deadline fires exactly once."""
import datetime
import signal
import sqlite3
import time

from harness import GavelTest, Server, main, make_demo_db, scaled, wait_until


class TimerKillTest(GavelTest):
    def test_deadline_fires_once_after_a_crash(self):
        db = make_demo_db(self.tmp)
        srv = Server(db, test_clock=False).start()
        sec = srv.login("secretariat")
        km = srv.login("km.delegate")
        # A real deadline four seconds away (wall clock, no test clock; longer on a slow
        # build, so that the item is made and answered before it).
        now = datetime.datetime.now(datetime.timezone.utc)
        deadline = (now + datetime.timedelta(seconds=scaled(4))).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                               {"workflow": "consultation", "title": "Short", "params": {"question": "Q?", "deadline": deadline}}, sec)
        self.assertEqual(st, 201)
        item = b["item"]["id"]
        self.assertEqual(srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                                     {"params": {"stance": "support"}}, km)[0], 200)
        srv.stop(signal.SIGKILL)                       # crash before the deadline
        time.sleep(max(0.0, (datetime.datetime.fromisoformat(deadline.replace("Z", "+00:00")) -
                             datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 1.5)
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("SELECT state FROM items WHERE id = ?", (item,)).fetchone()[0], "open",
                         "nothing fired while the server was down")
        con.close()
        srv2 = self.server(db, test_clock=False)       # restart after the due time
        obs = srv2.login("observer")
        # The overdue timer fires as the server starts; its commit may follow the first request.
        wait_until(lambda: srv2.request("GET", f"/v1/items/{item}", token=obs)[2]["state"] == "closed")
        st, _, v = srv2.request("GET", f"/v1/items/{item}", token=obs)
        self.assertEqual(v["state"], "closed")
        srv2.stop(signal.SIGKILL)
        srv3 = self.server(db, test_clock=False)       # and once more: nothing fires twice
        con = sqlite3.connect(db)
        closes = con.execute("SELECT count(*) FROM events WHERE item_id = ? AND action = 'close'", (item,)).fetchone()[0]
        fired = con.execute("SELECT count(*) FROM timers WHERE item_id = ? AND name = 'deadline' AND state = 'fired'",
                            (item,)).fetchone()[0]
        pending = con.execute("SELECT count(*) FROM timers WHERE item_id = ? AND state = 'pending'", (item,)).fetchone()[0]
        con.close()
        self.assertEqual((closes, fired, pending), (1, 1, 0))
        # The acknowledged position survived the crash.
        pos = srv3.request("GET", f"/v1/items/{item}/positions", token=srv3.login("observer"))[2]["positions"]
        self.assertEqual([p["member"] for p in pos], ["KM"])

    def test_sigterm_finishes_and_exits_cleanly(self):
        db = make_demo_db(self.tmp)
        srv = Server(db).start()
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        self.assertIn("server.stopped", srv.output())


if __name__ == "__main__":
    main()
