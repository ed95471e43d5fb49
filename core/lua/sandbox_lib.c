/* The sandbox's library: the safe subset of Lua's standard functions, wrapped where they
 * could spin or escape (metatables, rep, table.move, xpcall), and the text helpers that
 * replace Lua patterns (split, trim, contains, starts/ends with, plain replace). */
#define _GNU_SOURCE /* memmem */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lua/sandbox_internal.h"

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

/* refuse(message): the action is not possible now (409). */
static int l_refuse(lua_State *L) { return gv_sandbox_raise(L, GV_ESTATE, NULL, msg_arg(L, 1)); }

/* deny(message): the caller may not do this (403). */
static int l_deny(lua_State *L) { return gv_sandbox_raise(L, GV_EFORBIDDEN, NULL, msg_arg(L, 1)); }

/* reject(field, message): a parameter is not acceptable (422). */
static int l_reject(lua_State *L) {
  const char *field = luaL_optstring(L, 1, NULL);
  return gv_sandbox_raise(L, GV_EPARAM, field, msg_arg(L, 2));
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

typedef struct {
  const char *name;
  lua_CFunction wrap; /* NULL: copy the library's own function */
} entry;

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
  if (sb_frozen_shadow(L, 1)) return luaL_error(L, "cannot change the metatable of a read-only table");
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
    if (sb_frozen_shadow(L, 2)) lua_replace(L, 2);
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
  sb_check_time(L);
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
  sb_check_time(L);
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

/* Builds the safe globals under KEY_BASE (a lua_CFunction, run protected). */
int sb_build_base(lua_State *L) {
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
                                 {"xpcall", l_xpcall},             {"next", sb_frozen_next},
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
