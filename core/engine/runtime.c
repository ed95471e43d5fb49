/* The Lua side of running an action: the item object, the caller, and the runtime globals workflows call. */
#include "engine/internal.h"
#include "base/time.h"
#include "lua/bridge.h"
#include "lua/sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char KEY_CTX = 'c';
static const char KEY_ITEM_MT = 'i';

static gv_actx *current(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_CTX);
  gv_actx *c = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return c;
}

static gv_actx *need(lua_State *L) {
  gv_actx *c = current(L);
  if (c == NULL) luaL_error(L, "this is only available while an action runs, not when the file is loaded");
  return c;
}

/* ---- Runtime globals ----------------------------------------------------------------------- */

static int l_now(lua_State *L) {
  gv_actx *c = need(L);
  char ts[GV_TIME_BUFSZ];
  lua_pushstring(L, gv_time_format(c->now, ts));
  return 1;
}

static int64_t check_time(lua_State *L, int idx) {
  int64_t ms;
  const char *s = luaL_checkstring(L, idx);
  if (gv_time_parse(s, &ms) != GV_OK) luaL_error(L, "'%s' is not an RFC 3339 time", s);
  return ms;
}

static int64_t check_duration(lua_State *L, int idx) {
  if (lua_isinteger(L, idx)) return lua_tointeger(L, idx);
  int64_t ms;
  const char *s = luaL_checkstring(L, idx);
  if (gv_duration_parse(s, &ms) != GV_OK) luaL_error(L, "'%s' is not a duration such as \"72h\"", s);
  return ms;
}

static int l_duration(lua_State *L) {
  lua_pushinteger(L, check_duration(L, 1));
  return 1;
}

static int l_dates_add(lua_State *L) {
  int64_t t = check_time(L, 1) + check_duration(L, 2);
  char ts[GV_TIME_BUFSZ];
  lua_pushstring(L, gv_time_format(t, ts));
  return 1;
}

/* dates.sub(t, "14d"): the time that long before t. */
static int l_dates_sub(lua_State *L) {
  int64_t t = check_time(L, 1) - check_duration(L, 2);
  char ts[GV_TIME_BUFSZ];
  lua_pushstring(L, gv_time_format(t, ts));
  return 1;
}

static int l_dates_diff(lua_State *L) {
  lua_pushinteger(L, check_time(L, 1) - check_time(L, 2));
  return 1;
}

static int l_dates_parse(lua_State *L) {
  int64_t ms;
  if (lua_type(L, 1) != LUA_TSTRING || gv_time_parse(lua_tostring(L, 1), &ms) != GV_OK) {
    lua_pushnil(L);
    return 1;
  }
  char ts[GV_TIME_BUFSZ];
  lua_pushstring(L, gv_time_format(ms, ts));
  return 1;
}

/* dates.day(t): the calendar date of t in the forum's time zone. */
static int l_dates_day(lua_State *L) {
  gv_actx *c = need(L);
  char buf[32];
  lua_pushstring(L, gv_time_strftime(check_time(L, 1), c->f->time_zone, "%Y-%m-%d", buf, sizeof buf));
  return 1;
}

static void push_meeting(lua_State *L, gv_actx *c, int64_t id) {
  gv_meeting m = {0};
  if (gv_store_meeting_get(c->e->store, id, &m, NULL) != GV_OK) {
    lua_pushnil(L);
    return;
  }
  if (strcmp(m.forum_id, c->f->id) != 0) {
    gv_meeting_clear(&m);
    lua_pushnil(L);
    return;
  }
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, m.id);
  lua_setfield(L, -2, "id");
  json_t *t = json_loads(m.title, JSON_DECODE_ANY, NULL);
  gv_lhost_push_json(L, t);
  json_decref(t);
  lua_setfield(L, -2, "title");
  lua_pushstring(L, m.place);
  lua_setfield(L, -2, "place");
  lua_pushstring(L, m.starts_on);
  lua_setfield(L, -2, "starts_on");
  lua_pushstring(L, m.ends_on);
  lua_setfield(L, -2, "ends_on");
  int64_t start;
  char ts[GV_TIME_BUFSZ];
  if (gv_date_parse(m.starts_on, c->f->time_zone, &start) == GV_OK) {
    lua_pushstring(L, gv_time_format(start, ts));
    lua_setfield(L, -2, "starts_at");
  }
  lua_pushboolean(L, m.agenda_adopted_at != 0);
  lua_setfield(L, -2, "agenda_adopted");
  gv_meeting_clear(&m);
}

