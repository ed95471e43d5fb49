/* Structured log lines on stderr, as text ("time level event key=value ...") or as one
 * JSON object a line. */
#include "base/log.h"
#include "base/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int min_level = GV_LOG_INFO;
static int json_format;

void gv_log_set_level(int level) { min_level = level; }

void gv_log_set_json(int on) { json_format = on; }

int gv_log_level_parse(const char *name) {
  static const char *names[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return -1;
}

void gv_log(int level, const char *event, const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  if (level < min_level || level >= GV_LOG_OFF) return;
  char ts[GV_TIME_BUFSZ], line[2048];
  int n = snprintf(line, sizeof line, "%s %s %s", gv_time_format(gv_time_real_ms(), ts),
                   names[level], event);
  if (fmt && *fmt && n > 0 && (size_t)n < sizeof line - 2) {
    line[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (m > 0) n += m;
  }
  if (n < 0) return;
  if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
  if (json_format) {
    line[n] = '\0';
    char out[sizeof line * 2 + 64];
    size_t len = gv_log_json(line, out, sizeof out);
    fwrite(out, 1, len, stderr);
    return;
  }
  line[n++] = '\n';
  fwrite(line, 1, (size_t)n, stderr);
}

/* Where a JSON line is being written: out holds used bytes of at most room; full is set
 * once something did not fit. */
typedef struct jline {
  char *out;
  size_t used, room;
  int full;
} jline;

/* Appends s[0, len) as the inside of a JSON string. */
static void put_escaped(jline *j, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (j->used + 7 > j->room) {
      j->full = 1;
      return;
    }
    if (ch == '"' || ch == '\\') {
      j->out[j->used++] = '\\';
      j->out[j->used++] = (char)ch;
    } else if (ch < 0x20) {
      j->used += (size_t)snprintf(j->out + j->used, 7, "\\u%04x", ch);
    } else {
      j->out[j->used++] = (char)ch;
    }
  }
}

static void put_raw(jline *j, const char *s, size_t len) {
  if (j->used + len > j->room) {
    j->full = 1;
    return;
  }
  memcpy(j->out + j->used, s, len);
  j->used += len;
}

static void put_str(jline *j, const char *s) { put_raw(j, s, strlen(s)); }

/* Appends ,"key":"value" (or a bare number), all or nothing. */
static void put_pair(jline *j, const char *k, size_t klen, const char *v, size_t vlen, int number) {
  size_t mark = j->used;
  put_str(j, j->used > 1 ? ",\"" : "\"");
  put_escaped(j, k, klen);
  put_str(j, number ? "\":" : "\":\"");
  if (number) put_raw(j, v, vlen);
  else put_escaped(j, v, vlen);
  if (!number) put_str(j, "\"");
  if (j->full) j->used = mark;
}

/* Whether [v, v+len) is a plain JSON number (what key=value pairs write for counts and
 * durations), so log processors can compare it without parsing. */
static int is_number(const char *v, size_t len) {
  size_t i = 0, digits = 0;
  if (i < len && v[i] == '-') i++;
  size_t first = i;
  for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) digits++;
  if (digits == 0 || (digits > 1 && v[first] == '0')) return 0;
  if (i < len && v[i] == '.') {
    size_t frac = 0;
    for (i++; i < len && v[i] >= '0' && v[i] <= '9'; i++) frac++;
    if (frac == 0) return 0;
  }
  return i == len;
}

size_t gv_log_json(const char *text, char *out, size_t size) {
  /* text is "TIME LEVEL EVENT rest": the three fixed fields, then key=value pairs whose
   * value is a word or a "quoted string"; anything else is kept whole as "message". A
   * pair that does not fit is left out whole, so the line stays one valid object. */
  static const char *const names[3] = {"time", "level", "event"};
  jline j = {out, 0, size - 2, 0};
  const char *p = text;
  put_str(&j, "{");
  for (int f = 0; f < 3 && !j.full; f++) {
    const char *sp = strchr(p, ' ');
    size_t len = sp ? (size_t)(sp - p) : strlen(p);
    put_pair(&j, names[f], strlen(names[f]), p, len, 0);
    p = sp ? sp + 1 : p + len;
  }
  while (*p && !j.full) {
    const char *eq = strchr(p, '=');
    const char *sp = strchr(p, ' ');
    if (!(eq && (sp == NULL || eq < sp) && eq > p)) {
      put_pair(&j, "message", 7, p, strlen(p), 0);
      break;
    }
    const char *v = eq + 1, *end;
    int quoted = *v == '"';
    if (quoted) {
      end = v + 1;
      while (*end && !(*end == '"' && end[-1] != '\\')) end++;
      v++;
    } else {
      end = strchr(v, ' ');
      if (end == NULL) end = v + strlen(v);
    }
    size_t vlen = (size_t)(end - v);
    put_pair(&j, p, (size_t)(eq - p), v, vlen, !quoted && is_number(v, vlen));
    p = quoted && *end ? end + 1 : end;
    while (*p == ' ') p++;
  }
  /* room kept two bytes back for these. */
  out[j.used++] = '}';
  out[j.used++] = '\n';
  return j.used;
}
