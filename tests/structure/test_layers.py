"""The layers of core/: no file includes a header from a layer above its own (core/LAYERS.md)."""
import os
import re
import sys
import unittest

SOURCE = os.environ.get("GAVEL_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORE = os.path.join(SOURCE, "core")


def read_table():
    """{layer: set of layers it may use} from core/LAYERS.md."""
    allowed = {}
    with open(os.path.join(CORE, "LAYERS.md"), encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 3 or not re.fullmatch(r"[a-z]+", cells[0]):
                continue
            layer, _, uses = cells
            if uses == "every layer":
                allowed[layer] = None
            else:
                allowed[layer] = {u.strip() for u in uses.split(",") if u.strip()}
    for layer in allowed:
        if allowed[layer] is None:
            allowed[layer] = set(allowed) - {layer}
    return allowed


def includes():
    """(file relative to core/, line number, included path) for every quoted include."""
    for folder, _, files in os.walk(CORE):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, CORE)
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    if m:
                        yield rel, n, m.group(1)


def layer_of_header(inc):
    if inc == "gavel/errors.h":
        return "base"  # the error table and log levels, shared with the plugin API
    if inc.startswith("gavel/"):
        return "host"  # the public plugin header, implemented by the host
    return inc.split("/")[0] if "/" in inc else None


def violations(allowed):
    out = []
    for rel, n, inc in includes():
        own = rel.split(os.sep)[0]
        target = layer_of_header(inc)
        if own not in allowed:
            out.append(f"core/{rel}: the folder {own}/ is not a layer of core/LAYERS.md")
        elif target is None:
            out.append(f"core/{rel}:{n}: #include \"{inc}\" names no layer (write \"layer/file.h\")")
        elif target not in allowed:
            out.append(f"core/{rel}:{n}: #include \"{inc}\": {target}/ is not a layer of core/LAYERS.md")
        elif target != own and target not in allowed[own]:
            out.append(f"core/{rel}:{n}: #include \"{inc}\": {own}/ may not use {target}/ (core/LAYERS.md)")
    return out


class Layers(unittest.TestCase):
    def test_table_is_acyclic(self):
        allowed = read_table()
        self.assertGreaterEqual(len(allowed), 8)
        for a, uses in allowed.items():
            for b in uses:
                if b == "cli" or a == "cli":
                    continue
                self.assertNotIn(a, allowed.get(b, set()), f"{a} and {b} may use each other")

    def test_no_include_runs_upwards(self):
        problems = violations(read_table())
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_checker_sees_an_upward_include(self):
        # The check itself: a store file including the engine must be reported.
        allowed = read_table()
        self.assertNotIn("engine", allowed["store"])
        self.assertIn("store", allowed["engine"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
