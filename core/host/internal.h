/* The plugin host's private state, shared by its files. */
#ifndef GV_PLUGINS_INTERNAL_H
#define GV_PLUGINS_INTERNAL_H

#include "host/host.h"

#define MAX_PLUGINS 8
#define MAX_RECEIPT 4

struct gv_host {
  gv_plugins *all;
  const gv_plugin *plugin;
  void *state;
  gv_event_fn on_event;
  gv_commit_fn on_commit;
  gv_serve_fn on_serve;
  gv_stop_fn on_stop;
  int started;
  int for_command;
  struct {
    char name[48];
    gv_workflow_fn fn;
  } functions[16];
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
  struct {
    char name[32];
    int64_t value;
  } receipt[MAX_RECEIPT];
  int nreceipt;
};

#endif
