/* Reads gavel.conf.lua: plain assignments in a sandbox, every mistake reported with its line. */
#include "lua/config.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include <jansson.h>
#include "lua/bridge.h"
#include "lua/sandbox.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void gv_config_defaults(gv_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
  c->listen_port = 8080;
  snprintf(c->database, sizeof c->database, "gavel.db");
  snprintf(c->workflows, sizeof c->workflows, "%s", gv_config_workflows_default());
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

const char *gv_config_workflows_default(void) {
  static char dir[PATH_MAX];
  const char *w = getenv("GAVEL_WORKFLOWS_DIR");
  if (w && *w) return w;
  if (dir[0]) return dir;
  /* An installed binary is PREFIX/bin/gavel and its workflows PREFIX/share/gavel/workflows,
   * wherever PREFIX is; a binary in a build tree falls back to the sources it came from. */
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    struct stat st;
    int w2 = snprintf(dir, sizeof dir, "%s/../share/gavel/workflows", exe);
    if (w2 > 0 && (size_t)w2 < sizeof dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
      char real[PATH_MAX];
      if (realpath(dir, real)) snprintf(dir, sizeof dir, "%s", real);
      return dir;
    }
  }
  snprintf(dir, sizeof dir, "%s", GAVEL_SOURCE_DIR "/workflows");
  return dir;
}

const char *gv_config_path(const char *path) {
  if (path && *path) return path;
  const char *e = getenv("GAVEL_CONFIG");
  if (e && *e) return e;
  return access("gavel.conf.lua", F_OK) == 0 ? "gavel.conf.lua" : NULL;
}

const char *gv_config_database(const char *db, const gv_config *c) {
  if (db && *db) return db;
  const char *e = getenv("GAVEL_DATABASE");
  if (e && *e) return e;
  return c && c->database[0] ? c->database : "gavel.db";
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
    /* Only digits: strtol would take "", " 8" or "+8" as well. */
    const char *d = slash + 1;
    size_t nd = strspn(d, "0123456789");
    if (nd == 0 || nd > 3 || d[nd] != '\0') return GV_EINVAL;
    long p = strtol(d, NULL, 10);
    if (p > max) return GV_EINVAL;
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
  int from; /* the line of the table being read: its keys are looked for from there */
} cl;

/* Reports a mistake at the line of key; msg is the whole sentence (never a format). */
static int bad(cl *c, const char *key, const char *msg) {
  return gv_error_set_at(c->err, GV_ECONFIG, c->file, gv_lhost_key_line(c->src, key, c->from), "%s", msg);
}

/* The name of a Lua value's type as a person configuring Gavel would say it. */
static const char *kind_of(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: return "a text";
  case LUA_TNUMBER: return lua_isinteger(L, idx) ? "a whole number" : "a number";
  case LUA_TBOOLEAN: return "true or false";
  case LUA_TTABLE: return "a table";
  case LUA_TFUNCTION: return "a function";
  default: return "another kind of value";
  }
}

static int str_field(cl *c, int t, const char *key, char *dst, size_t size) {
  lua_getfield(c->L, t, key);
  int rc = GV_OK;
  char msg[200];
  if (lua_type(c->L, -1) == LUA_TSTRING) {
    size_t len;
    const char *v = lua_tolstring(c->L, -1, &len);
    if (len == 0) {
      snprintf(msg, sizeof msg, "%s must not be empty", key);
      rc = bad(c, key, msg);
    } else if (strlen(v) != len) {
      snprintf(msg, sizeof msg, "%s must not contain a NUL character", key);
      rc = bad(c, key, msg);
    } else if (len >= size) {
      snprintf(msg, sizeof msg, "%s is too long (at most %zu characters)", key, size - 1);
      rc = bad(c, key, msg);
    } else {
      memcpy(dst, v, len + 1);
    }
  } else if (!lua_isnil(c->L, -1)) {
    snprintf(msg, sizeof msg, "%s must be a text in quotes, not %s", key, kind_of(c->L, -1));
    rc = bad(c, key, msg);
  }
  lua_pop(c->L, 1);
  return rc;
}

