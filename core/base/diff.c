/* Word-level text differences by longest common subsequence, with a paragraph fallback for long texts. */
#include "base/diff.h"
#include "base/alloc.h"
#include "base/error.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CELLS (4u << 20)
/* Tokens room at first (it doubles). */
#define TOKENS_INITIAL 64

typedef struct tok {
  const char *p;
  size_t n;
} tok;

/* Splits s into tokens: by words and runs of spaces, or (paragraphs) at blank lines.
 * NULL when out of memory. */
static tok *tokenize(const char *s, int paragraphs, size_t *count) {
  size_t cap = TOKENS_INITIAL, n = 0;
  *count = 0;
  tok *t = gv_malloc(cap * sizeof *t);
  if (t == NULL) return NULL;
  const char *p = s;
  while (*p) {
    const char *start = p;
    if (paragraphs) {
      const char *brk = strstr(p, "\n\n");
      p = brk ? brk + 2 : p + strlen(p);
    } else if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
      while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    } else {
      while (*p && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') p++;
    }
    if (n == cap) {
      tok *grown = gv_realloc(t, cap * 2 * sizeof *t);
      if (grown == NULL) {
        free(t);
        return NULL;
      }
      t = grown;
      cap *= 2;
    }
    t[n].p = start;
    t[n].n = (size_t)(p - start);
    n++;
  }
  *count = n;
  return t;
}

static int eq(const tok *a, const tok *b) { return a->n == b->n && memcmp(a->p, b->p, a->n) == 0; }

/* Appends a run to out, merged with the last one when it has the same op. GV_ENOMEM when
 * out of memory. */
static int emit(json_t *out, const char *op, const tok *t) {
  size_t n = json_array_size(out);
  json_t *last = n ? json_array_get(out, n - 1) : NULL;
  if (last && strcmp(json_string_value(json_object_get(last, "op")), op) == 0) {
    json_t *txt = json_object_get(last, "text");
    size_t l = json_string_length(txt);
    char *joined = gv_malloc(l + t->n + 1);
    if (joined == NULL) return GV_ENOMEM;
    memcpy(joined, json_string_value(txt), l);
    memcpy(joined + l, t->p, t->n);
    joined[l + t->n] = '\0';
    int rc = json_object_set_new(last, "text", json_string(joined));
    free(joined);
    return rc == 0 ? GV_OK : GV_ENOMEM;
  }
  return json_array_append_new(out, json_pack("{s:s, s:s%}", "op", op, "text", t->p, t->n)) == 0 ? GV_OK : GV_ENOMEM;
}

json_t *gv_diff_text(const char *a, const char *b) {
  size_t na, nb;
  tok *ta = tokenize(a, 0, &na), *tb = tokenize(b, 0, &nb);
  unsigned *lcs = NULL;
  int rc = GV_OK;
  if ((na + 1) * (nb + 1) > MAX_CELLS) {
    free(ta);
    free(tb);
    ta = tokenize(a, 1, &na);
    tb = tokenize(b, 1, &nb);
  }
  json_t *out = json_array();
  if (ta == NULL || tb == NULL || out == NULL) goto oom;
  if ((na + 1) * (nb + 1) > MAX_CELLS) {
    /* Still too large: the whole text changed as far as this view is concerned. */
    tok wa = {a, strlen(a)}, wb = {b, strlen(b)};
    if (!eq(&wa, &wb)) {
      if (wa.n) rc = emit(out, "del", &wa);
      if (wb.n && rc == GV_OK) rc = emit(out, "add", &wb);
    } else if (wa.n) {
      rc = emit(out, "same", &wa);
    }
    if (rc != GV_OK) goto oom;
    free(ta);
    free(tb);
    return out;
  }
  /* lcs[i][j]: length of the LCS of ta[i..] and tb[j..]. */
  if ((lcs = gv_calloc((na + 1) * (nb + 1), sizeof *lcs)) == NULL) goto oom;
#define L(i, j) lcs[(i) * (nb + 1) + (j)]
  for (size_t i = na; i-- > 0;)
    for (size_t j = nb; j-- > 0;)
      L(i, j) = eq(&ta[i], &tb[j]) ? L(i + 1, j + 1) + 1 : (L(i + 1, j) >= L(i, j + 1) ? L(i + 1, j) : L(i, j + 1));
  size_t i = 0, j = 0;
  while (rc == GV_OK && (i < na || j < nb)) {
    if (i < na && j < nb && eq(&ta[i], &tb[j])) {
      rc = emit(out, "same", &ta[i]);
      i++;
      j++;
    } else if (j < nb && (i == na || L(i, j + 1) >= L(i + 1, j))) {
      rc = emit(out, "add", &tb[j++]);
    } else {
      rc = emit(out, "del", &ta[i++]);
    }
  }
#undef L
  if (rc != GV_OK) goto oom;
  free(lcs);
  free(ta);
  free(tb);
  return out;
oom:
  free(lcs);
  free(ta);
  free(tb);
  json_decref(out);
  return NULL;
}
