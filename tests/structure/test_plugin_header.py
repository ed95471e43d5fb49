"""The plugin header stands alone, and the error table it shares with the core is written once."""
import os
import re
import unittest

SOURCE = os.environ.get("GAVEL_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(rel):
    with open(os.path.join(SOURCE, rel), encoding="utf-8") as f:
        return f.read()


def quoted_includes(text):
    return re.findall(r'#\s*include\s+"([^"]+)"', text)


class PluginHeader(unittest.TestCase):
    def test_includes_nothing_of_core(self):
        self.assertEqual(quoted_includes(read("include/gavel/plugin.h")), ["errors.h"],
                         "include/gavel/plugin.h may include system headers and its sibling errors.h only")
        self.assertEqual(quoted_includes(read("include/gavel/errors.h")), [],
                         "include/gavel/errors.h must include only system headers")

    def test_error_table_is_written_once(self):
        for rel in ("include/gavel/plugin.h", "core/base/error.h", "core/base/log.h"):
            text = read(rel)
            self.assertNotIn("GV_ERRNO_MAP(X)", text, f"{rel} defines the error table; it belongs in gavel/errors.h")
            self.assertNotIn("GV_LOG_DEBUG =", text, f"{rel} defines the log levels; they belong in gavel/errors.h")
        self.assertIn('#include "gavel/errors.h"', read("core/base/error.h"))
        self.assertIn('#include "gavel/errors.h"', read("core/base/log.h"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
