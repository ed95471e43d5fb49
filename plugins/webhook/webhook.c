/* The webhook plugin: each event of the forum that a registered endpoint asked for becomes a
 * delivery row written in the event's own transaction, posted at least once to the endpoint,
 * signed per the Standard Webhooks scheme and retried with back-off across restarts. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "webhook.h"

typedef struct webhook {
  gv_host *h;
  webhook_settings s;
  uv_loop_t *loop;
  uv_timer_t tick;
  int tick_open;
  webhook_http *http;
  /* Attempts since the server started, by result, for /metrics. */
  uint64_t delivered, retried, failed;
  int curl_ready;
} webhook;

static void on_tick(uv_timer_t *t);

static const gv_plugin_migration migrations[] = {
  {1, "endpoints and deliveries",
   "CREATE TABLE webhook_endpoints ("
   "  id INTEGER PRIMARY KEY,"
   "  url TEXT NOT NULL,"
   "  events TEXT NOT NULL,"               /* comma-separated kinds; '' for every event */
   "  secret TEXT NOT NULL,"               /* whsec_...: the signing key, shown once */
   "  created_by TEXT,"
   "  created_at INTEGER NOT NULL"
   ");"
   "CREATE TABLE webhook_deliveries ("
   "  id INTEGER PRIMARY KEY,"
   "  endpoint_id INTEGER NOT NULL,"
   "  event_id INTEGER NOT NULL,"
   "  state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed','cancelled')),"
   "  attempts INTEGER NOT NULL DEFAULT 0,"
   "  next_at INTEGER NOT NULL,"
   "  payload TEXT,"                       /* the body, fixed at the first attempt */
   "  last_status INTEGER,"
   "  last_error TEXT,"
   "  created_at INTEGER NOT NULL,"
   "  delivered_at INTEGER,"
   "  UNIQUE (endpoint_id, event_id)"
   ");"
   "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) WHERE state = 'pending';"},
};

/* ---- From events to deliveries (inside the event's transaction) --------------------------- */

/* Whether an endpoint's list of kinds takes the event: every event when empty or "*", else an
 * entry equal to the event's kind ("action"), its action ("submit_position") or both
 * ("action.submit_position"). */
static int wants(const char *list, const gv_plugin_event *ev) {
  if (list == NULL || list[0] == '\0' || strcmp(list, "*") == 0) return 1;
  char both[160];
  snprintf(both, sizeof both, "%s.%s", ev->kind ? ev->kind : "", ev->action ? ev->action : "");
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ",");
    if ((ev->kind && strlen(ev->kind) == n && strncmp(p, ev->kind, n) == 0) ||
        (ev->action && strlen(ev->action) == n && strncmp(p, ev->action, n) == 0) ||
        (strlen(both) == n && strncmp(p, both, n) == 0) || (n == 1 && *p == '*'))
      return 1;
    p += n;
    if (*p == ',') p++;
  }
  return 0;
}

typedef struct queue_ctx {
  webhook *wh;
  const gv_plugin_event *ev;
  gv_error *err;
  int rc;
} queue_ctx;

static int queue_endpoint(void *ud, const gv_row *r) {
  queue_ctx *q = ud;
  if (!wants(gv_row_text(r, 1), q->ev)) return 0;
  gv_arg a[3] = {GV_INT(gv_row_int(r, 0)), GV_INT(q->ev->id), GV_INT(gv_host_now(q->wh->h))};
  q->rc = gv_host_sql(q->wh->h,
                      "INSERT OR IGNORE INTO webhook_deliveries(endpoint_id, event_id, state, next_at, created_at)"
                      " VALUES (?1, ?2, 'pending', ?3, ?3)",
                      a, 3, NULL, NULL, q->err);
  return q->rc != GV_OK;
}

/* The outbox of webhooks: one pending delivery per endpoint that wants the event, committed
 * with the event or not at all. No I/O here; the loop sends after the commit. */
static int on_event(void *state, gv_host *h, const gv_plugin_event *ev, gv_error *err) {
  webhook *wh = state;
  queue_ctx q = {wh, ev, err, GV_OK};
  int rc = gv_host_sql(h, "SELECT id, events FROM webhook_endpoints ORDER BY id", NULL, 0, queue_endpoint, &q, err);
  return rc != GV_OK ? rc : q.rc;
}

/* ---- Sending (on the loop) ------------------------------------------------------------------ */

typedef struct due {
  int64_t id, event_id, attempts;
  char *url, *secret, *payload;
} due;

typedef struct due_list {
  due d[WEBHOOK_MAX_PARALLEL * 2];
  size_t n;
} due_list;

static char *dup_text(const gv_row *r, int col) {
  const char *t = gv_row_text(r, col);
  return t ? strdup(t) : NULL;
}

