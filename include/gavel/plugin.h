/* The one header a Gavel plugin includes: the host's API, versioned, growing only at the end. */
#ifndef GAVEL_PLUGIN_H
#define GAVEL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h" /* GV_OK, GV_E* codes and gv_error */
#include "base/log.h"   /* GV_LOG_* levels for gv_host_log */

/* Version 1. A plugin built against version N runs on any host of version N or later:
 * structs only ever grow at their end, and each carries its size. */
#define GV_PLUGIN_API_VERSION 1

typedef struct gv_host gv_host;       /* the host, as one plugin sees it */
typedef struct gv_row gv_row;         /* one result row of gv_host_sql */
typedef struct gv_request gv_request; /* one HTTP request to a plugin's route */

/* ---- Events --------------------------------------------------------------------------- */

/* An event of the record as it is written. Strings live until the hook returns. */
typedef struct gv_plugin_event {
  size_t size;             /* sizeof the host's struct: read fields past it as absent */
  int64_t id;
  const char *forum_id;
  int64_t item_id;         /* 0 for forum-level events (accounts, meetings, configuration) */
  const char *kind;        /* create, action, timer, account, meeting, config */
  const char *action;
  int64_t actor_id;        /* 0 for the engine */
  const char *member;      /* NULL if none */
  int64_t at;              /* commit time, ms since the epoch */
  const char *from_state;  /* NULL if none */
  const char *to_state;
  const char *params_json; /* may hold hidden stances: never show it to anyone */
  int sealed;
} gv_plugin_event;

/* Called inside the transaction that writes the event, before it commits: write the
 * plugin's own rows here (an audit leaf, an outbox delivery); no I/O, no waiting.
 * Returning an error rolls the whole action back. */
typedef int (*gv_event_fn)(void *state, gv_host *h, const gv_plugin_event *ev, gv_error *err);

/* Called after a transaction committed, with the ids of the events it wrote. I/O may
 * start here (send mail, sign a checkpoint); it must not block the loop. */
typedef void (*gv_commit_fn)(void *state, gv_host *h, int64_t first_event, int64_t last_event);

/* Adds an integer to the receipt of the action whose event is being written (e.g. the
 * audit log index). Only from a gv_event_fn. */
void gv_host_receipt_int(gv_host *h, const char *name, int64_t value);

/* ---- The plugin's own tables ---------------------------------------------------------------- */

/* A migration of the plugin's tables; each runs once, in order, and is recorded. */
typedef struct gv_plugin_migration {
  int version;
  const char *name;
  const char *sql;         /* may only create or change tables named "<plugin>_..." */
} gv_plugin_migration;

typedef enum { GV_ARG_INT = 1, GV_ARG_TEXT, GV_ARG_BLOB, GV_ARG_NULL } gv_arg_type;
typedef struct gv_arg {
  gv_arg_type type;
  int64_t i;
  const char *s;
  const void *b;
  size_t n;
} gv_arg;
#define GV_INT(v) ((gv_arg){GV_ARG_INT, (int64_t)(v), NULL, NULL, 0})
#define GV_TEXT(v) ((gv_arg){GV_ARG_TEXT, 0, (v), NULL, 0})
#define GV_BLOB(p, len) ((gv_arg){GV_ARG_BLOB, 0, NULL, (p), (len)})
#define GV_NULL_ARG ((gv_arg){GV_ARG_NULL, 0, NULL, NULL, 0})

/* Receives each result row; returns non-zero to stop early. Row values live until it returns. */
typedef int (*gv_row_fn)(void *ud, const gv_row *row);
int64_t gv_row_int(const gv_row *r, int col);
const char *gv_row_text(const gv_row *r, int col);       /* NULL for SQL NULL */
const void *gv_row_blob(const gv_row *r, int col, size_t *len);
int gv_row_is_null(const gv_row *r, int col);

/* Runs one SQL statement with arguments (bound to ?1, ?2, ...) on the plugin's own tables,
 * in the current transaction if one is open. The host refuses statements that touch any
 * other table, except reading `events` and `outbox` (id, forum_id, event_id, item_id,
 * topic, audience, payload, created_at: the notifications actions asked for). sql should be a string literal: prepared
 * statements are cached by its address. Returns GV_OK or an error with detail. */
