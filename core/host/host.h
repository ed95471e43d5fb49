/* The plugin host: loads the built-in plugins, runs their hooks, tables, routes and commands. */
#ifndef GV_PLUGINS_H
#define GV_PLUGINS_H

#include <jansson.h>

#include "engine/engine.h"
#include "gavel/plugin.h"
#include "store/store.h"

typedef struct gv_plugins gv_plugins;

/* The plugins built into this gavel binary. */
const gv_plugin *const *gv_plugins_builtin(size_t *n);

/* Starts every enabled plugin on store. config is {"name": {...} | false} from
 * gavel.conf.lua (NULL: defaults; a plugin set to false is not started). Installs the
 * store's event hook. The caller owns *out (gv_plugins_close). If an enabled plugin
 * cannot start, nothing runs: the error is logged and returned. */
int gv_plugins_open(gv_store *store, const gv_forum *forum, const char *db_path, const json_t *config,
                    gv_plugins **out, gv_error *err);
/* Starts only the named plugin (for its commands). */
int gv_plugins_open_one(gv_store *store, const gv_forum *forum, const char *db_path, const char *name,
                        const json_t *config, gv_plugins **out, gv_error *err);
/* The plugins table of a configuration file, for commands run beside the server: path,
 * or ./gavel.conf.lua when path is NULL and that file exists (else *out is NULL). */
int gv_plugins_config_load(const char *path, json_t **out, gv_error *err);
/* Shuts the plugins down (the only time they are unloaded) and removes the hook. */
void gv_plugins_close(gv_plugins *p);

/* The server's loop (uv_loop_t *) is about to run: plugins start their timers and I/O. */
void gv_plugins_loop_start(gv_plugins *p, void *loop);
/* The server begins to stop: plugins close their handles (the loop then runs them out). */
void gv_plugins_loop_stop(gv_plugins *p);

/* Calls the workflow function "plugin.name" with args_json (a JSON array); *out is JSON,
 * malloc'd. GV_ENOTFOUND when no running plugin offers it. */
int gv_plugins_call(gv_plugins *p, const char *name, const char *args_json, char **out, gv_error *err);

/* Connects the plugins to an engine: commit hooks, and receipt fields for its actions. */
void gv_plugins_attach(gv_plugins *p, gv_engine *e);

/* A plugin's route entry: finds the running plugin serving (method, pattern). */
typedef struct gv_plugin_route_ref {
  const gv_plugin_route *route;
  const gv_plugin *plugin;
} gv_plugin_route_ref;
/* Every route of the built-in plugins (running or not). */
size_t gv_plugins_routes(gv_plugin_route_ref *out, size_t max);
/* Calls a plugin's route handler for an HTTP request (the request is a gv_call). */
void gv_plugins_serve(gv_plugins *p, const gv_plugin *plugin, const gv_plugin_route *route, gv_request *r);

/* Runs a plugin command named by argv (e.g. "audit", "verify", ...). Returns the exit
 * status, or -1 if no plugin has such a command. */
int gv_plugins_command(int argc, char **argv);
/* Prints the plugins' commands for `gavel --help`. */
void gv_plugins_print_commands(FILE *out);

#endif
