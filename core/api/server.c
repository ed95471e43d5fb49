/* The server: one libuv loop, the HTTP layer, routing, group commit, durable timers, signals. */
#include "api/server.h"
#include "api/notify.h"
#include "api/api.h"
#include "base/crypto.h"
#include "base/time.h"
#include "base/log.h"
#include "host/host.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct gv_pending {
  gv_pending *next;
  gv_call *call;
  gv_action_req req;
  json_t *params, *title;
  int created;               /* answer 201 */
  char idem_key[201];
  char idem_hash[65];
  int status;                /* the response built inside the transaction */
  char *response;
  int twin;                  /* the idempotency key was taken by a concurrent twin */
};

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Replies -------------------------------------------------------------------------------- */

static void count(gv_call *c, int status) {
  if (c->route == NULL) return;
  int k = status >= 200 && status < 300 ? 0 : status < 400 ? 1 : status == 429 ? 3 : status < 500 ? 2 : status < 600 ? 4 : 5;
  c->route->counts[k]++;
}

void api_call_finish(gv_call *c, int status) {
  count(c, status);
  double ms = (mono() - c->started) * 1000.0;
  /* c->req may already be gone (the response finished it): use the copies. */
  gv_log(status >= 500 ? GV_LOG_WARN : GV_LOG_INFO, "http.request",
         "method=%s route=\"%s\" status=%d ms=%.2f user=%lld", c->method,
         c->route ? c->route->pattern : "-", status, ms, (long long)(c->authed ? c->user.id : 0));
  json_decref(c->body);
  free(c);
}

void api_raw(gv_call *c, int status, const gv_http_header *h, size_t nh, const char *body, size_t len) {
  static const gv_http_header defaults[] = {
      {"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}, {"Referrer-Policy", "no-referrer"}};
  gv_http_header all[16];
  size_t n = 0;
  /* The defaults, unless the caller gives a header of the same name. */
  for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
    int given = 0;
    for (size_t i = 0; i < nh; i++) given |= strcasecmp(h[i].name, defaults[d].name) == 0;
    if (!given) all[n++] = defaults[d];
  }
  for (size_t i = 0; i < nh && n < 16; i++) all[n++] = h[i];
  gv_http_respond(c->req, status, all, n, body, len);
  api_call_finish(c, status);
}

void api_text(gv_call *c, int status, const char *ctype, const char *body, size_t len) {
  gv_http_header h = {"Content-Type", ctype};
  api_raw(c, status, &h, 1, body, len);
}

void api_json(gv_call *c, int status, json_t *body) {
  char *s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(body);
  if (s == NULL) {
    api_text(c, 500, "application/json", "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}", 60);
    return;
  }
  api_text(c, status, "application/json; charset=utf-8", s, strlen(s));
  free(s);
}

void api_error(gv_call *c, int code, const char *message, const char *field) {
  json_t *e = json_pack("{s:s, s:s}", "code", gv_err_name(code), "message", message ? message : gv_strerror(code));
  if (field && *field) json_object_set_new(e, "field", json_string(field));
  int status = gv_err_http_status(code);
  if (code == GV_EBUSY) {
    gv_http_header h[2] = {{"Content-Type", "application/json; charset=utf-8"}, {"Retry-After", "5"}};
    json_t *o = json_pack("{s:o}", "error", e);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    api_raw(c, status, h, 2, s, strlen(s));
    free(s);
    return;
  }
  api_json(c, status, json_pack("{s:o}", "error", e));
}

void api_gv_error(gv_call *c, const gv_error *err) {
  /* Workflow failures are the secretariat's to look into; others get a plain message. */
  if ((err->code == GV_ESCRIPT || err->code == GV_ELIMIT) && c->caller.role != GV_ROLE_SECRETARIAT) {
    api_error(c, err->code, "the workflow failed while running this action; nothing was changed and the "
                            "secretariat can see the incident", NULL);
    return;
  }
  char buf[800];
  api_error(c, err->code, gv_error_format(err, buf, sizeof buf), err->field);
}

/* ---- Helpers ------------------------------------------------------------------------------- */

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Percent-decodes [s, s+n) into out; -1 on a bad escape or an embedded NUL. */
static int pct_decode(const char *s, size_t n, char *out, size_t size) {
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    int ch = (unsigned char)s[i];
    if (ch == '%') {
      if (i + 2 >= n) return -1;
      int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
      if (a < 0 || b < 0) return -1;
      ch = a * 16 + b;
      i += 2;
    } else if (ch == '+') {
      ch = ' ';
    }
    if (ch == 0 || j + 1 >= size) return -1;
    out[j++] = (char)ch;
  }
  out[j] = '\0';
  return 0;
}

