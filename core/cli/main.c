/* The gavel command: the plugins built in, in the order their hooks run, and argv to the CLI. */
#include "cli/cli.h"
#include "gavel/plugin.h"

extern const gv_plugin gv_plugin_audit;
extern const gv_plugin gv_plugin_email;
extern const gv_plugin gv_plugin_web;
extern const gv_plugin gv_plugin_webhook;

/* The audit leaf of an event is written before anything else reacts to it. */
static const gv_plugin *const builtin[] = {&gv_plugin_audit, &gv_plugin_email, &gv_plugin_web, &gv_plugin_webhook};

int main(int argc, char **argv) { return gv_cli_main(argc, argv, builtin, sizeof builtin / sizeof builtin[0]); }
