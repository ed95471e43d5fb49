/* Reader-specific JSON views of items, events and positions, with hidden results kept hidden. */
#include "views/views.h"
#include "base/buf.h"
#include "base/time.h"

#include <stdlib.h>
#include <string.h>

static int privileged(const gv_forum *f, const gv_caller *r) {
  return r->role == GV_ROLE_SECRETARIAT || r->role == GV_ROLE_ENGINE || gv_engine_is_chair(f, r);
}

int gv_view_may_see_stance(const gv_forum *f, const gv_caller *reader, const gv_item_row *item, const char *member) {
  if (!item->sealed) return 1;
  if (privileged(f, reader)) return 1;
  return member && reader->role == GV_ROLE_DELEGATE && strcmp(reader->member, member) == 0;
}

const char *gv_view_text(const json_t *t, const char *lang) {
  if (json_is_string(t)) return json_string_value(t);
  const char *s = lang ? json_string_value(json_object_get(t, lang)) : NULL;
  if (s == NULL) s = json_string_value(json_object_get(t, "en"));
  if (s == NULL) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)t, k, v) if (json_is_string(v)) return json_string_value(v);
  }
  return s ? s : "";
}

static json_t *i18n_json(const gv_i18n *t) {
  json_t *o = json_object();
  for (int i = 0; i < t->n; i++) json_object_set_new(o, t->lang[i], json_string(t->text[i]));
  return o;
}

static json_t *time_json(int64_t ms) {
  char ts[GV_TIME_BUFSZ];
  return json_string(gv_time_format(ms, ts));
}

json_t *gv_view_positions(gv_engine *e, const gv_caller *reader, int64_t item_id, int history, gv_error *err) {
  gv_item_row r;
  if (gv_store_item_get(gv_engine_store(e), item_id, &r, err) != GV_OK) return NULL;
  const gv_forum *f = gv_engine_forum(e, r.forum_id);
  json_t *raw = NULL;
  if (f == NULL || gv_store_positions(gv_engine_store(e), item_id, history, &raw, err) != GV_OK) {
    gv_item_row_clear(&r);
    return NULL;
  }
  json_t *out = json_array();
  if (history) {
    size_t i;
    json_t *p;
    json_array_foreach(raw, i, p) {
      json_t *o = json_deep_copy(p);
      json_object_set_new(o, "at", time_json(json_integer_value(json_object_get(p, "at"))));
      if (!gv_view_may_see_stance(f, reader, &r, json_string_value(json_object_get(p, "member")))) {
        json_object_del(o, "stance");
        json_object_del(o, "statement");
        json_object_del(o, "reference");
        json_object_set_new(o, "sealed", json_true());
      }
      json_array_append_new(out, o);
    }
  } else {
    for (size_t m = 0; m < f->nmembers; m++) {
      json_t *p = json_object_get(raw, f->members[m].code);
      if (p == NULL) continue;
      json_t *o = json_deep_copy(p);
      json_object_set_new(o, "member", json_string(f->members[m].code));
      json_object_set_new(o, "at", time_json(json_integer_value(json_object_get(p, "at"))));
      if (!gv_view_may_see_stance(f, reader, &r, f->members[m].code)) {
        json_object_del(o, "stance");
        json_object_del(o, "statement");
        json_object_del(o, "reference");
        json_object_set_new(o, "sealed", json_true());
      }
      json_array_append_new(out, o);
    }
  }
  json_decref(raw);
  gv_item_row_clear(&r);
  return out;
}

