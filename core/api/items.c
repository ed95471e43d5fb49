/* The forum, its items and their actions, events, positions, versions; workflows; meetings and records. */
#include "api/api.h"
#include "base/alloc.h"
#include "base/diff.h"
#include "base/time.h"
#include "views/record.h"
#include "views/views.h"

#include <stdlib.h>
#include <string.h>

static int check_forum(gv_call *c, const char *id) {
  if (strcmp(id, c->srv->forum->id) != 0 || strcmp(c->user.forum_id, id) != 0) {
    api_error(c, GV_ENOTFOUND, "no such forum", "forum");
    return -1;
  }
  return 0;
}

static json_t *i18n_json(const gv_i18n *t) {
  json_t *o = json_object();
  for (int i = 0; i < t->n; i++) json_object_set_new(o, t->lang[i], json_string(t->text[i]));
  return o;
}

void h_forum(gv_call *c) {
  if (check_forum(c, c->param[0])) return;
  const gv_forum *f = c->srv->forum;
  json_t *langs = json_array(), *members = json_array();
  for (int i = 0; i < f->nlanguages; i++) json_array_append_new(langs, json_string(f->languages[i]));
  for (size_t i = 0; i < f->nmembers; i++)
    json_array_append_new(members, json_pack("{s:s, s:o}", "code", f->members[i].code, "name", i18n_json(&f->members[i].name)));
  json_t *rules = json_loads(f->rules.json ? f->rules.json : "{}", 0, NULL);
  json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o}", "id", f->id, "short_name", f->short_name, "name",
                        i18n_json(&f->name), "time_zone", f->time_zone, "languages", langs, "rules",
                        rules ? rules : json_object(), "members", members);
  json_object_set_new(o, "chair", json_pack("{s:b, s:s, s:o}", "appointed", f->chair_appointed, "acting",
                                            f->chair_acting, "title", i18n_json(&f->chair_title)));
  char ts[GV_TIME_BUFSZ];
  json_object_set_new(o, "now", json_string(gv_time_format(gv_engine_now(c->srv->e), ts)));
  api_json(c, 200, o);
}

/* ---- Items ---------------------------------------------------------------------------------- */

/* The answer to an item action: the item as the caller sees it, with the receipt. */
static json_t *item_answer(gv_srv *s, gv_call *c, const gv_action_res *res) {
  gv_error err;
  json_t *item = gv_view_item(s->e, &c->caller, res->item_id, &err);
  if (item == NULL) return NULL;
  char ts[GV_TIME_BUFSZ];
  json_t *receipt = json_pack("{s:I, s:s, s:I}", "event_id", (json_int_t)res->event_id, "committed_at",
                              gv_time_format(res->committed_at, ts), "item_id", (json_int_t)res->item_id);
  for (int i = 0; i < res->nextra; i++) json_object_set_new(receipt, res->extra[i].name, json_integer(res->extra[i].value));
  return json_pack("{s:o, s:o}", "item", item, "receipt", receipt);
}

static int only_keys(gv_call *c, const char *const *allowed) {
  const char *k;
  json_t *v;
  json_object_foreach(c->body, k, v) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, k) == 0;
    if (!ok) {
      char msg[200];
      snprintf(msg, sizeof msg, "unknown field '%s' in the request body", k);
      api_error(c, GV_EPARSE, msg, k);
      return -1;
    }
  }
  return 0;
}

void h_items_create(gv_call *c) {
  if (check_forum(c, c->param[0])) return;
  static const char *const allowed[] = {"workflow", "title", "params", NULL};
  if (c->body == NULL) {
    api_error(c, GV_EPARSE, "send {\"workflow\": ..., \"title\": ..., \"params\": {...}}", NULL);
    return;
  }
  if (only_keys(c, allowed)) return;
  json_t *wf = json_object_get(c->body, "workflow"), *params = json_object_get(c->body, "params");
  if (!json_is_string(wf)) {
    api_error(c, GV_EPARSE, "workflow must name one of the forum's workflows (GET /v1/workflows lists them)", "workflow");
    return;
  }
  if (params && !json_is_object(params) && !json_is_null(params)) {
    api_error(c, GV_EPARSE, "params must be an object", "params");
    return;
  }
  gv_action_req q = {0};
  q.item_id = 0;
  q.forum_id = c->srv->forum->id;
  json_t *own_title = json_incref(json_object_get(c->body, "title"));
  json_t *own_params = params ? json_incref(params) : NULL;
  q.workflow = json_string_value(wf);
  q.title = own_title;
  q.params = own_params;
  api_enqueue(c, &q, own_params, own_title, 1, item_answer);
}

