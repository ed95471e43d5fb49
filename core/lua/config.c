/* Reads gavel.conf.lua: plain assignments in a sandbox, every mistake reported with its line. */
#include "lua/config.h"
#include "base/time.h"
#include <jansson.h>
#include "lua/bridge.h"
#include "lua/sandbox.h"

#include <arpa/inet.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gv_config_defaults(gv_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
  c->listen_port = 8080;
  snprintf(c->database, sizeof c->database, "gavel.db");
  const char *w = getenv("GAVEL_WORKFLOWS_DIR");
  snprintf(c->workflows, sizeof c->workflows, "%s", w && *w ? w : GAVEL_SOURCE_DIR "/workflows");
  snprintf(c->log_level, sizeof c->log_level, "info");
  c->cookie_idle_ms = 30 * 60000LL;
  c->cookie_absolute_ms = 12 * 3600000LL;
  c->bearer_idle_ms = 2 * 3600000LL;
  c->bearer_absolute_ms = 24 * 3600000LL;
  c->max_body = 1 << 20;
  c->password_queue = 16;
  c->max_batch = 256;
  c->login_max_failures = 5;
  c->login_max_failures_addr = 30;
}

int gv_config_parse_listen(const char *s, char host[64], int *port) {
  const char *colon;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (end == NULL || end[1] != ':') return GV_EINVAL;
    snprintf(host, 64, "%.*s", (int)(end - s - 1), s + 1);
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL) return GV_EINVAL;
    snprintf(host, 64, "%.*s", (int)(colon - s), s);
  }
  char *endp;
  long p = strtol(colon + 1, &endp, 10);
  if (*endp || p < 0 || p > 65535) return GV_EINVAL;
  unsigned char buf[16];
  if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1) return GV_EINVAL;
  *port = (int)p;
  return GV_OK;
}

int gv_net_parse(const char *s, gv_net *out) {
  char addr[64];
  const char *slash = strchr(s, '/');
  snprintf(addr, sizeof addr, "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, addr, out->addr) == 1) out->family = 4;
  else if (inet_pton(AF_INET6, addr, out->addr) == 1) out->family = 6;
  else return GV_EINVAL;
  int max = out->family == 4 ? 32 : 128;
  out->prefix = max;
  if (slash) {
    char *end;
    long p = strtol(slash + 1, &end, 10);
    if (*end || p < 0 || p > max) return GV_EINVAL;
    out->prefix = (int)p;
  }
  return GV_OK;
}

int gv_net_match(const gv_net *nets, int n, const char *addr) {
  unsigned char a[16];
  int fam;
  if (inet_pton(AF_INET, addr, a) == 1) fam = 4;
  else if (inet_pton(AF_INET6, addr, a) == 1) fam = 6;
  else return 0;
  for (int i = 0; i < n; i++) {
    if (nets[i].family != fam) continue;
    int bits = nets[i].prefix, k = 0, ok = 1;
    for (; bits >= 8; bits -= 8, k++) ok &= a[k] == nets[i].addr[k];
    if (ok && bits > 0) {
      unsigned char mask = (unsigned char)(0xff << (8 - bits));
      ok = (a[k] & mask) == (nets[i].addr[k] & mask);
    }
    if (ok) return 1;
  }
  return 0;
}

typedef struct cl {
  lua_State *L;
  const char *file, *src;
  gv_error *err;
} cl;

static int bad(cl *c, const char *key, const char *fmt, const char *detail) {
  char msg[400];
  snprintf(msg, sizeof msg, fmt, detail ? detail : "");
  return gv_error_set_at(c->err, GV_ECONFIG, c->file, gv_lhost_key_line(c->src, key, 1), "%s", msg);
}

static int str_field(cl *c, int t, const char *key, char *dst, size_t size) {
  lua_getfield(c->L, t, key);
  int rc = GV_OK;
  if (lua_type(c->L, -1) == LUA_TSTRING) snprintf(dst, size, "%s", lua_tostring(c->L, -1));
  else if (!lua_isnil(c->L, -1)) rc = bad(c, key, "%s must be a text in quotes", key);
  lua_pop(c->L, 1);
  return rc;
}

static int dur_field(cl *c, int t, const char *key, int64_t *dst) {
  char buf[32] = "";
  int rc = str_field(c, t, key, buf, sizeof buf);
  if (rc == GV_OK && buf[0] && gv_duration_parse(buf, dst) != GV_OK)
    rc = bad(c, key, "%s must be a duration such as \"30m\" or \"12h\"", key);
  return rc;
}

static int int_field(cl *c, int t, const char *key, long min, long max, long *dst) {
  lua_getfield(c->L, t, key);
  int rc = GV_OK;
  if (lua_isinteger(c->L, -1) && lua_tointeger(c->L, -1) >= min && lua_tointeger(c->L, -1) <= max)
    *dst = (long)lua_tointeger(c->L, -1);
  else if (!lua_isnil(c->L, -1)) {
    char d[96];
    snprintf(d, sizeof d, "%s must be a whole number from %ld to %ld", key, min, max);
    rc = bad(c, key, "%s", d);
  }
  lua_pop(c->L, 1);
  return rc;
}

static int nets_field(cl *c, int t, const char *key, gv_net *nets, int *n) {
  lua_State *L = c->L;
  lua_getfield(L, t, key);
  int rc = GV_OK;
  if (lua_type(L, -1) == LUA_TTABLE) {
    for (lua_Integer i = 1; rc == GV_OK && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
      lua_rawgeti(L, -1, i);
      if (*n >= GV_MAX_NETS) rc = bad(c, key, "%s: too many entries", key);
      else if (lua_type(L, -1) != LUA_TSTRING || gv_net_parse(lua_tostring(L, -1), &nets[*n]) != GV_OK)
        rc = bad(c, key, "%s: '%s' is not an address or network such as \"10.0.0.0/8\"", lua_tostring(L, -1));
      else (*n)++;
      lua_pop(L, 1);
    }
  } else if (!lua_isnil(L, -1)) {
    rc = bad(c, key, "%s must be a list such as { \"127.0.0.1\" }", key);
  }
  lua_pop(L, 1);
  return rc;
}

static int check_keys(cl *c, int t, const char *const *allowed, const char *what) {
  lua_State *L = c->L;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    int ok = 0;
    for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, k) == 0;
    if (!ok) {
      const char *s = gv_lhost_suggest(k, allowed);
      char msg[200];
      snprintf(msg, sizeof msg, "unknown setting '%s' in %s%s%s%s", k, what, s ? " (did you mean '" : "", s ? s : "",
               s ? "'?)" : "");
      int rc = gv_error_set_at(c->err, GV_ECONFIG, c->file, gv_lhost_key_line(c->src, k, 1), "%s", msg);
      lua_pop(L, 1);
      return rc;
    }
  }
  return GV_OK;
}

