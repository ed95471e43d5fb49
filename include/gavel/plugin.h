/* The one header a Gavel plugin includes: the host's API, versioned, growing only at the end.
 * It is self-contained: a plugin is compiled with this directory alone on its include path
 * (plus the libraries it uses itself), never with Gavel's core/. */
#ifndef GAVEL_PLUGIN_H
#define GAVEL_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Version 5 (version 5 added request bodies, events as a reader without privileges sees them
 * and as sentences in a reader's language, the reader's time zone in gv_person,
 * gv_host_person_set_notify, GV_ROUTE_ANY_BODY, the workflow versions and the forum's
 * definition, and commands that run without a database; version 4 gv_host_on_metrics;
 * version 3 the state rows each event wrote and gv_host_state_rows; version 2 the helpers;
 * version 1 had none: its plugins reached into Gavel's internals). A plugin built against
 * version N runs on any host of version N or later: structs only ever grow at their end, each
 * carries its size, and functions are only ever added. The host refuses a plugin built for a
 * newer version than its own. */
#define GV_PLUGIN_API_VERSION 5

/* ---- Errors and log levels ------------------------------------------------------------- */

/* Functions return GV_OK (0) or a negative GV_E* code; detail goes into a gv_error. The codes,
 * struct gv_error, the functions that fill it and the log levels of gv_host_log are the
 * core's own, from the one table in errors.h. */
#include "errors.h"

typedef struct gv_host gv_host;       /* the host, as one plugin sees it */
typedef struct gv_row gv_row;         /* one result row of gv_host_sql */
typedef struct gv_request gv_request; /* one HTTP request to a plugin's route */

/* ---- Events --------------------------------------------------------------------------- */

/* A row of the state a reader sees (version 3 and later): of the tables items, meetings,
 * positions and users (of users only forum_id, username, display_name, role, member and
 * disabled: never password hashes, sessions or login counters), with the SHA-256 of its
 * canonical encoding. The encoding (docs/plugins.md) is the table's name and the rowid
 * (each length-prefixed), then the row's columns in a fixed order, each typed and
 * length-prefixed; a deleted row encodes as absent. Equal digests mean equal rows. */
#define GV_STATE_DIGEST_LEN 32
typedef struct gv_state_row {
  const char *table;       /* "items", "meetings", "positions" or "users" */
  int64_t rowid;
  uint8_t digest[GV_STATE_DIGEST_LEN];
  int deleted;             /* the event deleted the row: digest is that of its absence */
} gv_state_row;

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
  /* Version 3 and later (check size before reading them): the state rows the event's
   * action wrote since the previous event of its transaction, each once, sorted by table
   * name then rowid, with their digests as the action left them; and the SHA-256 of those
   * digests concatenated in that order (of nothing when nrows is 0). */
  size_t nrows;
  const gv_state_row *rows;
  uint8_t state_digest[GV_STATE_DIGEST_LEN];
} gv_plugin_event;

/* Called inside the transaction that writes the event, before it commits, once the rows
 * its action wrote are written: write the plugin's own rows here (an audit leaf, an outbox
 * delivery); no I/O, no waiting. Returning an error rolls the whole action back. */
typedef int (*gv_event_fn)(void *state, gv_host *h, const gv_plugin_event *ev, gv_error *err);

/* Called after a transaction committed, with the ids of the events it wrote. I/O may
 * start here (send mail, sign a checkpoint); it must not block the loop. */
typedef void (*gv_commit_fn)(void *state, gv_host *h, int64_t first_event, int64_t last_event);

/* Adds an integer to the receipt of the action whose event is being written (e.g. the
 * audit log index). Only from a gv_event_fn; the same name again replaces the value. At most
 * 4 fields per action across all plugins: a fifth, a call outside a gv_event_fn, or a name
 * that is empty or over 31 bytes is refused with GV_ESTATE or GV_EINVAL (and logged). */
int gv_host_receipt_int(gv_host *h, const char *name, int64_t value);

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
 * checkpoint); commits if fn returns GV_OK, else rolls back. Inside a transaction (a hook,
 * a workflow function) it is refused with GV_ESTATE. */
