/* The local backend: adapts the engine's runner (engine/runner.c) to the controller's
 * backend seam. Owns the runner, the class of every user and the open-file limit the
 * users need. Main thread only. */
#include "control/local.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "engine/engine.h"

typedef struct sl_local {
    sl_local_cfg_t cfg;
    sl_runner_t *runner;
    uint16_t *class_of_user;
} sl_local_t;

/* stdio, epoll, eventfds, reports */
#define FD_RESERVE 64

/* Each user holds one socket; raise the soft limit to the hard limit when needed and say
 * clearly when even that is not enough. */
static int ensure_fd_limit(uint32_t users, sl_err_t *err)
{
    const rlim_t reserve = FD_RESERVE;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    rlim_t need = (rlim_t)users + reserve;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        sl_err_set(err,
                   "--users: %u users need %llu open files, but this process may open at most "
                   "%llu (ulimit -Hn); use at most %llu users or raise the hard limit",
                   users, (unsigned long long)need, (unsigned long long)rl.rlim_max,
                   (unsigned long long)(rl.rlim_max > reserve ? rl.rlim_max - reserve : 0));
        return SL_ELIMIT;
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        sl_err_set(err, "--users: cannot raise the open-file limit to %llu: %s",
                   (unsigned long long)rl.rlim_cur, strerror(errno));
        return SL_ELIMIT;
    }
    return 0;
}

/* Room for users added by the live keys: as many again (at least 100), within the
 * open-file limit. Users beyond -u are only allocated, not started. */
static uint32_t capacity_for(const sl_backend_run_t *run)
{
    if (!run->room_for_keys)
        return run->users;
    uint32_t extra = run->users > 100 ? run->users : 100;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        rlim_t room = rl.rlim_cur > (rlim_t)run->users + FD_RESERVE
                          ? rl.rlim_cur - run->users - FD_RESERVE
                          : 0;
        extra = (rlim_t)extra < room ? extra : (uint32_t)room;
    }
    return run->users + extra;
}

static int local_start(void *b, const sl_backend_run_t *run, uint64_t *t0_us, sl_err_t *err)
{
    sl_local_t *l = b;
    int rc = ensure_fd_limit(run->users, err);
    if (rc != 0)
        return rc;
    uint32_t capacity = capacity_for(run);
    const sl_plan_t *plan = l->cfg.plan;
    if (plan->nclasses) {
        /* Which class each user (in spawn order) belongs to: Locust's exact division for
         * the -u users; users added live repeat that order. */
        free(l->class_of_user);
        l->class_of_user = calloc(capacity ? capacity : 1, sizeof(*l->class_of_user));
        uint32_t *counts = calloc(plan->nclasses, sizeof(*counts));
        rc = !l->class_of_user || !counts
                 ? SL_ENOMEM
                 : sl_plan_assign_users(plan, run->users, l->class_of_user, counts, err);
        free(counts);
        if (rc == SL_ENOMEM)
            sl_err_set(err, "out of memory");
        if (rc != 0)
            return rc;
        for (uint32_t i = run->users; i < capacity; i++)
            l->class_of_user[i] = l->class_of_user[i % run->users];
    }
    sl_run_cfg_t cfg = {.plan = plan,
                        .initial_users = run->initial_users,
                        .users = capacity,
                        .rows = l->cfg.rows,
                        .ep = l->cfg.ep,
                        .spawn_rate = run->spawn_rate,
                        .threads = run->threads,
                        .timeout_us = l->cfg.timeout_us,
                        .duration_us = run->duration_us,
                        .seed = run->seed,
                        .iterations = run->iterations,
                        .rate_per_s = run->rate_per_s,
                        .class_of_user = l->class_of_user,
                        .url = l->cfg.url,
                        .texts = l->cfg.texts,
                        .stop_timeout_us = l->cfg.stop_timeout_us};
    rc = sl_runner_start(&l->runner, &cfg, err);
    if (rc != 0)
        return rc;
    *t0_us = sl_runner_t0(l->runner);
    return 0;
}

static sl_backend_wait_t local_wait(void *b, uint64_t until_us, const int *fds, int nfds)
{
    sl_local_t *l = b;
    switch (sl_runner_wait(l->runner, until_us, fds, nfds)) {
    case SL_RUNNER_DONE:
        return SL_BACKEND_DONE;
    case SL_RUNNER_INPUT:
        return SL_BACKEND_INPUT;
    case SL_RUNNER_FAILED:
        return SL_BACKEND_FAILED;
    default:
        return SL_BACKEND_TIMEOUT;
    }
}

static uint32_t local_set_users(void *b, uint32_t users)
{
    return sl_runner_set_users(((sl_local_t *)b)->runner, users);
}

static double local_set_rate(void *b, double rate_per_s)
{
    return sl_runner_set_rate(((sl_local_t *)b)->runner, rate_per_s);
}

static void local_collect(void *b, sl_stats_t *into, uint32_t *users_running)
{
    sl_runner_collect(((sl_local_t *)b)->runner, into, users_running);
}

static bool local_has_on_stop(void *b)
{
    const sl_plan_t *plan = ((sl_local_t *)b)->cfg.plan;
    for (size_t i = 0; i < plan->nclasses; i++)
        if (plan->classes[i].has_on_stop)
            return true;
    return false;
}

static void local_signal_stop(void *b)
{
    sl_runner_signal_stop(((sl_local_t *)b)->runner);
}

static bool local_wait_stopped(void *b, uint64_t until_us)
{
    return sl_runner_wait_stopped(((sl_local_t *)b)->runner, until_us);
}

static void local_skip_on_stop(void *b)
{
    sl_runner_skip_on_stop(((sl_local_t *)b)->runner);
}

static void local_stop(void *b, sl_stats_t *into, uint32_t *users_running)
{
    sl_runner_stop(((sl_local_t *)b)->runner, into, users_running);
}

static uint32_t local_users_started(void *b)
{
    return sl_runner_users_started(((sl_local_t *)b)->runner);
}

static bool local_failed(void *b, sl_err_t *err)
{
    return sl_runner_failed(((sl_local_t *)b)->runner, err);
}

static void local_release(void *b)
{
    sl_local_t *l = b;
    sl_runner_free(l->runner);
    l->runner = NULL;
    free(l->class_of_user);
    l->class_of_user = NULL;
}

static void local_free(void *b)
{
    sl_local_t *l = b;
    if (!l)
        return;
    if (l->runner)
        sl_runner_stop(l->runner, NULL, NULL);
    local_release(l);
    free(l);
}

static const sl_backend_ops_t local_ops = {
    .start = local_start,
    .wait = local_wait,
    .set_users = local_set_users,
    .set_rate = local_set_rate,
    .collect = local_collect,
    .has_on_stop = local_has_on_stop,
    .signal_stop = local_signal_stop,
    .wait_stopped = local_wait_stopped,
    .skip_on_stop = local_skip_on_stop,
    .stop = local_stop,
    .users_started = local_users_started,
    .failed = local_failed,
    .release = local_release,
    .free = local_free,
};

int sl_local_backend_new(sl_backend_t *out, const sl_local_cfg_t *cfg)
{
    sl_local_t *l = calloc(1, sizeof(*l));
    if (!l)
        return SL_ENOMEM;
    l->cfg = *cfg;
    out->ops = &local_ops;
    out->b = l;
    return 0;
}
