/* The webhook plugin's administration: its settings, the endpoints the secretariat registers
 * (over the API and the command line) and the status of their deliveries. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

/* ---- Settings ---------------------------------------------------------------------------------- */

static int bad(gv_error *err, const char *name, const char *why) {
  return gv_error_set(err, GV_ECONFIG, NULL, "plugins.webhook: %s %s", name, why);
}

static int duration(json_t *cfg, const char *name, int64_t def, int64_t *out, gv_error *err) {
  json_t *v = json_object_get(cfg, name);
  *out = def;
  if (v == NULL) return GV_OK;
  if (!json_is_string(v) || gv_clock_parse_duration(json_string_value(v), out) != GV_OK || *out <= 0)
    return bad(err, name, "must be a duration such as \"30s\", \"5m\" or \"1h\"");
  return GV_OK;
}

static int whole(json_t *cfg, const char *name, int min, int max, int *out, gv_error *err) {
  json_t *v = json_object_get(cfg, name);
  if (v == NULL) return GV_OK;
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
    char why[80];
    snprintf(why, sizeof why, "must be a whole number from %d to %d", min, max);
    return bad(err, name, why);
  }
  *out = (int)json_integer_value(v);
  return GV_OK;
}

int webhook_settings_parse(const char *config_json, webhook_settings *s, gv_error *err) {
  static const char *const known[] = {"first_retry", "max_retry", "max_attempts", "timeout", "parallel", "allow_http",
                                      NULL};
  memset(s, 0, sizeof *s);
  s->max_attempts = 15;
  s->parallel = 2;
  json_t *cfg = json_loads(config_json ? config_json : "{}", 0, NULL);
  int rc = GV_OK;
  if (!json_is_object(cfg)) {
    rc = bad(err, "settings", "must be a table");
    goto out;
  }
  const char *name;
  json_t *v;
  json_object_foreach(cfg, name, v) {
    int ok = 0;
    for (int i = 0; known[i]; i++) ok |= strcmp(known[i], name) == 0;
    if (!ok) {
      rc = gv_error_set(err, GV_ECONFIG, NULL,
                        "plugins.webhook: unknown setting '%s' (known: first_retry, max_retry, max_attempts, timeout, "
                        "parallel, allow_http)",
                        name);
      goto out;
    }
  }
  int64_t t;
  if ((rc = duration(cfg, "first_retry", 30000, &s->first_retry_ms, err)) != GV_OK ||
      (rc = duration(cfg, "max_retry", 3600000, &s->max_retry_ms, err)) != GV_OK ||
      (rc = duration(cfg, "timeout", 10000, &t, err)) != GV_OK ||
      (rc = whole(cfg, "max_attempts", 1, 100, &s->max_attempts, err)) != GV_OK ||
      (rc = whole(cfg, "parallel", 1, WEBHOOK_MAX_PARALLEL, &s->parallel, err)) != GV_OK)
    goto out;
  if (s->max_retry_ms > 86400000 || s->first_retry_ms > s->max_retry_ms) {
    rc = bad(err, "first_retry", "must be at most max_retry, which is at most a day");
    goto out;
  }
  s->timeout_s = (long)(t / 1000 > 0 ? t / 1000 : 1);
  json_t *ah = json_object_get(cfg, "allow_http");
  if (ah && !json_is_boolean(ah)) {
    rc = bad(err, "allow_http", "must be true or false");
    goto out;
  }
  s->allow_http = json_is_true(ah);
out:
  json_decref(cfg);
  return rc;
}

/* ---- Endpoints ---------------------------------------------------------------------------------- */

static int loopback_host(const char *host) {
  return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0;
}

