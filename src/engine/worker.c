/* A worker thread: its event loop and its share of the virtual users. It schedules users
 * (spawning, pacing, live control, the open model's arrivals), makes their connections
 * (connect slots, address fallback) and times their requests out; each user's exchange
 * runs in its HTTP session (http/session.c) over its own keep-alive connection.
 *
 * Hot path per request: one write, one read (a share of epoll_wait), a histogram record.
 * No allocation, no lock, no epoll_ctl: a socket is registered once when it is opened,
 * edge-triggered for both directions, and the next request is written as soon as the
 * previous response completes. */
#include "engine/worker.h"

#include "engine/script.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define USER_TOKEN(idx, gen) (((uint64_t)(idx) << 32) | (uint32_t)(gen))

static void user_next(sl_user_t *u);

uint32_t sl__user_index(const sl_user_t *u)
{
    return (uint32_t)(u - u->w->users);
}

/* splitmix64: seeds each user's xorshift state from the run seed and the user's id, so
 * a user's sequence of tasks does not depend on which thread runs it. */
uint64_t sl__splitmix64(uint64_t x);
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

static const sl_task_t *user_pick(sl_user_t *u)
{
    const sl_plan_t *plan = u->w->cfg->plan;
    if (plan->ntasks == 1)
        return &plan->tasks[0];
    uint64_t x = sl__user_rand(u) % plan->total_weight;
    const uint64_t *cw = u->w->cum_weights;
    size_t lo = 0, hi = plan->ntasks - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x < cw[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return &plan->tasks[lo];
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
static void user_on_closing(sl_http_session_t *s)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    wait_remove(u);
    connect_slot_release(u);
    u->gen++;
}

static void user_close(sl_user_t *u, bool abortive)
{
    sl_http_session_close(&u->http, abortive);
}

static inline bool user_in_request(const sl_user_t *u)
{
    return sl_http_session_busy(&u->http);
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

/* Records a finished request of a Task{} user. */
static void user_record(sl_user_t *u, sl_fail_t fail, int detail)
{
    sl_worker_t *w = u->w;
    uint64_t now = sl_loop_update_now(&w->loop);
    uint64_t lat = now > u->intended_us ? now - u->intended_us : 0;
    uint64_t svc = u->http.sent_us && now > u->http.sent_us ? now - u->http.sent_us : lat;
    sl_stats_record(w->cur, u->task->row, lat, svc <= lat ? svc : lat, u->http.resp.body_bytes,
                    fail != SL_FAIL_NONE);
    if (fail != SL_FAIL_NONE)
        sl_stats_error(w->cur, u->task->row, fail, detail, 1);
}

/* The exchange is over; broken: it ended without a complete response and the connection
 * is already closed. A Task{} user records and goes on at once, or, after a broken
 * exchange, from the timer queue rather than recursively, so a server that refuses every
 * connection cannot drive the stack deep. A scripted user hands the outcome to its
 * coroutine. */
static void user_on_done(sl_http_session_t *s, sl_fail_t fail, int detail, bool broken)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    if (fail != SL_FAIL_NONE)
        detail = sl__user_fail_detail(u, fail, detail);
    if (u->script) {
        sl__script_done(u, fail, detail, broken);
        return;
    }
    user_record(u, fail, detail);
    if (!broken) {
        user_next(u);
        return;
    }
    if (u->w->stop)
        return;
    u->deadline_us = 0; /* marks "start the next request when the timer fires" */
    sl_loop_timer_start(&u->w->loop, &u->timer, u->w->loop.now_us);
}

static void user_fail(sl_user_t *u, sl_fail_t fail, int detail, bool abortive)
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

static void user_establish(sl_user_t *u)
{
    sl_conn_t *c = &u->http.conn;
    int rc = c->tp->establish(c);
    if (rc == SL_IO_AGAIN)
        return;
    if (rc != 0) {
        if (user_connect_next(u))
            return;
        user_fail(u, (sl_fail_t)c->fail, c->err, false);
        return;
    }
    /* Later connections start at the address that worked. */
    u->w->addr_pref = c->addr_idx;
    connect_slot_release(u);
    sl_http_session_send(&u->http);
}

static void user_connect_addr(sl_user_t *u, uint32_t idx)
{
    sl_worker_t *w = u->w;
    u->connect_addr = (uint8_t)idx;
    if (sl_conn_open(&u->http.conn, w->cfg->ep, idx) != 0) {
        if (user_connect_next(u))
            return;
        user_fail(u, (sl_fail_t)u->http.conn.fail, u->http.conn.err, false);
        return;
    }
    if (sl_loop_add_fd(&w->loop, u->http.conn.fd, USER_TOKEN(sl__user_index(u), u->gen)) != 0) {
        int e = errno;
        user_fail(u, SL_FAIL_CONNECT, e, false);
        return;
    }
    user_establish(u);
}

static void user_connect(sl_user_t *u)
{
    sl_worker_t *w = u->w;
    u->connect_slot = true;
    w->connecting++;
    u->addr_tries = 0;
    user_connect_addr(u, w->addr_pref);
}

static void worker_on_connect_pump(sl_loop_t *loop, sl_timer_t *t)
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
static void user_on_connect(sl_http_session_t *s)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    sl_worker_t *w = u->w;
    u->connect_addr = SL_NO_ADDR;
    if (w->connecting >= SL_WORKER_MAX_CONNECTING || w->wait_head != SL_NO_USER)
        wait_push(u);
    else
        user_connect(u);
}

