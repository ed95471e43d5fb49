/* Shared by the workflow loader's files (workflow_load.c, workflow_env.c, workflow_procedure.c, workflow_modules.c): the load context and its helpers. */
#ifndef GV_WORKFLOW_INTERNAL_H
#define GV_WORKFLOW_INTERNAL_H

#include <lua.h>

#include "model/workflow.h"

/* The state of one load: where errors go, what the file and its modules are. */
typedef struct gv_wfl {
  lua_State *L;
  const char *file;
  const char *src;
  const gv_forum *f;
  gv_error *errs;
  size_t maxerrs;
  size_t nerrs;
  gv_workflow *w;
  const gv_workflow_env *env;
  json_t *used;          /* modules used so far: {name: {path, source}} */
  char lib_dir[512];     /* where `use` reads NAME.lua when no stored modules are given */
} gv_wfl;

/* Reports a mistake at line of the workflow file (errors past maxerrs are only counted). */
void gv_wfl_err(gv_wfl *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same in another file (a module). */
void gv_wfl_err_in(gv_wfl *c, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Raw read of field key of the table at idx; pushes it and returns its type. */
int gv_wfl_rawfield(lua_State *L, int idx, const char *key);
/* The line of field key inside the declaration at idx (its own line if key is NULL). */
int gv_wfl_field_line(gv_wfl *c, int idx, const char *key);
/* Reports string keys of the table at idx not in allowed (a NULL-terminated list). */
void gv_wfl_check_fields(gv_wfl *c, int idx, const char *const *allowed, const char *what);
/* A string or list of strings at field key: count returned, *out owned by the caller. */
size_t gv_wfl_string_list(gv_wfl *c, int idx, const char *key, char ***out, const char *what);
/* A string field's copy (malloc'd) or NULL. */
char *gv_wfl_dup_field(lua_State *L, int idx, const char *key);
/* Reads a string or {lang = text} at idx into t; 0 if there is none. */
int gv_wfl_read_i18n(gv_wfl *c, int idx, gv_i18n *t);
void gv_wfl_free_list(char **l, size_t n);

/* Reads record { ... }, agenda { ... } and history { ... } declarations (at idx) into the
 * workflow, once its states and actions are known. */
void gv_wfl_read_record(gv_wfl *c, int idx);
void gv_wfl_read_agenda(gv_wfl *c, int idx);
void gv_wfl_read_history(gv_wfl *c, int idx);
/* Frees what those declarations hold. */
void gv_wfl_free_procedure(gv_workflow *w);

/* Installs `use "name"` in the environment table at env. It works while c's file loads
 * (modules are run once, in the same sandbox, and remembered in c->used); afterwards it
 * raises an error. */
void gv_wfl_install_use(gv_wfl *c, int env);
/* lib/ beside the workflow file at path: where `use` finds modules by default. */
void gv_wfl_default_lib_dir(const char *path, char *out, size_t size);
/* Forgets the load context: `use` is refused from now on. */
void gv_wfl_modules_done(lua_State *L);
/* ---- The environment (workflow_env.c) ---- */

/* Makes env (a file's or module's environment) ready: declarations, forum, runtime, use,
 * strict globals. The loader calls it for the file, modules for their own env. */
void gv_wfl_prepare_env(gv_wfl *c, int env);
/* A lua_CFunction run protected with the environment table at index 1 and the load
 * context (light userdata) at index 2: starts the list of declared workflows and the
 * declaration mark in the registry, then prepares the environment. */
int gv_wfl_prepare_env_protected(lua_State *L);
/* Whether the value at idx is a declaration (made by a constructor), of kind when kind
 * is not NULL. */
int gv_wfl_is_decl(lua_State *L, int idx, const char *kind);
/* Whether the value at idx is a bare parameter type constructor (text rather than text {}). */
int gv_wfl_is_ptype(lua_State *L, int idx);
/* The parameter type of a constructor's name ("text" is GV_PT_TEXT); 0 when none. */
gv_ptype gv_wfl_ptype_of(const char *name);
/* Pushes the list of workflow declarations made while the file loads (nil once
 * forgotten); returns its type. */
int gv_wfl_push_declared(lua_State *L);
/* Forgets that list, so declarations made later, by actions, do not pile up. */
void gv_wfl_forget_declared(lua_State *L);
/* The version's SHA-256 (hex): of the source alone without modules, else of the source
 * followed by each used module in name order ("\n--@module NAME LEN\n" then its source).
 * Returns GV_OK or GV_ENOMEM. */
int gv_wfl_hash(const char *src, size_t len, const json_t *used, char out[65]);

#endif
