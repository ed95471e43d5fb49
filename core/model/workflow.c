/* Small lookups on a loaded workflow's model that need no Lua: record field names, state lists, data paths. */
#include "model/workflow.h"

#include <string.h>

static const char *const record_fields[GV_RF_COUNT] = {
    "description", "question", "number", "text", "adopted_at", "reservations", "objections", "extensions"};

const char *gv_record_field_name(gv_record_field f) {
  return f >= 0 && f < GV_RF_COUNT ? record_fields[f] : NULL;
}

int gv_name_in(char *const *l, size_t n, const char *state) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(l[i], state) == 0) return 1;
  return 0;
}

json_t *gv_data_path(const json_t *data, const char *path) {
  if (path == NULL) return NULL;
  const json_t *v = data;
  const char *p = path;
  while (v && *p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    v = json_object_getn(v, p, n);
    p = dot ? dot + 1 : p + n;
  }
  return (json_t *)v;
}

const gv_action *gv_workflow_action(const gv_workflow *w, const char *name) {
  for (size_t i = 0; i < w->nactions; i++)
    if (strcmp(w->actions[i].name, name) == 0) return &w->actions[i];
  return NULL;
}

const gv_state_decl *gv_workflow_state(const gv_workflow *w, const char *name) {
  for (size_t i = 0; i < w->nstates; i++)
    if (strcmp(w->states[i].name, name) == 0) return &w->states[i];
  return NULL;
}

const gv_timer_decl *gv_workflow_timer(const gv_workflow *w, const char *name) {
  for (size_t i = 0; i < w->ntimers; i++)
    if (strcmp(w->timers[i].name, name) == 0) return &w->timers[i];
  return NULL;
}

int gv_action_from(const gv_action *a, const char *state) {
  for (size_t i = 0; i < a->nfrom; i++)
    if (strcmp(a->from[i], state) == 0) return 1;
  return 0;
}

int gv_action_to(const gv_action *a, const char *state) {
  for (size_t i = 0; i < a->nto; i++)
    if (strcmp(a->to[i], state) == 0) return 1;
  return 0;
}
