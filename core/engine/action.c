/* Applying one action and firing one timer, inside the caller's batch: who may act,
 * parameter checks, the workflow's Lua effect, the timers it arms, notifications,
 * incidents. engine.c groups them into batches and commits. */
#include "engine/internal.h"
#include "base/alloc.h"
#include "base/time.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A timer whose action failed for a reason of the database or a plugin (not the workflow)
 * is tried again this much later. */
#define TIMER_RETRY_MS (30 * GV_MS_PER_SECOND)
/* A deadline acted on this much after it passed is marked late in the record. */
#define TIMER_LATE_MS GV_MS_PER_MINUTE

static const gv_caller engine_caller = {0, "engine", GV_ROLE_ENGINE, "", ""};

/* ---- Applying actions --------------------------------------------------------------------- */

/* Whether caller may take action a on item (NULL when creating). */
static int may_act(const gv_forum *f, const gv_action *a, const gv_caller *c, const gv_item_row *item) {
  if (c->role == GV_ROLE_ENGINE) return 1;
  if (c->role == GV_ROLE_OBSERVER) return 0;
  if ((a->by & GV_BY_SECRETARIAT) && c->role == GV_ROLE_SECRETARIAT) return 1;
  if ((a->by & GV_BY_CHAIR) && gv_role_holds_chair(f, c->role)) return 1;
  if ((a->by & GV_BY_DELEGATE) && c->role == GV_ROLE_DELEGATE && c->member[0]) return 1;
  if ((a->by & GV_BY_PROPOSER) && item) {
    /* A state's item belongs to the state's current delegates: an account moved to another
     * state (or role) no longer acts for the state it proposed it for. */
    if (item->member[0]) return c->role == GV_ROLE_DELEGATE && strcmp(c->member, item->member) == 0;
    return item->created_by && item->created_by == c->user_id;
  }
  return 0;
}

int gv_engine_is_chair(const gv_forum *f, const gv_caller *c) { return gv_role_holds_chair(f, c->role); }

int gv_engine_may_act(gv_engine *e, const gv_forum *f, const gv_action *a, const gv_caller *c,
                      const gv_item_row *item) {
  (void)e;
  return may_act(f, a, c, item);
}

static const char *who_may(const gv_action *a, char *buf, size_t size) {
  buf[0] = '\0';
  size_t used = 0;
  static const struct { unsigned bit; const char *name; } names[] = {
      {GV_BY_SECRETARIAT, "the secretariat"}, {GV_BY_CHAIR, "the chair"},
      {GV_BY_DELEGATE, "a delegate (for their own state)"}, {GV_BY_PROPOSER, "the proposer"}};
  for (size_t i = 0; i < 4; i++)
    if (a->by & names[i].bit) {
      int w = snprintf(buf + used, size - used, "%s%s", used ? " or " : "", names[i].name);
      if (w > 0 && (size_t)w < size - used) used += (size_t)w;
    }
  if (used == 0) snprintf(buf, size, "only the engine (a timer)");
  return buf;
}

/* Member-typed parameters name the state acted for: a delegate may only name their own. */
static int check_member_params(const gv_action *a, const json_t *params, const gv_caller *c, gv_error *err) {
  if (c->role != GV_ROLE_DELEGATE) return GV_OK;
  for (size_t i = 0; i < a->nparams; i++) {
    if (a->params[i].type != GV_PT_MEMBER) continue;
    const char *m = json_string_value(json_object_get(params, a->params[i].name));
    if (m && strcmp(m, c->member) != 0)
      return gv_error_set(err, GV_EFORBIDDEN, a->params[i].name,
                          "a delegate of %s may act only for their own state, not for %s", c->member, m);
  }
  return GV_OK;
}

typedef struct refctx {
  gv_engine *e;
  const char *forum_id;
} refctx;

