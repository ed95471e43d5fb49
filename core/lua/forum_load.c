/* Loads a forum file (Lua, sandboxed) into a gv_forum, with file:line messages for every mistake. */
#include "base/crypto.h"
#include "base/alloc.h"
#include "model/forum.h"
#include "base/time.h"
#include "lua/bridge.h"
#include "lua/sandbox.h"

#include <ctype.h>
#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MEMBER_MT = 'm';
static const char FORUMS = 'F';

/* member "KM" { en = "...", fr = "..." } */
static int member_body(lua_State *L) {
  if (lua_type(L, 1) != LUA_TTABLE && lua_type(L, 1) != LUA_TSTRING)
    return luaL_error(L, "member \"%s\" needs its names, like { en = \"Comoros\", fr = \"Comores\" }",
                      lua_tostring(L, lua_upvalueindex(1)));
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setfield(L, -2, "code");
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setfield(L, -2, "line");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "name");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &MEMBER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static int l_member(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, gv_lhost_caller_line(L));
  lua_pushcclosure(L, member_body, 2);
  return 1;
}

/* forum "id" { ... } */
static int forum_body(lua_State *L) {
  if (lua_type(L, 1) != LUA_TTABLE)
    return luaL_error(L, "forum \"%s\" needs a table: forum \"id\" { name = ..., ... }",
                      lua_tostring(L, lua_upvalueindex(1)));
  lua_rawgetp(L, LUA_REGISTRYINDEX, &FORUMS);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setfield(L, -2, "id");
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setfield(L, -2, "line");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "body");
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

static int l_forum(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, gv_lhost_caller_line(L));
  lua_pushcclosure(L, forum_body, 2);
  return 1;
}

typedef struct loader {
  lua_State *L;
  const char *file;
  const char *src;
  int line;       /* the forum declaration's line */
  gv_error *err;
} loader;

static int fail(loader *ld, const char *key, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(loader *ld, const char *key, int line, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (line <= 0) line = key ? gv_lhost_key_line(ld->src, key, ld->line) : ld->line;
  return gv_error_set_at(ld->err, GV_ECONFIG, ld->file, line, "%s", msg);
}

static int valid_lang(const char *s) {
  return s && strlen(s) == 2 && islower((unsigned char)s[0]) && islower((unsigned char)s[1]);
}

/* Reads a {lang = text} table at idx into t, requiring every forum language. */
static int read_i18n(loader *ld, int idx, const char *key, int line, const gv_forum *f, gv_i18n *t) {
  lua_State *L = ld->L;
  if (lua_type(L, idx) == LUA_TSTRING) {
    for (int i = 0; i < f->nlanguages; i++) gv_i18n_set(t, f->languages[i], lua_tostring(L, idx));
    return GV_OK;
  }
  if (lua_type(L, idx) != LUA_TTABLE)
    return fail(ld, key, line, "%s must be a text or a table of texts per language, like "
                "{ en = \"...\", fr = \"...\" }", key);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *lang = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int known = 0;
    for (int i = 0; lang && i < f->nlanguages; i++) known |= strcmp(f->languages[i], lang) == 0;
    if (!known) {
      lua_pop(L, 2);
      return fail(ld, key, line, "%s has a text in '%s', which is not one of the forum's languages",
                  key, lang ? lang : "?");
    }
    if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
      lua_pop(L, 2);
      return fail(ld, key, line, "%s.%s must be a non-empty text", key, lang);
    }
    gv_i18n_set(t, lang, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  for (int i = 0; i < f->nlanguages; i++) {
    int have = 0;
    for (int j = 0; j < t->n; j++) have |= strcmp(t->lang[j], f->languages[i]) == 0;
    if (!have)
      return fail(ld, key, line, "%s has no text in '%s' (the forum's languages are required)",
                  key, f->languages[i]);
  }
  return GV_OK;
}

static const char *const forum_keys[] = {"short_name", "name", "time_zone", "languages", "members",
                                         "chair", "rules", NULL};
static const char *const rule_keys[] = {"agenda_cutoff_days", "min_silence", "reminders", "quorum",
                                        NULL};
static const char *const chair_keys[] = {"appointed", "acting", "title", NULL};

static int check_keys(loader *ld, int idx, const char *const *allowed, const char *what) {
  lua_State *L = ld->L;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 1);
      return fail(ld, NULL, 0, "%s: every field needs a name", what);
    }
    const char *k = lua_tostring(L, -1);
    int ok = 0;
    for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, k) == 0;
    if (!ok) {
      const char *s = gv_lhost_suggest(k, allowed);
      char hint[96] = "";
      if (s) snprintf(hint, sizeof hint, " (did you mean '%s'?)", s);
      int rc = fail(ld, k, 0, "unknown field '%s' in %s%s", k, what, hint);
      lua_pop(L, 1);
      return rc;
    }
  }
  return GV_OK;
}

