/* Administrative commands: init, user, meeting, backup, incidents. */
#include "engine/accounts.h"
#include "engine/import.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "base/crypto.h"
#include "engine/engine.h"
#include "base/time.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Password hashing for the CLI: in parallel, since each hash takes ~0.3 s. ---------- */

typedef struct hash_job {
  const char *password;
  char hash[GV_PASSWORD_HASH_LEN];
  int rc;
} hash_job;

static void *hash_thread(void *arg) {
  hash_job *j = arg;
  j->rc = gv_password_hash(j->password, GV_PBKDF2_ITERATIONS, j->hash);
  return NULL;
}

static int hash_all(hash_job *jobs, size_t n) {
  pthread_t *t = gv_cli_need(gv_calloc(n ? n : 1, sizeof *t));
  int rc = GV_OK;
  size_t started = 0;
  for (size_t i = 0; i < n; i++) {
    if (pthread_create(&t[i], NULL, hash_thread, &jobs[i]) != 0) {
      hash_thread(&jobs[i]);
      t[i] = 0;
    } else {
      started++;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (t[i]) pthread_join(t[i], NULL);
    if (jobs[i].rc != GV_OK) rc = jobs[i].rc;
  }
  free(t);
  (void)started;
  return rc;
}

static void new_password(char out[32]) {
  gv_token_new(16, out, 32);
}

/* ---- init --------------------------------------------------------------------------------- */


static int cmd_init(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  const char *db = gv_cli_val(opts, "db", NULL);
  const char *forum_id = gv_cli_val(opts, "forum", NULL);
  const char *forum_file = gv_cli_val(opts, "forum-file", NULL);
  int demo = gv_cli_opt(opts, "demo")->set;
  int sample = gv_cli_opt(opts, "sample")->set;
  const char *demo_pw = gv_cli_val(opts, "demo-password", NULL);
  if (db == NULL) return gv_cli_usage_error(cmd, "--db PATH is required");
  if (forum_id == NULL && forum_file == NULL)
    return gv_cli_usage_error(cmd, "--forum ID (or --forum-file FILE) is required");
  if (demo_pw && !demo) return gv_cli_usage_error(cmd, "--demo-password needs --demo");
  if (sample && !demo) return gv_cli_usage_error(cmd, "--sample needs --demo");
  if (demo_pw && strlen(demo_pw) < 8) return gv_cli_usage_error(cmd, "--demo-password must be at least 8 characters");
  char path[512];
  if (forum_file)
    snprintf(path, sizeof path, "%s", forum_file);
  else
    snprintf(path, sizeof path, "%s/forums/%s.lua", gv_cli_workflows_dir(), forum_id);
  gv_error err;
  gv_error_clear(&err);
  gv_forum *f = NULL;
  if (gv_forum_load_file(path, &f, &err) != GV_OK) {
    if (err.code == GV_ENOTFOUND && forum_file == NULL)
      fprintf(stderr, "gavel init: no forum '%s' (looked for %s)\n", forum_id, path);
    else
      gv_cli_fail(&err);
    return 1;
  }
  if (forum_id && strcmp(forum_id, f->id) != 0) {
    fprintf(stderr, "gavel init: %s declares forum '%s', not '%s'\n", path, f->id, forum_id);
    gv_forum_free(f);
    return 1;
  }
  int existed = access(db, F_OK) == 0;
  gv_store *s = NULL;
  if (gv_store_open(db, GV_STORE_CREATE, &s, &err) != GV_OK) {
    gv_forum_free(f);
    return gv_cli_fail(&err);
  }
  chmod(db, 0600);
  int64_t now = gv_time_real_ms();
  int rc = 1;
  gv_demo_user *demo_users = gv_cli_need(gv_calloc(3 + f->nmembers, sizeof *demo_users));
  size_t nusers = demo ? gv_demo_users(f, demo_users) : 0;
  hash_job *jobs = gv_cli_need(gv_calloc(nusers + 1, sizeof *jobs));
  char (*passwords)[32] = gv_cli_need(gv_calloc(nusers + 1, sizeof *passwords));
  int *create = gv_cli_need(gv_calloc(nusers + 1, sizeof *create));
  size_t ncreate = 0;
  for (size_t i = 0; i < nusers; i++) {
    gv_user existing;
    create[i] = gv_store_user_find(s, demo_users[i].username, &existing, NULL) != GV_OK;
    if (!create[i]) continue;
    if (demo_pw) snprintf(passwords[i], sizeof passwords[i], "%s", demo_pw);
    else new_password(passwords[i]);
    jobs[ncreate].password = passwords[i];
    ncreate++;
  }
  if (ncreate && hash_all(jobs, ncreate) != GV_OK) {
    fprintf(stderr, "gavel init: cannot hash passwords\n");
    goto done;
  }
  if (gv_store_begin(s, &err) != GV_OK) { gv_cli_fail(&err); goto done; }
  if (gv_store_forum_save(s, f, now, &err) != GV_OK) goto fail;
  for (size_t i = 0, j = 0; i < nusers; i++) {
    if (!create[i]) continue;
    gv_user u = {0};
    snprintf(u.username, sizeof u.username, "%s", demo_users[i].username);
    snprintf(u.role, sizeof u.role, "%s", demo_users[i].role);
    snprintf(u.member, sizeof u.member, "%s", demo_users[i].member);
    snprintf(u.display_name, sizeof u.display_name, "%s", demo_users[i].display_name);
    snprintf(u.language, sizeof u.language, "%s", demo_users[i].language);
    snprintf(u.email, sizeof u.email, "%s@%s.example", demo_users[i].username, f->id);
    snprintf(u.password_hash, sizeof u.password_hash, "%s", jobs[j++].hash);
    if (gv_account_create(s, f, 0, &u, now, NULL, &err) != GV_OK) goto fail;
  }
  if (gv_store_commit(s, &err) != GV_OK) { gv_cli_fail(&err); goto done; }
  if (gv_cli_register_workflows(db) != 0) goto done;
  if (sample && !existed && gv_cli_demo_content(db) != 0) goto done;
  printf("%s %s: forum %s (%s), %zu members, time zone %s\n", existed ? "updated" : "created", db,
         f->id, f->short_name, f->nmembers, f->time_zone);
  if (ncreate) {
    printf("\ndemo logins (shown once; keep them):\n");
    for (size_t i = 0; i < nusers; i++)
      if (create[i])
        printf("  %-12s %-12s %-4s password: %s\n", demo_users[i].username, demo_users[i].role,
               demo_users[i].member, passwords[i]);
  } else if (demo) {
    printf("demo users already exist; their passwords are unchanged\n");
  }
  rc = 0;
  goto done;
fail:
  gv_store_rollback(s);
  gv_cli_fail(&err);
done:
  free(demo_users);
  free(jobs);
  free(passwords);
  free(create);
  gv_store_close(s);
  gv_forum_free(f);
  return rc;
}

/* ---- user ------------------------------------------------------------------------------- */

static int read_password(gv_opt *opts, char *out, size_t size, int *generated) {
  *generated = 0;
  if (gv_cli_opt(opts, "password-stdin")->set) {
    if (gv_cli_read_line(out, size) != 0 || strlen(out) < 8) {
      fprintf(stderr, "gavel: the password read from standard input must be at least 8 characters\n");
      return -1;
    }
    return 0;
  }
  new_password(out);
  *generated = 1;
  return 0;
}

static int cmd_user_add(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  const char *role = gv_cli_val(opts, "role", NULL);
  if (role == NULL) return gv_cli_usage_error(cmd, "--role is required (secretariat, chair, delegate or observer)");
  gv_cli_env env;
  gv_forum *f = NULL;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  int rc = 1;
  gv_error err;
  gv_error_clear(&err);
  if (gv_cli_load_forum(s, opts, &f)) goto done;
  gv_user u = {0};
  snprintf(u.username, sizeof u.username, "%s", argv[0]);
  snprintf(u.role, sizeof u.role, "%s", role);
  snprintf(u.member, sizeof u.member, "%s", gv_cli_val(opts, "member", ""));
  snprintf(u.display_name, sizeof u.display_name, "%s", gv_cli_val(opts, "name", ""));
  snprintf(u.email, sizeof u.email, "%s", gv_cli_val(opts, "email", ""));
  snprintf(u.language, sizeof u.language, "%s", gv_cli_val(opts, "language", ""));
  if (gv_account_check_role(f, u.role, u.member, &err) != GV_OK || !gv_account_username_valid(u.username)) {
    if (err.code == GV_OK)
      gv_error_set(&err, GV_EPARAM, "username", "the username '%s' must be 2 to 63 lowercase letters, digits, '.', '_' or '-'", u.username);
    gv_cli_fail(&err);
    goto done;
  }
  char pw[256];
  int generated;
  if (read_password(opts, pw, sizeof pw, &generated) != 0) goto done;
  if (gv_password_hash(pw, GV_PBKDF2_ITERATIONS, u.password_hash) != GV_OK) goto done;
  u.must_change_password = 1;
  int64_t now = gv_time_real_ms();
  if (gv_store_begin(s, &err) != GV_OK || gv_account_create(s, f, 0, &u, now, NULL, &err) != GV_OK) {
    gv_store_rollback(s);
    gv_cli_fail(&err);
    goto done;
  }
  if (gv_store_commit(s, &err) != GV_OK) { gv_cli_fail(&err); goto done; }
  printf("created %s (%s%s%s)\n", u.username, u.role, u.member[0] ? ", " : "", u.member);
  if (generated) printf("password: %s (to be changed at first sign-in)\n", pw);
  rc = 0;
done:
  gv_forum_free(f);
  gv_cli_close_store(&env);
  return rc;
}

/* Reads all of path ("-": standard input) into *out (NUL-terminated, *len bytes). */
static int read_all(const char *path, char **out, size_t *len) {
  FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (fp == NULL) return -1;
  gv_buf b = GV_BUF_INIT;
  char chunk[8192];
  size_t k;
  while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0) gv_buf_append(&b, chunk, k);
  int bad = ferror(fp) || b.failed;
  if (fp != stdin) fclose(fp);
  gv_buf_putc(&b, '\0');
  *len = b.len ? b.len - 1 : 0;
  *out = gv_buf_steal(&b);
  return bad || *out == NULL ? -1 : 0;
}

