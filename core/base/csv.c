/* CSV (RFC 4180): writing cells safe to open in a spreadsheet, and reading uploaded files. */
#include "base/csv.h"

#include <stdlib.h>
#include <string.h>

void gv_csv_cell(gv_buf *b, int *col, const char *s) {
  if (*col > 0) gv_buf_putc(b, ',');
  (*col)++;
  gv_buf_putc(b, '"');
  if (s && *s && strchr("=+-@\t\r", *s)) gv_buf_putc(b, '\'');
  for (const char *p = s ? s : ""; *p; p++) {
    if (*p == '"') gv_buf_putc(b, '"');
    gv_buf_putc(b, *p);
  }
  gv_buf_putc(b, '"');
}

void gv_csv_eol(gv_buf *b, int *col) {
  gv_buf_puts(b, "\r\n");
  *col = 0;
}

/* Adds the field in f (copied) to row r. */
static int add_field(gv_csv_row *r, gv_buf *f) {
  char **g = realloc(r->fields, (r->nfields + 1) * sizeof *g);
  if (g == NULL) return GV_ENOMEM;
  r->fields = g;
  char *copy = malloc(f->len + 1);
  if (copy == NULL) return GV_ENOMEM;
  if (f->len) memcpy(copy, f->data, f->len);
  copy[f->len] = '\0';
  r->fields[r->nfields++] = copy;
  gv_buf_reset(f);
  return GV_OK;
}

static void row_free(gv_csv_row *r) {
  for (size_t i = 0; i < r->nfields; i++) free(r->fields[i]);
  free(r->fields);
  memset(r, 0, sizeof *r);
}

/* Adds r to c unless it is a blank line (one empty field); r is emptied either way. */
static int add_row(gv_csv *c, gv_csv_row *r) {
  if (r->nfields == 1 && r->fields[0][0] == '\0') {
    row_free(r);
    return GV_OK;
  }
  gv_csv_row *g = realloc(c->rows, (c->nrows + 1) * sizeof *g);
  if (g == NULL) return GV_ENOMEM;
  c->rows = g;
  c->rows[c->nrows++] = *r;
  memset(r, 0, sizeof *r);
  return GV_OK;
}

int gv_csv_parse(const char *text, size_t len, gv_csv *out, gv_error *err) {
  memset(out, 0, sizeof *out);
  gv_buf f = GV_BUF_INIT;
  gv_csv_row r = {0};
  size_t line = 1, i = 0;
  int rc = GV_OK, quoted = 0, was_quoted = 0;
  r.line = 1;
  while (i <= len && rc == GV_OK) {
    char ch = i < len ? text[i] : '\n';
    int at_end = i == len;
    if (quoted) {
      if (at_end) {
        rc = gv_error_set(err, GV_EPARSE, NULL, "line %zu: a quoted field is not closed", r.line);
        break;
      }
      if (ch == '"' && i + 1 < len && text[i + 1] == '"') {
        gv_buf_putc(&f, '"');
        i += 2;
        continue;
      }
      if (ch == '"') {
        quoted = 0;
        i++;
        if (i < len && text[i] != ',' && text[i] != '\r' && text[i] != '\n')
          rc = gv_error_set(err, GV_EPARSE, NULL, "line %zu: text after a closing quote", line);
        continue;
      }
      if (ch == '\n') line++;
      gv_buf_putc(&f, ch);
      i++;
      continue;
    }
    if (ch == '"') {
      if (f.len > 0 || was_quoted) {
        rc = gv_error_set(err, GV_EPARSE, NULL, "line %zu: a quote inside an unquoted field", line);
        break;
      }
      quoted = was_quoted = 1;
      i++;
      continue;
    }
    if (ch == ',') {
      rc = add_field(&r, &f);
      was_quoted = 0;
      i++;
      continue;
    }
    if (ch == '\r' && i + 1 < len && text[i + 1] == '\n') {
      i++;
      continue;
    }
    if (ch == '\n') {
      if (at_end && r.nfields == 0 && f.len == 0 && !was_quoted) break;
      rc = add_field(&r, &f);
      if (rc == GV_OK) rc = add_row(out, &r);
      was_quoted = 0;
      line++;
      r.line = line;
      i++;
      continue;
    }
    gv_buf_putc(&f, ch);
    i++;
  }
  if (rc == GV_OK && f.failed) rc = GV_ENOMEM;
  if (rc == GV_ENOMEM) gv_error_set(err, GV_ENOMEM, NULL, "out of memory reading the CSV text");
  row_free(&r);
  gv_buf_free(&f);
  if (rc != GV_OK) gv_csv_free(out);
  return rc;
}

void gv_csv_free(gv_csv *c) {
  for (size_t i = 0; i < c->nrows; i++) row_free(&c->rows[i]);
  free(c->rows);
  memset(c, 0, sizeof *c);
}
