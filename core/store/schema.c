/* The database schema as numbered migrations; each runs once, in order, and is recorded. */
#include "store/internal.h"
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

/* Append new migrations at the end; never edit one that has shipped. */
static const gv_migration migrations[] = {
  {1, "initial schema",
   "CREATE TABLE forums ("
   "  id TEXT PRIMARY KEY,"
   "  short_name TEXT NOT NULL,"
   "  time_zone TEXT NOT NULL,"
   "  definition TEXT NOT NULL,"          /* JSON: the whole forum definition */
   "  source_file TEXT,"
   "  source_sha256 TEXT,"
   "  created_at INTEGER NOT NULL,"
   "  updated_at INTEGER NOT NULL"
   ");"
   "CREATE TABLE members ("
   "  forum_id TEXT NOT NULL REFERENCES forums(id),"
   "  code TEXT NOT NULL,"
   "  name TEXT NOT NULL,"                /* JSON {fr, en} */
   "  position INTEGER NOT NULL,"
   "  PRIMARY KEY (forum_id, code)"
   ") WITHOUT ROWID;"
   "CREATE TABLE users ("
   "  id INTEGER PRIMARY KEY,"
   "  forum_id TEXT NOT NULL REFERENCES forums(id),"
   "  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
   "  display_name TEXT NOT NULL,"
   "  role TEXT NOT NULL CHECK (role IN ('secretariat','chair','delegate','observer')),"
   "  member TEXT,"
   "  password_hash TEXT NOT NULL,"
   "  must_change_password INTEGER NOT NULL DEFAULT 0,"
   "  disabled INTEGER NOT NULL DEFAULT 0,"
   "  language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('fr','en')),"
   "  time_zone TEXT,"
   "  email TEXT,"
   "  notify TEXT NOT NULL DEFAULT 'each' CHECK (notify IN ('each','digest','none')),"
   "  created_at INTEGER NOT NULL,"
   "  updated_at INTEGER NOT NULL,"
   "  FOREIGN KEY (forum_id, member) REFERENCES members(forum_id, code),"
   "  CHECK ((role = 'delegate') = (member IS NOT NULL))"
   ");"
   "CREATE INDEX users_member ON users(forum_id, member);"
   "CREATE TABLE sessions ("
   "  id INTEGER PRIMARY KEY,"
   "  user_id INTEGER NOT NULL REFERENCES users(id),"
   "  kind TEXT NOT NULL CHECK (kind IN ('bearer','cookie','api')),"
   "  token_hash TEXT NOT NULL UNIQUE,"
   "  csrf_hash TEXT,"
   "  label TEXT,"
   "  created_at INTEGER NOT NULL,"
   "  last_used_at INTEGER NOT NULL,"
   "  expires_at INTEGER,"
   "  revoked_at INTEGER"
   ");"
   "CREATE INDEX sessions_user ON sessions(user_id);"
   "CREATE TABLE meetings ("
   "  id INTEGER PRIMARY KEY,"
   "  forum_id TEXT NOT NULL REFERENCES forums(id),"
   "  title TEXT NOT NULL,"               /* JSON: string or {fr, en} */
   "  place TEXT NOT NULL,"
   "  starts_on TEXT NOT NULL,"           /* YYYY-MM-DD in the forum's zone */
   "  ends_on TEXT NOT NULL,"
   "  agenda_adopted_at INTEGER,"
   "  created_by INTEGER REFERENCES users(id),"
   "  created_at INTEGER NOT NULL,"
   "  CHECK (ends_on >= starts_on)"
   ");"
   "CREATE TABLE workflow_versions ("
   "  id INTEGER PRIMARY KEY,"
   "  name TEXT NOT NULL,"
   "  sha256 TEXT NOT NULL UNIQUE,"
   "  source TEXT NOT NULL,"
   "  path TEXT,"
   "  created_at INTEGER NOT NULL"
   ");"
   "CREATE TABLE forum_workflows ("
   "  forum_id TEXT NOT NULL REFERENCES forums(id),"
   "  name TEXT NOT NULL,"
   "  version_id INTEGER NOT NULL REFERENCES workflow_versions(id),"
   "  updated_at INTEGER NOT NULL,"
   "  PRIMARY KEY (forum_id, name)"
   ") WITHOUT ROWID;"
   "CREATE TABLE items ("
   "  id INTEGER PRIMARY KEY,"
   "  forum_id TEXT NOT NULL REFERENCES forums(id),"
   "  workflow TEXT NOT NULL,"
   "  version_id INTEGER NOT NULL REFERENCES workflow_versions(id),"
   "  title TEXT NOT NULL,"               /* JSON: string or {fr, en} */
   "  state TEXT NOT NULL,"
   "  data TEXT NOT NULL DEFAULT '{}',"   /* JSON object kept by the workflow */
   "  meeting_id INTEGER REFERENCES meetings(id),"
   "  agenda_pos INTEGER,"
   "  created_by INTEGER REFERENCES users(id),"
   "  member TEXT,"                       /* the proposer's state, when a delegate created it */
   "  sealed INTEGER NOT NULL DEFAULT 0," /* positions hidden from other states */
   "  created_at INTEGER NOT NULL,"
   "  updated_at INTEGER NOT NULL"
   ");"
   "CREATE INDEX items_list ON items(forum_id, workflow, state);"
   "CREATE INDEX items_meeting ON items(meeting_id);"
   "CREATE TABLE events ("
   "  id INTEGER PRIMARY KEY,"
   "  forum_id TEXT NOT NULL REFERENCES forums(id),"
   "  item_id INTEGER REFERENCES items(id),"  /* NULL for forum-level events */
   "  kind TEXT NOT NULL,"                     /* create, action, timer, account, meeting, config */
   "  action TEXT NOT NULL,"
   "  actor_id INTEGER REFERENCES users(id),"  /* NULL for the engine itself */
   "  member TEXT,"                            /* the state acted for or about */
   "  at INTEGER NOT NULL,"                    /* commit time, ms since the epoch */
   "  from_state TEXT,"
   "  to_state TEXT,"
   "  params TEXT NOT NULL DEFAULT '{}',"
   "  sealed INTEGER NOT NULL DEFAULT 0"       /* params hidden while the item is sealed */
   ");"
   "CREATE INDEX events_item ON events(item_id, id);"
   "CREATE TABLE positions ("
   "  id INTEGER PRIMARY KEY,"
   "  item_id INTEGER NOT NULL REFERENCES items(id),"
   "  member TEXT NOT NULL,"
   "  stance TEXT NOT NULL,"
   "  statement TEXT NOT NULL DEFAULT '',"
   "  actor_id INTEGER REFERENCES users(id),"
   "  on_behalf INTEGER NOT NULL DEFAULT 0,"
   "  reference TEXT,"
   "  event_id INTEGER NOT NULL REFERENCES events(id),"
   "  at INTEGER NOT NULL"
   ");"
   "CREATE INDEX positions_item ON positions(item_id, member, id);"
   "CREATE TABLE timers ("
   "  id INTEGER PRIMARY KEY,"
   "  item_id INTEGER NOT NULL REFERENCES items(id),"
   "  name TEXT NOT NULL,"
   "  due_at INTEGER NOT NULL,"
   "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','fired','cancelled')),"
   "  fired_at INTEGER,"
   "  event_id INTEGER REFERENCES events(id)"
   ");"
   "CREATE INDEX timers_due ON timers(due_at) WHERE state = 'pending';"
   "CREATE UNIQUE INDEX timers_pending ON timers(item_id, name) WHERE state = 'pending';"
   "CREATE INDEX timers_item ON timers(item_id, name, id);"
   "CREATE TABLE outbox ("
   "  id INTEGER PRIMARY KEY,"
   "  forum_id TEXT NOT NULL REFERENCES forums(id),"
   "  event_id INTEGER REFERENCES events(id),"
   "  item_id INTEGER REFERENCES items(id),"
   "  topic TEXT NOT NULL,"
   "  audience TEXT NOT NULL,"            /* JSON: who may receive it */
   "  payload TEXT NOT NULL,"             /* JSON */
   "  created_at INTEGER NOT NULL"
   ");"
   "CREATE TABLE incidents ("
   "  id INTEGER PRIMARY KEY,"
   "  forum_id TEXT,"
   "  item_id INTEGER,"
   "  workflow TEXT,"
   "  version_id INTEGER,"
   "  action TEXT,"
   "  actor_id INTEGER,"
   "  kind TEXT NOT NULL,"
   "  message TEXT NOT NULL,"
   "  at INTEGER NOT NULL"
   ");"
   "CREATE TABLE idempotency ("
   "  user_id INTEGER NOT NULL,"
   "  key TEXT NOT NULL,"
   "  request_sha256 TEXT NOT NULL,"
   "  status INTEGER NOT NULL,"
   "  response TEXT NOT NULL,"
   "  created_at INTEGER NOT NULL,"
   "  PRIMARY KEY (user_id, key)"
   ") WITHOUT ROWID;"
   "CREATE TABLE counters ("
   "  forum_id TEXT NOT NULL,"
   "  name TEXT NOT NULL,"
   "  year INTEGER NOT NULL,"
   "  value INTEGER NOT NULL,"
   "  PRIMARY KEY (forum_id, name, year)"
   ") WITHOUT ROWID;"
   "CREATE TABLE login_failures ("
   "  scope TEXT NOT NULL,"               /* 'user:NAME' or 'addr:IP' */
   "  at INTEGER NOT NULL"
   ");"
   "CREATE INDEX login_failures_scope ON login_failures(scope, at);"},
  {2, "plugin migrations",
   "CREATE TABLE plugin_migrations ("
   "  plugin TEXT NOT NULL,"
   "  version INTEGER NOT NULL,"
   "  name TEXT NOT NULL,"
   "  applied_at INTEGER NOT NULL,"
   "  PRIMARY KEY (plugin, version)"
   ") WITHOUT ROWID;"},
  {3, "workflow modules",
   /* JSON {name: {path, source}}: the modules a version used, covered by its sha256. */
   "ALTER TABLE workflow_versions ADD COLUMN modules TEXT;"},
  {4, "calendar tokens",
   /* One secret calendar address per user, stored as the SHA-256 of its token. */
   "CREATE TABLE calendar_tokens ("
   "  user_id INTEGER PRIMARY KEY REFERENCES users(id),"
   "  token_hash TEXT NOT NULL UNIQUE,"
   "  created_at INTEGER NOT NULL"
   ");"},
  {5, "api token scopes",
   /* read, act or admin for API tokens; NULL (sessions, older tokens) is the account's full power. */
   "ALTER TABLE sessions ADD COLUMN scope TEXT CHECK (scope IN ('read','act','admin'));"},
};

