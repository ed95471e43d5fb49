/* Reloading the server's TLS certificate and key on SIGHUP, so a renewed certificate is
 * served without a restart. */
#include "api/api.h"
#include "base/log.h"

void api_tls_reload(gv_srv *s) {
  if (s->cfg.tls_cert[0] == '\0') return;
  gv_error err;
  gv_error_clear(&err);
  /* The server swaps contexts only once the new pair loaded: a half-written file keeps
   * the old certificate in service. */
  if (gv_http_server_tls(s->http, s->cfg.tls_cert, s->cfg.tls_key, &err) != GV_OK) {
    char buf[600];
    gv_log(GV_LOG_ERROR, "tls.reload_failed", "cert=%s error=\"%s\"", s->cfg.tls_cert,
           gv_error_format(&err, buf, sizeof buf));
    return;
  }
  gv_log(GV_LOG_INFO, "tls.reloaded", "cert=%s", s->cfg.tls_cert);
}
