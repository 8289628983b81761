/* The run controller (see control.h): the run's state machine on the main thread. It owns
 * the reporter, the run's outcome (peak users, stop reason), the ramp of stages and
 * shapes, the reporting ticks and the stop sequence; the backend owns the users. */
#include "control/control.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/duration.h"
#include "scenario/shape.h"

struct sl_control {
    sl_control_cfg_t cfg;
    uint64_t (*now)(void);
    sl_control_state_t state;
    sl_stop_reason_t reason;
    bool open_model;
    bool has_stages;
    sl_stages_t stages;
    uint32_t threads;
    sl_reporter_t *rep;
    sl_run_outcome_t outcome; /* the snapshot borrows it */
    void *reserve;
    bool backend_live; /* started and not yet released */

    /* Running. */
    uint64_t t0, end, next_tick, next_control, next_shape_call;
    double start_rate; /* the rate stages ramp from (open model) */
    double shape_target, shape_rate, shape_now;
    uint32_t users_now; /* the values in force */
    double rate_now;
    uint32_t users_running;
    uint64_t elapsed_us; /* at the last tick */
    uint64_t last_cpu_us, last_tick_at;

    /* Stopping. */
    uint64_t stopped_at;
    bool stop_began, has_on_stop, announced;
    int seen_signals;
    uint64_t announce_at;
    sl_control_result_t result;

    /* Written by signal handlers (sl_control_signal). */
    volatile sig_atomic_t nsignals, first_signal, last_signal, on_stop_skipped;

    /* Commands from other threads, and the eventfd that wakes the main thread for them. */
    pthread_mutex_t mu;
    sl_control_cmd_t queue[SL_CONTROL_QUEUE_LEN];
    unsigned qhead, qlen;
    int wake_fd;
    sl_control_status_t status; /* under mu */
};

static const char *const state_names[] = {"ready", "spawning", "running", "stopping", "stopped"};
static const char *const reason_names[] = {NULL,      "duration",  "iterations", "signal",
                                           "key",     "threshold", "shape",      "memory",
                                           "failure", "request"};

const char *sl_control_state_name(sl_control_state_t s)
{
    return (unsigned)s < SL_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

const char *sl_stop_reason_name(sl_stop_reason_t r)
{
    return (unsigned)r < SL_ARRAY_LEN(reason_names) ? reason_names[r] : NULL;
}

int sl_control_shape_lua(void *shape, double t_s, double *users, double *spawn_rate, sl_err_t *err)
{
    return sl_shape_call(shape, t_s, users, spawn_rate, err);
}

static bool active(const sl_control_t *ctl)
{
    return ctl->state == SL_CONTROL_STARTING || ctl->state == SL_CONTROL_RUNNING;
}

sl_control_t *sl_control_new(const sl_control_cfg_t *cfg, sl_err_t *err)
{
    sl_control_t *ctl = calloc(1, sizeof(*ctl));
    if (!ctl) {
        if (cfg->backend.ops)
            cfg->backend.ops->free(cfg->backend.b);
        sl_err_set(err, "out of memory");
        return NULL;
    }
    ctl->cfg = *cfg;
    ctl->now = cfg->now_us ? cfg->now_us : sl_now_us;
    pthread_mutex_init(&ctl->mu, NULL);
    ctl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ctl->wake_fd < 0) {
        sl_err_set(err, "cannot make an eventfd: %s", strerror(errno));
        sl_control_free(ctl);
        return NULL;
    }
    return ctl;
}

void sl_control_free(sl_control_t *ctl)
{
    if (!ctl)
        return;
    const sl_backend_ops_t *ops = ctl->cfg.backend.ops;
    if (ops && ctl->backend_live) {
        ops->stop(ctl->cfg.backend.b, NULL, NULL);
        ops->release(ctl->cfg.backend.b);
    }
    if (ops)
        ops->free(ctl->cfg.backend.b);
    sl_reporter_free(ctl->rep);
    free(ctl->reserve);
    if (ctl->wake_fd >= 0)
        close(ctl->wake_fd);
    pthread_mutex_destroy(&ctl->mu);
    free(ctl);
}

