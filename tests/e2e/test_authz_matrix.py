"""Who may call what: every HTTP route and the security-relevant workflow actions, for
each kind of caller, against the real server. The table below is the reference."""
import datetime
import itertools
import json
import socket

from harness import DEMO_PASSWORD, GavelTest, main, make_demo_db, scaled

# The callers, in the order of the table's columns. "own" is the delegate of the state the
# item belongs to (MG: it proposed the agenda items; it answers the consultations); "other"
# is the delegate of another state (KM). "anon" sends no token.
CALLERS = ("secretariat", "chair", "own", "other", "observer", "anon")
USERS = {"secretariat": "secretariat", "chair": "chair", "own": "mg.delegate", "other": "km.delegate",
         "observer": "observer"}

# Placeholders: {name} is a fixture's id (or value), {name.field} one of its fields. Fixtures
# whose name starts with "new_" are made afresh for every cell, so that a cell that succeeds
# (and changes the item) cannot change what the next cell sees. {self} is the caller's own
# username, {caller_username}/{caller_password} its credentials (anonymous: unknown ones),
# {unique} a fresh name. The shared fixtures: consultation (open, hidden results), draft
# (circulating, version 1), decision (open), agenda (proposed by MG), meeting, user (a spare
# observer account).

# Shared bodies.
SUBMIT = {"params": {"stance": "support", "statement": "We agree."}}
ON_BEHALF = {"params": {"member": "RE", "stance": "oppose", "statement": "By letter.", "reference": "NV/2026/17"}}
EXTEND = {"params": {"deadline": "{far_future}", "reason": "More time asked for."}}
OUTCOME = {"params": {"outcome": "adopted_by_consensus"}}
SILENCE = {"params": {"deadline": "{silence_deadline}"}}
OBJECT = {"params": {"reason": "We object to paragraph 2."}}
OBJECT_FOR = {"params": {"member": "KM", "reason": "Objection by note verbale.", "reference": "NV/KM/3",
                         "received_at": "{new_silence.started_at}"}}


def new_item(workflow, **params):
    titles = {"consultation": "Consultation", "decision": "Decision", "draft": "Draft", "agenda_item": "Item"}
    return {"workflow": workflow, "title": titles[workflow], "params": params}


