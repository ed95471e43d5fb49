/* Shared by the HTTP API's files: the server context, one call in progress, routing and replies. */
#ifndef GV_API_H
#define GV_API_H

#include <jansson.h>
#include <uv.h>

#include "lua/config.h"
#include "base/metrics.h"
#include "base/time.h"
#include "engine/engine.h"
#include "http/http.h"
#include "store/store.h"

/* How long an Idempotency-Key's answer is kept and replayed. */
#define IDEMPOTENCY_WINDOW_MS GV_MS_PER_DAY
/* Failed sign-ins counted against an account or address for throttling ("wait 15 minutes"). */
#define LOGIN_THROTTLE_WINDOW_MS (15 * GV_MS_PER_MINUTE)
/* The longest the loop sleeps before re-reading the wall clock for due timers. */
#define TIMER_MAX_SLEEP_MS GV_MS_PER_MINUTE

typedef struct gv_srv gv_srv;
typedef struct gv_call gv_call;
typedef void (*gv_handler_fn)(gv_call *c);

/* Route flags. */
enum {
  R_PUBLIC = 1,        /* no authentication needed */
  R_ANY_PASSWORD = 2,  /* allowed while the user must still change their password */
  R_TEST_CLOCK = 4,    /* exists only with --test-clock */
  R_STREAM = 8,        /* a long-lived response (not counted as in-flight) */
  R_IDEMPOTENT = 16,   /* honours Idempotency-Key */
  R_CSV_BODY = 32,     /* the body is text/csv, left unparsed in req->body */
  R_ANY_BODY = 64,     /* takes a body of any type, unread (a one-click unsubscribe form) */
};

typedef struct gv_route {
  const char *method;
  const char *pattern;   /* "/v1/items/{id}/actions/{action}" */
  gv_handler_fn fn;
  unsigned flags;
  uint64_t counts[6];    /* responses by class: 2xx, 3xx, 4xx (except 429), 429, 5xx, other */
  gv_hist duration[5];   /* seconds from the request to its answer, by class: 2xx, 3xx, 4xx, 5xx, other
                          * (set up on first use; streams are not timed) */
  const void *plugin;    /* for a plugin's route: its gv_plugin and gv_plugin_route */
  const void *plugin_route;
} gv_route;

#define GV_MAX_PATH_PARAMS 4

struct gv_call {
  gv_srv *srv;
  gv_http_req *req;
  gv_route *route;
  char param[GV_MAX_PATH_PARAMS][160];
  int nparams;
  int authed;
  gv_user user;
  gv_session sess;
  gv_caller caller;
  char client_addr[64];  /* the client, through trusted proxies */
  double started;
  char method[12];
  json_t *body;          /* parsed JSON body (object), or NULL */
  char request_id[48];   /* the client's X-Request-Id when well formed, else a new one */
};

typedef struct gv_pending gv_pending;
typedef struct gv_hash_job gv_hash_job;
typedef struct gv_stream gv_stream;

struct gv_srv {
  uv_loop_t *loop;
  gv_config cfg;
  gv_engine *e;
  const gv_forum *forum;
  gv_http_server *http;
  uv_timer_t timer;        /* the engine's next timer */
  uv_timer_t housekeeping; /* purges old idempotency records and login failures */
  uv_check_t flush;        /* group commit at the end of each loop turn */
  uv_signal_t sigterm, sigint, sighup;
  gv_pending *queue_head, *queue_tail;
  size_t queued;
  gv_hash_job *hash_head, *hash_tail;
  int hashing;             /* a hash job is running on the thread pool */
  int hash_queued;
  char dummy_hash[160];    /* verified against for unknown users, so they cost the same */
  gv_stream *streams;
  size_t nstreams;
  int shutting_down;
  int exit_code;
  struct gv_plugins *plugins;
  uint64_t ticks;
  uint64_t requests;
  uint64_t commit_batches;
  void (*after_batches)(gv_srv *s); /* run after the queued batches are answered (re-arms timers) */
};

/* Routing: the core's routes, then the plugins' (added once at start). */
gv_route *gv_routes(size_t *n);
gv_route *gv_plugin_routes(size_t *n);
/* Finds the route for method and path; *path_matched tells 405 from 404. */
gv_route *gv_route_find(const char *method, const char *path, gv_call *c, int *path_matched);