const char *api_query(gv_call *c, const char *name, char *buf, size_t size) {
  const char *q = c->req->query;
  size_t nl = strlen(name);
  while (q && *q) {
    const char *amp = strchr(q, '&');
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    if (len > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
      if (pct_decode(q + nl + 1, len - nl - 1, buf, size) == 0) return buf;
      return NULL;
    }
    if (len == nl && strncmp(q, name, nl) == 0) {
      buf[0] = '\0';
      return buf;
    }
    q = amp ? amp + 1 : NULL;
  }
  return NULL;
}

int api_param_id(gv_call *c, int i, int64_t *out) {
  char *end;
  long long v = strtoll(c->param[i], &end, 10);
  if (*end || v <= 0 || c->param[i][0] == '\0') return -1;
  *out = v;
  return 0;
}

json_t *api_receipt(int64_t event_id, int64_t committed_at) {
  char ts[GV_TIME_BUFSZ];
  return json_pack("{s:I, s:s}", "event_id", (json_int_t)event_id, "committed_at", gv_time_format(committed_at, ts));
}

int api_require_role(gv_call *c, gv_role role) {
  if (gv_role_parse(c->user.role) == role) return 0;
  char msg[128];
  snprintf(msg, sizeof msg, "only the %s may do this", gv_role_name(role));
  api_error(c, GV_EFORBIDDEN, msg, NULL);
  return -1;
}

/* The request's identity for idempotency: method, path and body. */
static void request_hash(gv_call *c, char out[65]) {
  gv_sha256_ctx *h = gv_sha256_new();
  gv_sha256_update(h, c->req->method, strlen(c->req->method));
  gv_sha256_update(h, " ", 1);
  gv_sha256_update(h, c->req->path, strlen(c->req->path));
  gv_sha256_update(h, "\n", 1);
  gv_sha256_update(h, c->req->body ? c->req->body : "", c->req->body_len);
  uint8_t d[GV_SHA256_LEN];
  gv_sha256_final(h, d);
  gv_hex(d, sizeof d, out);
}

/* ---- Group commit -------------------------------------------------------------------------- */

static void flush_cb(uv_check_t *h);

