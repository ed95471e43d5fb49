/* Accounts and accreditation, with every change recorded as a forum-level event. */
#include "engine/accounts.h"
#include "model/role.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gv_account_username_valid(const char *name) {
  size_t n = strlen(name);
  if (n < 2 || n > 63 || !isalnum((unsigned char)name[0])) return 0;
  for (const char *p = name; *p; p++)
    if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-'))
      return 0;
  return 1;
}

int gv_account_check_role(const gv_forum *f, const char *role, const char *member, gv_error *err) {
  gv_role r = gv_role_parse(role);
  if (!gv_role_is_account(r))
    return gv_error_set(err, GV_EPARAM, "role",
                        "unknown role '%s': use secretariat, chair, delegate or observer", role);
  int is_delegate = r == GV_ROLE_DELEGATE;
  int has_member = member != NULL && *member;
  if (is_delegate && !has_member)
    return gv_error_set(err, GV_EPARAM, "member", "a delegate must be bound to a member state");
  if (!is_delegate && has_member)
    return gv_error_set(err, GV_EPARAM, "member", "only delegates are bound to a member state");
  if (has_member && gv_forum_member(f, member) == NULL)
    return gv_error_set(err, GV_EPARAM, "member", "'%s' is not a member of %s", member, f->short_name);
  return GV_OK;
}

static int record(gv_store *s, const gv_forum *f, int64_t actor_id, const char *action,
                  const char *member, json_t *params, int64_t now, int64_t *event_id, gv_error *err) {
  char *p = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
  gv_event e = {0};
  snprintf(e.forum_id, sizeof e.forum_id, "%s", f->id);
  e.kind = "account";
  e.action = action;
  e.actor_id = actor_id;
  e.member = member;
  e.at = now;
  e.params = p;
  int rc = p ? gv_store_event_insert(s, &e, err) : gv_error_set(err, GV_ENOMEM, NULL, NULL);
  free(p);
  if (rc == GV_OK && event_id) *event_id = e.id;
  return rc;
}

/* Tells a state's delegates (other than the new account) that an account can now act for it. */
static int notify_state(gv_store *s, const gv_forum *f, const gv_user *u, int64_t event_id,
                        int64_t now, gv_error *err) {
  json_t *aud = json_pack("{s:s, s:[s], s:[I]}", "kind", "delegates_of_member", "members",
                          u->member, "except_users", (json_int_t)u->id);
  json_t *pay = json_pack("{s:s, s:s, s:s, s:s}", "username", u->username, "display_name",
                          u->display_name, "member", u->member, "role", u->role);
  char *a = json_dumps(aud, JSON_COMPACT), *p = json_dumps(pay, JSON_COMPACT);
  gv_outbox_row r = {0};
  snprintf(r.forum_id, sizeof r.forum_id, "%s", f->id);
  r.event_id = event_id;
  r.topic = "account.added_to_member";
  r.audience = a;
  r.payload = p;
  r.created_at = now;
  int rc = a && p ? gv_store_outbox_insert(s, &r, err) : gv_error_set(err, GV_ENOMEM, NULL, NULL);
  free(a);
  free(p);
  json_decref(aud);
  json_decref(pay);
  return rc;
}

int gv_account_email_valid(const char *e) {
  const char *at = strchr(e, '@');
  if (at == NULL || at == e || strchr(at + 1, '@') || strchr(at + 1, '.') == NULL || strlen(e) > 254) return 0;
  for (const char *p = e; *p; p++)
    if ((unsigned char)*p <= 32 || (unsigned char)*p >= 127 || strchr("<>()[]\\,;:\"", *p)) return 0;
  return 1;
}

int gv_account_create(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u, int64_t now,
                      int64_t *event_id, gv_error *err) {
  if (!gv_account_username_valid(u->username))
    return gv_error_set(err, GV_EPARAM, "username",
                        "the username '%s' must be 2 to 63 lowercase letters, digits, '.', '_' or '-'",
                        u->username);
  int rc = gv_account_check_role(f, u->role, u->member, err);
  if (rc != GV_OK) return rc;
  if (u->language[0] == '\0') snprintf(u->language, sizeof u->language, "%s", f->nlanguages ? f->languages[0] : "en");
  if (strcmp(u->language, "fr") != 0 && strcmp(u->language, "en") != 0)
    return gv_error_set(err, GV_EPARAM, "language", "language must be fr or en");
  if (u->notify[0] == '\0') snprintf(u->notify, sizeof u->notify, "each");
  if (u->display_name[0] == '\0') snprintf(u->display_name, sizeof u->display_name, "%s", u->username);
  snprintf(u->forum_id, sizeof u->forum_id, "%s", f->id);
  u->created_at = u->updated_at = now;
  if ((rc = gv_store_user_insert(s, u, err)) != GV_OK) return rc;
  json_t *params = json_pack("{s:s, s:s, s:s, s:o}", "username", u->username, "display_name",
                             u->display_name, "role", u->role, "member",
                             u->member[0] ? json_string(u->member) : json_null());
  int64_t eid = 0;
  rc = record(s, f, actor_id, "account.created", u->member[0] ? u->member : NULL, params, now, &eid, err);
  json_decref(params);
  if (rc == GV_OK && u->member[0]) rc = notify_state(s, f, u, eid, now, err);
  if (rc == GV_OK && event_id) *event_id = eid;
  return rc;
}

