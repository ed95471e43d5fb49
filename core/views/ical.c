/* The calendar feed: a reader's meetings and deadlines as iCalendar (RFC 5545) text. */
#include "views/ical_csv.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/time.h"
#include "views/views.h"

/* Appends one content line "name:value", folded so no line exceeds 75 octets (a fold is
 * CRLF and a space, never inside a UTF-8 sequence). */
static void put_line(gv_buf *b, const char *name, const char *value) {
  gv_buf line = GV_BUF_INIT;
  gv_buf_printf(&line, "%s:%s", name, value);
  size_t used = 0, limit = 75;
  for (size_t i = 0; i < line.len; i++) {
    unsigned char ch = (unsigned char)line.data[i];
    size_t seq = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
    if (used + seq > limit) {
      gv_buf_puts(b, "\r\n ");
      used = 1;
    }
    gv_buf_append(b, line.data + i, seq > line.len - i ? line.len - i : seq);
    used += seq;
    i += seq - 1;
  }
  gv_buf_puts(b, "\r\n");
  gv_buf_free(&line);
}

/* Appends s escaped as an iCalendar TEXT value into t (backslash, semicolon, comma and line
 * breaks escaped; other control characters dropped). */
static void text_escape(gv_buf *t, const char *s) {
  for (const char *p = s ? s : ""; *p; p++) {
    if (*p == '\\' || *p == ';' || *p == ',') {
      gv_buf_putc(t, '\\');
      gv_buf_putc(t, *p);
    } else if (*p == '\n') {
      gv_buf_puts(t, "\\n");
    } else if ((unsigned char)*p >= 32 && *p != 127) {
      gv_buf_putc(t, *p);
    }
  }
}

static void put_text(gv_buf *b, const char *name, const char *value) {
  gv_buf t = GV_BUF_INIT;
  text_escape(&t, value);
  put_line(b, name, t.data ? t.data : "");
  gv_buf_free(&t);
}

/* A UTC date-time value: 20261210T140000Z. */
static const char *utc(int64_t ms, char buf[32]) { return gv_time_strftime(ms, "UTC", "%Y%m%dT%H%M%SZ", buf, 32); }

/* YYYY-MM-DD as a DATE value (YYYYMMDD), plus days. */
static int ical_date(const char *ymd, int plus_days, char out[16]) {
  int64_t ms;
  if (gv_date_parse(ymd, "UTC", &ms) != GV_OK) return -1;
  gv_time_strftime(ms + (int64_t)plus_days * GV_MS_PER_DAY, "UTC", "%Y%m%d", out, 16);
  return 0;
}

static int put_meetings(gv_buf *b, gv_engine *e, const gv_forum *f, const char *lang, const char *stamp,
                        gv_error *err) {
  gv_meeting *ms = NULL;
  size_t n = 0;
  int rc = gv_store_meeting_list(gv_engine_store(e), f->id, &ms, &n, err);
  if (rc != GV_OK) return rc;
  for (size_t i = 0; i < n; i++) {
    char start[16], end[16], uid[160];
    const char *last = ms[i].ends_on[0] ? ms[i].ends_on : ms[i].starts_on;
    if (ical_date(ms[i].starts_on, 0, start) == 0 && ical_date(last, 1, end) == 0) {
      json_t *title = json_loads(ms[i].title ? ms[i].title : "\"\"", JSON_DECODE_ANY, NULL);
      snprintf(uid, sizeof uid, "meeting-%lld@%s.gavel", (long long)ms[i].id, f->id);
      put_line(b, "BEGIN", "VEVENT");
      put_line(b, "UID", uid);
      put_line(b, "DTSTAMP", stamp);
      put_line(b, "DTSTART;VALUE=DATE", start);
      put_line(b, "DTEND;VALUE=DATE", end);
      put_text(b, "SUMMARY", gv_view_text(title, lang));
      if (ms[i].place[0]) put_text(b, "LOCATION", ms[i].place);
      put_line(b, "TRANSP", "TRANSPARENT");
      put_line(b, "END", "VEVENT");
      json_decref(title);
    }
    gv_meeting_clear(&ms[i]);
  }
  free(ms);
  return GV_OK;
}

/* Whether the deadline timer of item concerns reader: everyone's for the secretariat and
 * the chair; for a delegate, when an action bound to it is theirs to take in this state. */
