/* The audit plugin: every event becomes a leaf of an append-only Merkle log (RFC 6962), with Ed25519-signed checkpoints. */
#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gavel/plugin.h"
#include "bundle.h"
#include "state.h"

#define HASH 32

typedef struct audit {
  char key_path[600];
  uint8_t priv[GV_SIGN_KEY_LEN];
  uint8_t pub[GV_SIGN_KEY_LEN];
  char origin[128];          /* first line of every checkpoint */
  char key_name[160];        /* the signature line's name */
  uint8_t key_id[4];
  int64_t last_signed_ms;    /* real time of the last checkpoint */
  int baseline_pending;      /* the log has entries but has not committed to the state yet */
} audit;

static const gv_plugin_migration migrations[] = {
  {1, "merkle log",
   "CREATE TABLE audit_leaves ("
   "  idx INTEGER PRIMARY KEY,"          /* 0, 1, 2, ... */
   "  event_id INTEGER NOT NULL UNIQUE,"
   "  salt BLOB NOT NULL,"               /* 16 random bytes inside the entry */
   "  hash BLOB NOT NULL"                /* SHA-256(0x00 || entry) */
   ");"
   "CREATE TABLE audit_nodes ("
   "  level INTEGER NOT NULL,"           /* a complete subtree of 2^level leaves */
   "  idx INTEGER NOT NULL,"             /* its position at that level */
   "  hash BLOB NOT NULL,"
   "  PRIMARY KEY (level, idx)"
   ") WITHOUT ROWID;"
   "CREATE TABLE audit_checkpoints ("
   "  size INTEGER PRIMARY KEY,"
   "  root BLOB NOT NULL,"
   "  note TEXT NOT NULL,"               /* the signed note, as published */
   "  at INTEGER NOT NULL"
   ");"},
  /* The state rows each event wrote, as the entry holds them (NULL: logged before the log
   * committed to the state, or by an older Gavel). */
  {2, "state rows", "ALTER TABLE audit_leaves ADD COLUMN state_rows TEXT;"},
};

/* ---- Hashing (RFC 6962) ----------------------------------------------------------------------- */

void audit_leaf_hash(const char *entry, size_t len, uint8_t out[HASH]) {
  gv_hash *c = gv_hash_sha256_begin();
  uint8_t zero = 0;
  gv_hash_sha256_add(c, &zero, 1);
  gv_hash_sha256_add(c, entry, len);
  gv_hash_sha256_end(c, out);
}

void audit_node_hash(const uint8_t l[HASH], const uint8_t r[HASH], uint8_t out[HASH]) {
  gv_hash *c = gv_hash_sha256_begin();
  uint8_t one = 1;
  gv_hash_sha256_add(c, &one, 1);
  gv_hash_sha256_add(c, l, HASH);
  gv_hash_sha256_add(c, r, HASH);
  gv_hash_sha256_end(c, out);
}

/* The canonical entry of an event: its fields, the state rows it wrote and the leaf's salt as
 * JSON with sorted keys.
 * The same bytes are rebuilt from the events table by `gavel audit verify`. The salt keeps
 * a published leaf hash from being matched against guesses: a hidden stance has only a
 * few possible values, and the other fields of its event are easy to guess. */
#define SALT 16
char *audit_entry_of(const uint8_t *salt, size_t salt_len, json_t *rows, int64_t id, const char *forum, int64_t item_id,
                      const char *kind, const char *action, int64_t actor_id, const char *member, int64_t at,
                      const char *from, const char *to, const char *params, int sealed) {
  char sb[64] = "";
  if (salt && salt_len == SALT) gv_text_base64(salt, SALT, sb);
  json_t *p = json_loads(params ? params : "{}", JSON_DECODE_ANY, NULL);
  json_t *o = json_pack("{s:s, s:I, s:s, s:o, s:s, s:s, s:o, s:o, s:I, s:o, s:o, s:o, s:b}", "salt", sb, "id", (json_int_t)id, "forum",
                        forum, "item_id", item_id ? json_integer(item_id) : json_null(), "kind", kind, "action", action,
                        "actor_id", actor_id ? json_integer(actor_id) : json_null(), "member",
                        member ? json_string(member) : json_null(), "at", (json_int_t)at, "from_state",
                        from ? json_string(from) : json_null(), "to_state", to ? json_string(to) : json_null(), "params",
                        p ? p : json_null(), "sealed", sealed);
  /* The state rows the event wrote: [[table, rowid, base64 digest, or null if deleted], ...].
   * An entry logged before the log committed to the state has no "rows" at all, so its
   * bytes (and its leaf hash) are what they always were. */
  if (o && rows) json_object_set(o, "rows", rows);
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  return s;
}

/* ---- Reading the tree --------------------------------------------------------------------------- */

typedef struct hrow {
  uint8_t h[HASH];
  int found;
  int64_t i;
} hrow;

static int read_hash(void *ud, const gv_row *r) {
  hrow *x = ud;
  size_t n;
  const void *b = gv_row_blob(r, 0, &n);
  if (b && n == HASH) {
    memcpy(x->h, b, HASH);
    x->found = 1;
  }
  return 1;
}

static int read_int(void *ud, const gv_row *r) {
  hrow *x = ud;
  x->i = gv_row_is_null(r, 0) ? -1 : gv_row_int(r, 0);
  x->found = 1;
  return 1;
}

