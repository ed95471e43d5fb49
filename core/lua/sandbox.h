/* The Lua sandbox: text-only loading, allow-listed globals, C text helpers, instruction and memory limits, frozen shared state. */
#ifndef GV_SANDBOX_H
#define GV_SANDBOX_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/sandbox_limits.h"

typedef struct gv_sandbox gv_sandbox;


/* Caps applied by the C helpers and wrapped library functions. */
#define GV_SANDBOX_MAX_REP 1000000      /* string.rep count */
#define GV_SANDBOX_MAX_ELEMS 1000000    /* table.move / insert / remove / concat spans */

/* A new sandboxed state. limits may be NULL for the defaults. NULL if out of memory.
 * The state's globals table is never visible to scripts: each chunk gets its own
 * environment that reads through to the frozen safe globals. Scripts see only the
 * metatables they set themselves (getmetatable gives nil for the host's), and xpcall
 * runs its handler after the failed call unwound. */
gv_sandbox *gv_sandbox_new(const gv_sandbox_limits *limits);
void gv_sandbox_free(gv_sandbox *sb);
lua_State *gv_sandbox_lua(gv_sandbox *sb);
/* Returns the sandbox that owns L (from the state's extra space). */
gv_sandbox *gv_sandbox_of(lua_State *L);

/* Compiles src (text only; bytecode is refused) and pushes the chunk function, whose
 * _ENV is a fresh table inheriting the safe globals; that table is pushed too, above
 * the function (so the caller may add names to it before running the chunk).
 * chunkname is the file name used in messages. Returns GV_OK, or GV_ESCRIPT with
 * err holding file and line (nothing pushed). */
int gv_sandbox_load(gv_sandbox *sb, const char *chunkname, const char *src, size_t len,
                    gv_error *err);

/* Calls the function below nargs arguments like lua_pcall, under the instruction budget
 * and memory cap, with a traceback. On failure nothing is left on the stack and err says
 * what went wrong: GV_ELIMIT (instructions or memory), GV_EPARAM / GV_ESTATE /
 * GV_EFORBIDDEN for reject()/refuse()/deny() raised by the script, GV_ESCRIPT otherwise,
 * with file and line where known. *traceback (if not NULL) receives a malloc'd
 * traceback for incidents, or NULL. */
int gv_sandbox_call(gv_sandbox *sb, int nargs, int nresults, gv_error *err, char **traceback);

/* Deep-freezes the value at idx: tables become read-only (contents move to a hidden
 * shadow; writes raise an error; reading, #, pairs, ipairs and next still work; their
 * __index and __len get the read-only table, and a frozen table still works as a
 * metatable); functions' table and function upvalues are frozen, and every upvalue is
 * recorded so gv_sandbox_restore can put it back after every action. A metatable holding
 * __gc is refused (GV_ESCRIPT). */
int gv_sandbox_freeze(gv_sandbox *sb, int idx, gv_error *err);

/* Marks the table at idx as the host's own (e.g. an environment's metatable): freezing
 * leaves it alone. Scripts must have no way to reach it. */
void gv_sandbox_mark_system(lua_State *L, int idx);

/* Puts every recorded upvalue back to its frozen value. */
void gv_sandbox_restore(gv_sandbox *sb);

/* Like lua_next, but reads through a frozen table to its contents. */
int gv_sandbox_next(lua_State *L, int idx);
/* Pushes the contents table of a frozen table at idx (or the table itself if not frozen). */
void gv_sandbox_contents(lua_State *L, int idx);

/* Bytes currently allocated by the state. */
size_t gv_sandbox_memory(const gv_sandbox *sb);

/* Raises a structured error from C code running inside the sandbox: code is GV_EPARAM,
 * GV_ESTATE, GV_EFORBIDDEN or GV_EDEADLINE; field may be NULL. Does not return. */
int gv_sandbox_raise(lua_State *L, int code, const char *field, const char *message);

#endif
