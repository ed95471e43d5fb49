/* The scenario runner: drives the real engine from Lua test scripts with a virtual clock. */
#include "cli/scenario.h"
#include "base/alloc.h"
#include "cli/cli.h"
#include "engine/accounts.h"
#include "engine/engine.h"
#include "base/time.h"
#include "lua/bridge.h"
#include "views/record.h"
#include "lua/sandbox.h"
#include "views/views.h"

#include <dirent.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_START "2026-03-02T05:00:00Z" /* 09:00 in Port Louis, a Monday */

typedef struct runner {
  const gv_scenario_opts *o;
  char dir[256];        /* this scenario's temporary directory */
  char db[300];
  char wfdir[300];
  gv_engine *e;
  gv_forum *forum;
  int64_t now;          /* the virtual clock, kept across restarts */
} runner;

static const char SCENARIOS = 'S';

static runner *R(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static int copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
  if (!a || !b) {
    if (a) fclose(a);
    return -1;
  }
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
  fclose(a);
  fclose(b);
  return 0;
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char p[600];
      snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_rf(p);
      else unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

static int open_engine(runner *r, gv_error *err) {
  gv_engine_options eo = {0};
  eo.db_path = r->db;
  eo.clock = GV_CLOCK_VIRTUAL;
  eo.virtual_start = r->now;
  /* No plugins: scenarios test workflows; their outbox is read directly. */
  /* Scenarios also run under sanitizers, many times slower: the wall-time guard is
   * relaxed so that the instruction and memory caps are what a test meets. */
  gv_sandbox_limits_default(&eo.limits);
  eo.limits.milliseconds = 20000;
  if (gv_engine_open(&eo, &r->e, err) != GV_OK) return -1;
  gv_error errs[8];
  size_t n = 0;
  if (gv_engine_register_dir(r->e, r->wfdir, errs, 8, &n) != GV_OK) {
    *err = errs[0];
    return -1;
  }
  gv_engine_run_due(r->e, NULL);
  return 0;
}

/* Copies the *.lua files of directory from into to (which is created). */
static void copy_lua_files(const char *from, const char *to) {
  mkdir(to, 0700);
  DIR *d = opendir(from);
  if (d == NULL) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n < 5 || strcmp(de->d_name + n - 4, ".lua") != 0) continue;
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/%s", from, de->d_name);
    snprintf(b, sizeof b, "%s/%s", to, de->d_name);
    copy_file(a, b);
  }
  closedir(d);
}

/* A fresh database with the forum, its demo users and the workflows (with their modules). */
static int setup(runner *r, gv_error *err) {
  snprintf(r->dir, sizeof r->dir, "/tmp/gavel-scenario-XXXXXX");
  if (mkdtemp(r->dir) == NULL) return gv_error_set(err, GV_EIO, NULL, "cannot create a temporary directory");
  snprintf(r->db, sizeof r->db, "%s/scenario.db", r->dir);
  snprintf(r->wfdir, sizeof r->wfdir, "%s/workflows", r->dir);
  DIR *d = opendir(r->o->workflows_dir);
  if (d == NULL) return gv_error_set(err, GV_ENOTFOUND, NULL, "cannot read %s", r->o->workflows_dir);
  closedir(d);
  copy_lua_files(r->o->workflows_dir, r->wfdir);
  char lib_from[600], lib_to[600];
  snprintf(lib_from, sizeof lib_from, "%s/lib", r->o->workflows_dir);
  snprintf(lib_to, sizeof lib_to, "%s/lib", r->wfdir);
  copy_lua_files(lib_from, lib_to);
  gv_store *s;
  if (gv_store_open(r->db, GV_STORE_CREATE, &s, err) != GV_OK) return -1;
  int rc = gv_store_begin(s, err);
  if (rc == GV_OK) rc = gv_store_forum_save(s, r->forum, r->now, err);
  gv_demo_user *du = gv_cli_need(gv_calloc(3 + r->forum->nmembers, sizeof *du));
  size_t nu = gv_demo_users(r->forum, du);
  for (size_t i = 0; rc == GV_OK && i < nu; i++) {
    gv_user u = {0};
    snprintf(u.username, sizeof u.username, "%s", du[i].username);
    snprintf(u.role, sizeof u.role, "%s", du[i].role);
    snprintf(u.member, sizeof u.member, "%s", du[i].member);
    snprintf(u.display_name, sizeof u.display_name, "%s", du[i].display_name);
    snprintf(u.language, sizeof u.language, "%s", du[i].language);
    snprintf(u.password_hash, sizeof u.password_hash, "!"); /* scenarios never sign in */
    rc = gv_account_create(s, r->forum, 0, &u, r->now, NULL, err);
  }
  free(du);
  if (rc == GV_OK) rc = gv_store_commit(s, err);
  else gv_store_rollback(s);
  gv_store_close(s);
  if (rc != GV_OK) return -1;
  return open_engine(r, err);
}