int sl_control_start(sl_control_t *ctl, const sl_control_params_t *p, sl_err_t *err)
{
    if (ctl->state != SL_CONTROL_READY) {
        sl_err_set(err, "a run is %s already", sl_control_state_name(ctl->state));
        return SL_EINVAL;
    }
    ctl->open_model = p->rate_per_s > 0;
    ctl->has_stages = p->stages != NULL;
    if (p->stages)
        ctl->stages = *p->stages;
    /* With stages the users follow the stages: room for the largest target. */
    uint32_t users = p->users;
    if (ctl->has_stages && !ctl->open_model && sl_stages_max(&ctl->stages) > users)
        users = (uint32_t)ceil(sl_stages_max(&ctl->stages));
    uint32_t threads = p->threads;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (uint32_t)n : 1;
    }
    if (threads > users)
        threads = users;
    ctl->threads = threads;
    bool ramped = ctl->has_stages || ctl->cfg.shape;
    uint64_t duration_us = p->duration_us;
    if (ctl->has_stages && !duration_us)
        duration_us = sl_stages_total_us(&ctl->stages);
    sl_backend_run_t run = {
        .users = users,
        .initial_users = ramped && !ctl->open_model ? 0 : users,
        .room_for_keys = p->room_for_keys && !ctl->has_stages && !ctl->open_model,
        .spawn_rate = p->spawn_rate,
        .rate_per_s = p->rate_per_s,
        .duration_us = duration_us,
        .iterations = p->iterations,
        .seed = p->seed,
        .threads = threads,
    };
    /* Held back from now on, so that whatever the run allocates, the reports can still be
     * written: never touched, so it costs no resident memory. */
    if (ctl->cfg.reserve_bytes && !ctl->reserve)
        ctl->reserve = malloc(ctl->cfg.reserve_bytes);
    uint64_t started_wall = sl_wall_us();
    const sl_backend_ops_t *ops = ctl->cfg.backend.ops;
    int rc = ops->start(ctl->cfg.backend.b, &run, &ctl->t0, err);
    if (rc != 0)
        return rc;
    ctl->backend_live = true;
    sl_snapshot_t base = {.registry = ctl->cfg.rows,
                          .open_model = ctl->open_model,
                          .rate_per_s = p->rate_per_s,
                          .keys = ctl->cfg.keys,
                          .texts = ctl->cfg.texts,
                          .host = ctl->cfg.host,
                          .dns_us = ctl->cfg.dns_us,
                          .started_wall_us = started_wall,
                          .duration_us = duration_us,
                          .users_target = users,
                          .spawn_rate = p->spawn_rate,
                          .threads = threads,
                          .outcome = &ctl->outcome};
    ctl->rep = sl_reporter_new(&base);
    if (!ctl->rep) {
        ops->stop(ctl->cfg.backend.b, NULL, NULL);
        ops->release(ctl->cfg.backend.b);
        ctl->backend_live = false;
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    memset(&ctl->outcome, 0, sizeof(ctl->outcome));
    ctl->outcome.iterations = p->iterations;
    ctl->users_now = run.initial_users;
    ctl->rate_now = p->rate_per_s;
    ctl->start_rate = ctl->open_model ? p->rate_per_s : 0;
    ctl->end = duration_us ? ctl->t0 + duration_us : UINT64_MAX;
    /* Collect a little after each worker's one-second hand-over. */
    ctl->next_tick = ctl->t0 + SL_US_PER_S + 20 * SL_US_PER_MS;
    ctl->next_control = ramped ? ctl->t0 : UINT64_MAX;
    ctl->next_shape_call = ctl->t0;
    ctl->shape_target = ctl->shape_rate = 0;
    ctl->shape_now = ctl->start_rate;
    ctl->state = SL_CONTROL_STARTING;
    return 0;
}

/* The most users asked for so far (stages, shapes and live keys change it). */
static void note_target(sl_control_t *ctl)
{
    if (ctl->users_now > ctl->outcome.target_users)
        ctl->outcome.target_users = ctl->users_now;
}

uint32_t sl_control_set_users(sl_control_t *ctl, uint32_t users)
{
    if (active(ctl) && !ctl->open_model)
        ctl->users_now = ctl->cfg.backend.ops->set_users(ctl->cfg.backend.b, users);
    return ctl->users_now;
}

