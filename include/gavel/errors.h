/* Gavel's error codes, error detail and log levels: the one table shared by the core and the
 * plugin API (include/gavel/plugin.h includes it; so does core/base/error.h). Only system
 * headers, so it is installed beside plugin.h. */
#ifndef GAVEL_ERRORS_H
#define GAVEL_ERRORS_H

/* X(name, value, code string, HTTP status, default message).
 * The code string is what clients see in {"error": {"code": ...}}. */
#define GV_ERRNO_MAP(X)                                                          \
  X(OK,        0,   "ok",                   200, "success")                      \
  X(ENOMEM,   -1,   "out_of_memory",        503, "out of memory")                \
  X(EINVAL,   -2,   "invalid",              400, "invalid argument")             \
  X(EIO,      -3,   "io_error",             500, "input/output error")           \
  X(ENOTFOUND,-4,   "not_found",            404, "not found")                    \
  X(EFORBIDDEN,-5,  "forbidden",            403, "not allowed")                  \
  X(ESTATE,   -6,   "wrong_state",          409, "not possible in this state")   \
  X(EPARAM,   -7,   "invalid_parameter",    422, "invalid parameter")            \
  X(EDEADLINE,-8,   "deadline_passed",      409, "the deadline has passed")      \
  X(ESCRIPT,  -9,   "workflow_error",       500, "workflow script error")        \
  X(ELIMIT,  -10,   "workflow_limit",       500, "workflow exceeded its limits") \
  X(ESTORE,  -11,   "store_error",          500, "database error")               \
  X(ESCHEMA, -12,   "schema_too_new",       500, "database written by a newer Gavel") \
  X(EEXIST,  -13,   "already_exists",       409, "already exists")               \
  X(EAUTH,   -14,   "unauthenticated",      401, "authentication required")      \
  X(EBUSY,   -15,   "too_many_requests",    429, "too many requests")            \
  X(ETOOBIG, -16,   "payload_too_large",    413, "payload too large")            \
  X(EPARSE,  -17,   "bad_request",          400, "malformed request")            \
  X(EMEDIA,  -18,   "unsupported_media_type", 415, "unsupported media type")     \
  X(ECONFIG, -19,   "config_error",         500, "configuration error")          \
  X(ECONFLICT,-20,  "conflict",             409, "conflict")                     \
  X(EIDEMPOTENCY,-21,"idempotency_key_reused", 422, "idempotency key reused with a different request") \
  X(EMETHOD, -22,   "method_not_allowed",   405, "method not allowed")           \
  X(EINTERNAL,-23,  "internal_error",       500, "internal error")               \
  X(ECANCELED,-24,  "canceled",             503, "canceled")

enum {
#define GV_ERR_ENUM(name, value, code, status, msg) GV_##name = (value),
  GV_ERRNO_MAP(GV_ERR_ENUM)
#undef GV_ERR_ENUM
};

/* Human detail about an error. Fixed-size so it never needs freeing. */
typedef struct gv_error {
  int code;          /* GV_OK or a GV_E* value */
  char field[64];    /* the parameter or field at fault, or "" */
  char file[192];    /* source file for author-facing errors, or "" */
  int line;          /* line in file, or 0 */
  char message[512]; /* full sentence(s) for a person */
} gv_error;

/* Clears *err (if not NULL) to GV_OK with empty strings. */
void gv_error_clear(gv_error *err);
/* Records code, field (may be NULL) and a printf-style message in *err, which may be NULL.
 * Returns code, so a caller can write `return gv_error_set(err, GV_EIO, NULL, "...")`. */
int gv_error_set(gv_error *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The code string of err ("not_found"; "unknown" for values outside the table), and its
 * default message. */
const char *gv_err_name(int err);
const char *gv_strerror(int err);

/* Log levels, lowest first. */
enum { GV_LOG_DEBUG = 0, GV_LOG_INFO = 1, GV_LOG_WARN = 2, GV_LOG_ERROR = 3, GV_LOG_OFF = 4 };

#endif
