/* Wall-clock time for Gavel: milliseconds since the epoch, RFC 3339, durations, time zones. */
#ifndef GV_TIME_H
#define GV_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Size of a buffer that holds any time this module formats. */
#define GV_TIME_BUFSZ 96

/* Durations in milliseconds, the unit of every time in Gavel. */
#define GV_MS_PER_SECOND 1000LL
#define GV_MS_PER_MINUTE (60 * GV_MS_PER_SECOND)
#define GV_MS_PER_HOUR (60 * GV_MS_PER_MINUTE)
#define GV_MS_PER_DAY (24 * GV_MS_PER_HOUR)

/* The real wall clock in milliseconds since 1970-01-01T00:00:00Z. */
int64_t gv_time_real_ms(void);

/* Seconds on the monotonic clock (for durations only: its origin is arbitrary). */
double gv_time_mono(void);

/* Parses an RFC 3339 date-time with an explicit offset ("Z" or "+04:00"),
 * optionally with fractional seconds. Returns GV_OK or GV_EINVAL. */
int gv_time_parse(const char *s, int64_t *out_ms);

/* Formats ms as UTC RFC 3339 with milliseconds ("2026-03-01T09:00:00.000Z"). */
const char *gv_time_format(int64_t ms, char buf[GV_TIME_BUFSZ]);

/* Formats ms in time zone tz as RFC 3339 with the zone's offset
 * ("2026-03-01T13:00:00+04:00"). Falls back to UTC if tz is unknown. */
const char *gv_time_format_zone(int64_t ms, const char *tz, char buf[GV_TIME_BUFSZ]);

/* Formats ms in time zone tz with strftime format fmt (e.g. "%Y-%m-%d %H:%M"). */
const char *gv_time_strftime(int64_t ms, const char *tz, const char *fmt, char *buf, size_t size);

/* The calendar year of ms in time zone tz. */
int gv_time_year(int64_t ms, const char *tz);

/* Parses a date "YYYY-MM-DD"; *out_ms is midnight of that date in time zone tz.
 * Returns GV_OK or GV_EINVAL. */
int gv_date_parse(const char *s, const char *tz, int64_t *out_ms);

/* Parses a duration such as "72h", "3d", "1d12h", "90m", "30s". Returns GV_OK or GV_EINVAL. */
int gv_duration_parse(const char *s, int64_t *out_ms);

/* Non-zero if tz names a time zone known to the system (IANA name, no path tricks). */
int gv_tz_valid(const char *tz);

#endif
