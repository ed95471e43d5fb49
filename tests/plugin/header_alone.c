/* The plugin header alone, with strict warnings: it must build with include/ and nothing else. */
#include "gavel/plugin.h"

int header_alone(void);
int header_alone(void) {
  gv_error err;
  gv_error_clear(&err);
  return GV_PLUGIN_API_VERSION >= 2 && GV_LOG_ERROR > GV_LOG_INFO ? GV_OK : GV_EINTERNAL;
}