static int ref_check(void *ud, gv_ptype type, int64_t id, const char *workflow, gv_error *err) {
  refctx *r = ud;
  if (type == GV_PT_MEETING) {
    gv_meeting m;
    if (gv_store_meeting_get(r->e->store, id, &m, NULL) != GV_OK)
      return gv_error_set(err, GV_ENOTFOUND, NULL, "there is no meeting %lld", (long long)id);
    int ok = strcmp(m.forum_id, r->forum_id) == 0;
    gv_meeting_clear(&m);
    return ok ? GV_OK : gv_error_set(err, GV_ENOTFOUND, NULL, "there is no meeting %lld", (long long)id);
  }
  gv_item_row it;
  if (gv_store_item_get(r->e->store, id, &it, NULL) != GV_OK)
    return gv_error_set(err, GV_ENOTFOUND, NULL, "there is no item %lld", (long long)id);
  int rc = GV_OK;
  if (strcmp(it.forum_id, r->forum_id) != 0) rc = gv_error_set(err, GV_ENOTFOUND, NULL, "there is no item %lld", (long long)id);
  else if (workflow && strcmp(it.workflow, workflow) != 0)
    rc = gv_error_set(err, GV_EPARAM, NULL, "item %lld is a %s, not a %s", (long long)id, it.workflow, workflow);
  gv_item_row_clear(&it);
  return rc;
}

/* Notes an incident; flush_incident writes it after the failed action's savepoint was
 * rolled back (so the rollback cannot take it along). */
static void record_incident(gv_engine *e, const gv_actx *c, const char *action, const gv_error *err,
                            const char *traceback) {
  char loc[GV_ERROR_TEXT_MAX];
  gv_error_format(err, loc, sizeof loc);
  pending_incident *x = &e->incident;
  memset(x, 0, sizeof *x);
  x->set = 1;
  snprintf(x->forum_id, sizeof x->forum_id, "%s", c->f->id);
  snprintf(x->workflow, sizeof x->workflow, "%s", c->w ? c->w->name : "");
  snprintf(x->action, sizeof x->action, "%s", action ? action : "");
  snprintf(x->kind, sizeof x->kind, "%s",
           err->code == GV_ELIMIT ? (strstr(err->message, "instruction") ? "instruction_limit" : "memory_limit")
                                  : "script_error");
  x->item_id = c->item ? c->item->id : 0;
  x->version_id = c->w ? c->w->version_id : 0;
  x->actor_id = c->caller->user_id;
  x->at = c->now;
  snprintf(x->message, sizeof x->message, "%s%s%s", loc, traceback ? "\n" : "", traceback ? traceback : "");
}

void gv_engine_flush_incident(gv_engine *e) {
  if (!e->incident.set) return;
  pending_incident *x = &e->incident;
  gv_incident inc = {x->forum_id, x->item_id, x->workflow, x->version_id, x->action, x->actor_id, x->kind,
                     x->message, x->at};
  gv_store_incident_insert(e->store, &inc, NULL);
  e->stats.incidents++;
  gv_log(GV_LOG_WARN, "workflow.incident", "workflow=%s action=%s item=%lld kind=%s", x->workflow, x->action,
         (long long)x->item_id, x->kind);
  x->set = 0;
}

/* Time at a data path ("deadline", "silence.deadline") of the item (RFC 3339 string) in
 * *ms, 0 when there is none. GV_ENOMEM when the data cannot be read: a timer must never be
 * dropped because memory ran out. */
static int data_time(const char *data, const char *path, int64_t *ms, gv_error *err) {
  json_t *d = json_loads(data ? data : "{}", 0, NULL);
  *ms = 0;
  if (d == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory reading the item's data");
  const char *s = json_string_value(gv_data_path(d, path));
  if (s == NULL || gv_time_parse(s, ms) != GV_OK) *ms = 0;
  json_decref(d);
  return GV_OK;
}

static int in_list(char **l, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(l[i], s) == 0) return 1;
  return 0;
}

