/* What notifications say, in French or English, and the RFC 5322 messages that carry them. */
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "email.h"

/* ---- Texts ------------------------------------------------------------------------------------ */

static int fr(const gv_person *p) { return p->language && strcmp(p->language, "fr") == 0; }

/* The zone a person reads times in: theirs (host version 5 and later), else the forum's. */
static const char *reader_zone(gv_host *h, const gv_person *p) {
  if (p->size >= offsetof(gv_person, time_zone) + sizeof p->time_zone && p->time_zone && *p->time_zone)
    return p->time_zone;
  return gv_host_forum_time_zone(h);
}

/* A time as the reader reads it, in their zone and language: "15 janvier 2027 à 17:00
 * (Europe/Paris)" or "15 January 2027 at 17:00 (Europe/Paris)". */
static void local_time(gv_host *h, const gv_person *p, int64_t ms, char *out, size_t size) {
  static const char *const en[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};
  static const char *const frm[] = {"janvier", "février", "mars",      "avril",   "mai",      "juin",
                                    "juillet", "août",    "septembre", "octobre", "novembre", "décembre"};
  const char *tz = reader_zone(h, p);
  char t[64];
  int d = 1, m = 1, y = 1970, hh = 0, mm = 0;
  gv_clock_strftime(ms, tz, "%d %m %Y %H %M", t, sizeof t);
  if (sscanf(t, "%d %d %d %d %d", &d, &m, &y, &hh, &mm) != 5 || m < 1 || m > 12) m = 1;
  if (fr(p)) snprintf(out, size, "%d %s %d à %02d:%02d (%s)", d, frm[m - 1], y, hh, mm, tz);
  else snprintf(out, size, "%d %s %d at %02d:%02d (%s)", d, en[m - 1], y, hh, mm, tz);
}

/* A text parameter in the reader's language: a string, or one string per language. */
static const char *text_in(const json_t *v, const gv_person *p) {
  if (json_is_string(v)) return json_string_value(v);
  if (!json_is_object(v)) return NULL;
  const char *t = json_string_value(json_object_get(v, p->language));
  if (t == NULL) t = json_string_value(json_object_get(v, "en"));
  if (t == NULL) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) if (json_is_string(x)) return json_string_value(x);
  }
  return t;
}

static int read_text_param(void *ud, const gv_row *r) {
  json_t **out = ud;
  json_t *params = json_loads(gv_row_text(r, 0) ? gv_row_text(r, 0) : "{}", 0, NULL);
  json_t *t = json_object_get(params, "text");
  if (t) *out = json_incref(t);
  json_decref(params);
  return 1;
}

/* The text an item had when the event happened (a decision circulated under silence): the
 * latest text an unsealed event of the item set, up to this one. */
static void latest_text(gv_str *b, gv_host *h, const gv_person *p, int64_t item_id, int64_t event_id) {
  json_t *t = NULL;
  gv_arg a[2] = {GV_INT(item_id), GV_INT(event_id)};
  gv_error err;
  gv_host_sql(h,
              "SELECT params FROM events WHERE item_id = ?1 AND id <= ?2 AND sealed = 0"
              " AND json_extract(params, '$.text') IS NOT NULL ORDER BY id DESC LIMIT 1",
              a, 2, read_text_param, &t, &err);
  const char *text = text_in(t, p);
  if (text && *text) gv_str_printf(b, "\n%s\n%s\n", fr(p) ? "Texte :" : "Text:", text);
  json_decref(t);
}

/* Times in a history sentence are written as the API writes them (UTC, RFC 3339): each
 * parameter that is a time reads in the reader's zone and language instead. */
