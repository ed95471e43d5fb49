/* Shared by the HTTP layer's own files only: a connection, a request, the server, and the
 * helpers that connection handling (http.c), request framing (framing.c) and response
 * writing (response.c) call in one another. */
#ifndef GV_HTTP_INTERNAL_H
#define GV_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <llhttp.h>

#include "base/buf.h"
#include "http/http.h"
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

/* ---- connection handling (http.c) ---- */

/* Bytes queued for the client and not yet written (TLS records included). */
size_t http_conn_backlog(conn *c);
/* Arms the connection's deadline for kind; keeps a running deadline of the same kind.
 * A pending T_FAIL is never replaced. */
void http_timer_set(conn *c, int kind, unsigned ms);
/* Like http_timer_set, but a running deadline of the same kind starts over. */
void http_timer_restart(conn *c, int kind, unsigned ms);
/* A new request read on c, or NULL when out of memory. Freed by http_req_free. */
req_impl *http_req_new(conn *c);
/* Frees a request and everything it holds; NULL is a no-op. */
void http_req_free(req_impl *r);
/* Parses buffered input as far as the connection's state allows, dispatching each
 * complete request. Re-entrant calls return at once; the outer call carries on. */
void http_conn_process(conn *c);
/* Closes at once: pending writes are dropped, a request awaiting its response is
 * orphaned (freed when the handler answers), a stream's on_close runs. why (may be NULL)
 * is logged. */
void http_conn_close(conn *c, const char *why);
/* Closes after the queued responses are written, then lingers briefly so that the
 * client sees our last response instead of a reset. */
void http_conn_finish(conn *c);

/* ---- request framing and strictness (framing.c) ---- */

/* The llhttp callbacks that collect a request into the connection's current request. */
extern const llhttp_settings_t http_parser_settings;
/* 1 if a and b are equal ignoring ASCII case. */
int http_ascii_ieq(const char *a, const char *b);
/* Records the rejection to answer (the first one recorded wins); returns -1, which
 * stops llhttp. */
int http_fail(conn *c, int status, const char *code, const char *msg);
/* Checks request-head bytes before llhttp sees them: every CR followed by LF, no bare
 * LF, no obsolete line folding, the request-line, header-bytes and header-count limits.
 * Sets *used to the bytes that may be parsed and *end when they finish the head. GV_OK
 * or GV_EPARSE (the rejection recorded with http_fail). */
int http_scan_head(conn *c, const char *p, size_t n, size_t *used, int *end);
/* Checks chunked-body framing, bounds chunk extensions and trailers, and enforces the
 * body limit early. Same contract as http_scan_head. */
int http_scan_chunked(conn *c, const char *p, size_t n, size_t *used, int *end);
/* Resets the head and chunk checkers and the recorded rejection for the next request. */
void http_scanners_reset(conn *c);
/* 1 once a byte other than the CRLFs allowed before a request line was seen. */
int http_head_started(const conn *c);

/* ---- response writing (response.c) ---- */

/* Sends whatever ciphertext the TLS session produced (handshake, records, alerts).
 * GV_OK, or an error after which the connection fails soon. */
int http_flush_tls(conn *c);
/* Sends a then b (either may be empty) as plaintext, encrypting when TLS is on. GV_OK,
 * or an error after which the connection fails soon. */
int http_send(conn *c, const char *a, size_t alen, const char *b, size_t blen);
/* Answers the request being read with the recorded rejection and closes the connection. */
void http_reject(conn *c);

#endif
