/* The documents the web server serves, rendered from a snapshot on the main thread: Locust
 * 2.12's JSON shapes (GET /stats/requests, /exceptions) and the page's live events. Pure
 * functions of their arguments. */
#ifndef SL_WEB_RENDER_H
#define SL_WEB_RENDER_H

#include <stdint.h>
#include <stdio.h>

#include "stats/snapshot.h"

/* GET /stats/requests as Locust 2.12 answers it: stats[] in Locust's order (by name, then
 * method) with Locust's field names, ending in the Aggregated row; errors[]; total_rps,
 * fail_ratio, current_response_time_percentile_50/95; state; user_count; workers[] (empty:
 * one process). Times in milliseconds. s may be NULL (no run yet). */
void sl_web_locust_stats(FILE *f, const sl_snapshot_t *s, const char *state, uint32_t user_count);

/* GET /exceptions: {"exceptions": [{count, msg, traceback, nodes}]}. */
void sl_web_locust_exceptions(FILE *f, const sl_snapshot_t *s);

/* The live "point" event of the page: one history point (the last one of s) as
 * {"id", "t", "users", "rps", "fps", "p50", "p95", "p99"} (times in ms). */
void sl_web_point_event(FILE *f, const sl_snapshot_t *s, uint64_t id);

/* What the page's start form begins from: the command line's values. */
typedef struct sl_web_form {
    const char *host;
    uint32_t users;
    double spawn_rate;
    uint64_t duration_us; /* 0: until stopped */
    double rate_per_s;    /* > 0: an open-model run */
} sl_web_form_t;

/* The live "table" event: the state, the form's defaults, the run's facts and every row
 * as the page shows it (the same fields as /stats/requests plus p95 and service times,
 * and the open model's send lag and dropped arrivals), errors, exceptions and threshold
 * verdicts. s may be NULL (no run yet). */
void sl_web_table_event(FILE *f, const sl_snapshot_t *s, const char *state, uint64_t id,
                        const sl_web_form_t *form);

#endif