static void teardown(runner *r) {
  if (r->e) r->now = gv_engine_now(r->e);
  gv_engine_close(r->e);
  r->e = NULL;
  if (r->dir[0]) rm_rf(r->dir);
  r->dir[0] = '\0';
}

/* ---- helpers for t methods ------------------------------------------------------------- */

static void caller_of(lua_State *L, runner *r, const char *username, gv_caller *c) {
  gv_user u;
  if (strcmp(username, "engine") == 0) {
    memset(c, 0, sizeof *c);
    snprintf(c->username, sizeof c->username, "engine");
    c->role = GV_ROLE_ENGINE;
    return;
  }
  if (gv_store_user_find(gv_engine_store(r->e), username, &u, NULL) != GV_OK)
    luaL_error(L, "no user '%s' (demo users: secretariat, chair, observer, km.delegate, ...)", username);
  gv_caller_from_user(c, &u);
}

static json_t *opt_json(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return NULL;
  gv_error err;
  json_t *j = gv_lhost_to_json(L, idx, &err);
  if (j == NULL) luaL_error(L, "params: %s", err.message);
  if (json_is_array(j) && json_array_size(j) == 0) {
    json_decref(j);
    j = json_object();
  }
  return j;
}

static void push_receipt(lua_State *L, const gv_action_res *res) {
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, res->event_id);
  lua_setfield(L, -2, "event_id");
  char ts[GV_TIME_BUFSZ];
  lua_pushstring(L, gv_time_format(res->committed_at, ts));
  lua_setfield(L, -2, "committed_at");
  lua_pushstring(L, res->state);
  lua_setfield(L, -2, "state");
  lua_pushinteger(L, res->item_id);
  lua_setfield(L, -2, "item_id");
}

/* Runs one request; returns the result (error in res->err). */
static void apply(lua_State *L, runner *r, gv_action_req *q, gv_action_res *res) {
  if (gv_engine_apply(r->e, q, res, 1) != GV_OK && res->err.code == GV_OK)
    luaL_error(L, "the transaction did not commit");
}

/* t:create(user, workflow, title, params) -> item id */
static int t_create(lua_State *L) {
  runner *r = R(L);
  gv_caller c;
  caller_of(L, r, luaL_checkstring(L, 2), &c);
  const char *wf = luaL_checkstring(L, 3);
  json_t *title = opt_json(L, 4), *params = opt_json(L, 5);
  gv_action_req q = {&c, 0, NULL, wf, title, NULL, params, NULL, NULL};
  gv_action_res res;
  apply(L, r, &q, &res);
  json_decref(title);
  json_decref(params);
  if (res.err.code != GV_OK)
    return luaL_error(L, "creating a %s as %s failed: %s: %s", wf, c.username, gv_err_name(res.err.code), res.err.message);
  lua_pushinteger(L, res.item_id);
  push_receipt(L, &res);
  return 2;
}

static int expect_failure(lua_State *L, const gv_action_res *res, const char *code, const char *what) {
  if (res->err.code == GV_OK)
    return luaL_error(L, "%s succeeded, but was expected to fail with %s", what, code);
  char msg[800];
  gv_error_format(&res->err, msg, sizeof msg);
  if (strcmp(gv_err_name(res->err.code), code) != 0)
    return luaL_error(L, "%s failed with %s (%s), not %s", what, gv_err_name(res->err.code), msg, code);
  lua_pushstring(L, msg);
  lua_pushstring(L, res->err.field);
  return 2;
}

