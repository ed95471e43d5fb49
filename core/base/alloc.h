/* Gavel's allocation wrappers: every allocation of Gavel's own code goes through them, so a test can fail the Nth. */
#ifndef GV_ALLOC_H
#define GV_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* malloc, calloc, realloc, strdup and strndup with the same contracts: NULL when out of
 * memory (or when the fault hook says so); the caller frees the result with free(). */
void *gv_malloc(size_t n);
void *gv_calloc(size_t count, size_t size);
void *gv_realloc(void *p, size_t n);
char *gv_strdup(const char *s);
char *gv_strndup(const char *s, size_t n);

/* Formats into a new string (free() it). Returns NULL when out of memory. */
char *gv_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *gv_vasprintf(const char *fmt, va_list ap);

/* Test-only fault injection. While a hook is set, every allocation asks it first and
 * fails (returns NULL) when it answers nonzero. NULL removes it. Normal runs never set
 * one, so an allocation costs one predictable branch more than libc's. */
typedef int (*gv_alloc_fault_fn)(void);
void gv_alloc_set_fault(gv_alloc_fault_fn fn);
/* Whether the next allocation must fail: for the allocators of libraries (jansson,
 * SQLite, Lua) that a test routes through the same hook. */
int gv_alloc_fault_now(void);

#endif