/* Re-arms the item's timers after its state or data changed. */
static int rearm_timers(gv_actx *c, gv_error *err, char **tb) {
  gv_engine *e = c->e;
  for (size_t i = 0; i < c->w->ntimers; i++) {
    const gv_timer_decl *t = &c->w->timers[i];
    char prefix[128];
    snprintf(prefix, sizeof prefix, "remind:%s:", t->name);
    int64_t due = 0;
    int has = 0;
    if (in_list(t->from, t->nfrom, c->item->state)) {
      if (t->at_field) {
        int rc = data_time(c->item->data, t->at_field, &due, err);
        if (rc != GV_OK) return rc;
        has = due != 0;
      } else {
        c->in_hook = 1;
        int rc = gv_actx_timer_at(c, t->at_ref, &due, &has, err);
        c->in_hook = 0;
        if (rc != GV_OK) return rc;
        (void)tb;
      }
    }
    int rc;
    if (!has) {
      rc = gv_store_timer_cancel_exact(e->store, c->item->id, t->name, err);
      if (rc == GV_OK) rc = gv_store_timer_cancel(e->store, c->item->id, prefix, err);
      if (rc != GV_OK) return rc;
      continue;
    }
    if ((rc = gv_store_timer_set(e->store, c->item->id, t->name, due, err)) != GV_OK) return rc;
    e->timers_touched = 1;
    for (size_t r = 0; r < c->w->nreminds; r++) {
      const gv_remind_decl *rd = &c->w->reminds[r];
      if (strcmp(rd->timer, t->name) != 0) continue;
      for (size_t b = 0; b < rd->nbefore; b++) {
        char name[96];
        snprintf(name, sizeof name, "remind:%s:%lld", t->name, (long long)rd->before[b]);
        int64_t at = due - rd->before[b];
        if (at > c->now) rc = gv_store_timer_set(e->store, c->item->id, name, at, err);
        else rc = gv_store_timer_cancel_exact(e->store, c->item->id, name, err);
        if (rc != GV_OK) return rc;
      }
    }
  }
  return GV_OK;
}

/* Writes one outbox row. */
static int outbox(gv_actx *c, int64_t event_id, const char *topic, json_t *audience, json_t *payload, gv_error *err) {
  char *a = json_dumps(audience, JSON_COMPACT | JSON_ENCODE_ANY);
  char *p = json_dumps(payload, JSON_COMPACT);
  gv_outbox_row r = {0};
  snprintf(r.forum_id, sizeof r.forum_id, "%s", c->f->id);
  r.event_id = event_id;
  r.item_id = c->item->id;
  r.topic = topic;
  r.audience = a;
  r.payload = p;
  r.created_at = c->now;
  int rc = a && p ? gv_store_outbox_insert(c->e->store, &r, err) : gv_error_set(err, GV_ENOMEM, NULL, NULL);
  free(a);
  free(p);
  return rc;
}

static json_t *notify_audience(unsigned bits) {
  json_t *a = json_array();
  if (bits & GV_NOTIFY_ALL) json_array_append_new(a, json_string("all"));
  if (bits & GV_NOTIFY_SECRETARIAT) json_array_append_new(a, json_string("secretariat"));
  if (bits & GV_NOTIFY_CHAIR) json_array_append_new(a, json_string("chair"));
  if (bits & GV_NOTIFY_MEMBERS) json_array_append_new(a, json_string("members"));
  if (bits & GV_NOTIFY_PROPOSER) json_array_append_new(a, json_string("proposer"));
  return a;
}

/* Runs action a (validated params p) on the context's item, then records everything it
 * did: the event, positions, the item row, timers, outbox rows. */
