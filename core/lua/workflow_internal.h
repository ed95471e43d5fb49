/* Shared by the workflow loader's files (workflow_load.c, workflow_procedure.c, workflow_modules.c): the load context and its helpers. */
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
/* Makes env (a file's or module's environment) ready: declarations, forum, runtime, use,
 * strict globals. Implemented by workflow_load.c; modules call it for their own env. */
void gv_wfl_prepare_env(gv_wfl *c, int env);
/* The version's SHA-256 (hex): of the source alone without modules, else of the source
 * followed by each used module in name order ("\n--@module NAME LEN\n" then its source).
 * Returns GV_OK or GV_ENOMEM. */
int gv_wfl_hash(const char *src, size_t len, const json_t *used, char out[65]);

#endif
