"""Procedure knowledge lives in the workflows: a copy of the decision workflow with its
states renamed still comes out right in the meeting record, a secretariat's own workflows
appear in the record and take part in the agenda's adoption through their declarations,
and the API serves each workflow's labels and history sentences."""
import datetime
import os
import shutil

from harness import SOURCE, GavelTest, main, make_demo_db

RENAMES = [("adopted_by_consensus", "agreed_by_consensus"), ("adopted_by_silence", "agreed_tacitly"),
           ('workflow "decision"', 'workflow "decision_renamed"')]

TOPIC = '''-- A secretariat's own agenda workflow, with its own state names.
workflow "topic" {
  title = { en = "Topic", fr = "Sujet" },
  states = { "listed", "taken_up" },
  labels = { listed = { en = "Listed", fr = "Inscrit" }, taken_up = { en = "Taken up", fr = "Examiné" } },
  create {
    by = "secretariat", to = "listed",
    params = { summary = str { required = true }, meeting = meeting_ref { required = true } },
    run = function(item, p) item:set_meeting(p.meeting) end,
  },
  action "take_up" {
    label = { en = "Take up", fr = "Examiner" },
    by = "chair", from = "listed", to = "taken_up",
  },
  agenda { on_adopt = "take_up" },
  record { section = "agenda", fields = { description = "summary" } },
  history { take_up = { en = "Taken up with the agenda", fr = "Examiné avec l'ordre du jour" } },
}
'''

RESOLUTION = '''-- A secretariat's own decision workflow: resolutions passed in a meeting.
workflow "resolution" {
  title = { en = "Resolution", fr = "Résolution" },
  states = { "tabled", "passed" },
  labels = { tabled = { en = "Tabled", fr = "Déposée" }, passed = { en = "Passed", fr = "Adoptée" } },
  create {
    by = "secretariat", to = "tabled",
    params = { body = str { required = true }, meeting = meeting_ref { required = true } },
    run = function(item, p) item:set_meeting(p.meeting) end,
  },
  action "pass" {
    label = { en = "Pass", fr = "Adopter" },
    by = "chair", from = "tabled", to = "passed",
    run = function(item)
      item.data.ref = item:next_number("resolution")
      item.data.passed_at = now()
    end,
  },
  record {
    section = "decisions", states = { "passed" },
    fields = { number = "ref", text = "body", adopted_at = "passed_at" },
  },
  history {
    create = { en = "{actor} tabled the resolution", fr = "{actor} a déposé la résolution" },
    pass = { en = "{actor} declared the resolution {state}", fr = "{actor} a déclaré la résolution {state}" },
  },
}
'''


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


