/* The state rows: which rows of the record's tables a transaction wrote, and their canonical digests. */
#include "store/internal.h"
#include "base/alloc.h"
#include "base/crypto.h"

#include <stdlib.h>
#include <string.h>

/* The tables whose rows the pages, the API and the meeting record show, in the order their
 * rows are reported (by name). users is limited to what decides who may act and how they
 * appear: never password hashes, sessions or login counters. Timers, the outbox and the
 * idempotency records are the engine's bookkeeping, not state a reader sees. */
typedef struct state_table {
  const char *name;
  const char *one;          /* the row's columns by rowid, in the canonical order */
  const char *all;          /* rowid and the same columns, every row in rowid order */
} state_table;

#define ITEM_COLS "forum_id, workflow, version_id, title, state, data, meeting_id, agenda_pos, created_by, member, sealed, created_at, updated_at"
#define MEETING_COLS "forum_id, title, place, starts_on, ends_on, agenda_adopted_at, created_by, created_at"
#define POSITION_COLS "item_id, member, stance, statement, actor_id, on_behalf, reference, event_id, at"
#define USER_COLS "forum_id, username, display_name, role, member, disabled"

static const state_table tables[] = {
    {"items", "SELECT " ITEM_COLS " FROM main.items WHERE rowid = ?1",
     "SELECT rowid, " ITEM_COLS " FROM main.items ORDER BY rowid"},
    {"meetings", "SELECT " MEETING_COLS " FROM main.meetings WHERE rowid = ?1",
     "SELECT rowid, " MEETING_COLS " FROM main.meetings ORDER BY rowid"},
    {"positions", "SELECT " POSITION_COLS " FROM main.positions WHERE rowid = ?1",
     "SELECT rowid, " POSITION_COLS " FROM main.positions ORDER BY rowid"},
    {"users", "SELECT " USER_COLS " FROM main.users WHERE rowid = ?1",
     "SELECT rowid, " USER_COLS " FROM main.users ORDER BY rowid"},
};
#define NTABLES (sizeof tables / sizeof tables[0])

/* TEMP objects live with this connection only, so a write made by any other program (the
 * sqlite3 shell, say) is never captured: that is what `gavel audit verify` finds. The
 * capture table is transactional like any other, so a rolled-back savepoint takes its
 * captures with it. Table numbers are 1 + the index in tables[]. */
static const char capture_sql[] =
    "CREATE TEMP TABLE gv_written(tbl INTEGER NOT NULL, rid INTEGER NOT NULL);"
    "CREATE TEMP TRIGGER gv_written_items_i AFTER INSERT ON main.items"
    " BEGIN INSERT INTO gv_written VALUES (1, NEW.rowid); END;"
    "CREATE TEMP TRIGGER gv_written_items_u AFTER UPDATE ON main.items"
    " BEGIN INSERT INTO gv_written VALUES (1, NEW.rowid);"
    " INSERT INTO gv_written SELECT 1, OLD.rowid WHERE OLD.rowid <> NEW.rowid; END;"
    "CREATE TEMP TRIGGER gv_written_items_d AFTER DELETE ON main.items"
    " BEGIN INSERT INTO gv_written VALUES (1, OLD.rowid); END;"
    "CREATE TEMP TRIGGER gv_written_meetings_i AFTER INSERT ON main.meetings"
    " BEGIN INSERT INTO gv_written VALUES (2, NEW.rowid); END;"
    "CREATE TEMP TRIGGER gv_written_meetings_u AFTER UPDATE ON main.meetings"
    " BEGIN INSERT INTO gv_written VALUES (2, NEW.rowid);"
    " INSERT INTO gv_written SELECT 2, OLD.rowid WHERE OLD.rowid <> NEW.rowid; END;"
    "CREATE TEMP TRIGGER gv_written_meetings_d AFTER DELETE ON main.meetings"
    " BEGIN INSERT INTO gv_written VALUES (2, OLD.rowid); END;"
    "CREATE TEMP TRIGGER gv_written_positions_i AFTER INSERT ON main.positions"
    " BEGIN INSERT INTO gv_written VALUES (3, NEW.rowid); END;"
    "CREATE TEMP TRIGGER gv_written_positions_u AFTER UPDATE ON main.positions"
    " BEGIN INSERT INTO gv_written VALUES (3, NEW.rowid);"
    " INSERT INTO gv_written SELECT 3, OLD.rowid WHERE OLD.rowid <> NEW.rowid; END;"
    "CREATE TEMP TRIGGER gv_written_positions_d AFTER DELETE ON main.positions"
    " BEGIN INSERT INTO gv_written VALUES (3, OLD.rowid); END;"
    "CREATE TEMP TRIGGER gv_written_users_i AFTER INSERT ON main.users"
    " BEGIN INSERT INTO gv_written VALUES (4, NEW.rowid); END;"
    /* Only a change of a column the digest covers: a password change or a session is no
     * state a reader sees. BINARY, because username compares without case otherwise. */
    "CREATE TEMP TRIGGER gv_written_users_u AFTER UPDATE ON main.users"
    " WHEN OLD.rowid <> NEW.rowid OR OLD.forum_id IS NOT NEW.forum_id"
    "  OR OLD.username IS NOT NEW.username COLLATE BINARY OR OLD.display_name IS NOT NEW.display_name"
    "  OR OLD.role IS NOT NEW.role OR OLD.member IS NOT NEW.member OR OLD.disabled IS NOT NEW.disabled"
    " BEGIN INSERT INTO gv_written VALUES (4, NEW.rowid);"
    " INSERT INTO gv_written SELECT 4, OLD.rowid WHERE OLD.rowid <> NEW.rowid; END;"
    "CREATE TEMP TRIGGER gv_written_users_d AFTER DELETE ON main.users"
    " BEGIN INSERT INTO gv_written VALUES (4, OLD.rowid); END;";

