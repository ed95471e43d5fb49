/* The plugin host, continued: the server's loop, the clock, and what notifications need to
 * know about people, items and the forum. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "base/alloc.h"
#include "base/time.h"
#include "host/internal.h"
#include "views/views.h"

/* ---- The loop and the clock ------------------------------------------------------------------ */

int64_t gv_host_now(const gv_host *h) {
  return h->all->engine ? gv_engine_now(h->all->engine) : gv_time_real_ms();
}

void gv_plugins_loop_start(gv_plugins *p, void *loop) {
  if (p == NULL) return;
  p->loop = loop;
  for (size_t i = 0; i < p->n; i++)
    if (p->hosts[i].started && p->hosts[i].on_serve) p->hosts[i].on_serve(p->hosts[i].state, &p->hosts[i], loop);
}

void gv_plugins_loop_stop(gv_plugins *p) {
  if (p == NULL || p->loop == NULL) return;
  for (size_t i = p->n; i-- > 0;)
    if (p->hosts[i].started && p->hosts[i].on_stop) p->hosts[i].on_stop(p->hosts[i].state, &p->hosts[i]);
  p->loop = NULL;
}

/* ---- People ----------------------------------------------------------------------------------- */

static void person_of(const gv_forum *f, const gv_user *u, gv_person *out) {
  memset(out, 0, sizeof *out);
  out->size = sizeof *out;
  out->user_id = u->id;
  out->username = u->username;
  out->display_name = u->display_name[0] ? u->display_name : u->username;
  out->role = u->role;
  out->member = u->member[0] ? u->member : NULL;
  out->email = u->email[0] ? u->email : NULL;
  out->language = u->language[0] ? u->language : "en";
  out->notify = u->notify[0] ? u->notify : "each";
  out->disabled = u->disabled;
  out->time_zone = u->time_zone[0] ? u->time_zone : f->time_zone;
}

static int holds_chair(const gv_forum *f, const gv_user *u) { return gv_role_holds_chair(f, gv_role_parse(u->role)); }

static int is_delegate_of(const gv_user *u, const char *member) {
  return gv_role_parse(u->role) == GV_ROLE_DELEGATE && member && strcmp(u->member, member) == 0;
}

/* Whether one audience word names u. */
static int word_names(const gv_forum *f, const char *w, const gv_user *u, const gv_item_row *item) {
  if (strcmp(w, "all") == 0) return 1;
  if (strcmp(w, "secretariat") == 0) return gv_role_parse(u->role) == GV_ROLE_SECRETARIAT;
  if (strcmp(w, "chair") == 0) return holds_chair(f, u);
  if (strcmp(w, "members") == 0) return gv_role_parse(u->role) == GV_ROLE_DELEGATE;
  if (strcmp(w, "proposer") == 0) {
    if (item == NULL) return 0;
    if (item->member[0]) return is_delegate_of(u, item->member);
    return item->created_by && item->created_by == u->id;
  }
  return gv_forum_member(f, w) != NULL && is_delegate_of(u, w);
}

static int names(const gv_forum *f, const json_t *aud, const gv_user *u, const gv_item_row *item) {
  if (json_is_string(aud)) return word_names(f, json_string_value(aud), u, item);
  if (json_is_array(aud)) {
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v) if (names(f, v, u, item)) return 1;
    return 0;
  }
  if (json_is_object(aud) && json_is_string(json_object_get(aud, "kind")) &&
      strcmp(json_string_value(json_object_get(aud, "kind")), "delegates_of_member") == 0) {
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(aud, "except_users"), i, v) if (json_integer_value(v) == u->id) return 0;
    json_array_foreach(json_object_get(aud, "members"), i, v) if (is_delegate_of(u, json_string_value(v))) return 1;
  }
  return 0;
}

int gv_host_audience(gv_host *h, const char *audience_json, int64_t item_id, gv_person_fn fn, void *ud, gv_error *err) {
  gv_plugins *p = h->all;
  json_t *aud = json_loads(audience_json ? audience_json : "null", JSON_DECODE_ANY, NULL);
  if (aud == NULL) return gv_error_set(err, GV_EINVAL, NULL, "the audience is not JSON");
  gv_item_row item = {0};
  int have_item = item_id > 0 && gv_store_item_get(p->store, item_id, &item, NULL) == GV_OK;
  gv_user *users = NULL;
  size_t n = 0;
  int rc = gv_store_user_list(p->store, p->forum->id, NULL, &users, &n, err);
  for (size_t i = 0; rc == GV_OK && i < n; i++) {
    if (users[i].disabled || !names(p->forum, aud, &users[i], have_item ? &item : NULL)) continue;
    gv_person person;
    person_of(p->forum, &users[i], &person);
    if (fn(ud, &person)) break;
  }
  free(users);
  if (have_item) gv_item_row_clear(&item);
  json_decref(aud);
  return rc;
}

