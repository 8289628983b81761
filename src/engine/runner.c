/* The runner: starts the worker threads, collects their statistics blocks once a second,
 * and stops them. Runs on the main thread; owns the workers. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/internal.h"

struct sl_runner {
    sl_run_cfg_t cfg;
    uint64_t t0_us;
    uint64_t *cum_weights;
    uint32_t nworkers;
    uint32_t nstarted_threads;
    sl_worker_t **workers;
    bool *joined;  /* per started thread: pthread_join'ed already */
    bool stopping; /* the workers were told to stop */
    bool stopped;
    int done_fd; /* workers write here when their iterations are used up */
    uint32_t ndone;
    uint32_t nfailed;   /* workers whose loop failed (see SL_WORKER_FAILED) */
    uint32_t users_now; /* live control: the values last set */
    double rate_now;
};

uint64_t sl_runner_t0(const sl_runner_t *r)
{
    return r->t0_us;
}

int sl_runner_start(sl_runner_t **out, const sl_run_cfg_t *cfg, sl_err_t *err)
{
    sl_runner_t *r = calloc(1, sizeof(*r));
    if (!r)
        return SL_ENOMEM;
    r->cfg = *cfg;
    r->users_now = cfg->initial_users;
    r->rate_now = cfg->rate_per_s;
    r->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->done_fd < 0) {
        free(r);
        return SL_ESYS;
    }
    if (r->cfg.threads == 0)
        r->cfg.threads = 1;
    if (r->cfg.threads > r->cfg.users)
        r->cfg.threads = r->cfg.users ? r->cfg.users : 1;
    r->nworkers = r->cfg.threads;
    const sl_plan_t *plan = cfg->plan;
    r->cum_weights = calloc(plan->ntasks ? plan->ntasks : 1, sizeof(uint64_t));
    r->workers = calloc(r->nworkers, sizeof(*r->workers));
    r->joined = calloc(r->nworkers, sizeof(*r->joined));
    if (!r->cum_weights || !r->workers || !r->joined) {
        sl_runner_free(r);
        return SL_ENOMEM;
    }
    uint64_t acc = 0;
    for (size_t i = 0; i < plan->ntasks; i++) {
        acc += plan->tasks[i].weight;
        r->cum_weights[i] = acc;
    }
    r->t0_us = sl_now_us();
    for (uint32_t i = 0; i < r->nworkers; i++) {
        /* Workers are large (their receive buffer is inline) and each gets its own
         * allocation, so no two threads share a cache line. */
        r->workers[i] = aligned_alloc(64, (sizeof(sl_worker_t) + 63) & ~(size_t)63);
        if (!r->workers[i]) {
            sl_runner_free(r);
            return SL_ENOMEM;
        }
        memset(r->workers[i], 0, sizeof(sl_worker_t));
        r->workers[i]->done_fd = r->done_fd;
        sl_err_t werr = {{0}};
        int rc = sl__worker_init(r->workers[i], i, &r->cfg, r->t0_us, r->cum_weights, &werr);
        if (rc != 0) {
            if (werr.msg[0])
                sl_err_set(err, "%s", werr.msg);
            else
                sl_err_set(err, "cannot set up worker %u: %s", i, sl_strerror(rc));
            sl_runner_free(r);
            return rc;
        }
    }
    /* Signals go to the main thread only: workers never see SIGINT/SIGTERM. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (uint32_t i = 0; i < r->nworkers; i++) {
        if (pthread_create(&r->workers[i]->thread, NULL, sl__worker_main, r->workers[i]) != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            sl_err_set(err, "cannot start worker thread %u", i);
            sl_runner_stop(r, NULL, NULL);
            sl_runner_free(r);
            return SL_ESYS;
        }
        r->nstarted_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *out = r;
    return 0;
}

void sl_runner_collect(sl_runner_t *r, sl_stats_t *into, uint32_t *users_running)
{
    uint32_t users = 0;
    for (uint32_t i = 0; i < r->nworkers; i++) {
        sl_worker_t *w = r->workers[i];
        pthread_mutex_lock(&w->mu);
        sl_stats_t *b = w->full;
        w->full = NULL;
        users += w->users_running;
        pthread_mutex_unlock(&w->mu);
        if (!b)
            continue;
        if (into)
            sl_stats_merge(into, b);
        sl_stats_reset(b);
        pthread_mutex_lock(&w->mu);
        if (!w->spare) {
            w->spare = b;
            b = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        sl_stats_free(b);
    }
    if (users_running)
        *users_running = users;
}

void sl_runner_signal_stop(sl_runner_t *r)
{
    if (r->stopping)
        return;
    r->stopping = true;
    for (uint32_t i = 0; i < r->nstarted_threads; i++) {
        atomic_store(&r->workers[i]->stop, true);
        sl_loop_wake(&r->workers[i]->loop);
    }
}

bool sl_runner_wait_stopped(sl_runner_t *r, uint64_t until_us)
{
    sl_runner_signal_stop(r);
    for (;;) {
        bool all = true;
        for (uint32_t i = 0; i < r->nstarted_threads; i++) {
            if (!r->joined[i] && pthread_tryjoin_np(r->workers[i]->thread, NULL) == 0)
                r->joined[i] = true;
            all = all && r->joined[i];
        }
        uint64_t now = sl_now_us();
        if (all || now >= until_us)
            return all;
        /* A short sleep, not a wake-up from the workers: this only runs while users run
         * on_stop, and a signal cuts it short (the caller looks at why). */
        uint64_t left = until_us - now < 20 * SL_US_PER_MS ? until_us - now : 20 * SL_US_PER_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000};
        if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
            return false;
    }
}

