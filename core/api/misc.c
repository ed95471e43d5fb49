/* Health, Prometheus metrics, and the test clock. */
#include "api/api.h"
#include "base/buf.h"
#include "base/metrics.h"
#include "base/time.h"
#include "host/host.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h_healthz(gv_call *c) {
  char ts[GV_TIME_BUFSZ];
  api_json(c, 200, json_pack("{s:s, s:s, s:s}", "status", c->srv->shutting_down ? "stopping" : "ok", "time",
                             gv_time_format(gv_engine_now(c->srv->e), ts), "version", GAVEL_VERSION));
}

static const char *const status_class[6] = {"2xx", "3xx", "4xx", "429", "5xx", "other"};
static const char *const duration_class[5] = {"2xx", "3xx", "4xx", "5xx", "other"};

/* Whether an address (text) is on the loopback network: 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
static int is_loopback(const char *addr) {
  unsigned char a[16];
  if (inet_pton(AF_INET, addr, a) == 1) return a[0] == 127;
  if (inet_pton(AF_INET6, addr, a) != 1) return 0;
  static const unsigned char one[16] = {[15] = 1}, mapped[12] = {[10] = 0xff, [11] = 0xff};
  return memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

/* Requests by route and status: a counter, and durations (streams left out). */
static void write_http(gv_buf *b) {
  size_t n, np;
  gv_route *tables[2] = {gv_routes(&n), gv_plugin_routes(&np)};
  size_t sizes[2] = {n, np};
  gv_metric_header(b, "gavel_http_requests_total", "counter", "HTTP responses by route template and status class.");
  for (int t = 0; t < 2; t++)
    for (size_t i = 0; i < sizes[t]; i++)
      for (int k = 0; k < 6; k++)
        if (tables[t][i].counts[k])
          gv_buf_printf(b, "gavel_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
                        tables[t][i].method, tables[t][i].pattern, status_class[k],
                        (unsigned long long)tables[t][i].counts[k]);
  gv_metric_header(b, "gavel_http_request_duration_seconds", "histogram",
                   "Time from a request's arrival to its answer, by route template and status class (streams excluded).");
  for (int t = 0; t < 2; t++)
    for (size_t i = 0; i < sizes[t]; i++)
      for (int k = 0; k < 5; k++) {
        const gv_route *r = &tables[t][i];
        if (r->duration[k].count == 0) continue;
        char route[300], labels[400];
        gv_metric_escape(r->pattern, route, sizeof route);
        snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\",status=\"%s\"", r->method, route, duration_class[k]);
        gv_hist_write(b, "gavel_http_request_duration_seconds", labels, &r->duration[k]);
      }
}

/* Batches, commits and actions of the engine, and the COMMIT statements of the store. */
static void write_engine(gv_buf *b, gv_srv *s) {
  const gv_engine_stats *st = gv_engine_stats_get(s->e);
  gv_metric_header(b, "gavel_action_duration_seconds", "histogram", "Time to apply one action inside its batch.");
  gv_hist_write(b, "gavel_action_duration_seconds", "", &st->action_seconds);
  gv_metric_header(b, "gavel_commit_batch_size", "histogram", "Actions committed per transaction.");
  gv_hist_write(b, "gavel_commit_batch_size", "", &st->batch_size);
  gv_metric_header(b, "gavel_commit_duration_seconds", "histogram",
                   "Time of a committed batch (of actions or of due timers) from BEGIN to the COMMIT's return.");
  gv_hist_write(b, "gavel_commit_duration_seconds", "", &st->commit_seconds);
  gv_metric_header(b, "gavel_sqlite_commit_duration_seconds", "histogram",
                   "Time of each successful SQLite COMMIT statement, where the WAL is written and synced to disk.");
  gv_hist_write(b, "gavel_sqlite_commit_duration_seconds", "", gv_store_commit_stats(gv_engine_store(s->e)));
  gv_buf_printf(b,
                "# HELP gavel_actions_total Actions applied.\n# TYPE gavel_actions_total counter\n"
                "gavel_actions_total %llu\n"
                "# HELP gavel_actions_failed_total Actions refused or failed (nothing committed).\n"
                "# TYPE gavel_actions_failed_total counter\ngavel_actions_failed_total %llu\n"
                "# HELP gavel_workflow_incidents_total Workflow failures recorded as incidents.\n"
                "# TYPE gavel_workflow_incidents_total counter\ngavel_workflow_incidents_total %llu\n",
                (unsigned long long)st->actions, (unsigned long long)st->actions_failed,
                (unsigned long long)st->incidents);
}