double sl_control_set_rate(sl_control_t *ctl, double rate_per_s)
{
    if (active(ctl) && ctl->open_model)
        ctl->rate_now = ctl->cfg.backend.ops->set_rate(ctl->cfg.backend.b, rate_per_s);
    return ctl->rate_now;
}

uint32_t sl_control_users(const sl_control_t *ctl)
{
    return ctl->users_now;
}

double sl_control_rate(const sl_control_t *ctl)
{
    return ctl->rate_now;
}

bool sl_control_open_model(const sl_control_t *ctl)
{
    return ctl->open_model;
}

static void tick(sl_control_t *ctl, uint64_t now);

void sl_control_reset_stats(sl_control_t *ctl)
{
    if (!active(ctl))
        return;
    /* What the workers recorded since the last tick is folded in first, as a tick of its
     * own, so that what counts from the start (the history, the per-second files, the web
     * UI's Prometheus counters, which read every tick) loses nothing; then the statistics
     * start again. The schedule of the ticks stays as it was. */
    uint64_t next = ctl->next_tick;
    tick(ctl, ctl->now());
    ctl->next_tick = next;
    if (active(ctl))
        sl_reporter_reset(ctl->rep);
}

void sl_control_stop(sl_control_t *ctl, sl_stop_reason_t reason, int sig)
{
    if (ctl->state == SL_CONTROL_READY) {
        ctl->reason = reason;
        ctl->state = SL_CONTROL_STOPPED;
        return;
    }
    if (!active(ctl))
        return;
    ctl->reason = reason;
    ctl->outcome.stop_reason = sl_stop_reason_name(reason);
    ctl->outcome.stop_signal = reason == SL_STOP_SIGNAL ? sig : 0;
    ctl->stopped_at = ctl->now();
    note_target(ctl);
    ctl->state = SL_CONTROL_STOPPING;
}

bool sl_control_signal(sl_control_t *ctl, int sig)
{
    ctl->last_signal = sig;
    if (++ctl->nsignals >= 3 || ctl->on_stop_skipped)
        return true;
    if (!ctl->first_signal)
        ctl->first_signal = sig;
    /* The signal may have landed on another thread (a web server's): wake the main one. */
    uint64_t one = 1;
    ssize_t n = write(ctl->wake_fd, &one, sizeof(one));
    (void)n;
    return false;
}

int sl_control_post(sl_control_t *ctl, const sl_control_cmd_t *cmd)
{
    pthread_mutex_lock(&ctl->mu);
    if (ctl->qlen == SL_CONTROL_QUEUE_LEN) {
        pthread_mutex_unlock(&ctl->mu);
        return SL_ELIMIT;
    }
    ctl->queue[(ctl->qhead + ctl->qlen++) % SL_CONTROL_QUEUE_LEN] = *cmd;
    pthread_mutex_unlock(&ctl->mu);
    uint64_t one = 1;
    ssize_t n = write(ctl->wake_fd, &one, sizeof(one));
    (void)n;
    return 0;
}

/* Carries out the queued commands in order, on the main thread. */
static void drain_commands(sl_control_t *ctl)
{
    uint64_t v;
    ssize_t n = read(ctl->wake_fd, &v, sizeof(v));
    (void)n;
    for (;;) {
        pthread_mutex_lock(&ctl->mu);
        if (!ctl->qlen) {
            pthread_mutex_unlock(&ctl->mu);
            return;
        }
        sl_control_cmd_t cmd = ctl->queue[ctl->qhead];
        ctl->qhead = (ctl->qhead + 1) % SL_CONTROL_QUEUE_LEN;
        ctl->qlen--;
        pthread_mutex_unlock(&ctl->mu);
        sl_err_t err = {{0}};
        switch (cmd.kind) {
        case SL_CMD_START:
            if (sl_control_start(ctl, &cmd.params, &err) != 0 && ctl->cfg.notices)
                fprintf(ctl->cfg.notices, "stormlight: cannot start: %s\n", err.msg);
            break;
        case SL_CMD_SET_USERS:
            sl_control_set_users(ctl, cmd.users);
            break;
        case SL_CMD_SET_RATE:
            sl_control_set_rate(ctl, cmd.rate_per_s);
            break;
        case SL_CMD_RESET_STATS:
            sl_control_reset_stats(ctl);
            break;
        case SL_CMD_STOP:
            sl_control_stop(ctl, SL_STOP_REQUEST, 0);
            break;
        }
    }
}