void sl_runner_skip_on_stop(sl_runner_t *r)
{
    for (uint32_t i = 0; i < r->nstarted_threads; i++) {
        atomic_store(&r->workers[i]->skip_on_stop, true);
        sl_loop_wake(&r->workers[i]->loop);
    }
}

void sl_runner_stop(sl_runner_t *r, sl_stats_t *into, uint32_t *users_running)
{
    if (r->stopped)
        return;
    r->stopped = true;
    sl_runner_signal_stop(r);
    for (uint32_t i = 0; i < r->nstarted_threads; i++) {
        if (!r->joined[i])
            pthread_join(r->workers[i]->thread, NULL);
        r->joined[i] = true;
    }
    /* The threads are gone: their current blocks can be taken directly. */
    for (uint32_t i = 0; i < r->nstarted_threads; i++) {
        sl_worker_t *w = r->workers[i];
        if (into && w->full)
            sl_stats_merge(into, w->full);
        if (into && w->cur)
            sl_stats_merge(into, w->cur);
        if (w->full)
            sl_stats_reset(w->full);
        if (w->cur)
            sl_stats_reset(w->cur);
    }
    if (users_running) {
        uint32_t users = 0;
        for (uint32_t i = 0; i < r->nstarted_threads; i++)
            users += r->workers[i]->users_running;
        *users_running = users;
    }
}

