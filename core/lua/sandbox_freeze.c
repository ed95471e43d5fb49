/* Read-only tables for the sandbox: freezing values, the shadows scripts see, and the
 * restore that undoes an action's changes to shared tables. Part of sandbox.c's sandbox. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/sandbox_internal.h"

/* The shadow of a frozen table: see sandbox_internal.h. */
int sb_frozen_shadow(lua_State *L, int idx) {
  /* Pushes the shadow of a frozen table and returns 1, or pushes nothing and returns 0. */
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_FROZEN);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  lua_remove(L, -2);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

void gv_sandbox_contents(lua_State *L, int idx) {
  if (!sb_frozen_shadow(L, idx)) lua_pushvalue(L, idx);
}

int gv_sandbox_next(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  gv_sandbox_contents(L, idx);
  lua_insert(L, -2); /* contents below the key */
  int more = lua_next(L, -2);
  if (more) {
    lua_remove(L, -3);
  } else {
    lua_pop(L, 1);
  }
  return more;
}

void gv_sandbox_mark_system(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_SYSTEM);
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

static int is_system(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_SYSTEM);
  lua_pushvalue(L, idx);
  int yes = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return yes;
}

static int frozen_newindex(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING && lua_getmetatable(L, 1)) {
    lua_getfield(L, -1, "__genv");
    int is_env = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (is_env)
      return luaL_error(L, "assignment to global '%s': workflow code may not keep state "
                           "between actions (use a local variable or item.data)",
                        lua_tostring(L, 2));
  }
  return luaL_error(L, "attempt to modify a read-only table (workflow code may not keep "
                       "state between actions; use item.data)");
}

/* Pushes field key of the script metatable of the shadow at idx, read through the
 * metatable if it is frozen too, and returns its type; pushes nil if there is none. */
static int shadow_meta_field(lua_State *L, int idx, const char *key) {
  if (!lua_getmetatable(L, idx)) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  gv_sandbox_contents(L, -1);
  lua_pushstring(L, key);
  int t = lua_rawget(L, -2);
  lua_replace(L, -3);
  lua_pop(L, 1);
  return t;
}

/* __index of a frozen table that had a metatable of the script's. Its metamethods get the
 * read-only table, never the shadow (a script holding the shadow could write to it, and
 * the next action would see it), and work even when the metatable is frozen as well. */
static int frozen_index(lua_State *L) {
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  int t = shadow_meta_field(L, lua_upvalueindex(1), "__index");
  if (t == LUA_TFUNCTION) {
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
  } else if (t != LUA_TNIL) {
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
  }
  return 1;
}

static int frozen_len(lua_State *L) {
  if (!sb_frozen_shadow(L, 1)) return luaL_error(L, "not a frozen table");
  int shadow = lua_gettop(L);
  if (shadow_meta_field(L, shadow, "__len") == LUA_TFUNCTION) {
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, shadow));
  return 1;
}

/* next() that sees through a frozen table's shadow. */
int sb_frozen_next(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if (sb_frozen_shadow(L, 1)) lua_replace(L, 1);
  return lua_next(L, 1) ? 2 : (lua_pushnil(L), 1);
}

static int frozen_pairs(lua_State *L) {
  lua_pushcfunction(L, sb_frozen_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static int freeze_value(gv_sandbox *sb, int idx, int depth, gv_error *err);

static int record_upvalue(gv_sandbox *sb, int fidx, int n) {
  lua_State *L = sb->L;
  void *id = lua_upvalueid(L, fidx, n);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_SEEN);
  if (lua_rawgetp(L, -1, id) != LUA_TNIL) {
    lua_pop(L, 2);
    return 0;
  }
  lua_pop(L, 1);
  lua_pushboolean(L, 1);
  lua_rawsetp(L, -2, id);
  lua_pop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_RESTORE);
  lua_createtable(L, 3, 0);
  lua_pushvalue(L, fidx);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, n);
  lua_rawseti(L, -2, 2);
  lua_getupvalue(L, fidx, n);
  lua_rawseti(L, -2, 3);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  return 1;
}

static int freeze_function(gv_sandbox *sb, int idx, int depth, gv_error *err) {
  lua_State *L = sb->L;
  if (lua_iscfunction(L, idx)) return GV_OK;
  for (int n = 1;; n++) {
    const char *name = lua_getupvalue(L, idx, n);
    if (name == NULL) break;
    int t = lua_type(L, -1);
    int rc = GV_OK;
    if (t == LUA_TTABLE || t == LUA_TFUNCTION)
      rc = freeze_value(sb, -1, depth + 1, err);
    lua_pop(L, 1);
    if (rc != GV_OK) return rc;
    /* Tables and functions too: freezing stops writes into them, but an action could still
     * assign a fresh table or function (or _ENV) to the upvalue for the next one to find. */
    record_upvalue(sb, idx, n);
  }
  return GV_OK;
}

/* A table used as a metatable must stay raw-readable (Lua reads metamethods raw), so it
 * is not turned into a proxy: its contents are snapshotted and put back after every
 * action instead, and what it holds is frozen. */
