/* `gavel serve`: the HTTP API on one libuv loop over the engine. */
#ifndef GV_SERVER_H
#define GV_SERVER_H

#include "engine/engine.h"
#include "lua/config.h"

struct gv_plugins;
/* Runs the server on an open engine (and the plugins wired into it, may be NULL) until
 * SIGTERM or SIGINT; returns the exit status. The caller closes both afterwards. */
int gv_server_run(const gv_config *cfg, gv_engine *e, struct gv_plugins *plugins);

#endif
