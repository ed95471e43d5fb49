/* The store's connection: opening, WAL and durability checks, migrations, transactions, backup. */
#include "store/internal.h"
#include "base/time.h"
#include "base/log.h"
#include "base/alloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int st_fail(gv_store *s, gv_error *err, const char *what) {
  int rc = sqlite3_extended_errcode(s->db);
  int code = (rc & 0xff) == SQLITE_CONSTRAINT &&
                     (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                 ? GV_EEXIST
                 : GV_ESTORE;
  return gv_error_set(err, code, NULL, "%s: %s", what, sqlite3_errmsg(s->db));
}

sqlite3_stmt *st_prep(gv_store *s, const char *sql, gv_error *err) {
  size_t h = ((uintptr_t)sql >> 3) % GV_STMT_CACHE;
  for (size_t i = 0; i < GV_STMT_CACHE; i++) {
    size_t k = (h + i) % GV_STMT_CACHE;
    if (s->cache[k].sql == sql) {
      sqlite3_reset(s->cache[k].stmt);
      sqlite3_clear_bindings(s->cache[k].stmt);
      return s->cache[k].stmt;
    }
    if (s->cache[k].sql == NULL) {
      sqlite3_stmt *st = NULL;
      if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        st_fail(s, err, "preparing a statement");
        gv_log(GV_LOG_ERROR, "store.prepare", "error=\"%s\"", sqlite3_errmsg(s->db));
        return NULL;
      }
      s->cache[k].sql = sql;
      s->cache[k].stmt = st;
      return st;
    }
  }
  /* The cache is full: that is a programming error (too many distinct statements). */
  gv_error_set(err, GV_EINTERNAL, NULL, "statement cache full");
  return NULL;
}

int st_exec(gv_store *s, sqlite3_stmt *st, gv_error *err) {
  if (s->fail_after > 0 && --s->fail_after == 0) {
    sqlite3_reset(st);
    return gv_error_set(err, GV_ESTORE, NULL, "injected write failure");
  }
  int rc = sqlite3_step(st);
  int out = GV_OK;
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) out = st_fail(s, err, "writing");
  sqlite3_reset(st);
  return out;
}

void st_bind_text(sqlite3_stmt *st, int i, const char *v) {
  sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

void st_bind_opt(sqlite3_stmt *st, int i, const char *v) {
  if (v == NULL || *v == '\0')
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

void st_bind_id(sqlite3_stmt *st, int i, int64_t v) {
  if (v == 0)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, v);
}

void st_col_copy(sqlite3_stmt *st, int i, char *dst, size_t size) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(dst, size, "%s", t ? (const char *)t : "");
}

char *st_col_dup(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? gv_strdup((const char *)t) : NULL;
}

json_t *st_col_json(sqlite3_stmt *st, int i) {
  const char *t = (const char *)sqlite3_column_text(st, i);
  if (t == NULL) return json_null();
  json_t *j = json_loads(t, JSON_DECODE_ANY, NULL);
  return j ? j : json_string(t);
}

json_t *st_jstr(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? json_string((const char *)t) : json_null();
}

json_t *st_jint(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                   : json_integer(sqlite3_column_int64(st, i));
}

int st_exec_sql(gv_store *s, const char *sql, gv_error *err) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    gv_error_set(err, GV_ESTORE, NULL, "%s", msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return GV_ESTORE;
  }
  return GV_OK;
}

/* SQLite's commit hook: while a transaction of ours is open, only its COMMIT may commit.
 * When the database rolled that transaction back by itself (after running out of memory
 * or an I/O error), a later statement would otherwise run and commit on its own. */
static int refuse_stray_commit(void *ud) {
  gv_store *s = ud;
  return s->in_tx && !s->committing;
}

static int pragma_text(gv_store *s, const char *sql, char *out, size_t size) {
  sqlite3_stmt *st = NULL;
  out[0] = '\0';
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return GV_ESTORE;
  if (sqlite3_step(st) == SQLITE_ROW) st_col_copy(st, 0, out, size);
  sqlite3_finalize(st);
  return GV_OK;
}

