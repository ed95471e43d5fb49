/* The server: one libuv loop, listening, dispatching requests to routes, durable timers, signals.
 * Replies are in reply.c, group commit in batch.c. */
#include "api/server.h"
#include "api/notify.h"
#include "api/api.h"
#include "base/time.h"
#include "base/log.h"
#include "host/host.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Durable timers on the loop ----------------------------------------------------------- */

static void arm_timer(gv_srv *s);

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

static void on_engine_commit(gv_engine *e, int64_t first, int64_t last, void *ud) {
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
  c->started = api_mono();
  snprintf(c->method, sizeof c->method, "%s", req->method);
  api_request_id(c);
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
  /* A route that reads no body (a form posted by a mail provider) takes one of any type. */
  int has_body = req->body_len > 0 && !(r->flags & R_ANY_BODY);
  if (has_body && (r->flags & R_CSV_BODY)) {
    const char *ct = gv_http_header_get(req, "content-type");
    if (ct == NULL || strncasecmp(ct, "text/csv", 8) != 0 || (ct[8] != '\0' && ct[8] != ';' && ct[8] != ' ')) {
      api_error(c, GV_EMEDIA, "send the body as text/csv", "Content-Type");
      return;
    }
  } else if (has_body) {
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
    api_request_hash(c, hash);
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
    api_tls_reload(s);
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
  gv_engine_on_commit(s->e, on_engine_commit, s);
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
  s->after_batches = arm_timer; /* a batch may have set or cleared deadlines */
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
