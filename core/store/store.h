/* The durable store (SQLite, WAL, synchronous=FULL): every table Gavel keeps, behind one API.
 * Only the store's files include sqlite3.h; SQL lives nowhere else. */
#ifndef GV_STORE_H
#define GV_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/metrics.h"
#include "base/error.h"
#include "model/forum.h"

typedef struct gv_store gv_store;

/* ---- Opening, schema, transactions ---------------------------------------------------- */

enum {
  GV_STORE_CREATE = 1,      /* create the file if missing (else GV_ENOTFOUND) */
  GV_STORE_NO_MIGRATE = 2,  /* refuse a database whose schema is older instead of migrating */
};

/* Opens (and migrates) the database at path. Checks WAL mode and synchronous=FULL and
 * refuses to run otherwise; refuses a database written by a newer Gavel (GV_ESCHEMA).
 * The caller owns *out (gv_store_close). */
int gv_store_open(const char *path, int flags, gv_store **out, gv_error *err);
/* Closes the store (NULL is a no-op). */
void gv_store_close(gv_store *s);
/* The schema version recorded in the database / known to this build. */
int gv_store_schema_version(gv_store *s);
int gv_store_schema_latest(void);
/* The database file's path. */
const char *gv_store_path(const gv_store *s);

/* Transactions. begin/commit/rollback nest only through savepoints. */
int gv_store_begin(gv_store *s, gv_error *err);
int gv_store_commit(gv_store *s, gv_error *err);
void gv_store_rollback(gv_store *s);
int gv_store_savepoint(gv_store *s, gv_error *err);
int gv_store_release(gv_store *s, gv_error *err);
/* Undoes everything since the last savepoint and discards it. GV_ESTORE when that was not
 * possible (or the database dropped the whole transaction): the caller must then roll
 * the whole transaction back, since the failed action's writes may still be in it. */
int gv_store_rollback_to(gv_store *s);
/* Non-zero inside a transaction. */
int gv_store_in_tx(const gv_store *s);

/* Writes a consistent copy of the database at src_path to dst_path (mode 0600) with
 * SQLite's online backup, safe while a server writes to it. dst_path must not exist. */
int gv_store_backup(const char *src_path, const char *dst_path, gv_error *err);

/* Fault injection for tests: the nth write statement from now fails (0 disables). */
void gv_store_fail_after(gv_store *s, int nth);

/* ---- Forums and members --------------------------------------------------------------- */

/* Creates or updates the forum (and adds its members). Must run inside a transaction. */
int gv_store_forum_save(gv_store *s, const gv_forum *f, int64_t now, gv_error *err);
/* Loads forum id. The caller owns *out. GV_ENOTFOUND if absent. */
int gv_store_forum_load(gv_store *s, const char *id, gv_forum **out, gv_error *err);
/* The id of the database's forum when it holds exactly one (the usual case). */
int gv_store_forum_default(gv_store *s, char id[64], gv_error *err);

/* ---- Users ------------------------------------------------------------------------------ */

typedef struct gv_user {
  int64_t id;
  char forum_id[64];
  char username[64];
  char display_name[128];
  char role[16];            /* secretariat, chair, delegate, observer */
  char member[16];          /* for delegates; "" otherwise */
  char password_hash[160];
  int must_change_password;
  int disabled;
  char language[8];         /* fr or en */
  char time_zone[64];       /* "" = the forum's */
  char email[256];
  char notify[8];           /* each, digest, none */
  int64_t created_at;
  int64_t updated_at;
} gv_user;

/* Inserts u (id is set on success). GV_EEXIST if the username is taken. In a transaction. */
int gv_store_user_insert(gv_store *s, gv_user *u, gv_error *err);
/* Writes every field of u back. In a transaction. */
int gv_store_user_update(gv_store *s, const gv_user *u, gv_error *err);
/* Looks a user up by id or by username (case-insensitive). GV_ENOTFOUND if absent. */
int gv_store_user_get(gv_store *s, int64_t id, gv_user *out, gv_error *err);
int gv_store_user_find(gv_store *s, const char *username, gv_user *out, gv_error *err);
/* All users of a forum ordered by username; member filters to one state when not NULL.
 * The caller frees *out. */
