/* The gavel command line: finds the subcommand, parses its options, prints usage. */
#include "cli/cli.h"
#include "base/alloc.h"
#include "base/log.h"
#include "host/host.h"
#include "lua/config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void *gv_cli_need(void *p) {
  if (p == NULL) {
    fputs("gavel: out of memory\n", stderr);
    exit(1);
  }
  return p;
}

static const gv_cmd *const *tables(void) {
  static const gv_cmd *const t[] = {gv_cli_admin_cmds, gv_cli_workflow_cmds, gv_cli_serve_cmds, NULL};
  return t;
}

gv_opt *gv_cli_opt(gv_opt *opts, const char *name) {
  for (gv_opt *o = opts; o && o->name; o++)
    if (strcmp(o->name, name) == 0) return o;
  return NULL;
}

const char *gv_cli_val(gv_opt *opts, const char *name, const char *def) {
  gv_opt *o = gv_cli_opt(opts, name);
  return o && o->set && o->value ? o->value : def;
}

static void print_usage(FILE *out, const gv_cmd *c) {
  fprintf(out, "usage: gavel %s", c->name);
  for (gv_opt *o = c->opts; o && o->name; o++)
    fprintf(out, o->has_arg ? " [--%s VALUE]" : " [--%s]", o->name);
  if (c->args && *c->args) fprintf(out, " %s", c->args);
  fprintf(out, "\n");
}

static void print_help(const gv_cmd *c) {
  print_usage(stdout, c);
  printf("\n%s\n", c->summary);
  if (c->opts && c->opts->name) {
    printf("\noptions:\n");
    for (gv_opt *o = c->opts; o->name; o++) {
      char lhs[64];
      snprintf(lhs, sizeof lhs, "--%s%s", o->name, o->has_arg ? " VALUE" : "");
      printf("  %-26s %s\n", lhs, o->help);
    }
  }
  printf("  %-26s %s\n", "--help", "show this help");
}

static void print_overview(FILE *out) {
  fprintf(out,
          "usage: gavel COMMAND [OPTIONS]\n\n"
          "Gavel runs consultations, silence procedures and decisions for intergovernmental forums.\n\n"
          "commands:\n");
  for (const gv_cmd *const *t = tables(); *t; t++)
    for (const gv_cmd *c = *t; c->name; c++) fprintf(out, "  %-18s %s\n", c->name, c->summary);
  gv_plugins_print_commands(out);
  fprintf(out, "\n  gavel --version     print the version\n"
               "  gavel COMMAND --help  details of one command\n");
}

int gv_cli_usage_error(const gv_cmd *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "gavel %s: ", cmd->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  print_usage(stderr, cmd);
  return 2;
}

int gv_cli_fail(const gv_error *err) {
  char buf[1024];
  gv_error_format(err, buf, sizeof buf);
  if (err->file[0])
    fprintf(stderr, "%s\n", buf);
  else
    fprintf(stderr, "gavel: %s\n", buf);
  return 1;
}

/* Finds the longest command name matching argv (e.g. "user add"). */
static const gv_cmd *find_cmd(int argc, char **argv, int *used) {
  const gv_cmd *best = NULL;
  int best_words = 0;
  for (const gv_cmd *const *t = tables(); *t; t++) {
    for (const gv_cmd *c = *t; c->name; c++) {
      char name[64];
      snprintf(name, sizeof name, "%s", c->name);
      int words = 0, match = 1;
      char *save = NULL;
      for (char *w = strtok_r(name, " ", &save); w; w = strtok_r(NULL, " ", &save), words++) {
        if (words >= argc || strcmp(argv[words], w) != 0) {
          match = 0;
          break;
        }
      }
      if (match && words > best_words) {
        best = c;
        best_words = words;
      }
    }
  }
  *used = best_words;
  return best;
}

/* Lists the subcommands that start with word (for "gavel user" alone). */
static int list_group(const char *word) {
  int n = 0;
  size_t wl = strlen(word);
  for (const gv_cmd *const *t = tables(); *t; t++)
    for (const gv_cmd *c = *t; c->name; c++)
      if (strncmp(c->name, word, wl) == 0 && c->name[wl] == ' ') {
        if (n++ == 0) fprintf(stderr, "gavel %s: choose one of:\n", word);
        fprintf(stderr, "  gavel %-18s %s\n", c->name, c->summary);
      }
  return n;
}

