/* The Lua sandbox: allow-listed globals, C text helpers, capped library functions, instruction and memory limits, freezing. */
#define _GNU_SOURCE /* memmem */
#include "lua/sandbox.h"
#include "base/alloc.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_EVERY 1000

struct gv_sandbox {
  lua_State *L;
  size_t used;
  size_t limit;
  uint64_t budget;
  uint32_t ms;          /* wall-time budget per call, 0 for none */
  uint64_t deadline;    /* CLOCK_MONOTONIC ns at which the current call ends, 0 for none */
  uint64_t ticks;       /* hook calls in the current gv_sandbox_call */
  int instr_hit;        /* the budget ran out in this call */
  int time_hit;         /* ... because the deadline passed */
  int mem_hit;          /* an allocation was refused in this call */
  int depth;            /* nested gv_sandbox_call */
};

/* Registry keys (addresses are unique). */
static const char KEY_BASE = 'b';     /* the frozen safe globals */
static const char KEY_FROZEN = 'f';   /* weak set of frozen tables -> shadow */
static const char KEY_RESTORE = 'r';  /* array of {fn, index, value} */
static const char KEY_REJECT = 'x';   /* metatable of structured errors */
static const char KEY_SEEN = 's';     /* upvalue ids already recorded */
static const char KEY_SYSTEM = 'y';   /* host tables never frozen (environment metatables) */
static const char KEY_RESTORE_T = 't'; /* array of {table, snapshot} restored after actions */
static const char KEY_SCRIPT_MT = 'm'; /* weak set of metatables set by scripts themselves */
static const char KEY_PROXY_OF = 'p';  /* weak map: shadow of a frozen table -> the table */

void gv_sandbox_limits_default(gv_sandbox_limits *l) {
  l->memory_bytes = 64u << 20;
  l->instructions = 20000000;
  l->milliseconds = 2000;
}

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  gv_sandbox *sb = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    sb->used -= old;
    return NULL;
  }
  if (nsize > old && sb->used + (nsize - old) > sb->limit) {
    sb->mem_hit = 1;
    return NULL;
  }
  void *p = gv_realloc(ptr, nsize);
  if (p == NULL) {
    sb->mem_hit = 1;
    return NULL;
  }
  sb->used = sb->used - old + nsize;
  return p;
}

gv_sandbox *gv_sandbox_of(lua_State *L) { return *(gv_sandbox **)lua_getextraspace(L); }

size_t gv_sandbox_memory(const gv_sandbox *sb) { return sb->used; }

lua_State *gv_sandbox_lua(gv_sandbox *sb) { return sb->L; }

/* ---- Instruction budget -------------------------------------------------------------- */

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int past_deadline(gv_sandbox *sb) { return sb->deadline != 0 && mono_ns() >= sb->deadline; }

static void count_hook(lua_State *L, lua_Debug *ar);

/* Marks the budget spent. From now on the hook fires on every instruction, so a pcall in
 * the script cannot swallow the error and carry on: the next instruction raises it again. */
static void spend_all(lua_State *L, gv_sandbox *sb, int by_time) {
  if (!sb->instr_hit) sb->time_hit = by_time;
  sb->instr_hit = 1;
  lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
}

/* Raises the limit error, prefixed with where (may be NULL). Does not return. */
static int limit_error(lua_State *L, gv_sandbox *sb, const char *where) {
  /* The wording keeps "instruction" so that incidents count both as instruction limits. */
  if (sb->time_hit)
    return luaL_error(L, "%s%sinstruction limit exceeded (the script ran for over %d ms, mostly "
                         "inside library calls)", where ? where : "", where ? ": " : "", (int)sb->ms);
  return luaL_error(L, "%s%sinstruction limit exceeded (%I instructions)", where ? where : "",
                    where ? ": " : "", (lua_Integer)sb->budget);
}

/* Called by the library wrappers before costly work: the count hook only runs between Lua
 * instructions, and a loop can make a thousand costly calls between two of its runs. */
