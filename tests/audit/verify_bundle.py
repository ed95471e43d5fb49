#!/usr/bin/python3
"""An independent verifier of a Gavel audit bundle, written from plugins/audit/README.md
("The bundle") with the Python standard library and the `cryptography` module only: it
never calls gavel. It checks every leaf hash against its entry's bytes, the Merkle tree,
every checkpoint's Ed25519 signature with the bundle's verifier key, that each checkpoint
is a prefix of the bundle (consistency), that the newest one covers every entry, the
workflow versions' hashes, and optionally a trusted checkpoint (and key) kept from earlier.

usage: verify_bundle.py BUNDLE [--checkpoint FILE]
Prints "ok: ..." and exits 0, or one "problem: ..." line per problem and exits 1."""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "gavel-audit-bundle/1"


def sha256(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


class Tree:
    """RFC 6962 Merkle tree hashes of the prefixes of a list of leaf hashes; complete
    subtrees are kept, so each prefix root takes O(log n) hashes."""

    def __init__(self, leaves):
        self.leaves = leaves
        self.cache = {}

    def range(self, a, b):
        n = b - a
        if n == 1:
            return self.leaves[a]
        aligned = n & (n - 1) == 0 and a % n == 0
        if aligned and (a, b) in self.cache:
            return self.cache[(a, b)]
        k = 1
        while k * 2 < n:
            k *= 2
        h = sha256(b"\x01", self.range(a, a + k), self.range(a + k, b))
        if aligned:
            self.cache[(a, b)] = h
        return h

    def root(self, size):
        return sha256(b"") if size == 0 else self.range(0, size)


def parse_key(text):
    """name+hex(key id)+base64(0x01 || Ed25519 public key) -> (name, key id, public key bytes)."""
    name, key_id, b64 = text.strip().split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 1 or len(key_id) != 8:
        raise ValueError("not an Ed25519 verifier key")
    pub = raw[1:]
    if sha256(name.encode(), b"\n\x01", pub)[:4] != bytes.fromhex(key_id):
        raise ValueError("the key id does not match the key")
    return name, bytes.fromhex(key_id), pub


def check_note(note, origin, key):
    """A signed note -> (size, root), or raises ValueError saying what is wrong."""
    name, key_id, pub = key
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise ValueError("is not a signed checkpoint")
    lines = body.split("\n")
    if len(lines) != 3:
        raise ValueError("is not a signed checkpoint")
    if lines[0] != origin:
        raise ValueError(f"is of another log ({lines[0]})")
    size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
    signed = (body + "\n").encode()
    for line in sigs.split("\n"):
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == "\u2014" and parts[1] == name:
            sig = base64.b64decode(parts[2])
            if len(sig) == 68 and sig[:4] == key_id:
                try:
                    Ed25519PublicKey.from_public_bytes(pub).verify(sig[4:], signed)
                    return size, root
                except InvalidSignature:
                    pass
    raise ValueError("has a bad signature")


def version_hash(v):
    h = hashlib.sha256(v["source"].encode())
    for name in sorted(v.get("modules", {}), key=lambda s: s.encode()):
        src = v["modules"][name]["source"].encode()
        h.update(f"\n--@module {name} {len(src)}\n".encode())
        h.update(src)
    return h.hexdigest()


def verify(path, trusted=None):
    problems = []
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    lines = [l for l in lines if l.strip()]
    if not lines:
        return ["the bundle is empty"], None
    head = json.loads(lines[0])
    if head.get("format") != FORMAT:
        return [f"not an audit bundle (its first line must say format {FORMAT})"], None
    origin = head["origin"]
    key = parse_key(head["verifier_key"])
    leaves, notes, versions, cited, withheld, expect = [], [], {}, [], 0, 0
    for raw in lines[1:]:
        o = json.loads(raw)
        if "index" in o:
            idx = o["index"]
            if idx < expect:
                problems.append(f"entry {idx}: repeated or out of order")
                continue
            if idx > expect:
                problems.append(f"entry {expect} is missing (the next in the bundle is {idx})")
            expect = idx + 1
            stated = base64.b64decode(o["leaf_hash"])
            if "entry" not in o:
                withheld += 1
                leaves.append(stated)
                continue
            # The entry's exact bytes: after ,"entry": up to the line's closing brace.
            entry_bytes = raw[raw.index(b',"entry":') + 9:].rstrip(b"\r")[:-1]
            leaf = sha256(b"\x00", entry_bytes)
            entry = o["entry"]
            if leaf != stated:
                problems.append(f"entry {idx}: the entry does not hash to its leaf (event {entry.get('id')})")
            if len(base64.b64decode(entry.get("salt", ""))) != 16:
                problems.append(f"entry {idx}: its salt is not 16 bytes")
            if entry.get("action") == "workflow.version_current":
                cited.append((idx, entry["params"]["sha256"]))
            leaves.append(leaf)
        elif "checkpoint" in o:
            notes.append(o["note"])
        elif "workflow_version" in o:
            v = o["workflow_version"]
            if version_hash(v) != v["sha256"]:
                problems.append(f"workflow version {v['name']}: its source does not hash to its sha256")
            else:
                versions[v["sha256"]] = v
    tree = Tree(leaves)
    largest = 0
    for i, note in enumerate(notes):
        try:
            size, root = check_note(note, origin, key)
        except ValueError as e:
            problems.append(f"checkpoint {i} {e}")
            continue
        if size < 1 or size > len(leaves):
            problems.append(f"checkpoint of size {size}: the bundle holds only {len(leaves)} entries")
            continue
        if tree.root(size) != root:
            problems.append(f"checkpoint of size {size} does not match entries 0 to {size - 1}")
        largest = max(largest, size)
    if largest < len(leaves):
        problems.append(f"entry {largest}: entries {largest} to {len(leaves) - 1} are covered by no signed checkpoint")
    for idx, sha in cited:
        if sha not in versions:
            problems.append(f"entry {idx}: workflow version {sha[:12]} is not in the bundle")
    if trusted:
        with open(trusted) as f:
            text = f.read()
        tkey = key
        rest = text.split("\n")
        while rest and " " not in rest[0] and rest[0].count("+") >= 2:
            tkey = parse_key(rest.pop(0))
            if tkey[0] != key[0] or tkey[2] != key[2]:
                problems.append("the bundle's verifier key is not the trusted key")
        try:
            size, root = check_note("\n".join(rest), origin, tkey)
            if size < 1 or size > len(leaves) or tree.root(size) != root:
                problems.append(f"the bundle is not consistent with the trusted checkpoint of size {size}")
        except ValueError as e:
            problems.append(f"the trusted checkpoint {e}")
    summary = (f"ok: bundle of {len(leaves)} entries ({withheld} withheld), {len(notes)} checkpoints and "
               f"{len(versions)} workflow versions verified; root {base64.b64encode(tree.root(len(leaves))).decode()}")
    return problems, summary


def main(argv):
    args = argv[1:]
    trusted = None
    if "--checkpoint" in args:
        i = args.index("--checkpoint")
        trusted = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        problems, summary = verify(args[0], trusted)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        problems, summary = [f"malformed bundle: {e!r}"], None
    for p in problems:
        print("problem:", p)
    if problems:
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
