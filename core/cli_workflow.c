/* Workflow commands: check and test. */
#include "cli.h"

int gv_cli_init_workflows(gv_store *s, const gv_forum *f, const char *dir, gv_error *err);
int gv_cli_init_workflows(gv_store *s, const gv_forum *f, const char *dir, gv_error *err) {
  (void)s; (void)f; (void)dir; (void)err;
  return GV_OK;
}

const gv_cmd gv_cli_workflow_cmds[] = {{NULL}};
