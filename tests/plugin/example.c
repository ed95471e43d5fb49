/* A plugin built outside the tree, against include/gavel/plugin.h alone, that uses every entry of the API. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gavel/plugin.h"

#ifndef EXAMPLE_API_VERSION
#define EXAMPLE_API_VERSION GV_PLUGIN_API_VERSION
#endif

typedef struct example {
  gv_host *h;
  char greeting[64];
  long commits;
  int serving, stopped;
  int second_reply;        /* what the host said to the second reply of /twice */
} example;

static const gv_plugin_migration migrations[] = {
    {1, "seen", "CREATE TABLE example_seen (event_id INTEGER PRIMARY KEY, action TEXT, digest BLOB NOT NULL);"},
    {2, "notes", "CREATE TABLE example_notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, at INTEGER NOT NULL);"},
    {3, "state rows",
     "CREATE TABLE example_rows (id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, tbl TEXT NOT NULL,"
     " row_id INTEGER NOT NULL, digest BLOB);"
     "ALTER TABLE example_seen ADD COLUMN state_ok INTEGER;"},
};

/* ---- Hooks ------------------------------------------------------------------------------------ */

static int on_event(void *state, gv_host *h, const gv_plugin_event *ev, gv_error *err) {
  uint8_t d[GV_HASH_SHA256_LEN];
  gv_hash *x = gv_hash_sha256_begin();
  gv_hash_sha256_add(x, ev->kind, strlen(ev->kind));
  gv_hash_sha256_add(x, ev->params_json, strlen(ev->params_json));
  gv_hash_sha256_end(x, d);
  gv_arg a[3] = {GV_INT(ev->id), ev->action ? GV_TEXT(ev->action) : GV_NULL_ARG, GV_BLOB(d, sizeof d)};
  int rc = gv_host_sql(h, "INSERT INTO example_seen(event_id, action, digest) VALUES (?1, ?2, ?3)", a, 3, NULL, NULL, err);
  if (rc != GV_OK) return rc;
  /* Version 3: the rows the event wrote, and their digest, which must be the SHA-256 of
   * the row digests in order. */
  if (ev->size >= offsetof(gv_plugin_event, state_digest) + sizeof ev->state_digest) {
    gv_hash *all = gv_hash_sha256_begin();
    for (size_t i = 0; i < ev->nrows && rc == GV_OK; i++) {
      const gv_state_row *row = &ev->rows[i];
      gv_hash_sha256_add(all, row->digest, sizeof row->digest);
      gv_arg r[4] = {GV_INT(ev->id), GV_TEXT(row->table), GV_INT(row->rowid),
                     row->deleted ? GV_NULL_ARG : GV_BLOB(row->digest, sizeof row->digest)};
      rc = gv_host_sql(h, "INSERT INTO example_rows(event_id, tbl, row_id, digest) VALUES (?1, ?2, ?3, ?4)", r, 4, NULL,
                       NULL, err);
    }
    uint8_t want[GV_HASH_SHA256_LEN];
    gv_hash_sha256_end(all, want);
    gv_arg ok[2] = {GV_INT(memcmp(want, ev->state_digest, sizeof want) == 0), GV_INT(ev->id)};
    if (rc == GV_OK) rc = gv_host_sql(h, "UPDATE example_seen SET state_ok = ?1 WHERE event_id = ?2", ok, 2, NULL, NULL, err);
    if (rc != GV_OK) return rc;
  }
  return gv_host_receipt_int(h, "example_event", ev->id);
}

static void on_commit(void *state, gv_host *h, int64_t first, int64_t last) {
  example *ex = state;
  ex->commits++;
  gv_host_logf(h, GV_LOG_INFO, "committed", "first=%lld last=%lld", (long long)first, (long long)last);
}

/* Version 4: the plugin's own lines in /metrics. */
static int metrics(void *state, gv_host *h, gv_str *out) {
  example *ex = state;
  return gv_str_printf(out,
                       "# HELP gavel_example_commits_total Commits the example plugin heard of.\n"
                       "# TYPE gavel_example_commits_total counter\ngavel_example_commits_total %ld\n",
                       (long)ex->commits);
}

