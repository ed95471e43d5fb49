/* The record of a meeting ("Conclusions and Recommendations") as JSON, Markdown or HTML. */
#ifndef GV_RECORD_H
#define GV_RECORD_H

#include <jansson.h>

#include "engine/engine.h"

/* The record of meeting_id as JSON: the meeting, its adopted agenda, the decisions taken
 * in it and those adopted by silence since the previous meeting (with reservations and
 * objections), and its consultations with explanations of position and answers recorded
 * on behalf. New reference, or NULL with err set. */
json_t *gv_record_json(gv_engine *e, const char *forum_id, int64_t meeting_id, gv_error *err);

/* Whether the record of an item's meeting lists an item of workflow w in state (its
 * record declaration names a section and, if it lists states, this one). */
int gv_record_lists(const gv_workflow *w, const char *state);

/* Renders the record in format "json", "md" or "html" (every forum language, one after
 * the other). *out is malloc'd. Everything taken from users is escaped in HTML. */
int gv_record_render(gv_engine *e, const char *forum_id, int64_t meeting_id, const char *format, char **out,
                     gv_error *err);

#endif
