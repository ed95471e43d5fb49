/* Accounts over HTTP: sign-in, sessions and CSRF, password hashing off the loop, profiles, users. */
#include "engine/accounts.h"
#include "base/alloc.h"
#include "api/api.h"
#include "base/crypto.h"
#include "base/time.h"
#include "base/log.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- Password hashing on the thread pool, one at a time -------------------------------- */

struct gv_hash_job {
  gv_hash_job *next;
  uv_work_t work;
  gv_srv *srv;
  gv_call *call;
  int verify;
  char password[256];
  char encoded[GV_PASSWORD_HASH_LEN];
  int ok;
  gv_hash_done done;
  void *ud;
};

static void start_next(gv_srv *s);

static void hash_work(uv_work_t *w) {
  gv_hash_job *j = w->data;
  if (j->verify) j->ok = gv_password_verify(j->password, j->encoded);
  else j->ok = gv_password_hash(j->password, GV_PBKDF2_ITERATIONS, j->encoded) == GV_OK;
  gv_wipe(j->password, sizeof j->password);
}

static void hash_after(uv_work_t *w, int status) {
  gv_hash_job *j = w->data;
  gv_srv *s = j->srv;
  s->hashing = 0;
  s->hash_queued--;
  j->done(j->call, status == 0 && j->ok, j->verify ? NULL : j->encoded, j->ud);
  free(j);
  start_next(s);
}

static void start_next(gv_srv *s) {
  if (s->hashing || s->hash_head == NULL) return;
  gv_hash_job *j = s->hash_head;
  s->hash_head = j->next;
  if (s->hash_head == NULL) s->hash_tail = NULL;
  s->hashing = 1;
  j->work.data = j;
  uv_queue_work(s->loop, &j->work, hash_work, hash_after);
}

static int queue_job_on(gv_srv *s, gv_call *c, int verify, const char *password, const char *encoded,
                        gv_hash_done done, void *ud) {
  if (c && s->hash_queued >= s->cfg.password_queue) return GV_EBUSY;
  if (strlen(password) >= sizeof ((gv_hash_job *)0)->password) return GV_EINVAL;
  gv_hash_job *j = gv_calloc(1, sizeof *j);
  if (j == NULL) return GV_ENOMEM;
  j->srv = s;
  j->call = c;
  j->verify = verify;
  snprintf(j->password, sizeof j->password, "%s", password);
  if (encoded) snprintf(j->encoded, sizeof j->encoded, "%s", encoded);
  j->done = done;
  j->ud = ud;
  if (s->hash_tail) s->hash_tail->next = j;
  else s->hash_head = j;
  s->hash_tail = j;
  s->hash_queued++;
  start_next(s);
  return GV_OK;
}

static int queue_job(gv_call *c, int verify, const char *password, const char *encoded, gv_hash_done done, void *ud) {
  return queue_job_on(c->srv, c, verify, password, encoded, done, ud);
}

static void dummy_ready(gv_call *c, int ok, const char *hash, void *ud) {
  gv_srv *s = ud;
  (void)c;
  if (ok) snprintf(s->dummy_hash, sizeof s->dummy_hash, "%s", hash);
}

void api_auth_start(gv_srv *s) {
  /* The hash unknown users are checked against, so they cost the same work as real
   * ones. It is made first in the hashing queue, off the loop: every sign-in waits
   * behind it. */
  char pw[32];
  gv_token_new(16, pw, sizeof pw);
  queue_job_on(s, NULL, 0, pw, NULL, dummy_ready, s);
  gv_wipe(pw, sizeof pw);
}

int api_hash_verify(gv_call *c, const char *password, const char *encoded, gv_hash_done done, void *ud) {
  return queue_job(c, 1, password, encoded, done, ud);
}

int api_hash_new(gv_call *c, const char *password, gv_hash_done done, void *ud) {
  return queue_job(c, 0, password, NULL, done, ud);
}

/* Sessions, sign-in throttling and account changes run on the wall clock: the test
 * clock moves workflow deadlines, not the lifetime of someone's sign-in. */

/* ---- Sessions ------------------------------------------------------------------------------- */

/* Whether the browser reached us over HTTPS: our own TLS, or a trusted proxy's that says so
 * (X-Forwarded-Proto from any other peer is ignored). */
static int https(gv_call *c) {
  gv_srv *s = c->srv;
  if (c->req->is_tls || s->cfg.tls_cert[0]) return 1;
  const char *proto = gv_http_header_get(c->req, "x-forwarded-proto");
  return proto && strcmp(proto, "https") == 0 && s->cfg.ntrusted_proxies > 0 &&
         gv_net_match(s->cfg.trusted_proxies, s->cfg.ntrusted_proxies, c->req->client_addr);
}

