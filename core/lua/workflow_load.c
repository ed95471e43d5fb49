/* Loads a workflow file: runs its declarations in the sandbox, checks them with file:line messages, builds the C model. */
#include "base/crypto.h"
#include "base/alloc.h"
#include "base/time.h"
#include "lua/bridge.h"
#include "lua/sandbox.h"
#include "lua/workflow_internal.h"
#include "model/workflow.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Checking ---------------------------------------------------------------------------- */

/* Like lua_getfield, but raw. Checking runs after the file's code, outside any instruction
 * budget: a metamethod of the author's (an __index that loops or raises) must not run. */
static int rawfield(lua_State *L, int idx, const char *key) {
  idx = lua_absindex(L, idx);
  lua_pushstring(L, key);
  return lua_rawget(L, idx);
}

typedef gv_wfl ld;

static void err_vat(ld *c, const char *file, int line, const char *fmt, va_list ap) {
  if (c->nerrs >= c->maxerrs) {
    c->nerrs++;
    return;
  }
  char msg[480];
  vsnprintf(msg, sizeof msg, fmt, ap);
  gv_error_set_at(&c->errs[c->nerrs++], GV_ECONFIG, file, line, "%s", msg);
}

static void err_at(ld *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_at(ld *c, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  err_vat(c, c->file, line, fmt, ap);
  va_end(ap);
}

/* An error raised while running code: in the file or module the sandbox named. */
static void err_run(ld *c, const gv_error *e) {
  if (c->nerrs >= c->maxerrs) {
    c->nerrs++;
    return;
  }
  gv_error_set_at(&c->errs[c->nerrs++], GV_ECONFIG, e->file[0] ? e->file : c->file, e->line, "%s", e->message);
}

/* The line of field key inside the declaration at idx (searched from its own line). */
static int field_line(ld *c, int idx, const char *key) {
  rawfield(c->L, idx, "__line");
  int line = (int)lua_tointeger(c->L, -1);
  lua_pop(c->L, 1);
  return key ? gv_lhost_key_line(c->src, key, line) : line;
}

static int decl_line(ld *c, int idx) { return field_line(c, idx, NULL); }

/* The loader's allocations: a NULL raises "not enough memory", a Lua error that the
 * protected call around the reading reports like any mistake (what was read so far is
 * owned by the workflow, which gv_workflow_free releases). */
static void *need_mem(lua_State *L, void *p) {
  if (p == NULL) luaL_error(L, "not enough memory");
  return p;
}

/* Makes room for one more element in arr (cap of them, n used), doubling cap. */
#define GROW(L, arr, cap, n)                                                      \
  do {                                                                            \
    if ((n) == (cap)) {                                                           \
      void *grown_ = need_mem((L), gv_realloc((arr), (cap) * 2 * sizeof *(arr))); \
      (arr) = grown_;                                                             \
      (cap) *= 2;                                                                 \
    }                                                                             \
  } while (0)

static char *dup_field(lua_State *L, int idx, const char *key) {
  rawfield(L, idx, key);
  char *s = lua_type(L, -1) == LUA_TSTRING ? need_mem(L, gv_strdup(lua_tostring(L, -1))) : NULL;
  lua_pop(L, 1);
  return s;
}

/* Reports string keys of the table at idx that are not in allowed (ignores __ keys). */
static void check_fields(ld *c, int idx, const char *const *allowed, const char *what) {
  lua_State *L = c->L;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    const char *k = lua_tostring(L, -1);
    if (strncmp(k, "__", 2) == 0) continue;
    int ok = 0;
    for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, k) == 0;
    if (!ok) {
      const char *s = gv_lhost_suggest(k, allowed);
      char hint[200] = "";
      if (s) snprintf(hint, sizeof hint, " (did you mean '%s'?)", s);
      else {
        size_t used = 0;
        used += (size_t)snprintf(hint, sizeof hint, " (allowed: ");
        for (const char *const *a = allowed; *a && used + 20 < sizeof hint; a++)
          used += (size_t)snprintf(hint + used, sizeof hint - used, "%s%s", a == allowed ? "" : ", ", *a);
        snprintf(hint + used, sizeof hint - used, ")");
      }
      err_at(c, field_line(c, idx, k), "unknown field '%s' in %s%s", k, what, hint);
    }
  }
}

