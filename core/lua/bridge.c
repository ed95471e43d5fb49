/* Helpers for hosting Lua: line numbers for declarations, Lua ⇄ JSON, suggestions. */
#include "lua/bridge.h"
#include "lua/sandbox.h"

#include <ctype.h>
#include <lauxlib.h>
#include <math.h>
#include <string.h>

int gv_lhost_caller_line(lua_State *L) {
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) && ar.currentline > 0) return ar.currentline;
  return 0;
}

/* Non-zero if line (up to eol) holds `key =` (or ["key"] =) with key as a whole word. */
static int line_has_key(const char *p, const char *eol, const char *key, size_t klen) {
  for (const char *k = p; k + klen <= eol; k++) {
    if (strncmp(k, key, klen) != 0) continue;
    if (k > p && (isalnum((unsigned char)k[-1]) || k[-1] == '_')) continue;
    const char *r = k + klen;
    if (*r == '"' || *r == '\'') r++;
    if (*r == ']') r++;
    while (r < eol && (*r == ' ' || *r == '\t')) r++;
    if (r < eol && *r == '=' && r[1] != '=') return 1;
  }
  return 0;
}

int gv_lhost_key_line(const char *src, const char *key, int from_line) {
  if (src == NULL || key == NULL) return from_line;
  int line = 1;
  size_t klen = strlen(key);
  for (const char *p = src; *p; line++) {
    const char *eol = strchr(p, '\n');
    if (eol == NULL) eol = p + strlen(p);
    if (line >= from_line && line_has_key(p, eol, key, klen)) return line;
    if (*eol == '\0') break;
    p = eol + 1;
  }
  return from_line;
}

/* Values converted at most per call. The depth cap alone does not bound the work: a table
 * that holds the same table twice, nested 60 deep, is 2^60 values to write out. */
#define MAX_VALUES 1000000

static json_t *to_json(lua_State *L, int idx, int depth, char *path, size_t pathsz, size_t *left,
                       gv_error *err);

static json_t *table_to_json(lua_State *L, int idx, int depth, char *path, size_t pathsz,
                             size_t *left, gv_error *err) {
  if (depth > 64) {
    gv_error_set(err, GV_EPARAM, NULL, "%s: nested too deeply", path[0] ? path : "value");
    return NULL;
  }
  if (!lua_checkstack(L, 6)) {
    gv_error_set(err, GV_ENOMEM, NULL, "stack exhausted");
    return NULL;
  }
  /* Decide array or object: an array has only integer keys 1..n. */
  size_t nint = 0, nstr = 0;
  lua_Integer maxk = 0;
  lua_pushnil(L);
  while (gv_sandbox_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
      nint++;
      if (lua_tointeger(L, -2) > maxk) maxk = lua_tointeger(L, -2);
    } else if (lua_type(L, -2) == LUA_TSTRING) {
      nstr++;
    } else {
      lua_pop(L, 2);
      gv_error_set(err, GV_EPARAM, NULL, "%s: keys must be strings or list positions",
                   path[0] ? path : "value");
      return NULL;
    }
    lua_pop(L, 1);
  }
  size_t plen = strlen(path);
  /* An empty table is most often an empty list (of comments, reservations, ...). */
  if (nint == 0 && nstr == 0) {
    json_t *empty = json_array();
    if (empty == NULL) gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
    return empty;
  }
  if (nint > 0 && nstr == 0) {
    if ((size_t)maxk != nint) {
      gv_error_set(err, GV_EPARAM, NULL, "%s: a list must not have holes", path[0] ? path : "value");
      return NULL;
    }
    json_t *arr = json_array();
    if (arr == NULL) {
      gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
      return NULL;
    }
    for (lua_Integer i = 1; i <= maxk; i++) {
      lua_geti(L, idx, i);
      snprintf(path + plen, pathsz - plen, "[%lld]", (long long)i);
      json_t *v = to_json(L, lua_gettop(L), depth + 1, path, pathsz, left, err);
      path[plen] = '\0';
      lua_pop(L, 1);
      if (v == NULL) {
        json_decref(arr);
        return NULL;
      }
      /* A value that cannot be added must fail the whole conversion, never vanish. */
      if (json_array_append_new(arr, v) != 0) {
        json_decref(arr);
        gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
        return NULL;
      }
    }
    return arr;
  }
  if (nint > 0) {
    gv_error_set(err, GV_EPARAM, NULL, "%s: a table cannot be both a list and a record",
                 path[0] ? path : "value");
    return NULL;
  }
  json_t *obj = json_object();
  if (obj == NULL) {
    gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
    return NULL;
  }
  lua_pushnil(L);
  while (gv_sandbox_next(L, idx)) {
    const char *k = lua_tostring(L, -2);
    snprintf(path + plen, pathsz - plen, "%s%s", plen ? "." : "", k);
    json_t *v = to_json(L, lua_gettop(L), depth + 1, path, pathsz, left, err);
    path[plen] = '\0';
    lua_pop(L, 1);
    if (v == NULL) {
      lua_pop(L, 1);
      json_decref(obj);
      return NULL;
    }
    if (json_object_set_new(obj, k, v) != 0) {
      lua_pop(L, 1);
      json_decref(obj);
      gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
      return NULL;
    }
  }
  return obj;
}

