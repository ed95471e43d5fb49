/* What a reader takes away: the calendar feed (iCalendar) and CSV exports of positions and decisions. */
#ifndef GV_VIEWS_ICAL_CSV_H
#define GV_VIEWS_ICAL_CSV_H

#include "engine/engine.h"

/* The calendar of reader as iCalendar text (RFC 5545: CRLF line ends, lines folded at 75
 * octets, escaped text): the forum's meetings as all-day events, and the pending deadlines
 * that concern reader (all of them for the secretariat and whoever holds the chair's
 * powers; for a delegate those of actions their state may take before the deadline; none
 * for an observer), in UTC. On GV_OK the caller frees *out (*len bytes). */
int gv_view_calendar(gv_engine *e, const gv_caller *reader, char **out, size_t *len, gv_error *err);

/* The item's positions (current, or with history every one) as CSV (RFC 4180, every cell
 * quoted, formulas neutralised) with the header member, member_name, stance, statement,
 * reference, on_behalf, at, sealed. A stance reader may not see yet (gv_view_positions'
 * rule) has its stance, statement and reference left empty and sealed "true". On GV_OK
 * the caller frees *out. */
int gv_view_positions_csv(gv_engine *e, const gv_caller *reader, int64_t item_id, int history, char **out,
                          size_t *len, gv_error *err);

/* The forum's decisions taken in year (the forum's calendar; adopted, not adopted or
 * deferred) as CSV with the header number, item_id, title, outcome, decided_at,
 * meeting_id, reservations, text. On GV_OK the caller frees *out. */
int gv_view_decisions_csv(gv_engine *e, const gv_caller *reader, int year, char **out, size_t *len, gv_error *err);

#endif
