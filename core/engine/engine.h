/* The engine: applies workflow actions in batched transactions, keeps durable timers, loads workflow versions. */
#ifndef GV_ENGINE_H
#define GV_ENGINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/forum.h"
#include "model/role.h"
#include "lua/sandbox.h"
#include "store/store.h"
#include "model/workflow.h"

typedef struct gv_engine gv_engine;

/* Who is acting. The engine never takes identity from parameters: only from here. */
typedef struct gv_caller {
  int64_t user_id;          /* 0 for the engine itself (timers) */
  char username[64];
  gv_role role;             /* GV_ROLE_NONE for an anonymous caller */
  char member[16];          /* a delegate's state */
  char forum_id[64];
  char language[8];         /* the language the reader reads in ("" : the forum's first) */
} gv_caller;

/* Fills c from a user row. */
void gv_caller_from_user(gv_caller *c, const gv_user *u);

enum { GV_CLOCK_REAL = 0, GV_CLOCK_OFFSET = 1, GV_CLOCK_VIRTUAL = 2 };

typedef struct gv_action_res gv_action_res;

/* After-commit listeners: called once per committed batch with the ids of the events it
 * wrote (first..last, inclusive). Live updates and mail delivery hang off this. */
typedef void (*gv_engine_commit_fn)(gv_engine *e, int64_t first_event, int64_t last_event, void *ud);
/* Fills res's extra receipt fields after its action applied (res NULL: forget what was noted
 * for an action that failed or a timer). */
typedef void (*gv_receipt_fn)(void *ud, gv_action_res *res);
/* gavel.call(name, ...) from a workflow: args_json is a JSON array; *out (malloc'd, the engine
 * frees it) is the JSON result. GV_ENOTFOUND when nothing offers name. */
typedef int (*gv_engine_call_fn)(void *ud, const char *name, const char *args_json, char **out, gv_error *err);

#define GV_ENGINE_MAX_LISTENERS 8

/* What the engine runs beside its own work, given when it opens. The engine knows no more
 * of who provides them (in gavel, cli/ wires the plugin host's). Every field may be NULL. */
typedef struct gv_engine_hooks {
  gv_store_event_hook event;  /* inside the transaction, after each event is written */
  void *event_ud;
  gv_receipt_fn receipt;      /* fields added to an action's receipt */
  void *receipt_ud;
  gv_engine_call_fn call;     /* functions workflows reach with gavel.call */
  void *call_ud;
  struct {
    gv_engine_commit_fn fn;
    void *ud;
  } commit[GV_ENGINE_MAX_LISTENERS]; /* after each committed batch, in this order */
  size_t ncommit;
} gv_engine_hooks;

typedef struct gv_engine_options {
  const char *db_path;
  int create;                 /* create the database if missing */
  int clock;                  /* GV_CLOCK_*: OFFSET is `serve --test-clock`; VIRTUAL for scenarios */
  int64_t virtual_start;      /* for GV_CLOCK_VIRTUAL */
  gv_sandbox_limits limits;   /* per workflow version; zero = defaults */
  gv_store *store;            /* an open store to run on (the caller closes it), else db_path's */
  gv_engine_hooks hooks;      /* what runs beside the engine's own work (the plugins, wired by cli/) */
} gv_engine_options;

/* Opens the engine on a database: the store, its forums and the current workflow
 * versions. Pending timers stay on disk; nothing per item is loaded. */
int gv_engine_open(const gv_engine_options *o, gv_engine **out, gv_error *err);
void gv_engine_close(gv_engine *e);

gv_store *gv_engine_store(gv_engine *e);

/* The engine's clock (ms since the epoch): the wall clock, or the test clock. */
int64_t gv_engine_now(const gv_engine *e);
/* Moves a test or virtual clock forward; GV_EFORBIDDEN on the real clock. */
int gv_engine_clock_advance(gv_engine *e, int64_t ms);
int gv_engine_clock_mode(const gv_engine *e);

/* The forum id (the only one when id is NULL), or NULL. Valid while the engine lives. */
const gv_forum *gv_engine_forum(gv_engine *e, const char *id);

/* Registers every workflow file (*.lua) in dir for every forum: a file whose source is
 * new is stored as a new version and becomes the one new items use; running items
 * keep theirs. Files with mistakes are skipped (reported in errs) and the previous
 * version stays current. Returns GV_OK if every file loaded. */
int gv_engine_register_dir(gv_engine *e, const char *dir, gv_error *errs, size_t maxerrs, size_t *nerrs);
/* Registers one workflow source (path is for messages and records). */
int gv_engine_register_source(gv_engine *e, const char *path, const char *src, size_t len, gv_error *errs,
                              size_t maxerrs, size_t *nerrs);

/* The workflow new items of name use in forum, or NULL. Valid while the engine lives. */
const gv_workflow *gv_engine_workflow(gv_engine *e, const char *forum_id, const char *name);
/* The workflow version an item runs on (loaded from the database if needed), or NULL. */
const gv_workflow *gv_engine_workflow_version(gv_engine *e, const char *forum_id, int64_t version_id,
                                              gv_error *err);

