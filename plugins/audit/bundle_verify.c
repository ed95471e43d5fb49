/* Checking an audit bundle without the database or the key: leaves, tree, signed checkpoints, workflow versions. */
#include "bundle.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEMS 20

typedef struct leaf {
  uint8_t h[AUDIT_HASH];
} leaf;

/* The complete subtrees of the bundle's leaves: level l holds the hashes of leaves
 * [i * 2^l, (i + 1) * 2^l), so the root of any prefix takes O(log n) hashes and every
 * checkpoint can be checked against the bundle without rehashing it. */
typedef struct tree {
  leaf *level[64];
  size_t count[64];
  int levels;
} tree;

typedef struct bundle {
  char origin[128];
  char key_name[160];
  uint8_t key_id[4];
  uint8_t pub[GV_SIGN_KEY_LEN];
  int have_key;
  leaf *leaves;
  size_t n, cap;
  int64_t withheld;
  int64_t expect;          /* the index the next entry line must have */
  json_t *notes;           /* [[size, note], ...] in the bundle's order */
  json_t *versions;        /* sha256 -> 1, the versions whose source checked */
  json_t *cited;           /* [[entry index, sha256], ...]: versions the log made current */
  int64_t nversions;
  int problems;
  tree tree;               /* built once every entry is read */
} bundle;