/* Who answered, who is pending, stances and reservations as reader may see them. */
static json_t *summary(gv_engine *e, const gv_forum *f, const gv_workflow *w, const gv_caller *reader,
                       const gv_item_row *r) {
  json_t *raw = NULL;
  if (gv_store_positions(gv_engine_store(e), r->id, 0, &raw, NULL) != GV_OK) return json_null();
  json_t *answered = json_array(), *pending = json_array(), *members = json_array();
  json_t *reservations = json_array(), *counts = json_object();
  int all_visible = 1;
  for (size_t m = 0; m < f->nmembers; m++) {
    const char *code = f->members[m].code;
    json_t *p = json_object_get(raw, code);
    json_t *mo = json_pack("{s:s, s:b}", "member", code, "answered", p != NULL);
    if (p == NULL) {
      json_array_append_new(pending, json_string(code));
    } else {
      json_array_append_new(answered, json_string(code));
      json_object_set_new(mo, "at", time_json(json_integer_value(json_object_get(p, "at"))));
      json_object_set(mo, "on_behalf", json_object_get(p, "on_behalf"));
      if (gv_view_may_see_stance(f, reader, r, code)) {
        const char *stance = json_string_value(json_object_get(p, "stance"));
        json_object_set(mo, "stance", json_object_get(p, "stance"));
        json_object_set(mo, "statement", json_object_get(p, "statement"));
        json_object_set(mo, "reference", json_object_get(p, "reference"));
        json_t *c = json_object_get(counts, stance);
        json_object_set_new(counts, stance, json_integer(c ? json_integer_value(c) + 1 : 1));
        if (stance && gv_name_in(w->reservation_stances, w->nreservation_stances, stance))
          json_array_append_new(reservations, json_pack("{s:s, s:O}", "member", code, "statement",
                                                        json_object_get(p, "statement")));
      } else {
        all_visible = 0;
        json_object_set_new(mo, "sealed", json_true());
      }
    }
    json_array_append_new(members, mo);
  }
  json_decref(raw);
  json_t *s = json_pack("{s:o, s:o, s:o, s:o}", "answered", answered, "pending", pending, "members", members,
                        "reservations", reservations);
  /* Counts only when every stance is visible to the reader: partial counts would leak. */
  if (all_visible) json_object_set_new(s, "counts", counts);
  else json_decref(counts);
  json_object_set_new(s, "hidden", json_boolean(!all_visible));
  return s;
}

static json_t *actions_for(gv_engine *e, const gv_forum *f, const gv_workflow *w, const gv_caller *reader,
                           const gv_item_row *r, const json_t *data) {
  json_t *arr = json_array();
  int64_t now = gv_engine_now(e);
  json_t *dues = NULL;
  for (size_t i = 0; i < w->nactions; i++) {
    const gv_action *a = &w->actions[i];
    if (a->by == 0 || !gv_action_from(a, r->state) || !gv_engine_may_act(e, f, a, reader, r)) continue;
    if (a->deadline) {
      if (dues == NULL && gv_store_timer_dues(gv_engine_store(e), r->id, &dues, NULL) != GV_OK) dues = json_object();
      json_t *due = json_object_get(dues, a->deadline);
      if (due && json_integer_value(due) <= now) continue;
    }
    json_t *params = json_object();
    for (size_t k = 0; k < a->nparams; k++) {
      /* A delegate's member parameter can only be their own state. */
      json_t *d = gv_param_describe(&a->params[k], data, f);
      if (a->params[k].type == GV_PT_MEMBER && reader->role == GV_ROLE_DELEGATE)
        json_object_set_new(d, "values", json_pack("[s]", reader->member));
      json_object_set_new(params, a->params[k].name, d);
    }
    json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "name", a->name, "label", i18n_json(&a->label),
                                         "params", params));
  }
  json_decref(dues);
  return arr;
}

int gv_view_awaits(gv_engine *e, const gv_caller *reader, const gv_item_row *r) {
  const gv_forum *f = gv_engine_forum(e, r->forum_id);
  const gv_workflow *w = f ? gv_engine_workflow_version(e, r->forum_id, r->version_id, NULL) : NULL;
  if (w == NULL) return 0;
  for (size_t i = 0; i < w->nactions; i++) {
    const gv_action *a = &w->actions[i];
    if (a->by == 0 || !gv_action_from(a, r->state) || !gv_engine_may_act(e, f, a, reader, r)) continue;
    /* A state that answered is no longer awaited for its position. */
    if (w->has_positions && reader->role == GV_ROLE_DELEGATE && (a->by & GV_BY_DELEGATE)) {
      json_t *raw = NULL;
      int answered = 0;
      if (gv_store_positions(gv_engine_store(e), r->id, 0, &raw, NULL) == GV_OK)
        answered = json_object_get(raw, reader->member) != NULL;
      json_decref(raw);
      if (answered) continue;
    }
    return 1;
  }
  return 0;
}

