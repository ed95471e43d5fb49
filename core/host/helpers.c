/* The helpers of include/gavel/plugin.h (version 2): thin wrappers over base/, exported to plugins. */
#include "gavel/plugin.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/time.h"
#include "host/internal.h"

#include <stdio.h>
#include <stdlib.h>

/* The public names promise the same sizes as base/'s. */
_Static_assert(GV_HASH_SHA256_LEN == GV_SHA256_LEN, "SHA-256 length");
_Static_assert(GV_SIGN_KEY_LEN == GV_ED25519_KEY_LEN && GV_SIGN_SIG_LEN == GV_ED25519_SIG_LEN, "Ed25519 lengths");
_Static_assert(GV_CLOCK_BUFSZ == GV_TIME_BUFSZ, "time buffer");

/* ---- Text ------------------------------------------------------------------------------------ */

struct gv_str {
  gv_buf b;
};

gv_str *gv_str_new(void) {
  gv_str *s = gv_calloc(1, sizeof *s);
  return s;
}

int gv_str_append(gv_str *s, const void *data, size_t len) {
  if (s == NULL) return GV_ENOMEM;
  return gv_buf_append(&s->b, data, len);
}

int gv_str_puts(gv_str *s, const char *text) {
  if (s == NULL) return GV_ENOMEM;
  return gv_buf_puts(&s->b, text ? text : "");
}

int gv_str_putc(gv_str *s, char c) {
  if (s == NULL) return GV_ENOMEM;
  return gv_buf_putc(&s->b, c);
}

int gv_str_vprintf(gv_str *s, const char *fmt, va_list ap) {
  if (s == NULL) return GV_ENOMEM;
  return gv_buf_vprintf(&s->b, fmt, ap);
}

int gv_str_printf(gv_str *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = gv_str_vprintf(s, fmt, ap);
  va_end(ap);
  return rc;
}

const char *gv_str_data(const gv_str *s) { return s && s->b.data && !s->b.failed ? s->b.data : ""; }

size_t gv_str_len(const gv_str *s) { return s && !s->b.failed ? s->b.len : 0; }

char *gv_str_finish(gv_str *s) {
  if (s == NULL) return NULL;
  char *out = NULL;
  if (!s->b.failed) out = gv_buf_steal(&s->b);
  gv_buf_free(&s->b);
  free(s);
  return out;
}

void gv_str_free(gv_str *s) {
  if (s == NULL) return;
  gv_buf_free(&s->b);
  free(s);
}

/* ---- Hashes and signatures --------------------------------------------------------------------- */

/* gv_hash is base/'s incremental context under the plugin API's name. */
void gv_hash_sha256(const void *data, size_t len, uint8_t out[GV_HASH_SHA256_LEN]) { gv_sha256(data, len, out); }
gv_hash *gv_hash_sha256_begin(void) { return (gv_hash *)gv_sha256_new(); }
void gv_hash_sha256_add(gv_hash *h, const void *data, size_t len) {
  if (h) gv_sha256_update((gv_sha256_ctx *)h, data, len);
}
void gv_hash_sha256_end(gv_hash *h, uint8_t out[GV_HASH_SHA256_LEN]) {
  if (h) gv_sha256_final((gv_sha256_ctx *)h, out);
}

int gv_hash_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t out[GV_HASH_SHA256_LEN]) {
  return gv_hmac_sha256(key, key_len, data, len, out);
}

int gv_sign_keygen(uint8_t priv[GV_SIGN_KEY_LEN], uint8_t pub[GV_SIGN_KEY_LEN]) { return gv_ed25519_keygen(priv, pub); }
int gv_sign_public(const uint8_t priv[GV_SIGN_KEY_LEN], uint8_t pub[GV_SIGN_KEY_LEN]) {
  return gv_ed25519_public(priv, pub);
}
int gv_sign_ed25519(const uint8_t priv[GV_SIGN_KEY_LEN], const void *msg, size_t len, uint8_t sig[GV_SIGN_SIG_LEN]) {
  return gv_ed25519_sign(priv, msg, len, sig);
}
int gv_sign_verify(const uint8_t pub[GV_SIGN_KEY_LEN], const void *msg, size_t len, const uint8_t sig[GV_SIGN_SIG_LEN]) {
  return gv_ed25519_verify(pub, msg, len, sig);
}

int gv_random_bytes(void *buf, size_t len) { return gv_random(buf, len); }
void gv_random_wipe(void *p, size_t len) { gv_wipe(p, len); }

/* ---- Encodings and time ------------------------------------------------------------------------ */

void gv_text_hex(const uint8_t *in, size_t len, char *out) { gv_hex(in, len, out); }
size_t gv_text_base64(const uint8_t *in, size_t len, char *out) { return gv_base64_encode(in, len, out); }
long gv_text_unbase64(const char *in, uint8_t *out, size_t size) { return gv_base64_decode(in, out, size); }

int64_t gv_clock_real_ms(void) { return gv_time_real_ms(); }
const char *gv_clock_format(int64_t ms, char buf[GV_CLOCK_BUFSZ]) { return gv_time_format(ms, buf); }
const char *gv_clock_strftime(int64_t ms, const char *tz, const char *fmt, char *buf, size_t size) {
  return gv_time_strftime(ms, tz, fmt, buf, size);
}
int gv_clock_parse(const char *text, int64_t *ms) { return gv_time_parse(text, ms); }
int gv_clock_parse_duration(const char *text, int64_t *ms) { return gv_duration_parse(text, ms); }

/* ---- Logging ----------------------------------------------------------------------------------- */

void gv_host_logf(gv_host *h, int level, const char *event, const char *fmt, ...) {
  char name[96], line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt ? fmt : "", ap);
  va_end(ap);
  snprintf(name, sizeof name, "%s.%s", h && h->plugin ? h->plugin->name : "plugin", event ? event : "");
  gv_log(level, name, "%s", line);
}
