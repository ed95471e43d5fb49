/* Bulk account import from CSV: every row checked first, then all created or none. */
#ifndef GV_IMPORT_H
#define GV_IMPORT_H

#include <jansson.h>

#include "model/forum.h"
#include "store/store.h"

/* The most rows one import may hold (each needs a password hash of about a third of a second). */
#define GV_IMPORT_MAX_ROWS 200

/* One account to create: the CSV line it came from and the user (no password hash yet). */
typedef struct gv_import_row {
  size_t line;
  gv_user u;
} gv_import_row;

/* Reads a CSV text whose header names the columns username, role, member, name, email and
 * language (username and role required, any order; a leading UTF-8 byte order mark is
 * skipped) and checks every row against the forum
 * and the accounts in s: the role, the member (a forum member, required for a delegate,
 * refused otherwise), the username (valid, not repeated in the file, not taken), the email
 * and the language (fr or en, or empty for the forum's first). On GV_OK, *rows (n of them;
 * the caller frees it) are ready to create. On GV_EPARAM, *errors is a JSON array of
 * {line, field, message}, one per wrong cell, which the caller owns; *rows is NULL. */
int gv_account_import_check(gv_store *s, const gv_forum *f, const char *text, size_t len, gv_import_row **rows,
                            size_t *n, json_t **errors, gv_error *err);

/* Creates every row (each with its password_hash filled in) in the caller's transaction,
 * each an "account.created" event by actor_id (0: the command line). Stops at the first
 * failure, which the caller answers by rolling the whole transaction back. *first_event
 * and *last_event (may be NULL) receive the events' id range. */
int gv_account_import_create(gv_store *s, const gv_forum *f, int64_t actor_id, gv_import_row *rows, size_t n,
                             int64_t now, int64_t *first_event, int64_t *last_event, gv_error *err);

#endif