static void on_serve(void *state, gv_host *h, void *loop) { ((example *)state)->serving = loop != NULL; }
static void on_stop(void *state, gv_host *h) { ((example *)state)->stopped = 1; }

/* gavel.call("example.double", n) -> 2n */
static int wf_double(void *state, gv_host *h, const char *args_json, char **result_json, gv_error *err) {
  long long n = 0;
  if (sscanf(args_json, "[%lld", &n) != 1) return gv_error_set(err, GV_EPARAM, NULL, "example.double needs a number");
  gv_str *s = gv_str_new();
  gv_str_printf(s, "%lld", 2 * n);
  *result_json = gv_str_finish(s);
  return *result_json ? GV_OK : gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
}

/* ---- Routes ----------------------------------------------------------------------------------- */

static int count_row(void *ud, const gv_row *row) {
  *(long long *)ud = gv_row_is_null(row, 0) ? -1 : gv_row_int(row, 0);
  return 0;
}

static int digest_row(void *ud, const gv_row *row) {
  size_t n = 0;
  const void *b = gv_row_blob(row, 0, &n);
  const char *t = gv_row_text(row, 1);
  if (b && n == GV_HASH_SHA256_LEN && t) *(int *)ud = 1;
  return 1; /* the first row is enough */
}

static int appendf(gv_str *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = gv_str_vprintf(s, fmt, ap);
  va_end(ap);
  return rc;
}

/* The text buffer's own functions: "ab" + 'c' + "d1" -> "abcd1", freed without being handed over. */
static int str_ok(void) {
  gv_str *t = gv_str_new();
  gv_str_append(t, "ab", 2);
  gv_str_putc(t, 'c');
  appendf(t, "%s%d", "d", 1);
  int ok = gv_str_len(t) == 5 && strcmp(gv_str_data(t), "abcd1") == 0;
  gv_str_free(t);
  return ok;
}

/* Everything the helpers compute, for the test to compare with Python's own results. */
static void helpers_json(gv_str *s) {
  uint8_t mac[GV_HASH_SHA256_LEN], sha[GV_HASH_SHA256_LEN], priv[GV_SIGN_KEY_LEN], pub[GV_SIGN_KEY_LEN],
      pub2[GV_SIGN_KEY_LEN], sig[GV_SIGN_SIG_LEN], rnd[16] = {0}, back[16];
  char hex[2 * GV_HASH_SHA256_LEN + 1], hex2[2 * GV_HASH_SHA256_LEN + 1], b64[64], when[GV_CLOCK_BUFSZ], local[64];
  gv_hash_hmac_sha256("key", 3, "abc", 3, mac);
  gv_text_hex(mac, sizeof mac, hex);
  gv_hash_sha256("abc", 3, sha);
  gv_text_hex(sha, sizeof sha, hex2);
  int signed_ok = gv_sign_keygen(priv, pub) == GV_OK && gv_sign_public(priv, pub2) == GV_OK &&
                  memcmp(pub, pub2, sizeof pub) == 0 && gv_sign_ed25519(priv, "note", 4, sig) == GV_OK &&
                  gv_sign_verify(pub, "note", 4, sig) && !gv_sign_verify(pub, "nope", 4, sig);
  gv_random_wipe(priv, sizeof priv);
  int random_ok = gv_random_bytes(rnd, sizeof rnd) == GV_OK;
  int nonzero = 0;
  for (size_t i = 0; i < sizeof rnd; i++) nonzero |= rnd[i];
  gv_text_base64((const uint8_t *)"hello", 5, b64);
  long blen = gv_text_unbase64(b64, back, sizeof back);
  int64_t parsed = 0, dur = 0;
  gv_clock_format(86400000, when);
  int parse_ok = gv_clock_parse("1970-01-02T04:00:00+04:00", &parsed) == GV_OK;
  int dur_ok = gv_clock_parse_duration("14d", &dur) == GV_OK;
  gv_clock_strftime(0, "Indian/Mauritius", "%H:%M", local, sizeof local);
  gv_str_printf(s,
                "\"hmac\": \"%s\", \"sha256\": \"%s\", \"signed\": %s, \"random\": %s, \"base64\": \"%s\", "
                "\"unbase64\": \"%.*s\", \"clock_format\": \"%s\", \"clock_parse\": %lld, \"duration\": %lld, "
                "\"local\": \"%s\", \"real_ms\": %s, \"str\": %s",
                hex, hex2, signed_ok ? "true" : "false", random_ok && nonzero ? "true" : "false", b64,
                blen > 0 ? (int)blen : 0, (const char *)back, when, parse_ok ? (long long)parsed : -1LL,
                dur_ok ? (long long)dur : -1LL, local, gv_clock_real_ms() > 1700000000000LL ? "true" : "false",
                str_ok() ? "true" : "false");
}