/* gavel user import FILE: every row checked first; all accounts created in one transaction, or none. */
static int cmd_user_import(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  (void)cmd;
  (void)argc;
  gv_cli_env env;
  gv_forum *f = NULL;
  char *text = NULL;
  size_t len = 0, n = 0;
  gv_import_row *rows = NULL;
  json_t *errors = NULL;
  hash_job *jobs = NULL;
  char (*passwords)[32] = NULL;
  int rc = 1;
  gv_error err;
  gv_error_clear(&err);
  if (read_all(argv[0], &text, &len) != 0) {
    fprintf(stderr, "gavel: cannot read %s\n", argv[0]);
    free(text);
    return 1;
  }
  if (gv_cli_open_store(opts, 0, &env)) {
    free(text);
    return 1;
  }
  gv_store *s = env.store;
  if (gv_cli_load_forum(s, opts, &f)) goto done;
  int r = gv_account_import_check(s, f, text, len, &rows, &n, &errors, &err);
  if (r == GV_EPARAM) {
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
      const char *field = json_string_value(json_object_get(e, "field"));
      fprintf(stderr, "%s:%lld: %s%s%s\n", argv[0], (long long)json_integer_value(json_object_get(e, "line")),
              field ? field : "", field ? ": " : "", json_string_value(json_object_get(e, "message")));
    }
    fprintf(stderr, "gavel: %s\n", err.message);
    goto done;
  }
  if (r != GV_OK) {
    gv_cli_fail(&err);
    goto done;
  }
  jobs = gv_cli_need(gv_calloc(n, sizeof *jobs));
  passwords = gv_cli_need(gv_calloc(n, sizeof *passwords));
  for (size_t i = 0; i < n; i++) {
    new_password(passwords[i]);
    jobs[i].password = passwords[i];
  }
  if (hash_all(jobs, n) != GV_OK) {
    fprintf(stderr, "gavel: cannot hash passwords: nothing was created\n");
    goto done;
  }
  for (size_t i = 0; i < n; i++) snprintf(rows[i].u.password_hash, sizeof rows[i].u.password_hash, "%s", jobs[i].hash);
  int64_t now = gv_time_real_ms();
  if (gv_store_begin(s, &err) != GV_OK || gv_account_import_create(s, f, 0, rows, n, now, NULL, NULL, &err) != GV_OK ||
      gv_store_commit(s, &err) != GV_OK) {
    if (gv_store_in_tx(s)) gv_store_rollback(s);
    gv_cli_fail(&err);
    goto done;
  }
  printf("created %zu accounts (passwords to be changed at first sign-in):\n", n);
  for (size_t i = 0; i < n; i++)
    printf("  %-24s %-12s %-4s password: %s\n", rows[i].u.username, rows[i].u.role, rows[i].u.member, passwords[i]);
  rc = 0;
