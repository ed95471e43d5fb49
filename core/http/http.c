/* HTTP/1.1 server connections: libuv sockets, llhttp parsing, strict framing, limits, timeouts, pipelining, streams, TLS. */
#include "http/http.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llhttp.h>

#include "base/buf.h"
#include "base/log.h"
#include "http/tls.h"

/* What a connection is doing. Only P_HEAD and P_BODY read requests. */
enum { P_HEAD, P_BODY, P_WAIT, P_STREAM, P_DONE };

/* Which deadline the connection's one timer stands for. */
enum { T_NONE, T_IDLE, T_HEADER, T_BODY, T_DRAIN, T_LINGER, T_FAIL };

/* States of the chunked-body checker. */
enum { CK_SIZE, CK_SIZE_MORE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER,
       CK_TRAILER_LF };

/* States of the header-callback collector. */
enum { HP_NONE, HP_FIELD, HP_AFTER_FIELD, HP_VALUE };

#define LINGER_MS 2000u          /* how long to drain a client after our last response */
#define LINGER_MAX (1u << 20)    /* bytes discarded while lingering before giving up */
#define CHUNK_EXT_MAX 1024u      /* bytes of chunk extensions on one chunk-size line */
#define IN_SLACK (64u * 1024u)   /* unparsed bytes buffered beyond the head limits */

typedef struct conn conn;

typedef struct req_impl {
  gv_http_req pub; /* first, so that a gv_http_req * converts back */
  conn *c;         /* NULL once the connection is gone (the request is orphaned) */
  gv_buf target;   /* the request target while it is parsed */
  char *tq;        /* target, path and query once parsed, NUL-separated */
  gv_buf strs;     /* header names and values, NUL-separated */
  gv_buf body;
  size_t (*hoff)[2];
  size_t hcount, hcap;
  int part;
  int headers_done;
  int keep_alive;
  int is_head;
  int streaming;
  int stream_ended;
  void (*on_close)(gv_http_req *req, void *arg);
  void *close_arg;
  uv_loop_t *loop;
} req_impl;

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shut;
  gv_http_server *s;
  conn *prev, *next;
  llhttp_t parser;
  gv_tls *tls;
  char *in;
  size_t in_len, in_off, in_cap;
  req_impl *cur;    /* the request being parsed */
  req_impl *active; /* the request dispatched and awaiting its response, or streaming */
  int phase;
  int tkind;
  int handles;
  int reading, peer_eof, finishing, closing, in_process, served, no_linger, tls_failed;
  int chunked;
  size_t lingered;
  /* request-head checker */
  size_t sc_total, sc_line, sc_len, sc_hbytes, sc_nh;
  int sc_cr, sc_sp;
  /* chunked-body checker */
  int ck_state;
  uint64_t ck_size, ck_total;
  size_t ck_digits, ck_ext, ck_tline, ck_tbytes, ck_tcount;
  /* the rejection a checker or callback decided on */
  int err_status;
  const char *err_code;
  const char *err_msg;
  uint64_t id;
  char addr[64];
  int loopback;
};

struct gv_http_server {
  uv_loop_t *loop;
  gv_http_limits lim;
  gv_http_handler_fn fn;
  void *ud;
  uv_tcp_t *listener; /* heap-allocated so a failed listen can close it after free */
  int listener_open;
  int port;
  gv_tls_ctx *tls;
  conn *conns;
  size_t nconns;
  uint64_t next_req_id, next_conn_id;
  int shutting_down, done_called;
  void (*done)(void *arg);
  void *done_arg;
  time_t date_sec;
  char date[40];
  char rbuf[64 * 1024];
};

typedef struct wreq {
  uv_write_t w;
  char data[];
} wreq;

static int on_message_begin(llhttp_t *p);
static int on_url(llhttp_t *p, const char *at, size_t len);
static int on_header_field(llhttp_t *p, const char *at, size_t len);
static int on_header_field_complete(llhttp_t *p);
static int on_header_value(llhttp_t *p, const char *at, size_t len);
static int on_header_value_complete(llhttp_t *p);
static int on_headers_complete(llhttp_t *p);
static int on_body(llhttp_t *p, const char *at, size_t len);
static int on_message_complete(llhttp_t *p);

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void process(conn *c);
static void conn_close(conn *c, const char *why);
static void conn_finish(conn *c);