static void problem(bundle *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(bundle *b, const char *fmt, ...) {
  if (b->problems++ >= MAX_PROBLEMS) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("problem: ", stdout);
  vfprintf(stdout, fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
}

/* ---- The key ---------------------------------------------------------------------------------- */

/* A note verifier key "name+hex(key id)+base64(0x01 || public key)", its key id checked
 * against SHA-256(name || 0x0A || 0x01 || public key)[:4]. Returns 0 if well formed. */
static int parse_key(const char *text, char *name, size_t name_size, uint8_t id[4], uint8_t pub[GV_SIGN_KEY_LEN]) {
  const char *p1 = strchr(text, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
  if (p1 == NULL || p2 == NULL || p2 - p1 != 9 || (size_t)(p1 - text) >= name_size) return -1;
  memcpy(name, text, (size_t)(p1 - text));
  name[p1 - text] = '\0';
  for (int i = 0; i < 4; i++) {
    char hx[3] = {p1[1 + 2 * i], p1[2 + 2 * i], 0};
    char *end;
    id[i] = (uint8_t)strtoul(hx, &end, 16);
    if (*end) return -1;
  }
  uint8_t k[1 + GV_SIGN_KEY_LEN + 8];
  char b64[128];
  snprintf(b64, sizeof b64, "%s", p2 + 1);
  b64[strcspn(b64, "\r\n")] = '\0';
  if (gv_text_unbase64(b64, k, sizeof k) != 1 + GV_SIGN_KEY_LEN || k[0] != 0x01) return -1;
  memcpy(pub, k + 1, GV_SIGN_KEY_LEN);
  uint8_t d[GV_HASH_SHA256_LEN], nl = 0x0A, alg = 0x01;
  gv_hash *c = gv_hash_sha256_begin();
  gv_hash_sha256_add(c, name, strlen(name));
  gv_hash_sha256_add(c, &nl, 1);
  gv_hash_sha256_add(c, &alg, 1);
  gv_hash_sha256_add(c, pub, GV_SIGN_KEY_LEN);
  gv_hash_sha256_end(c, d);
  return memcmp(d, id, 4) == 0 ? 0 : -1;
}

/* ---- The tree --------------------------------------------------------------------------------- */

static int tree_build(tree *t, const leaf *v, size_t n) {
  memset(t, 0, sizeof *t);
  t->level[0] = (leaf *)v;
  t->count[0] = n;
  t->levels = 1;
  for (int l = 1; l < 64 && t->count[l - 1] >= 2; l++) {
    size_t m = t->count[l - 1] / 2;
    t->level[l] = malloc(m * sizeof(leaf));
    if (t->level[l] == NULL) return -1;
    for (size_t i = 0; i < m; i++)
      audit_node_hash(t->level[l - 1][2 * i].h, t->level[l - 1][2 * i + 1].h, t->level[l][i].h);
    t->count[l] = m;
    t->levels = l + 1;
  }
  return 0;
}

static void tree_free(tree *t) {
  for (int l = 1; l < t->levels; l++) free(t->level[l]);
}

/* MTH of leaves [a, b) (RFC 6962 2.1), b > a: a stored subtree when the range is one. */
static void range_hash(const tree *t, size_t a, size_t b, uint8_t out[AUDIT_HASH]) {
  size_t n = b - a;
  if ((n & (n - 1)) == 0) {
    int l = 0;
    while (((size_t)1 << l) < n) l++;
    if (a % n == 0 && l < t->levels) {
      memcpy(out, t->level[l][a >> l].h, AUDIT_HASH);
      return;
    }
  }
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  uint8_t l[AUDIT_HASH], r[AUDIT_HASH];
  range_hash(t, a, a + k, l);
  range_hash(t, a + k, b, r);
  audit_node_hash(l, r, out);
}

/* The root of the first size leaves; of no leaves, SHA-256 of nothing. */
static void mth(const tree *t, size_t size, uint8_t out[AUDIT_HASH]) {
  if (size == 0) gv_hash_sha256("", 0, out);
  else range_hash(t, 0, size, out);
}

/* A signed note "origin\nsize\nroot\n\n— name base64(key id || signature)\n": 0 if its
 * signature verifies with the bundle's key, with *size and root set. what names it in problems. */
static int check_note(bundle *b, const char *note, const uint8_t pub[GV_SIGN_KEY_LEN], const uint8_t id[4],
                      const char *key_name, int64_t *size, uint8_t root[AUDIT_HASH], const char *what) {
  const char *sep = strstr(note, "\n\n");
  char origin[128], rootb64[64], name[160], sigb64[160];
  long long sz;
  if (sep == NULL || sscanf(note, "%127[^\n]\n%lld\n%63[^\n]\n", origin, &sz, rootb64) != 3) {
    problem(b, "%s is not a signed checkpoint", what);
    return -1;
  }
  *size = sz;
  if (strcmp(origin, b->origin) != 0) {
    problem(b, "%s is of another log (%s)", what, origin);
    return -1;
  }
  if (gv_text_unbase64(rootb64, root, AUDIT_HASH) != AUDIT_HASH) {
    problem(b, "%s has a malformed root", what);
    return -1;
  }
  size_t body_len = (size_t)(sep - note) + 1;
  const char *line = sep + 2;
  int ok = 0;
  /* Signature lines: "— name base64"; the one by the log's key must verify. */
  while (*line) {
    if (sscanf(line, "\xe2\x80\x94 %159s %159s", name, sigb64) == 2 && strcmp(name, key_name) == 0) {
      uint8_t sig[4 + GV_SIGN_SIG_LEN + 8];
      long sl = gv_text_unbase64(sigb64, sig, sizeof sig);
      if (sl == 4 + GV_SIGN_SIG_LEN && memcmp(sig, id, 4) == 0 && gv_sign_verify(pub, note, body_len, sig + 4)) ok = 1;
    }
    const char *nl = strchr(line, '\n');
    if (nl == NULL) break;
    line = nl + 1;
  }
  if (!ok) problem(b, "%s has a bad signature", what);
  return ok ? 0 : -1;
}

/* ---- Reading the bundle ----------------------------------------------------------------------- */

static int push_leaf(bundle *b, const uint8_t h[AUDIT_HASH]) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    leaf *grown = realloc(b->leaves, cap * sizeof *grown);
    if (grown == NULL) return -1;
    b->leaves = grown;
    b->cap = cap;
  }
  memcpy(b->leaves[b->n++].h, h, AUDIT_HASH);
  return 0;
}

/* One entry line: its leaf recomputed from the entry's exact bytes (the rest of the line
 * after "entry":, less the closing brace), or taken as given when the entry is withheld. */
static int read_entry(bundle *b, const char *line, json_t *o) {
  json_int_t idx = json_integer_value(json_object_get(o, "index"));
  uint8_t stated[AUDIT_HASH], got[AUDIT_HASH];
  const char *lh = json_string_value(json_object_get(o, "leaf_hash"));
  if (idx < b->expect) {
    problem(b, "entry %lld: repeated or out of order", (long long)idx);
    return 0;
  }
  if (idx > b->expect)
    problem(b, "entry %lld is missing (the next in the bundle is %lld)", (long long)b->expect, (long long)idx);
  b->expect = idx + 1;
  if (lh == NULL || gv_text_unbase64(lh, stated, AUDIT_HASH) != AUDIT_HASH) {
    problem(b, "entry %lld: no leaf hash", (long long)idx);
    memset(stated, 0, sizeof stated);
  }
  json_t *entry = json_object_get(o, "entry");
  const char *raw = strstr(line, ",\"entry\":");
  if (entry == NULL && json_is_object(json_object_get(o, "withheld"))) {
    b->withheld++;
    return push_leaf(b, stated);
  }
  size_t len = raw ? strlen(raw + 9) : 0;
  while (len > 0 && (raw[9 + len - 1] == '\n' || raw[9 + len - 1] == '\r')) len--;
  if (!json_is_object(entry) || len < 2 || raw[9 + len - 1] != '}') {
    problem(b, "entry %lld: neither an entry nor withheld", (long long)idx);
    return push_leaf(b, stated);
  }
  len--; /* the line's closing brace */
  audit_leaf_hash(raw + 9, len, got);
  if (memcmp(got, stated, AUDIT_HASH) != 0)
    problem(b, "entry %lld: the entry does not hash to its leaf (event %lld was changed after it was logged)",
            (long long)idx, (long long)json_integer_value(json_object_get(entry, "id")));
  uint8_t salt[AUDIT_SALT + 4];
  const char *sb = json_string_value(json_object_get(entry, "salt"));
  if (sb == NULL || gv_text_unbase64(sb, salt, sizeof salt) != AUDIT_SALT)
    problem(b, "entry %lld: its salt is not 16 bytes", (long long)idx);
  /* A workflow version the log made current must be in the bundle, its source with it. */
  const char *action = json_string_value(json_object_get(entry, "action"));
  const char *sha = json_string_value(json_object_get(json_object_get(entry, "params"), "sha256"));
  if (action && strcmp(action, "workflow.version_current") == 0 && sha)
    json_array_append_new(b->cited, json_pack("[I, s]", (json_int_t)idx, sha));
  return push_leaf(b, got);
}

/* SHA-256 of a version: its source, then for each module in name order "\n--@module NAME
 * LEN\n" and the module's source (LEN its length in bytes); of the source alone without modules. */
static void read_version(bundle *b, json_t *v) {
  const char *name = json_string_value(json_object_get(v, "name"));
  const char *sha = json_string_value(json_object_get(v, "sha256"));
  const char *src = json_string_value(json_object_get(v, "source"));
  json_t *mods = json_object_get(v, "modules");
  if (!name || !sha || !src) {
    problem(b, "a workflow version is incomplete");
    return;
  }
  gv_hash *c = gv_hash_sha256_begin();
  gv_hash_sha256_add(c, src, strlen(src));
  const char **names = calloc(json_object_size(mods) + 1, sizeof *names);
  size_t n = 0;
  const char *k;
  json_t *m;
  json_object_foreach(mods, k, m) if (names) names[n++] = k;
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      const char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++) {
    const char *ms = json_string_value(json_object_get(json_object_get(mods, names[i]), "source"));
    char head[160];
    int hl = snprintf(head, sizeof head, "\n--@module %s %zu\n", names[i], ms ? strlen(ms) : 0);
    gv_hash_sha256_add(c, head, (size_t)(hl < (int)sizeof head ? hl : (int)sizeof head - 1));
    if (ms) gv_hash_sha256_add(c, ms, strlen(ms));
  }
  free(names);
  uint8_t d[GV_HASH_SHA256_LEN];
  char hex[2 * GV_HASH_SHA256_LEN + 1];
  gv_hash_sha256_end(c, d);
  gv_text_hex(d, sizeof d, hex);
  b->nversions++;
  if (strcmp(hex, sha) != 0) problem(b, "workflow version %s (%.12s): its source does not hash to its sha256", name, sha);
  else json_object_set_new(b->versions, sha, json_true());
}

