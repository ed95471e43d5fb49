/* Unit tests of the plugin host: misuse of the host API is refused with an error, never dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "gavel/plugin.h"
#include "host/host.h"
#include "model/forum.h"
#include "store/store.h"
#include "testutil.h"

/* What the test plugin saw, for the test to check. */
static struct {
  gv_host *h;
  int init_rc[8];          /* the refused registrations, in the order of init's attempts */
  int receipt_rc[5];       /* gv_host_receipt_int inside the event hook: the fifth is refused */
  int events;
  int commits;
  int metrics_mode;        /* 0: its own lines; 1: a line of another's; 2: the callback fails */
  char config[256];
} seen;

static int metrics(void *state, gv_host *h, gv_str *out) {
  if (seen.metrics_mode == 2) return GV_EIO;
  gv_str_puts(out, "# HELP gavel_misuse_x A figure.\n# TYPE gavel_misuse_x gauge\ngavel_misuse_x 1\n");
  if (seen.metrics_mode == 1) gv_str_puts(out, "gavel_audit_size 7\n");
  return GV_OK;
}

static void on_commit(void *state, gv_host *h, int64_t first, int64_t last) { seen.commits++; }

static int on_event(void *state, gv_host *h, const gv_plugin_event *ev, gv_error *err) {
  char name[16];
  for (int i = 0; i < 5; i++) {
    snprintf(name, sizeof name, "field%d", i);
    seen.receipt_rc[i] = gv_host_receipt_int(h, name, i);
  }
  seen.events++;
  return GV_OK;
}

static void serve(void *state, gv_host *h, void *loop) {}
static void stop(void *state, gv_host *h) {}

static int echo(void *state, gv_host *h, const char *args_json, char **result_json, gv_error *err) {
  *result_json = strdup(args_json);
  return GV_OK;
}

static int init(gv_host *h, const char *config_json, void **state, gv_error *err) {
  seen.h = h;
  snprintf(seen.config, sizeof seen.config, "%s", config_json);
  int k = 0;
  for (int i = 0; i < 8; i++) assert_int_equal(gv_host_on_commit(h, on_commit), GV_OK);
  seen.init_rc[k++] = gv_host_on_commit(h, on_commit); /* a ninth */
  assert_int_equal(gv_host_on_event(h, on_event), GV_OK);
  seen.init_rc[k++] = gv_host_on_commit(h, NULL);
  char name[32];
  for (int i = 0; i < 16; i++) {
    snprintf(name, sizeof name, "f%d", i);
    assert_int_equal(gv_host_workflow_function(h, name, echo), GV_OK);
  }
  seen.init_rc[k++] = gv_host_workflow_function(h, "f16", echo); /* a 17th */
  seen.init_rc[k++] = gv_host_receipt_int(h, "early", 1);       /* outside an event hook */
  seen.init_rc[k++] = gv_host_on_serve(h, serve, stop);
  seen.init_rc[k++] = gv_host_on_serve(h, serve, stop);           /* twice */
  seen.init_rc[k++] = gv_host_on_metrics(h, NULL);
  assert_int_equal(gv_host_on_metrics(h, metrics), GV_OK);
  seen.init_rc[k++] = gv_host_on_metrics(h, metrics);             /* twice */
  return GV_OK;
}

static const gv_plugin misuse = {GV_PLUGIN_API_VERSION, "misuse", "1", "tries every misuse", init, NULL, NULL, NULL, {0}};
static const gv_plugin too_new = {GV_PLUGIN_API_VERSION + 1, "toonew", "1", "from the future", init, NULL, NULL, NULL, {0}};

typedef struct world {
  char *dir;
  gv_store *store;
  gv_forum *forum;
  gv_plugins *plugins;
  gv_engine *engine;
} world;

static void open_world(world *w, const char *config_json) {
  char path[512];
  gv_error err;
  memset(w, 0, sizeof *w);
  memset(&seen, 0, sizeof seen);
  w->dir = tu_tmpdir();
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", tu_source_dir());
  assert_int_equal(gv_forum_load_file(path, &w->forum, &err), GV_OK);
  assert_int_equal(gv_store_open(tu_path(w->dir, "g.db"), GV_STORE_CREATE, &w->store, &err), GV_OK);
  assert_int_equal(gv_store_begin(w->store, &err), GV_OK);
  assert_int_equal(gv_store_forum_save(w->store, w->forum, 1000, &err), GV_OK);
  assert_int_equal(gv_store_commit(w->store, &err), GV_OK);
  static const gv_plugin *const list[] = {&misuse};
  gv_plugins_set_builtin(list, 1);
  gv_plugins_options po = {w->store, w->forum, tu_path(w->dir, "g.db"), config_json, NULL};
  if (gv_plugins_open(&po, &w->plugins, &err) != GV_OK) fail_msg("%s", err.message);
  gv_engine_options eo = {0};
  eo.store = w->store;
  gv_plugins_hooks(w->plugins, &eo.hooks);
  assert_int_equal(gv_engine_open(&eo, &w->engine, &err), GV_OK);
  gv_plugins_attach(w->plugins, w->engine);
}