/* ---- small helpers ---- */

static char lower(char ch) { return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch; }

static int ascii_ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (lower(*a) != lower(*b)) return 0;
  return *a == *b;
}

static int hexval(unsigned char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

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

static size_t backlog(conn *c) {
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
static void set_timer(conn *c, int kind, unsigned ms);

/* Like set_timer, but a running deadline of the same kind starts over. */
static void restart_timer(conn *c, int kind, unsigned ms) {
  if (c->tkind == T_FAIL) return;
  c->tkind = T_NONE;
  set_timer(c, kind, ms);
}

/* Arms the connection's deadline for kind; keeps a running deadline of the same kind.
 * A pending T_FAIL is never replaced. */
static void set_timer(conn *c, int kind, unsigned ms) {
  if (c->closing || c->tkind == kind || c->tkind == T_FAIL) return;
  c->tkind = kind;
  uv_timer_stop(&c->timer);
  if (kind == T_NONE || (ms == 0 && kind != T_FAIL)) return;
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- requests ---- */

static req_impl *req_new(conn *c) {
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

static void req_free(req_impl *r) {
  if (!r) return;
  gv_buf_free(&r->target);
  free(r->tq);
  gv_buf_free(&r->strs);
  gv_buf_free(&r->body);
  free(r->hoff);
  free(r->pub.headers);
  free(r);
}

/* ---- writing ---- */

static void on_write(uv_write_t *w, int status) {
  conn *c = w->handle->data;
  free(w);
  if (c->closing) return;
  if (status < 0) {
    conn_close(c, uv_err_name(status));
    return;
  }
  if (!c->finishing && c->phase == P_HEAD && c->tkind == T_DRAIN &&
      backlog(c) <= c->s->lim.stream_max_buffer)
    process(c);
}

/* Closes the connection on the next loop iteration, so that no caller sees its
 * request vanish in the middle of a call. */
static void fail_soon(conn *c) { restart_timer(c, T_FAIL, 0); }

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
static int flush_tls(conn *c) {
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
static int send_data(conn *c, const char *a, size_t alen, const char *b, size_t blen) {
  if (c->closing) return GV_ESTATE;
  if (!c->tls) return write_raw(c, a, alen, b, blen);
  if ((alen && gv_tls_write(c->tls, a, alen) != GV_OK) ||
      (blen && gv_tls_write(c->tls, b, blen) != GV_OK)) {
    c->tls_failed = 1;
    fail_soon(c);
    return GV_EIO;
  }
  return flush_tls(c);
}

/* Headers we compute ourselves; a handler's copies are ignored. */
static int reserved_header(const char *name) {
  return ascii_ieq(name, "content-length") || ascii_ieq(name, "connection") ||
         ascii_ieq(name, "date") || ascii_ieq(name, "transfer-encoding");
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

/* ---- rejections by the HTTP layer ---- */

static int fail(conn *c, int status, const char *code, const char *msg) {
  if (!c->err_status) {
    c->err_status = status;
    c->err_code = code;
    c->err_msg = msg;
  }
  return -1;
}

/* Answers the request being read with the recorded error and closes the connection. */
static void reject(conn *c) {
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
  if (!head.failed && !body.failed) send_data(c, head.data, head.len, body.data, body.len);
  gv_buf_free(&head);
  gv_buf_free(&body);
  req_free(c->cur);
  c->cur = NULL;
  conn_finish(c);
}

/* ---- strict checks before llhttp sees the bytes ---- */

static int bad(conn *c, int status, const char *code, const char *msg) {
  fail(c, status, code, msg);
  return GV_EPARSE;
}

/* Checks request-head bytes: every CR followed by LF, no bare LF, no obsolete line
 * folding, the request-line, header-bytes and header-count limits. Sets *used to the
 * bytes that may be parsed and *end when they finish the head. GV_OK or GV_EPARSE. */
static int scan_head(conn *c, const char *p, size_t n, size_t *used, int *end) {
  const gv_http_limits *l = &c->s->lim;
  *end = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    c->sc_total++;
    if (c->sc_cr) {
      c->sc_cr = 0;
      if (ch != '\n') return bad(c, 400, "bad_request", "A CR in the request head is not followed by LF.");
      if (c->sc_line == 0) {
        if (c->sc_len > 0) c->sc_line = 1; /* empty lines before a request are ignored */
        else if (c->sc_total > l->max_request_line) return bad(c, 400, "bad_request", "Too many empty lines before the request.");
      } else if (c->sc_len == 0) {
        *used = i + 1;
        *end = 1;
        return GV_OK;
      } else {
        c->sc_line++;
        if (++c->sc_nh > l->max_headers) return bad(c, 431, "headers_too_large", "The request has too many header fields.");
      }
      c->sc_len = 0;
      continue;
    }
    if (ch == '\r') {
      c->sc_cr = 1;
      continue;
    }
    if (ch == '\n') return bad(c, 400, "bad_request", "A line of the request head ends in a bare LF.");
    if (ch == 0) return bad(c, 400, "bad_request", "The request head contains a NUL byte.");
    if (c->sc_line > 0 && c->sc_len == 0 && (ch == ' ' || ch == '\t'))
      return bad(c, 400, "bad_request", "Obsolete line folding is not accepted.");
    c->sc_len++;
    if (c->sc_line == 0) {
      if (ch == ' ') c->sc_sp++;
      if (c->sc_len > l->max_request_line) {
        if (c->sc_sp > 0) return bad(c, 414, "uri_too_long", "The request target is too long.");
        return bad(c, 400, "bad_request", "The request line is too long.");
      }
    } else if (++c->sc_hbytes > l->max_header_bytes) {
      return bad(c, 431, "headers_too_large", "The request header fields are too large.");
    }
  }
  *used = n;
  return GV_OK;
}

/* Checks chunked-body framing (llhttp 8.1.0 does not insist on the CRLF after chunk
 * data), bounds chunk extensions and trailers, and enforces the body limit early. */
static int scan_chunked(conn *c, const char *p, size_t n, size_t *used, int *end) {
  const gv_http_limits *l = &c->s->lim;
  *end = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    switch (c->ck_state) {
    case CK_SIZE:
    case CK_SIZE_MORE: {
      int d = hexval(ch);
      if (d >= 0) {
        if (c->ck_digits >= 15) return bad(c, 413, "payload_too_large", "A chunk is larger than the body limit.");
        c->ck_size = c->ck_size * 16 + (uint64_t)d;
        c->ck_digits++;
        c->ck_state = CK_SIZE_MORE;
        if (c->ck_total + c->ck_size > l->max_body)
          return bad(c, 413, "payload_too_large", "The request body is larger than allowed.");
      } else if (c->ck_state == CK_SIZE_MORE && ch == ';') {
        c->ck_state = CK_EXT;
      } else if (c->ck_state == CK_SIZE_MORE && ch == '\r') {
        c->ck_state = CK_SIZE_LF;
      } else {
        return bad(c, 400, "bad_request", "A chunk size is malformed.");
      }
      break;
    }
    case CK_EXT:
      if (ch == '\r') c->ck_state = CK_SIZE_LF;
      else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) return bad(c, 400, "bad_request", "A chunk extension is malformed.");
      else if (++c->ck_ext > CHUNK_EXT_MAX) return bad(c, 400, "bad_request", "A chunk extension is too long.");
      break;
    case CK_SIZE_LF:
      if (ch != '\n') return bad(c, 400, "bad_request", "A chunk-size line does not end in CRLF.");
      c->ck_ext = 0;
      c->ck_digits = 0;
      if (c->ck_size == 0) {
        c->ck_state = CK_TRAILER;
        c->ck_tline = 0;
      } else {
        c->ck_total += c->ck_size;
        c->ck_state = CK_DATA;
      }
      break;
    case CK_DATA: {
      size_t k = n - i;
      if ((uint64_t)k > c->ck_size) k = (size_t)c->ck_size;
      c->ck_size -= k;
      i += k - 1;
      if (c->ck_size == 0) c->ck_state = CK_DATA_CR;
      break;
    }
    case CK_DATA_CR:
      if (ch != '\r') return bad(c, 400, "bad_request", "Chunk data is not followed by CRLF.");
      c->ck_state = CK_DATA_LF;
      break;
    case CK_DATA_LF:
      if (ch != '\n') return bad(c, 400, "bad_request", "Chunk data is not followed by CRLF.");
      c->ck_state = CK_SIZE;
      break;
    case CK_TRAILER:
      if (ch == '\r') {
        c->ck_state = CK_TRAILER_LF;
      } else if (ch == '\n' || ch == 0) {
        return bad(c, 400, "bad_request", "A trailer line is malformed.");
      } else if (c->ck_tline == 0 && (ch == ' ' || ch == '\t')) {
        return bad(c, 400, "bad_request", "Obsolete line folding is not accepted.");
      } else {
        c->ck_tline++;
        if (++c->ck_tbytes > l->max_header_bytes)
          return bad(c, 431, "headers_too_large", "The request trailer fields are too large.");
      }
      break;
    case CK_TRAILER_LF:
      if (ch != '\n') return bad(c, 400, "bad_request", "A CR in the trailer is not followed by LF.");
      if (c->ck_tline == 0) {
        *used = i + 1;
        *end = 1;
        return GV_OK;
      }
      if (++c->ck_tcount > l->max_headers) return bad(c, 431, "headers_too_large", "The request has too many trailer fields.");
      c->ck_tline = 0;
      c->ck_state = CK_TRAILER;
      break;
    }
  }
  *used = n;
  return GV_OK;
}

/* ---- llhttp callbacks ---- */

static int on_message_begin(llhttp_t *p) {
  conn *c = p->data;
  req_free(c->cur);
  c->cur = req_new(c);
  if (!c->cur) return fail(c, 503, "out_of_memory", "The server is out of memory.");
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  conn *c = p->data;
  gv_buf_append(&c->cur->target, at, len);
  return 0;
}

static void append_lower(gv_buf *b, const char *at, size_t len) {
  for (size_t i = 0; i < len; i++) gv_buf_putc(b, lower(at[i]));
}

static int add_offset(req_impl *r, int which) {
  if (which == 0) {
    if (r->hcount == r->hcap) {
      size_t cap = r->hcap ? r->hcap * 2 : 16;
      void *n = realloc(r->hoff, cap * sizeof *r->hoff);
      if (!n) return -1;
      r->hoff = n;
      r->hcap = cap;
    }
    r->hoff[r->hcount][0] = r->strs.len;
    r->hoff[r->hcount][1] = 0;
  } else {
    r->hoff[r->hcount][1] = r->strs.len;
  }
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  conn *c = p->data;
  req_impl *r = c->cur;
  if (r->headers_done) return 0; /* trailers were checked by scan_chunked and are dropped */
  if (r->part != HP_FIELD) {
    if (add_offset(r, 0) != 0) return fail(c, 503, "out_of_memory", "The server is out of memory.");
    r->part = HP_FIELD;
  }
  append_lower(&r->strs, at, len);
  return 0;
}

static int on_header_field_complete(llhttp_t *p) {
  conn *c = p->data;
  req_impl *r = c->cur;
  if (r->headers_done) return 0;
  gv_buf_putc(&r->strs, '\0');
  r->part = HP_AFTER_FIELD;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  conn *c = p->data;
  req_impl *r = c->cur;
  if (r->headers_done) return 0;
  if (r->part == HP_AFTER_FIELD) {
    add_offset(r, 1);
    r->part = HP_VALUE;
  }
  gv_buf_append(&r->strs, at, len);
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  conn *c = p->data;
  req_impl *r = c->cur;
  if (r->headers_done) return 0;
  if (r->part == HP_AFTER_FIELD) add_offset(r, 1);
  size_t start = r->hoff[r->hcount][1];
  while (r->strs.len > start && (r->strs.data[r->strs.len - 1] == ' ' ||
                                 r->strs.data[r->strs.len - 1] == '\t'))
    r->strs.len--;
  gv_buf_putc(&r->strs, '\0');
  r->hcount++;
  r->part = HP_NONE;
  return 0;
}

/* Turns the collected offsets into the public view of the request. */
static int finish_head(req_impl *r, llhttp_t *p) {
  if (r->target.failed || r->strs.failed) return GV_ENOMEM;
  const char *t = r->target.data ? r->target.data : "";
  size_t tlen = r->target.len, q = 0;
  while (q < tlen && t[q] != '?') q++;
  size_t qlen = q < tlen ? tlen - q - 1 : 0;
  /* target, path and query side by side, each NUL-terminated */
  char *all = malloc(tlen + q + qlen + 3);
  if (!all) return GV_ENOMEM;
  char *path = all + tlen + 1, *query = path + q + 1;
  memcpy(all, t, tlen);
  all[tlen] = '\0';
  memcpy(path, t, q);
  path[q] = '\0';
  if (qlen) memcpy(query, t + q + 1, qlen);
  query[qlen] = '\0';
  r->tq = all;
  gv_buf_free(&r->target);
  if (r->hcount) {
    r->pub.headers = calloc(r->hcount, sizeof *r->pub.headers);
    if (!r->pub.headers) return GV_ENOMEM;
    for (size_t i = 0; i < r->hcount; i++) {
      r->pub.headers[i].name = r->strs.data + r->hoff[i][0];
      r->pub.headers[i].value = r->strs.data + r->hoff[i][1];
    }
  }
  r->pub.nheaders = r->hcount;
  r->pub.method = llhttp_method_name((llhttp_method_t)p->method);
  r->pub.target = all;
  r->pub.path = path;
  r->pub.query = query;
  r->is_head = p->method == HTTP_HEAD;
  r->headers_done = 1;
  return GV_OK;
}

static int on_headers_complete(llhttp_t *p) {
  conn *c = p->data;
  req_impl *r = c->cur;
  const gv_http_limits *l = &c->s->lim;
  if (finish_head(r, p) != GV_OK) return fail(c, 503, "out_of_memory", "The server is out of memory.");
  if (p->http_major != 1 || p->http_minor > 1)
    return fail(c, 505, "http_version_not_supported", "Only HTTP/1.0 and HTTP/1.1 are supported.");
  if (p->method == HTTP_CONNECT)
    return fail(c, 405, gv_err_name(GV_EMETHOD), "CONNECT is not supported.");
  size_t nte = 0, ncl = 0;
  const char *te = NULL;
  for (size_t i = 0; i < r->pub.nheaders; i++) {
    const char *name = r->pub.headers[i].name;
    if (strcmp(name, "transfer-encoding") == 0) {
      nte++;
      te = r->pub.headers[i].value;
    } else if (strcmp(name, "content-length") == 0) {
      ncl++;
    }
  }
  if (nte && ncl)
    return fail(c, 400, "bad_request", "Transfer-Encoding and Content-Length must not both be sent.");
  if (ncl > 1) return fail(c, 400, "bad_request", "Content-Length is sent more than once.");
  if (nte > 1) return fail(c, 400, "bad_request", "Transfer-Encoding is sent more than once.");
  if (nte && (!ascii_ieq(te, "chunked") || !(p->flags & F_CHUNKED)))
    return fail(c, 400, "bad_request", "Only Transfer-Encoding: chunked is supported.");
  if (nte && p->http_minor == 0)
    return fail(c, 400, "bad_request", "Transfer-Encoding is not allowed in HTTP/1.0.");
  c->chunked = (p->flags & F_CHUNKED) != 0;
  int has_body = c->chunked || p->content_length > 0;
  if (!c->chunked && p->content_length > l->max_body)
    return fail(c, 413, gv_err_name(GV_ETOOBIG), "The request body is larger than allowed.");
  const char *expect = gv_http_header_get(&r->pub, "expect");
  if (expect) {
    if (!ascii_ieq(expect, "100-continue"))
      return fail(c, 417, "expectation_failed", "Only the expectation 100-continue is supported.");
    if (has_body && p->http_minor == 1) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      send_data(c, cont, sizeof cont - 1, NULL, 0);
    }
  }
  /* Upgrade requests are answered as ordinary requests: we speak nothing else. */
  p->upgrade = 0;
  c->phase = P_BODY;
  c->ck_state = CK_SIZE;
  c->ck_size = c->ck_total = 0;
  c->ck_digits = c->ck_ext = c->ck_tline = c->ck_tbytes = c->ck_tcount = 0;
  if (has_body) set_timer(c, T_BODY, l->body_timeout_ms);
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  conn *c = p->data;
  req_impl *r = c->cur;
  if (r->body.len + len > c->s->lim.max_body)
    return fail(c, 413, gv_err_name(GV_ETOOBIG), "The request body is larger than allowed.");
  if (gv_buf_append(&r->body, at, len) != GV_OK)
    return fail(c, 503, "out_of_memory", "The server is out of memory.");
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  conn *c = p->data;
  req_impl *r = c->cur;
  r->keep_alive = llhttp_should_keep_alive(p);
  if (r->body.len) {
    r->pub.body = r->body.data;
    r->pub.body_len = r->body.len;
  }
  /* Stop here: the next pipelined request waits until this one is answered. */
  return HPE_PAUSED;
}

/* ---- the connection state machine ---- */

static void reset_scanners(conn *c) {
  c->sc_total = c->sc_line = c->sc_len = c->sc_hbytes = c->sc_nh = 0;
  c->sc_cr = c->sc_sp = 0;
  c->err_status = 0;
  c->err_code = c->err_msg = NULL;
  c->chunked = 0;
}

static void read_start(conn *c);

/* 1 once a byte other than the CRLFs allowed before a request line was seen. */
static int head_started(const conn *c) { return c->sc_line > 0 || c->sc_len > 0 || c->sc_cr; }

static void dispatch(conn *c) {
  req_impl *r = c->cur;
  c->cur = NULL;
  c->active = r;
  c->phase = P_WAIT;
  c->served = 1;
  set_timer(c, T_NONE, 0);
  reset_scanners(c);
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
static void process(conn *c) {
  gv_http_server *s = c->s;
  if (c->in_process || c->closing || c->finishing) return;
  c->in_process = 1;
  while (!c->closing && !c->finishing && (c->phase == P_HEAD || c->phase == P_BODY)) {
    size_t avail = c->in_len - c->in_off;
    if (c->phase == P_HEAD && !head_started(c)) {
      if (s->shutting_down && c->served && avail == 0) {
        c->no_linger = 1;
        conn_finish(c);
        break;
      }
      if (backlog(c) > s->lim.stream_max_buffer) {
        set_timer(c, T_DRAIN, s->lim.idle_timeout_ms);
        break;
      }
      if (avail == 0) {
        if (c->tkind != T_IDLE)
          set_timer(c, T_IDLE, c->served ? s->lim.idle_timeout_ms : s->lim.header_timeout_ms);
        break;
      }
    }
    if (avail == 0) break;
    const char *p = c->in + c->in_off;
    size_t n = avail;
    int end = 0;
    if (c->phase == P_HEAD) {
      int rc = scan_head(c, p, avail, &n, &end);
      if (head_started(c)) set_timer(c, T_HEADER, s->lim.header_timeout_ms);
      else set_timer(c, T_IDLE, c->served ? s->lim.idle_timeout_ms : s->lim.header_timeout_ms);
      if (rc != GV_OK) {
        reject(c);
        break;
      }
    } else if (c->chunked) {
      if (scan_chunked(c, p, avail, &n, &end) != GV_OK) {
        reject(c);
        break;
      }
    }
    llhttp_errno_t e = llhttp_execute(&c->parser, p, n);
    size_t used = n;
    if (e == HPE_PAUSED) {
      used = (size_t)(llhttp_get_error_pos(&c->parser) - p);
    } else if (e != HPE_OK) {
      if (!c->err_status) fail(c, 400, "bad_request", llhttp_get_error_reason(&c->parser));
      reject(c);
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
      if (c->phase == P_HEAD && !head_started(c)) {
        conn_finish(c);
      } else {
        gv_log(GV_LOG_DEBUG, "http.close", "conn=%llu peer=%s reason=incomplete_request",
               (unsigned long long)c->id, c->addr);
        conn_close(c, NULL);
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
    fail(c, 408, "request_timeout", "The request headers took too long to arrive.");
    reject(c);
    break;
  case T_BODY:
    fail(c, 408, "request_timeout", "The request body took too long to arrive.");
    reject(c);
    break;
  case T_IDLE:
    conn_close(c, "idle_timeout");
    break;
  case T_DRAIN:
    conn_close(c, "slow_reader");
    break;
  case T_LINGER:
    conn_close(c, NULL);
    break;
  case T_FAIL:
    conn_close(c, "write_failed");
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
  req_free(r);
}

/* Closes at once: pending writes are dropped, a request awaiting its response is
 * orphaned (freed when the handler answers), a stream's on_close runs. */
static void conn_close(conn *c, const char *why) {
  if (c->closing) return;
  if (why)
    gv_log(GV_LOG_DEBUG, "http.close", "conn=%llu peer=%s reason=%s", (unsigned long long)c->id,
           c->addr, why);
  c->closing = 1;
  c->phase = P_DONE;
  uv_timer_stop(&c->timer);
  req_free(c->cur);
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
    conn_close(c, NULL);
    return;
  }
  restart_timer(c, T_LINGER, linger_ms(c->s));
}

/* Closes after the queued responses are written: sends close_notify and FIN, then
 * reads and discards what the client still sends for a moment, so that it sees our
 * last response instead of a reset. */
static void conn_finish(conn *c) {
  if (c->finishing || c->closing) return;
  c->finishing = 1;
  if (c->phase != P_STREAM) c->phase = P_DONE;
  req_free(c->cur);
  c->cur = NULL;
  c->in_off = c->in_len = 0;
  restart_timer(c, T_DRAIN, c->s->lim.idle_timeout_ms ? c->s->lim.idle_timeout_ms : 60000);
  if (c->tls && !c->tls_failed) {
    gv_tls_close_notify(c->tls);
    flush_tls(c);
  } else if (c->tls) {
    flush_tls(c); /* the alert explaining the failure */
  }
  if (!c->peer_eof) read_start(c);
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0) conn_close(c, "shutdown_failed");
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
    if (c->tkind == T_LINGER) conn_close(c, NULL);
    return;
  }
  if (c->phase == P_STREAM) {
    conn_close(c, "client_gone");
    return;
  }
  c->peer_eof = 1;
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  if (c->phase != P_WAIT) process(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b) {
  conn *c = st->data;
  if (c->closing || nread == 0) return;
  if (nread < 0) {
    if (nread == UV_EOF) handle_eof(c);
    else conn_close(c, uv_err_name((int)nread));
    return;
  }
  if (c->finishing) {
    c->lingered += (size_t)nread;
    if (c->lingered > LINGER_MAX) conn_close(c, "linger_limit");
    return;
  }
  if (c->phase == P_STREAM) return; /* a stream's connection is not reused */
  if (c->tls) {
    if (gv_tls_feed(c->tls, b->base, (size_t)nread) != GV_OK) {
      conn_close(c, "out_of_memory");
      return;
    }
    for (;;) {
      size_t got = 0;
      if (reserve_input(c, 16384) != GV_OK) {
        conn_close(c, "out_of_memory");
        return;
      }
      if (gv_tls_read(c->tls, c->in + c->in_len, c->in_cap - c->in_len, &got) != GV_OK) {
        gv_log(GV_LOG_INFO, "http.tls_error", "conn=%llu peer=%s reason=\"%s\"",
               (unsigned long long)c->id, c->addr, gv_tls_error(c->tls));
        c->tls_failed = 1;
        c->no_linger = 1;
        conn_finish(c);
        return;
      }
      if (got == 0) break;
      c->in_len += got;
    }
    flush_tls(c);
    if (c->phase != P_WAIT) process(c);
    if (!c->closing && gv_tls_peer_closed(c->tls)) handle_eof(c);
  } else {
    if (reserve_input(c, (size_t)nread) != GV_OK) {
      conn_close(c, "out_of_memory");
      return;
    }
    memcpy(c->in + c->in_len, b->base, (size_t)nread);
    c->in_len += (size_t)nread;
    if (c->phase != P_WAIT) process(c);
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
    conn_close(c, "accept_failed");
    return;
  }
  peer_name(c);
  if (s->shutting_down || s->nconns > s->lim.max_connections) {
    gv_log(GV_LOG_INFO, "http.refuse", "conn=%llu peer=%s reason=%s", (unsigned long long)c->id,
           c->addr, s->shutting_down ? "shutting_down" : "max_connections");
    conn_close(c, NULL);
    return;
  }
  if (s->tls && gv_tls_new(s->tls, &c->tls) != GV_OK) {
    conn_close(c, "out_of_memory");
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
  /* Strictness matters more than compatibility here: every lenient mode stays off. */
  llhttp_set_lenient_headers(&c->parser, 0);
  llhttp_set_lenient_chunked_length(&c->parser, 0);
  llhttp_set_lenient_keep_alive(&c->parser, 0);
  llhttp_set_lenient_transfer_encoding(&c->parser, 0);
  c->parser.data = c;
  c->phase = P_HEAD;
  read_start(c);
  if (!c->reading) {
    conn_close(c, "read_failed");
    return;
  }
  set_timer(c, T_IDLE, s->lim.header_timeout_ms);
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
    } else if (c->phase == P_HEAD && !head_started(c) && c->in_off == c->in_len) {
      c->no_linger = 1;
      conn_finish(c);
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
    if (ascii_ieq(req->headers[i].name, name)) return req->headers[i].value;
  return NULL;
}

void gv_http_respond(gv_http_req *req, int status_in, const gv_http_header *headers,
                     size_t nheaders, const char *body, size_t len) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  if (!c) { /* the client went away while the handler worked */
    req_free(r);
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
  else send_data(c, head.data, head.len, send_body ? body : NULL, send_body ? len : 0);
  gv_buf_free(&head);
  req_free(r);
  if (c->closing) return;
  if (!keep) {
    conn_finish(c);
    return;
  }
  c->phase = P_HEAD;
  process(c);
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
  req_free(h->data);
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
      req_free(r);
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
  set_timer(c, T_NONE, 0);
  gv_buf head = GV_BUF_INIT;
  build_head(&head, c, (status < 200 || status > 999) ? 500 : status, headers, nheaders, -1, 0);
  if (head.failed) fail_soon(c);
  else send_data(c, head.data, head.len, NULL, 0);
  gv_buf_free(&head);
  if (c->s->shutting_down) gv_http_stream_end(req);
  return GV_OK;
}

int gv_http_stream_write(gv_http_req *req, const char *data, size_t len) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  if (!c || !r->streaming || r->stream_ended || c->closing) return GV_ESTATE;
  if (r->is_head || len == 0) return GV_OK;
  if (backlog(c) + len > c->s->lim.stream_max_buffer) {
    gv_log(GV_LOG_INFO, "http.stream_drop", "conn=%llu peer=%s req=%llu queued=%zu",
           (unsigned long long)c->id, c->addr, (unsigned long long)req->id, backlog(c));
    conn_close(c, NULL);
    return GV_EBUSY;
  }
  return send_data(c, data, len, NULL, 0);
}

void gv_http_stream_end(gv_http_req *req) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  if (!c || !r->streaming || r->stream_ended) return;
  r->stream_ended = 1;
  c->no_linger = 1;
  conn_finish(c);
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
