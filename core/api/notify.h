/* Readiness, reload, stop and watchdog notices to systemd (Type=notify), no-ops elsewhere. */
#ifndef GV_NOTIFY_H
#define GV_NOTIFY_H

#include <uv.h>

/* The server listens and serves: tells the service manager (when NOTIFY_SOCKET names
 * one) that it is ready, with status as its one-line status, and when the unit has a
 * watchdog (WatchdogSec=) starts a timer on loop that feeds it at half the interval. A
 * loop that stops turning stops feeding it, so systemd restarts a hung server. */
void gv_notify_ready(uv_loop_t *loop, const char *status);
/* A reload (SIGHUP) begins; gv_notify_reloaded says it is over. */
void gv_notify_reloading(void);
void gv_notify_reloaded(void);
/* The server begins to stop: says so and closes the watchdog timer, so the loop can end. */
void gv_notify_stopping(void);

#endif