static int dur_field(cl *c, int t, const char *key, int64_t *dst) {
  char buf[32] = "";
  int rc = str_field(c, t, key, buf, sizeof buf);
  if (rc == GV_OK && buf[0] && (gv_duration_parse(buf, dst) != GV_OK || *dst <= 0)) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s must be a duration such as \"30m\" or \"12h\", not \"%s\"", key, buf);
    rc = bad(c, key, msg);
  }
  return rc;
}

static int int_field(cl *c, int t, const char *key, long min, long max, long *dst) {
  lua_getfield(c->L, t, key);
  int rc = GV_OK;
  if (lua_isinteger(c->L, -1) && lua_tointeger(c->L, -1) >= min && lua_tointeger(c->L, -1) <= max)
    *dst = (long)lua_tointeger(c->L, -1);
  else if (!lua_isnil(c->L, -1)) {
    char d[160];
    snprintf(d, sizeof d, "%s must be a whole number from %ld to %ld", key, min, max);
    rc = bad(c, key, d);
  }
  lua_pop(c->L, 1);
  return rc;
}

/* The line of the first quoted occurrence of text after the line of key, else key's line:
 * a list written over several lines is reported at its faulty entry. */
static int entry_line(cl *c, const char *key, const char *text) {
  int from = gv_lhost_key_line(c->src, key, c->from), line = 1;
  size_t n = strlen(text);
  for (const char *p = c->src; n > 0 && *p; p++) {
    if (*p == '\n') line++;
    else if (line >= from && (*p == '"' || *p == '\'') && strncmp(p + 1, text, n) == 0 && p[n + 1] == *p)
      return line;
  }
  return from;
}

/* Explains why s is not an address or network, for the setting called what. */
static int net_mistake(cl *c, const char *key, const char *what, const char *s) {
  char addr[64];
  const char *slash = strchr(s, '/');
  size_t alen = slash ? (size_t)(slash - s) : strlen(s);
  snprintf(addr, sizeof addr, "%.*s", alen < sizeof addr ? (int)alen : 0, s);
  unsigned char buf[16];
  int family = inet_pton(AF_INET, addr, buf) == 1 ? 4 : inet_pton(AF_INET6, addr, buf) == 1 ? 6 : 0;
  char msg[300];
  if (family == 0)
    snprintf(msg, sizeof msg,
             "%s: \"%.80s\" is not an IP address or network such as \"10.0.0.0/8\" or \"fd00::/8\" "
             "(host names are not looked up)", what, s);
  else
    snprintf(msg, sizeof msg, "%s: \"%.80s\" has a bad prefix length: after the / comes a number from 0 to %d",
             what, s, family == 4 ? 32 : 128);
  return gv_error_set_at(c->err, GV_ECONFIG, c->file, entry_line(c, key, s), "%s", msg);
}

static int nets_field(cl *c, int t, const char *key, const char *what, gv_net *nets, int *n) {
  lua_State *L = c->L;
  lua_getfield(L, t, key);
  int rc = GV_OK;
  char msg[300];
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_Integer len = (lua_Integer)lua_rawlen(L, -1), count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      count++;
      lua_pop(L, 1);
    }
    if (count != len) {
      snprintf(msg, sizeof msg, "%s must be a plain list such as { \"10.0.0.0/8\", \"::1\" }", what);
      rc = bad(c, key, msg);
    }
    for (lua_Integer i = 1; rc == GV_OK && i <= len; i++) {
      lua_rawgeti(L, -1, i);
      if (*n >= GV_MAX_NETS) {
        snprintf(msg, sizeof msg, "%s: too many entries (at most %d)", what, GV_MAX_NETS);
        rc = bad(c, key, msg);
      } else if (lua_type(L, -1) != LUA_TSTRING) {
        snprintf(msg, sizeof msg, "%s: entry %lld must be an address in quotes, not %s", what, (long long)i,
                 kind_of(L, -1));
        rc = bad(c, key, msg);
      } else if (gv_net_parse(lua_tostring(L, -1), &nets[*n]) != GV_OK) {
        rc = net_mistake(c, key, what, lua_tostring(L, -1));
      } else {
        (*n)++;
      }
      lua_pop(L, 1);
    }
  } else if (!lua_isnil(L, -1)) {
    snprintf(msg, sizeof msg, "%s must be a list such as { \"127.0.0.1\" }, not %s", what, kind_of(L, -1));
    rc = bad(c, key, msg);
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
      int rc = gv_error_set_at(c->err, GV_ECONFIG, c->file, gv_lhost_key_line(c->src, k, c->from), "%s", msg);
      lua_pop(L, 1);
      return rc;
    }
  }
  return GV_OK;
}