/* Over HTTPS the cookie is __Host- and Secure; over plain HTTP (the demo, loopback) it cannot be. */
static const char *cookie_name(gv_call *c) { return https(c) ? "__Host-gavel_session" : "gavel_session"; }

/* The value of cookie name in the Cookie header, copied into out. */
static int get_cookie(gv_call *c, const char *name, char *out, size_t size) {
  const char *h = gv_http_header_get(c->req, "cookie");
  size_t nl = strlen(name);
  while (h && *h) {
    while (*h == ' ' || *h == ';') h++;
    const char *semi = strchr(h, ';');
    size_t len = semi ? (size_t)(semi - h) : strlen(h);
    if (len > nl && strncmp(h, name, nl) == 0 && h[nl] == '=') {
      snprintf(out, size, "%.*s", (int)(len - nl - 1), h + nl + 1);
      return 1;
    }
    h = semi;
  }
  return 0;
}

int api_session_new(gv_call *c, const gv_user *u, const char *kind, char *token, size_t tsize, char *csrf,
                    size_t csize) {
  gv_srv *s = c->srv;
  int64_t now = gv_time_real_ms();
  gv_session se = {0};
  se.user_id = u->id;
  snprintf(se.kind, sizeof se.kind, "%s", kind);
  se.created_at = se.last_used_at = now;
  se.expires_at = now + (strcmp(kind, "cookie") == 0 ? s->cfg.cookie_absolute_ms : s->cfg.bearer_absolute_ms);
  if (gv_token_new(32, token, tsize) != GV_OK) return GV_EIO;
  if (csrf) {
    if (gv_token_new(32, csrf, csize) != GV_OK) return GV_EIO;
    gv_sha256_hex(csrf, strlen(csrf), se.csrf_hash);
  }
  snprintf(se.label, sizeof se.label, "%s", c->client_addr);
  char th[GV_SHA256_HEX_LEN];
  gv_sha256_hex(token, strlen(token), th);
  return gv_store_session_insert(gv_engine_store(s->e), &se, th, NULL);
}

static int same_origin(gv_call *c, const char *origin) {
  const char *host = gv_http_header_get(c->req, "host");
  if (host == NULL) return 0;
  char want[300];
  snprintf(want, sizeof want, "%s://%s", https(c) ? "https" : "http", host);
  return strcmp(origin, want) == 0;
}

int api_authenticate(gv_call *c) {
  gv_srv *s = c->srv;
  char token[256] = "";
  int via_cookie = 0;
  const char *auth = gv_http_header_get(c->req, "authorization");
  if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
    snprintf(token, sizeof token, "%s", auth + 7);
  } else if (get_cookie(c, cookie_name(c), token, sizeof token)) {
    via_cookie = 1;
  }
  if (token[0] == '\0') {
    api_error(c, GV_EAUTH, "sign in first: POST /v1/login, then send Authorization: Bearer TOKEN", NULL);
    return -1;
  }
  char th[GV_SHA256_HEX_LEN];
  gv_sha256_hex(token, strlen(token), th);
  gv_store *st = gv_engine_store(s->e);
  int64_t now = gv_time_real_ms();
  if (gv_store_session_find(st, th, &c->sess, NULL) != GV_OK || c->sess.revoked_at ||
      (c->sess.expires_at && now >= c->sess.expires_at) ||
      (via_cookie != (strcmp(c->sess.kind, "cookie") == 0))) {
    api_error(c, GV_EAUTH, "the session is not valid (signed out, expired or revoked): sign in again", NULL);
    return -1;
  }
  int64_t idle = strcmp(c->sess.kind, "cookie") == 0 ? s->cfg.cookie_idle_ms
                 : strcmp(c->sess.kind, "bearer") == 0 ? s->cfg.bearer_idle_ms : 0;
  if (idle && now - c->sess.last_used_at > idle) {
    gv_store_session_revoke(st, c->sess.id, now, NULL);
    api_error(c, GV_EAUTH, "the session expired after a period without use: sign in again", NULL);
    return -1;
  }
  if (gv_store_user_get(st, c->sess.user_id, &c->user, NULL) != GV_OK || c->user.disabled) {
    api_error(c, GV_EAUTH, "this account is disabled", NULL);
    return -1;
  }
  /* An API token acts only within its scope. */
  if (strcmp(c->sess.kind, "api") == 0 && !api_scope_allows(c->sess.scope, c->req->method, c->req->path)) {
    char msg[160];
    snprintf(msg, sizeof msg, "this API token's scope (%s) does not allow this request", c->sess.scope);
    api_error(c, GV_EFORBIDDEN, msg, "Authorization");
    return -1;
  }
  /* Browser sessions: every state-changing request carries the CSRF token, and a
   * request from another site is refused. */
  const char *m = c->req->method;
  if (via_cookie && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
    const char *origin = gv_http_header_get(c->req, "origin");
    if (origin && !same_origin(c, origin)) {
      api_error(c, GV_EFORBIDDEN, "cross-site request refused", "Origin");
      return -1;
    }
    const char *csrf = gv_http_header_get(c->req, "x-csrf-token");
    char ch[GV_SHA256_HEX_LEN];
    if (csrf) gv_sha256_hex(csrf, strlen(csrf), ch);
    if (csrf == NULL || !gv_ct_equal(ch, c->sess.csrf_hash, 64)) {
      api_error(c, GV_EFORBIDDEN, "missing or wrong X-CSRF-Token", "X-CSRF-Token");
      return -1;
    }
  }
  /* Recording use at most once a minute (or a quarter of the idle timeout, if shorter)
   * keeps most reads from writing. */
  int64_t every = idle && idle / 4 < GV_MS_PER_MINUTE ? idle / 4 : GV_MS_PER_MINUTE;
  if (now - c->sess.last_used_at >= every) gv_store_session_touch(st, c->sess.id, now, NULL);
  c->authed = 1;
  gv_caller_from_user(&c->caller, &c->user);
  if (c->user.must_change_password && !(c->route->flags & R_ANY_PASSWORD)) {
    api_error(c, GV_EFORBIDDEN, "change your password first: POST /v1/me/password", NULL);
    return -1;
  }
  return 0;
}

