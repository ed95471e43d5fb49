/* Error codes shared by every part of Gavel, with their names, messages and HTTP statuses. */
#ifndef GV_ERROR_H
#define GV_ERROR_H

#include <stddef.h>

/* The codes, struct gv_error, gv_error_set and gv_err_name: the table the plugin API shares. */
#include "gavel/errors.h"

/* The HTTP status that err maps to (500 for unknown values). */
int gv_err_http_status(int err);

/* Like gv_error_set, also recording the author-facing file and line. */
int gv_error_set_at(gv_error *err, int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Room for gv_error_format's "file:line: message" (file, a line number and message). */
#define GV_ERROR_TEXT_MAX (sizeof ((gv_error *)0)->file + 24 + sizeof ((gv_error *)0)->message)

/* Writes "file:line: message" (or just the message) into buf. Returns buf. */
const char *gv_error_format(const gv_error *err, char *buf, size_t size);

#endif