int gv_host_transaction(gv_host *h, int (*fn)(void *ud, gv_host *h, gv_error *err), void *ud, gv_error *err);

/* Calls fn with every current state row (version 3 and later), sorted by table name then
 * rowid, with digests in the same encoding as gv_plugin_event's rows: comparing them with
 * the rows events wrote finds a change made to the database behind Gavel's back. fn
 * returns non-zero to stop early. Returns GV_OK or an error with detail. */
typedef int (*gv_state_row_fn)(void *ud, const gv_state_row *row);
int gv_host_state_rows(gv_host *h, gv_state_row_fn fn, void *ud, gv_error *err);

/* ---- HTTP routes ------------------------------------------------------------------------ */

/* GV_ROUTE_PUBLIC: no sign-in needed. GV_ROUTE_ANY_BODY (version 5 and later): the request
 * may carry a body of any type, which the host neither parses nor hands on (a form posted by
 * a mail provider); other routes refuse a body that is not JSON. */
enum { GV_ROUTE_PUBLIC = 1, GV_ROUTE_ANY_BODY = 2 };

/* Handles one request; it answers before returning (the request is not valid afterwards).
 * After the answer, the gv_request_* accessors return NULL. */
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
/* Answers the request, exactly once: a second answer is refused with GV_ESTATE (and logged),
 * and the first stands. A route handler that answers nothing gets a 500 reply from the host. */
int gv_request_reply(gv_request *r, int status, const char *content_type, const char *body, size_t len);
/* The same, with response headers: name and value pairs, then NULL. They replace the host's
 * defaults of the same name (such as Cache-Control: no-store). At most 8 pairs: more are
 * refused with GV_EINVAL (and logged), and the request is still to be answered. */
int gv_request_reply_headers(gv_request *r, int status, const char *content_type, const char *const *headers,
                              const char *body, size_t len);
/* A request header's value (the name in any case), or NULL. */
const char *gv_request_header(const gv_request *r, const char *name);
/* Answers with the JSON error body of code ({"error": {"code", "message", "field"}}). */
int gv_request_error(gv_request *r, int code, const char *message, const char *field);

/* ---- Registration (from init) ----------------------------------------------------------
 * Every gv_host_migrations, gv_host_on_* and gv_host_workflow_function call belongs in the
 * plugin's init: afterwards it is refused with GV_ESTATE (and logged). A plugin may register
 * up to 8 event hooks, 8 commit listeners and 16 workflow functions; one more is refused with
 * GV_EINVAL (and logged), as are a NULL function and a name used twice. */

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
  /* Version 5 and later: commands that run without a database (`gavel audit verify
   * --bundle FILE` on an auditor's machine), terminated by a {NULL} entry; may be NULL. The
   * host looks here first: fn is called with state and h NULL and the arguments other than
   * --db and --config, and returns the exit status, or GV_COMMAND_NEEDS_DB to have the
   * command of the same name in `commands` run on the database instead. */
  const gv_plugin_command *standalone_commands;
} gv_plugin;
#define GV_COMMAND_NEEDS_DB (-1)

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
  /* Version 5 and later (check size before reading it): */
  const char *time_zone;   /* the IANA zone the person reads times in: theirs, else the forum's */
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

/* ---- Helpers (version 2 and later) ------------------------------------------------------
 * What a plugin needs besides the host: text building, hashes, signatures, random bytes,
 * encodings and time. They are the host's own implementations, exported the way sqlite3ext.h
 * exports sqlite3_mprintf and sqlite3_randomness, so a plugin links no crypto library of its
 * own for them. Each may be called from any hook, route, command or the loop's callbacks. */

/* A growable text (or byte) buffer. gv_str_new returns NULL when out of memory; every
 * function accepts NULL and a buffer whose allocation failed (appends then do nothing and
 * return GV_ENOMEM, gv_str_finish returns NULL), so a plugin checks once, at the end. */
