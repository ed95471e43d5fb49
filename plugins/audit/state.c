/* The audit log's view of the state: replaying the rows entries wrote and comparing them with the database. */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#define HASH GV_STATE_DIGEST_LEN

/* One row an entry wrote. */
typedef struct logged_row {
  char table[16];
  int64_t rowid;
  uint8_t digest[HASH];
  int deleted;
  int64_t event_id;
  int64_t seq;             /* the order the entries wrote it in */
} logged_row;

typedef struct logged {
  logged_row *v;
  size_t n, cap;
  int64_t committed;       /* entries that carry rows */
  int failed;
} logged;

json_t *audit_rows_json(const gv_state_row *rows, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    char b64[64];
    gv_text_base64(rows[i].digest, HASH, b64);
    json_t *r = json_pack("[s, I, s?]", rows[i].table, (json_int_t)rows[i].rowid, rows[i].deleted ? NULL : b64);
    if (r == NULL || json_array_append_new(a, r) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static int push(logged *l, const logged_row *r) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    logged_row *grown = realloc(l->v, cap * sizeof *grown);
    if (grown == NULL) return -1;
    l->v = grown;
    l->cap = cap;
  }
  l->v[l->n++] = *r;
  return 0;
}

/* One entry's rows: idx, event_id, state_rows. A malformed list is the leaf check's to
 * report (its hash no longer matches); here it is skipped. */
static int read_entry(void *ud, const gv_row *row) {
  logged *l = ud;
  json_t *rows = json_loads(gv_row_text(row, 2), 0, NULL);
  size_t i;
  json_t *r;
  l->committed++;
  json_array_foreach(rows, i, r) {
    logged_row x = {{0}, 0, {0}, 0, gv_row_int(row, 1), (int64_t)l->n};
    const char *table = json_string_value(json_array_get(r, 0));
    const char *digest = json_string_value(json_array_get(r, 2));
    if (table == NULL || strlen(table) >= sizeof x.table || !json_is_integer(json_array_get(r, 1))) continue;
    memcpy(x.table, table, strlen(table) + 1);
    x.rowid = json_integer_value(json_array_get(r, 1));
    x.deleted = digest == NULL;
    if (digest && gv_text_unbase64(digest, x.digest, sizeof x.digest) != HASH) continue;
    if (push(l, &x) != 0) {
      l->failed = 1;
      break;
    }
  }
  json_decref(rows);
  return l->failed;
}

static int by_row_then_seq(const void *a, const void *b) {
  const logged_row *x = a, *y = b;
  int c = strcmp(x->table, y->table);
  if (c) return c;
  if (x->rowid != y->rowid) return x->rowid < y->rowid ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every row the log wrote, each once (its last write), sorted by table then rowid. */
static int replay(gv_host *h, logged *l, gv_error *err) {
  int rc = gv_host_sql(h, "SELECT idx, event_id, state_rows FROM audit_leaves WHERE state_rows IS NOT NULL ORDER BY idx",
                       NULL, 0, read_entry, l, err);
  if (rc == GV_OK && l->failed) rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  if (rc != GV_OK) return rc;
  if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, by_row_then_seq);
  size_t k = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (k > 0 && strcmp(l->v[k - 1].table, l->v[i].table) == 0 && l->v[k - 1].rowid == l->v[i].rowid) l->v[k - 1] = l->v[i];
    else l->v[k++] = l->v[i];
  }
  l->n = k;
  return GV_OK;
}

typedef struct merge {
  logged *l;
  size_t next;             /* the first logged row not yet compared */
  audit_diff_fn fn;
  void *ud;
  int stop;
} merge;

static int cmp_row(const logged_row *x, const char *table, int64_t rowid) {
  int c = strcmp(x->table, table);
  if (c) return c;
  return x->rowid < rowid ? -1 : x->rowid > rowid;
}

