/* Replies for the HTTP API: JSON, text and error answers with the default headers, the
 * end of a call (its log line and route counters), and what handlers read of a request
 * (query parameters, path ids, the caller's role). */
#include "api/api.h"
#include "base/log.h"
#include "base/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Seconds on the monotonic clock: a call's duration in its log line. */
double api_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Replies -------------------------------------------------------------------------------- */

static void count(gv_call *c, int status) {
  if (c->route == NULL) return;
  int k = status >= 200 && status < 300 ? 0 : status < 400 ? 1 : status == 429 ? 3 : status < 500 ? 2 : status < 600 ? 4 : 5;
  c->route->counts[k]++;
  /* A stream's duration is how long someone watched, not how fast it was served. */
  if (c->route->flags & R_STREAM) return;
  int d = status >= 200 && status < 600 ? status / 100 - 2 : 4;
  gv_hist *h = &c->route->duration[d];
  if (h->bounds == NULL) gv_hist_init(h, gv_hist_seconds_bounds, gv_hist_seconds_nbounds);
  gv_hist_observe(h, api_mono() - c->started);
}

void api_call_finish(gv_call *c, int status) {
  count(c, status);
  double ms = (api_mono() - c->started) * 1000.0;
  /* c->req may already be gone (the response finished it): use the copies. */
  gv_log(status >= 500 ? GV_LOG_WARN : GV_LOG_INFO, "http.request",
         "method=%s route=\"%s\" status=%d ms=%.2f user=%lld request_id=%s", c->method,
         c->route ? c->route->pattern : "-", status, ms, (long long)(c->authed ? c->user.id : 0), c->request_id);
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
  for (size_t i = 0; i < nh && n < 14; i++) all[n++] = h[i];
  all[n++] = (gv_http_header){"X-Request-Id", c->request_id};
  /* Over our own TLS, browsers are told to use HTTPS only from now on (RFC 6797). */
  if (c->req->is_tls) all[n++] = (gv_http_header){"Strict-Transport-Security", "max-age=31536000"};
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
  api_error_retry(c, code, message, field, code == GV_EBUSY ? 5 : 0);
}

void api_error_retry(gv_call *c, int code, const char *message, const char *field, int64_t retry_after) {
  json_t *e = json_pack("{s:s, s:s}", "code", gv_err_name(code), "message", message ? message : gv_strerror(code));
  if (field && *field) json_object_set_new(e, "field", json_string(field));
  int status = gv_err_http_status(code);
  json_t *o = json_pack("{s:o}", "error", e);
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  if (s == NULL) {
    api_text(c, 500, "application/json", "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}", 60);
    return;
  }
  gv_http_header h[3] = {{"Content-Type", "application/json; charset=utf-8"}};
  size_t nh = 1;
  char retry[24];
  /* A client told when to come back waits that long, no less (RFC 9110 section 10.2.3). */
  if (retry_after > 0) {
    snprintf(retry, sizeof retry, "%lld", (long long)retry_after);
    h[nh++] = (gv_http_header){"Retry-After", retry};
  }
  /* Every 401 names the scheme that would succeed (RFC 9110 section 11.6.1, RFC 6750): a
   * bearer token, which the caller either did not send or sent and we refused. */
  if (status == 401)
    h[nh++] = (gv_http_header){"WWW-Authenticate", gv_http_header_get(c->req, "authorization")
                                                       ? "Bearer realm=\"gavel\", error=\"invalid_token\""
                                                       : "Bearer realm=\"gavel\""};
  api_raw(c, status, h, nh, s, strlen(s));
  free(s);
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
