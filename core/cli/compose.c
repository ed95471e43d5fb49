/* The composition root: opens the store, then the plugins, then the engine, and wires the plugins' hooks in. */
#include "cli/cli.h"
#include "base/alloc.h"
#include "engine/engine.h"
#include "host/host.h"
#include "lua/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gv_cli_plugins_config(const char *path, char **out, gv_error *err) {
  *out = NULL;
  path = gv_config_path(path);
  if (path == NULL) return GV_OK;
  gv_config *cfg = gv_malloc(sizeof *cfg);
  if (cfg == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  gv_config_defaults(cfg);
  int rc = gv_config_load(path, cfg, err);
  if (rc == GV_OK && cfg->plugins_json[0] && (*out = gv_strdup(cfg->plugins_json)) == NULL)
    rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  free(cfg);
  return rc;
}

/* The plugins, on a store whose forum is known; their event hook goes to the engine or,
 * without one, straight to the store, so a change made from the command line reaches them
 * (and the audit log) as one made through the server does. */
static int open_plugins(gv_cli_env *env, const gv_cli_env_options *o, gv_error *err) {
  char id[64];
  if (gv_store_forum_default(env->store, id, NULL) != GV_OK) return GV_OK; /* no forum yet: nothing to serve */
  int rc = gv_store_forum_load(env->store, id, &env->forum, err);
  if (rc != GV_OK) return rc;
  gv_plugins_options po = {env->store, env->forum, o->db, o->plugins_json, o->only};
  return gv_plugins_open(&po, &env->plugins, err);
}

int gv_cli_env_open(gv_cli_env *env, const gv_cli_env_options *o, gv_error *err) {
  memset(env, 0, sizeof *env);
  int rc = gv_store_open(o->db, o->create ? GV_STORE_CREATE : 0, &env->store, err);
  if (rc != GV_OK) return rc;
  if (o->plugins && (rc = open_plugins(env, o, err)) != GV_OK) goto fail;
  gv_engine_hooks hooks;
  gv_plugins_hooks(env->plugins, &hooks);
  if (o->engine) {
    gv_engine_options eo = {0};
    eo.db_path = o->db;
    eo.store = env->store;
    eo.clock = o->clock;
    eo.hooks = hooks;
    if ((rc = gv_engine_open(&eo, &env->engine, err)) != GV_OK) goto fail;
    gv_plugins_attach(env->plugins, env->engine);
  } else if (env->plugins) {
    gv_store_set_event_hook(env->store, hooks.event, hooks.event_ud);
  }
  return GV_OK;
fail:
  gv_cli_env_close(env);
  return rc;
}

void gv_cli_env_close(gv_cli_env *env) {
  if (env == NULL) return;
  /* The reverse order: the engine, then the plugins it calls, then the store under both. */
  gv_engine_close(env->engine);
  if (env->store) gv_store_set_event_hook(env->store, NULL, NULL);
  gv_plugins_close(env->plugins);
  gv_forum_free(env->forum);
  gv_store_close(env->store);
  memset(env, 0, sizeof *env);
}

int gv_cli_open_store(gv_opt *opts, int create, gv_cli_env *env) {
  memset(env, 0, sizeof *env);
  const char *db = gv_cli_db(opts);
  if (db == NULL) return 1;
  gv_error err;
  gv_error_clear(&err);
  char *config = NULL;
  if (gv_cli_plugins_config(gv_cli_val(opts, "config", NULL), &config, &err) != GV_OK) return gv_cli_fail(&err);
  gv_cli_env_options o = {.db = db, .create = create, .plugins = 1, .plugins_json = config};
  int rc = gv_cli_env_open(env, &o, &err);
  free(config);
  if (rc == GV_OK) return 0;
  if (err.code == GV_ENOTFOUND && access(db, F_OK) != 0)
    fprintf(stderr, "gavel: no database at %s (create one with gavel init --db %s --forum ID)\n", db, db);
  else
    gv_cli_fail(&err);
  return 1;
}

void gv_cli_close_store(gv_cli_env *env) { gv_cli_env_close(env); }

