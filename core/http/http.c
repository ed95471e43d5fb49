/* HTTP/1.1 server connections: accepting, reading, the per-connection state machine,
 * timeouts, pipelining and graceful shutdown. Framing is in framing.c, responses in response.c. */
#include "http/http.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "http/internal.h"

/* ---- small helpers ---- */

/* Bytes queued for the client and not yet written (TLS records included). */
size_t http_conn_backlog(conn *c) {
  size_t n = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
  if (c->tls) n += gv_tls_out_pending(c->tls);
  return n;
}

static unsigned linger_ms(const gv_http_server *s) {
  unsigned ms = LINGER_MS;
  if (s->lim.idle_timeout_ms && s->lim.idle_timeout_ms < ms) ms = s->lim.idle_timeout_ms;
  return ms;
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t);

/* Like http_timer_set, but a running deadline of the same kind starts over. */
void http_timer_restart(conn *c, int kind, unsigned ms) {
  if (c->tkind == T_FAIL) return;
  c->tkind = T_NONE;
  http_timer_set(c, kind, ms);
}

/* Arms the connection's deadline for kind; keeps a running deadline of the same kind.
 * A pending T_FAIL is never replaced. */
void http_timer_set(conn *c, int kind, unsigned ms) {
  if (c->closing || c->tkind == kind || c->tkind == T_FAIL) return;
  c->tkind = kind;
  uv_timer_stop(&c->timer);
  if (kind == T_NONE || (ms == 0 && kind != T_FAIL)) return;
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- requests ---- */

/* A new request read on c, or NULL when out of memory. */
req_impl *http_req_new(conn *c) {
  req_impl *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  gv_buf init = GV_BUF_INIT;
  r->target = r->strs = r->body = init;
  r->c = c;
  r->loop = c->s->loop;
  r->pub.id = ++c->s->next_req_id;
  snprintf(r->pub.client_addr, sizeof r->pub.client_addr, "%s", c->addr);
  r->pub.is_loopback = c->loopback;
  r->pub.is_tls = c->tls != NULL;
  r->pub.query = "";
  r->pub.body = "";
  return r;
}

/* Frees a request and everything it holds; NULL is a no-op. */
void http_req_free(req_impl *r) {
  if (!r) return;
  gv_buf_free(&r->target);
  free(r->tq);
  gv_buf_free(&r->strs);
  gv_buf_free(&r->body);
  free(r->hoff);
  free(r->pub.headers);
  free(r);
}

/* ---- the connection state machine ---- */

static void read_start(conn *c);

static void dispatch(conn *c) {
  req_impl *r = c->cur;
  c->cur = NULL;
  c->active = r;
  c->phase = P_WAIT;
  c->served = 1;
  http_timer_set(c, T_NONE, 0);
  http_scanners_reset(c);
  c->s->fn(&r->pub, c->s->ud);
}

static void compact_input(conn *c) {
  if (c->in_off == c->in_len) {
    c->in_off = c->in_len = 0;
  } else if (c->in_off > 0 && c->in_off >= c->in_cap / 2) {
    memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
    c->in_len -= c->in_off;
    c->in_off = 0;
  }
}

static size_t in_limit(const gv_http_server *s) {
  return s->lim.max_request_line + s->lim.max_header_bytes + IN_SLACK;
}

/* Parses buffered input as far as the connection's state allows, dispatching each
 * complete request. Re-entrant calls (from a handler that answers at once) return at
 * once; the outer call carries on. */
void http_conn_process(conn *c) {
  gv_http_server *s = c->s;
  if (c->in_process || c->closing || c->finishing) return;
  c->in_process = 1;
  while (!c->closing && !c->finishing && (c->phase == P_HEAD || c->phase == P_BODY)) {
    size_t avail = c->in_len - c->in_off;
    if (c->phase == P_HEAD && !http_head_started(c)) {
      if (s->shutting_down && c->served && avail == 0) {
        c->no_linger = 1;
        http_conn_finish(c);
        break;
      }
      if (http_conn_backlog(c) > s->lim.stream_max_buffer) {
        http_timer_set(c, T_DRAIN, s->lim.idle_timeout_ms);
        break;
      }
      if (avail == 0) {
        if (c->tkind != T_IDLE)
          http_timer_set(c, T_IDLE, c->served ? s->lim.idle_timeout_ms : s->lim.header_timeout_ms);
        break;
      }
    }
    if (avail == 0) break;
    const char *p = c->in + c->in_off;
    size_t n = avail;
    int end = 0;
    if (c->phase == P_HEAD) {
      int rc = http_scan_head(c, p, avail, &n, &end);
      if (http_head_started(c)) http_timer_set(c, T_HEADER, s->lim.header_timeout_ms);
      else http_timer_set(c, T_IDLE, c->served ? s->lim.idle_timeout_ms : s->lim.header_timeout_ms);
      if (rc != GV_OK) {
        http_reject(c);
        break;
      }
    } else if (c->chunked) {
      if (http_scan_chunked(c, p, avail, &n, &end) != GV_OK) {
        http_reject(c);
        break;
      }
    }
    llhttp_errno_t e = llhttp_execute(&c->parser, p, n);
    size_t used = n;
    if (e == HPE_PAUSED) {
      used = (size_t)(llhttp_get_error_pos(&c->parser) - p);
    } else if (e != HPE_OK) {
      if (!c->err_status) http_fail(c, 400, "bad_request", llhttp_get_error_reason(&c->parser));
      http_reject(c);
      break;
    }
    c->in_off += used;
    if (e == HPE_PAUSED) {
      llhttp_resume(&c->parser);
      dispatch(c);
    }
  }
  compact_input(c);
  if (!c->closing && !c->finishing) {
    size_t avail = c->in_len - c->in_off;
    if (c->peer_eof && avail == 0 && (c->phase == P_HEAD || c->phase == P_BODY)) {
      if (c->phase == P_HEAD && !http_head_started(c)) {
        http_conn_finish(c);
      } else {
        gv_log(GV_LOG_DEBUG, "http.close", "conn=%llu peer=%s reason=incomplete_request",
               (unsigned long long)c->id, c->addr);
        http_conn_close(c, NULL);
      }
    } else if (!c->reading && !c->peer_eof && avail < in_limit(s)) {
      read_start(c);
    }
  }
  c->in_process = 0;
}

static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  int kind = c->tkind;
  c->tkind = T_NONE;
  switch (kind) {
  case T_HEADER:
    http_fail(c, 408, "request_timeout", "The request headers took too long to arrive.");
    http_reject(c);
    break;
  case T_BODY:
    http_fail(c, 408, "request_timeout", "The request body took too long to arrive.");
    http_reject(c);
    break;
  case T_IDLE:
    http_conn_close(c, "idle_timeout");
    break;
  case T_DRAIN:
    http_conn_close(c, "slow_reader");
    break;
  case T_LINGER:
    http_conn_close(c, NULL);
    break;
  case T_FAIL:
    http_conn_close(c, "write_failed");
    break;
  default:
    break;
  }
}

