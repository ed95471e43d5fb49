/* Wall-clock time: RFC 3339, durations and time zones (through the system's tz database). */
#include "base/time.h"
#include "base/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int64_t gv_time_real_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double gv_time_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Days since the epoch of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int gv_time_parse(const char *s, int64_t *out_ms) {
  int y, mo, d, h, mi, sec;
  if (s == NULL || strlen(s) < 20) return GV_EINVAL;
  if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
      digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
      digits(s + 17, 2, &sec))
    return GV_EINVAL;
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
      h > 23 || mi > 59 || sec > 60)
    return GV_EINVAL;
  if (sec == 60) sec = 59; /* a leap second is read as the second before it */
  const char *p = s + 19;
  int ms = 0;
  if (*p == '.') {
    p++;
    int n = 0;
    while (isdigit((unsigned char)*p)) {
      if (n < 3) ms = ms * 10 + (*p - '0');
      n++;
      p++;
    }
    if (n == 0 || n > 9) return GV_EINVAL;
    for (; n < 3; n++) ms *= 10;
  }
  int offset_min;
  if (*p == 'Z' || *p == 'z') {
    offset_min = 0;
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om;
    if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
      return GV_EINVAL;
    offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return GV_EINVAL;
  }
  if (*p != '\0') return GV_EINVAL;
  int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
  *out_ms = secs * 1000 + ms;
  return GV_OK;
}

static void split_ms(int64_t ms, time_t *secs, int *frac) {
  int64_t s = ms / 1000, f = ms % 1000;
  if (f < 0) { f += 1000; s -= 1; }
  *secs = (time_t)s;
  *frac = (int)f;
}

const char *gv_time_format(int64_t ms, char buf[GV_TIME_BUFSZ]) {
  time_t secs;
  int frac;
  struct tm tm;
  split_ms(ms, &secs, &frac);
  gmtime_r(&secs, &tm);
  snprintf(buf, GV_TIME_BUFSZ, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

int gv_tz_valid(const char *tz) {
  if (tz == NULL || *tz == '\0' || strlen(tz) > 64 || tz[0] == '/' || strstr(tz, "..")) return 0;
  for (const char *p = tz; *p; p++)
    if (!isalnum((unsigned char)*p) && strchr("/_-+", *p) == NULL) return 0;
  if (strcmp(tz, "UTC") == 0) return 1;
  const char *dir = getenv("TZDIR");
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Runs localtime_r in zone tz. glibc reads the zone from the TZ variable, so it is
 * set around the call and restored; Gavel calls this from one thread only. */
static int local_tm(time_t secs, const char *tz, struct tm *out) {
  if (!gv_tz_valid(tz)) {
    gmtime_r(&secs, out);
    return -1;
  }
  const char *old = getenv("TZ");
  char saved[128];
  int had = old != NULL;
  if (had) snprintf(saved, sizeof saved, "%s", old);
  setenv("TZ", tz, 1);
  tzset();
  localtime_r(&secs, out);
  if (had) setenv("TZ", saved, 1); else unsetenv("TZ");
  tzset();
  return 0;
}

const char *gv_time_format_zone(int64_t ms, const char *tz, char buf[GV_TIME_BUFSZ]) {
  time_t secs;
  int frac;
  struct tm tm;
  split_ms(ms, &secs, &frac);
  if (local_tm(secs, tz, &tm) != 0) return gv_time_format(ms, buf);
  long off = tm.tm_gmtoff / 60;
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  snprintf(buf, GV_TIME_BUFSZ, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
  return buf;
}

const char *gv_time_strftime(int64_t ms, const char *tz, const char *fmt, char *buf, size_t size) {
  time_t secs;
  int frac;
  struct tm tm;
  split_ms(ms, &secs, &frac);
  local_tm(secs, tz, &tm);
  if (strftime(buf, size, fmt, &tm) == 0 && size) buf[0] = '\0';
  return buf;
}

int gv_time_year(int64_t ms, const char *tz) {
  time_t secs;
  int frac;
  struct tm tm;
  split_ms(ms, &secs, &frac);
  local_tm(secs, tz, &tm);
  return tm.tm_year + 1900;
}

int gv_date_parse(const char *s, const char *tz, int64_t *out_ms) {
  int y, mo, d;
  if (s == NULL || strlen(s) != 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
      s[7] != '-' || digits(s + 8, 2, &d))
    return GV_EINVAL;
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
    return GV_EINVAL;
  int64_t utc = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400;
  /* Find the zone's offset at that moment (twice, to settle across a DST change). */
  int64_t guess = utc;
  for (int i = 0; i < 2; i++) {
    struct tm tm;
    local_tm((time_t)guess, tz, &tm);
    guess = utc - tm.tm_gmtoff;
  }
  *out_ms = guess * 1000;
  return GV_OK;
}

int gv_duration_parse(const char *s, int64_t *out_ms) {
  if (s == NULL || *s == '\0') return GV_EINVAL;
  int64_t total = 0;
  const char *p = s;
  while (*p) {
    if (!isdigit((unsigned char)*p)) return GV_EINVAL;
    int64_t n = 0;
    while (isdigit((unsigned char)*p)) {
      n = n * 10 + (*p - '0');
      if (n > 1000000000) return GV_EINVAL;
      p++;
    }
    int64_t unit;
    switch (*p) {
      case 'd': unit = 86400000; break;
      case 'h': unit = 3600000; break;
      case 'm': unit = 60000; break;
      case 's': unit = 1000; break;
      default: return GV_EINVAL;
    }
    p++;
    total += n * unit;
  }
  *out_ms = total;
  return GV_OK;
}