/* ---- Sign-in ------------------------------------------------------------------------------ */

/* Seconds, rounded up, until scope has fewer than max failures in the throttling window;
 * 0 when it is not locked out. */
static int64_t api_lockout_seconds(gv_store *st, const char *scope, int64_t max) {
  int64_t now = gv_time_real_ms();
  int64_t at = gv_store_login_failure_nth(st, scope, now - LOGIN_THROTTLE_WINDOW_MS, max);
  if (at == 0) return 0;
  int64_t ms = at + LOGIN_THROTTLE_WINDOW_MS - now;
  return ms <= 0 ? 1 : (ms + 999) / 1000;
}

typedef struct login_ctx {
  gv_user user;
  int found;
  int cookie;
  char scope_user[160];
  char scope_addr[96];
} login_ctx;

static void login_done(gv_call *c, int ok, const char *hash, void *ud) {
  login_ctx *l = ud;
  gv_srv *s = c->srv;
  gv_store *st = gv_engine_store(s->e);
  int64_t now = gv_time_real_ms();
  (void)hash;
  if (!ok || !l->found || l->user.disabled) {
    gv_store_login_failure(st, l->scope_user, now, NULL);
    gv_store_login_failure(st, l->scope_addr, now, NULL);
    gv_log(GV_LOG_INFO, "auth.login_failed", "addr=%s", c->client_addr);
    free(l);
    api_error(c, GV_EAUTH, "invalid username or password", NULL);
    return;
  }
  gv_store_login_failures_clear(st, l->scope_user, 0, NULL);
  char token[64], csrf[64];
  if (api_session_new(c, &l->user, l->cookie ? "cookie" : "bearer", token, sizeof token, l->cookie ? csrf : NULL,
                      sizeof csrf) != GV_OK) {
    free(l);
    api_error(c, GV_EINTERNAL, "cannot create a session", NULL);
    return;
  }
  gv_log(GV_LOG_INFO, "auth.login", "user=%lld kind=%s", (long long)l->user.id, l->cookie ? "cookie" : "bearer");
  json_t *body = json_object();
  if (l->user.must_change_password) json_object_set_new(body, "must_change_password", json_true());
  if (l->cookie) {
    char cookie[300];
    snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%lld", cookie_name(c), token,
             https(c) ? "; Secure" : "", (long long)(s->cfg.cookie_absolute_ms / 1000));
    json_object_set_new(body, "csrf", json_string(csrf));
    char *b = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    gv_http_header h[2] = {{"Content-Type", "application/json; charset=utf-8"}, {"Set-Cookie", cookie}};
    api_raw(c, 200, h, 2, b, strlen(b));
    free(b);
  } else {
    json_object_set_new(body, "token", json_string(token));
    api_json(c, 200, body);
  }
  gv_wipe(token, sizeof token);
  free(l);
}