/* Durable timers: fired, pending, and how late the last one fired. */
static void write_timers(gv_buf *b, gv_srv *s) {
  const gv_engine_stats *st = gv_engine_stats_get(s->e);
  gv_buf_printf(b,
                "# HELP gavel_timers_fired_total Durable timers fired.\n# TYPE gavel_timers_fired_total counter\n"
                "gavel_timers_fired_total %llu\n"
                "# HELP gavel_timers_pending Durable timers waiting.\n# TYPE gavel_timers_pending gauge\n"
                "gavel_timers_pending %lld\n"
                "# HELP gavel_timer_lag_seconds How late, after its due time, the last timer fired (server clock).\n"
                "# TYPE gavel_timer_lag_seconds gauge\ngavel_timer_lag_seconds %.3f\n",
                (unsigned long long)st->timers_fired, (long long)gv_store_timer_pending_count(gv_engine_store(s->e)),
                (double)st->timer_last_lag_ms / 1000.0);
  if (st->timer_last_fired_at > 0)
    gv_buf_printf(b,
                  "# HELP gavel_timer_last_fired_timestamp_seconds When the last timer fired (server clock).\n"
                  "# TYPE gavel_timer_last_fired_timestamp_seconds gauge\n"
                  "gavel_timer_last_fired_timestamp_seconds %.3f\n",
                  (double)st->timer_last_fired_at / 1000.0);
}

/* The server's own gauges, the build, and the process. */
static void write_server(gv_buf *b, gv_srv *s) {
  char version[64];
  gv_metric_escape(GAVEL_VERSION, version, sizeof version);
  gv_buf_printf(b,
                "# HELP gavel_stream_clients Live update streams open.\n# TYPE gavel_stream_clients gauge\n"
                "gavel_stream_clients %zu\n"
                "# HELP gavel_password_queue Password hashes waiting or running.\n# TYPE gavel_password_queue gauge\n"
                "gavel_password_queue %d\n"
                "# HELP gavel_http_connections Open HTTP connections.\n# TYPE gavel_http_connections gauge\n"
                "gavel_http_connections %zu\n"
                "# HELP gavel_build_info The running build: always 1, with the version as a label.\n"
                "# TYPE gavel_build_info gauge\ngavel_build_info{version=\"%s\"} 1\n",
                s->nstreams, s->hash_queued, gv_http_server_connections(s->http), version);
  gv_metrics_process(b);
}

void h_metrics(gv_call *c) {
  gv_srv *s = c->srv;
  /* Decided on the client as the trusted proxies name it: behind a proxy on this machine the
   * TCP peer is always loopback, whoever the request is for. */
  if (!is_loopback(c->client_addr) && !gv_net_match(s->cfg.metrics_allow, s->cfg.nmetrics_allow, c->client_addr)) {
    api_error(c, GV_EFORBIDDEN, "metrics are served to loopback (and to configured networks) only", NULL);
    return;
  }
  gv_buf b = GV_BUF_INIT;
  write_http(&b);
  write_engine(&b, s);
  write_timers(&b, s);
  write_server(&b, s);
  gv_plugins_metrics(s->plugins, &b);
  char *text = gv_buf_steal(&b);
  if (text == NULL) {
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  api_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
  free(text);
}

void h_test_clock(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  json_t *adv = json_object_get(c->body, "advance_seconds");
  if (!json_is_integer(adv) || json_integer_value(adv) < 0 || json_integer_value(adv) > 10LL * 366 * 86400) {
    api_error(c, GV_EPARAM, "advance_seconds must be a whole number of seconds (0 to ten years)", "advance_seconds");
    return;
  }
  gv_engine_clock_advance(c->srv->e, json_integer_value(adv) * 1000);
  int fired = 0;
  gv_engine_run_due(c->srv->e, &fired);
  char ts[GV_TIME_BUFSZ];
  api_json(c, 200, json_pack("{s:s, s:i}", "now", gv_time_format(gv_engine_now(c->srv->e), ts), "timers_fired", fired));
}
