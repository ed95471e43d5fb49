/* A loaded workflow in C terms: states, the create entry, actions with typed parameters, timers, reminders. */
#ifndef GV_WORKFLOW_H
#define GV_WORKFLOW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/forum.h"
#include "model/sandbox_limits.h"

/* Parameter types. */
typedef enum {
  GV_PT_STRING = 1, /* a string with length limits */
  GV_PT_TEXT,       /* a string, or {fr = ..., en = ...} with one string per forum language */
  GV_PT_ENUM,       /* one of a list of strings */
  GV_PT_INTEGER,
  GV_PT_BOOLEAN,
  GV_PT_TIME,       /* RFC 3339 with an offset; normalized to UTC */
  GV_PT_MEMBER,     /* a member state's code */
  GV_PT_ITEM,       /* an item id (optionally of one workflow) */
  GV_PT_MEETING,    /* a meeting id */
  GV_PT_LIST,       /* a list of values of one type */
  GV_PT_OBJECT,     /* a record with declared fields */
} gv_ptype;

typedef struct gv_param gv_param;
struct gv_param {
  char *name;
  gv_ptype type;
  int line;
  int required;
  int has_min, has_max;
  int64_t min, max;      /* string/text: characters; integer: value; list: count */
  char **values;         /* enum */
  size_t nvalues;
  char *values_from;     /* enum: the values are item.data[values_from] */
  json_t *def;           /* default value, or NULL */
  int after_now;         /* time: must be later than now */
  char *workflow;        /* item: required workflow name, or NULL */
  gv_param *of;          /* list: the element type */
  int unique;            /* list: no entry may appear twice */
  gv_param *fields;      /* object: its fields */
  size_t nfields;
  gv_i18n label;
};

/* Who may take an action. */
enum {
  GV_BY_SECRETARIAT = 1,
  GV_BY_CHAIR = 2,       /* the chair, or whoever the forum names while there is none */
  GV_BY_DELEGATE = 4,    /* a delegate, for their own state only */
  GV_BY_PROPOSER = 8,    /* the item's creator or a delegate of the creator's state */
};

typedef struct gv_action {
  char *name;
  gv_i18n label;
  int line;
  int from_line, to_line; /* where from and to are written, for messages */
  unsigned by;           /* GV_BY_* bits; 0 = only the engine (timers) */
  char **from;           /* states it applies from */
  size_t nfrom;
  char **to;             /* states it may lead to */
  size_t nto;
  int to_fixed;          /* `to` was one state: go there unless the effect chose another */
  gv_param *params;
  size_t nparams;
  int run_ref;           /* Lua registry reference of the effect, or -1 */
  int sealed;            /* its parameters are hidden from other states while the item is sealed */
  char *deadline;        /* refused once this timer's due time has passed */
  int notify;            /* bit set of audiences told after it: see GV_NOTIFY_* */
  gv_i18n history;       /* the sentence its history line reads as, per language ("{member} broke silence: {reason}") */
} gv_action;

enum {
  GV_NOTIFY_ALL = 1,
  GV_NOTIFY_SECRETARIAT = 2,
  GV_NOTIFY_CHAIR = 4,
  GV_NOTIFY_MEMBERS = 8,     /* every delegate */
  GV_NOTIFY_PROPOSER = 16,
};

typedef struct gv_timer_decl {
  char *name;
  int line;
  int fire_line;
  char **from;           /* armed while the item is in one of these states */
  size_t nfrom;
  char *at_field;        /* due at item.data[at_field] ... */
  int at_ref;            /* ... or at what this Lua function returns (-1 if none) */
  char *fire;            /* the action it fires */
} gv_timer_decl;

typedef struct gv_remind_decl {
  int line;
  char *timer;           /* before this timer's due time */
  int64_t before[8];     /* offsets in ms */
  size_t nbefore;
  char *to;              /* "states_not_answered" */
} gv_remind_decl;

typedef struct gv_state_decl {
  char *name;
  gv_i18n label;
  int on_enter_ref;      /* Lua function run on entering the state, or -1 */
} gv_state_decl;

/* The sections of a meeting record a workflow's items can appear in. */
typedef enum {
  GV_RECORD_NONE = 0,
  GV_RECORD_AGENDA,        /* the adopted agenda */
  GV_RECORD_DECISIONS,     /* decisions, with outcome, number, text, reservations, objections */
  GV_RECORD_CONSULTATIONS, /* consultations, with each state's position */
} gv_record_section;

/* The fields of a record entry a workflow fills from its data (see docs/workflows.md). */
typedef enum {
  GV_RF_DESCRIPTION, GV_RF_QUESTION, GV_RF_NUMBER, GV_RF_TEXT, GV_RF_ADOPTED_AT,
  GV_RF_RESERVATIONS, GV_RF_OBJECTIONS, GV_RF_EXTENSIONS, GV_RF_COUNT
} gv_record_field;

/* The record field's name as written in record { fields = { name = "data.path" } }. */
const char *gv_record_field_name(gv_record_field f);

