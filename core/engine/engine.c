/* The engine: batches of actions in one transaction with a savepoint each, durable timers, workflow versions. */
#include "engine/internal.h"
#include "base/alloc.h"
#include "base/time.h"
#include "base/log.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DUE_BATCH 1000
/* The first size of the loaded-versions cache (it doubles). */
#define WF_CACHE_INITIAL 8

void gv_caller_from_user(gv_caller *c, const gv_user *u) {
  memset(c, 0, sizeof *c);
  c->user_id = u->id;
  snprintf(c->username, sizeof c->username, "%s", u->username);
  c->role = gv_role_parse(u->role);
  snprintf(c->member, sizeof c->member, "%s", u->member);
  snprintf(c->forum_id, sizeof c->forum_id, "%s", u->forum_id);
  snprintf(c->language, sizeof c->language, "%s", u->language);
}

/* ---- Opening, clock, forums ------------------------------------------------------------- */

int gv_engine_open(const gv_engine_options *o, gv_engine **out, gv_error *err) {
  *out = NULL;
  gv_engine *e = gv_calloc(1, sizeof *e);
  if (e == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  if (o->store) {
    e->store = o->store;
  } else {
    int rc = gv_store_open(o->db_path, o->create ? GV_STORE_CREATE : 0, &e->store, err);
    if (rc != GV_OK) {
      free(e);
      return rc;
    }
    e->owns_store = 1;
  }
  e->hooks = o->hooks;
  if (e->hooks.ncommit > GV_ENGINE_MAX_LISTENERS) e->hooks.ncommit = GV_ENGINE_MAX_LISTENERS;
  for (size_t i = 0; i < e->hooks.ncommit; i++)
    if (gv_engine_on_commit(e, e->hooks.commit[i].fn, e->hooks.commit[i].ud) != GV_OK) {
      gv_engine_close(e);
      return gv_error_set(err, GV_EINVAL, NULL, "the engine's commit listeners are invalid");
    }
  if (e->hooks.event) gv_store_set_event_hook(e->store, e->hooks.event, e->hooks.event_ud);
  e->clock = o->clock;
  e->clock_base = o->virtual_start;
  e->limits = o->limits;
  if (e->limits.memory_bytes == 0 || e->limits.instructions == 0) gv_sandbox_limits_default(&e->limits);
  /* Load every forum of the database. */
  for (;;) {
    char id[64];
    gv_error e2;
    if (gv_store_forum_default(e->store, id, &e2) == GV_OK) {
      gv_forum *f;
      if (gv_store_forum_load(e->store, id, &f, err) != GV_OK) {
        gv_engine_close(e);
        return err ? err->code : GV_ESTORE;
      }
      if ((e->forums = gv_calloc(1, sizeof *e->forums)) == NULL) {
        gv_forum_free(f);
        gv_engine_close(e);
        return gv_error_set(err, GV_ENOMEM, NULL, NULL);
      }
      e->forums[0] = f;
      e->nforums = 1;
    }
    break;
  }
  e->next_due = gv_store_timer_next_due(e->store);
  static const double sizes[] = {1, 4, 16, 64, 256, 1024};
  gv_hist_init(&e->stats.batch_size, sizes, (int)(sizeof sizes / sizeof sizes[0]));
  gv_hist_init(&e->stats.action_seconds, gv_hist_seconds_bounds, gv_hist_seconds_nbounds);
  gv_hist_init(&e->stats.commit_seconds, gv_hist_seconds_bounds, gv_hist_seconds_nbounds);
  *out = e;
  return GV_OK;
}

void gv_engine_close(gv_engine *e) {
  if (e == NULL) return;
  if (e->hooks.event && e->store) gv_store_set_event_hook(e->store, NULL, NULL);
  for (size_t i = 0; i < e->nwfs; i++) gv_workflow_free(e->wfs[i].w);
  free(e->wfs);
  for (size_t i = 0; i < e->nforums; i++) gv_forum_free(e->forums[i]);
  free(e->forums);
  if (e->owns_store) gv_store_close(e->store);
  free(e);
}

gv_store *gv_engine_store(gv_engine *e) { return e->store; }

int64_t gv_engine_now(const gv_engine *e) {
  switch (e->clock) {
    case GV_CLOCK_VIRTUAL: return e->clock_base;
    case GV_CLOCK_OFFSET: return gv_time_real_ms() + e->clock_offset;
    default: return gv_time_real_ms();
  }
}

int gv_engine_clock_advance(gv_engine *e, int64_t ms) {
  if (ms < 0) return GV_EINVAL;
  if (e->clock == GV_CLOCK_VIRTUAL) e->clock_base += ms;
  else if (e->clock == GV_CLOCK_OFFSET) e->clock_offset += ms;
  else return GV_EFORBIDDEN;
  return GV_OK;
}

int gv_engine_clock_mode(const gv_engine *e) { return e->clock; }

const gv_forum *gv_engine_forum(gv_engine *e, const char *id) {
  for (size_t i = 0; i < e->nforums; i++)
    if (id == NULL || strcmp(e->forums[i]->id, id) == 0) return e->forums[i];
  return NULL;
}

const gv_engine_stats *gv_engine_stats_get(const gv_engine *e) { return &e->stats; }

int gv_engine_on_commit(gv_engine *e, gv_engine_commit_fn fn, void *ud) {
  if (fn == NULL || e->nlisteners == GV_ENGINE_MAX_LISTENERS) {
    gv_log(GV_LOG_ERROR, "engine.listener_refused", "reason=\"%s\"",
           fn ? "more than 8 commit listeners" : "no function given");
    return GV_EINVAL;
  }
  e->listeners[e->nlisteners].fn = fn;
  e->listeners[e->nlisteners].ud = ud;
  e->nlisteners++;
  return GV_OK;
}

/* ---- Workflow versions ------------------------------------------------------------------- */

/* Keeps w (taking it) in the cache of loaded versions. GV_ENOMEM (w freed) when the cache
 * cannot grow. */
static int cache_add(gv_engine *e, const char *forum_id, gv_workflow *w) {
  if (e->nwfs == e->capwfs) {
    size_t cap = e->capwfs ? e->capwfs * 2 : WF_CACHE_INITIAL;
    wf_entry *grown = gv_realloc(e->wfs, cap * sizeof *e->wfs);
    if (grown == NULL) {
      gv_workflow_free(w);
      return GV_ENOMEM;
    }
    e->wfs = grown;
    e->capwfs = cap;
  }
  wf_entry *x = &e->wfs[e->nwfs++];
  snprintf(x->forum_id, sizeof x->forum_id, "%s", forum_id);
  x->version_id = w->version_id;
  x->w = w;
  return GV_OK;
}

const gv_workflow *gv_engine_workflow_version(gv_engine *e, const char *forum_id, int64_t version_id,
                                              gv_error *err) {
  for (size_t i = 0; i < e->nwfs; i++)
    if (e->wfs[i].version_id == version_id && strcmp(e->wfs[i].forum_id, forum_id) == 0) return e->wfs[i].w;
  const gv_forum *f = gv_engine_forum(e, forum_id);
  if (f == NULL) {
    gv_error_set(err, GV_ENOTFOUND, "forum", "no forum '%s'", forum_id);
    return NULL;
  }
  char *name = NULL, *src = NULL, *mods = NULL, *path = NULL, sha[65];
  if (gv_store_wfversion_get(e->store, version_id, &name, &src, &mods, &path, sha, err) != GV_OK) return NULL;
  gv_workflow *w = NULL;
  gv_error errs[4];
  size_t nerrs = 0;
  /* Each version gets its own sandbox with the engine's limits, and runs on the modules
   * stored with it (never on today's files). */
  json_t *stored = mods ? json_loads(mods, 0, NULL) : json_object();
  gv_workflow_env env = {.limits = &e->limits, .install = gv_engine_install_runtime, .modules = stored ? stored : json_object()};
  int rc = gv_workflow_load_env(path ? path : name, src, strlen(src), f, &env, &w, errs, 4, &nerrs);
  json_decref((json_t *)env.modules);
  free(name);
  free(src);
  free(mods);
  free(path);
  if (rc != GV_OK) {
    char buf[GV_ERROR_TEXT_MAX];
    gv_error_format(&errs[0], buf, sizeof buf);
    gv_error_set(err, GV_ESCRIPT, NULL, "stored workflow version %lld does not load: %s", (long long)version_id, buf);
    return NULL;
  }
  w->version_id = version_id;
  if (cache_add(e, forum_id, w) != GV_OK) {
    gv_error_set(err, GV_ENOMEM, NULL, "out of memory loading workflow version %lld", (long long)version_id);
    return NULL;
  }
  return w;
}

const gv_workflow *gv_engine_workflow(gv_engine *e, const char *forum_id, const char *name) {
  int64_t vid;
  if (gv_store_wfcurrent_get(e->store, forum_id, name, &vid, NULL) != GV_OK) return NULL;
  return gv_engine_workflow_version(e, forum_id, vid, NULL);
}

int gv_engine_register_source(gv_engine *e, const char *path, const char *src, size_t len, gv_error *errs,
                              size_t maxerrs, size_t *nerrs) {
  *nerrs = 0;
  int result = GV_OK;
  for (size_t fi = 0; fi < e->nforums; fi++) {
    const gv_forum *f = e->forums[fi];
    gv_workflow *w = NULL;
    size_t n = 0;
    gv_workflow_env env = {.limits = &e->limits, .install = gv_engine_install_runtime};
    int rc = gv_workflow_load_env(path, src, len, f, &env, &w, errs + *nerrs, maxerrs - *nerrs, &n);
    *nerrs += n;
    if (rc != GV_OK) {
      result = rc;
      continue;
    }
    int64_t now = gv_engine_now(e), vid = 0, cur = 0;
    int created = 0;
    gv_error err;
    rc = gv_store_begin(e->store, &err);
    char *mods = w->modules ? json_dumps(w->modules, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (rc == GV_OK && w->modules && mods == NULL) rc = gv_error_set(&err, GV_ENOMEM, NULL, NULL);
    if (rc == GV_OK) rc = gv_store_wfversion_put(e->store, w->name, w->sha256, w->source, mods, path, now, &vid, &created, &err);
    free(mods);
    int changed = rc == GV_OK && (gv_store_wfcurrent_get(e->store, f->id, w->name, &cur, NULL) != GV_OK || cur != vid);
    if (rc == GV_OK && changed) rc = gv_store_wfcurrent_set(e->store, f->id, w->name, vid, now, &err);
    if (rc == GV_OK && changed) {
      json_t *p = json_pack("{s:s, s:I, s:s, s:s}", "workflow", w->name, "version_id", (json_int_t)vid, "sha256",
                            w->sha256, "path", path);
      rc = gv_engine_record_in_tx(e, f->id, "config", "workflow.version_current", 0, NULL, p, now, NULL, &err);
      json_decref(p);
    }
    if (rc == GV_OK) rc = gv_store_commit(e->store, &err);
    else gv_store_rollback(e->store);
    if (rc != GV_OK) {
      gv_workflow_free(w);
      if (*nerrs < maxerrs) errs[(*nerrs)++] = err;
      result = rc;
      continue;
    }
    if (changed)
      gv_log(GV_LOG_INFO, "workflow.registered", "forum=%s workflow=%s version=%lld sha256=%.12s path=%s", f->id,
             w->name, (long long)vid, w->sha256, path);
    w->version_id = vid;
    /* Keep one loaded copy per version. */
    int have = 0;
    for (size_t i = 0; i < e->nwfs; i++)
      if (e->wfs[i].version_id == vid && strcmp(e->wfs[i].forum_id, f->id) == 0) have = 1;
    if (have) gv_workflow_free(w);
    else if (cache_add(e, f->id, w) != GV_OK) {
      if (*nerrs < maxerrs) gv_error_set_at(&errs[(*nerrs)++], GV_ENOMEM, path, 0, "out of memory");
      result = GV_ENOMEM;
    }
  }
  return result;
}

static int lua_file(const struct dirent *d) {
  size_t n = strlen(d->d_name);
  return n > 4 && strcmp(d->d_name + n - 4, ".lua") == 0 && d->d_name[0] != '.';
}

int gv_engine_register_dir(gv_engine *e, const char *dir, gv_error *errs, size_t maxerrs, size_t *nerrs) {
  *nerrs = 0;
  struct dirent **list = NULL;
  int n = scandir(dir, &list, lua_file, alphasort);
  if (n < 0) {
    if (maxerrs) gv_error_set_at(&errs[0], GV_ENOTFOUND, dir, 0, "cannot read the workflow directory");
    *nerrs = 1;
    return GV_ENOTFOUND;
  }
  int result = GV_OK;
  for (int i = 0; i < n; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
    free(list[i]);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) continue;
    char *src = gv_malloc(GV_SANDBOX_MAX_SOURCE + 1);
    size_t len = src ? fread(src, 1, GV_SANDBOX_MAX_SOURCE + 1, fp) : 0;
    fclose(fp);
    if (src == NULL) {
      if (*nerrs < maxerrs) gv_error_set_at(&errs[(*nerrs)++], GV_ENOMEM, path, 0, "out of memory");
      result = GV_ENOMEM;
      continue;
    }
    size_t k = 0;
    int rc = gv_engine_register_source(e, path, src, len, errs + *nerrs, maxerrs - *nerrs, &k);
    *nerrs += k;
    free(src);
    if (rc != GV_OK) {
      result = rc;
      for (size_t j = *nerrs - k; j < *nerrs; j++) {
        char buf[GV_ERROR_TEXT_MAX];
        gv_log(GV_LOG_ERROR, "workflow.rejected", "error=\"%s\"", gv_error_format(&errs[j], buf, sizeof buf));
      }
    }
  }
  free(list);
  return result;
}

/* Counts a committed batch of n actions whose transaction began at t0 (monotonic seconds). */
static void note_batch(gv_engine *e, size_t n, double t0) {
  e->stats.batches++;
  e->stats.actions += n;
  gv_hist_observe(&e->stats.batch_size, (double)n);
  gv_hist_observe(&e->stats.commit_seconds, gv_time_mono() - t0);
}

static int64_t batch_now(gv_engine *e) {
  int64_t now = gv_engine_now(e);
  if (now < e->last_now) now = e->last_now;
  e->last_now = now;
  return now;
}

static void after_commit(gv_engine *e) {
  if (e->timers_touched) e->next_due = gv_store_timer_next_due(e->store);
  e->timers_touched = 0;
  if (e->first_event)
    for (int i = 0; i < e->nlisteners; i++) e->listeners[i].fn(e, e->first_event, e->last_event, e->listeners[i].ud);
  e->first_event = e->last_event = 0;
}

int gv_engine_apply(gv_engine *e, gv_action_req *reqs, gv_action_res *res, size_t n) {
  int64_t now = batch_now(e);
  double began = gv_time_mono();
  gv_error err;
  for (size_t i = 0; i < n; i++) {
    memset(&res[i], 0, sizeof res[i]);
    gv_error_clear(&res[i].err);
  }
  int rc = gv_store_begin(e->store, &err);
  if (rc != GV_OK) goto fail_all;
  e->first_event = e->last_event = 0;
  int backlog = 0;
  if (e->next_due <= now) backlog = gv_engine_fire_due(e, 0, now, DUE_BATCH) == DUE_BATCH;
  for (size_t i = 0; i < n; i++) {
    double t0 = gv_time_mono();
    /* Behind on timers: this item's due ones fire first, so deadlines hold. */
    if (backlog && reqs[i].item_id) gv_engine_fire_due(e, reqs[i].item_id, now, DUE_BATCH);
    if ((rc = gv_store_savepoint(e->store, &res[i].err)) != GV_OK) continue;
    if (gv_engine_apply_one(e, &reqs[i], &res[i], now) != GV_OK || gv_store_release(e->store, &res[i].err) != GV_OK) {
      if (res[i].err.code == GV_OK) gv_error_set(&res[i].err, GV_ESTORE, NULL, "releasing a savepoint failed");
      res[i].event_id = 0;
      /* An action that cannot be undone alone takes the whole batch with it: its
       * half-written rows must never reach the COMMIT. */
      if (gv_store_rollback_to(e->store) != GV_OK) {
        err = res[i].err;
        rc = GV_ESTORE;
        e->incident.set = 0;
        if (e->hooks.receipt) e->hooks.receipt(e->hooks.receipt_ud, NULL);
        goto fail_all;
      }
      gv_engine_flush_incident(e);
      if (e->hooks.receipt) e->hooks.receipt(e->hooks.receipt_ud, NULL);
      e->stats.actions_failed++;
    }
    gv_hist_observe(&e->stats.action_seconds, gv_time_mono() - t0);
  }
  if ((rc = gv_store_commit(e->store, &err)) != GV_OK) goto fail_all;
  note_batch(e, n, began);
  after_commit(e);
  return GV_OK;
fail_all:
  gv_store_rollback(e->store);
  e->first_event = e->last_event = 0;
  e->timers_touched = 0;
  e->next_due = gv_store_timer_next_due(e->store);
  for (size_t i = 0; i < n; i++) {
    res[i].err = err;
    res[i].event_id = 0;
  }
  gv_log(GV_LOG_ERROR, "engine.commit_failed", "actions=%zu error=\"%s\"", n, err.message);
  return rc;
}

int gv_engine_apply_atomic(gv_engine *e, gv_action_req *reqs, gv_action_res *res, size_t n, gv_batch_extra_fn extra,
                           void *ud) {
  int64_t now = batch_now(e);
  double began = gv_time_mono();
  gv_error err;
  gv_error_clear(&err);
  for (size_t i = 0; i < n; i++) {
    memset(&res[i], 0, sizeof res[i]);
    gv_error_clear(&res[i].err);
  }
  int rc = gv_store_begin(e->store, &err);
  if (rc != GV_OK) goto fail_all;
  e->first_event = e->last_event = 0;
  if (e->next_due <= now) gv_engine_fire_due(e, 0, now, DUE_BATCH);
  for (size_t i = 0; i < n; i++) {
    if ((rc = gv_engine_apply_one(e, &reqs[i], &res[i], now)) != GV_OK) {
      err = res[i].err;
      gv_engine_flush_incident(e);
      goto fail_all;
    }
  }
  if (extra && (rc = extra(e, now, ud, &err)) != GV_OK) goto fail_all;
  if ((rc = gv_store_commit(e->store, &err)) != GV_OK) goto fail_all;
  note_batch(e, n, began);
  after_commit(e);
  return GV_OK;
fail_all:
  gv_store_rollback(e->store);
  e->incident.set = 0;
  e->first_event = e->last_event = 0;
  e->timers_touched = 0;
  e->next_due = gv_store_timer_next_due(e->store);
  for (size_t i = 0; i < n; i++)
    if (res[i].err.code == GV_OK) {
      res[i].err = err;
      res[i].event_id = 0;
    }
  return rc ? rc : GV_ECONFLICT;
}

int gv_engine_record_in_tx(gv_engine *e, const char *forum_id, const char *kind, const char *action,
                           int64_t actor_id, const char *member, json_t *params, int64_t now, int64_t *event_id,
                           gv_error *err) {
  char *p = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
  gv_event ev = {0};
  snprintf(ev.forum_id, sizeof ev.forum_id, "%s", forum_id);
  ev.kind = kind;
  ev.action = action;
  ev.actor_id = actor_id;
  ev.member = member;
  ev.at = now;
  ev.params = p;
  int rc = p ? gv_store_event_insert(e->store, &ev, err) : gv_error_set(err, GV_ENOMEM, NULL, NULL);
  free(p);
  if (rc == GV_OK) {
    if (event_id) *event_id = ev.id;
    if (e->first_event == 0) e->first_event = ev.id;
    e->last_event = ev.id;
  }
  return rc;
}

int gv_engine_record(gv_engine *e, const char *forum_id, const char *kind, const char *action, int64_t actor_id,
                     const char *member, json_t *params, int64_t *event_id, gv_error *err) {
  int64_t now = batch_now(e);
  int rc = gv_store_begin(e->store, err);
  if (rc != GV_OK) return rc;
  e->first_event = e->last_event = 0;
  rc = gv_engine_record_in_tx(e, forum_id, kind, action, actor_id, member, params, now, event_id, err);
  if (rc == GV_OK) rc = gv_store_commit(e->store, err);
  else gv_store_rollback(e->store);
  if (rc == GV_OK) after_commit(e);
  else e->first_event = e->last_event = 0;
  return rc;
}

void gv_engine_notify(gv_engine *e, int64_t first_event, int64_t last_event) {
  for (int i = 0; i < e->nlisteners; i++) e->listeners[i].fn(e, first_event, last_event, e->listeners[i].ud);
}

int gv_engine_run_due(gv_engine *e, int *fired) {
  int total = 0;
  for (;;) {
    int64_t now = batch_now(e);
    if (e->next_due > now) break;
    gv_error err;
    double began = gv_time_mono();
    if (gv_store_begin(e->store, &err) != GV_OK) return err.code;
    e->first_event = e->last_event = 0;
    int n = gv_engine_fire_due(e, 0, now, DUE_BATCH);
    if (gv_store_commit(e->store, &err) != GV_OK) {
      gv_store_rollback(e->store);
      e->next_due = gv_store_timer_next_due(e->store);
      return err.code;
    }
    gv_hist_observe(&e->stats.commit_seconds, gv_time_mono() - began);
    e->timers_touched = 1;
    after_commit(e);
    total += n;
    if (n == 0) break;
  }
  if (fired) *fired = total;
  return GV_OK;
}

int64_t gv_engine_next_due(gv_engine *e) { return e->next_due; }
