/* Helpers for Gavel's C unit tests: temporary directories and files. */
#ifndef GV_TESTUTIL_H
#define GV_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh temporary directory for one test; removed by tu_rmdir. */
static inline char *tu_tmpdir(void) {
  char *d = strdup("/tmp/gavel-test-XXXXXX");
  if (mkdtemp(d) == NULL) abort();
  return d;
}

/* dir/name in a static buffer (one at a time). */
static inline const char *tu_path(const char *dir, const char *name) {
  static char buf[4][512];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

static inline void tu_write(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL) abort();
  fputs(text, f);
  fclose(f);
}

static inline void tu_rmdir(char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  free(dir);
}

/* The factor every wait and spin guard in the tests is multiplied by: a busy machine or
 * a sanitizer build is slower, never differently behaved. ctest sets
 * GAVEL_TEST_TIMEOUT_SCALE per build (larger under the sanitizers); at least 1. */
static inline double tu_timeout_scale(void) {
  const char *s = getenv("GAVEL_TEST_TIMEOUT_SCALE");
  double f = s && *s ? atof(s) : 1.0;
  return f > 1.0 ? f : 1.0;
}

/* ms milliseconds of quiet-machine waiting, stretched by tu_timeout_scale(). */
static inline int tu_ms(int ms) { return (int)(ms * tu_timeout_scale()); }

/* The repository's top directory (for shipped files). */
static inline const char *tu_source_dir(void) {
  const char *d = getenv("GAVEL_SOURCE_DIR");
  return d ? d : GAVEL_SOURCE_DIR;
}

#endif