/* t:create_fails(user, workflow, title, params, code) -> message, field */
static int t_create_fails(lua_State *L) {
  runner *r = R(L);
  gv_caller c;
  caller_of(L, r, luaL_checkstring(L, 2), &c);
  const char *wf = luaL_checkstring(L, 3);
  json_t *title = opt_json(L, 4), *params = opt_json(L, 5);
  const char *code = luaL_checkstring(L, 6);
  gv_action_req q = {&c, 0, NULL, wf, title, NULL, params, NULL, NULL};
  gv_action_res res;
  apply(L, r, &q, &res);
  json_decref(title);
  json_decref(params);
  char what[160];
  snprintf(what, sizeof what, "creating a %s as %s", wf, c.username);
  return expect_failure(L, &res, code, what);
}

/* t:act(user, item, action, params) -> receipt */
static int t_act(lua_State *L) {
  runner *r = R(L);
  gv_caller c;
  caller_of(L, r, luaL_checkstring(L, 2), &c);
  lua_Integer id = luaL_checkinteger(L, 3);
  const char *action = luaL_checkstring(L, 4);
  json_t *params = opt_json(L, 5);
  gv_action_req q = {&c, id, NULL, NULL, NULL, action, params, NULL, NULL};
  gv_action_res res;
  apply(L, r, &q, &res);
  json_decref(params);
  if (res.err.code != GV_OK)
    return luaL_error(L, "%s by %s on item %d failed: %s: %s", action, c.username, (int)id, gv_err_name(res.err.code),
                      res.err.message);
  push_receipt(L, &res);
  return 1;
}

/* t:fails(user, item, action, params, code) -> message, field */
static int t_fails(lua_State *L) {
  runner *r = R(L);
  gv_caller c;
  caller_of(L, r, luaL_checkstring(L, 2), &c);
  lua_Integer id = luaL_checkinteger(L, 3);
  const char *action = luaL_checkstring(L, 4);
  json_t *params = opt_json(L, 5);
  const char *code = luaL_checkstring(L, 6);
  /* Nothing may change: compare the item's events before and after. */
  json_t *before = NULL, *after = NULL;
  gv_store_events(gv_engine_store(r->e), r->forum->id, id, 0, 100000, &before, NULL);
  gv_action_req q = {&c, id, NULL, NULL, NULL, action, params, NULL, NULL};
  gv_action_res res;
  apply(L, r, &q, &res);
  json_decref(params);
  gv_store_events(gv_engine_store(r->e), r->forum->id, id, 0, 100000, &after, NULL);
  size_t nb = json_array_size(before), na = json_array_size(after);
  json_decref(before);
  json_decref(after);
  char what[160];
  snprintf(what, sizeof what, "%s by %s on item %d", action, c.username, (int)id);
  int n = expect_failure(L, &res, code, what);
  /* Timers due at the same moment may legitimately fire first; an action never records. */
  if (na > nb) {
    json_t *evs = NULL;
    gv_store_events(gv_engine_store(r->e), r->forum->id, id, 0, 100000, &evs, NULL);
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev) if (i >= nb && strcmp(json_string_value(json_object_get(ev, "kind")), "timer") != 0) {
      json_decref(evs);
      return luaL_error(L, "%s was refused but the record changed", what);
    }
    json_decref(evs);
  }
  return n;
}

static void push_view(lua_State *L, json_t *v, const gv_error *err) {
  if (v == NULL) luaL_error(L, "%s", err->message);
  gv_lhost_push_json(L, v);
  json_decref(v);
}

/* t:view(user, item) -> the item as user sees it */
static int t_view(lua_State *L) {
  runner *r = R(L);
  gv_caller c;
  caller_of(L, r, luaL_checkstring(L, 2), &c);
  gv_error err;
  push_view(L, gv_view_item(r->e, &c, luaL_checkinteger(L, 3), &err), &err);
  return 1;
}

/* t:item(item) -> the item as the engine sees it (everything) */
static int t_item(lua_State *L) {
  runner *r = R(L);
  gv_caller c;
  caller_of(L, r, "engine", &c);
  gv_error err;
  push_view(L, gv_view_item(r->e, &c, luaL_checkinteger(L, 2), &err), &err);
  return 1;
}