static int l_meeting(lua_State *L) {
  gv_actx *c = need(L);
  push_meeting(L, c, luaL_checkinteger(L, 1));
  return 1;
}

/* gavel.item(id): a read-only snapshot of another item of the forum, or nil. */
static int l_item(lua_State *L) {
  gv_actx *c = need(L);
  gv_item_row r;
  if (gv_store_item_get(c->e->store, luaL_checkinteger(L, 1), &r, NULL) != GV_OK) {
    lua_pushnil(L);
    return 1;
  }
  if (strcmp(r.forum_id, c->f->id) != 0) {
    gv_item_row_clear(&r);
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, r.id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, r.workflow);
  lua_setfield(L, -2, "workflow");
  lua_pushstring(L, r.state);
  lua_setfield(L, -2, "state");
  json_t *t = json_loads(r.title, JSON_DECODE_ANY, NULL);
  gv_lhost_push_json(L, t);
  json_decref(t);
  lua_setfield(L, -2, "title");
  /* Positions are never exposed across items: only the item's own data. */
  json_t *d = json_loads(r.data, 0, NULL);
  gv_lhost_push_json(L, d);
  json_decref(d);
  lua_setfield(L, -2, "data");
  gv_item_row_clear(&r);
  return 1;
}

/* gavel.call("plugin.function", ...): a function a plugin offers workflows (see
 * gv_engine_hooks.call), with JSON-like arguments and result. */
static int l_call(lua_State *L) {
  gv_actx *c = need(L);
  const char *name = luaL_checkstring(L, 1);
  int top = lua_gettop(L);
  json_t *args = json_array();
  gv_error err;
  gv_error_clear(&err);
  for (int i = 2; i <= top; i++) {
    json_t *v = lua_isnil(L, i) ? json_null() : gv_lhost_to_json(L, i, &err);
    if (v == NULL) {
      json_decref(args);
      return luaL_error(L, "gavel.call(\"%s\"): argument %d: %s", name, i - 1, err.message);
    }
    json_array_append_new(args, v);
  }
  char *aj = json_dumps(args, JSON_COMPACT), *out = NULL;
  json_decref(args);
  int rc = c->e->hooks.call ? c->e->hooks.call(c->e->hooks.call_ud, name, aj, &out, &err)
                            : gv_error_set(&err, GV_ENOTFOUND, NULL, "no plugins run here, so nothing offers %s", name);
  free(aj);
  json_t *res = rc == GV_OK ? json_loads(out ? out : "null", JSON_DECODE_ANY, NULL) : NULL;
  free(out);
  /* luaL_error copies the message before it unwinds: err may live on this stack. */
  if (rc != GV_OK) return luaL_error(L, "gavel.call(\"%s\"): %s", name, err.message);
  gv_lhost_push_json(L, res);
  json_decref(res);
  return 1;
}

void gv_engine_install_runtime(lua_State *L, int env, void *ud) {
  (void)ud;
  env = lua_absindex(L, env);
  lua_pushcfunction(L, l_now);
  lua_setfield(L, env, "now");
  lua_pushcfunction(L, l_duration);
  lua_setfield(L, env, "duration");
  static const luaL_Reg dates[] = {{"add", l_dates_add}, {"sub", l_dates_sub}, {"diff", l_dates_diff}, {"parse", l_dates_parse},
                                   {"day", l_dates_day}, {NULL, NULL}};
  luaL_newlib(L, dates);
  lua_setfield(L, env, "dates");
  static const luaL_Reg gavel[] = {{"meeting", l_meeting}, {"item", l_item}, {"call", l_call}, {NULL, NULL}};
  luaL_newlib(L, gavel);
  lua_setfield(L, env, "gavel");
}

