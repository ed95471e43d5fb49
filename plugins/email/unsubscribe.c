/* One-click unsubscribing (RFC 8058): every message carries a link signed for its reader;
 * a POST to it turns that reader's mail off, with no sign-in, and nobody else's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email.h"

#define TOKEN_HEX 32 /* 128 bits of the HMAC: enough that nobody guesses another's link */

static void token_of(const email_settings *s, const char *forum_id, int64_t user_id, char out[TOKEN_HEX + 1]) {
  char msg[200];
  int n = snprintf(msg, sizeof msg, "gavel-unsubscribe:%s:%lld", forum_id, (long long)user_id);
  uint8_t mac[GV_HASH_SHA256_LEN];
  char hex[2 * GV_HASH_SHA256_LEN + 1];
  if (gv_hash_hmac_sha256(s->unsubscribe_key, sizeof s->unsubscribe_key, msg, (size_t)n, mac) != GV_OK)
    memset(mac, 0, sizeof mac);
  gv_text_hex(mac, sizeof mac, hex);
  memcpy(out, hex, TOKEN_HEX);
  out[TOKEN_HEX] = '\0';
}

/* Builds a user's link; see email.h. */
void email_unsubscribe_url(const email_settings *s, const char *forum_id, int64_t user_id, char *out, size_t size) {
  out[0] = '\0';
  if (!s->have_key || s->base_url[0] == '\0' || user_id <= 0) return;
  char token[TOKEN_HEX + 1];
  token_of(s, forum_id, user_id, token);
  snprintf(out, size, "%s/v1/email/unsubscribe?user=%lld&token=%s", s->base_url, (long long)user_id, token);
}

/* Compares in constant time; see email.h. */
int email_unsubscribe_token_ok(const email_settings *s, const char *forum_id, int64_t user_id, const char *token) {
  if (!s->have_key || token == NULL || strlen(token) != TOKEN_HEX || user_id <= 0) return 0;
  char want[TOKEN_HEX + 1];
  token_of(s, forum_id, user_id, want);
  unsigned diff = 0;
  for (size_t i = 0; i < TOKEN_HEX; i++) diff |= (unsigned)(want[i] ^ token[i]);
  return diff == 0;
}

typedef struct key_row {
  int found;
  uint8_t key[32];
} key_row;

static int read_key(void *ud, const gv_row *r) {
  key_row *k = ud;
  size_t n = 0;
  const void *b = gv_row_blob(r, 0, &n);
  if (b && n == sizeof k->key) {
    memcpy(k->key, b, n);
    k->found = 1;
  }
  return 1;
}

/* Reads the key, or makes and keeps one; see email.h. */
int email_unsubscribe_key(gv_host *h, email_settings *s, gv_error *err) {
  key_row k = {0};
  int rc = gv_host_sql(h, "SELECT value FROM email_keys WHERE name = 'unsubscribe'", NULL, 0, read_key, &k, err);
  if (rc == GV_OK && !k.found) {
    uint8_t fresh[32];
    if (gv_random_bytes(fresh, sizeof fresh) != GV_OK) return gv_error_set(err, GV_EIO, NULL, "no random bytes");
    gv_arg a[1] = {GV_BLOB(fresh, sizeof fresh)};
    rc = gv_host_sql(h, "INSERT OR IGNORE INTO email_keys(name, value) VALUES ('unsubscribe', ?1)", a, 1, NULL, NULL,
                     err);
    gv_random_wipe(fresh, sizeof fresh);
    if (rc == GV_OK)
      rc = gv_host_sql(h, "SELECT value FROM email_keys WHERE name = 'unsubscribe'", NULL, 0, read_key, &k, err);
  }
  if (rc == GV_OK && k.found) {
    memcpy(s->unsubscribe_key, k.key, sizeof k.key);
    s->have_key = 1;
  }
  gv_random_wipe(&k, sizeof k);
  return rc;
}

/* The user and token of the request's query, checked: the user's id, or 0. */
static int64_t checked_user(gv_host *h, const email_settings *s, gv_request *r) {
  char ubuf[32], tbuf[80];
  const char *u = gv_request_query(r, "user", ubuf, sizeof ubuf);
  const char *t = gv_request_query(r, "token", tbuf, sizeof tbuf);
  char *end = NULL;
  long long id = u ? strtoll(u, &end, 10) : 0;
  if (u == NULL || end == u || *end != '\0' || id <= 0) return 0;
  return email_unsubscribe_token_ok(s, gv_host_forum_id(h), (int64_t)id, t) ? (int64_t)id : 0;
}

static void page(gv_request *r, int status, const char *body_html) {
  gv_str *b = gv_str_new();
  gv_str_printf(b,
                "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width\"><title>Gavel</title></head>"
                "<body>%s</body></html>\n",
                body_html);
  const char *headers[] = {"Referrer-Policy", "no-referrer", NULL};
  gv_request_reply_headers(r, status, "text/html; charset=utf-8", headers, gv_str_data(b), gv_str_len(b));
  gv_str_free(b);
}

static const char *bad_link =
    "<p>Ce lien de désabonnement n'est pas valide.</p><p lang=\"en\">This unsubscribe link is not valid.</p>";

/* GET: a link followed from a message asks before changing anything (mail scanners follow
 * links); the button posts the same URL. */
void email_unsubscribe_page(void *state, gv_host *h, gv_request *r) {
  email_settings *s = email_state_settings(state);
  int64_t user = checked_user(h, s, r);
  if (user == 0) {
    page(r, 404, bad_link);
    return;
  }
  char tbuf[80], html[1024];
  snprintf(html, sizeof html,
           "<form method=\"post\" action=\"?user=%lld&amp;token=%s\">"
           "<p>Ne plus recevoir de messages de ce forum ? <span lang=\"en\">Stop receiving messages from this "
           "forum?</span></p><button type=\"submit\">Se désabonner / <span lang=\"en\">Unsubscribe</span></button>"
           "</form>",
           (long long)user, gv_request_query(r, "token", tbuf, sizeof tbuf));
  page(r, 200, html);
}

/* POST: the reader's notifications become "none" in their profile, and what was waiting for
 * them is not sent. */
void email_unsubscribe_post(void *state, gv_host *h, gv_request *r) {
  email_settings *s = email_state_settings(state);
  int64_t user = checked_user(h, s, r);
  if (user == 0) {
    page(r, 404, bad_link);
    return;
  }
  gv_error err;
  int rc = gv_host_person_set_notify(h, user, "none", &err);
  if (rc == GV_OK) {
    gv_arg a[1] = {GV_INT(user)};
    rc = gv_host_sql(h,
                     "UPDATE email_deliveries SET state = 'skipped', last_error = 'unsubscribed'"
                     " WHERE user_id = ?1 AND state IN ('pending', 'waiting')",
                     a, 1, NULL, NULL, &err);
  }
  if (rc == GV_ENOTFOUND) {
    page(r, 404, bad_link);
    return;
  }
  if (rc != GV_OK) {
    gv_host_log(h, GV_LOG_ERROR, "unsubscribe_failed", err.message);
    gv_request_error(r, rc, "the change could not be saved: try again", NULL);
    return;
  }
  gv_host_logf(h, GV_LOG_INFO, "unsubscribed", "user=%lld", (long long)user);
  page(r, 200,
       "<p>Vous ne recevrez plus de messages de ce forum. Votre profil permet de les rétablir.</p>"
       "<p lang=\"en\">You will receive no more messages from this forum. Your profile lets you turn them on again.</p>");
}
