/* Plugins' HTTP routes: the server's side of a plugin's request (the host owns the request API). */
#include "api/api.h"
#include "base/log.h"
#include "host/host.h"

#include <string.h>

/* The path parameter {name} of the call's route pattern, or NULL. */
static const char *op_param(void *call, const char *name) {
  const gv_call *c = call;
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

static const char *op_query(void *call, const char *name, char *buf, size_t size) {
  return api_query(call, name, buf, size);
}

static const char *op_username(void *call) {
  const gv_call *c = call;
  return c->authed ? c->user.username : NULL;
}

static const char *op_role(void *call) {
  const gv_call *c = call;
  return c->authed ? c->user.role : NULL;
}

static const char *op_member(void *call) {
  const gv_call *c = call;
  return c->authed && c->user.member[0] ? c->user.member : NULL;
}

static int op_is_chair(void *call) {
  const gv_call *c = call;
  return c->authed && gv_engine_is_chair(c->srv->forum, &c->caller);
}

static const char *op_header(void *call, const char *name) {
  const gv_call *c = call;
  return gv_http_header_get(c->req, name);
}

static void op_reply(void *call, int status, const char *content_type, const char *const *headers, size_t nheaders,
                     const char *body, size_t len) {
  if (nheaders == 0) {
    api_text(call, status, content_type, body, len);
    return;
  }
  gv_http_header h[9];
  size_t n = 0;
  h[n++] = (gv_http_header){"Content-Type", content_type};
  for (size_t i = 0; i < nheaders && n < sizeof h / sizeof h[0]; i++)
    h[n++] = (gv_http_header){headers[2 * i], headers[2 * i + 1]};
  api_raw(call, status, h, n, body, len);
}

static void op_error(void *call, int code, const char *message, const char *field) { api_error(call, code, message, field); }

static const char *op_body(void *call, size_t *len) {
  const gv_call *c = call;
  if (len) *len = c->req->body ? c->req->body_len : 0;
  return c->req->body ? c->req->body : "";
}

static const gv_request_ops ops = {op_param, op_query, op_username, op_role, op_member, op_is_chair, op_header,
                                   op_reply, op_error, op_body};

void h_plugin(gv_call *c) {
  const gv_plugin *pl = c->route->plugin;
  gv_request r;
  gv_request_init(&r, &ops, c, pl->name);
  gv_plugins_serve(c->srv->plugins, pl, c->route->plugin_route, &r);
  if (gv_request_open(&r)) {
    /* A handler that returns without answering would leave the client waiting forever. */
    gv_log(GV_LOG_ERROR, "plugin.misuse", "plugin=%s refused=\"a route that did not answer\"", pl->name);
    api_error(c, GV_EINTERNAL, "the plugin did not answer", NULL);
  }
}