/* ---- The item object ------------------------------------------------------------------------ */

static int push_data(lua_State *L, gv_actx *c) {
  if (c->data_ref == LUA_NOREF) {
    json_t *d = c->data ? json_incref(c->data) : json_loads(c->item->data ? c->item->data : "{}", 0, NULL);
    /* Stored data that cannot be read (memory ran out) must fail the action: an empty
     * table in its place would be written back and lose everything the item held. */
    if (d == NULL) return luaL_error(L, "not enough memory to read the item's data");
    gv_lhost_push_json(L, d);
    json_decref(d);
    c->data_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->data_ref);
  return 1;
}

/* item:get(key): a copy of one field of item.data, without materializing the whole table
 * (cheaper when an effect only reads a setting). */
static int m_get(lua_State *L) {
  gv_actx *c = need(L);
  const char *k = luaL_checkstring(L, 2);
  if (c->data_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->data_ref);
    lua_getfield(L, -1, k);
    return 1;
  }
  if (c->data == NULL) c->data = json_loads(c->item->data ? c->item->data : "{}", 0, NULL);
  if (c->data == NULL) return luaL_error(L, "not enough memory to read the item's data");
  const json_t *v = json_object_get(c->data, k);
  if (v) gv_lhost_push_json(L, v);
  else lua_pushnil(L);
  return 1;
}

static int m_go(lua_State *L) {
  gv_actx *c = need(L);
  const char *st = luaL_checkstring(L, 2);
  if (c->in_hook) return luaL_error(L, "item:go() cannot be used in on_enter hooks or timer functions");
  if (gv_workflow_state(c->w, st) == NULL) return luaL_error(L, "item:go(\"%s\"): the workflow has no such state", st);
  if (c->a && !gv_action_to(c->a, st))
    return luaL_error(L, "item:go(\"%s\"): action '%s' may only lead to the states listed in its to", st, c->a->name);
  snprintf(c->go, sizeof c->go, "%s", st);
  return 0;
}

static int is_delegate_of(const gv_caller *who, const char *member) {
  return who->role == GV_ROLE_DELEGATE && strcmp(who->member, member) == 0;
}

/* item:set_position(member, stance, statement [, {reference = ...}]) */
static int m_set_position(lua_State *L) {
  gv_actx *c = need(L);
  const char *member = luaL_checkstring(L, 2);
  const char *stance = luaL_checkstring(L, 3);
  const char *statement = luaL_optstring(L, 4, "");
  if (!c->w->has_positions) return luaL_error(L, "set_position: declare positions = true in the workflow");
  if (gv_forum_member(c->f, member) == NULL) return luaL_error(L, "set_position: '%s' is not a member", member);
  /* Defence in depth: a delegate can only ever set their own state's position. */
  if (c->caller->role == GV_ROLE_DELEGATE && !is_delegate_of(c->caller, member))
    return gv_sandbox_raise(L, GV_EFORBIDDEN, "member", "a delegate may act only for their own state");
  const char *reference = NULL;
  if (lua_type(L, 5) == LUA_TTABLE) {
    lua_getfield(L, 5, "reference");
    reference = lua_tostring(L, -1); /* stays on the stack (alive) until we return */
  }
  json_t *p = json_pack("{s:s, s:s, s:s, s:b}", "member", member, "stance", stance, "statement", statement,
                        "on_behalf", !is_delegate_of(c->caller, member));
  if (p && reference && json_object_set_new(p, "reference", json_string(reference)) != 0) {
    json_decref(p);
    p = NULL;
  }
  if (p && c->positions == NULL) c->positions = json_array();
  /* A position that could not be noted must fail the action, never vanish from it. */
  if (p == NULL || c->positions == NULL || json_array_append_new(c->positions, p) != 0) {
    if (c->positions == NULL) json_decref(p);
    return luaL_error(L, "not enough memory");
  }
  return 0;
}

