/* Bulk account import from CSV: every row checked first, then all created or none. */
#include "engine/import.h"

#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "engine/accounts.h"

enum { C_USERNAME, C_ROLE, C_MEMBER, C_NAME, C_EMAIL, C_LANGUAGE, NCOLS };
static const char *const colnames[NCOLS] = {"username", "role", "member", "name", "email", "language"};

static void row_error(json_t *errors, size_t line, const char *field, const char *msg) {
  json_array_append_new(errors, json_pack("{s:I, s:s?, s:s}", "line", (json_int_t)line, "field", field, "message", msg));
}

/* Maps the header's names to columns (col[k] = index in the row, or -1). */
static int read_header(const gv_csv_row *h, int col[NCOLS], json_t *errors) {
  for (int k = 0; k < NCOLS; k++) col[k] = -1;
  int ok = 1;
  for (size_t i = 0; i < h->nfields; i++) {
    int k = 0;
    while (k < NCOLS && strcmp(h->fields[i], colnames[k]) != 0) k++;
    char msg[200];
    if (k == NCOLS || col[k] >= 0) {
      snprintf(msg, sizeof msg, "%s column '%.60s': the columns are username, role, member, name, email, language",
               k == NCOLS ? "unknown" : "repeated", h->fields[i]);
      row_error(errors, h->line, NULL, msg);
      ok = 0;
      continue;
    }
    col[k] = (int)i;
  }
  if (ok && (col[C_USERNAME] < 0 || col[C_ROLE] < 0)) {
    row_error(errors, h->line, NULL, "the header must name at least the columns username and role");
    ok = 0;
  }
  return ok;
}

/* Copies cell k of r into dst; 0 when it does not fit. */
static int cell(const gv_csv_row *r, const int col[NCOLS], int k, char *dst, size_t size) {
  const char *v = col[k] >= 0 && (size_t)col[k] < r->nfields ? r->fields[col[k]] : "";
  if (strlen(v) >= size) return 0;
  snprintf(dst, size, "%s", v);
  return 1;
}

/* Checks one data row into out; adds its errors. Returns the number of errors added. */
static int check_row(gv_store *s, const gv_forum *f, const gv_csv_row *r, const int col[NCOLS], gv_import_row *out,
                     const gv_import_row *before, size_t nbefore, json_t *errors) {
  size_t start = json_array_size(errors);
  gv_user *u = &out->u;
  memset(out, 0, sizeof *out);
  out->line = r->line;
  int fits = cell(r, col, C_USERNAME, u->username, sizeof u->username);
  if (!fits || !gv_account_username_valid(u->username)) {
    row_error(errors, r->line, "username", "the username must be 2 to 63 lowercase letters, digits, '.', '_' or '-'");
  } else {
    gv_user existing;
    for (size_t i = 0; i < nbefore; i++)
      if (strcmp(before[i].u.username, u->username) == 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "the username '%s' appears twice in the file (first on line %zu)", u->username,
                 before[i].line);
        row_error(errors, r->line, "username", msg);
        break;
      }
    if (gv_store_user_find(s, u->username, &existing, NULL) == GV_OK) {
      char msg[200];
      snprintf(msg, sizeof msg, "the username '%s' is already taken", u->username);
      row_error(errors, r->line, "username", msg);
    }
  }
  gv_error e;
  gv_error_clear(&e);
  if (!cell(r, col, C_ROLE, u->role, sizeof u->role) || !cell(r, col, C_MEMBER, u->member, sizeof u->member) ||
      gv_account_check_role(f, u->role, u->member, &e) != GV_OK)
    row_error(errors, r->line, e.field[0] ? e.field : "role",
              e.message[0] ? e.message : "role must be secretariat, chair, delegate or observer");
  if (!cell(r, col, C_NAME, u->display_name, sizeof u->display_name))
    row_error(errors, r->line, "name", "the name must be at most 127 characters");
  if (!cell(r, col, C_EMAIL, u->email, sizeof u->email) || (u->email[0] && !gv_account_email_valid(u->email)))
    row_error(errors, r->line, "email", "email must be an email address (or empty)");
  if (!cell(r, col, C_LANGUAGE, u->language, sizeof u->language) ||
      (u->language[0] && strcmp(u->language, "fr") != 0 && strcmp(u->language, "en") != 0))
    row_error(errors, r->line, "language", "language must be fr or en (or empty for the forum's)");
  return (int)(json_array_size(errors) - start);
}