static int sub_table(cl *c, int t, const char *key, const char *const *allowed) {
  lua_getfield(c->L, t, key);
  if (lua_isnil(c->L, -1)) {
    lua_pop(c->L, 1);
    return 0;
  }
  if (lua_type(c->L, -1) != LUA_TTABLE) {
    lua_pop(c->L, 1);
    bad(c, key, "%s must be a table { ... }", key);
    return -1;
  }
  if (check_keys(c, lua_gettop(c->L), allowed, key) != GV_OK) {
    lua_pop(c->L, 1);
    return -1;
  }
  return lua_gettop(c->L);
}

static int read_config(cl *c, int env, gv_config *cfg) {
  static const char *const top[] = {"listen", "database", "workflows", "log_level", "tls", "metrics",
                                    "trusted_proxies", "sessions", "limits", "login", "plugins", NULL};
  int rc = check_keys(c, env, top, "the configuration");
  if (rc != GV_OK) return rc;
  char listen[96] = "";
  if ((rc = str_field(c, env, "listen", listen, sizeof listen)) != GV_OK) return rc;
  if (listen[0] && gv_config_parse_listen(listen, cfg->listen_host, &cfg->listen_port) != GV_OK)
    return bad(c, "listen", "listen must be ADDRESS:PORT such as \"127.0.0.1:8080\" or \"[::1]:8080\"", NULL);
  if ((rc = str_field(c, env, "database", cfg->database, sizeof cfg->database)) != GV_OK) return rc;
  if ((rc = str_field(c, env, "workflows", cfg->workflows, sizeof cfg->workflows)) != GV_OK) return rc;
  if ((rc = str_field(c, env, "log_level", cfg->log_level, sizeof cfg->log_level)) != GV_OK) return rc;
  static const char *const tls[] = {"certificate", "key", NULL};
  int t = sub_table(c, env, "tls", tls);
  if (t < 0) return GV_ECONFIG;
  if (t > 0) {
    if ((rc = str_field(c, t, "certificate", cfg->tls_cert, sizeof cfg->tls_cert)) != GV_OK) return rc;
    if ((rc = str_field(c, t, "key", cfg->tls_key, sizeof cfg->tls_key)) != GV_OK) return rc;
    if (!cfg->tls_cert[0] || !cfg->tls_key[0]) return bad(c, "tls", "tls needs both certificate and key", NULL);
    lua_pop(c->L, 1);
  }
  static const char *const metrics[] = {"allow", NULL};
  t = sub_table(c, env, "metrics", metrics);
  if (t < 0) return GV_ECONFIG;
  if (t > 0) {
    if ((rc = nets_field(c, t, "allow", cfg->metrics_allow, &cfg->nmetrics_allow)) != GV_OK) return rc;
    lua_pop(c->L, 1);
  }
  if ((rc = nets_field(c, env, "trusted_proxies", cfg->trusted_proxies, &cfg->ntrusted_proxies)) != GV_OK) return rc;
  static const char *const sessions[] = {"idle", "absolute", "token_idle", "token_absolute", NULL};
  t = sub_table(c, env, "sessions", sessions);
  if (t < 0) return GV_ECONFIG;
  if (t > 0) {
    if ((rc = dur_field(c, t, "idle", &cfg->cookie_idle_ms)) != GV_OK) return rc;
    if ((rc = dur_field(c, t, "absolute", &cfg->cookie_absolute_ms)) != GV_OK) return rc;
    if ((rc = dur_field(c, t, "token_idle", &cfg->bearer_idle_ms)) != GV_OK) return rc;
    if ((rc = dur_field(c, t, "token_absolute", &cfg->bearer_absolute_ms)) != GV_OK) return rc;
    lua_pop(c->L, 1);
  }
  static const char *const limits[] = {"body", "password_queue", "batch", NULL};
  t = sub_table(c, env, "limits", limits);
  if (t < 0) return GV_ECONFIG;
  if (t > 0) {
    long v;
    v = (long)cfg->max_body;
    if ((rc = int_field(c, t, "body", 1024, 64L << 20, &v)) != GV_OK) return rc;
    cfg->max_body = (size_t)v;
    v = cfg->password_queue;
    if ((rc = int_field(c, t, "password_queue", 1, 10000, &v)) != GV_OK) return rc;
    cfg->password_queue = (int)v;
    v = cfg->max_batch;
    if ((rc = int_field(c, t, "batch", 1, 10000, &v)) != GV_OK) return rc;
    cfg->max_batch = (int)v;
    lua_pop(c->L, 1);
  }
  lua_getfield(c->L, env, "plugins");
  if (!lua_isnil(c->L, -1)) {
    if (lua_type(c->L, -1) != LUA_TTABLE) return bad(c, "plugins", "plugins must be a table such as { audit = { ... }, email = false }", NULL);
    gv_error e2;
    json_t *j = gv_lhost_to_json(c->L, lua_gettop(c->L), &e2);
    if (j == NULL || !json_is_object(j)) {
      json_decref(j);
      return bad(c, "plugins", "plugins: each entry is a table of settings or false", NULL);
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
      if (!json_is_object(v) && !json_is_false(v) && !(json_is_array(v) && json_array_size(v) == 0)) {
        json_decref(j);
        return bad(c, k, "plugins.%s must be a table of settings or false", k);
      }
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s == NULL || strlen(s) >= sizeof cfg->plugins_json) {
      free(s);
      return bad(c, "plugins", "plugins: the settings are too large", NULL);
    }
    snprintf(cfg->plugins_json, sizeof cfg->plugins_json, "%s", s);
    free(s);
  }
  lua_pop(c->L, 1);
  static const char *const login[] = {"max_failures", "max_failures_per_address", NULL};
  t = sub_table(c, env, "login", login);
  if (t < 0) return GV_ECONFIG;
  if (t > 0) {
    long v = cfg->login_max_failures;
    if ((rc = int_field(c, t, "max_failures", 1, 1000, &v)) != GV_OK) return rc;
    cfg->login_max_failures = (int)v;
    v = cfg->login_max_failures_addr;
    if ((rc = int_field(c, t, "max_failures_per_address", 1, 100000, &v)) != GV_OK) return rc;
    cfg->login_max_failures_addr = (int)v;
    lua_pop(c->L, 1);
  }
  return GV_OK;
}