typedef struct gv_str gv_str;
gv_str *gv_str_new(void);
int gv_str_append(gv_str *s, const void *data, size_t len);
int gv_str_puts(gv_str *s, const char *text);
int gv_str_putc(gv_str *s, char c);
int gv_str_printf(gv_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gv_str_vprintf(gv_str *s, const char *fmt, va_list ap);
/* The bytes so far (NUL-terminated; "" when empty), valid until the next append. */
const char *gv_str_data(const gv_str *s);
size_t gv_str_len(const gv_str *s);
/* Frees s and hands its text to the caller (free() it); NULL if an allocation failed. */
char *gv_str_finish(gv_str *s);
/* Frees s and its text. */
void gv_str_free(gv_str *s);

/* SHA-256, at once or in steps. gv_hash_sha256_begin returns NULL when out of memory;
 * gv_hash_sha256_end writes the digest and frees the context. */
#define GV_HASH_SHA256_LEN 32
typedef struct gv_hash gv_hash;
void gv_hash_sha256(const void *data, size_t len, uint8_t out[GV_HASH_SHA256_LEN]);
gv_hash *gv_hash_sha256_begin(void);
void gv_hash_sha256_add(gv_hash *h, const void *data, size_t len);
void gv_hash_sha256_end(gv_hash *h, uint8_t out[GV_HASH_SHA256_LEN]);
/* HMAC-SHA256 of data under key. Returns GV_OK or GV_EIO. */
int gv_hash_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t out[GV_HASH_SHA256_LEN]);

/* Ed25519 keys and signatures. Each returns GV_OK or GV_EIO, except verify: 1 when sig is a
 * valid signature of msg by pub, else 0. */
#define GV_SIGN_KEY_LEN 32
#define GV_SIGN_SIG_LEN 64
int gv_sign_keygen(uint8_t priv[GV_SIGN_KEY_LEN], uint8_t pub[GV_SIGN_KEY_LEN]);
int gv_sign_public(const uint8_t priv[GV_SIGN_KEY_LEN], uint8_t pub[GV_SIGN_KEY_LEN]);
int gv_sign_ed25519(const uint8_t priv[GV_SIGN_KEY_LEN], const void *msg, size_t len, uint8_t sig[GV_SIGN_SIG_LEN]);
int gv_sign_verify(const uint8_t pub[GV_SIGN_KEY_LEN], const void *msg, size_t len, const uint8_t sig[GV_SIGN_SIG_LEN]);

/* Cryptographically secure random bytes: GV_OK or GV_EIO. */
int gv_random_bytes(void *buf, size_t len);
/* Overwrites a secret with zeros in a way the compiler keeps. */
void gv_random_wipe(void *p, size_t len);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void gv_text_hex(const uint8_t *in, size_t len, char *out);
/* Standard base64 with padding into out (4*((len+2)/3)+1 bytes); returns its length. */
size_t gv_text_base64(const uint8_t *in, size_t len, char *out);
/* Decodes standard base64 into out; returns the decoded length, or -1 (malformed or too long). */
long gv_text_unbase64(const char *in, uint8_t *out, size_t size);

/* Time: milliseconds since the epoch. (gv_host_now is the server's clock; this is the
 * machine's real one.) GV_CLOCK_BUFSZ holds anything these functions write. */
#define GV_CLOCK_BUFSZ 96
int64_t gv_clock_real_ms(void);
/* UTC RFC 3339 with milliseconds ("2026-03-01T09:00:00.000Z"). Returns buf. */
const char *gv_clock_format(int64_t ms, char buf[GV_CLOCK_BUFSZ]);
/* ms in time zone tz (an IANA name; UTC if unknown) with a strftime format. Returns buf. */
const char *gv_clock_strftime(int64_t ms, const char *tz, const char *fmt, char *buf, size_t size);
/* Parses an RFC 3339 date-time with an offset: GV_OK or GV_EINVAL. */
int gv_clock_parse(const char *text, int64_t *ms);
/* Parses a duration such as "72h", "14d", "1d12h", "90m": GV_OK or GV_EINVAL. */
int gv_clock_parse_duration(const char *text, int64_t *ms);

/* A structured log line with printf-style key=value pairs ("id=%lld"); the event name is
 * prefixed with the plugin's. Never log confidential content (stances, passwords, tokens). */