static void localize_times(gv_host *h, const gv_person *p, const json_t *params, char *sentence, size_t size) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)params, k, v) {
    int64_t ms;
    const char *iso = json_string_value(v);
    if (iso == NULL || strlen(iso) < 20 || gv_clock_parse(iso, &ms) != GV_OK) continue;
    char *at = strstr(sentence, iso);
    if (at == NULL) continue;
    char when[160], rest[2048];
    local_time(h, p, ms, when, sizeof when);
    snprintf(rest, sizeof rest, "%s", at + strlen(iso));
    snprintf(at, size - (size_t)(at - sentence), "%s%s", when, rest);
  }
}

/* What the action asked of its readers, from its (unsealed) parameters: the question or the
 * text, and the deadline, each in the reader's language and time. */
static void asked(gv_str *b, gv_host *h, const email_settings *s, const gv_person *p, const json_t *params,
                  int64_t item_id, int64_t event_id) {
  const char *question = text_in(json_object_get(params, "question"), p);
  const char *text = text_in(json_object_get(params, "text"), p);
  const char *dl = json_string_value(json_object_get(params, "deadline"));
  int64_t deadline = 0;
  if (question && *question) gv_str_printf(b, "\n%s\n%s\n", fr(p) ? "Question :" : "Question:", question);
  if (text && *text) gv_str_printf(b, "\n%s\n%s\n", fr(p) ? "Texte :" : "Text:", text);
  if (dl && gv_clock_parse(dl, &deadline) == GV_OK && (!question || !*question) && (!text || !*text))
    latest_text(b, h, p, item_id, event_id);
  if (dl && gv_clock_parse(dl, &deadline) == GV_OK) {
    char when[160];
    local_time(h, p, deadline, when, sizeof when);
    gv_str_printf(b, fr(p) ? "\nDate limite : %s.\n" : "\nDeadline: %s.\n", when);
    if (s->base_url[0] && item_id > 0)
      gv_str_puts(b, fr(p) ? "Pour y donner suite avant cette date, ouvrez la page ci-dessous.\n"
                           : "To act on it before then, open the page below.\n");
  }
}

/* The question a consultation asked, from the first notification about the item (the
 * outbox never holds a sealed parameter), for messages that do not carry it themselves. */
typedef struct first_params {
  json_t *params;
} first_params;

static int read_first_params(void *ud, const gv_row *r) {
  first_params *f = ud;
  json_t *pl = json_loads(gv_row_text(r, 0) ? gv_row_text(r, 0) : "{}", 0, NULL);
  json_t *params = json_object_get(pl, "params");
  if (json_is_object(params)) f->params = json_incref(params);
  json_decref(pl);
  return 1;
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
  char unsub[600];
  email_unsubscribe_url(s, gv_host_forum_id(h), p->user_id, unsub, sizeof unsub);
  if (unsub[0]) gv_str_printf(b, fr(p) ? "Ne plus recevoir ces messages :\n%s\n" : "To receive no more of these:\n%s\n", unsub);
}

/* A sentence ends with a full stop unless it ends with its own punctuation. */
static void sentence_line(gv_str *b, const char *text) {
  size_t n = strlen(text);
  char last = n ? text[n - 1] : '.';
  gv_str_printf(b, "%s%s\n", text, strchr(".!?:…", last) ? "" : ".");
}

/* A notification about an item's event: what happened (the workflow's history sentence), the
 * state the event left it in, what is asked, the workflow's own words, the link. */
