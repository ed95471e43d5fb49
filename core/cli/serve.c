/* Commands around the server: serve, record, token. */
#include "api/api.h"
#include "cli/cli.h"
#include "base/crypto.h"
#include "engine/engine.h"
#include "base/time.h"
#include "views/record.h"
#include "api/server.h"
#include "base/log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmd_serve(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  if (gv_cli_opt(opts, "print-routes")->set) {
    size_t n;
    gv_route *r = gv_routes(&n);
    for (size_t i = 0; i < n; i++) printf("%s %s%s\n", r[i].method, r[i].pattern, (r[i].flags & R_TEST_CLOCK) ? " test-clock" : "");
    r = gv_plugin_routes(&n);
    for (size_t i = 0; i < n; i++) printf("%s %s\n", r[i].method, r[i].pattern);
    return 0;
  }
  gv_config cfg;
  gv_config_defaults(&cfg);
  gv_error err;
  gv_error_clear(&err);
  /* Each setting: the option, else the environment, else the file, else the default. */
  const char *path = gv_config_path(gv_cli_val(opts, "config", NULL));
  if (path && gv_config_load(path, &cfg, &err) != GV_OK) return gv_cli_fail(&err);
  const char *db = gv_config_database(gv_cli_val(opts, "db", NULL), &cfg);
  if (db != cfg.database) snprintf(cfg.database, sizeof cfg.database, "%s", db);
  const char *listen = gv_cli_val(opts, "listen", NULL);
  if (listen && gv_config_parse_listen(listen, cfg.listen_host, &cfg.listen_port) != GV_OK)
    return gv_cli_usage_error(cmd, "--listen must be ADDRESS:PORT, e.g. 127.0.0.1:8080");
  const char *wf = gv_cli_val(opts, "workflows", NULL);
  if (wf) snprintf(cfg.workflows, sizeof cfg.workflows, "%s", wf);
  cfg.test_clock = gv_cli_opt(opts, "test-clock")->set;
  if (access(cfg.database, F_OK) != 0) {
    fprintf(stderr, "gavel serve: no database at %s; create one with: gavel init --db %s --forum midiocc\n",
            cfg.database, cfg.database);
    return 1;
  }
  /* GAVEL_LOG_LEVEL in the environment wins over the configuration file. */
  const char *env_level = getenv("GAVEL_LOG_LEVEL");
  const char *level = env_level && gv_log_level_parse(env_level) >= 0 ? env_level : cfg.log_level;
  gv_log_set_level(gv_log_level_parse(level) >= 0 ? gv_log_level_parse(level) : GV_LOG_INFO);
  gv_log_set_json(strcmp(cfg.log_format, "json") == 0);
  /* The store, then the plugins on it, then the engine with their hooks: the server runs on all three. */
  gv_cli_env env;
  gv_cli_env_options o = {.db = cfg.database, .plugins = 1, .plugins_json = cfg.plugins_json[0] ? cfg.plugins_json : NULL,
                          .engine = 1, .clock = cfg.test_clock ? GV_CLOCK_OFFSET : GV_CLOCK_REAL};
  if (gv_cli_env_open(&env, &o, &err) != GV_OK) {
    char buf[700];
    if (err.code == GV_ECONFIG) {
      /* A plugin refused its settings: one line, at the setting, as for any other mistake. */
      gv_config_locate(&cfg, &err);
      fprintf(stderr, "%s\n", gv_error_format(&err, buf, sizeof buf));
    } else
      gv_log(GV_LOG_ERROR, "server.store", "error=\"%s\"", gv_error_format(&err, buf, sizeof buf));
    return 1;
  }
  int rc = gv_server_run(&cfg, env.engine, env.plugins);
  gv_cli_env_close(&env);
  return rc;
}

static int cmd_record(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  const char *meeting = gv_cli_val(opts, "meeting", NULL);
  const char *format = gv_cli_val(opts, "format", "md");
  if (meeting == NULL) return gv_cli_usage_error(cmd, "--meeting ID is required");
  char *end;
  long long id = strtoll(meeting, &end, 10);
  if (*end || id <= 0) return gv_cli_usage_error(cmd, "--meeting must be a meeting id (see gavel meeting list)");
  if (strcmp(format, "md") && strcmp(format, "html") && strcmp(format, "json"))
    return gv_cli_usage_error(cmd, "--format must be md, html or json");
  const char *db = gv_cli_db(opts);
  gv_cli_env env;
  gv_error err;
  if (db == NULL) return 1;
  if (access(db, F_OK) != 0) {
    fprintf(stderr, "gavel record: no database at %s\n", db);
    return 1;
  }
  if (gv_cli_engine_open(opts, db, 0, &env)) return 1; /* reading only: no plugins */
  gv_engine *e = env.engine;
  const gv_forum *f = gv_engine_forum(e, gv_cli_val(opts, "forum", NULL));
  char *out = NULL;
  int rc = f ? gv_record_render(e, f->id, id, format, &out, &err) : gv_error_set(&err, GV_ENOTFOUND, NULL, "no forum");
  gv_cli_env_close(&env);
  if (rc != GV_OK) return gv_cli_fail(&err);
  const char *file = gv_cli_val(opts, "output", NULL);
  FILE *fp = file ? fopen(file, "w") : stdout;
  if (fp == NULL) {
    free(out);
    fprintf(stderr, "gavel record: cannot write %s\n", file);
    return 1;
  }
  fputs(out, fp);
  if (file) fclose(fp);
  free(out);
  return 0;
}