static void check_time(lua_State *L) {
  gv_sandbox *sb = gv_sandbox_of(L);
  if (sb->depth > 0 && (sb->instr_hit || past_deadline(sb))) {
    spend_all(L, sb, 1);
    limit_error(L, sb, NULL);
  }
}

static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  gv_sandbox *sb = gv_sandbox_of(L);
  if (!sb->instr_hit) {
    sb->ticks++;
    int late = past_deadline(sb);
    if (sb->ticks * HOOK_EVERY < sb->budget && !late) return;
    spend_all(L, sb, late && sb->ticks * HOOK_EVERY < sb->budget);
  }
  /* In a hook, level 0 is the Lua function that was running: report its line. */
  lua_Debug d;
  char where[LUA_IDSIZE + 24];
  if (lua_getstack(L, 0, &d) && lua_getinfo(L, "Sl", &d) && d.currentline > 0) {
    snprintf(where, sizeof where, "%s:%d", d.short_src, d.currentline);
    limit_error(L, sb, where);
  }
  limit_error(L, sb, NULL);
}

/* ---- Structured errors ---------------------------------------------------------------- */

int gv_sandbox_raise(lua_State *L, int code, const char *field, const char *message) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, code);
  lua_setfield(L, -2, "code");
  if (field) {
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
  }
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_REJECT);
  lua_setmetatable(L, -2);
  return lua_error(L);
}

static const char *msg_arg(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TTABLE) {
    /* A {fr=..., en=...} message: English is used in errors. */
    lua_getfield(L, idx, "en");
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (s) return s;
  }
  return luaL_checkstring(L, idx);
}

/* reject(field, message): a parameter is not acceptable (422). */
static int l_reject(lua_State *L) {
  const char *field = luaL_optstring(L, 1, NULL);
  return gv_sandbox_raise(L, GV_EPARAM, field, msg_arg(L, 2));
}

/* refuse(message): the action is not possible now (409). */
static int l_refuse(lua_State *L) { return gv_sandbox_raise(L, GV_ESTATE, NULL, msg_arg(L, 1)); }

/* deny(message): the caller may not do this (403). */
static int l_deny(lua_State *L) { return gv_sandbox_raise(L, GV_EFORBIDDEN, NULL, msg_arg(L, 1)); }

static int is_reject(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_REJECT);
  int yes = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return yes;
}

/* ---- Freezing ------------------------------------------------------------------------- */

static int frozen_shadow(lua_State *L, int idx) {
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
  if (!frozen_shadow(L, idx)) lua_pushvalue(L, idx);
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
  if (!frozen_shadow(L, 1)) return luaL_error(L, "not a frozen table");
  int shadow = lua_gettop(L);
  if (shadow_meta_field(L, shadow, "__len") == LUA_TFUNCTION) {
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, shadow));
  return 1;
}

static int frozen_next(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if (frozen_shadow(L, 1)) lua_replace(L, 1);
  return lua_next(L, 1) ? 2 : (lua_pushnil(L), 1);
}

static int frozen_pairs(lua_State *L) {
  lua_pushcfunction(L, frozen_next);
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
  if (frozen_shadow(L, idx)) {
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
    if (frozen_shadow(L, t)) {
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

/* ---- Safe library functions ------------------------------------------------------------ */

static int l_setmetatable(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int t = lua_type(L, 2);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (t == LUA_TTABLE) {
    /* A finalizer would run later, in another action, seeing another caller. */
    if (lua_getfield(L, 2, "__gc") != LUA_TNIL)
      return luaL_error(L, "__gc metamethods are not allowed in workflows");
    lua_pop(L, 1);
  }
  if (frozen_shadow(L, 1)) return luaL_error(L, "cannot change the metatable of a read-only table");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  if (t == LUA_TTABLE) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_SCRIPT_MT);
    lua_pushvalue(L, 2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    /* Lua reads metamethods raw, and a frozen table is an empty proxy: use its contents
     * (getmetatable maps them back, so the script never holds them). */
    if (frozen_shadow(L, 2)) lua_replace(L, 2);
  }
  lua_setmetatable(L, 1);
  return 1;
}

/* getmetatable(v): like Lua's, but a metatable the host set (declarations, environments,
 * forum members, ...) reads as nil. Host metatables are shared by every action, and a
 * script that could write to one could leave state behind, or add a __gc that the host's
 * next lua_setmetatable with it would arm. */
static int l_getmetatable(lua_State *L) {
  luaL_checkany(L, 1);
  if (!lua_getmetatable(L, 1)) {
    lua_pushnil(L);
    return 1;
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) return 1;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_PROXY_OF);
  lua_pushvalue(L, -2);
  if (lua_rawget(L, -2) != LUA_TNIL) return 1;
  lua_pop(L, 2);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_SCRIPT_MT);
  lua_pushvalue(L, -2);
  if (lua_rawget(L, -2) == LUA_TNIL) lua_pushnil(L);
  else lua_pushvalue(L, -3);
  return 1;
}

