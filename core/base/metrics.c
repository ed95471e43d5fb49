/* Prometheus text exposition: fixed-bucket histograms and the process's own figures from /proc. */
#include "base/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const double gv_hist_seconds_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
const int gv_hist_seconds_nbounds = (int)(sizeof gv_hist_seconds_bounds / sizeof gv_hist_seconds_bounds[0]);

void gv_hist_init(gv_hist *h, const double *bounds, int nbounds) {
  memset(h, 0, sizeof *h);
  h->bounds = bounds;
  h->nbounds = nbounds > GV_HIST_MAX_BUCKETS ? GV_HIST_MAX_BUCKETS : nbounds;
}

void gv_hist_observe(gv_hist *h, double v) {
  int i = 0;
  while (i < h->nbounds && v > h->bounds[i]) i++;
  h->counts[i]++;
  h->count++;
  h->sum += v;
}

void gv_metric_header(gv_buf *b, const char *name, const char *type, const char *help) {
  gv_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void gv_hist_write(gv_buf *b, const char *name, const char *labels, const gv_hist *h) {
  const char *sep = labels[0] ? "," : "";
  uint64_t cum = 0;
  for (int i = 0; i < h->nbounds; i++) {
    cum += h->counts[i];
    gv_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->bounds[i], (unsigned long long)cum);
  }
  gv_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)h->count);
  if (labels[0]) {
    gv_buf_printf(b, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels,
                  (unsigned long long)h->count);
  } else {
    gv_buf_printf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
  }
}

void gv_metric_escape(const char *value, char *out, size_t size) {
  size_t o = 0;
  for (const char *p = value; *p && o + 3 < size; p++) {
    if (*p == '\\' || *p == '"') {
      out[o++] = '\\';
      out[o++] = *p;
    } else if (*p == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else {
      out[o++] = *p;
    }
  }
  if (size) out[o < size ? o : size - 1] = '\0';
}

/* The fields of /proc/self/stat after the command name (which may hold spaces and
 * parentheses, so the text is read from the last ')'). field[0] is the state (field 3). */
static int read_stat(char fields[][32], int max) {
  char text[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  if (f == NULL) return 0;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  char *p = strrchr(text, ')');
  if (p == NULL) return 0;
  int k = 0;
  char *save = NULL;
  for (char *tok = strtok_r(p + 1, " \n", &save); tok && k < max; tok = strtok_r(NULL, " \n", &save))
    snprintf(fields[k++], sizeof fields[0], "%s", tok);
  return k;
}

/* The boot time (seconds since the epoch) from /proc/stat's btime line, or -1. */
static long long boot_time(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (f == NULL) return -1;
  char line[256];
  long long bt = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "btime %lld", &bt) == 1) break;
  fclose(f);
  return bt;
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* not counting the descriptor opendir itself holds */
}

void gv_metrics_process(gv_buf *b) {
  char f[40][32];
  int n = read_stat(f, 40);
  long ticks = sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  /* Fields (numbered as in proc(5)): 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss;
   * f[0] is field 3. */
  if (n >= 22 && ticks > 0) {
    double cpu = (double)(strtoull(f[11], NULL, 10) + strtoull(f[12], NULL, 10)) / (double)ticks;
    gv_metric_header(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
    gv_buf_printf(b, "process_cpu_seconds_total %.2f\n", cpu);
    long long bt = boot_time();
    if (bt >= 0) {
      double start = (double)bt + (double)strtoull(f[19], NULL, 10) / (double)ticks;
      gv_metric_header(b, "process_start_time_seconds", "gauge", "Start time of the process since the epoch, in seconds.");
      gv_buf_printf(b, "process_start_time_seconds %.2f\n", start);
    }
    gv_metric_header(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size, in bytes.");
    gv_buf_printf(b, "process_virtual_memory_bytes %llu\n", strtoull(f[20], NULL, 10));
    if (page > 0) {
      gv_metric_header(b, "process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.");
      gv_buf_printf(b, "process_resident_memory_bytes %llu\n", strtoull(f[21], NULL, 10) * (unsigned long long)page);
    }
  }
  int fds = open_fds();
  if (fds >= 0) {
    gv_metric_header(b, "process_open_fds", "gauge", "Open file descriptors.");
    gv_buf_printf(b, "process_open_fds %d\n", fds);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    gv_metric_header(b, "process_max_fds", "gauge", "Limit on open file descriptors.");
    gv_buf_printf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
  }
}
