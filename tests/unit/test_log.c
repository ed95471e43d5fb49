/* Tests of the JSON log format: text lines become one JSON object each, whatever they hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "base/log.h"

/* The JSON line for text, parsed (the caller frees it); fails the test when it is not JSON. */
static json_t *as_json(const char *text) {
  char out[8192];
  size_t n = gv_log_json(text, out, sizeof out);
  assert_true(n > 0 && out[n - 1] == '\n');
  json_error_t e;
  json_t *o = json_loadb(out, n, 0, &e);
  if (o == NULL) fail_msg("not JSON: %.*s (%s)", (int)n, out, e.text);
  return o;
}

static void test_fields_numbers_and_quoted_values(void **state) {
  (void)state;
  json_t *o = as_json("2026-12-04T00:00:00.000Z info http.request method=GET route=\"/v1/items/{id}\" status=200 "
                      "ms=1.25 user=0 request_id=abc-1");
  assert_string_equal(json_string_value(json_object_get(o, "time")), "2026-12-04T00:00:00.000Z");
  assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
  assert_string_equal(json_string_value(json_object_get(o, "event")), "http.request");
  assert_string_equal(json_string_value(json_object_get(o, "route")), "/v1/items/{id}");
  assert_int_equal(json_integer_value(json_object_get(o, "status")), 200);
  assert_true(json_is_real(json_object_get(o, "ms")));
  assert_string_equal(json_string_value(json_object_get(o, "request_id")), "abc-1");
  json_decref(o);
}

static void test_odd_text_is_still_json(void **state) {
  (void)state;
  const char *lines[] = {
      "t warn x.y a plain sentence with \"quotes\" and \\ backslashes",
      "t info e key=\"unterminated",
      "t info e =novalue k= v=\x01\x1f",
      "t info",
      "",
      "t info e n=007 m=-1 f=1. g=1e5 h=--",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) json_decref(as_json(lines[i]));
  json_t *o = as_json("t info e n=007 m=-1");
  assert_true(json_is_string(json_object_get(o, "n")));
  assert_int_equal(json_integer_value(json_object_get(o, "m")), -1);
  json_decref(o);
}

static void test_a_long_line_is_cut_but_valid(void **state) {
  (void)state;
  char text[3000];
  memset(text, '"', sizeof text - 1);
  memcpy(text, "t info e k=", 11);
  text[sizeof text - 1] = '\0';
  char out[256];
  size_t n = gv_log_json(text, out, sizeof out);
  assert_true(n <= sizeof out);
  assert_int_equal(out[n - 1], '\n');
  json_t *o = json_loadb(out, n, 0, NULL);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "event")), "e");
  json_decref(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields_numbers_and_quoted_values),
      cmocka_unit_test(test_odd_text_is_still_json),
      cmocka_unit_test(test_a_long_line_is_cut_but_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