/* User plus system CPU time of the whole process, for the overload warning. */
static uint64_t process_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * SL_US_PER_S +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* One step of the stages or the shape: ten steps a second make the ramps smooth enough
 * for any user count. Returns false when the shape ended the test. */
static bool control_step(sl_control_t *ctl, uint64_t now)
{
    double v;
    if (ctl->cfg.shape) {
        if (now >= ctl->next_shape_call) {
            sl_err_t err = {{0}};
            int sr = ctl->cfg.shape(ctl->cfg.shape_ud, (double)(now - ctl->t0) / 1e6,
                                    &ctl->shape_target, &ctl->shape_rate, &err);
            if (sr < 0 && ctl->cfg.notices)
                fprintf(ctl->cfg.notices, "stormlight: %s\n", err.msg);
            if (sr <= 0) {
                sl_control_stop(ctl, SL_STOP_SHAPE, 0); /* nil (or an error) ends the test */
                return false;
            }
            ctl->next_shape_call += SL_US_PER_S;
        }
        /* Toward the shape's target at its spawn rate (0: at once). */
        double step = ctl->shape_rate > 0 ? ctl->shape_rate / 10 : 1e12;
        if (ctl->shape_now < ctl->shape_target)
            ctl->shape_now = fmin(ctl->shape_target, ctl->shape_now + step);
        else
            ctl->shape_now = fmax(ctl->shape_target, ctl->shape_now - step);
        v = ctl->shape_now;
    } else {
        v = sl_stages_value(&ctl->stages, ctl->start_rate, now - ctl->t0);
    }
    if (ctl->open_model)
        sl_control_set_rate(ctl, v > 0.001 ? v : 0.001);
    else
        sl_control_set_users(ctl, (uint32_t)(v + 0.5));
    ctl->next_control = now + 100 * SL_US_PER_MS;
    return true;
}

/* A reporting tick: hands the workers' blocks to the reporter, then stops the run when
 * memory ran out or a threshold can no longer pass. */
static void tick(sl_control_t *ctl, uint64_t now)
{
    const sl_backend_ops_t *ops = ctl->cfg.backend.ops;
    sl_reporter_set_control(ctl->rep, ctl->users_now, ctl->rate_now);
    uint64_t cpu = process_cpu_us();
    if (ctl->last_cpu_us && now > ctl->last_tick_at)
        sl_reporter_set_cpu(ctl->rep, (double)(cpu - ctl->last_cpu_us) /
                                          ((double)(now - ctl->last_tick_at) * ctl->threads));
    ctl->last_cpu_us = cpu;
    ctl->last_tick_at = now;
    uint32_t users = 0;
    ops->collect(ctl->cfg.backend.b, sl_reporter_interval(ctl->rep), &users);
    ctl->users_running = users;
    if (users > ctl->outcome.peak_users)
        ctl->outcome.peak_users = users;
    sl_reporter_tick(ctl->rep, now - ctl->t0, users);
    ctl->elapsed_us = now - ctl->t0;
    const sl_snapshot_t *snap = sl_reporter_snapshot(ctl->rep, false);
    if (ctl->cfg.on_tick)
        ctl->cfg.on_tick(ctl->cfg.on_tick_ud, snap);
    if (snap->stats->alloc_failed) {
        ctl->result.out_of_memory = true; /* stop while the reports can still be written */
        sl_control_stop(ctl, SL_STOP_MEMORY, 0);
        return;
    }
    if (ctl->cfg.abort_on_threshold && ctl->cfg.thresholds) {
        const sl_threshold_t *doomed = sl_thresholds_doomed(ctl->cfg.thresholds, snap);
        if (doomed) {
            ctl->cfg.thresholds->aborted_by = doomed->expr;
            sl_control_stop(ctl, SL_STOP_THRESHOLD, 0);
            return;
        }
    }
    if (ctl->state == SL_CONTROL_STARTING && (ctl->open_model || users >= ctl->users_now))
        ctl->state = SL_CONTROL_RUNNING;
    ctl->next_tick += SL_US_PER_S;
    if (ctl->next_tick < now)
        ctl->next_tick = now + SL_US_PER_S; /* we overslept; don't burst to catch up */
}

