/* Webhook deliveries over HTTP with libcurl, each on one of libuv's worker threads, so a slow or
 * silent receiver never holds the server's loop. Results come back to the loop, where the
 * database is written. */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "webhook.h"

typedef struct job {
  uv_work_t work;
  webhook_http *m;
  int64_t delivery_id;
  char *url;
  char **headers;
  char *body;
  size_t len;
  /* Filled in by the worker thread. */
  int ok;
  long status;
  char error[CURL_ERROR_SIZE + 64];
  struct job *next;
} job;

struct webhook_http {
  uv_loop_t *loop;
  const webhook_settings *s;
  job *jobs;
  size_t busy;
  atomic_int stopping;      /* read by the worker threads: abort transfers */
  int closed;
  webhook_done_fn done;
  void *ud;
};

static void job_free(job *j) {
  for (char **h = j->headers; h && *h; h++) free(*h);
  free(j->headers);
  free(j->url);
  free(j->body);
  free(j);
}

/* The receiver's answer is not kept: only its status matters. */
static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p, (void)ud;
  return size * n;
}

/* Non-zero aborts the transfer (the server is stopping). */
static int progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
  const atomic_int *stopping = ud;
  (void)a, (void)b, (void)c, (void)d;
  return atomic_load(stopping) ? 1 : 0;
}

/* Posts one delivery, blocking; fills ok, status and error. Runs on a worker thread. */
static void perform(const webhook_settings *s, const atomic_int *stopping, job *j) {
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *hl = NULL;
  int oom = 0;
  for (char **h = j->headers; h && *h && !oom; h++) {
    struct curl_slist *n = curl_slist_append(hl, *h);
    if (n == NULL) oom = 1;
    else hl = n;
  }
  CURL *e = oom ? NULL : curl_easy_init();
  if (e == NULL) {
    snprintf(j->error, sizeof j->error, "out of memory");
    curl_slist_free_all(hl);
    return;
  }
  curl_easy_setopt(e, CURLOPT_URL, j->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* A receiver's redirect is not followed: the secretariat registered this address. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "Gavel-Webhooks/1");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, s->timeout_s < 15 ? s->timeout_s : 15L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, s->timeout_s);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)stopping);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &j->status);
  if (rc != CURLE_OK) {
    snprintf(j->error, sizeof j->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
  } else if (j->status < 200 || j->status > 299) {
    snprintf(j->error, sizeof j->error, "the receiver answered HTTP %ld", j->status);
  } else {
    j->ok = 1;
  }
  curl_easy_cleanup(e);
  curl_slist_free_all(hl);
}

static void work(uv_work_t *w) {
  job *j = w->data;
  perform(j->m->s, &j->m->stopping, j);
}

static void after(uv_work_t *w, int status) {
  job *j = w->data;
  webhook_http *m = j->m;
  for (job **p = &m->jobs; *p; p = &(*p)->next)
    if (*p == j) {
      *p = j->next;
      break;
    }
  m->busy--;
  if (!m->closed) {
    if (status == UV_ECANCELED) m->done(m->ud, j->delivery_id, 0, 0, "the server stopped");
    else m->done(m->ud, j->delivery_id, j->ok, j->status, j->error);
  }
  job_free(j);
  if (m->closed && m->busy == 0) free(m);
}

webhook_http *webhook_http_new(void *loop, const webhook_settings *s, webhook_done_fn done, void *ud) {
  webhook_http *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->loop = loop;
  m->s = s;
  m->done = done;
  m->ud = ud;
  atomic_init(&m->stopping, 0);
  return m;
}

int webhook_http_post(webhook_http *m, int64_t delivery_id, const char *url, char **headers, char *body, size_t len) {
  job *j = calloc(1, sizeof *j);
  char *u = strdup(url);
  if (j == NULL || u == NULL || m->closed) {
    for (char **h = headers; h && *h; h++) free(*h);
    free(headers);
    free(body);
    free(u);
    free(j);
    return GV_ENOMEM;
  }
  j->m = m;
  j->delivery_id = delivery_id;
  j->url = u;
  j->headers = headers;
  j->body = body;
  j->len = len;
  j->work.data = j;
  if (uv_queue_work(m->loop, &j->work, work, after) != 0) {
    job_free(j);
    return GV_EIO;
  }
  j->next = m->jobs;
  m->jobs = j;
  m->busy++;
  return GV_OK;
}

size_t webhook_http_busy(const webhook_http *m) { return m ? m->busy : 0; }

int webhook_http_sending(const webhook_http *m, int64_t delivery_id) {
  for (const job *j = m ? m->jobs : NULL; j; j = j->next)
    if (j->delivery_id == delivery_id) return 1;
  return 0;
}

void webhook_http_close(webhook_http *m) {
  if (m == NULL) return;
  m->closed = 1;
  atomic_store(&m->stopping, 1);
  for (job *j = m->jobs; j; j = j->next) uv_cancel((uv_req_t *)&j->work);
  if (m->busy == 0) free(m);
}

int webhook_http_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? GV_OK : GV_EIO; }

void webhook_http_global_cleanup(void) { curl_global_cleanup(); }
