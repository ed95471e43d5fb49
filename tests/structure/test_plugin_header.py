"""The plugin header stands alone: its copy of the error table and log levels equals core's."""
import os
import re
import unittest

SOURCE = os.environ.get("GAVEL_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(rel):
    with open(os.path.join(SOURCE, rel), encoding="utf-8") as f:
        return f.read()


def shared_blocks(text):
    """The blocks between the 'begin: shared' and 'end: shared' markers, in order."""
    return re.findall(r"/\* ---- begin: shared.*?\*/\n(.*?)/\* ---- end: shared", text, re.S)


class PluginHeader(unittest.TestCase):
    def test_includes_nothing_of_core(self):
        header = read("include/gavel/plugin.h")
        quoted = re.findall(r'#\s*include\s+"([^"]+)"', header)
        self.assertEqual(quoted, [], "include/gavel/plugin.h must include only system headers")

    def test_error_table_and_log_levels_equal_core(self):
        header = shared_blocks(read("include/gavel/plugin.h"))
        core = shared_blocks(read("core/base/error.h")) + shared_blocks(read("core/base/log.h"))
        self.assertEqual(len(header), 2)
        self.assertEqual(header, core, "the shared blocks of plugin.h and base/error.h, base/log.h differ")


if __name__ == "__main__":
    unittest.main(verbosity=2)