static void user_on_response_start(sl_http_session_t *s)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    if (u->script)
        sl__script_capture(u);
}

static void user_on_event(sl_http_session_t *s, sl_http_event_t ev)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    if (ev == SL_HTTP_EV_RETRY)
        u->w->cur->retries++;
    else
        u->w->cur->stale_discarded++;
}

static const sl_http_session_ops_t user_ops = {
    .connect = user_on_connect,
    .closing = user_on_closing,
    .response_start = user_on_response_start,
    .event = user_on_event,
    .done = user_on_done,
};

static sl_http_exchange_t user_exchange(const sl_user_t *u)
{
    const sl_task_t *t = u->task;
    return (sl_http_exchange_t){.wire = t->wire,
                                .wire_len = t->wire_len,
                                .idempotent = t->idempotent,
                                .is_head = t->is_head};
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
static void worker_notify_done(sl_worker_t *w)
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
        worker_notify_done(w);
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

/* Starts a Task{} user's next request at once (closed model, no wait between tasks). */
static void user_next(sl_user_t *u)
{
    sl_worker_t *w = u->w;
    if (w->stop)
        return;
    if (w->cfg->rate_per_s > 0) {
        /* Open model: one request per arrival, intended at the arrival's time. */
        if (!u->arrival_us && !sl__worker_user_free(u))
            return;
        u->task = user_pick(u);
        u->intended_us = u->arrival_us;
        u->arrival_us = 0;
        sl__user_send(u, w->cfg->timeout_us);
        return;
    }
    if (u->retiring && sl__user_retire_now(u))
        return;
    if (!sl__worker_take_iteration(w)) {
        sl__worker_user_retired(w);
        return;
    }
    u->task = user_pick(u);
    u->intended_us = w->loop.now_us;
    sl__user_send(u, w->cfg->timeout_us);
}

static void user_on_timer(sl_loop_t *loop, sl_timer_t *t)
{
    sl_user_t *u = (sl_user_t *)((char *)t - offsetof(sl_user_t, timer));
    (void)loop;
    if (u->w->stop && !u->w->stopping)
        return;
    if (!user_in_request(u)) {
        if (u->deadline_us == 0 && !u->script)
            user_next(u); /* scheduled after a failure */
        return;
    }
    if (loop->now_us < u->deadline_us) {
        sl_loop_timer_start(loop, t, u->deadline_us);
        return;
    }
    sl_fail_t f = u->http.state == SL_HTTP_CONNECTING ? SL_FAIL_CONNECT_TIMEOUT : SL_FAIL_TIMEOUT;
    user_fail(u, f, 0, true);
}

static void worker_on_io(sl_loop_t *loop, uint64_t token, uint32_t events)
{
    sl_worker_t *w = loop->data;
    uint32_t idx = (uint32_t)(token >> 32);
    if (idx >= w->nusers)
        return;
    sl_user_t *u = &w->users[idx];
    if ((uint32_t)token != u->gen || u->http.conn.fd < 0)
        return; /* an event for a socket that has since been closed */
    bool hup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    if (u->http.state == SL_HTTP_CONNECTING)
        user_establish(u);
    else
        sl_http_session_on_io(&u->http, hup);
}

/* Global spawn schedule: user k (across all threads) starts at t0 + k / spawn_rate. This
 * worker owns the users with k % threads == index, so no messages are needed to spawn. */
static uint64_t spawn_time(const sl_worker_t *w, uint32_t local)
{
    uint64_t k = (uint64_t)local * w->cfg->threads + w->index;
    return w->t0_us + (uint64_t)((double)k * (double)SL_US_PER_S / w->cfg->spawn_rate);
}

/* Users started per timer callback: a spawn of thousands at once goes in slices, so
 * the loop keeps serving I/O and the once-a-second hand-over stays on time. */
#define SL_SPAWN_SLICE 256

static void worker_on_spawn(sl_loop_t *loop, sl_timer_t *t)
{
    sl_worker_t *w = loop->data;
    int slice = 0;
    while (w->nstarted < w->nusers_spawn && w->running < w->target &&
           spawn_time(w, w->nstarted) <= loop->now_us && !w->stop) {
        if (slice++ == SL_SPAWN_SLICE) {
            sl_loop_timer_start(loop, t, loop->now_us); /* the rest after this pass's I/O */
            return;
        }
        sl_user_t *u = &w->users[w->nstarted++];
        u->started = true;
        w->active++;
        w->running++;
        if (w->sw)
            sl__script_user_start(u);
        else
            user_next(u);
        sl_loop_update_now(loop);
    }
    if (w->nstarted < w->nusers_spawn && w->running < w->target && !w->stop)
        sl_loop_timer_start(loop, t, spawn_time(w, w->nstarted));
}

bool sl__user_retire_now(sl_user_t *u)
{
    if (!u->retiring)
        return false;
    u->retiring = false;
    u->retired = true;
    user_close(u, false); /* a removed user leaves, and the server sees it go */
    return true;
}

static void user_revive(sl_user_t *u)
{
    u->retired = false;
    if (u->script)
        sl__script_user_start(u);
    else
        user_next(u);
}

/* Live control: moves the number of running users toward the target. New users start at
 * once (the caller ramps the target itself); removed ones are the most recently started,
 * and they finish what they are doing first. */
static void worker_apply_users(sl_worker_t *w, uint32_t target)
{
    if (target > w->nusers)
        target = w->nusers;
    w->target = target;
    /* Fewer: mark from the top. */
    for (uint32_t i = w->nstarted; i-- > 0 && w->running > target;) {
        sl_user_t *u = &w->users[i];
        if (u->retired || u->retiring)
            continue;
        u->retiring = true;
        w->running--;
        if (!u->script && !user_in_request(u) && !sl_loop_timer_armed(&u->timer))
            sl__user_retire_now(u); /* idle: nothing to finish */
    }
    /* More: first take back users still finishing, then restart retired ones, then
     * start new ones. */
    for (uint32_t i = 0; i < w->nstarted && w->running < target; i++) {
        sl_user_t *u = &w->users[i];
        if (u->retiring) {
            u->retiring = false;
            w->running++;
        }
    }
    for (uint32_t i = 0; i < w->nstarted && w->running < target; i++) {
        sl_user_t *u = &w->users[i];
        if (u->retired && !user_in_request(u) && (!u->script || sl__script_idle(u))) {
            w->running++;
            user_revive(u);
        }
    }
    while (w->nstarted < w->nusers && w->running < target) {
        sl_user_t *u = &w->users[w->nstarted++];
        u->started = true;
        w->active++;
        w->running++;
        if (u->script)
            sl__script_user_start(u);
        else
            user_next(u);
    }
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
        worker_notify_done(w);
    return false;
}

/* Hands one arrival, intended at `at`, to a user. */
static void worker_dispatch(sl_worker_t *w, uint64_t at)
{
    sl_user_t *u = NULL;
    if (w->nfree) {
        u = &w->users[w->free_users[--w->nfree]];
        w->active++;
    } else if (w->nstarted < w->nusers) {
        u = &w->users[w->nstarted++];
        u->started = true;
        w->active++;
        u->arrival_us = at;
        if (w->sw)
            sl__script_user_start(u); /* on_start, then this arrival's iteration */
        else
            user_next(u);
        return;
    } else if (w->q_len < w->q_cap) {
        w->queue[(w->q_head + w->q_len) % w->q_cap] = at;
        w->q_len++;
        return;
    } else {
        w->cur->dropped_iterations++;
        return;
    }
    u->arrival_us = at;
    if (w->sw)
        sl__script_arrival(u);
    else
        user_next(u);
}

static uint64_t arrival_time(const sl_worker_t *w, uint64_t k)
{
    double i = (double)(k * w->cfg->threads + w->index);
    return w->anchor_us + (uint64_t)(i * (double)SL_US_PER_S / w->rate_per_s);
}

static void worker_on_arrival(sl_loop_t *loop, sl_timer_t *t)
{
    sl_worker_t *w = loop->data;
    /* Catch up on every arrival that is due: a late generator starts them late, and
     * their latency, measured from the schedule, shows it. */
    for (int burst = 0; burst < 10000 && !w->stop; burst++) {
        uint64_t at = arrival_time(w, w->arrival_k);
        if (at > loop->now_us) {
            sl_loop_timer_start(loop, t, at);
            return;
        }
        if (!sl__worker_take_iteration(w)) {
            /* The quota is used up: done once the last iteration ends. */
            if (w->active == 0 && w->q_len == 0)
                worker_notify_done(w);
            return;
        }
        w->arrival_k++;
        worker_dispatch(w, at);
        sl_loop_update_now(loop);
    }
    if (!w->stop)
        sl_loop_timer_start(loop, t, loop->now_us); /* more are due: after the I/O */
}

void sl__worker_publish(sl_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->users_running = w->running;
    bool handed = true;
    if (w->full) {
        /* The reporter has not taken the last second yet: this one joins it. */
        sl_stats_merge(w->full, w->cur);
        sl_stats_reset(w->cur);
    } else if (w->spare) {
        w->full = w->cur;
        w->cur = w->spare;
        w->spare = NULL;
    } else {
        handed = false;
    }
    pthread_mutex_unlock(&w->mu);
    if (handed)
        return;
    /* The reporter is still folding the block it took and has not returned it: make
     * another, off the hot path. If even that fails the worker keeps its block and hands
     * it over at the next tick, so nothing is lost. Only this thread sets `full`, so it
     * is still empty here. */
    sl_stats_t *next = sl_stats_new((uint32_t)w->cfg->plan->nrows, SL_HIST_NARROW);
    if (!next)
        return;
    pthread_mutex_lock(&w->mu);
    w->full = w->cur;
    pthread_mutex_unlock(&w->mu);
    w->cur = next;
}

static void worker_on_tick(sl_loop_t *loop, sl_timer_t *t)
{
    sl_worker_t *w = loop->data;
    sl__worker_publish(w);
    w->next_tick_us += SL_US_PER_S;
    sl_loop_timer_start(loop, t, w->next_tick_us);
}

/* Counts the requests in flight; scripted users' are abandoned (their connections
 * closed) so that on_stop can run. */
static uint64_t worker_count_in_flight(sl_worker_t *w, bool abandon)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < w->nstarted; i++) {
        sl_user_t *u = &w->users[i];
        if (!user_in_request(u))
            continue;
        n++;
        if (abandon) {
            user_close(u, true);
            u->http.state = SL_HTTP_IDLE;
        }
    }
    return n;
}