/* xpcall(f, handler, ...): the handler runs once the failed call has unwound, not at the
 * point of the error. Lua calls message handlers from inside the count hook when the hook
 * raised the error, with hooks off, so a handler that loops would never be stopped. */
static int l_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_insert(L, 1);
  lua_remove(L, 3); /* handler, f, args... */
  if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) {
    lua_pushboolean(L, 1);
    lua_replace(L, 1);
    return lua_gettop(L);
  }
  /* handler, error: an error in the handler becomes the result, as with Lua's xpcall. */
  lua_pcall(L, 1, 1, 0);
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

static int l_collectgarbage(lua_State *L) {
  const char *opt = luaL_optstring(L, 1, "count");
  if (strcmp(opt, "count") != 0)
    return luaL_error(L, "collectgarbage: only \"count\" is available in workflows");
  gv_sandbox *sb = gv_sandbox_of(L);
  lua_pushnumber(L, (lua_Number)sb->used / 1024.0);
  return 1;
}

static int l_clock(lua_State *L) {
  lua_pushnumber(L, (lua_Number)clock() / (lua_Number)CLOCKS_PER_SEC);
  return 1;
}

static int l_rep(lua_State *L) {
  size_t l, lsep;
  luaL_checklstring(L, 1, &l);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  check_time(L);
  /* A result that cannot fit in what is left is a memory error (GV_ELIMIT), checked first so
   * that string.rep('x', 1 << 26) reads as one; the count cap then stops the empty string,
   * which Lua would copy 1 << 40 times without allocating. */
  gv_sandbox *sb = gv_sandbox_of(L);
  size_t left = sb->used < sb->limit ? sb->limit - sb->used : 0;
  if (n > 0 && (l + lsep) > 0 && (lua_Unsigned)n > left / (l + lsep)) {
    sb->mem_hit = 1;
    return luaL_error(L, "not enough memory for string.rep (%I copies of %I bytes)", n,
                      (lua_Integer)(l + lsep));
  }
  if (n > GV_SANDBOX_MAX_REP)
    return luaL_error(L, "string.rep: count %I is over the limit of %d", n, GV_SANDBOX_MAX_REP);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static int l_find(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  lua_Integer init = luaL_optinteger(L, 3, 1);
  if (lua_gettop(L) >= 4 && !lua_toboolean(L, 4))
    return luaL_error(L, "string.find searches plain text only (Lua patterns are not available "
                         "in workflows); pass true as the fourth argument or omit it");
  if (init < 0) init = (lua_Integer)ls + init + 1;
  if (init < 1) init = 1;
  if ((size_t)init > ls + 1) { lua_pushnil(L); return 1; }
  const char *hit = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - (size_t)init + 1, p, lp);
  if (hit == NULL) { lua_pushnil(L); return 1; }
  lua_pushinteger(L, hit - s + 1);
  lua_pushinteger(L, hit - s + (lua_Integer)lp);
  return 2;
}