int gv_host_sql(gv_host *h, const char *sql, const gv_arg *args, size_t nargs, gv_row_fn fn, void *ud, gv_error *err);

/* Runs fn inside one transaction of its own (for work outside hooks, e.g. signing a
 * checkpoint); commits if fn returns GV_OK, else rolls back. */
int gv_host_transaction(gv_host *h, int (*fn)(void *ud, gv_host *h, gv_error *err), void *ud, gv_error *err);

/* ---- HTTP routes ------------------------------------------------------------------------ */

enum { GV_ROUTE_PUBLIC = 1 };     /* no sign-in needed */

typedef void (*gv_route_fn)(void *state, gv_host *h, gv_request *r);
/* A route a plugin serves, declared in its descriptor (so `gavel serve --print-routes`
 * and the API document can list it without starting the plugin). */
typedef struct gv_plugin_route {
  const char *method;      /* GET, POST, ... */
  const char *pattern;     /* "/v1/audit/checkpoint", with {name} for path parameters */
  unsigned flags;          /* GV_ROUTE_* */
  gv_route_fn fn;
} gv_plugin_route;
/* The path parameter {name} of the route's pattern, or NULL. */
const char *gv_request_param(const gv_request *r, const char *name);
/* A query parameter, percent-decoded into buf, or NULL. */
const char *gv_request_query(const gv_request *r, const char *name, char *buf, size_t size);
/* The caller (NULL/"" when anonymous): username, role (secretariat, chair, delegate,
 * observer) and, for delegates, their member state. */
const char *gv_request_username(const gv_request *r);
const char *gv_request_role(const gv_request *r);
const char *gv_request_member(const gv_request *r);
/* Non-zero if the caller holds the chair's powers in this forum. */
int gv_request_is_chair(const gv_request *r);
/* Answers the request (exactly once). */
void gv_request_reply(gv_request *r, int status, const char *content_type, const char *body, size_t len);
/* The same, with response headers: name and value pairs, then NULL. They replace the host's
 * defaults of the same name (such as Cache-Control: no-store). At most 8 pairs. */
void gv_request_reply_headers(gv_request *r, int status, const char *content_type, const char *const *headers,
                              const char *body, size_t len);
/* A request header's value (the name in any case), or NULL. */
const char *gv_request_header(const gv_request *r, const char *name);
void gv_request_error(gv_request *r, int code, const char *message, const char *field);

/* ---- Registration (from init) ---------------------------------------------------------- */

int gv_host_migrations(gv_host *h, const gv_plugin_migration *m, size_t n, gv_error *err);
int gv_host_on_event(gv_host *h, gv_event_fn fn);
int gv_host_on_commit(gv_host *h, gv_commit_fn fn);

/* Non-zero when the plugin was started only to run one of its own commands (`gavel audit
 * verify`): it then changes nothing on its own initiative, so a check sees the database as
 * it was. */
int gv_host_for_command(const gv_host *h);

/* The database file (for plugins that keep a file beside it, such as a signing key). */
const char *gv_host_db_path(const gv_host *h);
/* The forum's id and short name ("midiocc", "MiDIOCC"). */
const char *gv_host_forum_id(const gv_host *h);
const char *gv_host_forum_name(const gv_host *h);
/* A structured log line from the plugin (event names are prefixed with the plugin's). */
void gv_host_log(gv_host *h, int level, const char *event, const char *message);

/* ---- Commands ---------------------------------------------------------------------------- */

/* `gavel <name> ...`: the host opens the database named by --db (default gavel.db),
 * initializes the plugin, and calls fn with the remaining arguments. Returns the exit
 * status. */
typedef int (*gv_command_fn)(void *state, gv_host *h, int argc, char **argv);
typedef struct gv_plugin_command {
  const char *name;        /* "audit verify" */
  const char *args;        /* usage of the positional arguments */
  const char *summary;
  gv_command_fn fn;
} gv_plugin_command;

/* ---- The plugin --------------------------------------------------------------------------- */