int gv_cli_engine_open(gv_opt *opts, const char *db, int with_plugins, gv_cli_env *env) {
  gv_error err;
  gv_error_clear(&err);
  char *config = NULL;
  memset(env, 0, sizeof *env);
  if (with_plugins && gv_cli_plugins_config(opts ? gv_cli_val(opts, "config", NULL) : NULL, &config, &err) != GV_OK)
    return gv_cli_fail(&err);
  gv_cli_env_options o = {.db = db, .plugins = with_plugins, .plugins_json = config, .engine = 1};
  int rc = gv_cli_env_open(env, &o, &err);
  free(config);
  return rc == GV_OK ? 0 : gv_cli_fail(&err);
}

/* The database of a plugin command run without --db: $GAVEL_DATABASE, else the
 * configuration's, else ./gavel.db. NULL (printed) when the configuration cannot be read. */
static const char *command_db(const char *conf) {
  static gv_config cfg;
  const char *path = gv_config_path(conf), *env = getenv("GAVEL_DATABASE");
  if (path == NULL || (env && *env)) return gv_config_database(NULL, NULL);
  gv_error err;
  gv_config_defaults(&cfg);
  if (gv_config_load(path, &cfg, &err) != GV_OK) {
    gv_cli_fail(&err);
    return NULL;
  }
  return gv_config_database(NULL, &cfg);
}

/* `gavel <plugin command>`: --db, --config (and --help) are the host's; the rest is the command's. */
int gv_cli_plugin_command(int argc, char **argv) {
  const char *db = NULL, *conf = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) conf = argv[i + 1];
    else if (strncmp(argv[i], "--config=", 9) == 0) conf = argv[i] + 9;
  }
  gv_error err;
  gv_error_clear(&err);
  char *config = NULL;
  /* Plugins loaded from a shared object bring their commands: load them first. */
  if (gv_cli_plugins_config(conf, &config, &err) != GV_OK || gv_plugins_load(config, &err) != GV_OK) {
    free(config);
    /* Not a plugin's command after all when the settings cannot say: report only if one matches. */
    const gv_plugin *pl;
    int used;
    if (gv_plugins_find_command(argc, argv, &pl, &used) == NULL) return -1;
    return gv_cli_fail(&err);
  }
  const gv_plugin *pl = NULL;
  int used = 0;
  const gv_plugin_command *c = gv_plugins_find_command(argc, argv, &pl, &used);
  if (c == NULL) {
    free(config);
    return -1;
  }
  char **rest = gv_calloc((size_t)argc + 1, sizeof *rest);
  int nrest = 0, rc = 1;
  for (int i = used; rest && i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: gavel %s [--db PATH] [--config PATH] %s\n\n%s\n"
             "The plugin's settings come from --config, else ./gavel.conf.lua if present.\n",
             c->name, c->args ? c->args : "", c->summary);
      rc = 0;
      goto done;
    }
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) db = argv[++i];
    else if (strncmp(argv[i], "--db=", 5) == 0) db = argv[i] + 5;
    else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) ++i;
    else if (strncmp(argv[i], "--config=", 9) == 0) continue;
    else rest[nrest++] = argv[i];
  }
  if (rest == NULL) {
    fprintf(stderr, "gavel: out of memory\n");
    goto done;
  }
  /* A command that can run without a database says so first (an auditor has no database). */
  const gv_plugin_command *alone = gv_plugins_find_standalone(c, pl);
  if (alone && (rc = alone->fn(NULL, NULL, nrest, rest)) != GV_COMMAND_NEEDS_DB) goto done;
  rc = 1;
  if (db == NULL) db = command_db(conf);
  if (db == NULL) goto done;
  gv_cli_env env;
  gv_cli_env_options o = {.db = db, .plugins = 1, .plugins_json = config, .only = pl->name};
  if (gv_cli_env_open(&env, &o, &err) != GV_OK) {
    if (err.code == GV_ENOTFOUND && access(db, F_OK) != 0) fprintf(stderr, "gavel %s: no database at %s\n", c->name, db);
    else gv_cli_fail(&err);
    goto done;
  }
  if (env.plugins == NULL) {
    fprintf(stderr, "gavel %s: the database at %s has no forum\n", c->name, db);
    gv_cli_env_close(&env);
    goto done;
  }
  rc = gv_plugins_run_command(env.plugins, c, nrest, rest);
  gv_cli_env_close(&env);
done:
  free(rest);
  free(config);
  return rc;
}
