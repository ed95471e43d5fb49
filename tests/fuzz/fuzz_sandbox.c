/* Fuzz target: arbitrary text run as Lua in the sandbox must end cleanly (an error at most). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lua/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static gv_sandbox *sb;
  if (sb == NULL) {
    gv_sandbox_limits lim = {16u << 20, 200000, 500};
    sb = gv_sandbox_new(&lim);
  }
  gv_error err;
  if (gv_sandbox_load(sb, "fuzz.lua", (const char *)data, size, &err) != GV_OK) return 0;
  lua_State *L = gv_sandbox_lua(sb);
  lua_pop(L, 1); /* the chunk's environment */
  gv_sandbox_call(sb, 0, 0, &err, NULL);
  lua_settop(L, 0);
  gv_sandbox_restore(sb);
  return 0;
}