static int read_duration(loader *ld, int idx, const char *key, int64_t *out) {
  lua_State *L = ld->L;
  if (lua_type(L, idx) != LUA_TSTRING || gv_duration_parse(lua_tostring(L, idx), out) != GV_OK)
    return fail(ld, key, 0, "%s must be a duration such as \"72h\", \"3d\" or \"90m\"", key);
  return GV_OK;
}

/* languages = { "fr", "en" }: two-letter codes, each once. */
static int read_languages(loader *ld, int body, gv_forum *f) {
  lua_State *L = ld->L;
  lua_getfield(L, body, "languages");
  if (lua_type(L, -1) != LUA_TTABLE || lua_rawlen(L, -1) == 0)
    return fail(ld, "languages", 0, "languages must be a list such as { \"fr\", \"en\" }");
  for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
    lua_rawgeti(L, -1, i);
    const char *lang = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING || !valid_lang(lang))
      return fail(ld, "languages", 0, "languages: '%s' is not a two-letter language code like \"fr\"",
                  lang ? lang : luaL_typename(L, -1));
    if (f->nlanguages == GV_MAX_LANGS) return fail(ld, "languages", 0, "too many languages");
    for (int j = 0; j < f->nlanguages; j++)
      if (strcmp(f->languages[j], lang) == 0)
        return fail(ld, "languages", 0, "languages: '%s' is listed twice", lang);
    snprintf(f->languages[f->nlanguages++], sizeof f->languages[0], "%s", lang);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return GV_OK;
}

/* members = { member "KM" { en = ..., fr = ... }, ... }: codes, names in every language. */
static int read_members(loader *ld, int body, gv_forum *f) {
  lua_State *L = ld->L;
  int rc;
  lua_getfield(L, body, "members");
  if (lua_type(L, -1) != LUA_TTABLE || lua_rawlen(L, -1) == 0)
    return fail(ld, lua_isnil(L, -1) ? NULL : "members", lua_isnil(L, -1) ? ld->line : 0,
                "the forum needs members = { member \"KM\" { en = \"Comoros\", fr = \"Comores\" }, ... }");
  int members = lua_gettop(L);
  f->nmembers = lua_rawlen(L, members);
  f->members = gv_calloc(f->nmembers, sizeof *f->members);
  for (size_t i = 0; i < f->nmembers; i++) {
    lua_rawgeti(L, members, (lua_Integer)i + 1);
    int m = lua_gettop(L);
    if (lua_type(L, m) == LUA_TFUNCTION)
      return fail(ld, "members", 0, "members: entry %zu is incomplete: write member \"CODE\" { en = \"...\", fr = \"...\" }", i + 1);
    int is_member = 0;
    if (lua_getmetatable(L, m)) {
      lua_rawgetp(L, LUA_REGISTRYINDEX, &MEMBER_MT);
      is_member = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
    }
    if (!is_member)
      return fail(ld, "members", 0, "members: entry %zu is not declared with member \"CODE\" { ... }", i + 1);
    lua_getfield(L, m, "line");
    int line = (int)lua_tointeger(L, -1);
    lua_getfield(L, m, "code");
    const char *code = lua_tostring(L, -1);
    size_t clen = strlen(code);
    int ok = clen >= 2 && clen <= 8;
    for (size_t k = 0; ok && k < clen; k++) ok = isupper((unsigned char)code[k]) || isdigit((unsigned char)code[k]);
    if (!ok) return fail(ld, NULL, line, "member code '%s' must be 2 to 8 capital letters or digits, like \"KM\"", code);
    for (size_t j = 0; j < i; j++)
      if (strcmp(f->members[j].code, code) == 0)
        return fail(ld, NULL, line, "member '%s' is declared twice (first on line %d)", code, f->members[j].line);
    snprintf(f->members[i].code, sizeof f->members[i].code, "%s", code);
    f->members[i].line = line;
    lua_getfield(L, m, "name");
    char key[32];
    snprintf(key, sizeof key, "member %s", code);
    if ((rc = read_i18n(ld, lua_gettop(L), key, line, f, &f->members[i].name)) != GV_OK) return rc;
    lua_settop(L, members);
  }
  lua_pop(L, 1);
  return GV_OK;
}

