/* `gavel serve`: the HTTP API on one libuv loop over the engine. */
#ifndef GV_SERVER_H
#define GV_SERVER_H

#include "lua/config.h"

/* Runs the server until SIGTERM or SIGINT; returns the exit status. */
int gv_server_run(const gv_config *cfg);

#endif
