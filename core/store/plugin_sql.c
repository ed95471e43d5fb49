/* Plugins' own tables: migrations and statements confined (by SQLite's authorizer) to tables named after the plugin. */
#include "base/time.h"
#include "store/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A gv_store_row is the statement positioned on a row. */
int64_t gv_store_row_int(const gv_store_row *r, int col) { return sqlite3_column_int64((sqlite3_stmt *)r, col); }
const char *gv_store_row_text(const gv_store_row *r, int col) {
  return (const char *)sqlite3_column_text((sqlite3_stmt *)r, col);
}
int gv_store_row_is_null(const gv_store_row *r, int col) {
  return sqlite3_column_type((sqlite3_stmt *)r, col) == SQLITE_NULL;
}
const void *gv_store_row_blob(const gv_store_row *r, int col, size_t *len) {
  const void *b = sqlite3_column_blob((sqlite3_stmt *)r, col);
  if (len) *len = (size_t)sqlite3_column_bytes((sqlite3_stmt *)r, col);
  return b;
}

static int own_table(const char *plugin, const char *table) {
  size_t n = strlen(plugin);
  return table && strncmp(table, plugin, n) == 0 && table[n] == '_' && !gv_store_core_name(table, 0);
}

/* The plugin's own index, or the one SQLite names for a UNIQUE or PRIMARY KEY constraint of its table. */
static int own_index(const char *plugin, const char *index) {
  static const char autoindex[] = "sqlite_autoindex_";
  if (index && strncmp(index, autoindex, sizeof autoindex - 1) == 0) index += sizeof autoindex - 1;
  return own_table(plugin, index);
}

/* While a plugin's statement is prepared, only its own tables (and reading events and the outbox) pass. */
static int authorize(void *ud, int action, const char *a, const char *b, const char *db, const char *trigger) {
  gv_store *s = ud;
  const char *p = s->authorize_plugin;
  (void)db;
  (void)trigger;
  if (p == NULL) return SQLITE_OK;
  /* Creating a table or index writes the schema table: allowed only in migrations. */
  if (s->authorize_ddl && a && strcmp(a, "sqlite_master") == 0 &&
      (action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE || action == SQLITE_READ))
    return SQLITE_OK;
  switch (action) {
    case SQLITE_CREATE_TABLE: case SQLITE_DROP_TABLE: case SQLITE_INSERT: case SQLITE_DELETE:
      return own_table(p, a) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_CREATE_INDEX: case SQLITE_DROP_INDEX: /* the index and its table are the plugin's */
      return own_index(p, a) && own_table(p, b) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_REINDEX: /* asked while creating an index */
      return own_index(p, a) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_UPDATE: case SQLITE_ALTER_TABLE:
      return own_table(p, action == SQLITE_ALTER_TABLE ? b : a) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_READ:
      return own_table(p, a) || strcmp(a, "events") == 0 || strcmp(a, "outbox") == 0 || strcmp(a, "sqlite_master") == 0
                 ? SQLITE_OK
                 : SQLITE_DENY;
    case SQLITE_SELECT: case SQLITE_FUNCTION: case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_TRANSACTION: case SQLITE_SAVEPOINT: case SQLITE_ATTACH: case SQLITE_DETACH: case SQLITE_PRAGMA:
    default:
      return SQLITE_DENY;
  }
}

/* Skips blanks and comments. */
static const char *skip_blank(const char *p) {
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') p++;
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') p++;
    } else if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      p = e ? e + 2 : p + strlen(p);
    } else {
      return p;
    }
  }
}

/* Some statements have no authorizer action at all (VACUUM, VACUUM INTO a file): a plugin's
 * statement must begin with one of the words that do, whatever the authorizer said. */
