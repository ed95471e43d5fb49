/* HTTP/1.1 responses: status lines and headers, writes (through TLS when on), the
 * rejections the HTTP layer answers itself, and Server-Sent Event streams. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "http/internal.h"

/* A token character (RFC 9110 tchar), for header names we send. */
static int is_tchar(unsigned char ch) {
  if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return 1;
  return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static void json_str(gv_buf *b, const char *s) {
  gv_buf_putc(b, '"');
  for (; s && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      gv_buf_putc(b, '\\');
      gv_buf_putc(b, (char)ch);
    } else if (ch < 0x20) {
      gv_buf_printf(b, "\\u%04x", ch);
    } else {
      gv_buf_putc(b, (char)ch);
    }
  }
  gv_buf_putc(b, '"');
}

static const char *http_date(gv_http_server *s) {
  static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(NULL);
  if (now != s->date_sec || !s->date[0]) {
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday % 7],
             tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    s->date_sec = now;
  }
  return s->date;
}

static void on_write(uv_write_t *w, int status) {
  conn *c = w->handle->data;
  free(w);
  if (c->closing) return;
  if (status < 0) {
    http_conn_close(c, uv_err_name(status));
    return;
  }
  if (!c->finishing && c->phase == P_HEAD && c->tkind == T_DRAIN &&
      http_conn_backlog(c) <= c->s->lim.stream_max_buffer)
    http_conn_process(c);
}

/* Closes the connection on the next loop iteration, so that no caller sees its
 * request vanish in the middle of a call. */
static void fail_soon(conn *c) { http_timer_restart(c, T_FAIL, 0); }

static int write_raw(conn *c, const char *a, size_t alen, const char *b, size_t blen) {
  if (alen + blen > UINT_MAX) {
    fail_soon(c);
    return GV_ETOOBIG;
  }
  wreq *w = malloc(sizeof *w + alen + blen);
  if (!w) {
    fail_soon(c);
    return GV_ENOMEM;
  }
  memcpy(w->data, a, alen);
  if (blen) memcpy(w->data + alen, b, blen);
  uv_buf_t ub = uv_buf_init(w->data, (unsigned)(alen + blen));
  int rc = uv_write(&w->w, (uv_stream_t *)&c->tcp, &ub, 1, on_write);
  if (rc < 0) {
    free(w);
    fail_soon(c);
    return GV_EIO;
  }
  return GV_OK;
}

/* Sends whatever ciphertext the TLS session produced (handshake, records, alerts). */
int http_flush_tls(conn *c) {
  size_t n;
  while ((n = gv_tls_out_pending(c->tls)) > 0) {
    if (n > UINT_MAX) n = UINT_MAX;
    wreq *w = malloc(sizeof *w + n);
    if (!w) {
      fail_soon(c);
      return GV_ENOMEM;
    }
    size_t got = gv_tls_out_take(c->tls, w->data, n);
    uv_buf_t ub = uv_buf_init(w->data, (unsigned)got);
    if (got == 0 || uv_write(&w->w, (uv_stream_t *)&c->tcp, &ub, 1, on_write) < 0) {
      free(w);
      fail_soon(c);
      return GV_EIO;
    }
  }
  return GV_OK;
}

/* Sends a then b (either may be empty) as plaintext, encrypting when TLS is on. */
int http_send(conn *c, const char *a, size_t alen, const char *b, size_t blen) {
  if (c->closing) return GV_ESTATE;
  if (!c->tls) return write_raw(c, a, alen, b, blen);
  if ((alen && gv_tls_write(c->tls, a, alen) != GV_OK) ||
      (blen && gv_tls_write(c->tls, b, blen) != GV_OK)) {
    c->tls_failed = 1;
    fail_soon(c);
    return GV_EIO;
  }
  return http_flush_tls(c);
}

/* Headers we compute ourselves; a handler's copies are ignored. */
static int reserved_header(const char *name) {
  return http_ascii_ieq(name, "content-length") || http_ascii_ieq(name, "connection") ||
         http_ascii_ieq(name, "date") || http_ascii_ieq(name, "transfer-encoding");
}

static int header_ok(const gv_http_header *h) {
  if (!h->name || !h->value || !h->name[0]) return 0;
  for (const char *p = h->name; *p; p++)
    if (!is_tchar((unsigned char)*p)) return 0;
  for (const char *p = h->value; *p; p++)
    if (*p == '\r' || *p == '\n') return 0;
  return 1;
}

/* Appends a status line and headers; length < 0 means no Content-Length. */
static void build_head(gv_buf *b, conn *c, int status, const gv_http_header *h, size_t n,
                       long long length, int keep) {
  gv_buf_printf(b, "HTTP/1.1 %d %s\r\n", status, gv_http_status_text(status));
  for (size_t i = 0; i < n; i++) {
    if (!header_ok(&h[i])) {
      gv_log(GV_LOG_WARN, "http.bad_header", "conn=%llu name=\"%.64s\"",
             (unsigned long long)c->id, h[i].name ? h[i].name : "");
      continue;
    }
    if (reserved_header(h[i].name)) continue;
    gv_buf_printf(b, "%s: %s\r\n", h[i].name, h[i].value);
  }
  if (length >= 0) gv_buf_printf(b, "Content-Length: %lld\r\n", length);
  gv_buf_printf(b, "Date: %s\r\nConnection: %s\r\n\r\n", http_date(c->s),
                keep ? "keep-alive" : "close");
}