static int cmd_token_create(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  gv_cli_env env;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  gv_user u;
  gv_error err;
  int rc = 1;
  int64_t expires = 0;
  const char *exp = gv_cli_val(opts, "expires", NULL);
  if (exp && gv_duration_parse(exp, &expires) != GV_OK) {
    gv_cli_close_store(&env);
    return gv_cli_usage_error(cmd, "--expires must be a duration such as 90d");
  }
  const char *scope = gv_cli_val(opts, "scope", "admin");
  if (strcmp(scope, "read") && strcmp(scope, "act") && strcmp(scope, "admin")) {
    gv_cli_close_store(&env);
    return gv_cli_usage_error(cmd, "--scope must be read, act or admin");
  }
  if (gv_store_user_find(s, argv[0], &u, &err) != GV_OK) {
    gv_cli_fail(&err);
    goto done;
  }
  if (u.disabled) {
    fprintf(stderr, "gavel token create: %s is disabled\n", u.username);
    goto done;
  }
  char token[64], th[GV_SHA256_HEX_LEN];
  gv_token_new(32, token, sizeof token);
  gv_sha256_hex(token, strlen(token), th);
  int64_t now = gv_time_real_ms();
  gv_session se = {0};
  se.user_id = u.id;
  snprintf(se.kind, sizeof se.kind, "api");
  snprintf(se.label, sizeof se.label, "%s", gv_cli_val(opts, "label", "api token"));
  se.created_at = se.last_used_at = now;
  se.expires_at = expires ? now + expires : 0;
  snprintf(se.scope, sizeof se.scope, "%s", scope);
  if (gv_store_session_insert(s, &se, th, &err) != GV_OK) {
    gv_cli_fail(&err);
    goto done;
  }
  printf("token %lld for %s (shown once; send it as Authorization: Bearer ...):\n%s\n", (long long)se.id, u.username, token);
  gv_wipe(token, sizeof token);
  rc = 0;
done:
  gv_cli_close_store(&env);
  return rc;
}

static int cmd_token_list(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  gv_cli_env env;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  gv_user u;
  gv_error err;
  int64_t uid = 0;
  if (argc > 0) {
    if (gv_store_user_find(s, argv[0], &u, &err) != GV_OK) {
      gv_cli_close_store(&env);
      return gv_cli_fail(&err);
    }
    uid = u.id;
  }
  json_t *list = NULL;
  if (gv_store_session_list(s, uid, "api", &list, &err) != GV_OK) {
    gv_cli_close_store(&env);
    return gv_cli_fail(&err);
  }
  printf("%-5s %-20s %-8s %-6s %-24s %-24s %-24s %s\n", "ID", "USER", "STATUS", "SCOPE", "CREATED", "EXPIRES",
         "LAST USED", "LABEL");
  size_t i;
  json_t *o;
  int64_t now = gv_time_real_ms();
  json_array_foreach(list, i, o) {
    char created[GV_TIME_BUFSZ], expires[GV_TIME_BUFSZ], used[GV_TIME_BUFSZ];
    int64_t exp_at = json_integer_value(json_object_get(o, "expires_at"));
    const char *status = json_is_true(json_object_get(o, "revoked")) ? "revoked"
                         : exp_at && exp_at <= now                    ? "expired"
                                                                      : "active";
    const char *scope = json_string_value(json_object_get(o, "scope"));
    const char *label = json_string_value(json_object_get(o, "label"));
    printf("%-5lld %-20s %-8s %-6s %-24s %-24s %-24s %s\n", (long long)json_integer_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "username")), status, scope ? scope : "admin",
           gv_time_format(json_integer_value(json_object_get(o, "created_at")), created),
           exp_at ? gv_time_format(exp_at, expires) : "never",
           gv_time_format(json_integer_value(json_object_get(o, "last_used_at")), used), label ? label : "");
  }
  json_decref(list);
  gv_cli_close_store(&env);
  return 0;
}

static int cmd_token_revoke(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  char *end;
  long long id = strtoll(argv[0], &end, 10);
  if (*end || id <= 0) return gv_cli_usage_error(cmd, "ID must be a token id (see gavel token list)");
  gv_cli_env env;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  gv_error err;
  int rc = gv_store_session_revoke(s, id, gv_time_real_ms(), &err);
  gv_cli_close_store(&env);
  if (rc != GV_OK) return gv_cli_fail(&err);
  printf("token %lld revoked\n", id);
  return 0;
}

static gv_opt serve_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"listen", 1, "address and port (default 127.0.0.1:8080)"},
    {"workflows", 1, "directory of workflow files (default: the shipped ones)"},
    {"test-clock", 0, "tests only: enable POST /v1/test/clock to move time forward"},
    {"print-routes", 0, "print the HTTP routes and exit"},
    {NULL}};
static gv_opt record_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"forum", 1, "forum id"},
    {"meeting", 1, "the meeting's id"},
    {"format", 1, "md, html or json (default md)"},
    {"output", 1, "write to this file instead of standard output"},
    {NULL}};
static gv_opt token_create_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"label", 1, "what the token is for"},
    {"expires", 1, "lifetime such as 90d (default: until revoked)"},
    {"scope", 1, "read (GET only), act (actions, no account changes) or admin (default: admin)"},
    {NULL}};
static gv_opt token_opts[] = {GV_CLI_DB_OPTIONS, {NULL}};

const gv_cmd gv_cli_serve_cmds[] = {
    {"serve", "", "serve the HTTP API", cmd_serve, 0, 0, serve_opts},
    {"record", "", "write a meeting's record of decisions (Conclusions and Recommendations)", cmd_record, 0, 0, record_opts},
    {"token create", "USERNAME", "create a long-lived API token for a user", cmd_token_create, 1, 1, token_create_opts},
    {"token list", "[USERNAME]", "list API tokens", cmd_token_list, 0, 1, token_opts},
    {"token revoke", "ID", "revoke an API token", cmd_token_revoke, 1, 1, token_opts},
    {NULL}};
