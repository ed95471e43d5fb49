/* Calendars and exports over HTTP: the secret calendar address, CSV exports, bulk account import. */
#include "api/api.h"
#include "base/alloc.h"
#include "base/crypto.h"
#include "base/time.h"
#include "engine/import.h"
#include "views/ical_csv.h"

#include <stdlib.h>
#include <string.h>

/* ---- The calendar address ------------------------------------------------------------------ */

/* The address a calendar program is given: absolute when the request named its host. */
static json_t *calendar_url(gv_call *c, const char *token) {
  char path[128];
  snprintf(path, sizeof path, "/v1/calendar/%s.ics", token);
  const char *host = gv_http_header_get(c->req, "host");
  if (host == NULL || strlen(host) > 200 || strpbrk(host, " /\\\"<>") != NULL) return json_string(path);
  const char *proto = gv_http_header_get(c->req, "x-forwarded-proto");
  int tls = c->req->is_tls || c->srv->cfg.tls_cert[0] ||
            (proto && strcmp(proto, "https") == 0 && c->srv->cfg.ntrusted_proxies > 0 &&
             gv_net_match(c->srv->cfg.trusted_proxies, c->srv->cfg.ntrusted_proxies, c->req->client_addr));
  char url[400];
  snprintf(url, sizeof url, "%s://%s%s", tls ? "https" : "http", host, path);
  return json_string(url);
}

void h_me_calendar(gv_call *c) {
  int64_t created = 0;
  char ts[GV_TIME_BUFSZ];
  int has = gv_store_calendar_get(gv_engine_store(c->srv->e), c->user.id, &created, NULL) == GV_OK;
  api_json(c, 200, json_pack("{s:b, s:o}", "active", has, "created_at",
                             has ? json_string(gv_time_format(created, ts)) : json_null()));
}

