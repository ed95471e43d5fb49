/* Fuzz target: any bytes read as CSV are either refused with a line number or read into
 * records that, written back with gv_csv_cell and read again, give the same fields (those
 * that could start a formula carrying their leading '). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gv_csv c, again;
  gv_error err;
  gv_error_clear(&err);
  /* Fields are C strings: an input with a NUL is read up to it, like an uploaded text. */
  const char *text = (const char *)data;
  size_t len = strnlen(text, size);
  if (gv_csv_parse(text, len, &c, &err) != GV_OK) {
    if (strncmp(err.message, "line ", 5) != 0 && err.code != GV_ENOMEM) abort();
    return 0;
  }
  gv_buf b = GV_BUF_INIT;
  for (size_t i = 0; i < c.nrows; i++) {
    int col = 0;
    for (size_t k = 0; k < c.rows[i].nfields; k++) gv_csv_cell(&b, &col, c.rows[i].fields[k]);
    gv_csv_eol(&b, &col);
  }
  if (gv_csv_parse(b.data ? b.data : "", b.len, &again, &err) != GV_OK || again.nrows != c.nrows) abort();
  for (size_t i = 0; i < c.nrows; i++) {
    if (again.rows[i].nfields != c.rows[i].nfields) abort();
    for (size_t k = 0; k < c.rows[i].nfields; k++) {
      const char *orig = c.rows[i].fields[k], *back = again.rows[i].fields[k];
      if (*orig && strchr("=+-@\t\r", *orig)) {
        if (back[0] != '\'') abort();
        back++;
      }
      if (strcmp(orig, back) != 0) abort();
    }
  }
  gv_csv_free(&again);
  gv_csv_free(&c);
  gv_buf_free(&b);
  return 0;
}
