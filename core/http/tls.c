/* Server-side TLS sessions with OpenSSL over two memory BIOs; libuv moves the ciphertext. */
#include "http/tls.h"
#include "base/alloc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

struct gv_tls_ctx {
  SSL_CTX *ctx;
};

struct gv_tls {
  SSL *ssl;
  BIO *rbio; /* ciphertext from the peer, read by OpenSSL; owned by ssl */
  BIO *wbio; /* ciphertext from OpenSSL, sent to the peer; owned by ssl */
  int failed;
  int peer_closed;
  char err[160];
};

/* The protocols we speak when the client offers ALPN: HTTP/1.1 only. */
static const unsigned char alpn_protos[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  unsigned char *chosen = NULL;
  if (SSL_select_next_proto(&chosen, outlen, alpn_protos, sizeof alpn_protos, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

/* The reason of the oldest queued OpenSSL error, or fallback. */
static const char *ssl_reason(const char *fallback) {
  unsigned long e = ERR_peek_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  return r ? r : fallback;
}

int gv_tls_ctx_new(const char *cert_file, const char *key_file, gv_error *err, gv_tls_ctx **out) {
  int rc = GV_OK;
  gv_tls_ctx *t = NULL;
  *out = NULL;
  ERR_clear_error();
  t = gv_calloc(1, sizeof *t);
  if (!t) {
    rc = gv_error_set(err, GV_ENOMEM, NULL, "Out of memory creating the TLS context.");
    goto cleanup;
  }
  t->ctx = SSL_CTX_new(TLS_server_method());
  if (!t->ctx) {
    rc = gv_error_set(err, GV_ECONFIG, NULL, "Cannot create a TLS context: %s.",
                      ssl_reason("unknown error"));
    goto cleanup;
  }
  if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1) {
    rc = gv_error_set(err, GV_ECONFIG, NULL, "Cannot require TLS 1.2: %s.",
                      ssl_reason("unknown error"));
    goto cleanup;
  }
  /* Client-initiated renegotiation only costs the server CPU; compression leaks secrets. */
  SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(t->ctx, select_alpn, NULL);
  if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1) {
    rc = gv_error_set(err, GV_ECONFIG, "tls_cert", "Cannot load the TLS certificate %s: %s.",
                      cert_file, ssl_reason("unreadable file"));
    goto cleanup;
  }
  if (SSL_CTX_use_PrivateKey_file(t->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
    rc = gv_error_set(err, GV_ECONFIG, "tls_key", "Cannot load the TLS private key %s: %s.",
                      key_file, ssl_reason("unreadable file"));
    goto cleanup;
  }
  if (SSL_CTX_check_private_key(t->ctx) != 1) {
    rc = gv_error_set(err, GV_ECONFIG, "tls_key",
                      "The TLS private key %s does not match the certificate %s.", key_file,
                      cert_file);
    goto cleanup;
  }
  *out = t;
  t = NULL;
cleanup:
  ERR_clear_error();
  gv_tls_ctx_free(t);
  return rc;
}

void gv_tls_ctx_free(gv_tls_ctx *ctx) {
  if (!ctx) return;
  SSL_CTX_free(ctx->ctx);
  free(ctx);
}

int gv_tls_new(gv_tls_ctx *ctx, gv_tls **out) {
  int rc = GV_ENOMEM;
  gv_tls *t = gv_calloc(1, sizeof *t);
  BIO *rbio = NULL, *wbio = NULL;
  *out = NULL;
  if (!t) goto cleanup;
  t->ssl = SSL_new(ctx->ctx);
  rbio = BIO_new(BIO_s_mem());
  wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !rbio || !wbio) goto cleanup;
  /* An empty input buffer means "more is coming", not end of file. */
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_mem_eof_return(wbio, -1);
  SSL_set_bio(t->ssl, rbio, wbio);
  t->rbio = rbio;
  t->wbio = wbio;
  rbio = wbio = NULL;
  SSL_set_accept_state(t->ssl);
  *out = t;
  t = NULL;
  rc = GV_OK;
cleanup:
  BIO_free(rbio);
  BIO_free(wbio);
  gv_tls_free(t);
  ERR_clear_error();
  return rc;
}

void gv_tls_free(gv_tls *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

int gv_tls_feed(gv_tls *t, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    int w = BIO_write(t->rbio, p, chunk);
    if (w <= 0) {
      ERR_clear_error();
      return GV_ENOMEM;
    }
    p += w;
    len -= (size_t)w;
  }
  return GV_OK;
}

/* Records why the session failed. */
static void set_failed(gv_tls *t, const char *fallback) {
  t->failed = 1;
  snprintf(t->err, sizeof t->err, "%s", ssl_reason(fallback));
  ERR_clear_error();
}

int gv_tls_read(gv_tls *t, void *out, size_t cap, size_t *n) {
  *n = 0;
  if (t->failed) return GV_EIO;
  if (t->peer_closed) return GV_OK;
  ERR_clear_error();
  int r = SSL_read(t->ssl, out, cap > INT_MAX ? INT_MAX : (int)cap);
  if (r > 0) {
    *n = (size_t)r;
    return GV_OK;
  }
  switch (SSL_get_error(t->ssl, r)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    ERR_clear_error();
    return GV_OK;
  case SSL_ERROR_ZERO_RETURN:
    t->peer_closed = 1;
    ERR_clear_error();
    return GV_OK;
  default:
    set_failed(t, "protocol error");
    return GV_EIO;
  }
}

int gv_tls_write(gv_tls *t, const void *data, size_t len) {
  const char *p = data;
  if (t->failed) return GV_EIO;
  ERR_clear_error();
  while (len > 0) {
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    int w = SSL_write(t->ssl, p, chunk);
    if (w <= 0) {
      set_failed(t, "write failed");
      return GV_EIO;
    }
    p += w;
    len -= (size_t)w;
  }
  return GV_OK;
}

size_t gv_tls_out_pending(const gv_tls *t) { return BIO_ctrl_pending(t->wbio); }

size_t gv_tls_out_take(gv_tls *t, void *buf, size_t cap) {
  int r = BIO_read(t->wbio, buf, cap > INT_MAX ? INT_MAX : (int)cap);
  if (r <= 0) {
    ERR_clear_error();
    return 0;
  }
  return (size_t)r;
}

void gv_tls_close_notify(gv_tls *t) {
  if (t->failed || !SSL_is_init_finished(t->ssl)) return;
  ERR_clear_error();
  (void)SSL_shutdown(t->ssl);
  ERR_clear_error();
}

int gv_tls_handshake_done(const gv_tls *t) { return SSL_is_init_finished(t->ssl) ? 1 : 0; }

int gv_tls_peer_closed(const gv_tls *t) { return t->peer_closed; }

const char *gv_tls_error(const gv_tls *t) { return t->err[0] ? t->err : "no error"; }