json_t *gv_view_item_brief(gv_engine *e, const gv_caller *reader, const gv_item_row *r) {
  const gv_forum *f = gv_engine_forum(e, r->forum_id);
  const gv_workflow *w = f ? gv_engine_workflow_version(e, r->forum_id, r->version_id, NULL) : NULL;
  json_t *title = json_loads(r->title, JSON_DECODE_ANY, NULL);
  json_t *data = json_loads(r->data, 0, NULL);
  json_t *o = json_pack("{s:I, s:s, s:I, s:o, s:s}", "id", (json_int_t)r->id, "workflow", r->workflow, "version_id",
                        (json_int_t)r->version_id, "title", title ? title : json_string(""), "state", r->state);
  const gv_state_decl *sd = w ? gv_workflow_state(w, r->state) : NULL;
  json_object_set_new(o, "state_label", sd ? i18n_json(&sd->label) : json_object());
  json_object_set_new(o, "meeting_id", r->meeting_id ? json_integer(r->meeting_id) : json_null());
  json_object_set_new(o, "member", r->member[0] ? json_string(r->member) : json_null());
  json_object_set_new(o, "sealed", json_boolean(r->sealed));
  json_object_set_new(o, "created_at", time_json(r->created_at));
  json_object_set_new(o, "updated_at", time_json(r->updated_at));
  json_t *num = json_object_get(data, "number");
  json_object_set_new(o, "number", json_is_string(num) ? json_incref(num) : json_null());
  json_t *timers = NULL;
  json_t *deadlines = json_object();
  if (gv_store_timers_of(gv_engine_store(e), r->id, &timers, NULL) == GV_OK) {
    const char *k;
    json_t *v;
    json_object_foreach(timers, k, v) if (strncmp(k, "remind:", 7) != 0)
      json_object_set_new(deadlines, k, time_json(json_integer_value(v)));
    json_decref(timers);
  }
  json_object_set_new(o, "deadlines", deadlines);
  json_decref(data);
  (void)reader;
  return o;
}

json_t *gv_view_item(gv_engine *e, const gv_caller *reader, int64_t item_id, gv_error *err) {
  gv_item_row r;
  if (gv_store_item_get(gv_engine_store(e), item_id, &r, err) != GV_OK) return NULL;
  const gv_forum *f = gv_engine_forum(e, r.forum_id);
  if (f == NULL || (reader->forum_id[0] && strcmp(reader->forum_id, r.forum_id) != 0)) {
    gv_item_row_clear(&r);
    gv_error_set(err, GV_ENOTFOUND, "id", "no item %lld", (long long)item_id);
    return NULL;
  }
  const gv_workflow *w = gv_engine_workflow_version(e, r.forum_id, r.version_id, err);
  if (w == NULL) {
    gv_item_row_clear(&r);
    return NULL;
  }
  json_t *o = gv_view_item_brief(e, reader, &r);
  json_t *data = json_loads(r.data, 0, NULL);
  if (data == NULL) data = json_object();
  gv_user u;
  json_object_set_new(o, "created_by",
                      r.created_by && gv_store_user_get(gv_engine_store(e), r.created_by, &u, NULL) == GV_OK
                          ? json_string(u.username) : json_null());
  json_object_set_new(o, "workflow_title", i18n_json(&w->title));
  json_object_set_new(o, "version_sha256", json_string(w->sha256));
  json_object_set_new(o, "actions", actions_for(e, f, w, reader, &r, data));
  if (w->has_positions) json_object_set_new(o, "summary", summary(e, f, w, reader, &r));
  json_object_set_new(o, "data", data);
  gv_item_row_clear(&r);
  return o;
}