static void on_handle_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->handles > 0) return;
  gv_http_server *s = c->s;
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->nconns--;
  gv_tls_free(c->tls);
  free(c->in);
  free(c);
  if (s->shutting_down && !s->listener_open && s->nconns == 0 && !s->done_called) {
    s->done_called = 1;
    if (s->done) s->done(s->done_arg);
  }
}

/* Ends the active stream, if any: its on_close runs and the request is freed. */
static void end_stream(conn *c) {
  req_impl *r = c->active;
  if (!r || !r->streaming) return;
  c->active = NULL;
  r->c = NULL;
  if (r->on_close) r->on_close(&r->pub, r->close_arg);
  http_req_free(r);
}

/* Closes at once: pending writes are dropped, a request awaiting its response is
 * orphaned (freed when the handler answers), a stream's on_close runs. */
void http_conn_close(conn *c, const char *why) {
  if (c->closing) return;
  if (why)
    gv_log(GV_LOG_DEBUG, "http.close", "conn=%llu peer=%s reason=%s", (unsigned long long)c->id,
           c->addr, why);
  c->closing = 1;
  c->phase = P_DONE;
  uv_timer_stop(&c->timer);
  http_req_free(c->cur);
  c->cur = NULL;
  if (c->active) {
    if (c->active->streaming) {
      end_stream(c);
    } else {
      c->active->c = NULL;
      c->active = NULL;
    }
  }
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *sr, int status) {
  conn *c = sr->handle->data;
  if (c->closing) return;
  end_stream(c);
  if (c->closing) return;
  if (status < 0 || c->peer_eof || c->no_linger) {
    http_conn_close(c, NULL);
    return;
  }
  http_timer_restart(c, T_LINGER, linger_ms(c->s));
}

