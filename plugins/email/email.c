/* The email plugin: each notification an action writes to the outbox becomes one delivery per
 * person it concerns, kept in the database until the SMTP server accepted it (at least once,
 * with a stable Message-ID), retried with back-off, or gathered into a daily digest. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "email.h"

typedef struct email {
  gv_host *h;
  email_settings s;
  uv_loop_t *loop;
  uv_timer_t tick;
  int tick_open;
  int curl_ready;
  email_smtp *smtp;
  /* Since the server started, for /metrics: accepted by the SMTP server, tried again later,
   * given up on. */
  uint64_t sent, deferred, failed;
} email;

static void on_tick(uv_timer_t *t);

static const gv_plugin_migration migrations[] = {
  {1, "deliveries",
   "CREATE TABLE email_state ("
   "  name TEXT PRIMARY KEY,"
   "  value INTEGER NOT NULL"
   ");"
   "CREATE TABLE email_deliveries ("
   "  id INTEGER PRIMARY KEY,"
   "  outbox_id INTEGER,"                   /* NULL for a digest */
   "  user_id INTEGER NOT NULL,"
   "  kind TEXT NOT NULL CHECK (kind IN ('each','digest','summary')),"
   "  message_id TEXT NOT NULL UNIQUE,"
   "  state TEXT NOT NULL CHECK (state IN ('pending','waiting','digested','sent','failed','skipped')),"
   "  digest_id INTEGER,"                   /* the summary that carried it */
   "  attempts INTEGER NOT NULL DEFAULT 0,"
   "  next_at INTEGER NOT NULL,"
   "  last_error TEXT,"
   "  created_at INTEGER NOT NULL,"
   "  sent_at INTEGER,"
   "  UNIQUE (outbox_id, user_id)"
   ");"
   "CREATE INDEX email_deliveries_due ON email_deliveries(next_at) WHERE state = 'pending';"
   "CREATE INDEX email_deliveries_waiting ON email_deliveries(user_id) WHERE state = 'waiting';"},
  {2, "keys",
   /* The key that signs unsubscribe links: made once, kept with the database. */
   "CREATE TABLE email_keys ("
   "  name TEXT PRIMARY KEY,"
   "  value BLOB NOT NULL"
   ");"},
};

/* ---- Settings ------------------------------------------------------------------------------------ */

static int read_secret(const char *path, char *out, size_t size, gv_error *err) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return gv_error_set(err, GV_ECONFIG, NULL, "plugins.email: cannot read %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
    fclose(f);
    return gv_error_set(err, GV_ECONFIG, NULL, "plugins.email: %s can be read by other users; chmod 600 it", path);
  }
  if (fgets(out, (int)size, f) == NULL) out[0] = '\0';
  fclose(f);
  out[strcspn(out, "\r\n")] = '\0';
  return GV_OK;
}

static const char *const known[] = {"smtp", "from", "from_name", "security", "ca_file", "username", "password_file",
                                    "base_url", "digest_at", "max_attempts", "parallel", "first_retry", "max_retry",
                                    "timeout", "list_domain", NULL};

static int bad(gv_error *err, const char *name, const char *why) {
  return gv_error_set(err, GV_ECONFIG, NULL, "plugins.email: %s %s", name, why);
}

static int duration(json_t *cfg, const char *name, int64_t def, int64_t *out, gv_error *err) {
  json_t *v = json_object_get(cfg, name);
  *out = def;
  if (v == NULL) return GV_OK;
  if (!json_is_string(v) || gv_clock_parse_duration(json_string_value(v), out) != GV_OK || *out <= 0)
    return bad(err, name, "must be a duration such as \"90s\", \"5m\" or \"1h\"");
  return GV_OK;
}

/* Every setting is a known one, of its type (a string, or a whole number). */
static int check_known(json_t *cfg, gv_error *err) {
  const char *name;
  json_t *v;
  json_object_foreach(cfg, name, v) {
    int ok = 0;
    for (int i = 0; known[i]; i++) ok |= strcmp(known[i], name) == 0;
    if (!ok)
      return gv_error_set(err, GV_ECONFIG, NULL,
                          "plugins.email: unknown setting '%s' (known: smtp, from, from_name, security, ca_file, "
                          "username, password_file, base_url, digest_at, max_attempts, parallel, first_retry, "
                          "max_retry, timeout, list_domain)",
                          name);
    int number = strcmp(name, "max_attempts") == 0 || strcmp(name, "parallel") == 0;
    if (number ? !json_is_integer(v) : !json_is_string(v))
      return bad(err, name, number ? "must be a whole number" : "must be a string");
  }
  return GV_OK;
}

/* Retry delays, the transfer timeout, attempts, parallel transfers and the digest's time. */
static int read_timing(json_t *cfg, email_settings *s, gv_error *err) {
  int rc;
  if ((rc = duration(cfg, "first_retry", 60000, &s->first_retry_ms, err)) != GV_OK) return rc;
  if ((rc = duration(cfg, "max_retry", 3600000, &s->max_retry_ms, err)) != GV_OK) return rc;
  if (s->max_retry_ms > 86400000 || s->first_retry_ms > s->max_retry_ms)
    return bad(err, "first_retry", "must be at most max_retry, which is at most a day");
  int64_t t;
  if ((rc = duration(cfg, "timeout", 60000, &t, err)) != GV_OK) return rc;
  s->timeout_s = (long)(t / 1000 > 0 ? t / 1000 : 1);
  json_t *n = json_object_get(cfg, "max_attempts");
  if (n) s->max_attempts = (int)json_integer_value(n);
  if (s->max_attempts < 1 || s->max_attempts > 100)
    return bad(err, "max_attempts", "must be between 1 and 100");
  n = json_object_get(cfg, "parallel");
  if (n) s->parallel = (int)json_integer_value(n);
  if (s->parallel < 1 || s->parallel > EMAIL_MAX_PARALLEL)
    return bad(err, "parallel", "must be between 1 and 3 (transfers use the server's worker threads)");
  const char *at = json_string_value(json_object_get(cfg, "digest_at"));
  if (at) {
    int hh, mm;
    char end;
    if (sscanf(at, "%2d:%2d%c", &hh, &mm, &end) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || strlen(at) != 5)
      return bad(err, "digest_at", "must be a time of day such as \"08:00\" (the forum's time zone)");
    s->digest_minute = hh * 60 + mm;
  }
  return GV_OK;
}