sl_wait_result_t sl_runner_wait(sl_runner_t *r, uint64_t until_us, const int *extra_fds, int nextra)
{
    if (nextra > SL_RUNNER_MAX_FDS)
        nextra = SL_RUNNER_MAX_FDS;
    for (;;) {
        if (r->nfailed)
            return SL_RUNNER_FAILED;
        if (r->ndone >= r->nworkers)
            return SL_RUNNER_DONE;
        uint64_t now = sl_now_us();
        if (now >= until_us)
            return SL_RUNNER_TIMEOUT;
        struct pollfd pfd[1 + SL_RUNNER_MAX_FDS] = {{.fd = r->done_fd, .events = POLLIN}};
        for (int i = 0; i < nextra; i++)
            pfd[1 + i] = (struct pollfd){.fd = extra_fds[i], .events = POLLIN};
        struct timespec ts = {.tv_sec = (time_t)((until_us - now) / SL_US_PER_S),
                              .tv_nsec = (long)((until_us - now) % SL_US_PER_S) * 1000};
        int n = ppoll(pfd, (nfds_t)(1 + nextra), &ts, NULL);
        if (n < 0 && errno == EINTR)
            return SL_RUNNER_TIMEOUT; /* a signal: the caller looks at why */
        if (n > 0 && (pfd[0].revents & POLLIN)) {
            uint64_t v;
            if (read(r->done_fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
                r->ndone += (uint32_t)(v % SL_WORKER_FAILED);
                r->nfailed += (uint32_t)(v / SL_WORKER_FAILED);
            }
        }
        for (int i = 0; n > 0 && i < nextra; i++)
            if (extra_fds[i] >= 0 && (pfd[1 + i].revents & (POLLIN | POLLHUP)))
                return SL_RUNNER_INPUT;
    }
}

/* Splits a total over the workers the way users are split at start. */
static uint32_t share(uint32_t total, uint32_t n, uint32_t i)
{
    return total / n + (i < total % n ? 1 : 0);
}

uint32_t sl_runner_set_users(sl_runner_t *r, uint32_t users)
{
    if (users > r->cfg.users)
        users = r->cfg.users;
    r->users_now = users;
    for (uint32_t i = 0; i < r->nstarted_threads; i++) {
        atomic_store(&r->workers[i]->ctl_users, share(users, r->nworkers, i));
        atomic_fetch_add(&r->workers[i]->ctl_seq, 1);
        sl_loop_wake(&r->workers[i]->loop);
    }
    return users;
}

double sl_runner_set_rate(sl_runner_t *r, double rate_per_s)
{
    if (r->cfg.rate_per_s <= 0 || !(rate_per_s > 0))
        return r->rate_now;
    r->rate_now = rate_per_s;
    uint64_t now = sl_now_us();
    uint64_t bits;
    memcpy(&bits, &rate_per_s, sizeof(bits));
    for (uint32_t i = 0; i < r->nstarted_threads; i++) {
        sl_worker_t *w = r->workers[i];
        /* The new schedule starts now, still one global sequence across the threads. */
        atomic_store(&w->ctl_anchor_us, now);
        atomic_store(&w->ctl_rate_bits, bits);
        atomic_fetch_add(&w->ctl_seq, 1);
        sl_loop_wake(&w->loop);
    }
    return rate_per_s;
}

uint32_t sl_runner_users_started(const sl_runner_t *r)
{
    /* The threads are joined: their counters can be read without the mailbox lock. */
    uint32_t n = 0;
    for (uint32_t i = 0; r->stopped && i < r->nstarted_threads; i++)
        n += r->workers[i]->nstarted;
    return n;
}

uint32_t sl_runner_users(const sl_runner_t *r)
{
    return r->users_now;
}

double sl_runner_rate(const sl_runner_t *r)
{
    return r->rate_now;
}

bool sl_runner_failed(const sl_runner_t *r, sl_err_t *err)
{
    for (uint32_t i = 0; i < r->nstarted_threads; i++) {
        int e = atomic_load(&r->workers[i]->error);
        if (e) {
            sl_err_set(err, "worker %u stopped: waiting for events failed: %s; the run ended early",
                       i, strerror(e));
            return true;
        }
    }
    return false;
}

void sl_runner_free(sl_runner_t *r)
{
    if (!r)
        return;
    if (r->done_fd >= 0)
        close(r->done_fd);
    if (r->workers) {
        for (uint32_t i = 0; i < r->nworkers; i++) {
            if (r->workers[i]) {
                sl__worker_dispose(r->workers[i]);
                free(r->workers[i]);
            }
        }
    }
    free(r->workers);
    free(r->joined);
    free(r->cum_weights);
    free(r);
}
