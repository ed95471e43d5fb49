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

/* The whole RFC 5322 message (CRLF lines, base64 UTF-8 body). Caller frees. */
char *email_message(const email_settings *s, const gv_person *to, const char *message_id, const char *references,
                    int64_t date_ms, const char *subject, const char *body, size_t *len);

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
