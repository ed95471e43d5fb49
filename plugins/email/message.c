/* What notifications say, in French or English, and the RFC 5322 messages that carry them. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "email.h"

/* ---- Texts ------------------------------------------------------------------------------------ */

static int fr(const gv_person *p) { return p->language && strcmp(p->language, "fr") == 0; }

/* A deadline as the forum's people read it: "2027-01-15 17:00 (Indian/Mauritius)". */
static void local_time(gv_host *h, int64_t ms, char *out, size_t size) {
  char t[64];
  gv_clock_strftime(ms, gv_host_forum_time_zone(h), "%Y-%m-%d %H:%M", t, sizeof t);
  snprintf(out, size, "%s (%s)", t, gv_host_forum_time_zone(h));
}

typedef struct outbox_row {
  int found;
  int64_t event_id, item_id, created_at;
  char topic[128];
  char *payload;
  char *audience;
} outbox_row;

static int read_outbox(void *ud, const gv_row *r) {
  outbox_row *o = ud;
  o->found = 1;
  o->event_id = gv_row_int(r, 0);
  o->item_id = gv_row_int(r, 1);
  snprintf(o->topic, sizeof o->topic, "%s", gv_row_text(r, 2) ? gv_row_text(r, 2) : "");
  o->payload = strdup(gv_row_text(r, 3) ? gv_row_text(r, 3) : "{}");
  o->created_at = gv_row_int(r, 4);
  o->audience = strdup(gv_row_text(r, 5) ? gv_row_text(r, 5) : "null");
  return 1;
}

typedef struct actor_row {
  int64_t actor_id;
  char member[16];
} actor_row;

static int read_actor(void *ud, const gv_row *r) {
  actor_row *a = ud;
  a->actor_id = gv_row_int(r, 0);
  snprintf(a->member, sizeof a->member, "%s", gv_row_text(r, 1) ? gv_row_text(r, 1) : "");
  return 1;
}

static int read_name(void *ud, const gv_person *p) {
  snprintf(ud, 200, "%s", p->display_name);
  return 0;
}

/* Who took the action: "Amina Saïd (Comoros)", or the engine's own doing. */
static void actor_phrase(gv_host *h, int64_t event_id, const gv_person *reader, char *out, size_t size) {
  actor_row a = {0, ""};
  gv_arg arg[1] = {GV_INT(event_id)};
  gv_error err;
  gv_host_sql(h, "SELECT actor_id, member FROM events WHERE id = ?1", arg, 1, read_actor, &a, &err);
  if (a.actor_id == 0) {
    snprintf(out, size, "%s", fr(reader) ? "Automatiquement (échéance)" : "Automatically (deadline)");
    return;
  }
  char name[200] = "";
  gv_host_person(h, a.actor_id, read_name, name, &err);
  const char *state = a.member[0] ? gv_host_member_name(h, a.member, reader->language) : "";
  if (*state) snprintf(out, size, "%s (%s)", name, state);
  else snprintf(out, size, "%s", name);
}

static void link_line(gv_str *b, const email_settings *s, int64_t item_id) {
  if (s->base_url[0] && item_id > 0) gv_str_printf(b, "\n%s/items/%lld\n", s->base_url, (long long)item_id);
}

static void footer(gv_str *b, gv_host *h, const email_settings *s, const gv_person *p) {
  gv_str_printf(b, "\n-- \n%s\n", gv_host_forum_title(h, p->language));
  if (fr(p))
    gv_str_printf(b, "Message automatique envoyé au compte %s. Pour choisir comment être averti : %s%s\n",
                  p->username, s->base_url[0] ? s->base_url : "", s->base_url[0] ? "/me" : "votre profil");
  else
    gv_str_printf(b, "An automatic message to the account %s. To choose how you are told: %s%s\n", p->username,
                  s->base_url[0] ? s->base_url : "", s->base_url[0] ? "/me" : "your profile");
}

