/* The store's forum-level tables: forums, members, users, meetings, events, outbox, incidents. */
#include "store/internal.h"
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

int gv_store_forum_save(gv_store *s, const gv_forum *f, int64_t now, gv_error *err) {
  char *json = gv_forum_to_json(f);
  if (json == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  int rc = GV_OK;
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO forums(id, short_name, time_zone, definition, source_file, source_sha256,"
      " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
      " ON CONFLICT(id) DO UPDATE SET short_name = ?2, time_zone = ?3, definition = ?4,"
      " source_file = ?5, source_sha256 = ?6, updated_at = ?7", err);
  if (st == NULL) { rc = GV_ESTORE; goto done; }
  st_bind_text(st, 1, f->id);
  st_bind_text(st, 2, f->short_name);
  st_bind_text(st, 3, f->time_zone);
  st_bind_text(st, 4, json);
  st_bind_opt(st, 5, f->source_file);
  st_bind_opt(st, 6, f->source_sha256);
  sqlite3_int64 t = now;
  sqlite3_bind_int64(st, 7, t);
  if ((rc = st_exec(s, st, err)) != GV_OK) goto done;
  for (size_t i = 0; i < f->nmembers; i++) {
    json_t *name = json_object();
    for (int l = 0; l < f->members[i].name.n; l++)
      json_object_set_new(name, f->members[i].name.lang[l], json_string(f->members[i].name.text[l]));
    char *nj = json_dumps(name, JSON_COMPACT);
    json_decref(name);
    st = st_prep(s,
        "INSERT INTO members(forum_id, code, name, position) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT(forum_id, code) DO UPDATE SET name = ?3, position = ?4", err);
    if (st == NULL || nj == NULL) { free(nj); rc = GV_ESTORE; goto done; }
    st_bind_text(st, 1, f->id);
    st_bind_text(st, 2, f->members[i].code);
    st_bind_text(st, 3, nj);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)i);
    rc = st_exec(s, st, err);
    free(nj);
    if (rc != GV_OK) goto done;
  }
done:
  free(json);
  return rc;
}

int gv_store_forum_load(gv_store *s, const char *id, gv_forum **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT definition, source_file, source_sha256 FROM forums WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? gv_error_set(err, GV_ENOTFOUND, "forum", "no forum '%s'", id)
                             : st_fail(s, err, "reading the forum");
  }
  rc = gv_forum_from_json((const char *)sqlite3_column_text(st, 0), out, err);
  if (rc == GV_OK) {
    st_col_copy(st, 1, (*out)->source_file, sizeof (*out)->source_file);
    st_col_copy(st, 2, (*out)->source_sha256, sizeof (*out)->source_sha256);
  }
  sqlite3_reset(st);
  return rc;
}

int gv_store_forum_default(gv_store *s, char id[64], gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT id FROM forums ORDER BY created_at LIMIT 2", err);
  if (st == NULL) return GV_ESTORE;
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (n++ == 0) st_col_copy(st, 0, id, 64);
  }
  sqlite3_reset(st);
  if (n == 0) return gv_error_set(err, GV_ENOTFOUND, "forum", "the database holds no forum: run gavel init");
  if (n > 1) return gv_error_set(err, GV_EINVAL, "forum", "the database holds several forums: name one");
  return GV_OK;
}

/* ---- Users ---------------------------------------------------------------------------- */

#define USER_COLS "id, forum_id, username, display_name, role, member, password_hash," \
  " must_change_password, disabled, language, time_zone, email, notify, created_at, updated_at"

static void read_user(sqlite3_stmt *st, gv_user *u) {
  memset(u, 0, sizeof *u);
  u->id = sqlite3_column_int64(st, 0);
  st_col_copy(st, 1, u->forum_id, sizeof u->forum_id);
  st_col_copy(st, 2, u->username, sizeof u->username);
  st_col_copy(st, 3, u->display_name, sizeof u->display_name);
  st_col_copy(st, 4, u->role, sizeof u->role);
  st_col_copy(st, 5, u->member, sizeof u->member);
  st_col_copy(st, 6, u->password_hash, sizeof u->password_hash);
  u->must_change_password = sqlite3_column_int(st, 7);
  u->disabled = sqlite3_column_int(st, 8);
  st_col_copy(st, 9, u->language, sizeof u->language);
  st_col_copy(st, 10, u->time_zone, sizeof u->time_zone);
  st_col_copy(st, 11, u->email, sizeof u->email);
  st_col_copy(st, 12, u->notify, sizeof u->notify);
  u->created_at = sqlite3_column_int64(st, 13);
  u->updated_at = sqlite3_column_int64(st, 14);
}

