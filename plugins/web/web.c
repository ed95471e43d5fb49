/* The web plugin: the pages delegates, the chair and the secretariat use, served from files
 * compiled into the binary. The pages are one small script talking to the JSON API with
 * the browser's session cookie and CSRF token; the server renders nothing per user here. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gavel/plugin.h"

struct gv_web_asset {
  const char *name;
  const unsigned char *data;
  size_t len;
  const char *etag;
};
extern const struct gv_web_asset gv_web_assets[];

/* Scripts, styles and images only from this server; no framing; forms post here only. */
static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

static const struct gv_web_asset *find(const char *name) {
  for (const struct gv_web_asset *a = gv_web_assets; a->name; a++)
    if (strcmp(a->name, name) == 0) return a;
  return NULL;
}

static const char *type_of(const char *name) {
  const char *dot = strrchr(name, '.');
  if (dot == NULL) return "application/octet-stream";
  if (strcmp(dot, ".html") == 0) return "text/html; charset=utf-8";
  if (strcmp(dot, ".js") == 0) return "text/javascript; charset=utf-8";
  if (strcmp(dot, ".css") == 0) return "text/css; charset=utf-8";
  if (strcmp(dot, ".svg") == 0) return "image/svg+xml";
  return "application/octet-stream";
}

/* Sends an asset, or 304 when the browser already holds this version. */
static void send(gv_request *r, const struct gv_web_asset *a) {
  const char *headers[] = {"Cache-Control", "no-cache",   "ETag", a->etag, "Content-Security-Policy", csp,
                           "X-Frame-Options", "DENY", NULL};
  const char *inm = gv_request_header(r, "if-none-match");
  if (inm && strstr(inm, a->etag)) {
    gv_request_reply_headers(r, 304, type_of(a->name), headers, "", 0);
    return;
  }
  gv_request_reply_headers(r, 200, type_of(a->name), headers, (const char *)a->data, a->len);
}

/* Every page is the same shell; the script reads the address and draws the page. */
static void r_page(void *state, gv_host *h, gv_request *r) {
  (void)state;
  (void)h;
  const struct gv_web_asset *a = find("index.html");
  if (a == NULL) {
    gv_request_error(r, GV_ENOTFOUND, "the web pages are not built in", NULL);
    return;
  }
  send(r, a);
}

static void r_asset(void *state, gv_host *h, gv_request *r) {
  (void)state;
  (void)h;
  const char *name = gv_request_param(r, "file");
  const struct gv_web_asset *a = name && strcmp(name, "index.html") != 0 ? find(name) : NULL;
  if (a == NULL) {
    gv_request_error(r, GV_ENOTFOUND, "no such file", "file");
    return;
  }
  send(r, a);
}

static int init(gv_host *h, const char *config_json, void **state, gv_error *err) {
  (void)h;
  *state = NULL;
  json_t *cfg = json_loads(config_json, 0, NULL);
  const char *name = NULL;
  json_t *v;
  json_object_foreach(cfg, name, v) break;
  int rc = GV_OK;
  if (name) rc = gv_error_set(err, GV_ECONFIG, NULL, "plugins.web: unknown setting '%s' (it has none; web = false turns the pages off)", name);
  json_decref(cfg);
  return rc;
}

static void shutdown_web(void *state) { (void)state; }

static const gv_plugin_route routes[] = {
    {"GET", "/", GV_ROUTE_PUBLIC, r_page},
    {"GET", "/login", GV_ROUTE_PUBLIC, r_page},
    {"GET", "/items/{id}", GV_ROUTE_PUBLIC, r_page},
    {"GET", "/meetings", GV_ROUTE_PUBLIC, r_page},
    {"GET", "/meetings/{id}", GV_ROUTE_PUBLIC, r_page},
    {"GET", "/new/{workflow}", GV_ROUTE_PUBLIC, r_page},
    {"GET", "/me", GV_ROUTE_PUBLIC, r_page},
    {"GET", "/assets/{file}", GV_ROUTE_PUBLIC, r_asset},
    {NULL}};

const gv_plugin gv_plugin_web = {
    .api_version = GV_PLUGIN_API_VERSION,
    .name = "web",
    .version = "1.0",
    .summary = "the pages for delegates, the chair and the secretariat, in French and English",
    .init = init,
    .shutdown = shutdown_web,
    .commands = NULL,
    .routes = routes,
};