static int sub_table(cl *c, int t, const char *key, const char *const *allowed) {
  c->from = 1;
  lua_getfield(c->L, t, key);
  if (lua_isnil(c->L, -1)) {
    lua_pop(c->L, 1);
    return 0;
  }
  if (lua_type(c->L, -1) != LUA_TTABLE) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s must be a table { ... }, not %s", key, kind_of(c->L, -1));
    lua_pop(c->L, 1);
    bad(c, key, msg);
    return -1;
  }
  c->from = gv_lhost_key_line(c->src, key, 1);
  if (check_keys(c, lua_gettop(c->L), allowed, key) != GV_OK) {
    lua_pop(c->L, 1);
    return -1;
  }
  return lua_gettop(c->L);
}

/* Remembers where key is written (from line from), for gv_config_locate. */
static int note_line(cl *c, gv_config *cfg, const char *plugin, const char *key, int from) {
  int line = gv_lhost_key_line(c->src, key[0] ? key : plugin, from);
  if (cfg->nplugin_lines < GV_CONFIG_MAX_LINES) {
    gv_config_line *l = &cfg->plugin_lines[cfg->nplugin_lines++];
    snprintf(l->key, sizeof l->key, "%.40s%s%.50s", plugin, key[0] ? "." : "", key);
    l->line = line;
  }
  return line;
}

/* The plugins table: kept as JSON for the plugins, which check their own settings when
 * they start; the lines of its entries are kept to report those checks as file:line. */
static int plugins_field(cl *c, int env, gv_config *cfg) {
  lua_State *L = c->L;
  int rc = GV_OK;
  char msg[200];
  json_t *j = NULL;
  char *s = NULL;
  lua_getfield(L, env, "plugins");
  if (lua_isnil(L, -1)) goto done;
  if (lua_type(L, -1) != LUA_TTABLE) {
    snprintf(msg, sizeof msg, "plugins must be a table such as { audit = { ... }, email = false }, not %s",
             kind_of(L, -1));
    rc = bad(c, "plugins", msg);
    goto done;
  }
  gv_error e2;
  j = gv_lhost_to_json(L, lua_gettop(L), &e2);
  if (j == NULL || !json_is_object(j)) {
    rc = bad(c, "plugins", "plugins: each entry is a plugin's name = a table of settings or false");
    goto done;
  }
  int from = gv_lhost_key_line(c->src, "plugins", 1);
  cfg->plugin_lines[cfg->nplugin_lines].key[0] = '\0'; /* the table itself */
  cfg->plugin_lines[cfg->nplugin_lines++].line = from;
  const char *k;
  json_t *v;
  json_object_foreach(j, k, v) {
    int at = note_line(c, cfg, k, "", from);
    if (!json_is_object(v) && !json_is_false(v) && !(json_is_array(v) && json_array_size(v) == 0)) {
      snprintf(msg, sizeof msg, "plugins.%.60s must be a table of settings or false", k);
      rc = gv_error_set_at(c->err, GV_ECONFIG, c->file, at, "%s", msg);
      goto done;
    }
    const char *sk;
    json_t *sv;
    json_object_foreach(v, sk, sv) note_line(c, cfg, k, sk, at);
  }
  s = json_dumps(j, JSON_COMPACT);
  if (s == NULL || strlen(s) >= sizeof cfg->plugins_json) {
    rc = bad(c, "plugins", "plugins: the settings are too large");
    goto done;
  }
  snprintf(cfg->plugins_json, sizeof cfg->plugins_json, "%s", s);
done:
  free(s);
  json_decref(j);
  lua_pop(L, 1);
  return rc;
}

