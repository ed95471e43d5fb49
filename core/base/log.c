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

/* Appends s[0, len) to out as the inside of a JSON string; returns the new used length. */
static size_t put_escaped(char *out, size_t used, size_t size, const char *s, size_t len) {
  for (size_t i = 0; i < len && used + 7 < size; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      out[used++] = '\\';
      out[used++] = (char)ch;
    } else if (ch < 0x20) {
      used += (size_t)snprintf(out + used, size - used, "\\u%04x", ch);
    } else {
      out[used++] = (char)ch;
    }
  }
  return used;
}

static size_t put_raw(char *out, size_t used, size_t size, const char *s) {
  size_t len = strlen(s);
  if (used + len + 1 >= size) return used;
  memcpy(out + used, s, len);
  return used + len;
}

/* Whether [v, v+len) is a plain JSON number (what key=value pairs write for counts and
 * durations), so log processors can compare it without parsing. */
static int is_number(const char *v, size_t len) {
  size_t i = 0, digits = 0;
  if (i < len && v[i] == '-') i++;
  for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) digits++;
  if (digits == 0 || (digits > 1 && v[v[0] == '-' ? 1 : 0] == '0')) return 0;
  if (i < len && v[i] == '.') {
    size_t frac = 0;
    for (i++; i < len && v[i] >= '0' && v[i] <= '9'; i++) frac++;
    if (frac == 0) return 0;
  }
  return i == len;
}

size_t gv_log_json(const char *text, char *out, size_t size) {
  /* text is "TIME LEVEL EVENT rest": the three fixed fields, then key=value pairs whose
   * value is a word or a "quoted string"; anything else is kept whole as "message". */
  const char *names[3] = {"time", "level", "event"};
  const char *p = text;
  size_t used = put_raw(out, 0, size, "{");
  for (int f = 0; f < 3; f++) {
    const char *sp = strchr(p, ' ');
    size_t len = sp ? (size_t)(sp - p) : strlen(p);
    used = put_raw(out, used, size, f ? ",\"" : "\"");
    used = put_raw(out, used, size, names[f]);
    used = put_raw(out, used, size, "\":\"");
    used = put_escaped(out, used, size, p, len);
    used = put_raw(out, used, size, "\"");
    p = sp ? sp + 1 : p + len;
  }
  while (*p) {
    const char *eq = strchr(p, '=');
    const char *sp = strchr(p, ' ');
    int pair = eq && (sp == NULL || eq < sp) && eq > p;
    if (!pair) {
      used = put_raw(out, used, size, ",\"message\":\"");
      used = put_escaped(out, used, size, p, strlen(p));
      used = put_raw(out, used, size, "\"");
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
    used = put_raw(out, used, size, ",\"");
    used = put_escaped(out, used, size, p, (size_t)(eq - p));
    used = put_raw(out, used, size, "\":");
    size_t vlen = (size_t)(end - v);
    if (!quoted && is_number(v, vlen) && used + vlen + 2 < size) {
      memcpy(out + used, v, vlen);
      used += vlen;
    } else {
      used = put_raw(out, used, size, "\"");
      used = put_escaped(out, used, size, v, vlen);
      used = put_raw(out, used, size, "\"");
    }
    p = quoted && *end ? end + 1 : end;
    while (*p == ' ') p++;
  }
  used = put_raw(out, used, size, "}");
  out[used++] = '\n';
  return used;
}
