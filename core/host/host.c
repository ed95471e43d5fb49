/* The plugin host: starts the built-in plugins and gives each its view of the engine (gv_host). */
#include "host/host.h"
#include "host/internal.h"
#include "cli/cli.h"
#include "lua/config.h"
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const gv_plugin gv_plugin_audit;
extern const gv_plugin gv_plugin_email;
extern const gv_plugin gv_plugin_web;

/* In this order: the audit leaf of an event is written before anything else reacts to it. */
static const gv_plugin *const builtin[] = {&gv_plugin_audit, &gv_plugin_email, &gv_plugin_web};

const gv_plugin *const *gv_plugins_builtin(size_t *n) {
  *n = sizeof builtin / sizeof builtin[0];
  return builtin;
}

/* ---- The host API ------------------------------------------------------------------------ */

void gv_host_receipt_int(gv_host *h, const char *name, int64_t value) {
  gv_plugins *p = h->all;
  for (int i = 0; i < p->nreceipt; i++)
    if (strcmp(p->receipt[i].name, name) == 0) {
      p->receipt[i].value = value;
      return;
    }
  if (p->nreceipt == MAX_RECEIPT) return;
  snprintf(p->receipt[p->nreceipt].name, sizeof p->receipt[0].name, "%s", name);
  p->receipt[p->nreceipt++].value = value;
}

int gv_host_sql(gv_host *h, const char *sql, const gv_arg *args, size_t nargs, gv_row_fn fn, void *ud,
                gv_error *err) {
  return gv_store_plugin_sql(h->all->store, h->plugin->name, sql, args, nargs, fn, ud, err);
}

int gv_host_transaction(gv_host *h, int (*fn)(void *ud, gv_host *h, gv_error *err), void *ud, gv_error *err) {
  gv_store *s = h->all->store;
  if (gv_store_in_tx(s)) return gv_error_set(err, GV_EINTERNAL, NULL, "a transaction is already open");
  int rc = gv_store_begin(s, err);
  if (rc != GV_OK) return rc;
  rc = fn(ud, h, err);
  if (rc == GV_OK) return gv_store_commit(s, err);
  gv_store_rollback(s);
  return rc;
}

int gv_host_migrations(gv_host *h, const gv_plugin_migration *m, size_t n, gv_error *err) {
  return gv_store_plugin_migrate(h->all->store, h->plugin->name, m, n, err);
}

int gv_host_on_event(gv_host *h, gv_event_fn fn) {
  h->on_event = fn;
  return GV_OK;
}

int gv_host_on_commit(gv_host *h, gv_commit_fn fn) {
  h->on_commit = fn;
  return GV_OK;
}

int gv_host_for_command(const gv_host *h) { return h->for_command; }
const char *gv_host_db_path(const gv_host *h) { return h->all->db_path; }
const char *gv_host_forum_id(const gv_host *h) { return h->all->forum->id; }
const char *gv_host_forum_name(const gv_host *h) { return h->all->forum->short_name; }

void gv_host_log(gv_host *h, int level, const char *event, const char *message) {
  char name[96];
  snprintf(name, sizeof name, "%s.%s", h->plugin->name, event);
  gv_log(level, name, "message=\"%s\"", message ? message : "");
}

/* ---- Hooks ----------------------------------------------------------------------------------- */

static int event_hook(void *ud, const gv_event *e, gv_error *err) {
  gv_plugins *p = ud;
  /* As the store keeps it: an empty member is NULL. */
  const char *member = e->member && *e->member ? e->member : NULL;
  gv_plugin_event pe = {sizeof pe, e->id, e->forum_id,    e->item_id,  e->kind, e->action, e->actor_id, member,
                        e->at,     e->from_state, e->to_state, e->params ? e->params : "{}", e->sealed};
  for (size_t i = 0; i < p->n; i++) {
    gv_host *h = &p->hosts[i];
    if (!h->started || h->on_event == NULL) continue;
    int rc = h->on_event(h->state, h, &pe, err);
    if (rc != GV_OK) return rc;
  }
  return GV_OK;
}