static void worker_on_stop_timeout(sl_loop_t *loop, sl_timer_t *t)
{
    sl_worker_t *w = loop->data;
    (void)t;
    /* on_stop ran out of time: what it still had in flight is counted, not waited for. */
    w->cur->in_flight_at_stop += worker_count_in_flight(w, false);
    loop->stop = true;
}

void sl__worker_stopped(sl_worker_t *w)
{
    w->cur->in_flight_at_stop += worker_count_in_flight(w, false);
    w->loop.stop = true;
}

static void worker_on_wake(sl_loop_t *loop)
{
    sl_worker_t *w = loop->data;
    uint32_t seq = atomic_load(&w->ctl_seq);
    if (seq != w->seen_seq && !atomic_load(&w->stop)) {
        w->seen_seq = seq;
        if (w->cfg->rate_per_s > 0) {
            uint64_t bits = atomic_load(&w->ctl_rate_bits);
            double rate;
            memcpy(&rate, &bits, sizeof(rate));
            if (rate > 0 && rate != w->rate_per_s) {
                w->rate_per_s = rate;
                w->anchor_us = atomic_load(&w->ctl_anchor_us);
                w->arrival_k = 0;
                sl_loop_timer_start(loop, &w->arrival_timer, arrival_time(w, 0));
            }
        } else {
            worker_apply_users(w, atomic_load(&w->ctl_users));
        }
    }
    if (w->stopping && !loop->stop && atomic_load(&w->skip_on_stop)) {
        /* Told not to wait for on_stop: end now, as when --stop-timeout runs out. */
        sl_loop_timer_stop(loop, &w->stop_timer);
        worker_on_stop_timeout(loop, &w->stop_timer);
        return;
    }
    if (!atomic_load(&w->stop) || w->stopping)
        return;
    /* Stop: no new iteration starts; whatever is in flight is counted, not waited for.
     * Then scripted users run on_stop (its requests counted) within --stop-timeout. */
    w->cur->in_flight_at_stop += worker_count_in_flight(w, w->sw != NULL);
    if (w->sw && sl__script_stop(w) > 0) {
        w->stopping = true;
        sl_loop_timer_start(loop, &w->stop_timer, loop->now_us + w->cfg->stop_timeout_us);
        return;
    }
    loop->stop = true;
}

