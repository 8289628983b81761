/* A virtual user's requests: its connections (the worker's connect slots and queue,
 * address fallback), the glue between the user and its HTTP session (what the session
 * asks of its owner), the texts attached to failures, and the calls the scripted runtime
 * makes (send, iterations, retiring). It calls neither the scheduler (worker.c) nor the
 * scripted runtime (script.c): both call it. Worker thread only. */
#include "engine/internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

uint32_t sl__user_index(const sl_user_t *u)
{
    return (uint32_t)(u - u->w->users);
}

/* splitmix64: seeds each user's xorshift state from the run seed and the user's id, so
 * a user's sequence of tasks does not depend on which thread runs it. */
uint64_t sl__splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t sl__user_rand(sl_user_t *u)
{
    uint64_t x = u->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return u->rng = x;
}

static void wait_remove(sl_user_t *u)
{
    sl_worker_t *w = u->w;
    if (!u->waiting)
        return;
    if (u->wait_prev != SL_NO_USER)
        w->users[u->wait_prev].wait_next = u->wait_next;
    else
        w->wait_head = u->wait_next;
    if (u->wait_next != SL_NO_USER)
        w->users[u->wait_next].wait_prev = u->wait_prev;
    else
        w->wait_tail = u->wait_prev;
    u->waiting = false;
}

static void wait_push(sl_user_t *u)
{
    sl_worker_t *w = u->w;
    uint32_t idx = sl__user_index(u);
    u->wait_next = SL_NO_USER;
    u->wait_prev = w->wait_tail;
    if (w->wait_tail != SL_NO_USER)
        w->users[w->wait_tail].wait_next = idx;
    else
        w->wait_head = idx;
    w->wait_tail = idx;
    u->waiting = true;
}

/* Gives back a connect slot; the queue is pumped from a timer so that a connect that
 * fails at once cannot recurse through the whole queue. */
static void connect_slot_release(sl_user_t *u)
{
    sl_worker_t *w = u->w;
    if (!u->connect_slot)
        return;
    u->connect_slot = false;
    w->connecting--;
    if (w->wait_head != SL_NO_USER && !sl_loop_timer_armed(&w->connect_timer))
        sl_loop_timer_start(&w->loop, &w->connect_timer, w->loop.now_us);
}

/* The session is closing the connection. Bumping the generation makes events already
 * queued for the old socket recognisable as stale. */
void sl__user_on_closing(sl_http_session_t *s)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    wait_remove(u);
    connect_slot_release(u);
    u->gen++;
}

void sl__user_close(sl_user_t *u, bool abortive)
{
    sl_http_session_close(&u->http, abortive);
}

/* The timeout timer is armed lazily: a request only moves deadline_us; the timer, once
 * armed, fires at most once per timeout period and re-arms itself at the current
 * deadline. That keeps the timer heap out of the per-request path. */
static void user_arm_timeout(sl_user_t *u)
{
    if (!sl_loop_timer_armed(&u->timer))
        sl_loop_timer_start(&u->w->loop, &u->timer, u->deadline_us);
}

/* Interns a failure's text in the run's registry through the worker's small cache.
 * Returns false when there is no registry or it is full. */
static bool worker_text(sl_worker_t *w, const char *text, size_t len, bool from_server,
                        uint32_t *id)
{
    if (!w->cfg->texts)
        return false;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)text[i]) * 1099511628211ULL;
    sl_text_slot_t *slot = &w->texts[h % SL_WORKER_TEXT_SLOTS];
    if (slot->id_plus_1 && slot->len == len && memcmp(slot->s, text, len) == 0) {
        *id = slot->id_plus_1 - 1;
        return true;
    }
    if (from_server && w->phrase_interns >= SL_WORKER_MAX_PHRASE_INTERNS)
        return false;
    w->phrase_interns += from_server;
    char copy[256];
    if (len >= sizeof(copy))
        len = sizeof(copy) - 1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (sl_rows_intern(w->cfg->texts, "", copy, id) != 0)
        return false;
    if (len < sizeof(slot->s)) {
        slot->id_plus_1 = *id + 1;
        slot->len = (uint8_t)len;
        memcpy(slot->s, copy, len);
    }
    return true;
}