/* Reads a string or list of strings at the field; returns count, sets *out (owned). */
static size_t string_list(ld *c, int idx, const char *key, char ***out, const char *what) {
  lua_State *L = c->L;
  *out = NULL;
  rawfield(L, idx, key);
  size_t n = 0;
  if (lua_type(L, -1) == LUA_TSTRING) {
    char **list = need_mem(L, gv_calloc(1, sizeof *list));
    if ((list[0] = gv_strdup(lua_tostring(L, -1))) == NULL) {
      free(list);
      luaL_error(L, "not enough memory");
    }
    *out = list;
    n = 1;
  } else if (lua_type(L, -1) == LUA_TTABLE) {
    size_t len = lua_rawlen(L, -1);
    char **list = need_mem(L, gv_calloc(len ? len : 1, sizeof *list));
    for (size_t i = 1; i <= len; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i);
      if (lua_type(L, -1) != LUA_TSTRING) {
        err_at(c, field_line(c, idx, key), "%s: %s must list names in quotes", what, key);
      } else if ((list[n] = gv_strdup(lua_tostring(L, -1))) == NULL) {
        while (n > 0) free(list[--n]);
        free(list);
        luaL_error(L, "not enough memory");
      } else {
        n++;
      }
      lua_pop(L, 1);
    }
    *out = list;
  } else if (!lua_isnil(L, -1)) {
    err_at(c, field_line(c, idx, key), "%s: %s must be a name in quotes or a list of them", what, key);
  }
  lua_pop(L, 1);
  return n;
}

static void free_list(char **l, size_t n) {
  for (size_t i = 0; i < n; i++) free(l[i]);
  free(l);
}

static int read_i18n(ld *c, int idx, gv_i18n *t) {
  lua_State *L = c->L;
  if (lua_type(L, idx) == LUA_TSTRING) {
    for (int i = 0; i < c->f->nlanguages; i++) gv_i18n_set(t, c->f->languages[i], lua_tostring(L, idx));
    return 1;
  }
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
      gv_i18n_set(t, lua_tostring(L, -2), lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return t->n > 0;
}

static void free_param(gv_param *p);

static void read_param(ld *c, int idx, const char *name, gv_param *p, const char *where);

/* Reads the fields of an object type (string keys whose values are params). */
static void read_object_fields(ld *c, int idx, gv_param *p, const char *where) {
  lua_State *L = c->L;
  size_t cap = 8;
  p->fields = need_mem(L, gv_calloc(cap, sizeof *p->fields));
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING && strncmp(lua_tostring(L, -2), "__", 2) != 0) {
      const char *k = lua_tostring(L, -2);
      if (strcmp(k, "required") != 0 && strcmp(k, "label") != 0) {
        GROW(L, p->fields, cap, p->nfields);
        memset(&p->fields[p->nfields], 0, sizeof p->fields[0]);
        read_param(c, lua_gettop(L), k, &p->fields[p->nfields++], where);
      }
    }
    lua_pop(L, 1);
  }
}

