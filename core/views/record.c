/* The record of a meeting: gathers its agenda, decisions and consultations, and renders them. */
#include "views/record.h"
#include "base/buf.h"
#include "base/time.h"
#include "views/views.h"

#include <stdlib.h>
#include <string.h>

static json_t *i18n_json(const gv_i18n *t) {
  json_t *o = json_object();
  for (int i = 0; i < t->n; i++) json_object_set_new(o, t->lang[i], json_string(t->text[i]));
  return o;
}

static json_t *member_names(const gv_forum *f) {
  json_t *o = json_object();
  for (size_t i = 0; i < f->nmembers; i++) json_object_set_new(o, f->members[i].code, i18n_json(&f->members[i].name));
  return o;
}

static json_t *state_label(const gv_workflow *w, const char *state) {
  const gv_state_decl *sd = w ? gv_workflow_state(w, state) : NULL;
  return sd ? i18n_json(&sd->label) : json_pack("{s:s}", "en", state);
}

/* The moment the day ends (midnight after it) in the forum's zone. */
static int64_t end_of_day(const char *date, const char *tz) {
  int64_t ms;
  if (gv_date_parse(date, tz, &ms) != GV_OK) return 0;
  return ms + 86400000;
}

static json_t *event_of(gv_engine *e, const char *forum_id, int64_t item_id, const char *action) {
  json_t *evs = NULL, *found = NULL;
  if (gv_store_events(gv_engine_store(e), forum_id, item_id, 0, 100000, &evs, NULL) != GV_OK) return NULL;
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) if (strcmp(json_string_value(json_object_get(ev, "action")), action) == 0) {
    json_decref(found);
    found = json_incref(ev);
  }
  json_decref(evs);
  return found;
}

/* A copy of the value at path of data (a new reference), or NULL when there is none. */
static json_t *field_of(const json_t *data, const gv_record_decl *rd, gv_record_field f) {
  json_t *v = gv_data_path(data, rd->fields[f]);
  return v ? json_incref(v) : NULL;
}

/* The list at field f, or an empty list. */
static json_t *list_of(const json_t *data, const gv_record_decl *rd, gv_record_field f) {
  json_t *out = json_array();
  size_t i;
  json_t *x;
  json_array_foreach(gv_data_path(data, rd->fields[f]), i, x) json_array_append(out, x);
  return out;
}

static json_t *or_null(json_t *v) { return v ? v : json_null(); }

static json_t *decision_json(gv_engine *e, const gv_forum *f, const gv_item_row *r, const gv_workflow *w) {
  const gv_record_decl *rd = &w->record;
  json_t *data = json_loads(r->data, 0, NULL);
  json_t *d = json_object();
  json_object_set_new(d, "item_id", json_integer(r->id));
  json_object_set_new(d, "title", json_loads(r->title, JSON_DECODE_ANY, NULL));
  json_object_set_new(d, "number", or_null(field_of(data, rd, GV_RF_NUMBER)));
  json_object_set_new(d, "outcome", json_string(r->state));
  json_object_set_new(d, "outcome_label", state_label(w, r->state));
  json_t *text = field_of(data, rd, GV_RF_TEXT);
  if (text) json_object_set_new(d, "text", text);
  json_object_set_new(d, "adopted_at", or_null(field_of(data, rd, GV_RF_ADOPTED_AT)));
  json_object_set_new(d, "reservations", list_of(data, rd, GV_RF_RESERVATIONS));
  json_object_set_new(d, "objections", list_of(data, rd, GV_RF_OBJECTIONS));
  json_object_set_new(d, "extensions", list_of(data, rd, GV_RF_EXTENSIONS));
  if (gv_name_in(rd->silence_states, rd->nsilence_states, r->state)) {
    json_t *ev = rd->silence_action ? event_of(e, f->id, r->id, rd->silence_action) : NULL;
    json_t *p = ev ? json_object_get(ev, "params") : NULL;
    json_t *silence = json_object();
    json_t *v = gv_data_path(data, rd->silence_deadline);
    if (v) json_object_set(silence, "deadline", v);
    if ((v = gv_data_path(data, rd->silence_rounds)) != NULL) json_object_set(silence, "rounds", v);
    json_t *delay = p ? json_object_get(p, "delay_seconds") : NULL;
    json_object_set_new(silence, "delay_seconds", delay ? json_incref(delay) : json_integer(0));
    json_object_set_new(d, "silence", silence);
    json_decref(ev);
  }
  json_decref(data);
  return d;
}

