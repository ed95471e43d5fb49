/* Tests of the HTTP layer over real loopback sockets: framing, limits, timeouts, pipelining, streams, shutdown, TLS. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "base/buf.h"
#include "http/http.h"
#include "testutil.h"

/* ---- the server side: a loop stepped by the test itself ---- */

typedef struct fx {
  uv_loop_t loop;
  gv_http_server *srv;
  int port;
  int handled;          /* requests that reached the handler */
  int deferred_pending; /* deferred responses not yet sent */
  int deferred_sent;
  int shutdown_called;
  int done;
  gv_http_req *sse;
  int sse_closed;
  int sse_is_tls;
} fx;

typedef struct deferred {
  uv_timer_t timer;
  gv_http_req *req;
  fx *f;
  int stream;
} deferred;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void step(fx *f) {
  uv_run(&f->loop, UV_RUN_NOWAIT);
  usleep(300);
}

static void pump(fx *f, int ms) {
  uint64_t end = now_ms() + (uint64_t)ms;
  do step(f);
  while (now_ms() < end);
}

static void on_deferred_closed(uv_handle_t *h) { free(h->data); }

static void echo(gv_http_req *req, const char *tag) {
  gv_buf b = GV_BUF_INIT;
  const char *xt = gv_http_header_get(req, "X-Test");
  gv_buf_printf(&b,
                "{\"tag\":\"%s\",\"method\":\"%s\",\"path\":\"%s\",\"query\":\"%s\",\"target\":\"%s\","
                "\"nheaders\":%zu,\"x-test\":\"%s\",\"tls\":%d,\"body_len\":%zu,\"body\":\"%.*s\"}",
                tag, req->method, req->path, req->query, req->target, req->nheaders, xt ? xt : "",
                req->is_tls, req->body_len, (int)(req->body_len > 200 ? 200 : req->body_len),
                req->body);
  /* ?bad asks for a header value carrying CRLF, which must never reach the wire */
  gv_http_header h[] = {{"Content-Type", "application/json"}, {"X-Bad", "a\r\nInjected: 1"}};
  gv_http_respond(req, 200, h, strstr(req->query, "bad") ? 2 : 1, b.data, b.len);
  gv_buf_free(&b);
}

static void on_sse_close(gv_http_req *req, void *arg) {
  fx *f = arg;
  f->sse_closed++;
  f->sse = NULL;
}

static void on_deferred(uv_timer_t *t) {
  deferred *d = t->data;
  d->f->deferred_pending--;
  d->f->deferred_sent++;
  if (d->stream) {
    d->f->sse = d->req;
    assert_int_equal(gv_http_stream_begin(d->req, 200, NULL, 0, on_sse_close, d->f), GV_OK);
    /* on_close has not run yet even if the client is gone */
    assert_int_equal(d->f->sse_closed, 0);
    if (d->f->sse) gv_http_stream_write(d->req, "data: late\n\n", 12);
  } else {
    echo(d->req, "deferred");
  }
  uv_close((uv_handle_t *)t, on_deferred_closed);
}