static int freeze_meta(gv_sandbox *sb, int idx, int depth, gv_error *err) {
  lua_State *L = sb->L;
  idx = lua_absindex(L, idx);
  if (is_system(L, idx)) return GV_OK;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_SEEN);
  lua_pushvalue(L, idx);
  if (lua_rawget(L, -2) != LUA_TNIL) {
    lua_pop(L, 2);
    return GV_OK;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_RESTORE_T);
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, idx);
  lua_rawseti(L, -2, 1);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  int rc = GV_OK;
  lua_pushnil(L);
  while (rc == GV_OK && lua_next(L, idx)) {
    if (lua_type(L, -1) == LUA_TTABLE || lua_type(L, -1) == LUA_TFUNCTION) rc = freeze_value(sb, -1, depth + 1, err);
    lua_pop(L, 1);
  }
  if (rc != GV_OK) lua_pop(L, 1);
  return rc;
}

static int freeze_table(gv_sandbox *sb, int idx, int depth, gv_error *err) {
  lua_State *L = sb->L;
  if (is_system(L, idx)) return GV_OK;
  if (sb_frozen_shadow(L, idx)) {
    lua_pop(L, 1);
    return GV_OK;
  }
  int t = lua_gettop(L), script_mt = 0;
  /* The shadow takes the contents and any metatable the table had. */
  lua_newtable(L);
  int shadow = t + 1;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, shadow);
  }
  if (lua_getmetatable(L, idx)) {
    /* lua_setmetatable arms a __gc the script added after its own setmetatable. Raw reads
     * here and below: freezing must not run the script's metamethods. */
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, -2) != LUA_TNIL) {
      lua_settop(L, t);
      return gv_error_set(err, GV_ESCRIPT, NULL, "__gc metamethods are not allowed in workflows");
    }
    lua_pop(L, 1);
    script_mt = !is_system(L, -1);
    lua_setmetatable(L, shadow);
  }
  /* Empty the original (keys collected first: no writes while traversing). */
  lua_pushnil(L);
  while (lua_next(L, shadow) != 0) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, idx);
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_FROZEN);
  lua_pushvalue(L, idx);
  lua_pushvalue(L, shadow);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  int is_env = 0;
  if (lua_getmetatable(L, idx)) {
    lua_pushliteral(L, "__genv");
    lua_rawget(L, -2);
    is_env = lua_toboolean(L, -1);
    lua_pop(L, 2);
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_PROXY_OF);
  lua_pushvalue(L, shadow);
  lua_pushvalue(L, idx);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, shadow);
  if (script_mt) lua_pushcclosure(L, frozen_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, frozen_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, frozen_len);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, frozen_pairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  if (is_env) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__genv");
  }
  lua_setmetatable(L, idx);
  /* Now freeze what the shadow holds, and its own metatable. */
  int rc = GV_OK;
  lua_pushnil(L);
  while (rc == GV_OK && lua_next(L, shadow) != 0) {
    if (lua_type(L, -2) == LUA_TTABLE || lua_type(L, -2) == LUA_TFUNCTION)
      rc = freeze_value(sb, -2, depth + 1, err);
    if (rc == GV_OK && (lua_type(L, -1) == LUA_TTABLE || lua_type(L, -1) == LUA_TFUNCTION))
      rc = freeze_value(sb, -1, depth + 1, err);
    lua_pop(L, 1);
  }
  if (rc == GV_OK && lua_getmetatable(L, shadow)) {
    rc = freeze_meta(sb, -1, depth + 1, err);
    lua_pop(L, 1);
  }
  lua_settop(L, t);
  return rc;
}

static int freeze_value(gv_sandbox *sb, int idx, int depth, gv_error *err) {
  lua_State *L = sb->L;
  idx = lua_absindex(L, idx);
  if (depth > 200) return gv_error_set(err, GV_ESCRIPT, NULL, "tables nested too deeply");
  if (!lua_checkstack(L, 8)) return gv_error_set(err, GV_ENOMEM, NULL, "stack exhausted");
  /* Functions are visited once: the seen set is keyed by the function itself. */
  if (lua_type(L, idx) == LUA_TFUNCTION) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_SEEN);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) != LUA_TNIL) {
      lua_pop(L, 2);
      return GV_OK;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return freeze_function(sb, idx, depth, err);
  }
  if (lua_type(L, idx) == LUA_TTABLE) return freeze_table(sb, idx, depth, err);
  return GV_OK;
}

int gv_sandbox_freeze(gv_sandbox *sb, int idx, gv_error *err) {
  return freeze_value(sb, idx, 0, err);
}

static void restore_tables(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_RESTORE_T);
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    int t = lua_gettop(L) - 1, snap = t + 1;
    /* A metatable frozen since (it was reachable as a value too) cannot have changed. */
    if (sb_frozen_shadow(L, t)) {
      lua_settop(L, t - 2);
      continue;
    }
    /* Drop keys the snapshot lacks (collected first), then put every value back. */
    lua_newtable(L);
    int extra = lua_gettop(L);
    lua_Integer ne = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      if (lua_rawget(L, snap) == LUA_TNIL) {
        lua_pushvalue(L, -2);
        lua_rawseti(L, extra, ++ne);
      }
      lua_pop(L, 1);
    }
    for (lua_Integer k = 1; k <= ne; k++) {
      lua_rawgeti(L, extra, k);
      lua_pushnil(L);
      lua_rawset(L, t);
    }
    lua_pushnil(L);
    while (lua_next(L, snap)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, t);
    }
    lua_settop(L, t - 2);
  }
  lua_pop(L, 1);
}

void gv_sandbox_restore(gv_sandbox *sb) {
  lua_State *L = sb->L;
  restore_tables(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_RESTORE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    int up = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, -2, 3);
    lua_setupvalue(L, -2, up);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}