done:
  if (passwords) gv_wipe(passwords, n * sizeof *passwords);
  free(passwords);
  free(jobs);
  free(rows);
  json_decref(errors);
  free(text);
  gv_forum_free(f);
  gv_cli_close_store(&env);
  return rc;
}

static int cmd_user_list(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  gv_cli_env env;
  gv_forum *f = NULL;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  int rc = 1;
  gv_user *users = NULL;
  size_t n = 0;
  gv_error err;
  if (gv_cli_load_forum(s, opts, &f)) goto done;
  if (gv_store_user_list(s, f->id, gv_cli_val(opts, "member", NULL), &users, &n, &err) != GV_OK) {
    gv_cli_fail(&err);
    goto done;
  }
  if (gv_cli_opt(opts, "json")->set) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:o, s:b}", "id", (json_int_t)users[i].id,
                                           "username", users[i].username, "display_name", users[i].display_name,
                                           "role", users[i].role, "member",
                                           users[i].member[0] ? json_string(users[i].member) : json_null(),
                                           "disabled", users[i].disabled));
    char *out = json_dumps(arr, JSON_INDENT(2));
    printf("%s\n", out);
    free(out);
    json_decref(arr);
  } else {
    printf("%-20s %-12s %-7s %-9s %s\n", "USERNAME", "ROLE", "MEMBER", "STATUS", "NAME");
    for (size_t i = 0; i < n; i++)
      printf("%-20s %-12s %-7s %-9s %s\n", users[i].username, users[i].role,
             users[i].member[0] ? users[i].member : "-", users[i].disabled ? "disabled" : "active",
             users[i].display_name);
  }
  rc = 0;
