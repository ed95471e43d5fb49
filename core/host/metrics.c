/* Plugins' lines in /metrics: registration, and the check that each stays within its own names. */
#include "host/internal.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>

int gv_host_on_metrics(gv_host *h, gv_metrics_fn fn) {
  if (h == NULL) return GV_EINVAL;
  if (!h->in_init) return gv_host_refuse(h, GV_ESTATE, "gv_host_on_metrics outside init");
  if (fn == NULL) return gv_host_refuse(h, GV_EINVAL, "gv_host_on_metrics without a function");
  if (h->on_metrics) return gv_host_refuse(h, GV_EINVAL, "gv_host_on_metrics twice");
  h->on_metrics = fn;
  return GV_OK;
}

/* Whether the line (without its '\n') is a comment or sample of a metric named
 * "<prefix>...": "# HELP <name> ...", "# TYPE <name> ...", or "<name>{...} value". */
static int line_ok(const char *line, size_t len, const char *prefix) {
  size_t pl = strlen(prefix);
  if (len >= 7 && (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0)) {
    line += 7;
    len -= 7;
  }
  if (len <= pl || strncmp(line, prefix, pl) != 0) return 0;
  for (size_t i = 0; i < len; i++)
    if (line[i] == '\0' || line[i] == '\r') return 0;
  return 1;
}

/* Whether every line of text (which ends in '\n', or is empty) belongs to prefix. */
static int text_ok(const char *text, size_t len, const char *prefix) {
  if (len > 0 && text[len - 1] != '\n') return 0;
  for (size_t at = 0; at < len;) {
    const char *nl = memchr(text + at, '\n', len - at);
    size_t n = (size_t)(nl - (text + at));
    if (!line_ok(text + at, n, prefix)) return 0;
    at += n + 1;
  }
  return 1;
}

void gv_plugins_metrics(gv_plugins *p, gv_buf *out) {
  for (size_t i = 0; p && i < p->n; i++) {
    gv_host *h = &p->hosts[i];
    if (!h->started || h->on_metrics == NULL) continue;
    gv_str *s = gv_str_new();
    char prefix[48];
    snprintf(prefix, sizeof prefix, "gavel_%s_", h->plugin->name);
    int rc = s ? h->on_metrics(h->state, h, s) : GV_ENOMEM;
    const char *text = gv_str_data(s);
    size_t len = gv_str_len(s);
    /* A buffer whose allocation failed reads as empty: the plugin's figures are then missing. */
    if (rc == GV_OK && !text_ok(text, len, prefix)) rc = GV_EINVAL;
    if (rc == GV_OK) gv_buf_append(out, text, len);
    else gv_log(GV_LOG_ERROR, "plugin.metrics_refused", "plugin=%s reason=\"%s\"", h->plugin->name,
                rc == GV_EINVAL ? "a line that is not one of its own metrics (gavel_<plugin>_...)"
                                : "its metrics callback failed");
    gv_str_free(s);
  }
}