static int read_due(void *ud, const gv_row *r) {
  due_list *l = ud;
  if (l->n == sizeof l->d / sizeof l->d[0]) return 1;
  due *d = &l->d[l->n++];
  d->id = gv_row_int(r, 0);
  d->event_id = gv_row_int(r, 1);
  d->attempts = gv_row_int(r, 2);
  d->url = dup_text(r, 3);
  d->secret = dup_text(r, 4);
  d->payload = dup_text(r, 5);
  return 0;
}

static void mark(webhook *wh, int64_t id, const char *state, int64_t attempts, int64_t next_at, long status,
                 const char *error) {
  gv_error err;
  gv_arg a[7] = {GV_INT(id), GV_TEXT(state), GV_INT(attempts), GV_INT(next_at),
                 status ? GV_INT(status) : GV_NULL_ARG, error ? GV_TEXT(error) : GV_NULL_ARG,
                 GV_INT(gv_host_now(wh->h))};
  if (gv_host_sql(wh->h,
                  "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, next_at = ?4,"
                  " last_status = coalesce(?5, last_status), last_error = ?6,"
                  " delivered_at = CASE WHEN ?2 = 'delivered' THEN ?7 ELSE delivered_at END WHERE id = ?1",
                  a, 7, NULL, NULL, &err) != GV_OK)
    gv_host_log(wh->h, GV_LOG_ERROR, "mark_failed", err.message);
}

/* Back-off: first_retry, doubling, at most max_retry. */
static int64_t backoff(const webhook *wh, int64_t attempts) {
  int64_t wait = wh->s.first_retry_ms;
  for (int64_t i = 1; i < attempts && wait < wh->s.max_retry_ms; i++) wait *= 2;
  return wait > wh->s.max_retry_ms ? wh->s.max_retry_ms : wait;
}

/* The body of a delivery, as the Standard Webhooks scheme suggests: type, timestamp and the
 * event as a reader without privileges sees it (so a hidden stance is not in it). Fixed at the
 * first attempt, so every retry carries the same bytes. NULL with err on failure. */
static char *payload_for(webhook *wh, int64_t event_id, gv_error *err) {
  char *ev_text = NULL;
  if (gv_host_event_json(wh->h, event_id, &ev_text, err) != GV_OK) return NULL;
  json_t *ev = json_loads(ev_text, 0, NULL);
  free(ev_text);
  if (!json_is_object(ev)) {
    json_decref(ev);
    gv_error_set(err, GV_EINTERNAL, NULL, "event %lld could not be read back", (long long)event_id);
    return NULL;
  }
  const char *kind = json_string_value(json_object_get(ev, "kind"));
  const char *action = json_string_value(json_object_get(ev, "action"));
  char type[160];
  if (action) snprintf(type, sizeof type, "%s.%s", kind ? kind : "event", action);
  else snprintf(type, sizeof type, "%s", kind ? kind : "event");
  json_object_set_new(ev, "forum", json_string(gv_host_forum_id(wh->h)));
  json_t *at = json_object_get(ev, "at");
  json_t *body = json_pack("{s:s, s:O, s:O}", "type", type, "timestamp", at ? at : json_null(), "data", ev);
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  json_decref(ev);
  if (text == NULL) gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  return text;
}

static char *header_line(const char *name, const char *value) {
  gv_str *s = gv_str_new();
  gv_str_printf(s, "%s: %s", name, value);
  return gv_str_finish(s);
}

/* The Standard Webhooks headers: webhook-id (the same on every attempt), webhook-timestamp
 * (seconds, now) and webhook-signature ("v1," + base64 of HMAC-SHA256 under the secret's
 * decoded key of id.timestamp.body). NULL-terminated, malloc'd; NULL on failure. */
static char **sign(webhook *wh, const due *d, const char *body, size_t len) {
  char id[160], ts[32], sig[8 + 48];
  snprintf(id, sizeof id, "msg_%s_%lld", gv_host_forum_id(wh->h), (long long)d->event_id);
  /* The receiver compares the timestamp with its own clock: the real one, not the test clock. */
  snprintf(ts, sizeof ts, "%lld", (long long)(gv_clock_real_ms() / 1000));
  uint8_t key[64], mac[GV_HASH_SHA256_LEN];
  const char *b64 = d->secret && strncmp(d->secret, "whsec_", 6) == 0 ? d->secret + 6 : "";
  long klen = gv_text_unbase64(b64, key, sizeof key);
  gv_str *msg = gv_str_new();
  gv_str_printf(msg, "%s.%s.", id, ts);
  gv_str_append(msg, body, len);
  int ok = klen > 0 && msg != NULL &&
           gv_hash_hmac_sha256(key, (size_t)klen, gv_str_data(msg), gv_str_len(msg), mac) == GV_OK;
  gv_str_free(msg);
  gv_random_wipe(key, sizeof key);
  if (!ok) return NULL;
  memcpy(sig, "v1,", 3);
  gv_text_base64(mac, sizeof mac, sig + 3);
  char **h = calloc(6, sizeof *h);
  if (h == NULL) return NULL;
  h[0] = header_line("Content-Type", "application/json");
  h[1] = header_line("webhook-id", id);
  h[2] = header_line("webhook-timestamp", ts);
  h[3] = header_line("webhook-signature", sig);
  /* Without it libcurl would wait for a "100 Continue" on larger bodies. */
  h[4] = strdup("Expect:");
  for (int i = 0; i < 5; i++)
    if (h[i] == NULL) {
      for (int k = 0; k < 5; k++) free(h[k]);
      free(h);
      return NULL;
    }
  return h;
}