done:
  free(users);
  gv_forum_free(f);
  gv_cli_close_store(&env);
  return rc;
}

static int cmd_user_change(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  int is_disable = strcmp(cmd->name, "user disable") == 0;
  int is_enable = strcmp(cmd->name, "user enable") == 0;
  gv_cli_env env;
  gv_forum *f = NULL;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  int rc = 1;
  gv_error err;
  gv_error_clear(&err);
  gv_user u;
  char pw[256] = "";
  int generated = 0;
  if (gv_cli_load_forum(s, opts, &f)) goto done;
  if (gv_store_user_find(s, argv[0], &u, &err) != GV_OK) { gv_cli_fail(&err); goto done; }
  char hash[GV_PASSWORD_HASH_LEN];
  if (!is_disable && !is_enable) {
    if (read_password(opts, pw, sizeof pw, &generated) != 0) goto done;
    if (gv_password_hash(pw, GV_PBKDF2_ITERATIONS, hash) != GV_OK) goto done;
  }
  int64_t now = gv_time_real_ms();
  if (gv_store_begin(s, &err) != GV_OK) { gv_cli_fail(&err); goto done; }
  int r = is_disable || is_enable ? gv_account_set_disabled(s, f, 0, &u, is_disable, now, NULL, &err)
                                  : gv_account_set_password(s, f, 0, &u, hash, 1, now, NULL, &err);
  if (r != GV_OK || gv_store_commit(s, &err) != GV_OK) {
    gv_store_rollback(s);
    gv_cli_fail(&err);
    goto done;
  }
  if (is_disable) printf("disabled %s; their sessions have ended\n", u.username);
  else if (is_enable) printf("enabled %s\n", u.username);
  else printf("password of %s reset%s%s (to be changed at next sign-in)\n", u.username,
              generated ? "; new password: " : "", generated ? pw : "");
  rc = 0;
done:
  gv_forum_free(f);
  gv_cli_close_store(&env);
  return rc;
}

