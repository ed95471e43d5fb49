/* The in-process benchmark: position submissions through the engine versus the same writes as plain prepared statements. */
#include <sqlite3.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/accounts.h"
#include "engine/engine.h"
#include "gavel/plugin.h"
#include "host/host.h"
#include "base/time.h"
#include "base/log.h"

extern const gv_plugin gv_plugin_audit;
extern const gv_plugin gv_plugin_email;
extern const gv_plugin gv_plugin_web;

/* Engines opened the way the gavel command opens them: store, then plugins, then the engine. */
static gv_cli_env envs[8];

static int engine_open(const char *db, int plugins, const char *plugins_json, gv_engine **out, gv_error *err) {
  for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
    if (envs[i].store == NULL) {
      gv_cli_env_options o = {.db = db, .plugins = plugins, .plugins_json = plugins_json, .engine = 1};
      int rc = gv_cli_env_open(&envs[i], &o, err);
      *out = envs[i].engine;
      return rc;
    }
  return GV_EINVAL;
}

static void engine_close(gv_engine *e) {
  for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
    if (envs[i].engine == e) gv_cli_env_close(&envs[i]);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) v = atol(line + 6);
  if (f) fclose(f);
  return v;
}

static void die(const char *what, const gv_error *e) {
  fprintf(stderr, "bench: %s: %s\n", what, e ? e->message : "");
  exit(1);
}