int gv_store_state_init(gv_store *s, gv_error *err) { return st_exec_sql(s, capture_sql, err); }

void gv_store_state_forget(gv_store *s) {
  free(s->state_rows);
  gv_buf_free(&s->state_enc);
  s->state_rows = NULL;
  s->state_cap = 0;
}

int gv_store_state_clear(gv_store *s, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "DELETE FROM temp.gv_written", err);
  if (st == NULL) return GV_ESTORE;
  int rc = sqlite3_step(st) == SQLITE_DONE ? GV_OK : st_fail(s, err, "clearing the written rows");
  sqlite3_reset(st);
  return rc;
}

/* Empties the reused encoding buffer, forgetting an earlier failed allocation: a failure
 * fails the event it happened in, never the ones after it. */
static gv_buf *fresh_buf(gv_store *s) {
  gv_buf_reset(&s->state_enc);
  s->state_enc.failed = 0;
  return &s->state_enc;
}

static void put_u64(gv_buf *b, uint64_t v) {
  uint8_t x[8];
  for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (56 - 8 * i));
  gv_buf_append(b, x, sizeof x);
}

/* The canonical encoding of a row: the table's name and the rowid, then (when the row
 * exists) the number of columns and each column as a type tag ('N' null, 'I' integer,
 * 'F' real, 'T' text, 'B' blob) followed by its value (integers and reals as 8 bytes big
 * endian, text and blobs as an 8-byte length and the bytes). A missing row ends with 'X'
 * after the rowid. The digest is SHA-256 of these bytes. first is the first column of st
 * that belongs to the row (st NULL: the row is absent). */
static int row_digest(gv_store *s, const char *table, int64_t rowid, sqlite3_stmt *st, int first,
                      uint8_t out[GV_SHA256_LEN]) {
  gv_buf *b = fresh_buf(s);
  put_u64(b, strlen(table));
  gv_buf_puts(b, table);
  put_u64(b, (uint64_t)rowid);
  if (st == NULL) {
    gv_buf_putc(b, 'X');
  } else {
    int n = sqlite3_column_count(st);
    put_u64(b, (uint64_t)(n - first));
    for (int i = first; i < n; i++) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
          gv_buf_putc(b, 'I');
          put_u64(b, (uint64_t)sqlite3_column_int64(st, i));
          break;
        case SQLITE_FLOAT: {
          double d = sqlite3_column_double(st, i);
          uint64_t bits;
          memcpy(&bits, &d, sizeof bits);
          gv_buf_putc(b, 'F');
          put_u64(b, bits);
          break;
        }
        case SQLITE_TEXT:
        case SQLITE_BLOB: {
          int text = sqlite3_column_type(st, i) == SQLITE_TEXT;
          const void *p = text ? (const void *)sqlite3_column_text(st, i) : sqlite3_column_blob(st, i);
          size_t len = (size_t)sqlite3_column_bytes(st, i);
          gv_buf_putc(b, text ? 'T' : 'B');
          put_u64(b, len);
          if (len) gv_buf_append(b, p, len);
          break;
        }
        default:
          gv_buf_putc(b, 'N');
      }
    }
  }
  if (b->failed) return GV_ENOMEM;
  gv_sha256(b->data, b->len, out);
  return GV_OK;
}

