/* The plugin host: the plugins a gavel knows (built in or loaded from shared objects), their
 * hooks, tables, routes and commands. cli/ opens it on a store and wires it into the engine. */
#ifndef GV_PLUGINS_H
#define GV_PLUGINS_H

#include <stdio.h>

#include "base/buf.h"
#include "engine/engine.h"
#include "gavel/plugin.h"
#include "store/store.h"

typedef struct gv_plugins gv_plugins;

/* The plugins linked into the executable, in the order their hooks run (the audit leaf of an
 * event is written before anything else reacts to it). main() hands them over once, before
 * anything else, the way linit.c lists Lua's libraries. */
void gv_plugins_set_builtin(const gv_plugin *const *list, size_t n);

/* Loads the plugins that config_json ({"name": {"path": "/x/name.so", ...}}) names by path:
 * dlopen, the descriptor symbol gavel_plugin, its api_version and name checked. A loaded
 * plugin joins the known ones for the life of the process (it is never unloaded). Loading
 * the same path again does nothing. Returns GV_OK or GV_ECONFIG with detail. */
int gv_plugins_load(const char *config_json, gv_error *err);

/* Every plugin known (built in, then loaded), running or not. Returns how many; fills at most max. */
size_t gv_plugins_known(const gv_plugin **out, size_t max);

typedef struct gv_plugins_options {
  gv_store *store;
  const gv_forum *forum;
  const char *db_path;
  const char *config_json;  /* the plugins table of gavel.conf.lua as JSON; NULL: defaults */
  const char *only;         /* start only this plugin, to run one of its commands */
} gv_plugins_options;

/* Starts every enabled plugin (a plugin set to false is not started) on the store, after
 * loading those named by path. Every name in the config must be a known plugin. If an enabled
 * plugin cannot start, nothing runs: the error is logged and returned. The caller owns *out
 * (gv_plugins_close) and wires gv_plugins_hooks into the engine or the store. */
int gv_plugins_open(const gv_plugins_options *o, gv_plugins **out, gv_error *err);
/* Shuts the plugins down (the only time they are unloaded). p may be NULL. */
void gv_plugins_close(gv_plugins *p);

/* The hooks the engine runs for the plugins: the in-transaction event hook, receipt fields,
 * commit listeners and workflow functions. Valid while p is open. */
void gv_plugins_hooks(gv_plugins *p, gv_engine_hooks *out);
/* The engine, once open on the same store: the clock and workflow labels plugins see. */
void gv_plugins_attach(gv_plugins *p, gv_engine *e);

/* The server's loop (uv_loop_t *) is about to run: plugins start their timers and I/O. */
void gv_plugins_loop_start(gv_plugins *p, void *loop);
/* The server begins to stop: plugins close their handles (the loop then runs them out). */
void gv_plugins_loop_stop(gv_plugins *p);

/* Appends the running plugins' /metrics lines to out. A plugin's lines are left out (and
 * the refusal logged) when its callback fails or a line does not belong to one of its own
 * metrics (names beginning "gavel_<plugin>_"). p may be NULL. */
void gv_plugins_metrics(gv_plugins *p, gv_buf *out);

/* A plugin's route entry: finds the running plugin serving (method, pattern). */
typedef struct gv_plugin_route_ref {
  const gv_plugin_route *route;
  const gv_plugin *plugin;
} gv_plugin_route_ref;
/* Every route of the known plugins (running or not). */
size_t gv_plugins_routes(gv_plugin_route_ref *out, size_t max);
/* Calls a plugin's route handler for an HTTP request. */
void gv_plugins_serve(gv_plugins *p, const gv_plugin *plugin, const gv_plugin_route *route, gv_request *r);

/* How the server carries a plugin's request: the host implements the gv_request_* API of
 * include/gavel/plugin.h (and refuses its misuse) over these, so the host never calls up
 * into the server. call is the server's own request object. */
typedef struct gv_request_ops {
  const char *(*param)(void *call, const char *name);
  const char *(*query)(void *call, const char *name, char *buf, size_t size);
  const char *(*username)(void *call); /* NULL when anonymous */
  const char *(*role)(void *call);
  const char *(*member)(void *call);
  int (*is_chair)(void *call);
  const char *(*header)(void *call, const char *name);
  /* Answers the call (which is then gone): headers are name, value pairs, nheaders pairs. */
  void (*reply)(void *call, int status, const char *content_type, const char *const *headers, size_t nheaders,
                const char *body, size_t len);
  void (*error)(void *call, int code, const char *message, const char *field);
  const char *(*body)(void *call, size_t *len);
} gv_request_ops;

/* A request as a plugin holds it: the call lives until the first reply, after which the
 * request refuses a second one instead of touching the answered call. */
struct gv_request {
  const gv_request_ops *ops;
  void *call;              /* NULL once answered */
  const char *plugin;      /* for misuse messages */
};

/* Starts a request for plugin over call. */
void gv_request_init(gv_request *r, const gv_request_ops *ops, void *call, const char *plugin);
/* Non-zero while the request has not been answered. */
int gv_request_open(const gv_request *r);
/* The command of owner that runs without a database under the same name as c (version 5
 * plugins), or NULL. */
const gv_plugin_command *gv_plugins_find_standalone(const gv_plugin_command *c, const gv_plugin *owner);

/* The known plugin command named by the first words of argv ("audit verify ..."), or NULL;
 * *owner is its plugin and *used the number of words of its name. */
const gv_plugin_command *gv_plugins_find_command(int argc, char **argv, const gv_plugin **owner, int *used);
/* Runs a command of the (only) plugin p started; returns the command's exit status. */
int gv_plugins_run_command(gv_plugins *p, const gv_plugin_command *c, int argc, char **argv);
/* Prints the known plugins' commands for `gavel --help`. */
void gv_plugins_print_commands(FILE *out);

#endif
