/* Reads what a workflow declares for the rest of Gavel: record { } (the meeting record), agenda { } (agenda adoption), history { } (sentences). */
#include "lua/workflow_internal.h"
#include "base/alloc.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SECTIONS[] = {"agenda", "decisions", "consultations", NULL};

/* Which record fields each section takes (bits of 1 << gv_record_field). */
static unsigned section_fields(gv_record_section s) {
  switch (s) {
    case GV_RECORD_AGENDA: return 1u << GV_RF_DESCRIPTION;
    case GV_RECORD_CONSULTATIONS: return 1u << GV_RF_QUESTION;
    case GV_RECORD_DECISIONS:
      return 1u << GV_RF_NUMBER | 1u << GV_RF_TEXT | 1u << GV_RF_ADOPTED_AT | 1u << GV_RF_RESERVATIONS |
             1u << GV_RF_OBJECTIONS | 1u << GV_RF_EXTENSIONS;
    default: return 0;
  }
}

/* Reports states of l that the workflow does not declare. */
static void check_states(gv_wfl *c, char **l, size_t n, int line, const char *what) {
  for (size_t i = 0; i < n; i++)
    if (gv_workflow_state(c->w, l[i]) == NULL)
      gv_wfl_err(c, line, "%s names state '%s', which the workflow does not declare in states", what, l[i]);
}

