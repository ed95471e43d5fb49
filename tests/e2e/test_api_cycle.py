"""A whole MiDIOCC cycle through the HTTP API of a real server: an agenda item, a draft
with an amendment, a consultation answered by the five states, and a decision adopted
by silence after the test clock moves past the silence deadline."""
import datetime

from harness import GavelTest, main, make_demo_db

STATES = ["km", "mg", "mu", "re", "sc"]


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


class CycleTest(GavelTest):
    def test_full_cycle(self):
        srv = self.server(make_demo_db(self.tmp))
        tok = {u: srv.login(u) for u in ["secretariat", "chair", "observer"] + [s + ".delegate" for s in STATES]}
        sec = tok["secretariat"]

        def post(user, path, body, expect=200):
            st, _, b = srv.request("POST", path, body, tok[user])
            self.assertEqual(st, expect, f"{user} POST {path}: {b}")
            return b

        def act(user, item, action, params=None, expect=200):
            return post(user, f"/v1/items/{item}/actions/{action}", {"params": params or {}}, expect)

        st, _, forum = srv.request("GET", "/v1/forums/midiocc", token=tok["observer"])
        self.assertEqual(st, 200)
        self.assertEqual([m["code"] for m in forum["members"]], ["KM", "MG", "MU", "RE", "SC"])
        self.assertEqual(forum["time_zone"], "Indian/Mauritius")
        self.assertEqual(forum["name"]["fr"][:36], "Dialogue sur la migration pour les p")
        now = datetime.datetime.fromisoformat(forum["now"].replace("Z", "+00:00"))

        # A meeting a month away, and an agenda item proposed by Mauritius for it.
        start = (now + datetime.timedelta(days=30)).date().isoformat()
        m = post("secretariat", "/v1/meetings", {"title": {"en": "Third meeting", "fr": "Troisième réunion"},
                                                 "place": "Port Louis", "starts_on": start, "ends_on": start}, 201)
        meeting = m["meeting"]["id"]
        a = post("mu.delegate", "/v1/forums/midiocc/items",
                 {"workflow": "agenda_item", "title": {"en": "Diaspora engagement", "fr": "Engagement de la diaspora"},
                  "params": {"description": "Diaspora bonds", "meeting": meeting}}, 201)
        agenda = a["item"]["id"]
        self.assertEqual(a["item"]["state"], "proposed")
        self.assertIn("event_id", a["receipt"])
        self.assertTrue(a["receipt"]["committed_at"].endswith("Z"))
        act("secretariat", agenda, "accept")
        act("secretariat", agenda, "schedule", {"meeting": meeting})
        adopted = post("chair", f"/v1/meetings/{meeting}/adopt-agenda", None)
        self.assertEqual(adopted["adopted_items"], [agenda])
        st, _, item = srv.request("GET", f"/v1/items/{agenda}", token=tok["observer"])
        self.assertEqual(item["state"], "adopted")

        # A draft, circulated; Madagascar proposes an amendment; the revision takes it.
        d = post("secretariat", "/v1/forums/midiocc/items",
                 {"workflow": "draft", "title": "Regional framework",
                  "params": {"text": "Article 1. Purpose.\n\nArticle 2. Mobility."}}, 201)["item"]["id"]
        act("secretariat", d, "circulate", {"comment_deadline": iso(now + datetime.timedelta(days=10))})
        act("mg.delegate", d, "propose_amendment", {"version": 1, "paragraph": 2,
                                                    "text": "Article 2. Labour and seasonal mobility.",
                                                    "rationale": "Seasonal work"})
        act("secretariat", d, "revise", {"text": "Article 1. Purpose.\n\nArticle 2. Labour and seasonal mobility.",
                                         "note": "Madagascar's amendment", "adopted_amendments": [1]})
        st, _, diff = srv.request("GET", f"/v1/items/{d}/diff?from=1&to=2", token=tok["km.delegate"])
        self.assertEqual(st, 200)
        self.assertEqual(diff["diff"], [{"op": "same", "text": "Article 1. Purpose.\n\nArticle 2. "},
                                        {"op": "add", "text": "Labour and seasonal mobility."},
                                        {"op": "del", "text": "Mobility."}])
        st, _, versions = srv.request("GET", f"/v1/items/{d}/versions", token=tok["km.delegate"])
        self.assertEqual(versions["current"], 2)
        act("secretariat", d, "finalize")

        # A consultation on the final draft, answered by all five states.
        c = post("secretariat", "/v1/forums/midiocc/items",
                 {"workflow": "consultation", "title": "On the framework",
                  "params": {"question": {"en": "Do you support version 2?", "fr": "Soutenez-vous la version 2 ?"},
                             "deadline": iso(now + datetime.timedelta(days=7)), "draft": {"item": d, "version": 2},
                             "meeting": meeting}}, 201)
        cid = c["item"]["id"]
        me = srv.request("GET", f"/v1/items/{cid}", token=tok["km.delegate"])[2]
        form = [x for x in me["actions"] if x["name"] == "submit_position"][0]
        self.assertEqual(form["params"]["stance"]["values"],
                         ["support", "support_with_reservations", "oppose", "abstain"])
        self.assertEqual(form["label"]["fr"], "Soumettre notre position")
        st, _, listed = srv.request("GET", "/v1/forums/midiocc/items?awaiting=me", token=tok["km.delegate"])
        self.assertIn(cid, [i["id"] for i in listed["items"]])
        for s in STATES:
            r = act(s + ".delegate", cid, "submit_position",
                    {"stance": "support_with_reservations" if s == "sc" else "support", "statement": "From " + s})
            self.assertGreater(r["receipt"]["event_id"], 0)
        st, _, listed = srv.request("GET", "/v1/forums/midiocc/items?awaiting=me", token=tok["km.delegate"])
        self.assertNotIn(cid, [i["id"] for i in listed["items"]], "answered: no longer awaited")
        summary = srv.request("GET", f"/v1/items/{cid}", token=tok["observer"])[2]["summary"]
        self.assertEqual(summary["answered"], ["KM", "MG", "MU", "RE", "SC"])
        self.assertEqual(summary["counts"], {"support": 4, "support_with_reservations": 1})
        events = srv.request("GET", f"/v1/items/{cid}/events", token=tok["observer"])[2]["events"]
        self.assertEqual([e["action"] for e in events], ["create"] + ["submit_position"] * 5)
        self.assertEqual(events[1]["member"], "KM")
        self.assertEqual(events[1]["actor"], "km.delegate")

        # A decision under silence; the test clock moves past the 72 hours; adopted by itself.
        dec = post("secretariat", "/v1/forums/midiocc/items",
                   {"workflow": "decision", "title": {"en": "Framework adopted", "fr": "Cadre adopté"},
                    "params": {"text": {"en": "The Dialogue adopts the framework.",
                                        "fr": "Le Dialogue adopte le cadre."}}}, 201)["item"]["id"]
        act("secretariat", dec, "circulate_for_silence", {"deadline": iso(now + datetime.timedelta(hours=80))})
        st, _, clock = srv.request("POST", "/v1/test/clock", {"advance_seconds": 81 * 3600}, sec)
        self.assertEqual(st, 200)
        self.assertGreaterEqual(clock["timers_fired"], 1)
        st, _, item = srv.request("GET", f"/v1/items/{dec}", token=tok["observer"])
        self.assertEqual(st, 200, item)
        self.assertEqual(item["state"], "adopted_by_silence")
        self.assertRegex(item["number"], r"^MiDIOCC/20\d\d/1$")
        act("sc.delegate", dec, "break_silence", {"reason": "too late"}, expect=409)

        # Five more days: the consultation's seven-day deadline passes and it closes itself.
        self.assertEqual(srv.request("GET", f"/v1/items/{cid}", token=tok["observer"])[2]["state"], "open")
        srv.request("POST", "/v1/test/clock", {"advance_seconds": 5 * 86400}, sec)
        self.assertEqual(srv.request("GET", f"/v1/items/{cid}", token=tok["observer"])[2]["state"], "closed")

        st, h, md = srv.request("GET", f"/v1/meetings/{meeting}/record?format=md", token=tok["observer"])
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/markdown"))
        text = md.decode()
        self.assertIn("Diaspora engagement", text)
        self.assertIn("Engagement de la diaspora", text)
        self.assertIn("From sc", text, "explanations of position are in the record")


if __name__ == "__main__":
    main()