static int read_config(cl *c, int env, gv_config *cfg) {
  static const char *const top[] = {"listen", "database", "workflows", "log_level", "log_format", "tls", "metrics",
                                    "trusted_proxies", "sessions", "limits", "login", "plugins", NULL};
  int rc = check_keys(c, env, top, "the configuration");
  if (rc != GV_OK) return rc;
  char listen[96] = "";
  if ((rc = str_field(c, env, "listen", listen, sizeof listen)) != GV_OK) return rc;
  if (listen[0] && gv_config_parse_listen(listen, cfg->listen_host, &cfg->listen_port) != GV_OK)
    return bad(c, "listen", "listen must be ADDRESS:PORT such as \"127.0.0.1:8080\" or \"[::1]:8080\"");
  if ((rc = str_field(c, env, "database", cfg->database, sizeof cfg->database)) != GV_OK) return rc;
  if ((rc = str_field(c, env, "workflows", cfg->workflows, sizeof cfg->workflows)) != GV_OK) return rc;
  char level[64] = "";
  if ((rc = str_field(c, env, "log_level", level, sizeof level)) != GV_OK) return rc;
  if (level[0] && gv_log_level_parse(level) < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "log_level must be \"debug\", \"info\", \"warn\", \"error\" or \"off\", not \"%s\"", level);
    return bad(c, "log_level", msg);
  }
  if (level[0]) snprintf(cfg->log_level, sizeof cfg->log_level, "%.15s", level); /* a known name: short */
  char format[64] = "";
  if ((rc = str_field(c, env, "log_format", format, sizeof format)) != GV_OK) return rc;
  if (format[0] && strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "log_format must be \"text\" or \"json\", not \"%s\"", format);
    return bad(c, "log_format", msg);
  }
  if (format[0]) snprintf(cfg->log_format, sizeof cfg->log_format, "%.7s", format); /* a known name: short */
  static const char *const tls[] = {"certificate", "key", NULL};
  int t = sub_table(c, env, "tls", tls);
  if (t < 0) return GV_ECONFIG;
  if (t > 0) {
    if ((rc = str_field(c, t, "certificate", cfg->tls_cert, sizeof cfg->tls_cert)) != GV_OK) return rc;
    if ((rc = str_field(c, t, "key", cfg->tls_key, sizeof cfg->tls_key)) != GV_OK) return rc;
    if (!cfg->tls_cert[0] || !cfg->tls_key[0]) return bad(c, "tls", "tls needs both certificate and key");
    lua_pop(c->L, 1);
  }
  static const char *const metrics[] = {"allow", NULL};
  t = sub_table(c, env, "metrics", metrics);
  if (t < 0) return GV_ECONFIG;
  if (t > 0) {
    if ((rc = nets_field(c, t, "allow", "metrics.allow", cfg->metrics_allow, &cfg->nmetrics_allow)) != GV_OK) return rc;
    lua_pop(c->L, 1);
  }
  c->from = 1;
  if ((rc = nets_field(c, env, "trusted_proxies", "trusted_proxies", cfg->trusted_proxies, &cfg->ntrusted_proxies)) != GV_OK) return rc;
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
  c->from = 1;
  if ((rc = plugins_field(c, env, cfg)) != GV_OK) return rc;
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
  char *src = gv_malloc(GV_SANDBOX_MAX_SOURCE + 1);
  int rc = GV_ENOMEM;
  if (src == NULL) {
    gv_error_set(err, rc, NULL, "out of memory");
    goto done;
  }
  size_t len = fread(src, 1, GV_SANDBOX_MAX_SOURCE + 1, fp);
  if (ferror(fp)) {
    rc = gv_error_set_at(err, GV_ECONFIG, path, 0, "cannot read the configuration file");
    goto done;
  }
  rc = gv_config_load_source(path, src, len, cfg, err);
done:
  fclose(fp);
  free(src);
  return rc;
}