/* record { ... }: what the meeting record shows of the workflow's items. */
typedef struct gv_record_decl {
  int line;
  gv_record_section section; /* GV_RECORD_NONE: the items never appear in a record */
  char **states;         /* states in which an item of the meeting is listed (none: every state) */
  size_t nstates;
  char **between;        /* states that list an item in the record of the first meeting ending
                          * after its adopted_at, even when it belongs to no meeting */
  size_t nbetween;
  char *fields[GV_RF_COUNT]; /* data path (dotted) of each record field, or NULL */
  /* A silence procedure note: for items in these states, its deadline and rounds (data
   * paths) and the action whose late firing is reported as a delay. */
  char **silence_states;
  size_t nsilence_states;
  char *silence_deadline, *silence_rounds, *silence_action;
} gv_record_decl;

typedef struct gv_workflow {
  char *name;
  gv_i18n title;
  char sha256[65];
  int64_t version_id;    /* 0 until stored */
  char *path;
  char *source;          /* the exact source text */
  size_t source_len;
  gv_state_decl *states;
  size_t nstates;
  gv_action create;      /* how an item is created (name "create" unless renamed) */
  gv_action *actions;
  size_t nactions;
  gv_timer_decl *timers;
  size_t ntimers;
  gv_remind_decl *reminds;
  size_t nreminds;
  int has_positions;     /* items collect member positions (summaries, hidden results) */
  char **reservation_stances; /* stances listed as reservations in summaries */
  size_t nreservation_stances;
  gv_record_decl record; /* what the meeting record shows of its items */
  char *agenda_adopt;    /* the action taken for each of its items when a meeting's agenda is adopted, or NULL */
  json_t *modules;       /* the modules it used: {name: {path, source}}, or NULL; covered by sha256 */
  void *lua;             /* the version's sandbox (gv_sandbox *) */
} gv_workflow;

struct lua_State;

/* What a workflow file is loaded with beyond its own text. */
typedef struct gv_workflow_env {
  const gv_sandbox_limits *limits; /* NULL: the defaults */
  /* Adds the runtime's globals (now, dates, gavel, ...) to the environment table at env of
   * the file and of each module it uses. NULL: none (enough to check a file). */
  void (*install)(struct lua_State *L, int env, void *ud);
  void *install_ud;
  /* Modules for `use "name"`: stored ones {name: {path, source}} (a stored version loads
   * only from these), or NULL to read lib_dir/NAME.lua (NULL lib_dir: lib/ beside the file). */
  const json_t *modules;
  const char *lib_dir;
} gv_workflow_env;

/* Loads and checks a workflow from source against forum f with env (may be NULL). On
 * success *out is the workflow; its sha256 covers its source and the modules it used.
 * Errors as gv_workflow_load; an error inside a module names the module's file. */
int gv_workflow_load_env(const char *path, const char *src, size_t len, const gv_forum *f,
                         const gv_workflow_env *env, gv_workflow **out, gv_error *errs, size_t maxerrs,
                         size_t *nerrs);

/* Loads and checks a workflow from source against forum f. On success *out is the
 * workflow (free with gv_workflow_free). On mistakes returns GV_ECONFIG and fills up to
 * maxerrs entries of errs (each with file and line); *nerrs is how many. */
int gv_workflow_load(const char *path, const char *src, size_t len, const gv_forum *f,
                     gv_workflow **out, gv_error *errs, size_t maxerrs, size_t *nerrs);
/* The same with the sandbox limits the version's code will run under (NULL: defaults). */
int gv_workflow_load_limited(const char *path, const char *src, size_t len, const gv_forum *f,
                             const gv_sandbox_limits *limits, gv_workflow **out, gv_error *errs, size_t maxerrs,
                             size_t *nerrs);
/* Reads path and loads it as above, with env (may be NULL). */
int gv_workflow_load_file(const char *path, const gv_forum *f, const gv_workflow_env *env, gv_workflow **out,
                          gv_error *errs,
                          size_t maxerrs, size_t *nerrs);
void gv_workflow_free(gv_workflow *w);

const gv_action *gv_workflow_action(const gv_workflow *w, const char *name);
const gv_state_decl *gv_workflow_state(const gv_workflow *w, const char *name);
const gv_timer_decl *gv_workflow_timer(const gv_workflow *w, const char *name);
/* Whether state is listed in l (n entries). */
int gv_name_in(char *const *l, size_t n, const char *state);
/* The value at a dotted path ("silence.deadline") of data, or NULL. Borrowed. */
json_t *gv_data_path(const json_t *data, const char *path);
int gv_action_from(const gv_action *a, const char *state);
int gv_action_to(const gv_action *a, const char *state);

/* Describes a parameter as JSON for clients: {type, required, max, values, ...}.
 * data (may be NULL) resolves enum values taken from the item. */
json_t *gv_param_describe(const gv_param *p, const json_t *data, const gv_forum *f);

/* Validates params (a JSON object, may be NULL) against decl. Returns a new object with
 * defaults applied and values normalized, or NULL with err naming the parameter.
 * data is the item's data for enums taken from it; now is the engine's time. */
typedef int (*gv_ref_check_fn)(void *ud, gv_ptype type, int64_t id, const char *workflow,
                               gv_error *err);
json_t *gv_params_validate(const gv_param *decl, size_t n, const json_t *params, const gv_forum *f,
                           const json_t *data, int64_t now, gv_ref_check_fn check, void *ud,
                           gv_error *err);

/* Checks an item title: a non-empty string or {lang: text} in the forum's languages,
 * at most 500 characters each. Returns a new reference or NULL with err set. */
json_t *gv_title_validate(const json_t *title, const gv_forum *f, gv_error *err);

#endif