static bool readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return fd >= 0 && poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP));
}

static unsigned step_running(sl_control_t *ctl, int input_fd)
{
    const sl_backend_ops_t *ops = ctl->cfg.backend.ops;
    if (ctl->nsignals) {
        sl_control_stop(ctl, SL_STOP_SIGNAL, ctl->first_signal);
        return 0;
    }
    note_target(ctl);
    uint64_t wake = ctl->next_tick < ctl->end ? ctl->next_tick : ctl->end;
    wake = ctl->next_control < wake ? ctl->next_control : wake;
    int fds[2] = {ctl->wake_fd, input_fd};
    sl_backend_wait_t wr = ops->wait(ctl->cfg.backend.b, wake, fds, 2);
    if (wr == SL_BACKEND_DONE) {
        sl_control_stop(ctl, SL_STOP_ITERATIONS, 0);
        return 0;
    }
    if (wr == SL_BACKEND_FAILED) {
        sl_control_stop(ctl, SL_STOP_FAILURE, 0); /* a worker cannot go on */
        return 0;
    }
    if (ctl->nsignals) {
        sl_control_stop(ctl, SL_STOP_SIGNAL, ctl->first_signal);
        return 0;
    }
    uint64_t now = ctl->now();
    if (now >= ctl->end) {
        sl_control_stop(ctl, SL_STOP_DURATION, 0);
        return 0;
    }
    if (wr == SL_BACKEND_INPUT) {
        drain_commands(ctl);
        if (!active(ctl))
            return 0;
        if (readable(input_fd))
            return SL_CONTROL_EV_INPUT; /* the caller reads it; the next step goes on */
    }
    if (ctl->next_control != UINT64_MAX && now >= ctl->next_control && !control_step(ctl, now))
        return 0;
    if (now < ctl->next_tick)
        return 0;
    tick(ctl, now);
    return SL_CONTROL_EV_TICK;
}

/* The end of the stop: the workers' last statistics, then their memory and the memory held
 * for the reports given back, and only then the final tick, which allocates (new rows'
 * names and rate columns) and must not fail for want of the memory the run used up. */
static void finish(sl_control_t *ctl)
{
    const sl_backend_ops_t *ops = ctl->cfg.backend.ops;
    void *b = ctl->cfg.backend.b;
    uint32_t users = 0;
    ops->stop(b, sl_reporter_interval(ctl->rep), &users);
    /* A run shorter than a second has no tick: the users it started count for the peak. */
    uint32_t started = ops->users_started(b);
    if (started > ctl->outcome.peak_users)
        ctl->outcome.peak_users = started;
    ctl->users_running = users;
    ctl->result.worker_failed = ops->failed(b, &ctl->result.error);
    /* The workers' memory (users, Lua states, buffers) is not needed for the reports:
     * give it back first, which matters when the run stopped for want of memory. */
    ops->release(b);
    ctl->backend_live = false;
    free(ctl->reserve);
    ctl->reserve = NULL;
    sl_reporter_tick(ctl->rep, ctl->stopped_at - ctl->t0, users);
    ctl->elapsed_us = ctl->stopped_at - ctl->t0;
    const sl_snapshot_t *snap = sl_reporter_snapshot(ctl->rep, true);
    /* Judged once, on the final snapshot: every report prints these verdicts, so all of
     * them agree with the exit code. */
    sl_thresholds_judge(ctl->cfg.thresholds, snap, &ctl->outcome.thresholds);
    ctl->result.out_of_memory |= snap->stats->alloc_failed;
    if (ctl->result.out_of_memory && ctl->cfg.notices)
        fprintf(ctl->cfg.notices, "stormlight: out of memory: the run stopped early; the "
                                  "reports show what was recorded until then\n");
    ctl->state = SL_CONTROL_STOPPED;
}

/* After the stop, scripted users run on_stop for up to --stop-timeout, during which
 * nothing else is shown: once the wait is noticeable, say what it is for and how to skip
 * it, and skip it on the next signal. The reports then hold what was measured until that
 * moment, marked as interrupted. */