int gv_account_set_disabled(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u,
                            int disabled, int64_t now, int64_t *event_id, gv_error *err) {
  u->disabled = disabled ? 1 : 0;
  u->updated_at = now;
  int rc = gv_store_user_update(s, u, err);
  if (rc == GV_OK && disabled) rc = gv_store_session_revoke_user(s, u->id, now, err);
  if (rc != GV_OK) return rc;
  json_t *params = json_pack("{s:s}", "username", u->username);
  rc = record(s, f, actor_id, disabled ? "account.disabled" : "account.enabled",
              u->member[0] ? u->member : NULL, params, now, event_id, err);
  json_decref(params);
  return rc;
}

int gv_account_set_password(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u,
                            const char *hash, int must_change, int64_t now, int64_t *event_id,
                            gv_error *err) {
  snprintf(u->password_hash, sizeof u->password_hash, "%s", hash);
  u->must_change_password = must_change ? 1 : 0;
  u->updated_at = now;
  int rc = gv_store_user_update(s, u, err);
  if (rc == GV_OK && actor_id != u->id) rc = gv_store_session_revoke_user(s, u->id, now, err);
  if (rc != GV_OK) return rc;
  json_t *params = json_pack("{s:s, s:b}", "username", u->username, "must_change", must_change);
  rc = record(s, f, actor_id, actor_id == u->id ? "account.password_changed" : "account.password_reset",
              u->member[0] ? u->member : NULL, params, now, event_id, err);
  json_decref(params);
  return rc;
}

int gv_account_set_role(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u,
                        const char *role, const char *member, int64_t now, int64_t *event_id,
                        gv_error *err) {
  int rc = gv_account_check_role(f, role, member, err);
  if (rc != GV_OK) return rc;
  json_t *params = json_pack("{s:s, s:s, s:o, s:s, s:o}", "username", u->username, "old_role", u->role,
                             "old_member", u->member[0] ? json_string(u->member) : json_null(),
                             "role", role, "member", member && *member ? json_string(member) : json_null());
  snprintf(u->role, sizeof u->role, "%s", role);
  snprintf(u->member, sizeof u->member, "%s", member ? member : "");
  u->updated_at = now;
  rc = gv_store_user_update(s, u, err);
  if (rc == GV_OK) rc = gv_store_session_revoke_user(s, u->id, now, err);
  int64_t eid = 0;
  if (rc == GV_OK)
    rc = record(s, f, actor_id, "account.role_changed", u->member[0] ? u->member : NULL, params, now, &eid, err);
  json_decref(params);
  if (rc == GV_OK && u->member[0]) rc = notify_state(s, f, u, eid, now, err);
  if (rc == GV_OK && event_id) *event_id = eid;
  return rc;
}

int gv_account_rename(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u, const char *display_name,
                      int64_t now, int64_t *event_id, gv_error *err) {
  json_t *params = json_pack("{s:s, s:s, s:s}", "username", u->username, "old_display_name", u->display_name,
                             "display_name", display_name);
  if (params == NULL) return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  snprintf(u->display_name, sizeof u->display_name, "%s", display_name);
  u->updated_at = now;
  int rc = gv_store_user_update(s, u, err);
  if (rc == GV_OK)
    rc = record(s, f, actor_id, "account.renamed", u->member[0] ? u->member : NULL, params, now, event_id, err);
  json_decref(params);
  return rc;
}

size_t gv_demo_users(const gv_forum *f, gv_demo_user *out) {
  static const struct { const char *name, *role, *display, *lang; } fixed[] = {
      {"secretariat", "secretariat", "Secretariat", "en"},
      {"chair", "chair", "Acting chair", "fr"},
      {"observer", "observer", "Observer", "en"}};
  size_t n = 0;
  for (size_t i = 0; i < 3; i++, n++) {
    memset(&out[n], 0, sizeof out[n]);
    snprintf(out[n].username, sizeof out[n].username, "%s", fixed[i].name);
    snprintf(out[n].role, sizeof out[n].role, "%s", fixed[i].role);
    snprintf(out[n].display_name, sizeof out[n].display_name, "%s", fixed[i].display);
    snprintf(out[n].language, sizeof out[n].language, "%s", fixed[i].lang);
  }
  if (!f->chair_appointed) snprintf(out[1].display_name, sizeof out[1].display_name, "%s", gv_i18n_get(&f->chair_title, "en"));
  else snprintf(out[1].display_name, sizeof out[1].display_name, "Chair");
  for (size_t i = 0; i < f->nmembers; i++, n++) {
    memset(&out[n], 0, sizeof out[n]);
    char lower[16];
    size_t k;
    for (k = 0; f->members[i].code[k] && k < sizeof lower - 1; k++) lower[k] = (char)tolower((unsigned char)f->members[i].code[k]);
    lower[k] = '\0';
    snprintf(out[n].username, sizeof out[n].username, "%s.delegate", lower);
    snprintf(out[n].role, sizeof out[n].role, "delegate");
    snprintf(out[n].member, sizeof out[n].member, "%s", f->members[i].code);
    snprintf(out[n].display_name, sizeof out[n].display_name, "Delegate of %s", gv_i18n_get(&f->members[i].name, "en"));
    snprintf(out[n].language, sizeof out[n].language, "%s", f->nlanguages ? f->languages[0] : "en");
  }
  return n;
}
