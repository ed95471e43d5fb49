"""docs/openapi.yaml against the real server: the same routes as core/api/router.c, every $ref
resolving, and real responses that match the document's schemas.

The schema check is a small hand-written validator (no jsonschema library is available):
type (with lists and null), const, enum, required, properties, additionalProperties, items,
allOf / anyOf / oneOf, $ref, formats date-time and date, string lengths and number bounds.
It is stricter than JSON Schema in one way, so that the document cannot fall behind the
server: an object may carry only properties its schema declares (through properties or
allOf branches), unless the schema allows others with additionalProperties or declares
no properties at all.
"""
import datetime
import os
import re

import yaml

from harness import SOURCE, GavelTest, main, make_demo_db, run

DOC_PATH = os.path.join(SOURCE, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load_doc():
    with open(DOC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        raise KeyError(f"only local references are supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise KeyError(ref)
        node = node[part]
    return node


def operations(doc):
    """Yields (METHOD, path, operation, path item)."""
    for path, item in doc["paths"].items():
        for m in METHODS:
            if m in item:
                yield m.upper(), path, item[m], item


# ---- The validator --------------------------------------------------------------------------

def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


OPEN = None  # "any property is accepted"


class Validator:
    def __init__(self, doc):
        self.doc = doc

    def validate(self, schema, value, where="$"):
        """Returns a list of problems (empty when value matches schema)."""
        errors = []
        self._value(schema, value, where, errors)
        return errors

    def _value(self, schema, value, where, errors):
        """Validates one value, with the strict check on undeclared properties."""
        evaluated = self._check(schema, value, where, errors)
        if isinstance(value, dict) and evaluated is not OPEN:
            for k in value:
                if k not in evaluated:
                    errors.append(f"{where}: property '{k}' is not declared in the document")

    def _check(self, schema, value, where, errors):
        """Applies schema to value; returns the declared property names (or OPEN)."""
        if schema is True or schema == {}:
            return OPEN
        if schema is False:
            errors.append(f"{where}: no value is allowed here")
            return OPEN
        evaluated = set()
        declares = False
        is_open = False
        if "$ref" in schema:
            sub = self._check(resolve(self.doc, schema["$ref"]), value, where, errors)
            if sub is OPEN:
                is_open = True
            else:
                declares = True
                evaluated |= sub
        t = schema.get("type")
        if t is not None:
            types = t if isinstance(t, list) else [t]
            actual = json_type(value)
            if actual not in types and not (actual == "integer" and "number" in types):
                errors.append(f"{where}: expected {' or '.join(types)}, got {actual} ({value!r:.80})")
                return OPEN
        if "const" in schema and value != schema["const"]:
            errors.append(f"{where}: expected {schema['const']!r}, got {value!r:.80}")
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: {value!r:.80} is not one of {schema['enum']}")
        if isinstance(value, str):
            fmt = schema.get("format")
            if fmt == "date-time" and not DATE_TIME.match(value):
                errors.append(f"{where}: {value!r} is not an RFC 3339 date-time")
            if fmt == "date" and not DATE.match(value):
                errors.append(f"{where}: {value!r} is not a date YYYY-MM-DD")
            if "minLength" in schema and len(value) < schema["minLength"]:
                errors.append(f"{where}: shorter than {schema['minLength']}")
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                errors.append(f"{where}: longer than {schema['maxLength']}")
        if json_type(value) in ("integer", "number"):
            if "minimum" in schema and value < schema["minimum"]:
                errors.append(f"{where}: {value} is below {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                errors.append(f"{where}: {value} is above {schema['maximum']}")
        for sub in schema.get("allOf", []):
            got = self._check(sub, value, where, errors)
            if got is OPEN:
                is_open = True
            else:
                declares = True
                evaluated |= got
        for key in ("anyOf", "oneOf"):
            if key not in schema:
                continue
            passing = []
            for i, sub in enumerate(schema[key]):
                errs = []
                got = self._check(sub, value, f"{where}<{key}[{i}]>", errs)
                if not errs:
                    passing.append(got)
            if not passing:
                errors.append(f"{where}: matches none of the {key} alternatives ({value!r:.80})")
            elif key == "oneOf" and len(passing) > 1:
                errors.append(f"{where}: matches {len(passing)} of the oneOf alternatives")
            for got in passing:
                if got is OPEN:
                    is_open = True
                else:
                    declares = True
                    evaluated |= got
        if isinstance(value, dict):
            props = schema.get("properties", {})
            if "properties" in schema:
                declares = True
                evaluated |= set(props)
            for k in schema.get("required", []):
                if k not in value:
                    errors.append(f"{where}: required property '{k}' is missing")
            for k, v in value.items():
                if k in props:
                    self._value(props[k], v, f"{where}.{k}", errors)
            ap = schema.get("additionalProperties")
            if ap is not None:
                extra = [k for k in value if k not in props]
                if ap is False:
                    for k in extra:
                        errors.append(f"{where}: property '{k}' is not allowed")
                else:
                    is_open = True
                    if isinstance(ap, dict):
                        for k in extra:
                            self._value(ap, value[k], f"{where}.{k}", errors)
        if isinstance(value, list) and "items" in schema:
            for i, v in enumerate(value):
                self._value(schema["items"], v, f"{where}[{i}]", errors)
        if is_open or not declares:
            return OPEN
        return evaluated


# ---- Tests ---------------------------------------------------------------------------------

class OpenApiDocumentTest(GavelTest):
    def setUp(self):
        super().setUp()
        self.doc = load_doc()

    def test_document_is_openapi_31(self):
        self.assertEqual(self.doc["openapi"][:4], "3.1.")
        for key in ("info", "paths", "components"):
            self.assertIn(key, self.doc)
        for name in ("Item", "ItemBrief", "Action", "ParamSpec", "Event", "Position", "Summary", "Receipt",
                     "Forum", "Meeting", "User", "Error"):
            self.assertIn(name, self.doc["components"]["schemas"])

    def test_routes_match_the_router(self):
        printed = run("serve", "--print-routes").stdout.strip().splitlines()
        server, test_clock = set(), set()
        for line in printed:
            parts = line.split()
            self.assertIn(len(parts), (2, 3), f"unexpected --print-routes line: {line!r}")
            server.add((parts[0], parts[1]))
            if len(parts) == 3:
                self.assertEqual(parts[2], "test-clock", line)
                test_clock.add((parts[0], parts[1]))
        documented, doc_test_clock = set(), set()
        for method, path, op, _ in operations(self.doc):
            documented.add((method, path))
            if op.get("x-gavel-test-clock"):
                doc_test_clock.add((method, path))
        missing = sorted(server - documented)
        extra = sorted(documented - server)
        self.assertFalse(missing or extra,
                         "docs/openapi.yaml and core/api/router.c disagree:\n"
                         + "".join(f"  not documented: {m} {p}\n" for m, p in missing)
                         + "".join(f"  documented but not routed: {m} {p}\n" for m, p in extra))
        self.assertEqual(doc_test_clock, test_clock,
                         "x-gavel-test-clock must mark exactly the routes that exist only with --test-clock")

    def test_every_operation_declares_client_errors(self):
        problems = []
        ids = set()
        for method, path, op, item in operations(self.doc):
            name = f"{method} {path}"
            codes = [str(c) for c in op.get("responses", {})]
            if not any(c.startswith("4") for c in codes):
                problems.append(f"{name}: no 4xx response")
            if not any(c.startswith("2") for c in codes):
                problems.append(f"{name}: no 2xx response")
            for key in ("summary", "description", "operationId"):
                if not op.get(key):
                    problems.append(f"{name}: no {key}")
            if op.get("operationId") in ids:
                problems.append(f"{name}: operationId {op['operationId']} is used twice")
            ids.add(op.get("operationId"))
            # Every {param} of the path is declared as a path parameter.
            params = []
            for p in item.get("parameters", []) + op.get("parameters", []):
                if "$ref" in p:
                    p = resolve(self.doc, p["$ref"])
                params.append(p)
            declared = {p["name"] for p in params if p.get("in") == "path"}
            wanted = set(re.findall(r"\{([^}]+)\}", path))
            if declared != wanted:
                problems.append(f"{name}: path parameters {sorted(declared)} but the path has {sorted(wanted)}")
            # Routes that need a session say so (or public ones opt out with security: []).
            sec = op.get("security", self.doc.get("security"))
            if sec is None:
                problems.append(f"{name}: no security")
        self.assertEqual(problems, [])

    def test_every_ref_resolves(self):
        broken = []

        def walk(node, where):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "$ref" and isinstance(v, str):
                        try:
                            resolve(self.doc, v)
                        except KeyError:
                            broken.append(f"{where}: {v}")
                    else:
                        walk(v, f"{where}/{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{where}/{i}")

        walk(self.doc, "#")
        self.assertEqual(broken, [], "unresolved $ref")
        # Security requirements name declared schemes.
        schemes = set(self.doc["components"]["securitySchemes"])
        for method, path, op, _ in operations(self.doc):
            for req in op.get("security", self.doc.get("security", [])):
                self.assertLessEqual(set(req), schemes, f"{method} {path}")

    def test_error_codes_match_errors_h(self):
        with open(os.path.join(SOURCE, "include", "gavel", "errors.h"), encoding="utf-8") as f:
            codes = set(re.findall(r'X\(\w+,\s*-?\d+,\s*"(\w+)"', f.read()))
        codes.discard("ok")
        self.assertGreater(len(codes), 10)
        enum = set(self.doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
        self.assertEqual(sorted(codes - enum), [], "codes of include/gavel/errors.h missing from the Error schema")

    def test_validator_catches_drift(self):
        v = Validator(self.doc)
        receipt = {"$ref": "#/components/schemas/Receipt"}
        good = {"event_id": 1, "committed_at": "2026-01-01T00:00:00.000Z", "item_id": 2}
        self.assertEqual(v.validate(receipt, good), [])
        self.assertTrue(v.validate(receipt, {**good, "committed_at": 1767225600000}))
        self.assertTrue(v.validate(receipt, {k: good[k] for k in ("event_id", "item_id")}))
        self.assertTrue(v.validate(receipt, {**good, "surprise": True}))
        self.assertTrue(v.validate({"$ref": "#/components/schemas/Role"}, "king"))
        me = {"$ref": "#/components/schemas/Me"}
        self.assertTrue(v.validate(me, {"id": 1}))


class OpenApiLiveTest(GavelTest):
    """Real calls, each checked against the document's schema for its route and status."""

    def setUp(self):
        super().setUp()
        self.doc = load_doc()
        self.validator = Validator(self.doc)
        self.covered = set()

    def find_operation(self, method, path, any_method=False):
        """The documented operation for method and path; with any_method (a 405), one of the
        path's operations, which all document the 405."""
        bare = path.split("?")[0]
        for m, template, op, _ in operations(self.doc):
            if m != method and not any_method:
                continue
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, bare):
                return template, op
        self.fail(f"{method} {bare} is not in docs/openapi.yaml")

    def call(self, srv, method, path, status, body=None, token=None, headers=None, raw=None):
        """Makes the call, checks its status, and validates the answer against the document."""
        st, hdrs, payload = srv.request(method, path, body, token, headers=headers, raw=raw)
        self.assertEqual(st, status, f"{method} {path}: {st} {payload!r:.500}")
        template, op = self.find_operation(method, path, any_method=(st == 405))
        self.covered.add((method, template, st))
        responses = op["responses"]
        self.assertIn(str(st), {str(k) for k in responses},
                      f"{method} {template} answered {st}, which the document does not list")
        resp = responses.get(str(st), responses.get(st))
        if "$ref" in resp:
            resp = resolve(self.doc, resp["$ref"])
        ctype = hdrs.get("content-type", "").split(";")[0].strip()
        content = resp.get("content", {})
        self.assertIn(ctype, content, f"{method} {template} {st}: Content-Type {ctype} is not documented")
        schema = content[ctype].get("schema")
        if schema is not None and ctype == "application/json":
            errors = self.validator.validate(schema, payload)
            self.assertEqual(errors, [], f"{method} {template} {st} does not match the document:\n"
                             + "\n".join(errors) + f"\nbody: {payload!r:.2000}")
        return payload, hdrs

    def test_live_responses_match_the_document(self):
        srv = self.server(make_demo_db(self.tmp))
        sec, chair, km, obs = (srv.login(u) for u in ("secretariat", "chair", "km.delegate", "observer"))

        # Health, the caller, the forum, workflows, accounts.
        self.call(srv, "GET", "/healthz", 200)
        self.call(srv, "GET", "/metrics", 200)
        me, _ = self.call(srv, "GET", "/v1/me", 200, token=km)
        self.assertEqual(me["member"], "KM")
        self.call(srv, "GET", "/v1/me", 200, token=chair)
        self.call(srv, "GET", "/v1/forums/midiocc", 200, token=obs)
        self.call(srv, "GET", "/v1/workflows", 200, token=obs)
        self.call(srv, "GET", "/v1/me/member/accounts", 200, token=km)
        self.call(srv, "GET", "/v1/users?member=KM", 200, token=sec)
        self.call(srv, "GET", "/v1/users/km.delegate", 200, token=sec)
        self.call(srv, "PATCH", "/v1/me", 200, {"notify": "digest"}, token=obs)
        self.call(srv, "POST", "/v1/users", 201, {"username": "km.second", "role": "delegate", "member": "KM"},
                  token=sec)
        self.call(srv, "PATCH", "/v1/users/km.second", 200, {"display_name": "Second KM"}, token=sec)
        self.call(srv, "POST", "/v1/users/km.second/reset-password", 200, token=sec)
        self.call(srv, "GET", "/v1/incidents", 200, token=sec)

        # A consultation with hidden results: create (idempotently), act, read.
        body = {"workflow": "consultation", "title": {"en": "Labour mobility", "fr": "Mobilité"},
                "params": {"question": "Do you support the conclusions?", "deadline": "2099-03-01T17:00:00+04:00",
                           "visibility": "hidden_until_close"}}
        created, _ = self.call(srv, "POST", "/v1/forums/midiocc/items", 201, body, token=sec,
                               headers={"Idempotency-Key": "create-1"})
        item = created["item"]["id"]
        again, hdrs = self.call(srv, "POST", "/v1/forums/midiocc/items", 201, body, token=sec,
                                headers={"Idempotency-Key": "create-1"})
        self.assertEqual(hdrs.get("idempotent-replayed"), "true")
        self.assertEqual(again["receipt"], created["receipt"])
        err, _ = self.call(srv, "POST", "/v1/forums/midiocc/items", 422, {**body, "title": "Other"}, token=sec,
                           headers={"Idempotency-Key": "create-1"})
        self.assertEqual(err["error"]["code"], "idempotency_key_reused")
        self.call(srv, "GET", f"/v1/items/{item}", 200, token=km)
        self.call(srv, "POST", f"/v1/items/{item}/actions/submit_position", 200,
                  {"params": {"stance": "support_with_reservations", "statement": "Paragraph 4."}}, token=km,
                  headers={"Idempotency-Key": "km-answer"})
        for tok in (km, obs, sec):
            self.call(srv, "GET", f"/v1/items/{item}", 200, token=tok)
            self.call(srv, "GET", f"/v1/items/{item}/positions", 200, token=tok)
            self.call(srv, "GET", f"/v1/items/{item}/positions?history=true", 200, token=tok)
            self.call(srv, "GET", f"/v1/items/{item}/events", 200, token=tok)
        sealed, _ = self.call(srv, "GET", f"/v1/items/{item}/positions", 200, token=obs)
        self.assertTrue(sealed["positions"][0]["sealed"])
        self.call(srv, "GET", "/v1/forums/midiocc/items?workflow=consultation&limit=10", 200, token=obs)
        self.call(srv, "GET", "/v1/forums/midiocc/items?awaiting=me", 200, token=km)

        # A draft with two versions.
        d, _ = self.call(srv, "POST", "/v1/forums/midiocc/items", 201,
                         {"workflow": "draft", "title": "Draft conclusions",
                          "params": {"text": {"en": "One.\n\nTwo.", "fr": "Un.\n\nDeux."}}}, token=sec)
        draft = d["item"]["id"]
        self.call(srv, "POST", f"/v1/items/{draft}/actions/revise", 200,
                  {"params": {"text": {"en": "One.\n\nTwo, revised.", "fr": "Un.\n\nDeux, révisé."}}}, token=sec)
        self.call(srv, "GET", f"/v1/items/{draft}/versions", 200, token=obs)
        self.call(srv, "GET", f"/v1/items/{draft}/diff?from=1&to=2&lang=fr", 200, token=obs)

        # A meeting with an agenda item, the agenda adopted, the record.
        day = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=90)).date().isoformat()
        m, _ = self.call(srv, "POST", "/v1/meetings", 201,
                         {"title": {"en": "Ministerial", "fr": "Ministérielle"}, "place": "Port Louis",
                          "starts_on": day}, token=sec)
        meeting = m["meeting"]["id"]
        a, _ = self.call(srv, "POST", "/v1/forums/midiocc/items", 201,
                         {"workflow": "agenda_item", "title": "Seasonal workers",
                          "params": {"description": "A point on seasonal workers.", "meeting": meeting}}, token=km)
        agenda_item = a["item"]["id"]
        self.call(srv, "POST", f"/v1/items/{agenda_item}/actions/accept", 200, token=sec)
        self.call(srv, "POST", f"/v1/items/{agenda_item}/actions/schedule", 200, {"params": {"meeting": meeting}},
                  token=sec)
        self.call(srv, "GET", "/v1/meetings", 200, token=obs)
        self.call(srv, "GET", f"/v1/meetings/{meeting}", 200, token=obs)
        self.call(srv, "POST", f"/v1/meetings/{meeting}/adopt-agenda", 200, token=chair)
        self.call(srv, "GET", f"/v1/meetings/{meeting}/record", 200, token=obs)
        self.call(srv, "GET", f"/v1/meetings/{meeting}/record?format=md", 200, token=obs)
        self.call(srv, "POST", "/v1/test/clock", 200, {"advance_seconds": 0}, token=sec)

        # The web pages.
        self.call(srv, "GET", "/", 200)
        self.call(srv, "GET", f"/items/{item}", 200)
        self.call(srv, "GET", "/assets/app.js", 200)
        self.call(srv, "GET", "/assets/nosuch.js", 404)

        # The audit log: key, checkpoint, proofs.
        self.call(srv, "GET", "/v1/audit/key", 200)
        self.call(srv, "GET", "/v1/audit/checkpoint", 200, token=obs)
        size = int(srv.request("GET", "/v1/audit/checkpoint", token=obs)[2].decode().split("\n")[1])
        self.call(srv, "GET", f"/v1/audit/proof/inclusion?event_id={created['receipt']['event_id']}&size={size}", 200,
                  token=km)
        self.call(srv, "GET", f"/v1/audit/proof/consistency?from=1&to={size}", 200, token=km)
        self.call(srv, "GET", f"/v1/audit/proof/consistency?from=2&to={size + 1}", 422, token=km)
        self.call(srv, "GET", "/v1/audit/proof/inclusion?event_id=999999&size=1", 404, token=km)
        self.call(srv, "GET", "/v1/audit/proof/inclusion", 400, token=km)

        # The change feed and webhooks.
        feed, _ = self.call(srv, "GET", "/v1/forums/midiocc/events?limit=3", 200, token=obs)
        self.call(srv, "GET", f"/v1/forums/midiocc/events?after={feed['next']}", 200, token=km)
        self.call(srv, "GET", "/v1/forums/midiocc/events?limit=0", 422, token=km)
        hook, _ = self.call(srv, "POST", "/v1/forums/midiocc/webhooks", 201,
                            {"url": "http://127.0.0.1:9/events", "events": ["action"]}, token=sec)
        self.call(srv, "GET", "/v1/forums/midiocc/webhooks", 200, token=sec)
        self.call(srv, "GET", "/v1/forums/midiocc/webhooks", 403, token=km)
        self.call(srv, "POST", "/v1/forums/midiocc/webhooks", 422, {"url": "gopher://x"}, token=sec)
        self.call(srv, "DELETE", f"/v1/forums/midiocc/webhooks/{hook['id']}", 200, token=sec)
        self.call(srv, "DELETE", f"/v1/forums/midiocc/webhooks/{hook['id']}", 404, token=sec)

        # Errors, each in the documented shape and status.
        self.call(srv, "GET", "/v1/me", 401)
        self.call(srv, "GET", f"/v1/items/{item}", 401, token="not-a-token")
        self.call(srv, "GET", "/v1/items/999999", 404, token=km)
        self.call(srv, "GET", "/v1/forums/nosuch", 404, token=km)
        self.call(srv, "GET", "/v1/users", 403, token=km)
        self.call(srv, "GET", "/v1/me/member/accounts", 403, token=obs)
        self.call(srv, "POST", f"/v1/items/{item}/actions/close", 403, token=obs)
        self.call(srv, "POST", f"/v1/items/{item}/actions/nosuch", 404, token=sec)
        self.call(srv, "POST", f"/v1/items/{item}/actions/submit_position", 422, {"params": {"stance": "maybe"}},
                  token=km)
        self.call(srv, "POST", f"/v1/items/{item}/actions/submit_position", 400, {"stance": "support"}, token=km)
        self.call(srv, "POST", f"/v1/meetings/{meeting}/adopt-agenda", 409, token=chair)
        self.call(srv, "POST", f"/v1/items/{draft}/actions/propose_amendment", 409,
                  {"params": {"version": 2, "paragraph": 1, "text": "x"}}, token=km)
        self.call(srv, "GET", f"/v1/items/{item}/versions", 404, token=km)
        self.call(srv, "GET", f"/v1/items/{draft}/diff?from=9", 400, token=km)
        self.call(srv, "GET", "/v1/forums/midiocc/items?limit=0", 400, token=km)
        self.call(srv, "GET", f"/v1/meetings/{meeting}/record?format=pdf", 422, token=km)
        self.call(srv, "POST", "/v1/users", 409, {"username": "km.second", "role": "observer"}, token=sec)
        self.call(srv, "PATCH", "/v1/me", 400, {"colour": "blue"}, token=km)
        self.call(srv, "DELETE", "/v1/me", 405, token=km)
        self.call(srv, "POST", "/v1/login", 415, raw=b"username=x", headers={"Content-Type": "text/plain"})
        self.call(srv, "POST", "/v1/login", 400, raw=b"{not json", headers={"Content-Type": "application/json"})
        self.call(srv, "POST", "/v1/login", 401, {"username": "km.delegate", "password": "wrong-password"})
        self.call(srv, "POST", "/v1/forums/midiocc/items", 400, body, token=sec,
                  headers={"Idempotency-Key": "bad key"})
        self.call(srv, "POST", "/v1/test/clock", 422, {"advance_seconds": -1}, token=sec)
        self.call(srv, "POST", "/v1/logout", 200, token=obs)
        self.call(srv, "GET", "/v1/me", 401, token=obs)

        routes = {(m, t) for m, t, _ in self.covered}
        print(f"\n  checked {len(self.covered)} (route, status) pairs on {len(routes)} of "
              f"{sum(1 for _ in operations(self.doc))} documented operations")


if __name__ == "__main__":
    main()
