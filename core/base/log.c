/* Structured log lines on stderr. */
#include "base/log.h"
#include "base/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int min_level = GV_LOG_INFO;

void gv_log_set_level(int level) { min_level = level; }

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
  line[n++] = '\n';
  fwrite(line, 1, (size_t)n, stderr);
}