int webhook_url_check(const webhook_settings *s, const char *url, gv_error *err) {
  int rc = GV_OK;
  if (url == NULL || strlen(url) >= WEBHOOK_URL_MAX)
    return gv_error_set(err, GV_EINVAL, "url", "the address must be an http:// or https:// URL of at most 2047 bytes");
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    rc = gv_error_set(err, GV_EINVAL, "url", "the address must be a URL such as https://example.org/gavel-events");
  } else if (strcmp(scheme, "http") == 0 && !s->allow_http && !loopback_host(host)) {
    rc = gv_error_set(err, GV_EINVAL, "url",
                      "plain http:// is accepted only for a receiver on this machine: use https:// (or set "
                      "plugins.webhook.allow_http)");
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

int webhook_events_check(const char *list, char *out, size_t size, gv_error *err) {
  size_t n = 0;
  out[0] = '\0';
  for (const char *p = list ? list : ""; *p; p++) {
    char c = *p;
    if (c == ' ') continue;
    int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ',' || c == '*';
    if (!ok)
      return gv_error_set(err, GV_EINVAL, "events",
                          "event kinds are words such as action, timer, account, meeting, config, an action's name "
                          "(submit_position) or both (action.submit_position), separated by commas");
    if (n + 1 >= size) return gv_error_set(err, GV_EINVAL, "events", "the list of event kinds is too long");
    if (c == ',' && (n == 0 || out[n - 1] == ',')) continue;
    out[n++] = c;
  }
  while (n > 0 && out[n - 1] == ',') n--;
  out[n] = '\0';
  if (strcmp(out, "*") == 0) out[0] = '\0';
  return GV_OK;
}

typedef struct ival {
  int64_t v;
} ival;

static int read_int(void *ud, const gv_row *r) {
  ((ival *)ud)->v = gv_row_int(r, 0);
  return 1;
}

int webhook_endpoint_add(gv_host *h, const char *url, const char *events, const char *by, int64_t *id, char *secret,
                         gv_error *err) {
  uint8_t key[24];
  if (gv_random_bytes(key, sizeof key) != GV_OK) return gv_error_set(err, GV_EIO, NULL, "no random bytes");
  memcpy(secret, "whsec_", 6);
  gv_text_base64(key, sizeof key, secret + 6);
  gv_random_wipe(key, sizeof key);
  gv_arg a[5] = {GV_TEXT(url), GV_TEXT(events), GV_TEXT(secret), by ? GV_TEXT(by) : GV_NULL_ARG, GV_INT(gv_host_now(h))};
  int rc = gv_host_sql(h,
                       "INSERT INTO webhook_endpoints(url, events, secret, created_by, created_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
                       a, 5, NULL, NULL, err);
  ival last = {0};
  if (rc == GV_OK) rc = gv_host_sql(h, "SELECT last_insert_rowid()", NULL, 0, read_int, &last, err);
  *id = last.v;
  if (rc == GV_OK)
    gv_host_logf(h, GV_LOG_INFO, "added", "endpoint=%lld by=%s", (long long)*id, by ? by : "command line");
  return rc;
}

int webhook_endpoint_remove(gv_host *h, int64_t id, gv_error *err) {
  ival found = {0};
  gv_arg a[1] = {GV_INT(id)};
  int rc = gv_host_sql(h, "SELECT count(*) FROM webhook_endpoints WHERE id = ?1", a, 1, read_int, &found, err);
  if (rc != GV_OK) return rc;
  if (found.v == 0) return gv_error_set(err, GV_ENOTFOUND, "id", "no webhook %lld", (long long)id);
  rc = gv_host_sql(h, "DELETE FROM webhook_endpoints WHERE id = ?1", a, 1, NULL, NULL, err);
  if (rc == GV_OK)
    rc = gv_host_sql(h,
                     "UPDATE webhook_deliveries SET state = 'cancelled', last_error = 'the endpoint was removed'"
                     " WHERE endpoint_id = ?1 AND state = 'pending'",
                     a, 1, NULL, NULL, err);
  if (rc == GV_OK) gv_host_logf(h, GV_LOG_INFO, "removed", "endpoint=%lld", (long long)id);
  return rc;
}

/* ---- What the endpoints are and how their deliveries went --------------------------------------- */

static int endpoint_json(void *ud, const gv_row *r) {
  json_t *list = ud;
  char at[GV_CLOCK_BUFSZ];
  json_t *events = json_array();
  const char *ev = gv_row_text(r, 2);
  for (const char *p = ev ? ev : ""; *p;) {
    size_t n = strcspn(p, ",");
    json_array_append_new(events, json_stringn(p, n));
    p += n;
    if (*p == ',') p++;
  }
  json_t *counts = json_pack("{s:I, s:I, s:I, s:I}", "pending", (json_int_t)gv_row_int(r, 5), "delivered",
                             (json_int_t)gv_row_int(r, 6), "failed", (json_int_t)gv_row_int(r, 7), "cancelled",
                             (json_int_t)gv_row_int(r, 8));
  json_t *o = json_pack("{s:I, s:s, s:o, s:s, s:o, s:o}", "id", (json_int_t)gv_row_int(r, 0), "url", gv_row_text(r, 1),
                        "events", events, "created_at", gv_clock_format(gv_row_int(r, 4), at), "deliveries", counts,
                        "last_error", gv_row_text(r, 9) ? json_string(gv_row_text(r, 9)) : json_null());
  json_object_set_new(o, "created_by", gv_row_text(r, 3) ? json_string(gv_row_text(r, 3)) : json_null());
  json_array_append_new(list, o);
  return 0;
}

/* Every endpoint with its deliveries by state and the latest error (never its secret). */
static json_t *endpoints_json(gv_host *h, gv_error *err) {
  json_t *list = json_array();
  int rc = gv_host_sql(
      h,
      "SELECT e.id, e.url, e.events, e.created_by, e.created_at,"
      " (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending'),"
      " (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'delivered'),"
      " (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'failed'),"
      " (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'cancelled'),"
      " (SELECT d.last_error FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.last_error IS NOT NULL"
      "  ORDER BY d.id DESC LIMIT 1)"
      " FROM webhook_endpoints e ORDER BY e.id",
      NULL, 0, endpoint_json, list, err);
  if (rc != GV_OK) {
    json_decref(list);
    return NULL;
  }
  return list;
}

/* ---- HTTP routes ---------------------------------------------------------------------------------- */

static int reply_json(gv_request *r, int status, json_t *o) {
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (text == NULL) return gv_request_error(r, GV_ENOMEM, "out of memory", NULL);
  int rc = gv_request_reply(r, status, "application/json", text, strlen(text));
  free(text);
  return rc;
}

/* The forum of the path is this one, and the caller is its secretariat. Answers otherwise. */
static int allowed(gv_host *h, gv_request *r) {
  const char *forum = gv_request_param(r, "forum");
  if (forum == NULL || strcmp(forum, gv_host_forum_id(h)) != 0) {
    gv_request_error(r, GV_ENOTFOUND, "no such forum", "forum");
    return 0;
  }
  const char *role = gv_request_role(r);
  if (role == NULL || strcmp(role, "secretariat") != 0) {
    gv_request_error(r, GV_EFORBIDDEN, "only the secretariat manages webhooks", NULL);
    return 0;
  }
  return 1;
}

static void r_list(void *state, gv_host *h, gv_request *r) {
  (void)state;
  if (!allowed(h, r)) return;
  gv_error err;
  json_t *list = endpoints_json(h, &err);
  if (list == NULL) {
    gv_request_error(r, err.code, err.message, NULL);
    return;
  }
  reply_json(r, 200, json_pack("{s:o}", "webhooks", list));
}

static void r_add(void *state, gv_host *h, gv_request *r) {
  if (!allowed(h, r)) return;
  gv_error err;
  gv_error_clear(&err);
  json_t *body = json_loads(gv_request_body(r, NULL), 0, NULL);
  const char *url = json_string_value(json_object_get(body, "url"));
  json_t *kinds = json_object_get(body, "events");
  char joined[WEBHOOK_EVENTS_MAX] = "", events[WEBHOOK_EVENTS_MAX];
  int rc = json_is_object(body) ? GV_OK : gv_error_set(&err, GV_EPARSE, NULL, "the body must be a JSON object");
  if (rc == GV_OK && kinds && !json_is_array(kinds) && !json_is_null(kinds))
    rc = gv_error_set(&err, GV_EPARAM, "events", "events must be a list of event kinds");
  size_t i;
  json_t *k;
  json_array_foreach(rc == GV_OK ? kinds : NULL, i, k) {
    if (!json_is_string(k)) {
      rc = gv_error_set(&err, GV_EPARAM, "events", "events must be a list of event kinds");
      break;
    }
    size_t used = strlen(joined);
    snprintf(joined + used, sizeof joined - used, "%s%s", used ? "," : "", json_string_value(k));
  }
  if (rc == GV_OK) rc = webhook_url_check(webhook_settings_of(state), url, &err);
  if (rc == GV_OK) rc = webhook_events_check(joined, events, sizeof events, &err);
  int64_t id = 0;
  char secret[64];
  if (rc == GV_OK) rc = webhook_endpoint_add(h, url, events, gv_request_username(r), &id, secret, &err);
  if (rc != GV_OK) {
    gv_request_error(r, rc == GV_EINVAL ? GV_EPARAM : rc, err.message, err.field[0] ? err.field : NULL);
    json_decref(body);
    return;
  }
  json_t *list = endpoints_json(h, &err), *o = NULL;
  json_array_foreach(list, i, k) if (json_integer_value(json_object_get(k, "id")) == id) o = json_incref(k);
  json_decref(list);
  if (o == NULL) o = json_pack("{s:I, s:s}", "id", (json_int_t)id, "url", url);
  /* The secret is shown this once: the receiver needs it to check signatures. */
  json_object_set_new(o, "secret", json_string(secret));
  gv_random_wipe(secret, sizeof secret);
  json_decref(body);
  reply_json(r, 201, o);
}

static void r_remove(void *state, gv_host *h, gv_request *r) {
  (void)state;
  if (!allowed(h, r)) return;
  const char *idtext = gv_request_param(r, "id");
  char *end = NULL;
  long long id = idtext ? strtoll(idtext, &end, 10) : 0;
  gv_error err;
  gv_error_clear(&err);
  if (idtext == NULL || *idtext == '\0' || *end || id <= 0) {
    gv_request_error(r, GV_ENOTFOUND, "no such webhook", "id");
    return;
  }
  int rc = webhook_endpoint_remove(h, id, &err);
  if (rc != GV_OK) {
    gv_request_error(r, rc, err.message, err.field[0] ? err.field : NULL);
    return;
  }
  reply_json(r, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "removed", 1));
}

