/* Cryptography through OpenSSL 3: SHA-256, random tokens, PBKDF2 passwords, Ed25519. */
#include "base/crypto.h"
#include "base/alloc.h"
#include "base/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gv_sha256_ctx {
  EVP_MD_CTX *md;
};

/* OpenSSL 3 looks an algorithm up on every implicit use; fetching SHA-256 once keeps
 * hashing a session token cheap. Fetched on first use; kept for the process. */
static const EVP_MD *sha256_md(void) {
  static EVP_MD *md;
  if (md == NULL) md = EVP_MD_fetch(NULL, "SHA256", NULL);
  return md ? md : EVP_sha256();
}

void gv_sha256(const void *data, size_t len, uint8_t out[GV_SHA256_LEN]) {
  unsigned int n = 0;
  EVP_Digest(data, len, out, &n, sha256_md(), NULL);
}

int gv_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[GV_SHA256_LEN]) {
  unsigned int n = 0;
  static const uint8_t none;
  /* OpenSSL reads an empty key as "no key": hand it a valid pointer with length 0. */
  if (HMAC(sha256_md(), key_len ? key : &none, (int)key_len, data, len, out, &n) == NULL || n != GV_SHA256_LEN)
    return GV_EIO;
  return GV_OK;
}

void gv_hex(const uint8_t *in, size_t len, char *out) {
  static const char hexd[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = hexd[in[i] >> 4];
    out[2 * i + 1] = hexd[in[i] & 15];
  }
  out[2 * len] = '\0';
}

void gv_sha256_hex(const void *data, size_t len, char out[GV_SHA256_HEX_LEN]) {
  uint8_t d[GV_SHA256_LEN];
  gv_sha256(data, len, d);
  gv_hex(d, sizeof d, out);
}

gv_sha256_ctx *gv_sha256_new(void) {
  gv_sha256_ctx *c = gv_malloc(sizeof *c);
  if (c == NULL) return NULL;
  c->md = EVP_MD_CTX_new();
  if (c->md == NULL || EVP_DigestInit_ex(c->md, sha256_md(), NULL) != 1) {
    EVP_MD_CTX_free(c->md);
    free(c);
    return NULL;
  }
  return c;
}

void gv_sha256_update(gv_sha256_ctx *c, const void *data, size_t len) {
  EVP_DigestUpdate(c->md, data, len);
}

void gv_sha256_final(gv_sha256_ctx *c, uint8_t out[GV_SHA256_LEN]) {
  unsigned int n = 0;
  EVP_DigestFinal_ex(c->md, out, &n);
  EVP_MD_CTX_free(c->md);
  free(c);
}

int gv_random(void *buf, size_t len) {
  return RAND_bytes(buf, (int)len) == 1 ? GV_OK : GV_EIO;
}