static void read_param(ld *c, int idx, const char *name, gv_param *p, const char *where) {
  lua_State *L = c->L;
  idx = lua_absindex(L, idx);
  p->name = need_mem(L, gv_strdup(name));
  int line = gv_lhost_key_line(c->src, name, 1);
  /* A bare constructor (text instead of text {}) is accepted; no other function is run. */
  if (gv_wfl_is_ptype(L, idx)) {
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK || !gv_wfl_is_decl(L, -1, "param")) {
      lua_pop(L, 1);
      err_at(c, line, "%s: parameter '%s' has an unknown type; use one of str, text, enum, integer, boolean, "
             "time, member, item_ref, meeting_ref, list, object", where, name);
      return;
    }
    lua_replace(L, idx);
  }
  if (!gv_wfl_is_decl(L, idx, "param")) {
    const char *given = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : luaL_typename(L, idx);
    err_at(c, line, "%s: parameter '%s' has an unknown type '%s'; declare it with one of str, text, enum, "
           "integer, boolean, time, member, item_ref, meeting_ref, list, object, e.g. %s = text { required = true }",
           where, name, given, name);
    return;
  }
  line = decl_line(c, idx);
  p->line = line;
  rawfield(L, idx, "__name");
  p->type = gv_wfl_ptype_of(lua_tostring(L, -1));
  const char *tname = lua_tostring(L, -1);
  lua_pop(L, 1);
  static const char *const common[] = {"required", "label", "default", NULL};
  static const char *const o_str[] = {"required", "label", "default", "min", "max", NULL};
  static const char *const o_enum[] = {"required", "label", "default", "from", NULL};
  static const char *const o_int[] = {"required", "label", "default", "min", "max", NULL};
  static const char *const o_time[] = {"required", "label", "default", "after", NULL};
  static const char *const o_item[] = {"required", "label", "workflow", NULL};
  static const char *const o_list[] = {"required", "label", "of", "min", "max", "unique", NULL};
  const char *const *allowed = common;
  switch (p->type) {
    case GV_PT_STRING: case GV_PT_TEXT: allowed = o_str; break;
    case GV_PT_ENUM: allowed = o_enum; break;
    case GV_PT_INTEGER: allowed = o_int; break;
    case GV_PT_TIME: allowed = o_time; break;
    case GV_PT_ITEM: allowed = o_item; break;
    case GV_PT_LIST: allowed = o_list; break;
    case GV_PT_OBJECT: allowed = NULL; break;
    default: break;
  }
  char what[160];
  snprintf(what, sizeof what, "%s, parameter '%s' (%s)", where, name, tname);
  if (allowed) check_fields(c, idx, allowed, what);
  rawfield(L, idx, "required");
  p->required = lua_toboolean(L, -1);
  lua_pop(L, 1);
  rawfield(L, idx, "label");
  read_i18n(c, lua_gettop(L), &p->label);
  lua_pop(L, 1);
  if (p->type == GV_PT_STRING || p->type == GV_PT_TEXT || p->type == GV_PT_INTEGER || p->type == GV_PT_LIST) {
    rawfield(L, idx, "min");
    if (!lua_isnil(L, -1)) {
      if (!lua_isinteger(L, -1)) err_at(c, field_line(c, idx, "min"), "%s: min must be a whole number", what);
      p->has_min = 1;
      p->min = lua_tointeger(L, -1);
    }
    rawfield(L, idx, "max");
    if (!lua_isnil(L, -1)) {
      if (!lua_isinteger(L, -1)) err_at(c, field_line(c, idx, "max"), "%s: max must be a whole number", what);
      p->has_max = 1;
      p->max = lua_tointeger(L, -1);
    }
    lua_pop(L, 2);
  }
  if (p->type == GV_PT_ENUM) {
    size_t n = lua_rawlen(L, idx);
    p->values = need_mem(L, gv_calloc(n ? n : 1, sizeof *p->values));
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, (lua_Integer)i);
      if (lua_type(L, -1) == LUA_TSTRING) p->values[p->nvalues++] = need_mem(L, gv_strdup(lua_tostring(L, -1)));
      else err_at(c, line, "%s: enum values must be names in quotes", what);
      lua_pop(L, 1);
    }
    p->values_from = dup_field(L, idx, "from");
    if (p->nvalues == 0 && p->values_from == NULL)
      err_at(c, line, "%s: an enum needs its values, e.g. enum { \"yes\", \"no\" }, or from = \"field\"", what);
  }
  if (p->type == GV_PT_TIME) {
    char *after = dup_field(L, idx, "after");
    if (after && strcmp(after, "now") != 0) err_at(c, field_line(c, idx, "after"), "%s: after may only be \"now\"", what);
    p->after_now = after != NULL;
    free(after);
  }
  if (p->type == GV_PT_ITEM) p->workflow = dup_field(L, idx, "workflow");
  if (p->type == GV_PT_LIST) {
    rawfield(L, idx, "unique");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) err_at(c, field_line(c, idx, "unique"), "%s: unique must be true or false", what);
    p->unique = lua_toboolean(L, -1);
    lua_pop(L, 1);
    rawfield(L, idx, "of");
    if (!lua_isnil(L, -1)) {
      p->of = need_mem(L, gv_calloc(1, sizeof *p->of));
      read_param(c, lua_gettop(L), "of", p->of, what);
    }
    lua_pop(L, 1);
  }
  if (p->type == GV_PT_OBJECT) read_object_fields(c, idx, p, what);
  rawfield(L, idx, "default");
  if (!lua_isnil(L, -1)) {
    gv_error e;
    p->def = gv_lhost_to_json(L, -1, &e);
    if (p->def == NULL) err_at(c, field_line(c, idx, "default"), "%s: default: %s", what, e.message);
  }
  lua_pop(L, 1);
}

static void read_params(ld *c, int idx, gv_action *a, const char *where) {
  lua_State *L = c->L;
  rawfield(L, idx, "params");
  int t = lua_gettop(L);
  if (lua_isnil(L, t)) {
    lua_pop(L, 1);
    return;
  }
  if (lua_type(L, t) != LUA_TTABLE) {
    err_at(c, field_line(c, idx, "params"), "%s: params must be a table of name = type", where);
    lua_pop(L, 1);
    return;
  }
  size_t cap = 8;
  a->params = need_mem(L, gv_calloc(cap, sizeof *a->params));
  /* Keep the source order: collect names, then sort them by the line they appear on. */
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      err_at(c, field_line(c, idx, "params"), "%s: every parameter needs a name (name = type)", where);
    } else {
      GROW(L, a->params, cap, a->nparams);
      memset(&a->params[a->nparams], 0, sizeof a->params[0]);
      read_param(c, lua_gettop(L), lua_tostring(L, -2), &a->params[a->nparams++], where);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  /* Order parameters as written (their declaration lines), for forms. */
  for (size_t i = 1; i < a->nparams; i++)
    for (size_t j = i; j > 0 && a->params[j - 1].line > a->params[j].line; j--) {
      gv_param tmp = a->params[j];
      a->params[j] = a->params[j - 1];
      a->params[j - 1] = tmp;
    }
}