static void item_note(gv_host *h, const email_settings *s, const gv_person *p, const outbox_row *o, json_t *pl,
                      const gv_item_info *item, email_note *out, gv_str *b) {
  const char *forum = gv_host_forum_name(h);
  const char *action = json_string_value(json_object_get(pl, "action"));
  gv_event_text et;
  gv_error err;
  int have_event = gv_host_event_text(h, o->event_id, p->language, &et, &err) == GV_OK;
  int created = action && strcmp(action, "create") == 0;
  const char *what = strcmp(o->topic, "item.action") == 0 ? item->action_label : o->topic;
  if (created)
    snprintf(out->subject, sizeof out->subject, fr(p) ? "[%s] Nouveau : %s" : "[%s] New: %s", forum, item->title);
  else
    snprintf(out->subject, sizeof out->subject, fr(p) ? "[%s] %s : %s" : "[%s] %s: %s", forum, item->title, what);
  gv_str_printf(b, "%s\n%s\n\n", item->workflow_title, item->title);
  if (have_event && et.sentence[0]) {
    localize_times(h, p, json_object_get(pl, "params"), et.sentence, sizeof et.sentence);
    sentence_line(b, et.sentence);
  } else {
    char who[300];
    actor_phrase(h, o->event_id, p, who, sizeof who);
    if (created) gv_str_printf(b, fr(p) ? "Ouvert par %s.\n" : "Opened by %s.\n", who);
    else gv_str_printf(b, "%s%s %s.\n", what, fr(p) ? " :" : ":", who);
  }
  /* The state the event left the item in, as it was then: the item may have moved on since. */
  const char *state = have_event ? et.state_label : json_string_value(json_object_get(pl, "state"));
  gv_str_printf(b, fr(p) ? "État : %s.\n" : "State: %s.\n", state && *state ? state : item->state_label);
  asked(b, h, s, p, json_object_get(pl, "params"), o->item_id, o->event_id);
  /* A workflow's own words travel only once the item hides nothing. */
  const char *message = json_string_value(json_object_get(json_object_get(pl, "data"), "message"));
  if (message && !item->sealed) gv_str_printf(b, "\n%s\n", message);
  link_line(b, s, o->item_id);
}

/* A reminder goes only to states that have still not answered, before the deadline, and
 * only to people who still act for a state it was about. */
static void reminder_note(gv_host *h, const email_settings *s, const gv_person *p, const outbox_row *o, json_t *pl,
                          json_t *aud, const gv_item_info *item, email_note *out, gv_str *b) {
  int64_t deadline = 0;
  const char *dl = json_string_value(json_object_get(pl, "deadline"));
  if (dl == NULL || gv_clock_parse(dl, &deadline) != GV_OK || deadline <= gv_host_now(h)) out->skip = 1;
  int concerned = 0;
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(aud, "members"), i, m) concerned |= p->member && json_is_string(m) &&
                                                                    strcmp(json_string_value(m), p->member) == 0;
  if (!concerned || gv_host_member_answered(h, o->item_id, p->member)) out->skip = 1;
  char when[160];
  local_time(h, p, deadline, when, sizeof when);
  snprintf(out->subject, sizeof out->subject, fr(p) ? "[%s] Rappel : %s" : "[%s] Reminder: %s", gv_host_forum_name(h),
           item->title);
  gv_str_printf(b, "%s\n%s\n\n", item->workflow_title, item->title);
  if (fr(p))
    gv_str_printf(b, "%s n'a pas encore répondu. Échéance : %s.\n",
                  p->member ? gv_host_member_name(h, p->member, "fr") : "Votre État", when);
  else
    gv_str_printf(b, "%s has not answered yet. Deadline: %s.\n",
                  p->member ? gv_host_member_name(h, p->member, "en") : "Your state", when);
  gv_str_printf(b, fr(p) ? "État : %s.\n" : "State: %s.\n", item->state_label);
  first_params fp = {NULL};
  gv_arg a[1] = {GV_INT(o->item_id)};
  gv_error err;
  gv_host_sql(h, "SELECT payload FROM outbox WHERE item_id = ?1 AND topic = 'item.action' ORDER BY id LIMIT 1", a, 1,
              read_first_params, &fp, &err);
  const char *question = text_in(json_object_get(fp.params, "question"), p);
  if (question && *question) gv_str_printf(b, "\n%s\n%s\n", fr(p) ? "Question :" : "Question:", question);
  json_decref(fp.params);
  link_line(b, s, o->item_id);
}

