/* The serve command. */
#include "cli.h"

const gv_cmd gv_cli_serve_cmds[] = {{NULL}};