static void step_stopping(sl_control_t *ctl)
{
    const sl_backend_ops_t *ops = ctl->cfg.backend.ops;
    void *b = ctl->cfg.backend.b;
    if (!ctl->stop_began) {
        ctl->stop_began = true;
        ctl->has_on_stop = ops->has_on_stop(b);
        ctl->seen_signals = ctl->nsignals;
        ctl->announce_at = ctl->now() + 300 * SL_US_PER_MS;
    }
    if (!ctl->has_on_stop) {
        finish(ctl); /* the workers end at once */
        return;
    }
    if (ctl->nsignals > ctl->seen_signals) {
        ctl->on_stop_skipped = 1;
        ops->skip_on_stop(b);
        if (ctl->cfg.notices)
            fprintf(ctl->cfg.notices, "stormlight: not waiting for on_stop; writing what is "
                                      "known (Ctrl-C again to exit at once)\n");
        ctl->result.interrupted = true;
        finish(ctl);
        return;
    }
    /* In short slices: a signal that lands between two sleeps interrupts neither. */
    if (ops->wait_stopped(b, ctl->now() + 50 * SL_US_PER_MS)) {
        finish(ctl);
        return;
    }
    if (!ctl->announced && ctl->now() >= ctl->announce_at) {
        char d[32];
        sl_duration_format(ctl->cfg.stop_timeout_us, d, sizeof(d));
        if (ctl->cfg.notices)
            fprintf(ctl->cfg.notices,
                    "stormlight: stopping: waiting up to %s (--stop-timeout) for the users' "
                    "on_stop to finish; Ctrl-C %sto skip it\n",
                    d, ctl->seen_signals ? "again " : "");
        ctl->announced = true;
    }
}

static void publish_status(sl_control_t *ctl)
{
    pthread_mutex_lock(&ctl->mu);
    ctl->status = (sl_control_status_t){
        .state = ctl->state,
        .stop_reason = ctl->reason,
        .users_target = ctl->users_now,
        .users_running = ctl->users_running,
        .rate_per_s = ctl->rate_now,
        .elapsed_us = ctl->elapsed_us,
    };
    pthread_mutex_unlock(&ctl->mu);
}

unsigned sl_control_step(sl_control_t *ctl, int input_fd)
{
    unsigned ev = 0;
    sl_control_state_t was = ctl->state;
    if (was == SL_CONTROL_READY || active(ctl))
        drain_commands(ctl);
    if (ctl->state != was) {
        /* A command started or stopped the run: that was this step's event. */
    } else if (active(ctl)) {
        ev = step_running(ctl, input_fd);
    } else if (ctl->state == SL_CONTROL_STOPPING) {
        step_stopping(ctl);
    } else if (ctl->state == SL_CONTROL_READY && ctl->first_signal) {
        /* Ctrl-C while waiting for a start: nothing ran, and nothing will. */
        sl_control_stop(ctl, SL_STOP_SIGNAL, ctl->first_signal);
    } else if (ctl->state == SL_CONTROL_READY) {
        /* Nothing runs yet: wait for a command (a web UI's start) or a signal. */
        struct pollfd pfd = {.fd = ctl->wake_fd, .events = POLLIN};
        poll(&pfd, 1, 1000);
    }
    publish_status(ctl);
    return ev;
}

void sl_control_run_until_stopped(sl_control_t *ctl)
{
    while (ctl->state != SL_CONTROL_STOPPED)
        sl_control_step(ctl, -1);
}

void sl_control_status(sl_control_t *ctl, sl_control_status_t *out)
{
    pthread_mutex_lock(&ctl->mu);
    *out = ctl->status;
    pthread_mutex_unlock(&ctl->mu);
}

sl_control_state_t sl_control_state(const sl_control_t *ctl)
{
    return ctl->state;
}

sl_stop_reason_t sl_control_stop_reason(const sl_control_t *ctl)
{
    return ctl->reason;
}

const sl_snapshot_t *sl_control_snapshot(sl_control_t *ctl)
{
    return ctl->rep ? sl_reporter_snapshot(ctl->rep, ctl->state == SL_CONTROL_STOPPED) : NULL;
}

const sl_run_outcome_t *sl_control_outcome(const sl_control_t *ctl)
{
    return &ctl->outcome;
}

void sl_control_result(const sl_control_t *ctl, sl_control_result_t *out)
{
    *out = ctl->result;
    out->last_signal = ctl->last_signal;
}