/* The digest of one row as it is now (deleted set when it no longer exists). */
static int current_digest(gv_store *s, size_t t, int64_t rowid, gv_store_state_row *r, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, tables[t].one, err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, rowid);
  int step = sqlite3_step(st);
  int rc;
  if (step == SQLITE_ROW || step == SQLITE_DONE) {
    r->table = tables[t].name;
    r->rowid = rowid;
    r->deleted = step == SQLITE_DONE;
    rc = row_digest(s, tables[t].name, rowid, r->deleted ? NULL : st, 0, r->digest);
    if (rc != GV_OK) gv_error_set(err, rc, NULL, "out of memory");
  } else {
    rc = st_fail(s, err, "reading a written row");
  }
  sqlite3_reset(st);
  return rc;
}

static int grow_rows(gv_store *s, size_t need) {
  if (need <= s->state_cap) return GV_OK;
  size_t cap = s->state_cap ? s->state_cap * 2 : 16;
  while (cap < need) cap *= 2;
  gv_store_state_row *grown = gv_realloc(s->state_rows, cap * sizeof *grown);
  if (grown == NULL) return GV_ENOMEM;
  s->state_rows = grown;
  s->state_cap = cap;
  return GV_OK;
}

int gv_store_state_drain(gv_store *s, const gv_store_state_row **rows, size_t *n,
                         uint8_t state_digest[GV_SHA256_LEN], gv_error *err) {
  size_t count = 0;
  int rc = GV_OK;
  sqlite3_stmt *st = st_prep(s, "SELECT DISTINCT tbl, rid FROM temp.gv_written ORDER BY tbl, rid", err);
  if (st == NULL) return GV_ESTORE;
  /* The distinct (table, rowid) pairs first, then each row's digest: reading a main table
   * while stepping the capture table is fine, but collecting first keeps one cursor open. */
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t t = sqlite3_column_int64(st, 0);
    if (t < 1 || (size_t)t > NTABLES) continue;
    if (grow_rows(s, count + 1) != GV_OK) {
      rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
      break;
    }
    s->state_rows[count].table = tables[t - 1].name;
    s->state_rows[count].rowid = sqlite3_column_int64(st, 1);
    count++;
  }
  if (rc == GV_OK && step != SQLITE_DONE) rc = st_fail(s, err, "reading the written rows");
  sqlite3_reset(st);
  for (size_t i = 0; i < count && rc == GV_OK; i++) {
    size_t t = 0;
    while (strcmp(tables[t].name, s->state_rows[i].table) != 0) t++;
    rc = current_digest(s, t, s->state_rows[i].rowid, &s->state_rows[i], err);
  }
  if (rc == GV_OK && count > 0) {
    st = st_prep(s, "DELETE FROM temp.gv_written", err);
    rc = st ? st_exec(s, st, err) : GV_ESTORE;
  }
  if (rc != GV_OK) return rc;
  /* The digest of the whole list: SHA-256 of the row digests in order. */
  gv_buf *b = fresh_buf(s);
  for (size_t i = 0; i < count; i++) gv_buf_append(b, s->state_rows[i].digest, GV_SHA256_LEN);
  if (b->failed) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  gv_sha256(count ? b->data : "", b->len, state_digest);
  *rows = s->state_rows;
  *n = count;
  return GV_OK;
}

int gv_store_state_rows(gv_store *s, gv_store_state_fn fn, void *ud, gv_error *err) {
  int rc = GV_OK, stop = 0;
  for (size_t t = 0; t < NTABLES && rc == GV_OK && !stop; t++) {
    sqlite3_stmt *st = st_prep(s, tables[t].all, err);
    if (st == NULL) return GV_ESTORE;
    int step = SQLITE_DONE;
    while (!stop && (step = sqlite3_step(st)) == SQLITE_ROW) {
      gv_store_state_row r = {tables[t].name, sqlite3_column_int64(st, 0), {0}, 0};
      if ((rc = row_digest(s, tables[t].name, r.rowid, st, 1, r.digest)) != GV_OK) {
        gv_error_set(err, rc, NULL, "out of memory");
        break;
      }
      stop = fn(ud, &r);
    }
    if (rc == GV_OK && !stop && step != SQLITE_DONE) rc = st_fail(s, err, "reading the state rows");
    sqlite3_reset(st);
  }
  return rc;
}
