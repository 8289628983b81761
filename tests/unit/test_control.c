/* The run controller driven through a fake backend and a fake clock: state transitions,
 * stop reasons, the ramps of stages and shapes, ticks, the command queue, signals and the
 * wait for on_stop. No thread runs users and no server is needed; each test runs in
 * simulated time, so a "ten second" run takes microseconds. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "control/control.h"

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
    return fake_now;
}

typedef struct fake {
    sl_backend_run_t run;
    int start_rc;
    uint32_t users;    /* set_users' last value: the fake's users run at once */
    uint32_t capacity; /* set_users clamps here */
    double rate;
    uint32_t nset_users, nset_rate;
    uint64_t done_at, fail_at; /* fake time at which --iterations end / the load fails */
    uint32_t requests_per_collect;
    uint64_t latency_us;
    bool alloc_fail; /* the next collect reports an allocation failure */
    bool on_stop;
    int waits_until_stopped; /* wait_stopped slices before the users are done */
    int nwait_stopped;
    bool skipped, stopped, released, freed;
    int ncollect_null; /* collects that dropped the statistics */
    uint32_t max_users_running;
} fake_t;

static int f_start(void *b, const sl_backend_run_t *run, uint64_t *t0_us, sl_err_t *err)
{
    fake_t *f = b;
    if (f->start_rc) {
        sl_err_set(err, "fake: cannot start");
        return f->start_rc;
    }
    f->run = *run;
    f->users = run->initial_users;
    f->rate = run->rate_per_s;
    if (!f->capacity)
        f->capacity = run->users;
    *t0_us = fake_now;
    return 0;
}

static bool fd_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return fd >= 0 && poll(&pfd, 1, 0) > 0;
}

static sl_backend_wait_t f_wait(void *b, uint64_t until_us, const int *fds, int nfds)
{
    fake_t *f = b;
    for (int i = 0; i < nfds; i++)
        if (fd_readable(fds[i]))
            return SL_BACKEND_INPUT;
    if (f->fail_at && until_us >= f->fail_at) {
        fake_now = f->fail_at;
        return SL_BACKEND_FAILED;
    }
    if (f->done_at && until_us >= f->done_at) {
        fake_now = f->done_at;
        return SL_BACKEND_DONE;
    }
    if (until_us > fake_now)
        fake_now = until_us;
    return SL_BACKEND_TIMEOUT;
}

static uint32_t f_set_users(void *b, uint32_t users)
{
    fake_t *f = b;
    f->nset_users++;
    f->users = users < f->capacity ? users : f->capacity;
    return f->users;
}

static double f_set_rate(void *b, double rate)
{
    fake_t *f = b;
    f->nset_rate++;
    f->rate = rate;
    return rate;
}

static void f_collect(void *b, sl_stats_t *into, uint32_t *users_running)
{
    fake_t *f = b;
    if (!into)
        f->ncollect_null++;
    for (uint32_t i = 0; into && i < f->requests_per_collect; i++)
        sl_stats_record(into, 0, f->latency_us, f->latency_us, 10, false);
    if (into && f->alloc_fail)
        into->alloc_failed = true;
    if (users_running)
        *users_running = f->users;
    if (f->users > f->max_users_running)
        f->max_users_running = f->users;
}

static bool f_has_on_stop(void *b)
{
    return ((fake_t *)b)->on_stop;
}

static void f_signal_stop(void *b)
{
    (void)b;
}

static bool f_wait_stopped(void *b, uint64_t until_us)
{
    fake_t *f = b;
    if (++f->nwait_stopped > f->waits_until_stopped)
        return true;
    fake_now = until_us;
    return false;
}

static void f_skip_on_stop(void *b)
{
    ((fake_t *)b)->skipped = true;
}

static void f_stop(void *b, sl_stats_t *into, uint32_t *users_running)
{
    fake_t *f = b;
    f->stopped = true;
    (void)into;
    if (users_running)
        *users_running = 0;
}

static uint32_t f_users_started(void *b)
{
    return ((fake_t *)b)->max_users_running;
}

static bool f_failed(void *b, sl_err_t *err)
{
    fake_t *f = b;
    if (f->fail_at)
        sl_err_set(err, "fake: the load failed");
    return f->fail_at != 0;
}

static void f_release(void *b)
{
    ((fake_t *)b)->released = true;
}