static int cmd_user_set(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  const char *role = gv_cli_val(opts, "role", NULL);
  const char *member = gv_cli_val(opts, "member", NULL);
  if (role == NULL && member == NULL) return gv_cli_usage_error(cmd, "give --role and/or --member");
  gv_cli_env env;
  gv_forum *f = NULL;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  int rc = 1;
  gv_error err;
  gv_error_clear(&err);
  gv_user u;
  if (gv_cli_load_forum(s, opts, &f)) goto done;
  if (gv_store_user_find(s, argv[0], &u, &err) != GV_OK) { gv_cli_fail(&err); goto done; }
  char r[16], m[16];
  snprintf(r, sizeof r, "%s", role ? role : u.role);
  /* A new role other than delegate drops the member; a delegate keeps theirs unless given. */
  snprintf(m, sizeof m, "%s", member ? member : (gv_role_parse(r) == GV_ROLE_DELEGATE ? u.member : ""));
  if (gv_store_begin(s, &err) != GV_OK ||
      gv_account_set_role(s, f, 0, &u, r, m, gv_time_real_ms(), NULL, &err) != GV_OK ||
      gv_store_commit(s, &err) != GV_OK) {
    gv_store_rollback(s);
    gv_cli_fail(&err);
    goto done;
  }
  printf("%s is now %s%s%s; their sessions have ended\n", u.username, u.role, u.member[0] ? " of " : "", u.member);
  rc = 0;
done:
  gv_forum_free(f);
  gv_cli_close_store(&env);
  return rc;
}

/* ---- meeting ----------------------------------------------------------------------------- */