static json_t *consultation_json(gv_engine *e, const gv_forum *f, const gv_item_row *r, const gv_workflow *w) {
  json_t *data = json_loads(r->data, 0, NULL);
  json_t *c = json_object();
  json_object_set_new(c, "item_id", json_integer(r->id));
  json_object_set_new(c, "title", json_loads(r->title, JSON_DECODE_ANY, NULL));
  json_t *q = field_of(data, &w->record, GV_RF_QUESTION);
  if (q) json_object_set_new(c, "question", q);
  json_object_set_new(c, "state", json_string(r->state));
  json_object_set_new(c, "state_label", state_label(w, r->state));
  json_t *positions = json_array();
  json_t *pending = json_array();
  /* The record is public: stances still hidden are not in it. */
  json_object_set_new(c, "hidden", json_boolean(r->sealed));
  if (!r->sealed) {
    json_t *cur = NULL;
    gv_store_positions(gv_engine_store(e), r->id, 0, &cur, NULL);
    for (size_t m = 0; m < f->nmembers; m++) {
      json_t *p = json_object_get(cur, f->members[m].code);
      if (p == NULL) {
        json_array_append_new(pending, json_string(f->members[m].code));
        continue;
      }
      json_array_append_new(positions, json_pack("{s:s, s:O, s:O, s:O, s:O}", "member", f->members[m].code, "stance",
                                                 json_object_get(p, "stance"), "statement", json_object_get(p, "statement"),
                                                 "on_behalf", json_object_get(p, "on_behalf"), "reference",
                                                 json_object_get(p, "reference")));
    }
    json_decref(cur);
  }
  json_object_set_new(c, "positions", positions);
  json_object_set_new(c, "pending", pending);
  json_decref(data);
  return c;
}

static json_t *agenda_json(const gv_item_row *r, const gv_workflow *w) {
  json_t *data = json_loads(r->data, 0, NULL);
  json_t *a = json_pack("{s:I, s:o, s:o, s:s, s:o}", "item_id", (json_int_t)r->id, "title",
                        json_loads(r->title, JSON_DECODE_ANY, NULL), "description",
                        or_null(field_of(data, &w->record, GV_RF_DESCRIPTION)), "state", r->state, "proposed_by",
                        r->member[0] ? json_string(r->member) : json_null());
  json_decref(data);
  return a;
}

int gv_record_lists(const gv_workflow *w, const char *state) {
  const gv_record_decl *rd = &w->record;
  return rd->section != GV_RECORD_NONE && (rd->nstates == 0 || gv_name_in(rd->states, rd->nstates, state));
}

/* The sections of one record being gathered, and the window of time between the previous
 * meeting and this one. */
typedef struct gather {
  gv_engine *e;
  const gv_forum *f;
  int64_t meeting_id, since, until;
  json_t *agenda, *decisions, *consultations;
} gather;

/* Whether the item reached a between-meetings state inside the record's window. */
static int in_window(const gather *g, const gv_item_row *r, const gv_workflow *w) {
  const gv_record_decl *rd = &w->record;
  if (!gv_name_in(rd->between, rd->nbetween, r->state)) return 0;
  json_t *data = json_loads(r->data, 0, NULL);
  int64_t at = 0;
  const char *a = json_string_value(gv_data_path(data, rd->fields[GV_RF_ADOPTED_AT]));
  int yes = a && gv_time_parse(a, &at) == GV_OK && at > g->since && at <= g->until;
  json_decref(data);
  return yes;
}

/* Adds the item to its section if its workflow's record declaration lists it here. */
static void consider(gather *g, const gv_item_row *r) {
  const gv_workflow *w = gv_engine_workflow_version(g->e, g->f->id, r->version_id, NULL);
  if (w == NULL || w->record.section == GV_RECORD_NONE) return;
  int here = r->meeting_id == g->meeting_id;
  if (!(here && gv_record_lists(w, r->state)) && !in_window(g, r, w)) return;
  switch (w->record.section) {
    case GV_RECORD_AGENDA: json_array_append_new(g->agenda, agenda_json(r, w)); break;
    case GV_RECORD_DECISIONS: json_array_append_new(g->decisions, decision_json(g->e, g->f, r, w)); break;
    case GV_RECORD_CONSULTATIONS: json_array_append_new(g->consultations, consultation_json(g->e, g->f, r, w)); break;
    default: break;
  }
}

