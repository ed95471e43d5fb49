/* SMTP transfers with libcurl, each on one of libuv's worker threads: libcurl's SMTP waits for
 * the server's verdict on a message with a blocking poll, which must never hold the server's
 * loop. Results come back to the loop, where the database is written. */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "email.h"

typedef struct job {
  uv_work_t work;
  email_smtp *m;
  int64_t delivery_id;
  char *rcpt;
  char *msg;
  size_t len, off;
  /* Filled in by the worker thread. */
  int ok, permanent;
  char error[CURL_ERROR_SIZE + 64];
  struct job *next;
} job;

struct email_smtp {
  uv_loop_t *loop;
  const email_settings *s;
  job *jobs;
  size_t busy;
  atomic_int stopping;      /* read by the worker threads: abort transfers */
  int closed;
  email_done_fn done;
  void *ud;
};

static size_t read_msg(char *out, size_t size, size_t n, void *ud) {
  job *j = ud;
  size_t want = size * n, left = j->len - j->off;
  if (want > left) want = left;
  memcpy(out, j->msg + j->off, want);
  j->off += want;
  return want;
}

/* Non-zero aborts the transfer (the server is stopping). */
static int progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
  const atomic_int *stopping = ud;
  (void)a, (void)b, (void)c, (void)d;
  return atomic_load(stopping) ? 1 : 0;
}

/* Sends one message, blocking; fills ok, permanent and error. Runs on any thread. */
static void perform(const email_settings *s, const atomic_int *stopping, job *j) {
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *rcpt = curl_slist_append(NULL, j->rcpt);
  CURL *e = curl_easy_init();
  if (e == NULL || rcpt == NULL) {
    snprintf(j->error, sizeof j->error, "out of memory");
    curl_slist_free_all(rcpt);
    if (e) curl_easy_cleanup(e);
    return;
  }
  curl_easy_setopt(e, CURLOPT_URL, s->smtp_url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  /* STARTTLS is required, never optional: no message leaves in clear text unless the
   * settings say "none" (allowed for a server on this machine only). */
  curl_easy_setopt(e, CURLOPT_USE_SSL, s->security == SEC_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (s->ca_file[0]) curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
  if (s->username[0]) {
    curl_easy_setopt(e, CURLOPT_USERNAME, s->username);
    curl_easy_setopt(e, CURLOPT_PASSWORD, s->password);
  }
  curl_easy_setopt(e, CURLOPT_MAIL_FROM, s->from);
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, read_msg);
  curl_easy_setopt(e, CURLOPT_READDATA, j);
  curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, s->timeout_s);
  /* Also bounds the wait for the answer to the message and to QUIT. */
  curl_easy_setopt(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, s->timeout_s);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)stopping);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(e);
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  j->ok = rc == CURLE_OK;
  if (!j->ok) {
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (code) snprintf(j->error, sizeof j->error, "%s (SMTP %ld)", why, code);
    else snprintf(j->error, sizeof j->error, "%s", why);
    /* Only the recipient's refusal is final: a refused sender, a failed sign-in or a
     * server that is unwell today may be set right, so those are tried again. */
    j->permanent = code >= 500 && code < 600 && strstr(why, "RCPT") != NULL;
  }
  curl_easy_cleanup(e);
  curl_slist_free_all(rcpt);
}

static void work(uv_work_t *w) {
  job *j = w->data;
  perform(j->m->s, &j->m->stopping, j);
}

static void after(uv_work_t *w, int status) {
  job *j = w->data;
  email_smtp *m = j->m;
  for (job **p = &m->jobs; *p; p = &(*p)->next)
    if (*p == j) {
      *p = j->next;
      break;
    }
  m->busy--;
  /* After close, results are dropped: the deliveries stay pending for the next start. */
  if (!m->closed) {
    if (status == UV_ECANCELED) m->done(m->ud, j->delivery_id, 0, 0, "the server stopped");
    else m->done(m->ud, j->delivery_id, j->ok, j->permanent, j->error);
  }
  free(j->rcpt);
  free(j->msg);
  free(j);
  if (m->closed && m->busy == 0) free(m);
}

email_smtp *email_smtp_new(void *loop, const email_settings *s, email_done_fn done, void *ud) {
  email_smtp *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->loop = loop;
  m->s = s;
  m->done = done;
  m->ud = ud;
  atomic_init(&m->stopping, 0);
  return m;
}

int email_smtp_send(email_smtp *m, int64_t delivery_id, const char *rcpt, char *msg, size_t len) {
  job *j = calloc(1, sizeof *j);
  char *r = strdup(rcpt);
  if (j == NULL || r == NULL || m->closed) {
    free(j);
    free(r);
    free(msg);
    return GV_ENOMEM;
  }
  j->m = m;
  j->delivery_id = delivery_id;
  j->rcpt = r;
  j->msg = msg;
  j->len = len;
  j->work.data = j;
  if (uv_queue_work(m->loop, &j->work, work, after) != 0) {
    free(r);
    free(msg);
    free(j);
    return GV_EIO;
  }
  j->next = m->jobs;
  m->jobs = j;
  m->busy++;
  return GV_OK;
}

size_t email_smtp_busy(const email_smtp *m) { return m ? m->busy : 0; }

int email_smtp_sending(const email_smtp *m, int64_t delivery_id) {
  for (const job *j = m ? m->jobs : NULL; j; j = j->next)
    if (j->delivery_id == delivery_id) return 1;
  return 0;
}

void email_smtp_close(email_smtp *m) {
  if (m == NULL) return;
  m->closed = 1;
  atomic_store(&m->stopping, 1);
  /* Transfers not yet started are cancelled; running ones abort at their next progress
   * check; each frees itself when its result comes back to the loop. */
  for (job *j = m->jobs; j; j = j->next) uv_cancel((uv_req_t *)&j->work);
  if (m->busy == 0) free(m);
}

int email_smtp_send_blocking(const email_settings *s, const char *rcpt, const char *msg, size_t len, gv_error *err) {
  atomic_int never;
  atomic_init(&never, 0);
  job j;
  memset(&j, 0, sizeof j);
  j.rcpt = (char *)rcpt;
  j.msg = (char *)msg;
  j.len = len;
  perform(s, &never, &j);
  return j.ok ? GV_OK : gv_error_set(err, GV_EIO, NULL, "%s", j.error);
}