int gv_store_user_list(gv_store *s, const char *forum_id, const char *member, gv_user **out,
                       size_t *n, gv_error *err);

/* Ends every session of the user (revoked_at = now). */
int gv_store_session_revoke_user(gv_store *s, int64_t user_id, int64_t now, gv_error *err);

typedef struct gv_session {
  int64_t id;
  int64_t user_id;
  char kind[8];             /* bearer, cookie, api */
  char csrf_hash[65];       /* cookie sessions: SHA-256 of the CSRF token */
  char label[128];
  int64_t created_at;
  int64_t last_used_at;
  int64_t expires_at;       /* 0: never (API tokens without expiry) */
  int64_t revoked_at;       /* 0: live */
  char scope[8];            /* API tokens: read, act or admin; "" is the account's full power */
} gv_session;

/* Stores a session whose token hashes to token_hash. Sets out->id. */
int gv_store_session_insert(gv_store *s, gv_session *out, const char *token_hash, gv_error *err);
/* Finds a session by token hash. GV_ENOTFOUND if none. */
int gv_store_session_find(gv_store *s, const char *token_hash, gv_session *out, gv_error *err);
/* Reads a session by id. GV_ENOTFOUND if none. */
int gv_store_session_get(gv_store *s, int64_t id, gv_session *out, gv_error *err);
int gv_store_session_touch(gv_store *s, int64_t id, int64_t now, gv_error *err);
int gv_store_session_revoke(gv_store *s, int64_t id, int64_t now, gv_error *err);
/* API tokens (kind "api") of a user (0: all users) as JSON [{id, username, label, created_at, last_used_at, expires_at,
 * revoked, scope}] (scope null for a token without one). */
int gv_store_session_list(gv_store *s, int64_t user_id, const char *kind, json_t **out, gv_error *err);

/* Login throttling: records a failure for scope (e.g. "user:km.delegate|10.0.0.1") at now
 * and returns how many failures scope has had since `since`. */
int gv_store_login_failure(gv_store *s, const char *scope, int64_t now, gv_error *err);
int64_t gv_store_login_failures_since(gv_store *s, const char *scope, int64_t since);
/* The time of the max-th most recent failure of scope since `since` (when it leaves the
 * window, fewer than max remain); 0 when scope has fewer than max such failures. */
int64_t gv_store_login_failure_nth(gv_store *s, const char *scope, int64_t since, int64_t max);
/* Forgets failures of scope (after a successful login) and any older than before. */
int gv_store_login_failures_clear(gv_store *s, const char *scope, int64_t before, gv_error *err);

/* Idempotency records: a POST's response kept for 24 hours under (user, key). */
typedef struct gv_idem {
  char request_sha256[65];
  int status;
  char *response;           /* owned */
  int64_t created_at;
} gv_idem;
int gv_store_idem_get(gv_store *s, int64_t user_id, const char *key, gv_idem *out, gv_error *err);
/* GV_EEXIST if the key is already recorded (a concurrent twin). In the action's transaction. */
int gv_store_idem_put(gv_store *s, int64_t user_id, const char *key, const char *request_sha256, int status,
                      const char *response, int64_t now, gv_error *err);
int gv_store_idem_purge(gv_store *s, int64_t before, gv_error *err);

/* ---- Meetings --------------------------------------------------------------------------- */

typedef struct gv_meeting {
  int64_t id;
  char forum_id[64];
  char *title;              /* JSON text: a string or {fr, en}; owned */
  char place[256];
  char starts_on[11];       /* YYYY-MM-DD */
  char ends_on[11];
  int64_t agenda_adopted_at; /* 0 if not adopted */
  int64_t created_at;
} gv_meeting;