/* Runs one indexed item query page by page, considering each row (except those of the
 * meeting when skip_here: already listed). */
static int scan(gather *g, gv_item_filter *flt, int skip_here, gv_error *err) {
  for (;;) {
    gv_item_row *rows = NULL;
    size_t n = 0;
    int rc = gv_store_item_list(gv_engine_store(g->e), flt, &rows, &n, err);
    if (rc != GV_OK) return rc;
    for (size_t i = 0; i < n; i++) {
      flt->after_id = rows[i].id;
      if (!(skip_here && rows[i].meeting_id == g->meeting_id)) consider(g, &rows[i]);
      gv_item_row_clear(&rows[i]);
    }
    free(rows);
    if (n < (size_t)flt->limit) return GV_OK;
  }
}

/* Items in a between-meetings state belong to the record of the first meeting after they
 * reached it, even without a meeting: one indexed read per workflow and such state, as
 * declared by any stored version of the forum's workflows. */
static void scan_between(gather *g, gv_error *err) {
  json_t *list = NULL;
  if (gv_store_wfcurrent_list(gv_engine_store(g->e), g->f->id, &list, NULL) != GV_OK) return;
  size_t i, k;
  json_t *wf, *ver;
  json_array_foreach(list, i, wf) {
    const char *name = json_string_value(json_object_get(wf, "name"));
    json_t *states = json_object();
    json_array_foreach(json_object_get(wf, "versions"), k, ver) {
      const gv_workflow *w = gv_engine_workflow_version(g->e, g->f->id, json_integer_value(json_object_get(ver, "id")), NULL);
      for (size_t s = 0; w && s < w->record.nbetween; s++) json_object_set_new(states, w->record.between[s], json_true());
    }
    const char *st;
    json_t *v;
    json_object_foreach(states, st, v) {
      gv_item_filter flt = {0};
      flt.forum_id = g->f->id;
      flt.limit = 1000;
      flt.workflow = name;
      flt.state = st;
      if (scan(g, &flt, 1, err) != GV_OK) break;
    }
    json_decref(states);
  }
  json_decref(list);
}

json_t *gv_record_json(gv_engine *e, const char *forum_id, int64_t meeting_id, gv_error *err) {
  const gv_forum *f = gv_engine_forum(e, forum_id);
  if (f == NULL) {
    gv_error_set(err, GV_ENOTFOUND, "forum", "no forum");
    return NULL;
  }
  gv_store *s = gv_engine_store(e);
  gv_meeting m;
  if (gv_store_meeting_get(s, meeting_id, &m, err) != GV_OK) return NULL;
  if (strcmp(m.forum_id, f->id) != 0) {
    gv_meeting_clear(&m);
    gv_error_set(err, GV_ENOTFOUND, "meeting", "no meeting %lld", (long long)meeting_id);
    return NULL;
  }
  /* Items adopted between meetings since the previous meeting belong to this record. */
  gv_meeting *all = NULL;
  size_t nall = 0;
  gv_store_meeting_list(s, f->id, &all, &nall, NULL);
  char prev_end[11] = "";
  for (size_t i = 0; i < nall; i++) {
    if (all[i].id != m.id && strcmp(all[i].ends_on, m.starts_on) < 0 && strcmp(all[i].ends_on, prev_end) > 0)
      snprintf(prev_end, sizeof prev_end, "%s", all[i].ends_on);
    gv_meeting_clear(&all[i]);
  }
  free(all);
  gather g = {e, f, m.id, prev_end[0] ? end_of_day(prev_end, f->time_zone) : 0, end_of_day(m.ends_on, f->time_zone),
              json_array(), json_array(), json_array()};

  json_t *rec = json_object();
  json_object_set_new(rec, "forum", json_pack("{s:s, s:s, s:o}", "id", f->id, "short_name", f->short_name, "name",
                                              i18n_json(&f->name)));
  json_t *mj = json_pack("{s:I, s:o, s:s, s:s, s:s}", "id", (json_int_t)m.id, "title",
                         json_loads(m.title, JSON_DECODE_ANY, NULL), "place", m.place, "starts_on", m.starts_on,
                         "ends_on", m.ends_on);
  json_object_set_new(rec, "meeting", mj);
  json_object_set_new(rec, "languages", json_array());
  for (int i = 0; i < f->nlanguages; i++)
    json_array_append_new(json_object_get(rec, "languages"), json_string(f->languages[i]));
  json_object_set_new(rec, "members", member_names(f));
  /* The items of this meeting, then those placed here by the time they were adopted. */
  gv_item_filter flt = {0};
  flt.forum_id = f->id;
  flt.limit = 1000;
  flt.meeting_id = m.id;
  scan(&g, &flt, 0, err);
  scan_between(&g, err);
  json_object_set_new(rec, "agenda", g.agenda);
  json_object_set_new(rec, "decisions", g.decisions);
  json_object_set_new(rec, "consultations", g.consultations);
  gv_meeting_clear(&m);
  return rec;
}

