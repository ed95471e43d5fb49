"""Idempotency keys: a retried POST returns the original answer and never applies twice."""
import datetime
import json
import threading

from harness import GavelTest, main, make_demo_db


class IdempotencyTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.srv = self.server(make_demo_db(self.tmp))
        self.sec = self.srv.login("secretariat")
        self.km = self.srv.login("km.delegate")
        deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        st, _, b = self.srv.request("POST", "/v1/forums/midiocc/items",
                                    {"workflow": "consultation", "title": "Q", "params": {"question": "Q?", "deadline": deadline}},
                                    self.sec)
        self.assertEqual(st, 201)
        self.item = b["item"]["id"]

    def events(self):
        return self.srv.request("GET", f"/v1/items/{self.item}/events", token=self.sec)[2]["events"]

    def submit(self, key, stance="support", token=None):
        return self.srv.request("POST", f"/v1/items/{self.item}/actions/submit_position", {"params": {"stance": stance}},
                                token or self.km, headers={"Idempotency-Key": key})

    def test_retry_returns_the_original_answer(self):
        st1, h1, b1 = self.submit("retry-1")
        st2, h2, b2 = self.submit("retry-1")
        self.assertEqual((st1, st2), (200, 200))
        self.assertEqual(b1, b2, "the same answer, receipt included")
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertNotIn("idempotent-replayed", h1)
        self.assertEqual(len([e for e in self.events() if e["action"] == "submit_position"]), 1)
        # The same key on item creation replays the 201.
        body = {"workflow": "agenda_item", "title": "X", "params": {"description": "d"}}
        a = self.srv.request("POST", "/v1/forums/midiocc/items", body, self.km, headers={"Idempotency-Key": "create-1"})
        b = self.srv.request("POST", "/v1/forums/midiocc/items", body, self.km, headers={"Idempotency-Key": "create-1"})
        self.assertEqual(a[0], 201)
        self.assertEqual(b[0], 201)
        self.assertEqual(a[2]["item"]["id"], b[2]["item"]["id"])

    def test_same_key_different_body_is_refused(self):
        self.assertEqual(self.submit("k-2", "support")[0], 200)
        st, _, b = self.submit("k-2", "oppose")
        self.assertEqual(st, 422)
        self.assertEqual(b["error"]["code"], "idempotency_key_reused")
        positions = self.srv.request("GET", f"/v1/items/{self.item}/positions", token=self.sec)[2]["positions"]
        self.assertEqual([p["stance"] for p in positions], ["support"])

    def test_keys_are_per_user(self):
        mg = self.srv.login("mg.delegate")
        self.assertEqual(self.submit("shared")[0], 200)
        st, _, b = self.submit("shared", token=mg)
        self.assertEqual(st, 200)
        self.assertEqual(b["item"]["summary"]["answered"], ["KM", "MG"])

    def test_a_failed_action_is_not_remembered(self):
        st, _, b = self.submit("k-3", "maybe")
        self.assertEqual(st, 422)
        st, _, b = self.submit("k-3", "maybe")
        self.assertEqual(st, 422, "refusals are not stored: a corrected retry with a new key works")
        self.assertEqual(self.submit("k-4")[0], 200)

    def test_concurrent_twins_apply_once(self):
        results = []

        def go():
            results.append(self.submit("twin"))

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(r[0] for r in results), [200] * 8)
        self.assertEqual(len({json.dumps(r[2], sort_keys=True) for r in results}), 1, "every twin gets the same answer")
        self.assertEqual(len([e for e in self.events() if e["action"] == "submit_position"]), 1)

    def test_a_key_older_than_a_day_is_free_again(self):
        self.assertEqual(self.submit("daily")[0], 200)
        # A day and an hour later (test clock), the same key and body apply again.
        self.srv.request("POST", "/v1/test/clock", {"advance_seconds": 25 * 3600}, self.sec)
        st, h, b = self.submit("daily")
        self.assertEqual(st, 200, b)
        self.assertNotIn("idempotent-replayed", h)
        self.assertEqual(len([e for e in self.events() if e["action"] == "submit_position"]), 2)

    def test_bad_keys(self):
        st, _, b = self.submit("x" * 201)
        self.assertEqual(st, 400)
        self.assertEqual(b["error"]["field"], "Idempotency-Key")


if __name__ == "__main__":
    main()
