/* The email plugin's parts: settings, message rendering, SMTP transfers on the server's loop. */
#ifndef GV_EMAIL_H
#define GV_EMAIL_H

#include <stddef.h>
#include <stdint.h>

#include "gavel/plugin.h"

#define EMAIL_MAX_PARALLEL 3

typedef enum { SEC_STARTTLS, SEC_TLS, SEC_NONE } email_security;

typedef struct email_settings {
  int configured;            /* an smtp server is set: mail is sent */
  char smtp_url[512];        /* smtp://host:port or smtps://host:port */
  email_security security;
  char from[256];            /* the envelope and From address */
  char from_name[128];
  char domain[256];          /* of the From address: Message-IDs end with it */
  char ca_file[512];
  char username[256];
  char password[256];
  char base_url[256];        /* links in messages; "" for none */
  int digest_minute;         /* minutes after local midnight the daily digest goes */
  int max_attempts;
  int parallel;
  int64_t first_retry_ms;
  int64_t max_retry_ms;
  long timeout_s;
  char list_domain[256];     /* List-Id is <FORUM.gavel.list_domain>; default: the From domain */
  /* Not settings: the key that signs unsubscribe links, kept in the plugin's table. */
  uint8_t unsubscribe_key[32];
  int have_key;
} email_settings;

int email_settings_parse(const char *config_json, const char *db_path, email_settings *s, gv_error *err);

/* ---- Messages ------------------------------------------------------------------------------ */

/* What one notification says, in the reader's language. */
typedef struct email_note {
  char subject[600];
  char *body;                /* owned; lines end in \n */
  int skip;                  /* nothing to send (a reminder already answered) */
} email_note;

/* Renders the outbox row for person p. */
int email_render_note(gv_host *h, const email_settings *s, const gv_person *p, int64_t outbox_id, email_note *out,
                      gv_error *err);
void email_note_clear(email_note *n);

/* The headers that place a message in its thread and its list. */
typedef struct email_headers {
  const char *message_id;
  const char *in_reply_to;   /* the previous message about the same item, or NULL */
  const char *references;    /* the item's thread root, then the previous message; or NULL */
  const char *list_id;       /* the List-Id value, or NULL */
  const char *unsubscribe;   /* the one-click unsubscribe URL, or NULL */
} email_headers;

/* The whole RFC 5322 message: multipart/alternative with the body as text/plain and as HTML
 * (every character escaped, links made links), each part UTF-8 in base64, CRLF lines.
 * Caller frees. */
char *email_message(const email_settings *s, const gv_person *to, const email_headers *hd, int64_t date_ms,
                    const char *subject, const char *body, size_t *len);

/* The HTML alternative of a plain text body, everything escaped. Caller frees. */
char *email_html(const char *lang, const char *subject, const char *body);

/* ---- Unsubscribing --------------------------------------------------------------------------- */

/* The one-click unsubscribe URL of a user (base_url/v1/email/unsubscribe?user=ID&token=...),
 * signed with the plugin's key; "" when there is no base_url or key. */
void email_unsubscribe_url(const email_settings *s, const char *forum_id, int64_t user_id, char *out, size_t size);
/* Non-zero if token is the signature of user_id's unsubscribe link. */
int email_unsubscribe_token_ok(const email_settings *s, const char *forum_id, int64_t user_id, const char *token);
/* Loads the signing key from the plugin's table, making one the first time. */
int email_unsubscribe_key(gv_host *h, email_settings *s, gv_error *err);
/* The settings of the plugin's state (the state handed to routes). */
email_settings *email_state_settings(void *state);
/* GET shows a page with a button; POST (RFC 8058 one-click) turns the user's mail off. */
void email_unsubscribe_page(void *state, gv_host *h, gv_request *r);
void email_unsubscribe_post(void *state, gv_host *h, gv_request *r);

/* A plain address (ASCII, one @, no spaces, quotes or brackets): the only kind sent to. */
int email_address_ok(const char *a);

/* ---- SMTP on the loop ------------------------------------------------------------------------ */

typedef struct email_smtp email_smtp;
/* Called once per transfer: ok, or an error saying whether retrying can help. */
typedef void (*email_done_fn)(void *ud, int64_t delivery_id, int ok, int permanent, const char *error);

email_smtp *email_smtp_new(void *loop, const email_settings *s, email_done_fn done, void *ud);
/* Starts sending msg (taken over) to rcpt. */
int email_smtp_send(email_smtp *m, int64_t delivery_id, const char *rcpt, char *msg, size_t len);
size_t email_smtp_busy(const email_smtp *m);
int email_smtp_sending(const email_smtp *m, int64_t delivery_id);
/* Aborts transfers (their deliveries stay pending) and closes every handle. */
void email_smtp_close(email_smtp *m);

/* Sends one message now, blocking (for `gavel email test`). Returns GV_OK or an error. */
int email_smtp_send_blocking(const email_settings *s, const char *rcpt, const char *msg, size_t len, gv_error *err);

#endif
