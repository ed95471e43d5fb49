/* The web plugin: the pages delegates, the chair and the secretariat use, served from files
 * compiled into the binary. The pages are one small script talking to the JSON API with
 * the browser's session cookie and CSRF token; the server renders nothing per user here. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gavel/plugin.h"

struct gv_web_asset {
  const char *name, *hashed; /* app.js, and app.3f9c0e12ab.js: the name that carries its hash */
  const unsigned char *data;
  size_t len;
  const unsigned char *gz; /* the same compressed with gzip at build time */
  size_t gzlen;
  const char *etag;
};
extern const struct gv_web_asset gv_web_assets[];
extern const char gv_web_page[]; /* index.html, with {{name}} slots and hashed asset names */
extern const size_t gv_web_page_len;

/* Scripts, styles and images only from this server; no framing; forms post here only. */
static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/* An asset by its hashed name (*immutable set) or by its plain name. */
static const struct gv_web_asset *find(const char *name, int *immutable) {
  for (const struct gv_web_asset *a = gv_web_assets; a->name; a++) {
    if (strcmp(a->hashed, name) == 0) {
      *immutable = 1;
      return a;
    }
    if (strcmp(a->name, name) == 0) {
      *immutable = 0;
      return a;
    }
  }
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

/* Whether Accept-Encoding allows gzip: named (or *) without q=0. */
static int accepts_gzip(const char *ae) {
  while (ae && *ae) {
    while (*ae == ' ' || *ae == ',') ae++;
    size_t n = strcspn(ae, ",;");
    int named = (n == 4 && strncasecmp(ae, "gzip", 4) == 0) || (n == 1 && *ae == '*');
    const char *end = ae + strcspn(ae, ",");
    const char *q = ae + n;
    int refused = 0;
    if (*q == ';') {
      q++;
      while (*q == ' ') q++;
      if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') refused = strtod(q + 2, NULL) <= 0.0;
    }
    if (named && !refused) return 1;
    ae = end;
  }
  return 0;
}

/* Sends an asset: under its hashed name kept for a year, under its plain name revalidated
 * (304 when the browser holds this version); compressed when the browser takes gzip. */
static void send(gv_request *r, const struct gv_web_asset *a, int immutable) {
  int gz = a->gzlen < a->len && accepts_gzip(gv_request_header(r, "accept-encoding"));
  const char *headers[] = {"Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache",
                           "ETag", a->etag, "Vary", "Accept-Encoding", "Content-Security-Policy", csp,
                           "X-Frame-Options", "DENY", gz ? "Content-Encoding" : NULL, "gzip", NULL};
  const char *inm = gv_request_header(r, "if-none-match");
  if (inm && strstr(inm, a->etag)) {
    headers[10] = NULL;
    gv_request_reply_headers(r, 304, type_of(a->name), headers, "", 0);
    return;
  }
  gv_request_reply_headers(r, 200, type_of(a->name), headers, (const char *)(gz ? a->gz : a->data),
                           gz ? a->gzlen : a->len);
}

/* ---- The page ----------------------------------------------------------------------------- */

/* The words of the page the server sends, before the script takes over. */
static const char *const words[][2][6] = {
    {{"en", "Skip to the content", "Sign in", "Username", "Password", "Loading…"}},
    {{"fr", "Aller au contenu", "Se connecter", "Nom d'utilisateur", "Mot de passe", "Chargement…"}},
};

typedef struct buf {
  char *p;
  size_t len, cap;
  int failed;
} buf;

static void put(buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
      b->failed = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

/* Text as HTML: the forum's names come from its configuration, not from us. */
static void put_text(buf *b, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
      case '&': put(b, "&amp;", 5); break;
      case '<': put(b, "&lt;", 4); break;
      case '>': put(b, "&gt;", 4); break;
      case '"': put(b, "&quot;", 6); break;
      case '\'': put(b, "&#39;", 5); break;
      default: put(b, s, 1);
    }
  }
}

