/* Group commit for the HTTP API: handlers queue actions; each batch is one transaction and
 * its clients are answered after the COMMIT. Idempotency-Key answers are kept a day. */
#ifndef GV_API_BATCH_H
#define GV_API_BATCH_H

#include <jansson.h>

#include "engine/engine.h"

typedef struct gv_srv gv_srv;
typedef struct gv_call gv_call;

/* Builds the answer to an applied action, inside its transaction: a new reference, or
 * NULL when it cannot be built (the action then fails). */
typedef json_t *(*api_answer_fn)(gv_srv *s, gv_call *c, const gv_action_res *res);

/* Queues the action req for the next batch (at the end of this loop turn). Takes own_params
 * and own_title (may be NULL); answer builds the reply, sent with status 201 when created
 * and 200 otherwise, after the batch commits. An error answers with its status. */
void api_enqueue(gv_call *c, gv_action_req *req, json_t *own_params, json_t *own_title, int created,
                 api_answer_fn answer);
/* The request's identity for idempotency (method, path and body), as 64 hex digits. */
void api_request_hash(gv_call *c, char out[65]);
/* Answers a request whose Idempotency-Key is already recorded: the original answer, or
 * 422 if the request (hash) differs. Returns 1 if it answered, 0 if the request is new. */
int api_idem_replay(gv_call *c, const char *hash);

#endif