static int run_action(gv_actx *c, const gv_action *a, json_t *p, const char *kind, json_t *extra,
                      int is_create, int64_t *event_id, gv_error *err) {
  gv_engine *e = c->e;
  char from[64];
  snprintf(from, sizeof from, "%s", is_create ? "" : c->item->state);
  char *tb = NULL, *pj = NULL;
  int rc = GV_OK;
  c->a = a;
  c->go[0] = '\0';
  if (a->run_ref >= 0) {
    rc = gv_actx_call(c, a->run_ref, p, err, &tb);
    if (rc != GV_OK) goto fail;
  }
  const char *to = c->go[0] ? c->go : (a->to_fixed && a->nto == 1 ? a->to[0] : from);
  int state_changed = strcmp(to, from) != 0;
  if (state_changed) snprintf(c->item->state, sizeof c->item->state, "%s", to);
  int data_changed = 0;
  if ((rc = gv_actx_sync_data(c, &data_changed, err)) != GV_OK) goto fail;
  if (state_changed) {
    const gv_state_decl *sd = gv_workflow_state(c->w, to);
    if (sd && sd->on_enter_ref >= 0) {
      c->in_hook = 1;
      c->a = NULL;
      rc = gv_actx_call(c, sd->on_enter_ref, NULL, err, &tb);
      c->in_hook = 0;
      c->a = a;
      if (rc != GV_OK) goto fail;
      int more = 0;
      if ((rc = gv_actx_sync_data(c, &more, err)) != GV_OK) goto fail;
      data_changed |= more;
    }
  }
  if (is_create) {
    if ((rc = gv_store_item_insert(e->store, c->item, err)) != GV_OK) goto fail;
  }
  /* The event. The state acted for: a delegate's own; else a member parameter's. */
  const char *member = NULL;
  if (c->caller->role == GV_ROLE_DELEGATE) member = c->caller->member;
  else
    for (size_t i = 0; i < a->nparams && !member; i++)
      if (a->params[i].type == GV_PT_MEMBER) member = json_string_value(json_object_get(p, a->params[i].name));
  json_t *params = json_deep_copy(p);
  if (extra) json_object_update(params, extra);
  pj = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(params);
  gv_event ev = {0};
  snprintf(ev.forum_id, sizeof ev.forum_id, "%s", c->f->id);
  ev.item_id = c->item->id;
  ev.kind = kind;
  ev.action = a->name;
  ev.actor_id = c->caller->user_id;
  ev.member = member;
  ev.at = c->now;
  ev.from_state = is_create ? NULL : from;
  ev.to_state = c->item->state;
  ev.params = pj;
  ev.sealed = a->sealed && c->item->sealed;
  /* Written now, since its positions refer to it; sealed (handed to the event hook with
   * the rows the action wrote) once everything below is written. */
  rc = gv_store_event_write(e->store, &ev, err);
  if (rc != GV_OK) goto fail;
  *event_id = ev.id;
  if (e->first_event == 0) e->first_event = ev.id;
  e->last_event = ev.id;
  size_t i;
  json_t *pos;
  json_array_foreach(c->positions, i, pos) {
    gv_position_row pr = {c->item->id, json_string_value(json_object_get(pos, "member")),
                          json_string_value(json_object_get(pos, "stance")),
                          json_string_value(json_object_get(pos, "statement")), c->caller->user_id,
                          json_is_true(json_object_get(pos, "on_behalf")),
                          json_string_value(json_object_get(pos, "reference")), ev.id, c->now};
    if ((rc = gv_store_position_insert(e->store, &pr, err)) != GV_OK) goto fail;
  }
  /* The item row changes only when its state, data, meeting or sealing did: a position
   * or comment alone is recorded by its event (updated_at means "row last changed"). */
  if (!is_create && (state_changed || data_changed || c->meta_changed)) {
    c->item->updated_at = c->now;
    if ((rc = gv_store_item_update(e->store, c->item, data_changed, err)) != GV_OK) goto fail;
  }
  if (is_create || state_changed || data_changed) {
    if ((rc = rearm_timers(c, err, &tb)) != GV_OK) goto fail;
  }
  /* Notifications: those the action declares, and those its effect asked for. Sealed
   * parameters never travel in them. */
  if (a->notify) {
    json_t *payload = json_pack("{s:I, s:s, s:s, s:s, s:o}", "item_id", (json_int_t)c->item->id, "workflow",
                                c->w->name, "action", a->name, "state", c->item->state, "params",
                                ev.sealed ? json_null() : json_deep_copy(p));
    json_t *audience = notify_audience((unsigned)a->notify);
    rc = outbox(c, ev.id, "item.action", audience, payload, err);
    json_decref(audience);
    json_decref(payload);
    if (rc != GV_OK) goto fail;
  }
  json_t *n;
  json_array_foreach(c->notices, i, n) {
    json_t *payload = json_pack("{s:I, s:s, s:s, s:s, s:O}", "item_id", (json_int_t)c->item->id, "workflow",
                                c->w->name, "action", a->name, "state", c->item->state, "data",
                                json_object_get(n, "data"));
    rc = outbox(c, ev.id, json_string_value(json_object_get(n, "topic")), json_object_get(n, "audience"), payload, err);
    json_decref(payload);
    if (rc != GV_OK) goto fail;
  }
  if ((rc = gv_store_event_seal(e->store, &ev, err)) != GV_OK) goto fail;
  free(pj);
  return GV_OK;
fail:
  if (rc == GV_ESCRIPT || rc == GV_ELIMIT) record_incident(e, c, a->name, err, tb);
  free(pj);
  free(tb);
  return rc;
}

