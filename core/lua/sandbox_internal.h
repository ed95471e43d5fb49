/* Shared by the sandbox's own files only (sandbox.c, sandbox_freeze.c, sandbox_lib.c):
 * the sandbox's state, its registry keys, and the helpers they call in one another. */
#ifndef GV_SANDBOX_INTERNAL_H
#define GV_SANDBOX_INTERNAL_H

#include <stdint.h>

#include "lua/sandbox.h"

struct gv_sandbox {
  lua_State *L;
  size_t used;
  size_t limit;
  uint64_t budget;
  uint32_t ms;          /* wall-time budget per call, 0 for none */
  uint64_t deadline;    /* CLOCK_MONOTONIC ns at which the current call ends, 0 for none */
  uint64_t ticks;       /* hook calls in the current gv_sandbox_call */
  int instr_hit;        /* the budget ran out in this call */
  int time_hit;         /* ... because the deadline passed */
  int mem_hit;          /* an allocation was refused in this call */
  int depth;            /* nested gv_sandbox_call */
};

/* Registry keys: the addresses of these bytes are unique, which is all Lua needs. */
enum { SB_KEY_COUNT = 9 };
extern const char gv_sandbox_keys[SB_KEY_COUNT];
#define KEY_BASE (gv_sandbox_keys[0])      /* the frozen safe globals */
#define KEY_FROZEN (gv_sandbox_keys[1])    /* weak set of frozen tables -> shadow */
#define KEY_RESTORE (gv_sandbox_keys[2])   /* array of {fn, index, value} */
#define KEY_REJECT (gv_sandbox_keys[3])    /* metatable of structured errors */
#define KEY_SEEN (gv_sandbox_keys[4])      /* upvalue ids already recorded */
#define KEY_SYSTEM (gv_sandbox_keys[5])    /* host tables never frozen (environment metatables) */
#define KEY_RESTORE_T (gv_sandbox_keys[6]) /* array of {table, snapshot} restored after actions */
#define KEY_SCRIPT_MT (gv_sandbox_keys[7]) /* weak set of metatables set by scripts themselves */
#define KEY_PROXY_OF (gv_sandbox_keys[8])  /* weak map: shadow of a frozen table -> the table */

/* Called by the library wrappers before costly work (sandbox.c): once the call's budget or
 * wall time is spent, raises the limit error. The count hook only runs between Lua
 * instructions, and a loop can make a thousand costly calls between two of its runs. */
void sb_check_time(lua_State *L);

/* If the value at idx is a frozen table, pushes its shadow (the table scripts read
 * through) and returns 1; otherwise pushes nothing and returns 0 (sandbox_freeze.c). */
int sb_frozen_shadow(lua_State *L, int idx);
/* next() for frozen tables and plain ones alike (sandbox_freeze.c). */
int sb_frozen_next(lua_State *L);

/* Builds the frozen table of safe globals and stores it under KEY_BASE; run in a
 * protected call by gv_sandbox_new (sandbox_lib.c). */
int sb_build_base(lua_State *L);

#endif
