/* Tests of the store: migrations, refusing newer schemas, durability settings, transactions, backup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/accounts.h"
#include "base/crypto.h"
#include "model/forum.h"
#include "base/time.h"
#include "store/store.h"
#include "testutil.h"

static gv_forum *load_midiocc(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", tu_source_dir());
  gv_forum *f = NULL;
  gv_error err;
  assert_int_equal(gv_forum_load_file(path, &f, &err), GV_OK);
  return f;
}

static void raw_exec(const char *db, const char *sql) {
  sqlite3 *h;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
}

static void raw_text(const char *db, const char *sql, char *out, size_t size) {
  sqlite3 *h;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  out[0] = '\0';
  if (sqlite3_step(st) == SQLITE_ROW) snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
}

static void test_create_migrates_and_records(void **state) {
  char *dir = tu_tmpdir();
  const char *db = tu_path(dir, "g.db");
  gv_store *s = NULL;
  gv_error err;
  assert_int_equal(gv_store_open(db, 0, &s, &err), GV_ENOTFOUND);
  assert_int_equal(gv_store_open(db, GV_STORE_CREATE, &s, &err), GV_OK);
  assert_int_equal(gv_store_schema_version(s), gv_store_schema_latest());
  gv_store_close(s);
  char v[64];
  raw_text(db, "SELECT count(*) FROM migrations", v, sizeof v);
  assert_int_equal(atoi(v), gv_store_schema_latest());
  raw_text(db, "PRAGMA journal_mode", v, sizeof v);
  assert_string_equal(v, "wal");
  /* Reopening runs nothing again. */
  assert_int_equal(gv_store_open(db, 0, &s, &err), GV_OK);
  gv_store_close(s);
  raw_text(db, "SELECT count(*) FROM migrations", v, sizeof v);
  assert_int_equal(atoi(v), gv_store_schema_latest());
  tu_rmdir(dir);
}

static void test_newer_schema_refused(void **state) {
  char *dir = tu_tmpdir();
  const char *db = tu_path(dir, "g.db");
  gv_store *s = NULL;
  gv_error err;
  assert_int_equal(gv_store_open(db, GV_STORE_CREATE, &s, &err), GV_OK);
  gv_store_close(s);
  char sql[200];
  snprintf(sql, sizeof sql, "INSERT INTO migrations VALUES (%d, 'from the future', 0)", gv_store_schema_latest() + 1);
  raw_exec(db, sql);
  assert_int_equal(gv_store_open(db, 0, &s, &err), GV_ESCHEMA);
  assert_null(s);
  assert_non_null(strstr(err.message, "newer Gavel"));
  tu_rmdir(dir);
}

static void test_wal_required(void **state) {
  gv_store *s = NULL;
  gv_error err;
  /* An in-memory database cannot use write-ahead logging: refused. */
  assert_int_equal(gv_store_open(":memory:", GV_STORE_CREATE, &s, &err), GV_ESTORE);
  assert_null(s);
  assert_non_null(strstr(err.message, "write-ahead logging"));
}