void gv_host_logf(gv_host *h, int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- Loading (version 2 and later) ---------------------------------------------------------
 * A plugin built as a shared object exports its descriptor under this name:
 *     GV_PLUGIN_EXPORT const gv_plugin gavel_plugin = { GV_PLUGIN_API_VERSION, "example", ... };
 * and is named in gavel.conf.lua: plugins = { example = { path = "/usr/lib/gavel/example.so" } }.
 * The host checks api_version, never unloads it before shutdown, and resolves the functions
 * of this header against the gavel executable that loads it. */
#define GV_PLUGIN_SYMBOL "gavel_plugin"
#define GV_PLUGIN_EXPORT __attribute__((visibility("default")))

/* ---- Metrics (version 4 and later) -------------------------------------------------------
 * A plugin adds its own figures to the server's /metrics. fn appends them to out in the
 * Prometheus text format, version 0.0.4: for each metric a "# HELP name text" and a
 * "# TYPE name type" line, then its samples, every line ending in '\n'. Each name begins
 * with "gavel_<plugin>_" (so no two plugins write the same metric): if a line does not, or
 * fn returns an error, none of the plugin's lines are served and the refusal is logged. fn
 * runs on the server's loop while /metrics is answered: read (gv_host_sql), never write,
 * never wait. Register it from init (once); NULL or a second registration is refused with
 * GV_EINVAL, a call outside init with GV_ESTATE (both logged). */
typedef int (*gv_metrics_fn)(void *state, gv_host *h, gv_str *out);
int gv_host_on_metrics(gv_host *h, gv_metrics_fn fn);

/* ---- Version 5 and later ------------------------------------------------------------------ */

/* The request's body (NUL-terminated; *len, when not NULL, gets its length without the NUL),
 * valid until the request is answered; "" when it has none. */
const char *gv_request_body(const gv_request *r, size_t *len);

/* The event event_id as JSON, as a reader without privileges (an observer, no member state)
 * sees it now: the same view as the API's event lists and live updates, so a stance that is
 * still hidden is withheld ("params": null, "sealed": true). *json is malloc'd (free() it).
 * Only while the server runs (GV_ESTATE otherwise); GV_ENOTFOUND if there is no such event
 * in the forum. Not from a gv_event_fn. */
int gv_host_event_json(gv_host *h, int64_t event_id, char **json, gv_error *err);

/* What an item's event says in lang, in the words its workflow declares: the action's label,
 * the label of the state the event led to (the state at the event, not the item's state now)
 * and the workflow's history sentence with its placeholders filled ("" when it declares
 * none). {actor} reads as the actor's display name; the parameters of a sealed event read as
 * "…", whoever the reader is. */
typedef struct gv_event_text {
  size_t size;
  char action[64];
  char action_label[128];
  char state[64];          /* the state the event led to */
  char state_label[128];
  char sentence[2048];
} gv_event_text;
int gv_host_event_text(gv_host *h, int64_t event_id, const char *lang, gv_event_text *out, gv_error *err);

/* Sets how an account wants notifications ("each", "digest" or "none"), as the person would
 * in their profile (for a one-click unsubscribe link). GV_ENOTFOUND if there is no such
 * account, GV_EINVAL for another value. */
int gv_host_person_set_notify(gv_host *h, int64_t user_id, const char *notify, gv_error *err);

/* What the record ran under. */
/* A stored workflow version: the source its items ran on, the modules it used and the
 * SHA-256 that covers both (lowercase hex; the `workflow.version_current` event that made it
 * current carries it). Strings live until the callback returns. */
typedef struct gv_workflow_version {
  size_t size;
  int64_t id;
  const char *name;
  const char *sha256;
  const char *source;
  const char *modules_json; /* {name: {path, source}}, or NULL if it used none */
  const char *path;         /* the file it was registered from, or NULL */
} gv_workflow_version;
typedef int (*gv_workflow_version_fn)(void *ud, const gv_workflow_version *v);
/* Calls fn with every stored workflow version, oldest first; fn returns non-zero to stop. */
int gv_host_workflow_versions(gv_host *h, gv_workflow_version_fn fn, void *ud, gv_error *err);
/* The forum's definition as the database keeps it (JSON; malloc'd, the caller frees it), or
 * NULL when out of memory. */
char *gv_host_forum_definition(const gv_host *h);

#endif