static void f_free(void *b)
{
    ((fake_t *)b)->freed = true;
}

static const sl_backend_ops_t fake_ops = {
    .start = f_start,
    .wait = f_wait,
    .set_users = f_set_users,
    .set_rate = f_set_rate,
    .collect = f_collect,
    .has_on_stop = f_has_on_stop,
    .signal_stop = f_signal_stop,
    .wait_stopped = f_wait_stopped,
    .skip_on_stop = f_skip_on_stop,
    .stop = f_stop,
    .users_started = f_users_started,
    .failed = f_failed,
    .release = f_release,
    .free = f_free,
};

static fake_t fake;
static sl_rows_t *rows, *texts;
static sl_thresholds_t thresholds;
static int nticks;
static uint32_t users_at_tick[64];
static double rate_at_tick[64];
static sl_control_t *tick_ctl;

static void on_tick(void *ud, const sl_snapshot_t *snap)
{
    (void)snap;
    sl_control_t *ctl = ud ? ud : tick_ctl;
    if (nticks < 64) {
        users_at_tick[nticks] = sl_control_users(ctl);
        rate_at_tick[nticks] = sl_control_rate(ctl);
    }
    nticks++;
}

static void setup(void)
{
    memset(&fake, 0, sizeof(fake));
    memset(&thresholds, 0, sizeof(thresholds));
    fake_now = 1000 * SL_US_PER_S;
    nticks = 0;
    rows = sl_rows_new(100, NULL);
    texts = sl_rows_new(0, NULL);
    uint32_t id;
    cr_assert_eq(sl_rows_intern(rows, "GET", "/", &id), 0);
}

static void teardown(void)
{
    sl_rows_free(rows);
    sl_rows_free(texts);
    sl_thresholds_dispose(&thresholds);
}

static sl_control_t *make(sl_control_shape_fn shape)
{
    sl_control_cfg_t cfg = {.backend = {.ops = &fake_ops, .b = &fake},
                            .rows = rows,
                            .texts = texts,
                            .host = "http://127.0.0.1:1",
                            .thresholds = &thresholds,
                            .shape = shape,
                            .on_tick = on_tick,
                            .now_us = fake_clock};
    sl_err_t err = {{0}};
    sl_control_t *ctl = sl_control_new(&cfg, &err);
    cr_assert_not_null(ctl, "%s", err.msg);
    tick_ctl = ctl;
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_READY);
    return ctl;
}

static void start(sl_control_t *ctl, const sl_control_params_t *p)
{
    sl_err_t err = {{0}};
    cr_assert_eq(sl_control_start(ctl, p, &err), 0, "%s", err.msg);
}

TestSuite(control, .init = setup, .fini = teardown);

Test(control, a_timed_run_goes_through_every_state_and_stops_by_duration)
{
    fake.requests_per_collect = 10;
    fake.latency_us = 2000;
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {
        .users = 4, .spawn_rate = 4, .duration_us = 3 * SL_US_PER_S, .threads = 2};
    start(ctl, &p);
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_STARTING);
    cr_expect_eq(fake.run.users, 4);
    cr_expect_eq(fake.run.initial_users, 4);
    cr_expect_eq(fake.run.threads, 2);
    cr_expect_eq(sl_control_start(ctl, &p, NULL), SL_EINVAL, "a second start is refused");
    /* The first tick comes 1.02 s in: the users are all there, so the run is running. */
    unsigned ev = 0;
    while (!(ev & SL_CONTROL_EV_TICK))
        ev = sl_control_step(ctl, -1);
    cr_expect_eq(fake_now - 1000 * SL_US_PER_S, SL_US_PER_S + 20 * SL_US_PER_MS);
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_RUNNING);
    sl_control_status_t st;
    sl_control_status(ctl, &st);
    cr_expect_eq(st.state, SL_CONTROL_RUNNING);
    cr_expect_eq(st.users_running, 4);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_STOPPED);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_DURATION);
    cr_expect_eq(nticks, 2, "ticks at 1.02 s and 2.02 s, then the stop at 3 s");
    const sl_run_outcome_t *oc = sl_control_outcome(ctl);
    cr_expect_str_eq(oc->stop_reason, "duration");
    cr_expect_eq(oc->peak_users, 4);
    cr_expect_eq(oc->target_users, 4);
    const sl_snapshot_t *snap = sl_control_snapshot(ctl);
    cr_assert_not_null(snap);
    cr_expect(snap->final);
    cr_expect_eq(snap->elapsed_us, 3 * SL_US_PER_S);
    cr_expect_eq(snap->total->num_requests, 20, "two ticks' worth (the fake's stop adds none)");
    cr_expect_eq(snap->nhistory, 3);
    cr_expect(fake.stopped && fake.released);
    sl_control_result_t res;
    sl_control_result(ctl, &res);
    cr_expect(!res.interrupted && !res.out_of_memory && !res.worker_failed);
    sl_control_free(ctl);
    cr_expect(fake.freed);
}