static unsigned read_by(ld *c, int idx, const char *where, int line) {
  char **by;
  size_t n = string_list(c, idx, "by", &by, where);
  unsigned bits = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(by[i], "secretariat") == 0) bits |= GV_BY_SECRETARIAT;
    else if (strcmp(by[i], "chair") == 0) bits |= GV_BY_CHAIR;
    else if (strcmp(by[i], "delegate") == 0) bits |= GV_BY_DELEGATE;
    else if (strcmp(by[i], "proposer") == 0) bits |= GV_BY_PROPOSER;
    else if (strcmp(by[i], "engine") == 0) {
    } else if (strcmp(by[i], "observer") == 0)
      err_at(c, field_line(c, idx, "by"), "%s: observers never act; remove \"observer\" from by", where);
    else {
      static const char *const roles[] = {"secretariat", "chair", "delegate", "proposer", "engine", NULL};
      const char *s = gv_lhost_suggest(by[i], roles);
      err_at(c, field_line(c, idx, "by"), "%s: unknown role '%s'%s%s%s", where, by[i],
             s ? " (did you mean '" : "; use secretariat, chair, delegate, proposer or engine",
             s ? s : "", s ? "'?)" : "");
    }
  }
  free_list(by, n);
  if (n == 0) err_at(c, line, "%s: say who may take it, e.g. by = \"secretariat\" (or by = \"engine\" for timers only)", where);
  return bits;
}

static int ref_function(ld *c, int idx, const char *key, const char *where) {
  lua_State *L = c->L;
  rawfield(L, idx, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return -1;
  }
  if (lua_type(L, -1) != LUA_TFUNCTION) {
    err_at(c, field_line(c, idx, key), "%s: %s must be a function", where, key);
    lua_pop(L, 1);
    return -1;
  }
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

static unsigned read_notify(ld *c, int idx, const char *where) {
  char **l;
  size_t n = string_list(c, idx, "notify", &l, where);
  unsigned bits = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(l[i], "all") == 0) bits |= GV_NOTIFY_ALL;
    else if (strcmp(l[i], "secretariat") == 0) bits |= GV_NOTIFY_SECRETARIAT;
    else if (strcmp(l[i], "chair") == 0) bits |= GV_NOTIFY_CHAIR;
    else if (strcmp(l[i], "members") == 0) bits |= GV_NOTIFY_MEMBERS;
    else if (strcmp(l[i], "proposer") == 0) bits |= GV_NOTIFY_PROPOSER;
    else err_at(c, field_line(c, idx, "notify"), "%s: unknown audience '%s' (use all, secretariat, chair, members or proposer)", where, l[i]);
  }
  free_list(l, n);
  return bits;
}

static void read_action(ld *c, int idx, gv_action *a, int is_create) {
  lua_State *L = c->L;
  int line = decl_line(c, idx);
  a->line = line;
  a->run_ref = -1;
  char where[160];
  if (is_create) {
    a->name = dup_field(L, idx, "name");
    if (a->name == NULL) a->name = need_mem(L, gv_strdup("create"));
    snprintf(where, sizeof where, "create");
    static const char *const allowed[] = {"name", "label", "by", "params", "to", "run", "notify", NULL};
    check_fields(c, idx, allowed, "create");
  } else {
    a->name = dup_field(L, idx, "__name");
    snprintf(where, sizeof where, "action '%s'", a->name);
    static const char *const allowed[] = {"label", "by", "from", "to", "params", "run", "sealed", "deadline", "notify", NULL};
    check_fields(c, idx, allowed, where);
  }
  rawfield(L, idx, "label");
  if (!read_i18n(c, lua_gettop(L), &a->label))
    for (int i = 0; i < c->f->nlanguages; i++) gv_i18n_set(&a->label, c->f->languages[i], a->name);
  lua_pop(L, 1);
  a->by = read_by(c, idx, where, line);
  a->from_line = field_line(c, idx, "from");
  a->to_line = field_line(c, idx, "to");
  if (!is_create) {
    a->nfrom = string_list(c, idx, "from", &a->from, where);
    if (a->nfrom == 0)
      err_at(c, line, "%s has no from-state: add from = \"state\" (or a list of states) saying when it may be taken", where);
  }
  rawfield(L, idx, "to");
  a->to_fixed = lua_type(L, -1) == LUA_TSTRING;
  lua_pop(L, 1);
  a->nto = string_list(c, idx, "to", &a->to, where);
  if (is_create && a->nto != 1) err_at(c, line, "create: say which state a new item starts in, e.g. to = \"open\"");
  if (is_create) a->to_fixed = 1;
  read_params(c, idx, a, where);
  a->run_ref = ref_function(c, idx, "run", where);
  rawfield(L, idx, "sealed");
  a->sealed = lua_toboolean(L, -1);
  lua_pop(L, 1);
  a->deadline = dup_field(L, idx, "deadline");
  a->notify = read_notify(c, idx, where);
}

static void free_action(gv_action *a) {
  free(a->name);
  gv_i18n_free(&a->label);
  free_list(a->from, a->nfrom);
  free_list(a->to, a->nto);
  for (size_t i = 0; i < a->nparams; i++) free_param(&a->params[i]);
  free(a->params);
  free(a->deadline);
  gv_i18n_free(&a->history);
}

static void free_param(gv_param *p) {
  free(p->name);
  free_list(p->values, p->nvalues);
  free(p->values_from);
  json_decref(p->def);
  free(p->workflow);
  if (p->of) {
    free_param(p->of);
    free(p->of);
  }
  for (size_t i = 0; i < p->nfields; i++) free_param(&p->fields[i]);
  free(p->fields);
  gv_i18n_free(&p->label);
}

