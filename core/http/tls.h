/* Server-side TLS sessions over memory buffers, so HTTP connections encrypt through the same libuv code path. */
#ifndef GV_TLS_H
#define GV_TLS_H

#include <stddef.h>

#include "base/error.h"

typedef struct gv_tls_ctx gv_tls_ctx;
typedef struct gv_tls gv_tls;

/* Loads a PEM certificate chain and its private key into a new server context that
 * speaks TLS 1.2 and later only. Returns GV_OK and *out (free with gv_tls_ctx_free),
 * GV_ECONFIG with detail in err when a file cannot be used, or GV_ENOMEM. */
int gv_tls_ctx_new(const char *cert_file, const char *key_file, gv_error *err, gv_tls_ctx **out);

/* Frees ctx; sessions made from it keep their own reference. NULL is a no-op. */
void gv_tls_ctx_free(gv_tls_ctx *ctx);

/* A new server session on ctx. Returns GV_OK and *out (free with gv_tls_free) or GV_ENOMEM. */
int gv_tls_new(gv_tls_ctx *ctx, gv_tls **out);

/* Frees a session. NULL is a no-op. */
void gv_tls_free(gv_tls *t);

/* Hands len bytes of ciphertext received from the peer to the session.
 * Returns GV_OK or GV_ENOMEM. */
int gv_tls_feed(gv_tls *t, const void *data, size_t len);

/* Advances the handshake and decrypts into out (cap bytes). Returns GV_OK with *n set
 * to the plaintext length (0 when more ciphertext is needed or the peer closed), or
 * GV_EIO when the session failed (an alert may be waiting in the output). */
int gv_tls_read(gv_tls *t, void *out, size_t cap, size_t *n);

/* Encrypts len bytes of plaintext into the output. Returns GV_OK or GV_EIO. */
int gv_tls_write(gv_tls *t, const void *data, size_t len);

/* Bytes of ciphertext waiting to be sent to the peer. */
size_t gv_tls_out_pending(const gv_tls *t);

/* Moves up to cap bytes of waiting ciphertext into buf; returns how many. */
size_t gv_tls_out_take(gv_tls *t, void *buf, size_t cap);

/* Queues a close_notify alert (only after a completed handshake). */
void gv_tls_close_notify(gv_tls *t);

/* 1 once the handshake completed. */
int gv_tls_handshake_done(const gv_tls *t);

/* 1 once the peer sent close_notify. */
int gv_tls_peer_closed(const gv_tls *t);

/* A short text describing why the session failed, for logs; valid until the next
 * call on t. Never NULL. */
const char *gv_tls_error(const gv_tls *t);

#endif