static void receipt_hook(void *ud, gv_action_res *res) {
  gv_plugins *p = ud;
  if (res) {
    for (int i = 0; i < p->nreceipt && res->nextra < 4; i++) {
      snprintf(res->extra[res->nextra].name, sizeof res->extra[0].name, "%s", p->receipt[i].name);
      res->extra[res->nextra++].value = p->receipt[i].value;
    }
  }
  p->nreceipt = 0;
}

static void commit_listener(gv_engine *e, int64_t first, int64_t last, void *ud) {
  gv_plugins *p = ud;
  (void)e;
  p->nreceipt = 0;
  for (size_t i = 0; i < p->n; i++) {
    gv_host *h = &p->hosts[i];
    if (h->started && h->on_commit) h->on_commit(h->state, h, first, last);
  }
}

void gv_plugins_attach(gv_plugins *p, gv_engine *e) {
  p->engine = e;
  gv_engine_on_commit(e, commit_listener, p);
  gv_engine_set_receipt_hook(e, receipt_hook, p);
}

/* ---- Starting and stopping ------------------------------------------------------------------- */

/* A plugin's name prefixes its tables: lower-case letters and digits only, so that no
 * plugin's prefix ("audit_") can cover another's tables ("audit_x_..."). */
static int valid_name(const char *n) {
  if (n == NULL || !(*n >= 'a' && *n <= 'z') || strlen(n) > 24) return 0;
  for (; *n; n++)
    if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9'))) return 0;
  return 1;
}

static int start(gv_plugins *p, const gv_plugin *pl, const json_t *cfg, int for_command, gv_error *err) {
  if (!valid_name(pl->name))
    return gv_error_set(err, GV_ECONFIG, NULL, "plugin name '%s' must be lower-case letters and digits",
                        pl->name ? pl->name : "");
  char prefix[32];
  snprintf(prefix, sizeof prefix, "%s_", pl->name);
  if (gv_store_core_name(prefix, strlen(prefix)))
    return gv_error_set(err, GV_ECONFIG, NULL, "plugin name '%s' is taken: Gavel's own tables begin with %s",
                        pl->name, prefix);
  if (pl->api_version > GV_PLUGIN_API_VERSION)
    return gv_error_set(err, GV_ECONFIG, NULL, "plugin %s needs plugin API %u; this Gavel has %d", pl->name,
                        pl->api_version, GV_PLUGIN_API_VERSION);
  if (p->n == MAX_PLUGINS) return gv_error_set(err, GV_ECONFIG, NULL, "too many plugins");
  gv_host *h = &p->hosts[p->n];
  memset(h, 0, sizeof *h);
  h->all = p;
  h->plugin = pl;
  h->for_command = for_command;
  char *cj = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
  int rc = pl->init(h, cj ? cj : "{}", &h->state, err);
  free(cj);
  if (rc != GV_OK) {
    /* A plugin that fails to start is left out (and shut down if it kept state). */
    if (pl->shutdown && h->state) pl->shutdown(h->state);
    return rc;
  }
  h->started = 1;
  p->n++;
  gv_log(GV_LOG_INFO, "plugin.started", "name=%s version=%s", pl->name, pl->version);
  return GV_OK;
}

static gv_plugins *new_host(gv_store *store, const gv_forum *forum, const char *db_path) {
  gv_plugins *p = calloc(1, sizeof *p);
  p->store = store;
  p->forum = forum;
  snprintf(p->db_path, sizeof p->db_path, "%s", db_path ? db_path : "");
  gv_store_set_event_hook(store, event_hook, p);
  return p;
}

