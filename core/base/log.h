/* Structured log lines on stderr: "time level event key=value ...". */
#ifndef GV_LOG_H
#define GV_LOG_H

#include "gavel/errors.h" /* the log levels */

/* Sets the lowest level written (default GV_LOG_INFO). */
void gv_log_set_level(int level);
/* Parses "debug", "info", "warn", "error" or "off"; -1 when unknown. */
int gv_log_level_parse(const char *name);

/* Writes one line: the UTC time, the level, an event name (e.g. "http.request") and
 * printf-style key=value pairs. Values written by callers must never carry
 * confidential content (stances, statements, passwords, tokens). */
void gv_log(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
