/* The store's calendar addresses (hashed tokens) and the reads the calendar feed needs. */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>


int gv_store_calendar_set(gv_store *s, int64_t user_id, const char *token_hash, int64_t now, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO calendar_tokens(user_id, token_hash, created_at) VALUES (?, ?, ?)"
      " ON CONFLICT(user_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, user_id);
  st_bind_text(st, 2, token_hash);
  sqlite3_bind_int64(st, 3, now);
  return st_exec(s, st, err);
}

int gv_store_calendar_delete(gv_store *s, int64_t user_id, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "DELETE FROM calendar_tokens WHERE user_id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, user_id);
  int rc = st_exec(s, st, err);
  if (rc == GV_OK && sqlite3_changes(s->db) == 0)
    rc = gv_error_set(err, GV_ENOTFOUND, NULL, "there is no calendar address to revoke");
  return rc;
}

int gv_store_calendar_find(gv_store *s, const char *token_hash, int64_t *user_id, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT user_id FROM calendar_tokens WHERE token_hash = ?", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, token_hash);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *user_id = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return GV_OK;
  return gv_error_set(err, GV_ENOTFOUND, NULL, "no such calendar");
}

int gv_store_calendar_get(gv_store *s, int64_t user_id, int64_t *created_at, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT created_at FROM calendar_tokens WHERE user_id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, user_id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *created_at = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return GV_OK;
  return gv_error_set(err, GV_ENOTFOUND, NULL, "no calendar address");
}

int gv_store_timer_pending_list(gv_store *s, const char *forum_id, gv_timer_row **out, size_t *n, gv_error *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = st_prep(s,
      "SELECT t.id, t.item_id, t.name, t.due_at FROM timers t JOIN items i ON i.id = t.item_id"
      " WHERE t.state = 'pending' AND i.forum_id = ? AND t.name NOT LIKE 'remind:%' ORDER BY t.due_at, t.id", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, forum_id);
  size_t cap = 0;
  int rc = GV_OK;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (*n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      gv_timer_row *g = realloc(*out, nc * sizeof *g);
      if (g == NULL) {
        rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory listing timers");
        break;
      }
      *out = g;
      cap = nc;
    }
    gv_timer_row *t = &(*out)[(*n)++];
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    t->item_id = sqlite3_column_int64(st, 1);
    st_col_copy(st, 2, t->name, sizeof t->name);
    t->due_at = sqlite3_column_int64(st, 3);
  }
  sqlite3_reset(st);
  if (rc != GV_OK) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}
