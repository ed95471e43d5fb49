/* A workflow file's environment: the declaration constructors (workflow "x" { ... }, action,
 * text { ... }), the mark that tells a declaration from a plain table, and strict globals. */
#include "lua/bridge.h"
#include "lua/sandbox.h"
#include "lua/workflow_internal.h"

#include <lauxlib.h>
#include <string.h>

static const char DECL_MT = 'd';
static const char WORKFLOWS = 'w';

/* ---- Declaration constructors (run at load time) --------------------------------------- */

/* Marks the table at idx as a declaration of kind (with name, line). */
static void mark_decl(lua_State *L, int idx, const char *kind, const char *name, int line) {
  idx = lua_absindex(L, idx);
  lua_pushstring(L, kind);
  lua_setfield(L, idx, "__kind");
  if (name) {
    lua_pushstring(L, name);
    lua_setfield(L, idx, "__name");
  }
  lua_pushinteger(L, line);
  lua_setfield(L, idx, "__line");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &DECL_MT);
  lua_setmetatable(L, idx);
}

/* The body of kind "name" { ... }: upvalues kind, name, line. */
static int named_body(lua_State *L) {
  const char *kind = lua_tostring(L, lua_upvalueindex(1));
  const char *name = lua_tostring(L, lua_upvalueindex(2));
  int line = (int)lua_tointeger(L, lua_upvalueindex(3));
  if (lua_type(L, 1) == LUA_TFUNCTION && strcmp(kind, "on_enter") == 0) {
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "run");
    lua_replace(L, 1);
  }
  if (lua_type(L, 1) != LUA_TTABLE)
    return luaL_error(L, "%s \"%s\" needs a table: %s \"%s\" { ... }", kind, name, kind, name);
  lua_settop(L, 1);
  mark_decl(L, 1, kind, name, line);
  if (strcmp(kind, "workflow") == 0) {
    /* Only while the file loads: the list is gone once an action can run. */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &WORKFLOWS) == LUA_TTABLE) {
      lua_pushvalue(L, 1);
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
    lua_pop(L, 1);
  }
  return 1;
}

static int named(lua_State *L) {
  const char *kind = lua_tostring(L, lua_upvalueindex(1));
  if (lua_type(L, 1) != LUA_TSTRING)
    return luaL_error(L, "%s needs a name in quotes: %s \"name\" { ... }", kind, kind);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushinteger(L, gv_lhost_caller_line(L));
  lua_pushcclosure(L, named_body, 3);
  return 1;
}

/* create { ... }, remind { ... }: upvalue kind. */
static int unnamed(lua_State *L) {
  const char *kind = lua_tostring(L, lua_upvalueindex(1));
  if (lua_type(L, 1) != LUA_TTABLE) return luaL_error(L, "%s needs a table: %s { ... }", kind, kind);
  lua_settop(L, 1);
  mark_decl(L, 1, kind, NULL, gv_lhost_caller_line(L));
  return 1;
}

/* Parameter types: text { ... } or bare text. The constructor marks a "param" decl. */
static int ptype(lua_State *L) {
  const char *t = lua_tostring(L, lua_upvalueindex(1));
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  if (lua_type(L, 1) != LUA_TTABLE) return luaL_error(L, "%s needs a table of options: %s { ... }", t, t);
  lua_settop(L, 1);
  mark_decl(L, 1, "param", t, gv_lhost_caller_line(L));
  return 1;
}

static const char *const ptypes[] = {"str", "text", "enum", "integer", "boolean", "time",
                                     "member", "item_ref", "meeting_ref", "list", "object", NULL};

static void install_decls(lua_State *L, int env) {
  static const char *const nameds[] = {"workflow", "action", "timer", "on_enter", NULL};
  for (const char *const *k = nameds; *k; k++) {
    lua_pushstring(L, *k);
    lua_pushcclosure(L, named, 1);
    lua_setfield(L, env, *k);
  }
  static const char *const unnameds[] = {"create", "remind", "record", "agenda", "history", NULL};
  for (const char *const *k = unnameds; *k; k++) {
    lua_pushstring(L, *k);
    lua_pushcclosure(L, unnamed, 1);
    lua_setfield(L, env, *k);
  }
  for (const char *const *k = ptypes; *k; k++) {
    lua_pushstring(L, *k);
    lua_pushcclosure(L, ptype, 1);
    lua_setfield(L, env, *k);
  }
}

