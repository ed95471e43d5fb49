/* Accounts and accreditation: creating users, roles, binding delegates to a state, disabling, password resets — each an event in the record. */
#ifndef GV_ACCOUNTS_H
#define GV_ACCOUNTS_H

#include "model/forum.h"
#include "store/store.h"

/* Checks a username: 2 to 63 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit. */
int gv_account_username_valid(const char *name);

/* Checks role and member against the forum (a delegate needs a member of the forum; the
 * other roles none). Returns GV_OK or GV_EPARAM with the field named. */
int gv_account_check_role(const gv_forum *f, const char *role, const char *member, gv_error *err);

/* Creates u (whose password_hash is already computed) in the caller's transaction:
 * validates it, inserts it, records an "account.created" event by actor_id (0 = the
 * command line) and, for a delegate, tells the state's existing delegates through the
 * outbox. Sets u->id. */
int gv_account_create(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u, int64_t now,
                      int64_t *event_id, gv_error *err);

/* Disables (disabled=1) or re-enables a user; disabling ends all their sessions at once.
 * Records "account.disabled" / "account.enabled". In the caller's transaction. */
int gv_account_set_disabled(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u,
                            int disabled, int64_t now, int64_t *event_id, gv_error *err);

/* Sets a new password hash. When by someone else (a reset), must_change is set and the
 * user's sessions end. Records "account.password_reset" or "account.password_changed". */
int gv_account_set_password(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u,
                            const char *hash, int must_change, int64_t now, int64_t *event_id,
                            gv_error *err);

/* Changes role and member (accreditation). Records "account.role_changed" with the old and
 * new values, notifies the delegates of the new state, and ends the user's sessions. */
int gv_account_set_role(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u,
                        const char *role, const char *member, int64_t now, int64_t *event_id,
                        gv_error *err);

/* Changes the display name (how the pages and the record name the account), writing every
 * field of u back. Records "account.renamed" with the old and new names. In a transaction. */
int gv_account_rename(gv_store *s, const gv_forum *f, int64_t actor_id, gv_user *u, const char *display_name,
                      int64_t now, int64_t *event_id, gv_error *err);

/* The demo accounts every forum gets with `gavel init --demo` (and scenario tests):
 * secretariat, chair (acting chair), observer and one delegate per member, named
 * "<code>.delegate" in lowercase. */
typedef struct gv_demo_user {
  char username[64];
  char role[16];
  char member[16];
  char display_name[128];
  char language[8];
} gv_demo_user;

/* Fills out (room for 3 + f->nmembers entries) and returns how many. */
size_t gv_demo_users(const gv_forum *f, gv_demo_user *out);

/* A plain address, the only kind mail is sent to: ASCII, one @ with a dotted domain after it,
 * no spaces, quotes, brackets or separators (the email plugin checks the same). */
int gv_account_email_valid(const char *email);

#endif
