/* The forum-wide change feed for integrators who poll: GET /v1/forums/{forum}/events. */
#include "api/api.h"
#include "views/views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole number query parameter within [min, max]; answers 422 (as the other lists do) and
 * returns -1 otherwise. */
static int feed_query(gv_call *c, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out) {
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

/* Every event of the forum after `after`, in order, as the caller may see them (hidden stances
 * withheld exactly as in an item's event list), with `next`: the value to pass as `after` for
 * the following page, as on every list, except that a feed never ends: on the last page it is
 * still the position reached (never null), so a poller always knows where to continue; `more`
 * says whether the following page already holds events. */
void h_forum_events(gv_call *c) {
  const char *forum = c->param[0];
  if (strcmp(forum, c->srv->forum->id) != 0 || strcmp(c->user.forum_id, forum) != 0) {
    api_error(c, GV_ENOTFOUND, "no such forum", "forum");
    return;
  }
  int64_t after, limit, last = 0;
  if (feed_query(c, "after", 0, 0, INT64_MAX, &after) || feed_query(c, "limit", 100, 1, 1000, &limit)) return;
  gv_error err;
  /* One more than asked tells whether another page is already waiting. */
  json_t *events = gv_view_feed(c->srv->e, &c->caller, forum, after, (int)limit, &last, &err);
  if (events == NULL) {
    api_gv_error(c, &err);
    return;
  }
  int64_t probe_last = last;
  json_t *probe = gv_view_feed(c->srv->e, &c->caller, forum, last, 1, &probe_last, &err);
  int more = probe != NULL && probe_last > last;
  json_decref(probe);
  api_json(c, 200, json_pack("{s:o, s:I, s:b}", "events", events, "next", (json_int_t)last, "more", more));
}