static int cmd_meeting_add(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  const char *title = gv_cli_val(opts, "title", NULL), *title_fr = gv_cli_val(opts, "title-fr", NULL);
  const char *place = gv_cli_val(opts, "place", NULL);
  const char *start = gv_cli_val(opts, "start", NULL), *end = gv_cli_val(opts, "end", NULL);
  if (!title || !place || !start) return gv_cli_usage_error(cmd, "--title, --place and --start are required");
  if (end == NULL) end = start;
  gv_cli_env env;
  gv_forum *f = NULL;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  int rc = 1;
  gv_error err;
  gv_error_clear(&err);
  if (gv_cli_load_forum(s, opts, &f)) goto done;
  int64_t a, b;
  if (gv_date_parse(start, f->time_zone, &a) != GV_OK || gv_date_parse(end, f->time_zone, &b) != GV_OK) {
    rc = gv_cli_usage_error(cmd, "dates must be YYYY-MM-DD");
    goto done;
  }
  if (b < a) { rc = gv_cli_usage_error(cmd, "--end is before --start"); goto done; }
  json_t *t = title_fr ? json_pack("{s:s, s:s}", "en", title, "fr", title_fr) : json_string(title);
  char *tj = json_dumps(t, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(t);
  gv_meeting m = {0};
  snprintf(m.forum_id, sizeof m.forum_id, "%s", f->id);
  m.title = tj;
  snprintf(m.place, sizeof m.place, "%s", place);
  snprintf(m.starts_on, sizeof m.starts_on, "%s", start);
  snprintf(m.ends_on, sizeof m.ends_on, "%s", end);
  m.created_at = gv_time_real_ms();
  int r = gv_store_begin(s, &err);
  if (r == GV_OK) r = gv_store_meeting_insert(s, &m, 0, &err);
  if (r == GV_OK) {
    json_t *p = json_pack("{s:I, s:o, s:s, s:s, s:s}", "meeting", (json_int_t)m.id, "title",
                          json_loads(tj, JSON_DECODE_ANY, NULL), "place", place, "starts_on", start, "ends_on", end);
    char *pj = json_dumps(p, JSON_COMPACT);
    gv_event e = {0};
    snprintf(e.forum_id, sizeof e.forum_id, "%s", f->id);
    e.kind = "meeting";
    e.action = "meeting.created";
    e.at = m.created_at;
    e.params = pj;
    r = gv_store_event_insert(s, &e, &err);
    free(pj);
    json_decref(p);
  }
  if (r == GV_OK) r = gv_store_commit(s, &err);
  free(tj);
  if (r != GV_OK) {
    gv_store_rollback(s);
    gv_cli_fail(&err);
    goto done;
  }
  printf("meeting %lld: %s, %s, %s to %s\n", (long long)m.id, title, place, start, end);
  rc = 0;
done:
  gv_forum_free(f);
  gv_cli_close_store(&env);
  return rc;
}

static int cmd_meeting_list(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  gv_cli_env env;
  gv_forum *f = NULL;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  int rc = 1;
  gv_error err;
  gv_meeting *ms = NULL;
  size_t n = 0;
  if (gv_cli_load_forum(s, opts, &f)) goto done;
  if (gv_store_meeting_list(s, f->id, &ms, &n, &err) != GV_OK) { gv_cli_fail(&err); goto done; }
  printf("%-4s %-10s %-10s %-24s %s\n", "ID", "START", "END", "PLACE", "TITLE");
  for (size_t i = 0; i < n; i++) {
    json_t *t = json_loads(ms[i].title, JSON_DECODE_ANY, NULL);
    const char *title = json_is_string(t) ? json_string_value(t) : json_string_value(json_object_get(t, "en"));
    printf("%-4lld %-10s %-10s %-24s %s\n", (long long)ms[i].id, ms[i].starts_on, ms[i].ends_on,
           ms[i].place, title ? title : "");
    json_decref(t);
    gv_meeting_clear(&ms[i]);
  }
  rc = 0;
done:
  free(ms);
  gv_forum_free(f);
  gv_cli_close_store(&env);
  return rc;
}

/* ---- backup, incidents -------------------------------------------------------------------- */

static int cmd_backup(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  const char *db = gv_cli_db(opts);
  gv_error err;
  gv_error_clear(&err);
  if (db == NULL) return 1;
  if (access(db, F_OK) != 0) {
    fprintf(stderr, "gavel backup: no database at %s\n", db);
    return 1;
  }
  if (gv_store_backup(db, argv[0], &err) != GV_OK) return gv_cli_fail(&err);
  printf("backed up %s to %s\n", db, argv[0]);
  return 0;
}

static int cmd_incidents(const gv_cmd *cmd, gv_opt *opts, int argc, char **argv) {
  gv_cli_env env;
  if (gv_cli_open_store(opts, 0, &env)) return 1;
  gv_store *s = env.store;
  json_t *list = NULL;
  gv_error err;
  int limit = atoi(gv_cli_val(opts, "limit", "50"));
  if (gv_store_incident_list(s, limit > 0 ? limit : 50, &list, &err) != GV_OK) {
    gv_cli_close_store(&env);
    return gv_cli_fail(&err);
  }
  if (gv_cli_opt(opts, "json")->set) {
    char *out = json_dumps(list, JSON_INDENT(2));
    printf("%s\n", out);
    free(out);
  } else if (json_array_size(list) == 0) {
    printf("no incidents\n");
  } else {
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
      char ts[GV_TIME_BUFSZ];
      printf("#%lld %s %s item %lld %s/%s: %s\n", (long long)json_integer_value(json_object_get(o, "id")),
             gv_time_format(json_integer_value(json_object_get(o, "at")), ts),
             json_string_value(json_object_get(o, "kind")),
             (long long)json_integer_value(json_object_get(o, "item_id")),
             json_is_string(json_object_get(o, "workflow")) ? json_string_value(json_object_get(o, "workflow")) : "-",
             json_is_string(json_object_get(o, "action")) ? json_string_value(json_object_get(o, "action")) : "-",
             json_string_value(json_object_get(o, "message")));
    }
  }
  json_decref(list);
  gv_cli_close_store(&env);
  return 0;
}

