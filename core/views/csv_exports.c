/* CSV exports: an item's positions (with the visibility rule of the JSON view) and a year's decisions. */
#include "views/ical_csv.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/csv.h"
#include "base/time.h"
#include "views/views.h"

/* Hands b's text to the caller, or frees it and fails when memory ran out. */
static int finish(gv_buf *b, char **out, size_t *len, gv_error *err) {
  if (b->failed) {
    gv_buf_free(b);
    return gv_error_set(err, GV_ENOMEM, NULL, "out of memory writing the CSV export");
  }
  *len = b->len;
  *out = gv_buf_steal(b);
  return *out ? GV_OK : gv_error_set(err, GV_ENOMEM, NULL, "out of memory writing the CSV export");
}

static const char *member_name(const gv_forum *f, const char *code, const char *lang) {
  for (size_t i = 0; f && code && i < f->nmembers; i++)
    if (strcmp(f->members[i].code, code) == 0) return gv_i18n_get(&f->members[i].name, lang);
  return "";
}

int gv_view_positions_csv(gv_engine *e, const gv_caller *reader, int64_t item_id, int history, char **out,
                          size_t *len, gv_error *err) {
  /* The JSON view decides what reader may see; the CSV only writes it out. */
  json_t *ps = gv_view_positions(e, reader, item_id, history, err);
  if (ps == NULL) return err && err->code ? err->code : GV_ENOTFOUND;
  const gv_forum *f = gv_engine_forum(e, reader->forum_id);
  const char *lang = f ? gv_view_language(f, reader) : "en";
  gv_buf b = GV_BUF_INIT;
  int col = 0;
  static const char *const head[] = {"member", "member_name", "stance", "statement", "reference", "on_behalf",
                                     "at", "sealed"};
  for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) gv_csv_cell(&b, &col, head[i]);
  gv_csv_eol(&b, &col);
  size_t i;
  json_t *p;
  json_array_foreach(ps, i, p) {
    const char *member = json_string_value(json_object_get(p, "member"));
    int sealed = json_is_true(json_object_get(p, "sealed"));
    gv_csv_cell(&b, &col, member);
    gv_csv_cell(&b, &col, member_name(f, member, lang));
    gv_csv_cell(&b, &col, sealed ? "" : json_string_value(json_object_get(p, "stance")));
    gv_csv_cell(&b, &col, sealed ? "" : json_string_value(json_object_get(p, "statement")));
    gv_csv_cell(&b, &col, sealed ? "" : json_string_value(json_object_get(p, "reference")));
    gv_csv_cell(&b, &col, json_is_true(json_object_get(p, "on_behalf")) ? "true" : "false");
    gv_csv_cell(&b, &col, json_string_value(json_object_get(p, "at")));
    gv_csv_cell(&b, &col, sealed ? "true" : "false");
    gv_csv_eol(&b, &col);
  }
  json_decref(ps);
  return finish(&b, out, len, err);
}

/* States in which a decision has been taken (the meeting record's list). */
static int decided(const char *state) {
  static const char *const states[] = {"adopted_by_silence", "adopted_by_consensus", "adopted_with_reservations",
                                       "not_adopted", "deferred", NULL};
  for (const char *const *s = states; *s; s++)
    if (strcmp(*s, state) == 0) return 1;
  return 0;
}

static const char *str_or(const json_t *v) { return json_is_string(v) ? json_string_value(v) : ""; }

/* "KM: text; MU: text" from data.reservations. */
static void reservations(gv_buf *r, const json_t *data) {
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(data, "reservations"), i, v) {
    gv_buf_printf(r, "%s%s: %s", i ? "; " : "", str_or(json_object_get(v, "member")),
                  str_or(json_object_get(v, "text")));
  }
}

static void decision_row(gv_buf *b, const gv_forum *f, const gv_item_row *row, const json_t *data, int64_t at,
                         const char *lang) {
  int col = 0;
  char id[24], when[GV_TIME_BUFSZ], meeting[24];
  snprintf(id, sizeof id, "%lld", (long long)row->id);
  snprintf(meeting, sizeof meeting, "%lld", (long long)row->meeting_id);
  json_t *title = json_loads(row->title ? row->title : "\"\"", JSON_DECODE_ANY, NULL);
  const char *outcome = json_string_value(json_object_get(data, "outcome"));
  gv_buf r = GV_BUF_INIT;
  reservations(&r, data);
  gv_csv_cell(b, &col, json_string_value(json_object_get(data, "number")));
  gv_csv_cell(b, &col, id);
  gv_csv_cell(b, &col, gv_view_text(title, lang));
  gv_csv_cell(b, &col, outcome ? outcome : row->state);
  gv_csv_cell(b, &col, gv_time_format_zone(at, f->time_zone, when));
  gv_csv_cell(b, &col, row->meeting_id ? meeting : "");
  gv_csv_cell(b, &col, r.data);
  gv_csv_cell(b, &col, gv_view_text(json_object_get(data, "text"), lang));
  gv_csv_eol(b, &col);
  gv_buf_free(&r);
  json_decref(title);
}

int gv_view_decisions_csv(gv_engine *e, const gv_caller *reader, int year, char **out, size_t *len, gv_error *err) {
  const gv_forum *f = gv_engine_forum(e, reader->forum_id);
  if (f == NULL) return gv_error_set(err, GV_ENOTFOUND, NULL, "no such forum");
  const char *lang = gv_view_language(f, reader);
  gv_buf b = GV_BUF_INIT;
  int col = 0;
  static const char *const head[] = {"number", "item_id", "title", "outcome", "decided_at", "meeting_id",
                                     "reservations", "text"};
  for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) gv_csv_cell(&b, &col, head[i]);
  gv_csv_eol(&b, &col);
  gv_item_filter flt = {.forum_id = f->id, .workflow = "decision", .limit = 500};
  int rc = GV_OK;
  for (;;) {
    gv_item_row *rows = NULL;
    size_t n = 0;
    rc = gv_store_item_list(gv_engine_store(e), &flt, &rows, &n, err);
    if (rc != GV_OK) break;
    for (size_t i = 0; i < n; i++) {
      flt.after_id = rows[i].id;
      if (decided(rows[i].state)) {
        json_t *data = json_loads(rows[i].data ? rows[i].data : "{}", 0, NULL);
        int64_t at = rows[i].updated_at;
        const char *adopted = json_string_value(json_object_get(data, "adopted_at"));
        if (adopted) gv_time_parse(adopted, &at);
        if (gv_time_year(at, f->time_zone) == year) decision_row(&b, f, &rows[i], data, at, lang);
        json_decref(data);
      }
      gv_item_row_clear(&rows[i]);
    }
    free(rows);
    if (n < (size_t)flt.limit) break;
  }
  if (rc != GV_OK) {
    gv_buf_free(&b);
    return rc;
  }
  return finish(&b, out, len, err);
}
