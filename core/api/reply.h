/* Replies for the HTTP API's handlers, and what they read of a request. Each reply
 * finishes the call: it sends the response, logs the call and frees it. */
#ifndef GV_API_REPLY_H
#define GV_API_REPLY_H

#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "http/http.h"
#include "model/role.h"

typedef struct gv_call gv_call;

/* A JSON answer; takes the reference to body. */
void api_json(gv_call *c, int status, json_t *body);
/* An error answer {"error": {"code", "message", "field"}} with the status code's HTTP status;
 * field may be NULL. */
void api_error(gv_call *c, int code, const char *message, const char *field);
/* api_error with a Retry-After of retry_after seconds (none when 0); a 401 also names the
 * Bearer scheme in WWW-Authenticate. */
void api_error_retry(gv_call *c, int code, const char *message, const char *field, int64_t retry_after);
/* api_error for a gv_error (its code, message and field); a workflow failure is told only
 * to the secretariat in full. */
void api_gv_error(gv_call *c, const gv_error *err);
/* A text answer of type ctype; body is copied. */
void api_text(gv_call *c, int status, const char *ctype, const char *body, size_t len);
/* An answer with the caller's headers, added to the defaults (nosniff, no-store,
 * no-referrer) unless they name the same header; body is copied. */
void api_raw(gv_call *c, int status, const gv_http_header *h, size_t nh, const char *body, size_t len);
/* Ends a call whose response was sent some other way (a stream): counts and logs it, and
 * frees c. */
void api_call_finish(gv_call *c, int status);
/* Seconds on the monotonic clock (a call's start and duration). */
double api_mono(void);

/* The query parameter name, percent-decoded into buf; NULL when absent, badly encoded or
 * too long. */
const char *api_query(gv_call *c, const char *name, char *buf, size_t size);
/* The route's i-th path parameter as a positive id in *out; -1 when it is not one. */
int api_param_id(gv_call *c, int i, int64_t *out);
/* 0 when the caller holds role; replies 403 and returns -1 when not. */
int api_require_role(gv_call *c, gv_role role);
/* A page of a list: ?limit= (1 to the list's maximum) and ?after= (the `next` of the page
 * before). */
typedef struct api_page {
  int limit;
  int64_t after;
} api_page;
/* How a list is ordered, which tells where `after` continues. */
enum { API_PAGE_LISTED, API_PAGE_ID_ASC, API_PAGE_ID_DESC };
/* Reads ?limit= and ?after= into pg; replies 422 and returns -1 on a bad value. */
int api_page_query(gv_call *c, int def_limit, int max_limit, api_page *pg);
/* The page of arr (objects with an "id", in the list's order) that pg asks for, with *next
 * the id to continue after (null on the last page). Takes arr; NULL when it replied 422
 * (an after of a LISTED list that names no element). */
json_t *api_page_cut(gv_call *c, json_t *arr, const api_page *pg, int order, json_t **next);
/* {event_id, committed_at}: a new reference. */
json_t *api_receipt(int64_t event_id, int64_t committed_at);

#endif