/* The item's current positions (stored, then those set by this action). */
static json_t *positions_now(lua_State *L, gv_actx *c) {
  json_t *cur = NULL;
  gv_error err;
  gv_error_clear(&err);
  /* A store that cannot answer is an error: reading it as "no positions yet" would let
   * the workflow decide on the wrong count. */
  if (gv_store_positions(c->e->store, c->item->id, 0, &cur, &err) != GV_OK || cur == NULL) {
    json_decref(cur);
    luaL_error(L, "positions: %s", err.message);
  }
  size_t i;
  json_t *p;
  json_array_foreach(c->positions, i, p) {
    json_t *o = json_pack("{s:O, s:O, s:O, s:I}", "stance", json_object_get(p, "stance"), "statement",
                          json_object_get(p, "statement"), "on_behalf", json_object_get(p, "on_behalf"),
                          "at", (json_int_t)c->now);
    if (o == NULL || json_object_set_new(cur, json_string_value(json_object_get(p, "member")), o) != 0) {
      json_decref(cur);
      luaL_error(L, "not enough memory");
    }
  }
  return cur;
}

static int push_json_protected(lua_State *L) {
  gv_lhost_push_json(L, lua_touserdata(L, 1));
  return 1;
}

static int m_positions(lua_State *L) {
  gv_actx *c = need(L);
  json_t *cur = positions_now(L, c);
  /* Pushed in a protected call: a memory error there must not leak cur. */
  lua_pushcfunction(L, push_json_protected);
  lua_pushlightuserdata(L, cur);
  int rc = lua_pcall(L, 1, 1, 0);
  json_decref(cur);
  if (rc != LUA_OK) return lua_error(L);
  return 1;
}

/* Fills a list of the members whose answer is (or is not) in the positions at index 1. */
static int fill_members(lua_State *L) {
  const json_t *cur = lua_touserdata(L, 1);
  int answered = lua_toboolean(L, 2);
  const gv_actx *c = lua_touserdata(L, 3);
  lua_newtable(L);
  lua_Integer n = 0;
  for (size_t i = 0; i < c->f->nmembers; i++) {
    int has = json_object_get(cur, c->f->members[i].code) != NULL;
    if (has == answered) {
      lua_pushstring(L, c->f->members[i].code);
      lua_rawseti(L, -2, ++n);
    }
  }
  return 1;
}

static int members_by_answer(lua_State *L, int answered) {
  gv_actx *c = need(L);
  json_t *cur = positions_now(L, c);
  /* Built in a protected call: a memory error while building it must not leak cur. */
  lua_pushcfunction(L, fill_members);
  lua_pushlightuserdata(L, cur);
  lua_pushboolean(L, answered);
  lua_pushlightuserdata(L, c);
  int rc = lua_pcall(L, 3, 1, 0);
  json_decref(cur);
  if (rc != LUA_OK) return lua_error(L);
  return 1;
}

static int m_pending(lua_State *L) { return members_by_answer(L, 0); }
static int m_answered(lua_State *L) { return members_by_answer(L, 1); }

/* item:notify(topic, audience, data): audience is "all", "secretariat", "chair",
 * "members", "proposer", a member code, or a list of these. */
static int m_notify(lua_State *L) {
  gv_actx *c = need(L);
  const char *topic = luaL_checkstring(L, 2);
  gv_error e;
  json_t *aud = lua_isnoneornil(L, 3) ? json_string("all") : gv_lhost_to_json(L, 3, &e);
  if (aud == NULL) return luaL_error(L, "notify: audience: %s", e.message);
  json_t *data = lua_isnoneornil(L, 4) ? json_object() : gv_lhost_to_json(L, 4, &e);
  if (data == NULL) {
    json_decref(aud);
    return luaL_error(L, "notify: data: %s", e.message);
  }
  json_t *notice = json_pack("{s:s, s:o, s:o}", "topic", topic, "audience", aud, "data", data);
  if (notice && c->notices == NULL) c->notices = json_array();
  if (notice == NULL || c->notices == NULL || json_array_append_new(c->notices, notice) != 0) {
    if (c->notices == NULL) json_decref(notice);
    return luaL_error(L, "not enough memory");
  }
  return 0;
}