/* chair = { appointed, acting, title }, and the chair's title by default. */
static int read_chair(loader *ld, int body, gv_forum *f) {
  lua_State *L = ld->L;
  int rc;
  /* chair: who acts for the chair while none is appointed. */
  snprintf(f->chair_acting, sizeof f->chair_acting, "chair");
  lua_getfield(L, body, "chair");
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TTABLE) return fail(ld, "chair", 0, "chair must be a table like { appointed = false, acting = \"chair\" }");
    int c = lua_gettop(L);
    if ((rc = check_keys(ld, c, chair_keys, "chair")) != GV_OK) return rc;
    lua_getfield(L, c, "appointed");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) return fail(ld, "appointed", 0, "chair.appointed must be true or false");
    f->chair_appointed = lua_toboolean(L, -1);
    lua_getfield(L, c, "acting");
    if (!lua_isnil(L, -1)) {
      const char *a = lua_tostring(L, -1);
      if (lua_type(L, -1) != LUA_TSTRING || (strcmp(a, "chair") != 0 && strcmp(a, "secretariat") != 0))
        return fail(ld, "acting", 0, "chair.acting must be \"chair\" (accounts with the chair role) or \"secretariat\"");
      snprintf(f->chair_acting, sizeof f->chair_acting, "%s", a);
    }
    lua_getfield(L, c, "title");
    if (!lua_isnil(L, -1) && (rc = read_i18n(ld, lua_gettop(L), "title", 0, f, &f->chair_title)) != GV_OK) return rc;
    lua_settop(L, c);
  }
  lua_pop(L, 1);
  if (f->chair_title.n == 0)
    for (int i = 0; i < f->nlanguages; i++)
      gv_i18n_set(&f->chair_title, f->languages[i],
                  strcmp(f->languages[i], "fr") == 0 ? (f->chair_appointed ? "Présidence" : "Présidence par intérim")
                                                     : (f->chair_appointed ? "Chair" : "Acting chair"));
  return GV_OK;
}

/* rules = { agenda_cutoff_days, quorum, min_silence, reminders }, kept also as JSON. */
static int read_rules(loader *ld, int body, gv_forum *f) {
  lua_State *L = ld->L;
  int rc;
  f->rules.min_silence_ms = 72 * 3600 * 1000LL;
  lua_getfield(L, body, "rules");
  json_t *rules = json_object();
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TTABLE) { json_decref(rules); return fail(ld, "rules", 0, "rules must be a table"); }
    int r = lua_gettop(L);
    if ((rc = check_keys(ld, r, rule_keys, "rules")) != GV_OK) { json_decref(rules); return rc; }
    lua_getfield(L, r, "agenda_cutoff_days");
    if (!lua_isnil(L, -1)) {
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 365) {
        json_decref(rules);
        return fail(ld, "agenda_cutoff_days", 0, "agenda_cutoff_days must be a whole number of days from 0 to 365");
      }
      f->rules.agenda_cutoff_days = (int)lua_tointeger(L, -1);
    }
    lua_getfield(L, r, "quorum");
    if (!lua_isnil(L, -1)) {
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > (lua_Integer)f->nmembers) {
        json_decref(rules);
        return fail(ld, "quorum", 0, "quorum must be a number of members from 0 to %zu", f->nmembers);
      }
      f->rules.quorum = (int)lua_tointeger(L, -1);
    }
    lua_getfield(L, r, "min_silence");
    if (!lua_isnil(L, -1) && (rc = read_duration(ld, lua_gettop(L), "min_silence", &f->rules.min_silence_ms)) != GV_OK) {
      json_decref(rules);
      return rc;
    }
    lua_getfield(L, r, "reminders");
    if (!lua_isnil(L, -1)) {
      int rem = lua_gettop(L);
      if (lua_type(L, rem) != LUA_TTABLE) { json_decref(rules); return fail(ld, "reminders", 0, "reminders must be a list of durations such as { \"48h\", \"24h\" }"); }
      for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, rem); i++) {
        lua_rawgeti(L, rem, i);
        if (f->rules.nreminders == GV_MAX_REMINDERS) { json_decref(rules); return fail(ld, "reminders", 0, "at most %d reminders", GV_MAX_REMINDERS); }
        if ((rc = read_duration(ld, lua_gettop(L), "reminders", &f->rules.reminders_ms[f->rules.nreminders])) != GV_OK) {
          json_decref(rules);
          return rc;
        }
        f->rules.nreminders++;
        lua_pop(L, 1);
      }
    }
    lua_settop(L, r);
    json_t *j = gv_lhost_to_json(L, r, ld->err);
    if (j == NULL) { json_decref(rules); return fail(ld, "rules", 0, "rules: %s", ld->err->message); }
    json_decref(rules);
    rules = j;
  }
  lua_pop(L, 1);
  if (!json_object_get(rules, "min_silence")) json_object_set_new(rules, "min_silence", json_string("72h"));
  if (!json_object_get(rules, "agenda_cutoff_days")) json_object_set_new(rules, "agenda_cutoff_days", json_integer(f->rules.agenda_cutoff_days));
  if (!json_object_get(rules, "reminders")) json_object_set_new(rules, "reminders", json_array());
  f->rules.json = json_dumps(rules, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(rules);
  return GV_OK;
}

