/* Plugins' HTTP routes: a gv_request is the server's call in progress, seen through the plugin API. */
#include "api/api.h"
#include "host/host.h"

#include <string.h>

void h_plugin(gv_call *c) {
  gv_plugins_serve(c->srv->plugins, c->route->plugin, c->route->plugin_route, (gv_request *)c);
}

const char *gv_request_param(const gv_request *r, const char *name) {
  const gv_call *c = (const gv_call *)r;
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
  return api_query((gv_call *)r, name, buf, size);
}

const char *gv_request_username(const gv_request *r) {
  const gv_call *c = (const gv_call *)r;
  return c->authed ? c->user.username : NULL;
}

const char *gv_request_role(const gv_request *r) {
  const gv_call *c = (const gv_call *)r;
  return c->authed ? c->user.role : NULL;
}

const char *gv_request_member(const gv_request *r) {
  const gv_call *c = (const gv_call *)r;
  return c->authed && c->user.member[0] ? c->user.member : NULL;
}

int gv_request_is_chair(const gv_request *r) {
  const gv_call *c = (const gv_call *)r;
  return c->authed && gv_engine_is_chair(c->srv->forum, &c->caller);
}

void gv_request_reply(gv_request *r, int status, const char *content_type, const char *body, size_t len) {
  api_text((gv_call *)r, status, content_type, body, len);
}

void gv_request_error(gv_request *r, int code, const char *message, const char *field) {
  api_error((gv_call *)r, code, message, field);
}

void gv_request_reply_headers(gv_request *r, int status, const char *content_type, const char *const *headers,
                              const char *body, size_t len) {
  gv_http_header h[9];
  size_t n = 0;
  h[n++] = (gv_http_header){"Content-Type", content_type};
  for (size_t i = 0; headers && headers[i] && headers[i + 1] && n < 9; i += 2)
    h[n++] = (gv_http_header){headers[i], headers[i + 1]};
  api_raw((gv_call *)r, status, h, n, body, len);
}

const char *gv_request_header(const gv_request *r, const char *name) {
  return gv_http_header_get(((const gv_call *)r)->req, name);
}