int gv_account_import_check(gv_store *s, const gv_forum *f, const char *text, size_t len, gv_import_row **rows,
                            size_t *n, json_t **errors, gv_error *err) {
  *rows = NULL;
  *n = 0;
  *errors = NULL;
  gv_csv csv;
  gv_error perr;
  gv_error_clear(&perr);
  json_t *errs = json_array();
  gv_import_row *out = NULL;
  /* Spreadsheet programs often start a UTF-8 file with a byte order mark: it is not part of the header. */
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
    text += 3;
    len -= 3;
  }
  int rc = gv_csv_parse(text, len, &csv, &perr);
  if (rc == GV_EPARSE) {
    const char *m = perr.message;
    size_t line = strncmp(m, "line ", 5) == 0 ? strtoul(m + 5, NULL, 10) : 0;
    row_error(errs, line, NULL, m);
    rc = gv_error_set(err, GV_EPARAM, NULL, "the file is not valid CSV");
    goto done;
  }
  if (rc != GV_OK) {
    gv_error_set(err, rc, NULL, "%s", perr.message);
    goto done;
  }
  int col[NCOLS];
  if (csv.nrows == 0) {
    row_error(errs, 1, NULL, "the file is empty: it needs a header line and one line per account");
  } else if (read_header(&csv.rows[0], col, errs)) {
    if (csv.nrows == 1) row_error(errs, csv.rows[0].line, NULL, "the file has a header but no accounts");
    if (csv.nrows - 1 > GV_IMPORT_MAX_ROWS) {
      char msg[120];
      snprintf(msg, sizeof msg, "at most %d accounts per import", GV_IMPORT_MAX_ROWS);
      row_error(errs, csv.rows[GV_IMPORT_MAX_ROWS + 1].line, NULL, msg);
    }
  }
  if (json_array_size(errs) == 0) {
    out = calloc(csv.nrows, sizeof *out);
    if (out == NULL) {
      rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory checking the accounts");
      goto done;
    }
    for (size_t i = 1; i < csv.nrows; i++) {
      const gv_csv_row *r = &csv.rows[i];
      if (r->nfields != csv.rows[0].nfields) {
        char msg[120];
        snprintf(msg, sizeof msg, "this line has %zu fields, the header %zu", r->nfields, csv.rows[0].nfields);
        row_error(errs, r->line, NULL, msg);
        continue;
      }
      check_row(s, f, r, col, &out[*n], out, *n, errs);
      (*n)++;
    }
  }
  if (json_array_size(errs) > 0) rc = gv_error_set(err, GV_EPARAM, NULL, "%zu problem(s) in the file: nothing was created",
                                                  json_array_size(errs));
done:
  gv_csv_free(&csv);
  if (rc == GV_OK) {
    *rows = out;
    json_decref(errs);
  } else {
    free(out);
    *n = 0;
    if (rc == GV_EPARAM) *errors = errs;
    else json_decref(errs);
  }
  return rc;
}

int gv_account_import_create(gv_store *s, const gv_forum *f, int64_t actor_id, gv_import_row *rows, size_t n,
                             int64_t now, int64_t *first_event, int64_t *last_event, gv_error *err) {
  int rc = GV_OK;
  for (size_t i = 0; i < n && rc == GV_OK; i++) {
    int64_t eid = 0;
    rows[i].u.must_change_password = 1;
    rc = gv_account_create(s, f, actor_id, &rows[i].u, now, &eid, err);
    if (rc == GV_EEXIST)
      gv_error_set(err, GV_EEXIST, "username", "line %zu: the username '%s' was taken meanwhile: nothing was created",
                   rows[i].line, rows[i].u.username);
    if (rc == GV_OK && first_event && i == 0) *first_event = eid;
    if (rc == GV_OK && last_event) *last_event = eid;
  }
  return rc;
}
