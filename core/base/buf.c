/* A growable byte buffer. */
#include "base/buf.h"
#include "base/alloc.h"
#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(gv_buf *b, size_t extra) {
  if (b->failed) return GV_ENOMEM;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)-1) / 2) { b->failed = 1; return GV_ENOMEM; }
    cap *= 2;
  }
  char *p = gv_realloc(b->data, cap);
  if (p == NULL) { b->failed = 1; return GV_ENOMEM; }
  b->data = p;
  b->cap = cap;
  return 0;
}

int gv_buf_append(gv_buf *b, const void *s, size_t n) {
  if (grow(b, n) != 0) return GV_ENOMEM;
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int gv_buf_puts(gv_buf *b, const char *s) { return gv_buf_append(b, s, strlen(s)); }

int gv_buf_putc(gv_buf *b, char c) { return gv_buf_append(b, &c, 1); }

int gv_buf_vprintf(gv_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return GV_EINVAL;
  if (grow(b, (size_t)n) != 0) return GV_ENOMEM;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int gv_buf_printf(gv_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = gv_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

int gv_buf_html(gv_buf *b, const char *s) {
  for (; *s; s++) {
    int rc;
    switch (*s) {
      case '&': rc = gv_buf_puts(b, "&amp;"); break;
      case '<': rc = gv_buf_puts(b, "&lt;"); break;
      case '>': rc = gv_buf_puts(b, "&gt;"); break;
      case '"': rc = gv_buf_puts(b, "&quot;"); break;
      case '\'': rc = gv_buf_puts(b, "&#39;"); break;
      default: rc = gv_buf_putc(b, *s);
    }
    if (rc != 0) return rc;
  }
  return 0;
}

void gv_buf_reset(gv_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void gv_buf_free(gv_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = 0;
}

char *gv_buf_steal(gv_buf *b) {
  if (b->failed) { gv_buf_free(b); return NULL; }
  if (b->data == NULL && gv_buf_append(b, "", 0) != 0) return NULL;
  char *p = b->data;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
