/* The plugin host: the known plugins, starting and stopping them, and the API a plugin registers with. */
#include "host/host.h"
#include "base/alloc.h"
#include "host/internal.h"
#include "base/log.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The known plugins: those main() hands over, then those loaded from shared objects
 * (host/load.c). A descriptor stays known, and its code mapped, until the process ends. */
static const gv_plugin *known[MAX_KNOWN];
static size_t nknown;

void gv_plugins_set_builtin(const gv_plugin *const *list, size_t n) {
  nknown = 0;
  for (size_t i = 0; i < n && nknown < MAX_KNOWN; i++) known[nknown++] = list[i];
}

size_t gv_plugins_known(const gv_plugin **out, size_t max) {
  for (size_t i = 0; i < nknown && i < max; i++) out[i] = known[i];
  return nknown;
}

int gv_plugins_register(const gv_plugin *pl, gv_error *err) {
  for (size_t i = 0; i < nknown; i++)
    if (known[i] == pl) return GV_OK;
    else if (strcmp(known[i]->name, pl->name) == 0)
      return gv_error_set(err, GV_ECONFIG, NULL, "plugins: two plugins are named '%s'", pl->name);
  if (nknown == MAX_KNOWN) return gv_error_set(err, GV_ECONFIG, NULL, "plugins: more than %d plugins", MAX_KNOWN);
  known[nknown++] = pl;
  return GV_OK;
}

static const gv_plugin *find_known(const char *name) {
  for (size_t i = 0; i < nknown; i++)
    if (strcmp(known[i]->name, name) == 0) return known[i];
  return NULL;
}

int gv_host_refuse(gv_host *h, int code, const char *what) {
  gv_log(GV_LOG_ERROR, "plugin.misuse", "plugin=%s refused=\"%s\"", h && h->plugin ? h->plugin->name : "?", what);
  return code;
}

/* ---- The host API: registration ------------------------------------------------------------- */

/* Registration belongs in init; afterwards the hook tables are read without locks by the loop. */
static int registering(gv_host *h, const char *what) {
  if (h == NULL) return GV_EINVAL;
  if (!h->in_init) {
    char why[160];
    snprintf(why, sizeof why, "%s outside init", what);
    return gv_host_refuse(h, GV_ESTATE, why);
  }
  return GV_OK;
}

int gv_host_on_event(gv_host *h, gv_event_fn fn) {
  int rc = registering(h, "gv_host_on_event");
  if (rc != GV_OK) return rc;
  if (fn == NULL) return gv_host_refuse(h, GV_EINVAL, "gv_host_on_event without a function");
  if (h->nevent == MAX_HOOKS) return gv_host_refuse(h, GV_EINVAL, "a ninth event hook");
  h->on_event[h->nevent++] = fn;
  return GV_OK;
}

int gv_host_on_commit(gv_host *h, gv_commit_fn fn) {
  int rc = registering(h, "gv_host_on_commit");
  if (rc != GV_OK) return rc;
  if (fn == NULL) return gv_host_refuse(h, GV_EINVAL, "gv_host_on_commit without a function");
  if (h->ncommit == MAX_HOOKS) return gv_host_refuse(h, GV_EINVAL, "a ninth commit listener");
  h->on_commit[h->ncommit++] = fn;
  return GV_OK;
}

int gv_host_on_serve(gv_host *h, gv_serve_fn serve, gv_stop_fn stop) {
  int rc = registering(h, "gv_host_on_serve");
  if (rc != GV_OK) return rc;
  if (h->on_serve || h->on_stop) return gv_host_refuse(h, GV_EINVAL, "gv_host_on_serve twice");
  h->on_serve = serve;
  h->on_stop = stop;
  return GV_OK;
}

int gv_host_workflow_function(gv_host *h, const char *name, gv_workflow_fn fn) {
  int rc = registering(h, "gv_host_workflow_function");
  if (rc != GV_OK) return rc;
  if (fn == NULL || name == NULL || !*name || strlen(name) >= sizeof h->functions[0].name || strchr(name, '.'))
    return gv_host_refuse(h, GV_EINVAL, "a workflow function needs a name (1 to 47 bytes, no dot) and a function");
  if (h->nfunctions == MAX_FUNCTIONS) return gv_host_refuse(h, GV_EINVAL, "a 17th workflow function");
  for (int i = 0; i < h->nfunctions; i++)
    if (strcmp(h->functions[i].name, name) == 0) return gv_host_refuse(h, GV_EINVAL, "a workflow function named twice");
  snprintf(h->functions[h->nfunctions].name, sizeof h->functions[0].name, "%s", name);
  h->functions[h->nfunctions++].fn = fn;
  return GV_OK;
}