int gv_store_schema_latest(void) {
  size_t n;
  const gv_migration *m = gv_store_migrations(&n);
  return m[n - 1].version;
}

int gv_store_schema_version(gv_store *s) {
  char v[32];
  if (pragma_text(s, "SELECT max(version) FROM migrations", v, sizeof v) != GV_OK) return 0;
  return atoi(v);
}

static int migrate(gv_store *s, int flags, gv_error *err) {
  int rc = st_exec_sql(s,
                       "CREATE TABLE IF NOT EXISTS migrations ("
                       " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
                       err);
  if (rc != GV_OK) return rc;
  int have = gv_store_schema_version(s), latest = gv_store_schema_latest();
  if (have > latest)
    return gv_error_set(err, GV_ESCHEMA, NULL,
                        "%s was written by a newer Gavel (schema version %d; this Gavel %s "
                        "knows versions up to %d): upgrade Gavel to open it",
                        s->path, have, GAVEL_VERSION, latest);
  if (have == latest) return GV_OK;
  if (have > 0 && (flags & GV_STORE_NO_MIGRATE))
    return gv_error_set(err, GV_ESCHEMA, NULL, "%s has schema version %d; version %d is needed",
                        s->path, have, latest);
  size_t n;
  const gv_migration *m = gv_store_migrations(&n);
  for (size_t i = 0; i < n; i++) {
    if (m[i].version <= have) continue;
    if ((rc = st_exec_sql(s, "BEGIN IMMEDIATE", err)) != GV_OK) return rc;
    rc = st_exec_sql(s, m[i].sql, err);
    if (rc == GV_OK) {
      sqlite3_stmt *st = NULL;
      sqlite3_prepare_v2(s->db,
                         "INSERT INTO migrations(version, name, applied_at) "
                         "VALUES (?, ?, ?)",
                         -1, &st, NULL);
      sqlite3_bind_int(st, 1, m[i].version);
      sqlite3_bind_text(st, 2, m[i].name, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 3, gv_time_real_ms());
      if (st == NULL || sqlite3_step(st) != SQLITE_DONE) rc = st_fail(s, err, "recording a migration");
      sqlite3_finalize(st);
    }
    if (rc == GV_OK) rc = st_exec_sql(s, "COMMIT", err);
    if (rc != GV_OK) {
      st_exec_sql(s, "ROLLBACK", NULL);
      char detail[sizeof err->message];
      snprintf(detail, sizeof detail, "%s", err ? err->message : "");
      return gv_error_set(err, GV_ESTORE, NULL, "migration %d (%s) failed: %s", m[i].version,
                          m[i].name, detail);
    }
    gv_log(GV_LOG_INFO, "store.migrated", "version=%d", m[i].version);
  }
  return GV_OK;
}

int gv_store_open(const char *path, int flags, gv_store **out, gv_error *err) {
  *out = NULL;
  gv_store *s = gv_calloc(1, sizeof *s);
  if (s == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  gv_hist_init(&s->commit_seconds, gv_hist_seconds_bounds, gv_hist_seconds_nbounds);
  int rc = GV_OK;
  if ((s->path = gv_strdup(path)) == NULL) {
    rc = gv_error_set(err, GV_ENOMEM, NULL, NULL);
    goto fail;
  }
  int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (flags & GV_STORE_CREATE) oflags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
    int notfound = !(flags & GV_STORE_CREATE) && access(path, F_OK) != 0;
    rc = gv_error_set(err, notfound ? GV_ENOTFOUND : GV_ESTORE, NULL, "cannot open %s: %s", path,
                      s->db ? sqlite3_errmsg(s->db) : "out of memory");
    goto fail;
  }
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, GV_STORE_BUSY_TIMEOUT_MS);
  sqlite3_commit_hook(s->db, refuse_stray_commit, s);
  char mode[32], sync[32], fk[32];
  /* A 32 MiB page cache keeps the pages an action touches in memory (and bounds how
   * much memory the store takes). */
  if ((rc = st_exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                           "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF; PRAGMA cache_size=-32768",
                        err)) != GV_OK)
    goto fail;
  pragma_text(s, "PRAGMA journal_mode", mode, sizeof mode);
  pragma_text(s, "PRAGMA synchronous", sync, sizeof sync);
  pragma_text(s, "PRAGMA foreign_keys", fk, sizeof fk);
  if (strcmp(mode, "wal") != 0) {
    rc = gv_error_set(err, GV_ESTORE, NULL,
                      "%s: the database must use write-ahead logging (journal_mode is '%s'); "
                      "Gavel refuses to run without it",
                      path, mode);
    goto fail;
  }
  if (strcmp(sync, "2") != 0) {
    rc = gv_error_set(err, GV_ESTORE, NULL,
                      "%s: synchronous must be FULL (2), it is %s; Gavel refuses to run without "
                      "durable commits",
                      path, sync);
    goto fail;
  }
  if (strcmp(fk, "1") != 0) {
    rc = gv_error_set(err, GV_ESTORE, NULL, "%s: foreign keys could not be enabled", path);
    goto fail;
  }
  if ((rc = migrate(s, flags, err)) != GV_OK) goto fail;
  if ((rc = gv_store_state_init(s, err)) != GV_OK) goto fail;
  *out = s;
  return GV_OK;
