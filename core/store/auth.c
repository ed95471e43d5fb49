/* The store's authentication tables: sessions and tokens, login failures, idempotency records. */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

int gv_store_session_insert(gv_store *s, gv_session *o, const char *token_hash, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO sessions(user_id, kind, token_hash, csrf_hash, label, created_at, last_used_at, expires_at, scope)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, o->user_id);
  st_bind_text(st, 2, o->kind);
  st_bind_text(st, 3, token_hash);
  st_bind_opt(st, 4, o->csrf_hash);
  st_bind_opt(st, 5, o->label);
  sqlite3_bind_int64(st, 6, o->created_at);
  sqlite3_bind_int64(st, 7, o->last_used_at);
  st_bind_id(st, 8, o->expires_at);
  st_bind_opt(st, 9, o->scope);
  int rc = st_exec(s, st, err);
  if (rc == GV_OK) o->id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

static int read_session(sqlite3_stmt *st, gv_session *o) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    o->user_id = sqlite3_column_int64(st, 1);
    st_col_copy(st, 2, o->kind, sizeof o->kind);
    st_col_copy(st, 3, o->csrf_hash, sizeof o->csrf_hash);
    st_col_copy(st, 4, o->label, sizeof o->label);
    o->created_at = sqlite3_column_int64(st, 5);
    o->last_used_at = sqlite3_column_int64(st, 6);
    o->expires_at = sqlite3_column_int64(st, 7);
    o->revoked_at = sqlite3_column_int64(st, 8);
    st_col_copy(st, 9, o->scope, sizeof o->scope);
  }
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? GV_OK : GV_ENOTFOUND;
}

int gv_store_session_find(gv_store *s, const char *token_hash, gv_session *o, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT id, user_id, kind, csrf_hash, label, created_at, last_used_at, expires_at, revoked_at, scope"
      " FROM sessions WHERE token_hash = ?", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, token_hash);
  return read_session(st, o);
}

int gv_store_session_get(gv_store *s, int64_t id, gv_session *o, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT id, user_id, kind, csrf_hash, label, created_at, last_used_at, expires_at, revoked_at, scope"
      " FROM sessions WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, id);
  return read_session(st, o);
}

int gv_store_session_touch(gv_store *s, int64_t id, int64_t now, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "UPDATE sessions SET last_used_at = ? WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, id);
  return st_exec(s, st, err);
}

int gv_store_session_revoke(gv_store *s, int64_t id, int64_t now, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, id);
  return st_exec(s, st, err);
}

int gv_store_session_list(gv_store *s, int64_t user_id, const char *kind, json_t **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT s.id, u.username, s.label, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.kind, s.scope"
      " FROM sessions s JOIN users u ON u.id = s.user_id WHERE (?1 = 0 OR s.user_id = ?1) AND s.kind = ?2"
      " ORDER BY s.id", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, user_id);
  st_bind_text(st, 2, kind);
  json_t *arr = json_array();
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "username", st_jstr(st, 1));
    json_object_set_new(o, "label", st_jstr(st, 2));
    json_object_set_new(o, "created_at", json_integer(sqlite3_column_int64(st, 3)));
    json_object_set_new(o, "last_used_at", json_integer(sqlite3_column_int64(st, 4)));
    json_object_set_new(o, "expires_at", st_jint(st, 5));
    json_object_set_new(o, "revoked", json_boolean(sqlite3_column_type(st, 6) != SQLITE_NULL));
    json_object_set_new(o, "scope", st_jstr(st, 8));
    json_array_append_new(arr, o);
  }
  sqlite3_reset(st);
  *out = arr;
  return GV_OK;
}

int gv_store_login_failure(gv_store *s, const char *scope, int64_t now, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "INSERT INTO login_failures(scope, at) VALUES (?, ?)", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, scope);
  sqlite3_bind_int64(st, 2, now);
  return st_exec(s, st, err);
}

int64_t gv_store_login_failures_since(gv_store *s, const char *scope, int64_t since) {
  sqlite3_stmt *st = st_prep(s, "SELECT count(*) FROM login_failures WHERE scope = ? AND at >= ?", NULL);
  if (st == NULL) return 0;
  st_bind_text(st, 1, scope);
  sqlite3_bind_int64(st, 2, since);
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return n;
}

int64_t gv_store_login_failure_nth(gv_store *s, const char *scope, int64_t since, int64_t max) {
  if (max <= 0) return 0;
  sqlite3_stmt *st =
      st_prep(s, "SELECT at FROM login_failures WHERE scope = ? AND at >= ? ORDER BY at DESC LIMIT 1 OFFSET ?", NULL);
  if (st == NULL) return 0;
  st_bind_text(st, 1, scope);
  sqlite3_bind_int64(st, 2, since);
  sqlite3_bind_int64(st, 3, max - 1);
  int64_t at = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return at;
}

int gv_store_login_failures_clear(gv_store *s, const char *scope, int64_t before, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "DELETE FROM login_failures WHERE scope = ? OR at < ?", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, scope ? scope : "");
  sqlite3_bind_int64(st, 2, before);
  return st_exec(s, st, err);
}

int gv_store_idem_get(gv_store *s, int64_t user_id, const char *key, gv_idem *o, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT request_sha256, status, response, created_at FROM idempotency WHERE user_id = ? AND key = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, user_id);
  st_bind_text(st, 2, key);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    st_col_copy(st, 0, o->request_sha256, sizeof o->request_sha256);
    o->status = sqlite3_column_int(st, 1);
    o->response = st_col_dup(st, 2);
    o->created_at = sqlite3_column_int64(st, 3);
  }
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? GV_OK : GV_ENOTFOUND;
}

int gv_store_idem_put(gv_store *s, int64_t user_id, const char *key, const char *request_sha256, int status,
                      const char *response, int64_t now, gv_error *err) {
  /* A record older than 24 hours no longer counts: it is replaced, not a conflict. */
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO idempotency(user_id, key, request_sha256, status, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
      " ON CONFLICT(user_id, key) DO UPDATE SET request_sha256 = ?3, status = ?4, response = ?5, created_at = ?6"
      " WHERE created_at < ?6 - 86400000", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, user_id);
  st_bind_text(st, 2, key);
  st_bind_text(st, 3, request_sha256);
  sqlite3_bind_int(st, 4, status);
  st_bind_text(st, 5, response);
  sqlite3_bind_int64(st, 6, now);
  int rc = st_exec(s, st, err);
  if (rc == GV_OK && sqlite3_changes(s->db) == 0)
    return gv_error_set(err, GV_EEXIST, "Idempotency-Key", "the key is already in use");
  return rc;
}

int gv_store_idem_purge(gv_store *s, int64_t before, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "DELETE FROM idempotency WHERE created_at < ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, before);
  return st_exec(s, st, err);
}