void gv_workflow_free(gv_workflow *w) {
  if (w == NULL) return;
  free(w->name);
  gv_i18n_free(&w->title);
  free(w->path);
  free(w->source);
  for (size_t i = 0; i < w->nstates; i++) {
    free(w->states[i].name);
    gv_i18n_free(&w->states[i].label);
  }
  free(w->states);
  free_action(&w->create);
  for (size_t i = 0; i < w->nactions; i++) free_action(&w->actions[i]);
  free(w->actions);
  for (size_t i = 0; i < w->ntimers; i++) {
    free(w->timers[i].name);
    free_list(w->timers[i].from, w->timers[i].nfrom);
    free(w->timers[i].at_field);
    free(w->timers[i].fire);
  }
  free(w->timers);
  for (size_t i = 0; i < w->nreminds; i++) {
    free(w->reminds[i].timer);
    free(w->reminds[i].to);
  }
  free(w->reminds);
  free_list(w->reservation_stances, w->nreservation_stances);
  gv_wfl_free_procedure(w);
  json_decref(w->modules);
  gv_sandbox_free(w->lua);
  free(w);
}

static int has_state(const gv_workflow *w, const char *s) { return gv_workflow_state(w, s) != NULL; }

/* Cross-checks: states named by actions and timers exist, timers fire existing actions. */
static void cross_check(ld *c, const gv_workflow *w) {
  const gv_action *all[1 + 256];
  size_t n = 0;
  /* A missing create (already reported) has no name: leave it out. */
  if (w->create.name) all[n++] = &w->create;
  for (size_t i = 0; i < w->nactions && n < 257; i++)
    if (w->actions[i].name) all[n++] = &w->actions[i];
  for (size_t i = 0; i < n; i++) {
    const gv_action *a = all[i];
    for (size_t j = 0; j < a->nfrom; j++)
      if (!has_state(w, a->from[j]))
        err_at(c, a->from_line, "action '%s' is taken from state '%s', which the workflow does not declare in states", a->name, a->from[j]);
    for (size_t j = 0; j < a->nto; j++)
      if (!has_state(w, a->to[j]))
        err_at(c, a->to_line, "%s '%s' leads to state '%s', which the workflow does not declare in states (add it to states or fix the name)",
               a == &w->create ? "create" : "action", a->name, a->to[j]);
    if (a->deadline && gv_workflow_timer(w, a->deadline) == NULL)
      err_at(c, a->line, "action '%s' has deadline = \"%s\", but no timer has that name", a->name, a->deadline);
    for (size_t j = 0; j < i; j++)
      if (strcmp(all[j]->name, a->name) == 0) err_at(c, a->line, "action '%s' is declared twice (first on line %d)", a->name, all[j]->line);
  }
  for (size_t i = 0; i < w->ntimers; i++) {
    const gv_timer_decl *t = &w->timers[i];
    const gv_action *a = t->fire ? gv_workflow_action(w, t->fire) : NULL;
    if (t->fire == NULL) err_at(c, t->line, "timer '%s' does not say which action it fires: add fire = \"action\"", t->name);
    else if (a == NULL) err_at(c, t->fire_line, "timer '%s' fires action '%s', which the workflow does not declare (declare action \"%s\" or fix the name)", t->name, t->fire, t->fire);
    for (size_t j = 0; j < t->nfrom; j++)
      if (!has_state(w, t->from[j])) err_at(c, t->line, "timer '%s' runs in state '%s', which the workflow does not declare", t->name, t->from[j]);
    if (t->nfrom == 0) err_at(c, t->line, "timer '%s' needs from = \"state\": the states in which it runs", t->name);
    if (t->at_field == NULL && t->at_ref < 0) err_at(c, t->line, "timer '%s' needs at = \"field\" (a time in the item's data) or a function", t->name);
    for (size_t j = 0; j < i; j++)
      if (strcmp(w->timers[j].name, t->name) == 0) err_at(c, t->line, "timer '%s' is declared twice", t->name);
  }
  for (size_t i = 0; i < w->nreminds; i++)
    if (w->reminds[i].timer == NULL || gv_workflow_timer(w, w->reminds[i].timer) == NULL)
      err_at(c, w->reminds[i].line, "remind refers to timer '%s', which the workflow does not declare",
             w->reminds[i].timer ? w->reminds[i].timer : "(none)");
  for (size_t i = 0; i < w->nstates; i++)
    for (size_t j = 0; j < i; j++)
      if (strcmp(w->states[i].name, w->states[j].name) == 0) err_at(c, 0, "state '%s' is listed twice", w->states[i].name);
}

