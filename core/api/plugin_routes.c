/* Plugins' HTTP routes: a gv_request is the server's call in progress, seen through the plugin API. */
#include "api/api.h"
#include "base/log.h"
#include "host/host.h"

#include <string.h>

/* A request as a plugin holds it: the call lives until the first reply, which frees it, so
 * the request outlives it to refuse a second reply instead of writing to freed memory. */
struct gv_request {
  gv_call *c;              /* NULL once answered */
  const char *plugin;
};

/* The call a request may still use, or NULL once it was answered. */
static gv_call *live(const gv_request *r) { return r ? r->c : NULL; }

/* Takes the call for a reply: only the first reply gets it. */
static gv_call *take(gv_request *r) {
  gv_call *c = live(r);
  if (c == NULL) {
    gv_log(GV_LOG_ERROR, "plugin.misuse", "plugin=%s refused=\"a second reply to a request\"",
           r && r->plugin ? r->plugin : "?");
    return NULL;
  }
  r->c = NULL;
  return c;
}

void h_plugin(gv_call *c) {
  const gv_plugin *pl = c->route->plugin;
  gv_request r = {c, pl->name};
  gv_plugins_serve(c->srv->plugins, pl, c->route->plugin_route, &r);
  if (r.c) {
    /* A handler that returns without answering would leave the client waiting forever. */
    gv_log(GV_LOG_ERROR, "plugin.misuse", "plugin=%s refused=\"a route that did not answer\"", pl->name);
    api_error(c, GV_EINTERNAL, "the plugin did not answer", NULL);
  }
}

const char *gv_request_param(const gv_request *r, const char *name) {
  const gv_call *c = live(r);
  if (c == NULL || name == NULL) return NULL;
  /* Find {name} among the pattern's parameters, in order. */
  const char *p = c->route->pattern;
  int i = 0;
  size_t nl = strlen(name);
  while ((p = strchr(p, '{')) != NULL) {
    if (strncmp(p + 1, name, nl) == 0 && p[1 + nl] == '}') return i < c->nparams ? c->param[i] : NULL;
    i++;
    p++;
  }
  return NULL;
}

const char *gv_request_query(const gv_request *r, const char *name, char *buf, size_t size) {
  gv_call *c = live(r);
  return c ? api_query(c, name, buf, size) : NULL;
}

const char *gv_request_username(const gv_request *r) {
  const gv_call *c = live(r);
  return c && c->authed ? c->user.username : NULL;
}

const char *gv_request_role(const gv_request *r) {
  const gv_call *c = live(r);
  return c && c->authed ? c->user.role : NULL;
}

const char *gv_request_member(const gv_request *r) {
  const gv_call *c = live(r);
  return c && c->authed && c->user.member[0] ? c->user.member : NULL;
}

int gv_request_is_chair(const gv_request *r) {
  const gv_call *c = live(r);
  return c && c->authed && gv_engine_is_chair(c->srv->forum, &c->caller);
}

int gv_request_reply(gv_request *r, int status, const char *content_type, const char *body, size_t len) {
  gv_call *c = take(r);
  if (c == NULL) return GV_ESTATE;
  api_text(c, status, content_type, body, len);
  return GV_OK;
}

int gv_request_error(gv_request *r, int code, const char *message, const char *field) {
  gv_call *c = take(r);
  if (c == NULL) return GV_ESTATE;
  api_error(c, code, message, field);
  return GV_OK;
}

int gv_request_reply_headers(gv_request *r, int status, const char *content_type, const char *const *headers,
                             const char *body, size_t len) {
  gv_http_header h[9];
  size_t n = 0;
  size_t given = 0;
  while (headers && headers[given] && headers[given + 1]) given += 2;
  if (given / 2 > 8) {
    gv_log(GV_LOG_ERROR, "plugin.misuse", "plugin=%s refused=\"more than 8 response headers\"",
           r && r->plugin ? r->plugin : "?");
    return GV_EINVAL;
  }
  gv_call *c = take(r);
  if (c == NULL) return GV_ESTATE;
  h[n++] = (gv_http_header){"Content-Type", content_type};
  for (size_t i = 0; i < given; i += 2) h[n++] = (gv_http_header){headers[i], headers[i + 1]};
  api_raw(c, status, h, n, body, len);
  return GV_OK;
}

const char *gv_request_header(const gv_request *r, const char *name) {
  const gv_call *c = live(r);
  return c ? gv_http_header_get(c->req, name) : NULL;
}