/* Closes after the queued responses are written: sends close_notify and FIN, then
 * reads and discards what the client still sends for a moment, so that it sees our
 * last response instead of a reset. */
void http_conn_finish(conn *c) {
  if (c->finishing || c->closing) return;
  c->finishing = 1;
  if (c->phase != P_STREAM) c->phase = P_DONE;
  http_req_free(c->cur);
  c->cur = NULL;
  c->in_off = c->in_len = 0;
  http_timer_restart(c, T_DRAIN, c->s->lim.idle_timeout_ms ? c->s->lim.idle_timeout_ms : 60000);
  if (c->tls && !c->tls_failed) {
    gv_tls_close_notify(c->tls);
    http_flush_tls(c);
  } else if (c->tls) {
    http_flush_tls(c); /* the alert explaining the failure */
  }
  if (!c->peer_eof) read_start(c);
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0) http_conn_close(c, "shutdown_failed");
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  conn *c = h->data;
  b->base = c->s->rbuf;
  b->len = sizeof c->s->rbuf;
}

static int reserve_input(conn *c, size_t extra) {
  if (c->in_cap - c->in_len >= extra) return GV_OK;
  compact_input(c);
  if (c->in_cap - c->in_len >= extra) return GV_OK;
  size_t cap = c->in_cap ? c->in_cap : 16384;
  while (cap - c->in_len < extra) cap *= 2;
  char *n = realloc(c->in, cap);
  if (!n) return GV_ENOMEM;
  c->in = n;
  c->in_cap = cap;
  return GV_OK;
}