static int read_forum(loader *ld, int body, const char *id, gv_forum *f) {
  lua_State *L = ld->L;
  int rc;
  if ((rc = check_keys(ld, body, forum_keys, "the forum")) != GV_OK) return rc;
  size_t idlen = strlen(id);
  if (idlen == 0 || idlen >= sizeof f->id) return fail(ld, NULL, ld->line, "the forum id must be 1 to 63 characters");
  for (const char *p = id; *p; p++)
    if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' && *p != '-')
      return fail(ld, NULL, ld->line, "the forum id '%s' may hold only lowercase letters, digits, '-' and '_'", id);
  snprintf(f->id, sizeof f->id, "%s", id);

  /* languages first: texts are checked against them. */
  if ((rc = read_languages(ld, body, f)) != GV_OK) return rc;

  lua_getfield(L, body, "name");
  if (lua_isnil(L, -1)) return fail(ld, NULL, ld->line, "the forum has no name: add name = { en = \"...\", fr = \"...\" }");
  if ((rc = read_i18n(ld, lua_gettop(L), "name", 0, f, &f->name)) != GV_OK) return rc;
  lua_pop(L, 1);

  lua_getfield(L, body, "short_name");
  if (lua_isnil(L, -1)) snprintf(f->short_name, sizeof f->short_name, "%s", f->id);
  else if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0 || lua_rawlen(L, -1) >= sizeof f->short_name ||
           strchr(lua_tostring(L, -1), '/'))
    return fail(ld, "short_name", 0, "short_name must be a short text without '/', like \"MiDIOCC\"");
  else snprintf(f->short_name, sizeof f->short_name, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);

  lua_getfield(L, body, "time_zone");
  if (lua_isnil(L, -1)) return fail(ld, NULL, ld->line, "the forum has no time_zone: add one such as time_zone = \"Indian/Mauritius\"");
  if (lua_type(L, -1) != LUA_TSTRING || !gv_tz_valid(lua_tostring(L, -1)))
    return fail(ld, "time_zone", 0, "time_zone '%s' is not a known time zone (use an IANA name such as \"Indian/Mauritius\")",
                lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
  snprintf(f->time_zone, sizeof f->time_zone, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);

  if ((rc = read_members(ld, body, f)) != GV_OK) return rc;
  if ((rc = read_chair(ld, body, f)) != GV_OK) return rc;
  return read_rules(ld, body, f);
}

typedef struct read_args {
  loader *ld;
  const char *id;
  gv_forum *f;
  int rc;
} read_args;

/* Runs read_forum inside the sandbox's protected call, so metamethods an author put on
 * the tables cannot run without a budget or escape as an unprotected error. */
