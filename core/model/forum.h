/* A forum's definition: names, time zone, languages, members, chair arrangements and rules. */
#ifndef GV_FORUM_H
#define GV_FORUM_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define GV_MAX_LANGS 8
#define GV_MAX_REMINDERS 8

/* A text in the forum's languages: one string per language code. */
typedef struct gv_i18n {
  char lang[GV_MAX_LANGS][8];
  char *text[GV_MAX_LANGS]; /* owned */
  int n;
} gv_i18n;

typedef struct gv_member {
  char code[16];
  gv_i18n name;
  int line; /* where it was declared */
} gv_member;

typedef struct gv_forum_rules {
  int agenda_cutoff_days;            /* items may not be proposed closer than this to a meeting */
  int64_t min_silence_ms;            /* shortest silence period */
  int64_t reminders_ms[GV_MAX_REMINDERS]; /* offsets before a deadline */
  int nreminders;
  int quorum;                        /* members needed for a meeting decision; 0 = no rule */
  char *json;                        /* all rules as a JSON object (owned), for workflows */
} gv_forum_rules;

typedef struct gv_forum {
  char id[64];            /* "midiocc" */
  char short_name[64];    /* "MiDIOCC", used in decision numbers */
  gv_i18n name;
  char time_zone[64];
  char languages[GV_MAX_LANGS][8];
  int nlanguages;
  gv_member *members;
  size_t nmembers;
  int chair_appointed;    /* 1 if a chair is appointed */
  char chair_acting[16];  /* the role that acts for the chair ("chair" or "secretariat") */
  gv_i18n chair_title;    /* e.g. Acting chair */
  gv_forum_rules rules;
  char source_file[256];
  char source_sha256[65];
} gv_forum;

/* Loads and validates a forum file. On a mistake returns GV_ECONFIG with err holding
 * "file:line: message". The caller owns *out (gv_forum_free). */
int gv_forum_load_file(const char *path, gv_forum **out, gv_error *err);
/* Same, from source text; chunkname is used in messages. */
int gv_forum_load_string(const char *chunkname, const char *src, size_t len, gv_forum **out,
                         gv_error *err);

/* Frees a forum (NULL is a no-op). */
void gv_forum_free(gv_forum *f);

/* The member with this code, or NULL. */
const gv_member *gv_forum_member(const gv_forum *f, const char *code);

/* The text for lang, else English, else the first one; "" when empty. Valid while t lives. */
const char *gv_i18n_get(const gv_i18n *t, const char *lang);
/* Sets the text for lang (copied). Returns GV_OK or GV_ENOMEM. */
int gv_i18n_set(gv_i18n *t, const char *lang, const char *text);
void gv_i18n_free(gv_i18n *t);

/* The forum as JSON text in the API's shape {id, name, time_zone, languages, rules, members, chair}.
 * Caller frees. */
char *gv_forum_to_json(const gv_forum *f);
/* Rebuilds a forum from gv_forum_to_json's output (as stored). Caller owns *out. */
int gv_forum_from_json(const char *json, gv_forum **out, gv_error *err);

#endif