static int statement_kind_allowed(const char *sql, int ddl) {
  static const char *const dml[] = {"SELECT", "WITH", "INSERT", "REPLACE", "UPDATE", "DELETE", NULL};
  static const char *const schema[] = {"CREATE", "DROP", "ALTER", NULL};
  const char *p = skip_blank(sql);
  size_t n = 0;
  while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z')) n++;
  for (int pass = 0; pass < (ddl ? 2 : 1); pass++)
    for (const char *const *w = pass ? schema : dml; *w; w++)
      if (strlen(*w) == n && strncasecmp(p, *w, n) == 0) return 1;
  return 0;
}

static int prepare_for(gv_store *s, const char *plugin, const char *sql, sqlite3_stmt **out, gv_error *err) {
  *out = NULL;
  if (!statement_kind_allowed(sql, 0))
    return gv_error_set(err, GV_ESTORE, NULL, "plugin %s: not authorized (only SELECT, INSERT, UPDATE and DELETE)",
                        plugin);
  const char *tail = NULL;
  s->authorize_plugin = plugin;
  sqlite3_set_authorizer(s->db, authorize, s);
  int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, &tail);
  sqlite3_set_authorizer(s->db, NULL, NULL);
  s->authorize_plugin = NULL;
  if (rc != SQLITE_OK) return gv_error_set(err, GV_ESTORE, NULL, "plugin %s: %s", plugin, sqlite3_errmsg(s->db));
  if (*out == NULL || (tail && *skip_blank(tail))) {
    sqlite3_finalize(*out);
    *out = NULL;
    return gv_error_set(err, GV_ESTORE, NULL, "plugin %s: give exactly one statement", plugin);
  }
  return GV_OK;
}

int gv_store_plugin_migrate(gv_store *s, const char *plugin, const gv_store_migration *m, size_t n, gv_error *err) {
  for (size_t i = 0; i < n; i++) {
    /* Checked inside the transaction, so two processes starting together run it once. */
    int own = !s->in_tx;
    int rc = own ? gv_store_begin(s, err) : GV_OK;
    if (rc != GV_OK) return rc;
    sqlite3_stmt *st = st_prep(s, "SELECT 1 FROM plugin_migrations WHERE plugin = ? AND version = ?", err);
    if (st == NULL) {
      if (own) gv_store_rollback(s);
      return GV_ESTORE;
    }
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, m[i].version);
    int done = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (done) {
      if (own) gv_store_rollback(s);
      continue;
    }
    /* Each statement of the migration is prepared under the authorizer. */
    const char *sql = m[i].sql;
    while (rc == GV_OK && sql && *sql) {
      sqlite3_stmt *one = NULL;
      const char *tail = NULL;
      if (*skip_blank(sql) == '\0') break;
      if (!statement_kind_allowed(sql, 1)) {
        rc = gv_error_set(err, GV_ESTORE, NULL, "plugin %s migration %d: not authorized", plugin, m[i].version);
        break;
      }
      s->authorize_plugin = plugin;
      s->authorize_ddl = 1;
      sqlite3_set_authorizer(s->db, authorize, s);
      int prc = sqlite3_prepare_v2(s->db, sql, -1, &one, &tail);
      sqlite3_set_authorizer(s->db, NULL, NULL);
      s->authorize_plugin = NULL;
      s->authorize_ddl = 0;
      if (prc != SQLITE_OK) {
        rc = gv_error_set(err, GV_ESTORE, NULL, "plugin %s migration %d: %s", plugin, m[i].version, sqlite3_errmsg(s->db));
        break;
      }
      if (one && sqlite3_step(one) != SQLITE_DONE)
        rc = gv_error_set(err, GV_ESTORE, NULL, "plugin %s migration %d: %s", plugin, m[i].version, sqlite3_errmsg(s->db));
      sqlite3_finalize(one);
      sql = tail;
    }
    if (rc == GV_OK) {
      st = st_prep(s, "INSERT INTO plugin_migrations(plugin, version, name, applied_at) VALUES (?, ?, ?, ?)", err);
      if (st == NULL) rc = GV_ESTORE;
      else {
        sqlite3_bind_text(st, 1, plugin, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, m[i].version);
        sqlite3_bind_text(st, 3, m[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, gv_time_real_ms());
        rc = st_exec(s, st, err);
      }
    }
    if (own) {
      if (rc == GV_OK) rc = gv_store_commit(s, err);
      else gv_store_rollback(s);
    }
    if (rc != GV_OK) return rc;
  }
  return GV_OK;
}