static void read_fields(gv_wfl *c, int idx, gv_record_decl *r) {
  lua_State *L = c->L;
  int line = gv_wfl_field_line(c, idx, "fields");
  if (gv_wfl_rawfield(L, idx, "fields") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (lua_type(L, -1) != LUA_TTABLE) {
    gv_wfl_err(c, line, "record: fields must be a table of name = \"data path\"");
    lua_pop(L, 1);
    return;
  }
  unsigned allowed = section_fields(r->section);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int f = -1;
    for (int i = 0; k && i < GV_RF_COUNT; i++)
      if (strcmp(k, gv_record_field_name((gv_record_field)i)) == 0 && (allowed & (1u << i))) f = i;
    if (f < 0) {
      char list[200] = "";
      size_t used = 0;
      for (int i = 0; i < GV_RF_COUNT; i++)
        if (allowed & (1u << i)) {
          int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", gv_record_field_name((gv_record_field)i));
          if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
        }
      if (r->section == GV_RECORD_NONE)
        gv_wfl_err(c, gv_wfl_field_line(c, idx, k ? k : "fields"), "record: field '%s' needs a section that takes it", k ? k : "?");
      else
        gv_wfl_err(c, gv_wfl_field_line(c, idx, k ? k : "fields"), "record: the %s section has no field '%s' (it takes %s)",
                   SECTIONS[r->section - 1], k ? k : "?", list[0] ? list : "none");
    } else if (lua_type(L, -1) != LUA_TSTRING) {
      gv_wfl_err(c, gv_wfl_field_line(c, idx, k), "record: field %s must name a path in the item's data, e.g. \"%s\"", k, k);
    } else {
      free(r->fields[f]);
      if ((r->fields[f] = gv_strdup(lua_tostring(L, -1))) == NULL) luaL_error(L, "not enough memory");
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void read_silence(gv_wfl *c, int idx, gv_record_decl *r) {
  lua_State *L = c->L;
  int line = gv_wfl_field_line(c, idx, "silence");
  if (gv_wfl_rawfield(L, idx, "silence") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  int s = lua_gettop(L);
  if (lua_type(L, s) != LUA_TTABLE) {
    gv_wfl_err(c, line, "record: silence must be a table { states = ..., deadline = ..., rounds = ..., action = ... }");
    lua_pop(L, 1);
    return;
  }
  static const char *const allowed[] = {"states", "deadline", "rounds", "action", NULL};
  gv_wfl_check_fields(c, s, allowed, "record, silence");
  r->nsilence_states = gv_wfl_string_list(c, s, "states", &r->silence_states, "record, silence");
  check_states(c, r->silence_states, r->nsilence_states, line, "record, silence");
  r->silence_deadline = gv_wfl_dup_field(L, s, "deadline");
  r->silence_rounds = gv_wfl_dup_field(L, s, "rounds");
  r->silence_action = gv_wfl_dup_field(L, s, "action");
  if (r->silence_action && gv_workflow_action(c->w, r->silence_action) == NULL)
    gv_wfl_err(c, line, "record, silence: action '%s' is not declared", r->silence_action);
  if (r->nsilence_states == 0 || r->silence_deadline == NULL)
    gv_wfl_err(c, line, "record, silence needs states and deadline (a path in the item's data)");
  lua_pop(L, 1);
}

void gv_wfl_read_record(gv_wfl *c, int idx) {
  lua_State *L = c->L;
  gv_record_decl *r = &c->w->record;
  int line = gv_wfl_field_line(c, idx, NULL);
  if (r->line) {
    gv_wfl_err(c, line, "record is declared twice (first on line %d)", r->line);
    return;
  }
  r->line = line;
  static const char *const allowed[] = {"section", "states", "between_meetings", "fields", "silence", NULL};
  gv_wfl_check_fields(c, idx, allowed, "record");
  char *section = gv_wfl_dup_field(L, idx, "section");
  for (int i = 0; section && SECTIONS[i]; i++)
    if (strcmp(section, SECTIONS[i]) == 0) r->section = (gv_record_section)(i + 1);
  if (r->section == GV_RECORD_NONE)
    gv_wfl_err(c, gv_wfl_field_line(c, idx, "section"), "record: section must be \"agenda\", \"decisions\" or \"consultations\"%s%s%s",
               section ? " (not '" : "", section ? section : "", section ? "')" : "");
  free(section);
  r->nstates = gv_wfl_string_list(c, idx, "states", &r->states, "record");
  check_states(c, r->states, r->nstates, gv_wfl_field_line(c, idx, "states"), "record");
  r->nbetween = gv_wfl_string_list(c, idx, "between_meetings", &r->between, "record");
  check_states(c, r->between, r->nbetween, gv_wfl_field_line(c, idx, "between_meetings"), "record, between_meetings");
  read_fields(c, idx, r);
  if (r->nbetween && r->fields[GV_RF_ADOPTED_AT] == NULL)
    gv_wfl_err(c, line, "record: between_meetings needs fields.adopted_at, the time that places the item between two meetings");
  read_silence(c, idx, r);
}

void gv_wfl_read_agenda(gv_wfl *c, int idx) {
  lua_State *L = c->L;
  int line = gv_wfl_field_line(c, idx, NULL);
  static const char *const allowed[] = {"on_adopt", NULL};
  gv_wfl_check_fields(c, idx, allowed, "agenda");
  if (c->w->agenda_adopt) {
    gv_wfl_err(c, line, "agenda is declared twice");
    return;
  }
  c->w->agenda_adopt = gv_wfl_dup_field(L, idx, "on_adopt");
  if (c->w->agenda_adopt == NULL)
    gv_wfl_err(c, line, "agenda needs on_adopt = \"action\": the action each item on the meeting takes when its agenda is adopted");
  else if (gv_workflow_action(c->w, c->w->agenda_adopt) == NULL)
    gv_wfl_err(c, gv_wfl_field_line(c, idx, "on_adopt"), "agenda: on_adopt names action '%s', which the workflow does not declare",
               c->w->agenda_adopt);
}

/* The placeholders a sentence of action a may use: member, actor, state, and its parameters. */
static int known_placeholder(const gv_action *a, const char *name, size_t n) {
  static const char *const fixed[] = {"member", "actor", "state", NULL};
  for (const char *const *k = fixed; *k; k++)
    if (strlen(*k) == n && strncmp(*k, name, n) == 0) return 1;
  for (size_t i = 0; i < a->nparams; i++)
    if (strlen(a->params[i].name) == n && strncmp(a->params[i].name, name, n) == 0) return 1;
  return 0;
}

static void check_sentence(gv_wfl *c, int line, const gv_action *a, const char *lang, const char *s) {
  for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
    const char *end = strchr(p, '}');
    if (end == NULL) {
      gv_wfl_err(c, line, "history '%s' (%s): a '{' is not closed", a->name, lang);
      return;
    }
    if (!known_placeholder(a, p + 1, (size_t)(end - p - 1)))
      gv_wfl_err(c, line, "history '%s' (%s): unknown placeholder {%.*s}; use {member}, {actor}, {state} or a parameter of the action",
                 a->name, lang, (int)(end - p - 1), p + 1);
  }
}

void gv_wfl_read_history(gv_wfl *c, int idx) {
  lua_State *L = c->L;
  gv_workflow *w = c->w;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (k == NULL || strncmp(k, "__", 2) == 0) {
      lua_pop(L, 1);
      continue;
    }
    int line = gv_wfl_field_line(c, idx, k);
    gv_action *a = strcmp(k, w->create.name ? w->create.name : "") == 0 ? &w->create
                                                                       : (gv_action *)gv_workflow_action(w, k);
    if (a == NULL) {
      gv_wfl_err(c, line, "history names action '%s', which the workflow does not declare", k);
    } else {
      gv_i18n_free(&a->history);
      memset(&a->history, 0, sizeof a->history);
      if (!gv_wfl_read_i18n(c, lua_gettop(L), &a->history))
        gv_wfl_err(c, line, "history '%s' must be a sentence per language: { en = \"...\", fr = \"...\" }", k);
      for (int i = 0; i < a->history.n; i++) {
        int known = 0;
        for (int l = 0; l < c->f->nlanguages; l++) known |= strcmp(c->f->languages[l], a->history.lang[i]) == 0;
        if (!known) gv_wfl_err(c, line, "history '%s': '%s' is not a language of the forum", k, a->history.lang[i]);
        check_sentence(c, line, a, a->history.lang[i], a->history.text[i]);
      }
    }
    lua_pop(L, 1);
  }
}

void gv_wfl_free_procedure(gv_workflow *w) {
  gv_record_decl *r = &w->record;
  gv_wfl_free_list(r->states, r->nstates);
  gv_wfl_free_list(r->between, r->nbetween);
  for (int i = 0; i < GV_RF_COUNT; i++) free(r->fields[i]);
  gv_wfl_free_list(r->silence_states, r->nsilence_states);
  free(r->silence_deadline);
  free(r->silence_rounds);
  free(r->silence_action);
  free(w->agenda_adopt);
}
