/* The Lua sandbox: its state, memory cap, instruction and wall-time budgets, structured errors, loading and protected calls. The library is in sandbox_lib.c, read-only tables in sandbox_freeze.c. */
#define _GNU_SOURCE /* memmem */
#include "lua/sandbox.h"
#include "base/alloc.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lua/sandbox_internal.h"

#define HOOK_EVERY 1000

/* Registry keys: each element's address is unique (sandbox_internal.h names them). */
const char gv_sandbox_keys[SB_KEY_COUNT] = {'b', 'f', 'r', 'x', 's', 'y', 't', 'm', 'p'};

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
void sb_check_time(lua_State *L) {
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

static int is_reject(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_REJECT);
  int yes = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return yes;
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
  lua_pushcfunction(L, sb_build_base);
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