static void handler(gv_http_req *req, void *ud) {
  fx *f = ud;
  f->handled++;
  if (strcmp(req->path, "/defer") == 0 || strcmp(req->path, "/defer-sse") == 0) {
    deferred *d = calloc(1, sizeof *d);
    d->stream = strcmp(req->path, "/defer-sse") == 0;
    int ms = atoi(req->query[0] ? req->query : "100");
    d->req = req;
    d->f = f;
    uv_timer_init(&f->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_deferred, (uint64_t)ms, 0);
    f->deferred_pending++;
  } else if (strcmp(req->path, "/sse") == 0) {
    gv_http_header h[] = {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
    f->sse = req;
    f->sse_is_tls = req->is_tls;
    assert_int_equal(gv_http_stream_begin(req, 200, h, 2, on_sse_close, f), GV_OK);
  } else {
    echo(req, "now");
  }
}

static void test_limits(gv_http_limits *l) {
  gv_http_limits_default(l);
  /* Generous, so that a normal client is never dropped on a busy machine. */
  l->header_timeout_ms = (uint32_t)tu_ms(3000);
  l->body_timeout_ms = (uint32_t)tu_ms(3000);
  l->idle_timeout_ms = (uint32_t)tu_ms(3000);
}

static void fx_start_tls(fx *f, const gv_http_limits *lim, const char *cert, const char *key) {
  gv_error err;
  memset(f, 0, sizeof *f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(gv_http_server_new(&f->loop, lim, handler, f, &f->srv), GV_OK);
  if (cert) assert_int_equal(gv_http_server_tls(f->srv, cert, key, &err), GV_OK);
  assert_int_equal(gv_http_server_listen(f->srv, "127.0.0.1", 0, &err), GV_OK);
  f->port = gv_http_server_port(f->srv);
  assert_true(f->port > 0);
}

static void fx_start(fx *f, const gv_http_limits *lim) { fx_start_tls(f, lim, NULL, NULL); }

static void on_done(void *arg) { ((fx *)arg)->done++; }

static void fx_shutdown(fx *f) {
  f->shutdown_called = 1;
  gv_http_server_shutdown(f->srv, on_done, f);
}

/* Shuts the server down, frees it and asserts the loop closes cleanly. */
static void fx_stop(fx *f) {
  if (!f->shutdown_called) fx_shutdown(f);
  uint64_t end = now_ms() + (uint64_t)tu_ms(5000);
  while (!f->done && now_ms() < end) step(f);
  assert_int_equal(f->done, 1);
  assert_int_equal(gv_http_server_connections(f->srv), 0);
  gv_http_server_free(f->srv);
  while (uv_run(&f->loop, UV_RUN_NOWAIT)) usleep(300);
  assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- the client side: non-blocking sockets, optionally TLS ---- */

typedef struct client {
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;
  char *buf;
  size_t len, cap;
  int eof, reset;
} client;

typedef struct resp {
  int status;
  char head[8192];
  char *body;
  size_t body_len;
} resp;

static void cl_open_opts(fx *f, client *c, int rcvbuf) {
  struct sockaddr_in a;
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  if (rcvbuf) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)f->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(c->fd, (struct sockaddr *)&a, sizeof a);
  assert_true(rc == 0 || errno == EINPROGRESS);
  pump(f, 5);
}

static void cl_open(fx *f, client *c) { cl_open_opts(f, c, 0); }

static void cl_close(client *c) {
  if (c->ssl) SSL_free(c->ssl);
  if (c->ctx) SSL_CTX_free(c->ctx);
  if (c->fd >= 0) close(c->fd);
  free(c->buf);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

/* Closes with a TCP reset instead of a FIN. */
static void cl_abort(client *c) {
  struct linger lg = {1, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  cl_close(c);
}

/* Sends everything, stepping the server while the socket is full. 0, or -1 once the
 * server closed the connection. */
static int cl_send(fx *f, client *c, const void *data, size_t len) {
  const char *p = data;
  uint64_t end = now_ms() + (uint64_t)tu_ms(10000);
  while (len > 0) {
    ssize_t n;
    if (c->ssl) {
      ERR_clear_error();
      int r = SSL_write(c->ssl, p, (int)len);
      if (r <= 0) {
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return -1;
        n = -1;
        errno = EAGAIN;
      } else {
        n = r;
      }
    } else {
      n = send(c->fd, p, len, MSG_NOSIGNAL);
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
      assert_true(now_ms() < end);
      step(f);
      continue;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int cl_sends(fx *f, client *c, const char *s) { return cl_send(f, c, s, strlen(s)); }

/* Reads what is available into c->buf. Returns the bytes read. */
static size_t cl_poll(client *c) {
  size_t total = 0;
  for (;;) {
    if (c->cap - c->len < 65536) {
      c->cap = c->cap ? c->cap * 2 : 131072;
      c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n;
    if (c->ssl) {
      ERR_clear_error();
      int r = SSL_read(c->ssl, c->buf + c->len, (int)(c->cap - c->len - 1));
      if (r > 0) n = r;
      else {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        c->eof = 1;
        break;
      }
    } else {
      n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        c->eof = 1;
        c->reset = 1;
        break;
      }
      if (n == 0) {
        c->eof = 1;
        break;
      }
    }
    c->len += (size_t)n;
    total += (size_t)n;
  }
  if (c->buf) c->buf[c->len] = '\0';
  return total;
}

static const char *find_header(const char *head, const char *name, char *out, size_t size) {
  size_t nl = strlen(name);
  for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
      const char *v = p + 3 + nl;
      while (*v == ' ') v++;
      size_t n = strcspn(v, "\r");
      if (n >= size) n = size - 1;
      memcpy(out, v, n);
      out[n] = '\0';
      return out;
    }
  }
  return NULL;
}

/* Parses one complete response from the front of c->buf, if there is one. */
static int take_response(client *c, resp *r, int until_eof) {
  char *end = c->buf ? strstr(c->buf, "\r\n\r\n") : NULL;
  if (!end) return 0;
  size_t hlen = (size_t)(end - c->buf) + 4;
  char cl[32];
  memset(r, 0, sizeof *r);
  snprintf(r->head, sizeof r->head, "%.*s", (int)hlen, c->buf);
  if (sscanf(c->buf, "HTTP/1.1 %d", &r->status) != 1) return -1;
  size_t blen = 0;
  if (find_header(r->head, "Content-Length", cl, sizeof cl)) {
    blen = (size_t)strtoul(cl, NULL, 10);
  } else if (until_eof && r->status != 100 && r->status != 204) {
    if (!c->eof) return 0; /* a stream: its body runs to the end of the connection */
    blen = c->len - hlen;
  }
  if (c->len < hlen + blen) return 0;
  r->body = malloc(blen + 1);
  memcpy(r->body, c->buf + hlen, blen);
  r->body[blen] = '\0';
  r->body_len = blen;
  memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
  c->len -= hlen + blen;
  c->buf[c->len] = '\0';
  return 1;
}

/* Waits for one response (a body without Content-Length runs to end of file when
 * until_eof). Returns 1, or 0 on timeout (timeout_ms, scaled by tu_ms) or end of file
 * without a response. */
static int cl_response_opts(fx *f, client *c, resp *r, int timeout_ms, int until_eof) {
  uint64_t end = now_ms() + (uint64_t)tu_ms(timeout_ms);
  for (;;) {
    cl_poll(c);
    int got = take_response(c, r, until_eof);
    if (got != 0) return got > 0;
    if (c->eof || now_ms() >= end) return 0;
    step(f);
  }
}

static int cl_response(fx *f, client *c, resp *r) { return cl_response_opts(f, c, r, 3000, 0); }

/* Waits until the server closes the connection. 1 if it did within timeout_ms (scaled by
 * tu_ms: an upper bound, never a measurement). */
static int cl_wait_eof(fx *f, client *c, int timeout_ms) {
  uint64_t end = now_ms() + (uint64_t)tu_ms(timeout_ms);
  while (!c->eof && now_ms() < end) {
    cl_poll(c);
    if (!c->eof) step(f);
  }
  return c->eof;
}

static void resp_free(resp *r) {
  free(r->body);
  r->body = NULL;
}

static int has_header(const resp *r, const char *name, const char *value) {
  char v[512];
  if (!find_header(r->head, name, v, sizeof v)) return 0;
  return value == NULL || strcasecmp(v, value) == 0;
}

/* ---- tests ---- */

static void test_simple_get(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /hello/world?x=1&y=2&bad HTTP/1.1\r\nHost: t\r\nX-Test:  spaced value \t\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.head, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(r.body, "\"method\":\"GET\""));
  assert_non_null(strstr(r.body, "\"path\":\"/hello/world\""));
  assert_non_null(strstr(r.body, "\"query\":\"x=1&y=2&bad\""));
  assert_non_null(strstr(r.body, "\"target\":\"/hello/world?x=1&y=2&bad\""));
  assert_non_null(strstr(r.body, "\"x-test\":\"spaced value\""));
  assert_true(has_header(&r, "Connection", "keep-alive"));
  assert_true(has_header(&r, "Content-Type", "application/json"));
  /* a header value carrying CRLF is never written */
  assert_false(has_header(&r, "X-Bad", NULL));
  assert_false(has_header(&r, "Injected", NULL));
  char cl[32];
  assert_non_null(find_header(r.head, "Content-Length", cl, sizeof cl));
  assert_int_equal(strtoul(cl, NULL, 10), r.body_len);
  regex_t re;
  assert_int_equal(regcomp(&re,
                           "\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
                           "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
                           "[0-9]{2}:[0-9]{2}:[0-9]{2} GMT\r\n",
                           REG_EXTENDED),
                   0);
  assert_int_equal(regexec(&re, r.head, 0, NULL, 0), 0);
  regfree(&re);
  resp_free(&r);
  cl_close(&c);
  fx_stop(&f);
}

static void test_post_body(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "POST /items HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello"), 0);
  pump(&f, 20);
  assert_int_equal(f.handled, 0); /* the body is not complete yet */
  assert_int_equal(cl_sends(&f, &c, " world"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"body_len\":11,\"body\":\"hello world\""));
  resp_free(&r);
  /* a chunked body, with a trailer */
  assert_int_equal(cl_sends(&f, &c, "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"body\":\"hello world\""));
  resp_free(&r);
  /* Expect: 100-continue gets the interim answer before the body is sent */
  assert_int_equal(cl_sends(&f, &c, "PUT /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 100);
  resp_free(&r);
  assert_int_equal(cl_sends(&f, &c, "abc"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"method\":\"PUT\""));
  assert_non_null(strstr(r.body, "\"body\":\"abc\""));
  resp_free(&r);
  assert_int_equal(f.handled, 3);
  cl_close(&c);
  fx_stop(&f);
}

static void test_keep_alive(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  for (int i = 0; i < 5; i++) {
    char req[128], want[64];
    snprintf(req, sizeof req, "GET /k%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    snprintf(want, sizeof want, "\"path\":\"/k%d\"", i);
    assert_int_equal(cl_sends(&f, &c, req), 0);
    assert_true(cl_response(&f, &c, &r));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, want));
    assert_true(has_header(&r, "Connection", "keep-alive"));
    assert_int_equal(gv_http_server_connections(f.srv), 1);
    resp_free(&r);
  }
  /* a stray CRLF after a body is tolerated; Upgrade is answered as a plain request */
  assert_int_equal(cl_sends(&f, &c, "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 200);
  resp_free(&r);
  assert_int_equal(cl_sends(&f, &c, "GET /u HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"path\":\"/u\""));
  resp_free(&r);
  assert_int_equal(gv_http_server_connections(f.srv), 1);
  /* Connection: close is honoured */
  assert_int_equal(cl_sends(&f, &c, "GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_true(has_header(&r, "Connection", "close"));
  resp_free(&r);
  assert_true(cl_wait_eof(&f, &c, 2000));
  cl_close(&c);
  fx_stop(&f);
}

static void test_http10(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_true(has_header(&r, "Connection", "keep-alive"));
  resp_free(&r);
  assert_int_equal(cl_sends(&f, &c, "GET /b HTTP/1.0\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 200);
  assert_true(has_header(&r, "Connection", "close"));
  resp_free(&r);
  assert_true(cl_wait_eof(&f, &c, 2000));
  cl_close(&c);
  fx_stop(&f);
}

static void test_head_has_no_body(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  char cl[32];
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  /* HEAD then GET on one connection: if HEAD carried a body, the GET response would
   * be misread. */
  assert_int_equal(cl_sends(&f, &c, "HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /g HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  pump(&f, 100);
  cl_poll(&c);
  char *second = strstr(c.buf + 1, "HTTP/1.1 200");
  assert_non_null(second);
  char *end1 = strstr(c.buf, "\r\n\r\n");
  assert_ptr_equal(end1 + 4, second); /* nothing between the HEAD response's head and the next */
  snprintf(r.head, sizeof r.head, "%.*s", (int)(end1 + 4 - c.buf), c.buf);
  assert_non_null(find_header(r.head, "Content-Length", cl, sizeof cl));
  assert_true(atoi(cl) > 0); /* the length a GET would have had */
  memmove(c.buf, second, strlen(second) + 1);
  c.len = strlen(c.buf);
  assert_true(cl_response(&f, &c, &r));
  assert_non_null(strstr(r.body, "\"path\":\"/g\""));
  resp_free(&r);
  cl_close(&c);
  fx_stop(&f);
}

static void test_pipelining(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /p1 HTTP/1.1\r\nHost: t\r\n\r\n"
                                    "POST /p2 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody"
                                    "GET /p3 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  const char *want[] = {"\"path\":\"/p1\"", "\"path\":\"/p2\"", "\"path\":\"/p3\""};
  for (int i = 0; i < 3; i++) {
    assert_true(cl_response(&f, &c, &r));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, want[i]));
    resp_free(&r);
  }
  assert_int_equal(c.len, 0);
  cl_close(&c);
  /* a client that half-closes after pipelining still gets every answer */
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /h1 HTTP/1.1\r\nHost: t\r\n\r\nGET /defer?50 HTTP/1.1\r\nHost: t\r\n\r\n"
                                    "GET /h3 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  shutdown(c.fd, SHUT_WR);
  const char *want2[] = {"\"path\":\"/h1\"", "\"path\":\"/defer\"", "\"path\":\"/h3\""};
  for (int i = 0; i < 3; i++) {
    assert_true(cl_response(&f, &c, &r));
    assert_non_null(strstr(r.body, want2[i]));
    resp_free(&r);
  }
  assert_true(cl_wait_eof(&f, &c, 2000));
  cl_close(&c);
  fx_stop(&f);
}

static void test_pipelining_deferred_first(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /defer?150 HTTP/1.1\r\nHost: t\r\n\r\n"
                                    "GET /q2 HTTP/1.1\r\nHost: t\r\n\r\n"
                                    "GET /q3 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  pump(&f, 50);
  /* the later requests wait: nothing is parsed while the first awaits its answer */
  assert_int_equal(f.handled, 1);
  cl_poll(&c);
  assert_int_equal(c.len, 0);
  assert_true(cl_response(&f, &c, &r));
  assert_non_null(strstr(r.body, "\"tag\":\"deferred\""));
  assert_non_null(strstr(r.body, "\"path\":\"/defer\""));
  resp_free(&r);
  assert_true(cl_response(&f, &c, &r));
  assert_non_null(strstr(r.body, "\"path\":\"/q2\""));
  resp_free(&r);
  assert_true(cl_response(&f, &c, &r));
  assert_non_null(strstr(r.body, "\"path\":\"/q3\""));
  resp_free(&r);
  assert_int_equal(f.handled, 3);
  cl_close(&c);
  fx_stop(&f);
}

/* Sends raw, expects status with a JSON error body and Connection: close, then the
 * server closing the connection, and the handler never called. */
static void expect_rejected(const char *raw, size_t len, const char *more, int status,
                            const gv_http_limits *lim) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  if (lim) l = *lim;
  else test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_send(&f, &c, raw, len), 0);
  if (more) {
    pump(&f, 20);
    assert_int_equal(cl_sends(&f, &c, more), 0);
  }
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, status);
  assert_true(has_header(&r, "Connection", "close"));
  assert_true(has_header(&r, "Content-Type", "application/json"));
  assert_non_null(strstr(r.body, "{\"error\": {\"code\": \""));
  assert_non_null(strstr(r.body, "\"message\": \""));
  resp_free(&r);
  assert_true(cl_wait_eof(&f, &c, 3000));
  assert_int_equal(f.handled, 0);
  cl_close(&c);
  fx_stop(&f);
}

static void reject_str(const char *raw, int status) { expect_rejected(raw, strlen(raw), NULL, status, NULL); }

static void test_reject_bare_cr(void **state) {
  reject_str("GET / HTTP/1.1\r\nHost: t\r\nX-A: one\rX-B: two\r\n\r\n", 400);
  /* a CR ending one read and a non-LF starting the next is caught as well */
  const char *part = "GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r";
  expect_rejected(part, strlen(part), "X-B: two\r\n\r\n", 400, NULL);
}

static void test_reject_obs_fold(void **state) {
  reject_str("GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n", 400);
  reject_str("GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n\ttwo\r\n\r\n", 400);
}

static void test_reject_te_and_cl(void **state) {
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400);
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
             "0\r\n\r\n", 400);
}

static void test_reject_duplicate_cl(void **state) {
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", 400);
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 5\r\n\r\nabcde", 400);
}

static void test_reject_unsupported_te(void **state) {
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400);
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

static void test_reject_bad_chunk_framing(void **state) {
  /* llhttp 8.1.0 alone accepts chunk data not followed by CRLF */
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n", 400);
  reject_str("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400);
  reject_str("GET / HTTP/1.1\nHost: t\n\n", 400);
}

static void test_request_line_too_long(void **state) {
  size_t n = 9000;
  char *raw = malloc(n + 64);
  memcpy(raw, "GET /", 5);
  memset(raw + 5, 'a', n);
  strcpy(raw + 5 + n, " HTTP/1.1\r\nHost: t\r\n\r\n");
  reject_str(raw, 414);
  free(raw);
}

static void test_too_many_headers(void **state) {
  gv_buf b = GV_BUF_INIT;
  gv_buf_puts(&b, "GET / HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; i < 101; i++) gv_buf_printf(&b, "X-H%d: v\r\n", i);
  gv_buf_puts(&b, "\r\n");
  reject_str(b.data, 431);
  gv_buf_free(&b);
}

static void test_headers_too_big(void **state) {
  gv_buf b = GV_BUF_INIT;
  gv_buf_puts(&b, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
  for (int i = 0; i < 17 * 1024; i++) gv_buf_putc(&b, 'x');
  gv_buf_puts(&b, "\r\n\r\n");
  reject_str(b.data, 431);
  gv_buf_free(&b);
}

static void test_body_too_large_content_length(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  /* the 413 comes before any of the body is sent */
  assert_int_equal(cl_sends(&f, &c, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 2097152\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 413);
  assert_true(has_header(&r, "Connection", "close"));
  assert_non_null(strstr(r.body, "payload_too_large"));
  resp_free(&r);
  assert_true(cl_wait_eof(&f, &c, 3000));
  assert_int_equal(f.handled, 0);
  cl_close(&c);
  fx_stop(&f);
}

static void test_body_too_large_chunked(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  int got = 0;
  size_t sent = 0;
  char *chunk = malloc(65536);
  memset(chunk, 'z', 65536);
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
  for (int i = 0; i < 40 && !got; i++) {
    if (cl_sends(&f, &c, "10000\r\n") != 0) break;
    if (cl_send(&f, &c, chunk, 65536) != 0 || cl_sends(&f, &c, "\r\n") != 0) break;
    sent += 65536;
    pump(&f, 2);
    cl_poll(&c);
    got = strstr(c.buf ? c.buf : "", "\r\n\r\n") != NULL;
  }
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 413);
  assert_true(has_header(&r, "Connection", "close"));
  /* it came once the body passed 1 MiB, not at the end of the 2.5 MiB */
  assert_true(sent <= 1024 * 1024 + 2 * 65536);
  resp_free(&r);
  assert_true(cl_wait_eof(&f, &c, 3000));
  assert_int_equal(f.handled, 0);
  free(chunk);
  cl_close(&c);
  fx_stop(&f);
}

static void test_header_timeout(void **state) {
  fx f;
  gv_http_limits l;
  client slow, fast;
  resp r;
  const char *req = "GET /slow HTTP/1.1\r\nHost: t\r\nX-Test: 1\r\n\r\n";
  test_limits(&l);
  l.header_timeout_ms = 300;
  fx_start(&f, &l);
  cl_open(&f, &slow);
  cl_open(&f, &fast);
  uint64_t start = now_ms();
  size_t i = 0;
  int served = 0;
  /* the slow client sends a byte every 40 ms; the normal one is served meanwhile */
  while (!slow.eof && now_ms() - start < (uint64_t)tu_ms(3000)) {
    if (i < strlen(req) && cl_send(&f, &slow, req + i, 1) == 0) i++;
    char get[64];
    snprintf(get, sizeof get, "GET /fast%d HTTP/1.1\r\nHost: t\r\n\r\n", served);
    assert_int_equal(cl_sends(&f, &fast, get), 0);
    assert_true(cl_response(&f, &fast, &r));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    served++;
    pump(&f, 40);
    cl_poll(&slow);
  }
  uint64_t took = now_ms() - start;
  assert_true(slow.eof);
  assert_true(took >= 250 && took < (uint64_t)tu_ms(1500));
  assert_true(i < strlen(req)); /* dropped before it finished its headers */
  assert_true(served >= 3);
  /* what the slow client saw before the close is a 408 */
  assert_true(take_response(&slow, &r, 0) == 1);
  assert_int_equal(r.status, 408);
  resp_free(&r);
  assert_int_equal(f.handled, served);
  cl_close(&slow);
  cl_close(&fast);
  fx_stop(&f);
}

static void test_body_timeout(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  l.body_timeout_ms = 200;
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"), 0);
  assert_true(cl_response_opts(&f, &c, &r, 2000, 0));
  assert_int_equal(r.status, 408);
  resp_free(&r);
  assert_true(cl_wait_eof(&f, &c, 3000));
  assert_int_equal(f.handled, 0);
  cl_close(&c);
  fx_stop(&f);
}

static void test_idle_timeout(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  l.idle_timeout_ms = 300;
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_true(has_header(&r, "Connection", "keep-alive"));
  resp_free(&r);
  uint64_t start = now_ms();
  assert_true(cl_wait_eof(&f, &c, 3000));
  uint64_t took = now_ms() - start;
  assert_true(took >= 250 && took < (uint64_t)tu_ms(1500));
  assert_int_equal(c.len, 0);
  pump(&f, 20);
  assert_int_equal(gv_http_server_connections(f.srv), 0);
  cl_close(&c);
  fx_stop(&f);
}

static void test_deferred_client_gone(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  test_limits(&l);
  fx_start(&f, &l);
  /* reset while the handler works: the request is orphaned, then freed on respond */
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /defer?150 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  pump(&f, 30);
  assert_int_equal(f.deferred_pending, 1);
  cl_abort(&c);
  pump(&f, 50);
  assert_int_equal(gv_http_server_connections(f.srv), 0);
  pump(&f, 200);
  assert_int_equal(f.deferred_sent, 1);
  /* an orderly close while the handler works */
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /defer?150 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  pump(&f, 30);
  cl_close(&c);
  pump(&f, 300);
  assert_int_equal(f.deferred_sent, 2);
  uint64_t end = now_ms() + (uint64_t)tu_ms(3000);
  while (gv_http_server_connections(f.srv) && now_ms() < end) step(&f);
  assert_int_equal(gv_http_server_connections(f.srv), 0);
  /* a stream begun for a client that is gone: GV_OK, then on_close once, later */
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /defer-sse?100 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  pump(&f, 30);
  cl_abort(&c);
  pump(&f, 200);
  assert_int_equal(f.deferred_sent, 3);
  assert_int_equal(f.sse_closed, 1);
  assert_null(f.sse);
  fx_stop(&f);
}

static void test_sse_stream(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /sse HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n"), 0);
  pump(&f, 30);
  assert_non_null(f.sse);
  for (int i = 0; i < 3; i++) {
    char ev[64];
    snprintf(ev, sizeof ev, "data: event %d\n\n", i);
    assert_int_equal(gv_http_stream_write(f.sse, ev, strlen(ev)), GV_OK);
  }
  pump(&f, 30);
  cl_poll(&c);
  assert_non_null(strstr(c.buf, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(c.buf, "Content-Type: text/event-stream\r\n"));
  assert_null(strstr(c.buf, "Content-Length"));
  assert_non_null(strstr(c.buf, "\r\n\r\ndata: event 0\n\ndata: event 1\n\ndata: event 2\n\n"));
  gv_http_stream_end(f.sse);
  assert_true(cl_wait_eof(&f, &c, 2000));
  pump(&f, 20);
  assert_int_equal(f.sse_closed, 1);
  assert_true(take_response(&c, &r, 1) == 1);
  assert_string_equal(r.body, "data: event 0\n\ndata: event 1\n\ndata: event 2\n\n");
  resp_free(&r);
  cl_close(&c);
  /* a client that goes away ends the stream too */
  cl_open(&f, &c);
  assert_int_equal(cl_sends(&f, &c, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  pump(&f, 30);
  assert_non_null(f.sse);
  cl_close(&c);
  pump(&f, 50);
  assert_int_equal(f.sse_closed, 2);
  assert_null(f.sse);
  fx_stop(&f);
}

static void test_sse_slow_reader_dropped(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  test_limits(&l);
  l.stream_max_buffer = 256 * 1024;
  fx_start(&f, &l);
  cl_open_opts(&f, &c, 4096);
  assert_int_equal(cl_sends(&f, &c, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  pump(&f, 30);
  assert_non_null(f.sse);
  /* the client never reads again; the server keeps producing events */
  char ev[16384];
  memset(ev, 'e', sizeof ev);
  memcpy(ev, "data: ", 6);
  ev[sizeof ev - 2] = ev[sizeof ev - 1] = '\n';
  size_t written = 0;
  int rc = GV_OK;
  while (written < (size_t)64 * 1024 * 1024) {
    rc = gv_http_stream_write(f.sse, ev, sizeof ev);
    if (rc != GV_OK) break;
    written += sizeof ev;
    if ((written / sizeof ev) % 16 == 0) step(&f);
  }
  assert_int_equal(rc, GV_EBUSY);
  /* dropped after what the kernel buffers hold plus the bound, far below 64 MiB */
  assert_true(written < (size_t)32 * 1024 * 1024);
  assert_int_equal(f.sse_closed, 1);
  assert_null(f.sse);
  pump(&f, 30);
  assert_int_equal(gv_http_server_connections(f.srv), 0);
  cl_close(&c);
  fx_stop(&f);
}

static void test_graceful_shutdown(void **state) {
  fx f;
  gv_http_limits l;
  client busy, idle, sse;
  resp r;
  test_limits(&l);
  fx_start(&f, &l);
  cl_open(&f, &idle);
  assert_int_equal(cl_sends(&f, &idle, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  assert_true(cl_response(&f, &idle, &r));
  resp_free(&r);
  cl_open(&f, &sse);
  assert_int_equal(cl_sends(&f, &sse, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  cl_open(&f, &busy);
  /* The busy request is answered well after the checks below, even on a busy machine. */
  char busy_req[128];
  snprintf(busy_req, sizeof busy_req, "POST /defer?%d HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok",
           tu_ms(1500));
  assert_int_equal(cl_sends(&f, &busy, busy_req), 0);
  pump(&f, 50);
  assert_int_equal(f.deferred_pending, 1);
  assert_non_null(f.sse);
  fx_shutdown(&f);
  /* idle connections close and streams end at once; the busy one is still open */
  assert_true(cl_wait_eof(&f, &idle, 1000));
  assert_true(cl_wait_eof(&f, &sse, 1000));
  assert_int_equal(f.sse_closed, 1);
  pump(&f, 20);
  assert_int_equal(f.done, 0);
  assert_int_equal(gv_http_server_connections(f.srv), 1);
  /* no new connections are accepted */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f.port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  close(fd);
  /* the request in flight still gets its answer, then the server is done */
  assert_true(cl_response(&f, &busy, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"tag\":\"deferred\""));
  assert_true(has_header(&r, "Connection", "close"));
  resp_free(&r);
  assert_true(cl_wait_eof(&f, &busy, 2000));
  cl_close(&busy);
  uint64_t end = now_ms() + (uint64_t)tu_ms(3000);
  while (!f.done && now_ms() < end) step(&f);
  assert_int_equal(f.done, 1);
  cl_close(&idle);
  cl_close(&sse);
  fx_stop(&f);
}

static void test_max_connections(void **state) {
  fx f;
  gv_http_limits l;
  client c[3];
  resp r;
  test_limits(&l);
  l.max_connections = 2;
  fx_start(&f, &l);
  for (int i = 0; i < 3; i++) {
    cl_open(&f, &c[i]);
    pump(&f, 10);
  }
  assert_int_equal(gv_http_server_connections(f.srv), 2);
  assert_true(cl_wait_eof(&f, &c[2], 1000));
  for (int i = 0; i < 2; i++) {
    assert_int_equal(cl_sends(&f, &c[i], "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    assert_true(cl_response(&f, &c[i], &r));
    assert_int_equal(r.status, 200);
    resp_free(&r);
  }
  for (int i = 0; i < 3; i++) cl_close(&c[i]);
  fx_stop(&f);
}

/* ---- TLS ---- */

static char tls_dir[512], tls_cert[600], tls_key[600];

static int make_cert(void) {
#ifdef GAVEL_TEST_TMP
  const char *base = GAVEL_TEST_TMP;
#else
  const char *base = "/tmp";
#endif
  mkdir(base, 0700);
  snprintf(tls_dir, sizeof tls_dir, "%s/http-tls-XXXXXX", base);
  if (!mkdtemp(tls_dir)) return -1;
  snprintf(tls_cert, sizeof tls_cert, "%s/cert.pem", tls_dir);
  snprintf(tls_key, sizeof tls_key, "%s/key.pem", tls_dir);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ed25519 -keyout '%s' -out '%s' -nodes -subj /CN=localhost "
           "-addext subjectAltName=DNS:localhost -days 1 >/dev/null 2>&1",
           tls_key, tls_cert);
  return system(cmd) == 0 ? 0 : -1;
}

static void remove_cert(void) {
  unlink(tls_cert);
  unlink(tls_key);
  rmdir(tls_dir);
}

/* Connects with TLS; max_version 0 means the library's default. Returns 1 on a
 * completed handshake, 0 on failure (the reason stays in *reason). */
static int cl_open_tls(fx *f, client *c, int max_version, unsigned long *reason) {
  cl_open(f, c);
  c->ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(c->ctx);
  if (max_version) {
    /* make the old protocol really go on the wire, so the server is what refuses it */
    SSL_CTX_set_security_level(c->ctx, 0);
    SSL_CTX_set_cipher_list(c->ctx, "ALL:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(c->ctx, max_version);
    SSL_CTX_set_max_proto_version(c->ctx, max_version);
  } else {
    assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, tls_cert, NULL), 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
  }
  c->ssl = SSL_new(c->ctx);
  SSL_set_fd(c->ssl, c->fd);
  SSL_set_tlsext_host_name(c->ssl, "localhost");
  if (!max_version) SSL_set1_host(c->ssl, "localhost");
  uint64_t end = now_ms() + (uint64_t)tu_ms(3000);
  *reason = 0;
  for (;;) {
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r == 1) return 1;
    int e = SSL_get_error(c->ssl, r);
    if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || now_ms() > end) {
      *reason = ERR_peek_last_error();
      return 0;
    }
    step(f);
  }
}

static void test_tls(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  resp r;
  unsigned long reason;
  assert_int_equal(make_cert(), 0);
  test_limits(&l);
  fx_start_tls(&f, &l, tls_cert, tls_key);
  assert_int_equal(cl_open_tls(&f, &c, 0, &reason), 1);
  assert_true(SSL_version(c.ssl) >= TLS1_2_VERSION);
  assert_int_equal(cl_sends(&f, &c, "POST /secure HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello"), 0);
  assert_true(cl_response(&f, &c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"tls\":1"));
  assert_non_null(strstr(r.body, "\"body\":\"hello\""));
  resp_free(&r);
  /* keep-alive and pipelining through TLS */
  assert_int_equal(cl_sends(&f, &c, "GET /t1 HTTP/1.1\r\nHost: t\r\n\r\nGET /defer?50 HTTP/1.1\r\nHost: t\r\n\r\n"
                                    "GET /t3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), 0);
  const char *want[] = {"/t1", "/defer", "/t3"};
  for (int i = 0; i < 3; i++) {
    assert_true(cl_response(&f, &c, &r));
    assert_non_null(strstr(r.body, want[i]));
    resp_free(&r);
  }
  assert_true(cl_wait_eof(&f, &c, 2000));
  cl_close(&c);
  /* a stream over TLS */
  assert_int_equal(cl_open_tls(&f, &c, 0, &reason), 1);
  assert_int_equal(cl_sends(&f, &c, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  pump(&f, 30);
  assert_non_null(f.sse);
  assert_int_equal(f.sse_is_tls, 1);
  assert_int_equal(gv_http_stream_write(f.sse, "data: x\n\n", 9), GV_OK);
  gv_http_stream_end(f.sse);
  assert_true(cl_wait_eof(&f, &c, 2000));
  assert_non_null(strstr(c.buf, "\r\n\r\ndata: x\n\n"));
  cl_close(&c);
  fx_stop(&f);
  remove_cert();
}

static void test_tls11_refused(void **state) {
  fx f;
  gv_http_limits l;
  client c;
  unsigned long reason;
  assert_int_equal(make_cert(), 0);
  test_limits(&l);
  fx_start_tls(&f, &l, tls_cert, tls_key);
  assert_int_equal(cl_open_tls(&f, &c, TLS1_1_VERSION, &reason), 0);
  /* the server answered the TLS 1.1 hello with a protocol_version alert */
  assert_int_equal(ERR_GET_REASON(reason), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION);
  assert_int_equal(f.handled, 0);
  cl_close(&c);
  uint64_t end = now_ms() + (uint64_t)tu_ms(2000);
  while (gv_http_server_connections(f.srv) && now_ms() < end) step(&f);
  assert_int_equal(gv_http_server_connections(f.srv), 0);
  /* a bad certificate path is a configuration error */
  gv_http_server *s2;
  gv_error err;
  assert_int_equal(gv_http_server_new(&f.loop, &l, handler, &f, &s2), GV_OK);
  assert_int_equal(gv_http_server_tls(s2, "/nonexistent/cert.pem", tls_key, &err), GV_ECONFIG);
  assert_non_null(strstr(err.message, "/nonexistent/cert.pem"));
  gv_http_server_free(s2);
  fx_stop(&f);
  remove_cert();
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_simple_get),
      cmocka_unit_test(test_post_body),
      cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_http10),
      cmocka_unit_test(test_head_has_no_body),
      cmocka_unit_test(test_pipelining),
      cmocka_unit_test(test_pipelining_deferred_first),
      cmocka_unit_test(test_reject_bare_cr),
      cmocka_unit_test(test_reject_obs_fold),
      cmocka_unit_test(test_reject_te_and_cl),
      cmocka_unit_test(test_reject_duplicate_cl),
      cmocka_unit_test(test_reject_unsupported_te),
      cmocka_unit_test(test_reject_bad_chunk_framing),
      cmocka_unit_test(test_request_line_too_long),
      cmocka_unit_test(test_too_many_headers),
      cmocka_unit_test(test_headers_too_big),
      cmocka_unit_test(test_body_too_large_content_length),
      cmocka_unit_test(test_body_too_large_chunked),
      cmocka_unit_test(test_header_timeout),
      cmocka_unit_test(test_body_timeout),
      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_deferred_client_gone),
      cmocka_unit_test(test_sse_stream),
      cmocka_unit_test(test_sse_slow_reader_dropped),
      cmocka_unit_test(test_graceful_shutdown),
      cmocka_unit_test(test_max_connections),
      cmocka_unit_test(test_tls),
      cmocka_unit_test(test_tls11_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
