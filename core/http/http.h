/* HTTP/1.1 server connections on libuv, parsed by llhttp: limits, timeouts, keep-alive, pipelining, streams, TLS. */
#ifndef GV_HTTP_H
#define GV_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/error.h"

typedef struct gv_http_server gv_http_server;
typedef struct gv_http_req gv_http_req;

/* A header as received (name lowercased) or to send (name as given). */
typedef struct gv_http_header {
  const char *name;
  const char *value;
} gv_http_header;

/* One request. Everything it points to stays valid until the response to it has been
 * finished (gv_http_respond, or gv_http_stream_end / the stream's close callback). */
struct gv_http_req {
  const char *method;      /* "GET", "POST", ... */
  const char *target;      /* the raw request target, e.g. "/v1/items?state=open" */
  const char *path;        /* the target up to '?', percent-decoding NOT applied */
  const char *query;       /* the text after '?', or "" */
  gv_http_header *headers; /* names lowercased */
  size_t nheaders;
  const char *body;        /* NUL-terminated for convenience; body_len excludes the NUL */
  size_t body_len;
  char client_addr[64];    /* peer address as text (IPv4 or IPv6, no port) */
  int is_loopback;         /* peer is 127.0.0.0/8 or ::1 */
  int is_tls;              /* the connection is TLS */
  uint64_t id;             /* unique per server, for logs */
  void *user;              /* free for the handler's use */
};

/* Called once per complete request, on the loop thread. The handler must eventually
 * answer with gv_http_respond or start a stream; it may do so later (after a commit).
 * Until it does, the connection reads no further request (pipelined requests wait, so
 * responses go out in order). */
typedef void (*gv_http_handler_fn)(gv_http_req *req, void *ud);

typedef struct gv_http_limits {
  size_t max_request_line;     /* bytes in method + target + version; 8 KiB */
  size_t max_header_bytes;     /* all header names and values; 16 KiB */
  size_t max_headers;          /* number of header fields; 100 */
  size_t max_body;             /* 1 MiB; beyond it 413 */
  unsigned header_timeout_ms;  /* from the first byte of a request to the end of its headers; 10 s */
  unsigned body_timeout_ms;    /* from the end of headers to the end of the body; 30 s */
  unsigned idle_timeout_ms;    /* a kept-alive connection with no request; 60 s */
  size_t max_connections;      /* accepted at once; beyond it new ones are closed; 4096 */
  size_t stream_max_buffer;    /* bytes queued to a slow stream reader before it is dropped; 1 MiB */
} gv_http_limits;

/* Fills *l with the defaults above. */
void gv_http_limits_default(gv_http_limits *l);

/* Creates a server on loop. limits may be NULL for the defaults. Returns GV_OK or GV_ENOMEM. */
int gv_http_server_new(uv_loop_t *loop, const gv_http_limits *limits, gv_http_handler_fn fn,
                       void *ud, gv_http_server **out);

/* Enables TLS (1.2 and later only) with a PEM certificate chain and key. Call before listen.
 * Returns GV_OK or GV_ECONFIG with detail in err. */
int gv_http_server_tls(gv_http_server *s, const char *cert_file, const char *key_file, gv_error *err);

/* Listens on host:port ("127.0.0.1", "::1", "0.0.0.0"); port 0 picks a free port.
 * Returns GV_OK or an error with detail in err. */
int gv_http_server_listen(gv_http_server *s, const char *host, int port, gv_error *err);

/* The port actually bound (useful after listening on port 0). */
int gv_http_server_port(const gv_http_server *s);

/* Graceful shutdown: stops accepting, closes idle connections, lets requests in flight
 * finish (their responses are still written), ends streams, then calls done(arg) once
 * every connection is closed. */
void gv_http_server_shutdown(gv_http_server *s, void (*done)(void *arg), void *arg);

/* Frees the server after shutdown's done callback ran (or if it never listened). */
void gv_http_server_free(gv_http_server *s);

/* Number of open connections. */
size_t gv_http_server_connections(const gv_http_server *s);

/* The first header named name (case-insensitive), or NULL. */
const char *gv_http_header_get(const gv_http_req *req, const char *name);

/* Sends the whole response to req: status, extra headers (Content-Length, Date and
 * Connection are added), body. Call exactly once per request, from the loop thread.
 * If the client went away meanwhile, the response is dropped and req freed. */
void gv_http_respond(gv_http_req *req, int status, const gv_http_header *headers, size_t nheaders,
                     const char *body, size_t len);

/* Convenience: a JSON error body {"error": {"code", "message"[, "field"]}}. */
void gv_http_respond_error(gv_http_req *req, int status, const char *code, const char *message,
                           const char *field);

/* Starts a streamed response (e.g. Server-Sent Events): status and headers, no
 * Content-Length; the connection is not reused afterwards. on_close(req, arg) is
 * called once when the stream ends for any reason (client gone, dropped for being
 * slow, server shutdown, gv_http_stream_end); req is invalid after it returns.
 * Returns GV_OK. */
int gv_http_stream_begin(gv_http_req *req, int status, const gv_http_header *headers,
                         size_t nheaders, void (*on_close)(gv_http_req *req, void *arg), void *arg);

/* Queues data on a stream. If more than stream_max_buffer bytes would be waiting for
 * the reader, the stream is closed instead (on_close runs) and GV_EBUSY is returned. */
int gv_http_stream_write(gv_http_req *req, const char *data, size_t len);

/* Ends a stream after the queued data is written; on_close runs. */
void gv_http_stream_end(gv_http_req *req);

/* The reason phrase for an HTTP status ("Not Found"). */
const char *gv_http_status_text(int status);

#endif
