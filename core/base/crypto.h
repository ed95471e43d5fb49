/* Cryptography for Gavel (the only part that includes OpenSSL): hashes, random tokens, passwords, signatures. */
#ifndef GV_CRYPTO_H
#define GV_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define GV_SHA256_LEN 32
#define GV_SHA256_HEX_LEN 65 /* 64 hex digits and a NUL */

/* PBKDF2-HMAC-SHA256 iterations for new password hashes (OWASP ASVS 5.0). */
#define GV_PBKDF2_ITERATIONS 600000
/* Room for an encoded password hash. */
#define GV_PASSWORD_HASH_LEN 160

/* SHA-256 of data into out. */
void gv_sha256(const void *data, size_t len, uint8_t out[GV_SHA256_LEN]);
/* SHA-256 of data as lowercase hex into out. */
void gv_sha256_hex(const void *data, size_t len, char out[GV_SHA256_HEX_LEN]);

/* HMAC-SHA256 of data under key into out. Returns GV_OK or GV_EIO. */
int gv_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[GV_SHA256_LEN]);

/* Incremental SHA-256. */
typedef struct gv_sha256_ctx gv_sha256_ctx;
gv_sha256_ctx *gv_sha256_new(void);
void gv_sha256_update(gv_sha256_ctx *c, const void *data, size_t len);
/* Writes the digest and frees c. */
void gv_sha256_final(gv_sha256_ctx *c, uint8_t out[GV_SHA256_LEN]);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void gv_hex(const uint8_t *in, size_t len, char *out);

/* Fills buf with cryptographically secure random bytes. Returns GV_OK or GV_EIO. */
int gv_random(void *buf, size_t len);

/* A new random token of nbytes bytes (at least 16), written as base64url without
 * padding into out (size at least 4*nbytes/3+2). Returns GV_OK or GV_EIO. */
int gv_token_new(size_t nbytes, char *out, size_t outsize);

/* Overwrites len bytes at p with zeros in a way the compiler keeps (for secrets). */
void gv_wipe(void *p, size_t len);

/* Constant-time comparison of two equal-length buffers; 1 if equal. */
int gv_ct_equal(const void *a, const void *b, size_t len);

/* Hashes password with PBKDF2-HMAC-SHA256 (iterations, 16-byte random salt) into
 * out as "pbkdf2-sha256$ITER$SALT$HASH". Slow by design: call it off the event loop.
 * Returns GV_OK or GV_EIO. */
int gv_password_hash(const char *password, int iterations, char out[GV_PASSWORD_HASH_LEN]);

/* Checks password against an encoded hash in constant time. Returns 1 on a match,
 * 0 otherwise (including a malformed hash). As slow as hashing. */
int gv_password_verify(const char *password, const char *encoded);

/* Ed25519 keys and signatures (for signed checkpoints). */
#define GV_ED25519_KEY_LEN 32
#define GV_ED25519_SIG_LEN 64
int gv_ed25519_keygen(uint8_t priv[GV_ED25519_KEY_LEN], uint8_t pub[GV_ED25519_KEY_LEN]);
int gv_ed25519_public(const uint8_t priv[GV_ED25519_KEY_LEN], uint8_t pub[GV_ED25519_KEY_LEN]);
int gv_ed25519_sign(const uint8_t priv[GV_ED25519_KEY_LEN], const void *msg, size_t len,
                    uint8_t sig[GV_ED25519_SIG_LEN]);
/* 1 if sig is a valid signature of msg by pub, else 0. */
int gv_ed25519_verify(const uint8_t pub[GV_ED25519_KEY_LEN], const void *msg, size_t len,
                      const uint8_t sig[GV_ED25519_SIG_LEN]);

/* Standard base64 (with padding) of in into out (size >= 4*((len+2)/3)+1). Returns length. */
size_t gv_base64_encode(const uint8_t *in, size_t len, char *out);
/* Decodes standard base64; returns the decoded length or -1. */
long gv_base64_decode(const char *in, uint8_t *out, size_t outsize);

#endif