# method, path, body,                                               sec  chair own other obs anon
MATRIX = [
    # Public.
    ("GET", "/healthz", None,                                          200, 200, 200, 200, 200, 200),
    ("GET", "/metrics", None,                                          200, 200, 200, 200, 200, 200),  # loopback
    ("POST", "/v1/login", {"username": "{caller_username}", "password": "{caller_password}"},
                                                                        200, 200, 200, 200, 200, 401),
    ("GET", "/v1/nowhere", None,                                       404, 404, 404, 404, 404, 404),
    ("DELETE", "/v1/items/{consultation}", None,                       405, 405, 405, 405, 405, 405),
    # One's own account. Logout uses a token of its own (it revokes it).
    ("POST", "/v1/logout", None,                                       200, 200, 200, 200, 200, 401),
    ("GET", "/v1/me", None,                                            200, 200, 200, 200, 200, 401),
    ("PATCH", "/v1/me", {"language": "en"},                            200, 200, 200, 200, 200, 401),
    ("POST", "/v1/me/password", {"current_password": DEMO_PASSWORD, "new_password": "short"},
                                                                        422, 422, 422, 422, 422, 401),
    ("GET", "/v1/me/member/accounts", None,                            403, 403, 200, 200, 403, 401),
    # Accounts: the secretariat only.
    ("GET", "/v1/users", None,                                         200, 403, 403, 403, 403, 401),
    ("GET", "/v1/users?member=MG", None,                               200, 403, 403, 403, 403, 401),
    ("POST", "/v1/users", {"username": "{unique}", "role": "delegate", "member": "MG"},
                                                                        201, 403, 403, 403, 403, 401),
    ("GET", "/v1/users/{user}", None,                                  200, 403, 403, 403, 403, 401),
    ("GET", "/v1/users/no.such.user", None,                            404, 403, 403, 403, 403, 401),
    ("PATCH", "/v1/users/{user}", {"display_name": "Spare observer"},  200, 403, 403, 403, 403, 401),
    ("PATCH", "/v1/users/{self}", {"role": "secretariat"},             200, 403, 403, 403, 403, 401),  # no-op for sec
    ("PATCH", "/v1/users/{new_user}", {"disabled": True},              200, 403, 403, 403, 403, 401),
    ("POST", "/v1/users/{new_user}/reset-password", None,              200, 403, 403, 403, 403, 401),
    # The forum and its items.
    ("GET", "/v1/forums/midiocc", None,                                200, 200, 200, 200, 200, 401),
    ("GET", "/v1/forums/nosuchforum", None,                            404, 404, 404, 404, 404, 401),
    ("GET", "/v1/forums/midiocc/items", None,                          200, 200, 200, 200, 200, 401),
    ("GET", "/v1/forums/midiocc/items?awaiting=me", None,              200, 200, 200, 200, 200, 401),
    ("POST", "/v1/forums/midiocc/items", new_item("consultation", question="Q?", deadline="{future}"),
                                                                        201, 403, 403, 403, 403, 401),
    ("POST", "/v1/forums/midiocc/items", new_item("decision", text="The Dialogue decides."),
                                                                        201, 403, 403, 403, 403, 401),
    ("POST", "/v1/forums/midiocc/items", new_item("draft", text="One.\n\nTwo."),
                                                                        201, 403, 403, 403, 403, 401),
    ("POST", "/v1/forums/midiocc/items", new_item("agenda_item", description="Labour mobility."),
                                                                        201, 403, 201, 201, 403, 401),
    ("POST", "/v1/forums/nosuchforum/items", new_item("agenda_item", description="X."),
                                                                        404, 404, 404, 404, 404, 401),
    ("GET", "/v1/items/{consultation}", None,                          200, 200, 200, 200, 200, 401),
    ("GET", "/v1/items/999999", None,                                  404, 404, 404, 404, 404, 401),
    ("GET", "/v1/items/{consultation}/events", None,                   200, 200, 200, 200, 200, 401),
    ("GET", "/v1/items/999999/events", None,                           404, 404, 404, 404, 404, 401),
    ("GET", "/v1/items/{consultation}/positions", None,                200, 200, 200, 200, 200, 401),
    ("GET", "/v1/items/{consultation}/positions?history=true", None,   200, 200, 200, 200, 200, 401),
    ("GET", "/v1/items/{draft}/versions", None,                        200, 200, 200, 200, 200, 401),
    ("GET", "/v1/items/{consultation}/versions", None,                 404, 404, 404, 404, 404, 401),
    ("GET", "/v1/items/{draft}/diff", None,                            200, 200, 200, 200, 200, 401),
    ("GET", "/v1/workflows", None,                                     200, 200, 200, 200, 200, 401),
    # Actions in general.
    ("POST", "/v1/items/999999/actions/close", None,                   404, 404, 404, 404, 404, 401),
    ("POST", "/v1/items/{consultation}/actions/no_such_action", None,  404, 404, 404, 404, 404, 401),
    # Consultation: delegates answer for their own state; the secretariat records written
    # answers; the secretariat and the chair extend and close.
    ("POST", "/v1/items/{new_consultation}/actions/submit_position", SUBMIT,
                                                                        403, 403, 200, 200, 403, 401),
    ("POST", "/v1/items/{new_consultation}/actions/record_on_behalf", ON_BEHALF,
                                                                        200, 403, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_consultation}/actions/extend_deadline", EXTEND,
                                                                        200, 200, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_consultation}/actions/close", None,       200, 200, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_closed_consultation}/actions/submit_position", SUBMIT,
                                                                        403, 403, 409, 409, 403, 401),
    ("POST", "/v1/items/{new_closed_consultation}/actions/close", None, 409, 409, 403, 403, 403, 401),
    # Draft: comments from delegates, the secretariat and the chair; amendments from delegates.
    ("POST", "/v1/items/{draft}/actions/comment", {"params": {"version": 1, "paragraph": 1, "text": "Clarify."}},
                                                                        200, 200, 200, 200, 403, 401),
    ("POST", "/v1/items/{draft}/actions/propose_amendment",
     {"params": {"version": 1, "paragraph": 2, "text": "Three.", "rationale": "Better."}},
                                                                        403, 403, 200, 200, 403, 401),
    ("POST", "/v1/items/{new_draft}/actions/finalize", None,           200, 403, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_draft}/actions/close_comments", None,     403, 403, 403, 403, 403, 401),  # engine only
    # Decision: the chair records outcomes (the forum's acting chair is the chair account);
    # the secretariat runs the silence procedure; any state may break silence for itself.
    ("POST", "/v1/items/{new_decision}/actions/record_outcome", OUTCOME,
                                                                        403, 200, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_decision}/actions/circulate_for_silence", SILENCE,
                                                                        200, 403, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_silence}/actions/break_silence", OBJECT,  403, 403, 200, 200, 403, 401),
    ("POST", "/v1/items/{new_silence}/actions/record_objection_on_behalf", OBJECT_FOR,
                                                                        200, 403, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_silence}/actions/extend_silence", EXTEND, 200, 200, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_silence}/actions/adopt_by_silence", None, 403, 403, 403, 403, 403, 401),  # engine only
    ("POST", "/v1/items/{new_decision}/actions/withdraw", None,        200, 403, 403, 403, 403, 401),
    # Agenda items (proposed by MG): the secretariat accepts and schedules, the chair adopts,
    # only the proposer withdraws or resubmits.
    ("POST", "/v1/items/{new_proposed}/actions/accept", None,          200, 403, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_proposed}/actions/return", {"params": {"reason": "Too broad."}},
                                                                        200, 403, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_accepted}/actions/schedule", {"params": {"meeting": "{meeting}"}},
                                                                        200, 403, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_scheduled}/actions/adopt", None,          403, 200, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_scheduled}/actions/defer", {"params": {"reason": "Next meeting."}},
                                                                        200, 200, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_proposed}/actions/withdraw", None,        403, 403, 200, 403, 403, 401),
    ("POST", "/v1/items/{new_scheduled}/actions/withdraw", None,       403, 403, 200, 403, 403, 401),
    ("POST", "/v1/items/{new_proposed_by_secretariat}/actions/withdraw", None,
                                                                        200, 403, 403, 403, 403, 401),
    ("POST", "/v1/items/{new_returned}/actions/resubmit", {"params": {"description": "Narrower."}},
                                                                        403, 403, 200, 403, 403, 401),
    # Meetings: the secretariat creates them, the chair adopts the agenda.
    ("GET", "/v1/meetings", None,                                      200, 200, 200, 200, 200, 401),
    ("POST", "/v1/meetings", {"title": "Fourth meeting", "place": "Moroni", "starts_on": "2030-09-01"},
                                                                        201, 403, 403, 403, 403, 401),
    ("GET", "/v1/meetings/{meeting}", None,                            200, 200, 200, 200, 200, 401),
    ("GET", "/v1/meetings/999999", None,                               404, 404, 404, 404, 404, 401),
    ("POST", "/v1/meetings/{new_meeting_with_agenda}/adopt-agenda", None,
                                                                        403, 200, 403, 403, 403, 401),
    ("POST", "/v1/meetings/{new_adopted_meeting}/adopt-agenda", None,  403, 409, 403, 403, 403, 401),
    ("POST", "/v1/meetings/999999/adopt-agenda", None,                 404, 404, 404, 404, 404, 401),
    ("GET", "/v1/meetings/{meeting}/record", None,                     200, 200, 200, 200, 200, 401),
    ("GET", "/v1/meetings/{meeting}/record?format=md", None,           200, 200, 200, 200, 200, 401),
    ("GET", "/v1/meetings/{meeting}/record?format=html", None,         200, 200, 200, 200, 200, 401),
    # Live updates, incidents, the test clock (only with --test-clock).
    ("GET", "/v1/stream", None,                                        200, 200, 200, 200, 200, 401),
    ("GET", "/v1/incidents", None,                                     200, 403, 403, 403, 403, 401),
    ("POST", "/v1/test/clock", {"advance_seconds": 0},                 200, 403, 403, 403, 403, 401),
]


