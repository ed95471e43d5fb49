/* Structured log lines on stderr: "time level event key=value ...", or JSON objects. */
#ifndef GV_LOG_H
#define GV_LOG_H

#include <stddef.h>

#include "gavel/errors.h" /* the log levels */

/* Sets the lowest level written (default GV_LOG_INFO). */
void gv_log_set_level(int level);
/* Writes each line as one JSON object ({"time", "level", "event", key: value, ...}) when on,
 * as text when off (the default). */
void gv_log_set_json(int on);
/* The JSON line for one text line "TIME LEVEL EVENT key=value ..." into out (size bytes,
 * at least 64), newline included; returns its length. Numbers stay numbers, quoted values
 * become strings, and text that is not key=value pairs becomes "message". */
size_t gv_log_json(const char *text, char *out, size_t size);
/* Parses "debug", "info", "warn", "error" or "off"; -1 when unknown. */
int gv_log_level_parse(const char *name);

/* Writes one line: the UTC time, the level, an event name (e.g. "http.request") and
 * printf-style key=value pairs. Values written by callers must never carry
 * confidential content (stances, statements, passwords, tokens). */
void gv_log(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
