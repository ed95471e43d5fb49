"""The audit log commits to the state each event leaves: `gavel audit verify` finds a stance,
a statement, an item's state, an erased reservation, a decision's number, a delegate's member
state changed in the database file, and a row deleted or slipped in, naming the row and the
event that last wrote it. A fresh demo database verifies as it is."""
import json
import os
import shutil
import sqlite3
import struct
import hashlib
import base64

from harness import DEMO_PASSWORD, GavelTest, main, run

POSITION_COLS = ["item_id", "member", "stance", "statement", "actor_id", "on_behalf", "reference", "event_id", "at"]


def row_digest(con, table, cols, rowid):
    """The canonical digest of a row, as docs/plugins.md describes it."""
    out = struct.pack(">Q", len(table)) + table.encode() + struct.pack(">q", rowid)
    row = con.execute(f"SELECT {', '.join(f'{c}, typeof({c})' for c in cols)} FROM {table} WHERE rowid = ?",
                      (rowid,)).fetchone()
    if row is None:
        return hashlib.sha256(out + b"X").digest()
    out += struct.pack(">Q", len(cols))
    for value, kind in zip(row[0::2], row[1::2]):
        if kind == "integer":
            out += b"I" + struct.pack(">q", value)
        elif kind == "real":
            out += b"F" + struct.pack(">d", value)
        elif kind in ("text", "blob"):
            data = value.encode() if kind == "text" else bytes(value)
            out += (b"T" if kind == "text" else b"B") + struct.pack(">Q", len(data)) + data
        else:
            out += b"N"
    return hashlib.sha256(out).digest()


class AuditStateTest(GavelTest):
    def sample_db(self):
        db = self.tmp("s.db")
        run("init", "--db", db, "--forum", "midiocc", "--demo", "--sample", "--demo-password", DEMO_PASSWORD)
        return db

    def copy(self, db, name):
        """A copy of the database (WAL included) and its audit key."""
        dst = self.tmp(name)
        src = sqlite3.connect(db)
        out = sqlite3.connect(dst)
        src.backup(out)
        src.close()
        out.close()
        shutil.copyfile(db + ".audit-key", dst + ".audit-key")
        os.chmod(dst + ".audit-key", 0o600)
        return dst

    def verify(self, db):
        return run("audit", "verify", "--db", db, check=False)

    def test_fresh_sample_database_verifies(self):
        db = self.sample_db()
        p = self.verify(db)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertRegex(p.stdout, r"^ok: \d+ entries")
        self.assertIn("the stored state matches the log", p.stdout)

    def test_state_changed_behind_the_log(self):
        db = self.sample_db()
        srv = self.server(db)
        sec, mg = srv.login("secretariat"), srv.login("mg.delegate")
        st, _, listed = srv.request("GET", "/v1/forums/midiocc/items?workflow=consultation", token=sec)
        self.assertEqual(st, 200, listed)
        cid = listed["items"][0]["id"]
        st, _, b = srv.request("POST", f"/v1/items/{cid}/actions/submit_position",
                               {"params": {"stance": "oppose", "statement": "Not as drafted"}}, mg)
        self.assertEqual(st, 200, b)
        position_event = b["receipt"]["event_id"]
        # A decision adopted with Madagascar's reservation, numbered.
        chair = srv.login("chair")
        st, _, b = srv.request("POST", "/v1/forums/midiocc/items",
                               {"workflow": "decision", "title": "Data sharing",
                                "params": {"text": "The states share migration data."}}, sec)
        self.assertEqual(st, 201, b)
        dec = b["item"]["id"]
        st, _, b = srv.request("POST", f"/v1/items/{dec}/actions/record_outcome",
                               {"params": {"outcome": "adopted_with_reservations",
                                           "reservations": [{"member": "MG", "text": "Madagascar reserves."}]}}, chair)
        self.assertEqual(st, 200, b)
        # Account changes are events too, and their rows are in the log.
        self.assertEqual(srv.request("PATCH", "/v1/me", {"display_name": "Delegate of Madagascar (MG)"}, mg)[0], 200)
        self.assertEqual(srv.request("PATCH", "/v1/users/observer", {"display_name": "The observer"}, sec)[0], 200)
        srv.stop()
        p = self.verify(db)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("the stored state matches the log", p.stdout)

        con = sqlite3.connect(db)
        pos = con.execute("SELECT id FROM positions WHERE event_id = ?", (position_event,)).fetchone()[0]
        km = con.execute("SELECT id FROM users WHERE username = 'km.delegate'").fetchone()[0]
        con.close()

        # The event hook handed the log the position's row with its canonical digest.
        export = self.tmp("audit.jsonl")
        run("audit", "export", "--db", db, "--archive", export)
        with open(export) as f:
            entries = [json.loads(l)["entry"] for l in f if l.startswith('{"index"')]
        entry = [e for e in entries if e["id"] == position_event][0]
        con = sqlite3.connect(db)
        want = base64.b64encode(row_digest(con, "positions", POSITION_COLS, pos)).decode()
        con.close()
        self.assertIn(["positions", pos, want], entry["rows"])

        tampering = [
            ("stance", "UPDATE positions SET stance = 'support' WHERE id = ?", (pos,),
             f"positions row {pos}: changed since event {position_event}"),
            ("statement", "UPDATE positions SET statement = 'As drafted' WHERE id = ?", (pos,),
             f"positions row {pos}: changed since event {position_event}"),
            ("item state", "UPDATE items SET state = 'closed' WHERE id = ?", (cid,),
             f"items row {cid}: changed since event "),
            ("member state", "UPDATE users SET member = 'MU' WHERE id = ?", (km,),
             # gavel init wrote the accounts before the log ran: the entry that caught up with
             # those events took their rows.
             f"users row {km}: changed since event "),
            ("reservation erased", "UPDATE items SET data = json_set(data, '$.reservations', json('[]')) WHERE id = ?",
             (dec,), f"items row {dec}: changed since event "),
            ("decision number", "UPDATE items SET data = json_set(data, '$.number', 'MiDIOCC/2026/99') WHERE id = ?",
             (dec,), f"items row {dec}: changed since event "),
            ("deleted position", "DELETE FROM positions WHERE id = ?", (pos,),
             f"positions row {pos}: deleted since event {position_event}"),
        ]
        for name, sql, args, message in tampering:
            with self.subTest(name):
                copy = self.copy(db, name.replace(" ", "_") + ".db")
                con = sqlite3.connect(copy)
                con.execute(sql, args)
                con.commit()
                con.close()
                p = self.verify(copy)
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertIn(message, p.stdout)
                self.assertIn("FAILED", p.stdout)
        with self.subTest("inserted position"):
            copy = self.copy(db, "inserted.db")
            con = sqlite3.connect(copy)
            cur = con.execute("INSERT INTO positions(id, item_id, member, stance, statement, event_id, at)"
                              " VALUES (1000, ?, 'RE', 'support', '', ?, 0)", (cid, position_event))
            con.commit()
            con.close()
            p = self.verify(copy)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("positions row 1000: written by no event in the log", p.stdout)
        # Changes the record does not show (a password, a session) are no state.
        with self.subTest("password"):
            copy = self.copy(db, "password.db")
            con = sqlite3.connect(copy)
            con.execute("UPDATE users SET password_hash = 'x', must_change_password = 1 WHERE id = ?", (km,))
            con.commit()
            con.close()
            self.assertEqual(self.verify(copy).returncode, 0)


if __name__ == "__main__":
    main()
