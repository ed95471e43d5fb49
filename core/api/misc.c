/* Health, Prometheus metrics, and the test clock. */
#include "api/api.h"
#include "base/buf.h"
#include "base/time.h"

#include <stdlib.h>
#include <string.h>

void h_healthz(gv_call *c) {
  char ts[GV_TIME_BUFSZ];
  api_json(c, 200, json_pack("{s:s, s:s, s:s}", "status", c->srv->shutting_down ? "stopping" : "ok", "time",
                             gv_time_format(gv_engine_now(c->srv->e), ts), "version", GAVEL_VERSION));
}

static const char *const status_class[6] = {"2xx", "3xx", "4xx", "429", "5xx", "other"};

void h_metrics(gv_call *c) {
  gv_srv *s = c->srv;
  if (!c->req->is_loopback && !gv_net_match(s->cfg.metrics_allow, s->cfg.nmetrics_allow, c->req->client_addr)) {
    api_error(c, GV_EFORBIDDEN, "metrics are served to loopback (and to configured networks) only", NULL);
    return;
  }
  gv_buf b = GV_BUF_INIT;
  gv_buf_puts(&b, "# HELP gavel_http_requests_total HTTP responses by route and status.\n"
                  "# TYPE gavel_http_requests_total counter\n");
  size_t n;
  gv_route *r = gv_routes(&n);
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 6; k++)
      if (r[i].counts[k])
        gv_buf_printf(&b, "gavel_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n", r[i].method,
                      r[i].pattern, status_class[k], (unsigned long long)r[i].counts[k]);
  const gv_engine_stats *st = gv_engine_stats_get(s->e);
  static const char *const bounds[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                       "0.01", "0.025", "0.05", "0.1", "0.25", "+Inf"};
  gv_buf_puts(&b, "# HELP gavel_action_duration_seconds Time to apply one action inside its batch.\n"
                  "# TYPE gavel_action_duration_seconds histogram\n");
  for (int i = 0; i < 12; i++)
    gv_buf_printf(&b, "gavel_action_duration_seconds_bucket{le=\"%s\"} %.0f\n", bounds[i], st->action_seconds_hist[i]);
  gv_buf_printf(&b, "gavel_action_duration_seconds_sum %.6f\ngavel_action_duration_seconds_count %.0f\n",
                st->action_seconds_sum, st->action_seconds_hist[11]);
  static const char *const sizes[] = {"1", "4", "16", "64", "256", "1024", "+Inf"};
  gv_buf_puts(&b, "# HELP gavel_commit_batch_size Actions committed per transaction.\n"
                  "# TYPE gavel_commit_batch_size histogram\n");
  uint64_t cum = 0;
  for (int i = 0; i < 7; i++) {
    cum += st->batch_hist[i];
    gv_buf_printf(&b, "gavel_commit_batch_size_bucket{le=\"%s\"} %llu\n", sizes[i], (unsigned long long)cum);
  }
  gv_buf_printf(&b, "gavel_commit_batch_size_sum %llu\ngavel_commit_batch_size_count %llu\n",
                (unsigned long long)st->actions, (unsigned long long)st->batches);
  gv_store *store = gv_engine_store(s->e);
  gv_buf_printf(&b,
                "# HELP gavel_actions_total Actions applied.\n# TYPE gavel_actions_total counter\n"
                "gavel_actions_total %llu\n"
                "# HELP gavel_actions_failed_total Actions refused or failed (nothing committed).\n"
                "# TYPE gavel_actions_failed_total counter\ngavel_actions_failed_total %llu\n"
                "# HELP gavel_timers_fired_total Durable timers fired.\n# TYPE gavel_timers_fired_total counter\n"
                "gavel_timers_fired_total %llu\n"
                "# HELP gavel_workflow_incidents_total Workflow failures recorded as incidents.\n"
                "# TYPE gavel_workflow_incidents_total counter\ngavel_workflow_incidents_total %llu\n"
                "# HELP gavel_timers_pending Durable timers waiting.\n# TYPE gavel_timers_pending gauge\n"
                "gavel_timers_pending %lld\n"
                "# HELP gavel_outbox_depth Outbox rows waiting for plugins.\n# TYPE gavel_outbox_depth gauge\n"
                "gavel_outbox_depth %lld\n"
                "# HELP gavel_stream_clients Live update streams open.\n# TYPE gavel_stream_clients gauge\n"
                "gavel_stream_clients %zu\n"
                "# HELP gavel_password_queue Password hashes waiting or running.\n# TYPE gavel_password_queue gauge\n"
                "gavel_password_queue %d\n"
                "# HELP gavel_http_connections Open HTTP connections.\n# TYPE gavel_http_connections gauge\n"
                "gavel_http_connections %zu\n",
                (unsigned long long)st->actions, (unsigned long long)st->actions_failed,
                (unsigned long long)st->timers_fired, (unsigned long long)st->incidents,
                (long long)gv_store_timer_pending_count(store), (long long)gv_store_outbox_count_after(store, 0),
                s->nstreams, s->hash_queued, gv_http_server_connections(s->http));
  char *text = gv_buf_steal(&b);
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
