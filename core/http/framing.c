/* HTTP/1.1 request framing and strictness: byte-level checks of the head and of chunked
 * bodies before llhttp sees them, and the llhttp callbacks that collect a request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "http/internal.h"

/* ---- strict checks before llhttp sees the bytes ---- */

static char lower(char ch) { return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch; }

/* 1 if a and b are equal ignoring ASCII case. */
int http_ascii_ieq(const char *a, const char *b) {
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

/* Records the rejection to answer; the first one recorded wins. Returns -1. */
int http_fail(conn *c, int status, const char *code, const char *msg) {
  if (!c->err_status) {
    c->err_status = status;
    c->err_code = code;
    c->err_msg = msg;
  }
  return -1;
}

static int bad(conn *c, int status, const char *code, const char *msg) {
  http_fail(c, status, code, msg);
  return GV_EPARSE;
}

/* Checks request-head bytes: every CR followed by LF, no bare LF, no obsolete line
 * folding, the request-line, header-bytes and header-count limits. Sets *used to the
 * bytes that may be parsed and *end when they finish the head. GV_OK or GV_EPARSE. */
int http_scan_head(conn *c, const char *p, size_t n, size_t *used, int *end) {
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
int http_scan_chunked(conn *c, const char *p, size_t n, size_t *used, int *end) {
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
  http_req_free(c->cur);
  c->cur = http_req_new(c);
  if (!c->cur) return http_fail(c, 503, "out_of_memory", "The server is out of memory.");
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
    if (add_offset(r, 0) != 0) return http_fail(c, 503, "out_of_memory", "The server is out of memory.");
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
  if (finish_head(r, p) != GV_OK) return http_fail(c, 503, "out_of_memory", "The server is out of memory.");
  if (p->http_major != 1 || p->http_minor > 1)
    return http_fail(c, 505, "http_version_not_supported", "Only HTTP/1.0 and HTTP/1.1 are supported.");
  if (p->method == HTTP_CONNECT)
    return http_fail(c, 405, gv_err_name(GV_EMETHOD), "CONNECT is not supported.");
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
    return http_fail(c, 400, "bad_request", "Transfer-Encoding and Content-Length must not both be sent.");
  if (ncl > 1) return http_fail(c, 400, "bad_request", "Content-Length is sent more than once.");
  if (nte > 1) return http_fail(c, 400, "bad_request", "Transfer-Encoding is sent more than once.");
  if (nte && (!http_ascii_ieq(te, "chunked") || !(p->flags & F_CHUNKED)))
    return http_fail(c, 400, "bad_request", "Only Transfer-Encoding: chunked is supported.");
  if (nte && p->http_minor == 0)
    return http_fail(c, 400, "bad_request", "Transfer-Encoding is not allowed in HTTP/1.0.");
  c->chunked = (p->flags & F_CHUNKED) != 0;
  int has_body = c->chunked || p->content_length > 0;
  if (!c->chunked && p->content_length > l->max_body)
    return http_fail(c, 413, gv_err_name(GV_ETOOBIG), "The request body is larger than allowed.");
  const char *expect = gv_http_header_get(&r->pub, "expect");
  if (expect) {
    if (!http_ascii_ieq(expect, "100-continue"))
      return http_fail(c, 417, "expectation_failed", "Only the expectation 100-continue is supported.");
    if (has_body && p->http_minor == 1) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      http_send(c, cont, sizeof cont - 1, NULL, 0);
    }
  }
  /* Upgrade requests are answered as ordinary requests: we speak nothing else. */
  p->upgrade = 0;
  c->phase = P_BODY;
  c->ck_state = CK_SIZE;
  c->ck_size = c->ck_total = 0;
  c->ck_digits = c->ck_ext = c->ck_tline = c->ck_tbytes = c->ck_tcount = 0;
  if (has_body) http_timer_set(c, T_BODY, l->body_timeout_ms);
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  conn *c = p->data;
  req_impl *r = c->cur;
  if (r->body.len + len > c->s->lim.max_body)
    return http_fail(c, 413, gv_err_name(GV_ETOOBIG), "The request body is larger than allowed.");
  if (gv_buf_append(&r->body, at, len) != GV_OK)
    return http_fail(c, 503, "out_of_memory", "The server is out of memory.");
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

/* Readies the head and chunk checkers for the next request. */
void http_scanners_reset(conn *c) {
  c->sc_total = c->sc_line = c->sc_len = c->sc_hbytes = c->sc_nh = 0;
  c->sc_cr = c->sc_sp = 0;
  c->err_status = 0;
  c->err_code = c->err_msg = NULL;
  c->chunked = 0;
}

/* 1 once a byte other than the CRLFs allowed before a request line was seen. */
int http_head_started(const conn *c) { return c->sc_line > 0 || c->sc_len > 0 || c->sc_cr; }

/* The callbacks llhttp calls for every connection's parser. */
const llhttp_settings_t http_parser_settings = {
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