static int l_contains(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  lua_pushboolean(L, lp == 0 || memmem(s, ls, p, lp) != NULL);
  return 1;
}

static int l_starts_with(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  lua_pushboolean(L, lp <= ls && memcmp(s, p, lp) == 0);
  return 1;
}

static int l_ends_with(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  lua_pushboolean(L, lp <= ls && memcmp(s + ls - lp, p, lp) == 0);
  return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int l_trim(lua_State *L) {
  size_t l;
  const char *s = luaL_checklstring(L, 1, &l);
  size_t a = 0, b = l;
  while (a < b && is_space(s[a])) a++;
  while (b > a && is_space(s[b - 1])) b--;
  lua_pushlstring(L, s + a, b - a);
  return 1;
}

static int l_split(lua_State *L) {
  size_t ls, lsep;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *sep = luaL_optlstring(L, 2, ",", &lsep);
  if (lsep == 0) return luaL_error(L, "split: the separator must not be empty");
  lua_newtable(L);
  lua_Integer n = 0;
  const char *p = s, *end = s + ls;
  for (;;) {
    const char *hit = memmem(p, (size_t)(end - p), sep, lsep);
    const char *stop = hit ? hit : end;
    lua_pushlstring(L, p, (size_t)(stop - p));
    lua_rawseti(L, -2, ++n);
    if (hit == NULL) break;
    p = hit + lsep;
  }
  return 1;
}

static int l_replace(lua_State *L) {
  size_t ls, lf, lt;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *from = luaL_checklstring(L, 2, &lf);
  const char *to = luaL_checklstring(L, 3, &lt);
  if (lf == 0) return luaL_error(L, "replace: the text to replace must not be empty");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const char *p = s, *end = s + ls;
  for (;;) {
    const char *hit = memmem(p, (size_t)(end - p), from, lf);
    if (hit == NULL) break;
    luaL_addlstring(&b, p, (size_t)(hit - p));
    luaL_addlstring(&b, to, lt);
    p = hit + lf;
  }
  luaL_addlstring(&b, p, (size_t)(end - p));
  luaL_pushresult(&b);
  return 1;
}

static void check_span(lua_State *L, lua_Integer a, lua_Integer b, const char *what) {
  check_time(L);
  if (b >= a && (lua_Unsigned)b - (lua_Unsigned)a >= GV_SANDBOX_MAX_ELEMS)
    luaL_error(L, "%s: a span of more than %d elements is over the limit", what,
               GV_SANDBOX_MAX_ELEMS);
}

static int call_upvalue(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static int l_move(lua_State *L) {
  lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
  luaL_checkinteger(L, 4);
  check_span(L, f, e, "table.move");
  return call_upvalue(L);
}

static int l_concat(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  lua_Integer j = lua_isnoneornil(L, 4) ? luaL_len(L, 1) : luaL_checkinteger(L, 4);
  check_span(L, i, j, "table.concat");
  return call_upvalue(L);
}

static int l_lencheck(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  /* Lua's insert and remove trust a negative length: table.insert(t, math.mininteger + 5, v)
   * on a table whose __len says -10 then shifts 2^63 elements. */
  if (n < 0) return luaL_error(L, "table length %I is negative (check the table's __len)", n);
  check_span(L, 1, n, "table length");
  return call_upvalue(L);
}

typedef struct {
  const char *name;
  lua_CFunction wrap; /* NULL: copy the library's own function */
} entry;

/* Copies the named fields from the table at src into the table at dst, wrapping those
 * with a wrapper (the original becomes the wrapper's upvalue). */
static void copy_fields(lua_State *L, int src, int dst, const entry *e) {
  for (; e->name; e++) {
    lua_getfield(L, src, e->name);
    if (e->wrap) lua_pushcclosure(L, e->wrap, 1);
    lua_setfield(L, dst, e->name);
  }
}

static void add_funcs(lua_State *L, int dst, const luaL_Reg *r) {
  for (; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, dst, r->name);
  }
}

static int build_base(lua_State *L) {
  /* The real libraries, loaded into the (hidden) global table. */
  luaL_openlibs(L);
  lua_pushglobaltable(L);
  int g = lua_gettop(L);
  lua_newtable(L);
  int base = g + 1;

  static const entry base_fns[] = {{"assert", NULL},   {"error", NULL},  {"ipairs", NULL},
                                   {"pairs", NULL},    {"select", NULL}, {"tonumber", NULL},
                                   {"tostring", NULL}, {"type", NULL},   {"pcall", NULL},
                                   {"rawequal", NULL}, {NULL, NULL}};
  copy_fields(L, g, base, base_fns);
  static const luaL_Reg own[] = {{"setmetatable", l_setmetatable}, {"getmetatable", l_getmetatable},
                                 {"xpcall", l_xpcall},             {"next", frozen_next},
                                 {"collectgarbage", l_collectgarbage}, {"reject", l_reject},
                                 {"refuse", l_refuse}, {"deny", l_deny}, {NULL, NULL}};
  add_funcs(L, base, own);
  lua_pushliteral(L, LUA_VERSION);
  lua_setfield(L, base, "_VERSION");

  /* string: no patterns, no dump, capped rep, plain find, C text helpers. */
  lua_getfield(L, g, "string");
  int str = lua_gettop(L);
  lua_newtable(L);
  static const entry str_fns[] = {{"byte", NULL},  {"char", NULL},    {"format", NULL},
                                  {"len", NULL},   {"lower", NULL},   {"upper", NULL},
                                  {"reverse", NULL}, {"sub", NULL},   {"rep", l_rep},
                                  {NULL, NULL}};
  copy_fields(L, str, str + 1, str_fns);
  static const luaL_Reg str_own[] = {{"find", l_find},         {"contains", l_contains},
                                     {"starts_with", l_starts_with}, {"ends_with", l_ends_with},
                                     {"trim", l_trim},         {"split", l_split},
                                     {"replace", l_replace},   {NULL, NULL}};
  add_funcs(L, str + 1, str_own);
  lua_pushvalue(L, -1);
  lua_setfield(L, base, "string");
  /* Method calls on strings ("x"):upper() go to the safe table, and the real
   * metatable is hidden from getmetatable. */
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushvalue(L, str + 1);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "string");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 4);

  lua_getfield(L, g, "table");
  int tab = lua_gettop(L);
  lua_newtable(L);
  static const entry tab_fns[] = {{"pack", NULL},         {"unpack", NULL},
                                  {"move", l_move},       {"concat", l_concat},
                                  {"insert", l_lencheck}, {"remove", l_lencheck},
                                  {"sort", l_lencheck},   {NULL, NULL}};
  copy_fields(L, tab, tab + 1, tab_fns);
  lua_setfield(L, base, "table");
  lua_pop(L, 1);

  lua_getfield(L, g, "math");
  int mth = lua_gettop(L);
  lua_newtable(L);
  static const entry math_fns[] = {
      {"abs", NULL}, {"ceil", NULL}, {"floor", NULL}, {"fmod", NULL}, {"huge", NULL},
      {"max", NULL}, {"maxinteger", NULL}, {"min", NULL}, {"mininteger", NULL}, {"modf", NULL},
      {"pi", NULL}, {"sqrt", NULL}, {"tointeger", NULL}, {"type", NULL}, {"ult", NULL},
      {"exp", NULL}, {"log", NULL}, {"sin", NULL}, {"cos", NULL}, {"tan", NULL}, {NULL, NULL}};
  copy_fields(L, mth, mth + 1, math_fns);
  lua_setfield(L, base, "math");
  lua_pop(L, 1);

  lua_getfield(L, g, "utf8");
  int u8 = lua_gettop(L);
  lua_newtable(L);
  static const entry utf8_fns[] = {{"char", NULL}, {"charpattern", NULL}, {"codes", NULL},
                                   {"codepoint", NULL}, {"len", NULL}, {"offset", NULL},
                                   {NULL, NULL}};
  copy_fields(L, u8, u8 + 1, utf8_fns);
  lua_setfield(L, base, "utf8");
  lua_pop(L, 1);

  lua_newtable(L);
  lua_pushcfunction(L, l_clock);
  lua_setfield(L, -2, "clock");
  lua_setfield(L, base, "os");

  /* Remove everything dangerous from the hidden globals as well, in case a host
   * function ever exposes them by mistake. */
  static const char *drop[] = {"io", "os", "debug", "package", "require", "load", "loadfile",
                               "dofile", "collectgarbage", "rawset", "rawget", "coroutine", NULL};
  for (const char **d = drop; *d; d++) {
    lua_pushnil(L);
    lua_setfield(L, g, *d);
  }
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);

  lua_pushvalue(L, base);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_BASE);
  lua_settop(L, g - 1);
  return 0;
}