fail:
  gv_store_close(s);
  return rc;
}

void gv_store_close(gv_store *s) {
  if (s == NULL) return;
  gv_store_plugin_forget(s);
  gv_store_state_forget(s);
  for (size_t i = 0; i < GV_STMT_CACHE; i++)
    if (s->cache[i].stmt) sqlite3_finalize(s->cache[i].stmt);
  if (s->db) sqlite3_close_v2(s->db);
  free(s->path);
  free(s);
}

const char *gv_store_path(const gv_store *s) { return s->path; }

int gv_store_begin(gv_store *s, gv_error *err) {
  if (s->in_tx) return gv_error_set(err, GV_EINTERNAL, NULL, "transaction already open");
  sqlite3_stmt *st = st_prep(s, "BEGIN IMMEDIATE", err);
  if (st == NULL) return GV_ESTORE;
  if (sqlite3_step(st) != SQLITE_DONE) {
    int rc = st_fail(s, err, "starting a transaction");
    sqlite3_reset(st);
    return rc;
  }
  sqlite3_reset(st);
  s->in_tx = 1;
  s->savepoints = 0;
  /* Rows written outside any event (before this transaction) belong to none of its events. */
  int rc = gv_store_state_clear(s, err);
  if (rc != GV_OK) gv_store_rollback(s);
  return rc;
}

/* Whether the transaction begin opened is gone: SQLite rolls a whole transaction back by
 * itself after some errors (out of memory, I/O, disk full). What follows must not run in
 * autocommit mode, where each statement would commit alone. */
static int tx_lost(gv_store *s) { return s->in_tx && sqlite3_get_autocommit(s->db); }

static int tx_lost_error(gv_error *err) {
  return gv_error_set(err, GV_ESTORE, NULL, "the transaction was rolled back by the database after an error");
}

const gv_hist *gv_store_commit_stats(const gv_store *s) { return &s->commit_seconds; }

int gv_store_commit(gv_store *s, gv_error *err) {
  if (tx_lost(s)) {
    int code = tx_lost_error(err);
    gv_store_rollback(s);
    return code;
  }
  sqlite3_stmt *st = st_prep(s, "COMMIT", err);
  if (st == NULL) {
    gv_store_rollback(s);
    return GV_ESTORE;
  }
  s->committing = 1;
  double t0 = gv_time_mono();
  int rc = sqlite3_step(st);
  double took = gv_time_mono() - t0;
  s->committing = 0;
  if (rc == SQLITE_DONE) gv_hist_observe(&s->commit_seconds, took);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    int code = st_fail(s, err, "committing");
    gv_store_rollback(s);
    return code;
  }
  s->in_tx = 0;
  return GV_OK;
}

void gv_store_rollback(gv_store *s) {
  /* ROLLBACK can itself fail for want of memory: try again rather than leave the
   * connection inside a transaction the next begin would trip over. */
  for (int tries = 0; tries < GV_STORE_ROLLBACK_TRIES && sqlite3_get_autocommit(s->db) == 0; tries++)
    st_exec_sql(s, "ROLLBACK", NULL);
  s->in_tx = 0;
  s->savepoints = 0;
}