/* Every current state row, and how many item rows are what the events said they left. */
typedef struct state_count {
  gv_host *h;
  long long rows, items_matched;
} state_count;

static int last_digest(void *ud, const gv_row *row) {
  size_t n = 0;
  const void *b = gv_row_blob(row, 0, &n);
  if (b && n == GV_STATE_DIGEST_LEN) memcpy(ud, b, n);
  return 1;
}

static int count_state(void *ud, const gv_state_row *row) {
  state_count *c = ud;
  c->rows++;
  if (strcmp(row->table, "items") != 0) return 0;
  uint8_t logged[GV_STATE_DIGEST_LEN] = {0};
  gv_arg a[1] = {GV_INT(row->rowid)};
  gv_error err;
  gv_host_sql(c->h, "SELECT digest FROM example_rows WHERE tbl = 'items' AND row_id = ?1 ORDER BY id DESC LIMIT 1", a, 1,
              last_digest, logged, &err);
  if (memcmp(logged, row->digest, sizeof logged) == 0) c->items_matched++;
  return 0;
}

/* Version 5: the workflow versions the record ran under, each with its source. */
static int count_version(void *ud, const gv_workflow_version *v) {
  if (v->size >= sizeof *v && v->sha256 && strlen(v->sha256) == 64 && v->source && *v->source) ++*(long long *)ud;
  return 0;
}

static void r_state(void *state, gv_host *h, gv_request *r) {
  example *ex = state;
  gv_error err;
  gv_error_clear(&err);
  long long seen = 0;
  int digests = 0;
  gv_host_sql(h, "SELECT count(*) FROM example_seen", NULL, 0, count_row, &seen, &err);
  gv_host_sql(h, "SELECT digest, action FROM example_seen WHERE action IS NOT NULL ORDER BY event_id", NULL, 0,
              digest_row, &digests, &err);
  state_count sc = {h, 0, 0};
  long long state_ok = 0, state_bad = 0;
  gv_host_state_rows(h, count_state, &sc, &err);
  long long versions = 0;
  gv_host_workflow_versions(h, count_version, &versions, &err);
  char *definition = gv_host_forum_definition(h);
  int definition_ok = definition && strstr(definition, "\"members\"") != NULL;
  free(definition);
  gv_host_sql(h, "SELECT count(*) FROM example_seen WHERE state_ok = 1", NULL, 0, count_row, &state_ok, &err);
  gv_host_sql(h, "SELECT count(*) FROM example_seen WHERE state_ok = 0", NULL, 0, count_row, &state_bad, &err);
  gv_str *s = gv_str_new();
  gv_str_printf(s, "{\"workflow_versions\": %lld, \"forum_definition\": %s, ", versions,
                definition_ok ? "true" : "false");
  gv_str_printf(s, "\"state_rows\": %lld, \"items_matched\": %lld, \"state_digests_ok\": %s, ", sc.rows,
                sc.items_matched, state_ok > 0 && state_bad == 0 ? "true" : "false");
  gv_str_printf(s, "\"greeting\": \"%s\", \"seen\": %lld, \"digests\": %s, \"commits\": %ld, \"serving\": %s, ",
                ex->greeting, seen, digests ? "true" : "false", ex->commits, ex->serving ? "true" : "false");
  gv_str_printf(s, "\"second_reply\": \"%s\", \"forum\": \"%s\", \"forum_name\": \"%s\", \"title_fr\": \"%s\", ",
                gv_err_name(ex->second_reply), gv_host_forum_id(h), gv_host_forum_name(h), gv_host_forum_title(h, "fr"));
  gv_str_printf(s, "\"time_zone\": \"%s\", \"member_name\": \"%s\", \"now\": %s, \"for_command\": %d, ",
                gv_host_forum_time_zone(h), gv_host_member_name(h, "MU", "fr"), gv_host_now(h) > 0 ? "true" : "false",
                gv_host_for_command(h));
  helpers_json(s);
  gv_str_puts(s, "}");
  size_t len = gv_str_len(s);
  char *body = gv_str_finish(s);
  static const char *const headers[] = {"X-Example", "yes", NULL};
  if (body == NULL) {
    gv_request_error(r, GV_ENOMEM, "out of memory", NULL);
    return;
  }
  gv_request_reply_headers(r, 200, "application/json", headers, body, len);
  free(body);
}