gv_sandbox *gv_sandbox_new(const gv_sandbox_limits *limits) {
  gv_sandbox_limits def;
  if (limits == NULL) {
    gv_sandbox_limits_default(&def);
    limits = &def;
  }
  gv_sandbox *sb = calloc(1, sizeof *sb);
  if (sb == NULL) return NULL;
  sb->limit = limits->memory_bytes;
  sb->budget = limits->instructions;
  sb->ms = limits->milliseconds;
  sb->L = lua_newstate(sb_alloc, sb);
  if (sb->L == NULL) {
    free(sb);
    return NULL;
  }
  lua_State *L = sb->L;
  *(gv_sandbox **)lua_getextraspace(L) = sb;
  lua_atpanic(L, NULL);
  /* Registry tables. The frozen map is weak in its keys. */
  lua_newtable(L);
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_FROZEN);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_RESTORE);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_SEEN);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_RESTORE_T);
  lua_newtable(L);
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_SCRIPT_MT);
  lua_newtable(L);
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_PROXY_OF);
  lua_newtable(L);
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_SYSTEM);
  lua_newtable(L);
  lua_pushliteral(L, "error");
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_REJECT);
  lua_pushcfunction(L, build_base);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    free(sb);
    return NULL;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_BASE);
  gv_error err;
  int rc = gv_sandbox_freeze(sb, -1, &err);
  lua_pop(L, 1);
  if (rc != GV_OK) {
    gv_sandbox_free(sb);
    return NULL;
  }
  lua_gc(L, LUA_GCGEN, 0, 0);
  return sb;
}