static json_t *to_json(lua_State *L, int idx, int depth, char *path, size_t pathsz, size_t *left,
                       gv_error *err) {
  if (*left == 0) {
    gv_error_set(err, GV_EPARAM, NULL, "%s: more than %d values", path[0] ? path : "value", MAX_VALUES);
    return NULL;
  }
  (*left)--;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
      {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d)) {
          gv_error_set(err, GV_EPARAM, NULL, "%s: not a finite number", path[0] ? path : "value");
          return NULL;
        }
        if (d == floor(d) && fabs(d) < 9007199254740992.0) return json_integer((json_int_t)d);
        return json_real(d);
      }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      json_t *j = json_stringn(s, len);
      if (j == NULL) gv_error_set(err, GV_EPARAM, NULL, "%s: text is not valid UTF-8", path[0] ? path : "value");
      return j;
    }
    case LUA_TTABLE: return table_to_json(L, lua_absindex(L, idx), depth, path, pathsz, left, err);
    default:
      gv_error_set(err, GV_EPARAM, NULL, "%s: a %s cannot be stored", path[0] ? path : "value",
                   luaL_typename(L, idx));
      return NULL;
  }
}

json_t *gv_lhost_to_json(lua_State *L, int idx, gv_error *err) {
  char path[256] = "";
  size_t left = MAX_VALUES;
  return to_json(L, lua_absindex(L, idx), 0, path, sizeof path, &left, err);
}

void gv_lhost_push_json(lua_State *L, const json_t *j) {
  luaL_checkstack(L, 4, "JSON nested too deeply");
  /* A value jansson could not build (out of memory) is an error, never a crash. */
  if (j == NULL) luaL_error(L, "not enough memory");
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      lua_createtable(L, 0, (int)json_object_size(j));
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)j, k, v) {
        gv_lhost_push_json(L, v);
        lua_setfield(L, -2, k);
      }
      break;
    }
    case JSON_ARRAY: {
      lua_createtable(L, (int)json_array_size(j), 0);
      size_t i;
      json_t *v;
      json_array_foreach(j, i, v) {
        gv_lhost_push_json(L, v);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(j), json_string_length(j)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(j)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(j)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    default: lua_pushnil(L); break;
  }
}

static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 40 || lb > 40) return 99;
  int d[41][41];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int c = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
      int m = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < m) m = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + c < m) m = d[i - 1][j - 1] + c;
      d[i][j] = m;
    }
  return d[la][lb];
}

const char *gv_lhost_suggest(const char *word, const char *const *candidates) {
  const char *best = NULL;
  int bestd = 3;
  for (; *candidates; candidates++) {
    int dist = edit_distance(word, *candidates);
    if (dist < bestd) {
      bestd = dist;
      best = *candidates;
    }
  }
  return best;
}

static void push_i18n(lua_State *L, const gv_i18n *t) {
  lua_createtable(L, 0, t->n);
  for (int i = 0; i < t->n; i++) {
    lua_pushstring(L, t->text[i]);
    lua_setfield(L, -2, t->lang[i]);
  }
}

void gv_lhost_push_forum(lua_State *L, const gv_forum *f) {
  lua_createtable(L, 0, 10);
  lua_pushstring(L, f->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, f->short_name);
  lua_setfield(L, -2, "short_name");
  push_i18n(L, &f->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, f->time_zone);
  lua_setfield(L, -2, "time_zone");
  lua_createtable(L, f->nlanguages, 0);
  for (int i = 0; i < f->nlanguages; i++) {
    lua_pushstring(L, f->languages[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "languages");
  lua_createtable(L, (int)f->nmembers, 0);
  lua_createtable(L, (int)f->nmembers, 0);
  for (size_t i = 0; i < f->nmembers; i++) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, f->members[i].code);
    lua_setfield(L, -2, "code");
    push_i18n(L, &f->members[i].name);
    lua_setfield(L, -2, "name");
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    lua_pushstring(L, f->members[i].code);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -3, "member_codes");
  lua_setfield(L, -2, "members");
  json_t *rules = f->rules.json ? json_loads(f->rules.json, 0, NULL) : json_object();
  gv_lhost_push_json(L, rules);
  json_decref(rules);
  lua_pushinteger(L, f->rules.min_silence_ms);
  lua_setfield(L, -2, "min_silence_ms");
  lua_setfield(L, -2, "rules");
  lua_createtable(L, 0, 3);
  lua_pushboolean(L, f->chair_appointed);
  lua_setfield(L, -2, "appointed");
  lua_pushstring(L, f->chair_acting);
  lua_setfield(L, -2, "acting");
  push_i18n(L, &f->chair_title);
  lua_setfield(L, -2, "title");
  lua_setfield(L, -2, "chair");
}