static int params_need_data(const gv_param *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i].values_from || (p[i].of && params_need_data(p[i].of, 1)) || params_need_data(p[i].fields, p[i].nfields))
      return 1;
  return 0;
}

/* The code of a failure a callee reported by returning NULL: its error, or out of memory
 * when it could not even say (a NULL from jansson or an allocation). Never GV_OK. */
static int failed_code(gv_error *err) {
  return err->code != GV_OK ? err->code : gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
}

/* An action bound to a deadline is refused once it passed, except to the engine itself. */
static int check_deadline(gv_engine *e, const gv_forum *f, const gv_action *a, const gv_caller *who,
                          const gv_item_row *item, int64_t now, gv_error *err) {
  if (a->deadline && who->role != GV_ROLE_ENGINE) {
    int64_t due;
    if (gv_store_timer_due(e->store, item->id, a->deadline, &due, NULL) == GV_OK && due <= now) {
      char ts[GV_TIME_BUFSZ];
      return gv_error_set(err, GV_EDEADLINE, NULL, "the deadline passed at %s; '%s' is no longer possible",
                          gv_time_format_zone(due, f->time_zone, ts), a->name);
    }
  }
  return GV_OK;
}

/* Applies one request inside the batch (the savepoint is the caller's). */
int gv_engine_apply_one(gv_engine *e, gv_action_req *q, gv_action_res *r, int64_t now) {
  gv_error *err = &r->err;
  const gv_caller *who = q->caller;
  gv_item_row item;
  memset(&item, 0, sizeof item);
  gv_actx c;
  memset(&c, 0, sizeof c);
  int rc = GV_OK, began = 0;
  json_t *p = NULL, *title = NULL;
  const gv_action *a = NULL;
  const gv_forum *f;
  const gv_workflow *w;
  if (q->item_id == 0) {
    f = gv_engine_forum(e, q->forum_id);
    if (f == NULL) {
      rc = gv_error_set(err, GV_ENOTFOUND, "forum", "no forum '%s'", q->forum_id ? q->forum_id : "");
      goto done;
    }
    if (who->forum_id[0] && strcmp(who->forum_id, f->id) != 0) {
      rc = gv_error_set(err, GV_EFORBIDDEN, NULL, "you are not a member of this forum");
      goto done;
    }
    if (q->workflow == NULL || (w = gv_engine_workflow(e, f->id, q->workflow)) == NULL) {
      rc = gv_error_set(err, GV_EPARAM, "workflow", "there is no workflow '%s' in %s", q->workflow ? q->workflow : "",
                        f->short_name);
      goto done;
    }
    a = &w->create;
    char roles[160];
    if (!may_act(f, a, who, NULL)) {
      rc = gv_error_set(err, GV_EFORBIDDEN, NULL, "%s items are created by %s", w->name, who_may(a, roles, sizeof roles));
      goto done;
    }
    if ((title = gv_title_validate(q->title, f, err)) == NULL) {
      rc = GV_EPARAM;
      goto done;
    }
    refctx rx = {e, f->id};
    if ((rc = check_member_params(a, q->params, who, err)) != GV_OK) goto done;
    if ((p = gv_params_validate(a->params, a->nparams, q->params, f, NULL, now, ref_check, &rx, err)) == NULL) {
      rc = failed_code(err);
      goto done;
    }
    snprintf(item.forum_id, sizeof item.forum_id, "%s", f->id);
    snprintf(item.workflow, sizeof item.workflow, "%s", w->name);
    item.version_id = w->version_id;
    item.title = json_dumps(title, JSON_COMPACT | JSON_ENCODE_ANY);
    item.data = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    item.created_by = who->user_id;
    if (who->role == GV_ROLE_DELEGATE) snprintf(item.member, sizeof item.member, "%s", who->member);
    item.created_at = item.updated_at = now;
    /* The meeting the item belongs to, when its params name one. */
    for (size_t i = 0; i < a->nparams; i++)
      if (a->params[i].type == GV_PT_MEETING && json_is_integer(json_object_get(p, a->params[i].name)))
        item.meeting_id = json_integer_value(json_object_get(p, a->params[i].name));
  } else {
    if ((rc = gv_store_item_get(e->store, q->item_id, &item, err)) != GV_OK) goto done;
    f = gv_engine_forum(e, item.forum_id);
    if (f == NULL || (who->forum_id[0] && strcmp(who->forum_id, item.forum_id) != 0)) {
      rc = gv_error_set(err, GV_ENOTFOUND, "id", "no item %lld", (long long)q->item_id);
      goto done;
    }
    if ((w = gv_engine_workflow_version(e, item.forum_id, item.version_id, err)) == NULL) {
      rc = failed_code(err);
      goto done;
    }
    a = q->action ? gv_workflow_action(w, q->action) : NULL;
    if (a == NULL) {
      rc = gv_error_set(err, GV_ENOTFOUND, "action", "%s items have no action '%s'", w->name, q->action ? q->action : "");
      goto done;
    }
    char roles[160];
    if (!may_act(f, a, who, &item)) {
      rc = gv_error_set(err, GV_EFORBIDDEN, NULL, "'%s' may be taken only by %s", a->name, who_may(a, roles, sizeof roles));
      goto done;
    }
    if ((rc = check_deadline(e, f, a, who, &item, now, err)) != GV_OK) goto done;
    if (!gv_action_from(a, item.state)) {
      rc = gv_error_set(err, GV_ESTATE, NULL, "'%s' is not possible while the %s is %s", a->name, w->name, item.state);
      goto done;
    }
    if ((rc = check_member_params(a, q->params, who, err)) != GV_OK) goto done;
    /* The item's data is parsed here only when an enum takes its values from it; the
     * effect parses it again only if it reads item.data. */
    if (params_need_data(a->params, a->nparams)) c.data = json_loads(item.data, 0, NULL);
    refctx rx = {e, f->id};
    p = gv_params_validate(a->params, a->nparams, q->params, f, c.data, now, ref_check, &rx, err);
    if (p == NULL) {
      rc = failed_code(err);
      goto done;
    }
  }
  c.e = e;
  c.f = f;
  c.w = w;
  c.item = &item;
  c.caller = who;
  c.now = now;
  gv_actx_begin(&c);
  began = 1;
  rc = run_action(&c, a, p, q->item_id ? (who->role == GV_ROLE_ENGINE ? "timer" : "action") : "create", NULL,
                  q->item_id == 0, &r->event_id, err);
  if (rc != GV_OK) goto done;
  r->item_id = item.id;
  r->committed_at = now;
  snprintf(r->state, sizeof r->state, "%s", item.state);
  if (e->hooks.receipt) e->hooks.receipt(e->hooks.receipt_ud, r);
  if (q->applied) rc = q->applied(e, q, r, q->applied_ud);
done:
  if (began) gv_actx_end(&c);
  else json_decref(c.data);
  json_decref(p);
  json_decref(title);
  gv_item_row_clear(&item);
  if (rc != GV_OK && err->code == GV_OK) gv_error_set(err, rc, NULL, NULL);
  return rc;
}

