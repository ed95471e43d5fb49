/* A plugin that reaches into Gavel's core: compiled as a plugin is, it must not build. */
#include "gavel/plugin.h"
#include "store/store.h"

int reaches_core(void);
int reaches_core(void) { return GV_OK; }