static int read_head(bundle *b, json_t *o) {
  const char *format = json_string_value(json_object_get(o, "format"));
  const char *origin = json_string_value(json_object_get(o, "origin"));
  const char *vkey = json_string_value(json_object_get(o, "verifier_key"));
  if (format == NULL || strcmp(format, AUDIT_BUNDLE_FORMAT) != 0 || origin == NULL || vkey == NULL) {
    problem(b, "not an audit bundle (its first line must say format %s)", AUDIT_BUNDLE_FORMAT);
    return -1;
  }
  snprintf(b->origin, sizeof b->origin, "%s", origin);
  if (parse_key(vkey, b->key_name, sizeof b->key_name, b->key_id, b->pub) != 0) {
    problem(b, "the bundle's verifier key is malformed");
    return -1;
  }
  b->have_key = 1;
  return 0;
}

/* Reads every line of the bundle; the problems found on the way are reported. */
static int read_bundle(bundle *b, FILE *f) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  int64_t lineno = 0;
  while ((got = getline(&line, &cap, f)) > 0) {
    json_error_t je;
    if (line[strspn(line, " \t\r\n")] == '\0') continue; /* blank lines carry nothing */
    json_t *o = json_loads(line, 0, &je);
    lineno++;
    if (!json_is_object(o)) problem(b, "line %lld is not JSON: %s", (long long)lineno, je.text);
    else if (lineno == 1) {
      if (read_head(b, o) != 0) {
        json_decref(o);
        break;
      }
    } else if (json_object_get(o, "index")) {
      if (read_entry(b, line, o) != 0) {
        json_decref(o);
        free(line);
        return -1;
      }
    } else if (json_object_get(o, "checkpoint")) {
      json_array_append_new(b->notes, json_pack("[O, O]", json_object_get(o, "checkpoint"), json_object_get(o, "note")));
    } else if (json_object_get(o, "workflow_version")) {
      read_version(b, json_object_get(o, "workflow_version"));
    }
    json_decref(o);
  }
  free(line);
  if (lineno == 0) problem(b, "the bundle is empty");
  return 0;
}

