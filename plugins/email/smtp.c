/* SMTP transfers with libcurl's multi interface, driven by the server's libuv loop. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "email.h"

typedef struct job {
  email_smtp *m;
  int64_t delivery_id;
  CURL *easy;
  struct curl_slist *rcpt;
  char *msg;
  size_t len, off;
  char errbuf[CURL_ERROR_SIZE];
  struct job *next;
} job;

typedef struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  email_smtp *m;
} sock_ctx;

struct email_smtp {
  uv_loop_t *loop;
  const email_settings *s;
  CURLM *multi;
  uv_timer_t timer;
  job *jobs;
  size_t busy;
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

/* The settings every transfer shares: where, how securely, who. */
static CURL *easy_for(const email_settings *s, const char *rcpt, struct curl_slist **list, char *errbuf) {
  CURL *e = curl_easy_init();
  if (e == NULL) return NULL;
  *list = curl_slist_append(NULL, rcpt);
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
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, *list);
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, s->timeout_s);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  return e;
}

/* 5xx answers (no such mailbox, message refused) will not change by retrying. */
static int permanent(CURL *e, CURLcode rc) {
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 500 && code < 600) return 1;
  return rc == CURLE_LOGIN_DENIED || rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT;
}

static const char *error_text(const job *j, CURLcode rc, char *buf, size_t size) {
  long code = 0;
  curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code) snprintf(buf, size, "%s (SMTP %ld)", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc), code);
  else snprintf(buf, size, "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
  return buf;
}

static void unlink_job(email_smtp *m, job *j) {
  for (job **p = &m->jobs; *p; p = &(*p)->next)
    if (*p == j) {
      *p = j->next;
      break;
    }
  m->busy--;
  curl_multi_remove_handle(m->multi, j->easy);
  curl_easy_cleanup(j->easy);
  curl_slist_free_all(j->rcpt);
  free(j->msg);
  free(j);
}

static void finished(email_smtp *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    job *j = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
    CURLcode rc = msg->data.result;
    char why[CURL_ERROR_SIZE + 32] = "";
    int ok = rc == CURLE_OK, perm = ok ? 0 : permanent(j->easy, rc);
    if (!ok) error_text(j, rc, why, sizeof why);
    int64_t id = j->delivery_id;
    unlink_job(m, j);
    m->done(m->ud, id, ok, perm, why);
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sock_ctx *c = p->data;
  int flags = 0, running;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  email_smtp *m = c->m;
  curl_multi_socket_action(m->multi, c->fd, flags, &running);
  finished(m);
}

static void free_sock(uv_handle_t *h) { free(h->data); }

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
  email_smtp *m = userp;
  sock_ctx *c = socketp;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    if (c) {
      uv_poll_stop(&c->poll);
      uv_close((uv_handle_t *)&c->poll, free_sock);
      curl_multi_assign(m->multi, fd, NULL);
    }
    return 0;
  }
  if (c == NULL) {
    c = calloc(1, sizeof *c);
    if (c == NULL) return -1;
    c->fd = fd;
    c->m = m;
    if (uv_poll_init_socket(m->loop, &c->poll, fd) != 0) {
      free(c);
      return -1;
    }
    c->poll.data = c;
    curl_multi_assign(m->multi, fd, c);
  }
  int ev = 0;
  if (what & CURL_POLL_IN) ev |= UV_READABLE;
  if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
  uv_poll_start(&c->poll, ev, on_poll);
  return 0;
}

static void on_timeout(uv_timer_t *t) {
  email_smtp *m = t->data;
  int running;
  curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  finished(m);
}

static int on_timer(CURLM *multi, long ms, void *userp) {
  email_smtp *m = userp;
  (void)multi;
  if (ms < 0) uv_timer_stop(&m->timer);
  else uv_timer_start(&m->timer, on_timeout, (uint64_t)ms, 0);
  return 0;
}

email_smtp *email_smtp_new(void *loop, const email_settings *s, email_done_fn done, void *ud) {
  email_smtp *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->loop = loop;
  m->s = s;
  m->done = done;
  m->ud = ud;
  m->multi = curl_multi_init();
  uv_timer_init(m->loop, &m->timer);
  m->timer.data = m;
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
  return m;
}

int email_smtp_send(email_smtp *m, int64_t delivery_id, const char *rcpt, char *msg, size_t len) {
  job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    free(msg);
    return GV_ENOMEM;
  }
  j->m = m;
  j->delivery_id = delivery_id;
  j->msg = msg;
  j->len = len;
  j->easy = easy_for(m->s, rcpt, &j->rcpt, j->errbuf);
  if (j->easy == NULL) {
    free(msg);
    free(j);
    return GV_ENOMEM;
  }
  curl_easy_setopt(j->easy, CURLOPT_READFUNCTION, read_msg);
  curl_easy_setopt(j->easy, CURLOPT_READDATA, j);
  curl_easy_setopt(j->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
  j->next = m->jobs;
  m->jobs = j;
  m->busy++;
  curl_multi_add_handle(m->multi, j->easy);
  return GV_OK;
}

size_t email_smtp_busy(const email_smtp *m) { return m ? m->busy : 0; }

int email_smtp_sending(const email_smtp *m, int64_t delivery_id) {
  for (const job *j = m ? m->jobs : NULL; j; j = j->next)
    if (j->delivery_id == delivery_id) return 1;
  return 0;
}

static void free_self(uv_handle_t *h) { free(h->data); }

void email_smtp_close(email_smtp *m) {
  if (m == NULL) return;
  while (m->jobs) unlink_job(m, m->jobs);
  curl_multi_cleanup(m->multi);
  m->multi = NULL;
  uv_timer_stop(&m->timer);
  uv_close((uv_handle_t *)&m->timer, free_self);
}

int email_smtp_send_blocking(const email_settings *s, const char *rcpt, const char *msg, size_t len, gv_error *err) {
  job j = {0};
  j.msg = (char *)msg;
  j.len = len;
  j.easy = easy_for(s, rcpt, &j.rcpt, j.errbuf);
  if (j.easy == NULL) return gv_error_set(err, GV_ENOMEM, NULL, "out of memory");
  curl_easy_setopt(j.easy, CURLOPT_READFUNCTION, read_msg);
  curl_easy_setopt(j.easy, CURLOPT_READDATA, &j);
  curl_easy_setopt(j.easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
  CURLcode rc = curl_easy_perform(j.easy);
  int out = GV_OK;
  if (rc != CURLE_OK) {
    char why[CURL_ERROR_SIZE + 32];
    out = gv_error_set(err, GV_EIO, NULL, "%s", error_text(&j, rc, why, sizeof why));
  }
  curl_easy_cleanup(j.easy);
  curl_slist_free_all(j.rcpt);
  return out;
}