static void close_world(world *w) {
  gv_engine_close(w->engine);
  gv_plugins_close(w->plugins);
  gv_store_close(w->store);
  gv_forum_free(w->forum);
  tu_rmdir(w->dir);
}

/* Limits and wrong moments during init: each refused with its code, the rest kept. */
static void test_registration_refused(void **state) {
  world w;
  open_world(&w, NULL);
  assert_int_equal(seen.init_rc[0], GV_EINVAL);  /* a ninth commit listener */
  assert_int_equal(seen.init_rc[1], GV_EINVAL);  /* no function */
  assert_int_equal(seen.init_rc[2], GV_EINVAL);  /* a 17th workflow function */
  assert_int_equal(seen.init_rc[3], GV_ESTATE);  /* a receipt field outside an event hook */
  assert_int_equal(seen.init_rc[4], GV_OK);
  assert_int_equal(seen.init_rc[5], GV_EINVAL);  /* serve hooks twice */
  assert_int_equal(seen.init_rc[6], GV_EINVAL);  /* metrics without a function */
  assert_int_equal(seen.init_rc[7], GV_EINVAL);  /* metrics twice */
  assert_string_equal(seen.config, "{}");
  /* After init, registration is closed. */
  assert_int_equal(gv_host_on_commit(seen.h, on_commit), GV_ESTATE);
  assert_int_equal(gv_host_on_event(seen.h, on_event), GV_ESTATE);
  assert_int_equal(gv_host_workflow_function(seen.h, "late", echo), GV_ESTATE);
  assert_int_equal(gv_host_on_serve(seen.h, serve, stop), GV_ESTATE);
  assert_int_equal(gv_host_on_metrics(seen.h, metrics), GV_ESTATE);
  gv_error err;
  assert_int_equal(gv_host_migrations(seen.h, NULL, 0, &err), GV_ESTATE);
  close_world(&w);
}

/* An event: the hook runs inside the transaction; a fifth receipt field is refused; the eight
 * commit listeners that were accepted all run once the batch committed. */
static void test_receipt_and_commit(void **state) {
  world w;
  open_world(&w, NULL);
  gv_error err;
  int64_t eid = 0;
  json_t *params = json_object();
  assert_int_equal(gv_engine_record(w.engine, w.forum->id, "config", "test", 0, NULL, params, &eid, &err), GV_OK);
  json_decref(params);
  assert_int_equal(seen.events, 1);
  for (int i = 0; i < 4; i++) assert_int_equal(seen.receipt_rc[i], GV_OK);
  assert_int_equal(seen.receipt_rc[4], GV_EINVAL);
  assert_int_equal(seen.commits, 8);
  close_world(&w);
}

/* Plugins are named in the configuration: an unknown name or a plugin built for a newer
 * host is refused before anything of it runs. */
/* A plugin's /metrics lines are served only while every one of them is its own
 * (gavel_<plugin>_...) and its callback succeeds. */
static void test_metrics_lines(void **state) {
  world w;
  open_world(&w, NULL);
  gv_buf b = GV_BUF_INIT;
  gv_plugins_metrics(w.plugins, &b);
  assert_non_null(b.data);
  assert_string_equal(b.data, "# HELP gavel_misuse_x A figure.\n# TYPE gavel_misuse_x gauge\ngavel_misuse_x 1\n");
  for (int mode = 1; mode <= 2; mode++) {
    gv_buf_reset(&b);
    seen.metrics_mode = mode;
    gv_plugins_metrics(w.plugins, &b);
    assert_int_equal(b.len, 0);
  }
  gv_buf_free(&b);
  close_world(&w);
}

static void test_config_refused(void **state) {
  char *dir = tu_tmpdir();
  gv_error err;
  static const gv_plugin *const list[] = {&misuse, &too_new};
  gv_plugins_set_builtin(list, 2);
  gv_plugins *p = NULL;
  gv_plugins_options po = {NULL, NULL, "", "{\"missue\": {}}", NULL};
  assert_int_equal(gv_plugins_open(&po, &p, &err), GV_ECONFIG);
  assert_non_null(strstr(err.message, "no plugin named 'missue'"));
  po.config_json = "{\"misuse\": false}";
  po.only = "toonew";
  memset(&seen, 0, sizeof seen);
  assert_int_equal(gv_plugins_open(&po, &p, &err), GV_ECONFIG);
  assert_non_null(strstr(err.message, "needs plugin API"));
  assert_null(seen.h); /* its init never ran */
  po.config_json = "{\"misuse\": {\"path\": \"relative.so\"}}";
  po.only = NULL;
  assert_int_equal(gv_plugins_open(&po, &p, &err), GV_ECONFIG);
  assert_null(p);
  tu_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registration_refused),
      cmocka_unit_test(test_receipt_and_commit),
      cmocka_unit_test(test_metrics_lines),
      cmocka_unit_test(test_config_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
