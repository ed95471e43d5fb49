/* Internal seam between the workflow loader and the engine's Lua runtime (Lua host files only). */
#ifndef GV_WFRT_H
#define GV_WFRT_H

#include <lua.h>

#include "model/forum.h"

/* Adds the runtime globals (now, time, duration, gavel.*) to the environment table at
 * env_idx. They raise an error when called outside an action. */
void gv_wfrt_install(lua_State *L, int env_idx);

/* Pushes the forum as a Lua table (not yet frozen). */
void gv_wfrt_push_forum(lua_State *L, const gv_forum *f);

#endif
