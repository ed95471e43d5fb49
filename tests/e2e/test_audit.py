"""The audit plugin end to end: receipts carry the log index, signed checkpoints verify
with the published key, inclusion and consistency proofs verify (RFC 6962/9162), the
exported log re-hashes, and `gavel audit verify` detects a changed or removed entry."""
import base64
import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess

from harness import SOURCE, GavelTest, main, make_demo_db, run, scaled


def h(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def verify_inclusion(index, size, leaf, proof, root):
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h(b"\x01", p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h(b"\x01", r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    if first == second:
        return not proof and first_hash == second_hash
    if not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h(b"\x01", c, fr)
            sr = h(b"\x01", c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h(b"\x01", sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


class AuditTest(GavelTest):
    def parse_note(self, note):
        body, _, sigline = note.partition("\n\n")
        origin, size, root = body.split("\n")
        self.assertTrue(sigline.startswith("\u2014 "))
        _, name, sig = sigline.strip().split(" ")
        return body + "\n", origin, int(size), base64.b64decode(root), name, base64.b64decode(sig)

    def check_signature(self, body, name, sig, vkey):
        kname, keyid_hex, kb64 = vkey.split("+", 2)
        self.assertEqual(kname, name)
        key = base64.b64decode(kb64)
        self.assertEqual(key[0], 1, "Ed25519")
        pub = key[1:]
        self.assertEqual(h(name.encode(), b"\n\x01", pub)[:4].hex(), keyid_hex)
        self.assertEqual(sig[:4].hex(), keyid_hex)
        der = bytes.fromhex("302a300506032b6570032100") + pub
        pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n"
        with open(self.tmp("pub.pem"), "w") as f:
            f.write(pem)
        with open(self.tmp("body"), "wb") as f:
            f.write(body.encode())
        with open(self.tmp("sig"), "wb") as f:
            f.write(sig[4:])
        p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", self.tmp("pub.pem"), "-rawin",
                            "-in", self.tmp("body"), "-sigfile", self.tmp("sig")], capture_output=True, text=True)
        return p.returncode == 0

    def test_receipts_checkpoints_and_proofs(self):
        db = make_demo_db(self.tmp)
        srv = self.server(db)
        sec, km = srv.login("secretariat"), srv.login("km.delegate")
        deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                               {"workflow": "consultation", "title": "Audited",
                                "params": {"question": "Q?", "deadline": deadline, "visibility": "hidden_until_close",
                                           "options": ["aardvark_yes", "aardvark_no"]}}, sec)
        item = b["item"]["id"]
        first_index = b["receipt"]["audit_index"]
        st, _, r = srv.request("POST", f"/v1/items/{item}/actions/submit_position",
                               {"params": {"stance": "aardvark_no", "statement": "Comoros' private okapi"}}, km)
        self.assertEqual(st, 200)
        receipt = r["receipt"]
        self.assertEqual(receipt["audit_index"], first_index + 1, "each action is the next leaf")

        st, _, note1 = srv.request("GET", "/v1/audit/checkpoint", token=km)
        self.assertEqual(st, 200)
        body1, origin, size1, root1, name, sig1 = self.parse_note(note1.decode())
        self.assertEqual(origin, "midiocc.gavel/audit")
        self.assertGreater(size1, receipt["audit_index"])
        st, _, key = srv.request("GET", "/v1/audit/key")
        self.assertEqual(st, 200)
        self.assertTrue(self.check_signature(body1, name, sig1, key["verifier_key"]), "the checkpoint's signature")
        self.assertFalse(self.check_signature(body1.replace(str(size1), str(size1 + 1)), name, sig1, key["verifier_key"]),
                         "a changed checkpoint fails")

        st, _, proof = srv.request("GET", f"/v1/audit/proof/inclusion?event_id={receipt['event_id']}&size={size1}", token=km)
        self.assertEqual(st, 200)
        self.assertEqual(proof["index"], receipt["audit_index"])
        self.assertEqual(base64.b64decode(proof["root"]), root1)
        self.assertTrue(verify_inclusion(proof["index"], size1, base64.b64decode(proof["leaf_hash"]),
                                         [base64.b64decode(p) for p in proof["proof"]], root1))
        self.assertFalse(verify_inclusion(proof["index"] ^ 1, size1, base64.b64decode(proof["leaf_hash"]),
                                          [base64.b64decode(p) for p in proof["proof"]], root1))

        # The log grows; the new checkpoint is consistent with the one kept.
        for i in range(7):
            srv.request("POST", "/v1/forums/midiocc/items",
                        {"workflow": "agenda_item", "title": f"A{i}", "params": {"description": "d"}}, km)
        st, _, note2 = srv.request("GET", "/v1/audit/checkpoint", token=km)
        body2, _, size2, root2, _, sig2 = self.parse_note(note2.decode())
        self.assertGreater(size2, size1)
        self.assertTrue(self.check_signature(body2, name, sig2, key["verifier_key"]))
        st, _, cons = srv.request("GET", f"/v1/audit/proof/consistency?from={size1}&to={size2}", token=km)
        self.assertEqual(st, 200)
        proof_hashes = [base64.b64decode(p) for p in cons["proof"]]
        self.assertTrue(verify_consistency(size1, size2, root1, root2, proof_hashes))
        self.assertFalse(verify_consistency(size1, size2, root1, h(b"forged"), proof_hashes))
        # Every older size is consistent with the newest root (the proof shapes differ per size).
        for s1 in range(1, size2 + 1):
            st, _, c = srv.request("GET", f"/v1/audit/proof/consistency?from={s1}&to={size2}", token=km)
            self.assertEqual(st, 200)
            self.assertEqual(base64.b64decode(c["new_root"]), root2)
            self.assertTrue(verify_consistency(s1, size2, base64.b64decode(c["old_root"]), root2,
                                               [base64.b64decode(p) for p in c["proof"]]), f"from {s1}")
        # Errors are named; the audit routes reveal no stance.
        self.assertEqual(srv.request("GET", "/v1/audit/proof/inclusion?event_id=x&size=1", token=km)[0], 400)
        self.assertEqual(srv.request("GET", f"/v1/audit/proof/consistency?from=5&to={size2 + 5}", token=km)[0], 422)
        self.assertEqual(srv.request("GET", "/v1/audit/checkpoint")[0], 401)
        mg = srv.login("mg.delegate")
        seen = json.dumps([srv.request("GET", p, token=mg)[2] for p in
                           [f"/v1/audit/proof/inclusion?event_id={receipt['event_id']}&size={size2}",
                            f"/v1/audit/proof/consistency?from={size1}&to={size2}"]])
        self.assertNotIn("aardvark_no", seen)
        self.assertNotIn("okapi", seen)
        srv.stop()

        # Offline: the whole log verifies, and its export re-hashes entry by entry. The
        # secretariat's archive (--archive) holds the hidden stances too; the bundle for
        # publication leaves them out until the item closes (test_audit_bundle.py).
        out = run("audit", "verify", "--db", db).stdout
        self.assertRegex(out, r"^ok: \d+ entries, \d+ checkpoints verified")
        export = self.tmp("audit.jsonl")
        run("audit", "export", "--db", db, "--archive", export)
        self.assertEqual(oct(os.stat(export).st_mode & 0o777), "0o600")
        with open(export) as f:
            lines = f.read().splitlines()
        head = json.loads(lines[0])
        self.assertEqual(head["verifier_key"], key["verifier_key"])
        entries = [l for l in lines if l.startswith('{"index"')]
        con = sqlite3.connect(db)
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        con.close()
        self.assertEqual(len(entries), events, "every event is in the log")
        salts = set()
        for line in entries:
            raw = line[line.index('"entry":') + 8:-1].encode()
            leaf = h(b"\x00", raw)
            self.assertEqual(base64.b64encode(leaf).decode(), json.loads(line)["leaf_hash"])
            salts.add(json.loads(line)["entry"]["salt"])
            # The entry is canonical JSON: sorted keys, no spaces, UTF-8.
            self.assertEqual(json.dumps(json.loads(line)["entry"], sort_keys=True, separators=(",", ":"),
                                        ensure_ascii=False).encode(), raw)
        # Each entry has its own salt, so a published leaf hash cannot be matched against
        # guesses of a hidden stance.
        self.assertEqual(len(salts), len(entries))
        sealed = [json.loads(l) for l in entries if json.loads(l)["entry"]["sealed"]]
        self.assertTrue(sealed, "the hidden positions are in the log")
        for line in sealed:
            # Even knowing every other field and the stance itself, the hash is out of reach without the salt.
            e = dict(line["entry"])
            e.pop("salt")
            guess = h(b"\x00", json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
            self.assertNotEqual(base64.b64encode(guess).decode(), line["leaf_hash"])

    def test_verify_detects_changed_and_removed_entries(self):
        db = make_demo_db(self.tmp)
        run("meeting", "add", "--db", db, "--title", "M", "--place", "P", "--start", "2027-01-10")
        run("audit", "checkpoint", "--db", db)
        self.assertIn("ok:", run("audit", "verify", "--db", db).stdout)
        con = sqlite3.connect(db)
        con.execute("UPDATE events SET params = '{\"place\":\"Elsewhere\"}' WHERE action = 'meeting.created'")
        con.commit()
        eid = con.execute("SELECT id FROM events WHERE action = 'meeting.created'").fetchone()[0]
        con.close()
        p = run("audit", "verify", "--db", db, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"event {eid} was changed after it was logged", p.stdout)
        con = sqlite3.connect(db)
        con.execute("DELETE FROM events WHERE id = ?", (eid,))
        con.commit()
        con.close()
        p = run("audit", "verify", "--db", db, check=False)
        self.assertIn(f"event {eid} was removed from the record", p.stdout)
        # An event slipped into the record behind the log's back is reported, not adopted.
        con = sqlite3.connect(db)
        con.execute("INSERT INTO events(id, forum_id, kind, action, at, params) VALUES (1000, 'midiocc', 'meeting',"
                    " 'forged.decision', 1, '{}')")
        con.commit()
        con.close()
        for _ in range(2):
            p = run("audit", "verify", "--db", db, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("1 events are not in the audit log", p.stdout)
        # Rewriting the log to match is caught by the signed checkpoint.
        con = sqlite3.connect(db)
        con.execute("DELETE FROM audit_leaves WHERE event_id = ?", (eid,))
        con.commit()
        con.close()
        p = run("audit", "verify", "--db", db, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAILED", p.stdout)

    def test_workflows_call_the_log(self):
        # A workflow cites the log it was decided against: gavel.call("audit.head").
        wf = self.tmp("workflows")
        shutil.copytree(os.path.join(SOURCE, "workflows"), wf)
        with open(os.path.join(wf, "anchored.lua"), "w") as f:
            f.write('''workflow "anchored" {
  title = { en = "Anchored note", fr = "Note ancrée" },
  states = { "noted" },
  create {
    by = "secretariat",
    params = { bad = boolean { default = false } },
    to = "noted",
    run = function(item, p)
      item.data.log = gavel.call("audit.head")
      if p.bad then gavel.call("audit.nosuch", 1, { x = 2 }) end
    end,
  },
}
''')
        db = make_demo_db(self.tmp)
        srv = self.server(db, "--workflows", wf)
        sec = srv.login("secretariat")
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", {"workflow": "anchored", "title": "A", "params": {}}, sec)
        self.assertEqual(st, 201, b)
        head = b["item"]["data"]["log"]
        self.assertGreater(head["size"], 0)
        self.assertEqual(len(base64.b64decode(head["root"])), 32)
        # The head matches the log: a consistency proof from that size to the current one verifies.
        st, _, cons = srv.request("GET", f"/v1/audit/proof/consistency?from={head['size']}&to={head['size']}", token=sec)
        self.assertEqual(base64.b64decode(cons["old_root"]), base64.b64decode(head["root"]))
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items", {"workflow": "anchored", "title": "B",
                                                                      "params": {"bad": True}}, sec)
        self.assertEqual(st, 500)
        self.assertEqual(b["error"]["code"], "workflow_error")
        self.assertIn('gavel.call("audit.nosuch"): no plugin offers audit.nosuch', b["error"]["message"])

    def serve_fails(self, db, *extra):
        p = subprocess.run([os.environ.get("GAVEL_BINARY", "build/release/gavel"), "serve", "--db", db,
                            "--listen", "127.0.0.1:0", *extra], capture_output=True, text=True, timeout=scaled(60))
        self.assertNotEqual(p.returncode, 0)
        return p.stderr

    def test_settings_and_the_signing_key(self):
        # key_file (relative to the database) is used by the server and by the commands alike.
        db = make_demo_db(self.tmp)
        os.mkdir(self.tmp("keys"), 0o700)
        cfg = self.tmp("gavel.conf.lua")
        with open(cfg, "w") as f:
            f.write('plugins = { audit = { key_file = "keys/audit.key" } }\n')
        srv = self.server(db, "--config", cfg)
        st, _, key = srv.request("GET", "/v1/audit/key")
        self.assertEqual(st, 200)
        srv.stop()
        self.assertEqual(oct(os.stat(self.tmp("keys/audit.key")).st_mode & 0o777), "0o600")
        self.assertFalse(os.path.exists(db + ".audit-key"))
        run("audit", "checkpoint", "--db", db, "--config", cfg)
        export = self.tmp("log.jsonl")
        run("audit", "export", "--db", db, "--config", cfg, export)
        with open(export) as f:
            self.assertEqual(json.loads(f.readline())["verifier_key"], key["verifier_key"])
        self.assertIn("ok:", run("audit", "verify", "--db", db, "--config", cfg).stdout)

        # Mistakes in the settings stop the start with a clear message.
        with open(cfg, "w") as f:
            f.write('plugins = { audit = { colour = "red" } }\n')
        self.assertIn("plugins.audit: unknown setting 'colour'", self.serve_fails(db, "--config", cfg))
        with open(cfg, "w") as f:
            f.write('plugins = { audti = false }\n')
        self.assertIn("plugins: no plugin named 'audti' (there are: audit, email, web, webhook)", self.serve_fails(db, "--config", cfg))
        with open(cfg, "w") as f:
            f.write('plugins = { audit = { key_file = 42 } }\n')
        self.assertIn("plugins.audit: key_file must be a file path", self.serve_fails(db, "--config", cfg))
        with open(cfg, "w") as f:
            f.write('plugins = { audit = { key_file = "keys/audit.key" } }\n')
        # A key others can read is refused; so is starting without the key that signed the log.
        os.chmod(self.tmp("keys/audit.key"), 0o644)
        self.assertIn("can be read by other users", self.serve_fails(db, "--config", cfg))
        os.rename(self.tmp("keys/audit.key"), self.tmp("keys/elsewhere"))
        err = self.serve_fails(db, "--config", cfg)
        self.assertRegex(err, r"audit key .*audit.key is missing, but \d+ checkpoints were signed with it")
        self.assertFalse(os.path.exists(self.tmp("keys/audit.key")), "no new key replaces the lost one")
        # A command run without the settings looks for the default key, and says so rather than make one.
        p = run("user", "list", "--db", db, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(db + ".audit-key is missing", p.stderr)
        self.assertFalse(os.path.exists(db + ".audit-key"))

    def test_a_disabled_log_catches_up_when_enabled(self):
        db = make_demo_db(self.tmp)
        cfg = self.tmp("gavel.conf.lua")
        with open(cfg, "w") as f:
            f.write("plugins = { audit = false }\n")
        srv = self.server(db, "--config", cfg)
        sec = srv.login("secretariat")
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                               {"workflow": "agenda_item", "title": "Unlogged", "params": {"description": "d"}}, sec)
        self.assertEqual(st, 201)
        self.assertNotIn("audit_index", b["receipt"])
        self.assertEqual(srv.request("GET", "/v1/audit/key")[0], 404)
        srv.stop()
        srv = self.server(db)
        sec = srv.login("secretariat")
        st, _, note = srv.request("GET", "/v1/audit/checkpoint", token=sec)
        self.assertEqual(st, 200)
        srv.stop()
        con = sqlite3.connect(db)
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        leaves = con.execute("SELECT count(*) FROM audit_leaves").fetchone()[0]
        con.close()
        self.assertEqual(leaves, events)
        self.assertIn(f"\n{events}\n", note.decode())
        self.assertIn("ok:", run("audit", "verify", "--db", db).stdout)


if __name__ == "__main__":
    main()