static void read_timer(ld *c, int idx, gv_timer_decl *t) {
  lua_State *L = c->L;
  t->line = decl_line(c, idx);
  t->name = dup_field(L, idx, "__name");
  t->at_ref = -1;
  char where[128];
  snprintf(where, sizeof where, "timer '%s'", t->name);
  static const char *const allowed[] = {"at", "from", "fire", NULL};
  check_fields(c, idx, allowed, where);
  t->nfrom = string_list(c, idx, "from", &t->from, where);
  t->fire = dup_field(L, idx, "fire");
  t->fire_line = field_line(c, idx, "fire");
  rawfield(L, idx, "at");
  if (lua_type(L, -1) == LUA_TSTRING) {
    t->at_field = need_mem(L, gv_strdup(lua_tostring(L, -1)));
    lua_pop(L, 1);
  } else if (lua_type(L, -1) == LUA_TFUNCTION) {
    t->at_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else {
    lua_pop(L, 1);
  }
}

static void read_remind(ld *c, int idx, gv_remind_decl *r) {
  lua_State *L = c->L;
  r->line = decl_line(c, idx);
  static const char *const allowed[] = {"timer", "before", "to", NULL};
  check_fields(c, idx, allowed, "remind");
  r->timer = dup_field(L, idx, "timer");
  r->to = dup_field(L, idx, "to");
  if (r->to == NULL) r->to = need_mem(L, gv_strdup("states_not_answered"));
  if (strcmp(r->to, "states_not_answered") != 0 && strcmp(r->to, "members") != 0)
    err_at(c, field_line(c, idx, "to"), "remind: to must be \"states_not_answered\" or \"members\"");
  char **before;
  size_t n = string_list(c, idx, "before", &before, "remind");
  for (size_t i = 0; i < n; i++) {
    if (r->nbefore == 8 || gv_duration_parse(before[i], &r->before[r->nbefore]) != GV_OK)
      err_at(c, field_line(c, idx, "before"), "remind: '%s' is not a duration such as \"48h\"", before[i]);
    else
      r->nbefore++;
  }
  free_list(before, n);
  if (n == 0) err_at(c, r->line, "remind needs before = { \"48h\", \"24h\" } (or forum.rules.reminders)");
}

static void read_workflow(ld *c, int body) {
  lua_State *L = c->L;
  gv_workflow *w = c->w;
  static const char *const allowed[] = {"title", "description", "states", "labels", "positions", "reservations", NULL};
  char where[128];
  snprintf(where, sizeof where, "workflow '%s'", w->name);
  check_fields(c, body, allowed, where);
  rawfield(L, body, "title");
  if (!read_i18n(c, lua_gettop(L), &w->title))
    for (int i = 0; i < c->f->nlanguages; i++) gv_i18n_set(&w->title, c->f->languages[i], w->name);
  lua_pop(L, 1);
  rawfield(L, body, "positions");
  w->has_positions = lua_toboolean(L, -1);
  lua_pop(L, 1);
  w->nreservation_stances = string_list(c, body, "reservations", &w->reservation_stances, where);
  char **states;
  w->nstates = string_list(c, body, "states", &states, where);
  if (w->nstates == 0) err_at(c, decl_line(c, body), "%s has no states: add states = { \"open\", \"closed\" }", where);
  if ((w->states = gv_calloc(w->nstates ? w->nstates : 1, sizeof *w->states)) == NULL) {
    for (size_t i = 0; i < w->nstates; i++) free(states[i]);
    free(states);
    w->nstates = 0;
    luaL_error(L, "not enough memory");
  }
  rawfield(L, body, "labels");
  int labels = lua_gettop(L);
  for (size_t i = 0; i < w->nstates; i++) {
    w->states[i].name = states[i];
    w->states[i].on_enter_ref = -1;
    int have = 0;
    if (lua_type(L, labels) == LUA_TTABLE) {
      rawfield(L, labels, states[i]);
      have = read_i18n(c, lua_gettop(L), &w->states[i].label);
      lua_pop(L, 1);
    }
    if (!have)
      for (int l = 0; l < c->f->nlanguages; l++) gv_i18n_set(&w->states[i].label, c->f->languages[l], states[i]);
  }
  lua_pop(L, 1);
  free(states);
  /* The declarations in the body's list part. */
  size_t n = lua_rawlen(L, body);
  w->actions = need_mem(L, gv_calloc(n ? n : 1, sizeof *w->actions));
  w->timers = need_mem(L, gv_calloc(n ? n : 1, sizeof *w->timers));
  w->reminds = need_mem(L, gv_calloc(n ? n : 1, sizeof *w->reminds));
  int have_create = 0;
  size_t later[16], nlater = 0; /* record, agenda, history: read once actions are known */
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, body, (lua_Integer)i);
    int d = lua_gettop(L);
    if (!gv_wfl_is_decl(L, d, NULL) || gv_wfl_is_decl(L, d, "param")) {
      err_at(c, decl_line(c, body), "%s: entry %zu is not a declaration (create, action, timer, remind or on_enter)%s",
             where, i, lua_type(L, d) == LUA_TFUNCTION ? "; a name was given but its { ... } is missing" : "");
      lua_pop(L, 1);
      continue;
    }
    rawfield(L, d, "__kind");
    const char *kind = lua_tostring(L, -1);
    if (strcmp(kind, "create") == 0) {
      if (have_create) err_at(c, decl_line(c, d), "%s: create is declared twice", where);
      else read_action(c, d, &w->create, 1);
      have_create = 1;
    } else if (strcmp(kind, "action") == 0) {
      read_action(c, d, &w->actions[w->nactions++], 0);
    } else if (strcmp(kind, "timer") == 0) {
      read_timer(c, d, &w->timers[w->ntimers++]);
    } else if (strcmp(kind, "remind") == 0) {
      read_remind(c, d, &w->reminds[w->nreminds++]);
    } else if (strcmp(kind, "on_enter") == 0) {
      rawfield(L, d, "__name");
      const char *st = lua_tostring(L, -1);
      gv_state_decl *sd = (gv_state_decl *)gv_workflow_state(w, st);
      static const char *const oe[] = {"run", NULL};
      check_fields(c, d, oe, "on_enter");
      if (sd == NULL) err_at(c, decl_line(c, d), "on_enter names state '%s', which the workflow does not declare", st);
      else sd->on_enter_ref = ref_function(c, d, "run", "on_enter");
      lua_pop(L, 1);
    } else if (strcmp(kind, "workflow") == 0) {
      err_at(c, decl_line(c, d), "a workflow cannot contain another workflow");
    } else if (nlater < sizeof later / sizeof later[0]) {
      later[nlater++] = i;
    }
    lua_settop(L, d - 1);
  }
  for (size_t k = 0; k < nlater; k++) {
    lua_rawgeti(L, body, (lua_Integer)later[k]);
    int d = lua_gettop(L);
    rawfield(L, d, "__kind");
    const char *kind = lua_tostring(L, -1);
    if (strcmp(kind, "record") == 0) gv_wfl_read_record(c, d);
    else if (strcmp(kind, "agenda") == 0) gv_wfl_read_agenda(c, d);
    else gv_wfl_read_history(c, d);
    lua_settop(L, d - 1);
  }
  if (!have_create) {
    err_at(c, decl_line(c, body), "%s has no create { ... }: say who may create an item, with which params and initial state", where);
    w->create.run_ref = -1;
  }
}