/* A database with the forum, its demo users, the workflows and n open consultations. */
static void setup(const char *db, const char *src, int nitems, gv_engine **out, gv_caller callers[5]) {
  char path[600];
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", src);
  gv_forum *f;
  gv_error err;
  if (gv_forum_load_file(path, &f, &err) != GV_OK) die("forum", &err);
  gv_store *s;
  if (gv_store_open(db, GV_STORE_CREATE, &s, &err) != GV_OK) die("store", &err);
  gv_store_begin(s, &err);
  gv_store_forum_save(s, f, 0, &err);
  gv_demo_user du[16];
  size_t nu = gv_demo_users(f, du);
  for (size_t i = 0; i < nu; i++) {
    gv_user u = {0};
    snprintf(u.username, sizeof u.username, "%.63s", du[i].username);
    snprintf(u.role, sizeof u.role, "%.15s", du[i].role);
    snprintf(u.member, sizeof u.member, "%.15s", du[i].member);
    snprintf(u.password_hash, sizeof u.password_hash, "!");
    if (gv_account_create(s, f, 0, &u, 0, NULL, &err) != GV_OK) die("user", &err);
  }
  gv_store_commit(s, &err);
  gv_store_close(s);
  gv_forum_free(f);
  if (engine_open(db, 1, NULL, out, &err) != GV_OK) die("engine", &err);
  char wf[600];
  snprintf(wf, sizeof wf, "%s/workflows", src);
  gv_error errs[8];
  size_t ne;
  if (gv_engine_register_dir(*out, wf, errs, 8, &ne) != GV_OK) die("workflows", &errs[0]);
  gv_store *st = gv_engine_store(*out);
  gv_user sec;
  gv_store_user_find(st, "secretariat", &sec, &err);
  gv_caller csec;
  gv_caller_from_user(&csec, &sec);
  const char *codes[5] = {"km.delegate", "mg.delegate", "mu.delegate", "re.delegate", "sc.delegate"};
  for (int i = 0; i < 5; i++) {
    gv_user u;
    gv_store_user_find(st, codes[i], &u, &err);
    gv_caller_from_user(&callers[i], &u);
  }
  char deadline[GV_TIME_BUFSZ];
  gv_time_format(gv_time_real_ms() + 365LL * 86400000, deadline);
  json_t *params = json_pack("{s:s, s:s}", "question", "Do you support the proposal?", "deadline", deadline);
  json_t *title = json_string("Consultation");
  const int chunk = 500;
  gv_action_req *reqs = calloc(chunk, sizeof *reqs);
  gv_action_res *res = calloc(chunk, sizeof *res);
  for (int done = 0; done < nitems;) {
    int n = nitems - done < chunk ? nitems - done : chunk;
    for (int i = 0; i < n; i++) {
      gv_action_req q = {&csec, 0, NULL, "consultation", title, NULL, params, NULL, NULL};
      reqs[i] = q;
    }
    gv_engine_apply(*out, reqs, res, (size_t)n);
    for (int i = 0; i < n; i++)
      if (res[i].err.code != GV_OK) die("create", &res[i].err);
    done += n;
  }
  free(reqs);
  free(res);
  json_decref(params);
  json_decref(title);
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Engine: submissions in batches; returns actions per second. */
static double run_engine(gv_engine *e, gv_caller callers[5], int nitems, long actions, int batch, long *rss_growth) {
  gv_action_req *reqs = calloc((size_t)batch, sizeof *reqs);
  gv_action_res *res = calloc((size_t)batch, sizeof *res);
  static const char *stances[] = {"support", "oppose", "abstain", "support_with_reservations"};
  json_t *params[4];
  for (int i = 0; i < 4; i++)
    params[i] = json_pack("{s:s, s:s}", "stance", stances[i], "statement", "Our delegation supports the text as circulated.");
  long rss0 = rss_kib();
  double t0 = now_s();
  long failed = 0;
  for (long done = 0; done < actions;) {
    int n = actions - done < batch ? (int)(actions - done) : batch;
    for (int i = 0; i < n; i++) {
      uint64_t r = next_rand();
      reqs[i] = (gv_action_req){&callers[r % 5], (int64_t)(1 + (r >> 8) % (uint64_t)nitems), NULL, NULL, NULL,
                                "submit_position", params[(r >> 4) % 4], NULL, NULL};
    }
    if (gv_engine_apply(e, reqs, res, (size_t)n) != GV_OK) die("apply", &res[0].err);
    for (int i = 0; i < n; i++) failed += res[i].err.code != GV_OK;
    done += n;
  }
  double secs = now_s() - t0;
  *rss_growth = rss_kib() - rss0;
  if (failed) fprintf(stderr, "bench: %ld actions failed (e.g. %s)\n", failed, res[0].err.message);
  for (int i = 0; i < 4; i++) json_decref(params[i]);
  free(reqs);
  free(res);
  return (double)actions / secs;
}

/* The same writes with plain prepared statements: an event and a position per action
 * (a submission leaves the item row alone), one transaction per batch. */
static double run_raw(const char *db, int nitems, long actions, int batch) {
  sqlite3 *h;
  if (sqlite3_open(db, &h) != SQLITE_OK) die("raw open", NULL);
  sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768",
               NULL, NULL, NULL);
  sqlite3_stmt *ev, *pos;
  sqlite3_prepare_v2(h, "INSERT INTO events(forum_id, item_id, kind, action, actor_id, member, at, from_state, to_state, params, sealed)"
                        " VALUES ('midiocc', ?, 'action', 'submit_position', ?, ?, ?, 'open', 'open', ?, 0)", -1, &ev, NULL);
  sqlite3_prepare_v2(h, "INSERT INTO positions(item_id, member, stance, statement, actor_id, on_behalf, event_id, at)"
                        " VALUES (?, ?, ?, ?, ?, 0, ?, ?)", -1, &pos, NULL);
  static const char *members[] = {"KM", "MG", "MU", "RE", "SC"};
  static const char *stances[] = {"support", "oppose", "abstain", "support_with_reservations"};
  const char *statement = "Our delegation supports the text as circulated.";
  double t0 = now_s();
  for (long done = 0; done < actions;) {
    int n = actions - done < batch ? (int)(actions - done) : batch;
    sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (int i = 0; i < n; i++) {
      uint64_t r = next_rand();
      int64_t id = (int64_t)(1 + (r >> 8) % (uint64_t)nitems), at = gv_time_real_ms();
      const char *stance = stances[(r >> 4) % 4];
      char params[256];
      snprintf(params, sizeof params, "{\"statement\":\"%s\",\"stance\":\"%s\"}", statement, stance);
      sqlite3_bind_int64(ev, 1, id);
      sqlite3_bind_int64(ev, 2, 4 + (int64_t)(r % 5));
      sqlite3_bind_text(ev, 3, members[r % 5], -1, SQLITE_STATIC);
      sqlite3_bind_int64(ev, 4, at);
      sqlite3_bind_text(ev, 5, params, -1, SQLITE_TRANSIENT);
      sqlite3_step(ev);
      sqlite3_reset(ev);
      int64_t eid = sqlite3_last_insert_rowid(h);
      sqlite3_bind_int64(pos, 1, id);
      sqlite3_bind_text(pos, 2, members[r % 5], -1, SQLITE_STATIC);
      sqlite3_bind_text(pos, 3, stance, -1, SQLITE_STATIC);
      sqlite3_bind_text(pos, 4, statement, -1, SQLITE_STATIC);
      sqlite3_bind_int64(pos, 5, 4 + (int64_t)(r % 5));
      sqlite3_bind_int64(pos, 6, eid);
      sqlite3_bind_int64(pos, 7, at);
      sqlite3_step(pos);
      sqlite3_reset(pos);
    }
    if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) die("raw commit", NULL);
    done += n;
  }
  double secs = now_s() - t0;
  sqlite3_finalize(ev);
  sqlite3_finalize(pos);
  sqlite3_close(h);
  return (double)actions / secs;
}