const gv_plugin_route webhook_routes[] = {
    {"GET", "/v1/forums/{forum}/webhooks", 0, r_list},
    {"POST", "/v1/forums/{forum}/webhooks", 0, r_add},
    {"DELETE", "/v1/forums/{forum}/webhooks/{id}", 0, r_remove},
    {NULL, NULL, 0, NULL},
};

/* ---- Commands ------------------------------------------------------------------------------------- */

static int cmd_add(void *state, gv_host *h, int argc, char **argv) {
  const char *url = NULL, *kinds = "";
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) kinds = argv[++i];
    else if (strncmp(argv[i], "--events=", 9) == 0) kinds = argv[i] + 9;
    else if (url == NULL && argv[i][0] != '-') url = argv[i];
    else url = NULL, i = argc;
  }
  if (url == NULL) {
    fprintf(stderr, "usage: gavel webhook add [--db PATH] [--config PATH] URL [--events KIND,KIND...]\n");
    return 2;
  }
  gv_error err;
  gv_error_clear(&err);
  char events[WEBHOOK_EVENTS_MAX], secret[64];
  int64_t id = 0;
  if (webhook_url_check(webhook_settings_of(state), url, &err) != GV_OK ||
      webhook_events_check(kinds, events, sizeof events, &err) != GV_OK ||
      webhook_endpoint_add(h, url, events, NULL, &id, secret, &err) != GV_OK) {
    fprintf(stderr, "gavel webhook add: %s\n", err.message);
    return 1;
  }
  printf("webhook %lld: %s (events: %s)\n", (long long)id, url, events[0] ? events : "all");
  printf("secret: %s\n", secret);
  printf("The secret is shown only now: give it to the receiver, which checks each delivery's signature with it.\n");
  gv_random_wipe(secret, sizeof secret);
  return 0;
}

