/* The forum-wide change feed for integrators who poll: GET /v1/forums/{forum}/events. */
#include "api/api.h"
#include "views/views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  api_page pg;
  if (api_page_query(c, 100, 1000, &pg) != 0) return;
  int64_t after = pg.after, limit = pg.limit, last = 0;
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