void gv_meeting_clear(gv_meeting *m);
int gv_store_meeting_insert(gv_store *s, gv_meeting *m, int64_t created_by, gv_error *err);
int gv_store_meeting_get(gv_store *s, int64_t id, gv_meeting *out, gv_error *err);
/* Meetings of a forum by start date. Free each with gv_meeting_clear, then free(*out). */
int gv_store_meeting_list(gv_store *s, const char *forum_id, gv_meeting **out, size_t *n,
                          gv_error *err);
int gv_store_meeting_set_agenda_adopted(gv_store *s, int64_t id, int64_t at, gv_error *err);

/* ---- State rows: what an event left in the record's tables ------------------------------ */

/* A row of the tables the pages, the API and the meeting record show (items, meetings,
 * positions, and of users: forum, username, display name, role, member, disabled), with
 * the SHA-256 of its canonical encoding (state.c describes it). The layout is the plugin
 * header's gv_state_row. */
#define GV_STATE_DIGEST_LEN 32
typedef struct gv_store_state_row {
  const char *table;        /* "items", "meetings", "positions", "users" */
  int64_t rowid;
  uint8_t digest[GV_STATE_DIGEST_LEN];
  int deleted;              /* the row no longer exists (its digest encodes it as absent) */
} gv_store_state_row;

/* The rows written in this transaction since the last drain (each once, sorted by table
 * name, then rowid, with its digest as it is now), and state_digest, the SHA-256 of their
 * digests in that order. *rows belongs to the store and lives until the next drain. */
int gv_store_state_drain(gv_store *s, const gv_store_state_row **rows, size_t *n,
                         uint8_t state_digest[GV_STATE_DIGEST_LEN], gv_error *err);
/* Calls fn with every current row of those tables, in the same order and encoding; fn
 * returns non-zero to stop early. */
typedef int (*gv_store_state_fn)(void *ud, const gv_store_state_row *row);
int gv_store_state_rows(gv_store *s, gv_store_state_fn fn, void *ud, gv_error *err);

/* ---- Plugins: event hook, their own tables ------------------------------------------------- */

/* Called once an event and the rows it wrote are written (gv_store_event_insert, or
 * gv_store_event_seal after gv_store_event_write), inside its transaction, with the event's
 * rows and state digest filled in; an error rolls the write back (the call fails with it). */
struct gv_event;
typedef int (*gv_store_event_hook)(void *ud, const struct gv_event *e, gv_error *err);
void gv_store_set_event_hook(gv_store *s, gv_store_event_hook fn, void *ud);

/* Non-zero if name is one of the core's tables or indexes (or, with prefix_len > 0, if any
 * of them begins with the first prefix_len bytes of name). Plugins never reach these. */
int gv_store_core_name(const char *name, size_t prefix_len);
/* A migration of a plugin's tables (the host hands the plugin's own here). */
typedef struct gv_store_migration {
  int version;
  const char *name;
  const char *sql;
} gv_store_migration;
/* Runs a plugin's migrations (once each, recorded in plugin_migrations). Statements may
 * only create or change tables whose names start with "<plugin>_". */
int gv_store_plugin_migrate(gv_store *s, const char *plugin, const gv_store_migration *m, size_t n, gv_error *err);

