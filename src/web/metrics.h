/* Prometheus metrics (text exposition format 0.0.4) of a run, for GET /metrics.
 *
 * Counters must never go down, but the statistics a snapshot shows do when a user resets
 * them (Locust's "reset stats"). So this keeps its own totals, from the process's first
 * run on: every reporting interval (the snapshot's `interval` block, each seen once) is
 * added in. The histogram's buckets are counted from the HDR data on a fixed ladder of
 * bounds, exact to the histogram's three significant digits. Main thread only: the web
 * server serves the text rendered here, never this state. */
#ifndef SL_WEB_METRICS_H
#define SL_WEB_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "stats/snapshot.h"

/* Upper bounds of the response-time histogram, in microseconds (+Inf follows). */
#define SL_METRICS_NBOUNDS 15
extern const uint64_t sl_metrics_bounds_us[SL_METRICS_NBOUNDS];

typedef struct sl_metrics sl_metrics_t;

sl_metrics_t *sl_metrics_new(void);
void sl_metrics_free(sl_metrics_t *m);

/* Adds the snapshot's last interval (rows, errors) to the totals. Call once per interval.
 * Returns 0 or SL_ENOMEM (then the interval is not counted at all). */
int sl_metrics_add_interval(sl_metrics_t *m, const sl_snapshot_t *s);

/* Writes every metric: the counters and histogram from the totals, the gauges (users,
 * rate, state) from s, which may be NULL before any run. */
void sl_metrics_write(const sl_metrics_t *m, const sl_snapshot_t *s, const char *state, FILE *f);

#endif