int32_t sl__user_fail_detail(sl_user_t *u, sl_fail_t fail, int32_t detail)
{
    sl_worker_t *w = u->w;
    const char *text = NULL;
    size_t len = 0;
    bool from_server = false;
    switch (fail) {
    case SL_FAIL_HTTP: {
        /* Only a phrase that differs from the standard one needs a text. */
        const char *std = sl_http_reason(u->http.resp.status);
        len = u->http.resp.reason_len;
        if (len && (strlen(std) != len || memcmp(std, u->http.resp.reason, len) != 0)) {
            text = u->http.resp.reason;
            from_server = true;
        }
        break;
    }
    case SL_FAIL_TLS_VERIFY:
        text = sl_tls_verify_reason(detail);
        len = text ? strlen(text) : 0;
        break;
    case SL_FAIL_CONNECT_REFUSED:
    case SL_FAIL_CONNECT_TIMEOUT:
        /* Their text does not depend on the errno behind them: one row per address. */
        detail = 0;
        /* fall through */
    case SL_FAIL_CONNECT:
        if (u->connect_addr < w->cfg->ep->naddrs) {
            text = w->cfg->ep->names[u->connect_addr];
            len = strlen(text);
        }
        break;
    default:
        break;
    }
    uint32_t id;
    if (!text || !len || detail < 0 || detail >= SL_DETAIL_TEXT_UNIT ||
        !worker_text(w, text, len, from_server, &id))
        return detail;
    return sl_detail_with_text(detail, id);
}

void sl__user_fail(sl_user_t *u, sl_fail_t fail, int detail, bool abortive)
{
    sl_http_session_fail(&u->http, fail, detail, abortive);
}

static void user_connect_addr(sl_user_t *u, uint32_t idx);

/* A connect that failed moves on to the endpoint's next address while there is one not
 * yet tried for this request (a name listing "::1" first while the server listens on
 * 127.0.0.1 only); the connect slot is kept. */
static bool user_connect_next(sl_user_t *u)
{
    const sl_endpoint_t *ep = u->w->cfg->ep;
    if (!sl_conn_connect_failed(&u->http.conn) || (uint32_t)u->addr_tries + 1 >= ep->naddrs)
        return false;
    uint32_t next = (u->http.conn.addr_idx + 1) % ep->naddrs;
    sl_conn_close(&u->http.conn, false);
    u->gen++;
    u->addr_tries++;
    user_connect_addr(u, next);
    return true;
}

void sl__user_establish(sl_user_t *u)
{
    sl_conn_t *c = &u->http.conn;
    bool was_up = c->tcp_up;
    int rc = c->tp->establish(c);
    if (!was_up && c->tcp_up)
        u->tcp_up_us = sl_loop_update_now(&u->w->loop);
    if (rc == SL_IO_AGAIN)
        return;
    if (rc != 0) {
        if (user_connect_next(u))
            return;
        sl__user_fail(u, (sl_fail_t)c->fail, c->err, false);
        return;
    }
    /* Later connections start at the address that worked. */
    u->w->addr_pref = c->addr_idx;
    /* The phases of a new connection: TCP connect, then the TLS handshake, read off the
     * loop's clock (refreshed here: the handshake's CPU time belongs to it). */
    uint64_t now = sl_loop_update_now(&u->w->loop);
    uint64_t up = u->tcp_up_us ? u->tcp_up_us : now;
    sl_phases_t *ph = &u->http.phases;
    ph->connect_us += up > u->conn_start_us ? up - u->conn_start_us : 0;
    ph->tls_us += c->ssl && now > up ? now - up : 0;
    ph->conn = SL_PHASES_CONN_NEW;
    connect_slot_release(u);
    sl_http_session_send(&u->http);
}

static void user_connect_addr(sl_user_t *u, uint32_t idx)
{
    sl_worker_t *w = u->w;
    u->connect_addr = (uint8_t)idx;
    u->tcp_up_us = 0;
    if (sl_conn_open(&u->http.conn, w->cfg->ep, idx) != 0) {
        if (user_connect_next(u))
            return;
        sl__user_fail(u, (sl_fail_t)u->http.conn.fail, u->http.conn.err, false);
        return;
    }
    if (sl_loop_add_fd(&w->loop, u->http.conn.fd, SL_USER_TOKEN(sl__user_index(u), u->gen)) != 0) {
        int e = errno;
        sl__user_fail(u, SL_FAIL_CONNECT, e, false);
        return;
    }
    sl__user_establish(u);
}

static void user_connect(sl_user_t *u)
{
    sl_worker_t *w = u->w;
    u->connect_slot = true;
    w->connecting++;
    u->addr_tries = 0;
    u->conn_start_us = sl_loop_update_now(&w->loop);
    user_connect_addr(u, w->addr_pref);
}

