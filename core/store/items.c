/* The store's item tables: items, positions, timers, counters, workflow versions, and event reads. */
#include "store/internal.h"
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

void gv_item_row_clear(gv_item_row *r) {
  if (r == NULL) return;
  free(r->title);
  free(r->data);
  r->title = r->data = NULL;
}

#define ITEM_COLS "id, forum_id, workflow, version_id, title, state, data, meeting_id, created_by," \
  " member, sealed, created_at, updated_at"

/* A text column copied, or -1 when out of memory: a title or data that exists must never
 * read as absent, or an action would write the item back without it. */
static int dup_column(sqlite3_stmt *st, int i, char **out) {
  *out = NULL;
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return 0;
  *out = st_col_dup(st, i);
  return *out ? 0 : -1;
}

/* Reads the row into r; SQLITE_NOMEM when a column could not be copied (r is then cleared). */
static int read_item(sqlite3_stmt *st, gv_item_row *r) {
  memset(r, 0, sizeof *r);
  r->id = sqlite3_column_int64(st, 0);
  st_col_copy(st, 1, r->forum_id, sizeof r->forum_id);
  st_col_copy(st, 2, r->workflow, sizeof r->workflow);
  r->version_id = sqlite3_column_int64(st, 3);
  int bad = dup_column(st, 4, &r->title);
  st_col_copy(st, 5, r->state, sizeof r->state);
  bad |= dup_column(st, 6, &r->data);
  r->meeting_id = sqlite3_column_int64(st, 7);
  r->created_by = sqlite3_column_int64(st, 8);
  st_col_copy(st, 9, r->member, sizeof r->member);
  r->sealed = sqlite3_column_int(st, 10);
  r->created_at = sqlite3_column_int64(st, 11);
  r->updated_at = sqlite3_column_int64(st, 12);
  if (bad) {
    gv_item_row_clear(r);
    return SQLITE_NOMEM;
  }
  return SQLITE_ROW;
}

