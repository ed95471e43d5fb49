/* Structured log lines on stderr: "time level event key=value ...". */
#ifndef GV_LOG_H
#define GV_LOG_H

/* ---- begin: shared by core/base/ and include/gavel/plugin.h (tests/structure/test_plugin_header.py keeps them equal) ---- */
#ifndef GV_LOG_LEVELS_DEFINED
#define GV_LOG_LEVELS_DEFINED
enum { GV_LOG_DEBUG = 0, GV_LOG_INFO = 1, GV_LOG_WARN = 2, GV_LOG_ERROR = 3, GV_LOG_OFF = 4 };
#endif
/* ---- end: shared by core/base/ and include/gavel/plugin.h ---- */

/* Sets the lowest level written (default GV_LOG_INFO). */
void gv_log_set_level(int level);
/* Parses "debug", "info", "warn", "error" or "off"; -1 when unknown. */
int gv_log_level_parse(const char *name);

/* Writes one line: the UTC time, the level, an event name (e.g. "http.request") and
 * printf-style key=value pairs. Values written by callers must never carry
 * confidential content (stances, statements, passwords, tokens). */
void gv_log(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