static void handle_eof(conn *c) {
  if (c->finishing) {
    /* Before our FIN went out the last response may still be queued: let
     * on_shutdown close once it is written. */
    c->peer_eof = 1;
    if (c->tkind == T_LINGER) http_conn_close(c, NULL);
    return;
  }
  if (c->phase == P_STREAM) {
    http_conn_close(c, "client_gone");
    return;
  }
  c->peer_eof = 1;
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  if (c->phase != P_WAIT) http_conn_process(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b) {
  conn *c = st->data;
  if (c->closing || nread == 0) return;
  if (nread < 0) {
    if (nread == UV_EOF) handle_eof(c);
    else http_conn_close(c, uv_err_name((int)nread));
    return;
  }
  if (c->finishing) {
    c->lingered += (size_t)nread;
    if (c->lingered > LINGER_MAX) http_conn_close(c, "linger_limit");
    return;
  }
  if (c->phase == P_STREAM) return; /* a stream's connection is not reused */
  if (c->tls) {
    if (gv_tls_feed(c->tls, b->base, (size_t)nread) != GV_OK) {
      http_conn_close(c, "out_of_memory");
      return;
    }
    for (;;) {
      size_t got = 0;
      if (reserve_input(c, 16384) != GV_OK) {
        http_conn_close(c, "out_of_memory");
        return;
      }
      if (gv_tls_read(c->tls, c->in + c->in_len, c->in_cap - c->in_len, &got) != GV_OK) {
        gv_log(GV_LOG_INFO, "http.tls_error", "conn=%llu peer=%s reason=\"%s\"",
               (unsigned long long)c->id, c->addr, gv_tls_error(c->tls));
        c->tls_failed = 1;
        c->no_linger = 1;
        http_conn_finish(c);
        return;
      }
      if (got == 0) break;
      c->in_len += got;
    }
    http_flush_tls(c);
    if (c->phase != P_WAIT) http_conn_process(c);
    if (!c->closing && gv_tls_peer_closed(c->tls)) handle_eof(c);
  } else {
    if (reserve_input(c, (size_t)nread) != GV_OK) {
      http_conn_close(c, "out_of_memory");
      return;
    }
    memcpy(c->in + c->in_len, b->base, (size_t)nread);
    c->in_len += (size_t)nread;
    if (c->phase != P_WAIT) http_conn_process(c);
  }
  /* Do not buffer without bound behind a request that awaits its response. */
  if (!c->closing && !c->finishing && c->reading && c->in_len - c->in_off > in_limit(c->s)) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

static void read_start(conn *c) {
  if (c->reading || c->closing) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
}

/* ---- accepting ---- */

static void peer_name(conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  strcpy(c->addr, "unknown");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, c->addr, sizeof c->addr);
    c->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      const unsigned char *v4 = a->sin6_addr.s6_addr + 12;
      snprintf(c->addr, sizeof c->addr, "%u.%u.%u.%u", v4[0], v4[1], v4[2], v4[3]);
      c->loopback = v4[0] == 127;
    } else {
      uv_ip6_name(a, c->addr, sizeof c->addr);
      c->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
  }
}

static void on_connection(uv_stream_t *ls, int status) {
  gv_http_server *s = ls->data;
  if (status < 0 || !s) return;
  conn *c = calloc(1, sizeof *c);
  if (!c) return; /* the pending connection waits in the backlog */
  c->s = s;
  c->id = ++s->next_conn_id;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
    http_conn_close(c, "accept_failed");
    return;
  }
  peer_name(c);
  if (s->shutting_down || s->nconns > s->lim.max_connections) {
    gv_log(GV_LOG_INFO, "http.refuse", "conn=%llu peer=%s reason=%s", (unsigned long long)c->id,
           c->addr, s->shutting_down ? "shutting_down" : "max_connections");
    http_conn_close(c, NULL);
    return;
  }
  if (s->tls && gv_tls_new(s->tls, &c->tls) != GV_OK) {
    http_conn_close(c, "out_of_memory");
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  llhttp_init(&c->parser, HTTP_REQUEST, &http_parser_settings);
  /* Strictness matters more than compatibility here: every lenient mode stays off. */
  llhttp_set_lenient_headers(&c->parser, 0);
  llhttp_set_lenient_chunked_length(&c->parser, 0);
  llhttp_set_lenient_keep_alive(&c->parser, 0);
  llhttp_set_lenient_transfer_encoding(&c->parser, 0);
  c->parser.data = c;
  c->phase = P_HEAD;
  read_start(c);
  if (!c->reading) {
    http_conn_close(c, "read_failed");
    return;
  }
  http_timer_set(c, T_IDLE, s->lim.header_timeout_ms);
}

/* ---- public API ---- */

void gv_http_limits_default(gv_http_limits *l) {
  l->max_request_line = 8 * 1024;
  l->max_header_bytes = 16 * 1024;
  l->max_headers = 100;
  l->max_body = 1024 * 1024;
  l->header_timeout_ms = 10000;
  l->body_timeout_ms = 30000;
  l->idle_timeout_ms = 60000;
  l->max_connections = 4096;
  l->stream_max_buffer = 1024 * 1024;
}

int gv_http_server_new(uv_loop_t *loop, const gv_http_limits *limits, gv_http_handler_fn fn,
                       void *ud, gv_http_server **out) {
  gv_http_server *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return GV_ENOMEM;
  s->loop = loop;
  if (limits) s->lim = *limits;
  else gv_http_limits_default(&s->lim);
  s->fn = fn;
  s->ud = ud;
  *out = s;
  return GV_OK;
}