int main(int argc, char **argv) {
  static const gv_plugin *const builtin[] = {&gv_plugin_audit, &gv_plugin_email, &gv_plugin_web};
  gv_plugins_set_builtin(builtin, sizeof builtin / sizeof builtin[0]);
  long actions = 200000;
  int items = 2000, batch = 64;
  const char *src = GAVEL_SOURCE_DIR;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--actions") == 0) actions = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--items") == 0) items = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--batch") == 0) batch = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--source") == 0) src = argv[i + 1];
  }
  gv_log_set_level(GV_LOG_ERROR);
  char dir[] = "/tmp/gavel-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  char db[300], rawdb[300], auditdb[300], cmd[700];
  snprintf(db, sizeof db, "%s/engine.db", dir);
  snprintf(rawdb, sizeof rawdb, "%s/raw.db", dir);
  snprintf(auditdb, sizeof auditdb, "%s/audit.db", dir);
  printf("setting up %d open consultations...\n", items);
  gv_engine *e;
  gv_caller callers[5];
  setup(db, src, items, &e, callers);
  engine_close(e);
  /* The raw run writes to an identical copy, so both start from the same state. */
  gv_error err;
  if (gv_store_backup(db, rawdb, &err) != GV_OK) die("copy", &err);
  if (gv_store_backup(db, auditdb, &err) != GV_OK) die("copy", &err);
  snprintf(cmd, sizeof cmd, "cp -p '%s.audit-key' '%s.audit-key'", db, auditdb); /* the log's signing key */
  if (system(cmd) != 0) die("copy the audit key", NULL);
  /* The engine alone (what the plain statements compare with), and the engine as shipped:
   * with the audit plugin writing a Merkle leaf for every action. */
  if (engine_open(db, 0, NULL, &e, &err) != GV_OK) die("engine", &err);
  gv_engine *ea;
  if (engine_open(auditdb, 1, "{\"email\": false, \"web\": false}", &ea, &err) != GV_OK) die("engine with audit", &err);
  /* Interleave them, so machine noise hits all alike. */
  long growth = 0, g;
  double eng = 0, raw = 0, aud = 0;
  int rounds = 3;
  for (int r = 0; r < rounds; r++) {
    raw += run_raw(rawdb, items, actions / rounds, batch);
    eng += run_engine(e, callers, items, actions / rounds, batch, &g);
    growth += g;
    aud += run_engine(ea, callers, items, actions / rounds, batch, &g);
  }
  eng /= rounds;
  raw /= rounds;
  aud /= rounds;
  printf("batch size            %d actions per commit\n", batch);
  printf("engine                %.0f actions/s (submit_position: checks, validation, Lua effect, event, position)\n", eng);
  printf("plain statements      %.0f actions/s (the same writes, prepared, no Lua, no JSON)\n", raw);
  printf("ratio engine/plain    %.2f\n", eng / raw);
  printf("engine + audit log    %.0f actions/s (as shipped: a salted Merkle leaf per action)\n", aud);
  printf("ratio audited/plain   %.2f\n", aud / raw);
  printf("resident memory       %+ld KiB over %ld engine actions\n", growth, actions);
  engine_close(e);
  engine_close(ea);
  /* Top the database up to a million stored positions and a hundred thousand pending
   * timers (plain inserts: fast), then time opening the engine on it. */
  {
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_exec(h, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(h, "SELECT (SELECT count(*) FROM positions), (SELECT count(*) FROM timers WHERE state = 'pending'),"
                          " (SELECT max(id) FROM events)", -1, &q, NULL);
    sqlite3_step(q);
    long npos = sqlite3_column_int64(q, 0), ntim = sqlite3_column_int64(q, 1), ev = sqlite3_column_int64(q, 2);
    sqlite3_finalize(q);
    sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
    sqlite3_prepare_v2(h, "INSERT INTO positions(item_id, member, stance, statement, actor_id, on_behalf, event_id, at)"
                          " VALUES (?, 'KM', 'support', 'As circulated.', 4, 0, ?, 0)", -1, &q, NULL);
    for (long i = npos; i < 1000000; i++) {
      sqlite3_bind_int64(q, 1, 1 + i % items);
      sqlite3_bind_int64(q, 2, ev);
      sqlite3_step(q);
      sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    sqlite3_prepare_v2(h, "INSERT INTO timers(item_id, name, due_at) VALUES (?, ?, ?)", -1, &q, NULL);
    int64_t later = gv_time_real_ms() + 400LL * 86400000;
    for (long i = ntim; i < 100000; i++) {
      char name[32];
      snprintf(name, sizeof name, "bench:%ld", i);
      sqlite3_bind_int64(q, 1, 1 + i % items);
      sqlite3_bind_text(q, 2, name, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(q, 3, later + i);
      sqlite3_step(q);
      sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h);
  }
  /* Opening the engine on the database just written. */
  double t0 = now_s();
  if (engine_open(db, 0, NULL, &e, &err) != GV_OK) die("engine", &err);
  char wfdir[600];
  snprintf(wfdir, sizeof wfdir, "%s/workflows", src);
  gv_error errs[8];
  size_t ne;
  gv_engine_register_dir(e, wfdir, errs, 8, &ne);
  int fired = 0;
  gv_engine_run_due(e, &fired);
  int64_t next = gv_engine_next_due(e);
  double open_s = now_s() - t0;
  printf("engine open           %.3f s (store, workflows, due timers) with 1000000 positions and %lld pending timers (next due %s)\n", open_s,
         (long long)gv_store_timer_pending_count(gv_engine_store(e)), next == INT64_MAX ? "never" : "known");
  engine_close(e);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) return 1;
  return 0;
}