int gv_store_item_insert(gv_store *s, gv_item_row *r, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO items(forum_id, workflow, version_id, title, state, data, meeting_id, created_by,"
      " member, sealed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, r->forum_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->workflow, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, r->version_id);
  sqlite3_bind_text(st, 4, r->title, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, r->state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, r->data ? r->data : "{}", -1, SQLITE_STATIC);
  st_bind_id(st, 7, r->meeting_id);
  st_bind_id(st, 8, r->created_by);
  st_bind_opt(st, 9, r->member);
  sqlite3_bind_int(st, 10, r->sealed);
  sqlite3_bind_int64(st, 11, r->created_at);
  sqlite3_bind_int64(st, 12, r->updated_at);
  int rc = st_exec(s, st, err);
  if (rc == GV_OK) r->id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int gv_store_item_get(gv_store *s, int64_t id, gv_item_row *out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT " ITEM_COLS " FROM items WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) rc = read_item(st, out);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return GV_OK;
  if (rc == SQLITE_NOMEM) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  return gv_error_set(err, GV_ENOTFOUND, "id", "no item %lld", (long long)id);
}

int gv_store_item_update(gv_store *s, const gv_item_row *r, int with_data, gv_error *err) {
  sqlite3_stmt *st = with_data
      ? st_prep(s, "UPDATE items SET state = ?1, data = ?2, meeting_id = ?3, sealed = ?4, updated_at = ?5 WHERE id = ?6", err)
      : st_prep(s, "UPDATE items SET state = ?1, meeting_id = ?3, sealed = ?4, updated_at = ?5 WHERE id = ?6", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, r->state, -1, SQLITE_STATIC);
  if (with_data) sqlite3_bind_text(st, 2, r->data ? r->data : "{}", -1, SQLITE_STATIC);
  st_bind_id(st, 3, r->meeting_id);
  sqlite3_bind_int(st, 4, r->sealed);
  sqlite3_bind_int64(st, 5, r->updated_at);
  sqlite3_bind_int64(st, 6, r->id);
  return st_exec(s, st, err);
}

int gv_store_item_list(gv_store *s, const gv_item_filter *f, gv_item_row **out, size_t *n, gv_error *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = st_prep(s,
      "SELECT " ITEM_COLS " FROM items WHERE forum_id = ?1 AND (?2 IS NULL OR workflow = ?2)"
      " AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR meeting_id = ?4) AND id > ?5"
      " ORDER BY id LIMIT ?6", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, f->forum_id);
  st_bind_opt(st, 2, f->workflow);
  st_bind_opt(st, 3, f->state);
  st_bind_id(st, 4, f->meeting_id);
  sqlite3_bind_int64(st, 5, f->after_id);
  sqlite3_bind_int(st, 6, f->limit > 0 ? f->limit : 100);
  size_t cap = 0;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      gv_item_row *p = gv_realloc(*out, cap * sizeof **out);
      if (p == NULL) {
        step = SQLITE_NOMEM;
        break;
      }
      *out = p;
    }
    if ((step = read_item(st, &(*out)[*n])) != SQLITE_ROW) break;
    (*n)++;
  }
  /* A list cut short (out of memory, a read error) is an error, never a shorter answer. */
  int rc = step == SQLITE_DONE ? GV_OK
           : step == SQLITE_NOMEM ? gv_error_set(err, GV_ENOMEM, NULL, "out of memory")
                                  : st_fail(s, err, "reading");
  sqlite3_reset(st);
  if (rc != GV_OK) {
    for (size_t i = 0; i < *n; i++) gv_item_row_clear(&(*out)[i]);
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

/* ---- Positions ------------------------------------------------------------------------- */

int gv_store_position_insert(gv_store *s, const gv_position_row *p, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO positions(item_id, member, stance, statement, actor_id, on_behalf, reference, event_id, at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, p->item_id);
  sqlite3_bind_text(st, 2, p->member, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, p->stance, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, p->statement ? p->statement : "", -1, SQLITE_STATIC);
  st_bind_id(st, 5, p->actor_id);
  sqlite3_bind_int(st, 6, p->on_behalf);
  if (p->reference) sqlite3_bind_text(st, 7, p->reference, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, p->event_id);
  sqlite3_bind_int64(st, 9, p->at);
  return st_exec(s, st, err);
}

int gv_store_positions(gv_store *s, int64_t item_id, int history, json_t **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT p.member, p.stance, p.statement, p.at, u.username, p.on_behalf, p.reference, p.event_id, p.id"
      " FROM positions p LEFT JOIN users u ON u.id = p.actor_id WHERE p.item_id = ? ORDER BY p.id", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, item_id);
  json_t *res = history ? json_array() : json_object();
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *o = json_object();
    json_object_set_new(o, "member", st_jstr(st, 0));
    json_object_set_new(o, "stance", st_jstr(st, 1));
    json_object_set_new(o, "statement", st_jstr(st, 2));
    json_object_set_new(o, "at", json_integer(sqlite3_column_int64(st, 3)));
    json_object_set_new(o, "actor", st_jstr(st, 4));
    json_object_set_new(o, "on_behalf", json_boolean(sqlite3_column_int(st, 5)));
    json_object_set_new(o, "reference", st_jstr(st, 6));
    json_object_set_new(o, "event_id", json_integer(sqlite3_column_int64(st, 7)));
    if (history)
      json_array_append_new(res, o);
    else
      json_object_set_new(res, (const char *)sqlite3_column_text(st, 0), o);
  }
  sqlite3_reset(st);
  *out = res;
  return GV_OK;
}

/* ---- Timers ----------------------------------------------------------------------------- */

int gv_store_timer_set(gv_store *s, int64_t item_id, const char *name, int64_t due_at, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "UPDATE timers SET due_at = ? WHERE item_id = ? AND name = ? AND state = 'pending'", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, due_at);
  sqlite3_bind_int64(st, 2, item_id);
  sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  int rc = st_exec(s, st, err);
  if (rc != GV_OK) return rc;
  if (sqlite3_changes(s->db) > 0) return GV_OK;
  st = st_prep(s, "INSERT INTO timers(item_id, name, due_at) SELECT ?1, ?2, ?3 WHERE NOT EXISTS"
                  " (SELECT 1 FROM timers WHERE item_id = ?1 AND name = ?2 AND due_at = ?3 AND state = 'fired')", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, item_id);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, due_at);
  return st_exec(s, st, err);
}

