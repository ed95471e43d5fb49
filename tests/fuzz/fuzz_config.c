/* Fuzz target: any text as gavel.conf.lua is read or refused with a file:line message, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lua/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static gv_config cfg;
  gv_error err;
  gv_config_defaults(&cfg);
  int rc = gv_config_load_source("fuzz.conf.lua", (const char *)data, size, &cfg, &err);
  if (rc != GV_OK) {
    /* A refusal always says where: the file, and a message a person can read. */
    if (strcmp(err.file, "fuzz.conf.lua") != 0 || err.message[0] == '\0') __builtin_trap();
    return 0;
  }
  /* A plugin refusing one of the settings that were read is placed on a line of the file. */
  for (int i = 0; i < cfg.nplugin_lines; i++) {
    gv_error_clear(&err);
    snprintf(err.message, sizeof err.message, "plugins.%s: refused", cfg.plugin_lines[i].key);
    gv_config_locate(&cfg, &err);
    if (err.line <= 0) __builtin_trap();
  }
  /* The text as one address, network or listen address: parsed or refused. */
  char text[128];
  size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
  memcpy(text, data, n);
  text[n] = '\0';
  gv_net net;
  if (gv_net_parse(text, &net) == GV_OK && (net.prefix < 0 || net.prefix > (net.family == 4 ? 32 : 128)))
    __builtin_trap();
  char host[64];
  int port;
  if (gv_config_parse_listen(text, host, &port) == GV_OK && (port < 0 || port > 65535)) __builtin_trap();
  return 0;
}