static void account_note(gv_host *h, const gv_person *p, json_t *pl, email_note *out, gv_str *b) {
  const char *member = json_string_value(json_object_get(pl, "member"));
  const char *state = gv_host_member_name(h, member, p->language);
  const char *user = json_string_value(json_object_get(pl, "username"));
  const char *name = json_string_value(json_object_get(pl, "display_name"));
  snprintf(out->subject, sizeof out->subject,
           fr(p) ? "[%s] Un nouveau compte agit pour %s" : "[%s] A new account acts for %s", gv_host_forum_name(h),
           state);
  gv_str_printf(b,
                fr(p) ? "Le compte %s (%s) peut désormais agir pour %s.\n"
                        "Si vous ne l'attendiez pas, prévenez le secrétariat.\n"
                      : "The account %s (%s) can now act for %s.\n"
                        "If you did not expect this, tell the secretariat.\n",
                user ? user : "?", name ? name : "?", state);
}

/* Renders one outbox row for one reader; see email.h. */
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
  const char *action = json_string_value(json_object_get(pl, "action"));
  gv_item_info item;
  int have_item = o.item_id > 0 && gv_host_item(h, o.item_id, p->language, action, &item, err) == GV_OK;
  gv_str *b = gv_str_new();
  int reminder = strcmp(o.topic, "reminder") == 0, account = strcmp(o.topic, "account.added_to_member") == 0;
  if (have_item && !reminder && !account) {
    item_note(h, s, p, &o, pl, &item, out, b);
  } else if (reminder && have_item) {
    reminder_note(h, s, p, &o, pl, aud, &item, out, b);
  } else if (account) {
    account_note(h, p, pl, out, b);
  } else {
    snprintf(out->subject, sizeof out->subject, "[%s] %s", gv_host_forum_name(h), o.topic);
    gv_str_printf(b, "%s\n", o.topic);
    link_line(b, s, o.item_id);
  }
  footer(b, h, s, p);
  out->body = gv_str_finish(b);
  json_decref(pl);
  json_decref(aud);
  free(o.payload);
  free(o.audience);
  return out->body ? GV_OK : gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
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

/* Text in HTML, every character that means something there escaped. */
static void html_escape(gv_str *b, const char *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    switch (t[i]) {
    case '&': gv_str_puts(b, "&amp;"); break;
    case '<': gv_str_puts(b, "&lt;"); break;
    case '>': gv_str_puts(b, "&gt;"); break;
    case '"': gv_str_puts(b, "&quot;"); break;
    case '\'': gv_str_puts(b, "&#39;"); break;
    case '\r': break;
    default: gv_str_putc(b, t[i]);
    }
  }
}

static int is_link(const char *line, size_t n) {
  if (!(n > 8 && strncmp(line, "https://", 8) == 0) && !(n > 7 && strncmp(line, "http://", 7) == 0)) return 0;
  for (size_t i = 0; i < n; i++)
    if (line[i] == ' ' || line[i] == '\t') return 0;
  return 1;
}

/* The HTML alternative: paragraphs at blank lines, a link for each line that is a URL, the
 * signature after a rule; see email.h. */
char *email_html(const char *lang, const char *subject, const char *body) {
  gv_str *b = gv_str_new();
  gv_str_printf(b, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\"><title>",
                lang && strcmp(lang, "fr") == 0 ? "fr" : "en");
  html_escape(b, subject, strlen(subject));
  gv_str_puts(b, "</title></head>\n<body style=\"font-family: sans-serif; line-height: 1.4\">\n<p>");
  int open = 1, first = 1;
  for (const char *line = body; *line;) {
    const char *nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    if (n == 0) {
      if (open) gv_str_puts(b, "</p>\n");
      open = 0;
    } else if (n == 3 && strncmp(line, "-- ", 3) == 0) {
      if (open) gv_str_puts(b, "</p>\n");
      gv_str_puts(b, "<hr>\n");
      open = 0;
    } else {
      if (!open) gv_str_puts(b, "<p>");
      else if (!first) gv_str_puts(b, "<br>\n");
      open = 1;
      if (is_link(line, n)) {
        gv_str_puts(b, "<a href=\"");
        html_escape(b, line, n);
        gv_str_puts(b, "\">");
        html_escape(b, line, n);
        gv_str_puts(b, "</a>");
      } else {
        html_escape(b, line, n);
      }
    }
    first = n == 0 || (n == 3 && strncmp(line, "-- ", 3) == 0);
    line += n + (nl ? 1 : 0);
  }
  if (open) gv_str_puts(b, "</p>\n");
  gv_str_puts(b, "</body></html>\n");
  return gv_str_finish(b);
}