int gv_store_timer_cancel_exact(gv_store *s, int64_t item_id, const char *name, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "UPDATE timers SET state = 'cancelled' WHERE item_id = ? AND state = 'pending' AND name = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, item_id);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  return st_exec(s, st, err);
}

int gv_store_timer_cancel(gv_store *s, int64_t item_id, const char *prefix, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "UPDATE timers SET state = 'cancelled' WHERE item_id = ? AND state = 'pending' AND substr(name, 1, ?) = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, item_id);
  sqlite3_bind_int(st, 2, (int)strlen(prefix));
  sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
  return st_exec(s, st, err);
}

int gv_store_timer_due(gv_store *s, int64_t item_id, const char *name, int64_t *due_at, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT due_at FROM timers WHERE item_id = ? AND name = ? AND state IN ('pending', 'fired')"
      " ORDER BY state = 'pending' DESC, id DESC LIMIT 1", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, item_id);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *due_at = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? GV_OK : GV_ENOTFOUND;
}

int gv_store_timers_due(gv_store *s, int64_t item_id, int64_t now, int limit, gv_timer_row **out, size_t *n,
                        gv_error *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = item_id
      ? st_prep(s, "SELECT id, item_id, name, due_at FROM timers WHERE state = 'pending' AND due_at <= ?1"
                   " AND item_id = ?3 ORDER BY due_at, id LIMIT ?2", err)
      : st_prep(s, "SELECT id, item_id, name, due_at FROM timers WHERE state = 'pending' AND due_at <= ?1"
                   " ORDER BY due_at, id LIMIT ?2", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int(st, 2, limit);
  if (item_id) sqlite3_bind_int64(st, 3, item_id);
  size_t cap = 0;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      gv_timer_row *p = gv_realloc(*out, cap * sizeof **out);
      if (p == NULL) {
        step = SQLITE_NOMEM;
        break;
      }
      *out = p;
    }
    gv_timer_row *t = &(*out)[(*n)++];
    t->id = sqlite3_column_int64(st, 0);
    t->item_id = sqlite3_column_int64(st, 1);
    st_col_copy(st, 2, t->name, sizeof t->name);
    t->due_at = sqlite3_column_int64(st, 3);
  }
  /* A list cut short (out of memory, a read error) is an error, never a shorter answer. */
  int rc = step == SQLITE_DONE ? GV_OK
           : step == SQLITE_NOMEM ? gv_error_set(err, GV_ENOMEM, NULL, "out of memory")
                                  : st_fail(s, err, "reading");
  sqlite3_reset(st);
  if (rc != GV_OK) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int gv_store_timer_fired(gv_store *s, int64_t id, int64_t fired_at, int64_t event_id, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "UPDATE timers SET state = 'fired', fired_at = ?, event_id = ? WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, fired_at);
  st_bind_id(st, 2, event_id);
  sqlite3_bind_int64(st, 3, id);
  return st_exec(s, st, err);
}

int64_t gv_store_timer_next_due(gv_store *s) {
  sqlite3_stmt *st = st_prep(s, "SELECT min(due_at) FROM timers WHERE state = 'pending'", NULL);
  if (st == NULL) return INT64_MAX;
  int64_t v = INT64_MAX;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) v = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return v;
}

int64_t gv_store_timer_pending_count(gv_store *s) {
  sqlite3_stmt *st = st_prep(s, "SELECT count(*) FROM timers WHERE state = 'pending'", NULL);
  if (st == NULL) return -1;
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  return v;
}

int gv_store_timer_dues(gv_store *s, int64_t item_id, json_t **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT name, due_at, state FROM timers WHERE item_id = ? AND state IN ('pending', 'fired')"
      " ORDER BY state = 'pending', id", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, item_id);
  json_t *o = json_object();
  /* Fired rows first, oldest to newest, then pending ones: the last write wins. */
  while (sqlite3_step(st) == SQLITE_ROW)
    json_object_set_new(o, (const char *)sqlite3_column_text(st, 0), json_integer(sqlite3_column_int64(st, 1)));
  sqlite3_reset(st);
  *out = o;
  return GV_OK;
}

