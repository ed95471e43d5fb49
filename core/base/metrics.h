/* Prometheus text exposition: fixed-bucket histograms and the process's own figures from /proc. */
#ifndef GV_METRICS_H
#define GV_METRICS_H

#include "base/buf.h"

#include <stdint.h>

/* The most buckets a histogram has (the +Inf bucket not counted). */
#define GV_HIST_MAX_BUCKETS 16

/* A histogram with fixed upper bounds (ascending, without +Inf). Zero-initialise it, then set
 * bounds and nbounds; it owns no memory. */
typedef struct gv_hist {
  const double *bounds;
  int nbounds;
  uint64_t counts[GV_HIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
  uint64_t count;
  double sum;
} gv_hist;

/* Bounds shared by the server's latency histograms: 100 µs to 10 s. */
extern const double gv_hist_seconds_bounds[];
extern const int gv_hist_seconds_nbounds;

/* Sets up h with the given bounds (at most GV_HIST_MAX_BUCKETS; more are ignored). */
void gv_hist_init(gv_hist *h, const double *bounds, int nbounds);
/* Counts one observation of value v. */
void gv_hist_observe(gv_hist *h, double v);

/* Writes the # HELP and # TYPE lines of a metric. type is "counter", "gauge" or "histogram". */
void gv_metric_header(gv_buf *b, const char *name, const char *type, const char *help);
/* Writes the _bucket, _sum and _count lines of h under name. labels is "" or a list such as
 * `route="/x",status="2xx"` (already escaped) that goes before le. */
void gv_hist_write(gv_buf *b, const char *name, const char *labels, const gv_hist *h);
/* Escapes a label value (backslash, double quote, newline) into out; truncates to size. */
void gv_metric_escape(const char *value, char *out, size_t size);

/* Writes process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds and process_start_time_seconds, read from /proc/self (the
 * figures that cannot be read are left out). */
void gv_metrics_process(gv_buf *b);

#endif