/* item:next_number(name): the next gapless number of name for the forum and the year (in
 * the forum's time zone), e.g. "MiDIOCC/2026/3". */
static int m_next_number(lua_State *L) {
  gv_actx *c = need(L);
  const char *name = luaL_checkstring(L, 2);
  int year = gv_time_year(c->now, c->f->time_zone);
  int64_t n;
  gv_error e;
  if (gv_store_counter_next(c->e->store, c->f->id, name, year, &n, &e) != GV_OK)
    return luaL_error(L, "numbering failed: %s", e.message);
  lua_pushfstring(L, "%s/%d/%d", c->f->short_name, year, (int)n);
  return 1;
}

static int m_seal(lua_State *L) {
  gv_actx *c = need(L);
  if (!c->item->sealed) c->meta_changed = 1;
  c->item->sealed = 1;
  return 0;
}

static int m_unseal(lua_State *L) {
  gv_actx *c = need(L);
  if (c->item->sealed) c->meta_changed = 1;
  c->item->sealed = 0;
  return 0;
}

static int m_set_meeting(lua_State *L) {
  gv_actx *c = need(L);
  if (lua_isnil(L, 2)) {
    c->item->meeting_id = 0;
    c->meta_changed = 1;
    return 0;
  }
  lua_Integer id = luaL_checkinteger(L, 2);
  gv_meeting m = {0};
  if (gv_store_meeting_get(c->e->store, id, &m, NULL) != GV_OK) return luaL_error(L, "no meeting %d", (int)id);
  int same = strcmp(m.forum_id, c->f->id) == 0;
  gv_meeting_clear(&m);
  if (!same) return luaL_error(L, "no meeting %d", (int)id);
  c->item->meeting_id = id;
  c->meta_changed = 1;
  return 0;
}

static int m_meeting(lua_State *L) {
  gv_actx *c = need(L);
  if (c->item->meeting_id == 0) {
    lua_pushnil(L);
    return 1;
  }
  push_meeting(L, c, c->item->meeting_id);
  return 1;
}

static int item_index(lua_State *L) {
  gv_actx *c = current(L);
  if (c == NULL) return luaL_error(L, "the item can only be used while its action runs");
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "data") == 0) return push_data(L, c);
  if (strcmp(k, "id") == 0) lua_pushinteger(L, c->item->id);
  else if (strcmp(k, "state") == 0) lua_pushstring(L, c->item->state);
  else if (strcmp(k, "workflow") == 0) lua_pushstring(L, c->item->workflow);
  else if (strcmp(k, "member") == 0) {
    if (c->item->member[0]) lua_pushstring(L, c->item->member); else lua_pushnil(L);
  } else if (strcmp(k, "sealed") == 0) lua_pushboolean(L, c->item->sealed);
  else if (strcmp(k, "meeting_id") == 0) {
    if (c->item->meeting_id) lua_pushinteger(L, c->item->meeting_id); else lua_pushnil(L);
  } else if (strcmp(k, "title") == 0) {
    json_t *t = json_loads(c->item->title ? c->item->title : "\"\"", JSON_DECODE_ANY, NULL);
    gv_lhost_push_json(L, t);
    json_decref(t);
  } else {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, k);
    if (lua_isnil(L, -1)) return luaL_error(L, "items have no field or method '%s'", k);
  }
  return 1;
}

static int item_newindex(lua_State *L) {
  return luaL_error(L, "item fields cannot be assigned; keep values in item.data (e.g. item.data.%s = ...)",
                    lua_tostring(L, 2) ? lua_tostring(L, 2) : "x");
}

static void push_item(lua_State *L) {
  lua_newtable(L);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_ITEM_MT) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, item_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, item_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "item");
    lua_setfield(L, -2, "__metatable");
    static const luaL_Reg methods[] = {
        {"go", m_go}, {"get", m_get}, {"set_position", m_set_position}, {"positions", m_positions},
        {"pending_members", m_pending}, {"answered_members", m_answered}, {"notify", m_notify},
        {"next_number", m_next_number}, {"seal", m_seal}, {"unseal", m_unseal},
        {"set_meeting", m_set_meeting}, {"meeting", m_meeting}, {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "methods");
    gv_sandbox_mark_system(L, -1);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_ITEM_MT);
  }
  lua_setmetatable(L, -2);
}