/* Every name in the plugins table must be a plugin: a misspelt one would be silently ignored. */
static int check_names(const json_t *config, gv_error *err) {
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)config, name, v) {
    int found = 0;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) found |= strcmp(builtin[i]->name, name) == 0;
    if (!found) {
      char names[256] = "";
      for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", builtin[i]->name);
      return gv_error_set(err, GV_ECONFIG, NULL, "plugins: no plugin named '%s' (there are: %s)", name, names);
    }
  }
  return GV_OK;
}

int gv_plugins_open(gv_store *store, const gv_forum *forum, const char *db_path, const json_t *config,
                    gv_plugins **out, gv_error *err) {
  *out = NULL;
  if (config && check_names(config, err) != GV_OK) return GV_ECONFIG;
  gv_plugins *p = new_host(store, forum, db_path);
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
    const json_t *cfg = config ? json_object_get(config, builtin[i]->name) : NULL;
    if (cfg && json_is_false(cfg)) continue;
    gv_error e2;
    gv_error_clear(&e2);
    /* A plugin that cannot start stops the start: running without the audit log (or
     * mail) the forum configured would silently lose what it promised. */
    if (start(p, builtin[i], json_is_object(cfg) ? cfg : NULL, 0, &e2) != GV_OK) {
      /* Not logged here: the caller reports it once (as file:line when it is a setting). */
      gv_plugins_close(p);
      *out = NULL;
      if (err) *err = e2;
      return e2.code ? e2.code : GV_ECONFIG;
    }
  }
  *out = p;
  return GV_OK;
}

int gv_plugins_config_load(const char *path, json_t **out, gv_error *err) {
  *out = NULL;
  path = gv_config_path(path);
  if (path == NULL) return GV_OK;
  gv_config *cfg = malloc(sizeof *cfg);
  if (cfg == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  gv_config_defaults(cfg);
  int rc = gv_config_load(path, cfg, err);
  if (rc == GV_OK && cfg->plugins_json[0]) *out = json_loads(cfg->plugins_json, 0, NULL);
  free(cfg);
  if (rc == GV_OK && *out && check_names(*out, err) != GV_OK) {
    json_decref(*out);
    *out = NULL;
    return GV_ECONFIG;
  }
  return rc;
}

int gv_plugins_open_one(gv_store *store, const gv_forum *forum, const char *db_path, const char *name,
                        const json_t *config, gv_plugins **out, gv_error *err) {
  *out = NULL;
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
    if (strcmp(builtin[i]->name, name) != 0) continue;
    gv_plugins *p = new_host(store, forum, db_path);
    int rc = start(p, builtin[i], config, 1, err);
    if (rc != GV_OK) {
      gv_plugins_close(p);
      return rc;
    }
    *out = p;
    return GV_OK;
  }
  return gv_error_set(err, GV_ENOTFOUND, NULL, "no plugin '%s'", name);
}

void gv_plugins_close(gv_plugins *p) {
  if (p == NULL) return;
  gv_store_set_event_hook(p->store, NULL, NULL);
  if (p->engine) gv_engine_set_receipt_hook(p->engine, NULL, NULL);
  for (size_t i = p->n; i-- > 0;)
    if (p->hosts[i].started && p->hosts[i].plugin->shutdown) p->hosts[i].plugin->shutdown(p->hosts[i].state);
  free(p);
}

/* ---- Routes ---------------------------------------------------------------------------------- */

size_t gv_plugins_routes(gv_plugin_route_ref *out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
    for (const gv_plugin_route *r = builtin[i]->routes; r && r->method; r++)
      if (n < max) out[n++] = (gv_plugin_route_ref){r, builtin[i]};
  return n;
}

void gv_plugins_serve(gv_plugins *p, const gv_plugin *plugin, const gv_plugin_route *route, gv_request *r) {
  for (size_t i = 0; p && i < p->n; i++)
    if (p->hosts[i].plugin == plugin && p->hosts[i].started) {
      route->fn(p->hosts[i].state, &p->hosts[i], r);
      return;
    }
  gv_request_error(r, GV_ENOTFOUND, "this plugin is not running", NULL);
}

