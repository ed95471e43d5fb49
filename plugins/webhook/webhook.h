/* The webhook plugin's shared declarations: settings, the endpoints' administration and the
 * HTTP sender that runs on the server's worker threads. */
#ifndef GV_WEBHOOK_H
#define GV_WEBHOOK_H

#include <stdint.h>

#include "gavel/plugin.h"

#define WEBHOOK_MAX_PARALLEL 3
#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_EVENTS_MAX 512

typedef struct webhook_settings {
  int64_t first_retry_ms, max_retry_ms;
  int max_attempts;
  int parallel;
  long timeout_s;
  int allow_http;          /* plain http:// to other hosts than this machine */
} webhook_settings;

/* Parses the plugin's settings (plugins.webhook, as JSON) into s. GV_OK or GV_ECONFIG. */
int webhook_settings_parse(const char *config_json, webhook_settings *s, gv_error *err);

/* Checks an endpoint's address: http(s)://, a host, http:// only to this machine unless the
 * settings allow it. GV_OK or GV_EINVAL with a message for the person registering it. */
int webhook_url_check(const webhook_settings *s, const char *url, gv_error *err);

/* Checks and normalises a list of event kinds ("action,timer" or a JSON array's items joined
 * with commas) into out: comma-separated, without spaces; "" means every event. */
int webhook_events_check(const char *list, char *out, size_t size, gv_error *err);

/* Registers an endpoint: a new secret ("whsec_" + base64 of 24 random bytes) is written into
 * secret (64 bytes at least) and the new id into *id. */
int webhook_endpoint_add(gv_host *h, const char *url, const char *events, const char *by, int64_t *id, char *secret,
                         gv_error *err);
/* Removes an endpoint; its deliveries not yet made are cancelled. GV_ENOTFOUND if none. */
int webhook_endpoint_remove(gv_host *h, int64_t id, gv_error *err);

/* The settings the plugin's state holds (webhook.c), for the routes and commands. */
const webhook_settings *webhook_settings_of(void *state);

/* The HTTP routes and commands (admin.c). */
extern const gv_plugin_route webhook_routes[];
extern const gv_plugin_command webhook_commands[];

/* ---- Sending (http.c) ---------------------------------------------------------------------- */

typedef struct webhook_http webhook_http;
/* libcurl's process-wide set-up (reference counted by libcurl), from init; and its undoing. */
int webhook_http_global_init(void);
void webhook_http_global_cleanup(void);
/* The result of one attempt, on the loop: ok for a 2xx answer; status is the HTTP status (0 when
 * there was none); error says what went wrong. */
typedef void (*webhook_done_fn)(void *ud, int64_t delivery_id, int ok, long status, const char *error);

webhook_http *webhook_http_new(void *loop, const webhook_settings *s, webhook_done_fn done, void *ud);
/* Queues one POST on a worker thread. Takes headers (NULL-terminated "Name: value" lines,
 * each malloc'd, and the array) and body (malloc'd) in every case. */
int webhook_http_post(webhook_http *m, int64_t delivery_id, const char *url, char **headers, char *body, size_t len);
size_t webhook_http_busy(const webhook_http *m);
int webhook_http_sending(const webhook_http *m, int64_t delivery_id);
/* Stops: queued attempts are cancelled, running ones aborted; m frees itself when the last
 * one came back. Results after this are dropped (the deliveries stay pending). */
void webhook_http_close(webhook_http *m);

#endif
