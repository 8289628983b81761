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

#include "cli/url.h"
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
    uint32_t users;
    double spawn_rate; /* users per second */
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

/* Sleeps until until_us (monotonic), a signal, or the moment every worker has used up
 * its share of --iterations. Returns true in the last case. Main thread only. */
bool sl_runner_wait(sl_runner_t *r, uint64_t until_us);

/* Stops every worker (no new request starts, in-flight ones are counted in
 * in_flight_at_stop), joins them and merges their last statistics into `into`. */
void sl_runner_stop(sl_runner_t *r, sl_stats_t *into, uint32_t *users_running);

/* Frees a stopped runner. Accepts NULL. */
void sl_runner_free(sl_runner_t *r);

#endif