/* The methods path accepts, as an Allow header value ("GET, POST"). */
void gv_route_allow(const char *path, char *out, size_t size);

/* Replies and what handlers read of a request: api/reply.h. Group commit: api/batch.h. */
#include "api/reply.h"
#include "api/batch.h"

/* An account as JSON; full adds its language, time zone, email and notification settings. */
json_t *api_user_json(gv_srv *s, const gv_user *u, int full);

/* Password hashing off the loop, one at a time, behind a bounded queue. */
typedef void (*gv_hash_done)(gv_call *c, int ok, const char *hash, void *ud);
/* verify: password against encoded (ok = match). hash: hash of password (ok = success). Returns
 * GV_EBUSY when the queue is full (the caller answers 429). */
int api_hash_verify(gv_call *c, const char *password, const char *encoded, gv_hash_done done, void *ud);
int api_hash_new(gv_call *c, const char *password, gv_hash_done done, void *ud);
/* Starts the hashing queue (prepares the hash unknown users are checked against). */
void api_auth_start(gv_srv *s);

/* Sessions. */
int api_authenticate(gv_call *c);  /* 0 when the call may proceed (replies itself otherwise) */
int api_session_new(gv_call *c, const gv_user *u, const char *kind, char *token, size_t tsize, char *csrf,
                    size_t csize);

/* Live updates. */
void api_streams_commit(gv_engine *e, int64_t first, int64_t last, void *ud);
void api_streams_close_all(gv_srv *s);
/* Ends the live streams opened under session_id (the session was revoked). */
void api_streams_session_ended(gv_srv *s, int64_t session_id);
/* Sends a keep-alive comment on every live stream. */
void api_streams_ping(gv_srv *s);

/* Handlers (one file per area). */
void h_healthz(gv_call *c);
void h_metrics(gv_call *c);
void h_login(gv_call *c);
void h_logout(gv_call *c);
void h_me(gv_call *c);
void h_me_patch(gv_call *c);
void h_me_password(gv_call *c);
void h_me_accounts(gv_call *c);
void h_users_list(gv_call *c);
void h_users_create(gv_call *c);
void h_user_get(gv_call *c);
void h_user_patch(gv_call *c);
void h_user_reset(gv_call *c);
void h_forum(gv_call *c);
void h_items_list(gv_call *c);
void h_items_create(gv_call *c);
void h_item(gv_call *c);
void h_item_action(gv_call *c);
void h_item_events(gv_call *c);
void h_forum_events(gv_call *c);
void h_item_positions(gv_call *c);
void h_item_versions(gv_call *c);
void h_item_diff(gv_call *c);
void h_workflows(gv_call *c);
void h_meetings_list(gv_call *c);
void h_meetings_create(gv_call *c);
void h_meeting(gv_call *c);
void h_meeting_adopt_agenda(gv_call *c);
void h_meeting_record(gv_call *c);
void h_stream(gv_call *c);
void h_test_clock(gv_call *c);
void h_incidents(gv_call *c);
void h_plugin(gv_call *c);
/* Calendars and exports (api/exports.c). */
void h_me_calendar(gv_call *c);
void h_me_calendar_create(gv_call *c);
void h_me_calendar_delete(gv_call *c);
void h_calendar_feed(gv_call *c);
void h_item_positions_csv(gv_call *c);
void h_decisions_csv(gv_call *c);
void h_users_import(gv_call *c);
void h_tokens_list(gv_call *c);
void h_tokens_create(gv_call *c);
void h_tokens_revoke(gv_call *c);

/* Sets c->request_id: the request's X-Request-Id when well formed (1 to 40 letters,
 * digits, '-', '_', '.'), else a new random one. */
void api_request_id(gv_call *c);

/* Reads the TLS certificate and key again (a renewed certificate, on SIGHUP): new
 * connections use them, open ones keep theirs; a file that cannot be used keeps the old
 * pair and is logged. */
void api_tls_reload(gv_srv *s);

/* Whether an API token of scope (read, act, admin; "" for full power) may call method on
 * path: read only reads, act does all but change accounts and tokens, admin does all. */
int api_scope_allows(const char *scope, const char *method, const char *path);

#endif