/* ---- The checks ------------------------------------------------------------------------------- */

/* Every checkpoint of the bundle: signed by the bundle's key, its root that of the bundle's
 * first size leaves (so the log it signed is a prefix of the bundle), and the largest one
 * covering every entry. Returns the number of checkpoints. */
static int64_t check_checkpoints(bundle *b) {
  size_t i;
  json_t *pair;
  int64_t largest = 0;
  json_array_foreach(b->notes, i, pair) {
    const char *note = json_string_value(json_array_get(pair, 1));
    int64_t size = 0;
    uint8_t root[AUDIT_HASH], want[AUDIT_HASH];
    char what[64];
    snprintf(what, sizeof what, "checkpoint %zu", i);
    if (note == NULL || check_note(b, note, b->pub, b->key_id, b->key_name, &size, root, what) != 0) continue;
    if (size < 1 || (size_t)size > b->n) {
      problem(b, "checkpoint of size %lld: the bundle holds only %zu entries (entries %zu on were dropped)",
              (long long)size, b->n, b->n);
      continue;
    }
    mth(&b->tree, (size_t)size, want);
    if (memcmp(root, want, AUDIT_HASH) != 0)
      problem(b, "checkpoint of size %lld does not match entries 0 to %lld (the log was rewritten)", (long long)size,
              (long long)size - 1);
    if (size > largest) largest = size;
  }
  if ((size_t)largest < b->n)
    problem(b, "entry %lld: entries %lld to %zu are covered by no signed checkpoint", (long long)largest,
            (long long)largest, b->n - 1);
  return (int64_t)json_array_size(b->notes);
}

/* --checkpoint FILE: a checkpoint kept from earlier (as GET /v1/audit/checkpoint gave it),
 * optionally after lines holding a trusted verifier key. The bundle must extend it. */
static void check_trusted(bundle *b, const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    problem(b, "cannot read the checkpoint %s", path);
    return;
  }
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *note = buf;
  char name[160];
  uint8_t id[4], pub[GV_SIGN_KEY_LEN];
  const uint8_t *use_pub = b->pub, *use_id = b->key_id;
  /* Leading lines that are verifier keys: the key to trust instead of the bundle's. */
  while (*note) {
    char *nl = strchr(note, '\n');
    char keep = nl ? *nl : 0;
    if (nl) *nl = '\0';
    int is_key = strchr(note, ' ') == NULL && parse_key(note, name, sizeof name, id, pub) == 0;
    if (nl) *nl = keep;
    if (!is_key) break;
    if (strcmp(name, b->key_name) != 0 || memcmp(pub, b->pub, GV_SIGN_KEY_LEN) != 0)
      problem(b, "the bundle's verifier key is not the trusted key in %s", path);
    use_pub = pub;
    use_id = id;
    note = nl ? nl + 1 : note + strlen(note);
  }
  int64_t size = 0;
  uint8_t root[AUDIT_HASH], want[AUDIT_HASH];
  if (check_note(b, note, use_pub, use_id, b->key_name, &size, root, "the trusted checkpoint") != 0) return;
  if (size < 1 || (size_t)size > b->n) {
    problem(b, "the trusted checkpoint of size %lld covers entries the bundle does not hold (it has %zu)",
            (long long)size, b->n);
    return;
  }
  mth(&b->tree, (size_t)size, want);
  if (memcmp(root, want, AUDIT_HASH) != 0)
    problem(b, "the bundle is not consistent with the trusted checkpoint of size %lld: entries 0 to %lld were rewritten",
            (long long)size, (long long)size - 1);
}

