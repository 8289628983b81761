/* The distributed master (--master): a backend for the run controller (control/backend.h)
 * whose users run on remote workers. It binds a ZeroMQ ROUTER, accepts workers speaking
 * Locust 2.x's protocol (stormlight workers, and Locust's own), and:
 *   start     waits for --expect-workers, then follows the global spawn schedule (user k
 *             at k/rate) with `spawn` messages, user k going to worker k mod n, so the
 *             totals are exactly -u; --iterations N is split N/n (+1 for the first N mod
 *             n workers); --rate R gives each worker R/n (its own arrival schedule);
 *   collect   merges the workers' `stats` reports since the last call (exactly, from the
 *             stormlight extra; Locust's rounded times for a Python worker);
 *   set_users redivides and sends `spawn`; stop sends `stop` and waits for the last
 *             reports.
 * Heartbeats go to every worker each second; a worker silent for 3 s is lost: its counts
 * up to its last report stay, its users go to the others. Main thread only. */
#ifndef SL_DIST_MASTER_H
#define SL_DIST_MASTER_H

#include <stdio.h>

#include "control/backend.h"
#include "scenario/plan.h"
#include "stats/rows.h"

typedef struct sl_dist_master_cfg {
    const char *bind_host; /* "*" for every interface */
    uint16_t bind_port;
    uint32_t expect_workers;     /* wait for this many before starting (at least 1) */
    uint64_t expect_max_wait_us; /* 0: forever; else give up (start fails) */
    const sl_plan_t *plan;       /* the class names (borrowed) */
    sl_rows_t *rows;             /* where reported rows are interned */
    sl_rows_t *texts;            /* where reported texts are interned */
    const char *host;            /* sent in `spawn` */
    uint64_t stop_timeout_us;    /* sent in `spawn`; also how long stop waits */
    FILE *notices;               /* workers joining and lost (NULL: silent) */
} sl_dist_master_cfg_t;

/* Binds the socket and makes the backend. Returns 0, or SL_EINVAL with err set when the
 * address cannot be bound, or SL_ENOMEM. */
int sl_dist_master_new(sl_backend_t *out, const sl_dist_master_cfg_t *cfg, sl_err_t *err);

/* Waits until --expect-workers workers joined (handling their messages). Returns 0, or
 * SL_ELIMIT with err set when --expect-workers-max-wait passed first. */
int sl_dist_master_await(sl_backend_t *b, sl_err_t *err);

/* After the run: workers that joined and that were lost. */
void sl_dist_master_counts(const sl_backend_t *b, uint32_t *joined, uint32_t *lost);

#endif