/* A part's text with CRLF line ends, in base64 lines of 76 characters. */
static void base64_part(gv_str *b, const char *content) {
  gv_str *text = gv_str_new();
  for (const char *c = content; *c; c++) {
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
}

/* A header value that goes as it is only when it is plain ASCII with no line breaks. */
static void header_raw(gv_str *b, const char *name, const char *v) {
  if (v && *v && ascii_plain(v)) gv_str_printf(b, "%s: %s\r\n", name, v);
}

/* Builds the whole message; see email.h. */
char *email_message(const email_settings *s, const gv_person *to, const email_headers *hd, int64_t date_ms,
                    const char *subject, const char *body, size_t *len) {
  gv_str *b = gv_str_new();
  date_header(b, date_ms);
  gv_str_puts(b, "From: ");
  header_phrase(b, s->from_name);
  gv_str_printf(b, " <%s>\r\nTo: ", s->from);
  header_phrase(b, to->display_name);
  gv_str_printf(b, " <%s>\r\nSubject: ", to->email);
  header_text(b, subject);
  gv_str_puts(b, "\r\n");
  header_raw(b, "Message-ID", hd->message_id);
  header_raw(b, "In-Reply-To", hd->in_reply_to);
  header_raw(b, "References", hd->references);
  if (hd->list_id && *hd->list_id) {
    /* The forum's name may not be ASCII: the phrase is encoded, the id in brackets is not. */
    const char *lt = strrchr(hd->list_id, '<');
    gv_str_puts(b, "List-Id: ");
    if (lt && lt > hd->list_id) {
      char phrase[400];
      snprintf(phrase, sizeof phrase, "%.*s", (int)(lt - hd->list_id - 1), hd->list_id);
      header_phrase(b, phrase);
      gv_str_putc(b, ' ');
    }
    gv_str_printf(b, "%s\r\n", lt ? lt : hd->list_id);
  }
  if (hd->unsubscribe && ascii_plain(hd->unsubscribe)) {
    gv_str_printf(b, "List-Unsubscribe: <%s>\r\n", hd->unsubscribe);
    /* RFC 8058: one click, by a POST the mail provider makes, only over HTTPS. */
    if (strncmp(hd->unsubscribe, "https://", 8) == 0) gv_str_puts(b, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
  }
  /* The boundary is the same on every attempt (derived from the Message-ID) and cannot occur
   * in base64 text, which has no "_". */
  uint8_t digest[GV_HASH_SHA256_LEN];
  char hex[2 * GV_HASH_SHA256_LEN + 1], boundary[96];
  const char *mid = hd->message_id ? hd->message_id : subject;
  gv_hash_sha256(mid, strlen(mid), digest);
  gv_text_hex(digest, 12, hex);
  snprintf(boundary, sizeof boundary, "=_gavel_%s", hex);
  gv_str_printf(b,
                "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n"
                "Content-Language: %s\r\nAuto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All\r\n\r\n"
                "This is a message in MIME format: a plain text part and its HTML alternative.\r\n",
                boundary, to->language);
  gv_str_printf(b, "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                boundary);
  base64_part(b, body);
  char *html = email_html(to->language, subject, body);
  gv_str_printf(b, "--%s\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                boundary);
  base64_part(b, html ? html : "");
  free(html);
  gv_str_printf(b, "--%s--\r\n", boundary);
  *len = gv_str_len(b);
  return gv_str_finish(b);
}