/* Every version the log made current is in the bundle with a source that hashes to it. */
static void check_versions(bundle *b) {
  size_t i;
  json_t *c;
  json_array_foreach(b->cited, i, c) {
    const char *sha = json_string_value(json_array_get(c, 1));
    if (json_object_get(b->versions, sha) == NULL)
      problem(b, "entry %lld: workflow version %.12s is not in the bundle", (long long)json_integer_value(json_array_get(c, 0)),
              sha);
  }
}

static int verify_file(const char *path, const char *trusted) {
  bundle b;
  memset(&b, 0, sizeof b);
  b.notes = json_array();
  b.versions = json_object();
  b.cited = json_array();
  FILE *f = fopen(path, "rb");
  int rc = 1;
  if (f == NULL) {
    fprintf(stderr, "gavel audit verify: cannot read the bundle %s\n", path);
    goto done;
  }
  int read = read_bundle(&b, f);
  fclose(f);
  if (read != 0) {
    fprintf(stderr, "gavel audit verify: out of memory\n");
    goto done;
  }
  int64_t checkpoints = 0;
  if (tree_build(&b.tree, b.leaves, b.n) != 0) {
    fprintf(stderr, "gavel audit verify: out of memory\n");
    goto done;
  }
  if (b.have_key) {
    checkpoints = check_checkpoints(&b);
    if (trusted) check_trusted(&b, trusted);
    check_versions(&b);
  }
  uint8_t root[AUDIT_HASH];
  char b64[64];
  mth(&b.tree, b.n, root);
  gv_text_base64(root, AUDIT_HASH, b64);
  if (b.problems) {
    printf("FAILED: %d problem(s) in a bundle of %zu entries\n", b.problems, b.n);
    goto done;
  }
  printf("ok: bundle of %zu entries (%lld withheld until their results are disclosed), %lld checkpoints and %lld "
         "workflow versions verified%s; root %s\n",
         b.n, (long long)b.withheld, (long long)checkpoints, (long long)b.nversions,
         trusted ? ", consistent with the trusted checkpoint" : "", b64);
  rc = 0;
done:
  tree_free(&b.tree);
  free(b.leaves);
  json_decref(b.notes);
  json_decref(b.versions);
  json_decref(b.cited);
  return rc;
}

int audit_bundle_verify_command(void *state, gv_host *h, int argc, char **argv) {
  const char *path = NULL, *trusted = NULL;
  (void)state;
  (void)h;
  int ours = 0;
  for (int i = 0; i < argc; i++)
    if (strncmp(argv[i], "--bundle", 8) == 0 || strncmp(argv[i], "--checkpoint", 12) == 0) ours = 1;
  /* `gavel audit verify --db PATH` is the database's check. */
  if (!ours) return GV_COMMAND_NEEDS_DB;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--bundle") == 0 && i + 1 < argc) path = argv[++i];
    else if (strncmp(argv[i], "--bundle=", 9) == 0) path = argv[i] + 9;
    else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) trusted = argv[++i];
    else if (strncmp(argv[i], "--checkpoint=", 13) == 0) trusted = argv[i] + 13;
    else {
      fprintf(stderr, "gavel audit verify: unknown argument %s (usage: --bundle FILE [--checkpoint FILE])\n", argv[i]);
      return 1;
    }
  }
  if (path == NULL) {
    fprintf(stderr, "gavel audit verify: --checkpoint checks a bundle: give --bundle FILE\n");
    return 1;
  }
  return verify_file(path, trusted);
}
