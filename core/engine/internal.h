/* Shared by the engine's own files: its state and the context of one running action. */
#ifndef GV_ENGINE_INTERNAL_H
#define GV_ENGINE_INTERNAL_H

#include "engine/engine.h"

typedef struct wf_entry {
  char forum_id[64];
  int64_t version_id;
  gv_workflow *w;
} wf_entry;

typedef struct listener {
  gv_engine_commit_fn fn;
  void *ud;
} listener;

typedef struct pending_incident {
  int set;
  char forum_id[64], workflow[64], action[64], kind[32];
  int64_t item_id, version_id, actor_id, at;
  char message[2048];
} pending_incident;

struct gv_engine {
  gv_store *store;
  gv_forum **forums;
  size_t nforums;
  wf_entry *wfs;
  size_t nwfs, capwfs;
  int clock;
  int64_t clock_base;      /* virtual clock: its current time */
  int64_t clock_offset;    /* test clock: added to the wall clock */
  int64_t last_now;        /* batch times never go backwards */
  gv_sandbox_limits limits;
  int64_t next_due;        /* cached earliest pending timer */
  int timers_touched;      /* the open batch armed or fired timers */
  int64_t first_event, last_event;
  /* An incident noted while an action failed, written once its savepoint is rolled back. */
  pending_incident incident;
  listener listeners[GV_ENGINE_MAX_LISTENERS];
  int nlisteners;
  gv_engine_hooks hooks;   /* from the options (the commit listeners are copied to listeners) */
  int owns_store;          /* the engine opened the store, so it closes it */
  gv_engine_stats stats;
};

/* The context of one action (or timer, or on_enter hook) while its Lua code runs. */
typedef struct gv_actx {
  gv_engine *e;
  const gv_forum *f;
  const gv_workflow *w;
  const gv_action *a;      /* NULL outside an action's effect */
  gv_item_row *item;
  const gv_caller *caller;
  int64_t now;
  int data_ref;            /* Lua reference of item.data once read, else LUA_NOREF */
  json_t *data;            /* item.data already parsed (for parameter checks), or NULL */
  char go[64];             /* the state chosen with item:go(), or "" */
  int in_hook;             /* running an on_enter hook or a timer's at function */
  json_t *positions;       /* positions set by the effect: [{member, stance, statement, reference}] */
  json_t *notices;         /* notifications: [{topic, audience, payload}] */
  int meta_changed;        /* sealed or meeting changed */
} gv_actx;

/* Runs the Lua function ref of the context's workflow with (item, params, caller).
 * params may be NULL. Returns GV_OK or an error (in err; *traceback for incidents). */
int gv_actx_call(gv_actx *c, int ref, const json_t *params, gv_error *err, char **traceback);
/* Evaluates a timer's at function: *due (ms) and *has (0 when it returned nil). */
int gv_actx_timer_at(gv_actx *c, int ref, int64_t *due, int *has, gv_error *err);
/* If the effect read item.data, writes the Lua table back into c->item->data as JSON;
 * *changed says whether it differs. */
int gv_actx_sync_data(gv_actx *c, int *changed, gv_error *err);
/* Ends the context: releases Lua references and restores the workflow's frozen state. */
void gv_actx_end(gv_actx *c);
/* Starts a context (makes it the current one for the workflow's Lua state). */
void gv_actx_begin(gv_actx *c);

/* ---- One action or timer, inside the caller's batch (action.c) ---- */

/* Applies one request inside the batch (the savepoint is the caller's): checks who may
 * act and the parameters, runs the effect, writes the item, its event, timers and
 * notifications. GV_OK, or an error in r->err (an incident may be pending). */
int gv_engine_apply_one(gv_engine *e, gv_action_req *q, gv_action_res *r, int64_t now);
/* Fires timers due by now (of one item, or any when item_id is 0), at most limit, each
 * under its own savepoint; returns how many were due. */
int gv_engine_fire_due(gv_engine *e, int64_t item_id, int64_t now, int limit);
/* Writes the incident noted by a failed action, once its savepoint was rolled back. */
void gv_engine_flush_incident(gv_engine *e);

#endif
