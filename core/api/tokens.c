/* API tokens over HTTP: a user lists, creates and revokes their own long-lived tokens (the
 * secretariat sees and revokes everyone's), each with a scope that bounds what it may do. */
#include "api/api.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether a path manages accounts or tokens: what only an admin-scoped token may change. */
static int account_path(const char *path) {
  return strncmp(path, "/v1/users", 9) == 0 || strncmp(path, "/v1/tokens", 10) == 0 ||
         strcmp(path, "/v1/me") == 0 || strcmp(path, "/v1/me/password") == 0;
}

int api_scope_allows(const char *scope, const char *method, const char *path) {
  int reading = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  /* A token made before scopes existed keeps the account's full power. */
  if (scope == NULL || scope[0] == '\0' || strcmp(scope, "admin") == 0) return 1;
  if (strcmp(scope, "read") == 0) return reading;
  if (strcmp(scope, "act") == 0) return reading || !account_path(path);
  return 0;
}

/* One token as the API shows it: times as RFC 3339, never the secret. */
static json_t *token_json(json_t *row) {
  char ts[GV_TIME_BUFSZ];
  json_t *o = json_pack("{s:O, s:O, s:O}", "id", json_object_get(row, "id"), "username",
                        json_object_get(row, "username"), "label", json_object_get(row, "label"));
  json_t *scope = json_object_get(row, "scope");
  json_object_set_new(o, "scope", json_is_string(scope) ? json_incref(scope) : json_string("admin"));
  json_object_set_new(o, "created_at", json_string(gv_time_format(json_integer_value(json_object_get(row, "created_at")), ts)));
  json_object_set_new(o, "last_used_at",
                      json_string(gv_time_format(json_integer_value(json_object_get(row, "last_used_at")), ts)));
  json_t *exp = json_object_get(row, "expires_at");
  json_object_set_new(o, "expires_at", json_integer_value(exp) ? json_string(gv_time_format(json_integer_value(exp), ts))
                                                               : json_null());
  json_object_set(o, "revoked", json_object_get(row, "revoked"));
  return o;
}

static int is_secretariat(gv_call *c) { return gv_role_parse(c->user.role) == GV_ROLE_SECRETARIAT; }

void h_tokens_list(gv_call *c) {
  char all[8];
  const char *a = api_query(c, "all", all, sizeof all);
  int everyone = a && strcmp(a, "true") == 0;
  if (everyone && api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  api_page pg;
  if (api_page_query(c, 100, 1000, &pg)) return;
  json_t *rows = NULL;
  gv_error err;
  if (gv_store_session_list(gv_engine_store(c->srv->e), everyone ? 0 : c->user.id, "api", &rows, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  json_t *list = json_array();
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) json_array_append_new(list, token_json(row));
  json_decref(rows);
  json_t *next;
  list = api_page_cut(c, list, &pg, API_PAGE_ID_ASC, &next);
  api_json(c, 200, json_pack("{s:o, s:o}", "tokens", list, "next", next));
}

/* Reads POST /v1/tokens' body into se; replies 422 naming the field and returns -1 when it is wrong. */
static int token_request(gv_call *c, gv_session *se) {
  const char *k;
  json_t *v;
  json_object_foreach(c->body, k, v) {
    if (strcmp(k, "label") && strcmp(k, "scope") && strcmp(k, "expires_in")) {
      char msg[160];
      snprintf(msg, sizeof msg, "unknown field '%s'", k);
      api_error(c, GV_EPARSE, msg, k);
      return -1;
    }
  }
  json_t *label = json_object_get(c->body, "label"), *scope = json_object_get(c->body, "scope");
  json_t *exp = json_object_get(c->body, "expires_in");
  if (label && (!json_is_string(label) || json_string_length(label) == 0 || json_string_length(label) >= sizeof se->label)) {
    api_error(c, GV_EPARAM, "label must be 1 to 127 characters", "label");
    return -1;
  }
  const char *sc = scope ? json_string_value(scope) : "read";
  if (sc == NULL || (strcmp(sc, "read") && strcmp(sc, "act") && strcmp(sc, "admin"))) {
    api_error(c, GV_EPARAM, "scope must be read, act or admin", "scope");
    return -1;
  }
  int64_t ms = 0;
  if (exp && !json_is_null(exp) && (!json_is_string(exp) || gv_duration_parse(json_string_value(exp), &ms) != GV_OK || ms <= 0)) {
    api_error(c, GV_EPARAM, "expires_in must be a duration such as 90d (or null: until revoked)", "expires_in");
    return -1;
  }
  int64_t now = gv_time_real_ms();
  se->user_id = c->user.id;
  snprintf(se->kind, sizeof se->kind, "api");
  snprintf(se->label, sizeof se->label, "%s", label ? json_string_value(label) : "api token");
  snprintf(se->scope, sizeof se->scope, "%s", sc);
  se->created_at = se->last_used_at = now;
  se->expires_at = ms ? now + ms : 0;
  return 0;
}

void h_tokens_create(gv_call *c) {
  if (c->body == NULL) {
    api_error(c, GV_EPARSE, "send {label?, scope?: read|act|admin, expires_in?: \"90d\"}", NULL);
    return;
  }
  gv_session se = {0};
  if (token_request(c, &se)) return;
  char token[64], th[GV_SHA256_HEX_LEN];
  gv_error err;
  if (gv_token_new(32, token, sizeof token) != GV_OK) {
    api_error(c, GV_EIO, "cannot make a token", NULL);
    return;
  }
  gv_sha256_hex(token, strlen(token), th);
  if (gv_store_session_insert(gv_engine_store(c->srv->e), &se, th, &err) != GV_OK) {
    gv_wipe(token, sizeof token);
    api_gv_error(c, &err);
    return;
  }
  gv_log(GV_LOG_INFO, "auth.token_created", "user=%lld token=%lld scope=%s", (long long)c->user.id, (long long)se.id,
         se.scope);
  char ts[GV_TIME_BUFSZ];
  json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)se.id, "username", c->user.username, "label",
                        se.label, "scope", se.scope, "created_at", gv_time_format(se.created_at, ts));
  json_object_set_new(o, "expires_at", se.expires_at ? json_string(gv_time_format(se.expires_at, ts)) : json_null());
  /* The secret is shown once: only its hash is kept. */
  json_object_set_new(o, "token", json_string(token));
  gv_wipe(token, sizeof token);
  api_json(c, 201, o);
}

void h_tokens_revoke(gv_call *c) {
  int64_t id;
  gv_session se;
  gv_store *st = gv_engine_store(c->srv->e);
  gv_error err;
  /* Someone else's token is as absent as one that never existed, except to the secretariat. */
  if (api_param_id(c, 0, &id) || gv_store_session_get(st, id, &se, NULL) != GV_OK || strcmp(se.kind, "api") != 0 ||
      (se.user_id != c->user.id && !is_secretariat(c))) {
    api_error(c, GV_ENOTFOUND, "no such token", "id");
    return;
  }
  if (se.revoked_at == 0 && gv_store_session_revoke(st, id, gv_time_real_ms(), &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  api_streams_session_ended(c->srv, id);
  gv_log(GV_LOG_INFO, "auth.token_revoked", "user=%lld token=%lld", (long long)c->user.id, (long long)id);
  api_json(c, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
}
