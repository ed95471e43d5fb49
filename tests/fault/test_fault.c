/* Fault injection: fails the Nth allocation, the Nth SQLite write and the Nth sync inside a batch, and checks what survives.
 *
 * Modelled on SQLite's malloc and I/O-error tests. One engine lives through every run, so
 * what a fault leaves in its memory is exercised by the runs after it. To reproduce a
 * failure: GV_FAULT_FROM=N starts each sweep at N, GV_FAULT_TRACE=1 prints every run. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "engine/accounts.h"
#include "engine/engine.h"
#include "../unit/testutil.h"

/* The batch: the five MiDIOCC delegates' positions, a new consultation and a secretariat
 * extension of the deadline, through gv_engine_apply in one transaction. */
enum { NDELEGATES = 5, BATCH = NDELEGATES + 2 };
/* How many runs between closing and reopening the engine. */
/* Every few runs the engine is closed, the database put back as it was after setup, and the
 * engine reopened: what it loads must still be sound, and a database that stays small keeps
 * each run's integrity check as cheap as the first. */
enum { REOPEN_EVERY = 16 };

/* A countdown shared by every allocator and by the VFS: 0 means off. */
static long alloc_countdown, alloc_calls;
static int alloc_fired;

static int alloc_fault(void) {
  alloc_calls++;
  if (alloc_countdown > 0 && --alloc_countdown == 0) {
    alloc_fired = 1;
    return 1;
  }
  return 0;
}

static void *json_malloc_hook(size_t n) { return gv_malloc(n); }

/* SQLite's allocator, wrapped to ask the same hook. */
static sqlite3_mem_methods sqlite_default;

static void *sqlite_malloc_hook(int n) { return gv_alloc_fault_now() ? NULL : sqlite_default.xMalloc(n); }

static void *sqlite_realloc_hook(void *p, int n) {
  return gv_alloc_fault_now() ? NULL : sqlite_default.xRealloc(p, n);
}

static void install_alloc_hooks(void) {
  static sqlite3_mem_methods wrapped;
  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK) abort();
  wrapped = sqlite_default;
  wrapped.xMalloc = sqlite_malloc_hook;
  wrapped.xRealloc = sqlite_realloc_hook;
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &wrapped) != SQLITE_OK) abort();
  json_set_alloc_funcs(json_malloc_hook, free);
  gv_alloc_set_fault(alloc_fault);
}

/* ---- A VFS over the unix one that fails the Nth write or sync ----------------------------- */

enum { FAIL_WRITE = 1, FAIL_SYNC = 2 };
static int io_kinds;            /* which calls count: FAIL_WRITE, FAIL_SYNC or both */
static long io_countdown, io_calls;
static int io_fired, io_error = SQLITE_IOERR_WRITE, io_persistent;

typedef struct fault_file {
  sqlite3_file base;
  sqlite3_file *real; /* follows this struct in the same allocation */
} fault_file;

static sqlite3_vfs *unix_vfs;
static sqlite3_vfs fault_vfs;
static sqlite3_io_methods fault_io;

static int io_fault(int kind) {
  if (!(io_kinds & kind)) return 0;
  io_calls++;
  if (io_fired && io_persistent) return 1;
  if (io_countdown > 0 && --io_countdown == 0) {
    io_fired = 1;
    return 1;
  }
  return 0;
}

