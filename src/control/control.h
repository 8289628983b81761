/* The run controller: the one API through which a run is started with given parameters,
 * its users or rate changed, stages and shapes applied, its statistics reset, stopped
 * (with a reason), and its state, stop reason and outcome reported.
 *
 * It sits above the engine, the reporter and the thresholds and below the CLI: main.c
 * wires it, the live keys (cli/keys.c) call it, and so will the web UI and the
 * distributed master. It drives the load through a backend (control/backend.h): the
 * local worker threads today (control/local.c), remote workers for a master later.
 *
 * Threads. Everything here runs on the main thread, except sl_control_post and
 * sl_control_status, which any thread may call (a web server's thread posts its commands
 * there; they are carried out by the next sl_control_step), and sl_control_signal, which
 * is async-signal-safe and meant for signal handlers.
 *
 * Typical use (main.c):
 *
 *     sl_control_t *ctl = sl_control_new(&cfg, &err);
 *     sl_control_start(ctl, &params, &err);
 *     while (sl_control_state(ctl) != SL_CONTROL_STOPPED)
 *         if (sl_control_step(ctl, keys_fd) & SL_CONTROL_EV_INPUT)
 *             sl_keys_apply(ctl);
 *     ... sl_control_snapshot(ctl) is the final snapshot; sl_control_result() says how
 *     the run ended ...
 *     sl_control_free(ctl);
 */
#ifndef SL_CONTROL_CONTROL_H
#define SL_CONTROL_CONTROL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "control/backend.h"
#include "report/report.h"
#include "scenario/stages.h"
#include "stats/snapshot.h"
#include "threshold/threshold.h"

/* Ready (made, not started) → starting (users still being spawned toward the target) →
 * running → stopping (users finish and run on_stop) → stopped. The names are Locust's. */
typedef enum sl_control_state {
    SL_CONTROL_READY = 0,
    SL_CONTROL_STARTING,
    SL_CONTROL_RUNNING,
    SL_CONTROL_STOPPING,
    SL_CONTROL_STOPPED,
} sl_control_state_t;

/* Why a run ended; the names are the summary's and JSON's "stop_reason". */
typedef enum sl_stop_reason {
    SL_STOP_NONE = 0,   /* still running */
    SL_STOP_DURATION,   /* -t, or the end of the stages */
    SL_STOP_ITERATIONS, /* --iterations used up */
    SL_STOP_SIGNAL,     /* SIGINT, SIGTERM, SIGHUP */
    SL_STOP_KEY,        /* q in the live view */
    SL_STOP_THRESHOLD,  /* --abort-on-threshold */
    SL_STOP_SHAPE,      /* shape() returned nil or failed */
    SL_STOP_MEMORY,     /* memory ran out: stopped while the reports can be written */
    SL_STOP_FAILURE,    /* a worker cannot go on */
    SL_STOP_REQUEST,    /* asked for through the API (web UI, master) */
} sl_stop_reason_t;

const char *sl_control_state_name(sl_control_state_t s);
/* NULL for SL_STOP_NONE. */
const char *sl_stop_reason_name(sl_stop_reason_t r);

/* Calls the load shape at t_s seconds since the start: 1 with *users (or the rate with
 * --rate) and *spawn_rate set (0: at once), 0 to end the test, -1 with err set when it
 * failed (which ends the test too). See scenario/shape.h; sl_control_shape_lua adapts it. */
typedef int (*sl_control_shape_fn)(void *ud, double t_s, double *users, double *spawn_rate,
                                   sl_err_t *err);
int sl_control_shape_lua(void *shape, double t_s, double *users, double *spawn_rate, sl_err_t *err);

/* What stays the same for the controller's life. Pointers are borrowed and must outlive
 * the controller unless said otherwise. */