/* Answers the request being read with the recorded error and closes the connection. */
void http_reject(conn *c) {
  int status = c->err_status ? c->err_status : 400;
  const char *code = c->err_code ? c->err_code : gv_err_name(GV_EPARSE);
  const char *msg = c->err_msg ? c->err_msg : "The request is malformed.";
  gv_log(GV_LOG_INFO, "http.reject", "conn=%llu peer=%s status=%d code=%s reason=\"%s\"",
         (unsigned long long)c->id, c->addr, status, code, msg);
  if (c->closing || c->finishing) return;
  gv_buf body = GV_BUF_INIT, head = GV_BUF_INIT;
  gv_buf_puts(&body, "{\"error\": {\"code\": ");
  json_str(&body, code);
  gv_buf_puts(&body, ", \"message\": ");
  json_str(&body, msg);
  gv_buf_puts(&body, "}}");
  gv_http_header ct = {"Content-Type", "application/json"};
  build_head(&head, c, status, &ct, 1, (long long)body.len, 0);
  if (!head.failed && !body.failed) http_send(c, head.data, head.len, body.data, body.len);
  gv_buf_free(&head);
  gv_buf_free(&body);
  http_req_free(c->cur);
  c->cur = NULL;
  http_conn_finish(c);
}

void gv_http_respond(gv_http_req *req, int status_in, const gv_http_header *headers,
                     size_t nheaders, const char *body, size_t len) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  if (!c) { /* the client went away while the handler worked */
    http_req_free(r);
    return;
  }
  if (c->active != r || r->streaming) {
    gv_log(GV_LOG_ERROR, "http.misuse", "req=%llu reason=respond_twice", (unsigned long long)req->id);
    return;
  }
  int status = (status_in < 200 || status_in > 999) ? 500 : status_in;
  int keep = r->keep_alive && !c->s->shutting_down && !c->finishing;
  int no_body = status == 204 || status == 304;
  int send_body = !no_body && !r->is_head;
  c->active = NULL;
  r->c = NULL;
  gv_buf head = GV_BUF_INIT;
  build_head(&head, c, status, headers, nheaders, no_body ? -1 : (long long)len, keep);
  if (head.failed) fail_soon(c);
  else http_send(c, head.data, head.len, send_body ? body : NULL, send_body ? len : 0);
  gv_buf_free(&head);
  http_req_free(r);
  if (c->closing) return;
  if (!keep) {
    http_conn_finish(c);
    return;
  }
  c->phase = P_HEAD;
  http_conn_process(c);
}

void gv_http_respond_error(gv_http_req *req, int status, const char *code, const char *message,
                           const char *field) {
  gv_buf body = GV_BUF_INIT;
  gv_buf_puts(&body, "{\"error\": {\"code\": ");
  json_str(&body, code ? code : "error");
  gv_buf_puts(&body, ", \"message\": ");
  json_str(&body, message ? message : "");
  if (field && *field) {
    gv_buf_puts(&body, ", \"field\": ");
    json_str(&body, field);
  }
  gv_buf_puts(&body, "}}");
  gv_http_header ct = {"Content-Type", "application/json"};
  if (body.failed) gv_http_respond(req, 503, NULL, 0, NULL, 0);
  else gv_http_respond(req, status, &ct, 1, body.data, body.len);
  gv_buf_free(&body);
}

static void on_late_closed(uv_handle_t *h) {
  http_req_free(h->data);
  free(h);
}

static void on_late_close(uv_timer_t *t) {
  req_impl *r = t->data;
  if (r->on_close) r->on_close(&r->pub, r->close_arg);
  uv_close((uv_handle_t *)t, on_late_closed);
}

int gv_http_stream_begin(gv_http_req *req, int status, const gv_http_header *headers,
                         size_t nheaders, void (*on_close)(gv_http_req *req, void *arg), void *arg) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  if (!c) {
    /* The client left while the handler worked. The stream has ended already, but
     * on_close runs on the next loop iteration, so the caller can finish its own
     * bookkeeping first; writes until then return GV_ESTATE. */
    uv_timer_t *t = malloc(sizeof *t);
    r->streaming = r->stream_ended = 1;
    r->on_close = on_close;
    r->close_arg = arg;
    if (!t) {
      if (on_close) on_close(req, arg);
      http_req_free(r);
      return GV_OK;
    }
    uv_timer_init(r->loop, t);
    t->data = r;
    uv_timer_start(t, on_late_close, 0, 0);
    return GV_OK;
  }
  if (c->active != r || r->streaming) return GV_ESTATE;
  r->streaming = 1;
  r->on_close = on_close;
  r->close_arg = arg;
  c->phase = P_STREAM;
  c->in_off = c->in_len = 0;
  http_timer_set(c, T_NONE, 0);
  gv_buf head = GV_BUF_INIT;
  build_head(&head, c, (status < 200 || status > 999) ? 500 : status, headers, nheaders, -1, 0);
  if (head.failed) fail_soon(c);
  else http_send(c, head.data, head.len, NULL, 0);
  gv_buf_free(&head);
  if (c->s->shutting_down) gv_http_stream_end(req);
  return GV_OK;
}

int gv_http_stream_write(gv_http_req *req, const char *data, size_t len) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  if (!c || !r->streaming || r->stream_ended || c->closing) return GV_ESTATE;
  if (r->is_head || len == 0) return GV_OK;
  if (http_conn_backlog(c) + len > c->s->lim.stream_max_buffer) {
    gv_log(GV_LOG_INFO, "http.stream_drop", "conn=%llu peer=%s req=%llu queued=%zu",
           (unsigned long long)c->id, c->addr, (unsigned long long)req->id, http_conn_backlog(c));
    http_conn_close(c, NULL);
    return GV_EBUSY;
  }
  return http_send(c, data, len, NULL, 0);
}

void gv_http_stream_end(gv_http_req *req) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  if (!c || !r->streaming || r->stream_ended) return;
  r->stream_ended = 1;
  c->no_linger = 1;
  http_conn_finish(c);
}

const char *gv_http_status_text(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Content";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}
