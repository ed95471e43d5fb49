/* Security tests of the Lua sandbox: each test is one escape or abuse attempt and the clean error it must end in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <time.h>

#include "engine/accounts.h"
#include "engine/engine.h"
#include "model/forum.h"
#include "lua/bridge.h"
#include "lua/sandbox.h"
#include "store/store.h"
#include "testutil.h"
#include "model/workflow.h"

/* Small limits keep the runaway tests short: 16 MiB, 2 million instructions, 1 s. */
#define SMALL_MEM (16u << 20)
#define SMALL_INSTR 2000000u
#define SMALL_MS 1000u
/* A spin guard, not a performance figure: every attempt must end well before this. */
#define MAX_SECONDS (15.0 * tu_timeout_scale()) /* far above a stopped script, far below a spin */
#define ANY_LINE (-1)
/* As the wanted message of expect_error: whichever limit stopped the script (memory, the
 * instruction budget or the wall-time guard, which reports as an instruction limit).
 * Which limit fires first depends on the machine's speed, so the tests do not ask. */
#define ANY_LIMIT NULL

/* 1 if an error message names one of the sandbox's limits. */
static int names_a_limit(const char *message) {
  return strstr(message, "memory") != NULL || strstr(message, "instruction limit") != NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static gv_sandbox *small_sandbox(void) {
  gv_sandbox_limits l = {SMALL_MEM, SMALL_INSTR, SMALL_MS};
  gv_sandbox *sb = gv_sandbox_new(&l);
  assert_non_null(sb);
  return sb;
}

/* Loads src as chunk "t.lua" and calls it, leaving nresults on the stack on success. */
static int run_in(gv_sandbox *sb, const char *src, int nresults, gv_error *err) {
  gv_error_clear(err);
  int rc = gv_sandbox_load(sb, "t.lua", src, strlen(src), err);
  if (rc != GV_OK) return rc;
  lua_pop(gv_sandbox_lua(sb), 1); /* the chunk's environment */
  return gv_sandbox_call(sb, 0, nresults, err, NULL);
}

/* The sandbox still works after a failed attempt: nothing left on the stack, a new chunk
 * runs, and it can allocate a megabyte. */
static void assert_healthy(gv_sandbox *sb) {
  lua_State *L = gv_sandbox_lua(sb);
  assert_int_equal(lua_gettop(L), 0);
  gv_error err;
  int rc = run_in(sb, "local s = ('x'):rep(1000000) return #s + 6 * 7", 1, &err);
  if (rc != GV_OK) fail_msg("the sandbox is unusable after the attempt: %s", err.message);
  assert_int_equal(lua_tointeger(L, -1), 1000042);
  lua_pop(L, 1);
}

/* Runs src in a fresh small sandbox: it must fail with code, a message containing want
 * (ANY_LIMIT: naming a limit), reported at line (ANY_LINE: not checked), quickly; the
 * sandbox must still work. */
static void expect_error(const char *src, int code, const char *want, int line) {
  gv_sandbox *sb = small_sandbox();
  gv_error err;
  double t0 = now_s();
  int rc = run_in(sb, src, 0, &err);
  double took = now_s() - t0;
  if (rc != code)
    fail_msg("expected %s, got %s (%s) for: %s", gv_err_name(code), gv_err_name(rc), err.message, src);
  assert_int_equal(err.code, code);
  if (want == ANY_LIMIT ? !names_a_limit(err.message) : strstr(err.message, want) == NULL)
    fail_msg("message '%s' lacks '%s'", err.message, want ? want : "a limit");
  if (line != ANY_LINE) {
    assert_string_equal(err.file, "t.lua");
    assert_int_equal(err.line, line);
  }
  if (took >= MAX_SECONDS) fail_msg("took %.2f s: a spin, not a clean error", took);
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

/* Runs src, which must succeed and return the string want (quickly). */
static void expect_result(const char *src, const char *want) {
  gv_sandbox *sb = small_sandbox();
  lua_State *L = gv_sandbox_lua(sb);
  gv_error err;
  double t0 = now_s();
  int rc = run_in(sb, src, 1, &err);
  double took = now_s() - t0;
  if (rc != GV_OK) fail_msg("failed: %s (%s)", err.message, src);
  const char *got = lua_tostring(L, -1);
  if (got == NULL || strcmp(got, want) != 0) fail_msg("returned '%s', expected '%s'", got ? got : "(not a string)", want);
  lua_pop(L, 1);
  if (took >= MAX_SECONDS) fail_msg("took %.2f s", took);
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

/* ---- Text-only loading and the library allow-list ------------------------------------- */

typedef struct dumped {
  char buf[4096];
  size_t len;
} dumped;

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud) {
  (void)L;
  dumped *d = ud;
  if (d->len + sz > sizeof d->buf) return 1;
  memcpy(d->buf + d->len, p, sz);
  d->len += sz;
  return 0;
}

static void test_bytecode_refused(void **state) {
  /* Real bytecode, made by an ordinary Lua state. */
  lua_State *P = luaL_newstate();
  assert_int_equal(luaL_loadstring(P, "return 1"), LUA_OK);
  dumped d = {{0}, 0};
  assert_int_equal(lua_dump(P, dump_writer, &d, 0), 0);
  lua_close(P);
  assert_memory_equal(d.buf, "\x1bLua", 4);
  gv_sandbox *sb = small_sandbox();
  gv_error err;
  assert_int_equal(gv_sandbox_load(sb, "t.lua", d.buf, d.len, &err), GV_ESCRIPT);
  assert_non_null(strstr(err.message, "precompiled code is not accepted"));
  assert_string_equal(err.file, "t.lua");
  assert_int_equal(lua_gettop(gv_sandbox_lua(sb)), 0);
  /* Nor inside a chunk: load is not there to take it. */
  assert_int_equal(run_in(sb, "return load('\\27Lua')", 0, &err), GV_ESCRIPT);
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

static void test_load_absent(void **state) {
  expect_error("load('return 1')()", GV_ESCRIPT, "global 'load'", 1);
  expect_result("return tostring(loadstring) .. tostring(_G) .. tostring(_ENV.load)", "nilnilnil");
}

static void test_dofile_loadfile_absent(void **state) {
  expect_error("dofile('/etc/passwd')", GV_ESCRIPT, "global 'dofile'", 1);
  expect_error("loadfile('/etc/passwd')", GV_ESCRIPT, "global 'loadfile'", 1);
}

static void test_require_package_absent(void **state) {
  expect_error("require('os')", GV_ESCRIPT, "global 'require'", 1);
  expect_error("package.loadlib('libc.so.6', 'system')", GV_ESCRIPT, "global 'package'", 1);
}

static void test_io_absent(void **state) {
  expect_error("io.open('/etc/passwd'):read('a')", GV_ESCRIPT, "global 'io'", 1);
}

static void test_debug_absent(void **state) {
  expect_error("debug.sethook()", GV_ESCRIPT, "global 'debug'", 1);
}

static void test_os_only_clock(void **state) {
  expect_error("os.execute('touch /tmp/gavel-pwned')", GV_ESCRIPT, "field 'execute'", 1);
  expect_error("return os.getenv('HOME')", GV_ESCRIPT, "field 'getenv'", 1);
  expect_error("os.exit(3)", GV_ESCRIPT, "field 'exit'", 1);
  expect_error("os.remove('/tmp/x')", GV_ESCRIPT, "field 'remove'", 1);
  expect_result("return math.type(os.clock())", "float");
}

static void test_string_dump_absent(void **state) {
  expect_error("return string.dump(function() end)", GV_ESCRIPT, "field 'dump'", 1);
  expect_error("return ('x').dump(print)", GV_ESCRIPT, "field 'dump'", 1);
}

static void test_collectgarbage_count_only(void **state) {
  expect_error("collectgarbage('collect')", GV_ESCRIPT, "only \"count\"", 1);
  expect_error("collectgarbage('stop')", GV_ESCRIPT, "only \"count\"", 1);
  expect_error("collectgarbage('generational')", GV_ESCRIPT, "only \"count\"", 1);
  expect_result("local k = collectgarbage('count') return math.type(k) .. tostring(k > 0)", "floattrue");
}

static void test_rawset_rawget_absent(void **state) {
  expect_error("rawset(string, 'rep', nil)", GV_ESCRIPT, "global 'rawset'", 1);
  expect_error("return rawget(string, 'rep')", GV_ESCRIPT, "global 'rawget'", 1);
}

static void test_coroutine_absent(void **state) {
  expect_error("coroutine.wrap(function() end)()", GV_ESCRIPT, "global 'coroutine'", 1);
}

/* ---- No Lua patterns ------------------------------------------------------------------- */

static void test_pattern_functions_absent(void **state) {
  expect_result("return tostring(string.match) .. tostring(string.gmatch) .. tostring(string.gsub)", "nilnilnil");
  expect_error("return string.gsub('a', 'a', 'b')", GV_ESCRIPT, "field 'gsub'", 1);
}

static void test_find_patterns_refused(void **state) {
  expect_error("return string.find('abc', 'b.', 1, false)", GV_ESCRIPT, "plain text only", 1);
  expect_error("return ('abc'):find('%a', 1, nil)", GV_ESCRIPT, "plain text only", 1);
  /* Without the fourth argument the search is plain: '%a' is looked for literally. */
  expect_result("return tostring(string.find('a%ab', '%a')) .. tostring(('abc'):find('%a'))", "2nil");
}

static void test_catastrophic_pattern_is_plain(void **state) {
  /* 47 s with Lua's matcher; here a plain search that finds nothing at once. */
  expect_result("return tostring(string.find(('a'):rep(28), ('a?'):rep(28) .. ('a'):rep(28)))", "nil");
  expect_result("return tostring(('a'):rep(28):find(('a?'):rep(28) .. ('a'):rep(28), 1, true))", "nil");
}

static void test_string_methods_no_match(void **state) {
  expect_error("return ('x'):match('x')", GV_ESCRIPT, "method 'match'", 1);
  expect_error("for w in ('a b'):gmatch('%a') do end", GV_ESCRIPT, "method 'gmatch'", 1);
  expect_error("return ('x'):gsub('x', 'y')", GV_ESCRIPT, "method 'gsub'", 1);
}

static void test_string_metatable_hidden(void **state) {
  /* getmetatable("") gives a marker, not the real metatable with its __index. */
  expect_result("return getmetatable('')", "string");
  expect_error("getmetatable('').__index.match = 1", GV_ESCRIPT, "attempt to index", 1);
  expect_error("setmetatable('', {})", GV_ESCRIPT, "bad argument #1", 1);
}

/* ---- C-level spins end in errors ------------------------------------------------------- */

static void test_rep_empty_string_huge_count(void **state) {
  expect_error("return (''):rep(1 << 40)", GV_ESCRIPT, "over the limit", 1);
  expect_error("return (''):rep(1 << 40, '')", GV_ESCRIPT, "over the limit", 1);
}

static void test_rep_beyond_memory(void **state) {
  expect_error("return ('x'):rep(1 << 30)", GV_ELIMIT, "not enough memory", 1);
  expect_error("return ('x'):rep(1 << 20, ('y'):rep(1 << 10))", GV_ELIMIT, "not enough memory", 1);
}

static void test_table_move_huge(void **state) {
  expect_error("table.move({}, 1, 1 << 40, 2, {})", GV_ESCRIPT, "table.move", 1);
  expect_error("table.move({}, math.mininteger, math.maxinteger, 1, {})", GV_ESCRIPT, "table.move", 1);
}

static void test_table_concat_huge(void **state) {
  expect_error("return table.concat({}, '', 1, 1 << 40)", GV_ESCRIPT, "table.concat", 1);
  expect_error("return table.concat(setmetatable({}, {__len = function() return 1 << 40 end}))",
               GV_ESCRIPT, "table.concat", 1);
}

static void test_table_insert_remove_huge_len(void **state) {
  const char *huge = "local t = setmetatable({}, {__len = function() return 1 << 40 end}) ";
  char src[256];
  snprintf(src, sizeof src, "%stable.insert(t, 1, 'x')", huge);
  expect_error(src, GV_ESCRIPT, "over the limit", 1);
  snprintf(src, sizeof src, "%stable.remove(t, 1)", huge);
  expect_error(src, GV_ESCRIPT, "over the limit", 1);
  snprintf(src, sizeof src, "%stable.sort(t)", huge);
  expect_error(src, GV_ESCRIPT, "over the limit", 1);
}

static void test_table_insert_remove_negative_len(void **state) {
  /* Lua shifts from the length down to the position: 2^63 steps for a length of -10. The
   * __index/__newindex are C functions, so no instruction runs while it spins. */
  const char *neg = "local t = setmetatable({}, {__len = function() return -10 end, __index = type, "
                    "__newindex = type}) ";
  char src[256];
  snprintf(src, sizeof src, "%stable.insert(t, math.mininteger + 5, 'x')", neg);
  expect_error(src, GV_ESCRIPT, "negative", 1);
  snprintf(src, sizeof src, "%stable.remove(t, math.mininteger + 2)", neg);
  expect_error(src, GV_ESCRIPT, "negative", 1);
}

static void test_unpack_huge(void **state) {
  expect_error("return table.unpack({}, 1, 1e8)", GV_ESCRIPT, "too many results", 1);
  expect_error("return select('#', table.unpack({}, math.mininteger, math.maxinteger))", GV_ESCRIPT,
               "too many results", 1);
}

static void test_utf8_char_huge(void **state) {
  expect_error("return utf8.char(table.unpack({}, 1, 1 << 40))", GV_ESCRIPT, "too many results", 1);
  expect_error("return utf8.char(0x80000000)", GV_ESCRIPT, "value out of range", 1);
  /* As many code points as the stack takes: a bounded piece of work (or the memory cap). */
  gv_sandbox *sb = small_sandbox();
  gv_error err;
  double t0 = now_s();
  int rc = run_in(sb, "local t = {} for i = 1, 900000 do t[i] = 0x7FFFFFFF end return #utf8.char(table.unpack(t))",
                  0, &err);
  assert_true(rc == GV_OK || rc == GV_ELIMIT);
  assert_true(now_s() - t0 < MAX_SECONDS);
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

static void test_loop_of_costly_calls_is_timed_out(void **state) {
  /* Each iteration is a handful of instructions but copies a megabyte: the instruction
   * budget alone would allow minutes of it. */
  expect_error("local s = ('x'):rep(1000000) for i = 1, 1e7 do local t = s .. 'y' end", GV_ELIMIT,
               "over 1000 ms", 1);
  expect_error("local a = ('x'):rep(1000000) .. 'y' local b = ('x'):rep(1000000) .. 'y' "
               "local n = 0 for i = 1, 1e7 do if a == b then n = n + 1 end end",
               GV_ELIMIT, "instruction limit", 1);
}

static void test_loop_of_sorts_is_timed_out(void **state) {
  /* A sort of 250,000 elements is one call; a few hundred of them run between two hook
   * ticks. The wrapper checks the clock itself. */
  expect_error("local t = {} for i = 1, 250000 do t[i] = i end for i = 1, 1e6 do table.sort(t) end",
               GV_ELIMIT, "instruction limit", ANY_LINE);
}

/* ---- Instruction budget --------------------------------------------------------------- */

static void test_infinite_loop(void **state) {
  expect_error("local n = 0\nwhile true do n = n + 1 end", GV_ELIMIT, "instruction limit exceeded (2000000", 2);
}

static void test_pcall_cannot_swallow_limit(void **state) {
  expect_error("while true do pcall(function() while true do end end) end", GV_ELIMIT,
               "instruction limit", 1);
  expect_error("for i = 1, 1e9 do local ok, e = pcall(error, 'x') end", GV_ELIMIT, "instruction limit", 1);
}

static void test_xpcall_cannot_swallow_limit(void **state) {
  expect_error("while true do xpcall(function() while true do end end, function(e) return e end) end",
               GV_ELIMIT, "instruction limit", 1);
}

static void test_error_handler_that_loops(void **state) {
  /* Lua runs a message handler from inside the hook, with hooks off, when the hook raised
   * the error: a looping handler would never be stopped there. */
  expect_error("xpcall(function() while true do end end, function() while true do end end)", GV_ELIMIT,
               "instruction limit", 1);
  expect_error("xpcall(function() error('x') end, function() while true do end end)", GV_ELIMIT,
               "instruction limit", 1);
  /* The handler still sees the error and its result is returned. */
  expect_result("local ok, e = xpcall(function(a) error('bad ' .. a, 0) end, function(m) return 'handled ' .. m end, 'x') "
                "return tostring(ok) .. ' ' .. e",
                "false handled bad x");
  expect_result("return select('#', xpcall(function() return 1, 2 end, tostring))", "3");
}

/* ---- Memory cap ------------------------------------------------------------------------ */

static void test_memory_table_fill(void **state) {
  /* On a busy machine the wall-time guard may stop the fill before the memory cap does. */
  expect_error("local t = {} for i = 1, 1e9 do t[i] = i end", GV_ELIMIT, ANY_LIMIT, ANY_LINE);
}

static void test_memory_string_rep_26(void **state) {
  expect_error("local s = string.rep('x', 1 << 26)", GV_ELIMIT, "not enough memory", 1);
  /* The same under the default limits (64 MiB). */
  gv_sandbox *sb = gv_sandbox_new(NULL);
  gv_error err;
  assert_int_equal(run_in(sb, "local s = string.rep('x', 1 << 26)", 0, &err), GV_ELIMIT);
  assert_non_null(strstr(err.message, "not enough memory"));
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

static void test_gc_metamethod_refused(void **state) {
  expect_error("setmetatable({}, {__gc = function() end})", GV_ESCRIPT, "__gc", 1);
  expect_error("setmetatable({}, {__gc = true})", GV_ESCRIPT, "__gc", 1);
}

/* ---- Recursion and nesting --------------------------------------------------------------- */

static void test_deep_recursion(void **state) {
  gv_sandbox *sb = small_sandbox();
  gv_error err;
  double t0 = now_s();
  int rc = run_in(sb, "local function f() return f() + 1 end\nf()", 0, &err);
  /* Whichever comes first, the Lua stack, the memory cap or the budget: a clean error. */
  assert_true(rc == GV_ELIMIT || rc == GV_ESCRIPT);
  assert_true(strstr(err.message, "stack overflow") || strstr(err.message, "memory") ||
              strstr(err.message, "instruction"));
  assert_true(now_s() - t0 < MAX_SECONDS);
  assert_healthy(sb);
  /* Through C boundaries (pcall, a metamethod) the C stack limit ends it. */
  assert_int_equal(run_in(sb, "local t = setmetatable({}, {}) getmetatable(t).__index = function(t, k) "
                              "return t[k] end return t.x", 0, &err), GV_ESCRIPT);
  assert_non_null(strstr(err.message, "stack overflow"));
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

static void test_deeply_nested_constructor(void **state) {
  size_t n = 100000;
  char *src = malloc(2 * n + 16);
  strcpy(src, "return ");
  memset(src + 7, '{', n);
  memset(src + 7 + n, '}', n);
  src[7 + 2 * n] = '\0';
  gv_sandbox *sb = small_sandbox();
  gv_error err;
  double t0 = now_s();
  int rc = gv_sandbox_load(sb, "t.lua", src, strlen(src), &err);
  free(src);
  assert_int_equal(rc, GV_ESCRIPT);
  assert_true(strstr(err.message, "overflow") || strstr(err.message, "too many"));
  assert_string_equal(err.file, "t.lua");
  assert_true(now_s() - t0 < MAX_SECONDS);
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

static void test_source_size_capped(void **state) {
  size_t n = GV_SANDBOX_MAX_SOURCE + 1;
  char *src = malloc(n);
  memset(src, ' ', n);
  gv_sandbox *sb = small_sandbox();
  gv_error err;
  assert_int_equal(gv_sandbox_load(sb, "t.lua", src, n, &err), GV_ESCRIPT);
  assert_non_null(strstr(err.message, "bytes"));
  free(src);
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

/* ---- Structured errors cannot be forged ------------------------------------------------- */

static void test_forged_refusal_code(void **state) {
  /* A caught deny() is a plain table to the script: changing its code to 0 must not turn a
   * failed effect into a success, nor any other code into an engine error. */
  expect_error("local ok, e = pcall(deny, 'no') e.code = 0 error(e)", GV_ESCRIPT, "no", ANY_LINE);
  expect_error("local ok, e = pcall(deny, 'no') e.code = -10 error(e)", GV_ESCRIPT, "no", ANY_LINE);
  expect_error("local ok, e = pcall(refuse, 'later') error(e)", GV_ESTATE, "later", ANY_LINE);
  expect_error("setmetatable(select(2, pcall(deny, 'x')), {})", GV_ESCRIPT, "protected metatable", 1);
}

/* ---- Shared state between actions: workflows loaded and frozen ------------------------- */

static gv_forum *forum;

static int load_forum(void **state) {
  char path[512];
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", tu_source_dir());
  gv_error err;
  if (gv_forum_load_file(path, &forum, &err) != GV_OK) {
    fprintf(stderr, "forum: %s\n", err.message);
    return -1;
  }
  return 0;
}

static int free_forum(void **state) {
  gv_forum_free(forum);
  return 0;
}

#define WF_HEAD                                  \
  "workflow \"w\" {\n"                           \
  "  states = { \"a\" },\n"                      \
  "  create { by = \"secretariat\", to = \"a\" },\n"
#define WF_ACTION(name, body)                                                                    \
  "  action \"" name "\" { by = \"secretariat\", from = \"a\", run = function(item, p, caller) " \
  body " end },\n"
#define WF_TAIL "}\n"

static gv_workflow *load_wf(const char *src) {
  gv_workflow *w = NULL;
  gv_error errs[4];
  size_t n = 0;
  if (gv_workflow_load("w.lua", src, strlen(src), forum, &w, errs, 4, &n) != GV_OK)
    fail_msg("the workflow does not load: %d: %s", n ? errs[0].line : 0, n ? errs[0].message : "?");
  return w;
}

/* Loads src, which must be refused at load time with a message containing want. */
static void expect_load_refused(const char *src, const char *want) {
  gv_workflow *w = NULL;
  gv_error errs[4];
  size_t n = 0;
  double t0 = now_s();
  assert_int_equal(gv_workflow_load("w.lua", src, strlen(src), forum, &w, errs, 4, &n), GV_ECONFIG);
  assert_null(w);
  assert_true(n >= 1);
  if (strstr(errs[0].message, want) == NULL) fail_msg("message '%s' lacks '%s'", errs[0].message, want);
  assert_true(now_s() - t0 < MAX_SECONDS);
}

/* Runs action name's effect as the engine does (item, params, caller; then the restore
 * that follows every action); its first result, as a string, goes into out. */
static int act(gv_workflow *w, const char *name, char *out, size_t size, gv_error *err) {
  const gv_action *a = gv_workflow_action(w, name);
  assert_non_null(a);
  gv_sandbox *sb = w->lua;
  lua_State *L = gv_sandbox_lua(sb);
  gv_error_clear(err);
  lua_rawgeti(L, LUA_REGISTRYINDEX, a->run_ref);
  lua_newtable(L);
  lua_newtable(L);
  lua_newtable(L);
  int rc = gv_sandbox_call(sb, 3, 1, err, NULL);
  out[0] = '\0';
  if (rc == GV_OK) {
    snprintf(out, size, "%s", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
  }
  gv_sandbox_restore(sb);
  assert_int_equal(lua_gettop(L), 0);
  return rc;
}

/* Runs action name twice; both runs must give the same result (nothing carried over). */
static void expect_same_twice(gv_workflow *w, const char *name, const char *want) {
  char a[256], b[256];
  gv_error err;
  if (act(w, name, a, sizeof a, &err) != GV_OK) fail_msg("%s: %s", name, err.message);
  if (act(w, name, b, sizeof b, &err) != GV_OK) fail_msg("%s (again): %s", name, err.message);
  if (strcmp(a, want) != 0) fail_msg("%s returned '%s', expected '%s'", name, a, want);
  if (strcmp(b, want) != 0) fail_msg("%s leaked state: second run returned '%s', expected '%s'", name, b, want);
}

/* Runs action name, which must fail with code and a message containing want. */
static void expect_act_error(gv_workflow *w, const char *name, int code, const char *want) {
  char out[256];
  gv_error err;
  int rc = act(w, name, out, sizeof out, &err);
  if (rc != code) fail_msg("%s: expected %s, got %s (%s)", name, gv_err_name(code), gv_err_name(rc), err.message);
  if (strstr(err.message, want) == NULL) fail_msg("%s: message '%s' lacks '%s'", name, err.message, want);
}

static void test_global_assignment_refused(void **state) {
  gv_workflow *w = load_wf(WF_HEAD WF_ACTION("stash", "counter = 1") WF_ACTION("read", "return counter") WF_TAIL);
  expect_act_error(w, "stash", GV_ESCRIPT, "assignment to global 'counter'");
  expect_act_error(w, "read", GV_ESCRIPT, "unknown name 'counter'");
  expect_act_error(w, "stash", GV_ESCRIPT, "may not keep state between actions");
  gv_workflow_free(w);
}

static void test_file_tables_frozen(void **state) {
  gv_workflow *w = load_wf("local T = { count = 0, list = { 1, 2 } }\n" WF_HEAD
                           WF_ACTION("bump", "T.count = T.count + 1 return T.count")
                           WF_ACTION("push", "table.insert(T.list, 3)")
                           WF_ACTION("forum", "forum.id = 'other'")
                           WF_ACTION("lib", "string.rep = function() return 'evil' end")
                           WF_ACTION("read", "return T.count .. #T.list .. forum.id .. ('x'):rep(2)") WF_TAIL);
  expect_act_error(w, "bump", GV_ESCRIPT, "read-only table");
  expect_act_error(w, "push", GV_ESCRIPT, "read-only table");
  expect_act_error(w, "forum", GV_ESCRIPT, "read-only table");
  expect_act_error(w, "lib", GV_ESCRIPT, "read-only table");
  expect_same_twice(w, "read", "02midioccxx");
  gv_workflow_free(w);
}

static void test_scalar_upvalues_restored(void **state) {
  gv_workflow *w = load_wf("local n, last, flag = 0, 'none', false\n" WF_HEAD
                           WF_ACTION("bump", "n = n + 1 last = caller.username or 'x' flag = true "
                                             "return n .. last .. tostring(flag)") WF_TAIL);
  expect_same_twice(w, "bump", "1xtrue");
  gv_workflow_free(w);
}

static void test_table_and_function_upvalues_restored(void **state) {
  gv_workflow *w = load_wf("local T = { count = 0 }\nlocal F = function() return 'orig' end\n" WF_HEAD
                           WF_ACTION("swap_table", "local was = T.count T = { count = 100 } return was")
                           WF_ACTION("swap_function", "local was = F() F = function() return 'evil' end return was")
                           WF_TAIL);
  expect_same_twice(w, "swap_table", "0");
  expect_same_twice(w, "swap_function", "orig");
  gv_workflow_free(w);
}

static void test_env_upvalue_restored(void **state) {
  gv_workflow *w = load_wf(WF_HEAD WF_ACTION("swap_env", "local ok, v = pcall(function() return marker end) "
                                                         "_ENV = { marker = 'leaked' } "
                                                         "if ok then return v end return 'clean'") WF_TAIL);
  expect_same_twice(w, "swap_env", "clean");
  gv_workflow_free(w);
}

static void test_file_metatables_restored(void **state) {
  gv_workflow *w = load_wf("local MT = { __index = function(t, k) return 'orig' end }\n"
                           "local obj = setmetatable({}, MT)\n" WF_HEAD
                           WF_ACTION("hijack", "local was = obj.anything "
                                               "pcall(function() MT.__index = function() return 'evil' end end) "
                                               "pcall(setmetatable, obj, { __index = function() return 'evil' end }) "
                                               "return was")
                           WF_ACTION("meta", "return getmetatable(obj)") WF_TAIL);
  expect_same_twice(w, "hijack", "orig");
  expect_same_twice(w, "meta", "read-only");
  gv_workflow_free(w);
}

static void test_metamethods_never_get_hidden_contents(void **state) {
  /* A frozen table keeps its contents in a hidden table. Metamethods used to be called
   * with that table as self: a script holding it could write there, for the next action. */
  gv_workflow *w = load_wf("local MT = { __index = function(t, k) return t end, __len = function(t) return t end }\n"
                           "local obj = setmetatable({}, MT)\n" WF_HEAD
                           WF_ACTION("grab", "local s = obj.anything local n = 0 for _ in next, s do n = n + 1 end "
                                             "local wrote = pcall(function() s[n + 1] = true end) "
                                             "return n .. tostring(wrote) .. tostring(rawequal(s, obj)) .. "
                                             "tostring(rawequal(#obj, obj))") WF_TAIL);
  expect_same_twice(w, "grab", "0falsetruetrue");
  gv_workflow_free(w);
}

static void test_class_idiom_frozen_but_usable(void **state) {
  /* A metatable that the file also names (the usual class idiom) is frozen like any table
   * the effects reach, and still works as a metatable, for old and new objects. */
  gv_workflow *w = load_wf("local Stance = {}\nStance.__index = Stance\n"
                           "function Stance.new(name) return setmetatable({ name = name }, Stance) end\n"
                           "function Stance:label() return '<' .. self.name .. '>' end\n"
                           "local default = Stance.new('support')\n" WF_HEAD
                           WF_ACTION("use", "local s = Stance.new('oppose') "
                                            "local hijacked = pcall(function() Stance.label = function() return 'evil' end end) "
                                            "return default:label() .. s:label() .. tostring(hijacked) .. "
                                            "tostring(getmetatable(s) == Stance) .. getmetatable(default)") WF_TAIL);
  expect_same_twice(w, "use", "<support><oppose>falsetrueread-only");
  gv_workflow_free(w);
}

static void test_string_metatable_not_shared(void **state) {
  gv_workflow *w = load_wf(WF_HEAD WF_ACTION("poison", "local was = ('x'):upper() "
                                                       "pcall(function() string.upper = function() return 'evil' end end) "
                                                       "pcall(function() getmetatable('').__index = {} end) "
                                                       "return was .. ('y'):upper()") WF_TAIL);
  expect_same_twice(w, "poison", "XY");
  gv_workflow_free(w);
}

static void test_host_metatables_hidden(void **state) {
  /* At load time the environment's metatable led to the host's unfrozen lookup table: a
   * file-level local holding it was a channel between actions. */
  gv_workflow *w = load_wf("local mt = getmetatable(_ENV)\nlocal decl_mt = getmetatable(text {})\n" WF_HEAD
                           WF_ACTION("peek", "return tostring(mt) .. ' ' .. tostring(decl_mt)") WF_TAIL);
  expect_same_twice(w, "peek", "environment nil");
  gv_workflow_free(w);
  expect_load_refused("setmetatable(_ENV, { __index = function() return 1 end })\n" WF_HEAD WF_TAIL,
                      "protected metatable");
}

static void test_gc_armed_by_host_refused(void **state) {
  /* A __gc added after setmetatable is inert, but the host re-applying that metatable
   * (freezing moves it to a hidden table) would arm it: it would then run at close, with
   * hooks off, or during another caller's action. */
  expect_load_refused("local mt = {}\nlocal obj = setmetatable({}, mt)\nmt.__gc = function() while true do end end\n"
                      WF_HEAD WF_ACTION("use", "return obj") WF_TAIL,
                      "__gc");
  /* Declarations get the host's metatable: it is out of reach, so no __gc goes onto it. */
  expect_load_refused("getmetatable(text {}).__gc = function() while true do end end\n" WF_HEAD WF_TAIL,
                      "attempt to index a nil value");
}

static void test_runtime_declarations_do_not_pile_up(void **state) {
  gv_workflow *w = load_wf(WF_HEAD WF_ACTION("declare", "for i = 1, 2000 do workflow 'x' { i } end return 'ok'") WF_TAIL);
  char out[64];
  gv_error err;
  assert_int_equal(act(w, "declare", out, sizeof out, &err), GV_OK);
  lua_gc(gv_sandbox_lua(w->lua), LUA_GCCOLLECT);
  size_t before = gv_sandbox_memory(w->lua);
  for (int i = 0; i < 5; i++) assert_int_equal(act(w, "declare", out, sizeof out, &err), GV_OK);
  lua_gc(gv_sandbox_lua(w->lua), LUA_GCCOLLECT);
  size_t after = gv_sandbox_memory(w->lua);
  if (after > before + 4096) fail_msg("memory grew from %zu to %zu bytes", before, after);
  gv_workflow_free(w);
}

static void test_load_time_metamethods_not_run(void **state) {
  /* Checking a workflow runs after its code, outside any budget or protected call: an
   * author's metamethod there could hang the server or abort it. */
  double t0 = now_s();
  gv_workflow *w = load_wf("workflow \"w\" {\n  states = { \"a\" },\n"
                           "  labels = setmetatable({}, { __index = function() while true do end end }),\n"
                           "  create { by = \"secretariat\", to = \"a\" },\n}\n");
  gv_workflow_free(w);
  w = load_wf("workflow \"w\" {\n  states = { \"a\" },\n"
              "  labels = setmetatable({}, { __index = function() error('boom') end }),\n"
              "  create { by = \"secretariat\", to = \"a\" },\n}\n");
  gv_workflow_free(w);
  expect_load_refused("workflow \"w\" {\n  states = { \"a\" },\n"
                      "  create { by = \"secretariat\", to = \"a\", params = { x = function() while true do end end } },\n}\n",
                      "unknown type");
  assert_true(now_s() - t0 < MAX_SECONDS);
}

static void test_load_time_loop_limited(void **state) {
  expect_load_refused("while true do end\n" WF_HEAD WF_TAIL, "instruction limit");
  /* Filling memory to the cap takes long under sanitizers on a busy machine: whichever
   * limit stops it first (memory, or the wall-time guard), the file is refused. */
  gv_workflow *w = NULL;
  gv_error errs[4];
  size_t n = 0;
  const char *src = "local t = {} for i = 1, 1e9 do t[i] = i end\n" WF_HEAD WF_TAIL;
  assert_int_equal(gv_workflow_load("w.lua", src, strlen(src), forum, &w, errs, 4, &n), GV_ECONFIG);
  assert_null(w);
  if (!names_a_limit(errs[0].message))
    fail_msg("message '%s' names no limit", errs[0].message);
}

static void test_json_value_bomb(void **state) {
  /* 60 levels of a table holding the same table twice: 2^60 values to write out. */
  gv_sandbox *sb = small_sandbox();
  lua_State *L = gv_sandbox_lua(sb);
  gv_error err;
  assert_int_equal(run_in(sb, "local x = {} for i = 1, 60 do x = { a = x, b = x } end return x", 1, &err), GV_OK);
  double t0 = now_s();
  json_t *j = gv_lhost_to_json(L, -1, &err);
  assert_null(j);
  assert_int_equal(err.code, GV_EPARAM);
  assert_non_null(strstr(err.message, "more than"));
  if (now_s() - t0 >= 4 * MAX_SECONDS) fail_msg("took %.2f s", now_s() - t0);
  lua_pop(L, 1);
  assert_healthy(sb);
  gv_sandbox_free(sb);
}

/* ---- The engine: identity, incidents, other items ----------------------------------------- */

static const char EVIL[] =
    "workflow \"evil\" {\n"
    "  states = { \"open\" },\n"
    "  positions = true,\n"
    "  create { by = \"secretariat\", to = \"open\" },\n"
    "  action \"speak_for_km\" { by = \"delegate\", from = \"open\",\n"
    "    run = function(item) item:set_position(\"KM\", \"support\", \"forged\") end },\n"
    "  action \"pose_as_km\" { by = \"delegate\", from = \"open\",\n"
    "    run = function(item, p, caller)\n"
    "      caller.member = \"KM\" caller.role = \"secretariat\" caller.username = \"km.delegate\"\n"
    "      item:set_position(caller.member, \"support\", \"forged\")\n"
    "    end },\n"
    "  action \"own\" { by = \"delegate\", from = \"open\",\n"
    "    run = function(item, p, caller) item:set_position(caller.member, \"oppose\", \"ours\") end },\n"
    "  action \"crash\" { by = \"secretariat\", from = \"open\",\n"
    "    run = function(item) item.data.half_done = true item:notify(\"x\", \"all\", {}) error(\"boom\") end },\n"
    "  action \"spin\" { by = \"secretariat\", from = \"open\",\n"
    "    run = function(item) item.data.half_done = true while true do end end },\n"
    "  action \"hoard\" { by = \"secretariat\", from = \"open\",\n"
    "    run = function(item) item.data.half_done = true local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100000) .. i end end },\n"
    "  action \"bomb\" { by = \"secretariat\", from = \"open\",\n"
    "    run = function(item) local x = {} for i = 1, 60 do x = { a = x, b = x } end item.data.bomb = x end },\n"
    "  action \"peek\" { by = \"secretariat\", from = \"open\", params = { other = item_ref { required = true } },\n"
    "    run = function(item, p)\n"
    "      local o = gavel.item(p.other)\n"
    "      o.data.tampered = true o.state = \"hacked\" o.title = \"hacked\"\n"
    "      item.data.seen = gavel.item(p.other).state\n"
    "    end },\n"
    "}\n";

typedef struct fixture {
  char *dir;
  gv_engine *e;
  gv_forum *f;
} fixture;

/* A fresh database with the MiDIOCC forum, its demo users and the malicious workflow. */
static int engine_setup(void **state) {
  fixture *x = calloc(1, sizeof *x);
  x->dir = tu_tmpdir();
  const char *db = tu_path(x->dir, "g.db");
  char path[512];
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", tu_source_dir());
  gv_error err;
  if (gv_forum_load_file(path, &x->f, &err) != GV_OK) return -1;
  int64_t now = 1772427600000; /* 2026-03-02T05:00:00Z */
  gv_store *s;
  if (gv_store_open(db, GV_STORE_CREATE, &s, &err) != GV_OK) return -1;
  int rc = gv_store_begin(s, &err);
  if (rc == GV_OK) rc = gv_store_forum_save(s, x->f, now, &err);
  gv_demo_user *du = calloc(3 + x->f->nmembers, sizeof *du);
  size_t nu = gv_demo_users(x->f, du);
  for (size_t i = 0; rc == GV_OK && i < nu; i++) {
    gv_user u = {0};
    snprintf(u.username, sizeof u.username, "%s", du[i].username);
    snprintf(u.role, sizeof u.role, "%s", du[i].role);
    snprintf(u.member, sizeof u.member, "%s", du[i].member);
    snprintf(u.display_name, sizeof u.display_name, "%s", du[i].display_name);
    snprintf(u.language, sizeof u.language, "%s", du[i].language);
    snprintf(u.password_hash, sizeof u.password_hash, "!");
    rc = gv_account_create(s, x->f, 0, &u, now, NULL, &err);
  }
  free(du);
  if (rc == GV_OK) rc = gv_store_commit(s, &err);
  else gv_store_rollback(s);
  gv_store_close(s);
  if (rc != GV_OK) return -1;
  gv_engine_options o = {0};
  o.db_path = db;
  o.clock = GV_CLOCK_VIRTUAL;
  o.virtual_start = now;
  if (gv_engine_open(&o, &x->e, &err) != GV_OK) return -1;
  gv_error errs[4];
  size_t n = 0;
  if (gv_engine_register_source(x->e, "evil.lua", EVIL, strlen(EVIL), errs, 4, &n) != GV_OK) {
    fprintf(stderr, "evil.lua:%d: %s\n", errs[0].line, errs[0].message);
    return -1;
  }
  *state = x;
  return 0;
}

static int engine_teardown(void **state) {
  fixture *x = *state;
  gv_engine_close(x->e);
  gv_forum_free(x->f);
  tu_rmdir(x->dir);
  free(x);
  return 0;
}

static gv_caller caller_named(fixture *x, const char *username) {
  gv_user u;
  gv_caller c;
  assert_int_equal(gv_store_user_find(gv_engine_store(x->e), username, &u, NULL), GV_OK);
  gv_caller_from_user(&c, &u);
  return c;
}

static int64_t create_item(fixture *x) {
  gv_caller sec = caller_named(x, "secretariat");
  json_t *title = json_string("Bait");
  gv_action_req q = {0};
  q.caller = &sec;
  q.workflow = "evil";
  q.title = title;
  gv_action_res r;
  assert_int_equal(gv_engine_apply(x->e, &q, &r, 1), GV_OK);
  json_decref(title);
  if (r.err.code != GV_OK) fail_msg("create: %s", r.err.message);
  return r.item_id;
}

/* Runs action on item as username; returns the result's error code (message in *err). */
static int do_action(fixture *x, const char *username, int64_t item, const char *action, json_t *params,
                     gv_error *err) {
  gv_caller c = caller_named(x, username);
  gv_action_req q = {0};
  q.caller = &c;
  q.item_id = item;
  q.action = action;
  q.params = params;
  gv_action_res r;
  assert_int_equal(gv_engine_apply(x->e, &q, &r, 1), GV_OK);
  *err = r.err;
  return r.err.code;
}

static size_t count_events(fixture *x, int64_t item) {
  json_t *ev = NULL;
  assert_int_equal(gv_store_events(gv_engine_store(x->e), x->f->id, item, 0, 100000, &ev, NULL), GV_OK);
  size_t n = json_array_size(ev);
  json_decref(ev);
  return n;
}

static size_t count_outbox(fixture *x) {
  json_t *rows = NULL;
  assert_int_equal(gv_store_outbox_list(gv_engine_store(x->e), 0, 100000, &rows, NULL), GV_OK);
  size_t n = json_array_size(rows);
  json_decref(rows);
  return n;
}

static void test_engine_caller_cannot_be_forged(void **state) {
  fixture *x = *state;
  int64_t id = create_item(x);
  gv_error err;
  assert_int_equal(do_action(x, "mg.delegate", id, "speak_for_km", NULL, &err), GV_EFORBIDDEN);
  assert_non_null(strstr(err.message, "own state"));
  /* The caller table is the script's copy: editing it changes nothing the engine uses. */
  assert_int_equal(do_action(x, "mg.delegate", id, "pose_as_km", NULL, &err), GV_EFORBIDDEN);
  assert_int_equal(do_action(x, "mg.delegate", id, "own", NULL, &err), GV_OK);
  json_t *pos = NULL;
  assert_int_equal(gv_store_positions(gv_engine_store(x->e), id, 0, &pos, NULL), GV_OK);
  assert_null(json_object_get(pos, "KM"));
  assert_string_equal(json_string_value(json_object_get(json_object_get(pos, "MG"), "stance")), "oppose");
  assert_int_equal(json_object_size(pos), 1);
  json_decref(pos);
}

static void test_engine_failed_effects_commit_nothing(void **state) {
  fixture *x = *state;
  int64_t id = create_item(x);
  size_t events = count_events(x, id), outbox = count_outbox(x);
  gv_error err;
  double t0 = now_s();
  assert_int_equal(do_action(x, "secretariat", id, "crash", NULL, &err), GV_ESCRIPT);
  assert_non_null(strstr(err.message, "boom"));
  assert_string_equal(err.file, "evil.lua");
  assert_int_equal(do_action(x, "secretariat", id, "spin", NULL, &err), GV_ELIMIT);
  assert_non_null(strstr(err.message, "instruction limit"));
  /* The memory cap stops the hoard, or on a busy machine the wall-time guard first. */
  assert_int_equal(do_action(x, "secretariat", id, "hoard", NULL, &err), GV_ELIMIT);
  assert_true(names_a_limit(err.message));
  assert_true(now_s() - t0 < 3 * MAX_SECONDS);
  /* Nothing of the failed effects was kept: no data, no event, no notification. */
  gv_item_row it;
  assert_int_equal(gv_store_item_get(gv_engine_store(x->e), id, &it, NULL), GV_OK);
  assert_null(strstr(it.data, "half_done"));
  gv_item_row_clear(&it);
  assert_int_equal(count_events(x, id), events);
  assert_int_equal(count_outbox(x), outbox);
  /* Each failure left an incident, most recent first. */
  json_t *inc = NULL;
  assert_int_equal(gv_store_incident_list(gv_engine_store(x->e), 10, &inc, NULL), GV_OK);
  assert_int_equal(json_array_size(inc), 3);
  const char *kinds[] = {"memory_limit", "instruction_limit", "script_error"};
  const char *actions[] = {"hoard", "spin", "crash"};
  for (size_t i = 0; i < 3; i++) {
    json_t *o = json_array_get(inc, i);
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (i == 0) /* the hoard: whichever limit stopped it */
      assert_true(strcmp(kind, "memory_limit") == 0 || strcmp(kind, "instruction_limit") == 0);
    else
      assert_string_equal(kind, kinds[i]);
    assert_string_equal(json_string_value(json_object_get(o, "action")), actions[i]);
    assert_int_equal(json_integer_value(json_object_get(o, "item_id")), id);
  }
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(inc, 2), "message")), "boom"));
  json_decref(inc);
  /* The workflow still works. */
  assert_int_equal(do_action(x, "mu.delegate", id, "own", NULL, &err), GV_OK);
}

static void test_engine_data_bomb_is_an_incident(void **state) {
  fixture *x = *state;
  int64_t id = create_item(x);
  size_t events = count_events(x, id);
  gv_error err;
  assert_int_equal(do_action(x, "secretariat", id, "bomb", NULL, &err), GV_ESCRIPT);
  assert_non_null(strstr(err.message, "more than"));
  assert_int_equal(count_events(x, id), events);
  json_t *inc = NULL;
  assert_int_equal(gv_store_incident_list(gv_engine_store(x->e), 10, &inc, NULL), GV_OK);
  assert_int_equal(json_array_size(inc), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(inc, 0), "action")), "bomb");
  json_decref(inc);
}

static void test_engine_other_items_are_copies(void **state) {
  fixture *x = *state;
  int64_t target = create_item(x), spy = create_item(x);
  gv_item_row before;
  assert_int_equal(gv_store_item_get(gv_engine_store(x->e), target, &before, NULL), GV_OK);
  json_t *p = json_pack("{s:I}", "other", (json_int_t)target);
  gv_error err;
  assert_int_equal(do_action(x, "secretariat", spy, "peek", p, &err), GV_OK);
  json_decref(p);
  gv_item_row after, s;
  assert_int_equal(gv_store_item_get(gv_engine_store(x->e), target, &after, NULL), GV_OK);
  assert_string_equal(after.state, before.state);
  assert_string_equal(after.data, before.data);
  assert_string_equal(after.title, before.title);
  assert_null(strstr(after.data, "tampered"));
  /* A second snapshot taken in the same effect was fresh, too. */
  assert_int_equal(gv_store_item_get(gv_engine_store(x->e), spy, &s, NULL), GV_OK);
  assert_non_null(strstr(s.data, "\"seen\":\"open\""));
  gv_item_row_clear(&before);
  gv_item_row_clear(&after);
  gv_item_row_clear(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bytecode_refused),
      cmocka_unit_test(test_load_absent),
      cmocka_unit_test(test_dofile_loadfile_absent),
      cmocka_unit_test(test_require_package_absent),
      cmocka_unit_test(test_io_absent),
      cmocka_unit_test(test_debug_absent),
      cmocka_unit_test(test_os_only_clock),
      cmocka_unit_test(test_string_dump_absent),
      cmocka_unit_test(test_collectgarbage_count_only),
      cmocka_unit_test(test_rawset_rawget_absent),
      cmocka_unit_test(test_coroutine_absent),
      cmocka_unit_test(test_pattern_functions_absent),
      cmocka_unit_test(test_find_patterns_refused),
      cmocka_unit_test(test_catastrophic_pattern_is_plain),
      cmocka_unit_test(test_string_methods_no_match),
      cmocka_unit_test(test_string_metatable_hidden),
      cmocka_unit_test(test_rep_empty_string_huge_count),
      cmocka_unit_test(test_rep_beyond_memory),
      cmocka_unit_test(test_table_move_huge),
      cmocka_unit_test(test_table_concat_huge),
      cmocka_unit_test(test_table_insert_remove_huge_len),
      cmocka_unit_test(test_table_insert_remove_negative_len),
      cmocka_unit_test(test_unpack_huge),
      cmocka_unit_test(test_utf8_char_huge),
      cmocka_unit_test(test_loop_of_costly_calls_is_timed_out),
      cmocka_unit_test(test_loop_of_sorts_is_timed_out),
      cmocka_unit_test(test_infinite_loop),
      cmocka_unit_test(test_pcall_cannot_swallow_limit),
      cmocka_unit_test(test_xpcall_cannot_swallow_limit),
      cmocka_unit_test(test_error_handler_that_loops),
      cmocka_unit_test(test_memory_table_fill),
      cmocka_unit_test(test_memory_string_rep_26),
      cmocka_unit_test(test_gc_metamethod_refused),
      cmocka_unit_test(test_deep_recursion),
      cmocka_unit_test(test_deeply_nested_constructor),
      cmocka_unit_test(test_source_size_capped),
      cmocka_unit_test(test_forged_refusal_code),
      cmocka_unit_test(test_global_assignment_refused),
      cmocka_unit_test(test_file_tables_frozen),
      cmocka_unit_test(test_scalar_upvalues_restored),
      cmocka_unit_test(test_table_and_function_upvalues_restored),
      cmocka_unit_test(test_env_upvalue_restored),
      cmocka_unit_test(test_file_metatables_restored),
      cmocka_unit_test(test_metamethods_never_get_hidden_contents),
      cmocka_unit_test(test_class_idiom_frozen_but_usable),
      cmocka_unit_test(test_string_metatable_not_shared),
      cmocka_unit_test(test_host_metatables_hidden),
      cmocka_unit_test(test_gc_armed_by_host_refused),
      cmocka_unit_test(test_runtime_declarations_do_not_pile_up),
      cmocka_unit_test(test_load_time_metamethods_not_run),
      cmocka_unit_test(test_load_time_loop_limited),
      cmocka_unit_test(test_json_value_bomb),
      cmocka_unit_test_setup_teardown(test_engine_caller_cannot_be_forged, engine_setup, engine_teardown),
      cmocka_unit_test_setup_teardown(test_engine_failed_effects_commit_nothing, engine_setup, engine_teardown),
      cmocka_unit_test_setup_teardown(test_engine_data_bomb_is_an_incident, engine_setup, engine_teardown),
      cmocka_unit_test_setup_teardown(test_engine_other_items_are_copies, engine_setup, engine_teardown),
  };
  return cmocka_run_group_tests(tests, load_forum, free_forum);
}