int gv_host_person(gv_host *h, int64_t user_id, gv_person_fn fn, void *ud, gv_error *err) {
  gv_user u;
  int rc = gv_store_user_get(h->all->store, user_id, &u, err);
  if (rc != GV_OK) return rc;
  gv_person person;
  person_of(h->all->forum, &u, &person);
  fn(ud, &person);
  return GV_OK;
}

/* ---- Items and the forum ------------------------------------------------------------------------- */

/* A title is a string or an object with one string per language. */
static void title_in(const char *json, const char *lang, char *out, size_t size) {
  json_t *t = json_loads(json ? json : "\"\"", JSON_DECODE_ANY, NULL);
  const char *s = NULL;
  if (json_is_string(t)) s = json_string_value(t);
  else if (json_is_object(t)) {
    s = json_string_value(json_object_get(t, lang));
    if (s == NULL) s = json_string_value(json_object_get(t, "en"));
    if (s == NULL) {
      const char *k;
      json_t *v;
      json_object_foreach(t, k, v) if (json_is_string(v)) {
        s = json_string_value(v);
        break;
      }
    }
  }
  snprintf(out, size, "%s", s ? s : "");
  json_decref(t);
}

int gv_host_item(gv_host *h, int64_t item_id, const char *lang, const char *action, gv_item_info *out, gv_error *err) {
  gv_plugins *p = h->all;
  memset(out, 0, sizeof *out);
  out->size = sizeof *out;
  gv_item_row item = {0};
  int rc = gv_store_item_get(p->store, item_id, &item, err);
  if (rc != GV_OK) return rc;
  out->id = item.id;
  out->sealed = item.sealed;
  title_in(item.title, lang, out->title, sizeof out->title);
  snprintf(out->workflow, sizeof out->workflow, "%s", item.workflow);
  snprintf(out->state, sizeof out->state, "%s", item.state);
  snprintf(out->workflow_title, sizeof out->workflow_title, "%s", item.workflow);
  snprintf(out->state_label, sizeof out->state_label, "%s", item.state);
  if (action) snprintf(out->action_label, sizeof out->action_label, "%s", action);
  /* Labels come from the workflow version the item runs on, when the engine has it. */
  const gv_workflow *w = p->engine ? gv_engine_workflow_version(p->engine, item.forum_id, item.version_id, NULL) : NULL;
  if (w) {
    const char *t = gv_i18n_get(&w->title, lang);
    if (t && *t) snprintf(out->workflow_title, sizeof out->workflow_title, "%s", t);
    for (size_t i = 0; i < w->nstates; i++)
      if (strcmp(w->states[i].name, item.state) == 0 && w->states[i].label.n)
        snprintf(out->state_label, sizeof out->state_label, "%s", gv_i18n_get(&w->states[i].label, lang));
    for (size_t i = 0; action && i < w->nactions; i++)
      if (strcmp(w->actions[i].name, action) == 0 && w->actions[i].label.n)
        snprintf(out->action_label, sizeof out->action_label, "%s", gv_i18n_get(&w->actions[i].label, lang));
  }
  gv_item_row_clear(&item);
  return GV_OK;
}

int gv_host_member_answered(gv_host *h, int64_t item_id, const char *member) {
  json_t *cur = NULL;
  if (member == NULL || gv_store_positions(h->all->store, item_id, 0, &cur, NULL) != GV_OK) return 0;
  int answered = json_object_get(cur, member) != NULL;
  json_decref(cur);
  return answered;
}

const char *gv_host_member_name(const gv_host *h, const char *code, const char *lang) {
  const gv_member *m = code ? gv_forum_member(h->all->forum, code) : NULL;
  return m ? gv_i18n_get(&m->name, lang) : "";
}

const char *gv_host_forum_title(const gv_host *h, const char *lang) {
  const char *t = gv_i18n_get(&h->all->forum->name, lang);
  return t && *t ? t : h->all->forum->short_name;
}

const char *gv_host_forum_time_zone(const gv_host *h) { return h->all->forum->time_zone; }

