/* Gavel's allocation wrappers and the test-only fault hook they consult. */
#include "base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gv_alloc_fault_fn fault_hook;

void gv_alloc_set_fault(gv_alloc_fault_fn fn) { fault_hook = fn; }

int gv_alloc_fault_now(void) { return fault_hook != NULL && fault_hook(); }

void *gv_malloc(size_t n) {
  if (fault_hook != NULL && fault_hook()) return NULL;
  return malloc(n);
}

void *gv_calloc(size_t count, size_t size) {
  if (fault_hook != NULL && fault_hook()) return NULL;
  return calloc(count, size);
}

void *gv_realloc(void *p, size_t n) {
  if (fault_hook != NULL && fault_hook()) return NULL;
  return realloc(p, n);
}

char *gv_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = gv_malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

char *gv_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *d = gv_malloc(len + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

char *gv_vasprintf(const char *fmt, va_list ap) {
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  char *out = n < 0 ? NULL : gv_malloc((size_t)n + 1);
  if (out != NULL) vsnprintf(out, (size_t)n + 1, fmt, again);
  va_end(again);
  return out;
}

char *gv_asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = gv_vasprintf(fmt, ap);
  va_end(ap);
  return out;
}