static int t_state(lua_State *L) {
  runner *r = R(L);
  gv_item_row it;
  gv_error err;
  if (gv_store_item_get(gv_engine_store(r->e), luaL_checkinteger(L, 2), &it, &err) != GV_OK)
    return luaL_error(L, "%s", err.message);
  const char *want = luaL_optstring(L, 3, NULL);
  lua_pushstring(L, it.state);
  int ok = want == NULL || strcmp(want, it.state) == 0;
  char got[64];
  snprintf(got, sizeof got, "%s", it.state);
  gv_item_row_clear(&it);
  if (!ok) return luaL_error(L, "item %d is %s, expected %s", (int)luaL_checkinteger(L, 2), got, want);
  return 1;
}

static int t_positions(lua_State *L) {
  runner *r = R(L);
  gv_caller c;
  caller_of(L, r, luaL_checkstring(L, 2), &c);
  gv_error err;
  push_view(L, gv_view_positions(r->e, &c, luaL_checkinteger(L, 3), lua_toboolean(L, 4), &err), &err);
  return 1;
}

static int t_events(lua_State *L) {
  runner *r = R(L);
  gv_caller c;
  caller_of(L, r, luaL_checkstring(L, 2), &c);
  gv_error err;
  push_view(L, gv_view_events(r->e, &c, luaL_checkinteger(L, 3), 0, 100000, &err), &err);
  return 1;
}

static int64_t check_dur(lua_State *L, int idx) {
  int64_t ms;
  if (gv_duration_parse(luaL_checkstring(L, idx), &ms) != GV_OK)
    luaL_error(L, "'%s' is not a duration such as \"72h\"", lua_tostring(L, idx));
  return ms;
}

/* t:advance("73h"): moves the virtual clock and fires what came due. */
static int t_advance(lua_State *L) {
  runner *r = R(L);
  gv_engine_clock_advance(r->e, check_dur(L, 2));
  int fired = 0;
  gv_engine_run_due(r->e, &fired);
  lua_pushinteger(L, fired);
  return 1;
}

/* t:restart{down = "10h"}: stops the engine, lets time pass, starts it again. */
static int t_restart(lua_State *L) {
  runner *r = R(L);
  int64_t down = 0;
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_getfield(L, 2, "down");
    if (!lua_isnil(L, -1)) down = check_dur(L, -1);
    lua_pop(L, 1);
  }
  r->now = gv_engine_now(r->e) + down;
  gv_engine_close(r->e);
  r->e = NULL;
  gv_error err;
  if (open_engine(r, &err) != 0) return luaL_error(L, "restart failed: %s", err.message);
  return 0;
}

static int t_now(lua_State *L) {
  runner *r = R(L);
  char ts[GV_TIME_BUFSZ];
  lua_pushstring(L, gv_time_format(gv_engine_now(r->e), ts));
  return 1;
}

/* t:at("72h") -> now + 72h as RFC 3339 (in the forum's zone, as a person would write it) */
static int t_at(lua_State *L) {
  runner *r = R(L);
  int64_t sign = 1;
  const char *s = luaL_checkstring(L, 2);
  if (*s == '-') {
    sign = -1;
    s++;
  }
  int64_t ms;
  if (gv_duration_parse(s, &ms) != GV_OK) return luaL_error(L, "'%s' is not a duration", s);
  char ts[GV_TIME_BUFSZ];
  lua_pushstring(L, gv_time_format_zone(gv_engine_now(r->e) + sign * ms, r->forum->time_zone, ts));
  return 1;
}

