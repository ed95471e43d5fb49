/* Workflow commands: check files, run scenario tests, and register the shipped workflows. */
#include "cli/cli.h"
#include "engine/engine.h"
#include "base/log.h"
#include "cli/scenario.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int gv_cli_register_workflows(const char *db_path) {
  gv_cli_env env;
  if (gv_cli_engine_open(NULL, db_path, 1, &env)) return 1;
  gv_error errs[16];
  size_t n = 0;
  int rc = gv_engine_register_dir(env.engine, gv_cli_workflows_dir(), errs, 16, &n);
  for (size_t i = 0; i < n; i++) gv_cli_fail(&errs[i]);
  gv_cli_env_close(&env);
  return rc == GV_OK ? 0 : 1;
}

/* The forum file to check workflows against: --forum ID or FILE, default midiocc. */
static void forum_path(gv_opt *opts, char *out, size_t size) {
  const char *f = gv_cli_val(opts, "forum", "midiocc");
  if (strchr(f, '/') || strstr(f, ".lua")) snprintf(out, size, "%s", f);
  else snprintf(out, size, "%s/forums/%s.lua", gv_cli_workflows_dir(), f);
}

static int cmd_check(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  char fpath[600];
  forum_path(opts, fpath, sizeof fpath);
  gv_forum *f = NULL;
  gv_error err;
  if (gv_forum_load_file(fpath, &f, &err) != GV_OK) return gv_cli_fail(&err);
  int bad = 0;
  for (int i = 0; i < argc; i++) {
    gv_workflow *w = NULL;
    gv_error errs[32];
    size_t n = 0;
    /* Checked as the engine will run it: with the runtime's globals. */
    gv_workflow_env env = {.install = gv_engine_install_runtime};
    if (gv_workflow_load_file(argv[i], f, &env, &w, errs, 32, &n) != GV_OK) {
      bad = 1;
      for (size_t k = 0; k < n; k++) {
        char buf[800];
        gv_error_format(&errs[k], buf, sizeof buf);
        fprintf(stderr, "%s\n", buf);
      }
      continue;
    }
    if (!gv_cli_opt(opts, "quiet")->set)
      printf("%s: workflow '%s' ok (%zu states, %zu actions, %zu timers)\n", argv[i], w->name, w->nstates, w->nactions,
             w->ntimers);
    gv_workflow_free(w);
  }
  gv_forum_free(f);
  return bad;
}

static int scen_file(const struct dirent *d) {
  size_t n = strlen(d->d_name);
  return n > 4 && strcmp(d->d_name + n - 4, ".lua") == 0 && d->d_name[0] != '.';
}

static void parent_dir(const char *path, char *out, size_t size) {
  snprintf(out, size, "%s", path);
  size_t n = strlen(out);
  while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
  char *slash = strrchr(out, '/');
  if (slash == NULL) snprintf(out, size, ".");
  else if (slash == out) out[1] = '\0';
  else *slash = '\0';
}

static int cmd_test(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  char fpath[600];
  forum_path(opts, fpath, sizeof fpath);
  gv_scenario_opts so = {0};
  so.forum_file = fpath;
  so.filter = gv_cli_val(opts, "only", NULL);
  so.verbose = gv_cli_opt(opts, "verbose")->set;
  gv_log_set_level(so.verbose ? GV_LOG_INFO : GV_LOG_ERROR);
  char defdir[600];
  snprintf(defdir, sizeof defdir, "%s/tests", gv_cli_workflows_dir());
  char *defs[] = {defdir};
  if (argc == 0) {
    argc = 1;
    argv = defs;
  }
  int passed = 0, failed = 0;
  for (int i = 0; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "gavel workflow test: no such file or directory: %s\n", argv[i]);
      failed++;
      continue;
    }
    /* Scenarios live in a directory whose parent holds the workflows they test. */
    char dir[600], wfdir[600];
    if (S_ISDIR(st.st_mode)) snprintf(dir, sizeof dir, "%s", argv[i]);
    else parent_dir(argv[i], dir, sizeof dir);
    if (gv_cli_val(opts, "workflows", NULL)) snprintf(wfdir, sizeof wfdir, "%s", gv_cli_val(opts, "workflows", NULL));
    else parent_dir(dir, wfdir, sizeof wfdir);
    so.workflows_dir = wfdir;
    if (!S_ISDIR(st.st_mode)) {
      gv_scenario_run_file(argv[i], &so, &passed, &failed);
      continue;
    }
    struct dirent **list = NULL;
    int n = scandir(argv[i], &list, scen_file, alphasort);
    for (int k = 0; k < n; k++) {
      char path[1200];
      snprintf(path, sizeof path, "%s/%s", dir, list[k]->d_name);
      gv_scenario_run_file(path, &so, &passed, &failed);
      free(list[k]);
    }
    free(list);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

static gv_opt check_opts[] = {
    {"forum", 1, "forum id or file to check against (default midiocc)"},
    {"quiet", 0, "print nothing for files without mistakes"},
    {NULL}};
static gv_opt test_opts[] = {
    {"forum", 1, "forum id or file (default midiocc)"},
    {"workflows", 1, "directory of the workflows under test (default: the scenarios' parent directory)"},
    {"only", 1, "run only scenarios whose name contains this text"},
    {"verbose", 0, "print t:log output and engine logs"},
    {NULL}};

const gv_cmd gv_cli_workflow_cmds[] = {
    {"workflow check", "FILE...", "check workflow files; prints file:line: message per mistake", cmd_check, 1, -1, check_opts},
    {"workflow test", "[PATH...]", "run scenario tests (files or directories; default workflows/tests)", cmd_test, 0, -1, test_opts},
    {NULL}};
