/* Group commit for the HTTP API: actions queued during one loop turn are applied as one
 * batch (one transaction, one savepoint each), and every client is answered after the
 * COMMIT; Idempotency-Key answers are stored in the same transaction and replayed. */
#include "api/api.h"
#include "base/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gv_pending {
  gv_pending *next;
  gv_call *call;
  gv_action_req req;
  json_t *params, *title;
  int created;               /* answer 201 */
  api_answer_fn answer;      /* builds the answer inside the transaction */
  char idem_key[201];
  char idem_hash[65];
  int status;                /* the response built inside the transaction */
  char *response;
  int twin;                  /* the idempotency key was taken by a concurrent twin */
};

/* The request's identity for idempotency: method, path and body. A JSON body counts by
 * its parsed value (sorted keys, no spacing), so a client that re-serialises the same
 * request differently is replaying it, not reusing the key for something else. */
void api_request_hash(gv_call *c, char out[65]) {
  gv_sha256_ctx *h = gv_sha256_new();
  gv_sha256_update(h, c->req->method, strlen(c->req->method));
  gv_sha256_update(h, " ", 1);
  gv_sha256_update(h, c->req->path, strlen(c->req->path));
  gv_sha256_update(h, "\n", 1);
  char *canon = c->body ? json_dumps(c->body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
  if (canon) gv_sha256_update(h, canon, strlen(canon));
  else gv_sha256_update(h, c->req->body ? c->req->body : "", c->req->body_len);
  free(canon);
  uint8_t d[GV_SHA256_LEN];
  gv_sha256_final(h, d);
  gv_hex(d, sizeof d, out);
}

static void flush_cb(uv_check_t *h);

/* Queues an action for the next batch; see batch.h. */
void api_enqueue(gv_call *c, gv_action_req *req, json_t *own_params, json_t *own_title, int created,
                 api_answer_fn answer) {
  gv_srv *s = c->srv;
  gv_pending *p = calloc(1, sizeof *p);
  if (p == NULL) {
    json_decref(own_params);
    json_decref(own_title);
    api_error(c, GV_ENOMEM, NULL, NULL);
    return;
  }
  p->call = c;
  p->req = *req;
  p->req.caller = &c->caller;
  p->params = own_params;
  p->title = own_title;
  p->created = created;
  p->answer = answer;
  const char *key = gv_http_header_get(c->req, "idempotency-key");
  if (key) {
    snprintf(p->idem_key, sizeof p->idem_key, "%s", key);
    api_request_hash(c, p->idem_hash);
  }
  p->req.applied_ud = p;
  if (s->queue_tail) s->queue_tail->next = p;
  else s->queue_head = p;
  s->queue_tail = p;
  s->queued++;
  uv_check_start(&s->flush, flush_cb);
}

/* Called inside the action's savepoint: builds the answer and, with an idempotency key,
 * stores it in the same transaction. */
static int applied(gv_engine *e, gv_action_req *req, gv_action_res *res, void *ud) {
  gv_pending *p = ud;
  json_t *body = p->answer(p->call->srv, p->call, res);
  if (body == NULL) return gv_error_set(&res->err, GV_EINTERNAL, NULL, "cannot build the answer");
  p->status = p->created ? 201 : 200;
  p->response = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(body);
  /* An answer that cannot be written down undoes the action: a client is never left
   * without the receipt of something that committed. */
  if (p->response == NULL) return gv_error_set(&res->err, GV_ENOMEM, NULL, "out of memory building the answer");
  if (p->idem_key[0]) {
    int rc = gv_store_idem_put(gv_engine_store(e), p->call->user.id, p->idem_key, p->idem_hash, p->status,
                               p->response, res->committed_at, &res->err);
    if (rc == GV_EEXIST) {
      p->twin = 1;
      return gv_error_set(&res->err, GV_ECONFLICT, NULL, "a concurrent request with the same Idempotency-Key");
    }
    return rc;
  }
  (void)req;
  return GV_OK;
}

/* Answers a request whose Idempotency-Key is already recorded; see batch.h. */
int api_idem_replay(gv_call *c, const char *hash) {
  const char *key = gv_http_header_get(c->req, "idempotency-key");
  if (key == NULL || !c->authed) return 0;
  gv_idem rec = {0};
  if (gv_store_idem_get(gv_engine_store(c->srv->e), c->user.id, key, &rec, NULL) != GV_OK) return 0;
  if (rec.created_at < gv_engine_now(c->srv->e) - IDEMPOTENCY_WINDOW_MS) {
    free(rec.response);
    return 0;
  }
  if (strcmp(rec.request_sha256, hash) != 0) {
    free(rec.response);
    api_error(c, GV_EIDEMPOTENCY, "this Idempotency-Key was used for a different request", "Idempotency-Key");
    return 1;
  }
  gv_http_header h[2] = {{"Content-Type", "application/json; charset=utf-8"}, {"Idempotent-Replayed", "true"}};
  api_raw(c, rec.status, h, 2, rec.response, strlen(rec.response));
  free(rec.response);
  return 1;
}

static void flush_cb(uv_check_t *h) {
  gv_srv *s = h->data;
  while (s->queue_head) {
    size_t n = 0, max = (size_t)s->cfg.max_batch;
    gv_pending *batch[10000];
    if (max > sizeof batch / sizeof batch[0]) max = sizeof batch / sizeof batch[0];
    while (s->queue_head && n < max) {
      gv_pending *p = s->queue_head;
      s->queue_head = p->next;
      if (s->queue_head == NULL) s->queue_tail = NULL;
      s->queued--;
      batch[n++] = p;
    }
    gv_action_req *reqs = calloc(n, sizeof *reqs);
    gv_action_res *res = calloc(n, sizeof *res);
    /* Without room for the batch, nothing is applied and every client hears so. */
    if (reqs != NULL && res != NULL) {
      for (size_t i = 0; i < n; i++) {
        reqs[i] = batch[i]->req;
        reqs[i].applied = applied;
        reqs[i].applied_ud = batch[i];
      }
      gv_engine_apply(s->e, reqs, res, n);
      s->commit_batches++;
    }
    for (size_t i = 0; i < n; i++) {
      gv_pending *p = batch[i];
      if (res == NULL || reqs == NULL) {
        api_error(p->call, GV_ENOMEM, NULL, NULL);
      } else if (res[i].err.code == GV_OK && p->response) {
        api_text(p->call, p->status, "application/json; charset=utf-8", p->response, strlen(p->response));
      } else if (p->twin) {
        if (!api_idem_replay(p->call, p->idem_hash)) api_error(p->call, GV_ECONFLICT, "retry the request", NULL);
      } else {
        api_gv_error(p->call, &res[i].err);
      }
      json_decref(p->params);
      json_decref(p->title);
      free(p->response);
      free(p);
    }
    free(reqs);
    free(res);
  }
  uv_check_stop(h);
  if (s->after_batches) s->after_batches(s);
}