/* Logged rows before (table, rowid) that the database no longer has. */
static void flush_missing(merge *m, const char *table, int64_t rowid) {
  while (!m->stop && m->next < m->l->n && (table == NULL || cmp_row(&m->l->v[m->next], table, rowid) < 0)) {
    const logged_row *x = &m->l->v[m->next++];
    if (!x->deleted) m->stop = m->fn(m->ud, x->table, x->rowid, AUDIT_ROW_MISSING, NULL, x->event_id);
  }
}

static int compare_row(void *ud, const gv_state_row *r) {
  merge *m = ud;
  flush_missing(m, r->table, r->rowid);
  if (m->stop) return 1;
  if (m->next < m->l->n && cmp_row(&m->l->v[m->next], r->table, r->rowid) == 0) {
    const logged_row *x = &m->l->v[m->next++];
    if (x->deleted) m->stop = m->fn(m->ud, r->table, r->rowid, AUDIT_ROW_RESURRECTED, r->digest, x->event_id);
    else if (memcmp(x->digest, r->digest, HASH) != 0)
      m->stop = m->fn(m->ud, r->table, r->rowid, AUDIT_ROW_CHANGED, r->digest, x->event_id);
  } else {
    m->stop = m->fn(m->ud, r->table, r->rowid, AUDIT_ROW_UNLOGGED, r->digest, 0);
  }
  return m->stop;
}

int audit_state_diff(gv_host *h, audit_diff_fn fn, void *ud, int64_t *committed, gv_error *err) {
  logged l = {NULL, 0, 0, 0, 0};
  int rc = replay(h, &l, err);
  merge m = {&l, 0, fn, ud, 0};
  if (rc == GV_OK) rc = gv_host_state_rows(h, compare_row, &m, err);
  if (rc == GV_OK) flush_missing(&m, NULL, 0);
  if (committed) *committed = l.committed;
  free(l.v);
  return rc;
}

typedef struct baseline {
  json_t *rows;            /* the differences, in order */
  int failed;
} baseline;

static int add_difference(void *ud, const char *table, int64_t rowid, audit_row_diff kind, const uint8_t *current,
                          int64_t event_id) {
  baseline *b = ud;
  char b64[64];
  (void)kind;
  (void)event_id;
  if (current) gv_text_base64(current, HASH, b64);
  json_t *r = json_pack("[s, I, s?]", table, (json_int_t)rowid, current ? b64 : NULL);
  if (r == NULL || json_array_append_new(b->rows, r) != 0) b->failed = 1;
  return b->failed;
}

int audit_state_baseline(gv_host *h, const gv_state_row *rows, size_t n, json_t **out, gv_error *err) {
  baseline b = {json_array(), 0};
  *out = NULL;
  if (b.rows == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  int rc = audit_state_diff(h, add_difference, &b, NULL, err);
  if (rc == GV_OK && b.failed) rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  json_t *own = rc == GV_OK ? audit_rows_json(rows, n) : NULL;
  if (rc == GV_OK && own == NULL) rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  if (rc != GV_OK) {
    json_decref(b.rows);
    return rc;
  }
  /* Both lists are sorted by table then rowid: merge them, the event's own row winning. */
  json_t *all = json_array();
  size_t i = 0, j = 0, nb = json_array_size(b.rows), no = json_array_size(own);
  while (all && (i < nb || j < no)) {
    json_t *x = i < nb ? json_array_get(b.rows, i) : NULL, *y = j < no ? json_array_get(own, j) : NULL;
    int c = !x ? 1 : !y ? -1 : strcmp(json_string_value(json_array_get(x, 0)), json_string_value(json_array_get(y, 0)));
    if (x && y && c == 0) {
      json_int_t rx = json_integer_value(json_array_get(x, 1)), ry = json_integer_value(json_array_get(y, 1));
      c = rx < ry ? -1 : rx > ry;
    }
    if (c < 0) json_array_append(all, x), i++;
    else if (c > 0) json_array_append(all, y), j++;
    else json_array_append(all, y), i++, j++;
  }
  json_decref(b.rows);
  json_decref(own);
  if (all == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  if (json_array_size(all) == 0) json_decref(all);
  else *out = all;
  return GV_OK;
}