/* ---- Rendering ----------------------------------------------------------------------------- */

typedef struct out {
  gv_buf b;
  int html;
} out;

static void text(out *o, const char *s) {
  if (o->html) gv_buf_html(&o->b, s ? s : "");
  else gv_buf_puts(&o->b, s ? s : "");
}

static void raw(out *o, const char *s) { gv_buf_puts(&o->b, s); }

static void heading(out *o, int level, const char *s) {
  if (o->html) {
    gv_buf_printf(&o->b, "<h%d>", level);
    text(o, s);
    gv_buf_printf(&o->b, "</h%d>\n", level);
  } else {
    for (int i = 0; i < level; i++) gv_buf_putc(&o->b, '#');
    gv_buf_putc(&o->b, ' ');
    text(o, s);
    raw(o, "\n\n");
  }
}

static void para(out *o, const char *s) {
  if (o->html) {
    raw(o, "<p>");
    text(o, s);
    raw(o, "</p>\n");
  } else {
    text(o, s);
    raw(o, "\n\n");
  }
}

/* "label: value" paragraph with the label in bold. */
static void field(out *o, const char *label, const char *value) {
  if (o->html) {
    raw(o, "<p><strong>");
    text(o, label);
    raw(o, "</strong> ");
    text(o, value);
    raw(o, "</p>\n");
  } else {
    raw(o, "**");
    text(o, label);
    raw(o, "** ");
    text(o, value);
    raw(o, "\n\n");
  }
}

static void list_item(out *o, const char *lead, const char *s) {
  if (o->html) {
    raw(o, "<li>");
    if (lead) {
      raw(o, "<strong>");
      text(o, lead);
      raw(o, "</strong> ");
    }
    text(o, s);
    raw(o, "</li>\n");
  } else {
    raw(o, "- ");
    if (lead) {
      raw(o, "**");
      text(o, lead);
      raw(o, "** ");
    }
    text(o, s);
    raw(o, "\n");
  }
}

static void list_begin(out *o) { if (o->html) raw(o, "<ul>\n"); }
static void list_end(out *o) { raw(o, o->html ? "</ul>\n" : "\n"); }

typedef struct words {
  const char *record, *meeting_on, *agenda, *decisions, *consultations, *none, *number, *outcome, *reservations,
      *objections, *by_silence, *deadline, *delay, *extension, *question, *positions, *on_behalf, *pending,
      *hidden, *adopted_on, *explanation, *dates;
} words;

static const words EN = {"Conclusions and Recommendations", "Meeting", "Adopted agenda", "Decisions",
                         "Consultations", "None.", "Decision", "Outcome:", "Reservations", "Objections",
                         "Adopted by silence procedure; silence deadline", "Deadline:",
                         "The deadline passed while the system was unavailable; the adoption was recorded with a delay of",
                         "Deadline extended:", "Question:", "Positions of member states", "recorded on behalf of the state, reference",
                         "No answer from:", "The positions remain hidden until the consultation closes.", "Adopted on",
                         "Explanation of position:", "Dates:"};
static const words FR = {"Conclusions et recommandations", "Réunion", "Ordre du jour adopté", "Décisions",
                         "Consultations", "Néant.", "Décision", "Résultat :", "Réserves", "Objections",
                         "Adoptée par procédure d'approbation tacite ; fin du délai de silence", "Délai :",
                         "Le délai a expiré pendant une indisponibilité du système ; l'adoption a été enregistrée avec un retard de",
                         "Délai prolongé :", "Question :", "Positions des États membres", "enregistrée pour le compte de l'État, référence",
                         "Pas de réponse de :", "Les positions restent confidentielles jusqu'à la clôture de la consultation.",
                         "Adoptée le", "Explication de position :", "Dates :"};

