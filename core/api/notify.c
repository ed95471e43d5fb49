/* Talks to systemd through libsystemd's sd_notify when Gavel is built with it. */
#include "api/notify.h"
#include "base/log.h"

#include <stdint.h>
#include <unistd.h>

#ifdef GAVEL_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
/* Without libsystemd there is no service manager to tell. */
static int sd_notify(int unset, const char *state) {
  (void)unset;
  (void)state;
  return 0;
}
static int sd_watchdog_enabled(int unset, uint64_t *usec) {
  (void)unset;
  (void)usec;
  return 0;
}
#endif

static uv_timer_t watchdog;
static int watchdog_open;

static void on_watchdog(uv_timer_t *t) {
  (void)t;
  sd_notify(0, "WATCHDOG=1");
}

void gv_notify_ready(uv_loop_t *loop, const char *status) {
  char msg[300];
  snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s\nMAINPID=%lu", status ? status : "serving", (unsigned long)getpid());
  sd_notify(0, msg);
  uint64_t usec = 0;
  if (watchdog_open || sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  uint64_t every = usec / 2000 ? usec / 2000 : 1;
  uv_timer_init(loop, &watchdog);
  /* Unreferenced: the watchdog alone never keeps the loop running. */
  uv_unref((uv_handle_t *)&watchdog);
  uv_timer_start(&watchdog, on_watchdog, every, every);
  watchdog_open = 1;
  on_watchdog(&watchdog);
  gv_log(GV_LOG_INFO, "systemd.watchdog", "interval_ms=%llu", (unsigned long long)every);
}

void gv_notify_reloading(void) { sd_notify(0, "RELOADING=1\nSTATUS=reloading the workflows"); }

void gv_notify_reloaded(void) { sd_notify(0, "READY=1\nSTATUS=serving"); }

void gv_notify_stopping(void) {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  if (watchdog_open) {
    uv_timer_stop(&watchdog);
    uv_close((uv_handle_t *)&watchdog, NULL);
    watchdog_open = 0;
  }
}