/* Reads the one workflow the file declared, checks it and freezes it: run under
 * gv_sandbox_call with the loader context as argument. */
static int check_declarations(lua_State *L) {
  ld *c = lua_touserdata(L, 1);
  gv_workflow *w = c->w;
  gv_wfl_push_declared(L);
  int nw = (int)lua_rawlen(L, -1);
  if (nw != 1) {
    err_at(c, 0, nw ? "the file declares %d workflows; declare exactly one per file"
                    : "the file declares no workflow: write workflow \"name\" { ... }", nw);
    return 0;
  }
  lua_rawgeti(L, -1, 1);
  int body = lua_gettop(L);
  w->name = dup_field(L, body, "__name");
  read_workflow(c, body);
  cross_check(c, w);
  if (c->nerrs == 0) {
    /* Freeze everything the workflow's functions can reach, so no action can leave
     * state behind for the next one. */
    gv_error e;
    if (gv_sandbox_freeze(gv_sandbox_of(L), body, &e) != GV_OK) err_at(c, 0, "%s", e.message);
  }
  return 0;
}

int gv_workflow_load(const char *path, const char *src, size_t len, const gv_forum *f, gv_workflow **out,
                     gv_error *errs, size_t maxerrs, size_t *nerrs) {
  return gv_workflow_load_limited(path, src, len, f, NULL, out, errs, maxerrs, nerrs);
}

int gv_workflow_load_limited(const char *path, const char *src, size_t len, const gv_forum *f,
                             const gv_sandbox_limits *limits, gv_workflow **out, gv_error *errs, size_t maxerrs,
                             size_t *nerrs) {
  gv_workflow_env env = {0};
  env.limits = limits;
  return gv_workflow_load_env(path, src, len, f, &env, out, errs, maxerrs, nerrs);
}