int gv_token_new(size_t nbytes, char *out, size_t outsize) {
  uint8_t raw[64];
  char b64[100];
  if (nbytes < 16 || nbytes > sizeof raw) return GV_EINVAL;
  if (gv_random(raw, nbytes) != GV_OK) return GV_EIO;
  size_t n = gv_base64_encode(raw, nbytes, b64);
  size_t j = 0;
  for (size_t i = 0; i < n && j + 1 < outsize; i++) {
    char c = b64[i];
    if (c == '=') break;
    out[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  if (j + 1 > outsize) return GV_EINVAL;
  out[j] = '\0';
  OPENSSL_cleanse(raw, sizeof raw);
  return GV_OK;
}

void gv_wipe(void *p, size_t len) { OPENSSL_cleanse(p, len); }

int gv_ct_equal(const void *a, const void *b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}

size_t gv_base64_encode(const uint8_t *in, size_t len, char *out) {
  return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

long gv_base64_decode(const char *in, uint8_t *out, size_t outsize) {
  size_t len = strlen(in);
  if (len % 4 != 0 || len / 4 * 3 > outsize + 2) return -1;
  unsigned char *tmp = gv_malloc(len / 4 * 3 + 1);
  if (tmp == NULL) return -1;
  int n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
  if (n < 0) { free(tmp); return -1; }
  /* EVP_DecodeBlock counts padding bytes as zeros: drop them. */
  if (len >= 1 && in[len - 1] == '=') n--;
  if (len >= 2 && in[len - 2] == '=') n--;
  if ((size_t)n > outsize) { free(tmp); return -1; }
  memcpy(out, tmp, (size_t)n);
  free(tmp);
  return n;
}

#define SALT_LEN 16
#define DK_LEN 32

int gv_password_hash(const char *password, int iterations, char out[GV_PASSWORD_HASH_LEN]) {
  uint8_t salt[SALT_LEN], dk[DK_LEN];
  char salt64[32], dk64[64];
  if (iterations < 1) return GV_EINVAL;
  if (gv_random(salt, sizeof salt) != GV_OK) return GV_EIO;
  if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof salt, iterations,
                        EVP_sha256(), sizeof dk, dk) != 1)
    return GV_EIO;
  gv_base64_encode(salt, sizeof salt, salt64);
  gv_base64_encode(dk, sizeof dk, dk64);
  snprintf(out, GV_PASSWORD_HASH_LEN, "pbkdf2-sha256$%d$%s$%s", iterations, salt64, dk64);
  OPENSSL_cleanse(dk, sizeof dk);
  return GV_OK;
}

int gv_password_verify(const char *password, const char *encoded) {
  char copy[GV_PASSWORD_HASH_LEN];
  uint8_t salt[64], want[64], got[DK_LEN];
  if (encoded == NULL || strlen(encoded) >= sizeof copy) return 0;
  memcpy(copy, encoded, strlen(encoded) + 1);
  char *save = NULL;
  char *scheme = strtok_r(copy, "$", &save);
  char *iter = strtok_r(NULL, "$", &save);
  char *salt64 = strtok_r(NULL, "$", &save);
  char *dk64 = strtok_r(NULL, "$", &save);
  if (!scheme || !iter || !salt64 || !dk64 || strcmp(scheme, "pbkdf2-sha256") != 0) return 0;
  long iterations = strtol(iter, NULL, 10);
  if (iterations < 1 || iterations > 100000000) return 0;
  long saltlen = gv_base64_decode(salt64, salt, sizeof salt);
  long wantlen = gv_base64_decode(dk64, want, sizeof want);
  if (saltlen <= 0 || wantlen != DK_LEN) return 0;
  if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)saltlen, (int)iterations,
                        EVP_sha256(), DK_LEN, got) != 1)
    return 0;
  int ok = gv_ct_equal(got, want, DK_LEN);
  OPENSSL_cleanse(got, sizeof got);
  return ok;
}

int gv_ed25519_public(const uint8_t priv[GV_ED25519_KEY_LEN], uint8_t pub[GV_ED25519_KEY_LEN]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, GV_ED25519_KEY_LEN);
  size_t n = GV_ED25519_KEY_LEN;
  int rc = k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 ? GV_OK : GV_EIO;
  EVP_PKEY_free(k);
  return rc;
}

int gv_ed25519_keygen(uint8_t priv[GV_ED25519_KEY_LEN], uint8_t pub[GV_ED25519_KEY_LEN]) {
  if (gv_random(priv, GV_ED25519_KEY_LEN) != GV_OK) return GV_EIO;
  return gv_ed25519_public(priv, pub);
}

int gv_ed25519_sign(const uint8_t priv[GV_ED25519_KEY_LEN], const void *msg, size_t len,
                    uint8_t sig[GV_ED25519_SIG_LEN]) {
  int rc = GV_EIO;
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, GV_ED25519_KEY_LEN);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  size_t siglen = GV_ED25519_SIG_LEN;
  if (k && md && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
      EVP_DigestSign(md, sig, &siglen, msg, len) == 1)
    rc = GV_OK;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(k);
  return rc;
}

int gv_ed25519_verify(const uint8_t pub[GV_ED25519_KEY_LEN], const void *msg, size_t len,
                      const uint8_t sig[GV_ED25519_SIG_LEN]) {
  int ok = 0;
  EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, GV_ED25519_KEY_LEN);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (k && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
      EVP_DigestVerify(md, sig, GV_ED25519_SIG_LEN, msg, len) == 1)
    ok = 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(k);
  return ok;
}