static const char *member_name(const json_t *rec, const char *code, const char *lang) {
  const json_t *n = json_object_get(json_object_get(rec, "members"), code ? code : "");
  return n ? gv_view_text(n, lang) : (code ? code : "");
}

/* One decision of the record: its number and title, outcome, adoption, silence procedure,
 * extensions, reservations and objections. */
static void render_decision(out *o, const json_t *rec, const json_t *d, const words *w, const char *lang,
                            const char *tz) {
  char buf[4096];
  const char *num = json_string_value(json_object_get(d, "number"));
  snprintf(buf, sizeof buf, "%s%s%s — %s", w->number, num ? " " : "", num ? num : "",
           gv_view_text(json_object_get(d, "title"), lang));
  heading(o, 3, buf);
  field(o, w->outcome, gv_view_text(json_object_get(d, "outcome_label"), lang));
  const char *adopted = json_string_value(json_object_get(d, "adopted_at"));
  if (adopted) {
    int64_t ms;
    char day[64] = "";
    if (gv_time_parse(adopted, &ms) == GV_OK) gv_time_strftime(ms, tz, "%Y-%m-%d %H:%M", day, sizeof day);
    field(o, w->adopted_on, day);
  }
  para(o, gv_view_text(json_object_get(d, "text"), lang));
  const json_t *silence = json_object_get(d, "silence");
  if (silence) {
    field(o, w->by_silence, json_string_value(json_object_get(silence, "deadline")));
    json_int_t delay = json_integer_value(json_object_get(silence, "delay_seconds"));
    if (delay > 0) {
      snprintf(buf, sizeof buf, "%s %lld min.", w->delay, (long long)((delay + 59) / 60));
      para(o, buf);
    }
  }
  size_t k;
  json_t *x;
  json_array_foreach(json_object_get(d, "extensions"), k, x) {
    snprintf(buf, sizeof buf, "%s → %s (%s)", json_string_value(json_object_get(x, "from")),
             json_string_value(json_object_get(x, "to")), json_string_value(json_object_get(x, "reason")));
    field(o, w->extension, buf);
  }
  if (json_array_size(json_object_get(d, "reservations"))) {
    heading(o, 4, w->reservations);
    list_begin(o);
    json_array_foreach(json_object_get(d, "reservations"), k, x) {
      snprintf(buf, sizeof buf, "%s:", member_name(rec, json_string_value(json_object_get(x, "member")), lang));
      list_item(o, buf, json_string_value(json_object_get(x, "text")));
    }
    list_end(o);
  }
  if (json_array_size(json_object_get(d, "objections"))) {
    heading(o, 4, w->objections);
    list_begin(o);
    json_array_foreach(json_object_get(d, "objections"), k, x) {
      snprintf(buf, sizeof buf, "%s:", member_name(rec, json_string_value(json_object_get(x, "member")), lang));
      gv_buf line = GV_BUF_INIT;
      const char *ref = json_string_value(json_object_get(x, "reference"));
      gv_buf_puts(&line, json_string_value(json_object_get(x, "reason")) ? json_string_value(json_object_get(x, "reason")) : "");
      if (ref) gv_buf_printf(&line, " (%s)", ref);
      list_item(o, buf, line.data ? line.data : "");
      gv_buf_free(&line);
    }
    list_end(o);
  }
}

/* The consultations of the record, with each one's positions and the states still to answer. */
static void render_consultations(out *o, const json_t *rec, const words *w, const char *lang) {
  const json_t *cons = json_object_get(rec, "consultations");
  if (json_array_size(cons)) {
    heading(o, 2, w->consultations);
    size_t i;
    json_t *c;
    json_array_foreach(cons, i, c) {
      heading(o, 3, gv_view_text(json_object_get(c, "title"), lang));
      field(o, w->question, gv_view_text(json_object_get(c, "question"), lang));
      if (json_is_true(json_object_get(c, "hidden"))) {
        para(o, w->hidden);
        continue;
      }
      heading(o, 4, w->positions);
      list_begin(o);
      size_t k;
      json_t *p;
      json_array_foreach(json_object_get(c, "positions"), k, p) {
        char lead[256];
        snprintf(lead, sizeof lead, "%s:", member_name(rec, json_string_value(json_object_get(p, "member")), lang));
        const char *st = json_string_value(json_object_get(p, "statement"));
        const char *ref = json_string_value(json_object_get(p, "reference"));
        gv_buf line = GV_BUF_INIT;
        gv_buf_puts(&line, json_string_value(json_object_get(p, "stance")) ? json_string_value(json_object_get(p, "stance")) : "");
        if (st && *st) gv_buf_printf(&line, ". %s %s", w->explanation, st);
        if (json_is_true(json_object_get(p, "on_behalf"))) gv_buf_printf(&line, " (%s %s)", w->on_behalf, ref ? ref : "-");
        list_item(o, lead, line.data);
        gv_buf_free(&line);
      }
      list_end(o);
      if (json_array_size(json_object_get(c, "pending"))) {
        char line[1024] = "";
        size_t used = 0;
        json_array_foreach(json_object_get(c, "pending"), k, p) {
          int n2 = snprintf(line + used, sizeof line - used, "%s%s", k ? ", " : "", member_name(rec, json_string_value(p), lang));
          if (n2 > 0 && (size_t)n2 < sizeof line - used) used += (size_t)n2;
        }
        field(o, w->pending, line);
      }
    }
  }
}