/* t:meeting{title =, title_fr =, place =, start = "YYYY-MM-DD" or "+20d", days = 2} -> id */
static int t_meeting(lua_State *L) {
  runner *r = R(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "title");
  lua_getfield(L, 2, "title_fr");
  lua_getfield(L, 2, "place");
  lua_getfield(L, 2, "start");
  lua_getfield(L, 2, "days");
  const char *title = luaL_optstring(L, -5, "Meeting");
  const char *title_fr = luaL_optstring(L, -4, NULL);
  const char *place = luaL_optstring(L, -3, "Port Louis");
  const char *start = luaL_optstring(L, -2, "+30d");
  int days = (int)luaL_optinteger(L, -1, 1);
  char sdate[11], edate[11];
  int64_t t0;
  if (start[0] == '+') {
    int64_t ms;
    if (gv_duration_parse(start + 1, &ms) != GV_OK) return luaL_error(L, "bad start '%s'", start);
    t0 = gv_engine_now(r->e) + ms;
  } else if (gv_date_parse(start, r->forum->time_zone, &t0) != GV_OK) {
    return luaL_error(L, "bad start '%s'", start);
  }
  gv_time_strftime(t0, r->forum->time_zone, "%Y-%m-%d", sdate, sizeof sdate);
  gv_time_strftime(t0 + (int64_t)(days - 1) * 86400000, r->forum->time_zone, "%Y-%m-%d", edate, sizeof edate);
  json_t *tj = title_fr ? json_pack("{s:s, s:s}", "en", title, "fr", title_fr) : json_string(title);
  char *ts = json_dumps(tj, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(tj);
  gv_meeting m = {0};
  snprintf(m.forum_id, sizeof m.forum_id, "%s", r->forum->id);
  m.title = ts;
  snprintf(m.place, sizeof m.place, "%s", place);
  snprintf(m.starts_on, sizeof m.starts_on, "%s", sdate);
  snprintf(m.ends_on, sizeof m.ends_on, "%s", edate);
  m.created_at = gv_engine_now(r->e);
  gv_store *s = gv_engine_store(r->e);
  gv_error err;
  int rc = gv_store_begin(s, &err);
  if (rc == GV_OK) rc = gv_store_meeting_insert(s, &m, 0, &err);
  if (rc == GV_OK) rc = gv_store_commit(s, &err);
  else gv_store_rollback(s);
  free(ts);
  if (rc != GV_OK) return luaL_error(L, "meeting: %s", err.message);
  lua_pushinteger(L, m.id);
  return 1;
}

static int t_outbox(lua_State *L) {
  runner *r = R(L);
  const char *topic = luaL_optstring(L, 2, NULL);
  json_t *rows = NULL;
  gv_error err;
  if (gv_store_outbox_list(gv_engine_store(r->e), 0, 100000, &rows, &err) != GV_OK) return luaL_error(L, "%s", err.message);
  json_t *out = json_array();
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) if (topic == NULL || strcmp(json_string_value(json_object_get(row, "topic")), topic) == 0)
    json_array_append(out, row);
  json_decref(rows);
  gv_lhost_push_json(L, out);
  json_decref(out);
  return 1;
}

static int t_incidents(lua_State *L) {
  runner *r = R(L);
  json_t *rows = NULL;
  gv_error err;
  if (gv_store_incident_list(gv_engine_store(r->e), 1000, &rows, &err) != GV_OK) return luaL_error(L, "%s", err.message);
  gv_lhost_push_json(L, rows);
  json_decref(rows);
  return 1;
}

/* t:record(meeting, "md"|"html"|"json") -> text */
static int t_record(lua_State *L) {
  runner *r = R(L);
  char *out = NULL;
  gv_error err;
  if (gv_record_render(r->e, r->forum->id, luaL_checkinteger(L, 2), luaL_optstring(L, 3, "md"), &out, &err) != GV_OK)
    return luaL_error(L, "record: %s", err.message);
  lua_pushstring(L, out);
  free(out);
  return 1;
}

/* A workflow file name, or lib/NAME for a module: nothing that leaves the directory. */
static int bad_name(const char *name) {
  const char *rest = strncmp(name, "lib/", 4) == 0 ? name + 4 : name;
  return *rest == '\0' || strchr(rest, '/') != NULL || rest[0] == '.';
}

/* t:write_workflow("file.lua" or "lib/module.lua", source): edits a workflow file or a
 * module and reloads (like a secretariat editing it and the server being restarted). */
