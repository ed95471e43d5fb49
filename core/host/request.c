/* A plugin's HTTP request: the gv_request_* API of include/gavel/plugin.h over the server's transport. */
#include "base/log.h"
#include "host/host.h"

#include <stddef.h>

/* Most response headers a plugin may set on one answer. */
#define MAX_REPLY_HEADERS 8

void gv_request_init(gv_request *r, const gv_request_ops *ops, void *call, const char *plugin) {
  r->ops = ops;
  r->call = call;
  r->plugin = plugin;
}

int gv_request_open(const gv_request *r) { return r && r->call != NULL; }

/* The call a request may still use, or NULL once it was answered. */
static void *live(const gv_request *r) { return r ? r->call : NULL; }

static void misuse(const gv_request *r, const char *what) {
  gv_log(GV_LOG_ERROR, "plugin.misuse", "plugin=%s refused=\"%s\"", r && r->plugin ? r->plugin : "?", what);
}

/* Takes the call for a reply: only the first reply gets it. */
static void *take(gv_request *r) {
  void *c = live(r);
  if (c == NULL) {
    misuse(r, "a second reply to a request");
    return NULL;
  }
  r->call = NULL;
  return c;
}

const char *gv_request_param(const gv_request *r, const char *name) {
  void *c = live(r);
  return c && name ? r->ops->param(c, name) : NULL;
}

const char *gv_request_query(const gv_request *r, const char *name, char *buf, size_t size) {
  void *c = live(r);
  return c && name ? r->ops->query(c, name, buf, size) : NULL;
}

const char *gv_request_username(const gv_request *r) {
  void *c = live(r);
  return c ? r->ops->username(c) : NULL;
}

const char *gv_request_role(const gv_request *r) {
  void *c = live(r);
  return c ? r->ops->role(c) : NULL;
}

const char *gv_request_member(const gv_request *r) {
  void *c = live(r);
  return c ? r->ops->member(c) : NULL;
}

int gv_request_is_chair(const gv_request *r) {
  void *c = live(r);
  return c ? r->ops->is_chair(c) : 0;
}

const char *gv_request_header(const gv_request *r, const char *name) {
  void *c = live(r);
  return c && name ? r->ops->header(c, name) : NULL;
}

int gv_request_reply(gv_request *r, int status, const char *content_type, const char *body, size_t len) {
  void *c = take(r);
  if (c == NULL) return GV_ESTATE;
  r->ops->reply(c, status, content_type, NULL, 0, body, len);
  return GV_OK;
}

int gv_request_reply_headers(gv_request *r, int status, const char *content_type, const char *const *headers,
                             const char *body, size_t len) {
  size_t given = 0;
  while (headers && headers[given] && headers[given + 1]) given += 2;
  if (given / 2 > MAX_REPLY_HEADERS) {
    misuse(r, "more than 8 response headers");
    return GV_EINVAL;
  }
  void *c = take(r);
  if (c == NULL) return GV_ESTATE;
  r->ops->reply(c, status, content_type, headers, given / 2, body, len);
  return GV_OK;
}

int gv_request_error(gv_request *r, int code, const char *message, const char *field) {
  void *c = take(r);
  if (c == NULL) return GV_ESTATE;
  r->ops->error(c, code, message, field);
  return GV_OK;
}
