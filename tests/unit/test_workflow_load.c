/* Regression tests for the workflow loader, from inputs the fuzzer found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "model/workflow.h"

static gv_forum *forum;

static int setup(void **state) {
  char path[512];
  gv_error err;
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", tu_source_dir());
  return gv_forum_load_file(path, &forum, &err) == GV_OK ? 0 : -1;
}

static int teardown(void **state) {
  gv_forum_free(forum);
  return 0;
}

static void test_source_not_nul_terminated(void **state) {
  /* The loader gets exactly len bytes (no terminating NUL): looking up the line of a
   * field must stay inside them. The mistake is on the last line, without a newline. */
  const char text[] = "workflow \"w\" {\n  states = { \"a\" },\n  create { by = \"secretariat\", to = \"a\" },\n"
                      "  action \"x\" { by = \"secretariat\", from = \"a\", to = \"zz\" } }";
  size_t len = sizeof text - 1;
  char *exact = malloc(len);
  memcpy(exact, text, len);
  gv_workflow *w = NULL;
  gv_error errs[4];
  size_t n = 0;
  assert_int_equal(gv_workflow_load("w.lua", exact, len, forum, &w, errs, 4, &n), GV_ECONFIG);
  assert_int_equal(n, 1);
  assert_int_equal(errs[0].line, 4);
  assert_non_null(strstr(errs[0].message, "'zz'"));
  free(exact);
}

static void test_actions_without_create(void **state) {
  const char *src = "workflow \"w\" {\n  states = { \"a\" },\n  action \"x\" { by = \"chair\", from = \"a\" },\n"
                    "  action \"x\" { by = \"chair\", from = \"a\" },\n}\n";
  gv_workflow *w = NULL;
  gv_error errs[8];
  size_t n = 0;
  assert_int_equal(gv_workflow_load("w.lua", src, strlen(src), forum, &w, errs, 8, &n), GV_ECONFIG);
  assert_int_equal(n, 2);
  assert_non_null(strstr(errs[0].message, "has no create"));
  assert_non_null(strstr(errs[1].message, "declared twice"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_source_not_nul_terminated),
      cmocka_unit_test(test_actions_without_create),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