Test(control, stages_ramp_the_users_ten_steps_a_second)
{
    sl_stages_t stages = {.stage = {{10 * SL_US_PER_S, 10}, {5 * SL_US_PER_S, 10}}, .n = 2};
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 1, .spawn_rate = 1, .stages = &stages, .threads = 1};
    start(ctl, &p);
    cr_expect_eq(fake.run.users, 10, "room for the largest stage");
    cr_expect_eq(fake.run.initial_users, 0, "the stages start the users");
    cr_expect(!fake.run.room_for_keys);
    cr_expect_eq(fake.run.duration_us, 15 * SL_US_PER_S, "the stages' length");
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_DURATION);
    /* Tick k at k + 0.02 s sees the last step, at k s: round(k) users, then 10. */
    cr_assert_geq(nticks, 14);
    for (int k = 1; k <= 14; k++)
        cr_expect_eq(users_at_tick[k - 1], k < 10 ? (uint32_t)k : 10u, "tick %d: %u users", k,
                     users_at_tick[k - 1]);
    cr_expect_eq(sl_control_outcome(ctl)->target_users, 10);
    cr_expect_geq(fake.nset_users, 140, "ten steps a second for 15 s");
    sl_control_free(ctl);
}

Test(control, stages_with_a_rate_ramp_the_rate_from_the_given_one)
{
    sl_stages_t stages = {.stage = {{4 * SL_US_PER_S, 50}}, .n = 1};
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 20, .rate_per_s = 10, .stages = &stages, .threads = 1};
    start(ctl, &p);
    cr_expect_eq(fake.run.initial_users, 20, "the open model's pool starts at once");
    sl_control_run_until_stopped(ctl);
    cr_assert_eq(nticks, 3);
    for (int k = 1; k <= 3; k++)
        cr_expect_float_eq(rate_at_tick[k - 1], 10 + 40 * k / 4.0, 1e-6, "tick %d: %g", k,
                           rate_at_tick[k - 1]);
    cr_expect_eq(fake.nset_users, 0, "the open model never sets users");
    cr_expect_eq(sl_control_set_users(ctl, 99), 20, "nor does a live change");
    sl_control_free(ctl);
}

static int shape_calls;
static double shape_times[16];

/* 10 users at 5 a second for three seconds, then nil. */
static int shape_fn(void *ud, double t_s, double *users, double *spawn_rate, sl_err_t *err)
{
    (void)ud;
    (void)err;
    if (shape_calls < 16)
        shape_times[shape_calls] = t_s;
    shape_calls++;
    if (t_s >= 3)
        return 0;
    *users = 10;
    *spawn_rate = 5;
    return 1;
}

Test(control, a_shape_is_called_every_second_and_ramps_at_its_spawn_rate)
{
    shape_calls = 0;
    sl_control_t *ctl = make(shape_fn);
    sl_control_params_t p = {.users = 10, .spawn_rate = 1, .threads = 1};
    start(ctl, &p);
    cr_expect_eq(fake.run.initial_users, 0);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_SHAPE);
    cr_expect_eq(shape_calls, 4, "at 0, 1, 2 and 3 s");
    for (int i = 0; i < 4; i++)
        cr_expect_float_eq(shape_times[i], i, 1e-9);
    /* 0.5 users a step: 5.5 at 1.0 s (the eleventh step) rounds to 6, then 10. */
    cr_assert_eq(nticks, 2);
    cr_expect_eq(users_at_tick[0], 6);
    cr_expect_eq(users_at_tick[1], 10);
    cr_expect_str_eq(sl_control_outcome(ctl)->stop_reason, "shape");
    sl_control_free(ctl);
}