const char *gv_view_language(const gv_forum *f, const gv_caller *reader) {
  for (int i = 0; reader && i < f->nlanguages; i++)
    if (strcmp(f->languages[i], reader->language) == 0) return f->languages[i];
  return f->nlanguages ? f->languages[0] : "en";
}

/* A member state's name in lang, or the code itself. */
static const char *member_name(const gv_forum *f, const char *code, const char *lang) {
  const gv_member *m = code ? gv_forum_member(f, code) : NULL;
  const char *n = m ? gv_i18n_get(&m->name, lang) : NULL;
  return n ? n : (code ? code : "");
}

/* The text a placeholder of a history sentence stands for. */
static void placeholder(gv_buf *out, const gv_forum *f, const gv_workflow *w, const gv_action *a, const json_t *ev,
                        const char *name, const char *lang) {
  const json_t *params = json_object_get(ev, "params");
  if (strcmp(name, "actor") == 0) {
    const char *who = json_string_value(json_object_get(ev, "actor"));
    gv_buf_puts(out, who ? who : "");
  } else if (strcmp(name, "member") == 0) {
    const char *code = json_string_value(json_object_get(params, "member"));
    gv_buf_puts(out, member_name(f, code ? code : json_string_value(json_object_get(ev, "member")), lang));
  } else if (strcmp(name, "state") == 0) {
    const char *st = json_string_value(json_object_get(ev, "to_state"));
    const gv_state_decl *sd = st ? gv_workflow_state(w, st) : NULL;
    const char *l = sd ? gv_i18n_get(&sd->label, lang) : NULL;
    gv_buf_puts(out, l ? l : (st ? st : ""));
  } else if (!json_is_object(params)) {
    gv_buf_puts(out, "…"); /* hidden from this reader */
  } else {
    const json_t *v = json_object_get(params, name);
    int is_member = 0;
    for (size_t i = 0; i < a->nparams; i++)
      if (strcmp(a->params[i].name, name) == 0) is_member = a->params[i].type == GV_PT_MEMBER;
    if (json_is_string(v) && is_member) gv_buf_puts(out, member_name(f, json_string_value(v), lang));
    else if (json_is_string(v) || json_is_object(v)) gv_buf_puts(out, gv_view_text(v, lang));
    else if (json_is_integer(v)) gv_buf_printf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_true(v) || json_is_false(v)) gv_buf_puts(out, json_is_true(v) ? "true" : "false");
  }
}

/* The workflow's sentence for the event in lang with its placeholders filled, or NULL. */
static char *sentence(const gv_forum *f, const gv_workflow *w, const gv_action *a, const json_t *ev, const char *lang) {
  if (a->history.n == 0) return NULL;
  const char *tpl = gv_i18n_get(&a->history, lang);
  gv_buf out = GV_BUF_INIT;
  for (const char *p = tpl; *p;) {
    const char *open = strchr(p, '{'), *close = open ? strchr(open, '}') : NULL;
    if (close == NULL) {
      gv_buf_puts(&out, p);
      break;
    }
    gv_buf_append(&out, p, (size_t)(open - p));
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(close - open - 1), open + 1);
    placeholder(&out, f, w, a, ev, name, lang);
    p = close + 1;
  }
  return gv_buf_steal(&out);
}

/* Adds what the item's workflow says of the event, in the reader's language: the action's
 * label, the new state's label and the history sentence (null when it declares none). */
static void describe_event(gv_engine *e, const gv_forum *f, const gv_caller *reader, const gv_item_row *r, json_t *o) {
  const gv_workflow *w = gv_engine_workflow_version(e, r->forum_id, r->version_id, NULL);
  const char *name = json_string_value(json_object_get(o, "action"));
  if (w == NULL || name == NULL) return;
  const gv_action *a = strcmp(name, w->create.name ? w->create.name : "") == 0 ? &w->create : gv_workflow_action(w, name);
  const char *lang = gv_view_language(f, reader);
  const char *to = json_string_value(json_object_get(o, "to_state"));
  const gv_state_decl *sd = to ? gv_workflow_state(w, to) : NULL;
  const char *sl = sd ? gv_i18n_get(&sd->label, lang) : NULL;
  if (sl) json_object_set_new(o, "state_label", json_string(sl));
  if (a == NULL) return;
  const char *al = gv_i18n_get(&a->label, lang);
  if (al) json_object_set_new(o, "action_label", json_string(al));
  char *s = sentence(f, w, a, o, lang);
  json_object_set_new(o, "sentence", s ? json_string(s) : json_null());
  free(s);
}