int gv_config_load(const char *path, gv_config *cfg, gv_error *err) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) return gv_error_set_at(err, GV_ECONFIG, path, 0, "cannot read the configuration file");
  char *src = malloc(GV_SANDBOX_MAX_SOURCE + 1);
  size_t len = fread(src, 1, GV_SANDBOX_MAX_SOURCE + 1, fp);
  fclose(fp);
  src[len < GV_SANDBOX_MAX_SOURCE ? len : GV_SANDBOX_MAX_SOURCE] = '\0';
  gv_sandbox_limits lim = {8u << 20, 1000000};
  gv_sandbox *sb = gv_sandbox_new(&lim);
  int rc = GV_ENOMEM;
  if (sb == NULL) goto done;
  if ((rc = gv_sandbox_load(sb, path, src, len, err)) != GV_OK) {
    rc = err ? (err->code = GV_ECONFIG) : GV_ECONFIG;
    goto done;
  }
  lua_State *L = gv_sandbox_lua(sb);
  int env = lua_gettop(L);
  lua_pushvalue(L, env - 1);
  if ((rc = gv_sandbox_call(sb, 0, 0, err, NULL)) != GV_OK) {
    rc = err ? (err->code = GV_ECONFIG) : GV_ECONFIG;
    goto done;
  }
  cl c = {L, path, src, err};
  rc = read_config(&c, env, cfg);
  if (rc == GV_OK) snprintf(cfg->path, sizeof cfg->path, "%s", path);
done:
  gv_sandbox_free(sb);
  free(src);
  return rc;
}