/* A failure of ours (the database, memory) or the receiver's: retry later, or give up. */
static void attempt_failed(webhook *wh, int64_t id, int64_t attempts, long status, const char *error) {
  int64_t now = gv_host_now(wh->h);
  if (attempts >= wh->s.max_attempts) {
    mark(wh, id, "failed", attempts, now, status, error);
    wh->failed++;
    gv_host_logf(wh->h, GV_LOG_ERROR, "failed", "delivery=%lld attempts=%lld error=\"%s\"", (long long)id,
                 (long long)attempts, error);
  } else {
    int64_t wait = backoff(wh, attempts);
    mark(wh, id, "pending", attempts, now + wait, status, error);
    wh->retried++;
    gv_host_logf(wh->h, GV_LOG_WARN, "retry", "delivery=%lld attempt=%lld retry_in_s=%lld error=\"%s\"", (long long)id,
                 (long long)attempts, (long long)(wait / 1000), error);
  }
}

static void send_one(webhook *wh, due *d) {
  gv_error err;
  gv_error_clear(&err);
  if (d->payload == NULL) {
    d->payload = payload_for(wh, d->event_id, &err);
    if (d->payload == NULL) {
      attempt_failed(wh, d->id, d->attempts + 1, 0, err.message[0] ? err.message : "cannot build the body");
      return;
    }
    gv_arg a[2] = {GV_INT(d->id), GV_TEXT(d->payload)};
    if (gv_host_sql(wh->h, "UPDATE webhook_deliveries SET payload = ?2 WHERE id = ?1", a, 2, NULL, NULL, &err) != GV_OK)
      gv_host_log(wh->h, GV_LOG_ERROR, "payload_failed", err.message);
  }
  size_t len = strlen(d->payload);
  char **headers = sign(wh, d, d->payload, len);
  if (headers == NULL) {
    attempt_failed(wh, d->id, d->attempts + 1, 0, "cannot sign the delivery (is the endpoint's secret intact?)");
    return;
  }
  char *body = d->payload;
  d->payload = NULL;
  webhook_http_post(wh->http, d->id, d->url, headers, body, len);
}

static void send_due(webhook *wh) {
  size_t busy = webhook_http_busy(wh->http);
  if ((size_t)wh->s.parallel <= busy) return;
  due_list l;
  memset(&l, 0, sizeof l);
  gv_error err;
  gv_arg a[2] = {GV_INT(gv_host_now(wh->h)), GV_INT((int64_t)(wh->s.parallel + busy))};
  /* Deliveries of a removed endpoint find no row to join and are cancelled below. */
  if (gv_host_sql(wh->h,
                  "SELECT d.id, d.event_id, d.attempts, e.url, e.secret, d.payload FROM webhook_deliveries d"
                  " LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                  " WHERE d.state = 'pending' AND d.next_at <= ?1 ORDER BY d.next_at, d.id LIMIT ?2",
                  a, 2, read_due, &l, &err) != GV_OK)
    gv_host_log(wh->h, GV_LOG_ERROR, "select_failed", err.message);
  size_t room = (size_t)wh->s.parallel - busy;
  for (size_t i = 0; i < l.n; i++) {
    due *d = &l.d[i];
    if (d->url == NULL) mark(wh, d->id, "cancelled", d->attempts, 0, 0, "the endpoint was removed");
    else if (room > 0 && !webhook_http_sending(wh->http, d->id)) {
      send_one(wh, d);
      room--;
    }
    free(d->url);
    free(d->secret);
    free(d->payload);
  }
}

typedef struct ival {
  int64_t v;
} ival;

static int read_int(void *ud, const gv_row *r) {
  ((ival *)ud)->v = gv_row_int(r, 0);
  return 1;
}

static void on_done(void *ud, int64_t id, int ok, long status, const char *error) {
  webhook *wh = ud;
  ival att = {0};
  gv_error err;
  gv_arg a[1] = {GV_INT(id)};
  gv_host_sql(wh->h, "SELECT attempts FROM webhook_deliveries WHERE id = ?1", a, 1, read_int, &att, &err);
  if (ok) {
    mark(wh, id, "delivered", att.v + 1, gv_host_now(wh->h), status, NULL);
    wh->delivered++;
  } else {
    attempt_failed(wh, id, att.v + 1, status, error);
  }
  /* A finished attempt makes room for the next. */
  if (wh->tick_open) uv_timer_start(&wh->tick, on_tick, 0, 1000);
}

