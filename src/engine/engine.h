/* The engine: worker threads that run virtual users, and the runner on the main thread
 * that starts them, collects their statistics once a second and stops them.
 *
 * Shared nothing in the hot path: each worker owns its loop, users, connections and
 * statistics block. The only cross-thread traffic is a per-worker mailbox, touched once a
 * second under a mutex, and a stop flag with an eventfd wake-up. */
#ifndef SL_ENGINE_ENGINE_H
#define SL_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/url.h"
#include "net/conn.h"
#include "scenario/plan.h"
#include "stats/rows.h"
#include "stats/stats.h"

/* Everything a run needs; read-only once the workers start. */
typedef struct sl_run_cfg {
    const sl_plan_t *plan;   /* borrowed */
    sl_rows_t *rows;         /* the run's row registry, borrowed */
    const sl_endpoint_t *ep; /* borrowed */
    const sl_url_t *url;     /* the base URL, for scripted requests (borrowed) */
    uint32_t users;          /* capacity: the most users that may ever run */
    uint32_t initial_users;  /* users the spawn schedule starts (<= users) */
    double spawn_rate;       /* users per second */
    uint32_t threads;
    uint64_t timeout_us;
    uint64_t duration_us; /* 0: until stopped */
    uint64_t seed;
    uint64_t stop_timeout_us;      /* how long on_stop may run after the stop */
    uint64_t iterations;           /* --iterations: total task iterations, 0 = no limit */
    double rate_per_s;             /* --rate: open model, iterations started per second in
                                    * total; 0 = closed model (users loop) */
    const uint16_t *class_of_user; /* scripted plans: class index per global user id */
    sl_rows_t *texts;              /* interned messages of script failures and exceptions */
} sl_run_cfg_t;

typedef struct sl_runner sl_runner_t;

/* Starts the workers; the test's clock (t0) starts now. Returns 0, or an SL_E* code with
 * a message in err. */
int sl_runner_start(sl_runner_t **out, const sl_run_cfg_t *cfg, sl_err_t *err);

/* Monotonic start of the test. */
uint64_t sl_runner_t0(const sl_runner_t *r);

/* Moves every worker's statistics since the last call into `into` (merging exactly) and
 * reports how many users are running. Main thread only. */
void sl_runner_collect(sl_runner_t *r, sl_stats_t *into, uint32_t *users_running);

/* Sleeps until until_us (monotonic), a signal, input on one of extra_fds (at most
 * SL_RUNNER_MAX_FDS; negative entries are ignored), or the moment every worker has used
 * up its share of --iterations. Main thread only. */
#define SL_RUNNER_MAX_FDS 4
typedef enum sl_wait_result {
    SL_RUNNER_TIMEOUT = 0, /* until_us came, or a signal arrived */
    SL_RUNNER_DONE,        /* --iterations used up */
    SL_RUNNER_INPUT,       /* one of extra_fds is readable */
    SL_RUNNER_FAILED,      /* a worker's event loop failed: the run must end */
} sl_wait_result_t;
sl_wait_result_t sl_runner_wait(sl_runner_t *r, uint64_t until_us, const int *extra_fds,
                                int nextra);

/* Live control, main thread, any time while running (through the run controller,
 * control/control.h, which the live keys and later the web UI call).
 * set_users: how many users run (closed model), within the capacity of --users; users
 * removed finish their request (scripted: their iteration) and run on_stop. set_rate:
 * the open model's arrivals per second from now on. Both return the value in force. */
uint32_t sl_runner_set_users(sl_runner_t *r, uint32_t users);
double sl_runner_set_rate(sl_runner_t *r, double rate_per_s);
uint32_t sl_runner_users(const sl_runner_t *r);
double sl_runner_rate(const sl_runner_t *r);

/* Tells every worker to stop (no new request starts, in-flight ones are counted in
 * in_flight_at_stop); scripted users then run on_stop within --stop-timeout. Returns at
 * once; calling it again does nothing. Main thread only. */
void sl_runner_signal_stop(sl_runner_t *r);

/* Stops the workers (as sl_runner_signal_stop) and waits until every worker thread has
 * ended, until_us (monotonic) or a signal. Returns true once they all have. Main thread. */
bool sl_runner_wait_stopped(sl_runner_t *r, uint64_t until_us);

/* After the stop: the users' on_stop is not waited for any longer; what it has in flight
 * is counted in in_flight_at_stop, as when --stop-timeout runs out. Main thread. */
void sl_runner_skip_on_stop(sl_runner_t *r);

/* Stops every worker (see sl_runner_signal_stop), joins them and merges their last
 * statistics into `into`. */
void sl_runner_stop(sl_runner_t *r, sl_stats_t *into, uint32_t *users_running);

/* After sl_runner_stop: how many distinct users ever started, summed over the workers.
 * Users are only added when every started one is busy or asked for (users that left are
 * taken back first), so this is the most that ran at once, also for a run too short for
 * any once-a-second count to see. 0 before the stop. */
uint32_t sl_runner_users_started(const sl_runner_t *r);
/* Whether a worker ended early because its event loop failed; if so, err says which
 * and why. Main thread. */
bool sl_runner_failed(const sl_runner_t *r, sl_err_t *err);

/* Frees a stopped runner. Accepts NULL. */
void sl_runner_free(sl_runner_t *r);

#endif