static void bind_user(sqlite3_stmt *st, const gv_user *u) {
  st_bind_text(st, 1, u->forum_id);
  st_bind_text(st, 2, u->username);
  st_bind_text(st, 3, u->display_name);
  st_bind_text(st, 4, u->role);
  st_bind_opt(st, 5, u->member);
  st_bind_text(st, 6, u->password_hash);
  sqlite3_bind_int(st, 7, u->must_change_password);
  sqlite3_bind_int(st, 8, u->disabled);
  st_bind_text(st, 9, u->language[0] ? u->language : "en");
  st_bind_opt(st, 10, u->time_zone);
  st_bind_opt(st, 11, u->email);
  st_bind_text(st, 12, u->notify[0] ? u->notify : "each");
  sqlite3_bind_int64(st, 13, u->created_at);
  sqlite3_bind_int64(st, 14, u->updated_at);
}

int gv_store_user_insert(gv_store *s, gv_user *u, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO users(forum_id, username, display_name, role, member, password_hash,"
      " must_change_password, disabled, language, time_zone, email, notify, created_at, updated_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)", err);
  if (st == NULL) return GV_ESTORE;
  bind_user(st, u);
  int rc = st_exec(s, st, err);
  if (rc == GV_EEXIST)
    return gv_error_set(err, GV_EEXIST, "username", "the username '%s' is already taken", u->username);
  if (rc == GV_OK) u->id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int gv_store_user_update(gv_store *s, const gv_user *u, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "UPDATE users SET forum_id = ?1, username = ?2, display_name = ?3, role = ?4, member = ?5,"
      " password_hash = ?6, must_change_password = ?7, disabled = ?8, language = ?9,"
      " time_zone = ?10, email = ?11, notify = ?12, created_at = ?13, updated_at = ?14"
      " WHERE id = ?15", err);
  if (st == NULL) return GV_ESTORE;
  bind_user(st, u);
  sqlite3_bind_int64(st, 15, u->id);
  return st_exec(s, st, err);
}

int gv_store_user_get(gv_store *s, int64_t id, gv_user *out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT " USER_COLS " FROM users WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) read_user(st, out);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? GV_OK : gv_error_set(err, GV_ENOTFOUND, "user", "no user with id %lld", (long long)id);
}

int gv_store_user_find(gv_store *s, const char *username, gv_user *out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT " USER_COLS " FROM users WHERE username = ?", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, username);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) read_user(st, out);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? GV_OK : gv_error_set(err, GV_ENOTFOUND, "username", "no user '%s'", username);
}

int gv_store_user_list(gv_store *s, const char *forum_id, const char *member, gv_user **out,
                       size_t *n, gv_error *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = st_prep(s, "SELECT " USER_COLS " FROM users WHERE forum_id = ?1"
                                " AND (?2 IS NULL OR member = ?2) ORDER BY username", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, forum_id);
  st_bind_opt(st, 2, member);
  size_t cap = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      gv_user *p = gv_realloc(*out, cap * sizeof **out);
      if (p == NULL) { sqlite3_reset(st); free(*out); *out = NULL; *n = 0; return GV_ENOMEM; }
      *out = p;
    }
    read_user(st, &(*out)[(*n)++]);
  }
  sqlite3_reset(st);
  return GV_OK;
}

int gv_store_session_revoke_user(gv_store *s, int64_t user_id, int64_t now, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, user_id);
  return st_exec(s, st, err);
}

/* ---- Meetings --------------------------------------------------------------------------- */

void gv_meeting_clear(gv_meeting *m) {
  if (m == NULL) return;
  free(m->title);
  m->title = NULL;
}

#define MEETING_COLS "id, forum_id, title, place, starts_on, ends_on, agenda_adopted_at, created_at"

static void read_meeting(sqlite3_stmt *st, gv_meeting *m) {
  memset(m, 0, sizeof *m);
  m->id = sqlite3_column_int64(st, 0);
  st_col_copy(st, 1, m->forum_id, sizeof m->forum_id);
  m->title = st_col_dup(st, 2);
  st_col_copy(st, 3, m->place, sizeof m->place);
  st_col_copy(st, 4, m->starts_on, sizeof m->starts_on);
  st_col_copy(st, 5, m->ends_on, sizeof m->ends_on);
  m->agenda_adopted_at = sqlite3_column_int64(st, 6);
  m->created_at = sqlite3_column_int64(st, 7);
}