int sl__worker_init(sl_worker_t *w, uint32_t index, const sl_run_cfg_t *cfg, uint64_t t0_us,
                    const uint64_t *cum_weights, sl_err_t *err)
{
    w->index = index;
    w->cfg = cfg;
    w->t0_us = t0_us;
    w->cum_weights = cum_weights;
    atomic_init(&w->stop, false);
    atomic_init(&w->skip_on_stop, false);
    pthread_mutex_init(&w->mu, NULL);
    w->nusers = cfg->users / cfg->threads + (index < cfg->users % cfg->threads ? 1 : 0);
    w->nusers_spawn = w->nusers;
    w->target = cfg->initial_users / cfg->threads + (index < cfg->initial_users % cfg->threads);
    w->rate_per_s = cfg->rate_per_s;
    w->anchor_us = t0_us;
    if (cfg->iterations) {
        /* Shares of --iterations: exact in total, whatever the thread count. A worker with
         * a zero share still runs (its users start nothing) and reports itself done. */
        w->iter_quota =
            cfg->iterations / cfg->threads + (index < cfg->iterations % cfg->threads ? 1 : 0);
        if (!w->iter_quota) {
            w->exhausted = true;
            w->nusers_spawn = 0;
            worker_notify_done(w);
        }
    }
    w->users = calloc(w->nusers ? w->nusers : 1, sizeof(*w->users));
    w->cur = sl_stats_new((uint32_t)cfg->plan->nrows, SL_HIST_NARROW);
    w->spare = sl_stats_new((uint32_t)cfg->plan->nrows, SL_HIST_NARROW);
    if (!w->users || !w->cur || !w->spare)
        return SL_ENOMEM;
    if (sl_loop_init(&w->loop, worker_on_io, w) != 0)
        return SL_ESYS;
    w->loop.wake_cb = worker_on_wake;
    for (uint32_t i = 0; i < w->nusers; i++) {
        sl_user_t *u = &w->users[i];
        uint64_t global_id = (uint64_t)i * cfg->threads + index;
        u->w = w;
        sl_http_session_init(&u->http, &user_ops, &w->loop, w->rbuf, sizeof(w->rbuf));
        u->timer.cb = user_on_timer;
        u->rng = sl__splitmix64(cfg->seed ^ sl__splitmix64(global_id + 1)) | 1;
        u->global_id = (uint32_t)global_id;
    }
    if (cfg->plan->nclasses) {
        int rc = sl__script_worker_init(w, err);
        if (rc != 0)
            return rc;
    }
    w->wait_head = w->wait_tail = SL_NO_USER;
    w->connect_timer.cb = worker_on_connect_pump;
    w->stop_timer.cb = worker_on_stop_timeout;
    w->spawn_timer.cb = worker_on_spawn;
    w->arrival_timer.cb = worker_on_arrival;
    if (cfg->rate_per_s > 0) {
        w->free_users = calloc(w->nusers ? w->nusers : 1, sizeof(uint32_t));
        w->q_cap = w->nusers ? w->nusers : 1;
        w->queue = calloc(w->q_cap, sizeof(uint64_t));
        if (!w->free_users || !w->queue)
            return SL_ENOMEM;
    }
    w->tick_timer.cb = worker_on_tick;
    return 0;
}

