/* The one place where HTTP routes are registered and matched. */
#include "api/api.h"
#include "host/host.h"

#include <string.h>

static gv_route routes[] = {
    {"GET", "/healthz", h_healthz, R_PUBLIC},
    {"GET", "/metrics", h_metrics, R_PUBLIC},
    {"POST", "/v1/login", h_login, R_PUBLIC},
    {"POST", "/v1/logout", h_logout, R_ANY_PASSWORD},
    {"GET", "/v1/me", h_me, R_ANY_PASSWORD},
    {"PATCH", "/v1/me", h_me_patch, 0},
    {"POST", "/v1/me/password", h_me_password, R_ANY_PASSWORD},
    {"GET", "/v1/me/member/accounts", h_me_accounts, 0},
    {"GET", "/v1/users", h_users_list, 0},
    {"POST", "/v1/users", h_users_create, 0},
    {"GET", "/v1/users/{username}", h_user_get, 0},
    {"PATCH", "/v1/users/{username}", h_user_patch, 0},
    {"POST", "/v1/users/{username}/reset-password", h_user_reset, 0},
    {"GET", "/v1/forums/{forum}", h_forum, 0},
    {"GET", "/v1/forums/{forum}/items", h_items_list, 0},
    {"GET", "/v1/forums/{forum}/events", h_forum_events, 0},
    {"POST", "/v1/forums/{forum}/items", h_items_create, R_IDEMPOTENT},
    {"GET", "/v1/items/{id}", h_item, 0},
    {"POST", "/v1/items/{id}/actions/{action}", h_item_action, R_IDEMPOTENT},
    {"GET", "/v1/items/{id}/events", h_item_events, 0},
    {"GET", "/v1/items/{id}/positions", h_item_positions, 0},
    {"GET", "/v1/items/{id}/versions", h_item_versions, 0},
    {"GET", "/v1/items/{id}/diff", h_item_diff, 0},
    {"GET", "/v1/workflows", h_workflows, 0},
    {"GET", "/v1/meetings", h_meetings_list, 0},
    {"POST", "/v1/meetings", h_meetings_create, 0},
    {"GET", "/v1/meetings/{id}", h_meeting, 0},
    {"POST", "/v1/meetings/{id}/adopt-agenda", h_meeting_adopt_agenda, 0},
    {"GET", "/v1/meetings/{id}/record", h_meeting_record, 0},
    {"GET", "/v1/stream", h_stream, R_STREAM},
    {"GET", "/v1/incidents", h_incidents, 0},
    {"GET", "/v1/tokens", h_tokens_list, 0},
    {"POST", "/v1/tokens", h_tokens_create, 0},
    {"DELETE", "/v1/tokens/{id}", h_tokens_revoke, 0},
    {"POST", "/v1/test/clock", h_test_clock, R_TEST_CLOCK},
    /* Calendars and exports (api/exports.c). */
    {"GET", "/v1/me/calendar", h_me_calendar, 0},
    {"POST", "/v1/me/calendar", h_me_calendar_create, 0},
    {"DELETE", "/v1/me/calendar", h_me_calendar_delete, 0},
    {"GET", "/v1/calendar/{token}.ics", h_calendar_feed, R_PUBLIC},
    {"GET", "/v1/items/{id}/positions.csv", h_item_positions_csv, 0},
    {"GET", "/v1/forums/{forum}/decisions.csv", h_decisions_csv, 0},
    {"POST", "/v1/users/import", h_users_import, R_CSV_BODY},
};

gv_route *gv_routes(size_t *n) {
  *n = sizeof routes / sizeof routes[0];
  return routes;
}

#define MAX_PLUGIN_ROUTES 32
static gv_route plugin_routes[MAX_PLUGIN_ROUTES];
static size_t nplugin_routes;

/* The built-in plugins' routes, as core routes whose handler calls the plugin. */
gv_route *gv_plugin_routes(size_t *n) {
  if (nplugin_routes == 0) {
    gv_plugin_route_ref refs[MAX_PLUGIN_ROUTES];
    size_t k = gv_plugins_routes(refs, MAX_PLUGIN_ROUTES);
    for (size_t i = 0; i < k; i++) {
      gv_route *r = &plugin_routes[nplugin_routes++];
      r->method = refs[i].route->method;
      r->pattern = refs[i].route->pattern;
      r->fn = h_plugin;
      r->flags = ((refs[i].route->flags & GV_ROUTE_PUBLIC) ? R_PUBLIC : 0) |
                 ((refs[i].route->flags & GV_ROUTE_ANY_BODY) ? R_ANY_BODY : 0);
      r->plugin = refs[i].plugin;
      r->plugin_route = refs[i].route;
    }
  }
  *n = nplugin_routes;
  return plugin_routes;
}

/* Matches path against pattern, capturing {params} into c. */
static int route_match(const char *pattern, const char *path, gv_call *c) {
  int np = 0;
  const char *p = pattern, *s = path;
  while (*p && *s) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      const char *seg = s;
      /* A parameter ends at the next '/', or at the literal that follows it ("{token}.ics"). */
      char stop = close[1] && close[1] != '/' ? close[1] : '/';
      while (*s && *s != '/' && *s != stop) s++;
      size_t len = (size_t)(s - seg);
      if (len == 0 || len >= sizeof c->param[0] || np == GV_MAX_PATH_PARAMS) return 0;
      for (size_t i = 0; i < len; i++)
        if ((unsigned char)seg[i] <= 32 || seg[i] == '%' || seg[i] == '\\') return 0;
      memcpy(c->param[np], seg, len);
      c->param[np][len] = '\0';
      np++;
      p = close + 1;
      continue;
    }
    if (*p != *s) return 0;
    p++;
    s++;
  }
  if (*p || *s) return 0;
  c->nparams = np;
  return 1;
}

gv_route *gv_route_find(const char *method, const char *path, gv_call *c, int *path_matched) {
  *path_matched = 0;
  const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
  size_t np;
  gv_route *pr = gv_plugin_routes(&np);
  gv_route *tables[2] = {routes, pr};
  size_t sizes[2] = {sizeof routes / sizeof routes[0], np};
  for (int t = 0; t < 2; t++)
    for (size_t i = 0; i < sizes[t]; i++) {
      if (!route_match(tables[t][i].pattern, path, c)) continue;
      *path_matched = 1;
      if (strcmp(tables[t][i].method, m) == 0) return &tables[t][i];
    }
  return NULL;
}

void gv_route_allow(const char *path, char *out, size_t size) {
  gv_call scratch;
  size_t used = 0, np;
  out[0] = '\0';
  gv_route *pr = gv_plugin_routes(&np);
  gv_route *tables[2] = {routes, pr};
  size_t sizes[2] = {sizeof routes / sizeof routes[0], np};
  for (int t = 0; t < 2; t++)
    for (size_t i = 0; i < sizes[t]; i++) {
      if (!route_match(tables[t][i].pattern, path, &scratch)) continue;
      int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "", tables[t][i].method);
      if (n > 0 && (size_t)n < size - used) used += (size_t)n;
    }
}
