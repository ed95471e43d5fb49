/* Tests of the forum loader: the shipped MiDIOCC file, and each kind of mistake reported as file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/forum.h"
#include "testutil.h"

static void test_midiocc(void **state) {
  char path[512];
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", tu_source_dir());
  gv_forum *f = NULL;
  gv_error err;
  assert_int_equal(gv_forum_load_file(path, &f, &err), GV_OK);
  assert_string_equal(f->id, "midiocc");
  assert_string_equal(f->short_name, "MiDIOCC");
  assert_string_equal(f->time_zone, "Indian/Mauritius");
  assert_int_equal(f->nlanguages, 2);
  assert_string_equal(f->languages[0], "fr");
  assert_string_equal(f->languages[1], "en");
  assert_int_equal(f->nmembers, 5);
  const char *codes[] = {"KM", "MG", "MU", "RE", "SC"};
  const char *en[] = {"Comoros", "Madagascar", "Mauritius", "France/Réunion", "Seychelles"};
  for (int i = 0; i < 5; i++) {
    assert_string_equal(f->members[i].code, codes[i]);
    assert_string_equal(gv_i18n_get(&f->members[i].name, "en"), en[i]);
  }
  assert_string_equal(gv_i18n_get(&f->members[0].name, "fr"), "Comores");
  assert_false(f->chair_appointed);
  assert_string_equal(f->chair_acting, "chair");
  assert_int_equal(f->rules.agenda_cutoff_days, 14);
  assert_int_equal(f->rules.min_silence_ms, 72LL * 3600 * 1000);
  assert_int_equal(f->rules.nreminders, 2);
  assert_int_equal(f->rules.reminders_ms[0], 48LL * 3600 * 1000);
  assert_int_equal(f->rules.reminders_ms[1], 24LL * 3600 * 1000);
  /* Round trip through the stored JSON form. */
  char *json = gv_forum_to_json(f);
  gv_forum *g = NULL;
  assert_int_equal(gv_forum_from_json(json, &g, &err), GV_OK);
  assert_int_equal(g->nmembers, 5);
  assert_string_equal(gv_i18n_get(&g->name, "fr"), gv_i18n_get(&f->name, "fr"));
  assert_int_equal(g->rules.min_silence_ms, f->rules.min_silence_ms);
  free(json);
  gv_forum_free(g);
  gv_forum_free(f);
}

#define GOOD_HEAD                                  \
  "forum \"t\" {\n"                                \
  "  name = { en = \"Test\", fr = \"Essai\" },\n" \
  "  languages = { \"fr\", \"en\" },\n"

/* Loads src and expects a refusal at line with a message containing want. */
static void expect_mistake(const char *src, int line, const char *want) {
  gv_forum *f = NULL;
  gv_error err;
  gv_error_clear(&err);
  int rc = gv_forum_load_string("forum.lua", src, strlen(src), &f, &err);
  if (rc == GV_OK) fail_msg("accepted a forum file with a mistake (expected: %s)", want);
  assert_null(f);
  assert_int_equal(rc, GV_ECONFIG);
  char buf[1024];
  gv_error_format(&err, buf, sizeof buf);
  if (strstr(buf, want) == NULL) fail_msg("message '%s' lacks '%s'", buf, want);
  char prefix[64];
  if (line > 0) snprintf(prefix, sizeof prefix, "forum.lua:%d: ", line);
  else snprintf(prefix, sizeof prefix, "forum.lua: ");
  if (strncmp(buf, prefix, strlen(prefix)) != 0) fail_msg("message '%s' is not at %s", buf, prefix);
}

static void test_syntax_error(void **state) {
  expect_mistake(GOOD_HEAD "  time_zone = \"UTC\"\n  members = {}\n}\n", 5, "expected");
}

static void test_unknown_field_suggests(void **state) {
  expect_mistake(GOOD_HEAD
                 "  timezone = \"UTC\",\n"
                 "  members = { member \"AA\" { en = \"A\", fr = \"A\" } },\n}\n",
                 4, "unknown field 'timezone' in the forum (did you mean 'time_zone'?)");
}

static void test_bad_time_zone(void **state) {
  expect_mistake(GOOD_HEAD
                 "  time_zone = \"Indian/Atlantis\",\n"
                 "  members = { member \"AA\" { en = \"A\", fr = \"A\" } },\n}\n",
                 4, "not a known time zone");
  expect_mistake(GOOD_HEAD
                 "  time_zone = \"../../etc/passwd\",\n"
                 "  members = { member \"AA\" { en = \"A\", fr = \"A\" } },\n}\n",
                 4, "not a known time zone");
}

static void test_missing_time_zone(void **state) {
  expect_mistake(GOOD_HEAD "  members = { member \"AA\" { en = \"A\", fr = \"A\" } },\n}\n", 1,
                 "no time_zone");
}

static void test_missing_name(void **state) {
  expect_mistake("forum \"t\" {\n  languages = { \"en\" },\n  time_zone = \"UTC\",\n"
                 "  members = { member \"AA\" { en = \"A\" } },\n}\n",
                 1, "has no name");
}

static void test_duplicate_member(void **state) {
  expect_mistake(GOOD_HEAD
                 "  time_zone = \"UTC\",\n"
                 "  members = {\n"
                 "    member \"AA\" { en = \"A\", fr = \"A\" },\n"
                 "    member \"AA\" { en = \"B\", fr = \"B\" },\n"
                 "  },\n}\n",
                 7, "member 'AA' is declared twice (first on line 6)");
}

