"""The audit bundle end to end: `gavel audit export` writes it, and both `gavel audit verify
--bundle` and the independent tests/audit/verify_bundle.py check it in a directory with
neither the database nor the key; the payload of a result still hidden stays out of it
while its leaf hash verifies; a changed entry field, a changed salt, a dropped entry and a
forged checkpoint signature are each found by both, which exit 1."""
import base64
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import BINARY, SOURCE, GavelTest, main, make_demo_db, run, scaled, check_sanitizer

VERIFIER = os.path.join(SOURCE, "tests", "audit", "verify_bundle.py")


class AuditBundleTest(GavelTest):
    def away(self):
        """A directory on 'another machine': no database, no key, no configuration."""
        d = tempfile.mkdtemp(prefix="gavel-auditor-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def gavel_verify(self, cwd, *args):
        e = dict(os.environ, GAVEL_LOG_LEVEL="warn")
        e.pop("GAVEL_DATABASE", None)
        p = subprocess.run([os.path.abspath(BINARY), "audit", "verify", *args], cwd=cwd, capture_output=True, text=True,
                           env=e, timeout=scaled(120))
        check_sanitizer(p.stderr, "gavel audit verify " + " ".join(args))
        return p

    def python_verify(self, cwd, *args):
        return subprocess.run(["/usr/bin/python3", VERIFIER, *args], cwd=cwd, capture_output=True, text=True,
                              timeout=scaled(120))

    def both_fail(self, cwd, name, lines, want):
        with open(os.path.join(cwd, name), "w") as f:
            f.write("\n".join(lines) + "\n")
        for who, p in (("gavel", self.gavel_verify(cwd, "--bundle", name)), ("python", self.python_verify(cwd, name))):
            self.assertEqual(p.returncode, 1, f"{who} must refuse {name}:\n{p.stdout}{p.stderr}")
            self.assertIn(want, p.stdout, f"{who} on {name}")

    def make_record(self):
        db = make_demo_db(self.tmp)
        srv = self.server(db)
        sec, km, mg = srv.login("secretariat"), srv.login("km.delegate"), srv.login("mg.delegate")
        deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        items = []
        for title in ("Still hidden", "Closed"):
            st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                                   {"workflow": "consultation", "title": title,
                                    "params": {"question": "Q?", "deadline": deadline, "visibility": "hidden_until_close",
                                               "options": ["aardvark_yes", "aardvark_no"]}}, sec)
            self.assertIn(st, (200, 201), b)
            items.append(b["item"]["id"])
        st, _, r = srv.request("POST", f"/v1/items/{items[0]}/actions/submit_position",
                               {"params": {"stance": "aardvark_no", "statement": "Comoros' private okapi"}}, km)
        self.assertEqual(st, 200, r)
        hidden_event = r["receipt"]["event_id"]
        st, _, r = srv.request("POST", f"/v1/items/{items[1]}/actions/submit_position",
                               {"params": {"stance": "aardvark_yes", "statement": "Madagascar's public giraffe"}}, mg)
        self.assertEqual(st, 200, r)
        st, _, r = srv.request("POST", f"/v1/items/{items[1]}/actions/close", {"params": {"reason": "All heard."}}, sec)
        self.assertEqual(st, 200, r)
        st, _, note = srv.request("GET", "/v1/audit/checkpoint", token=km)
        self.assertEqual(st, 200)
        st, _, key = srv.request("GET", "/v1/audit/key")
        srv.stop()
        run("meeting", "add", "--db", db, "--title", "Plenary", "--place", "Port Louis", "--start", "2027-01-10")
        return db, hidden_event, note.decode(), key["verifier_key"]

    def test_bundle_verifies_away_from_the_database_and_tampering_shows(self):
        db, hidden_event, early_note, vkey = self.make_record()
        bundle = self.tmp("bundle.jsonl")
        out = run("audit", "export", "--db", db, bundle).stdout
        self.assertRegex(out, r"exported \d+ entries \(1 withheld")
        self.assertEqual(oct(os.stat(bundle).st_mode & 0o777), "0o600")
        with open(bundle) as f:
            text = f.read()
        lines = text.splitlines()

        # What it holds: the key, the forum, the workflow sources, every entry with its salt.
        head = json.loads(lines[0])
        self.assertEqual(head["format"], "gavel-audit-bundle/1")
        self.assertEqual(head["verifier_key"], vkey)
        self.assertEqual(json.loads(lines[1])["forum"]["id"], "midiocc")
        versions = [json.loads(l)["workflow_version"] for l in lines if l.startswith('{"workflow_version"')]
        self.assertIn("consultation", [v["name"] for v in versions])
        self.assertTrue(all(v["source"] for v in versions))
        entries = [json.loads(l) for l in lines if l.startswith('{"index"')]
        self.assertTrue(all(len(base64.b64decode(e["entry"]["salt"])) == 16 for e in entries if "entry" in e))
        # The hidden result: its payload is absent, its leaf hash is there; the closed one is disclosed.
        withheld = [e for e in entries if "withheld" in e]
        self.assertEqual([e["withheld"]["event_id"] for e in withheld], [hidden_event])
        self.assertEqual(len(base64.b64decode(withheld[0]["leaf_hash"])), 32)
        self.assertNotIn("okapi", text)
        self.assertFalse([e for e in entries if "entry" in e and e["entry"]["action"] == "submit_position"
                          and e["entry"]["member"] == "KM"], "Comoros' hidden position")
        self.assertIn("public giraffe", text)
        self.assertIn("Port Louis", text)

        # On another machine: a copy of the bundle alone, the database and its key gone.
        away = self.away()
        shutil.copyfile(bundle, os.path.join(away, "bundle.jsonl"))
        os.remove(db)
        os.remove(db + ".audit-key")
        p = self.gavel_verify(away, "--bundle", "bundle.jsonl")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, rf"^ok: bundle of {len(entries)} entries \(1 withheld until their results are disclosed\)")
        root = p.stdout.strip().rsplit(" ", 1)[1]
        p = self.python_verify(away, "bundle.jsonl")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(p.stdout.startswith(f"ok: bundle of {len(entries)} entries (1 withheld)"), p.stdout)
        self.assertEqual(p.stdout.strip().rsplit(" ", 1)[1], root, "both verifiers find the same root")

        # A checkpoint kept from earlier, with the key trusted then: the bundle extends it.
        with open(os.path.join(away, "kept.txt"), "w") as f:
            f.write(vkey + "\n" + early_note)
        for p in (self.gavel_verify(away, "--bundle", "bundle.jsonl", "--checkpoint", "kept.txt"),
                  self.python_verify(away, "bundle.jsonl", "--checkpoint", "kept.txt")):
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        forged_root = early_note.replace(early_note.split("\n")[2], base64.b64encode(b"\x07" * 32).decode())
        with open(os.path.join(away, "forged.txt"), "w") as f:
            f.write(forged_root)
        for p in (self.gavel_verify(away, "--bundle", "bundle.jsonl", "--checkpoint", "forged.txt"),
                  self.python_verify(away, "bundle.jsonl", "--checkpoint", "forged.txt")):
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("trusted checkpoint", p.stdout)

        # Tampering, each found by both verifiers with the entry it concerns.
        at = [i for i, l in enumerate(lines) if '"action":"meeting.created"' in l][0]
        idx = json.loads(lines[at])["index"]
        changed = list(lines)
        changed[at] = changed[at].replace("Port Louis", "Elsewhere")
        self.both_fail(away, "field.jsonl", changed, f"entry {idx}: the entry does not hash to its leaf")
        salted = list(lines)
        salt = json.loads(lines[at])["entry"]["salt"]
        other = base64.b64encode(bytes(b ^ 1 for b in base64.b64decode(salt))).decode()
        salted[at] = salted[at].replace(f'"salt":"{salt}"', f'"salt":"{other}"')
        self.assertNotEqual(salted[at], lines[at])
        self.both_fail(away, "salt.jsonl", salted, f"entry {idx}: the entry does not hash to its leaf")
        first = [i for i, l in enumerate(lines) if l.startswith('{"index"')][0]
        dropped = list(lines)
        victim = json.loads(lines[first + 3])["index"]
        del dropped[first + 3]
        self.both_fail(away, "dropped.jsonl", dropped, f"entry {victim} is missing")
        forged = list(lines)
        cp = [i for i, l in enumerate(lines) if l.startswith('{"checkpoint"')][-1]
        o = json.loads(lines[cp])
        body, _, sigline = o["note"].partition("\n\n")
        dash, name, sig = sigline.strip().split(" ")
        bad = bytearray(base64.b64decode(sig))
        bad[20] ^= 0x40
        o["note"] = f"{body}\n\n{dash} {name} {base64.b64encode(bytes(bad)).decode()}\n"
        forged[cp] = json.dumps(o, ensure_ascii=False)
        self.both_fail(away, "signature.jsonl", forged, "has a bad signature")
        # Nothing at all is not a bundle.
        self.both_fail(away, "empty.jsonl", [], "empty")


if __name__ == "__main__":
    main()
