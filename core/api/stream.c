/* Live updates: Server-Sent Events of what each user may see, resumable with Last-Event-ID. */
#include "api/api.h"
#include "base/alloc.h"
#include "base/time.h"
#include "views/views.h"

#include <stdlib.h>
#include <string.h>

#define REPLAY_MAX 1000

struct gv_stream {
  gv_stream *next;
  gv_call *call;
  int64_t session_id;
  int closed;
};


/* Forum-level events: accounts are seen by the secretariat and the state concerned. */
static int may_see(const gv_caller *r, json_t *ev) {
  const char *kind = json_string_value(json_object_get(ev, "kind"));
  if (kind && strcmp(kind, "account") == 0) {
    const char *member = json_string_value(json_object_get(ev, "member"));
    return r->role == GV_ROLE_SECRETARIAT || (member && r->role == GV_ROLE_DELEGATE && strcmp(r->member, member) == 0);
  }
  return 1;
}

/* Room for the "id:", "event:" and "data:" lines around an event's JSON. */
#define SSE_FRAME_OVERHEAD 96

/* Writes one event to a stream; returns -1 if the stream was dropped. */
static int send_event(gv_srv *s, gv_stream *st, json_t *ev) {
  if (!may_see(&st->call->caller, ev)) return 0;
  json_t *v = json_is_integer(json_object_get(ev, "item_id")) ? gv_view_event(s->e, &st->call->caller, ev) : NULL;
  if (v == NULL) v = gv_view_forum_event(s->e, &st->call->caller, ev);
  char *data = v ? json_dumps(v, JSON_COMPACT) : NULL;
  json_decref(v);
  size_t len = data ? strlen(data) + SSE_FRAME_OVERHEAD : 0;
  char *msg = data ? gv_malloc(len) : NULL;
  /* An event that cannot be sent whole drops the stream: the client reconnects with
   * Last-Event-ID and misses nothing. */
  if (msg == NULL) {
    free(data);
    return -1;
  }
  int n = snprintf(msg, len, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)json_integer_value(json_object_get(ev, "id")),
                   json_object_get(ev, "item_id") && !json_is_null(json_object_get(ev, "item_id")) ? "item" : "forum", data);
  int rc = gv_http_stream_write(st->call->req, msg, (size_t)n);
  free(data);
  free(msg);
  return rc == GV_OK ? 0 : -1;
}

static void stream_closed(gv_http_req *req, void *arg) {
  gv_stream *st = arg;
  gv_srv *s = st->call->srv;
  gv_stream **pp = &s->streams;
  while (*pp && *pp != st) pp = &(*pp)->next;
  if (*pp) {
    *pp = st->next;
    s->nstreams--;
  }
  (void)req;
  api_call_finish(st->call, 200);
  free(st);
}

static void end_stream(gv_stream *st) {
  if (st->closed) return;
  st->closed = 1;
  gv_http_stream_end(st->call->req);
}

void h_stream(gv_call *c) {
  gv_srv *s = c->srv;
  char buf[32];
  const char *last = gv_http_header_get(c->req, "last-event-id");
  if (last == NULL) last = api_query(c, "last_event_id", buf, sizeof buf);
  int64_t after = 0;
  if (last) {
    char *end;
    after = strtoll(last, &end, 10);
    if (*last == '\0' || *end || after < 0) {
      api_error(c, GV_EPARSE, "Last-Event-ID must be an event id", "Last-Event-ID");
      return;
    }
  }
  gv_stream *st = gv_calloc(1, sizeof *st);
  if (st == NULL) {
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  st->call = c;
  st->session_id = c->sess.id;
  gv_http_header h[4] = {{"Content-Type", "text/event-stream; charset=utf-8"}, {"Cache-Control", "no-store"},
                         {"X-Accel-Buffering", "no"}, {"X-Request-Id", c->request_id}};
  gv_http_stream_begin(c->req, 200, h, 4, stream_closed, st);
  st->next = s->streams;
  s->streams = st;
  s->nstreams++;
  if (gv_http_stream_write(c->req, "retry: 3000\n\n", 13) != GV_OK) return;
  /* Replay what the client missed. */
  if (last) {
    json_t *evs = NULL;
    if (gv_store_events(gv_engine_store(s->e), s->forum->id, 0, after, REPLAY_MAX, &evs, NULL) == GV_OK) {
      size_t i;
      json_t *ev;
      json_array_foreach(evs, i, ev) if (send_event(s, st, ev) < 0) break;
      json_decref(evs);
    }
  }
}

/* Whether the stream's session and account still allow what it was opened with: not
 * signed out, revoked or expired, the account neither disabled nor given another role
 * or state (changes made by the command line included). */
static int still_allowed(gv_srv *s, gv_stream *st) {
  gv_store *store = gv_engine_store(s->e);
  gv_session se;
  gv_user u;
  int64_t now = gv_time_real_ms();
  if (gv_store_session_get(store, st->session_id, &se, NULL) != GV_OK || se.revoked_at ||
      (se.expires_at && now >= se.expires_at))
    return 0;
  if (gv_store_user_get(store, st->call->user.id, &u, NULL) != GV_OK || u.disabled) return 0;
  return strcmp(u.role, st->call->user.role) == 0 && strcmp(u.member, st->call->user.member) == 0;
}

/* Ends every stream that may no longer receive events. */
static void check_streams(gv_srv *s) {
  gv_stream *st = s->streams;
  while (st) {
    gv_stream *next = st->next; /* end_stream may free st */
    if (!st->closed && !still_allowed(s, st)) end_stream(st);
    st = next;
  }
}

void api_streams_commit(gv_engine *e, int64_t first, int64_t last, void *ud) {
  gv_srv *s = ud;
  if (s->streams == NULL) return;
  check_streams(s);
  json_t *evs = NULL;
  if (gv_store_events(gv_engine_store(e), s->forum->id, 0, first - 1, (int)(last - first + 1), &evs, NULL) != GV_OK) return;
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    /* Iterate over a snapshot: a dropped stream unlinks itself. */
    gv_stream *st = s->streams;
    while (st) {
      gv_stream *next = st->next;
      if (!st->closed) send_event(s, st, ev);
      st = next;
    }
    /* An account change in this batch may end streams before its next event. */
    const char *action = json_string_value(json_object_get(ev, "action"));
    if (action && strncmp(action, "account.", 8) == 0) check_streams(s);
  }
  json_decref(evs);
}

void api_streams_session_ended(gv_srv *s, int64_t session_id) {
  gv_stream *st = s->streams;
  while (st) {
    gv_stream *next = st->next; /* end_stream may free st */
    if (st->session_id == session_id) end_stream(st);
    st = next;
  }
}

void api_streams_ping(gv_srv *s) {
  check_streams(s);
  gv_stream *st = s->streams;
  while (st) {
    gv_stream *next = st->next;
    if (!st->closed) gv_http_stream_write(st->call->req, ": keep-alive\n\n", 14);
    st = next;
  }
}

void api_streams_close_all(gv_srv *s) {
  gv_stream *st = s->streams;
  while (st) {
    gv_stream *next = st->next;
    end_stream(st);
    st = next;
  }
}