void h_login(gv_call *c) {
  gv_srv *s = c->srv;
  const char *username = json_string_value(json_object_get(c->body, "username"));
  const char *password = json_string_value(json_object_get(c->body, "password"));
  json_t *cookie = json_object_get(c->body, "cookie");
  if (username == NULL || password == NULL) {
    api_error(c, GV_EPARSE, "send {\"username\": ..., \"password\": ...}", username ? "password" : "username");
    return;
  }
  if (cookie && !json_is_boolean(cookie)) {
    api_error(c, GV_EPARSE, "cookie must be true or false", "cookie");
    return;
  }
  if (strlen(username) > 63 || strlen(password) > 200) {
    api_error(c, GV_EAUTH, "invalid username or password", NULL);
    return;
  }
  login_ctx *l = gv_calloc(1, sizeof *l);
  if (l == NULL) {
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  l->cookie = json_is_true(cookie);
  /* Throttling by account and address together (an attacker elsewhere cannot lock a
   * real user out), and by address alone. */
  char lower[64];
  size_t i;
  for (i = 0; username[i] && i < sizeof lower - 1; i++) lower[i] = (char)tolower((unsigned char)username[i]);
  lower[i] = '\0';
  snprintf(l->scope_user, sizeof l->scope_user, "user:%s|%s", lower, c->client_addr);
  snprintf(l->scope_addr, sizeof l->scope_addr, "addr:%s", c->client_addr);
  gv_store *st = gv_engine_store(s->e);
  int64_t wait = api_lockout_seconds(st, l->scope_user, s->cfg.login_max_failures);
  int64_t wait_addr = api_lockout_seconds(st, l->scope_addr, s->cfg.login_max_failures_addr);
  if (wait_addr > wait) wait = wait_addr;
  if (wait > 0) {
    free(l);
    api_error_retry(c, GV_EBUSY, "too many failed sign-ins from this address: wait 15 minutes", NULL, wait);
    return;
  }
  l->found = gv_store_user_find(st, username, &l->user, NULL) == GV_OK;
  /* Unknown users cost the same work as known ones. */
  const char *encoded = l->found ? l->user.password_hash : s->dummy_hash;
  if (api_hash_verify(c, password, encoded, login_done, l) != GV_OK) {
    free(l);
    api_error(c, GV_EBUSY, "the server is busy signing others in: try again in a few seconds", NULL);
  }
}


void h_logout(gv_call *c) {
  gv_store_session_revoke(gv_engine_store(c->srv->e), c->sess.id, gv_time_real_ms(), NULL);
  api_streams_session_ended(c->srv, c->sess.id);
  if (strcmp(c->sess.kind, "cookie") == 0) {
    char cookie[160];
    snprintf(cookie, sizeof cookie, "%s=; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=0", cookie_name(c),
             https(c) ? "; Secure" : "");
    gv_http_header h[2] = {{"Content-Type", "application/json; charset=utf-8"}, {"Set-Cookie", cookie}};
    api_raw(c, 200, h, 2, "{\"signed_out\":true}", 19);
    return;
  }
  api_json(c, 200, json_pack("{s:b}", "signed_out", 1));
}

/* ---- Profiles and users ------------------------------------------------------------------------ */

json_t *api_user_json(gv_srv *s, const gv_user *u, int full) {
  json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)u->id, "username", u->username, "display_name",
                        u->display_name, "role", u->role, "member", u->member[0] ? json_string(u->member) : json_null());
  json_object_set_new(o, "disabled", json_boolean(u->disabled));
  if (full) {
    json_object_set_new(o, "language", json_string(u->language));
    json_object_set_new(o, "time_zone", json_string(u->time_zone[0] ? u->time_zone : s->forum->time_zone));
    json_object_set_new(o, "email", u->email[0] ? json_string(u->email) : json_null());
    json_object_set_new(o, "notify", json_string(u->notify));
    json_object_set_new(o, "must_change_password", json_boolean(u->must_change_password));
  }
  return o;
}

/* The caller's own account as GET and PATCH /v1/me answer it: the same fields both ways, so
 * a page that keeps the answer of a change still knows its forum and the chair's powers. */
static json_t *me_json(gv_call *c, const gv_user *u) {
  json_t *o = api_user_json(c->srv, u, 1);
  json_object_set_new(o, "forum", json_string(c->srv->forum->id));
  json_object_set_new(o, "chair_powers", json_boolean(gv_engine_is_chair(c->srv->forum, &c->caller)));
  return o;
}

void h_me(gv_call *c) { api_json(c, 200, me_json(c, &c->user)); }