int email_render_note(gv_host *h, const email_settings *s, const gv_person *p, int64_t outbox_id, email_note *out,
                      gv_error *err) {
  memset(out, 0, sizeof *out);
  outbox_row o = {0};
  gv_arg arg[1] = {GV_INT(outbox_id)};
  int rc = gv_host_sql(h, "SELECT event_id, item_id, topic, payload, created_at, audience FROM outbox WHERE id = ?1",
                       arg, 1, read_outbox, &o, err);
  if (rc != GV_OK) return rc;
  if (!o.found) return gv_error_set(err, GV_ENOTFOUND, NULL, "outbox row %lld is gone", (long long)outbox_id);
  json_t *pl = json_loads(o.payload, 0, NULL), *aud = json_loads(o.audience, JSON_DECODE_ANY, NULL);
  const char *forum = gv_host_forum_name(h);
  const char *action = json_string_value(json_object_get(pl, "action"));
  gv_item_info item;
  int have_item = o.item_id > 0 && gv_host_item(h, o.item_id, p->language, action, &item, err) == GV_OK;
  gv_str *b = gv_str_new();
  int reminder = strcmp(o.topic, "reminder") == 0, account = strcmp(o.topic, "account.added_to_member") == 0;
  if (have_item && !reminder && !account) {
    char who[300];
    actor_phrase(h, o.event_id, p, who, sizeof who);
    int created = action && strcmp(action, "create") == 0;
    const char *what = strcmp(o.topic, "item.action") == 0 ? item.action_label : o.topic;
    if (created)
      snprintf(out->subject, sizeof out->subject, fr(p) ? "[%s] Nouveau : %s" : "[%s] New: %s", forum, item.title);
    else
      snprintf(out->subject, sizeof out->subject, fr(p) ? "[%s] %s : %s" : "[%s] %s: %s", forum, item.title, what);
    gv_str_printf(b, "%s\n%s\n\n", item.workflow_title, item.title);
    if (created)
      gv_str_printf(b, fr(p) ? "Ouvert par %s.\n" : "Opened by %s.\n", who);
    else
      gv_str_printf(b, "%s%s %s.\n", what, fr(p) ? " :" : ":", who);
    gv_str_printf(b, fr(p) ? "État : %s.\n" : "State: %s.\n", item.state_label);
    /* A workflow's own words travel only once the item hides nothing. */
    const char *message = json_string_value(json_object_get(json_object_get(pl, "data"), "message"));
    if (message && !item.sealed) gv_str_printf(b, "\n%s\n", message);
    link_line(b, s, o.item_id);
  } else if (reminder && have_item) {
    /* A reminder goes only to states that have still not answered, before the deadline,
     * and only to people who still act for a state it was about. */
    int64_t deadline = 0;
    const char *dl = json_string_value(json_object_get(pl, "deadline"));
    if (dl == NULL || gv_clock_parse(dl, &deadline) != GV_OK || deadline <= gv_host_now(h)) out->skip = 1;
    int concerned = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(aud, "members"), i, m) concerned |= p->member && json_is_string(m) &&
                                                                      strcmp(json_string_value(m), p->member) == 0;
    if (!concerned || gv_host_member_answered(h, o.item_id, p->member)) out->skip = 1;
    char when[128];
    local_time(h, deadline, when, sizeof when);
    snprintf(out->subject, sizeof out->subject, fr(p) ? "[%s] Rappel : %s" : "[%s] Reminder: %s", forum, item.title);
    gv_str_printf(b, "%s\n%s\n\n", item.workflow_title, item.title);
    if (fr(p))
      gv_str_printf(b, "%s n'a pas encore répondu. Échéance : %s.\n",
                    p->member ? gv_host_member_name(h, p->member, "fr") : "Votre État", when);
    else
      gv_str_printf(b, "%s has not answered yet. Deadline: %s.\n",
                    p->member ? gv_host_member_name(h, p->member, "en") : "Your state", when);
    link_line(b, s, o.item_id);
  } else if (account) {
    const char *member = json_string_value(json_object_get(pl, "member"));
    const char *state = gv_host_member_name(h, member, p->language);
    snprintf(out->subject, sizeof out->subject,
             fr(p) ? "[%s] Un nouveau compte agit pour %s" : "[%s] A new account acts for %s", forum, state);
    gv_str_printf(b,
                  fr(p) ? "Le compte %s (%s) peut désormais agir pour %s.\n"
                          "Si vous ne l'attendiez pas, prévenez le secrétariat.\n"
                        : "The account %s (%s) can now act for %s.\n"
                          "If you did not expect this, tell the secretariat.\n",
                  json_string_value(json_object_get(pl, "username")) ? json_string_value(json_object_get(pl, "username"))
                                                                     : "?",
                  json_string_value(json_object_get(pl, "display_name"))
                      ? json_string_value(json_object_get(pl, "display_name"))
                      : "?",
                  state);
  } else {
    snprintf(out->subject, sizeof out->subject, "[%s] %s", forum, o.topic);
    gv_str_printf(b, "%s\n", o.topic);
    link_line(b, s, o.item_id);
  }
  footer(b, h, s, p);
  out->body = gv_str_finish(b);
  json_decref(pl);
  json_decref(aud);
  free(o.payload);
  free(o.audience);
  return GV_OK;
}