int gv_cli_main(int argc, char **argv, const gv_plugin *const *builtin, size_t nbuiltin) {
  gv_plugins_set_builtin(builtin, nbuiltin);
  const char *lvl = getenv("GAVEL_LOG_LEVEL");
  if (lvl && gv_log_level_parse(lvl) >= 0) gv_log_set_level(gv_log_level_parse(lvl));
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    print_overview(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("gavel %s\n", GAVEL_VERSION);
    return 0;
  }
  int used = 0;
  const gv_cmd *cmd = find_cmd(argc - 1, argv + 1, &used);
  if (cmd == NULL) {
    int prc = gv_cli_plugin_command(argc - 1, argv + 1);
    if (prc >= 0) return prc;
    if (list_group(argv[1])) return 2;
    fprintf(stderr, "gavel: unknown command '%s'\n", argv[1]);
    print_overview(stderr);
    return 2;
  }
  /* Parse options; everything else is positional. */
  gv_opt *opts = cmd->opts;
  for (gv_opt *o = opts; o && o->name; o++) {
    o->set = 0;
    o->value = NULL;
    o->nvalues = 0;
  }
  char **pos = gv_cli_need(gv_calloc((size_t)argc + 1, sizeof *pos));
  int npos = 0, only_pos = 0, rc;
  for (int i = 1 + used; i < argc; i++) {
    const char *a = argv[i];
    if (!only_pos && strcmp(a, "--") == 0) { only_pos = 1; continue; }
    if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
      print_help(cmd);
      free(pos);
      return 0;
    }
    if (!only_pos && a[0] == '-' && a[1] == '-') {
      char name[64];
      const char *eq = strchr(a + 2, '=');
      snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a - 2) : (int)strlen(a + 2), a + 2);
      gv_opt *o = gv_cli_opt(opts, name);
      if (o == NULL) {
        rc = gv_cli_usage_error(cmd, "unknown option --%s", name);
        free(pos);
        return rc;
      }
      if (o->has_arg) {
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (v == NULL) {
          rc = gv_cli_usage_error(cmd, "option --%s needs a value", name);
          free(pos);
          return rc;
        }
        if (o->set && !o->multi) {
          rc = gv_cli_usage_error(cmd, "option --%s given twice", name);
          free(pos);
          return rc;
        }
        o->value = v;
        if (o->multi && o->nvalues < 32) o->values[o->nvalues++] = v;
      } else if (eq) {
        rc = gv_cli_usage_error(cmd, "option --%s takes no value", name);
        free(pos);
        return rc;
      }
      o->set = 1;
      continue;
    }
    if (!only_pos && a[0] == '-' && a[1] != '\0') {
      rc = gv_cli_usage_error(cmd, "unknown option %s", a);
      free(pos);
      return rc;
    }
    pos[npos++] = argv[i];
  }
  if (npos < cmd->min_args || (cmd->max_args >= 0 && npos > cmd->max_args)) {
    rc = gv_cli_usage_error(cmd, npos < cmd->min_args ? "missing argument %s" : "unexpected argument '%s'",
                            npos < cmd->min_args ? (cmd->args ? cmd->args : "") : pos[npos - 1]);
    free(pos);
    return rc;
  }
  rc = cmd->fn(cmd, opts, npos, pos);
  free(pos);
  return rc;
}

const char *gv_cli_db(gv_opt *opts) {
  static gv_config cfg;
  const char *db = gv_cli_val(opts, "db", NULL), *env = getenv("GAVEL_DATABASE");
  if (db || (env && *env)) return gv_config_database(db, NULL);
  const char *path = gv_config_path(gv_cli_val(opts, "config", NULL));
  if (path == NULL) return gv_config_database(NULL, NULL);
  gv_error err;
  gv_config_defaults(&cfg);
  if (gv_config_load(path, &cfg, &err) != GV_OK) {
    gv_cli_fail(&err);
    return NULL;
  }
  return gv_config_database(NULL, &cfg);
}

int gv_cli_load_forum(gv_store *s, gv_opt *opts, gv_forum **out) {
  gv_error err;
  char id[64];
  const char *want = gv_cli_val(opts, "forum", NULL);
  if (want == NULL) {
    if (gv_store_forum_default(s, id, &err) != GV_OK) return gv_cli_fail(&err);
    want = id;
  }
  if (gv_store_forum_load(s, want, out, &err) != GV_OK) return gv_cli_fail(&err);
  return 0;
}

const char *gv_cli_workflows_dir(void) { return gv_config_workflows_default(); }

int gv_cli_read_line(char *buf, size_t size) {
  if (fgets(buf, (int)size, stdin) == NULL) return -1;
  buf[strcspn(buf, "\r\n")] = '\0';
  return 0;
}