void gv_sandbox_free(gv_sandbox *sb) {
  if (sb == NULL) return;
  lua_close(sb->L);
  free(sb);
}

/* ---- Loading and calling --------------------------------------------------------------- */

/* Splits "file:line: message" (as Lua formats errors) into err. */
static void set_located(gv_error *err, int code, const char *msg) {
  const char *p = msg;
  const char *colon = NULL;
  /* Find ":<digits>:" */
  for (const char *q = p; (q = strchr(q, ':')) != NULL; q++) {
    const char *d = q + 1;
    if (*d < '0' || *d > '9') continue;
    while (*d >= '0' && *d <= '9') d++;
    if (*d == ':') { colon = q; break; }
  }
  if (colon && colon - msg < 190 && strncmp(msg, "[string", 7) != 0) {
    char file[192];
    snprintf(file, sizeof file, "%.*s", (int)(colon - msg), msg);
    int line = atoi(colon + 1);
    const char *rest = strchr(colon + 1, ':') + 1;
    while (*rest == ' ') rest++;
    gv_error_set_at(err, code, file, line, "%s", rest);
  } else {
    gv_error_set(err, code, NULL, "%s", msg);
  }
}

int gv_sandbox_load(gv_sandbox *sb, const char *chunkname, const char *src, size_t len,
                    gv_error *err) {
  lua_State *L = sb->L;
  if (len > GV_SANDBOX_MAX_SOURCE)
    return gv_error_set_at(err, GV_ESCRIPT, chunkname, 0, "the file is over %d bytes",
                           GV_SANDBOX_MAX_SOURCE);
  if (len > 0 && src[0] == LUA_SIGNATURE[0])
    return gv_error_set_at(err, GV_ESCRIPT, chunkname, 0, "precompiled code is not accepted");
  char name[256];
  snprintf(name, sizeof name, "=%s", chunkname);
  sb->mem_hit = 0;
  int rc = luaL_loadbufferx(L, src, len, name, "t");
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    set_located(err, sb->mem_hit ? GV_ELIMIT : GV_ESCRIPT, msg ? msg : "cannot load");
    /* Some carry no position (the parser's "C stack overflow" on deep nesting): still
     * name the file. */
    if (err && err->file[0] == '\0') snprintf(err->file, sizeof err->file, "%s", chunkname);
    lua_pop(L, 1);
    return err ? err->code : GV_ESCRIPT;
  }
  /* The chunk's environment: a fresh table that reads through to the safe globals. */
  lua_newtable(L);
  lua_createtable(L, 0, 2);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_BASE);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "__genv");
  /* The chunk must not replace it (losing strict globals). */
  lua_pushliteral(L, "environment");
  lua_setfield(L, -2, "__metatable");
  gv_sandbox_mark_system(L, -1);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setupvalue(L, -3, 1);
  return GV_OK;
}

