/* Fuzz target: arbitrary JSON as the parameters of every shipped action (and as a title) is
 * validated or refused with a named field; times and durations parse or are refused. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"
#include "model/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gv_forum *forum;
static gv_workflow *wfs[4];

static void setup(void) {
  char path[600];
  gv_error err, errs[8];
  size_t n;
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", GAVEL_SOURCE_DIR);
  if (gv_forum_load_file(path, &forum, &err) != GV_OK) abort();
  const char *names[4] = {"consultation", "decision", "draft", "agenda_item"};
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/workflows/%s.lua", GAVEL_SOURCE_DIR, names[i]);
    if (gv_workflow_load_file(path, forum, NULL, &wfs[i], errs, 8, &n) != GV_OK) abort();
  }
}

static int no_refs(void *ud, gv_ptype type, int64_t id, const char *workflow, gv_error *err) {
  (void)ud;
  (void)type;
  (void)workflow;
  return id % 2 ? GV_OK : gv_error_set(err, GV_ENOTFOUND, NULL, "no such thing");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (forum == NULL) setup();
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  int64_t ms;
  gv_time_parse(text, &ms);
  gv_duration_parse(text, &ms);
  json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
  if (j) {
    json_t *item_data = json_pack("{s:[s,s,s]}", "options", "support", "oppose", "abstain");
    for (int w = 0; w < 4; w++) {
      const gv_workflow *wf = wfs[w];
      for (size_t a = 0; a <= wf->nactions; a++) {
        const gv_action *act = a == wf->nactions ? &wf->create : &wf->actions[a];
        gv_error err;
        json_t *out = gv_params_validate(act->params, act->nparams, j, forum, item_data, 0, no_refs, NULL, &err);
        if (out == NULL && err.code == GV_OK) abort(); /* a refusal always says why */
        json_decref(out);
      }
    }
    gv_error err;
    json_decref(gv_title_validate(j, forum, &err));
    json_decref(item_data);
    json_decref(j);
  }
  free(text);
  return 0;
}