void email_note_clear(email_note *n) {
  free(n->body);
  n->body = NULL;
}

/* ---- RFC 5322 ------------------------------------------------------------------------------------ */

int email_address_ok(const char *a) {
  size_t n = a ? strlen(a) : 0;
  if (n < 3 || n > 254) return 0;
  const char *at = strchr(a, '@');
  if (at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@') || strchr(at + 1, '.') == NULL) return 0;
  for (const char *c = a; *c; c++)
    if (*c <= ' ' || *c >= 127 || strchr("<>()[]\\,;:\"", *c)) return 0;
  return 1;
}

static int ascii_plain(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < ' ' || (unsigned char)*s >= 127) return 0;
  return 1;
}

/* A header value: kept as it is if plain ASCII (and no encoded-word look-alike), else RFC 2047
 * encoded words of whole UTF-8 characters, folded. Control characters never pass. */
static void header_text_encoded(gv_str *b, const char *v) {
  size_t n = strlen(v), i = 0;
  int first = 1;
  while (i < n) {
    size_t j = i, take = 0;
    while (j < n && take < 36) {
      size_t len = 1;
      unsigned char c = (unsigned char)v[j];
      if (c >= 0xF0) len = 4;
      else if (c >= 0xE0) len = 3;
      else if (c >= 0xC0) len = 2;
      if (take + len > 36 || j + len > n) break;
      take += len;
      j += len;
    }
    if (take == 0) take = 1, j = i + 1;
    uint8_t chunk[48];
    size_t k = 0;
    for (size_t x = i; x < j; x++) chunk[k++] = (uint8_t)((unsigned char)v[x] < ' ' ? ' ' : v[x]);
    char enc[80];
    gv_text_base64(chunk, k, enc);
    gv_str_printf(b, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", enc);
    first = 0;
    i = j;
  }
}

static void header_text(gv_str *b, const char *v) {
  if (ascii_plain(v) && strstr(v, "=?") == NULL) gv_str_append(b, v, strlen(v));
  else header_text_encoded(b, v);
}

/* A display name before an address: as it is when plain words, quoted when it holds
 * punctuation ("Doe, John"), encoded when it is not ASCII. */
static void header_phrase(gv_str *b, const char *v) {
  int plain = 1;
  for (const char *c = v; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == ' ' ||
          strchr("!#$%&'*+-/=?^_`{|}~", *c)))
      plain = 0;
  if (plain && *v) {
    gv_str_puts(b, v);
  } else if (ascii_plain(v) && strstr(v, "=?") == NULL) {
    gv_str_putc(b, '"');
    for (const char *c = v; *c; c++) {
      if (*c == '"' || *c == '\\') gv_str_putc(b, '\\');
      gv_str_putc(b, *c);
    }
    gv_str_putc(b, '"');
  } else {
    /* Encoded words are never punctuation to a parser, whatever they contain. */
    header_text_encoded(b, v);
  }
}

static void date_header(gv_str *b, int64_t ms) {
  static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  gv_str_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday % 7], tm.tm_mday,
                months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

char *email_message(const email_settings *s, const gv_person *to, const char *message_id, const char *references,
                    int64_t date_ms, const char *subject, const char *body, size_t *len) {
  gv_str *b = gv_str_new();
  date_header(b, date_ms);
  gv_str_puts(b, "From: ");
  header_phrase(b, s->from_name);
  gv_str_printf(b, " <%s>\r\nTo: ", s->from);
  header_phrase(b, to->display_name);
  gv_str_printf(b, " <%s>\r\nSubject: ", to->email);
  header_text(b, subject);
  gv_str_printf(b, "\r\nMessage-ID: %s\r\n", message_id);
  if (references && *references) gv_str_printf(b, "References: %s\r\n", references);
  gv_str_printf(b,
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"
                "Content-Language: %s\r\nAuto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All\r\n\r\n",
                to->language);
  /* The body, with CRLF line ends, in base64 lines of 76 characters. */
  gv_str *text = gv_str_new();
  for (const char *c = body; *c; c++) {
    if (*c == '\n') gv_str_append(text, "\r\n", 2);
    else if (*c != '\r') gv_str_append(text, c, 1);
  }
  size_t tl = gv_str_len(text);
  const uint8_t *tp = (const uint8_t *)gv_str_data(text);
  for (size_t i = 0; i < tl; i += 57) {
    char line[80];
    gv_text_base64(tp + i, tl - i < 57 ? tl - i : 57, line);
    gv_str_printf(b, "%s\r\n", line);
  }
  gv_str_free(text);
  *len = gv_str_len(b);
  return gv_str_finish(b);
}