int gv_store_meeting_insert(gv_store *s, gv_meeting *m, int64_t created_by, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO meetings(forum_id, title, place, starts_on, ends_on, created_by, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?)", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, m->forum_id);
  st_bind_text(st, 2, m->title);
  st_bind_text(st, 3, m->place);
  st_bind_text(st, 4, m->starts_on);
  st_bind_text(st, 5, m->ends_on);
  st_bind_id(st, 6, created_by);
  sqlite3_bind_int64(st, 7, m->created_at);
  int rc = st_exec(s, st, err);
  if (rc == GV_OK) m->id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int gv_store_meeting_get(gv_store *s, int64_t id, gv_meeting *out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "SELECT " MEETING_COLS " FROM meetings WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) read_meeting(st, out);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? GV_OK
                          : gv_error_set(err, GV_ENOTFOUND, "meeting", "no meeting with id %lld", (long long)id);
}

int gv_store_meeting_list(gv_store *s, const char *forum_id, gv_meeting **out, size_t *n,
                          gv_error *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = st_prep(s, "SELECT " MEETING_COLS " FROM meetings WHERE forum_id = ?"
                                " ORDER BY starts_on, id", err);
  if (st == NULL) return GV_ESTORE;
  st_bind_text(st, 1, forum_id);
  size_t cap = 0;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      gv_meeting *p = gv_realloc(*out, cap * sizeof **out);
      if (p == NULL) {
        step = SQLITE_NOMEM;
        break;
      }
      *out = p;
    }
    read_meeting(st, &(*out)[(*n)++]);
  }
  /* A list cut short (out of memory, a read error) is an error, never a shorter answer. */
  int rc = step == SQLITE_DONE ? GV_OK
           : step == SQLITE_NOMEM ? gv_error_set(err, GV_ENOMEM, NULL, "out of memory")
                                  : st_fail(s, err, "reading");
  sqlite3_reset(st);
  if (rc != GV_OK) {
    for (size_t i = 0; i < *n; i++) gv_meeting_clear(&(*out)[i]);
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int gv_store_meeting_set_agenda_adopted(gv_store *s, int64_t id, int64_t at, gv_error *err) {
  sqlite3_stmt *st = st_prep(s, "UPDATE meetings SET agenda_adopted_at = ? WHERE id = ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, at);
  sqlite3_bind_int64(st, 2, id);
  return st_exec(s, st, err);
}

/* ---- Events, outbox, incidents ------------------------------------------------------- */

int gv_store_event_write(gv_store *s, gv_event *e, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO events(forum_id, item_id, kind, action, actor_id, member, at, from_state,"
      " to_state, params, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, e->forum_id, -1, SQLITE_STATIC);
  st_bind_id(st, 2, e->item_id);
  sqlite3_bind_text(st, 3, e->kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, e->action, -1, SQLITE_STATIC);
  st_bind_id(st, 5, e->actor_id);
  if (e->member && *e->member) sqlite3_bind_text(st, 6, e->member, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, e->at);
  if (e->from_state) sqlite3_bind_text(st, 8, e->from_state, -1, SQLITE_STATIC);
  if (e->to_state) sqlite3_bind_text(st, 9, e->to_state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 10, e->params ? e->params : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 11, e->sealed);
  int rc = st_exec(s, st, err);
  if (rc == GV_OK) e->id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int gv_store_event_seal(gv_store *s, gv_event *e, gv_error *err) {
  /* Without a listener the captures wait: the next transaction's begin empties them. */
  if (s->event_hook == NULL) return GV_OK;
  int rc = gv_store_state_drain(s, &e->rows, &e->nrows, e->state_digest, err);
  if (rc == GV_OK) rc = s->event_hook(s->event_hook_ud, e, err);
  e->rows = NULL;
  e->nrows = 0;
  return rc;
}

int gv_store_event_insert(gv_store *s, gv_event *e, gv_error *err) {
  int rc = gv_store_event_write(s, e, err);
  return rc == GV_OK ? gv_store_event_seal(s, e, err) : rc;
}

void gv_store_set_event_hook(gv_store *s, gv_store_event_hook fn, void *ud) {
  s->event_hook = fn;
  s->event_hook_ud = ud;
}

int gv_store_outbox_insert(gv_store *s, gv_outbox_row *r, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO outbox(forum_id, event_id, item_id, topic, audience, payload, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?)", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_text(st, 1, r->forum_id, -1, SQLITE_STATIC);
  st_bind_id(st, 2, r->event_id);
  st_bind_id(st, 3, r->item_id);
  sqlite3_bind_text(st, 4, r->topic, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, r->audience ? r->audience : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, r->payload ? r->payload : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, r->created_at);
  int rc = st_exec(s, st, err);
  if (rc == GV_OK) r->id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int gv_store_outbox_list(gv_store *s, int64_t after_id, int limit, json_t **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT id, forum_id, event_id, item_id, topic, audience, payload, created_at FROM outbox"
      " WHERE id > ? ORDER BY id LIMIT ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int64(st, 1, after_id);
  sqlite3_bind_int(st, 2, limit);
  json_t *arr = json_array();
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "forum", json_string((const char *)sqlite3_column_text(st, 1)));
    json_object_set_new(o, "event_id", json_integer(sqlite3_column_int64(st, 2)));
    json_object_set_new(o, "item_id", json_integer(sqlite3_column_int64(st, 3)));
    json_object_set_new(o, "topic", json_string((const char *)sqlite3_column_text(st, 4)));
    json_object_set_new(o, "audience", st_col_json(st, 5));
    json_object_set_new(o, "payload", st_col_json(st, 6));
    json_object_set_new(o, "created_at", json_integer(sqlite3_column_int64(st, 7)));
    json_array_append_new(arr, o);
  }
  sqlite3_reset(st);
  *out = arr;
  return GV_OK;
}

int64_t gv_store_outbox_count_after(gv_store *s, int64_t after_id) {
  sqlite3_stmt *st = st_prep(s, "SELECT count(*) FROM outbox WHERE id > ?", NULL);
  if (st == NULL) return -1;
  sqlite3_bind_int64(st, 1, after_id);
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

int gv_store_incident_insert(gv_store *s, const gv_incident *inc, gv_error *err) {
  int own = !s->in_tx;
  int rc;
  if (own && (rc = gv_store_begin(s, err)) != GV_OK) return rc;
  sqlite3_stmt *st = st_prep(s,
      "INSERT INTO incidents(forum_id, item_id, workflow, version_id, action, actor_id, kind,"
      " message, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
  if (st == NULL) { if (own) gv_store_rollback(s); return GV_ESTORE; }
  st_bind_opt(st, 1, inc->forum_id);
  st_bind_id(st, 2, inc->item_id);
  st_bind_opt(st, 3, inc->workflow);
  st_bind_id(st, 4, inc->version_id);
  st_bind_opt(st, 5, inc->action);
  st_bind_id(st, 6, inc->actor_id);
  st_bind_text(st, 7, inc->kind);
  st_bind_text(st, 8, inc->message);
  sqlite3_bind_int64(st, 9, inc->at);
  rc = st_exec(s, st, err);
  if (own) {
    if (rc == GV_OK) rc = gv_store_commit(s, err);
    else gv_store_rollback(s);
  }
  return rc;
}

int gv_store_incident_list(gv_store *s, int limit, json_t **out, gv_error *err) {
  sqlite3_stmt *st = st_prep(s,
      "SELECT id, forum_id, item_id, workflow, version_id, action, actor_id, kind, message, at"
      " FROM incidents ORDER BY id DESC LIMIT ?", err);
  if (st == NULL) return GV_ESTORE;
  sqlite3_bind_int(st, 1, limit);
  json_t *arr = json_array();
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "forum", st_jstr(st, 1));
    json_object_set_new(o, "item_id", st_jint(st, 2));
    json_object_set_new(o, "workflow", st_jstr(st, 3));
    json_object_set_new(o, "version_id", st_jint(st, 4));
    json_object_set_new(o, "action", st_jstr(st, 5));
    json_object_set_new(o, "actor_id", st_jint(st, 6));
    json_object_set_new(o, "kind", json_string((const char *)sqlite3_column_text(st, 7)));
    json_object_set_new(o, "message", json_string((const char *)sqlite3_column_text(st, 8)));
    json_object_set_new(o, "at", json_integer(sqlite3_column_int64(st, 9)));
    json_array_append_new(arr, o);
  }
  sqlite3_reset(st);
  *out = arr;
  return GV_OK;
}