static void push_caller(lua_State *L, const gv_caller *who, const gv_forum *f) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, who->username);
  lua_setfield(L, -2, "username");
  lua_pushstring(L, gv_role_name(who->role));
  lua_setfield(L, -2, "role");
  if (who->member[0]) {
    lua_pushstring(L, who->member);
    lua_setfield(L, -2, "member");
  }
  lua_pushinteger(L, who->user_id);
  lua_setfield(L, -2, "user_id");
  lua_pushboolean(L, who->role == GV_ROLE_ENGINE);
  lua_setfield(L, -2, "is_engine");
}

void gv_actx_begin(gv_actx *c) {
  lua_State *L = gv_sandbox_lua(c->w->lua);
  c->data_ref = LUA_NOREF;
  lua_pushlightuserdata(L, c);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_CTX);
}

int gv_actx_call(gv_actx *c, int ref, const json_t *params, gv_error *err, char **traceback) {
  gv_sandbox *sb = c->w->lua;
  lua_State *L = gv_sandbox_lua(sb);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  push_item(L);
  if (params) gv_lhost_push_json(L, params);
  else lua_newtable(L);
  push_caller(L, c->caller, c->f);
  return gv_sandbox_call(sb, 3, 0, err, traceback);
}

int gv_actx_timer_at(gv_actx *c, int ref, int64_t *due, int *has, gv_error *err) {
  gv_sandbox *sb = c->w->lua;
  lua_State *L = gv_sandbox_lua(sb);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  push_item(L);
  int rc = gv_sandbox_call(sb, 1, 1, err, NULL);
  if (rc != GV_OK) return rc;
  *has = 0;
  if (lua_type(L, -1) == LUA_TSTRING) {
    if (gv_time_parse(lua_tostring(L, -1), due) != GV_OK) rc = gv_error_set(err, GV_ESCRIPT, NULL, "a timer's at function returned '%s', not an RFC 3339 time", lua_tostring(L, -1));
    else *has = 1;
  } else if (!lua_isnil(L, -1)) {
    rc = gv_error_set(err, GV_ESCRIPT, NULL, "a timer's at function must return a time or nil");
  }
  lua_pop(L, 1);
  return rc;
}

int gv_actx_sync_data(gv_actx *c, int *changed, gv_error *err) {
  *changed = 0;
  if (c->data_ref == LUA_NOREF) return GV_OK;
  lua_State *L = gv_sandbox_lua(c->w->lua);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->data_ref);
  json_t *j = lua_type(L, -1) == LUA_TTABLE ? gv_lhost_to_json(L, -1, err) : NULL;
  lua_pop(L, 1);
  if (j == NULL) {
    if (err && err->code == GV_OK) gv_error_set(err, GV_ESCRIPT, NULL, "item.data must stay a table");
    if (err) {
      char m[sizeof err->message];
      snprintf(m, sizeof m, "%s", err->message);
      gv_error_set(err, GV_ESCRIPT, NULL, "item.data: %.480s", m);
    }
    return GV_ESCRIPT;
  }
  if (json_is_array(j) && json_array_size(j) == 0) {
    json_decref(j);
    j = json_object();
  }
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  if (s == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  if (c->item->data == NULL || strcmp(s, c->item->data) != 0) {
    free(c->item->data);
    c->item->data = s;
    *changed = 1;
  } else {
    free(s);
  }
  return GV_OK;
}

void gv_actx_end(gv_actx *c) {
  lua_State *L = gv_sandbox_lua(c->w->lua);
  if (c->data_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, c->data_ref);
  c->data_ref = LUA_NOREF;
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_CTX);
  gv_sandbox_restore(c->w->lua);
  json_decref(c->positions);
  json_decref(c->notices);
  json_decref(c->data);
  c->positions = c->notices = c->data = NULL;
}