int gv_host_migrations(gv_host *h, const gv_plugin_migration *m, size_t n, gv_error *err) {
  int rc = registering(h, "gv_host_migrations");
  if (rc != GV_OK) return gv_error_set(err, rc, NULL, "gv_host_migrations is only for init");
  for (size_t i = 0; i < n && rc == GV_OK; i++) {
    /* One at a time: the store's struct is the store's, the plugin's is the header's. */
    gv_store_migration one = {m[i].version, m[i].name, m[i].sql};
    rc = gv_store_plugin_migrate(h->all->store, h->plugin->name, &one, 1, err);
  }
  return rc;
}

/* ---- The host API: while running ------------------------------------------------------------ */

int gv_host_receipt_int(gv_host *h, const char *name, int64_t value) {
  gv_plugins *p = h->all;
  if (!p->in_event) return gv_host_refuse(h, GV_ESTATE, "gv_host_receipt_int outside an event hook");
  if (name == NULL || !*name || strlen(name) >= sizeof p->receipt[0].name)
    return gv_host_refuse(h, GV_EINVAL, "a receipt field needs a name of 1 to 31 bytes");
  for (int i = 0; i < p->nreceipt; i++)
    if (strcmp(p->receipt[i].name, name) == 0) {
      p->receipt[i].value = value;
      return GV_OK;
    }
  if (p->nreceipt == MAX_RECEIPT) return gv_host_refuse(h, GV_EINVAL, "a fifth receipt field");
  snprintf(p->receipt[p->nreceipt].name, sizeof p->receipt[0].name, "%s", name);
  p->receipt[p->nreceipt++].value = value;
  return GV_OK;
}

/* A gv_row is the store's row under the header's name. */
int64_t gv_row_int(const gv_row *r, int col) { return gv_store_row_int((const gv_store_row *)r, col); }
const char *gv_row_text(const gv_row *r, int col) { return gv_store_row_text((const gv_store_row *)r, col); }
const void *gv_row_blob(const gv_row *r, int col, size_t *len) {
  return gv_store_row_blob((const gv_store_row *)r, col, len);
}
int gv_row_is_null(const gv_row *r, int col) { return gv_store_row_is_null((const gv_store_row *)r, col); }

typedef struct row_relay {
  gv_row_fn fn;
  void *ud;
} row_relay;

static int relay_row(void *ud, const gv_store_row *row) {
  row_relay *x = ud;
  return x->fn(x->ud, (const gv_row *)row);
}

#define STACK_ARGS 16