static int msgh(lua_State *L) {
  if (is_reject(L, 1)) return 1;
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  /* Keep the message first, then the traceback, separated by a marker. */
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int gv_sandbox_call(gv_sandbox *sb, int nargs, int nresults, gv_error *err, char **traceback) {
  lua_State *L = sb->L;
  if (traceback) *traceback = NULL;
  int outer = sb->depth++ == 0;
  if (outer) {
    sb->ticks = 0;
    sb->instr_hit = 0;
    sb->time_hit = 0;
    sb->mem_hit = 0;
    sb->deadline = sb->ms ? mono_ns() + (uint64_t)sb->ms * 1000000u : 0;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
  }
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msgh);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  int instr = sb->instr_hit, mem = sb->mem_hit;
  if (outer) {
    lua_sethook(L, NULL, 0, 0);
    sb->deadline = 0;
  }
  sb->depth--;
  if (rc == LUA_OK) return GV_OK;

  int code = GV_ESCRIPT;
  if (is_reject(L, -1)) {
    lua_getfield(L, -1, "code");
    code = (int)lua_tointeger(L, -1);
    /* The script may have caught the object with pcall and changed its code before raising
     * it again: believe only the codes gv_sandbox_raise makes, never GV_OK. */
    if (code != GV_EPARAM && code != GV_ESTATE && code != GV_EFORBIDDEN && code != GV_EDEADLINE)
      code = GV_ESCRIPT;
    lua_getfield(L, -2, "field");
    lua_getfield(L, -3, "message");
    gv_error_set(err, code, lua_tostring(L, -2), "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 4);
    return code;
  }
  const char *full = lua_tostring(L, -1);
  if (full == NULL) full = "error";
  if (instr) {
    code = GV_ELIMIT;
  } else if (rc == LUA_ERRMEM || (mem && (rc == LUA_ERRERR || strstr(full, "not enough memory")))) {
    code = GV_ELIMIT;
  }
  /* First line is the message; the rest is the traceback. */
  const char *nl = strstr(full, "\nstack traceback:");
  char first[600];
  snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - full) : (int)strlen(full), full);
  if (rc == LUA_ERRMEM && !strstr(first, "memory"))
    snprintf(first, sizeof first, "memory limit exceeded (%zu bytes)", sb->limit);
  else if (code == GV_ELIMIT && !instr && strstr(first, "not enough memory"))
    snprintf(first + strlen(first), sizeof first - strlen(first), " (memory limit %zu bytes)", sb->limit);
  set_located(err, code, first);
  if (traceback) *traceback = strdup(full);
  lua_pop(L, 1);
  /* Return memory the failed call held, so the next caller starts clean. */
  lua_gc(L, LUA_GCCOLLECT);
  return code;
}