int gv_store_timers_of(gv_store *s, int64_t item_id, json_t **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT name, due_at FROM timers WHERE item_id = ? AND state = 'pending' ORDER BY due_at", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, item_id);
  json_t *o = json_object();
  while (sqlite3_step(st) == SQLITE_ROW)
    json_object_set_new(o, (const char *)sqlite3_column_text(st, 0), json_integer(sqlite3_column_int64(st, 1)));
  sqlite3_reset(st);
  *out = o;
  return GV_OK;
}

/* ---- Counters ---------------------------------------------------------------------------- */

int gv_store_counter_next(gv_store *s, const char *forum_id, const char *name, int year, int64_t *out,
                          gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO counters(forum_id, name, year, value) VALUES (?, ?, ?, 1)"
      " ON CONFLICT(forum_id, name, year) DO UPDATE SET value = value + 1 RETURNING value", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, forum_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, year);
  if (s->fail_after > 0 && --s->fail_after == 0) {
    sqlite3_reset(st);
    return gv_error_set(err, GV_ESTORE, NULL, "injected write failure");
  }
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  int code = rc == SQLITE_ROW ? GV_OK : st_fail(s, err, "numbering");
  sqlite3_reset(st);
  return code;
}

/* ---- Workflow versions ------------------------------------------------------------------- */

int gv_store_wfversion_put(gv_store *s, const char *name, const char *sha256, const char *source,
                           const char *modules, const char *path, int64_t now, int64_t *id, int *created,
                           gv_error *err) {
  *created = 0;
  sqlite3_stmt *st = st_prep(s, "SELECT id FROM workflow_versions WHERE sha256 = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return GV_OK;
  }
  sqlite3_reset(st);
  st = st_prep(s, "INSERT INTO workflow_versions(name, sha256, source, path, created_at, modules) VALUES (?, ?, ?, ?, ?, ?)", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
  st_bind_opt(st, 4, path);
  sqlite3_bind_int64(st, 5, now);
  st_bind_opt(st, 6, modules);
  rc = st_exec(s, st, err);
  if (rc != GV_OK) return rc;
  *id = sqlite3_last_insert_rowid(s->db);
  *created = 1;
  return GV_OK;
}

int gv_store_wfversion_get(gv_store *s, int64_t id, char **name, char **source, char **modules, char **path,
                           char sha256[65], gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT name, source, path, sha256, modules FROM workflow_versions WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *name = st_col_dup(st, 0);
    *source = st_col_dup(st, 1);
    *path = st_col_dup(st, 2);
    st_col_copy(st, 3, sha256, 65);
    *modules = st_col_dup(st, 4);
    if (*name == NULL || *source == NULL) {
      free(*name);
      free(*source);
      free(*path);
      free(*modules);
      *name = *source = *path = *modules = NULL;
      sqlite3_reset(st);
      return gv_error_set(err, GV_ENOMEM, NULL, "out of memory reading workflow version %lld", (long long)id);
    }
  }
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? GV_OK : gv_error_set(err, GV_ENOTFOUND, NULL, "no workflow version %lld", (long long)id);
}

int gv_store_wfversion_each(gv_store *s, gv_store_wfversion_fn fn, void *ud, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT id, name, sha256, source, modules, path FROM workflow_versions ORDER BY id", err);
  if (st == NULL) return GV_ESTORE;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *col[5];
    for (int i = 0; i < 5; i++) col[i] = (const char *)sqlite3_column_text(st, i + 1);
    if (fn(ud, sqlite3_column_int64(st, 0), col[0], col[1], col[2], col[3], col[4])) {
      rc = SQLITE_DONE;
      break;
    }
  }
  int out = rc == SQLITE_DONE ? GV_OK : st_fail(s, err, "reading the workflow versions");
  sqlite3_reset(st);
  return out;
}

int gv_store_wfcurrent_set(gv_store *s, const char *forum_id, const char *name, int64_t version_id, int64_t now,
                           gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO forum_workflows(forum_id, name, version_id, updated_at) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT(forum_id, name) DO UPDATE SET version_id = ?3, updated_at = ?4", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, forum_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, version_id);
  sqlite3_bind_int64(st, 4, now);
  return st_exec(s, st, err);
}

