/* The audit bundle: the log, its checkpoints and key, and what the record ran under, checkable without the database. */
#ifndef GV_AUDIT_BUNDLE_H
#define GV_AUDIT_BUNDLE_H

#include <jansson.h>
#include <stdio.h>

#include "gavel/plugin.h"

#define AUDIT_HASH 32
#define AUDIT_SALT 16
#define AUDIT_BUNDLE_FORMAT "gavel-audit-bundle/1"

/* The canonical entry of an event (audit.c): its fields, the state rows it wrote (NULL: none
 * recorded) and the leaf's salt as JSON with sorted keys; malloc'd, NULL when out of memory. */
char *audit_entry_of(const uint8_t *salt, size_t salt_len, json_t *rows, int64_t id, const char *forum, int64_t item_id,
                     const char *kind, const char *action, int64_t actor_id, const char *member, int64_t at,
                     const char *from, const char *to, const char *params, int sealed);

/* SHA-256(0x00 || entry) and SHA-256(0x01 || left || right), as RFC 6962 defines them. */
void audit_leaf_hash(const char *entry, size_t len, uint8_t out[AUDIT_HASH]);
void audit_node_hash(const uint8_t l[AUDIT_HASH], const uint8_t r[AUDIT_HASH], uint8_t out[AUDIT_HASH]);

/* Writes the bundle to out (README.md, "The bundle"): the header with the origin and the
 * verifier key, the forum's definition, every workflow version, every entry (an entry whose
 * payload is still hidden, as its leaf hash only, unless archive) and every checkpoint. Sets
 * *entries and *withheld. */
int audit_bundle_write(gv_host *h, FILE *out, const char *origin, const char *verifier_key, int archive,
                       int64_t *entries, int64_t *withheld, gv_error *err);

/* `gavel audit verify --bundle FILE [--checkpoint FILE]`, without a database: the exit
 * status, or GV_COMMAND_NEEDS_DB when no --bundle was given. */
int audit_bundle_verify_command(void *state, gv_host *h, int argc, char **argv);

#endif