static int failing_shape(void *ud, double t_s, double *users, double *spawn_rate, sl_err_t *err)
{
    (void)ud;
    (void)users;
    (void)spawn_rate;
    sl_err_set(err, "shape: boom at %g", t_s);
    return -1;
}

Test(control, a_failing_shape_ends_the_run_at_once)
{
    sl_control_t *ctl = make(failing_shape);
    sl_control_params_t p = {.users = 10, .spawn_rate = 1, .threads = 1};
    start(ctl, &p);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_SHAPE);
    cr_expect_eq(nticks, 0);
    cr_expect_eq(sl_control_snapshot(ctl)->elapsed_us, 0);
    sl_control_free(ctl);
}

Test(control, iterations_used_up_stop_the_run)
{
    fake.done_at = fake_now + 2500 * SL_US_PER_MS;
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 2, .spawn_rate = 2, .iterations = 100, .threads = 1};
    start(ctl, &p);
    cr_expect_eq(fake.run.iterations, 100);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_ITERATIONS);
    cr_expect_eq(sl_control_outcome(ctl)->iterations, 100);
    cr_expect_eq(sl_control_snapshot(ctl)->elapsed_us, 2500 * SL_US_PER_MS);
    sl_control_free(ctl);
}

Test(control, a_failed_backend_stops_the_run_and_says_why)
{
    fake.fail_at = fake_now + 1500 * SL_US_PER_MS;
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 2, .spawn_rate = 2, .threads = 1};
    start(ctl, &p);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_FAILURE);
    sl_control_result_t res;
    sl_control_result(ctl, &res);
    cr_expect(res.worker_failed);
    cr_expect_str_eq(res.error.msg, "fake: the load failed");
    sl_control_free(ctl);
}

Test(control, memory_running_out_stops_the_run_at_the_next_tick)
{
    fake.alloc_fail = true;
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 2, .spawn_rate = 2, .threads = 1};
    start(ctl, &p);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_MEMORY);
    cr_expect_eq(nticks, 1);
    sl_control_result_t res;
    sl_control_result(ctl, &res);
    cr_expect(res.out_of_memory);
    sl_control_free(ctl);
}

Test(control, a_threshold_that_cannot_pass_aborts_when_asked)
{
    fake.requests_per_collect = 5;
    fake.latency_us = 5000;
    cr_assert_eq(sl_thresholds_add(&thresholds, "max<1ms", NULL), 0);
    sl_control_cfg_t cfg = {.backend = {.ops = &fake_ops, .b = &fake},
                            .rows = rows,
                            .texts = texts,
                            .host = "h",
                            .thresholds = &thresholds,
                            .abort_on_threshold = true,
                            .now_us = fake_clock};
    sl_control_t *ctl = sl_control_new(&cfg, NULL);
    sl_control_params_t p = {.users = 1, .spawn_rate = 1, .duration_us = 60 * SL_US_PER_S};
    start(ctl, &p);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_THRESHOLD);
    cr_expect_str_eq(thresholds.aborted_by, "max<1ms");
    cr_expect_eq(sl_control_snapshot(ctl)->elapsed_us, SL_US_PER_S + 20 * SL_US_PER_MS);
    sl_control_free(ctl);
}

Test(control, a_signal_stops_the_run_and_is_named)
{
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 1, .spawn_rate = 1, .threads = 1};
    start(ctl, &p);
    sl_control_step(ctl, -1);
    cr_expect(!sl_control_signal(ctl, SIGTERM));
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_SIGNAL);
    cr_expect_str_eq(sl_control_outcome(ctl)->stop_reason, "signal");
    cr_expect_eq(sl_control_outcome(ctl)->stop_signal, SIGTERM);
    sl_control_result_t res;
    sl_control_result(ctl, &res);
    cr_expect(!res.interrupted, "no on_stop to cut short");
    cr_expect_eq(res.last_signal, SIGTERM);
    sl_control_free(ctl);
}