/* After a timer's action failed: rolls its savepoint back, writes the incident, and
 * either retries the timer shortly (the database or a plugin failed) or sets it aside. */
static void timer_failed(gv_engine *e, const gv_timer_row *t, int64_t now, const gv_error *err) {
  gv_store_rollback_to(e->store);
  gv_engine_flush_incident(e);
  if (err->code == GV_ESTORE || err->code == GV_ENOMEM || err->code == GV_EIO) {
    /* The database or a plugin failed, not the workflow: the deadline stands and is
     * tried again shortly, after the timers behind it. */
    gv_store_timer_set(e->store, t->item_id, t->name, now + TIMER_RETRY_MS, NULL);
    gv_log(GV_LOG_WARN, "timer.retry", "timer=%s item=%lld in_seconds=%lld error=\"%s\"", t->name,
           (long long)t->item_id, TIMER_RETRY_MS / GV_MS_PER_SECOND, err->message);
  } else {
    /* A timer whose action fails is set aside (an incident says why) so it cannot
     * block the timers behind it. */
    gv_store_timer_fired(e->store, t->id, now, 0, NULL);
    gv_log(GV_LOG_WARN, "timer.failed", "timer=%s item=%lld error=\"%s\"", t->name, (long long)t->item_id,
           err->message);
  }
}