class ProcedureTest(GavelTest):
    def workflows_dir(self):
        d = self.tmp("workflows")
        shutil.copytree(os.path.join(SOURCE, "workflows"), d)
        with open(os.path.join(d, "decision.lua")) as f:
            src = f.read()
        for a, b in RENAMES:
            self.assertIn(a, src)
            src = src.replace(a, b)
        for name, text in (("decision_renamed.lua", src), ("topic.lua", TOPIC), ("resolution.lua", RESOLUTION)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        return d

    def test_declared_procedure(self):
        srv = self.server(make_demo_db(self.tmp), "--workflows", self.workflows_dir())
        tok = {u: srv.login(u) for u in ["secretariat", "chair", "observer", "sc.delegate"]}

        def req(user, method, path, body=None, expect=200):
            st, _, b = srv.request(method, path, body, tok[user])
            self.assertEqual(st, expect, f"{user} {method} {path}: {b}")
            return b

        def create(user, workflow, title, params):
            return req(user, "POST", "/v1/forums/midiocc/items",
                       {"workflow": workflow, "title": title, "params": params}, 201)["item"]["id"]

        def act(user, item, action, params=None, expect=200):
            return req(user, "POST", f"/v1/items/{item}/actions/{action}", {"params": params or {}}, expect)

        forum = req("observer", "GET", "/v1/forums/midiocc")
        now = datetime.datetime.fromisoformat(forum["now"].replace("Z", "+00:00"))
        start = (now + datetime.timedelta(days=30)).date().isoformat()
        meeting = req("secretariat", "POST", "/v1/meetings", {"title": "Fourth meeting", "place": "Victoria",
                                                                "starts_on": start, "ends_on": start}, 201)["meeting"]["id"]

        # The shipped decision and its renamed copy, for the meeting.
        in_meeting = [(create("secretariat", wf, title, {"text": f"{title} text", "meeting": meeting}),
                       "adopted_by_consensus" if wf == "decision" else "agreed_by_consensus")
                      for wf, title in (("decision", "Shipped"), ("decision_renamed", "Renamed"))]
        # A renamed copy adopted by silence between meetings belongs to this record too.
        quiet = create("secretariat", "decision_renamed", "Tacit", {"text": "Tacit text"})
        act("secretariat", quiet, "circulate_for_silence", {"deadline": iso(now + datetime.timedelta(days=4))})
        act("sc.delegate", quiet, "break_silence", {"reason": "Not yet"})
        act("secretariat", quiet, "circulate_for_silence", {"deadline": iso(now + datetime.timedelta(days=5))})
        req("secretariat", "POST", "/v1/test/clock", {"advance_seconds": 6 * 86400})
        self.assertEqual(req("observer", "GET", f"/v1/items/{quiet}")["state"], "agreed_tacitly")
        # Both adopted by consensus in the meeting, once it has begun.
        for d, outcome in in_meeting:
            act("chair", d, "record_outcome", {"outcome": outcome}, expect=409)
        req("secretariat", "POST", "/v1/test/clock", {"advance_seconds": 25 * 86400})
        for d, outcome in in_meeting:
            act("chair", d, "record_outcome", {"outcome": outcome})

        # A secretariat's own agenda and decision workflows.
        topic = create("secretariat", "topic", "Youth mobility", {"summary": "Exchanges for students", "meeting": meeting})
        res = create("secretariat", "resolution", "On data sharing", {"body": "Data is shared yearly.", "meeting": meeting})
        act("chair", res, "pass")
        adopted = req("chair", "POST", f"/v1/meetings/{meeting}/adopt-agenda")
        self.assertEqual(adopted["adopted_items"], [topic])
        self.assertEqual(req("observer", "GET", f"/v1/items/{topic}")["state"], "taken_up")
        detail = req("observer", "GET", f"/v1/meetings/{meeting}")
        self.assertEqual([a["id"] for a in detail["agenda"]], [topic])
        self.assertNotIn(topic, [i["id"] for i in detail["items"]])

        rec = req("observer", "GET", f"/v1/meetings/{meeting}/record?format=json")
        self.assertEqual([(a["item_id"], a["description"], a["state"]) for a in rec["agenda"]],
                         [(topic, "Exchanges for students", "taken_up")])
        by_title = {d["title"]: d for d in rec["decisions"]}
        self.assertEqual(set(by_title), {"Shipped", "Renamed", "Tacit", "On data sharing"})
        self.assertEqual(by_title["Shipped"]["outcome_label"], by_title["Renamed"]["outcome_label"])
        self.assertEqual(by_title["Renamed"]["outcome"], "agreed_by_consensus")
        self.assertEqual(by_title["Renamed"]["text"], "Renamed text")
        self.assertRegex(by_title["Renamed"]["number"], r"^MiDIOCC/\d{4}/2$")
        tacit = by_title["Tacit"]
        self.assertEqual(tacit["silence"]["rounds"], 2)
        self.assertEqual([o["member"] for o in tacit["objections"]], ["SC"])
        self.assertEqual(tacit["outcome_label"]["en"], "Adopted by silence procedure")
        self.assertEqual(by_title["On data sharing"]["number"][-len("/1"):], "/1")
        self.assertEqual(by_title["On data sharing"]["outcome_label"], {"en": "Passed", "fr": "Adoptée"})

        st, _, md = srv.request("GET", f"/v1/meetings/{meeting}/record?format=md", token=tok["observer"])
        self.assertEqual(st, 200)
        text = md.decode() if isinstance(md, bytes) else md
        for part in ("Youth mobility", "Renamed text", "On data sharing", "Data is shared yearly.", "**Outcome:** Passed",
                     "Adopted by silence procedure; silence deadline"):
            self.assertIn(part, text)

        # Labels and sentences come from the workflows.
        wfs = {w["name"]: w for w in req("observer", "GET", "/v1/workflows")["workflows"]}
        dec_actions = {a["name"]: a for a in wfs["decision"]["actions"]}
        self.assertEqual(dec_actions["break_silence"]["history"]["fr"], "{member} a rompu le silence : {reason}")
        self.assertIn({"name": "taken_up", "label": {"en": "Taken up", "fr": "Examiné"}}, wfs["topic"]["states"])
        events = req("observer", "GET", f"/v1/items/{quiet}/events")["events"]
        broke = [e for e in events if e["action"] == "break_silence"][0]
        self.assertEqual(broke["sentence"], "Seychelles broke silence: Not yet")
        self.assertEqual(broke["state_label"], "Silence broken")
        sec_events = req("secretariat", "GET", f"/v1/items/{res}/events")["events"]
        self.assertEqual(sec_events[-1]["sentence"], "chair declared the resolution Passed")


    def test_shipped_workflows_declare_every_label_and_sentence(self):
        srv = self.server(make_demo_db(self.tmp))
        tok = srv.login("observer")
        st, _, body = srv.request("GET", "/v1/workflows", token=tok)
        self.assertEqual(st, 200)
        wfs = {w["name"]: w for w in body["workflows"]}
        self.assertEqual(set(wfs), {"agenda_item", "consultation", "decision", "draft"})
        for name, w in wfs.items():
            for s in w["states"]:
                self.assertEqual(set(s["label"]), {"en", "fr"}, f"{name}: state {s['name']}")
                self.assertNotEqual(s["label"]["en"], s["name"], f"{name}: state {s['name']} has a label")
            for a in w["actions"]:
                self.assertEqual(set(a["label"]), {"en", "fr"}, f"{name}: action {a['name']}")
                self.assertNotEqual(a["label"]["en"], a["name"], f"{name}: action {a['name']} has a label")
                self.assertIsNotNone(a["history"], f"{name}: action {a['name']} has a history sentence")
                self.assertEqual(set(a["history"]), {"en", "fr"}, f"{name}: action {a['name']}")


if __name__ == "__main__":
    main()