void sl__worker_on_connect_pump(sl_loop_t *loop, sl_timer_t *t)
{
    sl_worker_t *w = loop->data;
    (void)t;
    while (w->wait_head != SL_NO_USER && w->connecting < SL_WORKER_MAX_CONNECTING &&
           (!w->stop || w->stopping)) {
        sl_user_t *u = &w->users[w->wait_head];
        wait_remove(u);
        user_connect(u);
    }
}

/* The session needs a connection: one of the worker's connect slots, or a place in the
 * queue for one. */
void sl__user_on_connect(sl_http_session_t *s)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    sl_worker_t *w = u->w;
    u->connect_addr = SL_NO_ADDR;
    if (w->connecting >= SL_WORKER_MAX_CONNECTING || w->wait_head != SL_NO_USER)
        wait_push(u);
    else
        user_connect(u);
}

void sl__user_on_event(sl_http_session_t *s, sl_http_event_t ev)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    switch (ev) {
    case SL_HTTP_EV_RETRY:
        u->w->cur->retries++;
        break;
    case SL_HTTP_EV_STALE:
        u->w->cur->stale_discarded++;
        break;
    case SL_HTTP_EV_CONN_H1:
        u->w->cur->conns_h1++;
        break;
    case SL_HTTP_EV_CONN_H2:
        u->w->cur->conns_h2++;
        break;
    case SL_HTTP_EV_H2_DECLINED:
        u->w->cur->h2_declined++;
        break;
    }
}

static sl_http_exchange_t user_exchange(const sl_user_t *u)
{
    const sl_task_t *t = u->task;
    return (sl_http_exchange_t){.wire = t->wire,
                                .wire_len = t->wire_len,
                                .idempotent = t->idempotent,
                                .is_head = t->is_head,
                                .max_redirects = u->max_redirects};
}

void sl__user_send(sl_user_t *u, uint64_t timeout_us)
{
    u->deadline_us = u->intended_us + timeout_us;
    u->connect_addr = SL_NO_ADDR;
    user_arm_timeout(u);
    sl_http_exchange_t ex = user_exchange(u);
    sl_http_session_begin(&u->http, &ex);
}

void sl__user_fail_unsent(sl_user_t *u)
{
    sl_http_exchange_t ex = user_exchange(u);
    sl_http_session_fail_unsent(&u->http, &ex);
}

/* The worker's share of --iterations is used up once every user that could start one has
 * gone idle: tell the runner, which ends the test as if its duration were over. */
void sl__worker_notify_done(sl_worker_t *w)
{
    if (w->done_sent)
        return;
    w->done_sent = true;
    uint64_t one = 1;
    ssize_t n = write(w->done_fd, &one, sizeof(one));
    (void)n;
}

void sl__worker_user_retired(sl_worker_t *w)
{
    if (w->active > 0 && --w->active == 0 && w->exhausted)
        sl__worker_notify_done(w);
}

bool sl__worker_take_iteration(sl_worker_t *w)
{
    if (!w->iter_quota)
        return true;
    if (w->iter_started < w->iter_quota) {
        w->iter_started++;
        return true;
    }
    if (!w->exhausted) {
        w->exhausted = true;
        w->nusers_spawn = w->nstarted; /* no point starting more users */
    }
    return false;
}

bool sl__user_retire_now(sl_user_t *u)
{
    if (!u->retiring)
        return false;
    u->retiring = false;
    u->retired = true;
    sl__user_close(u, false); /* a removed user leaves, and the server sees it go */
    return true;
}

bool sl__worker_user_free(sl_user_t *u)
{
    sl_worker_t *w = u->w;
    if (w->q_len) {
        u->arrival_us = w->queue[w->q_head];
        w->q_head = (w->q_head + 1) % w->q_cap;
        w->q_len--;
        return true;
    }
    w->free_users[w->nfree++] = sl__user_index(u);
    if (w->active > 0 && --w->active == 0 && w->exhausted)
        sl__worker_notify_done(w);
    return false;
}

/* Counts the requests in flight; scripted users' are abandoned (their connections
 * closed) so that on_stop can run. */
uint64_t sl__worker_count_in_flight(sl_worker_t *w, bool abandon)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < w->nstarted; i++) {
        sl_user_t *u = &w->users[i];
        if (!sl__user_busy(u))
            continue;
        n++;
        if (abandon) {
            sl__user_close(u, true);
            u->http.state = SL_HTTP_IDLE;
        }
    }
    return n;
}

void sl__worker_stopped(sl_worker_t *w)
{
    w->cur->in_flight_at_stop += sl__worker_count_in_flight(w, false);
    w->loop.stop = true;
}
