/* The plugin host, version 5: request bodies, and events as a reader without privileges sees them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/internal.h"
#include "views/views.h"

const char *gv_request_body(const gv_request *r, size_t *len) {
  if (len) *len = 0;
  if (r == NULL || r->call == NULL || r->ops->body == NULL) return NULL;
  return r->ops->body(r->call, len);
}

int gv_host_event_json(gv_host *h, int64_t event_id, char **json, gv_error *err) {
  *json = NULL;
  gv_engine *e = h->all->engine;
  if (e == NULL || h->all->in_event)
    return gv_error_set(err, gv_host_refuse(h, GV_ESTATE, "gv_host_event_json outside the running server"), NULL,
                        "the server is not running");
  /* An observer of the forum: no member state, not the secretariat, not the chair, so every
   * stance still hidden stays hidden, by the very rule the API applies to such a reader. */
  gv_caller reader;
  memset(&reader, 0, sizeof reader);
  reader.role = GV_ROLE_OBSERVER;
  snprintf(reader.forum_id, sizeof reader.forum_id, "%s", h->all->forum->id);
  int64_t last = 0;
  json_t *list = gv_view_feed(e, &reader, h->all->forum->id, event_id - 1, 1, &last, err);
  if (list == NULL) return GV_ESTORE;
  json_t *ev = json_array_get(list, 0);
  int rc = GV_OK;
  if (ev == NULL || json_integer_value(json_object_get(ev, "id")) != event_id) {
    rc = gv_error_set(err, GV_ENOTFOUND, NULL, "no event %lld in this forum", (long long)event_id);
  } else {
    *json = json_dumps(ev, JSON_COMPACT);
    if (*json == NULL) rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  }
  json_decref(list);
  return rc;
}