/* An argument of a plugin's statement, bound to ?1, ?2, ... */
enum { GV_STORE_ARG_INT = 1, GV_STORE_ARG_TEXT, GV_STORE_ARG_BLOB, GV_STORE_ARG_NULL };
typedef struct gv_store_arg {
  int type;                 /* GV_STORE_ARG_* */
  int64_t i;
  const char *s;
  const void *b;
  size_t n;
} gv_store_arg;
/* One result row of a plugin's statement; its values live until the row callback returns. */
typedef struct gv_store_row gv_store_row;
int64_t gv_store_row_int(const gv_store_row *r, int col);
const char *gv_store_row_text(const gv_store_row *r, int col); /* NULL for SQL NULL */
const void *gv_store_row_blob(const gv_store_row *r, int col, size_t *len);
int gv_store_row_is_null(const gv_store_row *r, int col);
/* Receives each row; returns non-zero to stop early. */
typedef int (*gv_store_row_fn)(void *ud, const gv_store_row *row);
/* Runs one statement for a plugin (see gv_host_sql): only tables named "<plugin>_..." and
 * reading events are allowed. sql's address keys the statement cache. */
int gv_store_plugin_sql(gv_store *s, const char *plugin, const char *sql, const gv_store_arg *args, size_t nargs,
                        gv_store_row_fn fn, void *ud, gv_error *err);

/* ---- Events (the append-only record) ---------------------------------------------------- */

typedef struct gv_event {
  int64_t id;
  char forum_id[64];
  int64_t item_id;          /* 0 for forum-level events */
  const char *kind;         /* create, action, timer, account, meeting, config */
  const char *action;
  int64_t actor_id;         /* 0 for the engine */
  const char *member;       /* NULL if none */
  int64_t at;
  const char *from_state;   /* NULL if none */
  const char *to_state;
  const char *params;       /* JSON text */
  int sealed;
  /* Filled by the store when it calls the event hook: */
  size_t nrows;             /* the state rows written since the previous event */
  const gv_store_state_row *rows;
  uint8_t state_digest[GV_STATE_DIGEST_LEN];
} gv_event;

/* Appends an event whose rows are already written (an account, a meeting); sets e->id and
 * calls the event hook with the rows written since the previous event. In a transaction. */
int gv_store_event_insert(gv_store *s, gv_event *e, gv_error *err);
/* The same in two steps, for an event whose rows refer to it (an action's positions):
 * write appends it and sets e->id; seal, once its rows are written, calls the event hook
 * with them. e's strings must live until seal returns. */
int gv_store_event_write(gv_store *s, gv_event *e, gv_error *err);
int gv_store_event_seal(gv_store *s, gv_event *e, gv_error *err);

/* ---- Outbox ----------------------------------------------------------------------------- */

typedef struct gv_outbox_row {
  int64_t id;
  char forum_id[64];
  int64_t event_id;
  int64_t item_id;
  const char *topic;
  const char *audience;     /* JSON */
  const char *payload;      /* JSON */
  int64_t created_at;
} gv_outbox_row;

/* Appends a row for plugins; in the caller's transaction. */
int gv_store_outbox_insert(gv_store *s, gv_outbox_row *r, gv_error *err);
/* Rows with id > after_id, at most limit, as a JSON array of objects; caller owns it. */
int gv_store_outbox_list(gv_store *s, int64_t after_id, int limit, json_t **out, gv_error *err);
/* Number of outbox rows with id > after_id. */
int64_t gv_store_outbox_count_after(gv_store *s, int64_t after_id);

/* ---- Incidents -------------------------------------------------------------------------- */

typedef struct gv_incident {
  const char *forum_id;
  int64_t item_id;
  const char *workflow;
  int64_t version_id;
  const char *action;
  int64_t actor_id;
  const char *kind;         /* script_error, instruction_limit, memory_limit, ... */
  const char *message;
  int64_t at;
} gv_incident;

/* Records an incident in its own transaction (so it survives the action's rollback)
 * unless a transaction is open, in which case it joins it. */
int gv_store_incident_insert(gv_store *s, const gv_incident *inc, gv_error *err);
/* The most recent incidents first, as a JSON array; caller owns it. */
int gv_store_incident_list(gv_store *s, int limit, json_t **out, gv_error *err);

/* ---- Items, positions, timers, counters, workflow versions --------------------------- */