void h_item_action(gv_call *c) {
  int64_t id;
  if (api_param_id(c, 0, &id)) {
    api_error(c, GV_ENOTFOUND, "no such item", "id");
    return;
  }
  json_t *params = NULL;
  if (c->body) {
    static const char *const allowed[] = {"params", NULL};
    if (only_keys(c, allowed)) return;
    params = json_object_get(c->body, "params");
    if (params && !json_is_object(params) && !json_is_null(params)) {
      api_error(c, GV_EPARSE, "params must be an object", "params");
      return;
    }
  }
  gv_action_req q = {0};
  q.item_id = id;
  q.action = c->param[1];
  json_t *own = params ? json_incref(params) : NULL;
  q.params = own;
  api_enqueue(c, &q, own, NULL, 0, item_answer);
}

void h_item(gv_call *c) {
  int64_t id;
  gv_error err;
  if (api_param_id(c, 0, &id)) {
    api_error(c, GV_ENOTFOUND, "no such item", "id");
    return;
  }
  json_t *v = gv_view_item(c->srv->e, &c->caller, id, &err);
  if (v == NULL) {
    api_gv_error(c, &err);
    return;
  }
  api_json(c, 200, v);
}

static int64_t query_int(gv_call *c, const char *name, int64_t def, int64_t min, int64_t max, int *bad) {
  char buf[32];
  const char *v = api_query(c, name, buf, sizeof buf);
  if (v == NULL) return def;
  char *end;
  long long n = strtoll(v, &end, 10);
  if (*v == '\0' || *end || n < min || n > max) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be a whole number from %lld to %lld", name, (long long)min, (long long)max);
    api_error(c, GV_EPARSE, msg, name);
    *bad = 1;
    return def;
  }
  return n;
}

void h_items_list(gv_call *c) {
  if (check_forum(c, c->param[0])) return;
  char wf[64], st[64], aw[16];
  int bad = 0;
  gv_item_filter f = {0};
  f.forum_id = c->srv->forum->id;
  f.workflow = api_query(c, "workflow", wf, sizeof wf);
  f.state = api_query(c, "state", st, sizeof st);
  f.meeting_id = query_int(c, "meeting", 0, 1, INT64_MAX, &bad);
  if (!bad) f.after_id = query_int(c, "after", 0, 0, INT64_MAX, &bad);
  int limit = bad ? 0 : (int)query_int(c, "limit", 50, 1, 200, &bad);
  if (bad) return;
  const char *awaiting = api_query(c, "awaiting", aw, sizeof aw);
  if (awaiting && strcmp(awaiting, "me") != 0) {
    api_error(c, GV_EPARSE, "awaiting may only be 'me'", "awaiting");
    return;
  }
  json_t *items = json_array();
  int64_t last = 0;
  int more = 0, examined = 0;
  f.limit = limit + 1;
  /* awaiting=me filters after reading: a request examines at most this many items and
   * then hands back a cursor, so one call never scans a whole large forum. */
  const int max_examined = 2000;
  for (;;) {
    gv_item_row *rows = NULL;
    size_t n = 0;
    gv_error err;
    if (gv_store_item_list(gv_engine_store(c->srv->e), &f, &rows, &n, &err) != GV_OK) {
      json_decref(items);
      api_gv_error(c, &err);
      return;
    }
    for (size_t i = 0; i < n; i++) {
      if ((int)json_array_size(items) == limit || examined == max_examined) {
        more = 1;
        break;
      }
      f.after_id = rows[i].id;
      examined++;
      if (awaiting && !gv_view_awaits(c->srv->e, &c->caller, &rows[i])) {
        last = rows[i].id;
        continue;
      }
      json_array_append_new(items, gv_view_item_brief(c->srv->e, &c->caller, &rows[i]));
      last = rows[i].id;
    }
    for (size_t i = 0; i < n; i++) gv_item_row_clear(&rows[i]);
    free(rows);
    if (more || (int)n < f.limit) break;
  }
  json_t *o = json_pack("{s:o}", "items", items);
  json_object_set_new(o, "next", more ? json_integer(last) : json_null());
  api_json(c, 200, o);
}