int gv_workflow_load_env(const char *path, const char *src, size_t len, const gv_forum *f,
                         const gv_workflow_env *wenv, gv_workflow **out, gv_error *errs, size_t maxerrs,
                         size_t *nerrs) {
  const gv_sandbox_limits *limits = wenv ? wenv->limits : NULL;
  *out = NULL;
  *nerrs = 0;
  ld c = {0};
  c.file = path;
  /* Line lookups read the source as a C string: keep a NUL-terminated copy. */
  char *text = gv_malloc(len + 1);
  if (text == NULL) {
    if (maxerrs) gv_error_set_at(&errs[0], GV_ENOMEM, path, 0, "out of memory");
    *nerrs = 1;
    return GV_ENOMEM;
  }
  memcpy(text, src, len);
  text[len] = '\0';
  c.src = text;
  c.f = f;
  c.errs = errs;
  c.maxerrs = maxerrs;
  c.env = wenv;
  if (wenv && wenv->lib_dir) snprintf(c.lib_dir, sizeof c.lib_dir, "%s", wenv->lib_dir);
  else gv_wfl_default_lib_dir(path, c.lib_dir, sizeof c.lib_dir);
  gv_sandbox *sb = gv_sandbox_new(limits);
  gv_workflow *w = sb ? gv_calloc(1, sizeof *w) : NULL;
  if (w == NULL) {
    gv_sandbox_free(sb);
    free(text);
    if (maxerrs) gv_error_set_at(&errs[0], GV_ENOMEM, path, 0, "out of memory");
    *nerrs = 1;
    return GV_ENOMEM;
  }
  lua_State *L = gv_sandbox_lua(sb);
  c.L = L;
  w->lua = sb;
  w->create.run_ref = -1;
  c.w = w;
  gv_error e;
  gv_error_clear(&e);
  if (gv_sandbox_load(sb, path, src, len, &e) != GV_OK) {
    err_run(&c, &e);
    goto done;
  }
  int env = lua_gettop(L);
  lua_pushcfunction(L, gv_wfl_prepare_env_protected);
  lua_pushvalue(L, env);
  lua_pushlightuserdata(L, &c);
  if (gv_sandbox_call(sb, 2, 0, &e, NULL) != GV_OK) {
    err_run(&c, &e);
    goto done;
  }
  lua_pop(L, 1); /* env */
  int ran = gv_sandbox_call(sb, 0, 0, &e, NULL);
  /* Modules are used while the file loads, never by actions. */
  gv_wfl_modules_done(L);
  if (ran != GV_OK) {
    err_run(&c, &e);
    goto done;
  }
  /* Checking and freezing allocate in the state, which the file may have filled up to its
   * cap: a memory error there must be reported, not unwind to a panic. */
  lua_pushcfunction(L, check_declarations);
  lua_pushlightuserdata(L, &c);
  if (gv_sandbox_call(sb, 1, 0, &e, NULL) != GV_OK) err_run(&c, &e);
  lua_settop(L, 0);
  /* Declarations made later, by actions, must not pile up in the registry. */
  gv_wfl_forget_declared(L);
done:
  *nerrs = c.nerrs < maxerrs ? c.nerrs : maxerrs;
  if (c.nerrs > 0) {
    free(text);
    json_decref(c.used);
    gv_workflow_free(w);
    return GV_ECONFIG;
  }
  w->source = text;
  w->source_len = len;
  w->modules = c.used;
  if ((w->path = gv_strdup(path)) == NULL) {
    if (maxerrs) gv_error_set_at(&errs[0], GV_ENOMEM, path, 0, "out of memory");
    *nerrs = maxerrs ? 1 : 0;
    gv_workflow_free(w);
    return GV_ENOMEM;
  }
  if (gv_wfl_hash(src, len, w->modules, w->sha256) != GV_OK) {
    if (maxerrs) gv_error_set_at(&errs[0], GV_ENOMEM, path, 0, "out of memory");
    *nerrs = maxerrs ? 1 : 0;
    gv_workflow_free(w);
    return GV_ENOMEM;
  }
  lua_gc(L, LUA_GCCOLLECT);
  *out = w;
  return GV_OK;
}

int gv_workflow_load_file(const char *path, const gv_forum *f, const gv_workflow_env *env, gv_workflow **out,
                          gv_error *errs, size_t maxerrs, size_t *nerrs) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    *out = NULL;
    if (maxerrs) gv_error_set_at(&errs[0], GV_ENOTFOUND, path, 0, "cannot read the file");
    *nerrs = 1;
    return GV_ENOTFOUND;
  }
  char *src = gv_malloc(GV_SANDBOX_MAX_SOURCE + 1);
  size_t n = src ? fread(src, 1, GV_SANDBOX_MAX_SOURCE + 1, fp) : 0;
  fclose(fp);
  if (src == NULL) {
    *out = NULL;
    if (maxerrs) gv_error_set_at(&errs[0], GV_ENOMEM, path, 0, "out of memory");
    *nerrs = 1;
    return GV_ENOMEM;
  }
  int rc = gv_workflow_load_env(path, src, n, f, env, out, errs, maxerrs, nerrs);
  free(src);
  return rc;
}

/* ---- Helpers shared with the loader's other files (lua/workflow_internal.h) ------------------ */

void gv_wfl_err(ld *c, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  err_vat(c, c->file, line, fmt, ap);
  va_end(ap);
}

void gv_wfl_err_in(ld *c, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  err_vat(c, file, line, fmt, ap);
  va_end(ap);
}

int gv_wfl_rawfield(lua_State *L, int idx, const char *key) { return rawfield(L, idx, key); }
int gv_wfl_field_line(ld *c, int idx, const char *key) { return field_line(c, idx, key); }
void gv_wfl_check_fields(ld *c, int idx, const char *const *allowed, const char *what) {
  check_fields(c, idx, allowed, what);
}
size_t gv_wfl_string_list(ld *c, int idx, const char *key, char ***out, const char *what) {
  return string_list(c, idx, key, out, what);
}
char *gv_wfl_dup_field(lua_State *L, int idx, const char *key) { return dup_field(L, idx, key); }
int gv_wfl_read_i18n(ld *c, int idx, gv_i18n *t) { return read_i18n(c, idx, t); }
void gv_wfl_free_list(char **l, size_t n) { free_list(l, n); }