typedef struct gv_item_row {
  int64_t id;
  char forum_id[64];
  char workflow[64];
  int64_t version_id;
  char *title;              /* JSON text; owned */
  char state[64];
  char *data;               /* JSON object text; owned */
  int64_t meeting_id;       /* 0 if none */
  int64_t created_by;
  char member[16];          /* the creator's state, if a delegate created it */
  int sealed;
  int64_t created_at;
  int64_t updated_at;
} gv_item_row;

void gv_item_row_clear(gv_item_row *r);
/* Inserts r (sets r->id). In a transaction. */
int gv_store_item_insert(gv_store *s, gv_item_row *r, gv_error *err);
/* Reads item id into out (clear it with gv_item_row_clear). GV_ENOTFOUND if absent. */
int gv_store_item_get(gv_store *s, int64_t id, gv_item_row *out, gv_error *err);
/* Writes state, meeting, sealed and updated_at back, and data when with_data is set
 * (an unchanged data column need not be rewritten). */
int gv_store_item_update(gv_store *s, const gv_item_row *r, int with_data, gv_error *err);

typedef struct gv_item_filter {
  const char *forum_id;
  const char *workflow;     /* NULL: any */
  const char *state;
  int64_t meeting_id;       /* 0: any */
  int64_t after_id;         /* pagination: ids greater than this */
  int limit;
} gv_item_filter;
/* Item rows matching the filter, by id. Free each with gv_item_row_clear, then free(*out). */
int gv_store_item_list(gv_store *s, const gv_item_filter *f, gv_item_row **out, size_t *n, gv_error *err);

typedef struct gv_position_row {
  int64_t item_id;
  const char *member;
  const char *stance;
  const char *statement;
  int64_t actor_id;
  int on_behalf;
  const char *reference;
  int64_t event_id;
  int64_t at;
} gv_position_row;

int gv_store_position_insert(gv_store *s, const gv_position_row *p, gv_error *err);
/* The latest position of each member as {MEMBER: {stance, statement, at, actor, on_behalf,
 * reference, event_id}}; with history, every position oldest first as an array. */
int gv_store_positions(gv_store *s, int64_t item_id, int history, json_t **out, gv_error *err);

typedef struct gv_timer_row {
  int64_t id;
  int64_t item_id;
  char name[96];
  int64_t due_at;
} gv_timer_row;

/* Arms (or moves) the pending timer name of an item. A due time that already fired for
 * that name is not armed again. */
int gv_store_timer_set(gv_store *s, int64_t item_id, const char *name, int64_t due_at, gv_error *err);
/* Cancels the item's pending timer named exactly name. */
int gv_store_timer_cancel_exact(gv_store *s, int64_t item_id, const char *name, gv_error *err);
/* Cancels the item's pending timers whose names start with prefix ("" = all). */
int gv_store_timer_cancel(gv_store *s, int64_t item_id, const char *prefix, gv_error *err);
/* The due time of the item's timer name: the pending one, else the last fired one.
 * GV_ENOTFOUND if it never existed. */
int gv_store_timer_due(gv_store *s, int64_t item_id, const char *name, int64_t *due_at, gv_error *err);
/* Pending timers due at or before now, earliest first (at most limit); item_id 0 = any item. */
int gv_store_timers_due(gv_store *s, int64_t item_id, int64_t now, int limit, gv_timer_row **out, size_t *n,
                        gv_error *err);
int gv_store_timer_fired(gv_store *s, int64_t id, int64_t fired_at, int64_t event_id, gv_error *err);
/* The earliest pending due time, or INT64_MAX. */
int64_t gv_store_timer_next_due(gv_store *s);
/* Number of pending timers. */
int64_t gv_store_timer_pending_count(gv_store *s);

/* How long each successful COMMIT statement took (SQLite writing and syncing the WAL), for
 * /metrics. Owned by the store, valid while it is open. */