/* The hash of the complete subtree (level, idx): a leaf at level 0. */
static int node_at(gv_host *h, int level, int64_t idx, uint8_t out[HASH], gv_error *err) {
  hrow x = {0};
  gv_arg a[2] = {GV_INT(idx), GV_INT(level)};
  int rc = level == 0 ? gv_host_sql(h, "SELECT hash FROM audit_leaves WHERE idx = ?1", a, 1, read_hash, &x, err)
                      : gv_host_sql(h, "SELECT hash FROM audit_nodes WHERE idx = ?1 AND level = ?2", a, 2, read_hash, &x, err);
  if (rc != GV_OK) return rc;
  if (!x.found) return gv_error_set(err, GV_ESTORE, NULL, "audit log: missing node %d/%lld", level, (long long)idx);
  memcpy(out, x.h, HASH);
  return GV_OK;
}

static int64_t log_size(gv_host *h, gv_error *err) {
  hrow x = {0};
  if (gv_host_sql(h, "SELECT max(idx) FROM audit_leaves", NULL, 0, read_int, &x, err) != GV_OK) return -1;
  return x.i + 1;
}

static int64_t largest_pow2_below(int64_t n) {
  int64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/* MTH of leaves [a, b): a stored node when the range is an aligned power of two. */
static int range_hash(gv_host *h, int64_t a, int64_t b, uint8_t out[HASH], gv_error *err) {
  int64_t n = b - a;
  if ((n & (n - 1)) == 0) {
    int level = 0;
    while ((1LL << level) < n) level++;
    if (a % n == 0) return node_at(h, level, a >> level, out, err);
  }
  int64_t k = largest_pow2_below(n);
  uint8_t l[HASH], r[HASH];
  int rc = range_hash(h, a, a + k, l, err);
  if (rc == GV_OK) rc = range_hash(h, a + k, b, r, err);
  if (rc == GV_OK) audit_node_hash(l, r, out);
  return rc;
}

static int root_at(gv_host *h, int64_t size, uint8_t out[HASH], gv_error *err) {
  if (size == 0) {
    gv_hash_sha256("", 0, out);
    return GV_OK;
  }
  return range_hash(h, 0, size, out, err);
}

/* RFC 6962 2.1.1: the audit path of leaf m in the tree of leaves [a, b). */
static int inclusion(gv_host *h, int64_t m, int64_t a, int64_t b, json_t *path, gv_error *err) {
  int64_t n = b - a;
  if (n <= 1) return GV_OK;
  int64_t k = largest_pow2_below(n);
  uint8_t x[HASH];
  char b64[64];
  int rc;
  if (m - a < k) {
    if ((rc = inclusion(h, m, a, a + k, path, err)) != GV_OK) return rc;
    if ((rc = range_hash(h, a + k, b, x, err)) != GV_OK) return rc;
  } else {
    if ((rc = inclusion(h, m, a + k, b, path, err)) != GV_OK) return rc;
    if ((rc = range_hash(h, a, a + k, x, err)) != GV_OK) return rc;
  }
  gv_text_base64(x, HASH, b64);
  json_array_append_new(path, json_string(b64));
  return GV_OK;
}

/* RFC 6962 2.1.2: SUBPROOF(m, D[a:b], complete). */
static int subproof(gv_host *h, int64_t m, int64_t a, int64_t b, int complete, json_t *proof, gv_error *err) {
  int64_t n = b - a;
  uint8_t x[HASH];
  char b64[64];
  int rc;
  if (m == n) {
    if (complete) return GV_OK;
    if ((rc = range_hash(h, a, b, x, err)) != GV_OK) return rc;
    gv_text_base64(x, HASH, b64);
    json_array_append_new(proof, json_string(b64));
    return GV_OK;
  }
  int64_t k = largest_pow2_below(n);
  if (m <= k) {
    if ((rc = subproof(h, m, a, a + k, complete, proof, err)) != GV_OK) return rc;
    if ((rc = range_hash(h, a + k, b, x, err)) != GV_OK) return rc;
  } else {
    if ((rc = subproof(h, m - k, a + k, b, 0, proof, err)) != GV_OK) return rc;
    if ((rc = range_hash(h, a, a + k, x, err)) != GV_OK) return rc;
  }
  gv_text_base64(x, HASH, b64);
  json_array_append_new(proof, json_string(b64));
  return GV_OK;
}

/* ---- Appending ---------------------------------------------------------------------------------- */

/* Appends the leaf of one event (fields as entry_of takes them, after the salt). */
static int append_leaf(gv_host *h, json_t *rows, int64_t event_id, const char *forum, int64_t item_id, const char *kind,
                       const char *action, int64_t actor_id, const char *member, int64_t at, const char *from,
                       const char *to, const char *params, int sealed, int64_t *index, gv_error *err) {
  uint8_t salt[SALT], leaf[HASH];
  if (gv_random_bytes(salt, SALT) != GV_OK) return gv_error_set(err, GV_EIO, NULL, "no random bytes for the audit log");
  char *entry = audit_entry_of(salt, SALT, rows, event_id, forum, item_id, kind, action, actor_id, member, at, from, to, params,
                         sealed);
  char *rows_text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
  if (entry == NULL || (rows && rows_text == NULL)) {
    free(entry);
    free(rows_text);
    return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  }
  audit_leaf_hash(entry, strlen(entry), leaf);
  free(entry);
  int64_t idx = log_size(h, err);
  if (idx < 0) {
    free(rows_text);
    return GV_ESTORE;
  }
  gv_arg a[5] = {GV_INT(idx), GV_INT(event_id), GV_BLOB(salt, SALT), GV_BLOB(leaf, HASH),
                 rows_text ? GV_TEXT(rows_text) : GV_NULL_ARG};
  int rc = gv_host_sql(h, "INSERT INTO audit_leaves(idx, event_id, salt, hash, state_rows) VALUES (?1, ?2, ?3, ?4, ?5)",
                       a, 5, NULL, NULL, err);
  free(rows_text);
  if (rc != GV_OK) return rc;
  /* Complete the subtrees this leaf closes: while it is a right child, hash with the left. */
  uint8_t cur[HASH];
  memcpy(cur, leaf, HASH);
  int64_t i = idx;
  for (int level = 0; i % 2 == 1; level++, i /= 2) {
    uint8_t left[HASH], parent[HASH];
    if ((rc = node_at(h, level, i - 1, left, err)) != GV_OK) return rc;
    audit_node_hash(left, cur, parent);
    gv_arg n[3] = {GV_INT(level + 1), GV_INT(i / 2), GV_BLOB(parent, HASH)};
    rc = gv_host_sql(h, "INSERT INTO audit_nodes(level, idx, hash) VALUES (?1, ?2, ?3)", n, 3, NULL, NULL, err);
    if (rc != GV_OK) return rc;
    memcpy(cur, parent, HASH);
  }
  *index = idx;
  return GV_OK;
}

static int64_t committed_entries(gv_host *h, gv_error *err) {
  hrow x = {0};
  if (gv_host_sql(h, "SELECT count(*) FROM audit_leaves WHERE state_rows IS NOT NULL", NULL, 0, read_int, &x, err) != GV_OK)
    return -1;
  return x.i;
}

static int on_event(void *state, gv_host *h, const gv_plugin_event *ev, gv_error *err) {
  audit *a = state;
  int64_t index;
  int has_rows = ev->size >= offsetof(gv_plugin_event, state_digest) + sizeof ev->state_digest;
  const gv_state_row *rows = has_rows ? ev->rows : NULL;
  size_t nrows = has_rows ? ev->nrows : 0;
  json_t *rj = NULL;
  int rc = GV_OK;
  if (a->baseline_pending) {
    /* The first entry to commit to the state takes it as it finds it (see catch_up). */
    int64_t committed = committed_entries(h, err);
    if (committed < 0) return GV_ESTORE;
    if (committed > 0) a->baseline_pending = 0;
    else rc = audit_state_baseline(h, rows, nrows, &rj, err);
  }
  if (rc == GV_OK && rj == NULL && has_rows && (rj = audit_rows_json(rows, nrows)) == NULL)
    rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  if (rc == GV_OK)
    rc = append_leaf(h, rj, ev->id, ev->forum_id, ev->item_id, ev->kind, ev->action, ev->actor_id, ev->member, ev->at,
                     ev->from_state, ev->to_state, ev->params_json, ev->sealed, &index, err);
  json_decref(rj);
  if (rc == GV_OK) gv_host_receipt_int(h, "audit_index", index);
  return rc;
}

/* ---- Checkpoints (C2SP signed notes) -------------------------------------------------------- */

static void note_body(const audit *a, int64_t size, const uint8_t root[HASH], char *out, size_t n) {
  char b64[64];
  gv_text_base64(root, HASH, b64);
  snprintf(out, n, "%s\n%lld\n%s\n", a->origin, (long long)size, b64);
}

static void sign_note(const audit *a, const char *body, char *out, size_t n) {
  uint8_t sig[4 + GV_SIGN_SIG_LEN];
  memcpy(sig, a->key_id, 4);
  gv_sign_ed25519(a->priv, body, strlen(body), sig + 4);
  char b64[128];
  gv_text_base64(sig, sizeof sig, b64);
  snprintf(out, n, "%s\n\u2014 %s %s\n", body, a->key_name, b64);
}

typedef struct cp_ctx {
  audit *a;
  int64_t size;
} cp_ctx;

static int write_checkpoint(void *ud, gv_host *h, gv_error *err) {
  cp_ctx *c = ud;
  int64_t size = log_size(h, err);
  if (size < 0) return GV_ESTORE;
  hrow last = {0};
  if (gv_host_sql(h, "SELECT max(size) FROM audit_checkpoints", NULL, 0, read_int, &last, err) != GV_OK) return GV_ESTORE;
  c->size = size;
  if (size == 0 || (last.found && last.i >= size)) return GV_OK;
  uint8_t root[HASH];
  int rc = root_at(h, size, root, err);
  if (rc != GV_OK) return rc;
  char body[512], note[1024];
  note_body(c->a, size, root, body, sizeof body);
  sign_note(c->a, body, note, sizeof note);
  gv_arg args[4] = {GV_INT(size), GV_BLOB(root, HASH), GV_TEXT(note), GV_INT(gv_clock_real_ms())};
  return gv_host_sql(h, "INSERT INTO audit_checkpoints(size, root, note, at) VALUES (?1, ?2, ?3, ?4)", args, 4, NULL, NULL,
                     err);
}

static int checkpoint_now(audit *a, gv_host *h, gv_error *err) {
  cp_ctx c = {a, 0};
  int rc = gv_host_transaction(h, write_checkpoint, &c, err);
  if (rc == GV_OK) a->last_signed_ms = gv_clock_real_ms();
  return rc;
}

/* After commits, a new checkpoint at most once a second (a read asks for a fresh one). */
static void on_commit(void *state, gv_host *h, int64_t first, int64_t last) {
  audit *a = state;
  (void)first;
  (void)last;
  if (gv_clock_real_ms() - a->last_signed_ms < 1000) return;
  gv_error err;
  if (checkpoint_now(a, h, &err) != GV_OK) gv_host_log(h, GV_LOG_ERROR, "checkpoint_failed", err.message);
}

/* ---- Keys ------------------------------------------------------------------------------------- */

/* The signing key: read if present (and private to the server's user); made on the very
 * first start only, so a lost key is noticed instead of silently replaced. */
static int load_key(audit *a, gv_host *h, gv_error *err) {
  FILE *f = fopen(a->key_path, "rb");
  if (f) {
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
      fclose(f);
      return gv_error_set(err, GV_ECONFIG, NULL, "audit key %s can be read by other users; chmod 600 it", a->key_path);
    }
    size_t n = fread(a->priv, 1, sizeof a->priv, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (n != sizeof a->priv || extra) return gv_error_set(err, GV_ECONFIG, NULL, "audit key %s is damaged", a->key_path);
    return gv_sign_public(a->priv, a->pub);
  }
  if (errno != ENOENT)
    return gv_error_set(err, GV_EIO, NULL, "cannot read the audit key %s: %s", a->key_path, strerror(errno));
  hrow signed_before = {0};
  if (gv_host_sql(h, "SELECT count(*) FROM audit_checkpoints", NULL, 0, read_int, &signed_before, err) != GV_OK)
    return GV_ESTORE;
  if (signed_before.i > 0)
    return gv_error_set(err, GV_ECONFIG, NULL,
                        "the audit key %s is missing, but %lld checkpoints were signed with it: restore the key "
                        "file (see plugins/audit/README.md)",
                        a->key_path, (long long)signed_before.i);
  if (gv_sign_keygen(a->priv, a->pub) != GV_OK) return gv_error_set(err, GV_EIO, NULL, "cannot make an audit key");
  mode_t old = umask(077);
  f = fopen(a->key_path, "wbx");
  umask(old);
  if (f == NULL)
    return gv_error_set(err, GV_EIO, NULL, "cannot write the audit key %s: %s", a->key_path, strerror(errno));
  int ok = fwrite(a->priv, 1, sizeof a->priv, f) == sizeof a->priv && fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (fclose(f) != 0) ok = 0;
  if (!ok) {
    unlink(a->key_path);
    return gv_error_set(err, GV_EIO, NULL, "cannot write the audit key %s", a->key_path);
  }
  return GV_OK;
}

/* The note verifier key: name+hex(key id)+base64(0x01 || public key), as C2SP specifies. */
static void verifier_key(const audit *a, char *out, size_t n) {
  uint8_t k[1 + GV_SIGN_KEY_LEN];
  k[0] = 0x01;
  memcpy(k + 1, a->pub, GV_SIGN_KEY_LEN);
  char b64[64], hex[9];
  gv_text_base64(k, sizeof k, b64);
  gv_text_hex(a->key_id, 4, hex);
  snprintf(out, n, "%s+%s+%s", a->key_name, hex, b64);
}

typedef struct catch_ctx {
  gv_host *h;
  gv_error *err;
  int rc;
  int64_t n, first, last;
  int64_t final;           /* the last event to catch up */
} catch_ctx;

static int catch_row(void *ud, const gv_row *r) {
  catch_ctx *c = ud;
  int64_t idx;
  json_t *rows = NULL;
  if (c->n == 0) c->first = gv_row_int(r, 0);
  c->last = gv_row_int(r, 0);
  /* The rows those events wrote are not known one by one: the last of them takes every
   * row that differs from what the log says, so the log goes on from the state it found. */
  if (c->last == c->final && (c->rc = audit_state_baseline(c->h, NULL, 0, &rows, c->err)) != GV_OK) return 1;
  c->rc = append_leaf(c->h, rows, gv_row_int(r, 0), gv_row_text(r, 1), gv_row_int(r, 2), gv_row_text(r, 3), gv_row_text(r, 4),
                      gv_row_int(r, 5), gv_row_text(r, 6), gv_row_int(r, 7), gv_row_text(r, 8), gv_row_text(r, 9),
                      gv_row_text(r, 10), (int)gv_row_int(r, 11), &idx, c->err);
  json_decref(rows);
  c->n++;
  return c->rc != GV_OK;
}

/* Events written while the plugin was not running (it was disabled, or the database is
 * older than it) join the log when it starts, in the order they were written. */
static int catch_up(void *ud, gv_host *h, gv_error *err) {
  audit *a = ud;
  catch_ctx c = {h, err, GV_OK, 0, 0, 0, 0};
  hrow final = {0};
  int rc = gv_host_sql(h, "SELECT max(id) FROM events WHERE id > (SELECT coalesce(max(event_id), 0) FROM audit_leaves)",
                       NULL, 0, read_int, &final, err);
  if (rc != GV_OK) return rc;
  c.final = final.i;
  /* A log written before it committed to the state (by an older Gavel) takes the state as
   * it finds it with the next event. */
  int64_t size = log_size(h, err), committed = committed_entries(h, err);
  if (size < 0 || committed < 0) return GV_ESTORE;
  a->baseline_pending = c.final <= 0 && size > 0 && committed == 0;
  rc = gv_host_sql(h,
                       "SELECT id, forum_id, item_id, kind, action, actor_id, member, at, from_state, to_state, params,"
                       " sealed FROM events WHERE id > (SELECT coalesce(max(event_id), 0) FROM audit_leaves) ORDER BY id",
                       NULL, 0, catch_row, &c, err);
  if (rc == GV_OK) rc = c.rc;
  if (rc == GV_OK && c.n > 0) {
    /* Written while the log was off, or straight into the database: either way someone
     * should know which. */
    char msg[160];
    snprintf(msg, sizeof msg, "%lld events written while the log was not running were added: ids %lld to %lld",
             (long long)c.n, (long long)c.first, (long long)c.last);
    gv_host_log(h, GV_LOG_WARN, "caught_up", msg);
  }
  return rc;
}

/* gavel.call("audit.head") in a workflow: the log's size and root hash so far, inside the
 * action's transaction (e.g. to cite in a decision the log it was taken against). */
static int wf_head(void *state, gv_host *h, const char *args_json, char **result_json, gv_error *err) {
  (void)state;
  (void)args_json;
  int64_t size = log_size(h, err);
  if (size < 0) return GV_ESTORE;
  char b64[64] = "";
  if (size > 0) {
    uint8_t root[HASH];
    int rc = root_at(h, size, root, err);
    if (rc != GV_OK) return rc;
    gv_text_base64(root, HASH, b64);
  }
  json_t *o = json_pack("{s:I, s:s}", "size", (json_int_t)size, "root", b64);
  *result_json = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return *result_json ? GV_OK : gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
}

static int init(gv_host *h, const char *config_json, void **state, gv_error *err) {
  audit *a = calloc(1, sizeof *a);
  *state = a;
  json_t *cfg = json_loads(config_json, 0, NULL);
  const char *name;
  json_t *v;
  json_object_foreach(cfg, name, v) {
    if (strcmp(name, "key_file") != 0 || !json_is_string(v) || json_string_length(v) == 0) {
      int known = strcmp(name, "key_file") == 0;
      gv_error_set(err, GV_ECONFIG, NULL,
                   known ? "plugins.audit: %s must be a file path" : "plugins.audit: unknown setting '%s' (known: key_file)",
                   name);
      json_decref(cfg);
      return GV_ECONFIG;
    }
  }
  const char *key = json_string_value(json_object_get(cfg, "key_file"));
  /* A relative key_file is beside the database, so the server and commands agree on it. */
  const char *db = gv_host_db_path(h), *slash = strrchr(db, '/');
  int w;
  if (key && key[0] == '/') w = snprintf(a->key_path, sizeof a->key_path, "%s", key);
  else if (key && slash) w = snprintf(a->key_path, sizeof a->key_path, "%.*s/%s", (int)(slash - db), db, key);
  else if (key) w = snprintf(a->key_path, sizeof a->key_path, "%s", key);
  else w = snprintf(a->key_path, sizeof a->key_path, "%s.audit-key", db);
  if (w < 0 || (size_t)w >= sizeof a->key_path) {
    json_decref(cfg);
    return gv_error_set(err, GV_ECONFIG, NULL, "plugins.audit: the key file's path is too long");
  }
  json_decref(cfg);
  int rc = gv_host_migrations(h, migrations, sizeof migrations / sizeof migrations[0], err);
  if (rc == GV_OK) rc = load_key(a, h, err);
  if (rc != GV_OK) return rc;
  snprintf(a->origin, sizeof a->origin, "%s.gavel/audit", gv_host_forum_id(h));
  snprintf(a->key_name, sizeof a->key_name, "%s.gavel", gv_host_forum_id(h));
  /* key id = SHA-256(name || 0x0A || 0x01 || public key)[:4] */
  gv_hash *c = gv_hash_sha256_begin();
  uint8_t nl = 0x0A, alg = 0x01, d[GV_HASH_SHA256_LEN];
  gv_hash_sha256_add(c, a->key_name, strlen(a->key_name));
  gv_hash_sha256_add(c, &nl, 1);
  gv_hash_sha256_add(c, &alg, 1);
  gv_hash_sha256_add(c, a->pub, GV_SIGN_KEY_LEN);
  gv_hash_sha256_end(c, d);
  memcpy(a->key_id, d, 4);
  gv_host_on_event(h, on_event);
  gv_host_on_commit(h, on_commit);
  gv_host_workflow_function(h, "head", wf_head);
  /* `gavel audit verify` must see events missing from the log, not add them. */
  return gv_host_for_command(h) ? GV_OK : gv_host_transaction(h, catch_up, a, err);
}

static void shutdown_audit(void *state) {
  audit *a = state;
  if (a) gv_random_wipe(a->priv, sizeof a->priv);
  free(a);
}

/* ---- Routes ----------------------------------------------------------------------------------- */

typedef struct note_row {
  char *note;
  int64_t size;
} note_row;

static int read_note(void *ud, const gv_row *r) {
  note_row *n = ud;
  n->size = gv_row_int(r, 0);
  n->note = strdup(gv_row_text(r, 1));
  return 1;
}

static void r_checkpoint(void *state, gv_host *h, gv_request *r) {
  audit *a = state;
  gv_error err;
  /* A fresh checkpoint covers everything committed so far. */
  if (checkpoint_now(a, h, &err) != GV_OK) {
    gv_request_error(r, GV_ESTORE, err.message, NULL);
    return;
  }
  note_row n = {NULL, 0};
  if (gv_host_sql(h, "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1", NULL, 0, read_note, &n,
                  &err) != GV_OK || n.note == NULL) {
    gv_request_error(r, GV_ENOTFOUND, "the audit log is empty", NULL);
    return;
  }
  gv_request_reply(r, 200, "text/plain; charset=utf-8", n.note, strlen(n.note));
  free(n.note);
}

static void r_key(void *state, gv_host *h, gv_request *r) {
  char vkey[300];
  (void)h;
  verifier_key(state, vkey, sizeof vkey);
  json_t *o = json_pack("{s:s, s:s}", "verifier_key", vkey, "origin", ((audit *)state)->origin);
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  gv_request_reply(r, 200, "application/json", s, strlen(s));
  free(s);
}

static int query_int(gv_request *r, const char *name, int64_t *out) {
  char buf[32];
  const char *v = gv_request_query(r, name, buf, sizeof buf);
  char *end;
  if (v == NULL || *v == '\0') return -1;
  long long n = strtoll(v, &end, 10);
  if (*end || n < 0) return -1;
  *out = n;
  return 0;
}

static void reply_json(gv_request *r, json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  gv_request_reply(r, 200, "application/json", s, strlen(s));
  free(s);
}

static void r_inclusion(void *state, gv_host *h, gv_request *r) {
  int64_t event_id = 0, size = 0;
  gv_error err;
  (void)state;
  if (query_int(r, "event_id", &event_id) != 0 || query_int(r, "size", &size) != 0) {
    gv_request_error(r, GV_EPARSE, "give event_id and size (the checkpoint's size)", NULL);
    return;
  }
  hrow x = {0};
  gv_arg a[1] = {GV_INT(event_id)};
  if (gv_host_sql(h, "SELECT idx FROM audit_leaves WHERE event_id = ?1", a, 1, read_int, &x, &err) != GV_OK || !x.found) {
    gv_request_error(r, GV_ENOTFOUND, "no such event in the audit log", "event_id");
    return;
  }
  int64_t n = log_size(h, &err);
  if (size <= x.i || size > n) {
    gv_request_error(r, GV_EPARAM, "size must be larger than the entry's index and at most the log's size", "size");
    return;
  }
  uint8_t leaf[HASH], root[HASH];
  json_t *path = json_array();
  if (node_at(h, 0, x.i, leaf, &err) != GV_OK || inclusion(h, x.i, 0, size, path, &err) != GV_OK ||
      root_at(h, size, root, &err) != GV_OK) {
    json_decref(path);
    gv_request_error(r, GV_ESTORE, err.message, NULL);
    return;
  }
  char lb[64], rb[64];
  gv_text_base64(leaf, HASH, lb);
  gv_text_base64(root, HASH, rb);
  reply_json(r, json_pack("{s:I, s:I, s:I, s:s, s:s, s:o}", "event_id", (json_int_t)event_id, "index", (json_int_t)x.i,
                          "size", (json_int_t)size, "leaf_hash", lb, "root", rb, "proof", path));
}

static void r_consistency(void *state, gv_host *h, gv_request *r) {
  int64_t from = 0, to = 0;
  gv_error err;
  (void)state;
  if (query_int(r, "from", &from) != 0 || query_int(r, "to", &to) != 0) {
    gv_request_error(r, GV_EPARSE, "give from and to (two checkpoint sizes)", NULL);
    return;
  }
  int64_t n = log_size(h, &err);
  if (from < 1 || from > to || to > n) {
    gv_request_error(r, GV_EPARAM, "need 1 <= from <= to <= the log's size", "from");
    return;
  }
  json_t *proof = json_array();
  uint8_t old_root[HASH], new_root[HASH];
  if ((from < to && subproof(h, from, 0, to, 1, proof, &err) != GV_OK) || root_at(h, from, old_root, &err) != GV_OK ||
      root_at(h, to, new_root, &err) != GV_OK) {
    json_decref(proof);
    gv_request_error(r, GV_ESTORE, err.message, NULL);
    return;
  }
  char ob[64], nb[64];
  gv_text_base64(old_root, HASH, ob);
  gv_text_base64(new_root, HASH, nb);
  reply_json(r, json_pack("{s:I, s:I, s:s, s:s, s:o}", "from", (json_int_t)from, "to", (json_int_t)to, "old_root", ob,
                          "new_root", nb, "proof", proof));
}

/* ---- Commands ----------------------------------------------------------------------------------- */

typedef struct verify_ctx {
  gv_host *h;
  audit *a;
  int64_t checked;
  int problems;
  int64_t expect_idx;
} verify_ctx;

static void problem(verify_ctx *v, const char *fmt, long long a1, long long a2) {
  if (v->problems++ < 20) {
    fprintf(stdout, "problem: ");
    fprintf(stdout, fmt, a1, a2);
    fprintf(stdout, "\n");
  }
}

/* Recomputes one leaf from its event row and compares it with the stored one. */
static int verify_row(void *ud, const gv_row *r) {
  verify_ctx *v = ud;
  int64_t idx = gv_row_int(r, 0), event_id = gv_row_int(r, 1);
  size_t n;
  const uint8_t *stored = gv_row_blob(r, 2, &n);
  if (idx != v->expect_idx) problem(v, "leaf %lld is missing (next is %lld)", (long long)v->expect_idx, (long long)idx);
  v->expect_idx = idx + 1;
  if (gv_row_is_null(r, 3)) {
    problem(v, "entry %lld: event %lld was removed from the record", (long long)idx, (long long)event_id);
    return 0;
  }
  size_t salt_len = 0;
  const uint8_t *salt = gv_row_blob(r, 15, &salt_len);
  json_t *rows = gv_row_is_null(r, 16) ? NULL : json_loads(gv_row_text(r, 16), 0, NULL);
  char *entry = audit_entry_of(salt, salt_len, rows ? rows : gv_row_is_null(r, 16) ? NULL : json_null(), gv_row_int(r, 3), gv_row_text(r, 4), gv_row_int(r, 5), gv_row_text(r, 6),
                         gv_row_text(r, 7), gv_row_int(r, 8), gv_row_text(r, 9), gv_row_int(r, 10), gv_row_text(r, 11),
                         gv_row_text(r, 12), gv_row_text(r, 13), (int)gv_row_int(r, 14));
  json_decref(rows);
  uint8_t leaf[HASH];
  audit_leaf_hash(entry, strlen(entry), leaf);
  free(entry);
  if (n != HASH || memcmp(leaf, stored, HASH) != 0)
    problem(v, "entry %lld: event %lld was changed after it was logged", (long long)idx, (long long)event_id);
  v->checked++;
  return 0;
}

typedef struct cps {
  verify_ctx *v;
  int64_t count;
  int64_t prev;
} cps;

static int verify_checkpoint(void *ud, const gv_row *r) {
  cps *c = ud;
  verify_ctx *v = c->v;
  int64_t size = gv_row_int(r, 0);
  const char *note = gv_row_text(r, 1);
  uint8_t root[HASH];
  gv_error err;
  c->count++;
  if (root_at(v->h, size, root, &err) != GV_OK) {
    problem(v, "checkpoint of size %lld: %lld leaves are missing", (long long)size, 0);
    return 0;
  }
  char body[512];
  note_body(v->a, size, root, body, sizeof body);
  /* The note must be exactly this body, signed by the log's key. */
  size_t bl = strlen(body);
  const char *sigline = strstr(note, "\n\u2014 ");
  char want_prefix[200];
  snprintf(want_prefix, sizeof want_prefix, "\n\u2014 %s ", v->a->key_name);
  if (strncmp(note, body, bl) != 0 || sigline == NULL || (size_t)(sigline - note) != bl ||
      strncmp(sigline, want_prefix, strlen(want_prefix)) != 0) {
    problem(v, "checkpoint of size %lld does not match the log (the log was rewritten)", (long long)size, 0);
    return 0;
  }
  char b64[160];
  snprintf(b64, sizeof b64, "%s", sigline + strlen(want_prefix));
  b64[strcspn(b64, "\n")] = '\0';
  uint8_t sig[100];
  long sl = gv_text_unbase64(b64, sig, sizeof sig);
  if (sl != 4 + GV_SIGN_SIG_LEN || memcmp(sig, v->a->key_id, 4) != 0 ||
      !gv_sign_verify(v->a->pub, body, bl, sig + 4))
    problem(v, "checkpoint of size %lld has a bad signature", (long long)size, 0);
  c->prev = size;
  return 0;
}

typedef struct state_check {
  verify_ctx *v;
  int64_t differences;
} state_check;

/* One row of the database that is not what the log says the last event to write it left. */
static int report_row(void *ud, const char *table, int64_t rowid, audit_row_diff kind, const uint8_t *current,
                      int64_t event_id) {
  state_check *s = ud;
  (void)current;
  s->differences++;
  if (s->v->problems++ >= 20) return 0;
  if (kind == AUDIT_ROW_CHANGED)
    printf("problem: %s row %lld: changed since event %lld\n", table, (long long)rowid, (long long)event_id);
  else if (kind == AUDIT_ROW_MISSING)
    printf("problem: %s row %lld: deleted since event %lld\n", table, (long long)rowid, (long long)event_id);
  else if (kind == AUDIT_ROW_RESURRECTED)
    printf("problem: %s row %lld: present, but event %lld deleted it\n", table, (long long)rowid, (long long)event_id);
  else
    printf("problem: %s row %lld: written by no event in the log\n", table, (long long)rowid);
  return 0;
}

static int cmd_verify(void *state, gv_host *h, int argc, char **argv) {
  (void)argc;
  (void)argv;
  verify_ctx v = {h, state, 0, 0, 0};
  gv_error err;
  /* Every leaf against its event, and every event has a leaf. */
  if (gv_host_sql(h,
                  "SELECT l.idx, l.event_id, l.hash, e.id, e.forum_id, e.item_id, e.kind, e.action, e.actor_id,"
                  " e.member, e.at, e.from_state, e.to_state, e.params, e.sealed, l.salt, l.state_rows"
                  " FROM audit_leaves l LEFT JOIN events e ON e.id = l.event_id ORDER BY l.idx",
                  NULL, 0, verify_row, &v, &err) != GV_OK) {
    fprintf(stderr, "gavel audit verify: %s\n", err.message);
    return 1;
  }
  hrow missing = {0};
  gv_host_sql(h, "SELECT count(*) FROM events WHERE id NOT IN (SELECT event_id FROM audit_leaves)", NULL, 0, read_int,
              &missing, &err);
  if (missing.i > 0) problem(&v, "%lld events are not in the audit log", (long long)missing.i, 0);
  /* Every complete subtree stored agrees with the leaves below it. */
  int64_t size = v.expect_idx;
  for (int level = 1; (1LL << level) <= size; level++)
    for (int64_t i = 0; (i + 1) << level <= size; i++) {
      uint8_t l[HASH], r[HASH], want[HASH], got[HASH];
      if (node_at(h, level - 1, 2 * i, l, &err) != GV_OK || node_at(h, level - 1, 2 * i + 1, r, &err) != GV_OK ||
          node_at(h, level, i, got, &err) != GV_OK) {
        problem(&v, "tree node %lld/%lld is missing", level, (long long)i);
        continue;
      }
      audit_node_hash(l, r, want);
      if (memcmp(want, got, HASH) != 0) problem(&v, "tree node %lld/%lld was changed", level, (long long)i);
    }
  cps c = {&v, 0, 0};
  gv_host_sql(h, "SELECT size, note FROM audit_checkpoints ORDER BY size", NULL, 0, verify_checkpoint, &c, &err);
  /* The state: every row of the database is what the last entry to write it says. */
  state_check sc = {&v, 0};
  int64_t committed = committed_entries(h, &err);
  if (committed < 0 || (committed > 0 && audit_state_diff(h, report_row, &sc, NULL, &err) != GV_OK)) {
    fprintf(stderr, "gavel audit verify: %s\n", err.message);
    return 1;
  }
  uint8_t root[HASH];
  char b64[64] = "";
  if (root_at(h, size, root, &err) == GV_OK) gv_text_base64(root, HASH, b64);
  if (v.problems) {
    printf("FAILED: %d problem(s) in %lld entries and %lld checkpoints\n", v.problems, (long long)size, (long long)c.count);
    return 1;
  }
  printf("ok: %lld entries, %lld checkpoints verified; root %s\n", (long long)size, (long long)c.count, b64);
  if (committed == 0 && size > 0)
    printf("the log has not committed to the state yet (its entries predate that): the next event will\n");
  else
    printf("the stored state matches the log\n");
  return 0;
}

/* Writes the bundle (README.md, "The bundle"): everything needed to check the log away from
 * the server, with a checkpoint signed first so every entry is covered by a signature. The
 * payloads of results still hidden are left out (their leaf hashes stay) unless --archive
 * asks for the secretariat's complete archive. */
static int cmd_export(void *state, gv_host *h, int argc, char **argv) {
  audit *a = state;
  const char *path = NULL;
  int archive = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--archive") == 0) archive = 1;
    else if (path == NULL && argv[i][0] != '-') path = argv[i];
    else {
      fprintf(stderr, "gavel audit export: unknown argument %s (usage: [--archive] [FILE])\n", argv[i]);
      return 1;
    }
  }
  gv_error err;
  if (checkpoint_now(a, h, &err) != GV_OK) {
    fprintf(stderr, "gavel audit export: %s\n", err.message);
    return 1;
  }
  FILE *out = stdout;
  if (path) {
    mode_t old = umask(077);
    out = fopen(path, "wx");
    umask(old);
    if (out == NULL) {
      fprintf(stderr, "gavel audit export: cannot create %s (it must not exist)\n", path);
      return 1;
    }
  }
  char vkey[300];
  verifier_key(a, vkey, sizeof vkey);
  int64_t n = 0, withheld = 0;
  int rc = audit_bundle_write(h, out, a->origin, vkey, archive, &n, &withheld, &err);
  int io = ferror(out) || fflush(out) != 0;
  if (out != stdout && fclose(out) != 0) io = 1;
  if (rc == GV_OK && io) {
    fprintf(stderr, "gavel audit export: writing %s failed\n", path ? path : "the output");
    return 1;
  }
  if (rc != GV_OK) {
    fprintf(stderr, "gavel audit export: %s\n", err.message);
    return 1;
  }
  if (path) printf("exported %lld entries (%lld withheld until their results are disclosed) to %s\n", (long long)n,
                   (long long)withheld, path);
  return 0;
}

