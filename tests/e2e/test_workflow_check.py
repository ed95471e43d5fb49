"""`gavel workflow check`: the shipped workflows pass, and each mistake a secretariat is
likely to make is reported as file:line: message saying what to change."""
import os

from harness import SOURCE, GavelTest, main, run

GOOD = '''workflow "petition" {
  states = { "open", "closed" },
  create {
    by = "secretariat",
    params = { question = text { required = true } },
    to = "open",
  },
  action "close" {
    by = "secretariat",
    from = "open",
    to = "closed",
  },
  timer "deadline" { at = "deadline", from = "open", fire = "close" },
}
'''


class WorkflowCheckTest(GavelTest):
    def check(self, source):
        path = self.tmp("petition.lua")
        with open(path, "w") as f:
            f.write(source)
        p = run("workflow", "check", path, check=False)
        return path, p

    def expect(self, source, line, *fragments):
        path, p = self.check(source)
        self.assertNotEqual(p.returncode, 0, "the mistake was accepted")
        first = p.stderr.strip().split("\n")[0]
        self.assertTrue(first.startswith(f"{path}:{line}: "), f"expected {path}:{line}: ..., got: {p.stderr}")
        for frag in fragments:
            self.assertIn(frag, first)
        return first

    def test_shipped_workflows_pass(self):
        files = [os.path.join(SOURCE, "workflows", f) for f in ("agenda_item.lua", "consultation.lua", "decision.lua", "draft.lua")]
        p = run("workflow", "check", *files)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.count(" ok ("), 4)
        self.assertEqual(self.check(GOOD)[1].returncode, 0)

    def test_syntax_error(self):
        self.expect(GOOD.replace('to = "closed",\n  },', 'to = "closed"\n  ,,'), 12, "unexpected symbol")

    def test_unknown_role(self):
        self.expect(GOOD.replace('by = "secretariat",\n    from', 'by = "president",\n    from'), 9,
                    "unknown role 'president'", "secretariat, chair, delegate")

    def test_observer_may_not_act(self):
        self.expect(GOOD.replace('by = "secretariat",\n    from', 'by = { "secretariat", "observer" },\n    from'), 9,
                    "observers never act")

    def test_transition_to_undefined_state(self):
        self.expect(GOOD.replace('to = "closed",', 'to = "archived",'), 11,
                    "leads to state 'archived', which the workflow does not declare in states")

    def test_action_with_no_from_state(self):
        self.expect(GOOD.replace('    from = "open",\n    to = "closed",', '    to = "closed",'), 8,
                    "action 'close' has no from-state", "from = ")

    def test_timer_naming_a_missing_action(self):
        self.expect(GOOD.replace('fire = "close"', 'fire = "shut"'), 13,
                    "timer 'deadline' fires action 'shut', which the workflow does not declare")

    def test_parameter_of_unknown_type(self):
        self.expect(GOOD.replace("question = text { required = true }", "question = paragraph { required = true }"), 5,
                    "unknown name 'paragraph'", "text")
        self.expect(GOOD.replace("question = text { required = true }", 'question = "text"'), 5,
                    "parameter 'question' has an unknown type 'text'", "question = text { required = true }")

    def test_unknown_field_gets_a_suggestion(self):
        self.expect(GOOD.replace('    from = "open",', '    form = "open",'), 10, "unknown field 'form'", "did you mean 'from'?")

    def test_several_mistakes_each_on_its_line(self):
        path, p = self.check(GOOD.replace('by = "secretariat",\n    from', 'by = "king",\n    from')
                             .replace('fire = "close"', 'fire = "shut"'))
        lines = p.stderr.strip().split("\n")
        self.assertEqual(len(lines), 2, p.stderr)
        self.assertTrue(lines[0].startswith(path + ":9: "))
        self.assertTrue(lines[1].startswith(path + ":13: "))

    def module(self, name, source):
        os.makedirs(self.tmp("lib"), exist_ok=True)
        path = self.tmp(os.path.join("lib", name + ".lua"))
        with open(path, "w") as f:
            f.write(source)
        return path

    def test_module_is_used_and_checked(self):
        self.module("closing", 'local m = {}\nfunction m.note(item) item.data.closed = true end\nreturn m\n')
        path, p = self.check('local closing = use "closing"\n' + GOOD)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_error_in_a_module_names_the_module_file(self):
        lib = self.module("broken", 'local m = {}\nm.x = undefined_name\nreturn m\n')
        path, p = self.check('local broken = use "broken"\n' + GOOD)
        self.assertNotEqual(p.returncode, 0)
        first = p.stderr.strip().split("\n")[0]
        self.assertTrue(first.startswith(f"{lib}:2: "), p.stderr)
        self.assertIn("undefined_name", first)

    def test_syntax_error_in_a_module_names_the_module_file(self):
        lib = self.module("typo", 'local m = {}\n\nfunction m.f( return 1 end\nreturn m\n')
        path, p = self.check('local typo = use "typo"\n' + GOOD)
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(p.stderr.startswith(f"{lib}:3: "), p.stderr)

    def test_module_using_itself_is_refused(self):
        self.module("ping", 'local pong = use "pong"\nreturn {}\n')
        self.module("pong", 'local ping = use "ping"\nreturn {}\n')
        path, p = self.check('local ping = use "ping"\n' + GOOD)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("uses itself", p.stderr)

    def test_missing_module(self):
        self.expect('local nothing = use "nothing"\n' + GOOD, 1, "no module", "nothing.lua")

    def test_module_name_is_a_word_not_a_path(self):
        self.expect('local up = use "../secret"\n' + GOOD, 1, "lower-case letters")

    def test_record_and_history_declarations_are_checked(self):
        src = GOOD.replace('  timer "deadline"', '  record { section = "minutes", states = { "archived" } },\n'
                           '  history { close = { en = "{actor} closed it: {why}" } },\n  timer "deadline"')
        path, p = self.check(src)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"{path}:13: record: section must be", p.stderr)
        self.assertIn("record names state 'archived'", p.stderr)
        self.assertIn(f"{path}:14: history 'close' (en): unknown placeholder {{why}}", p.stderr)

    def test_record_fields_without_a_valid_section(self):
        src = GOOD.replace('  timer "deadline"', '  record { section = "minutes", fields = { summary = "text" } },\n  timer "deadline"')
        path, p = self.check(src)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"{path}:13: record: section must be", p.stderr)
        self.assertIn("record: field 'summary' needs a section that takes it", p.stderr)


if __name__ == "__main__":
    main()
