/* Differences between two texts, word by word, for comparing draft versions. */
#ifndef GV_DIFF_H
#define GV_DIFF_H

#include <jansson.h>

/* The changes from a to b as [{op: "same"|"del"|"add", text}], adjacent runs merged.
 * Works on words and the spaces between them; very long texts fall back to whole
 * paragraphs. New reference, or NULL when out of memory. */
json_t *gv_diff_text(const char *a, const char *b);

#endif
