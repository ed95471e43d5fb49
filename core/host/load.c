/* Plugins from shared objects: dlopen, the gavel_plugin descriptor, its version checked; never unloaded. */
#include "host/internal.h"
#include "base/log.h"

#include <dlfcn.h>
#include <jansson.h>
#include <string.h>

/* The paths loaded so far, so a second gv_plugins_open in the same process reuses them. */
#define MAX_LOADED 8
static struct {
  char path[1024];
  const gv_plugin *plugin;
} loaded[MAX_LOADED];
static size_t nloaded;

static int load_one(const char *name, const char *path, gv_error *err) {
  for (size_t i = 0; i < nloaded; i++)
    if (strcmp(loaded[i].path, path) == 0) return gv_plugins_register(loaded[i].plugin, err);
  if (nloaded == MAX_LOADED || strlen(path) >= sizeof loaded[0].path)
    return gv_error_set(err, GV_ECONFIG, NULL, "plugins.%s: too many plugins loaded, or the path is too long", name);
  /* RTLD_NOW: a missing host function is found here, not in the middle of an action. */
  void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (so == NULL) return gv_error_set(err, GV_ECONFIG, "path", "plugins.%s: cannot load %s: %s", name, path, dlerror());
  const gv_plugin *pl = dlsym(so, GV_PLUGIN_SYMBOL);
  int rc = GV_OK;
  if (pl == NULL)
    rc = gv_error_set(err, GV_ECONFIG, "path", "plugins.%s: %s has no %s descriptor", name, path, GV_PLUGIN_SYMBOL);
  else if ((rc = gv_plugins_check(pl, err)) != GV_OK)
    ; /* err says why */
  else if (strcmp(pl->name, name) != 0)
    rc = gv_error_set(err, GV_ECONFIG, "path", "plugins.%s: %s is the plugin '%s'", name, path, pl->name);
  else
    rc = gv_plugins_register(pl, err);
  if (rc != GV_OK) {
    /* Nothing of it ran: unloading now is safe (a started plugin is never unloaded). */
    dlclose(so);
    return rc;
  }
  snprintf(loaded[nloaded].path, sizeof loaded[0].path, "%s", path);
  loaded[nloaded++].plugin = pl;
  gv_log(GV_LOG_INFO, "plugin.loaded", "name=%s path=%s api_version=%u", pl->name, path, pl->api_version);
  return GV_OK;
}

int gv_plugins_load(const char *config_json, gv_error *err) {
  if (config_json == NULL || !*config_json) return GV_OK;
  json_t *config = json_loads(config_json, 0, NULL);
  if (!json_is_object(config)) {
    json_decref(config);
    return gv_error_set(err, GV_ECONFIG, NULL, "plugins: the settings are not a table");
  }
  const char *name;
  json_t *v;
  int rc = GV_OK;
  json_object_foreach(config, name, v) {
    json_t *path = json_object_get(v, "path");
    if (path == NULL) continue;
    if (!json_is_string(path) || json_string_value(path)[0] != '/') {
      rc = gv_error_set(err, GV_ECONFIG, "path", "plugins.%s.path must be the absolute path of a shared object", name);
      break;
    }
    if ((rc = load_one(name, json_string_value(path), err)) != GV_OK) break;
  }
  json_decref(config);
  return rc;
}