static gv_opt init_opts[] = {
    {"db", 1, "database file to create or update"},
    {"forum", 1, "forum id; its file is workflows/forums/ID.lua"},
    {"forum-file", 1, "a forum file elsewhere"},
    {"demo", 0, "also create demo users for every role and member"},
    {"demo-password", 1, "one password for every demo user (default: a random one each)"},
    {"sample", 0, "with --demo: also a meeting and items of every workflow, in progress"},
    {NULL}};
static gv_opt user_add_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"forum", 1, "forum id (default: the database's only forum)"},
    {"role", 1, "secretariat, chair, delegate or observer"},
    {"member", 1, "for a delegate: the member state's code, e.g. KM"},
    {"name", 1, "display name"},
    {"email", 1, "email address"},
    {"language", 1, "fr or en"},
    {"password-stdin", 0, "read the password from standard input (default: generate one)"},
    {NULL}};
static gv_opt user_import_opts[] = {
    GV_CLI_DB_OPTIONS, {"forum", 1, "forum id (default: the database's only forum)"}, {NULL}};
static gv_opt user_list_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"forum", 1, "forum id"},
    {"member", 1, "only the accounts of this member state"},
    {"json", 0, "print JSON"},
    {NULL}};
static gv_opt user_change_opts[] = {
    GV_CLI_DB_OPTIONS, {"forum", 1, "forum id"}, {NULL}};
static gv_opt user_set_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"forum", 1, "forum id"},
    {"role", 1, "secretariat, chair, delegate or observer"},
    {"member", 1, "for a delegate: the member state's code"},
    {NULL}};
static gv_opt user_passwd_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"forum", 1, "forum id"},
    {"password-stdin", 0, "read the new password from standard input (default: generate one)"},
    {NULL}};
static gv_opt meeting_add_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"forum", 1, "forum id"},
    {"title", 1, "title (English, or the only one)"},
    {"title-fr", 1, "title in French"},
    {"place", 1, "where it takes place"},
    {"start", 1, "first day, YYYY-MM-DD (forum's time zone)"},
    {"end", 1, "last day, YYYY-MM-DD (default: the first day)"},
    {NULL}};
static gv_opt meeting_list_opts[] = {
    GV_CLI_DB_OPTIONS, {"forum", 1, "forum id"}, {NULL}};
static gv_opt backup_opts[] = {GV_CLI_DB_OPTIONS, {NULL}};
static gv_opt incidents_opts[] = {
    GV_CLI_DB_OPTIONS,
    {"limit", 1, "how many, newest first (default 50)"},
    {"json", 0, "print JSON"},
    {NULL}};

const gv_cmd gv_cli_admin_cmds[] = {
    {"init", "", "create a database for a forum (and, with --demo, demo users)", cmd_init, 0, 0, init_opts},
    {"user add", "USERNAME", "create an account", cmd_user_add, 1, 1, user_add_opts},
    {"user import", "FILE", "create accounts from a CSV file (all or none)", cmd_user_import, 1, 1, user_import_opts},
    {"user list", "", "list accounts", cmd_user_list, 0, 0, user_list_opts},
    {"user disable", "USERNAME", "disable an account and end its sessions", cmd_user_change, 1, 1, user_change_opts},
    {"user enable", "USERNAME", "enable a disabled account", cmd_user_change, 1, 1, user_change_opts},
    {"user set", "USERNAME", "change an account's role or bind a delegate to a member state", cmd_user_set, 1, 1, user_set_opts},
    {"user passwd", "USERNAME", "reset a password (to be changed at next sign-in)", cmd_user_change, 1, 1, user_passwd_opts},
    {"meeting add", "", "add a meeting", cmd_meeting_add, 0, 0, meeting_add_opts},
    {"meeting list", "", "list meetings", cmd_meeting_list, 0, 0, meeting_list_opts},
    {"backup", "OUT", "write a consistent copy of the database to OUT (mode 0600)", cmd_backup, 1, 1, backup_opts},
    {"incidents", "", "list workflow incidents (script errors, limits hit)", cmd_incidents, 0, 0, incidents_opts},
    {NULL}};
