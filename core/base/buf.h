/* A growable byte buffer for building text (HTTP responses, records, SQL fragments). */
#ifndef GV_BUF_H
#define GV_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct gv_buf {
  char *data;    /* always NUL-terminated when len > 0 or after any append */
  size_t len;
  size_t cap;
  int failed;    /* set once an allocation failed; further appends are no-ops */
} gv_buf;

#define GV_BUF_INIT {NULL, 0, 0, 0}

/* Appends n bytes of s. Returns 0, or GV_ENOMEM (and sets failed). */
int gv_buf_append(gv_buf *b, const void *s, size_t n);
/* Appends a NUL-terminated string. */
int gv_buf_puts(gv_buf *b, const char *s);
/* Appends one byte. */
int gv_buf_putc(gv_buf *b, char c);
/* Appends printf-style text. */
int gv_buf_printf(gv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gv_buf_vprintf(gv_buf *b, const char *fmt, va_list ap);
/* Appends s with &, <, >, " and ' replaced by HTML entities. */
int gv_buf_html(gv_buf *b, const char *s);
/* Empties the buffer, keeping its memory. */
void gv_buf_reset(gv_buf *b);
/* Frees the memory; the buffer may be reused after this. */
void gv_buf_free(gv_buf *b);
/* Hands the data to the caller (free() it) and resets b. Never NULL unless out of memory. */
char *gv_buf_steal(gv_buf *b);

#endif
