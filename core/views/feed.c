/* The forum-wide change feed: every event of a forum, in order, as one reader sees it. */
#include "views/views.h"

json_t *gv_view_any_event(gv_engine *e, const gv_caller *reader, json_t *ev) {
  /* An item's event goes through the item's rules (hidden stances); the rest are forum-level. */
  json_t *v = json_is_integer(json_object_get(ev, "item_id")) ? gv_view_event(e, reader, ev) : NULL;
  if (v == NULL) v = gv_view_forum_event(e, reader, ev);
  return v;
}

json_t *gv_view_feed(gv_engine *e, const gv_caller *reader, const char *forum_id, int64_t after_id, int limit,
                     int64_t *last_id, gv_error *err) {
  json_t *raw = NULL;
  *last_id = after_id;
  if (gv_store_events(gv_engine_store(e), forum_id, 0, after_id, limit, &raw, err) != GV_OK) return NULL;
  json_t *out = json_array();
  size_t i;
  json_t *ev;
  json_array_foreach(raw, i, ev) {
    /* The position advances past an event the reader may not see, so paging never stalls on it. */
    *last_id = json_integer_value(json_object_get(ev, "id"));
    json_t *v = gv_view_any_event(e, reader, ev);
    if (v) json_array_append_new(out, v);
  }
  json_decref(raw);
  return out;
}
