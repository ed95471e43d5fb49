/* The error table: names, messages and HTTP statuses of GV_E* codes. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *gv_err_name(int err) {
  switch (err) {
#define GV_ERR_NAME(name, value, code, status, msg) case value: return code;
    GV_ERRNO_MAP(GV_ERR_NAME)
#undef GV_ERR_NAME
  }
  return "unknown";
}

const char *gv_strerror(int err) {
  switch (err) {
#define GV_ERR_MSG(name, value, code, status, msg) case value: return msg;
    GV_ERRNO_MAP(GV_ERR_MSG)
#undef GV_ERR_MSG
  }
  return "unknown error";
}

int gv_err_http_status(int err) {
  switch (err) {
#define GV_ERR_STATUS(name, value, code, status, msg) case value: return status;
    GV_ERRNO_MAP(GV_ERR_STATUS)
#undef GV_ERR_STATUS
  }
  return 500;
}

void gv_error_clear(gv_error *err) {
  if (err == NULL) return;
  err->code = GV_OK;
  err->field[0] = '\0';
  err->file[0] = '\0';
  err->line = 0;
  err->message[0] = '\0';
}

static void copy_str(char *dst, size_t size, const char *src) {
  if (src == NULL) src = "";
  snprintf(dst, size, "%s", src);
}

int gv_error_set(gv_error *err, int code, const char *field, const char *fmt, ...) {
  if (err == NULL) return code;
  err->code = code;
  copy_str(err->field, sizeof err->field, field);
  err->file[0] = '\0';
  err->line = 0;
  if (fmt != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  } else {
    copy_str(err->message, sizeof err->message, gv_strerror(code));
  }
  return code;
}

int gv_error_set_at(gv_error *err, int code, const char *file, int line, const char *fmt, ...) {
  if (err == NULL) return code;
  err->code = code;
  err->field[0] = '\0';
  copy_str(err->file, sizeof err->file, file);
  err->line = line;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return code;
}

const char *gv_error_format(const gv_error *err, char *buf, size_t size) {
  if (err->file[0] != '\0' && err->line > 0)
    snprintf(buf, size, "%s:%d: %s", err->file, err->line, err->message);
  else if (err->file[0] != '\0')
    snprintf(buf, size, "%s: %s", err->file, err->message);
  else
    snprintf(buf, size, "%s", err->message[0] ? err->message : gv_strerror(err->code));
  return buf;
}