static int cmd_checkpoint(void *state, gv_host *h, int argc, char **argv) {
  (void)argc;
  (void)argv;
  gv_error err;
  if (checkpoint_now(state, h, &err) != GV_OK) {
    fprintf(stderr, "gavel audit checkpoint: %s\n", err.message);
    return 1;
  }
  note_row n = {NULL, 0};
  gv_host_sql(h, "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1", NULL, 0, read_note, &n, &err);
  if (n.note == NULL) {
    printf("the audit log is empty\n");
    return 0;
  }
  fputs(n.note, stdout);
  free(n.note);
  return 0;
}

static const gv_plugin_command commands[] = {
    {"audit verify", "[--bundle FILE [--checkpoint FILE]]", "check the whole audit log offline: every entry, node and signed checkpoint, and the stored state against it; or an exported bundle, without the database", cmd_verify},
    {"audit export", "[--archive] [FILE]", "write the audit bundle (entries, checkpoints, verifier key, workflow versions, forum) as JSON lines", cmd_export},
    {"audit checkpoint", "", "sign a checkpoint of the log now and print it", cmd_checkpoint},
    {NULL}};

/* Commands that run without a database: checking a bundle on an auditor's machine. */
static const gv_plugin_command standalone[] = {
    {"audit verify", "--bundle FILE [--checkpoint FILE]", "check an exported bundle without the database or the key",
     audit_bundle_verify_command},
    {NULL}};

static const gv_plugin_route routes[] = {
    {"GET", "/v1/audit/checkpoint", 0, r_checkpoint},
    {"GET", "/v1/audit/key", GV_ROUTE_PUBLIC, r_key},
    {"GET", "/v1/audit/proof/inclusion", 0, r_inclusion},
    {"GET", "/v1/audit/proof/consistency", 0, r_consistency},
    {NULL}};

const gv_plugin gv_plugin_audit = {
    GV_PLUGIN_API_VERSION,
    "audit",
    "1.0",
    "tamper-evident log of every event (RFC 6962 Merkle tree, signed checkpoints)",
    init,
    shutdown_audit,
    commands,
    routes,
    {NULL},
    standalone,
};
