/* Tests of CSV writing (quoting, formula neutralisation, CRLF) and reading (quotes, line breaks, line numbers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/csv.h"

static void test_write_quotes_and_neutralises(void **state) {
  (void)state;
  gv_buf b = GV_BUF_INIT;
  int col = 0;
  const char *cells[] = {"plain", "a, \"quoted\" word", "=SUM(A1:A2)", "+1", "-2", "@cmd", "\tx", "", NULL};
  for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) gv_csv_cell(&b, &col, cells[i]);
  gv_csv_eol(&b, &col);
  assert_int_equal(col, 0);
  assert_string_equal(b.data, "\"plain\",\"a, \"\"quoted\"\" word\",\"'=SUM(A1:A2)\",\"'+1\",\"'-2\",\"'@cmd\",\"'\tx\","
                              "\"\",\"\"\r\n");
  gv_buf_free(&b);
}

static void test_read_quotes_breaks_and_lines(void **state) {
  (void)state;
  const char *text = "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n\nlast,,\n";
  gv_csv c;
  gv_error err;
  assert_int_equal(gv_csv_parse(text, strlen(text), &c, &err), GV_OK);
  assert_int_equal(c.nrows, 3);
  assert_int_equal(c.rows[0].line, 1);
  assert_int_equal(c.rows[1].line, 2);
  assert_string_equal(c.rows[1].fields[0], "x, y");
  assert_string_equal(c.rows[1].fields[1], "say \"hi\"");
  assert_string_equal(c.rows[1].fields[2], "two\nlines");
  /* The quoted line break moved the count on; the blank line is skipped but counted. */
  assert_int_equal(c.rows[2].line, 5);
  assert_int_equal(c.rows[2].nfields, 3);
  assert_string_equal(c.rows[2].fields[2], "");
  gv_csv_free(&c);
  /* No final line break: the last record still counts. */
  assert_int_equal(gv_csv_parse("u,r\nx,y", 7, &c, &err), GV_OK);
  assert_int_equal(c.nrows, 2);
  assert_string_equal(c.rows[1].fields[1], "y");
  gv_csv_free(&c);
  assert_int_equal(gv_csv_parse("", 0, &c, &err), GV_OK);
  assert_int_equal(c.nrows, 0);
  gv_csv_free(&c);
}

static void test_read_refuses_malformed(void **state) {
  (void)state;
  gv_csv c;
  gv_error err;
  gv_error_clear(&err);
  assert_int_equal(gv_csv_parse("a\n\"open\n", 8, &c, &err), GV_EPARSE);
  assert_non_null(strstr(err.message, "line 2"));
  assert_null(c.rows);
  gv_error_clear(&err);
  assert_int_equal(gv_csv_parse("a\nb\nx\"y\n", 8, &c, &err), GV_EPARSE);
  assert_non_null(strstr(err.message, "line 3"));
  gv_error_clear(&err);
  assert_int_equal(gv_csv_parse("\"a\"b\n", 5, &c, &err), GV_EPARSE);
  assert_non_null(strstr(err.message, "closing quote"));
}

static void test_round_trip(void **state) {
  (void)state;
  const char *cells[] = {"one", "t,w\"o", "thr\r\nee", "=4"};
  gv_buf b = GV_BUF_INIT;
  int col = 0;
  for (int i = 0; i < 4; i++) gv_csv_cell(&b, &col, cells[i]);
  gv_csv_eol(&b, &col);
  gv_csv c;
  gv_error err;
  assert_int_equal(gv_csv_parse(b.data, b.len, &c, &err), GV_OK);
  assert_int_equal(c.nrows, 1);
  assert_int_equal(c.rows[0].nfields, 4);
  assert_string_equal(c.rows[0].fields[1], "t,w\"o");
  assert_string_equal(c.rows[0].fields[2], "thr\r\nee");
  assert_string_equal(c.rows[0].fields[3], "'=4");
  gv_csv_free(&c);
  gv_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_quotes_and_neutralises),
      cmocka_unit_test(test_read_quotes_breaks_and_lines),
      cmocka_unit_test(test_read_refuses_malformed),
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
