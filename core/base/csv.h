/* CSV (RFC 4180): writing cells safe to open in a spreadsheet, and reading uploaded files. */
#ifndef GV_CSV_H
#define GV_CSV_H

#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"

/* Appends one cell to the row being written in b: a comma first unless *col is 0, the text
 * in double quotes with quotes doubled, and a leading ' when it begins with =, +, -, @, a
 * tab or a carriage return, so that a spreadsheet never reads it as a formula. NULL is an
 * empty cell. Increments *col. */
void gv_csv_cell(gv_buf *b, int *col, const char *s);
/* Ends the row (CRLF) and sets *col back to 0. */
void gv_csv_eol(gv_buf *b, int *col);

/* One record read from a CSV text: its fields and the line it starts on (1-based). */
typedef struct gv_csv_row {
  size_t line;
  size_t nfields;
  char **fields;            /* owned by the gv_csv */
} gv_csv_row;

typedef struct gv_csv {
  gv_csv_row *rows;
  size_t nrows;
} gv_csv;

/* Reads text (len bytes; CRLF or LF line ends, quoted fields may hold commas, quotes and
 * line breaks). Blank lines are skipped. Returns GV_OK with *out filled (free it with
 * gv_csv_free), or GV_EPARSE naming the line of the first malformed record, or GV_ENOMEM. */
int gv_csv_parse(const char *text, size_t len, gv_csv *out, gv_error *err);
/* Frees what gv_csv_parse filled (a zeroed gv_csv is a no-op). */
void gv_csv_free(gv_csv *c);

#endif