typedef struct gv_plugin {
  uint32_t api_version;    /* GV_PLUGIN_API_VERSION the plugin was built against */
  const char *name;        /* "audit": also the prefix of its tables and log events */
  const char *version;
  const char *summary;
  /* Registers hooks, tables and routes. config_json is the plugin's table from
   * gavel.conf.lua as JSON ("{}" when absent). *state is handed back to every hook. */
  int (*init)(gv_host *h, const char *config_json, void **state, gv_error *err);
  /* Called once at shutdown (only then: a plugin is never unloaded earlier). */
  void (*shutdown)(void *state);
  const gv_plugin_command *commands; /* terminated by a {NULL} entry; may be NULL */
  const gv_plugin_route *routes;     /* terminated by a {NULL} entry; may be NULL */
  void *reserved[8];       /* for later versions: keep NULL */
} gv_plugin;

/* ---- The server's loop ------------------------------------------------------------------- */

/* The host's clock, ms since the epoch: the server's (which `serve --test-clock` lets tests
 * move forward), else the real time. Compare it, not the real time, with event times. */
int64_t gv_host_now(const gv_host *h);

/* serve is called once the server is about to serve, with its libuv loop (a uv_loop_t *):
 * start timers, sockets and transfers there. stop is called when the server begins to
 * stop: stop the work and uv_close every handle; the loop runs until they are closed, and
 * only then is shutdown called. Commands run without a loop and call neither. */
typedef void (*gv_serve_fn)(void *state, gv_host *h, void *loop);
typedef void (*gv_stop_fn)(void *state, gv_host *h);
int gv_host_on_serve(gv_host *h, gv_serve_fn serve, gv_stop_fn stop);

/* ---- Functions for workflows ------------------------------------------------------------- */

/* A function workflows call as gavel.call("<plugin>.<name>", ...): args_json is a JSON array
 * of the Lua arguments; *result_json (malloc'd; the host frees it) is the JSON value
 * returned to Lua. It runs inside the action's transaction: read and write the plugin's
 * tables, no I/O, no waiting. An error fails the action with the plugin's message. */
typedef int (*gv_workflow_fn)(void *state, gv_host *h, const char *args_json, char **result_json, gv_error *err);
int gv_host_workflow_function(gv_host *h, const char *name, gv_workflow_fn fn);

/* ---- People and items (for notifications) ------------------------------------------------ */

/* An account, as a notification needs it. Strings live until the callback returns. */
typedef struct gv_person {
  size_t size;
  int64_t user_id;
  const char *username;
  const char *display_name;
  const char *role;        /* secretariat, chair, delegate, observer */
  const char *member;      /* a delegate's state; NULL otherwise */
  const char *email;       /* NULL if none is known */
  const char *language;    /* fr or en */
  const char *notify;      /* each, digest or none: how the person wants notifications */
  int disabled;
} gv_person;
typedef int (*gv_person_fn)(void *ud, const gv_person *p);

/* The enabled accounts an audience names, each once. An audience (the `audience` column
 * of the outbox) is "all", "secretariat", "chair" (whoever holds the chair's powers),
 * "members" (every delegate), "proposer" (the item's creator, or its state's delegates),
 * a member code, a list of these, or {"kind": "delegates_of_member", "members": [...],
 * "except_users": [...]}. item_id matters for "proposer" only (0 if none). */
int gv_host_audience(gv_host *h, const char *audience_json, int64_t item_id, gv_person_fn fn, void *ud, gv_error *err);
/* One account by id, disabled or not; GV_ENOTFOUND if there is none. */
int gv_host_person(gv_host *h, int64_t user_id, gv_person_fn fn, void *ud, gv_error *err);

/* An item as a person reading lang sees it. */
typedef struct gv_item_info {
  size_t size;
  int64_t id;
  char title[512];
  char workflow[64];
  char workflow_title[256];
  char state[64];
  char state_label[128];
  char action_label[128];  /* the label of the action asked for ("" if none asked) */
  int sealed;              /* its positions are hidden until it closes */
} gv_item_info;
int gv_host_item(gv_host *h, int64_t item_id, const char *lang, const char *action, gv_item_info *out, gv_error *err);
/* Non-zero if member has a current position on the item. */
int gv_host_member_answered(gv_host *h, int64_t item_id, const char *member);
/* A member state's name in lang ("" if unknown), the forum's name in lang, its time zone. */
const char *gv_host_member_name(const gv_host *h, const char *code, const char *lang);
const char *gv_host_forum_title(const gv_host *h, const char *lang);
const char *gv_host_forum_time_zone(const gv_host *h);

#endif