/* Fires one due timer (under its own savepoint). */
static int fire_timer(gv_engine *e, const gv_timer_row *t, int64_t now) {
  gv_error err;
  gv_error_clear(&err);
  if (gv_store_savepoint(e->store, &err) != GV_OK) return err.code;
  gv_item_row item;
  memset(&item, 0, sizeof item);
  /* Marked fired first: what its action re-arms is a new timer, never this one. */
  int rc = gv_store_timer_fired(e->store, t->id, now, 0, &err);
  if (rc == GV_OK) rc = gv_store_item_get(e->store, t->item_id, &item, &err);
  const gv_forum *f = rc == GV_OK ? gv_engine_forum(e, item.forum_id) : NULL;
  const gv_workflow *w = f ? gv_engine_workflow_version(e, item.forum_id, item.version_id, &err) : NULL;
  int64_t event_id = 0;
  if (w == NULL) {
    rc = GV_ESCRIPT;
  } else if (strncmp(t->name, "remind:", 7) == 0) {
    /* A reminder: tell the states that have not answered yet. */
    char timer[96];
    long long before = 0;
    const char *colon = strrchr(t->name, ':');
    snprintf(timer, sizeof timer, "%.*s", (int)(colon - t->name - 7), t->name + 7);
    before = atoll(colon + 1);
    json_t *cur = NULL;
    gv_store_positions(e->store, item.id, 0, &cur, &err);
    json_t *pending = json_array();
    for (size_t i = 0; i < f->nmembers; i++)
      if (json_object_get(cur, f->members[i].code) == NULL) json_array_append_new(pending, json_string(f->members[i].code));
    json_decref(cur);
    int64_t deadline = 0;
    gv_store_timer_due(e->store, item.id, timer, &deadline, NULL);
    /* A reminder that comes due after its deadline (the engine was stopped) is moot. */
    if (json_array_size(pending) > 0 && deadline > now) {
      char ts[GV_TIME_BUFSZ], dur[32];
      snprintf(dur, sizeof dur, "%lldh", before / GV_MS_PER_HOUR);
      json_t *params = json_pack("{s:s, s:s, s:s, s:O}", "timer", timer, "before", dur, "deadline",
                                 gv_time_format(deadline, ts), "members", pending);
      char *pj = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
      gv_event ev = {0};
      snprintf(ev.forum_id, sizeof ev.forum_id, "%s", f->id);
      ev.item_id = item.id;
      ev.kind = "timer";
      ev.action = "reminder";
      ev.at = now;
      ev.from_state = ev.to_state = item.state;
      ev.params = pj;
      rc = gv_store_event_insert(e->store, &ev, &err);
      free(pj);
      if (rc == GV_OK) {
        event_id = ev.id;
        if (e->first_event == 0) e->first_event = ev.id;
        e->last_event = ev.id;
        json_t *aud = json_pack("{s:s, s:O}", "kind", "delegates_of_member", "members", pending);
        json_t *payload = json_pack("{s:I, s:s, s:s, s:s, s:s}", "item_id", (json_int_t)item.id, "workflow", w->name,
                                    "timer", timer, "before", dur, "deadline", gv_time_format(deadline, ts));
        char *a = json_dumps(aud, JSON_COMPACT), *pl = json_dumps(payload, JSON_COMPACT);
        gv_outbox_row r = {0};
        snprintf(r.forum_id, sizeof r.forum_id, "%s", f->id);
        r.event_id = ev.id;
        r.item_id = item.id;
        r.topic = "reminder";
        r.audience = a;
        r.payload = pl;
        r.created_at = now;
        rc = gv_store_outbox_insert(e->store, &r, &err);
        free(a);
        free(pl);
        json_decref(aud);
        json_decref(payload);
      }
      json_decref(params);
    }
    json_decref(pending);
  } else {
    const gv_timer_decl *td = gv_workflow_timer(w, t->name);
    const gv_action *a = td ? gv_workflow_action(w, td->fire) : NULL;
    if (a == NULL || !gv_action_from(a, item.state)) {
      /* The item moved on: the timer no longer applies. */
      rc = GV_OK;
    } else {
      gv_actx c;
      memset(&c, 0, sizeof c);
      c.e = e;
      c.f = f;
      c.w = w;
      c.item = &item;
      c.caller = &engine_caller;
      c.now = now;
      gv_actx_begin(&c);
      char ts[GV_TIME_BUFSZ];
      json_t *extra = json_pack("{s:s, s:s}", "timer", t->name, "due_at", gv_time_format(t->due_at, ts));
      /* The record notes when a deadline was acted on late (e.g. the server was down). */
      if (now - t->due_at >= TIMER_LATE_MS)
        json_object_set_new(extra, "delay_seconds", json_integer((now - t->due_at) / GV_MS_PER_SECOND));
      json_t *p = json_object();
      rc = run_action(&c, a, p, "timer", extra, 0, &event_id, &err);
      json_decref(p);
      json_decref(extra);
      gv_actx_end(&c);
    }
  }
  gv_item_row_clear(&item);
  if (rc == GV_OK && event_id) rc = gv_store_timer_fired(e->store, t->id, now, event_id, &err);
  if (rc == GV_OK) {
    gv_store_release(e->store, &err);
    e->stats.timers_fired++;
    /* Lateness by the server's clock: how far the loop or a backlog held the deadline back. */
    e->stats.timer_last_lag_ms = now > t->due_at ? now - t->due_at : 0;
    e->stats.timer_last_fired_at = now;
  } else {
    timer_failed(e, t, now, &err);
  }
  e->timers_touched = 1;
  if (e->hooks.receipt) e->hooks.receipt(e->hooks.receipt_ud, NULL);
  return GV_OK;
}

/* Fires timers due by now (of one item, or any when item_id is 0); returns how many. */
int gv_engine_fire_due(gv_engine *e, int64_t item_id, int64_t now, int limit) {
  gv_timer_row *due = NULL;
  size_t n = 0;
  if (gv_store_timers_due(e->store, item_id, now, limit, &due, &n, NULL) != GV_OK) return 0;
  for (size_t i = 0; i < n; i++) fire_timer(e, &due[i], now);
  free(due);
  return (int)n;
}