/* The server's address, checked with libcurl's URL parser, against the security setting. */
static int check_server(const email_settings *s, gv_error *err) {
  int rc = GV_OK;
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  if (curl_url_set(u, CURLUPART_URL, s->smtp_url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)) {
    rc = bad(err, "smtp", "must be a URL such as \"smtp://mail.example.org:587\" or \"smtps://mail.example.org\"");
  } else if ((strcmp(scheme, "smtps") == 0) != (s->security == SEC_TLS)) {
    rc = bad(err, "security", "\"tls\" goes with an smtps:// address, \"starttls\" and \"none\" with smtp://");
  } else if (s->security == SEC_NONE && strcmp(host, "localhost") != 0 && strcmp(host, "127.0.0.1") != 0 &&
             strcmp(host, "[::1]") != 0) {
    rc = bad(err, "security", "\"none\" (mail in clear text) is allowed only for a server on this machine");
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

/* Parses the plugin's settings (JSON) into s; see email.h. */
int email_settings_parse(const char *config_json, const char *db_path, email_settings *s, gv_error *err) {
  memset(s, 0, sizeof *s);
  s->digest_minute = 8 * 60;
  s->max_attempts = 10;
  s->parallel = 2;
  s->timeout_s = 60;
  (void)db_path;
  json_t *cfg = json_loads(config_json ? config_json : "{}", 0, NULL);
  if (!json_is_object(cfg)) {
    json_decref(cfg);
    return bad(err, "settings", "must be a table");
  }
  int rc = GV_OK;
  if ((rc = check_known(cfg, err)) != GV_OK) goto out;
#define STR(key, field)                                                                                          \
  do {                                                                                                           \
    const char *x_ = json_string_value(json_object_get(cfg, key));                                              \
    if (x_ && strlen(x_) >= sizeof s->field) {                                                                   \
      rc = bad(err, key, "is too long");                                                                         \
      goto out;                                                                                                  \
    }                                                                                                            \
    if (x_) snprintf(s->field, sizeof s->field, "%s", x_);                                                       \
  } while (0)
  STR("smtp", smtp_url);
  STR("from", from);
  STR("from_name", from_name);
  STR("ca_file", ca_file);
  STR("username", username);
  STR("base_url", base_url);
  STR("list_domain", list_domain);
#undef STR
  size_t bl = strlen(s->base_url);
  while (bl > 0 && s->base_url[bl - 1] == '/') s->base_url[--bl] = '\0';
  if (s->base_url[0] && strncmp(s->base_url, "https://", 8) != 0 && strncmp(s->base_url, "http://", 7) != 0) {
    rc = bad(err, "base_url", "must start with https:// or http://");
    goto out;
  }
  const char *sec = json_string_value(json_object_get(cfg, "security"));
  if (sec == NULL || strcmp(sec, "starttls") == 0) s->security = SEC_STARTTLS;
  else if (strcmp(sec, "tls") == 0) s->security = SEC_TLS;
  else if (strcmp(sec, "none") == 0) s->security = SEC_NONE;
  else {
    rc = bad(err, "security", "must be \"starttls\" (the default), \"tls\" or \"none\"");
    goto out;
  }
  if ((rc = read_timing(cfg, s, err)) != GV_OK) goto out;
  if (s->smtp_url[0] == '\0') goto out; /* not configured: nothing is sent */
  s->configured = 1;
  if (!email_address_ok(s->from)) {
    rc = bad(err, "from", "must be a plain address such as \"noreply@example.org\"");
    goto out;
  }
  snprintf(s->domain, sizeof s->domain, "%s", strrchr(s->from, '@') + 1);
  if (s->list_domain[0] == '\0') snprintf(s->list_domain, sizeof s->list_domain, "%s", s->domain);
  for (const char *c = s->list_domain; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-')) {
      rc = bad(err, "list_domain", "must be a domain name such as \"lists.example.org\"");
      goto out;
    }
  if ((rc = check_server(s, err)) != GV_OK) goto out;
  const char *pw = json_string_value(json_object_get(cfg, "password_file"));
  if (pw && (rc = read_secret(pw, s->password, sizeof s->password, err)) != GV_OK) goto out;
  if (s->ca_file[0] && access(s->ca_file, R_OK) != 0) rc = bad(err, "ca_file", "cannot be read");
out:
  json_decref(cfg);
  return rc;
}

/* ---- From the outbox to deliveries ---------------------------------------------------------------- */

typedef struct ival {
  int found;
  int64_t v;
} ival;

static int read_ival(void *ud, const gv_row *r) {
  ival *x = ud;
  x->found = !gv_row_is_null(r, 0);
  x->v = gv_row_int(r, 0);
  return 1;
}

static int state_get(gv_host *h, const char *name, int64_t *out, gv_error *err) {
  ival x = {0, 0};
  gv_arg a[1] = {GV_TEXT(name)};
  int rc = gv_host_sql(h, "SELECT value FROM email_state WHERE name = ?1", a, 1, read_ival, &x, err);
  *out = x.found ? x.v : -1;
  return rc;
}

static int state_set(gv_host *h, const char *name, int64_t v, gv_error *err) {
  gv_arg a[2] = {GV_TEXT(name), GV_INT(v)};
  return gv_host_sql(h, "INSERT INTO email_state(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = ?2",
                     a, 2, NULL, NULL, err);
}

typedef struct expand_ctx {
  email *em;
  gv_error *err;
  int rc;
  int64_t last, outbox_id, now;
  int n;
} expand_ctx;

static int add_person(void *ud, const gv_person *p) {
  expand_ctx *x = ud;
  if (p->email == NULL || !email_address_ok(p->email) || strcmp(p->notify, "none") == 0) return 0;
  int digest = strcmp(p->notify, "digest") == 0;
  char mid[400];
  snprintf(mid, sizeof mid, "<gavel.%s.%lld.%lld@%s>", gv_host_forum_id(x->em->h), (long long)x->outbox_id,
           (long long)p->user_id, x->em->s.domain);
  gv_arg a[6] = {GV_INT(x->outbox_id), GV_INT(p->user_id), GV_TEXT(digest ? "digest" : "each"), GV_TEXT(mid),
                 GV_TEXT(digest ? "waiting" : "pending"), GV_INT(x->now)};
  x->rc = gv_host_sql(x->em->h,
                      "INSERT OR IGNORE INTO email_deliveries(outbox_id, user_id, kind, message_id, state, next_at,"
                      " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                      a, 6, NULL, NULL, x->err);
  return x->rc != GV_OK;
}

static int expand_row(void *ud, const gv_row *r) {
  expand_ctx *x = ud;
  x->outbox_id = gv_row_int(r, 0);
  x->rc = gv_host_audience(x->em->h, gv_row_text(r, 1), gv_row_int(r, 2), add_person, x, x->err);
  x->last = x->outbox_id;
  x->n++;
  return x->rc != GV_OK;
}

/* Turns new outbox rows into deliveries, a bounded number per transaction. */
static int expand_tx(void *ud, gv_host *h, gv_error *err) {
  expand_ctx *x = ud;
  int64_t seen;
  int rc = state_get(h, "outbox_seen", &seen, err);
  if (rc != GV_OK) return rc;
  if (seen < 0) {
    /* Mail starts with what is written from now on, not the history before it was set up. */
    ival m = {0, 0};
    rc = gv_host_sql(h, "SELECT coalesce(max(id), 0) FROM outbox", NULL, 0, read_ival, &m, err);
    if (rc == GV_OK) rc = state_set(h, "outbox_seen", m.v, err);
    return rc;
  }
  x->err = err;
  x->rc = GV_OK;
  x->last = seen;
  gv_arg a[1] = {GV_INT(seen)};
  rc = gv_host_sql(h, "SELECT id, audience, item_id FROM outbox WHERE id > ?1 ORDER BY id LIMIT 200", a, 1,
                   expand_row, x, err);
  if (rc == GV_OK) rc = x->rc;
  if (rc == GV_OK && x->last != seen) rc = state_set(h, "outbox_seen", x->last, err);
  return rc;
}

static int expand(email *em) {
  gv_error err;
  /* Most seconds nothing is new: look without taking the write lock. */
  int64_t seen;
  ival top = {0, 0};
  if (state_get(em->h, "outbox_seen", &seen, &err) != GV_OK ||
      gv_host_sql(em->h, "SELECT coalesce(max(id), 0) FROM outbox", NULL, 0, read_ival, &top, &err) != GV_OK)
    return -1;
  if (seen >= 0 && top.v <= seen) return 0;
  for (int rounds = 0; rounds < 10; rounds++) {
    expand_ctx x = {em, NULL, GV_OK, 0, 0, gv_host_now(em->h), 0};
    if (gv_host_transaction(em->h, expand_tx, &x, &err) != GV_OK) {
      gv_host_log(em->h, GV_LOG_ERROR, "expand_failed", err.message);
      return -1;
    }
    if (x.n < 200) break;
  }
  return 0;
}

/* ---- Daily digests ------------------------------------------------------------------------------------ */

typedef struct digest_ctx {
  email *em;
  gv_error *err;
  int rc;
  int64_t now;
  char day[16];
  int n;
} digest_ctx;

static int digest_user(void *ud, const gv_row *r) {
  digest_ctx *d = ud;
  int64_t user = gv_row_int(r, 0);
  char mid[400];
  snprintf(mid, sizeof mid, "<gavel.%s.digest.%s.%lld@%s>", gv_host_forum_id(d->em->h), d->day, (long long)user,
           d->em->s.domain);
  gv_arg a[3] = {GV_INT(user), GV_TEXT(mid), GV_INT(d->now)};
  d->rc = gv_host_sql(d->em->h,
                      "INSERT OR IGNORE INTO email_deliveries(user_id, kind, message_id, state, next_at, created_at)"
                      " VALUES (?1, 'summary', ?2, 'pending', ?3, ?3)",
                      a, 3, NULL, NULL, d->err);
  if (d->rc != GV_OK) return 1;
  gv_arg b[2] = {GV_INT(user), GV_TEXT(mid)};
  d->rc = gv_host_sql(d->em->h,
                      "UPDATE email_deliveries SET state = 'digested',"
                      " digest_id = (SELECT id FROM email_deliveries WHERE message_id = ?2)"
                      " WHERE user_id = ?1 AND state = 'waiting'",
                      b, 2, NULL, NULL, d->err);
  d->n++;
  return d->rc != GV_OK;
}

static int digest_tx(void *ud, gv_host *h, gv_error *err) {
  digest_ctx *d = ud;
  d->err = err;
  int rc = gv_host_sql(h, "SELECT DISTINCT user_id FROM email_deliveries WHERE state = 'waiting' ORDER BY user_id",
                       NULL, 0, digest_user, d, err);
  if (rc == GV_OK) rc = d->rc;
  int64_t daynum = 0;
  sscanf(d->day, "%lld", (long long *)&daynum);
  if (rc == GV_OK) rc = state_set(h, "digest_day", daynum, err);
  return rc;
}

/* Once a day, at digest_at in the forum's time zone, the waiting notifications of each
 * person who asked for a digest become one message. */
static void digest_if_due(email *em) {
  int64_t now = gv_host_now(em->h);
  const char *tz = gv_host_forum_time_zone(em->h);
  char day[16], hm[8];
  gv_clock_strftime(now, tz, "%Y%m%d", day, sizeof day);
  gv_clock_strftime(now, tz, "%H:%M", hm, sizeof hm);
  int minute = atoi(hm) * 60 + atoi(hm + 3);
  if (minute < em->s.digest_minute) return;
  gv_error err;
  int64_t last;
  if (state_get(em->h, "digest_day", &last, &err) != GV_OK || last >= atoll(day)) return;
  digest_ctx d = {em, NULL, GV_OK, now, "", 0};
  snprintf(d.day, sizeof d.day, "%s", day);
  if (gv_host_transaction(em->h, digest_tx, &d, &err) != GV_OK)
    gv_host_log(em->h, GV_LOG_ERROR, "digest_failed", err.message);
}

/* ---- Sending ---------------------------------------------------------------------------------------- */

typedef struct delivery {
  int64_t id, outbox_id, user_id, attempts, created_at;
  char kind[16];
  char message_id[400];
  int64_t item_id;
} delivery;

typedef struct person_copy {
  int found;
  gv_person p;
  char username[64], display_name[128], role[16], member[16], email[256], language[8], notify[8], time_zone[64];
} person_copy;

static int copy_person(void *ud, const gv_person *p) {
  person_copy *c = ud;
  c->found = 1;
  c->p = *p;
  snprintf(c->username, sizeof c->username, "%s", p->username);
  snprintf(c->display_name, sizeof c->display_name, "%s", p->display_name);
  snprintf(c->role, sizeof c->role, "%s", p->role);
  snprintf(c->member, sizeof c->member, "%s", p->member ? p->member : "");
  snprintf(c->email, sizeof c->email, "%s", p->email ? p->email : "");
  snprintf(c->language, sizeof c->language, "%s", p->language);
  snprintf(c->notify, sizeof c->notify, "%s", p->notify);
  c->p.username = c->username;
  c->p.display_name = c->display_name;
  c->p.role = c->role;
  c->p.member = c->member[0] ? c->member : NULL;
  c->p.email = c->email[0] ? c->email : NULL;
  c->p.language = c->language;
  c->p.notify = c->notify;
  /* A host before version 5 knows no reader's zone: the forum's is theirs. */
  const char *tz = p->size >= offsetof(gv_person, time_zone) + sizeof p->time_zone && p->time_zone ? p->time_zone : "";
  snprintf(c->time_zone, sizeof c->time_zone, "%s", tz);
  c->p.size = sizeof c->p;
  c->p.time_zone = c->time_zone[0] ? c->time_zone : NULL;
  return 0;
}

static void mark(email *em, int64_t id, const char *state, int64_t attempts, int64_t next_at, const char *error) {
  gv_error err;
  gv_arg a[6] = {GV_INT(id), GV_TEXT(state), GV_INT(attempts), GV_INT(next_at), error ? GV_TEXT(error) : GV_NULL_ARG,
                 GV_INT(gv_host_now(em->h))};
  if (gv_host_sql(em->h,
                  "UPDATE email_deliveries SET state = ?2, attempts = ?3, next_at = ?4, last_error = ?5,"
                  " sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END WHERE id = ?1",
                  a, 6, NULL, NULL, &err) != GV_OK)
    gv_host_log(em->h, GV_LOG_ERROR, "mark_failed", err.message);
}

typedef struct summary_ctx {
  email *em;
  const gv_person *p;
  char *text;
  size_t len;
  int n;
  int failed;
  FILE *out;
} summary_ctx;

static int summary_line(void *ud, const gv_row *r) {
  summary_ctx *c = ud;
  email_note note;
  gv_error err;
  if (email_render_note(c->em->h, &c->em->s, c->p, gv_row_int(r, 0), &note, &err) != GV_OK) {
    c->failed = 1;
    return 1;
  }
  if (!note.skip) {
    /* One line per notification: its subject without the forum's tag, and its link. */
    const char *subject = note.subject;
    const char *tag_end = strstr(subject, "] ");
    fprintf(c->out, "- %s\n", tag_end ? tag_end + 2 : subject);
    if (c->em->s.base_url[0] && !gv_row_is_null(r, 1) && gv_row_int(r, 1) > 0)
      fprintf(c->out, "  %s/items/%lld\n", c->em->s.base_url, (long long)gv_row_int(r, 1));
    c->n++;
  }
  email_note_clear(&note);
  return 0;
}

typedef struct text_row {
  int found;
  char text[400];
} text_row;

static int read_text_row(void *ud, const gv_row *r) {
  text_row *t = ud;
  t->found = gv_row_text(r, 0) != NULL;
  snprintf(t->text, sizeof t->text, "%s", t->found ? gv_row_text(r, 0) : "");
  return 1;
}

/* The message for one delivery, or NULL with *skip set when nothing needs saying. */
static char *compose(email *em, const delivery *d, const gv_person *p, int *skip, size_t *len, gv_error *err) {
  char subject[600], refs[900] = "", reply_to[400] = "";
  char *body = NULL;
  *skip = 0;
  if (strcmp(d->kind, "summary") == 0) {
    summary_ctx c = {em, p, NULL, 0, 0, 0, NULL};
    c.out = open_memstream(&c.text, &c.len);
    if (c.out == NULL) return NULL;
    gv_arg a[1] = {GV_INT(d->id)};
    int qrc = gv_host_sql(em->h,
                          "SELECT d.outbox_id, o.item_id FROM email_deliveries d JOIN outbox o ON o.id = d.outbox_id"
                          " WHERE d.digest_id = ?1 ORDER BY d.outbox_id",
                          a, 1, summary_line, &c, err);
    fclose(c.out);
    if (qrc != GV_OK || c.failed) {
      /* Not a summary of nothing: the day's notifications wait for the next attempt. */
      free(c.text);
      if (qrc == GV_OK) gv_error_set(err, GV_ESTORE, NULL, "a notification of the summary could not be read");
      return NULL;
    }
    char day[32];
    gv_clock_strftime(d->created_at, gv_host_forum_time_zone(em->h), "%Y-%m-%d", day, sizeof day);
    int fr = strcmp(p->language, "fr") == 0;
    snprintf(subject, sizeof subject, fr ? "[%s] Résumé du %s" : "[%s] Summary for %s", gv_host_forum_name(em->h), day);
    if (c.n == 0) {
      free(c.text);
      *skip = 1;
      return NULL;
    }
    gv_str *b = gv_str_new();
    gv_str_printf(b, "%s\n\n%s\n-- \n%s\n",
                  fr ? "Ce qui s'est passé depuis le dernier résumé :" : "What happened since the last summary:",
                  c.text, gv_host_forum_title(em->h, p->language));
    body = gv_str_finish(b);
    free(c.text);
  } else {
    email_note note;
    if (email_render_note(em->h, &em->s, p, d->outbox_id, &note, err) != GV_OK) return NULL;
    if (note.skip) {
      email_note_clear(&note);
      *skip = 1;
      return NULL;
    }
    snprintf(subject, sizeof subject, "%s", note.subject);
    body = note.body;
    note.body = NULL;
    /* Mail clients thread every message about one item together: under the item's root,
     * each message answers the last one this reader was sent about it (what they have seen,
     * whatever order retries delivered them in). */
    if (d->item_id > 0) {
      snprintf(refs, sizeof refs, "<gavel.%s.item.%lld@%s>", gv_host_forum_id(em->h), (long long)d->item_id,
               em->s.domain);
      text_row prev = {0, ""};
      gv_error qerr; /* without it the message is still right, only less well threaded */
      gv_arg a[3] = {GV_INT(d->item_id), GV_INT(d->user_id), GV_INT(d->id)};
      gv_host_sql(em->h,
                  "SELECT d.message_id FROM email_deliveries d JOIN outbox o ON o.id = d.outbox_id"
                  " WHERE o.item_id = ?1 AND d.user_id = ?2 AND d.id <> ?3 AND d.kind = 'each' AND d.state = 'sent'"
                  " ORDER BY d.sent_at DESC, d.id DESC LIMIT 1",
                  a, 3, read_text_row, &prev, &qerr);
      if (prev.found) {
        snprintf(reply_to, sizeof reply_to, "%s", prev.text);
        size_t n = strlen(refs);
        snprintf(refs + n, sizeof refs - n, " %s", prev.text);
      }
    }
  }
  if (body == NULL) return NULL;
  char list_id[600], unsub[600];
  snprintf(list_id, sizeof list_id, "%s <%s.gavel.%s>", gv_host_forum_name(em->h), gv_host_forum_id(em->h),
           em->s.list_domain);
  email_unsubscribe_url(&em->s, gv_host_forum_id(em->h), p->user_id, unsub, sizeof unsub);
  email_headers hd = {d->message_id, reply_to[0] ? reply_to : NULL, refs[0] ? refs : NULL, list_id,
                      unsub[0] ? unsub : NULL};
  char *msg = email_message(&em->s, p, &hd, d->created_at, subject, body, len);
  free(body);
  return msg;
}

static int read_delivery(void *ud, const gv_row *r) {
  delivery **list = ud;
  size_t n = 0;
  while ((*list)[n].id) n++;
  delivery *d = &(*list)[n];
  d->id = gv_row_int(r, 0);
  d->outbox_id = gv_row_is_null(r, 1) ? 0 : gv_row_int(r, 1);
  d->user_id = gv_row_int(r, 2);
  snprintf(d->kind, sizeof d->kind, "%s", gv_row_text(r, 3));
  snprintf(d->message_id, sizeof d->message_id, "%s", gv_row_text(r, 4));
  d->attempts = gv_row_int(r, 5);
  d->created_at = gv_row_int(r, 6);
  d->item_id = gv_row_is_null(r, 7) ? 0 : gv_row_int(r, 7);
  return 0;
}

/* Back-off: first_retry, doubling, at most max_retry. */
static int64_t backoff(const email *em, int64_t attempts) {
  int64_t wait = em->s.first_retry_ms;
  for (int64_t i = 1; i < attempts && wait < em->s.max_retry_ms; i++) wait *= 2;
  return wait > em->s.max_retry_ms ? em->s.max_retry_ms : wait;
}

/* A failure of ours (the database, memory): the delivery waits and is tried again. */
static void retry_later(email *em, const delivery *d, const char *why) {
  mark(em, d->id, "pending", d->attempts, gv_host_now(em->h) + backoff(em, d->attempts + 1), why);
  em->deferred++;
  gv_host_log(em->h, GV_LOG_WARN, "deferred", why);
}

static void send_due(email *em) {
  size_t room = (size_t)em->s.parallel > email_smtp_busy(em->smtp) ? (size_t)em->s.parallel - email_smtp_busy(em->smtp) : 0;
  if (room == 0) return;
  delivery list[EMAIL_MAX_PARALLEL * 2 + 1];
  memset(list, 0, sizeof list);
  delivery *lp = list;
  gv_error err;
  gv_arg a[2] = {GV_INT(gv_host_now(em->h)), GV_INT((int64_t)(room + email_smtp_busy(em->smtp)))};
  if (gv_host_sql(em->h,
                  "SELECT d.id, d.outbox_id, d.user_id, d.kind, d.message_id, d.attempts, d.created_at, o.item_id"
                  " FROM email_deliveries d LEFT JOIN outbox o ON o.id = d.outbox_id"
                  " WHERE d.state = 'pending' AND d.next_at <= ?1 ORDER BY d.next_at, d.id LIMIT ?2",
                  a, 2, read_delivery, &lp, &err) != GV_OK) {
    gv_host_log(em->h, GV_LOG_ERROR, "select_failed", err.message);
    return;
  }
  for (delivery *d = list; d->id && room > 0; d++) {
    if (email_smtp_sending(em->smtp, d->id)) continue;
    person_copy pc = {0};
    gv_error_clear(&err);
    int prc = gv_host_person(em->h, d->user_id, copy_person, &pc, &err);
    if (prc != GV_OK && prc != GV_ENOTFOUND) {
      retry_later(em, d, err.message); /* the database, not the person: try again */
      continue;
    }
    if (!pc.found || pc.p.disabled || pc.p.email == NULL || !email_address_ok(pc.p.email) ||
        strcmp(pc.p.notify, "none") == 0) {
      mark(em, d->id, "skipped", d->attempts, 0, "the account is disabled, has no valid address or wants no mail");
      continue;
    }
    int skip = 0;
    size_t len = 0;
    gv_error_clear(&err);
    char *msg = compose(em, d, &pc.p, &skip, &len, &err);
    if (skip) {
      mark(em, d->id, "skipped", d->attempts, 0, NULL);
      continue;
    }
    if (msg == NULL) {
      retry_later(em, d, err.message[0] ? err.message : "cannot compose the message");
      continue;
    }
    if (email_smtp_send(em->smtp, d->id, pc.p.email, msg, len) == GV_OK) room--;
  }
}

static void on_sent(void *ud, int64_t id, int ok, int permanent, const char *error) {
  email *em = ud;
  ival att = {0, 0};
  gv_error err;
  gv_arg a[1] = {GV_INT(id)};
  gv_host_sql(em->h, "SELECT attempts FROM email_deliveries WHERE id = ?1", a, 1, read_ival, &att, &err);
  int64_t attempts = att.v + 1, now = gv_host_now(em->h);
  char line[600];
  if (ok) {
    mark(em, id, "sent", attempts, now, NULL);
    em->sent++;
    snprintf(line, sizeof line, "delivery %lld sent after %lld attempt(s)", (long long)id, (long long)attempts);
    gv_host_log(em->h, GV_LOG_INFO, "sent", line);
  } else if (permanent || attempts >= em->s.max_attempts) {
    mark(em, id, "failed", attempts, now, error);
    em->failed++;
    snprintf(line, sizeof line, "delivery %lld failed for good after %lld attempt(s): %s", (long long)id,
             (long long)attempts, error);
    gv_host_log(em->h, GV_LOG_ERROR, "failed", line);
  } else {
    int64_t wait = backoff(em, attempts);
    mark(em, id, "pending", attempts, now + wait, error);
    em->deferred++;
    snprintf(line, sizeof line, "delivery %lld attempt %lld failed, retrying in %llds: %s", (long long)id,
             (long long)attempts, (long long)(wait / 1000), error);
    gv_host_log(em->h, GV_LOG_WARN, "retry", line);
  }
  /* A finished transfer makes room for the next. */
  if (em->loop && em->tick_open) uv_timer_start(&em->tick, on_tick, 0, 1000);
}

static void on_tick(uv_timer_t *t) {
  email *em = t->data;
  expand(em);
  digest_if_due(em);
  send_due(em);
}

static void on_commit(void *state, gv_host *h, int64_t first, int64_t last) {
  email *em = state;
  (void)h;
  (void)first;
  (void)last;
  if (em->loop && em->tick_open) uv_timer_start(&em->tick, on_tick, 0, 1000);
}

static void on_serve(void *state, gv_host *h, void *loop) {
  email *em = state;
  if (!em->s.configured) return;
  em->loop = loop;
  em->smtp = email_smtp_new(loop, &em->s, on_sent, em);
  if (em->smtp == NULL) {
    gv_host_log(h, GV_LOG_ERROR, "off", "out of memory: notifications are not mailed");
    return;
  }
  uv_timer_init(em->loop, &em->tick);
  em->tick.data = em;
  em->tick_open = 1;
  uv_timer_start(&em->tick, on_tick, 0, 1000);
}

static void on_stop(void *state, gv_host *h) {
  email *em = state;
  (void)h;
  if (!em->tick_open) return;
  em->tick_open = 0;
  uv_timer_stop(&em->tick);
  uv_close((uv_handle_t *)&em->tick, NULL);
  email_smtp_close(em->smtp);
  em->smtp = NULL;
}

/* ---- Commands -------------------------------------------------------------------------------------- */

static int print_count(void *ud, const gv_row *r) {
  (void)ud;
  printf("  %-9s %lld\n", gv_row_text(r, 0), (long long)gv_row_int(r, 1));
  return 0;
}

static int print_failure(void *ud, const gv_row *r) {
  (void)ud;
  printf("  delivery %lld to user %lld, %lld attempt(s): %s\n", (long long)gv_row_int(r, 0),
         (long long)gv_row_int(r, 1), (long long)gv_row_int(r, 2), gv_row_text(r, 3) ? gv_row_text(r, 3) : "");
  return 0;
}

static int cmd_status(void *state, gv_host *h, int argc, char **argv) {
  email *em = state;
  gv_error err;
  (void)argc;
  (void)argv;
  if (!em->s.configured) printf("email is not configured (plugins.email.smtp): nothing is sent\n");
  else printf("email via %s as %s\n", em->s.smtp_url, em->s.from);
  printf("deliveries:\n");
  gv_host_sql(h, "SELECT state, count(*) FROM email_deliveries GROUP BY state ORDER BY state", NULL, 0, print_count,
              NULL, &err);
  printf("recent failures:\n");
  gv_host_sql(h,
              "SELECT id, user_id, attempts, last_error FROM email_deliveries WHERE last_error IS NOT NULL"
              " AND state IN ('failed', 'pending') ORDER BY id DESC LIMIT 10",
              NULL, 0, print_failure, NULL, &err);
  return 0;
}

static int cmd_test(void *state, gv_host *h, int argc, char **argv) {
  email *em = state;
  if (argc != 1 || !email_address_ok(argv[0])) {
    fprintf(stderr, "usage: gavel email test [--db PATH] [--config PATH] ADDRESS\n");
    return 2;
  }
  if (!em->s.configured) {
    fprintf(stderr, "gavel email test: email is not configured (set plugins.email.smtp in gavel.conf.lua)\n");
    return 1;
  }
  gv_person to = {sizeof to, 0, "test", argv[0], "observer", NULL, argv[0], "en", "each", 0, NULL};
  char mid[400], body[512];
  uint8_t rnd[8];
  char hex[17];
  if (gv_random_bytes(rnd, sizeof rnd) != GV_OK) memset(rnd, 0, sizeof rnd);
  gv_text_hex(rnd, sizeof rnd, hex);
  snprintf(mid, sizeof mid, "<gavel.%s.test.%s@%s>", gv_host_forum_id(h), hex, em->s.domain);
  snprintf(body, sizeof body, "This is a test message from %s (%s).\nMail from this forum reaches you.\n",
           gv_host_forum_title(h, "en"), gv_host_forum_id(h));
  size_t len;
  email_headers hd = {mid, NULL, NULL, NULL, NULL};
  char *msg = email_message(&em->s, &to, &hd, gv_host_now(h), "Gavel: test message", body, &len);
  gv_error err;
  int rc = email_smtp_send_blocking(&em->s, argv[0], msg, len, &err);
  free(msg);
  if (rc != GV_OK) {
    fprintf(stderr, "gavel email test: %s\n", err.message);
    return 1;
  }
  printf("sent a test message to %s (Message-ID %s)\n", argv[0], mid);
  return 0;
}

/* ---- Metrics ---------------------------------------------------------------------------------------- */

typedef struct backlog {
  int64_t count, oldest; /* oldest is a created_at, or 0 when count is 0 */
} backlog;

static int read_backlog(void *ud, const gv_row *r) {
  backlog *b = ud;
  b->count += gv_row_int(r, 0);
  if (!gv_row_is_null(r, 1) && (b->oldest == 0 || gv_row_int(r, 1) < b->oldest)) b->oldest = gv_row_int(r, 1);
  return 1;
}

/* The outbox's notifications not yet mailed to everyone they concern: those not yet turned
 * into deliveries, and those with a delivery still to be accepted by the SMTP server (those
 * held for a daily digest are not late, so they do not count). */
static int outbox_backlog(email *em, backlog *b, gv_error *err) {
  int64_t seen;
  int rc = state_get(em->h, "outbox_seen", &seen, err);
  if (rc == GV_OK && seen >= 0) {
    gv_arg a[1] = {GV_INT(seen)};
    rc = gv_host_sql(em->h, "SELECT count(*), min(created_at) FROM outbox WHERE id > ?1", a, 1, read_backlog, b, err);
  }
  if (rc == GV_OK)
    rc = gv_host_sql(em->h,
                     "SELECT count(DISTINCT d.outbox_id), min(o.created_at) FROM email_deliveries d"
                     " JOIN outbox o ON o.id = d.outbox_id WHERE d.state = 'pending'",
                     NULL, 0, read_backlog, b, err);
  return rc;
}

static int count_state(email *em, const char *state, int64_t *out, gv_error *err) {
  ival x = {0, 0};
  gv_arg a[1] = {GV_TEXT(state)};
  int rc = gv_host_sql(em->h, "SELECT count(*) FROM email_deliveries WHERE state = ?1", a, 1, read_ival, &x, err);
  *out = x.v;
  return rc;
}

static int write_metrics(void *state, gv_host *h, gv_str *out) {
  email *em = state;
  gv_error err;
  gv_str_printf(out,
                "# HELP gavel_email_configured Whether an SMTP server is configured (else nothing is mailed).\n"
                "# TYPE gavel_email_configured gauge\ngavel_email_configured %d\n"
                "# HELP gavel_email_sent_total Messages the SMTP server accepted.\n"
                "# TYPE gavel_email_sent_total counter\ngavel_email_sent_total %llu\n"
                "# HELP gavel_email_deferred_total Attempts that failed and will be tried again later.\n"
                "# TYPE gavel_email_deferred_total counter\ngavel_email_deferred_total %llu\n"
                "# HELP gavel_email_failed_total Messages given up on (refused for good, or out of attempts).\n"
                "# TYPE gavel_email_failed_total counter\ngavel_email_failed_total %llu\n",
                em->s.configured, (unsigned long long)em->sent, (unsigned long long)em->deferred,
                (unsigned long long)em->failed);
  if (!em->s.configured) return GV_OK;
  int64_t pending = 0, waiting = 0;
  backlog b = {0, 0};
  int rc = count_state(em, "pending", &pending, &err);
  if (rc == GV_OK) rc = count_state(em, "waiting", &waiting, &err);
  if (rc == GV_OK) rc = outbox_backlog(em, &b, &err);
  if (rc != GV_OK) {
    gv_host_log(h, GV_LOG_ERROR, "metrics_failed", err.message);
    return rc;
  }
  int64_t age = b.count > 0 && gv_host_now(h) > b.oldest ? gv_host_now(h) - b.oldest : 0;
  gv_str_printf(out,
                "# HELP gavel_email_pending Deliveries waiting to be sent (including retries).\n"
                "# TYPE gavel_email_pending gauge\ngavel_email_pending %lld\n"
                "# HELP gavel_email_digest_waiting Notifications held for a daily digest.\n"
                "# TYPE gavel_email_digest_waiting gauge\ngavel_email_digest_waiting %lld\n"
                "# HELP gavel_email_outbox_pending Outbox notifications not yet mailed to everyone they concern.\n"
                "# TYPE gavel_email_outbox_pending gauge\ngavel_email_outbox_pending %lld\n"
                "# HELP gavel_email_outbox_oldest_pending_age_seconds Age of the oldest of those (0 when none).\n"
                "# TYPE gavel_email_outbox_oldest_pending_age_seconds gauge\n"
                "gavel_email_outbox_oldest_pending_age_seconds %.3f\n",
                (long long)pending, (long long)waiting, (long long)b.count, (double)age / 1000.0);
  return GV_OK;
}

/* ---- The plugin -------------------------------------------------------------------------------------- */

static int init(gv_host *h, const char *config_json, void **state, gv_error *err) {
  email *em = calloc(1, sizeof *em);
  if (em == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  *state = em;
  em->h = h;
  int rc = email_settings_parse(config_json, gv_host_db_path(h), &em->s, err);
  if (rc == GV_OK) rc = gv_host_migrations(h, migrations, sizeof migrations / sizeof migrations[0], err);
  if (rc != GV_OK) return rc;
  /* Links in messages are signed; a command only reads, so it makes no key. */
  if (!gv_host_for_command(h) && (rc = email_unsubscribe_key(h, &em->s, err)) != GV_OK) return rc;
  if (em->s.from_name[0] == '\0') snprintf(em->s.from_name, sizeof em->s.from_name, "%s", gv_host_forum_name(h));
  em->curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  gv_host_on_commit(h, on_commit);
  gv_host_on_serve(h, on_serve, on_stop);
  gv_host_on_metrics(h, write_metrics);
  if (!em->s.configured) gv_host_log(h, GV_LOG_INFO, "off", "no smtp server is configured: notifications are not mailed");
  return GV_OK;
}

static void shutdown_email(void *state) {
  email *em = state;
  if (em == NULL) return;
  gv_random_wipe(em->s.password, sizeof em->s.password);
  int curl = em->curl_ready;
  free(em);
  if (curl) curl_global_cleanup();
}

static const gv_plugin_command commands[] = {
    {"email status", "", "count deliveries by state and list the latest failures", cmd_status},
    {"email test", "ADDRESS", "send a test message now with the configured settings", cmd_test},
    {NULL}};

static const gv_plugin_route routes[] = {
    {"GET", "/v1/email/unsubscribe", GV_ROUTE_PUBLIC, email_unsubscribe_page},
    {"POST", "/v1/email/unsubscribe", GV_ROUTE_PUBLIC | GV_ROUTE_ANY_BODY, email_unsubscribe_post},
    {NULL}};

/* The settings inside the plugin's state; see email.h. */
email_settings *email_state_settings(void *state) { return &((email *)state)->s; }

const gv_plugin gv_plugin_email = {
    .api_version = GV_PLUGIN_API_VERSION,
    .name = "email",
    .version = "1.0",
    .summary = "mails notifications: at least once, retried, in each person's language, or as a daily digest",
    .init = init,
    .shutdown = shutdown_email,
    .commands = commands,
    .routes = routes,
};
