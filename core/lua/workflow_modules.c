/* Workflow modules: `use "name"` runs lib/NAME.lua once, in the workflow's own sandbox, and gives back what it returned. */
#include "base/crypto.h"
#include "base/alloc.h"
#include "lua/sandbox.h"
#include "lua/workflow_internal.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char KEY_LOAD = 'l';    /* the gv_wfl of the file being loaded, while it loads */
static const char KEY_MODULES = 'm'; /* name -> what the module returned (false while it runs) */

#define MODULE_NAME_MAX 64

/* Module names are plain words, so `use` can never name a path. */
static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > MODULE_NAME_MAX) return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
  return 1;
}

/* Finds the module's text: in the stored modules when loading a stored version (never a
 * file: an edited module must not change it), else in lib_dir. Returns a malloc'd copy
 * and the path, or NULL with why in msg. */
static char *find_source(gv_wfl *c, const char *name, char *path, size_t pathsz, size_t *len, char *msg,
                         size_t msgsz) {
  if (c->env && c->env->modules) {
    const json_t *m = json_object_get(c->env->modules, name);
    const char *src = json_string_value(json_object_get(m, "source"));
    const char *p = json_string_value(json_object_get(m, "path"));
    if (src == NULL) {
      snprintf(msg, msgsz, "use \"%s\": the stored version has no module of that name", name);
      return NULL;
    }
    snprintf(path, pathsz, "%s", p ? p : name);
    *len = strlen(src);
    char *copy = gv_malloc(*len + 1);
    if (copy == NULL) snprintf(msg, msgsz, "out of memory");
    else memcpy(copy, src, *len + 1);
    return copy;
  }
  snprintf(path, pathsz, "%s/%s.lua", c->lib_dir, name);
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    snprintf(msg, msgsz, "use \"%s\": there is no module %s", name, path);
    return NULL;
  }
  char *src = gv_malloc(GV_SANDBOX_MAX_SOURCE + 2);
  if (src == NULL) {
    fclose(fp);
    snprintf(msg, msgsz, "out of memory");
    return NULL;
  }
  *len = fread(src, 1, GV_SANDBOX_MAX_SOURCE + 1, fp);
  fclose(fp);
  src[*len] = '\0';
  return src;
}

/* Remembers the module's text with the workflow, for its hash and its stored version. */
static int remember(gv_wfl *c, const char *name, const char *path, const char *src) {
  if (c->used == NULL && (c->used = json_object()) == NULL) return -1;
  json_t *m = json_pack("{s:s, s:s}", "path", path, "source", src);
  return m ? json_object_set_new(c->used, name, m) : -1;
}

/* Runs the module's chunk (at the top of the stack, its env above it) and leaves its
 * value. On failure leaves a "file:line: message" string instead and returns -1. */
static int run_module(gv_wfl *c, lua_State *L) {
  gv_sandbox *sb = gv_sandbox_of(L);
  gv_wfl_prepare_env(c, lua_gettop(L));
  lua_pop(L, 1);
  gv_error e;
  gv_error_clear(&e);
  if (gv_sandbox_call(sb, 0, 1, &e, NULL) != GV_OK) {
    lua_pushfstring(L, "%s:%d: %s", e.file[0] ? e.file : "module", e.line, e.message);
    return -1;
  }
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  return 0;
}

static int l_use(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_LOAD);
  gv_wfl *c = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (c == NULL)
    return luaL_error(L, "use \"%s\": modules are used at the top of the file, when it loads "
                         "(local m = use \"%s\")", name, name);
  if (!valid_name(name))
    return luaL_error(L, "use \"%s\": a module name is a word of lower-case letters, digits and _", name);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_MODULES);
  int mods = lua_gettop(L);
  lua_getfield(L, mods, name);
  if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
    return luaL_error(L, "use \"%s\": the module uses itself (through the modules it uses)", name);
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  char path[640], msg[700];
  size_t len = 0;
  char *src = find_source(c, name, path, sizeof path, &len, msg, sizeof msg);
  if (src == NULL) return luaL_error(L, "%s", msg);
  if (remember(c, name, path, src) != 0) {
    free(src);
    return luaL_error(L, "out of memory");
  }
  lua_pushboolean(L, 0);
  lua_setfield(L, mods, name);
  gv_error e;
  gv_error_clear(&e);
  int rc = gv_sandbox_load(gv_sandbox_of(L), path, src, len, &e);
  free(src);
  if (rc != GV_OK) {
    lua_pushfstring(L, "%s:%d: %s", e.file[0] ? e.file : path, e.line, e.message);
    return lua_error(L);
  }
  if (run_module(c, L) != 0) return lua_error(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, mods, name);
  return 1;
}

void gv_wfl_install_use(gv_wfl *c, int env) {
  lua_State *L = c->L;
  env = lua_absindex(L, env);
  lua_pushlightuserdata(L, c);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_LOAD);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_MODULES) != LUA_TTABLE) {
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_MODULES);
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_use);
  lua_setfield(L, env, "use");
}

void gv_wfl_default_lib_dir(const char *path, char *out, size_t size) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) snprintf(out, size, "lib");
  else snprintf(out, size, "%.*s/lib", (int)(slash - path), path);
}

void gv_wfl_modules_done(lua_State *L) {
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_LOAD);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_MODULES);
}

int gv_wfl_hash(const char *src, size_t len, const json_t *used, char out[65]) {
  if (used == NULL || json_object_size(used) == 0) {
    gv_sha256_hex(src, len, out);
    return GV_OK;
  }
  size_t n = json_object_size(used), k = 0;
  const char **names = gv_calloc(n, sizeof *names);
  gv_sha256_ctx *h = names ? gv_sha256_new() : NULL;
  if (h == NULL) {
    free(names);
    return GV_ENOMEM;
  }
  gv_sha256_update(h, src, len);
  /* jansson keeps insertion order: sort the names so the hash does not depend on the order
   * of the use calls. */
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)used, key, v) names[k++] = key;
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      const char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++) {
    const char *ms = json_string_value(json_object_get(json_object_get(used, names[i]), "source"));
    char head[128];
    int hl = snprintf(head, sizeof head, "\n--@module %s %zu\n", names[i], ms ? strlen(ms) : 0);
    gv_sha256_update(h, head, (size_t)hl);
    if (ms) gv_sha256_update(h, ms, strlen(ms));
  }
  free(names);
  uint8_t d[GV_SHA256_LEN];
  gv_sha256_final(h, d);
  gv_hex(d, GV_SHA256_LEN, out);
  return GV_OK;
}
