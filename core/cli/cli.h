/* The gavel command line: dispatch to subcommands, option parsing, shared helpers. */
#ifndef GV_CLI_H
#define GV_CLI_H

#include <stdio.h>

#include "model/forum.h"
#include "store/store.h"

struct gv_plugin;
/* Runs the gavel command with argv and the plugins built into the executable; returns the
 * process exit status. */
int gv_cli_main(int argc, char **argv, const struct gv_plugin *const *builtin, size_t nbuiltin);

/* One option of a command. */
typedef struct gv_opt {
  const char *name;   /* without dashes: "db" for --db */
  int has_arg;        /* 1: takes a value; 0: a flag */
  const char *help;
  const char *value;  /* set by the parser */
  int set;
  int multi;          /* may repeat; values collected in values[] */
  const char *values[32];
  int nvalues;
} gv_opt;

/* The options that choose the database, which every command working on one takes. */
#define GV_CLI_DB_OPTIONS                                                                              \
  {"config", 1, "configuration file (default $GAVEL_CONFIG, else ./gavel.conf.lua if present)"},     \
  {"db", 1, "database file (default $GAVEL_DATABASE, else the configuration's, else ./gavel.db)"}

typedef struct gv_cmd gv_cmd;
typedef int (*gv_cmd_fn)(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv);

struct gv_cmd {
  const char *name;     /* "user add" */
  const char *args;     /* positional arguments for the usage line, e.g. "USERNAME" */
  const char *summary;
  gv_cmd_fn fn;
  int min_args, max_args; /* positional argument counts (max -1: any) */
  gv_opt *opts;           /* terminated by {NULL} */
};

/* The option named name (or NULL if the command has none). */
gv_opt *gv_cli_opt(gv_opt *opts, const char *name);
/* Its value, or def when not given. */
const char *gv_cli_val(gv_opt *opts, const char *name, const char *def);

/* Prints a one-line error with the command's usage hint to stderr; returns 2. */
int gv_cli_usage_error(const gv_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints an error (gv_error) as "gavel: message" or "file:line: message"; returns 1. */
int gv_cli_fail(const gv_error *err);
/* p, or, when an allocation of a command failed (p is NULL), "out of memory" on stderr and
 * exit status 1: a one-shot command has nothing to keep running for. */
void *gv_cli_need(void *p);

/* The database a command uses: --db, else $GAVEL_DATABASE, else the configuration's
 * database (--config, else $GAVEL_CONFIG, else ./gavel.conf.lua), else ./gavel.db. Prints
 * the configuration's mistake and returns NULL when it cannot be read. The result lives
 * until the next call. */
const char *gv_cli_db(gv_opt *opts);

/* What a command runs on, opened in this order by the composition root (cli/compose.c):
 * the store, then the plugins (on the store's forum), then the engine with the plugins'
 * hooks. Fields are NULL when not asked for (or, for plugins, when there is no forum yet). */
typedef struct gv_cli_env {
  gv_store *store;
  gv_forum *forum;            /* the forum the plugins serve */
  struct gv_plugins *plugins;
  struct gv_engine *engine;
} gv_cli_env;

typedef struct gv_cli_env_options {
  const char *db;
  int create;                 /* create the database if missing */
  int plugins;                /* start the plugins */
  const char *plugins_json;   /* their settings (the plugins table of gavel.conf.lua), NULL: defaults */
  const char *only;           /* start only this plugin (to run one of its commands) */
  int engine;                 /* open an engine on the store */
  int clock;                  /* the engine's GV_CLOCK_* */
} gv_cli_env_options;

/* Opens what o asks for into *env. On failure nothing stays open. */
int gv_cli_env_open(gv_cli_env *env, const gv_cli_env_options *o, gv_error *err);
/* Closes the engine, the plugins and the store, in that order. */
void gv_cli_env_close(gv_cli_env *env);
/* The plugins table of a configuration file as JSON (*out malloc'd; NULL when there is none):
 * path, or ./gavel.conf.lua when path is NULL and that file exists. */
int gv_cli_plugins_config(const char *path, char **out, gv_error *err);

/* Opens the store named by --db (GV_STORE_CREATE when create) with the plugins started
 * on it. Prints and returns non-zero on failure. Close it with gv_cli_close_store. */
int gv_cli_open_store(gv_opt *opts, int create, gv_cli_env *env);
/* Closes what gv_cli_open_store opened. */
void gv_cli_close_store(gv_cli_env *env);
/* Loads the database's forum (the only one, or --forum). */
int gv_cli_load_forum(gv_store *s, gv_opt *opts, gv_forum **out);
/* The directory of the shipped workflows and forum files. */
const char *gv_cli_workflows_dir(void);
/* Reads one line (a password) from stdin into buf, without the newline. */
int gv_cli_read_line(char *buf, size_t size);

/* Registers the shipped workflows (gv_cli_workflows_dir) in the database at db_path:
 * new or changed files become the versions new items use. Prints mistakes; returns 0
 * when every file loaded. */
int gv_cli_register_workflows(const char *db_path);

/* Fills the database at db with the forum's demo content, read from
 * demo/FORUM.json beside the workflows (a meeting and steps that create items and take
 * actions). A forum without such a file gets none. Prints and returns non-zero on failure. */
int gv_cli_demo_content(const char *db);
/* Opens an engine on db for a command: with plugins (their settings from --config, else
 * ./gavel.conf.lua) when the command writes the record, without for read-only ones. Prints
 * the error and returns non-zero on failure. Close with gv_cli_env_close. */
int gv_cli_engine_open(gv_opt *opts, const char *db, int with_plugins, gv_cli_env *env);
/* Runs a plugin's command named by argv ("audit verify ..."), loading the plugins the
 * configuration names by path first. Returns its exit status, or -1 if no plugin has it. */
int gv_cli_plugin_command(int argc, char **argv);

/* Command tables of each part of the CLI (NULL-terminated arrays). */
extern const gv_cmd gv_cli_admin_cmds[];
extern const gv_cmd gv_cli_workflow_cmds[];
extern const gv_cmd gv_cli_serve_cmds[];

#endif
