/* Word-level text differences by longest common subsequence, with a paragraph fallback for long texts. */
#include "base/diff.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CELLS (4u << 20)

typedef struct tok {
  const char *p;
  size_t n;
} tok;

/* Splits s into tokens: by words and runs of spaces, or (paragraphs) at blank lines. */
static tok *tokenize(const char *s, int paragraphs, size_t *count) {
  size_t cap = 64, n = 0;
  tok *t = malloc(cap * sizeof *t);
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
      cap *= 2;
      t = realloc(t, cap * sizeof *t);
    }
    t[n].p = start;
    t[n].n = (size_t)(p - start);
    n++;
  }
  *count = n;
  return t;
}

static int eq(const tok *a, const tok *b) { return a->n == b->n && memcmp(a->p, b->p, a->n) == 0; }

static void emit(json_t *out, const char *op, const tok *t) {
  size_t n = json_array_size(out);
  json_t *last = n ? json_array_get(out, n - 1) : NULL;
  if (last && strcmp(json_string_value(json_object_get(last, "op")), op) == 0) {
    json_t *txt = json_object_get(last, "text");
    size_t l = json_string_length(txt);
    char *joined = malloc(l + t->n + 1);
    memcpy(joined, json_string_value(txt), l);
    memcpy(joined + l, t->p, t->n);
    joined[l + t->n] = '\0';
    json_object_set_new(last, "text", json_string(joined));
    free(joined);
    return;
  }
  json_array_append_new(out, json_pack("{s:s, s:s%}", "op", op, "text", t->p, t->n));
}

json_t *gv_diff_text(const char *a, const char *b) {
  size_t na, nb;
  tok *ta = tokenize(a, 0, &na), *tb = tokenize(b, 0, &nb);
  if ((na + 1) * (nb + 1) > MAX_CELLS) {
    free(ta);
    free(tb);
    ta = tokenize(a, 1, &na);
    tb = tokenize(b, 1, &nb);
  }
  json_t *out = json_array();
  if ((na + 1) * (nb + 1) > MAX_CELLS) {
    /* Still too large: the whole text changed as far as this view is concerned. */
    tok wa = {a, strlen(a)}, wb = {b, strlen(b)};
    if (!eq(&wa, &wb)) {
      if (wa.n) emit(out, "del", &wa);
      if (wb.n) emit(out, "add", &wb);
    } else if (wa.n) {
      emit(out, "same", &wa);
    }
    free(ta);
    free(tb);
    return out;
  }
  /* lcs[i][j]: length of the LCS of ta[i..] and tb[j..]. */
  unsigned *lcs = calloc((na + 1) * (nb + 1), sizeof *lcs);
#define L(i, j) lcs[(i) * (nb + 1) + (j)]
  for (size_t i = na; i-- > 0;)
    for (size_t j = nb; j-- > 0;)
      L(i, j) = eq(&ta[i], &tb[j]) ? L(i + 1, j + 1) + 1 : (L(i + 1, j) >= L(i, j + 1) ? L(i + 1, j) : L(i, j + 1));
  size_t i = 0, j = 0;
  while (i < na || j < nb) {
    if (i < na && j < nb && eq(&ta[i], &tb[j])) {
      emit(out, "same", &ta[i]);
      i++;
      j++;
    } else if (j < nb && (i == na || L(i, j + 1) >= L(i + 1, j))) {
      emit(out, "add", &tb[j++]);
    } else {
      emit(out, "del", &ta[i++]);
    }
  }
#undef L
  free(lcs);
  free(ta);
  free(tb);
  return out;
}