json_t *gv_view_event(gv_engine *e, const gv_caller *reader, json_t *ev) {
  json_t *o = json_deep_copy(ev);
  json_object_set_new(o, "at", time_json(json_integer_value(json_object_get(ev, "at"))));
  json_object_del(o, "actor_id");
  if (json_is_true(json_object_get(ev, "sealed")) && json_is_integer(json_object_get(ev, "item_id"))) {
    gv_item_row r;
    if (gv_store_item_get(gv_engine_store(e), json_integer_value(json_object_get(ev, "item_id")), &r, NULL) == GV_OK) {
      const gv_forum *f = gv_engine_forum(e, r.forum_id);
      if (f && !gv_view_may_see_stance(f, reader, &r, json_string_value(json_object_get(ev, "member"))))
        json_object_set_new(o, "params", json_null());
      else
        json_object_set_new(o, "sealed", json_false());
      if (f) describe_event(e, f, reader, &r, o);
      gv_item_row_clear(&r);
    }
  } else {
    json_object_set_new(o, "sealed", json_false());
    gv_item_row r;
    if (json_is_integer(json_object_get(ev, "item_id")) &&
        gv_store_item_get(gv_engine_store(e), json_integer_value(json_object_get(ev, "item_id")), &r, NULL) == GV_OK) {
      const gv_forum *f = gv_engine_forum(e, r.forum_id);
      if (f) describe_event(e, f, reader, &r, o);
      gv_item_row_clear(&r);
    }
  }
  return o;
}

json_t *gv_view_forum_event(gv_engine *e, const gv_caller *reader, json_t *ev) {
  json_t *o = json_deep_copy(ev);
  json_object_set_new(o, "at", time_json(json_integer_value(json_object_get(ev, "at"))));
  json_object_del(o, "actor_id");
  json_object_set_new(o, "sealed", json_false());
  /* Where the server keeps its files is the secretariat's business only. */
  if (reader->role != GV_ROLE_SECRETARIAT) json_object_del(json_object_get(o, "params"), "path");
  (void)e;
  return o;
}

json_t *gv_view_events(gv_engine *e, const gv_caller *reader, int64_t item_id, int64_t after_id, int limit,
                       gv_error *err) {
  gv_item_row r;
  if (gv_store_item_get(gv_engine_store(e), item_id, &r, err) != GV_OK) return NULL;
  json_t *raw = NULL;
  int rc = gv_store_events(gv_engine_store(e), r.forum_id, item_id, after_id, limit, &raw, err);
  const gv_forum *f = gv_engine_forum(e, r.forum_id);
  if (rc != GV_OK || f == NULL) {
    gv_item_row_clear(&r);
    return NULL;
  }
  json_t *out = json_array();
  size_t i;
  json_t *ev;
  json_array_foreach(raw, i, ev) {
    json_t *o = json_deep_copy(ev);
    json_object_set_new(o, "at", time_json(json_integer_value(json_object_get(ev, "at"))));
    json_object_del(o, "actor_id");
    int hide = json_is_true(json_object_get(ev, "sealed")) &&
               !gv_view_may_see_stance(f, reader, &r, json_string_value(json_object_get(ev, "member")));
    if (hide) json_object_set_new(o, "params", json_null());
    json_object_set_new(o, "sealed", json_boolean(hide));
    describe_event(e, f, reader, &r, o);
    json_array_append_new(out, o);
  }
  json_decref(raw);
  gv_item_row_clear(&r);
  return out;
}