void *sl__worker_main(void *arg)
{
    sl_worker_t *w = arg;
    sl_loop_t *loop = &w->loop;
    sl_loop_update_now(loop);
    if (w->cfg->rate_per_s > 0)
        sl_loop_timer_start(loop, &w->arrival_timer, arrival_time(w, 0));
    else if (w->nusers)
        sl_loop_timer_start(loop, &w->spawn_timer, spawn_time(w, 0));
    w->next_tick_us = w->t0_us + SL_US_PER_S;
    sl_loop_timer_start(loop, &w->tick_timer, w->next_tick_us);
    /* The stop may have been requested before the loop first ran. */
    worker_on_wake(loop);
    if (sl_loop_run(loop) != 0) {
        /* The loop cannot go on: tell the runner, which ends the run and says why,
         * rather than let this worker's users fall silent. */
        atomic_store(&w->error, loop->error ? loop->error : EIO);
        uint64_t failed = SL_WORKER_FAILED;
        ssize_t n = write(w->done_fd, &failed, sizeof(failed));
        (void)n;
    }
    for (uint32_t i = 0; i < w->nusers; i++)
        sl_conn_close(&w->users[i].http.conn, false);
    pthread_mutex_lock(&w->mu);
    w->users_running = w->running;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void sl__worker_dispose(sl_worker_t *w)
{
    if (w->users) {
        for (uint32_t i = 0; i < w->nusers; i++)
            sl_conn_close(&w->users[i].http.conn, false);
    }
    if (w->sw)
        sl__script_worker_dispose(w);
    free(w->users);
    free(w->free_users);
    free(w->queue);
    sl_stats_free(w->cur);
    sl_stats_free(w->full);
    sl_stats_free(w->spare);
    if (w->loop.epfd > 0)
        sl_loop_dispose(&w->loop);
    pthread_mutex_destroy(&w->mu);
}