static void r_twice(void *state, gv_host *h, gv_request *r) {
  example *ex = state;
  const char *word = gv_request_param(r, "word");
  char copy[64];
  snprintf(copy, sizeof copy, "%s", word ? word : "");
  gv_request_reply(r, 200, "text/plain", copy, strlen(copy));
  ex->second_reply = gv_request_reply(r, 200, "text/plain", "again", 5);
}

static int count_person(void *ud, const gv_person *p) {
  (*(int *)ud)++;
  return 0;
}

static int person_name(void *ud, const gv_person *p) {
  snprintf(ud, 64, "%s", p->username);
  return 0;
}

static void r_whoami(void *state, gv_host *h, gv_request *r) {
  char q[32], buf[2048], who[64] = "";
  const char *lang = gv_request_query(r, "lang", q, sizeof q);
  const char *item = gv_request_param(r, "item");
  gv_item_info info;
  gv_error err;
  gv_error_clear(&err);
  int64_t id = item ? strtoll(item, NULL, 10) : 0;
  if (id <= 0 || gv_host_item(h, id, lang ? lang : "en", "create", &info, &err) != GV_OK) {
    gv_request_error(r, GV_ENOTFOUND, "no such item", "item");
    return;
  }
  int secretariat = 0;
  gv_host_audience(h, "\"secretariat\"", id, count_person, &secretariat, &err);
  gv_host_person(h, 1, person_name, who, &err);
  const char *member = gv_request_member(r);
  /* An event as readers see it (version 5), and a change of mail settings refused twice. */
  char eq[32];
  const char *ev = gv_request_query(r, "event", eq, sizeof eq);
  gv_event_text et;
  if (ev == NULL || gv_host_event_text(h, strtoll(ev, NULL, 10), lang ? lang : "en", &et, &err) != GV_OK)
    memset(&et, 0, sizeof et);
  int refused = gv_host_person_set_notify(h, 1, "never", &err) == GV_EINVAL &&
                gv_host_person_set_notify(h, 999999, "none", &err) == GV_ENOTFOUND;
  snprintf(buf, sizeof buf,
           "{\"username\": \"%s\", \"role\": \"%s\", \"member\": \"%s\", \"chair\": %s, \"agent\": \"%s\", "
           "\"title\": \"%s\", \"state_label\": \"%s\", \"workflow\": \"%s\", \"secretariat\": %d, \"user1\": \"%s\", "
           "\"answered\": %s, \"event_action\": \"%s\", \"event_state_label\": \"%s\", \"notify_refused\": %s}",
           gv_request_username(r) ? gv_request_username(r) : "", gv_request_role(r) ? gv_request_role(r) : "",
           member ? member : "", gv_request_is_chair(r) ? "true" : "false",
           gv_request_header(r, "X-Agent") ? gv_request_header(r, "X-Agent") : "", info.title, info.state_label,
           info.workflow, secretariat, who, gv_host_member_answered(h, id, "MU") ? "true" : "false", et.action,
           et.state_label, refused ? "true" : "false");
  gv_request_reply(r, 200, "application/json", buf, strlen(buf));
}