void h_item_events(gv_call *c) {
  int64_t id;
  int bad = 0;
  gv_error err;
  if (api_param_id(c, 0, &id)) {
    api_error(c, GV_ENOTFOUND, "no such item", "id");
    return;
  }
  int64_t after = query_int(c, "after", 0, 0, INT64_MAX, &bad);
  if (bad) return;
  int limit = (int)query_int(c, "limit", 500, 1, 1000, &bad);
  if (bad) return;
  gv_item_row r;
  if (gv_store_item_get(gv_engine_store(c->srv->e), id, &r, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  gv_item_row_clear(&r);
  /* One more than asked tells whether another page follows. */
  json_t *ev = gv_view_events(c->srv->e, &c->caller, id, after, limit + 1, &err);
  if (ev == NULL) {
    api_gv_error(c, &err);
    return;
  }
  api_page pg = {limit, 0};
  json_t *next;
  ev = api_page_cut(c, ev, &pg, API_PAGE_ID_ASC, &next);
  api_json(c, 200, json_pack("{s:o, s:o}", "events", ev, "next", next));
}

void h_item_positions(gv_call *c) {
  int64_t id;
  gv_error err;
  char h[8];
  if (api_param_id(c, 0, &id)) {
    api_error(c, GV_ENOTFOUND, "no such item", "id");
    return;
  }
  const char *history = api_query(c, "history", h, sizeof h);
  json_t *p = gv_view_positions(c->srv->e, &c->caller, id, history && strcmp(history, "false") != 0, &err);
  if (p == NULL) {
    api_gv_error(c, &err);
    return;
  }
  api_json(c, 200, json_pack("{s:o}", "positions", p));
}

/* The versions an item keeps in data.versions (drafts and decisions). */
static json_t *item_versions(gv_call *c, int64_t id, gv_error *err) {
  gv_item_row r;
  if (gv_store_item_get(gv_engine_store(c->srv->e), id, &r, err) != GV_OK) return NULL;
  json_t *data = json_loads(r.data, 0, NULL);
  gv_item_row_clear(&r);
  json_t *v = json_incref(json_object_get(data, "versions"));
  json_decref(data);
  if (!json_is_array(v)) {
    json_decref(v);
    gv_error_set(err, GV_ENOTFOUND, "id", "this item keeps no versions");
    return NULL;
  }
  return v;
}

void h_item_versions(gv_call *c) {
  int64_t id;
  gv_error err;
  if (api_param_id(c, 0, &id)) {
    api_error(c, GV_ENOTFOUND, "no such item", "id");
    return;
  }
  json_t *v = item_versions(c, id, &err);
  if (v == NULL) {
    api_gv_error(c, &err);
    return;
  }
  api_json(c, 200, json_pack("{s:I, s:o}", "current", (json_int_t)json_array_size(v), "versions", v));
}

void h_item_diff(gv_call *c) {
  int64_t id;
  int bad = 0;
  gv_error err;
  if (api_param_id(c, 0, &id)) {
    api_error(c, GV_ENOTFOUND, "no such item", "id");
    return;
  }
  json_t *v = item_versions(c, id, &err);
  if (v == NULL) {
    api_gv_error(c, &err);
    return;
  }
  int64_t n = (int64_t)json_array_size(v);
  int64_t from = query_int(c, "from", n > 1 ? n - 1 : 1, 1, n, &bad);
  int64_t to = bad ? 0 : query_int(c, "to", n, 1, n, &bad);
  if (bad) {
    json_decref(v);
    return;
  }
  char lang[8];
  const char *l = api_query(c, "lang", lang, sizeof lang);
  if (l == NULL) l = c->user.language;
  const char *a = gv_view_text(json_object_get(json_array_get(v, (size_t)from - 1), "text"), l);
  const char *b = gv_view_text(json_object_get(json_array_get(v, (size_t)to - 1), "text"), l);
  json_t *d = gv_diff_text(a, b);
  json_decref(v);
  if (d == NULL) {
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  api_json(c, 200, json_pack("{s:I, s:I, s:s, s:o}", "from", (json_int_t)from, "to", (json_int_t)to, "lang", l, "diff", d));
}

/* What a workflow says of itself for pages and emails: its states and actions with their
 * labels and history sentences, in every forum language, so none hard-codes them. */
static void describe_workflow(json_t *o, const gv_workflow *wf) {
  json_t *states = json_array(), *actions = json_array();
  for (size_t i = 0; i < wf->nstates; i++)
    json_array_append_new(states, json_pack("{s:s, s:o}", "name", wf->states[i].name, "label", i18n_json(&wf->states[i].label)));
  for (size_t i = 0; i <= wf->nactions; i++) {
    const gv_action *a = i == 0 ? &wf->create : &wf->actions[i - 1];
    if (a->name == NULL) continue;
    json_array_append_new(actions, json_pack("{s:s, s:o, s:o}", "name", a->name, "label", i18n_json(&a->label),
                                             "history", a->history.n ? i18n_json(&a->history) : json_null()));
  }
  json_object_set_new(o, "states", states);
  json_object_set_new(o, "actions", actions);
}

void h_workflows(gv_call *c) {
  json_t *list = NULL;
  gv_error err;
  if (gv_store_wfcurrent_list(gv_engine_store(c->srv->e), c->srv->forum->id, &list, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  size_t i;
  json_t *w;
  json_array_foreach(list, i, w) {
    const gv_workflow *wf = gv_engine_workflow(c->srv->e, c->srv->forum->id, json_string_value(json_object_get(w, "name")));
    if (wf) json_object_set_new(w, "title", i18n_json(&wf->title));
    if (wf) describe_workflow(w, wf);
    /* How the caller may create an item of it (the form a page shows), or null. */
    json_t *create = json_null();
    if (wf && wf->create.by && gv_engine_may_act(c->srv->e, c->srv->forum, &wf->create, &c->caller, NULL)) {
      json_t *params = json_object();
      for (size_t k = 0; k < wf->create.nparams; k++) {
        json_t *d = gv_param_describe(&wf->create.params[k], NULL, c->srv->forum);
        if (wf->create.params[k].type == GV_PT_MEMBER && c->caller.role == GV_ROLE_DELEGATE)
          json_object_set_new(d, "values", json_pack("[s]", c->caller.member));
        json_object_set_new(params, wf->create.params[k].name, d);
      }
      create = json_pack("{s:s, s:o, s:o}", "name", wf->create.name, "label", i18n_json(&wf->create.label), "params",
                         params);
    }
    json_object_set_new(w, "create", create);
    json_object_set(w, "current_version", json_object_get(w, "version_id"));
    json_object_del(w, "path");
    char ts[GV_TIME_BUFSZ];
    json_object_set_new(w, "updated_at", json_string(gv_time_format(json_integer_value(json_object_get(w, "updated_at")), ts)));
    size_t k;
    json_t *ver;
    json_array_foreach(json_object_get(w, "versions"), k, ver)
      json_object_set_new(ver, "created_at", json_string(gv_time_format(json_integer_value(json_object_get(ver, "created_at")), ts)));
  }
  api_json(c, 200, json_pack("{s:o}", "workflows", list));
}

/* ---- Meetings -------------------------------------------------------------------------------- */

static json_t *meeting_json(const gv_meeting *m) {
  json_t *o = json_pack("{s:I, s:o, s:s, s:s, s:s}", "id", (json_int_t)m->id, "title",
                        json_loads(m->title, JSON_DECODE_ANY, NULL), "place", m->place, "starts_on", m->starts_on,
                        "ends_on", m->ends_on);
  char ts[GV_TIME_BUFSZ];
  json_object_set_new(o, "agenda_adopted_at", m->agenda_adopted_at ? json_string(gv_time_format(m->agenda_adopted_at, ts)) : json_null());
  return o;
}

void h_meetings_list(gv_call *c) {
  gv_meeting *ms = NULL;
  size_t n = 0;
  gv_error err;
  api_page pg;
  if (api_page_query(c, 500, 1000, &pg)) return;
  if (gv_store_meeting_list(gv_engine_store(c->srv->e), c->srv->forum->id, &ms, &n, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    json_array_append_new(arr, meeting_json(&ms[i]));
    gv_meeting_clear(&ms[i]);
  }
  free(ms);
  json_t *next;
  if ((arr = api_page_cut(c, arr, &pg, API_PAGE_LISTED, &next)) == NULL) return;
  api_json(c, 200, json_pack("{s:o, s:o}", "meetings", arr, "next", next));
}

void h_meetings_create(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  static const char *const allowed[] = {"title", "place", "starts_on", "ends_on", NULL};
  if (c->body == NULL) {
    api_error(c, GV_EPARSE, "send {title, place, starts_on, ends_on}", NULL);
    return;
  }
  if (only_keys(c, allowed)) return;
  gv_error err;
  gv_error_clear(&err);
  json_t *title = gv_title_validate(json_object_get(c->body, "title"), c->srv->forum, &err);
  if (title == NULL) {
    api_gv_error(c, &err);
    return;
  }
  const char *place = json_string_value(json_object_get(c->body, "place"));
  const char *start = json_string_value(json_object_get(c->body, "starts_on"));
  const char *end = json_string_value(json_object_get(c->body, "ends_on"));
  int64_t a, b;
  const char *tz = c->srv->forum->time_zone;
  if (place == NULL || *place == '\0' || strlen(place) > 200)
    gv_error_set(&err, GV_EPARAM, "place", "place is required (at most 200 characters)");
  else if (start == NULL || gv_date_parse(start, tz, &a) != GV_OK)
    gv_error_set(&err, GV_EPARAM, "starts_on", "starts_on must be a date YYYY-MM-DD");
  else if (end && gv_date_parse(end, tz, &b) != GV_OK)
    gv_error_set(&err, GV_EPARAM, "ends_on", "ends_on must be a date YYYY-MM-DD");
  else if (end && b < a)
    gv_error_set(&err, GV_EPARAM, "ends_on", "ends_on is before starts_on");
  if (err.code != GV_OK) {
    json_decref(title);
    api_gv_error(c, &err);
    return;
  }
  gv_meeting m = {0};
  snprintf(m.forum_id, sizeof m.forum_id, "%s", c->srv->forum->id);
  m.title = json_dumps(title, JSON_COMPACT | JSON_ENCODE_ANY);
  snprintf(m.place, sizeof m.place, "%s", place);
  snprintf(m.starts_on, sizeof m.starts_on, "%s", start);
  snprintf(m.ends_on, sizeof m.ends_on, "%s", end ? end : start);
  m.created_at = gv_engine_now(c->srv->e);
  gv_store *st = gv_engine_store(c->srv->e);
  int64_t eid = 0;
  int rc = gv_store_begin(st, &err);
  if (rc == GV_OK) rc = gv_store_meeting_insert(st, &m, c->user.id, &err);
  if (rc == GV_OK) {
    json_t *p = json_pack("{s:I, s:O, s:s, s:s, s:s}", "meeting", (json_int_t)m.id, "title", title, "place", m.place,
                          "starts_on", m.starts_on, "ends_on", m.ends_on);
    rc = gv_engine_record_in_tx(c->srv->e, c->srv->forum->id, "meeting", "meeting.created", c->user.id, NULL, p,
                                m.created_at, &eid, &err);
    json_decref(p);
  }
  if (rc == GV_OK) rc = gv_store_commit(st, &err);
  else gv_store_rollback(st);
  json_decref(title);
  if (rc != GV_OK) {
    gv_meeting_clear(&m);
    api_gv_error(c, &err);
    return;
  }
  gv_engine_notify(c->srv->e, eid, eid);
  json_t *o = meeting_json(&m);
  int64_t created = m.created_at;
  gv_meeting_clear(&m);
  api_json(c, 201, json_pack("{s:o, s:I, s:o}", "meeting", o, "event_id", (json_int_t)eid, "receipt",
                             api_receipt(eid, created)));
}

/* Items of a meeting, optionally only of one workflow and state. */
static json_t *meeting_items(gv_call *c, int64_t meeting, const char *workflow) {
  gv_item_filter f = {0};
  f.forum_id = c->srv->forum->id;
  f.meeting_id = meeting;
  f.workflow = workflow;
  f.limit = 1000;
  gv_item_row *rows = NULL;
  size_t n = 0;
  json_t *arr = json_array();
  if (gv_store_item_list(gv_engine_store(c->srv->e), &f, &rows, &n, NULL) == GV_OK) {
    for (size_t i = 0; i < n; i++) {
      json_array_append_new(arr, gv_view_item_brief(c->srv->e, &c->caller, &rows[i]));
      gv_item_row_clear(&rows[i]);
    }
    free(rows);
  }
  return arr;
}

static int get_meeting(gv_call *c, gv_meeting *m) {
  int64_t id;
  gv_error err;
  if (api_param_id(c, 0, &id) || gv_store_meeting_get(gv_engine_store(c->srv->e), id, m, &err) != GV_OK ||
      strcmp(m->forum_id, c->srv->forum->id) != 0) {
    if (m->title) gv_meeting_clear(m);
    api_error(c, GV_ENOTFOUND, "no such meeting", "id");
    return -1;
  }
  return 0;
}

/* The workflow version an item (as a brief view) runs on, or NULL. */
static const gv_workflow *item_workflow(gv_call *c, const json_t *it) {
  return gv_engine_workflow_version(c->srv->e, c->srv->forum->id, json_integer_value(json_object_get(it, "version_id")),
                                    NULL);
}

void h_meeting(gv_call *c) {
  gv_meeting m = {0};
  if (get_meeting(c, &m)) return;
  json_t *o = meeting_json(&m);
  /* Items of workflows whose record declaration puts them in the agenda section form the
   * agenda (in the states it lists); every other item of the meeting is listed as such. */
  json_t *all = meeting_items(c, m.id, NULL);
  json_t *kept = json_array(), *others = json_array();
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) {
    const gv_workflow *w = item_workflow(c, it);
    if (w == NULL || w->record.section != GV_RECORD_AGENDA) json_array_append(others, it);
    else if (gv_record_lists(w, json_string_value(json_object_get(it, "state")))) json_array_append(kept, it);
  }
  json_decref(all);
  json_object_set_new(o, "agenda", kept);
  json_object_set_new(o, "items", others);
  gv_meeting_clear(&m);
  api_json(c, 200, o);
}

typedef struct adopt_ctx {
  gv_call *c;
  int64_t event_id;
} adopt_ctx;

static int mark_adopted(gv_engine *e, int64_t now, void *ud, gv_error *err) {
  adopt_ctx *x = ud;
  gv_call *c = x->c;
  int64_t id;
  api_param_id(c, 0, &id);
  int rc = gv_store_meeting_set_agenda_adopted(gv_engine_store(e), id, now, err);
  if (rc != GV_OK) return rc;
  json_t *p = json_pack("{s:I}", "meeting", (json_int_t)id);
  rc = gv_engine_record_in_tx(e, c->srv->forum->id, "meeting", "meeting.agenda_adopted", c->user.id, NULL, p, now,
                              &x->event_id, err);
  json_decref(p);
  return rc;
}

void h_meeting_adopt_agenda(gv_call *c) {
  gv_meeting m = {0};
  if (get_meeting(c, &m)) return;
  int adopted = m.agenda_adopted_at != 0;
  int64_t mid = m.id;
  gv_meeting_clear(&m);
  if (!gv_engine_is_chair(c->srv->forum, &c->caller)) {
    api_error(c, GV_EFORBIDDEN, "only the chair adopts the agenda", NULL);
    return;
  }
  if (adopted) {
    api_error(c, GV_ESTATE, "the agenda of this meeting is already adopted", NULL);
    return;
  }
  /* Each item of the meeting whose workflow declares agenda { on_adopt = "action" } takes
   * that action, if its state allows it, all in one transaction. */
  gv_item_filter f = {0};
  f.forum_id = c->srv->forum->id;
  f.meeting_id = mid;
  f.limit = 1000;
  gv_item_row *rows = NULL;
  size_t total = 0, n = 0;
  gv_error err;
  if (gv_store_item_list(gv_engine_store(c->srv->e), &f, &rows, &total, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  gv_action_req *reqs = gv_calloc(total + 1, sizeof *reqs);
  gv_action_res *res = gv_calloc(total + 1, sizeof *res);
  if (reqs == NULL || res == NULL) {
    for (size_t i = 0; i < total; i++) gv_item_row_clear(&rows[i]);
    free(rows);
    free(reqs);
    free(res);
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  for (size_t i = 0; i < total; i++) {
    const gv_workflow *w = gv_engine_workflow_version(c->srv->e, f.forum_id, rows[i].version_id, NULL);
    const gv_action *a = w && w->agenda_adopt ? gv_workflow_action(w, w->agenda_adopt) : NULL;
    if (a == NULL || !gv_action_from(a, rows[i].state)) {
      gv_item_row_clear(&rows[i]);
      continue;
    }
    reqs[n].caller = &c->caller;
    reqs[n].item_id = rows[i].id;
    reqs[n].action = a->name;
    if (n != i) {
      rows[n] = rows[i];
      memset(&rows[i], 0, sizeof rows[i]);
    }
    n++;
  }
  adopt_ctx x = {c, 0};
  int64_t started = gv_engine_now(c->srv->e);
  int rc = gv_engine_apply_atomic(c->srv->e, reqs, res, n, mark_adopted, &x);
  json_t *ids = json_array();
  for (size_t i = 0; i < n; i++) {
    json_array_append_new(ids, json_integer(rows[i].id));
    gv_item_row_clear(&rows[i]);
  }
  free(rows);
  if (rc != GV_OK) {
    gv_error e2 = res[0].err;
    for (size_t i = 0; i < n; i++)
      if (res[i].err.code != GV_OK) {
        e2 = res[i].err;
        break;
      }
    free(reqs);
    free(res);
    json_decref(ids);
    api_gv_error(c, &e2);
    return;
  }
  json_t *o = json_pack("{s:I, s:o, s:o}", "meeting", (json_int_t)mid, "adopted_items", ids, "receipt",
                        api_receipt(x.event_id, n ? res[0].committed_at : started));
  free(reqs);
  free(res);
  api_json(c, 200, o);
}

void h_meeting_record(gv_call *c) {
  gv_meeting m = {0};
  if (get_meeting(c, &m)) return;
  int64_t id = m.id;
  gv_meeting_clear(&m);
  char fmt[8];
  const char *f = api_query(c, "format", fmt, sizeof fmt);
  if (f == NULL) f = "json";
  char *out = NULL;
  gv_error err;
  if (gv_record_render(c->srv->e, c->srv->forum->id, id, f, &out, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  const char *ct = strcmp(f, "html") == 0 ? "text/html; charset=utf-8"
                   : strcmp(f, "md") == 0 ? "text/markdown; charset=utf-8" : "application/json; charset=utf-8";
  api_text(c, 200, ct, out, strlen(out));
  free(out);
}

/* The most incidents the list pages through, newest first. */
#define INCIDENTS_KEPT 100000

void h_incidents(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  json_t *list = NULL;
  gv_error err;
  api_page pg;
  if (api_page_query(c, 200, 1000, &pg)) return;
  if (gv_store_incident_list(gv_engine_store(c->srv->e), INCIDENTS_KEPT, &list, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  size_t i;
  json_t *o;
  char ts[GV_TIME_BUFSZ];
  json_t *next;
  list = api_page_cut(c, list, &pg, API_PAGE_ID_DESC, &next);
  json_array_foreach(list, i, o) json_object_set_new(o, "at", json_string(gv_time_format(json_integer_value(json_object_get(o, "at")), ts)));
  api_json(c, 200, json_pack("{s:o, s:o}", "incidents", list, "next", next));
}
