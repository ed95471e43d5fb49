/* What a reader sees of items, events and positions: JSON views that apply the visibility rules (hidden results). */
#ifndef GV_VIEWS_H
#define GV_VIEWS_H

#include <jansson.h>

#include "engine/engine.h"

/* May reader see member's stance on this item now? Always when the item is not sealed;
 * while it is sealed only the member's own delegates, the secretariat and the chair. */
int gv_view_may_see_stance(const gv_forum *f, const gv_caller *reader, const gv_item_row *item, const char *member);

/* The whole item as reader sees it: id, workflow, version, title, state, state_label,
 * data, meeting_id, created_by, member, sealed, deadlines, number, summary (positions),
 * and actions (what reader may do now, with parameter descriptions). New reference. */
json_t *gv_view_item(gv_engine *e, const gv_caller *reader, int64_t item_id, gv_error *err);

/* A short form for lists (no actions, no summary). */
json_t *gv_view_item_brief(gv_engine *e, const gv_caller *reader, const gv_item_row *r);

/* Whether the item waits on reader (an action reader may take now). */
int gv_view_awaits(gv_engine *e, const gv_caller *reader, const gv_item_row *r);

/* The item's events as reader sees them: hidden stances replaced by "sealed": true. */
json_t *gv_view_events(gv_engine *e, const gv_caller *reader, int64_t item_id, int64_t after_id, int limit,
                       gv_error *err);

/* One event (a row from gv_store_events) made fit for reader, or NULL if reader may not
 * see it at all. Used by live updates. Takes a reference to ev; returns a new one. */
json_t *gv_view_event(gv_engine *e, const gv_caller *reader, json_t *ev);

/* A forum-level event (accounts, meetings, configuration) made fit for reader. */
json_t *gv_view_forum_event(gv_engine *e, const gv_caller *reader, json_t *ev);

/* Any event row (an item's or the forum's) made fit for reader, or NULL if reader may not see
 * it at all: gv_view_event for an item's event, gv_view_forum_event otherwise. Does not take
 * ev's reference; returns a new one. */
json_t *gv_view_any_event(gv_engine *e, const gv_caller *reader, json_t *ev);

/* The forum's events after after_id, at most limit, in order, each made fit for reader (the
 * change feed). *last_id is the id of the last event read (after_id when none), which the next
 * page starts after. New reference, or NULL with err. */
json_t *gv_view_feed(gv_engine *e, const gv_caller *reader, const char *forum_id, int64_t after_id, int limit,
                     int64_t *last_id, gv_error *err);

/* Current positions (or the full history) as reader sees them. */
json_t *gv_view_positions(gv_engine *e, const gv_caller *reader, int64_t item_id, int history, gv_error *err);

/* The language reader reads in: theirs when the forum has it, else the forum's first. */
const char *gv_view_language(const gv_forum *f, const gv_caller *reader);

/* Text in the reader's language from a string or {lang: text} JSON value. */
const char *gv_view_text(const json_t *t, const char *lang);

#endif
