/* Request ids: each call carries one, in its log line and in the X-Request-Id response
 * header, so an integrator's report of a failed call finds the server's line for it. */
#include "api/api.h"
#include "base/crypto.h"

#include <stdio.h>
#include <string.h>

/* A client's (or its proxy's) own id is kept when it is short and plain, so one id follows
 * a request through every system; anything else could forge log fields, and is replaced. */
static int well_formed(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 40) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = id[i];
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
             ch == '_' || ch == '.';
    if (!ok) return 0;
  }
  return 1;
}

void api_request_id(gv_call *c) {
  const char *given = gv_http_header_get(c->req, "x-request-id");
  if (given && well_formed(given)) {
    snprintf(c->request_id, sizeof c->request_id, "%s", given);
    return;
  }
  /* 128 random bits: unique enough to find one line among years of logs. */
  if (gv_token_new(16, c->request_id, sizeof c->request_id) != GV_OK)
    snprintf(c->request_id, sizeof c->request_id, "-");
}