/* Whether caller may take action a on item (NULL when creating), by role alone. */
int gv_engine_may_act(gv_engine *e, const gv_forum *f, const gv_action *a, const gv_caller *c,
                      const gv_item_row *item);
/* Whether the chair's powers are the caller's (the chair, or whoever the forum names). */
int gv_engine_is_chair(const gv_forum *f, const gv_caller *c);

/* One action to apply. */
typedef struct gv_action_req gv_action_req;

/* Called inside the action's transaction once it applied (e.g. to store an idempotent
 * response with it). Returning an error rolls the action back. */
typedef int (*gv_applied_fn)(gv_engine *e, gv_action_req *req, gv_action_res *res, void *ud);

struct gv_action_req {
  const gv_caller *caller;
  int64_t item_id;          /* 0: create an item */
  const char *forum_id;     /* create: the forum (NULL: the only one) */
  const char *workflow;     /* create: the workflow */
  const json_t *title;      /* create: a string or {fr, en} */
  const char *action;       /* NULL for create */
  const json_t *params;     /* may be NULL */
  gv_applied_fn applied;    /* may be NULL */
  void *applied_ud;
};

struct gv_action_res {
  gv_error err;             /* err.code is GV_OK on success */
  int64_t item_id;
  int64_t event_id;
  int64_t committed_at;
  char state[64];
  struct {                  /* fields plugins add to the receipt (e.g. audit_index) */
    char name[32];
    int64_t value;
  } extra[4];
  int nextra;
};


/* Applies n actions as one transaction, each under its own savepoint: a failing action
 * changes nothing and does not fail the others. Due timers fire first. Returns GV_OK
 * once the transaction committed (each res[i] says how its action went), or an error
 * if the commit failed (then every res[i] carries that error: nothing was applied). */
int gv_engine_apply(gv_engine *e, gv_action_req *reqs, gv_action_res *res, size_t n);

/* Like gv_engine_apply, but all or nothing: if any action fails, none is committed (every
 * res[i] then says which one failed and why). extra(e, now, ud), if not NULL, runs inside
 * the same transaction after the actions (e.g. to record what the batch means). */
typedef int (*gv_batch_extra_fn)(gv_engine *e, int64_t now, void *ud, gv_error *err);
int gv_engine_apply_atomic(gv_engine *e, gv_action_req *reqs, gv_action_res *res, size_t n, gv_batch_extra_fn extra,
                           void *ud);

/* Appends a forum-level event (accounts, meetings, configuration) in its own transaction
 * and tells the commit listeners. Sets *event_id. */
int gv_engine_record(gv_engine *e, const char *forum_id, const char *kind, const char *action, int64_t actor_id,
                     const char *member, json_t *params, int64_t *event_id, gv_error *err);
/* The same inside the caller's open transaction (no listeners). */
int gv_engine_record_in_tx(gv_engine *e, const char *forum_id, const char *kind, const char *action,
                           int64_t actor_id, const char *member, json_t *params, int64_t now, int64_t *event_id,
                           gv_error *err);
/* Tells the commit listeners about events written outside gv_engine_apply. */
void gv_engine_notify(gv_engine *e, int64_t first_event, int64_t last_event);

/* Fires every timer due by now, in batches. *fired (may be NULL) gets how many. */
int gv_engine_run_due(gv_engine *e, int *fired);
/* The earliest pending timer (ms), or INT64_MAX. */
int64_t gv_engine_next_due(gv_engine *e);

/* Adds an after-commit listener (see gv_engine_hooks). At most GV_ENGINE_MAX_LISTENERS in all,
 * counting those of the options: one more is refused with GV_EINVAL (and logged). */
int gv_engine_on_commit(gv_engine *e, gv_engine_commit_fn fn, void *ud);

/* Engine counters for /metrics. */
typedef struct gv_engine_stats {
  uint64_t batches;
  uint64_t actions;
  uint64_t actions_failed;
  uint64_t timers_fired;
  uint64_t incidents;
  gv_hist batch_size;       /* actions per committed batch of gv_engine_apply and _apply_atomic */
  gv_hist action_seconds;   /* applying one action inside its batch */
  gv_hist commit_seconds;   /* a committed batch (of actions, or of due timers), from BEGIN to the
                             * COMMIT's return: what the batch's clients wait for */
  int64_t timer_last_lag_ms; /* how late (server clock) the last timer fired after its due time */
  int64_t timer_last_fired_at; /* when it fired (ms), 0 before any */
} gv_engine_stats;
const gv_engine_stats *gv_engine_stats_get(const gv_engine *e);

/* Installs the runtime's globals (now, duration, dates, gavel.*) in the environment table
 * at env of a workflow file or module being loaded: the install callback of
 * gv_workflow_env, for whoever loads a workflow as the engine will run it (the engine
 * itself, `gavel workflow check`). They raise an error when called outside an action.
 * ud is unused. */
void gv_engine_install_runtime(struct lua_State *L, int env, void *ud);

#endif
