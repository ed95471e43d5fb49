/* Validation of action parameters and item titles against their declared types. */
#include "base/time.h"
#include "model/workflow.h"

#include <stdio.h>
#include <string.h>

static const char *type_name(gv_ptype t) {
  switch (t) {
    case GV_PT_STRING: return "string";
    case GV_PT_TEXT: return "text";
    case GV_PT_ENUM: return "enum";
    case GV_PT_INTEGER: return "integer";
    case GV_PT_BOOLEAN: return "boolean";
    case GV_PT_TIME: return "time";
    case GV_PT_MEMBER: return "member";
    case GV_PT_ITEM: return "item";
    case GV_PT_MEETING: return "meeting";
    case GV_PT_LIST: return "list";
    case GV_PT_OBJECT: return "object";
  }
  return "?";
}

/* Number of characters (UTF-8 code points) in s; jansson guarantees valid UTF-8. */
static int64_t utf8_chars(const char *s, size_t len) {
  int64_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
  return n;
}

static int has_control(const char *s, size_t len, int allow_newlines) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0) return 1;
    if (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\t' || c == '\r'))) return 1;
  }
  return 0;
}

static const json_t *enum_values(const gv_param *p, const json_t *data) {
  if (p->values_from == NULL) return NULL;
  const json_t *v = json_object_get(data, p->values_from);
  return json_is_array(v) ? v : NULL;
}