const gv_migration *gv_store_migrations(size_t *count) {
  *count = sizeof migrations / sizeof migrations[0];
  return migrations;
}

/* The names of the core's tables and indexes, found by running the migrations once on an
 * empty in-memory database (so the list cannot fall behind the schema). */
static char **core_names;
static size_t ncore_names;

static void load_core_names(void) {
  sqlite3 *db = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    sqlite3_close(db);
    return;
  }
  for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++)
    sqlite3_exec(db, migrations[i].sql, NULL, NULL, NULL);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master", -1, &st, NULL) == SQLITE_OK) {
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      if (ncore_names == cap) {
        cap = cap ? cap * 2 : 64;
        char **grown = gv_realloc(core_names, cap * sizeof *grown);
        if (grown == NULL) break;
        core_names = grown;
      }
      const char *name = (const char *)sqlite3_column_text(st, 0);
      char *copy = name ? gv_strdup(name) : NULL;
      if (copy == NULL) break;
      core_names[ncore_names++] = copy;
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

int gv_store_core_name(const char *name, size_t prefix_len) {
  if (core_names == NULL) load_core_names();
  for (size_t i = 0; i < ncore_names; i++)
    if (core_names[i] && (prefix_len ? strncmp(core_names[i], name, prefix_len) == 0 : strcmp(core_names[i], name) == 0))
      return 1;
  return 0;
}