void h_me_calendar_create(gv_call *c) {
  char token[64], hash[GV_SHA256_HEX_LEN], ts[GV_TIME_BUFSZ];
  gv_error err;
  if (gv_token_new(32, token, sizeof token) != GV_OK) {
    api_error(c, GV_EINTERNAL, "cannot make a calendar address", NULL);
    return;
  }
  /* Only the hash is kept: the address is shown once, like an API token. */
  gv_sha256_hex(token, strlen(token), hash);
  int64_t now = gv_time_real_ms();
  if (gv_store_calendar_set(gv_engine_store(c->srv->e), c->user.id, hash, now, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  json_t *o = json_pack("{s:s, s:o, s:s}", "token", token, "url", calendar_url(c, token), "created_at",
                        gv_time_format(now, ts));
  gv_wipe(token, sizeof token);
  api_json(c, 201, o);
}

void h_me_calendar_delete(gv_call *c) {
  gv_error err;
  if (gv_store_calendar_delete(gv_engine_store(c->srv->e), c->user.id, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  api_json(c, 200, json_pack("{s:b}", "revoked", 1));
}

/* GET /v1/calendar/{token}.ics: public, the token is the credential. Every failure is the same 404. */
void h_calendar_feed(gv_call *c) {
  char hash[GV_SHA256_HEX_LEN];
  gv_sha256_hex(c->param[0], strlen(c->param[0]), hash);
  gv_store *st = gv_engine_store(c->srv->e);
  int64_t uid;
  gv_user u;
  if (gv_store_calendar_find(st, hash, &uid, NULL) != GV_OK || gv_store_user_get(st, uid, &u, NULL) != GV_OK ||
      u.disabled || strcmp(u.forum_id, c->srv->forum->id) != 0) {
    api_error(c, GV_ENOTFOUND, "no such calendar", NULL);
    return;
  }
  gv_caller who;
  gv_caller_from_user(&who, &u);
  char *text = NULL;
  size_t len = 0;
  gv_error err;
  if (gv_view_calendar(c->srv->e, &who, &text, &len, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  gv_http_header h[2] = {{"Content-Type", "text/calendar; charset=utf-8"},
                         {"Content-Disposition", "inline; filename=\"gavel.ics\""}};
  api_raw(c, 200, h, 2, text, len);
  free(text);
}

/* ---- CSV exports --------------------------------------------------------------------------- */

static void send_csv(gv_call *c, char *text, size_t len, const char *filename) {
  char disp[160];
  snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", filename);
  gv_http_header h[2] = {{"Content-Type", "text/csv; charset=utf-8; header=present"}, {"Content-Disposition", disp}};
  api_raw(c, 200, h, 2, text, len);
  free(text);
}

void h_item_positions_csv(gv_call *c) {
  int64_t id;
  gv_error err;
  gv_error_clear(&err);
  char hq[8], name[64];
  if (api_param_id(c, 0, &id)) {
    api_error(c, GV_ENOTFOUND, "no such item", "id");
    return;
  }
  const char *history = api_query(c, "history", hq, sizeof hq);
  char *text = NULL;
  size_t len = 0;
  if (gv_view_positions_csv(c->srv->e, &c->caller, id, history && strcmp(history, "false") != 0, &text, &len, &err) !=
      GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  snprintf(name, sizeof name, "positions-%lld.csv", (long long)id);
  send_csv(c, text, len, name);
}

void h_decisions_csv(gv_call *c) {
  if (strcmp(c->param[0], c->srv->forum->id) != 0 || strcmp(c->user.forum_id, c->param[0]) != 0) {
    api_error(c, GV_ENOTFOUND, "no such forum", "forum");
    return;
  }
  char yq[16], name[96];
  const char *ys = api_query(c, "year", yq, sizeof yq);
  int year = gv_time_year(gv_engine_now(c->srv->e), c->srv->forum->time_zone);
  if (ys) {
    char *end;
    long y = strtol(ys, &end, 10);
    if (*ys == '\0' || *end != '\0' || y < 1970 || y > 9999) {
      api_error(c, GV_EPARAM, "year must be a year such as 2026", "year");
      return;
    }
    year = (int)y;
  }
  char *text = NULL;
  size_t len = 0;
  gv_error err;
  gv_error_clear(&err);
  if (gv_view_decisions_csv(c->srv->e, &c->caller, year, &text, &len, &err) != GV_OK) {
    api_gv_error(c, &err);
    return;
  }
  snprintf(name, sizeof name, "decisions-%s-%d.csv", c->srv->forum->id, year);
  send_csv(c, text, len, name);
}

/* ---- Bulk account import ------------------------------------------------------------------- */

/* An import in progress: the checked rows and their passwords, hashed one after another. */
typedef struct import_ctx {
  gv_import_row *rows;
  size_t n, next;
  char (*passwords)[40];
} import_ctx;

static void import_free(import_ctx *x) {
  if (x == NULL) return;
  if (x->passwords) gv_wipe(x->passwords, x->n * sizeof *x->passwords);
  free(x->passwords);
  free(x->rows);
  free(x);
}

/* Every row hashed: creates them all in one transaction, or none. */
static void import_commit(gv_call *c, import_ctx *x) {
  gv_store *st = gv_engine_store(c->srv->e);
  gv_error err;
  gv_error_clear(&err);
  int64_t now = gv_time_real_ms(), first = 0, last = 0;
  int rc = gv_store_begin(st, &err);
  if (rc == GV_OK) rc = gv_account_import_create(st, c->srv->forum, c->user.id, x->rows, x->n, now, &first, &last, &err);
  if (rc == GV_OK) rc = gv_store_commit(st, &err);
  else if (gv_store_in_tx(st)) gv_store_rollback(st);
  if (rc != GV_OK) {
    import_free(x);
    api_gv_error(c, &err);
    return;
  }
  if (first) gv_engine_notify(c->srv->e, first, last);
  json_t *created = json_array();
  for (size_t i = 0; i < x->n; i++) {
    json_t *o = api_user_json(c->srv, &x->rows[i].u, 1);
    json_object_set_new(o, "line", json_integer((json_int_t)x->rows[i].line));
    json_object_set_new(o, "password", json_string(x->passwords[i]));
    json_array_append_new(created, o);
  }
  import_free(x);
  api_json(c, 201, json_pack("{s:I, s:o, s:o}", "count", (json_int_t)json_array_size(created), "created", created,
                             "receipt", api_receipt(last, now)));
}

static void import_hashed(gv_call *c, int ok, const char *hash, void *ud) {
  import_ctx *x = ud;
  if (!ok) {
    import_free(x);
    api_error(c, GV_EINTERNAL, "cannot hash a password: nothing was created", NULL);
    return;
  }
  snprintf(x->rows[x->next].u.password_hash, sizeof x->rows[x->next].u.password_hash, "%s", hash);
  if (++x->next == x->n) {
    import_commit(c, x);
    return;
  }
  /* One hash at a time, through the same queue as sign-ins, so an import never starves them. */
  if (api_hash_new(c, x->passwords[x->next], import_hashed, x) != GV_OK) {
    import_free(x);
    api_error(c, GV_EBUSY, "the server is busy: try again in a few seconds (nothing was created)", NULL);
  }
}

void h_users_import(gv_call *c) {
  if (api_require_role(c, GV_ROLE_SECRETARIAT)) return;
  import_ctx *x = gv_calloc(1, sizeof *x);
  json_t *errors = NULL;
  gv_error err;
  gv_error_clear(&err);
  if (x == NULL) {
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  int rc = gv_account_import_check(gv_engine_store(c->srv->e), c->srv->forum, c->req->body ? c->req->body : "",
                                   c->req->body_len, &x->rows, &x->n, &errors, &err);
  if (rc == GV_EPARAM) {
    import_free(x);
    json_t *e = json_pack("{s:s, s:s}", "code", gv_err_name(GV_EPARAM), "message", err.message);
    api_json(c, gv_err_http_status(GV_EPARAM), json_pack("{s:o, s:o}", "error", e, "rows", errors));
    return;
  }
  if (rc != GV_OK) {
    import_free(x);
    api_gv_error(c, &err);
    return;
  }
  x->passwords = gv_calloc(x->n, sizeof *x->passwords);
  if (x->passwords == NULL) {
    import_free(x);
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  for (size_t i = 0; i < x->n; i++) gv_token_new(16, x->passwords[i], sizeof x->passwords[i]);
  if (api_hash_new(c, x->passwords[0], import_hashed, x) != GV_OK) {
    import_free(x);
    api_error(c, GV_EBUSY, "the server is busy: try again in a few seconds (nothing was created)", NULL);
  }
}
