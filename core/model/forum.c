/* Forum definitions in C: texts per language, members, rules, and their JSON form. */
#include "model/forum.h"
#include "base/alloc.h"
#include "base/time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gv_i18n_get(const gv_i18n *t, const char *lang) {
  if (t->n == 0) return "";
  if (lang)
    for (int i = 0; i < t->n; i++)
      if (strcmp(t->lang[i], lang) == 0) return t->text[i];
  for (int i = 0; i < t->n; i++)
    if (strcmp(t->lang[i], "en") == 0) return t->text[i];
  return t->text[0];
}

int gv_i18n_set(gv_i18n *t, const char *lang, const char *text) {
  for (int i = 0; i < t->n; i++) {
    if (strcmp(t->lang[i], lang) == 0) {
      char *p = gv_strdup(text);
      if (p == NULL) return GV_ENOMEM;
      free(t->text[i]);
      t->text[i] = p;
      return GV_OK;
    }
  }
  if (t->n == GV_MAX_LANGS || strlen(lang) >= sizeof t->lang[0]) return GV_EINVAL;
  char *p = gv_strdup(text);
  if (p == NULL) return GV_ENOMEM;
  snprintf(t->lang[t->n], sizeof t->lang[0], "%s", lang);
  t->text[t->n++] = p;
  return GV_OK;
}

void gv_i18n_free(gv_i18n *t) {
  for (int i = 0; i < t->n; i++) free(t->text[i]);
  t->n = 0;
}

void gv_forum_free(gv_forum *f) {
  if (f == NULL) return;
  gv_i18n_free(&f->name);
  gv_i18n_free(&f->chair_title);
  for (size_t i = 0; i < f->nmembers; i++) gv_i18n_free(&f->members[i].name);
  free(f->members);
  free(f->rules.json);
  free(f);
}

const gv_member *gv_forum_member(const gv_forum *f, const char *code) {
  if (code == NULL) return NULL;
  for (size_t i = 0; i < f->nmembers; i++)
    if (strcmp(f->members[i].code, code) == 0) return &f->members[i];
  return NULL;
}

static json_t *i18n_json(const gv_i18n *t) {
  json_t *o = json_object();
  for (int i = 0; i < t->n; i++) json_object_set_new(o, t->lang[i], json_string(t->text[i]));
  return o;
}

static void i18n_from(gv_i18n *t, json_t *o) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    if (json_is_string(v)) gv_i18n_set(t, k, json_string_value(v));
  }
}

char *gv_forum_to_json(const gv_forum *f) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(f->id));
  json_object_set_new(o, "short_name", json_string(f->short_name));
  json_object_set_new(o, "name", i18n_json(&f->name));
  json_object_set_new(o, "time_zone", json_string(f->time_zone));
  json_t *langs = json_array();
  for (int i = 0; i < f->nlanguages; i++) json_array_append_new(langs, json_string(f->languages[i]));
  json_object_set_new(o, "languages", langs);
  json_t *rules = f->rules.json ? json_loads(f->rules.json, 0, NULL) : NULL;
  json_object_set_new(o, "rules", rules ? rules : json_object());
  json_t *members = json_array();
  for (size_t i = 0; i < f->nmembers; i++) {
    json_t *m = json_object();
    json_object_set_new(m, "code", json_string(f->members[i].code));
    json_object_set_new(m, "name", i18n_json(&f->members[i].name));
    json_array_append_new(members, m);
  }
  json_object_set_new(o, "members", members);
  json_t *chair = json_object();
  json_object_set_new(chair, "appointed", json_boolean(f->chair_appointed));
  json_object_set_new(chair, "acting", json_string(f->chair_acting));
  json_object_set_new(chair, "title", i18n_json(&f->chair_title));
  json_object_set_new(o, "chair", chair);
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  return s;
}

/* Reads the typed rules that the engine itself uses out of the rules JSON. */
static int rules_from(gv_forum_rules *r, json_t *rules, gv_error *err) {
  json_t *v;
  if ((v = json_object_get(rules, "agenda_cutoff_days")) && json_is_integer(v))
    r->agenda_cutoff_days = (int)json_integer_value(v);
  if ((v = json_object_get(rules, "quorum")) && json_is_integer(v))
    r->quorum = (int)json_integer_value(v);
  if ((v = json_object_get(rules, "min_silence")) && json_is_string(v) &&
      gv_duration_parse(json_string_value(v), &r->min_silence_ms) != GV_OK)
    return gv_error_set(err, GV_ECONFIG, "min_silence", "bad duration");
  r->nreminders = 0;
  if ((v = json_object_get(rules, "reminders")) && json_is_array(v)) {
    size_t i;
    json_t *d;
    json_array_foreach(v, i, d) {
      if (r->nreminders == GV_MAX_REMINDERS || !json_is_string(d) ||
          gv_duration_parse(json_string_value(d), &r->reminders_ms[r->nreminders]) != GV_OK)
        return gv_error_set(err, GV_ECONFIG, "reminders", "bad reminder offset");
      r->nreminders++;
    }
  }
  r->json = json_dumps(rules, JSON_COMPACT | JSON_PRESERVE_ORDER);
  return GV_OK;
}

static const char *jstr(json_t *o, const char *key, const char *def) {
  const char *v = json_string_value(json_object_get(o, key));
  return v ? v : def;
}

int gv_forum_from_json(const char *text, gv_forum **out, gv_error *err) {
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  if (!json_is_object(o)) {
    json_decref(o);
    return gv_error_set(err, GV_ESTORE, NULL, "stored forum definition is not valid JSON");
  }
  gv_forum *f = gv_calloc(1, sizeof *f);
  if (f == NULL) {
    json_decref(o);
    return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  }
  int rc = GV_OK;
  snprintf(f->id, sizeof f->id, "%s", jstr(o, "id", ""));
  snprintf(f->short_name, sizeof f->short_name, "%s",
           jstr(o, "short_name", f->id));
  snprintf(f->time_zone, sizeof f->time_zone, "%s",
           jstr(o, "time_zone", "UTC"));
  i18n_from(&f->name, json_object_get(o, "name"));
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(o, "languages"), i, v) {
    if (f->nlanguages < GV_MAX_LANGS && json_is_string(v))
      snprintf(f->languages[f->nlanguages++], sizeof f->languages[0], "%s", json_string_value(v));
  }
  json_t *members = json_object_get(o, "members");
  f->nmembers = json_array_size(members);
  f->members = gv_calloc(f->nmembers ? f->nmembers : 1, sizeof *f->members);
  if (f->members == NULL) {
    f->nmembers = 0;
    json_decref(o);
    gv_forum_free(f);
    return gv_error_set(err, GV_ENOMEM, NULL, NULL);
  }
  json_array_foreach(members, i, v) {
    snprintf(f->members[i].code, sizeof f->members[i].code, "%s",
             jstr(v, "code", ""));
    i18n_from(&f->members[i].name, json_object_get(v, "name"));
  }
  json_t *chair = json_object_get(o, "chair");
  f->chair_appointed = json_is_true(json_object_get(chair, "appointed"));
  snprintf(f->chair_acting, sizeof f->chair_acting, "%s",
           jstr(chair, "acting", "chair"));
  i18n_from(&f->chair_title, json_object_get(chair, "title"));
  json_t *rules = json_object_get(o, "rules");
  if (json_is_object(rules)) rc = rules_from(&f->rules, rules, err);
  json_decref(o);
  if (rc != GV_OK) {
    gv_forum_free(f);
    return rc;
  }
  *out = f;
  return GV_OK;
}