Test(control, a_second_signal_skips_on_stop_and_a_third_exits)
{
    fake.on_stop = true;
    fake.waits_until_stopped = 1000;
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 1, .spawn_rate = 1, .threads = 1};
    start(ctl, &p);
    cr_expect(!sl_control_signal(ctl, SIGINT));
    sl_control_step(ctl, -1);
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_STOPPING);
    for (int i = 0; i < 5; i++)
        sl_control_step(ctl, -1);
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_STOPPING, "on_stop still runs");
    cr_expect_eq(fake.nwait_stopped, 5, "in short slices");
    cr_expect(!sl_control_signal(ctl, SIGINT));
    sl_control_step(ctl, -1);
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_STOPPED);
    cr_expect(fake.skipped);
    sl_control_result_t res;
    sl_control_result(ctl, &res);
    cr_expect(res.interrupted);
    cr_expect(sl_control_signal(ctl, SIGINT), "after the skip, the next signal exits");
    sl_control_free(ctl);
}

Test(control, on_stop_is_waited_for_until_the_users_are_done)
{
    fake.on_stop = true;
    fake.waits_until_stopped = 3;
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 1, .spawn_rate = 1, .threads = 1};
    start(ctl, &p);
    sl_control_stop(ctl, SL_STOP_KEY, 0);
    sl_control_stop(ctl, SL_STOP_DURATION, 0); /* the first reason wins */
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_KEY);
    cr_expect_eq(fake.nwait_stopped, 4);
    cr_expect(!fake.skipped);
    sl_control_free(ctl);
}

static void *post_from_thread(void *arg)
{
    sl_control_t *ctl = arg;
    sl_control_cmd_t set = {.kind = SL_CMD_SET_USERS, .users = 7};
    sl_control_cmd_t stop = {.kind = SL_CMD_STOP};
    cr_assert_eq(sl_control_post(ctl, &set), 0);
    cr_assert_eq(sl_control_post(ctl, &stop), 0);
    return NULL;
}

Test(control, commands_posted_from_another_thread_run_in_order_on_the_next_step)
{
    sl_control_t *ctl = make(NULL);
    fake.capacity = 100;
    sl_control_params_t p = {.users = 3, .spawn_rate = 3, .threads = 1};
    start(ctl, &p);
    pthread_t t;
    pthread_create(&t, NULL, post_from_thread, ctl);
    pthread_join(t, NULL);
    uint64_t before = fake_now;
    sl_control_step(ctl, -1);
    cr_expect_eq(fake_now, before, "the step did not sleep: the commands woke it");
    cr_expect_eq(fake.users, 7);
    cr_expect_eq(sl_control_users(ctl), 7);
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_STOPPING);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_REQUEST);
    cr_expect_str_eq(sl_control_outcome(ctl)->stop_reason, "request");
    cr_expect_eq(sl_control_outcome(ctl)->target_users, 7);
    sl_control_free(ctl);
}

Test(control, the_command_queue_is_bounded)
{
    sl_control_t *ctl = make(NULL);
    sl_control_cmd_t cmd = {.kind = SL_CMD_SET_USERS, .users = 1};
    for (int i = 0; i < SL_CONTROL_QUEUE_LEN; i++)
        cr_assert_eq(sl_control_post(ctl, &cmd), 0);
    cr_expect_eq(sl_control_post(ctl, &cmd), SL_ELIMIT);
    sl_control_free(ctl);
}

Test(control, a_start_command_starts_a_ready_controller)
{
    sl_control_t *ctl = make(NULL);
    sl_control_cmd_t cmd = {
        .kind = SL_CMD_START,
        .params = {.users = 5, .spawn_rate = 5, .threads = 1, .duration_us = 2 * SL_US_PER_S}};
    cr_assert_eq(sl_control_post(ctl, &cmd), 0);
    sl_control_step(ctl, -1);
    cr_expect_eq(fake.run.users, 5);
    cr_expect_neq(sl_control_state(ctl), SL_CONTROL_READY);
    sl_control_run_until_stopped(ctl);
    cr_expect_eq(sl_control_stop_reason(ctl), SL_STOP_DURATION);
    sl_control_free(ctl);
}

