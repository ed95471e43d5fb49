/* Server configuration: gavel.conf.lua (sandboxed Lua) with working defaults for every setting. */
#ifndef GV_CONFIG_H
#define GV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define GV_MAX_NETS 16

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
} gv_config;

/* Fills c with the defaults. */
void gv_config_defaults(gv_config *c);

/* Reads a configuration file over the defaults. Mistakes are GV_ECONFIG with
 * "file:line: message" in err. */
int gv_config_load(const char *path, gv_config *c, gv_error *err);

/* Parses "127.0.0.1:8080" or "[::1]:8080" into host and port. */
int gv_config_parse_listen(const char *s, char host[64], int *port);

/* Parses an address or CIDR ("10.0.0.0/8", "::1"). */
int gv_net_parse(const char *s, gv_net *out);
/* Non-zero if the textual address addr is inside one of nets. */
int gv_net_match(const gv_net *nets, int n, const char *addr);

#endif