#define PLUGIN_CACHE 64
static struct {
  const gv_store *store;
  const char *plugin;
  const char *sql;
  sqlite3_stmt *stmt;
} pcache[PLUGIN_CACHE];

/* Plugin statements are cached by their SQL's address, per store and plugin (a linker may merge
 * equal string literals of two plugins; each keeps the statement authorized for it). */
static sqlite3_stmt *plugin_stmt(gv_store *s, const char *plugin, const char *sql, gv_error *err) {
  for (int i = 0; i < PLUGIN_CACHE; i++)
    if (pcache[i].store == s && pcache[i].sql == sql && strcmp(pcache[i].plugin, plugin) == 0 &&
        strcmp(sqlite3_sql(pcache[i].stmt), sql) == 0) {
      sqlite3_reset(pcache[i].stmt);
      sqlite3_clear_bindings(pcache[i].stmt);
      return pcache[i].stmt;
    }
  sqlite3_stmt *st = NULL;
  if (prepare_for(s, plugin, sql, &st, err) != GV_OK) return NULL;
  for (int i = 0; i < PLUGIN_CACHE; i++)
    if (pcache[i].store == NULL) {
      pcache[i].store = s;
      pcache[i].plugin = plugin;
      pcache[i].sql = sql;
      pcache[i].stmt = st;
      return st;
    }
  /* Cache full: the statement is still used, then finalized by the caller. */
  return st;
}

static int cached(gv_store *s, sqlite3_stmt *st) {
  for (int i = 0; i < PLUGIN_CACHE; i++)
    if (pcache[i].store == s && pcache[i].stmt == st) return 1;
  return 0;
}

/* Finalizes the store's cached plugin statements (called when the store closes). */
void gv_store_plugin_forget(gv_store *s) {
  for (int i = 0; i < PLUGIN_CACHE; i++)
    if (pcache[i].store == s) {
      sqlite3_finalize(pcache[i].stmt);
      pcache[i].store = NULL;
      pcache[i].plugin = NULL;
      pcache[i].sql = NULL;
      pcache[i].stmt = NULL;
    }
}

int gv_store_plugin_sql(gv_store *s, const char *plugin, const char *sql, const gv_store_arg *args, size_t nargs,
                        gv_store_row_fn fn, void *ud, gv_error *err) {
  sqlite3_stmt *st = plugin_stmt(s, plugin, sql, err);
  if (st == NULL) return GV_ESTORE;
  for (size_t i = 0; i < nargs; i++) {
    int k = (int)i + 1;
    switch (args[i].type) {
      case GV_STORE_ARG_INT: sqlite3_bind_int64(st, k, args[i].i); break;
      case GV_STORE_ARG_TEXT: sqlite3_bind_text(st, k, args[i].s, -1, SQLITE_TRANSIENT); break;
      case GV_STORE_ARG_BLOB: sqlite3_bind_blob(st, k, args[i].b, (int)args[i].n, SQLITE_TRANSIENT); break;
      default: sqlite3_bind_null(st, k); break;
    }
  }
  int rc = GV_OK, step;
  if (s->fail_after > 0 && !sqlite3_stmt_readonly(st) && --s->fail_after == 0) {
    rc = gv_error_set(err, GV_ESTORE, NULL, "injected write failure");
  } else {
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
      if (fn && fn(ud, (const gv_store_row *)st)) break;
    if (step != SQLITE_ROW && step != SQLITE_DONE) rc = st_fail(s, err, plugin);
  }
  if (cached(s, st)) sqlite3_reset(st);
  else sqlite3_finalize(st);
  return rc;
}