/* ---- Events as readers see them ------------------------------------------------------------------ */

int gv_host_event_text(gv_host *h, int64_t event_id, const char *lang, gv_event_text *out, gv_error *err) {
  gv_plugins *p = h->all;
  memset(out, 0, sizeof *out);
  out->size = sizeof *out;
  if (p->engine == NULL) return gv_error_set(err, GV_ESTATE, NULL, "the engine is not running");
  /* The event is the first of the forum after the one before it; its item is read from it. */
  json_t *raw = NULL;
  int rc = gv_store_events(p->store, p->forum->id, 0, event_id - 1, 1, &raw, err);
  if (rc != GV_OK) return rc;
  json_t *ev = json_array_get(raw, 0);
  if (ev == NULL || json_integer_value(json_object_get(ev, "id")) != event_id) {
    json_decref(raw);
    return gv_error_set(err, GV_ENOTFOUND, NULL, "no event %lld", (long long)event_id);
  }
  /* A message goes to many readers: a sealed event's parameters read as hidden to all. */
  if (json_is_true(json_object_get(ev, "sealed"))) json_object_set_new(ev, "params", json_null());
  int64_t actor = json_integer_value(json_object_get(ev, "actor_id"));
  gv_user u;
  if (actor > 0 && gv_store_user_get(p->store, actor, &u, NULL) == GV_OK && u.display_name[0])
    json_object_set_new(ev, "actor", json_string(u.display_name));
  json_object_set_new(ev, "sealed", json_false());
  gv_caller reader;
  memset(&reader, 0, sizeof reader);
  reader.role = GV_ROLE_OBSERVER;
  snprintf(reader.forum_id, sizeof reader.forum_id, "%s", p->forum->id);
  snprintf(reader.language, sizeof reader.language, "%s", lang ? lang : "");
  json_t *o = gv_view_event(p->engine, &reader, ev);
  const char *v;
  if ((v = json_string_value(json_object_get(o, "action")))) snprintf(out->action, sizeof out->action, "%s", v);
  if ((v = json_string_value(json_object_get(o, "to_state")))) snprintf(out->state, sizeof out->state, "%s", v);
  v = json_string_value(json_object_get(o, "action_label"));
  snprintf(out->action_label, sizeof out->action_label, "%s", v ? v : out->action);
  v = json_string_value(json_object_get(o, "state_label"));
  snprintf(out->state_label, sizeof out->state_label, "%s", v ? v : out->state);
  if ((v = json_string_value(json_object_get(o, "sentence")))) snprintf(out->sentence, sizeof out->sentence, "%s", v);
  json_decref(o);
  json_decref(raw);
  return GV_OK;
}

int gv_host_person_set_notify(gv_host *h, int64_t user_id, const char *notify, gv_error *err) {
  if (notify == NULL || (strcmp(notify, "each") != 0 && strcmp(notify, "digest") != 0 && strcmp(notify, "none") != 0))
    return gv_error_set(err, GV_EINVAL, "notify", "notify must be each, digest or none");
  gv_user u;
  int rc = gv_store_user_get(h->all->store, user_id, &u, err);
  if (rc != GV_OK) return rc;
  if (strcmp(u.forum_id, h->all->forum->id) != 0)
    return gv_error_set(err, GV_ENOTFOUND, NULL, "no account %lld in this forum", (long long)user_id);
  snprintf(u.notify, sizeof u.notify, "%s", notify);
  u.updated_at = gv_time_real_ms();
  return gv_store_user_update(h->all->store, &u, err);
}

/* ---- What the record ran under ------------------------------------------------------------- */

typedef struct version_relay {
  gv_workflow_version_fn fn;
  void *ud;
} version_relay;

static int relay_version(void *ud, int64_t id, const char *name, const char *sha256, const char *source,
                         const char *modules, const char *path) {
  version_relay *x = ud;
  gv_workflow_version v = {sizeof v, id, name, sha256, source, modules, path};
  return x->fn(x->ud, &v);
}

int gv_host_workflow_versions(gv_host *h, gv_workflow_version_fn fn, void *ud, gv_error *err) {
  if (fn == NULL)
    return gv_error_set(err, gv_host_refuse(h, GV_EINVAL, "gv_host_workflow_versions without a function"), NULL,
                        "no function");
  version_relay x = {fn, ud};
  return gv_store_wfversion_each(h->all->store, relay_version, &x, err);
}

char *gv_host_forum_definition(const gv_host *h) { return gv_forum_to_json(h->all->forum); }
