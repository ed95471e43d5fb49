/* Paging for the API's lists: ?limit= and ?after= read the same way everywhere, and each
 * list answers a `next` cursor (the id to pass as after, or null on the last page). */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>

/* Reads one whole number in [min, max]; replies 422 naming the parameter when it is not one. */
static int page_int(gv_call *c, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out) {
  char buf[32];
  const char *v = api_query(c, name, buf, sizeof buf);
  *out = def;
  if (v == NULL) return 0;
  char *end;
  long long n = strtoll(v, &end, 10);
  if (*v == '\0' || *end || n < min || n > max) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be a whole number from %lld to %lld", name, (long long)min, (long long)max);
    api_error(c, GV_EPARAM, msg, name);
    return -1;
  }
  *out = n;
  return 0;
}

int api_page_query(gv_call *c, int def_limit, int max_limit, api_page *pg) {
  int64_t limit;
  if (page_int(c, "limit", def_limit, 1, max_limit, &limit) != 0) return -1;
  if (page_int(c, "after", 0, 0, INT64_MAX, &pg->after) != 0) return -1;
  pg->limit = (int)limit;
  return 0;
}

/* The position just past the element whose "id" is after; -1 when none has that id. */
static long position_after(json_t *arr, int64_t after, int order) {
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    int64_t id = json_integer_value(json_object_get(o, "id"));
    if (id == after) return (long)i + 1;
    /* In an id-ordered list an element that is gone still has a place. */
    if ((order == API_PAGE_ID_ASC && id > after) || (order == API_PAGE_ID_DESC && id < after)) return (long)i;
  }
  return order == API_PAGE_LISTED ? -1 : (long)json_array_size(arr);
}

json_t *api_page_cut(gv_call *c, json_t *arr, const api_page *pg, int order, json_t **next) {
  long from = pg->after ? position_after(arr, pg->after, order) : 0;
  if (from < 0) {
    json_decref(arr);
    api_error(c, GV_EPARAM, "after must be the next value of an earlier page of this list", "after");
    return NULL;
  }
  json_t *page = json_array();
  size_t n = json_array_size(arr);
  for (size_t i = (size_t)from; i < n && json_array_size(page) < (size_t)pg->limit; i++)
    json_array_append(page, json_array_get(arr, i));
  size_t taken = json_array_size(page);
  int more = (size_t)from + taken < n;
  *next = more && taken ? json_incref(json_object_get(json_array_get(page, taken - 1), "id")) : json_null();
  json_decref(arr);
  return page;
}