Test(control, live_changes_follow_the_model_and_the_backend)
{
    sl_control_t *ctl = make(NULL);
    fake.capacity = 8;
    sl_control_params_t p = {.users = 4, .spawn_rate = 4, .threads = 1, .room_for_keys = true};
    cr_expect_eq(sl_control_set_users(ctl, 3), 0, "nothing runs yet");
    start(ctl, &p);
    cr_expect(fake.run.room_for_keys);
    cr_expect_eq(sl_control_set_users(ctl, 6), 6);
    cr_expect_eq(sl_control_set_users(ctl, 50), 8, "the backend's room");
    cr_expect_float_eq(sl_control_set_rate(ctl, 5), 0, 1e-9, "no rate in the closed model");
    cr_expect_eq(fake.nset_rate, 0);
    sl_control_stop(ctl, SL_STOP_KEY, 0);
    cr_expect_eq(sl_control_outcome(ctl)->target_users, 8);
    cr_expect_eq(sl_control_set_users(ctl, 2), 8, "not while stopping");
    sl_control_run_until_stopped(ctl);
    sl_control_free(ctl);
}

Test(control, reset_stats_forgets_what_was_counted)
{
    fake.requests_per_collect = 10;
    fake.latency_us = 1000;
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {
        .users = 1, .spawn_rate = 1, .threads = 1, .duration_us = 10 * SL_US_PER_S};
    start(ctl, &p);
    while (nticks < 3)
        sl_control_step(ctl, -1);
    cr_expect_eq(sl_control_snapshot(ctl)->total->num_requests, 30);
    size_t hist = sl_control_snapshot(ctl)->nhistory;
    sl_control_reset_stats(ctl);
    /* The workers' pending blocks are folded in first, as a tick of their own (what
     * counts from the start, such as the web UI's Prometheus counters, loses nothing);
     * then the statistics start again. */
    cr_expect_eq(nticks, 4, "the reset's own tick");
    cr_expect_eq(fake.ncollect_null, 0, "nothing is dropped");
    cr_expect_eq(sl_control_snapshot(ctl)->nhistory, hist + 1);
    cr_expect_eq(sl_control_snapshot(ctl)->history[hist].requests, 10, "the flushed block");
    cr_expect_eq(sl_control_snapshot(ctl)->total->num_requests, 0);
    cr_expect_float_eq(sl_control_snapshot(ctl)->cur_rps[1], 0, 1e-9);
    while (nticks < 6)
        sl_control_step(ctl, -1);
    cr_expect_eq(sl_control_snapshot(ctl)->total->num_requests, 20);
    /* The same through the queue: carried out before the step's tick. */
    sl_control_cmd_t cmd = {.kind = SL_CMD_RESET_STATS};
    sl_control_post(ctl, &cmd);
    unsigned ev = sl_control_step(ctl, -1);
    cr_expect(ev & SL_CONTROL_EV_TICK);
    cr_expect_eq(fake.ncollect_null, 0);
    cr_expect_eq(sl_control_snapshot(ctl)->total->num_requests, 10, "one tick since the reset");
    sl_control_stop(ctl, SL_STOP_KEY, 0);
    sl_control_run_until_stopped(ctl);
    sl_control_free(ctl);
}

Test(control, a_start_that_fails_leaves_the_controller_ready)
{
    fake.start_rc = SL_ELIMIT;
    sl_control_t *ctl = make(NULL);
    sl_control_params_t p = {.users = 1, .spawn_rate = 1};
    sl_err_t err = {{0}};
    cr_expect_eq(sl_control_start(ctl, &p, &err), SL_ELIMIT);
    cr_expect_str_eq(err.msg, "fake: cannot start");
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_READY);
    cr_expect_null(sl_control_snapshot(ctl));
    sl_control_stop(ctl, SL_STOP_REQUEST, 0);
    cr_expect_eq(sl_control_state(ctl), SL_CONTROL_STOPPED);
    sl_control_free(ctl);
    cr_expect(fake.freed && !fake.stopped);
}

Test(control, names_of_states_and_reasons)
{
    cr_expect_str_eq(sl_control_state_name(SL_CONTROL_READY), "ready");
    cr_expect_str_eq(sl_control_state_name(SL_CONTROL_STARTING), "spawning");
    cr_expect_str_eq(sl_control_state_name(SL_CONTROL_STOPPED), "stopped");
    cr_expect_null(sl_stop_reason_name(SL_STOP_NONE));
    const char *names[] = {"duration", "iterations", "signal",  "key",    "threshold",
                           "shape",    "memory",     "failure", "request"};
    for (int r = SL_STOP_DURATION; r <= SL_STOP_REQUEST; r++)
        cr_expect_str_eq(sl_stop_reason_name((sl_stop_reason_t)r), names[r - 1]);
}
