/* The audit log's view of the state: the rows its entries say events wrote, against the rows the database holds. */
#ifndef GV_AUDIT_STATE_H
#define GV_AUDIT_STATE_H

#include <jansson.h>

#include "gavel/plugin.h"

/* How a row of the database differs from what the log says the last event to write it left. */
typedef enum {
  AUDIT_ROW_CHANGED = 1,   /* present, with another digest */
  AUDIT_ROW_UNLOGGED,      /* present, but no entry wrote it */
  AUDIT_ROW_MISSING,       /* an entry wrote it, and it is gone */
  AUDIT_ROW_RESURRECTED,   /* present, but the last entry to write it deleted it */
} audit_row_diff;

/* Receives one difference: current is the row's digest now (NULL when it is gone), event_id
 * the event whose entry last wrote it (0 if none). Returns non-zero to stop. */
typedef int (*audit_diff_fn)(void *ud, const char *table, int64_t rowid, audit_row_diff kind,
                             const uint8_t *current, int64_t event_id);

/* The rows of an event as its entry holds them: [[table, rowid, base64 digest or null], ...].
 * NULL when out of memory. */
json_t *audit_rows_json(const gv_state_row *rows, size_t n);

/* Replays every entry's rows (the last write of each row wins) and compares them with the
 * database's current rows (gv_host_state_rows), calling fn for each difference. *committed
 * gets how many entries carry rows (0: the log has not committed to the state yet). */
int audit_state_diff(gv_host *h, audit_diff_fn fn, void *ud, int64_t *committed, gv_error *err);

/* The rows to add to an entry so the log takes the state as it finds it (after events were
 * written while it was not running, or when it starts committing to the state): every
 * difference, as audit_rows_json writes rows, merged with the event's own rows (which win).
 * *out is NULL when there is no difference and no row of the event. */
int audit_state_baseline(gv_host *h, const gv_state_row *rows, size_t n, json_t **out, gv_error *err);

#endif