const gv_hist *gv_store_commit_stats(const gv_store *s);
/* Every timer name of the item with the due time gv_store_timer_due would give
 * (pending first, else the last fired), as {name: due_at}: one read for a whole view. */
int gv_store_timer_dues(gv_store *s, int64_t item_id, json_t **out, gv_error *err);
/* The item's pending timers as {name: due_at} */
int gv_store_timers_of(gv_store *s, int64_t item_id, json_t **out, gv_error *err);

/* Gapless numbering: the next value of counter name for forum and year (1, 2, ...), in
 * the caller's transaction. */
int gv_store_counter_next(gv_store *s, const char *forum_id, const char *name, int year, int64_t *out,
                          gv_error *err);

/* Stores a workflow version (if its hash is new), with the modules it used (JSON
 * {name: {path, source}}, or NULL). Sets *id; *created is 1 if inserted. */
int gv_store_wfversion_put(gv_store *s, const char *name, const char *sha256, const char *source,
                           const char *modules, const char *path, int64_t now, int64_t *id, int *created,
                           gv_error *err);
/* Reads a stored version; the caller frees *name, *source, *modules (NULL if it used
 * none) and *path. */
int gv_store_wfversion_get(gv_store *s, int64_t id, char **name, char **source, char **modules, char **path,
                           char sha256[65],
                           gv_error *err);
/* Calls fn with every stored workflow version, oldest first: id, name, sha256, source,
 * modules (JSON {name: {path, source}}, or NULL) and path (or NULL). fn returns non-zero to
 * stop early. */
typedef int (*gv_store_wfversion_fn)(void *ud, int64_t id, const char *name, const char *sha256, const char *source,
                                     const char *modules, const char *path);
int gv_store_wfversion_each(gv_store *s, gv_store_wfversion_fn fn, void *ud, gv_error *err);
/* The version new items of workflow name use in forum. */
int gv_store_wfcurrent_set(gv_store *s, const char *forum_id, const char *name, int64_t version_id,
                           int64_t now, gv_error *err);
int gv_store_wfcurrent_get(gv_store *s, const char *forum_id, const char *name, int64_t *version_id,
                           gv_error *err);
/* [{name, version_id, sha256, path, updated_at, items, versions: [{id, sha256, items}]}] */
int gv_store_wfcurrent_list(gv_store *s, const char *forum_id, json_t **out, gv_error *err);

/* ---- Events for readers ---------------------------------------------------------------- */

/* Events of an item (item_id > 0) or of the forum (item_id 0: every event) with id > after_id,
 * oldest first, at most limit, as [{id, item_id, kind, action, actor_id, actor, member, at,
 * from_state, to_state, params (parsed), sealed}]. */
int gv_store_events(gv_store *s, const char *forum_id, int64_t item_id, int64_t after_id, int limit,
                    json_t **out, gv_error *err);

/* ---- Calendar addresses and exports (calendar.c) ------------------------------------------ */

/* Sets the user's calendar token (its SHA-256 in hex), replacing any earlier one. */
int gv_store_calendar_set(gv_store *s, int64_t user_id, const char *token_hash, int64_t now, gv_error *err);
/* Forgets the user's calendar token. GV_ENOTFOUND when there was none. */
int gv_store_calendar_delete(gv_store *s, int64_t user_id, gv_error *err);
/* The user whose calendar token hashes to token_hash, in *user_id. GV_ENOTFOUND if none. */
int gv_store_calendar_find(gv_store *s, const char *token_hash, int64_t *user_id, gv_error *err);
/* When the user's calendar token was made (*created_at), GV_ENOTFOUND if there is none. */
int gv_store_calendar_get(gv_store *s, int64_t user_id, int64_t *created_at, gv_error *err);
/* The forum's pending timers (every item, reminders excluded), by due time. The caller
 * frees *out. */
int gv_store_timer_pending_list(gv_store *s, const char *forum_id, gv_timer_row **out, size_t *n, gv_error *err);

#endif