static void on_tick(uv_timer_t *t) { send_due(t->data); }

static void on_commit(void *state, gv_host *h, int64_t first, int64_t last) {
  webhook *wh = state;
  (void)h, (void)first, (void)last;
  if (wh->tick_open) uv_timer_start(&wh->tick, on_tick, 0, 1000);
}

static void on_serve(void *state, gv_host *h, void *loop) {
  webhook *wh = state;
  wh->loop = loop;
  wh->http = webhook_http_new(loop, &wh->s, on_done, wh);
  if (wh->http == NULL) {
    gv_host_log(h, GV_LOG_ERROR, "off", "out of memory: webhooks are not delivered");
    return;
  }
  uv_timer_init(wh->loop, &wh->tick);
  wh->tick.data = wh;
  wh->tick_open = 1;
  uv_timer_start(&wh->tick, on_tick, 0, 1000);
}

static void on_stop(void *state, gv_host *h) {
  webhook *wh = state;
  (void)h;
  if (!wh->tick_open) return;
  wh->tick_open = 0;
  uv_timer_stop(&wh->tick);
  uv_close((uv_handle_t *)&wh->tick, NULL);
  webhook_http_close(wh->http);
  wh->http = NULL;
}

/* ---- Metrics ---------------------------------------------------------------------------------- */

static int on_metrics(void *state, gv_host *h, gv_str *out) {
  webhook *wh = state;
  ival pending = {0}, oldest = {0};
  gv_error err;
  gv_host_sql(h, "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'", NULL, 0, read_int, &pending, &err);
  gv_host_sql(h, "SELECT coalesce(min(created_at), 0) FROM webhook_deliveries WHERE state = 'pending'", NULL, 0,
              read_int, &oldest, &err);
  int64_t age = oldest.v > 0 ? gv_host_now(h) - oldest.v : 0;
  gv_str_printf(out,
                "# HELP gavel_webhook_deliveries_total Webhook delivery attempts since the server started, by result"
                " (delivered; retry: failed, tried again later; failed: given up).\n"
                "# TYPE gavel_webhook_deliveries_total counter\n"
                "gavel_webhook_deliveries_total{result=\"delivered\"} %llu\n"
                "gavel_webhook_deliveries_total{result=\"retry\"} %llu\n"
                "gavel_webhook_deliveries_total{result=\"failed\"} %llu\n"
                "# HELP gavel_webhook_pending Webhook deliveries not yet made.\n"
                "# TYPE gavel_webhook_pending gauge\ngavel_webhook_pending %lld\n"
                "# HELP gavel_webhook_oldest_pending_seconds Age of the oldest webhook delivery not yet made.\n"
                "# TYPE gavel_webhook_oldest_pending_seconds gauge\ngavel_webhook_oldest_pending_seconds %.3f\n",
                (unsigned long long)wh->delivered, (unsigned long long)wh->retried, (unsigned long long)wh->failed,
                (long long)pending.v, age > 0 ? (double)age / 1000.0 : 0.0);
  return GV_OK;
}

const webhook_settings *webhook_settings_of(void *state) { return &((webhook *)state)->s; }

/* ---- The plugin -------------------------------------------------------------------------------- */

static int init(gv_host *h, const char *config_json, void **state, gv_error *err) {
  webhook *wh = calloc(1, sizeof *wh);
  if (wh == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  *state = wh;
  wh->h = h;
  int rc = webhook_settings_parse(config_json, &wh->s, err);
  if (rc == GV_OK) rc = gv_host_migrations(h, migrations, sizeof migrations / sizeof migrations[0], err);
  if (rc != GV_OK) return rc;
  gv_host_on_event(h, on_event);
  gv_host_on_commit(h, on_commit);
  gv_host_on_serve(h, on_serve, on_stop);
  gv_host_on_metrics(h, on_metrics);
  wh->curl_ready = webhook_http_global_init() == GV_OK;
  return GV_OK;
}

static void shutdown_webhook(void *state) {
  webhook *wh = state;
  if (wh && wh->curl_ready) webhook_http_global_cleanup();
  free(wh);
}

const gv_plugin gv_plugin_webhook = {
    .api_version = GV_PLUGIN_API_VERSION,
    .name = "webhook",
    .version = "1.0",
    .summary = "posts the forum's events to registered endpoints: signed, at least once, retried with back-off",
    .init = init,
    .shutdown = shutdown_webhook,
    .commands = webhook_commands,
    .routes = webhook_routes,
};