static int enum_has(const gv_param *p, const json_t *data, const char *s) {
  const json_t *dyn = enum_values(p, data);
  if (dyn) {
    size_t i;
    const json_t *v;
    json_array_foreach(dyn, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return 1;
    return 0;
  }
  for (size_t i = 0; i < p->nvalues; i++)
    if (strcmp(p->values[i], s) == 0) return 1;
  return 0;
}

static void enum_list(const gv_param *p, const json_t *data, char *buf, size_t size) {
  buf[0] = '\0';
  size_t used = 0;
  const json_t *dyn = enum_values(p, data);
  size_t n = dyn ? json_array_size(dyn) : p->nvalues;
  for (size_t i = 0; i < n && used + 4 < size; i++) {
    const char *v = dyn ? json_string_value(json_array_get(dyn, i)) : p->values[i];
    int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", v ? v : "?");
    if (w > 0) used += (size_t)w;
  }
}

static int check_len(const gv_param *p, const char *path, const char *s, size_t len, gv_error *err) {
  int64_t n = utf8_chars(s, len);
  int64_t max = p->has_max ? p->max : (p->type == GV_PT_TEXT ? 20000 : 500);
  if (n > max)
    return gv_error_set(err, GV_EPARAM, path, "%s is %lld characters long; at most %lld are allowed", path,
                        (long long)n, (long long)max);
  if (p->has_min && n < p->min)
    return gv_error_set(err, GV_EPARAM, path, "%s must be at least %lld characters long", path, (long long)p->min);
  if (p->required && n == 0) return gv_error_set(err, GV_EPARAM, path, "%s must not be empty", path);
  if (has_control(s, len, 1))
    return gv_error_set(err, GV_EPARAM, path, "%s contains control characters", path);
  return GV_OK;
}

typedef struct vctx {
  const gv_forum *f;
  const json_t *data;
  int64_t now;
  gv_ref_check_fn check;
  void *ud;
} vctx;

static json_t *validate_value(const gv_param *p, const char *path, const json_t *v, vctx *c, gv_error *err);

static json_t *validate_object(const gv_param *decl, size_t n, const char *path, const json_t *obj, vctx *c,
                               gv_error *err) {
  if (obj != NULL && !json_is_object(obj)) {
    gv_error_set(err, GV_EPARAM, path[0] ? path : "params", "%s must be an object", path[0] ? path : "params");
    return NULL;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    int known = 0;
    for (size_t i = 0; i < n; i++) known |= strcmp(decl[i].name, k) == 0;
    if (!known) {
      char full[128];
      snprintf(full, sizeof full, "%s%s%s", path, path[0] ? "." : "", k);
      char names[256] = "";
      size_t used = 0;
      for (size_t i = 0; i < n && used + 4 < sizeof names; i++) {
        int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", decl[i].name);
        if (w > 0) used += (size_t)w;
      }
      gv_error_set(err, GV_EPARAM, full, "unknown parameter '%s'%s%s", full, n ? "; expected: " : "", names);
      return NULL;
    }
  }
  json_t *out = json_object();
  for (size_t i = 0; i < n; i++) {
    const gv_param *p = &decl[i];
    char full[128];
    snprintf(full, sizeof full, "%s%s%s", path, path[0] ? "." : "", p->name);
    const json_t *given = obj ? json_object_get(obj, p->name) : NULL;
    if (given == NULL || json_is_null(given)) {
      if (p->def) {
        json_object_set(out, p->name, p->def);
        continue;
      }
      if (p->required) {
        gv_error_set(err, GV_EPARAM, full, "%s is required", full);
        json_decref(out);
        return NULL;
      }
      continue;
    }
    json_t *ok = validate_value(p, full, given, c, err);
    if (ok == NULL) {
      json_decref(out);
      return NULL;
    }
    json_object_set_new(out, p->name, ok);
  }
  return out;
}

/* Whether e equals an entry of list. */
static int listed_before(const json_t *list, const json_t *e) {
  size_t i;
  const json_t *x;
  json_array_foreach(list, i, x) {
    if (json_equal(x, e)) return 1;
  }
  return 0;
}

/* A list's count, each entry against p->of, and with p->unique no entry twice. */
static json_t *validate_list(const gv_param *p, const char *path, const json_t *v, vctx *c, gv_error *err) {
  size_t n = json_array_size(v);
  int64_t max = p->has_max ? p->max : 1000;
  if ((int64_t)n > max) {
    gv_error_set(err, GV_EPARAM, path, "%s has %zu entries; at most %lld are allowed", path, n, (long long)max);
    return NULL;
  }
  if (p->has_min && (int64_t)n < p->min) {
    gv_error_set(err, GV_EPARAM, path, "%s needs at least %lld entries", path, (long long)p->min);
    return NULL;
  }
  json_t *out = json_array();
  if (out == NULL) {
    gv_error_set(err, GV_ENOMEM, path, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    char sub[160];
    snprintf(sub, sizeof sub, "%s[%zu]", path, i);
    json_t *e = p->of ? validate_value(p->of, sub, json_array_get(v, i), c, err) : json_deep_copy(json_array_get(v, i));
    if (e == NULL) {
      if (err && err->code == GV_OK) gv_error_set(err, GV_ENOMEM, path, "out of memory");
      json_decref(out);
      return NULL;
    }
    if (p->unique && listed_before(out, e)) {
      char *shown = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
      gv_error_set(err, GV_EPARAM, path, "%s: %s is listed twice", path, shown ? shown : "an entry");
      free(shown);
      json_decref(e);
      json_decref(out);
      return NULL;
    }
    if (json_array_append_new(out, e) != 0) {
      json_decref(out);
      gv_error_set(err, GV_ENOMEM, path, "out of memory");
      return NULL;
    }
  }
  return out;
}

static json_t *validate_value(const gv_param *p, const char *path, const json_t *v, vctx *c, gv_error *err) {
  char buf[600];
  switch (p->type) {
    case GV_PT_STRING:
      if (!json_is_string(v)) break;
      if (check_len(p, path, json_string_value(v), json_string_length(v), err) != GV_OK) return NULL;
      return json_deep_copy(v);
    case GV_PT_TEXT: {
      if (json_is_string(v)) {
        if (check_len(p, path, json_string_value(v), json_string_length(v), err) != GV_OK) return NULL;
        return json_deep_copy(v);
      }
      if (!json_is_object(v) || json_object_size(v) == 0) break;
      const char *lang;
      json_t *t;
      json_object_foreach((json_t *)v, lang, t) {
        int known = 0;
        for (int i = 0; i < c->f->nlanguages; i++) known |= strcmp(c->f->languages[i], lang) == 0;
        char sub[160];
        snprintf(sub, sizeof sub, "%s.%s", path, lang);
        if (!known) {
          gv_error_set(err, GV_EPARAM, sub, "%s: '%s' is not one of the forum's languages", path, lang);
          return NULL;
        }
        if (!json_is_string(t)) {
          gv_error_set(err, GV_EPARAM, sub, "%s must be a string", sub);
          return NULL;
        }
        if (check_len(p, sub, json_string_value(t), json_string_length(t), err) != GV_OK) return NULL;
      }
      return json_deep_copy(v);
    }
    case GV_PT_ENUM:
      if (!json_is_string(v)) break;
      if (!enum_has(p, v ? c->data : NULL, json_string_value(v))) {
        enum_list(p, c->data, buf, sizeof buf);
        gv_error_set(err, GV_EPARAM, path, "%s must be one of: %s", path, buf);
        return NULL;
      }
      return json_deep_copy(v);
    case GV_PT_INTEGER:
      if (!json_is_integer(v)) break;
      if ((p->has_min && json_integer_value(v) < p->min) || (p->has_max && json_integer_value(v) > p->max)) {
        gv_error_set(err, GV_EPARAM, path, "%s must be between %lld and %lld", path,
                     (long long)(p->has_min ? p->min : INT64_MIN), (long long)(p->has_max ? p->max : INT64_MAX));
        return NULL;
      }
      return json_deep_copy(v);
    case GV_PT_BOOLEAN:
      if (!json_is_boolean(v)) break;
      return json_deep_copy(v);
    case GV_PT_TIME: {
      int64_t ms;
      if (!json_is_string(v) || gv_time_parse(json_string_value(v), &ms) != GV_OK) {
        gv_error_set(err, GV_EPARAM, path,
                     "%s must be a date and time in RFC 3339 with an offset, e.g. 2026-03-01T17:00:00+04:00", path);
        return NULL;
      }
      if (p->after_now && ms <= c->now) {
        gv_error_set(err, GV_EPARAM, path, "%s must be in the future", path);
        return NULL;
      }
      char ts[GV_TIME_BUFSZ];
      return json_string(gv_time_format(ms, ts));
    }
    case GV_PT_MEMBER:
      if (!json_is_string(v)) break;
      if (gv_forum_member(c->f, json_string_value(v)) == NULL) {
        gv_error_set(err, GV_EPARAM, path, "%s: '%s' is not a member of %s", path, json_string_value(v),
                     c->f->short_name);
        return NULL;
      }
      return json_deep_copy(v);
    case GV_PT_ITEM:
    case GV_PT_MEETING:
      if (!json_is_integer(v) || json_integer_value(v) <= 0) break;
      if (c->check) {
        gv_error e2;
        if (c->check(c->ud, p->type, json_integer_value(v), p->workflow, &e2) != GV_OK) {
          gv_error_set(err, GV_EPARAM, path, "%s: %s", path, e2.message);
          return NULL;
        }
      }
      return json_deep_copy(v);
    case GV_PT_LIST:
      if (!json_is_array(v)) break;
      return validate_list(p, path, v, c, err);
    case GV_PT_OBJECT:
      if (!json_is_object(v)) break;
      return validate_object(p->fields, p->nfields, path, v, c, err);
  }
  static const char *const expect[] = {"", "a string", "a string or an object of texts per language",
                                       "a string", "an integer", "true or false", "a string", "a member code",
                                       "an item id", "a meeting id", "a list", "an object"};
  gv_error_set(err, GV_EPARAM, path, "%s must be %s", path, expect[p->type]);
  return NULL;
}

json_t *gv_params_validate(const gv_param *decl, size_t n, const json_t *params, const gv_forum *f,
                           const json_t *data, int64_t now, gv_ref_check_fn check, void *ud, gv_error *err) {
  vctx c = {f, data, now, check, ud};
  return validate_object(decl, n, "", params, &c, err);
}

json_t *gv_title_validate(const json_t *title, const gv_forum *f, gv_error *err) {
  gv_param p = {0};
  p.name = "title";
  p.type = GV_PT_TEXT;
  p.required = 1;
  p.has_max = 1;
  p.max = 500;
  p.has_min = 1;
  p.min = 1;
  if (title == NULL || json_is_null(title)) {
    gv_error_set(err, GV_EPARAM, "title", "title is required");
    return NULL;
  }
  vctx c = {f, NULL, 0, NULL, NULL};
  json_t *t = validate_value(&p, "title", title, &c, err);
  if (t && json_is_string(t) && has_control(json_string_value(t), json_string_length(t), 0)) {
    json_decref(t);
    gv_error_set(err, GV_EPARAM, "title", "title must be one line");
    return NULL;
  }
  return t;
}

json_t *gv_param_describe(const gv_param *p, const json_t *data, const gv_forum *f) {
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string(type_name(p->type)));
  json_object_set_new(o, "required", json_boolean(p->required));
  if (p->has_min) json_object_set_new(o, p->type == GV_PT_INTEGER ? "min" : (p->type == GV_PT_LIST ? "min_items" : "min_length"), json_integer(p->min));
  if (p->has_max || p->type == GV_PT_STRING || p->type == GV_PT_TEXT)
    json_object_set_new(o, p->type == GV_PT_INTEGER ? "max" : (p->type == GV_PT_LIST ? "max_items" : "max_length"),
                        json_integer(p->has_max ? p->max : (p->type == GV_PT_TEXT ? 20000 : 500)));
  if (p->type == GV_PT_ENUM) {
    json_t *vals = json_array();
    const json_t *dyn = enum_values(p, data);
    if (dyn) json_array_extend(vals, (json_t *)dyn);
    else for (size_t i = 0; i < p->nvalues; i++) json_array_append_new(vals, json_string(p->values[i]));
    json_object_set_new(o, "values", vals);
  }
  if (p->type == GV_PT_MEMBER && f) {
    json_t *vals = json_array();
    for (size_t i = 0; i < f->nmembers; i++) json_array_append_new(vals, json_string(f->members[i].code));
    json_object_set_new(o, "values", vals);
  }
  if (p->type == GV_PT_TEXT && f) {
    json_t *langs = json_array();
    for (int i = 0; i < f->nlanguages; i++) json_array_append_new(langs, json_string(f->languages[i]));
    json_object_set_new(o, "languages", langs);
  }
  if (p->def) json_object_set(o, "default", p->def);
  if (p->after_now) json_object_set_new(o, "after", json_string("now"));
  if (p->workflow) json_object_set_new(o, "workflow", json_string(p->workflow));
  if (p->label.n) {
    json_t *l = json_object();
    for (int i = 0; i < p->label.n; i++) json_object_set_new(l, p->label.lang[i], json_string(p->label.text[i]));
    json_object_set_new(o, "label", l);
  }
  if (p->type == GV_PT_LIST && p->of) json_object_set_new(o, "items", gv_param_describe(p->of, data, f));
  if (p->type == GV_PT_LIST && p->unique) json_object_set_new(o, "unique_items", json_true());
  if (p->type == GV_PT_OBJECT) {
    json_t *fields = json_object();
    for (size_t i = 0; i < p->nfields; i++)
      json_object_set_new(fields, p->fields[i].name, gv_param_describe(&p->fields[i], data, f));
    json_object_set_new(o, "fields", fields);
  }
  return o;
}