void h_me_patch(gv_call *c) {
  if (c->body == NULL) {
    api_error(c, GV_EPARSE, "send the fields to change as a JSON object", NULL);
    return;
  }
  gv_user u = c->user;
  const char *k;
  json_t *v;
  json_object_foreach(c->body, k, v) {
    const char *sv = json_string_value(v);
    if (strcmp(k, "language") == 0) {
      if (!sv || (strcmp(sv, "fr") != 0 && strcmp(sv, "en") != 0)) {
        api_error(c, GV_EPARAM, "language must be fr or en", k);
        return;
      }
      snprintf(u.language, sizeof u.language, "%s", sv);
    } else if (strcmp(k, "time_zone") == 0) {
      if (!sv || !gv_tz_valid(sv)) {
        api_error(c, GV_EPARAM, "time_zone must be an IANA time zone such as Indian/Mauritius", k);
        return;
      }
      snprintf(u.time_zone, sizeof u.time_zone, "%s", sv);
    } else if (strcmp(k, "email") == 0) {
      if (!(json_is_null(v) || (sv && gv_account_email_valid(sv)))) {
        api_error(c, GV_EPARAM, "email must be an email address (or null)", k);
        return;
      }
      snprintf(u.email, sizeof u.email, "%s", sv ? sv : "");
    } else if (strcmp(k, "notify") == 0) {
      if (!sv || (strcmp(sv, "each") != 0 && strcmp(sv, "digest") != 0 && strcmp(sv, "none") != 0)) {
        api_error(c, GV_EPARAM, "notify must be each, digest or none", k);
        return;
      }
      snprintf(u.notify, sizeof u.notify, "%s", sv);
    } else if (strcmp(k, "display_name") == 0) {
      if (!sv || strlen(sv) == 0 || strlen(sv) >= sizeof u.display_name) {
        api_error(c, GV_EPARAM, "display_name must be 1 to 127 characters", k);
        return;
      }
      snprintf(u.display_name, sizeof u.display_name, "%s", sv);
    } else {
      char msg[160];
      snprintf(msg, sizeof msg, "unknown field '%s': you may change language, time_zone, email, notify, display_name", k);
      api_error(c, GV_EPARSE, msg, k);
      return;
    }
  }
  u.updated_at = gv_time_real_ms();
  gv_error err;
  gv_store *st = gv_engine_store(c->srv->e);
  int64_t eid = 0;
  int rc;
  if (strcmp(u.display_name, c->user.display_name) != 0) {
    /* A new name shows in the pages and the record: it is an event, like any account change. */
    char name[sizeof u.display_name];
    snprintf(name, sizeof name, "%s", u.display_name);
    snprintf(u.display_name, sizeof u.display_name, "%s", c->user.display_name);
    rc = gv_store_begin(st, &err);
    if (rc == GV_OK) rc = gv_account_rename(st, c->srv->forum, c->user.id, &u, name, u.updated_at, &eid, &err);
    if (rc == GV_OK) rc = gv_store_commit(st, &err);
    else if (gv_store_in_tx(st)) gv_store_rollback(st);
  } else {
    rc = gv_store_user_update(st, &u, &err);
  }
  if (rc != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  if (eid) gv_engine_notify(c->srv->e, eid, eid);
  api_json(c, 200, me_json(c, &u));
}

typedef struct pw_ctx {
  char new_password[256];
} pw_ctx;

static void password_hashed(gv_call *c, int ok, const char *hash, void *ud) {
  free(ud);
  if (!ok) {
    api_error(c, GV_EINTERNAL, "cannot hash the password", NULL);
    return;
  }
  gv_store *st = gv_engine_store(c->srv->e);
  gv_error err;
  int64_t now = gv_time_real_ms();
  /* Re-read the user: it may have changed while hashing. */
  gv_user u;
  int rc = gv_store_user_get(st, c->user.id, &u, &err);
  if (rc == GV_OK) rc = gv_store_begin(st, &err);
  if (rc == GV_OK) rc = gv_account_set_password(st, c->srv->forum, c->user.id, &u, hash, 0, now, NULL, &err);
  if (rc == GV_OK) rc = gv_store_commit(st, &err);
  else gv_store_rollback(st);
  if (rc != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  api_json(c, 200, json_pack("{s:b}", "changed", 1));
}

static void current_checked(gv_call *c, int ok, const char *hash, void *ud) {
  pw_ctx *p = ud;
  (void)hash;
  if (!ok) {
    free(p);
    /* Wrong guesses here count like failed sign-ins. */
    char scope[160];
    snprintf(scope, sizeof scope, "user:%s|%s", c->user.username, c->client_addr);
    gv_store_login_failure(gv_engine_store(c->srv->e), scope, gv_time_real_ms(), NULL);
    api_error(c, GV_EFORBIDDEN, "the current password is wrong", "current_password");
    return;
  }
  char pw[256];
  snprintf(pw, sizeof pw, "%s", p->new_password);
  gv_wipe(p->new_password, sizeof p->new_password);
  if (api_hash_new(c, pw, password_hashed, p) != GV_OK) {
    free(p);
    api_error(c, GV_EBUSY, "the server is busy: try again in a few seconds", NULL);
  }
  gv_wipe(pw, sizeof pw);
}

static int password_ok(gv_call *c, const char *pw, const char *field) {
  if (pw == NULL || strlen(pw) < 10 || strlen(pw) > 200) {
    api_error(c, GV_EPARAM, "the new password must be 10 to 200 characters", field);
    return 0;
  }
  return 1;
}

void h_me_password(gv_call *c) {
  const char *cur = json_string_value(json_object_get(c->body, "current_password"));
  const char *nw = json_string_value(json_object_get(c->body, "new_password"));
  if (cur == NULL || strlen(cur) > 200) {
    api_error(c, GV_EPARAM, "current_password is required (at most 200 characters)", "current_password");
    return;
  }
  char scope[160];
  snprintf(scope, sizeof scope, "user:%s|%s", c->user.username, c->client_addr);
  int64_t wait = api_lockout_seconds(gv_engine_store(c->srv->e), scope, c->srv->cfg.login_max_failures);
  if (wait > 0) {
    api_error_retry(c, GV_EBUSY, "too many wrong passwords from this address: wait 15 minutes", NULL, wait);
    return;
  }
  if (!password_ok(c, nw, "new_password")) return;
  if (strcmp(cur, nw) == 0) {
    api_error(c, GV_EPARAM, "the new password must differ from the current one", "new_password");
    return;
  }
  pw_ctx *p = gv_calloc(1, sizeof *p);
  if (p == NULL) {
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  snprintf(p->new_password, sizeof p->new_password, "%s", nw);
  if (api_hash_verify(c, cur, c->user.password_hash, current_checked, p) != GV_OK) {
    free(p);
    api_error(c, GV_EBUSY, "the server is busy: try again in a few seconds", NULL);
  }
}

void h_me_accounts(gv_call *c) {
  if (gv_role_parse(c->user.role) != GV_ROLE_DELEGATE) {
    api_error(c, GV_EFORBIDDEN, "only delegates belong to a member state", NULL);
    return;
  }
  gv_user *users = NULL;
  size_t n = 0;
  gv_error err;
  if (gv_store_user_list(gv_engine_store(c->srv->e), c->srv->forum->id, c->user.member, &users, &n, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *u = api_user_json(c->srv, &users[i], 0);
    char ts[GV_TIME_BUFSZ];
    json_object_set_new(u, "created_at", json_string(gv_time_format(users[i].created_at, ts)));
    json_array_append_new(arr, u);
  }
  free(users);
  api_json(c, 200, json_pack("{s:s, s:o}", "member", c->user.member, "accounts", arr));
}

void h_users_list(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  gv_user *users = NULL;
  size_t n = 0;
  gv_error err;
  char member[16];
  const char *m = api_query(c, "member", member, sizeof member);
  api_page pg;
  if (api_page_query(c, 500, 1000, &pg)) return;
  if (gv_store_user_list(gv_engine_store(c->srv->e), c->srv->forum->id, m, &users, &n, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, api_user_json(c->srv, &users[i], 1));
  free(users);
  json_t *next;
  if ((arr = api_page_cut(c, arr, &pg, API_PAGE_LISTED, &next)) == NULL) return;
  api_json(c, 200, json_pack("{s:o, s:o}", "users", arr, "next", next));
}

void h_user_get(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  gv_user u;
  gv_error err;
  if (gv_store_user_find(gv_engine_store(c->srv->e), c->param[0], &u, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  api_json(c, 200, api_user_json(c->srv, &u, 1));
}

typedef struct create_ctx {
  gv_user u;
  char password[40];
} create_ctx;

static void user_hashed(gv_call *c, int ok, const char *hash, void *ud) {
  create_ctx *x = ud;
  gv_store *st = gv_engine_store(c->srv->e);
  gv_error err;
  gv_error_clear(&err);
  if (!ok) {
    free(x);
    api_error(c, GV_EINTERNAL, "cannot hash the password", NULL);
    return;
  }
  snprintf(x->u.password_hash, sizeof x->u.password_hash, "%s", hash);
  x->u.must_change_password = 1;
  int64_t now = gv_time_real_ms(), eid = 0;
  int rc = gv_store_begin(st, &err);
  if (rc == GV_OK) rc = gv_account_create(st, c->srv->forum, c->user.id, &x->u, now, &eid, &err);
  if (rc == GV_OK) rc = gv_store_commit(st, &err);
  else gv_store_rollback(st);
  if (rc != GV_OK) {
    free(x);
    api_gv_error(c, &err);
    return;
  }
  gv_engine_notify(c->srv->e, eid, eid);
  json_t *o = api_user_json(c->srv, &x->u, 1);
  json_object_set_new(o, "password", json_string(x->password));
  json_object_set_new(o, "event_id", json_integer(eid));
  json_object_set_new(o, "receipt", api_receipt(eid, now));
  gv_wipe(x->password, sizeof x->password);
  free(x);
  api_json(c, 201, o);
}

void h_users_create(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  if (c->body == NULL) {
    api_error(c, GV_EPARSE, "send {username, role, member?, display_name?, email?, language?}", NULL);
    return;
  }
  static const char *const allowed[] = {"username", "role", "member", "display_name", "email", "language", NULL};
  const char *k;
  json_t *v;
  json_object_foreach(c->body, k, v) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, k) == 0;
    if (!ok || !(json_is_string(v) || (json_is_null(v) && strcmp(k, "member") == 0))) {
      char msg[160];
      snprintf(msg, sizeof msg, ok ? "%s must be a string" : "unknown field '%s'", k);
      api_error(c, ok ? GV_EPARAM : GV_EPARSE, msg, k);
      return;
    }
  }
  create_ctx *x = gv_calloc(1, sizeof *x);
  if (x == NULL) {
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  const char *un = json_string_value(json_object_get(c->body, "username"));
  const char *role = json_string_value(json_object_get(c->body, "role"));
  snprintf(x->u.username, sizeof x->u.username, "%s", un ? un : "");
  snprintf(x->u.role, sizeof x->u.role, "%s", role ? role : "");
  const char *member = json_string_value(json_object_get(c->body, "member"));
  snprintf(x->u.member, sizeof x->u.member, "%s", member ? member : "");
  const char *dn = json_string_value(json_object_get(c->body, "display_name"));
  snprintf(x->u.display_name, sizeof x->u.display_name, "%s", dn ? dn : "");
  const char *email = json_string_value(json_object_get(c->body, "email"));
  if (email && !gv_account_email_valid(email)) {
    free(x);
    api_error(c, GV_EPARAM, "email must be an email address", "email");
    return;
  }
  snprintf(x->u.email, sizeof x->u.email, "%s", email ? email : "");
  const char *lang = json_string_value(json_object_get(c->body, "language"));
  snprintf(x->u.language, sizeof x->u.language, "%s", lang ? lang : "");
  gv_error err;
  gv_error_clear(&err);
  gv_user existing;
  if (!gv_account_username_valid(x->u.username))
    gv_error_set(&err, GV_EPARAM, "username", "username must be 2 to 63 lowercase letters, digits, '.', '_' or '-'");
  else if (gv_account_check_role(c->srv->forum, x->u.role, x->u.member, &err) != GV_OK) {
  } else if (gv_store_user_find(gv_engine_store(c->srv->e), x->u.username, &existing, NULL) == GV_OK)
    gv_error_set(&err, GV_EEXIST, "username", "the username '%s' is already taken", x->u.username);
  if (err.code != GV_OK) {
    free(x);
    api_gv_error(c, &err);
    return;
  }
  gv_token_new(16, x->password, sizeof x->password);
  if (api_hash_new(c, x->password, user_hashed, x) != GV_OK) {
    free(x);
    api_error(c, GV_EBUSY, "the server is busy: try again in a few seconds", NULL);
  }
}

void h_user_patch(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  gv_store *st = gv_engine_store(c->srv->e);
  gv_user u;
  gv_error err;
  gv_error_clear(&err);
  if (gv_store_user_find(st, c->param[0], &u, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  if (c->body == NULL) {
    api_error(c, GV_EPARSE, "send {disabled?, role?, member?, display_name?, email?}", NULL);
    return;
  }
  json_t *disabled = json_object_get(c->body, "disabled");
  json_t *role = json_object_get(c->body, "role");
  json_t *member = json_object_get(c->body, "member");
  const char *k;
  json_t *v;
  json_object_foreach(c->body, k, v) {
    if (strcmp(k, "disabled") && strcmp(k, "role") && strcmp(k, "member") && strcmp(k, "display_name") && strcmp(k, "email")) {
      char msg[160];
      snprintf(msg, sizeof msg, "unknown field '%s'", k);
      api_error(c, GV_EPARSE, msg, k);
      return;
    }
  }
  if (disabled && !json_is_boolean(disabled)) {
    api_error(c, GV_EPARAM, "disabled must be true or false", "disabled");
    return;
  }
  if (u.id == c->user.id && json_is_true(disabled)) {
    api_error(c, GV_EPARAM, "you cannot disable your own account", "disabled");
    return;
  }
  int64_t now = gv_time_real_ms(), eid = 0, first = 0, renamed = 0;
  int rc = gv_store_begin(st, &err);
  if (rc == GV_OK && disabled && json_is_true(disabled) != u.disabled) {
    rc = gv_account_set_disabled(st, c->srv->forum, c->user.id, &u, json_is_true(disabled), now, &eid, &err);
    if (!first) first = eid;
  }
  if (rc == GV_OK && (role || member)) {
    const char *r = role ? json_string_value(role) : u.role;
    const char *m = member ? (json_is_null(member) ? "" : json_string_value(member)) : u.member;
    if (r == NULL || m == NULL) rc = gv_error_set(&err, GV_EPARAM, role ? "role" : "member", "role and member must be strings");
    else if (strcmp(r, u.role) != 0 || strcmp(m, u.member) != 0) {
      char rr[16], mm[16];
      snprintf(rr, sizeof rr, "%s", r);
      snprintf(mm, sizeof mm, "%s", m);
      rc = gv_account_set_role(st, c->srv->forum, c->user.id, &u, rr, mm, now, &eid, &err);
      if (!first) first = eid;
    }
  }
  json_t *dn = json_object_get(c->body, "display_name"), *em = json_object_get(c->body, "email");
  if (rc == GV_OK && (dn || em)) {
    if (dn && (!json_is_string(dn) || json_string_length(dn) == 0 || json_string_length(dn) >= sizeof u.display_name))
      rc = gv_error_set(&err, GV_EPARAM, "display_name", "display_name must be 1 to 127 characters");
    else if (em && !json_is_null(em) && !(json_is_string(em) && gv_account_email_valid(json_string_value(em))))
      rc = gv_error_set(&err, GV_EPARAM, "email", "email must be an email address (or null)");
    else {
      if (em) snprintf(u.email, sizeof u.email, "%s", json_is_string(em) ? json_string_value(em) : "");
      u.updated_at = now;
      if (dn && strcmp(json_string_value(dn), u.display_name) != 0) {
        /* Recorded, but the reply stays as it was: a receipt only for role and access changes. */
        rc = gv_account_rename(st, c->srv->forum, c->user.id, &u, json_string_value(dn), now, &renamed, &err);
      } else {
        rc = gv_store_user_update(st, &u, &err);
      }
    }
  }
  if (rc == GV_OK) rc = gv_store_commit(st, &err);
  else gv_store_rollback(st);
  if (rc != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  if (first) gv_engine_notify(c->srv->e, first, eid);
  if (renamed) gv_engine_notify(c->srv->e, renamed, renamed);
  json_t *o = api_user_json(c->srv, &u, 1);
  if (first) json_object_set_new(o, "receipt", api_receipt(eid, now));
  api_json(c, 200, o);
}

typedef struct reset_ctx {
  int64_t user_id;
  char password[40];
} reset_ctx;

static void reset_hashed(gv_call *c, int ok, const char *hash, void *ud) {
  reset_ctx *x = ud;
  gv_store *st = gv_engine_store(c->srv->e);
  gv_error err;
  gv_user u;
  int64_t eid = 0;
  int rc = ok ? gv_store_user_get(st, x->user_id, &u, &err) : gv_error_set(&err, GV_EINTERNAL, NULL, "cannot hash");
  if (rc == GV_OK) rc = gv_store_begin(st, &err);
  if (rc == GV_OK) rc = gv_account_set_password(st, c->srv->forum, c->user.id, &u, hash, 1, gv_time_real_ms(), &eid, &err);
  if (rc == GV_OK) rc = gv_store_commit(st, &err);
  else if (gv_store_in_tx(st)) gv_store_rollback(st);
  if (rc != GV_OK) {
    free(x);
    api_gv_error(c, &err);
    return;
  }
  gv_engine_notify(c->srv->e, eid, eid);
  api_json(c, 200, json_pack("{s:s, s:s, s:b, s:o}", "username", u.username, "password", x->password,
                             "must_change_password", 1, "receipt", api_receipt(eid, u.updated_at)));
  gv_wipe(x->password, sizeof x->password);
  free(x);
}

void h_user_reset(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  gv_user u;
  gv_error err;
  if (gv_store_user_find(gv_engine_store(c->srv->e), c->param[0], &u, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  reset_ctx *x = gv_calloc(1, sizeof *x);
  if (x == NULL) {
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  x->user_id = u.id;
  gv_token_new(16, x->password, sizeof x->password);
  if (api_hash_new(c, x->password, reset_hashed, x) != GV_OK) {
    free(x);
    api_error(c, GV_EBUSY, "the server is busy: try again in a few seconds", NULL);
  }
}
