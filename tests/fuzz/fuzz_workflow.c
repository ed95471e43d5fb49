/* Fuzz target: arbitrary workflow source is either loaded or refused with file:line errors. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static gv_forum *f;
  if (f == NULL) {
    char path[600];
    snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", GAVEL_SOURCE_DIR);
    gv_error err;
    if (gv_forum_load_file(path, &f, &err) != GV_OK) abort();
  }
  gv_sandbox_limits lim = {16u << 20, 200000, 500};
  gv_workflow *w = NULL;
  gv_error errs[8];
  size_t n = 0;
  if (gv_workflow_load_limited("fuzz.lua", (const char *)data, size, f, &lim, &w, errs, 8, &n) == GV_OK)
    gv_workflow_free(w);
  return 0;
}