int gv_store_in_tx(const gv_store *s) { return s->in_tx; }

int gv_store_savepoint(gv_store *s, gv_error *err) {
  if (tx_lost(s)) return tx_lost_error(err);
  sqlite3_stmt *st = st_prep(s, "SAVEPOINT gv_action", err);
  if (st == NULL) return GV_ESTORE;
  int rc = sqlite3_step(st) == SQLITE_DONE ? GV_OK : st_fail(s, err, "savepoint");
  sqlite3_reset(st);
  if (rc == GV_OK) s->savepoints++;
  return rc;
}

int gv_store_release(gv_store *s, gv_error *err) {
  if (tx_lost(s)) return tx_lost_error(err);
  sqlite3_stmt *st = st_prep(s, "RELEASE gv_action", err);
  if (st == NULL) return GV_ESTORE;
  int rc = sqlite3_step(st) == SQLITE_DONE ? GV_OK : st_fail(s, err, "releasing a savepoint");
  sqlite3_reset(st);
  if (rc == GV_OK) s->savepoints--;
  return rc;
}

int gv_store_rollback_to(gv_store *s) {
  if (tx_lost(s)) return GV_ESTORE;
  /* ROLLBACK TO keeps the savepoint open; RELEASE then discards it. Prepared once, so
   * that undoing an action that failed for want of memory needs almost none. */
  sqlite3_stmt *back = st_prep(s, "ROLLBACK TO gv_action", NULL);
  sqlite3_stmt *rel = st_prep(s, "RELEASE gv_action", NULL);
  int rc = back && rel && sqlite3_step(back) == SQLITE_DONE ? GV_OK : GV_ESTORE;
  if (back) sqlite3_reset(back);
  if (rc == GV_OK) rc = sqlite3_step(rel) == SQLITE_DONE ? GV_OK : GV_ESTORE;
  if (rel) sqlite3_reset(rel);
  if (rc == GV_OK) s->savepoints--;
  if (tx_lost(s)) rc = GV_ESTORE;
  return rc;
}

void gv_store_fail_after(gv_store *s, int nth) { s->fail_after = nth; }

int gv_store_backup(const char *src_path, const char *dst_path, gv_error *err) {
  sqlite3 *src = NULL, *dst = NULL;
  int rc = GV_OK;
  /* Create the file ourselves so it is 0600 from the first byte. */
  int fd = open(dst_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    return gv_error_set(err, GV_EIO, NULL, "cannot create %s: %s", dst_path,
                        access(dst_path, F_OK) == 0 ? "it already exists" : "permission or path");
  }
  close(fd);
  if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    rc = gv_error_set(err, GV_ENOTFOUND, NULL, "cannot open %s: %s", src_path,
                      src ? sqlite3_errmsg(src) : "out of memory");
    goto done;
  }
  sqlite3_busy_timeout(src, GV_STORE_BUSY_TIMEOUT_MS);
  if (sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    rc = gv_error_set(err, GV_EIO, NULL, "cannot open %s", dst_path);
    goto done;
  }
  sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
  if (b == NULL) {
    rc = gv_error_set(err, GV_ESTORE, NULL, "backup: %s", sqlite3_errmsg(dst));
    goto done;
  }
  int step;
  /* All pages in one step: the copy is a single consistent snapshot of the source. */
  while ((step = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || step == SQLITE_LOCKED)
    sqlite3_sleep(20);
  sqlite3_backup_finish(b);
  if (step != SQLITE_DONE) {
    rc = gv_error_set(err, GV_ESTORE, NULL, "backup failed: %s", sqlite3_errstr(step));
    goto done;
  }
  /* A backup is a standalone file: leave it out of WAL so it is one file. */
  sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
done:
  sqlite3_close_v2(src);
  sqlite3_close_v2(dst);
  if (rc != GV_OK) unlink(dst_path);
  else chmod(dst_path, 0600);
  return rc;
}