static int read_forum_protected(lua_State *L) {
  read_args *a = lua_touserdata(L, 1);
  a->ld->L = L;
  a->rc = read_forum(a->ld, 2, a->id, a->f);
  return 0;
}

int gv_forum_load_string(const char *chunkname, const char *source, size_t len, gv_forum **out,
                         gv_error *err) {
  *out = NULL;
  /* Line lookups read the source as a C string: keep a NUL-terminated copy. */
  char *src = gv_malloc(len + 1);
  if (src == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  memcpy(src, source, len);
  src[len] = '\0';
  gv_sandbox_limits lim = {16u << 20, 5000000, 2000};
  gv_sandbox *sb = gv_sandbox_new(&lim);
  if (sb == NULL) {
    free(src);
    return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  }
  lua_State *L = gv_sandbox_lua(sb);
  gv_forum *f = NULL;
  int rc = gv_sandbox_load(sb, chunkname, src, len, err);
  if (rc != GV_OK) {
    if (err) err->code = GV_ECONFIG;
    rc = GV_ECONFIG;
    goto done;
  }
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &FORUMS);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &MEMBER_MT);
  lua_pushcfunction(L, l_forum);
  lua_setfield(L, -2, "forum");
  lua_pushcfunction(L, l_member);
  lua_setfield(L, -2, "member");
  lua_pop(L, 1); /* the environment */
  rc = gv_sandbox_call(sb, 0, 0, err, NULL);
  if (rc != GV_OK) {
    if (err) {
      err->code = GV_ECONFIG;
      if (err->file[0] == '\0') snprintf(err->file, sizeof err->file, "%s", chunkname);
    }
    rc = GV_ECONFIG;
    goto done;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &FORUMS);
  int nforums = (int)lua_rawlen(L, -1);
  if (nforums != 1) {
    rc = gv_error_set_at(err, GV_ECONFIG, chunkname, nforums ? 1 : 0,
                         nforums ? "the file declares %d forums; declare exactly one"
                                 : "the file declares no forum: write forum \"id\" { ... }",
                         nforums);
    if (nforums > 1) {
      lua_rawgeti(L, -1, 2);
      lua_getfield(L, -1, "line");
      if (err) err->line = (int)lua_tointeger(L, -1);
    }
    goto done;
  }
  lua_rawgeti(L, -1, 1);
  int decl = lua_gettop(L);
  lua_getfield(L, decl, "line");
  lua_getfield(L, decl, "id");
  lua_getfield(L, decl, "body");
  loader ld = {L, chunkname, src, (int)lua_tointeger(L, decl + 1), err};
  f = gv_calloc(1, sizeof *f);
  if (f == NULL) { rc = gv_error_set(err, GV_ENOMEM, NULL, NULL); goto done; }
  read_args args = {&ld, lua_tostring(L, decl + 2), f, GV_OK};
  lua_pushcfunction(L, read_forum_protected);
  lua_pushlightuserdata(L, &args);
  lua_pushvalue(L, decl + 3);
  gv_error perr;
  gv_error_clear(&perr);
  if (gv_sandbox_call(sb, 2, 0, &perr, NULL) != GV_OK) {
    rc = gv_error_set_at(err, GV_ECONFIG, perr.file[0] ? perr.file : chunkname, perr.line, "%s", perr.message);
    goto done;
  }
  ld.L = L;
  rc = args.rc;
  if (rc != GV_OK) goto done;
  snprintf(f->source_file, sizeof f->source_file, "%s", chunkname);
  gv_sha256_hex(src, len, f->source_sha256);
  *out = f;
  f = NULL;
done:
  gv_forum_free(f);
  gv_sandbox_free(sb);
  free(src);
  return rc;
}

int gv_forum_load_file(const char *path, gv_forum **out, gv_error *err) {
  *out = NULL;
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) return gv_error_set_at(err, GV_ENOTFOUND, path, 0, "cannot read the forum file");
  char *src = gv_malloc(GV_SANDBOX_MAX_SOURCE + 1);
  size_t n = src ? fread(src, 1, GV_SANDBOX_MAX_SOURCE + 1, fp) : 0;
  fclose(fp);
  if (src == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  int rc = gv_forum_load_string(path, src, n, out, err);
  free(src);
  return rc;
}