#define REAL(f) (((fault_file *)(f))->real)
static int ff_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int ff_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int ff_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) {
  if (io_fault(FAIL_WRITE)) return io_error;
  return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int ff_sync(sqlite3_file *f, int flags) {
  if (io_fault(FAIL_SYNC)) return io_error == SQLITE_FULL ? SQLITE_FULL : SQLITE_IOERR_FSYNC;
  return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int ff_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int ff_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int ff_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int ff_check(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int ff_control(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int ff_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int ff_caps(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int ff_shm_map(sqlite3_file *f, int i, int sz, int ext, void volatile **p) {
  return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p);
}
static int ff_shm_lock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void ff_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int ff_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int ff_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) { return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int ff_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static int fv_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
  fault_file *ff = (fault_file *)f;
  ff->real = (sqlite3_file *)(ff + 1);
  int rc = unix_vfs->xOpen(unix_vfs, name, ff->real, flags, out);
  /* The unix VFS leaves pMethods NULL when it fails: so must we, or SQLite would close it. */
  f->pMethods = rc == SQLITE_OK && ff->real->pMethods ? &fault_io : NULL;
  return rc;
}

static void install_fault_vfs(void) {
  unix_vfs = sqlite3_vfs_find("unix");
  if (unix_vfs == NULL) abort();
  fault_vfs = *unix_vfs;
  fault_vfs.zName = "gavel-fault";
  fault_vfs.szOsFile = (int)sizeof(fault_file) + unix_vfs->szOsFile;
  fault_vfs.xOpen = fv_open;
  fault_io = (sqlite3_io_methods){3,         ff_close,   ff_read,       ff_write,     ff_truncate, ff_sync,
                                  ff_size,   ff_lock,    ff_unlock,     ff_check,     ff_control,  ff_sector,
                                  ff_caps,   ff_shm_map, ff_shm_lock,   ff_shm_barrier, ff_shm_unmap, ff_fetch,
                                  ff_unfetch};
  if (sqlite3_vfs_register(&fault_vfs, 1) != SQLITE_OK) abort();
}

/* ---- The forum and its batch ---------------------------------------------------------------- */

static void die(const char *what, const char *detail) {
  fprintf(stderr, "test_fault: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

typedef struct fixture {
  char *dir;
  char db[600];
  char template_db[600];  /* the database as setup left it */
  gv_engine *e;
  gv_caller delegates[NDELEGATES];
  gv_caller secretariat;
  int64_t consultation;   /* the open consultation the batch acts on */
  int runs;
} fixture;

static gv_caller caller_named(gv_engine *e, const char *username) {
  gv_user u;
  gv_error err;
  if (gv_store_user_find(gv_engine_store(e), username, &u, &err) != GV_OK) die("user", username);
  gv_caller c;
  gv_caller_from_user(&c, &u);
  return c;
}

static void fixture_open_engine(fixture *fx) {
  gv_engine_options eo = {0};
  eo.db_path = fx->db;
  eo.clock = GV_CLOCK_VIRTUAL;
  eo.virtual_start = 1893456000000LL; /* 2030-01-01: the deadlines below lie after it */
  gv_error err;
  if (gv_engine_open(&eo, &fx->e, &err) != GV_OK) die("engine", err.message);
}

static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  if (in == NULL || out == NULL) die("copy", from);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) die("copy", to);
  if (fclose(out) != 0) die("copy", to);
  fclose(in);
}

/* Closes the engine (which checkpoints the WAL away), puts the database back as setup left it,
 * and reopens the engine on it. */
static void fixture_restore(fixture *fx) {
  gv_engine_close(fx->e);
  fx->e = NULL;
  char from[620], to[620];
  copy_file(fx->template_db, fx->db);
  snprintf(from, sizeof from, "%s-wal", fx->template_db);
  snprintf(to, sizeof to, "%s-wal", fx->db);
  if (access(from, F_OK) == 0) copy_file(from, to);
  else unlink(to);
  snprintf(to, sizeof to, "%s-shm", fx->db);
  unlink(to);
  fixture_open_engine(fx);
}

static void fixture_setup(fixture *fx) {
  memset(fx, 0, sizeof *fx);
  fx->dir = tu_tmpdir();
  snprintf(fx->db, sizeof fx->db, "%s/fault.db", fx->dir);
  char path[600];
  snprintf(path, sizeof path, "%s/workflows/forums/midiocc.lua", tu_source_dir());
  gv_forum *f;
  gv_error err;
  if (gv_forum_load_file(path, &f, &err) != GV_OK) die("forum", err.message);
  gv_store *s;
  if (gv_store_open(fx->db, GV_STORE_CREATE, &s, &err) != GV_OK) die("store", err.message);
  if (gv_store_begin(s, &err) != GV_OK || gv_store_forum_save(s, f, 0, &err) != GV_OK) die("forum save", err.message);
  gv_demo_user du[16];
  size_t nu = gv_demo_users(f, du);
  for (size_t i = 0; i < nu; i++) {
    gv_user u = {0};
    snprintf(u.username, sizeof u.username, "%.63s", du[i].username);
    snprintf(u.role, sizeof u.role, "%.15s", du[i].role);
    snprintf(u.member, sizeof u.member, "%.15s", du[i].member);
    snprintf(u.password_hash, sizeof u.password_hash, "!");
    if (gv_account_create(s, f, 0, &u, 0, NULL, &err) != GV_OK) die("user", err.message);
  }
  if (gv_store_commit(s, &err) != GV_OK) die("commit", err.message);
  gv_store_close(s);
  gv_forum_free(f);
  fixture_open_engine(fx);
  snprintf(path, sizeof path, "%s/workflows", tu_source_dir());
  gv_error errs[8];
  size_t ne;
  if (gv_engine_register_dir(fx->e, path, errs, 8, &ne) != GV_OK) die("workflows", errs[0].message);
  static const char *codes[NDELEGATES] = {"km.delegate", "mg.delegate", "mu.delegate", "re.delegate", "sc.delegate"};
  for (int i = 0; i < NDELEGATES; i++) fx->delegates[i] = caller_named(fx->e, codes[i]);
  fx->secretariat = caller_named(fx->e, "secretariat");
  json_t *params = json_pack("{s:s, s:s}", "question", "Do you support the proposal?", "deadline", "2030-06-01T12:00:00Z");
  json_t *title = json_string("Consultation on the draft work programme");
  gv_action_req q = {&fx->secretariat, 0, NULL, "consultation", title, NULL, params, NULL, NULL};
  gv_action_res r;
  if (gv_engine_apply(fx->e, &q, &r, 1) != GV_OK || r.err.code != GV_OK) die("create", r.err.message);
  fx->consultation = r.item_id;
  json_decref(params);
  json_decref(title);
  gv_engine_close(fx->e);
  snprintf(fx->template_db, sizeof fx->template_db, "%s/template.db", fx->dir);
  copy_file(fx->db, fx->template_db);
  /* The write-ahead log too, should closing have left one (it holds the last commits). */
  char from[620], to[620];
  snprintf(from, sizeof from, "%s-wal", fx->db);
  snprintf(to, sizeof to, "%s-wal", fx->template_db);
  if (access(from, F_OK) == 0) copy_file(from, to);
  fixture_open_engine(fx);
}

/* The batch's requests; the params live in *owned until batch_free. */
typedef struct batch {
  gv_action_req reqs[BATCH];
  gv_action_res res[BATCH];
  json_t *owned[BATCH + 1];
} batch;

static void batch_build(fixture *fx, batch *b) {
  static const char *stances[] = {"support", "oppose", "abstain", "support_with_reservations", "support"};
  memset(b, 0, sizeof *b);
  for (int i = 0; i < NDELEGATES; i++) {
    b->owned[i] = json_pack("{s:s, s:s}", "stance", stances[i], "statement", "Our delegation's position, as instructed.");
    b->reqs[i] = (gv_action_req){&fx->delegates[i], fx->consultation, NULL, NULL, NULL, "submit_position", b->owned[i],
                                 NULL, NULL};
  }
  b->owned[NDELEGATES] = json_pack("{s:s, s:s}", "question", "Can the text be adopted?", "deadline", "2030-09-01T12:00:00Z");
  b->owned[BATCH] = json_string("Consultation on the budget");
  b->reqs[NDELEGATES] = (gv_action_req){&fx->secretariat, 0, NULL, "consultation", b->owned[BATCH], NULL,
                                        b->owned[NDELEGATES], NULL, NULL};
  /* Each run moves the deadline one more hour, so every extension is a real one. */
  char deadline[GV_TIME_BUFSZ];
  gv_time_format(1910000000000LL + (int64_t)fx->runs * 3600000, deadline);
  b->owned[NDELEGATES + 1] = json_pack("{s:s, s:s}", "deadline", deadline, "reason", "More time was asked for.");
  b->reqs[NDELEGATES + 1] = (gv_action_req){&fx->secretariat, fx->consultation, NULL, NULL, NULL, "extend_deadline",
                                            b->owned[NDELEGATES + 1], NULL, NULL};
  for (int i = 0; i <= BATCH; i++)
    if (b->owned[i] == NULL) die("batch", "out of memory building the batch");
}

static void batch_free(batch *b) {
  for (int i = 0; i <= BATCH; i++) json_decref(b->owned[i]);
}

/* ---- What the database holds after a run ------------------------------------------------- */

static int64_t raw_int(sqlite3 *h, const char *sql, int64_t arg) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) die("prepare", sqlite3_errmsg(h));
  if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_int64(st, 1, arg);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

typedef struct watermark {
  int64_t event, item, position;
} watermark;

static sqlite3 *raw_open(const fixture *fx) {
  sqlite3 *h;
  if (sqlite3_open_v2(fx->db, &h, SQLITE_OPEN_READONLY, "unix") != SQLITE_OK) die("reopen", fx->db);
  return h;
}

static watermark raw_watermark(const fixture *fx) {
  sqlite3 *h = raw_open(fx);
  watermark w = {raw_int(h, "SELECT coalesce(max(id), 0) FROM events", 0),
                 raw_int(h, "SELECT coalesce(max(id), 0) FROM items", 0),
                 raw_int(h, "SELECT coalesce(max(id), 0) FROM positions", 0)};
  sqlite3_close(h);
  return w;
}

/* Checks, on a fresh connection, that the database is sound, that every action the
 * engine acknowledged is there and that nothing it refused is. */
static void check_outcome(const fixture *fx, const batch *b, int apply_rc, watermark before, const char *run) {
  sqlite3 *h = raw_open(fx);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) die("integrity", sqlite3_errmsg(h));
  if (sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
    die(run, "PRAGMA integrity_check failed");
  sqlite3_finalize(st);
  if (raw_int(h, "SELECT json_extract(data, '$.options') IS NOT NULL FROM items WHERE id = ?", fx->consultation) != 1)
    die(run, "the consultation lost data that no action changed");
  int64_t acked = 0, acked_positions = 0, acked_items = 0;
  for (int i = 0; i < BATCH; i++) {
    const gv_action_res *r = &b->res[i];
    int ok = apply_rc == GV_OK && r->err.code == GV_OK;
    if (!ok) {
      if (apply_rc == GV_OK && r->err.code != GV_OK && r->err.message[0] == '\0') die(run, "a refusal without a message");
      continue;
    }
    if (r->event_id <= before.event) {
      fprintf(stderr, "action %d (%s): event %lld\n", i, b->reqs[i].action ? b->reqs[i].action : "create",
              (long long)r->event_id);
      die(run, "an acknowledged action has no new event id");
    }
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE id = ? AND action = '%s'",
             b->reqs[i].action ? b->reqs[i].action : "create");
    if (raw_int(h, sql, r->event_id) != 1) {
      fprintf(stderr, "action %d (%s), event %lld\n", i, b->reqs[i].action ? b->reqs[i].action : "create",
              (long long)r->event_id);
      die(run, "an acknowledged action is missing from the database");
    }
    acked++;
    if (b->reqs[i].action && strcmp(b->reqs[i].action, "submit_position") == 0) {
      acked_positions++;
      if (raw_int(h, "SELECT count(*) FROM positions WHERE event_id = ?", r->event_id) != 1)
        die(run, "an acknowledged position is missing");
    }
    if (b->reqs[i].item_id == 0) {
      acked_items++;
      if (raw_int(h, "SELECT count(*) FROM items WHERE id = ?", r->item_id) != 1) die(run, "an acknowledged item is missing");
    }
  }
  /* Nothing more than what was acknowledged: no event, item or position of a refused action. */
  int64_t events = raw_int(h, "SELECT count(*) FROM events WHERE id > ?", before.event);
  int64_t items = raw_int(h, "SELECT count(*) FROM items WHERE id > ?", before.item);
  int64_t positions = raw_int(h, "SELECT count(*) FROM positions WHERE id > ?", before.position);
  if (events != acked || items != acked_items || positions != acked_positions) {
    fprintf(stderr, "events %lld/%lld items %lld/%lld positions %lld/%lld (present/acknowledged)\n", (long long)events,
            (long long)acked, (long long)items, (long long)acked_items, (long long)positions,
            (long long)acked_positions);
    fprintf(stderr, "gv_engine_apply returned %d\n", apply_rc);
    for (int i = 0; i < BATCH; i++) fprintf(stderr, "  action %d: %d %s\n", i, b->res[i].err.code, b->res[i].err.message);
    die(run, "the database holds what the engine did not acknowledge");
  }
  sqlite3_close(h);
}

/* ---- The sweeps ---------------------------------------------------------------------------- */

/* One run: builds the batch, arms the fault through arm(n), applies, disarms, checks.
 * Returns whether the fault fired (when it did not, n is past the batch's total). */
typedef void (*arm_fn)(long n);
typedef int (*fired_fn)(void);

static int run_once(fixture *fx, arm_fn arm, fired_fn fired, long n, const char *label) {
  char run[96];
  snprintf(run, sizeof run, "%s #%ld", label, n);
  batch b;
  batch_build(fx, &b);
  watermark before = raw_watermark(fx);
  arm(n);
  int rc = gv_engine_apply(fx->e, b.reqs, b.res, BATCH);
  int hit = fired();
  arm(0);
  if (getenv("GV_FAULT_TRACE"))
    for (int i = 0; i < BATCH; i++) fprintf(stderr, "  action %d: %s\n", i, b.res[i].err.code ? b.res[i].err.message : "ok");
  check_outcome(fx, &b, rc, before, run);
  batch_free(&b);
  fx->runs++;
  if (fx->runs % REOPEN_EVERY == 0) fixture_restore(fx);
  return hit;
}

static void arm_alloc(long n) {
  alloc_countdown = n;
  alloc_fired = 0;
  alloc_calls = 0;
}
static int alloc_hit(void) { return alloc_fired; }

static void arm_io(long n) {
  io_countdown = n;
  io_fired = 0;
  io_calls = 0;
}
static int io_hit(void) { return io_fired; }

/* A clean batch after the faults: the engine still works and acknowledges everything. */
static void run_clean(fixture *fx, const char *label) {
  batch b;
  batch_build(fx, &b);
  watermark before = raw_watermark(fx);
  int rc = gv_engine_apply(fx->e, b.reqs, b.res, BATCH);
  if (rc != GV_OK) die(label, b.res[0].err.message);
  for (int i = 0; i < BATCH; i++)
    if (b.res[i].err.code != GV_OK) die(label, b.res[i].err.message);
  check_outcome(fx, &b, rc, before, label);
  batch_free(&b);
  fx->runs++;
}

static long sweep(fixture *fx, arm_fn arm, fired_fn fired, const char *label) {
  long n = getenv("GV_FAULT_FROM") ? atol(getenv("GV_FAULT_FROM")) : 1;
  while (run_once(fx, arm, fired, n, label)) {
    if (getenv("GV_FAULT_TRACE")) fprintf(stderr, "%s #%ld %lld\n", label, n, (long long)gv_time_real_ms());
    if (n % 1000 == 0) fprintf(stderr, "%s: %ld runs\n", label, n);
    n++;
  }
  run_clean(fx, label);
  printf("%s: %ld faults injected, one per run, all recovered\n", label, n - 1);
  fflush(stdout);
  return n - 1;
}

int main(int argc, char **argv) {
  install_alloc_hooks();
  install_fault_vfs();
  gv_log_set_level(GV_LOG_ERROR + 1);
  fixture fx;
  fixture_setup(&fx);
  /* A clean batch first: it also loads what the engine caches. */
  run_clean(&fx, "clean");
  arm_alloc(0);
  run_clean(&fx, "counting");
  printf("a clean batch makes %ld allocations\n", alloc_calls);
  fflush(stdout);
  long allocs = sweep(&fx, arm_alloc, alloc_hit, "allocation");
  io_kinds = FAIL_WRITE;
  io_error = SQLITE_IOERR_WRITE;
  long writes = sweep(&fx, arm_io, io_hit, "write (I/O error)");
  io_error = SQLITE_FULL;
  sweep(&fx, arm_io, io_hit, "write (disk full)");
  io_persistent = 1;
  sweep(&fx, arm_io, io_hit, "write (I/O error from then on)");
  io_persistent = 0;
  io_kinds = FAIL_SYNC;
  io_error = SQLITE_IOERR_FSYNC;
  long syncs = sweep(&fx, arm_io, io_hit, "sync");
  io_kinds = 0;
  gv_engine_close(fx.e);
  fixture_open_engine(&fx);
  run_clean(&fx, "after reopening");
  gv_engine_close(fx.e);
  if (allocs < 100 || writes < 1 || syncs < 1) die("sweep", "the batch made fewer faultable calls than expected");
  tu_rmdir(fx.dir);
  (void)argc;
  (void)argv;
  return 0;
}