def rfc3339(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Fixtures:
    """Makes the items, meetings and users the table names, through the API."""

    def __init__(self, test, srv, tokens):
        self.t = test
        self.srv = srv
        self.tok = tokens
        st, _, f = srv.request("GET", "/v1/forums/midiocc", token=tokens["secretariat"])
        now = datetime.datetime.fromisoformat(f["now"].replace("Z", "+00:00"))
        self.values = {"future": rfc3339(now + datetime.timedelta(days=30)),
                       "far_future": rfc3339(now + datetime.timedelta(days=400)),
                       "silence_deadline": rfc3339(now + datetime.timedelta(days=4))}
        self.counter = itertools.count(1)
        self.shared = {}

    def ok(self, method, path, body, who, want=(200, 201)):
        st, _, b = self.srv.request(method, path, body, self.tok[who])
        if st not in want:
            raise AssertionError(f"fixture {method} {path} as {who}: {st} {b}")
        return b

    def item(self, workflow, who="secretariat", **params):
        return self.ok("POST", "/v1/forums/midiocc/items", new_item(workflow, **params), who)["item"]

    def act(self, item_id, action, who="secretariat", **params):
        return self.ok("POST", f"/v1/items/{item_id}/actions/{action}", {"params": params}, who)["item"]

    def meeting(self):
        b = self.ok("POST", "/v1/meetings", {"title": "Meeting", "place": "Port Louis", "starts_on": "2030-06-01"},
                    "secretariat")
        return {"id": b["meeting"]["id"]}

    def user(self):
        b = self.ok("POST", "/v1/users", {"username": f"spare{next(self.counter)}", "role": "observer"}, "secretariat")
        return {"id": b["username"]}

    # The fixtures, by name.
    def make(self, name):
        v = self.values
        if name in ("consultation", "new_consultation"):
            return self.item("consultation", question="Do you support the plan?", deadline=v["future"],
                             visibility="hidden_until_close")
        if name == "new_closed_consultation":
            c = self.make("new_consultation")
            return self.act(c["id"], "close")
        if name in ("draft", "new_draft"):
            d = self.item("draft", text="One.\n\nTwo.")
            return self.act(d["id"], "circulate", comment_deadline=v["future"])
        if name in ("decision", "new_decision"):
            return self.item("decision", text="The Dialogue adopts its work plan.")
        if name == "new_silence":
            d = self.make("new_decision")
            d = self.act(d["id"], "circulate_for_silence", deadline=v["silence_deadline"])
            return {"id": d["id"], "started_at": d["data"]["silence"]["started_at"]}
        if name in ("agenda", "new_proposed"):
            return self.item("agenda_item", "own", description="Diaspora engagement.")
        if name == "new_proposed_by_secretariat":
            return self.item("agenda_item", "secretariat", description="Data on migration.")
        if name == "new_accepted":
            return self.act(self.make("new_proposed")["id"], "accept")
        if name == "new_returned":
            return self.act(self.make("new_proposed")["id"], "return", reason="Too broad.")
        if name == "new_scheduled":
            return self.act(self.make("new_accepted")["id"], "schedule", meeting=self.get("meeting"))
        if name == "new_meeting_with_agenda":
            m = self.meeting()
            self.act(self.make("new_accepted")["id"], "schedule", meeting=m["id"])
            return m
        if name == "new_adopted_meeting":
            m = self.make("new_meeting_with_agenda")
            self.ok("POST", f"/v1/meetings/{m['id']}/adopt-agenda", None, "chair")
            return m
        if name == "meeting":
            return self.meeting()
        if name in ("user", "new_user"):
            return self.user()
        raise KeyError(name)

    def get(self, name):
        if name not in self.shared:
            self.shared[name] = self.make(name)
        return self.shared[name]["id"]

    def fill(self, x, caller, fresh):
        """Replaces placeholders in a path or body for one cell."""
        if isinstance(x, dict):
            return {k: self.fill(v, caller, fresh) for k, v in x.items()}
        if isinstance(x, list):
            return [self.fill(v, caller, fresh) for v in x]
        if not isinstance(x, str) or "{" not in x:
            return x
        out, whole = "", x.startswith("{") and x.endswith("}") and x.count("{") == 1
        rest = x
        values = []
        while "{" in rest:
            pre, _, tail = rest.partition("{")
            key, _, rest = tail.partition("}")
            val = self.value(key, caller, fresh)
            values.append(val)
            out += pre + str(val)
        out += rest
        return values[0] if whole else out

    def value(self, key, caller, fresh):
        name, _, field = key.partition(".")
        if name in self.values:
            return self.values[name]
        if name == "self":
            return USERS.get(caller, "secretariat")
        if name == "caller_username":
            return USERS.get(caller, "no.such.user")
        if name == "caller_password":
            return DEMO_PASSWORD if caller in USERS else "not-the-password"
        if name == "unique":
            return f"new.user{next(self.counter)}"
        if name.startswith("new_"):
            if name not in fresh:
                fresh[name] = self.make(name)
            obj = fresh[name]
        else:
            self.get(name)
            obj = self.shared[name]
        return obj[field] if field else obj["id"]


def stream_status(port, token):
    """The status of GET /v1/stream, read from the head of the response on a raw socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(10)) as s:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        s.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n".encode())
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return int(buf.split(b" ")[1]), buf


class AuthzMatrixTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.srv = self.server(make_demo_db(self.tmp))
        self.tokens = {col: self.srv.login(user) for col, user in USERS.items()}
        self.tokens["anon"] = None
        self.fx = Fixtures(self, self.srv, self.tokens)

    def test_matrix(self):
        srv, fx = self.srv, self.fx
        failures, cells = [], 0
        for row in MATRIX:
            method, path, body, expected = row[0], row[1], row[2], dict(zip(CALLERS, row[3:]))
            for caller in CALLERS:
                fresh = {}
                p = fx.fill(path, caller, fresh)
                b = fx.fill(body, caller, fresh)
                token = self.tokens[caller]
                if path == "/v1/logout" and caller != "anon":
                    token = srv.login(USERS[caller])  # logging out revokes the token it uses
                if path == "/v1/stream":
                    status, got = stream_status(srv.port, token)
                else:
                    status, _, got = srv.request(method, p, b, token)
                cells += 1
                if status != expected[caller]:
                    failures.append(f"{method} {path} as {caller}: expected {expected[caller]}, got {status}: "
                                    f"{str(got)[:200]}")
        self.assertEqual(cells, len(MATRIX) * len(CALLERS))
        if failures:
            self.fail(f"{len(failures)} of {cells} cells differ from the matrix:\n  " + "\n  ".join(failures))
        # The test clock does not exist without --test-clock, for anyone.
        self.srv.stop()
        plain = self.server(self.srv.db, test_clock=False)
        st, _, _ = plain.request("POST", "/v1/test/clock", {"advance_seconds": 1})
        self.assertEqual(st, 404)

    def positions(self, item_id):
        st, _, b = self.srv.request("GET", f"/v1/items/{item_id}/positions?history=true", token=self.tokens["secretariat"])
        self.assertEqual(st, 200)
        return b["positions"]

    def events(self, item_id):
        st, _, b = self.srv.request("GET", f"/v1/items/{item_id}/events", token=self.tokens["secretariat"])
        self.assertEqual(st, 200)
        return b["events"]

    def test_delegate_cannot_act_for_another_state(self):
        srv, fx, mg = self.srv, self.fx, self.tokens["own"]
        c = fx.make("new_consultation")["id"]
        before = self.events(c)
        attempts = [
            ("submit_position", {"stance": "oppose", "statement": "For KM.", "member": "KM"}),
            ("record_on_behalf", {"member": "KM", "stance": "oppose", "statement": "For KM.", "reference": "X/1"}),
            ("record_on_behalf", {"member": "MG", "stance": "oppose", "statement": "Own.", "reference": "X/2"}),
        ]
        for action, params in attempts:
            st, _, b = srv.request("POST", f"/v1/items/{c}/actions/{action}", {"params": params}, mg)
            self.assertIn(st, (403, 422), f"{action} {params}: {st} {b}")
        self.assertEqual(self.positions(c), [], "nothing may be recorded")
        self.assertEqual(self.events(c), before)
        # Breaking silence for another state, and objecting on its behalf.
        d = fx.make("new_silence")["id"]
        before = self.events(d)
        for action, params in [("break_silence", {"reason": "KM objects.", "member": "KM"}),
                               ("record_objection_on_behalf", {"member": "KM", "reason": "KM objects.",
                                                               "reference": "X/3", "received_at": fx.values["future"]})]:
            st, _, b = srv.request("POST", f"/v1/items/{d}/actions/{action}", {"params": params}, mg)
            self.assertIn(st, (403, 422), f"{action} {params}: {st} {b}")
        st, _, item = srv.request("GET", f"/v1/items/{d}", token=self.tokens["secretariat"])
        self.assertEqual(item["state"], "under_silence")
        self.assertNotIn("objections", item["data"])
        self.assertEqual(self.events(d), before)
        # Reservations of another state in an outcome: delegates may not record outcomes at all.
        dec = fx.make("new_decision")["id"]
        st, _, b = srv.request("POST", f"/v1/items/{dec}/actions/record_outcome",
                               {"params": {"outcome": "adopted_with_reservations",
                                           "reservations": [{"member": "KM", "text": "KM reserves."}]}}, mg)
        self.assertIn(st, (403, 422), b)
        # An agenda item proposed in another state's name is refused; the proposer is one's own state.
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                               new_item("agenda_item", description="For KM.", member="KM"), mg)
        self.assertIn(st, (403, 422), b)
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", new_item("agenda_item", description="Ours."), mg)
        self.assertEqual(st, 201, b)
        self.assertEqual(b["item"]["member"], "MG")
        # A delegate of MG submitting an answer records it for MG only.
        st, _, b = srv.request("POST", f"/v1/items/{c}/actions/submit_position", SUBMIT, mg)
        self.assertEqual(st, 200, b)
        self.assertEqual([(p["member"], p["on_behalf"]) for p in self.positions(c)], [("MG", False)])

    def test_account_moved_to_another_state_leaves_its_items_behind(self):
        srv, sec = self.srv, self.tokens["secretariat"]
        st, _, u = srv.request("POST", "/v1/users", {"username": "mg.moved", "role": "delegate", "member": "MG"}, sec)
        self.assertEqual(st, 201, u)
        tok = srv.login("mg.moved", u["password"])
        st, _, b = srv.request("POST", "/v1/me/password",
                               {"current_password": u["password"], "new_password": "mg-moved-password"}, tok)
        self.assertEqual(st, 200, b)
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", new_item("agenda_item", description="MG's."), tok)
        self.assertEqual(st, 201, b)
        item = b["item"]["id"]
        st, _, b = srv.request("PATCH", "/v1/users/mg.moved", {"member": "KM"}, sec)
        self.assertEqual(st, 200, b)
        tok = srv.login("mg.moved", "mg-moved-password")
        st, _, b = srv.request("GET", f"/v1/items/{item}", token=tok)
        self.assertEqual([a["name"] for a in b["actions"]], [])
        st, _, b = srv.request("POST", f"/v1/items/{item}/actions/withdraw", None, tok)
        self.assertEqual(st, 403, "a KM delegate may not withdraw MG's item, even one it proposed while in MG")
        st, _, b = srv.request("POST", f"/v1/items/{item}/actions/withdraw", None, self.tokens["own"])
        self.assertEqual(st, 200, b)

    def test_disabled_account_and_revoked_sessions(self):
        srv, sec = self.srv, self.tokens["secretariat"]
        st, _, u = srv.request("POST", "/v1/users", {"username": "mg.second", "role": "delegate", "member": "MG"}, sec)
        self.assertEqual(st, 201, u)
        tok = srv.login("mg.second", u["password"])
        # Until the password is changed, only the password routes are open.
        c = self.fx.get("consultation")
        st, _, _ = srv.request("GET", f"/v1/items/{c}", token=tok)
        self.assertEqual(st, 403)
        st, _, b = srv.request("POST", "/v1/me/password",
                               {"current_password": u["password"], "new_password": "mg-second-password"}, tok)
        self.assertEqual(st, 200, b)
        st, _, _ = srv.request("GET", f"/v1/items/{c}", token=tok)
        self.assertEqual(st, 200)
        other = srv.login("mg.second", "mg-second-password")
        st, _, b = srv.request("PATCH", "/v1/users/mg.second", {"disabled": True}, sec)
        self.assertEqual(st, 200, b)
        for t in (tok, other):
            for method, path, body in [("GET", "/v1/me", None), ("GET", f"/v1/items/{c}", None),
                                       ("POST", f"/v1/items/{c}/actions/submit_position", SUBMIT),
                                       ("POST", "/v1/logout", None)]:
                st, _, b = srv.request(method, path, body, t)
                self.assertEqual(st, 401, f"{method} {path} with a disabled user's token: {st} {b}")
            self.assertEqual(stream_status(srv.port, t)[0], 401)
        st, _, _ = srv.request("POST", "/v1/login", {"username": "mg.second", "password": "mg-second-password"})
        self.assertEqual(st, 401)
        self.assertEqual(self.positions(c), [])
        # Enabling the account again does not bring the old sessions back.
        st, _, b = srv.request("PATCH", "/v1/users/mg.second", {"disabled": False}, sec)
        self.assertEqual(st, 200, b)
        st, _, _ = srv.request("GET", "/v1/me", token=tok)
        self.assertEqual(st, 401)
        # A changed role ends the sessions too (they carried the old role).
        t2 = srv.login("mg.second", "mg-second-password")
        st, _, b = srv.request("PATCH", "/v1/users/mg.second", {"role": "delegate", "member": "KM"}, sec)
        self.assertEqual(st, 200, b)
        st, _, _ = srv.request("GET", "/v1/me", token=t2)
        self.assertEqual(st, 401)
        # Forged and malformed tokens.
        for bad in ("x", self.tokens["own"] + "x", "Bearer", " " * 3):
            st, _, _ = srv.request("GET", "/v1/me", token=bad)
            self.assertEqual(st, 401, repr(bad))
        st, _, _ = srv.request("GET", "/v1/me", headers={"Authorization": "Basic " + self.tokens["own"]})
        self.assertEqual(st, 401)

    def test_cookie_sessions_need_csrf_and_same_origin(self):
        srv = self.srv
        st, h, b = srv.request("POST", "/v1/login", {"username": "observer", "password": DEMO_PASSWORD, "cookie": True})
        self.assertEqual(st, 200, b)
        cookie = h["set-cookie"].split(";")[0]
        self.assertIn("HttpOnly", h["set-cookie"])
        self.assertIn("SameSite=Strict", h["set-cookie"])
        csrf = b["csrf"]
        origin = f"http://127.0.0.1:{srv.port}"
        host = f"127.0.0.1:{srv.port}"
        base = {"Cookie": cookie, "Host": host}
        st, _, _ = srv.request("GET", "/v1/me", headers=base)
        self.assertEqual(st, 200)
        body = {"language": "fr"}
        cases = [
            ({}, 403),                                                       # no CSRF token
            ({"X-CSRF-Token": "wrong"}, 403),
            ({"X-CSRF-Token": csrf, "Origin": "http://evil.example"}, 403),  # another site
            ({"X-CSRF-Token": csrf, "Origin": origin}, 200),
            ({"X-CSRF-Token": csrf}, 200),
        ]
        for extra, want in cases:
            st, _, b = srv.request("PATCH", "/v1/me", body, headers={**base, **extra})
            self.assertEqual(st, want, f"{extra}: {b}")
        # A cookie session's token is not a bearer token, and a bearer token is not a cookie.
        token = cookie.split("=", 1)[1]
        st, _, _ = srv.request("GET", "/v1/me", token=token)
        self.assertEqual(st, 401)
        st, _, _ = srv.request("GET", "/v1/me", headers={"Cookie": "gavel_session=" + self.tokens["observer"]})
        self.assertEqual(st, 401)
        # Logging out needs the CSRF token too, and then the cookie is dead.
        st, _, _ = srv.request("POST", "/v1/logout", headers=base)
        self.assertEqual(st, 403)
        st, _, _ = srv.request("POST", "/v1/logout", headers={**base, "X-CSRF-Token": csrf})
        self.assertEqual(st, 200)
        st, _, _ = srv.request("GET", "/v1/me", headers=base)
        self.assertEqual(st, 401)


if __name__ == "__main__":
    main()
