/* Shared by the store's own files only: the connection, the statement cache, helpers. */
#ifndef GV_STORE_INTERNAL_H
#define GV_STORE_INTERNAL_H

#include <sqlite3.h>

#include "base/buf.h"
#include "base/metrics.h"
#include "store/store.h"

typedef struct gv_migration {
  int version;
  const char *name;
  const char *sql;
} gv_migration;

#define GV_STMT_CACHE 128
/* How often a failed ROLLBACK is tried again (it fails only for want of memory). */
#define GV_STORE_ROLLBACK_TRIES 3
/* How long a writer waits for another connection's lock before giving up (ms). */
#define GV_STORE_BUSY_TIMEOUT_MS 5000

struct gv_store {
  sqlite3 *db;
  char *path;
  int in_tx;
  int committing;             /* inside gv_store_commit: the one place a transaction may commit */
  gv_hist commit_seconds;     /* the COMMIT statements that succeeded, for /metrics */
  int savepoints;
  int fail_after;            /* fault injection: fail the nth write from now */
  gv_store_event_hook event_hook;
  void *event_hook_ud;
  const char *authorize_plugin; /* while preparing a plugin's statement: its name */
  int authorize_ddl;         /* ... and it is a migration */
  gv_store_state_row *state_rows; /* the rows the last drain returned (reused) */
  size_t state_cap;
  gv_buf state_enc;          /* a row's canonical encoding (reused) */
  struct {
    const char *sql;         /* key: the SQL literal's address */
    sqlite3_stmt *stmt;
  } cache[GV_STMT_CACHE];
};

const gv_migration *gv_store_migrations(size_t *count);

/* The capture of written state rows (state.c): set up on a connection once the schema is
 * current, emptied when a transaction begins, freed with the store. */
int gv_store_state_init(gv_store *s, gv_error *err);
int gv_store_state_clear(gv_store *s, gv_error *err);
void gv_store_state_forget(gv_store *s);

/* A prepared, reset statement for sql (a string literal: its address is the cache key).
 * NULL on error, with err set. Owned by the store. */
sqlite3_stmt *st_prep(gv_store *s, const char *sql, gv_error *err);
/* Steps a write statement and resets it. Returns GV_OK, GV_EEXIST on a uniqueness
 * violation, or GV_ESTORE. Honors fault injection. */
int st_exec(gv_store *s, sqlite3_stmt *st, gv_error *err);
/* Turns the connection's last error into err. Returns the GV code. */
int st_fail(gv_store *s, gv_error *err, const char *what);
/* Binds text, or NULL when v is NULL or empty (bind_text_or_null) / always text. */
void st_bind_text(sqlite3_stmt *st, int i, const char *v);
void st_bind_opt(sqlite3_stmt *st, int i, const char *v);
void st_bind_id(sqlite3_stmt *st, int i, int64_t v); /* 0 binds NULL */
/* Copies column i as text into dst (size bytes), "" for NULL. */
void st_col_copy(sqlite3_stmt *st, int i, char *dst, size_t size);
/* Column i as a newly allocated string (NULL for NULL). */
char *st_col_dup(sqlite3_stmt *st, int i);
/* Runs a statement-free SQL batch. */
int st_exec_sql(gv_store *s, const char *sql, gv_error *err);
/* Column i parsed as JSON (NULL column → json null); caller owns the result. */
json_t *st_col_json(sqlite3_stmt *st, int i);

/* Finalizes the store's cached plugin statements (plugin_sql.c; called when the store closes). */
void gv_store_plugin_forget(gv_store *s);

/* Column i as a JSON string / integer, or JSON null for SQL NULL; caller owns the result. */
json_t *st_jstr(sqlite3_stmt *st, int i);
json_t *st_jint(sqlite3_stmt *st, int i);

#endif