int gv_store_wfcurrent_get(gv_store *s, const char *forum_id, const char *name, int64_t *version_id, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT version_id FROM forum_workflows WHERE forum_id = ? AND name = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, forum_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *version_id = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? GV_OK
                          : gv_error_set(err, GV_ENOTFOUND, "workflow", "no workflow '%s' in this forum", name);
}

int gv_store_wfcurrent_list(gv_store *s, const char *forum_id, json_t **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT fw.name, fw.version_id, v.sha256, v.path, fw.updated_at FROM forum_workflows fw"
      " JOIN workflow_versions v ON v.id = fw.version_id WHERE fw.forum_id = ? ORDER BY fw.name", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, forum_id, -1, SQLITE_STATIC);
  json_t *arr = json_array();
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *o = json_object();
    json_object_set_new(o, "name", st_jstr(st, 0));
    json_object_set_new(o, "version_id", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(o, "sha256", st_jstr(st, 2));
    json_object_set_new(o, "path", st_jstr(st, 3));
    json_object_set_new(o, "updated_at", json_integer(sqlite3_column_int64(st, 4)));
    json_array_append_new(arr, o);
  }
  sqlite3_reset(st);
  /* Every stored version of each workflow, with how many items run on it. */
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    st = st_prep(s,
        "SELECT v.id, v.sha256, v.created_at, (SELECT count(*) FROM items i WHERE i.version_id = v.id AND i.forum_id = ?1)"
        " FROM workflow_versions v WHERE v.name = ?2 ORDER BY v.id", err);
    if (st == NULL) break;
    sqlite3_bind_text(st, 1, forum_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json_string_value(json_object_get(o, "name")), -1, SQLITE_TRANSIENT);
    json_t *vs = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
      json_t *v = json_object();
      json_object_set_new(v, "id", json_integer(sqlite3_column_int64(st, 0)));
      json_object_set_new(v, "sha256", st_jstr(st, 1));
      json_object_set_new(v, "created_at", json_integer(sqlite3_column_int64(st, 2)));
      json_object_set_new(v, "items", json_integer(sqlite3_column_int64(st, 3)));
      json_array_append_new(vs, v);
    }
    sqlite3_reset(st);
    json_object_set_new(o, "versions", vs);
  }
  *out = arr;
  return GV_OK;
}

/* ---- Events ------------------------------------------------------------------------------- */

int gv_store_events(gv_store *s, const char *forum_id, int64_t item_id, int64_t after_id, int limit,
                    json_t **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT e.id, e.item_id, e.kind, e.action, e.actor_id, u.username, e.member, e.at, e.from_state,"
      " e.to_state, e.params, e.sealed FROM events e LEFT JOIN users u ON u.id = e.actor_id"
      " WHERE e.forum_id = ?1 AND (?2 = 0 OR e.item_id = ?2) AND e.id > ?3 ORDER BY e.id LIMIT ?4", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, forum_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, item_id);
  sqlite3_bind_int64(st, 3, after_id);
  sqlite3_bind_int(st, 4, limit > 0 ? limit : 1000);
  json_t *arr = json_array();
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "item_id", st_jint(st, 1));
    json_object_set_new(o, "kind", st_jstr(st, 2));
    json_object_set_new(o, "action", st_jstr(st, 3));
    json_object_set_new(o, "actor_id", st_jint(st, 4));
    json_object_set_new(o, "actor", st_jstr(st, 5));
    json_object_set_new(o, "member", st_jstr(st, 6));
    json_object_set_new(o, "at", json_integer(sqlite3_column_int64(st, 7)));
    json_object_set_new(o, "from_state", st_jstr(st, 8));
    json_object_set_new(o, "to_state", st_jstr(st, 9));
    json_object_set_new(o, "params", st_col_json(st, 10));
    json_object_set_new(o, "sealed", json_boolean(sqlite3_column_int(st, 11)));
    json_array_append_new(arr, o);
  }
  sqlite3_reset(st);
  *out = arr;
  return GV_OK;
}