int gv_host_sql(gv_host *h, const char *sql, const gv_arg *args, size_t nargs, gv_row_fn fn, void *ud,
                gv_error *err) {
  gv_store_arg stack[STACK_ARGS] = {{0}}, *a = stack;
  if (sql == NULL) return gv_error_set(err, gv_host_refuse(h, GV_EINVAL, "gv_host_sql without SQL"), NULL, "no SQL");
  if (nargs > STACK_ARGS && (a = gv_calloc(nargs, sizeof *a)) == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  for (size_t i = 0; i < nargs; i++) {
    int t = args[i].type == GV_ARG_INT    ? GV_STORE_ARG_INT
            : args[i].type == GV_ARG_TEXT ? GV_STORE_ARG_TEXT
            : args[i].type == GV_ARG_BLOB ? GV_STORE_ARG_BLOB
                                          : GV_STORE_ARG_NULL;
    a[i] = (gv_store_arg){t, args[i].i, args[i].s, args[i].b, args[i].n};
  }
  row_relay x = {fn, ud};
  int rc = gv_store_plugin_sql(h->all->store, h->plugin->name, sql, a, nargs, fn ? relay_row : NULL, &x, err);
  if (a != stack) free(a);
  return rc;
}

int gv_host_transaction(gv_host *h, int (*fn)(void *ud, gv_host *h, gv_error *err), void *ud, gv_error *err) {
  gv_store *s = h->all->store;
  if (gv_store_in_tx(s))
    return gv_error_set(err, gv_host_refuse(h, GV_ESTATE, "gv_host_transaction inside a transaction"), NULL,
                        "a transaction is already open");
  int rc = gv_store_begin(s, err);
  if (rc != GV_OK) return rc;
  rc = fn(ud, h, err);
  if (rc == GV_OK) return gv_store_commit(s, err);
  gv_store_rollback(s);
  return rc;
}

/* The store's rows are handed to plugins as they are: the two structs must stay alike. */
_Static_assert(sizeof(gv_state_row) == sizeof(gv_store_state_row), "gv_state_row differs from the store's");
_Static_assert(offsetof(gv_state_row, digest) == offsetof(gv_store_state_row, digest), "gv_state_row.digest");
_Static_assert(offsetof(gv_state_row, deleted) == offsetof(gv_store_state_row, deleted), "gv_state_row.deleted");
_Static_assert(GV_STATE_DIGEST_LEN == 32, "a state digest is a SHA-256");

typedef struct state_relay {
  gv_state_row_fn fn;
  void *ud;
} state_relay;

static int relay_state(void *ud, const gv_store_state_row *row) {
  state_relay *x = ud;
  return x->fn(x->ud, (const gv_state_row *)row);
}

int gv_host_state_rows(gv_host *h, gv_state_row_fn fn, void *ud, gv_error *err) {
  if (fn == NULL)
    return gv_error_set(err, gv_host_refuse(h, GV_EINVAL, "gv_host_state_rows without a function"), NULL,
                        "no function");
  state_relay x = {fn, ud};
  return gv_store_state_rows(h->all->store, relay_state, &x, err);
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

/* ---- Hooks the engine runs --------------------------------------------------------------------- */

static int event_hook(void *ud, const gv_event *e, gv_error *err) {
  gv_plugins *p = ud;
  /* As the store keeps it: an empty member is NULL. */
  const char *member = e->member && *e->member ? e->member : NULL;
  gv_plugin_event pe = {sizeof pe, e->id, e->forum_id,    e->item_id,  e->kind, e->action, e->actor_id, member,
                        e->at,     e->from_state, e->to_state, e->params ? e->params : "{}", e->sealed,
                        e->nrows,  (const gv_state_row *)e->rows, {0}};
  memcpy(pe.state_digest, e->state_digest, sizeof pe.state_digest);
  int rc = GV_OK;
  p->in_event = 1;
  for (size_t i = 0; i < p->n && rc == GV_OK; i++) {
    gv_host *h = &p->hosts[i];
    for (int k = 0; h->started && k < h->nevent && rc == GV_OK; k++) rc = h->on_event[k](h->state, h, &pe, err);
  }
  p->in_event = 0;
  return rc;
}

static void receipt_hook(void *ud, gv_action_res *res) {
  gv_plugins *p = ud;
  size_t room = sizeof res->extra / sizeof res->extra[0];
  for (int i = 0; res && i < p->nreceipt && (size_t)res->nextra < room; i++) {
    snprintf(res->extra[res->nextra].name, sizeof res->extra[0].name, "%s", p->receipt[i].name);
    res->extra[res->nextra++].value = p->receipt[i].value;
  }
  p->nreceipt = 0;
}

static void commit_listener(gv_engine *e, int64_t first, int64_t last, void *ud) {
  gv_plugins *p = ud;
  (void)e;
  p->nreceipt = 0;
  for (size_t i = 0; i < p->n; i++) {
    gv_host *h = &p->hosts[i];
    for (int k = 0; h->started && k < h->ncommit; k++) h->on_commit[k](h->state, h, first, last);
  }
}

/* gavel.call("plugin.name", ...). */
static int call_function(void *ud, const char *name, const char *args_json, char **out, gv_error *err) {
  gv_plugins *p = ud;
  const char *dot = name ? strchr(name, '.') : NULL;
  *out = NULL;
  for (size_t i = 0; p && dot && i < p->n; i++) {
    gv_host *h = &p->hosts[i];
    size_t pl = strlen(h->plugin->name);
    if (!h->started || (size_t)(dot - name) != pl || strncmp(name, h->plugin->name, pl) != 0) continue;
    for (int k = 0; k < h->nfunctions; k++)
      if (strcmp(h->functions[k].name, dot + 1) == 0) {
        int rc = h->functions[k].fn(h->state, h, args_json, out, err);
        if (rc == GV_OK && *out == NULL) *out = gv_strdup("null");
        if (rc == GV_OK && *out == NULL) rc = gv_error_set(err, GV_ENOMEM, NULL, NULL);
        return rc;
      }
  }
  return gv_error_set(err, GV_ENOTFOUND, NULL, "no plugin offers %s", name ? name : "(nil)");
}

void gv_plugins_hooks(gv_plugins *p, gv_engine_hooks *out) {
  memset(out, 0, sizeof *out);
  if (p == NULL) return;
  out->event = event_hook;
  out->event_ud = p;
  out->receipt = receipt_hook;
  out->receipt_ud = p;
  out->call = call_function;
  out->call_ud = p;
  out->commit[0].fn = commit_listener;
  out->commit[0].ud = p;
  out->ncommit = 1;
}

void gv_plugins_attach(gv_plugins *p, gv_engine *e) {
  if (p) p->engine = e;
}

/* ---- Starting and stopping ---------------------------------------------------------------------- */

/* A plugin's name prefixes its tables: lower-case letters and digits only, so that no
 * plugin's prefix ("audit_") can cover another's tables ("audit_x_..."). */
static int valid_name(const char *n) {
  if (n == NULL || !(*n >= 'a' && *n <= 'z') || strlen(n) > 24) return 0;
  for (; *n; n++)
    if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9'))) return 0;
  return 1;
}

int gv_plugins_check(const gv_plugin *pl, gv_error *err) {
  if (!valid_name(pl->name))
    return gv_error_set(err, GV_ECONFIG, NULL, "plugin name '%s' must be lower-case letters and digits",
                        pl->name ? pl->name : "");
  char prefix[32];
  snprintf(prefix, sizeof prefix, "%s_", pl->name);
  if (gv_store_core_name(prefix, strlen(prefix)))
    return gv_error_set(err, GV_ECONFIG, NULL, "plugin name '%s' is taken: Gavel's own tables begin with %s",
                        pl->name, prefix);
  if (pl->api_version == 0 || pl->api_version > GV_PLUGIN_API_VERSION)
    return gv_error_set(err, GV_ECONFIG, NULL, "plugin %s needs plugin API %u; this Gavel has %d", pl->name,
                        pl->api_version, GV_PLUGIN_API_VERSION);
  if (pl->init == NULL) return gv_error_set(err, GV_ECONFIG, NULL, "plugin %s has no init function", pl->name);
  return GV_OK;
}

static int start(gv_plugins *p, const gv_plugin *pl, const json_t *cfg, int for_command, gv_error *err) {
  int rc = gv_plugins_check(pl, err);
  if (rc != GV_OK) return rc;
  if (p->n == MAX_PLUGINS) return gv_error_set(err, GV_ECONFIG, NULL, "more than %d plugins", MAX_PLUGINS);
  gv_host *h = &p->hosts[p->n];
  memset(h, 0, sizeof *h);
  h->all = p;
  h->plugin = pl;
  h->for_command = for_command;
  /* The plugin sees its own settings; where its code came from is the host's business. */
  json_t *own = json_is_object(cfg) ? json_deep_copy(cfg) : json_object();
  json_object_del(own, "path");
  char *cj = own ? json_dumps(own, JSON_COMPACT) : NULL;
  json_decref(own);
  if (cj == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  h->in_init = 1;
  rc = pl->init(h, cj, &h->state, err);
  h->in_init = 0;
  free(cj);
  if (rc != GV_OK) {
    /* A plugin that fails to start is left out (and shut down if it kept state). */
    if (pl->shutdown && h->state) pl->shutdown(h->state);
    return rc;
  }
  h->started = 1;
  p->n++;
  gv_log(GV_LOG_INFO, "plugin.started", "name=%s version=%s", pl->name, pl->version ? pl->version : "");
  return GV_OK;
}

/* Every name in the plugins table must be a plugin: a misspelt one would be silently ignored. */
static int check_names(const json_t *config, gv_error *err) {
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)config, name, v) {
    if (find_known(name)) continue;
    char names[256] = "";
    for (size_t i = 0; i < nknown; i++)
      snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", known[i]->name);
    return gv_error_set(err, GV_ECONFIG, NULL, "plugins: no plugin named '%s' (there are: %s)", name, names);
  }
  return GV_OK;
}

int gv_plugins_open(const gv_plugins_options *o, gv_plugins **out, gv_error *err) {
  *out = NULL;
  json_t *config = NULL;
  gv_plugins *p = NULL;
  int rc = GV_OK;
  if (o->config_json && *o->config_json) {
    config = json_loads(o->config_json, 0, NULL);
    if (!json_is_object(config)) {
      rc = gv_error_set(err, GV_ECONFIG, NULL, "plugins: the settings are not a table");
      goto done;
    }
  }
  if ((rc = gv_plugins_load(o->config_json, err)) != GV_OK) goto done;
  if (config && (rc = check_names(config, err)) != GV_OK) goto done;
  if ((p = gv_calloc(1, sizeof *p)) == NULL) {
    rc = gv_error_set(err, GV_ENOMEM, NULL, NULL);
    goto done;
  }
  p->store = o->store;
  p->forum = o->forum;
  snprintf(p->db_path, sizeof p->db_path, "%s", o->db_path ? o->db_path : "");
  if (o->only && find_known(o->only) == NULL) {
    rc = gv_error_set(err, GV_ENOTFOUND, NULL, "no plugin '%s'", o->only);
    goto done;
  }
  for (size_t i = 0; i < nknown; i++) {
    const json_t *cfg = config ? json_object_get(config, known[i]->name) : NULL;
    if (o->only ? strcmp(o->only, known[i]->name) != 0 : cfg && json_is_false(cfg)) continue;
    gv_error e2;
    gv_error_clear(&e2);
    /* A plugin that cannot start stops the start: running without the audit log (or
     * mail) the forum configured would silently lose what it promised. */
    if (start(p, known[i], cfg, o->only != NULL, &e2) != GV_OK) {
      /* Not logged here: the caller reports it once (as file:line when it is a setting). */
      if (err) *err = e2;
      rc = e2.code ? e2.code : GV_ECONFIG;
      goto done;
    }
  }
done:
  json_decref(config);
  if (rc != GV_OK) {
    gv_plugins_close(p);
    return rc;
  }
  *out = p;
  return GV_OK;
}

void gv_plugins_close(gv_plugins *p) {
  if (p == NULL) return;
  for (size_t i = p->n; i-- > 0;)
    if (p->hosts[i].started && p->hosts[i].plugin->shutdown) p->hosts[i].plugin->shutdown(p->hosts[i].state);
  free(p);
}

/* ---- Routes ------------------------------------------------------------------------------------- */

size_t gv_plugins_routes(gv_plugin_route_ref *out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < nknown; i++)
    for (const gv_plugin_route *r = known[i]->routes; r && r->method; r++)
      if (n < max) out[n++] = (gv_plugin_route_ref){r, known[i]};
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

/* ---- Commands ----------------------------------------------------------------------------------- */

const gv_plugin_command *gv_plugins_find_command(int argc, char **argv, const gv_plugin **owner, int *used) {
  for (size_t i = 0; i < nknown; i++)
    for (const gv_plugin_command *c = known[i]->commands; c && c->name; c++) {
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
        *owner = known[i];
        *used = words;
        return c;
      }
    }
  return NULL;
}

const gv_plugin_command *gv_plugins_find_standalone(const gv_plugin_command *c, const gv_plugin *owner) {
  if (owner->api_version < 5) return NULL;
  for (const gv_plugin_command *k = owner->standalone_commands; k && k->name; k++)
    if (strcmp(k->name, c->name) == 0) return k;
  return NULL;
}

void gv_plugins_print_commands(FILE *out) {
  for (size_t i = 0; i < nknown; i++)
    for (const gv_plugin_command *c = known[i]->commands; c && c->name; c++)
      fprintf(out, "  %-18s %s\n", c->name, c->summary);
}

int gv_plugins_run_command(gv_plugins *p, const gv_plugin_command *c, int argc, char **argv) {
  for (size_t i = 0; p && i < p->n; i++)
    for (const gv_plugin_command *k = p->hosts[i].plugin->commands; k && k->name; k++)
      if (k == c) return c->fn(p->hosts[i].state, &p->hosts[i], argc, argv);
  gv_log(GV_LOG_ERROR, "plugin.command", "command=\"%s\" error=\"its plugin is not running\"", c->name);
  return 1;
}