static int t_write_workflow(lua_State *L) {
  runner *r = R(L);
  const char *name = luaL_checkstring(L, 2);
  size_t len;
  const char *src = luaL_checklstring(L, 3, &len);
  if (bad_name(name)) return luaL_error(L, "a file name (or lib/NAME.lua), not a path");
  char path[600];
  snprintf(path, sizeof path, "%s/%s", r->wfdir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL) return luaL_error(L, "cannot write %s", path);
  fwrite(src, 1, len, f);
  fclose(f);
  gv_error errs[8];
  size_t n = 0;
  if (gv_engine_register_dir(r->e, r->wfdir, errs, 8, &n) != GV_OK) {
    char buf[700];
    return luaL_error(L, "reload: %s", gv_error_format(&errs[0], buf, sizeof buf));
  }
  return 0;
}

static int t_remove_workflow(lua_State *L) {
  runner *r = R(L);
  const char *name = luaL_checkstring(L, 2);
  if (bad_name(name)) return luaL_error(L, "a file name (or lib/NAME.lua), not a path");
  char path[600];
  snprintf(path, sizeof path, "%s/%s", r->wfdir, name);
  if (unlink(path) != 0) return luaL_error(L, "no workflow file %s", name);
  return 0;
}

static int t_json(lua_State *L) {
  gv_error err;
  json_t *j = gv_lhost_to_json(L, 2, &err);
  if (j == NULL) return luaL_error(L, "json: %s", err.message);
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  json_decref(j);
  lua_pushstring(L, s);
  free(s);
  return 1;
}

static int deep_equal(lua_State *L, int a, int b, int depth) {
  if (depth > 50) return 0;
  if (lua_type(L, a) != LUA_TTABLE || lua_type(L, b) != LUA_TTABLE) return lua_compare(L, a, b, LUA_OPEQ);
  lua_pushnil(L);
  while (lua_next(L, a)) {
    lua_pushvalue(L, -2);
    lua_gettable(L, b);
    int eq = deep_equal(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
    lua_pop(L, 2);
    if (!eq) {
      lua_pop(L, 1);
      return 0;
    }
  }
  lua_pushnil(L);
  while (lua_next(L, b)) {
    lua_pushvalue(L, -2);
    int missing = lua_gettable(L, a) == LUA_TNIL;
    lua_pop(L, 2);
    if (missing) {
      lua_pop(L, 1);
      return 0;
    }
  }
  return 1;
}

static const char *show(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TTABLE) {
    gv_error err;
    json_t *j = gv_lhost_to_json(L, idx, &err);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    const char *r = lua_pushstring(L, s ? s : "(table)");
    free(s);
    return r;
  }
  return luaL_tolstring(L, idx, NULL);
}

/* t:eq(got, want [, what]) */
static int t_eq(lua_State *L) {
  lua_settop(L, 4);
  if (deep_equal(L, 2, 3, 0)) return 0;
  const char *what = lua_isnil(L, 4) ? "value" : lua_tostring(L, 4);
  const char *got = show(L, 2);
  const char *want = show(L, 3);
  return luaL_error(L, "%s: got %s, expected %s", what, got, want);
}

static int t_ok(lua_State *L) {
  if (lua_toboolean(L, 2)) return 0;
  return luaL_error(L, "%s", luaL_optstring(L, 3, "expected a true value"));
}

static int t_has(lua_State *L) {
  const char *s = luaL_checkstring(L, 2), *sub = luaL_checkstring(L, 3);
  if (strstr(s, sub)) return 0;
  return luaL_error(L, "%s: '%s' does not contain '%s'", luaL_optstring(L, 4, "text"), s, sub);
}

static int t_no(lua_State *L) {
  const char *s = luaL_checkstring(L, 2), *sub = luaL_checkstring(L, 3);
  if (!strstr(s, sub)) return 0;
  return luaL_error(L, "%s: must not contain '%s', but does: %s", luaL_optstring(L, 4, "text"), sub, s);
}

static int t_log(lua_State *L) {
  runner *r = R(L);
  if (r->o->verbose) {
    const char *s = show(L, 2);
    printf("     | %s\n", s);
  }
  return 0;
}

