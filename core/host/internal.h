/* The plugin host's private state, shared by its files. */
#ifndef GV_PLUGINS_INTERNAL_H
#define GV_PLUGINS_INTERNAL_H

#include "host/host.h"

#define MAX_PLUGINS 8      /* running at once */
#define MAX_KNOWN 16       /* built in and loaded */
#define MAX_RECEIPT 4      /* receipt fields per action, all plugins together */
#define MAX_HOOKS 8        /* event hooks, and commit listeners, per plugin */
#define MAX_FUNCTIONS 16   /* workflow functions per plugin */

struct gv_host {
  gv_plugins *all;
  const gv_plugin *plugin;
  void *state;
  gv_event_fn on_event[MAX_HOOKS];
  int nevent;
  gv_commit_fn on_commit[MAX_HOOKS];
  int ncommit;
  gv_serve_fn on_serve;
  gv_metrics_fn on_metrics; /* writes the plugin's /metrics lines (API version 4 and later) */
  gv_stop_fn on_stop;
  int in_init;             /* registration is open */
  int started;
  int for_command;
  struct {
    char name[48];
    gv_workflow_fn fn;
  } functions[MAX_FUNCTIONS];
  int nfunctions;
};

struct gv_plugins {
  gv_host hosts[MAX_PLUGINS];
  size_t n;
  gv_store *store;
  const gv_forum *forum;
  char db_path[4096];
  gv_engine *engine;
  void *loop;                /* the server's uv_loop_t, while serving */
  int in_event;              /* an event hook is running: receipt fields may be added */
  struct {
    char name[32];
    int64_t value;
  } receipt[MAX_RECEIPT];
  int nreceipt;
};

/* Adds a loaded descriptor to the known ones (the same one again is a no-op). GV_ECONFIG when
 * another plugin has its name or too many are known. */
int gv_plugins_register(const gv_plugin *pl, gv_error *err);
/* Checks a descriptor before anything of it runs: its name, api_version and init. */
int gv_plugins_check(const gv_plugin *pl, gv_error *err);

/* Refuses a misuse of the host API: logs it under the plugin's name and returns code. */
int gv_host_refuse(gv_host *h, int code, const char *what);

#endif
