/* A worker thread: its event loop and its share of the virtual users. It schedules users
 * (spawning, pacing, live control, the open model's arrivals), makes their connections
 * (connect slots, address fallback) and times their requests out; each user's exchange
 * runs in its HTTP session (http/session.c) over its own keep-alive connection.
 *
 * Hot path per request: one write, one read (a share of epoll_wait), a histogram record.
 * No allocation, no lock, no epoll_ctl: a socket is registered once when it is opened,
 * edge-triggered for both directions, and the next request is written as soon as the
 * previous response completes. */
#include "engine/internal.h"

#include "engine/script.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static void user_next(sl_user_t *u);

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

/* Records a finished request of a Task{} user; broken: no complete response came. */
static void user_record(sl_user_t *u, sl_fail_t fail, int detail, bool broken)
{
    sl_worker_t *w = u->w;
    uint64_t now = sl_loop_update_now(&w->loop);
    uint64_t lat = now > u->intended_us ? now - u->intended_us : 0;
    uint64_t svc = u->http.sent_us && now > u->http.sent_us ? now - u->http.sent_us : lat;
    sl_stats_record(w->cur, u->task->row, lat, svc <= lat ? svc : lat, u->http.resp.body_bytes,
                    fail != SL_FAIL_NONE);
    sl_phases_t ph;
    sl_http_session_phases(&u->http, now, !broken, &ph);
    sl_stats_record_phases(w->cur, u->task->row, &ph);
    if (fail != SL_FAIL_NONE)
        sl_stats_error(w->cur, u->task->row, fail, detail, 1);
}

/* The exchange is over; broken: it ended without a complete response and the connection
 * is already closed. A Task{} user records and goes on at once, or, after a broken
 * exchange, from the timer queue rather than recursively, so a server that refuses every
 * connection cannot drive the stack deep. */
static void user_on_done(sl_http_session_t *s, sl_fail_t fail, int detail, bool broken)
{
    sl_user_t *u = (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
    if (fail != SL_FAIL_NONE)
        detail = sl__user_fail_detail(u, fail, detail);
    user_record(u, fail, detail, broken);
    if (!broken) {
        user_next(u);
        return;
    }
    if (u->w->stop)
        return;
    u->deadline_us = 0; /* marks "start the next request when the timer fires" */
    sl_loop_timer_start(&u->w->loop, &u->timer, u->w->loop.now_us);
}

/* A Task{} user's session; scripted users' is script.c's. */
static const sl_http_session_ops_t user_ops = {
    .connect = sl__user_on_connect,
    .closing = sl__user_on_closing,
    .event = sl__user_on_event,
    .done = user_on_done,
};

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
    if (!sl__user_busy(u)) {
        if (u->deadline_us == 0 && !u->script)
            user_next(u); /* scheduled after a failure */
        return;
    }
    if (loop->now_us < u->deadline_us) {
        sl_loop_timer_start(loop, t, u->deadline_us);
        return;
    }
    sl_fail_t f = u->http.state == SL_HTTP_CONNECTING ? SL_FAIL_CONNECT_TIMEOUT : SL_FAIL_TIMEOUT;
    sl__user_fail(u, f, 0, true);
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
        sl__user_establish(u);
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
        if (!u->script && !sl__user_busy(u) && !sl_loop_timer_armed(&u->timer))
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
        if (u->retired && !sl__user_busy(u) && (!u->script || sl__script_idle(u))) {
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
        /* The schedule ends with the run: an arrival due at or after the end is not
         * started, even while the stop is still on its way to this thread. */
        if (w->cfg->duration_us && at >= w->t0_us + w->cfg->duration_us)
            return;
        if (at > loop->now_us) {
            sl_loop_timer_start(loop, t, at);
            return;
        }
        if (!sl__worker_take_iteration(w)) {
            /* The quota is used up: done once the last iteration ends. */
            if (w->active == 0 && w->q_len == 0)
                sl__worker_notify_done(w);
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

static void worker_on_stop_timeout(sl_loop_t *loop, sl_timer_t *t)
{
    sl_worker_t *w = loop->data;
    (void)t;
    /* on_stop ran out of time: what it still had in flight is counted, not waited for. */
    w->cur->in_flight_at_stop += sl__worker_count_in_flight(w, false);
    loop->stop = true;
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
    w->cur->in_flight_at_stop += sl__worker_count_in_flight(w, w->sw != NULL);
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
            sl__worker_notify_done(w);
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
    w->connect_timer.cb = sl__worker_on_connect_pump;
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
        sl_http_session_dispose(&w->users[i].http);
    pthread_mutex_lock(&w->mu);
    w->users_running = w->running;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void sl__worker_dispose(sl_worker_t *w)
{
    if (w->users) {
        for (uint32_t i = 0; i < w->nusers; i++)
            sl_http_session_dispose(&w->users[i].http);
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