static void push_t(lua_State *L, runner *r) {
  static const luaL_Reg m[] = {
      {"create", t_create}, {"create_fails", t_create_fails}, {"act", t_act}, {"fails", t_fails},
      {"view", t_view}, {"item", t_item}, {"state", t_state}, {"positions", t_positions},
      {"events", t_events}, {"advance", t_advance}, {"restart", t_restart}, {"now", t_now},
      {"at", t_at}, {"meeting", t_meeting}, {"outbox", t_outbox}, {"incidents", t_incidents},
      {"record", t_record}, {"write_workflow", t_write_workflow}, {"remove_workflow", t_remove_workflow},
      {"json", t_json}, {"eq", t_eq}, {"ok", t_ok}, {"has", t_has}, {"no", t_no}, {"log", t_log},
      {NULL, NULL}};
  lua_newtable(L);
  lua_pushlightuserdata(L, r);
  luaL_setfuncs(L, m, 1);
}

/* scenario "name" (function(t) ... end)  or  scenario("name", function(t) ... end) */
static int scenario_body(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &SCENARIOS);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setfield(L, -2, "name");
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setfield(L, -2, "line");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "fn");
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

static int l_scenario(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, gv_lhost_caller_line(L));
  lua_pushcclosure(L, scenario_body, 2);
  if (lua_isfunction(L, 2)) {
    lua_pushvalue(L, 2);
    lua_call(L, 1, 0);
    return 0;
  }
  return 1;
}

int gv_scenario_run_file(const char *path, const gv_scenario_opts *o, int *passed, int *failed) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    printf("FAIL %s: cannot read the file\n", path);
    (*failed)++;
    return -1;
  }
  char *src = gv_cli_need(gv_malloc(GV_SANDBOX_MAX_SOURCE + 1));
  size_t len = fread(src, 1, GV_SANDBOX_MAX_SOURCE + 1, fp);
  fclose(fp);
  gv_sandbox_limits lim = {512u << 20, 2000000000};
  gv_sandbox *sb = gv_sandbox_new(&lim);
  lua_State *L = gv_sandbox_lua(sb);
  gv_error err;
  gv_error_clear(&err);
  runner r;
  memset(&r, 0, sizeof r);
  r.o = o;
  int rc = 0;
  if (gv_forum_load_file(o->forum_file, &r.forum, &err) != GV_OK) {
    char buf[700];
    printf("FAIL %s: forum: %s\n", path, gv_error_format(&err, buf, sizeof buf));
    (*failed)++;
    rc = -1;
    goto done;
  }
  if (gv_sandbox_load(sb, path, src, len, &err) != GV_OK) {
    char buf[700];
    printf("FAIL %s\n     %s\n", path, gv_error_format(&err, buf, sizeof buf));
    (*failed)++;
    rc = -1;
    goto done;
  }
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &SCENARIOS);
  lua_pushcfunction(L, l_scenario);
  lua_setfield(L, -2, "scenario");
  lua_pop(L, 1);
  if (gv_sandbox_call(sb, 0, 0, &err, NULL) != GV_OK) {
    char buf[700];
    printf("FAIL %s\n     %s\n", path, gv_error_format(&err, buf, sizeof buf));
    (*failed)++;
    rc = -1;
    goto done;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &SCENARIOS);
  int list = lua_gettop(L);
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, list); i++) {
    lua_rawgeti(L, list, i);
    lua_getfield(L, -1, "name");
    char name[256];
    snprintf(name, sizeof name, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (o->filter && !strstr(name, o->filter)) {
      lua_pop(L, 1);
      continue;
    }
    gv_time_parse(DEFAULT_START, &r.now);
    gv_error serr;
    gv_error_clear(&serr);
    if (setup(&r, &serr) != 0) {
      char buf[700];
      printf("FAIL %s: %s\n     setup: %s\n", base, name, gv_error_format(&serr, buf, sizeof buf));
      (*failed)++;
      teardown(&r);
      lua_pop(L, 1);
      continue;
    }
    lua_getfield(L, -1, "fn");
    push_t(L, &r);
    int ok = gv_sandbox_call(sb, 1, 0, &serr, NULL) == GV_OK;
    if (ok) {
      printf("ok   %s: %s\n", base, name);
      (*passed)++;
    } else {
      char buf[700];
      printf("FAIL %s: %s\n     %s\n", base, name, gv_error_format(&serr, buf, sizeof buf));
      (*failed)++;
    }
    fflush(stdout);
    teardown(&r);
    lua_pop(L, 1);
  }
done:
  gv_forum_free(r.forum);
  gv_sandbox_free(sb);
  free(src);
  return rc;
}