static void test_bad_member_code(void **state) {
  expect_mistake(GOOD_HEAD "  time_zone = \"UTC\",\n  members = { member \"km\" { en = \"A\", fr = \"A\" } },\n}\n",
                 5, "must be 2 to 8 capital letters");
}

static void test_member_missing_language(void **state) {
  expect_mistake(GOOD_HEAD "  time_zone = \"UTC\",\n  members = { member \"KM\" { en = \"Comoros\" } },\n}\n",
                 5, "member KM has no text in 'fr'");
}

static void test_member_not_declared_with_member(void **state) {
  expect_mistake(GOOD_HEAD "  time_zone = \"UTC\",\n  members = { { code = \"KM\" } },\n}\n", 5,
                 "entry 1 is not declared with member");
}

static void test_bad_language(void **state) {
  expect_mistake("forum \"t\" {\n  name = \"Test\",\n  languages = { \"french\" },\n  time_zone = \"UTC\",\n"
                 "  members = { member \"AA\" \"A\" },\n}\n",
                 3, "not a two-letter language code");
  expect_mistake("forum \"t\" {\n  name = \"Test\",\n  languages = { \"en\" },\n  time_zone = \"UTC\",\n"
                 "  members = { member \"AA\" },\n}\n",
                 5, "entry 1 is incomplete");
}

static void test_bad_duration(void **state) {
  expect_mistake(GOOD_HEAD
                 "  time_zone = \"UTC\",\n"
                 "  members = { member \"AA\" { en = \"A\", fr = \"A\" } },\n"
                 "  rules = {\n"
                 "    min_silence = \"72 hours\",\n"
                 "  },\n}\n",
                 7, "min_silence must be a duration");
}

static void test_unknown_rule(void **state) {
  expect_mistake(GOOD_HEAD
                 "  time_zone = \"UTC\",\n"
                 "  members = { member \"AA\" { en = \"A\", fr = \"A\" } },\n"
                 "  rules = { reminder = { \"24h\" } },\n}\n",
                 6, "unknown field 'reminder' in rules (did you mean 'reminders'?)");
}

static void test_bad_chair(void **state) {
  expect_mistake(GOOD_HEAD
                 "  time_zone = \"UTC\",\n"
                 "  members = { member \"AA\" { en = \"A\", fr = \"A\" } },\n"
                 "  chair = {\n    appointed = false,\n    acting = \"delegate\",\n  },\n}\n",
                 8, "chair.acting must be");
}

static void test_no_forum(void **state) {
  expect_mistake("local x = 1\n", 0, "declares no forum");
}

static void test_two_forums(void **state) {
  expect_mistake(GOOD_HEAD "  time_zone = \"UTC\",\n  members = { member \"AA\" { en = \"A\", fr = \"A\" } },\n}\n"
                 "forum \"u\" { name = \"U\" }\n",
                 7, "declares 2 forums");
}

static void test_runtime_error(void **state) {
  expect_mistake("local t = nil\nforum \"t\" { name = t.name }\n", 2, "attempt to index");
}

static void test_no_io_or_os(void **state) {
  expect_mistake("io.open('/etc/passwd')\n", 1, "global 'io'");
  expect_mistake("os.execute('true')\n", 1, "execute");
}

static void test_runaway_loop(void **state) {
  expect_mistake("while true do end\n", 1, "instruction limit");
}

static void test_metamethods_are_budgeted(void **state) {
  /* Reading the forum's fields runs an author's metamethods: they stay within budget. */
  expect_mistake("local t = setmetatable({}, { __index = function() while true do end end })\n"
                 "forum \"evil\" (t)\n", 1, "instruction limit");
  expect_mistake("local t = setmetatable({}, { __index = function() error(\"no\") end })\n"
                 "forum \"evil\" (t)\n", 1, "no");
}

static void test_bytecode_refused(void **state) {
  gv_forum *f = NULL;
  gv_error err;
  const char src[] = "\x1bLuaT\x00";
  assert_int_equal(gv_forum_load_string("forum.lua", src, sizeof src - 1, &f, &err), GV_ECONFIG);
  assert_non_null(strstr(err.message, "precompiled"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_midiocc),
      cmocka_unit_test(test_syntax_error),
      cmocka_unit_test(test_unknown_field_suggests),
      cmocka_unit_test(test_bad_time_zone),
      cmocka_unit_test(test_missing_time_zone),
      cmocka_unit_test(test_missing_name),
      cmocka_unit_test(test_duplicate_member),
      cmocka_unit_test(test_bad_member_code),
      cmocka_unit_test(test_member_missing_language),
      cmocka_unit_test(test_member_not_declared_with_member),
      cmocka_unit_test(test_bad_language),
      cmocka_unit_test(test_bad_duration),
      cmocka_unit_test(test_unknown_rule),
      cmocka_unit_test(test_bad_chair),
      cmocka_unit_test(test_no_forum),
      cmocka_unit_test(test_two_forums),
      cmocka_unit_test(test_runtime_error),
      cmocka_unit_test(test_no_io_or_os),
      cmocka_unit_test(test_runaway_loop),
      cmocka_unit_test(test_bytecode_refused),
      cmocka_unit_test(test_metamethods_are_budgeted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