/* The record in one language: the meeting, its agenda, the decisions and the consultations. */
static void render_lang(out *o, const json_t *rec, const char *lang, const char *tz) {
  const words *w = strcmp(lang, "fr") == 0 ? &FR : &EN;
  const json_t *m = json_object_get(rec, "meeting");
  char buf[4096];
  snprintf(buf, sizeof buf, "%s — %s", w->record, gv_view_text(json_object_get(m, "title"), lang));
  heading(o, 1, buf);
  para(o, gv_view_text(json_object_get(json_object_get(rec, "forum"), "name"), lang));
  snprintf(buf, sizeof buf, "%s, %s – %s", json_string_value(json_object_get(m, "place")),
           json_string_value(json_object_get(m, "starts_on")), json_string_value(json_object_get(m, "ends_on")));
  field(o, w->dates, buf);

  heading(o, 2, w->agenda);
  const json_t *agenda = json_object_get(rec, "agenda");
  if (json_array_size(agenda) == 0) para(o, w->none);
  else {
    list_begin(o);
    size_t i;
    json_t *a;
    json_array_foreach(agenda, i, a) {
      snprintf(buf, sizeof buf, "%zu.", i + 1);
      list_item(o, buf, gv_view_text(json_object_get(a, "title"), lang));
    }
    list_end(o);
  }

  heading(o, 2, w->decisions);
  const json_t *decisions = json_object_get(rec, "decisions");
  if (json_array_size(decisions) == 0) para(o, w->none);
  size_t i;
  json_t *d;
  json_array_foreach(decisions, i, d) {
    render_decision(o, rec, d, w, lang, tz);
  }

  render_consultations(o, rec, w, lang);
}

int gv_record_render(gv_engine *e, const char *forum_id, int64_t meeting_id, const char *format, char **outp,
                     gv_error *err) {
  *outp = NULL;
  if (strcmp(format, "json") != 0 && strcmp(format, "md") != 0 && strcmp(format, "html") != 0)
    return gv_error_set(err, GV_EPARAM, "format", "format must be md, html or json");
  json_t *rec = gv_record_json(e, forum_id, meeting_id, err);
  if (rec == NULL) return err ? err->code : GV_ENOTFOUND;
  if (strcmp(format, "json") == 0) {
    *outp = json_dumps(rec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(rec);
    return GV_OK;
  }
  const gv_forum *f = gv_engine_forum(e, forum_id);
  out o = {GV_BUF_INIT, strcmp(format, "html") == 0};
  if (o.html) {
    raw(&o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    text(&o, gv_view_text(json_object_get(json_object_get(rec, "meeting"), "title"), f->languages[0]));
    raw(&o, "</title>\n<style>body{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.5}"
            "section+section{border-top:1px solid #999;margin-top:3em}</style></head><body>\n");
  }
  for (int i = 0; i < f->nlanguages; i++) {
    if (o.html) gv_buf_printf(&o.b, "<section lang=\"%s\">\n", f->languages[i]);
    else if (i > 0) raw(&o, "\n---\n\n");
    render_lang(&o, rec, f->languages[i], f->time_zone);
    if (o.html) raw(&o, "</section>\n");
  }
  if (o.html) raw(&o, "</body></html>\n");
  json_decref(rec);
  *outp = gv_buf_steal(&o.b);
  return *outp ? GV_OK : gv_error_set(err, GV_ENOMEM, NULL, NULL);
}