typedef struct sl_control_cfg {
    sl_backend_t backend;        /* transferred: freed by sl_control_free */
    sl_rows_t *rows;             /* the row registry the reporter names rows from */
    sl_rows_t *texts;            /* script messages */
    const char *host;            /* for the reports */
    uint64_t dns_us;             /* the host name's one-off resolution, for the reports */
    sl_thresholds_t *thresholds; /* may be NULL; aborted_by is set on an abort */
    bool abort_on_threshold;     /* --abort-on-threshold */
    sl_control_shape_fn shape;   /* NULL: no shape */
    void *shape_ud;
    /* Called after every reporter tick while running, with the new snapshot (report
     * files that are written as the run goes). May be NULL. */
    void (*on_tick)(void *ud, const sl_snapshot_t *snap);
    void *on_tick_ud;
    uint64_t stop_timeout_us; /* --stop-timeout, for the notice while on_stop runs */
    FILE *notices;            /* where the controller tells people what it does (NULL: silent) */
    bool keys;                /* the live keys are on (the live view says so) */
    size_t reserve_bytes;     /* address space held back for the reports, given back when the
                               * run stops (see ARCHITECTURE.md, Out of memory); 0: none */
    uint64_t (*now_us)(void); /* the monotonic clock; NULL: sl_now_us (tests pass their own) */
} sl_control_cfg_t;

/* The parameters of one run. */
typedef struct sl_control_params {
    uint32_t users;            /* -u: concurrent users (with --rate: the pool) */
    double spawn_rate;         /* -r */
    double rate_per_s;         /* --rate: the open model's arrivals per second; 0 = closed */
    uint64_t duration_us;      /* -t; 0 = until stopped (or the end of the stages) */
    uint64_t iterations;       /* --iterations, 0 = no limit */
    const sl_stages_t *stages; /* NULL: none (copied at start) */
    uint32_t threads;          /* 0: the online CPUs; at most users */
    uint64_t seed;
    bool room_for_keys; /* the live keys may add users beyond -u: room for them */
} sl_control_params_t;

typedef struct sl_control sl_control_t;

/* Makes a controller in state ready. NULL on out of memory (err set); cfg->backend is
 * freed then too. */
sl_control_t *sl_control_new(const sl_control_cfg_t *cfg, sl_err_t *err);
/* Frees the controller and its backend (stopping the run first if it still runs, without
 * waiting for on_stop). Accepts NULL. */
void sl_control_free(sl_control_t *ctl);

/* Starts a run: the backend's users start and the test's clock begins. Only from ready.
 * Returns 0, SL_EINVAL when not ready, or the backend's error with a message in err (the
 * controller then stays ready). */
int sl_control_start(sl_control_t *ctl, const sl_control_params_t *params, sl_err_t *err);

/* What sl_control_step saw, a bit set. */
enum {
    SL_CONTROL_EV_TICK = 1,  /* a reporting tick: a new snapshot */
    SL_CONTROL_EV_INPUT = 2, /* input_fd is readable: read it (the live keys) */
};

/* Runs the controller until its next event: sleeps until the next tick, stage step or
 * shape call, the end of the run, a command, a signal, the backend's news, or input on
 * input_fd (-1: none), and handles it. While stopping it waits for the users' on_stop in
 * short slices (a second signal skips it), then takes the last statistics and ends in
 * stopped. Returns SL_CONTROL_EV_* bits. Main thread. */
unsigned sl_control_step(sl_control_t *ctl, int input_fd);
/* Steps until stopped (without input). */
void sl_control_run_until_stopped(sl_control_t *ctl);

/* Live control, main thread. set_users: the users that run (closed model), within the
 * room the run has; a stage or shape sets it again at its next step. set_rate: the open
 * model's arrivals per second. Both return the value in force (unchanged when the run
 * does not take it: set_users with --rate, set_rate without, or not running). */
