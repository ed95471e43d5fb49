/* Writing the audit bundle: every entry with its salt, the checkpoints and key, the workflow versions and the forum. */
#include "bundle.h"

#include <stdlib.h>
#include <string.h>

typedef struct export_ctx {
  gv_host *h;
  FILE *out;
  int archive;
  int64_t n, withheld;
} export_ctx;

/* Non-zero while the positions of item_id are hidden (its payloads stay out of the bundle
 * until it closes), as the API hides them from readers other than the secretariat. */
static int still_hidden(gv_host *h, int64_t item_id) {
  gv_item_info info;
  gv_error err;
  memset(&info, 0, sizeof info);
  info.size = sizeof info;
  if (item_id == 0) return 0;
  /* An item the database no longer has cannot say: keep its payload out to be safe. */
  if (gv_host_item(h, item_id, "en", NULL, &info, &err) != GV_OK) return 1;
  return info.sealed;
}

/* One entry: idx, event_id, hash, then the event's columns (id, forum_id, item_id, kind,
 * action, actor_id, member, at, from_state, to_state, params, sealed), salt, state_rows. */
static int export_row(void *ud, const gv_row *r) {
  export_ctx *x = ud;
  size_t n = 0;
  const uint8_t *hash = gv_row_blob(r, 2, &n);
  char b64[64] = "";
  if (hash && n == AUDIT_HASH) gv_text_base64(hash, AUDIT_HASH, b64);
  x->n++;
  /* A sealed event of an item still hidden, or any event of it that wrote a position (the
   * row's digest could be matched against guesses of the stance), waits until it closes. */
  const char *rows_text = gv_row_text(r, 16);
  int hideable = gv_row_int(r, 14) || (rows_text && strstr(rows_text, "[\"positions\",") != NULL);
  if (!x->archive && hideable && still_hidden(x->h, gv_row_int(r, 5))) {
    /* The leaf hash alone: the tree still verifies, and nothing of the hidden stance shows. */
    fprintf(x->out, "{\"index\":%lld,\"leaf_hash\":\"%s\",\"withheld\":{\"event_id\":%lld,\"item_id\":%lld}}\n",
            (long long)gv_row_int(r, 0), b64, (long long)gv_row_int(r, 1), (long long)gv_row_int(r, 5));
    x->withheld++;
    return 0;
  }
  size_t salt_len = 0;
  const uint8_t *salt = gv_row_blob(r, 15, &salt_len);
  json_t *rows = gv_row_is_null(r, 16) ? NULL : json_loads(gv_row_text(r, 16), 0, NULL);
  char *entry = audit_entry_of(salt, salt_len, rows ? rows : gv_row_is_null(r, 16) ? NULL : json_null(), gv_row_int(r, 3),
                               gv_row_text(r, 4), gv_row_int(r, 5), gv_row_text(r, 6), gv_row_text(r, 7), gv_row_int(r, 8),
                               gv_row_text(r, 9), gv_row_int(r, 10), gv_row_text(r, 11), gv_row_text(r, 12),
                               gv_row_text(r, 13), (int)gv_row_int(r, 14));
  json_decref(rows);
  /* The entry's exact bytes follow "entry": and end the line: the leaf hash is over them. */
  fprintf(x->out, "{\"index\":%lld,\"leaf_hash\":\"%s\",\"entry\":%s}\n", (long long)gv_row_int(r, 0), b64,
          entry ? entry : "null");
  free(entry);
  return 0;
}

static int export_note(void *ud, const gv_row *r) {
  export_ctx *x = ud;
  json_t *o = json_pack("{s:I, s:s}", "checkpoint", (json_int_t)gv_row_int(r, 0), "note", gv_row_text(r, 1));
  char *s = json_dumps(o, JSON_COMPACT);
  if (s) fprintf(x->out, "%s\n", s);
  free(s);
  json_decref(o);
  return 0;
}

/* One workflow version: its source and modules (its path is the server's business). */
static int export_version(void *ud, const gv_workflow_version *v) {
  export_ctx *x = ud;
  json_t *mods = v->modules_json ? json_loads(v->modules_json, 0, NULL) : NULL;
  /* Module paths are where the server keeps its files: only names and sources are needed. */
  const char *name;
  json_t *m;
  json_object_foreach(mods, name, m) json_object_del(m, "path");
  json_t *o = json_pack("{s:{s:I, s:s, s:s, s:s, s:o}}", "workflow_version", "id", (json_int_t)v->id, "name", v->name,
                        "sha256", v->sha256, "source", v->source, "modules", mods ? mods : json_object());
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  if (s) fprintf(x->out, "%s\n", s);
  free(s);
  json_decref(o);
  return 0;
}

static int write_head(gv_host *h, FILE *out, const char *origin, const char *verifier_key, int archive, gv_error *err) {
  json_t *head = json_pack("{s:s, s:s, s:s, s:b}", "format", AUDIT_BUNDLE_FORMAT, "origin", origin, "verifier_key",
                           verifier_key, "archive", archive);
  char *hs = json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(head);
  char *def = gv_host_forum_definition(h);
  json_t *forum = def ? json_loads(def, 0, NULL) : NULL;
  free(def);
  json_t *fo = forum ? json_pack("{s:o}", "forum", forum) : NULL;
  char *fs = fo ? json_dumps(fo, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(fo);
  int rc = GV_OK;
  if (hs == NULL || fs == NULL) rc = gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  else fprintf(out, "%s\n%s\n", hs, fs);
  free(hs);
  free(fs);
  return rc;
}

int audit_bundle_write(gv_host *h, FILE *out, const char *origin, const char *verifier_key, int archive,
                       int64_t *entries, int64_t *withheld, gv_error *err) {
  export_ctx x = {h, out, archive, 0, 0};
  int rc = write_head(h, out, origin, verifier_key, archive, err);
  if (rc == GV_OK) rc = gv_host_workflow_versions(h, export_version, &x, err);
  if (rc == GV_OK)
    rc = gv_host_sql(h,
                     "SELECT l.idx, l.event_id, l.hash, e.id, e.forum_id, e.item_id, e.kind, e.action, e.actor_id,"
                     " e.member, e.at, e.from_state, e.to_state, e.params, e.sealed, l.salt, l.state_rows"
                     " FROM audit_leaves l JOIN events e ON e.id = l.event_id ORDER BY l.idx",
                     NULL, 0, export_row, &x, err);
  if (rc == GV_OK)
    rc = gv_host_sql(h, "SELECT size, note FROM audit_checkpoints ORDER BY size", NULL, 0, export_note, &x, err);
  *entries = x.n;
  *withheld = x.withheld;
  return rc;
}