static int concerns(gv_engine *e, const gv_forum *f, const gv_caller *reader, const gv_item_row *item,
                    const char *timer) {
  if (reader->role == GV_ROLE_SECRETARIAT || gv_engine_is_chair(f, reader)) return 1;
  if (reader->role != GV_ROLE_DELEGATE) return 0;
  const gv_workflow *w = gv_engine_workflow_version(e, item->forum_id, item->version_id, NULL);
  if (w == NULL) return 0;
  for (size_t i = 0; i < w->nactions; i++) {
    const gv_action *a = &w->actions[i];
    if (a->deadline && strcmp(a->deadline, timer) == 0 && gv_action_from(a, item->state) &&
        gv_engine_may_act(e, f, a, reader, item))
      return 1;
  }
  return 0;
}

static void put_deadline(gv_buf *b, const gv_forum *f, const gv_item_row *item, const gv_timer_row *t,
                         const char *lang, const char *stamp) {
  json_t *title = json_loads(item->title ? item->title : "\"\"", JSON_DECODE_ANY, NULL);
  json_t *data = json_loads(item->data ? item->data : "{}", 0, NULL);
  const char *number = json_string_value(json_object_get(data, "number"));
  int fr = strcmp(lang, "fr") == 0;
  char uid[256], when[32], local[GV_TIME_BUFSZ];
  snprintf(uid, sizeof uid, "item-%lld-%s@%s.gavel", (long long)item->id, t->name, f->id);
  gv_buf s = GV_BUF_INIT, d = GV_BUF_INIT;
  gv_buf_printf(&s, "%s%s%s%s", fr ? "Date limite : " : "Deadline: ", number ? number : "", number ? " " : "",
                gv_view_text(title, lang));
  gv_buf_printf(&d, "%s %lld (%s), %s %s (%s)", fr ? "Point" : "Item", (long long)item->id, item->workflow,
                fr ? "échéance" : "due", gv_time_format_zone(t->due_at, f->time_zone, local), f->time_zone);
  put_line(b, "BEGIN", "VEVENT");
  put_line(b, "UID", uid);
  put_line(b, "DTSTAMP", stamp);
  put_line(b, "DTSTART", utc(t->due_at, when));
  put_text(b, "SUMMARY", s.data);
  put_text(b, "DESCRIPTION", d.data);
  put_line(b, "END", "VEVENT");
  gv_buf_free(&s);
  gv_buf_free(&d);
  json_decref(title);
  json_decref(data);
}

static int put_deadlines(gv_buf *b, gv_engine *e, const gv_forum *f, const gv_caller *reader, const char *lang,
                         const char *stamp, gv_error *err) {
  gv_timer_row *ts = NULL;
  size_t n = 0;
  gv_store *st = gv_engine_store(e);
  int rc = gv_store_timer_pending_list(st, f->id, &ts, &n, err);
  for (size_t i = 0; i < n && rc == GV_OK; i++) {
    gv_item_row item;
    if (gv_store_item_get(st, ts[i].item_id, &item, NULL) != GV_OK) continue;
    if (concerns(e, f, reader, &item, ts[i].name)) put_deadline(b, f, &item, &ts[i], lang, stamp);
    gv_item_row_clear(&item);
  }
  free(ts);
  return rc;
}

int gv_view_calendar(gv_engine *e, const gv_caller *reader, char **out, size_t *len, gv_error *err) {
  const gv_forum *f = gv_engine_forum(e, reader->forum_id);
  if (f == NULL) return gv_error_set(err, GV_ENOTFOUND, NULL, "no such forum");
  const char *lang = gv_view_language(f, reader);
  char stamp[32];
  utc(gv_engine_now(e), stamp);
  gv_buf b = GV_BUF_INIT;
  put_line(&b, "BEGIN", "VCALENDAR");
  put_line(&b, "VERSION", "2.0");
  put_line(&b, "PRODID", "-//Gavel//Gavel " GAVEL_VERSION "//EN");
  put_line(&b, "CALSCALE", "GREGORIAN");
  put_line(&b, "METHOD", "PUBLISH");
  put_text(&b, "X-WR-CALNAME", gv_i18n_get(&f->name, lang));
  put_line(&b, "X-WR-TIMEZONE", f->time_zone);
  int rc = put_meetings(&b, e, f, lang, stamp, err);
  if (rc == GV_OK) rc = put_deadlines(&b, e, f, reader, lang, stamp, err);
  put_line(&b, "END", "VCALENDAR");
  if (rc == GV_OK && b.failed) rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory writing the calendar");
  if (rc != GV_OK) {
    gv_buf_free(&b);
    return rc;
  }
  *len = b.len;
  *out = gv_buf_steal(&b);
  return GV_OK;
}