int gv_http_server_tls(gv_http_server *s, const char *cert_file, const char *key_file,
                       gv_error *err) {
  gv_tls_ctx *ctx = NULL;
  int rc = gv_tls_ctx_new(cert_file, key_file, err, &ctx);
  if (rc != GV_OK) return rc == GV_ENOMEM ? GV_ECONFIG : rc;
  gv_tls_ctx_free(s->tls);
  s->tls = ctx;
  return GV_OK;
}

static void on_listener_closed(uv_handle_t *h) {
  gv_http_server *s = h->data;
  free(h);
  if (!s) return;
  s->listener_open = 0;
  if (s->shutting_down && s->nconns == 0 && !s->done_called) {
    s->done_called = 1;
    if (s->done) s->done(s->done_arg);
  }
}

int gv_http_server_listen(gv_http_server *s, const char *host, int port, gv_error *err) {
  struct sockaddr_storage ss;
  int rc;
  if (s->listener) return gv_error_set(err, GV_ESTATE, NULL, "The server is already listening.");
  if (port < 0 || port > 65535) return gv_error_set(err, GV_EINVAL, "port", "Port %d is out of range.", port);
  if (strchr(host, ':')) rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
  else rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc != 0) return gv_error_set(err, GV_EINVAL, "host", "\"%s\" is not an IP address.", host);
  uv_tcp_t *l = malloc(sizeof *l);
  if (!l) return gv_error_set(err, GV_ENOMEM, NULL, "Out of memory.");
  uv_tcp_init(s->loop, l);
  l->data = s;
  rc = uv_tcp_bind(l, (const struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)l, 511, on_connection);
  if (rc != 0) {
    l->data = NULL;
    uv_close((uv_handle_t *)l, on_listener_closed);
    return gv_error_set(err, GV_EIO, "port", "Cannot listen on %s port %d: %s.", host, port,
                        uv_strerror(rc));
  }
  int len = sizeof ss;
  if (uv_tcp_getsockname(l, (struct sockaddr *)&ss, &len) == 0)
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  s->listener = l;
  s->listener_open = 1;
  return GV_OK;
}

int gv_http_server_port(const gv_http_server *s) { return s->port; }

size_t gv_http_server_connections(const gv_http_server *s) { return s->nconns; }

void gv_http_server_shutdown(gv_http_server *s, void (*done)(void *arg), void *arg) {
  if (s->shutting_down) return;
  s->shutting_down = 1;
  s->done = done;
  s->done_arg = arg;
  if (s->listener && s->listener_open) uv_close((uv_handle_t *)s->listener, on_listener_closed);
  s->listener = NULL;
  for (conn *c = s->conns, *next; c; c = next) {
    next = c->next;
    if (c->closing || c->finishing) continue;
    if (c->phase == P_STREAM && c->active) {
      gv_http_stream_end(&c->active->pub);
    } else if (c->phase == P_HEAD && !http_head_started(c) && c->in_off == c->in_len) {
      c->no_linger = 1;
      http_conn_finish(c);
    }
  }
  if (!s->listener_open && s->nconns == 0 && !s->done_called) {
    s->done_called = 1;
    if (done) done(arg);
  }
}

void gv_http_server_free(gv_http_server *s) {
  if (!s) return;
  if (s->listener && s->listener_open) {
    /* Never shut down: the handle frees itself once closed. */
    s->listener->data = NULL;
    uv_close((uv_handle_t *)s->listener, on_listener_closed);
  }
  gv_tls_ctx_free(s->tls);
  free(s);
}

const char *gv_http_header_get(const gv_http_req *req, const char *name) {
  for (size_t i = 0; i < req->nheaders; i++)
    if (http_ascii_ieq(req->headers[i].name, name)) return req->headers[i].value;
  return NULL;
}