/* See workflow_internal.h. */
int gv_wfl_is_decl(lua_State *L, int idx, const char *kind) {
  if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &DECL_MT);
  int yes = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!yes || kind == NULL) return yes;
  gv_wfl_rawfield(L, idx, "__kind");
  yes = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), kind) == 0;
  lua_pop(L, 1);
  return yes;
}

/* See workflow_internal.h. */
int gv_wfl_is_ptype(lua_State *L, int idx) { return lua_tocfunction(L, idx) == ptype; }

/* See workflow_internal.h. */
gv_ptype gv_wfl_ptype_of(const char *name) {
  static const gv_ptype map[] = {GV_PT_STRING, GV_PT_TEXT, GV_PT_ENUM, GV_PT_INTEGER, GV_PT_BOOLEAN, GV_PT_TIME,
                                 GV_PT_MEMBER, GV_PT_ITEM, GV_PT_MEETING, GV_PT_LIST, GV_PT_OBJECT};
  for (int i = 0; ptypes[i]; i++)
    if (strcmp(ptypes[i], name) == 0) return map[i];
  return 0;
}

/* See workflow_internal.h. */
int gv_wfl_push_declared(lua_State *L) { return lua_rawgetp(L, LUA_REGISTRYINDEX, &WORKFLOWS); }

/* See workflow_internal.h. */
void gv_wfl_forget_declared(lua_State *L) {
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &WORKFLOWS);
}

/* ---- The environment ---------------------------------------------------------------------- */

/* Unknown global names are mistakes: reading one raises an error with a suggestion. */
static int strict_index(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  static const char *const known[] = {"str", "text", "enum", "integer", "boolean", "time", "member", "item_ref",
                                      "meeting_ref", "list", "object", "workflow", "action", "timer", "remind",
                                      "on_enter", "create", "forum", "now", "duration", "gavel", "reject",
                                      "refuse", "deny", "use", "record", "agenda", "history", "dates", NULL};
  const char *s = k ? gv_lhost_suggest(k, known) : NULL;
  if (s)
    return luaL_error(L, "unknown name '%s' (did you mean '%s'?)", k ? k : "?", s);
  return luaL_error(L, "unknown name '%s'; parameter types are str, text, enum, integer, boolean, time, member, "
                       "item_ref, meeting_ref, list and object", k ? k : "?");
}

/* See workflow_internal.h. */
void gv_wfl_prepare_env(gv_wfl *c, int env) {
  lua_State *L = c->L;
  env = lua_absindex(L, env);
  install_decls(L, env);
  gv_lhost_push_forum(L, c->f);
  lua_setfield(L, env, "forum");
  if (c->env && c->env->install) c->env->install(L, env, c->env->install_ud);
  gv_wfl_install_use(c, env);
  /* Strict globals: a name that is neither the file's own nor a safe global is a
   * mistake. env's metatable reads through a lookup table (the safe globals' contents)
   * whose own metatable raises the error. */
  lua_getmetatable(L, env);
  int mt = lua_gettop(L);
  gv_wfl_rawfield(L, mt, "__index");
  int base = lua_gettop(L);
  lua_newtable(L);
  int lookup = lua_gettop(L);
  lua_pushnil(L);
  while (gv_sandbox_next(L, base)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, lookup);
  }
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, strict_index);
  lua_setfield(L, -2, "__index");
  gv_sandbox_mark_system(L, -1);
  lua_setmetatable(L, lookup);
  gv_sandbox_mark_system(L, lookup);
  lua_pushvalue(L, lookup);
  lua_setfield(L, mt, "__index");
  lua_settop(L, env);
}

/* Builds the file's environment around the table at index 1 for the loader at index 2
 * (gv_wfl_prepare_env). Run as a protected call: every step allocates in the state, and
 * running out of memory must be an error, not a panic. */
int gv_wfl_prepare_env_protected(lua_State *L) {
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &WORKFLOWS);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &DECL_MT);
  gv_wfl_prepare_env(lua_touserdata(L, 2), 1);
  return 0;
}