static int print_endpoint(void *ud, const gv_row *r) {
  (void)ud;
  const char *ev = gv_row_text(r, 2);
  printf("%lld  %s  events: %s\n", (long long)gv_row_int(r, 0), gv_row_text(r, 1), ev && ev[0] ? ev : "all");
  return 0;
}

static int cmd_list(void *state, gv_host *h, int argc, char **argv) {
  (void)state, (void)argv;
  if (argc != 0) {
    fprintf(stderr, "usage: gavel webhook list [--db PATH] [--config PATH]\n");
    return 2;
  }
  gv_error err;
  ival n = {0};
  if (gv_host_sql(h, "SELECT count(*) FROM webhook_endpoints", NULL, 0, read_int, &n, &err) != GV_OK ||
      gv_host_sql(h, "SELECT id, url, events FROM webhook_endpoints ORDER BY id", NULL, 0, print_endpoint, NULL,
                  &err) != GV_OK) {
    fprintf(stderr, "gavel webhook list: %s\n", err.message);
    return 1;
  }
  if (n.v == 0) printf("no webhooks (gavel webhook add URL registers one)\n");
  return 0;
}

static int cmd_remove(void *state, gv_host *h, int argc, char **argv) {
  (void)state;
  char *end = NULL;
  long long id = argc == 1 ? strtoll(argv[0], &end, 10) : 0;
  if (argc != 1 || *argv[0] == '\0' || *end || id <= 0) {
    fprintf(stderr, "usage: gavel webhook remove [--db PATH] [--config PATH] ID\n");
    return 2;
  }
  gv_error err;
  gv_error_clear(&err);
  if (webhook_endpoint_remove(h, id, &err) != GV_OK) {
    fprintf(stderr, "gavel webhook remove: %s\n", err.message);
    return 1;
  }
  printf("webhook %lld removed; its deliveries not yet made are cancelled\n", id);
  return 0;
}

