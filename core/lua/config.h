/* Server configuration: gavel.conf.lua (sandboxed Lua) with working defaults for every setting. */
#ifndef GV_CONFIG_H
#define GV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define GV_MAX_NETS 16
#define GV_CONFIG_MAX_LINES 64

/* Where a plugin's entry ("audit") or one of its settings ("audit.key_file") is written,
 * so that a plugin refusing its settings at start-up can be reported as file:line. */
typedef struct gv_config_line {
  char key[96];
  int line;
} gv_config_line;

typedef struct gv_net {
  unsigned char addr[16];
  int family;   /* 4 or 6 */
  int prefix;   /* bits */
} gv_net;

typedef struct gv_config {
  char path[512];              /* the file read, or "" for none */
  char listen_host[64];        /* default 127.0.0.1 */
  int listen_port;             /* default 8080 */
  char database[512];          /* default ./gavel.db */
  char workflows[512];         /* default: the shipped workflows */
  char log_level[16];
  char log_format[8];          /* "text" (default) or "json" */
  char tls_cert[512];          /* empty: plain HTTP */
  char tls_key[512];
  gv_net metrics_allow[GV_MAX_NETS]; /* besides loopback, which is always allowed */
  int nmetrics_allow;
  gv_net trusted_proxies[GV_MAX_NETS];
  int ntrusted_proxies;
  int64_t cookie_idle_ms;      /* 30 minutes */
  int64_t cookie_absolute_ms;  /* 12 hours */
  int64_t bearer_idle_ms;      /* 2 hours */
  int64_t bearer_absolute_ms;  /* 24 hours */
  size_t max_body;             /* 1 MiB */
  int password_queue;          /* 16 */
  int max_batch;               /* 256 actions per commit */
  int login_max_failures;      /* per account and address in 15 minutes: 5 */
  int login_max_failures_addr; /* per address in 15 minutes: 30 */
  int test_clock;              /* set by `serve --test-clock` only */
  char plugins_json[8192];     /* the plugins table as JSON ({"audit": {...}, "email": false}), "" if none */
  gv_config_line plugin_lines[GV_CONFIG_MAX_LINES]; /* "" = the plugins table itself */
  int nplugin_lines;
} gv_config;

/* Fills c with the defaults. */
void gv_config_defaults(gv_config *c);

/* Reads a configuration file over the defaults. Mistakes are GV_ECONFIG with
 * "file:line: message" in err; c may then be partly filled and must not be used. */
int gv_config_load(const char *path, gv_config *c, gv_error *err);
/* Like gv_config_load, from len bytes of src (which need not end in NUL); name is the
 * file name that messages give. */
int gv_config_load_source(const char *name, const char *src, size_t len, gv_config *c, gv_error *err);

/* A plugin refused its settings (err, without a file): names in err the file and line of
 * the plugin's setting that the message mentions, else of the plugin's entry, else of the
 * plugins table. Leaves err as it is when c was not read from a file. */
void gv_config_locate(const gv_config *c, gv_error *err);

/* The configuration file a command reads: path when given, else $GAVEL_CONFIG, else
 * ./gavel.conf.lua when it exists, else NULL (defaults only). The result is path, the
 * environment's string or a static string. */
const char *gv_config_path(const char *path);
/* The database a command uses: db when given, else $GAVEL_DATABASE, else the
 * configuration's database (c may be NULL: then ./gavel.db). */
const char *gv_config_database(const char *db, const gv_config *c);
/* The shipped workflows when nothing names others: $GAVEL_WORKFLOWS_DIR, else
 * PREFIX/share/gavel/workflows beside an installed binary (PREFIX/bin/gavel), else the
 * source tree the binary was built from. Returns a static string. */
const char *gv_config_workflows_default(void);

/* Parses "127.0.0.1:8080" or "[::1]:8080" into host and port. */
int gv_config_parse_listen(const char *s, char host[64], int *port);

/* Parses an address or CIDR ("10.0.0.0/8", "::1"). */
int gv_net_parse(const char *s, gv_net *out);
/* Non-zero if the textual address addr is inside one of nets. */
int gv_net_match(const gv_net *nets, int n, const char *addr);

#endif