int gv_config_load_source(const char *name, const char *text, size_t len, gv_config *cfg, gv_error *err) {
  gv_error_clear(err);
  if (len > GV_SANDBOX_MAX_SOURCE)
    return gv_error_set_at(err, GV_ECONFIG, name, 0, "the file is over %d bytes", GV_SANDBOX_MAX_SOURCE);
  /* The line finder reads a NUL-terminated copy. */
  char *src = gv_malloc(len + 1);
  /* A configuration is a page of assignments: these limits leave it room a thousand times
   * over, and stop a file that loops (even in costly library calls) within two seconds. */
  gv_sandbox_limits lim = {8u << 20, 1000000, 2000};
  gv_sandbox *sb = src ? gv_sandbox_new(&lim) : NULL;
  int rc = GV_ENOMEM;
  if (sb == NULL) {
    gv_error_set(err, rc, NULL, "out of memory");
    goto done;
  }
  memcpy(src, text, len);
  src[len] = '\0';
  if ((rc = gv_sandbox_load(sb, name, src, len, err)) != GV_OK) {
    rc = err ? (err->code = GV_ECONFIG) : GV_ECONFIG;
    goto done;
  }
  lua_State *L = gv_sandbox_lua(sb);
  int env = lua_gettop(L);
  lua_pushvalue(L, env - 1);
  if ((rc = gv_sandbox_call(sb, 0, 0, err, NULL)) != GV_OK) {
    rc = err ? (err->code = GV_ECONFIG) : GV_ECONFIG;
    /* An error raised with a value of its own carries no place: it is still this file's. */
    if (err && err->file[0] == '\0') snprintf(err->file, sizeof err->file, "%s", name);
    if (err && err->line <= 0) err->line = 1;
    goto done;
  }
  cl c = {L, name, src, err, 1};
  rc = read_config(&c, env, cfg);
  if (rc == GV_OK) snprintf(cfg->path, sizeof cfg->path, "%s", name);
done:
  gv_sandbox_free(sb);
  free(src);
  return rc;
}

/* Non-zero if word appears in msg on its own (not inside a longer name). */
static int has_word(const char *msg, const char *word) {
  size_t n = strlen(word);
  if (n == 0) return 0;
  for (const char *p = strstr(msg, word); p; p = strstr(p + 1, word)) {
    int before = p > msg && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
    int after = isalnum((unsigned char)p[n]) || p[n] == '_';
    if (!before && !after) return 1;
  }
  return 0;
}

/* How surely msg names the plugin called name: 2 for "plugins.name" or 'name', 1 for the
 * bare word (which a list of every plugin's name also holds), 0 for not at all. */
static int names_plugin(const char *msg, const char *name) {
  char quoted[128], dotted[128];
  snprintf(quoted, sizeof quoted, "'%s'", name);
  snprintf(dotted, sizeof dotted, "plugins.%s", name);
  if (strstr(msg, quoted) || has_word(msg, dotted)) return 2;
  return has_word(msg, name) ? 1 : 0;
}

void gv_config_locate(const gv_config *c, gv_error *err) {
  if (err == NULL || err->file[0] || c->path[0] == '\0' || c->nplugin_lines == 0) return;
  int line = 0, best = 0;
  const char *plugin = NULL;
  size_t plen = 0;
  for (int i = 0; i < c->nplugin_lines; i++) {
    const gv_config_line *l = &c->plugin_lines[i];
    int score = strchr(l->key, '.') ? 0 : l->key[0] ? names_plugin(err->message, l->key) : 0;
    if (l->key[0] == '\0' && plugin == NULL) line = l->line;
    if (score > best) {
      best = score;
      plugin = l->key;
      plen = strlen(plugin);
      line = l->line;
    }
  }
  for (int i = 0; plugin && i < c->nplugin_lines; i++) {
    const gv_config_line *l = &c->plugin_lines[i];
    if (strncmp(l->key, plugin, plen) == 0 && l->key[plen] == '.' && has_word(err->message, l->key + plen + 1)) {
      line = l->line;
      break;
    }
  }
  if (line <= 0) return;
  snprintf(err->file, sizeof err->file, "%.191s", c->path);
  err->line = line;
}