uint32_t sl_control_set_users(sl_control_t *ctl, uint32_t users);
double sl_control_set_rate(sl_control_t *ctl, double rate_per_s);
uint32_t sl_control_users(const sl_control_t *ctl);
double sl_control_rate(const sl_control_t *ctl);
bool sl_control_open_model(const sl_control_t *ctl);

/* Forgets the statistics so far (Locust's "reset stats"): the rows, errors, history and
 * rates start again from now; the run goes on. Main thread. */
void sl_control_reset_stats(sl_control_t *ctl);

/* Asks the run to stop for `reason` (the first reason wins; later calls do nothing).
 * Returns at once: the controller is stopping, and the next steps wait for the users and
 * end in stopped. Stopping a controller that never started makes it stopped. sig: the
 * signal with SL_STOP_SIGNAL, else 0. Main thread. */
void sl_control_stop(sl_control_t *ctl, sl_stop_reason_t reason, int sig);

/* A stop signal arrived (SIGINT, SIGTERM, SIGHUP). Async-signal-safe: call it from the
 * handler. The first one stops the run gracefully at the next step; one during the wait
 * for on_stop skips that wait. Returns true when the handler should give up and exit at
 * once (a third signal, or one after on_stop was skipped already). */
bool sl_control_signal(sl_control_t *ctl, int sig);

/* Commands another thread posts; carried out on the main thread by the next step, in
 * order. This is the web server's way in (POST /swarm, /stop, /stats/reset). */
typedef enum sl_control_cmd_kind {
    SL_CMD_START, /* params */
    SL_CMD_SET_USERS,
    SL_CMD_SET_RATE,
    SL_CMD_RESET_STATS,
    SL_CMD_STOP, /* stops with SL_STOP_REQUEST */
} sl_control_cmd_kind_t;

typedef struct sl_control_cmd {
    sl_control_cmd_kind_t kind;
    uint32_t users;             /* SL_CMD_SET_USERS */
    double rate_per_s;          /* SL_CMD_SET_RATE */
    sl_control_params_t params; /* SL_CMD_START (stages: must stay valid until carried out) */
} sl_control_cmd_t;

#define SL_CONTROL_QUEUE_LEN 64

/* Queues a copy of cmd and wakes the main thread. Any thread. Returns 0, or SL_ELIMIT
 * when SL_CONTROL_QUEUE_LEN commands are already waiting. */
int sl_control_post(sl_control_t *ctl, const sl_control_cmd_t *cmd);

/* The state in a few numbers, copied under a lock: any thread may read it (a web page's
 * status line) without touching the main thread's state. Updated at every step. */
typedef struct sl_control_status {
    sl_control_state_t state;
    sl_stop_reason_t stop_reason;
    uint32_t users_target;  /* the users in force (closed model) */
    uint32_t users_running; /* at the last tick */
    double rate_per_s;      /* the open model's rate in force */
    uint64_t elapsed_us;    /* at the last tick */
} sl_control_status_t;
void sl_control_status(sl_control_t *ctl, sl_control_status_t *out);

sl_control_state_t sl_control_state(const sl_control_t *ctl);
sl_stop_reason_t sl_control_stop_reason(const sl_control_t *ctl);

/* The current snapshot (final once stopped); NULL before the start. Valid until the next
 * step. Main thread. */
const sl_snapshot_t *sl_control_snapshot(sl_control_t *ctl);
/* Peak and target users and the stop reason; the snapshot borrows it. */
const sl_run_outcome_t *sl_control_outcome(const sl_control_t *ctl);

/* How a stopped run ended, beyond its statistics (main.c turns it into the exit code). */
typedef struct sl_control_result {
    bool interrupted;   /* a second signal cut the users' on_stop short */
    bool out_of_memory; /* memory ran out: the statistics are incomplete */
    bool worker_failed; /* the backend could not go on; error says why */
    sl_err_t error;
    int last_signal; /* the last stop signal (0: none) */
} sl_control_result_t;
void sl_control_result(const sl_control_t *ctl, sl_control_result_t *out);

#endif