void api_enqueue(gv_call *c, gv_action_req *req, json_t *own_params, json_t *own_title, int created) {
  gv_srv *s = c->srv;
  gv_pending *p = calloc(1, sizeof *p);
  if (p == NULL) {
    json_decref(own_params);
    json_decref(own_title);
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  p->call = c;
  p->req = *req;
  p->req.caller = &c->caller;
  p->params = own_params;
  p->title = own_title;
  p->created = created;
  const char *key = gv_http_header_get(c->req, "idempotency-key");
  if (key) {
    snprintf(p->idem_key, sizeof p->idem_key, "%s", key);
    request_hash(c, p->idem_hash);
  }
  p->req.applied_ud = p;
  if (s->queue_tail) s->queue_tail->next = p;
  else s->queue_head = p;
  s->queue_tail = p;
  s->queued++;
  uv_check_start(&s->flush, flush_cb);
}


/* Called inside the action's savepoint: builds the answer and, with an idempotency key,
 * stores it in the same transaction. */
static int applied(gv_engine *e, gv_action_req *req, gv_action_res *res, void *ud) {
  gv_pending *p = ud;
  return api_pending_applied(e, req, res, p);
}

int api_pending_applied(gv_engine *e, gv_action_req *req, gv_action_res *res, void *ud) {
  gv_pending *p = ud;
  json_t *body = api_item_answer(p->call->srv, p->call, res);
  if (body == NULL) return gv_error_set(&res->err, GV_EINTERNAL, NULL, "cannot build the answer");
  p->status = p->created ? 201 : 200;
  p->response = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(body);
  /* An answer that cannot be written down undoes the action: a client is never left
   * without the receipt of something that committed. */
  if (p->response == NULL) return gv_error_set(&res->err, GV_ENOMEM, NULL, "out of memory building the answer");
  if (p->idem_key[0]) {
    int rc = gv_store_idem_put(gv_engine_store(e), p->call->user.id, p->idem_key, p->idem_hash, p->status,
                               p->response, res->committed_at, &res->err);
    if (rc == GV_EEXIST) {
      p->twin = 1;
      return gv_error_set(&res->err, GV_ECONFLICT, NULL, "a concurrent request with the same Idempotency-Key");
    }
    return rc;
  }
  (void)req;
  return GV_OK;
}

/* Answers a request whose Idempotency-Key is already recorded: the original answer, or
 * 422 if the request differs. Returns 1 if it answered. */
int api_idem_replay(gv_call *c, const char *hash) {
  const char *key = gv_http_header_get(c->req, "idempotency-key");
  if (key == NULL || !c->authed) return 0;
  gv_idem rec = {0};
  if (gv_store_idem_get(gv_engine_store(c->srv->e), c->user.id, key, &rec, NULL) != GV_OK) return 0;
  if (rec.created_at < gv_engine_now(c->srv->e) - IDEMPOTENCY_WINDOW_MS) {
    free(rec.response);
    return 0;
  }
  if (strcmp(rec.request_sha256, hash) != 0) {
    free(rec.response);
    api_error(c, GV_EIDEMPOTENCY, "this Idempotency-Key was used for a different request", "Idempotency-Key");
    return 1;
  }
  gv_http_header h[2] = {{"Content-Type", "application/json; charset=utf-8"}, {"Idempotent-Replayed", "true"}};
  api_raw(c, rec.status, h, 2, rec.response, strlen(rec.response));
  free(rec.response);
  return 1;
}

static void arm_timer(gv_srv *s);

static void flush_cb(uv_check_t *h) {
  gv_srv *s = h->data;
  while (s->queue_head) {
    size_t n = 0, max = (size_t)s->cfg.max_batch;
    gv_pending *batch[10000];
    if (max > sizeof batch / sizeof batch[0]) max = sizeof batch / sizeof batch[0];
    while (s->queue_head && n < max) {
      gv_pending *p = s->queue_head;
      s->queue_head = p->next;
      if (s->queue_head == NULL) s->queue_tail = NULL;
      s->queued--;
      batch[n++] = p;
    }
    gv_action_req *reqs = calloc(n, sizeof *reqs);
    gv_action_res *res = calloc(n, sizeof *res);
    /* Without room for the batch, nothing is applied and every client hears so. */
    if (reqs != NULL && res != NULL) {
      for (size_t i = 0; i < n; i++) {
        reqs[i] = batch[i]->req;
        reqs[i].applied = applied;
        reqs[i].applied_ud = batch[i];
      }
      gv_engine_apply(s->e, reqs, res, n);
      s->commit_batches++;
    }
    for (size_t i = 0; i < n; i++) {
      gv_pending *p = batch[i];
      if (res == NULL || reqs == NULL) {
        api_error(p->call, GV_ENOMEM, NULL, NULL);
      } else if (res[i].err.code == GV_OK && p->response) {
        api_text(p->call, p->status, "application/json; charset=utf-8", p->response, strlen(p->response));
      } else if (p->twin) {
        if (!api_idem_replay(p->call, p->idem_hash)) api_error(p->call, GV_ECONFLICT, "retry the request", NULL);
      } else {
        api_gv_error(p->call, &res[i].err);
      }
      json_decref(p->params);
      json_decref(p->title);
      free(p->response);
      free(p);
    }
    free(reqs);
    free(res);
  }
  uv_check_stop(h);
  arm_timer(s);
}

/* ---- Durable timers on the loop ----------------------------------------------------------- */

static void on_timer(uv_timer_t *t) {
  gv_srv *s = t->data;
  int fired = 0;
  gv_engine_run_due(s->e, &fired);
  if (fired) gv_log(GV_LOG_INFO, "timers.fired", "count=%d", fired);
  arm_timer(s);
}

/* Arms the loop's timer from the wall clock for the earliest pending deadline; libuv
 * timers are monotonic, so it wakes at least every minute to re-read the wall clock. */
static void arm_timer(gv_srv *s) {
  if (s->shutting_down) return;
  int64_t next = gv_engine_next_due(s->e);
  if (next == INT64_MAX) {
    uv_timer_start(&s->timer, on_timer, TIMER_MAX_SLEEP_MS, 0);
    return;
  }
  int64_t delay = next - gv_engine_now(s->e);
  if (delay < 0) delay = 0;
  if (delay > TIMER_MAX_SLEEP_MS) delay = TIMER_MAX_SLEEP_MS;
  uv_timer_start(&s->timer, on_timer, (uint64_t)delay, 0);
}

static void commit_listener(gv_engine *e, int64_t first, int64_t last, void *ud) {
  gv_srv *s = ud;
  api_streams_commit(e, first, last, s);
}


static void on_housekeeping(uv_timer_t *t) {
  gv_srv *s = t->data;
  api_streams_ping(s);
  if (++s->ticks % 180 != 1) return; /* the purge runs about once an hour */
  int64_t now = gv_engine_now(s->e);
  gv_store *st = gv_engine_store(s->e);
  gv_store_idem_purge(st, now - IDEMPOTENCY_WINDOW_MS, NULL);
  gv_store_login_failures_clear(st, NULL, now - IDEMPOTENCY_WINDOW_MS, NULL);
}

/* ---- Requests ---------------------------------------------------------------------------- */

/* The client's address: the peer, or through trusted proxies the last untrusted hop of
 * X-Forwarded-For. */
static void client_address(gv_srv *s, gv_http_req *req, char out[64]) {
  snprintf(out, 64, "%s", req->client_addr);
  if (s->cfg.ntrusted_proxies == 0 || !gv_net_match(s->cfg.trusted_proxies, s->cfg.ntrusted_proxies, req->client_addr))
    return;
  const char *xff = gv_http_header_get(req, "x-forwarded-for");
  if (xff == NULL) return;
  char copy[1024];
  snprintf(copy, sizeof copy, "%s", xff);
  for (;;) {
    char *comma = strrchr(copy, ',');
    char *hop = comma ? comma + 1 : copy;
    while (*hop == ' ') hop++;
    char *end = hop + strlen(hop);
    while (end > hop && end[-1] == ' ') *--end = '\0';
    if (*hop == '\0') return;
    snprintf(out, 64, "%.63s", hop);
    if (!gv_net_match(s->cfg.trusted_proxies, s->cfg.ntrusted_proxies, hop) || comma == NULL) return;
    *comma = '\0';
  }
}

static void on_request(gv_http_req *req, void *ud) {
  gv_srv *s = ud;
  gv_call *c = calloc(1, sizeof *c);
  if (c == NULL) {
    gv_http_respond_error(req, gv_err_http_status(GV_ENOMEM), gv_err_name(GV_ENOMEM), gv_strerror(GV_ENOMEM), NULL);
    return;
  }
  c->srv = s;
  c->req = req;
  c->started = mono();
  snprintf(c->method, sizeof c->method, "%s", req->method);
  s->requests++;
  client_address(s, req, c->client_addr);
  c->caller.role = GV_ROLE_NONE;
  if (s->shutting_down) {
    api_error(c, GV_ECANCELED, "the server is shutting down", NULL);
    return;
  }
  int path_matched = 0;
  gv_route *r = gv_route_find(req->method, req->path, c, &path_matched);
  if (r == NULL || ((r->flags & R_TEST_CLOCK) && !s->cfg.test_clock)) {
    if (r == NULL && path_matched) {
      char allow[64];
      gv_route_allow(req->path, allow, sizeof allow);
      json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", gv_err_name(GV_EMETHOD), "message",
                            "this resource does not accept that method");
      char *b = json_dumps(e, JSON_COMPACT);
      json_decref(e);
      gv_http_header h[2] = {{"Content-Type", "application/json; charset=utf-8"}, {"Allow", allow}};
      api_raw(c, 405, h, 2, b, strlen(b));
      free(b);
      return;
    }
    api_error(c, GV_ENOTFOUND, "no such resource", NULL);
    return;
  }
  c->route = r;
  int has_body = req->body_len > 0;
  if (has_body) {
    const char *ct = gv_http_header_get(req, "content-type");
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
      api_error(c, GV_EMEDIA, "send the body as application/json", "Content-Type");
      return;
    }
    json_error_t jerr;
    c->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (c->body == NULL) {
      char msg[300];
      snprintf(msg, sizeof msg, "the body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
      api_error(c, GV_EPARSE, msg, NULL);
      return;
    }
    if (!json_is_object(c->body)) {
      api_error(c, GV_EPARSE, "the body must be a JSON object", NULL);
      return;
    }
  }
  if (!(r->flags & R_PUBLIC) && api_authenticate(c) != 0) return;
  /* A retried POST with an Idempotency-Key gets the original answer. */
  if ((r->flags & R_IDEMPOTENT) && c->authed && gv_http_header_get(req, "idempotency-key")) {
    const char *key = gv_http_header_get(req, "idempotency-key");
    size_t kl = strlen(key);
    int ok = kl > 0 && kl <= 200;
    for (size_t i = 0; ok && i < kl; i++) ok = key[i] > 32 && key[i] < 127;
    if (!ok) {
      api_error(c, GV_EPARSE, "Idempotency-Key must be 1 to 200 visible ASCII characters", "Idempotency-Key");
      return;
    }
    char hash[65];
    request_hash(c, hash);
    if (api_idem_replay(c, hash)) return;
  }
  r->fn(c);
}