/* ---- Commands -------------------------------------------------------------------------------- */

static const gv_plugin_command *find_command(int argc, char **argv, const gv_plugin **owner, int *used) {
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
    for (const gv_plugin_command *c = builtin[i]->commands; c && c->name; c++) {
      char name[64];
      snprintf(name, sizeof name, "%s", c->name);
      int words = 0, match = 1;
      char *save = NULL;
      for (char *w = strtok_r(name, " ", &save); w; w = strtok_r(NULL, " ", &save), words++)
        if (words >= argc || strcmp(argv[words], w) != 0) {
          match = 0;
          break;
        }
      if (match) {
        *owner = builtin[i];
        *used = words;
        return c;
      }
    }
  return NULL;
}

void gv_plugins_print_commands(FILE *out) {
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
    for (const gv_plugin_command *c = builtin[i]->commands; c && c->name; c++)
      fprintf(out, "  %-18s %s\n", c->name, c->summary);
}

int gv_plugins_command(int argc, char **argv) {
  const gv_plugin *pl = NULL;
  int used = 0;
  const gv_plugin_command *c = find_command(argc, argv, &pl, &used);
  if (c == NULL) return -1;
  /* --db PATH, --config PATH (and --help) belong to the host; the rest is the command's. */
  const char *db = NULL, *conf = NULL;
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  int nrest = 0;
  for (int i = used; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: gavel %s [--db PATH] [--config PATH] %s\n\n%s\n"
             "The plugin's settings come from --config, else ./gavel.conf.lua if present.\n",
             c->name, c->args ? c->args : "", c->summary);
      free(rest);
      return 0;
    }
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) db = argv[++i];
    else if (strncmp(argv[i], "--db=", 5) == 0) db = argv[i] + 5;
    else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) conf = argv[++i];
    else if (strncmp(argv[i], "--config=", 9) == 0) conf = argv[i] + 9;
    else rest[nrest++] = argv[i];
  }
  gv_error err;
  gv_error_clear(&err);
  json_t *config = NULL;
  gv_store *s = NULL;
  gv_forum *f = NULL;
  gv_plugins *p = NULL;
  gv_config *file_cfg = NULL;
  int rc = 1;
  char id[64];
  if (gv_plugins_config_load(gv_config_path(conf), &config, &err) != GV_OK) {
    gv_cli_fail(&err);
    goto done;
  }
  /* Without --db: $GAVEL_DATABASE, else the configuration's database, as for serve. */
  if (db == NULL && gv_config_path(conf) && (file_cfg = malloc(sizeof *file_cfg)) != NULL) {
    gv_config_defaults(file_cfg);
    gv_config_load(gv_config_path(conf), file_cfg, &err); /* read without fault just above */
  }
  if (db == NULL) db = gv_config_database(NULL, file_cfg);
  if (gv_store_open(db, 0, &s, &err) != GV_OK) {
    if (err.code == GV_ENOTFOUND) fprintf(stderr, "gavel %s: no database at %s\n", c->name, db);
    else gv_cli_fail(&err);
    goto done;
  }
  const json_t *own = config ? json_object_get(config, pl->name) : NULL;
  if (gv_store_forum_default(s, id, &err) != GV_OK || gv_store_forum_load(s, id, &f, &err) != GV_OK ||
      gv_plugins_open_one(s, f, db, pl->name, json_is_object(own) ? own : NULL, &p, &err) != GV_OK) {
    gv_cli_fail(&err);
    goto done;
  }
  rc = c->fn(p->hosts[0].state, &p->hosts[0], nrest, rest);
done:
  json_decref(config);
  gv_plugins_close(p);
  gv_forum_free(f);
  gv_store_close(s);
  free(file_cfg);
  free(rest);
  return rc;
}