static int print_failure(void *ud, const gv_row *r) {
  (void)ud;
  printf("  delivery %lld (webhook %lld, event %lld), %lld attempt(s), %s: %s\n", (long long)gv_row_int(r, 0),
         (long long)gv_row_int(r, 1), (long long)gv_row_int(r, 2), (long long)gv_row_int(r, 3), gv_row_text(r, 4),
         gv_row_text(r, 5) ? gv_row_text(r, 5) : "");
  return 0;
}

static int cmd_status(void *state, gv_host *h, int argc, char **argv) {
  (void)state, (void)argv;
  if (argc != 0) {
    fprintf(stderr, "usage: gavel webhook status [--db PATH] [--config PATH]\n");
    return 2;
  }
  gv_error err;
  json_t *list = endpoints_json(h, &err);
  if (list == NULL) {
    fprintf(stderr, "gavel webhook status: %s\n", err.message);
    return 1;
  }
  if (json_array_size(list) == 0) printf("no webhooks (gavel webhook add URL registers one)\n");
  size_t i;
  json_t *o;
  json_array_foreach(list, i, o) {
    json_t *d = json_object_get(o, "deliveries");
    printf("webhook %lld  %s\n  pending %lld  delivered %lld  failed %lld  cancelled %lld\n",
           (long long)json_integer_value(json_object_get(o, "id")), json_string_value(json_object_get(o, "url")),
           (long long)json_integer_value(json_object_get(d, "pending")),
           (long long)json_integer_value(json_object_get(d, "delivered")),
           (long long)json_integer_value(json_object_get(d, "failed")),
           (long long)json_integer_value(json_object_get(d, "cancelled")));
    const char *last = json_string_value(json_object_get(o, "last_error"));
    if (last) printf("  last error: %s\n", last);
  }
  json_decref(list);
  printf("recent failures:\n");
  gv_host_sql(h,
              "SELECT id, endpoint_id, event_id, attempts, state, last_error FROM webhook_deliveries"
              " WHERE last_error IS NOT NULL AND state IN ('failed', 'pending') ORDER BY id DESC LIMIT 10",
              NULL, 0, print_failure, NULL, &err);
  return 0;
}

const gv_plugin_command webhook_commands[] = {
    {"webhook add", "URL [--events KIND,KIND...]", "register an endpoint for the forum's events; prints its secret once",
     cmd_add},
    {"webhook list", "", "list the registered endpoints", cmd_list},
    {"webhook remove", "ID", "remove an endpoint; its deliveries not yet made are cancelled", cmd_remove},
    {"webhook status", "", "count each endpoint's deliveries by state and list the latest failures", cmd_status},
    {NULL, NULL, NULL, NULL},
};