/* Version 5: the request's body, and an event as a reader without privileges sees it. */
static void r_echo(void *state, gv_host *h, gv_request *r) {
  char q[32];
  size_t len = 0;
  const char *body = gv_request_body(r, &len);
  const char *event = gv_request_query(r, "event", q, sizeof q);
  char *ev = NULL;
  gv_error err;
  gv_error_clear(&err);
  if (event == NULL || gv_host_event_json(h, strtoll(event, NULL, 10), &ev, &err) != GV_OK) {
    gv_request_error(r, err.code ? err.code : GV_EINVAL, err.message, "event");
    return;
  }
  gv_str *out = gv_str_new();
  gv_str_printf(out, "{\"body_len\": %zu, \"body\": %s, \"event\": %s}", len, body && len ? body : "null", ev);
  free(ev);
  char *text = gv_str_finish(out);
  if (text) gv_request_reply(r, 200, "application/json", text, strlen(text));
  else gv_request_error(r, GV_ENOMEM, "out of memory", NULL);
  free(text);
}

static const gv_plugin_route routes[] = {
    {"GET", "/v1/example/state", GV_ROUTE_PUBLIC, r_state},
    {"POST", "/v1/example/echo", 0, r_echo},
    {"GET", "/v1/example/twice/{word}", GV_ROUTE_PUBLIC, r_twice},
    {"GET", "/v1/example/items/{item}", 0, r_whoami},
    {NULL},
};

/* ---- Commands ---------------------------------------------------------------------------------- */

typedef struct note {
  const char *text;
} note;

static int add_note(void *ud, gv_host *h, gv_error *err) {
  note *n = ud;
  gv_arg a[2] = {GV_TEXT(n->text), GV_INT(gv_clock_real_ms())};
  return gv_host_sql(h, "INSERT INTO example_notes(text, at) VALUES (?1, ?2)", a, 2, NULL, NULL, err);
}

static int cmd_note(void *state, gv_host *h, int argc, char **argv) {
  if (argc != 1) {
    fprintf(stderr, "usage: gavel example note TEXT\n");
    return 2;
  }
  note n = {argv[0]};
  gv_error err;
  gv_error_clear(&err);
  if (gv_host_transaction(h, add_note, &n, &err) != GV_OK) {
    fprintf(stderr, "example note: %s (%s)\n", err.message, gv_strerror(err.code));
    return 1;
  }
  long long notes = 0, seen = 0;
  gv_host_sql(h, "SELECT count(*) FROM example_notes", NULL, 0, count_row, &notes, &err);
  gv_host_sql(h, "SELECT count(*) FROM example_seen", NULL, 0, count_row, &seen, &err);
  printf("notes=%lld seen=%lld for_command=%d db=%s\n", notes, seen, gv_host_for_command(h), gv_host_db_path(h));
  return 0;
}

static const gv_plugin_command commands[] = {
    {"example note", "TEXT", "keep a note in the example plugin's table", cmd_note},
    {NULL},
};

/* ---- The plugin --------------------------------------------------------------------------------- */

static int init(gv_host *h, const char *config_json, void **state, gv_error *err) {
  example *ex = calloc(1, sizeof *ex);
  if (ex == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  *state = ex;
  ex->h = h;
  snprintf(ex->greeting, sizeof ex->greeting, "none");
  const char *g = strstr(config_json, "\"greeting\":");
  /* The host hands the settings as compact JSON: {"greeting":"hi"}. */
  if (g && sscanf(g, "\"greeting\":\"%63[^\"]\"", ex->greeting) != 1) snprintf(ex->greeting, sizeof ex->greeting, "?");
  int rc = gv_host_migrations(h, migrations, sizeof migrations / sizeof migrations[0], err);
  if (rc == GV_OK) rc = gv_host_on_event(h, on_event);
  if (rc == GV_OK) rc = gv_host_on_commit(h, on_commit);
  if (rc == GV_OK) rc = gv_host_on_serve(h, on_serve, on_stop);
  if (rc == GV_OK) rc = gv_host_workflow_function(h, "double", wf_double);
  if (rc == GV_OK) rc = gv_host_on_metrics(h, metrics);
  if (rc != GV_OK && err->code == GV_OK) gv_error_set(err, rc, NULL, "example: registration failed");
  gv_host_log(h, GV_LOG_INFO, "ready", ex->greeting);
  return rc;
}

static void shutdown_plugin(void *state) { free(state); }

GV_PLUGIN_EXPORT const gv_plugin gavel_plugin = {
    EXAMPLE_API_VERSION, "example", "1.0", "a plugin built outside the tree", init, shutdown_plugin, commands, routes,
    {0}, NULL,
};