/* The page's language: the first of French or English the browser asks for, else English. */
static int lang_of(const char *al) {
  while (al && *al) {
    while (*al == ' ' || *al == ',') al++;
    if (strncasecmp(al, "fr", 2) == 0 && (al[2] == '\0' || strchr("-;, ", al[2]))) return 1;
    if (strncasecmp(al, "en", 2) == 0 && (al[2] == '\0' || strchr("-;, ", al[2]))) return 0;
    al += strcspn(al, ",");
  }
  return 0;
}

/* Whether the browser holds a session cookie (checked by the API, not here: it only decides
 * whether the page starts with the sign-in form or with "Loading…"). */
static int has_session(const char *cookie) {
  for (const char *p = cookie; p && (p = strstr(p, "gavel_session=")) != NULL; p += 14)
    if (p[14] != '\0' && p[14] != ';') return 1;
  return 0;
}

static void put_slot(buf *b, gv_host *h, const char *key, size_t n, int lang, int signin) {
  const char *const *w = words[lang][0];
  const char *l = w[0];
#define IS(k) (n == strlen(k) && strncmp(key, k, n) == 0)
  if (IS("lang")) put_text(b, l);
  else if (IS("skip")) put_text(b, w[1]);
  else if (IS("signin")) put_text(b, w[2]);
  else if (IS("username")) put_text(b, w[3]);
  else if (IS("password")) put_text(b, w[4]);
  else if (IS("name")) put_text(b, gv_host_forum_title(h, l));
  else if (IS("name_en")) put_text(b, gv_host_forum_title(h, "en"));
  else if (IS("name_fr")) put_text(b, gv_host_forum_title(h, "fr"));
  else if (IS("short")) put_text(b, gv_host_forum_name(h));
  else if (IS("page_title")) {
    if (signin) {
      put_text(b, w[2]);
      put(b, " — ", strlen(" — "));
    }
    put_text(b, gv_host_forum_name(h));
  }
#undef IS
}

/* Every page is the same shell; the script reads the address and draws the page. Without a
 * session the shell already holds the sign-in form, in the browser's language, naming the
 * forum: it can be filled in while the script is still on its way. */
static void r_page(void *state, gv_host *h, gv_request *r) {
  (void)state;
  int lang = lang_of(gv_request_header(r, "accept-language"));
  int signin = !has_session(gv_request_header(r, "cookie"));
  static const char open_tag[] = "<!--signin-->", close_tag[] = "<!--/signin-->";
  buf b = {0};
  const char *p = gv_web_page, *end = gv_web_page + gv_web_page_len;
  while (p < end) {
    const char *slot = strstr(p, "{{");
    const char *block = signin ? NULL : strstr(p, open_tag);
    if (block && (!slot || block < slot)) {
      put(&b, p, (size_t)(block - p));
      const char *after = strstr(block, close_tag);
      p = after ? after + strlen(close_tag) : end;
      put(&b, "<p class=\"muted\">", 17);
      put_text(&b, words[lang][0][5]);
      put(&b, "</p>", 4);
      continue;
    }
    const char *close = slot ? strstr(slot, "}}") : NULL;
    if (!close) {
      put(&b, p, (size_t)(end - p));
      break;
    }
    put(&b, p, (size_t)(slot - p));
    put_slot(&b, h, slot + 2, (size_t)(close - slot - 2), lang, signin);
    p = close + 2;
  }
  if (b.failed || b.p == NULL) {
    free(b.p);
    gv_request_error(r, GV_ENOMEM, "out of memory", NULL);
    return;
  }
  const char *headers[] = {"Cache-Control", "no-cache", "Vary", "Cookie, Accept-Language", "Content-Security-Policy",
                           csp, "X-Frame-Options", "DENY", NULL};
  gv_request_reply_headers(r, 200, "text/html; charset=utf-8", headers, b.p, b.len);
  free(b.p);
}

static void r_asset(void *state, gv_host *h, gv_request *r) {
  (void)state;
  (void)h;
  const char *name = gv_request_param(r, "file");
  int immutable = 0;
  const struct gv_web_asset *a = name ? find(name, &immutable) : NULL;
  if (a == NULL) {
    gv_request_error(r, GV_ENOTFOUND, "no such file", "file");
    return;
  }
  send(r, a, immutable);
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
