/* Demo content for `gavel init --demo`: runs the steps of workflows/demo/FORUM.json, so the core names no workflow or action. */
#include "base/time.h"
#include "cli/cli.h"
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

/* A copy of v with "$meeting", "$NAME" (a created item) and "$in:DURATION" (a time that
 * long after now, in the forum's zone) replaced. New reference, or NULL with err set. */
static json_t *resolve(const json_t *v, int64_t meeting, const json_t *ids, int64_t now, const char *tz, gv_error *err) {
  if (json_is_string(v) && json_string_value(v)[0] == '$') {
    const char *s = json_string_value(v) + 1;
    if (strcmp(s, "meeting") == 0) return json_integer(meeting);
    if (strncmp(s, "in:", 3) == 0) {
      int64_t ms;
      char ts[GV_TIME_BUFSZ];
      if (gv_duration_parse(s + 3, &ms) != GV_OK) {
        gv_error_set(err, GV_ECONFIG, NULL, "demo: '%s' is not a duration", s + 3);
        return NULL;
      }
      return json_string(gv_time_format_zone(now + ms, tz, ts));
    }
    json_t *id = json_object_get(ids, s);
    if (id == NULL) gv_error_set(err, GV_ECONFIG, NULL, "demo: no item was created under the name '%s'", s);
    return id ? json_incref(id) : NULL;
  }
  if (json_is_object(v) || json_is_array(v)) {
    json_t *out = json_is_object(v) ? json_object() : json_array();
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
      json_object_foreach((json_t *)v, k, x) {
        json_t *r = resolve(x, meeting, ids, now, tz, err);
        if (r == NULL || json_object_set_new(out, k, r) != 0) goto fail;
      }
    } else {
      json_array_foreach(v, i, x) {
        json_t *r = resolve(x, meeting, ids, now, tz, err);
        if (r == NULL || json_array_append_new(out, r) != 0) goto fail;
      }
    }
    return out;
  fail:
    json_decref(out);
    return NULL;
  }
  return json_deep_copy(v);
}

/* Takes one step: creates an item ("create": workflow) or takes an action on a named one. */
static int step(gv_engine *e, const json_t *st, int64_t meeting, json_t *ids, int64_t now, const char *tz) {
  gv_error err;
  gv_error_clear(&err);
  gv_user u;
  const char *as = json_string_value(json_object_get(st, "as"));
  if (as == NULL || gv_store_user_find(gv_engine_store(e), as, &u, &err) != GV_OK) {
    if (err.code == GV_OK) gv_error_set(&err, GV_ECONFIG, NULL, "demo: a step needs \"as\": a demo user");
    return gv_cli_fail(&err);
  }
  gv_caller c;
  gv_caller_from_user(&c, &u);
  json_t *params = resolve(json_object_get(st, "params"), meeting, ids, now, tz, &err);
  if (params == NULL) return gv_cli_fail(&err);
  const char *workflow = json_string_value(json_object_get(st, "create"));
  const char *item = json_string_value(json_object_get(st, "item"));
  gv_action_req q = {&c, item ? json_integer_value(json_object_get(ids, item)) : 0, NULL, workflow,
                     json_object_get(st, "title"), json_string_value(json_object_get(st, "action")), params, NULL, NULL};
  gv_action_res r;
  gv_engine_apply(e, &q, &r, 1);
  json_decref(params);
  if (r.err.code != GV_OK) return gv_cli_fail(&r.err);
  const char *name = json_string_value(json_object_get(st, "name"));
  if (name) json_object_set_new(ids, name, json_integer(r.item_id));
  return 0;
}

static int add_meeting(gv_engine *e, const gv_forum *f, const json_t *mj, int64_t now, int64_t *id) {
  gv_error err;
  char day[11];
  gv_meeting m = {0};
  json_int_t starts = json_integer_value(json_object_get(mj, "starts_in_days"));
  json_int_t days = json_integer_value(json_object_get(mj, "days"));
  snprintf(m.forum_id, sizeof m.forum_id, "%s", f->id);
  m.title = json_dumps(json_object_get(mj, "title"), JSON_COMPACT | JSON_ENCODE_ANY);
  snprintf(m.place, sizeof m.place, "%s", json_string_value(json_object_get(mj, "place")) ? json_string_value(json_object_get(mj, "place")) : "");
  gv_time_strftime(now + starts * DAY_MS, f->time_zone, "%Y-%m-%d", day, sizeof day);
  snprintf(m.starts_on, sizeof m.starts_on, "%s", day);
  gv_time_strftime(now + (starts + (days > 1 ? days - 1 : 0)) * DAY_MS, f->time_zone, "%Y-%m-%d", day, sizeof day);
  snprintf(m.ends_on, sizeof m.ends_on, "%s", day);
  m.created_at = now;
  gv_store *s = gv_engine_store(e);
  int rc = m.title ? gv_store_begin(s, &err) : gv_error_set(&err, GV_ENOMEM, NULL, NULL);
  if (rc == GV_OK) rc = gv_store_meeting_insert(s, &m, 0, &err);
  int64_t eid = 0;
  if (rc == GV_OK) {
    /* Recorded as the server records a meeting, so the record (and the audit log's view
     * of the state) has the event that wrote the row. */
    json_t *p = json_pack("{s:I, s:O?, s:s, s:s, s:s}", "meeting", (json_int_t)m.id, "title",
                          json_object_get(mj, "title"), "place", m.place, "starts_on", m.starts_on, "ends_on",
                          m.ends_on);
    rc = p ? gv_engine_record_in_tx(e, f->id, "meeting", "meeting.created", 0, NULL, p, now, &eid, &err)
           : gv_error_set(&err, GV_ENOMEM, NULL, NULL);
    json_decref(p);
  }
  if (rc == GV_OK) rc = gv_store_commit(s, &err);
  else if (m.title) gv_store_rollback(s);
  if (rc == GV_OK) gv_engine_notify(e, eid, eid);
  *id = m.id;
  gv_meeting_clear(&m);
  return rc == GV_OK ? 0 : gv_cli_fail(&err);
}

int gv_cli_demo_content(const char *db) {
  gv_cli_env env;
  if (gv_cli_engine_open(NULL, db, 1, &env)) return 1;
  gv_engine *e = env.engine;
  const gv_forum *f = gv_engine_forum(e, NULL);
  char path[600];
  snprintf(path, sizeof path, "%s/demo/%s.json", gv_cli_workflows_dir(), f->id);
  json_error_t jerr;
  json_t *demo = json_load_file(path, 0, &jerr);
  if (demo == NULL) {
    gv_cli_env_close(&env);
    printf("demo content: none for forum %s (%s)\n", f->id, jerr.text);
    return 0;
  }
  int64_t now = gv_engine_now(e), meeting = 0;
  json_t *ids = json_object();
  int bad = add_meeting(e, f, json_object_get(demo, "meeting"), now, &meeting);
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(demo, "steps"), i, st) {
    if (bad) break;
    bad = step(e, st, meeting, ids, now, f->time_zone);
  }
  if (!bad) printf("demo content: a meeting and %zu steps from %s\n", json_array_size(json_object_get(demo, "steps")), path);
  json_decref(ids);
  json_decref(demo);
  gv_cli_env_close(&env);
  return bad;
}