static void test_synchronous_full_and_foreign_keys(void **state) {
  char *dir = tu_tmpdir();
  const char *db = tu_path(dir, "g.db");
  gv_store *s = NULL;
  gv_error err;
  gv_forum *f = load_midiocc();
  assert_int_equal(gv_store_open(db, GV_STORE_CREATE, &s, &err), GV_OK);
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  assert_int_equal(gv_store_forum_save(s, f, 1000, &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);
  /* Foreign keys are enforced: a delegate of an unknown state cannot be stored. */
  gv_user u = {0};
  snprintf(u.forum_id, sizeof u.forum_id, "midiocc");
  snprintf(u.username, sizeof u.username, "zz.delegate");
  snprintf(u.display_name, sizeof u.display_name, "x");
  snprintf(u.role, sizeof u.role, "delegate");
  snprintf(u.member, sizeof u.member, "ZZ");
  snprintf(u.password_hash, sizeof u.password_hash, "x");
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  assert_int_not_equal(gv_store_user_insert(s, &u, &err), GV_OK);
  gv_store_rollback(s);
  gv_store_close(s);
  gv_forum_free(f);
  tu_rmdir(dir);
}

static void test_rollback_and_fault_injection(void **state) {
  char *dir = tu_tmpdir();
  const char *db = tu_path(dir, "g.db");
  gv_store *s = NULL;
  gv_error err;
  gv_forum *f = load_midiocc();
  assert_int_equal(gv_store_open(db, GV_STORE_CREATE, &s, &err), GV_OK);
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  assert_int_equal(gv_store_forum_save(s, f, 1000, &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);

  gv_user u = {0};
  snprintf(u.username, sizeof u.username, "km.second");
  snprintf(u.role, sizeof u.role, "delegate");
  snprintf(u.member, sizeof u.member, "KM");
  snprintf(u.password_hash, sizeof u.password_hash, "x");
  /* The account row is written, then the event write fails: nothing remains. */
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  gv_store_fail_after(s, 2);
  assert_int_equal(gv_account_create(s, f, 0, &u, 2000, NULL, &err), GV_ESTORE);
  gv_store_rollback(s);
  gv_user got;
  assert_int_equal(gv_store_user_find(s, "km.second", &got, &err), GV_ENOTFOUND);
  /* Without the fault it is created, with its event and the notice to KM's delegates. */
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  u.id = 0;
  assert_int_equal(gv_account_create(s, f, 0, &u, 2000, NULL, &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);
  assert_int_equal(gv_store_user_find(s, "KM.SECOND", &got, &err), GV_OK);
  assert_string_equal(got.member, "KM");
  gv_store_close(s);
  char v[512];
  raw_text(db, "SELECT action || ' ' || member FROM events", v, sizeof v);
  assert_string_equal(v, "account.created KM");
  raw_text(db, "SELECT topic FROM outbox", v, sizeof v);
  assert_string_equal(v, "account.added_to_member");
  gv_forum_free(f);
  tu_rmdir(dir);
}

static void test_savepoints_isolate(void **state) {
  char *dir = tu_tmpdir();
  const char *db = tu_path(dir, "g.db");
  gv_store *s = NULL;
  gv_error err;
  gv_forum *f = load_midiocc();
  assert_int_equal(gv_store_open(db, GV_STORE_CREATE, &s, &err), GV_OK);
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  assert_int_equal(gv_store_forum_save(s, f, 1000, &err), GV_OK);
  const char *names[] = {"a.one", "b.two", "c.three"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(gv_store_savepoint(s, &err), GV_OK);
    gv_user u = {0};
    snprintf(u.username, sizeof u.username, "%s", names[i]);
    snprintf(u.role, sizeof u.role, "observer");
    snprintf(u.password_hash, sizeof u.password_hash, "x");
    assert_int_equal(gv_account_create(s, f, 0, &u, 1, NULL, &err), GV_OK);
    if (i == 1) gv_store_rollback_to(s);
    else assert_int_equal(gv_store_release(s, &err), GV_OK);
  }
  assert_int_equal(gv_store_commit(s, &err), GV_OK);
  gv_user got;
  assert_int_equal(gv_store_user_find(s, "a.one", &got, &err), GV_OK);
  assert_int_equal(gv_store_user_find(s, "b.two", &got, &err), GV_ENOTFOUND);
  assert_int_equal(gv_store_user_find(s, "c.three", &got, &err), GV_OK);
  gv_store_close(s);
  gv_forum_free(f);
  tu_rmdir(dir);
}

/* What the event hook saw: each event's rows, as (table initial, rowid, deleted) triples. */
typedef struct seen_rows {
  char text[256];
  uint8_t last_state[GV_STATE_DIGEST_LEN];
  uint8_t last_digest[GV_STATE_DIGEST_LEN];
} seen_rows;

static int note_rows(void *ud, const gv_event *e, gv_error *err) {
  seen_rows *x = ud;
  size_t n = strlen(x->text);
  snprintf(x->text + n, sizeof x->text - n, "%s:", e->action);
  for (size_t i = 0; i < e->nrows; i++) {
    n = strlen(x->text);
    snprintf(x->text + n, sizeof x->text - n, "%c%lld%s,", e->rows[i].table[0], (long long)e->rows[i].rowid,
             e->rows[i].deleted ? "x" : "");
    memcpy(x->last_digest, e->rows[i].digest, GV_STATE_DIGEST_LEN);
  }
  memcpy(x->last_state, e->state_digest, GV_STATE_DIGEST_LEN);
  n = strlen(x->text);
  snprintf(x->text + n, sizeof x->text - n, ";");
  return GV_OK;
}

typedef struct listed {
  int users;
  uint8_t digest[GV_STATE_DIGEST_LEN];
} listed;

static int list_row(void *ud, const gv_store_state_row *r) {
  listed *l = ud;
  if (strcmp(r->table, "users") == 0) {
    l->users++;
    memcpy(l->digest, r->digest, GV_STATE_DIGEST_LEN);
  }
  return 0;
}

/* Each event is handed the state rows written since the previous one; a rolled-back
 * savepoint takes its rows with it; a password change writes no state; the digests the
 * hook saw are those the enumeration gives. */
static void test_state_rows_reach_the_event_hook(void **state) {
  char *dir = tu_tmpdir();
  const char *db = tu_path(dir, "g.db");
  gv_store *s = NULL;
  gv_error err;
  gv_forum *f = load_midiocc();
  seen_rows seen = {{0}, {0}, {0}};
  assert_int_equal(gv_store_open(db, GV_STORE_CREATE, &s, &err), GV_OK);
  gv_store_set_event_hook(s, note_rows, &seen);
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  assert_int_equal(gv_store_forum_save(s, f, 1000, &err), GV_OK);
  const char *names[] = {"a.one", "b.two", "c.three"};
  gv_user u[3];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(gv_store_savepoint(s, &err), GV_OK);
    memset(&u[i], 0, sizeof u[i]);
    snprintf(u[i].username, sizeof u[i].username, "%s", names[i]);
    snprintf(u[i].role, sizeof u[i].role, "observer");
    snprintf(u[i].password_hash, sizeof u[i].password_hash, "x");
    assert_int_equal(gv_account_create(s, f, 0, &u[i], 1, NULL, &err), GV_OK);
    if (i == 1) gv_store_rollback_to(s);
    else assert_int_equal(gv_store_release(s, &err), GV_OK);
  }
  assert_int_equal(gv_account_set_password(s, f, 0, &u[0], "y", 1, 2, NULL, &err), GV_OK);
  assert_int_equal(gv_account_set_disabled(s, f, 0, &u[0], 1, 3, NULL, &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);
  /* The hook saw b.two's creation before its savepoint rolled back (its note is plain
   * memory); c.three then took the same rowid. The password reset wrote no state row. */
  assert_string_equal(seen.text, "account.created:u1,;account.created:u2,;account.created:u2,;"
                                 "account.password_reset:;account.disabled:u1,;");
  uint8_t want[GV_STATE_DIGEST_LEN];
  gv_sha256(seen.last_digest, sizeof seen.last_digest, want);
  assert_memory_equal(want, seen.last_state, sizeof want);
  listed l = {0, {0}};
  assert_int_equal(gv_store_state_rows(s, list_row, &l, &err), GV_OK);
  assert_int_equal(l.users, 2);
  /* A change made outside any event is not handed to the next event. */
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  u[1] = u[2];
  snprintf(u[1].display_name, sizeof u[1].display_name, "renamed quietly");
  assert_int_equal(gv_store_user_update(s, &u[1], &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);
  seen.text[0] = '\0';
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  assert_int_equal(gv_account_set_disabled(s, f, 0, &u[0], 0, 4, NULL, &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);
  assert_string_equal(seen.text, "account.enabled:u1,;");
  gv_store_close(s);
  gv_forum_free(f);
  tu_rmdir(dir);
}

static void test_backup_consistent_and_private(void **state) {
  char *dir = tu_tmpdir();
  const char *db = tu_path(dir, "g.db"), *out = tu_path(dir, "copy.db");
  gv_store *s = NULL;
  gv_error err;
  gv_forum *f = load_midiocc();
  assert_int_equal(gv_store_open(db, GV_STORE_CREATE, &s, &err), GV_OK);
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  assert_int_equal(gv_store_forum_save(s, f, 1000, &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);
  /* A write transaction is open (uncommitted) while the backup runs. */
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  gv_user u = {0};
  snprintf(u.username, sizeof u.username, "pending.user");
  snprintf(u.role, sizeof u.role, "observer");
  snprintf(u.password_hash, sizeof u.password_hash, "x");
  assert_int_equal(gv_account_create(s, f, 0, &u, 1, NULL, &err), GV_OK);
  assert_int_equal(gv_store_backup(db, out, &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);
  struct stat st;
  assert_int_equal(stat(out, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  char v[64];
  raw_text(out, "SELECT count(*) FROM forums", v, sizeof v);
  assert_string_equal(v, "1");
  raw_text(out, "SELECT count(*) FROM users", v, sizeof v);
  assert_string_equal(v, "0"); /* the uncommitted account is not in the copy */
  /* An existing file is never overwritten. */
  assert_int_equal(gv_store_backup(db, out, &err), GV_EIO);
  gv_store_close(s);
  gv_forum_free(f);
  tu_rmdir(dir);
}

static int count_rows(void *ud, const gv_store_row *row) {
  (void)row;
  (*(int *)ud)++;
  return 0;
}

static int denied(gv_store *s, const char *sql) {
  gv_error err;
  gv_error_clear(&err);
  int rc = gv_store_plugin_sql(s, "demo", sql, NULL, 0, NULL, NULL, &err);
  if (rc != GV_ESTORE) print_message("allowed: %s\n", sql);
  else if (!strstr(err.message, "not authorized") && !strstr(err.message, "prohibited")) print_message("%s\n", err.message);
  return rc == GV_ESTORE && (strstr(err.message, "not authorized") || strstr(err.message, "prohibited"));
}

/* A plugin reaches only its own tables (and reads events): never accounts, sessions or the record's writes. */
static void test_plugin_sql_confined(void **state) {
  char *dir = tu_tmpdir();
  const char *db = tu_path(dir, "g.db");
  gv_store *s = NULL;
  gv_error err;
  gv_forum *f = load_midiocc();
  assert_int_equal(gv_store_open(db, GV_STORE_CREATE, &s, &err), GV_OK);
  assert_int_equal(gv_store_begin(s, &err), GV_OK);
  assert_int_equal(gv_store_forum_save(s, f, 1000, &err), GV_OK);
  assert_int_equal(gv_store_commit(s, &err), GV_OK);

  const gv_store_migration good[] = {
      {1, "things", "CREATE TABLE demo_things(id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX demo_things_v ON demo_things(v);"},
  };
  if (gv_store_plugin_migrate(s, "demo", good, 1, &err) != GV_OK) fail_msg("%s", err.message);
  assert_int_equal(gv_store_plugin_migrate(s, "demo", good, 1, &err), GV_OK); /* recorded: not run twice */
  gv_store_arg a[1] = {{GV_STORE_ARG_TEXT, 0, "x", NULL, 0}};
  assert_int_equal(gv_store_plugin_sql(s, "demo", "INSERT INTO demo_things(v) VALUES (?1)", a, 1, NULL, NULL, &err), GV_OK);
  int n = 0;
  assert_int_equal(gv_store_plugin_sql(s, "demo", "SELECT v FROM demo_things", NULL, 0, count_rows, &n, &err), GV_OK);
  assert_int_equal(n, 1);
  n = 0;
  assert_int_equal(gv_store_plugin_sql(s, "demo", "SELECT id FROM events", NULL, 0, count_rows, &n, &err), GV_OK);
  char ev[32];
  raw_text(db, "SELECT count(*) FROM events", ev, sizeof ev);
  assert_int_equal(n, atoi(ev));

  n = 0;
  assert_int_equal(gv_store_plugin_sql(s, "demo", "SELECT topic FROM outbox", NULL, 0, count_rows, &n, &err), GV_OK);
  /* Everything else is refused when prepared. */
  assert_true(denied(s, "SELECT password_hash FROM users"));
  assert_true(denied(s, "SELECT * FROM sessions"));
  assert_true(denied(s, "SELECT e.id FROM events e JOIN users u ON u.id = e.actor_id"));
  assert_true(denied(s, "UPDATE events SET params = '{}'"));
  assert_true(denied(s, "DELETE FROM events"));
  assert_true(denied(s, "INSERT INTO outbox(topic) VALUES ('x')"));
  assert_true(denied(s, "DELETE FROM outbox"));
  assert_true(denied(s, "SELECT o.id FROM outbox o, positions p WHERE p.item_id = o.item_id"));
  assert_true(denied(s, "CREATE TABLE demo_new(x)")); /* tables only from migrations */
  assert_true(denied(s, "DROP TABLE demo_things"));
  assert_true(denied(s, "PRAGMA writable_schema = 1"));
  assert_true(denied(s, "ATTACH DATABASE '/tmp/x.db' AS x"));
  assert_true(denied(s, "COMMIT"));
  /* Statements SQLite's authorizer never sees, and a second statement after the first. */
  char copy[600];
  snprintf(copy, sizeof copy, "VACUUM INTO '%s'", tu_path(dir, "stolen.db"));
  assert_true(denied(s, copy));
  assert_true(denied(s, "/* hidden */ VACUUM"));
  assert_true(denied(s, "ANALYZE"));
  gv_error_clear(&err);
  assert_int_equal(gv_store_plugin_sql(s, "demo", "SELECT 1; DELETE FROM demo_things", NULL, 0, NULL, NULL, &err), GV_ESTORE);
  assert_non_null(strstr(err.message, "exactly one statement"));
  struct stat sb;
  assert_int_not_equal(stat(tu_path(dir, "stolen.db"), &sb), 0);
  /* The statement cache goes by the text, not only its address. */
  char sql[64];
  snprintf(sql, sizeof sql, "SELECT v FROM demo_things");
  n = 0;
  assert_int_equal(gv_store_plugin_sql(s, "demo", sql, NULL, 0, count_rows, &n, &err), GV_OK);
  assert_int_equal(n, 1);
  snprintf(sql, sizeof sql, "SELECT v FROM demo_things WHERE 0");
  n = 0;
  assert_int_equal(gv_store_plugin_sql(s, "demo", sql, NULL, 0, count_rows, &n, &err), GV_OK);
  assert_int_equal(n, 0);
  /* A plugin whose name begins a core table's name does not reach it. */
  gv_error_clear(&err);
  assert_int_equal(gv_store_plugin_sql(s, "workflow", "UPDATE workflow_versions SET source = 'x'", NULL, 0, NULL, NULL,
                                       &err), GV_ESTORE);
  assert_int_equal(gv_store_plugin_sql(s, "login", "DELETE FROM login_failures", NULL, 0, NULL, NULL, &err), GV_ESTORE);
  assert_true(gv_store_core_name("users", 0));
  assert_true(gv_store_core_name("timers_due", 0));
  assert_true(gv_store_core_name("login_", 6));
  assert_false(gv_store_core_name("demo_things", 0));
  assert_false(gv_store_core_name("audit_", 6));
  /* Another plugin's tables are not this plugin's. */
  gv_error_clear(&err);
  assert_int_equal(gv_store_plugin_sql(s, "other", "SELECT v FROM demo_things", NULL, 0, NULL, NULL, &err), GV_ESTORE);
  /* A migration touching anything but the plugin's own tables fails, and is not recorded. */
  const gv_store_migration bad[] = {{1, "evil", "CREATE TABLE other_x(a); DROP TABLE users;"}};
  assert_int_equal(gv_store_plugin_migrate(s, "other", bad, 1, &err), GV_ESTORE);
  const gv_store_migration bad2[] = {{1, "evil", "CREATE TRIGGER other_t AFTER INSERT ON events BEGIN DELETE FROM events; END;"}};
  assert_int_equal(gv_store_plugin_migrate(s, "other", bad2, 1, &err), GV_ESTORE);
  gv_store_close(s);
  char v[64];
  raw_text(db, "SELECT count(*) FROM plugin_migrations", v, sizeof v);
  assert_string_equal(v, "1");
  raw_text(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'other%'", v, sizeof v);
  assert_string_equal(v, "0");
  raw_text(db, "SELECT count(*) FROM users", v, sizeof v);
  assert_string_equal(v, "0");
  gv_forum_free(f);
  tu_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_migrates_and_records),
      cmocka_unit_test(test_newer_schema_refused),
      cmocka_unit_test(test_wal_required),
      cmocka_unit_test(test_synchronous_full_and_foreign_keys),
      cmocka_unit_test(test_rollback_and_fault_injection),
      cmocka_unit_test(test_savepoints_isolate),
      cmocka_unit_test(test_state_rows_reach_the_event_hook),
      cmocka_unit_test(test_backup_consistent_and_private),
      cmocka_unit_test(test_plugin_sql_confined),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