/* ---- Lifecycle --------------------------------------------------------------------------- */

static void close_cb(uv_handle_t *h) { (void)h; }

static void http_closed(void *arg) {
  gv_srv *s = arg;
  uv_close((uv_handle_t *)&s->timer, close_cb);
  uv_close((uv_handle_t *)&s->housekeeping, close_cb);
  uv_close((uv_handle_t *)&s->flush, close_cb);
  uv_close((uv_handle_t *)&s->sigterm, close_cb);
  uv_close((uv_handle_t *)&s->sigint, close_cb);
  uv_close((uv_handle_t *)&s->sighup, close_cb);
  gv_log(GV_LOG_INFO, "server.stopped", "requests=%llu", (unsigned long long)s->requests);
}

static void begin_shutdown(gv_srv *s, const char *why) {
  if (s->shutting_down) return;
  s->shutting_down = 1;
  gv_log(GV_LOG_INFO, "server.stopping", "signal=%s", why);
  gv_notify_stopping();
  uv_timer_stop(&s->timer);
  gv_plugins_loop_stop(s->plugins);
  api_streams_close_all(s);
  gv_http_server_shutdown(s->http, http_closed, s);
}

static void on_signal(uv_signal_t *h, int signum) {
  gv_srv *s = h->data;
  if (signum == SIGHUP) {
    gv_error errs[16];
    size_t n = 0;
    gv_notify_reloading();
    gv_engine_register_dir(s->e, s->cfg.workflows, errs, 16, &n);
    gv_log(GV_LOG_INFO, "workflows.reloaded", "errors=%zu", n);
    gv_notify_reloaded();
    return;
  }
  begin_shutdown(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int gv_server_run(const gv_config *cfg, gv_engine *e, struct gv_plugins *plugins) {
  signal(SIGPIPE, SIG_IGN);
  gv_srv *s = calloc(1, sizeof *s);
  if (s == NULL) {
    fprintf(stderr, "gavel: out of memory\n");
    return 1;
  }
  s->cfg = *cfg;
  uv_loop_t loop;
  uv_loop_init(&loop);
  s->loop = &loop;
  gv_error err;
  gv_error_clear(&err);
  int rc = 1;
  s->e = e;
  s->forum = gv_engine_forum(s->e, NULL);
  s->plugins = plugins;
  if (s->forum == NULL) {
    gv_log(GV_LOG_ERROR, "server.no_forum", "path=%s", cfg->database);
    goto out;
  }
  {
    gv_error errs[16];
    size_t n = 0;
    gv_engine_register_dir(s->e, cfg->workflows, errs, 16, &n);
  }
  /* Deadlines that passed while the server was down fire once, now. */
  {
    int fired = 0;
    gv_engine_run_due(s->e, &fired);
    if (fired) gv_log(GV_LOG_INFO, "timers.overdue_fired", "count=%d", fired);
  }
  gv_engine_on_commit(s->e, commit_listener, s);
  gv_http_limits lim;
  gv_http_limits_default(&lim);
  lim.max_body = cfg->max_body;
  if (gv_http_server_new(&loop, &lim, on_request, s, &s->http) != GV_OK) goto out;
  if (cfg->tls_cert[0] && gv_http_server_tls(s->http, cfg->tls_cert, cfg->tls_key, &err) != GV_OK) {
    char buf[GV_ERROR_TEXT_MAX];
    gv_log(GV_LOG_ERROR, "server.tls", "error=\"%s\"", gv_error_format(&err, buf, sizeof buf));
    goto out;
  }
  if (gv_http_server_listen(s->http, cfg->listen_host, cfg->listen_port, &err) != GV_OK) {
    gv_log(GV_LOG_ERROR, "server.listen", "address=%s port=%d error=\"%s\"", cfg->listen_host, cfg->listen_port, err.message);
    goto out;
  }
  uv_timer_init(&loop, &s->timer);
  s->timer.data = s;
  uv_timer_init(&loop, &s->housekeeping);
  s->housekeeping.data = s;
  uv_timer_start(&s->housekeeping, on_housekeeping, 1000, 20000);
  uv_check_init(&loop, &s->flush);
  s->flush.data = s;
  uv_signal_init(&loop, &s->sigterm);
  uv_signal_init(&loop, &s->sigint);
  uv_signal_init(&loop, &s->sighup);
  s->sigterm.data = s->sigint.data = s->sighup.data = s;
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  uv_signal_start(&s->sighup, on_signal, SIGHUP);
  arm_timer(s);
  api_auth_start(s);
  gv_plugins_loop_start(s->plugins, &loop);
  gv_log(GV_LOG_INFO, "server.listening", "url=%s://%s%s%s:%d forum=%s database=%s test_clock=%d",
         cfg->tls_cert[0] ? "https" : "http", strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
         strchr(cfg->listen_host, ':') ? "]" : "", gv_http_server_port(s->http), s->forum->id, cfg->database,
         cfg->test_clock);
  gv_notify_ready(&loop, "serving");
  uv_run(&loop, UV_RUN_DEFAULT);
  rc = 0;
out:
  if (s->http) gv_http_server_free(s->http);
  uv_run(&loop, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop) != 0) gv_log(GV_LOG_WARN, "server.loop_not_closed", "%s", "");
  free(s);
  return rc;
}
