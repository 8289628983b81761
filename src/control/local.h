/* The local backend: the run's users on this process's worker threads (engine/). */
#ifndef SL_CONTROL_LOCAL_H
#define SL_CONTROL_LOCAL_H

#include "base/url.h"
#include "control/backend.h"
#include "net/conn.h"
#include "scenario/plan.h"
#include "stats/rows.h"

/* What every local run shares; borrowed, must outlive the backend. */
typedef struct sl_local_cfg {
    const sl_plan_t *plan;
    sl_rows_t *rows;
    sl_rows_t *texts;
    const sl_endpoint_t *ep;
    const sl_url_t *url;
    uint64_t timeout_us;
    uint64_t stop_timeout_us;
} sl_local_cfg_t;

/* Makes the backend (no thread runs until the controller starts it). Returns 0 or
 * SL_ENOMEM. At start it raises the open-file limit for the users (a usage error naming
 * --users when it cannot), makes room for users the live keys may add (as many again,
 * at least 100, within that limit), divides the users among the classes (Locust's exact
 * division, repeated for users added live) and starts the worker threads. */
int sl_local_backend_new(sl_backend_t *out, const sl_local_cfg_t *cfg);

#endif
