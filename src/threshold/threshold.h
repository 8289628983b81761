/* Thresholds (--threshold): pass/fail criteria on a run's statistics, in k6's spirit.
 *
 *   p95<200ms   p99.9<1s   avg<50ms   max<2s   min>1us   med<=10ms
 *   fail_ratio<0.01   fail_ratio<1%   rps>500
 *   GET /hello: p95<100ms            (scoped to the row with that method and name)
 *
 * Time limits take the units us, ms or s (ms when none is given). An unscoped threshold
 * applies to the Aggregated row. Parsed once at start-up (a malformed expression is a
 * usage error). Evaluated by the run's owner (main.c, the run controller, later a
 * distributed master and the web UI): during the run for --abort-on-threshold, at the
 * end for the exit code and, once, into the verdicts of the run's outcome
 * (stats/outcome.h) that every report shows, so they all agree. Main thread only. */
#ifndef SL_THRESHOLD_THRESHOLD_H
#define SL_THRESHOLD_THRESHOLD_H

#include <stdbool.h>
#include <stdio.h>

#include "sl.h"
#include "stats/snapshot.h"

typedef enum sl_th_metric {
    SL_TH_PCT, /* a percentile of response times; pNN, med */
    SL_TH_AVG,
    SL_TH_MIN,
    SL_TH_MAX,
    SL_TH_FAIL_RATIO, /* failures / requests */
    SL_TH_RPS,        /* requests / run time */
} sl_th_metric_t;

typedef enum sl_th_op { SL_TH_LT, SL_TH_LE, SL_TH_GT, SL_TH_GE } sl_th_op_t;

typedef struct sl_threshold {
    char *expr;   /* as given, owned */
    char *method; /* scope, owned; NULL for the Aggregated row */
    char *name;
    sl_th_metric_t metric;
    double pct; /* SL_TH_PCT only: 0 < pct <= 100 */
    sl_th_op_t op;
    double limit; /* microseconds for times, a ratio, or requests per second */
} sl_threshold_t;

typedef struct sl_thresholds {
    sl_threshold_t *items;
    size_t n;
    /* Set by the run controller when --abort-on-threshold ended the run (borrowed from
     * items[]). */
    const char *aborted_by;
} sl_thresholds_t;

typedef struct sl_threshold_result {
    bool ok;
    bool has_value;  /* false when the row is missing or has no requests (then !ok) */
    double observed; /* in the threshold's unit: ms for times, a ratio, requests/s */
} sl_threshold_result_t;

/* Parses one expression into t (which owns copies of its strings). Returns 0, or SL_EINVAL
 * with a message that quotes the expression and says what is wrong. */
int sl_threshold_parse(const char *expr, sl_threshold_t *t, sl_err_t *err);
void sl_threshold_dispose(sl_threshold_t *t);

/* Parses expr and appends it to set. Returns 0, SL_EINVAL (err set), SL_ELIMIT (err set:
 * more than SL_VERDICTS_MAX) or SL_ENOMEM. */
int sl_thresholds_add(sl_thresholds_t *set, const char *expr, sl_err_t *err);
/* Frees every threshold; set may be reused after sl_thresholds_dispose. */
void sl_thresholds_dispose(sl_thresholds_t *set);

/* Evaluates t on snapshot s (usually the final one). */
void sl_threshold_eval(const sl_threshold_t *t, const sl_snapshot_t *s, sl_threshold_result_t *r);

/* True when every threshold of set holds on s (also true for an empty or NULL set). */
bool sl_thresholds_pass(const sl_thresholds_t *set, const sl_snapshot_t *s);

/* For --abort-on-threshold: the first threshold that is breached for good on s, or NULL.
 * max (with < or <=) and min (with > or >=) can never recover once breached, so they count
 * at once; fail_ratio (with < or <=) counts once the run has settled: at least
 * SL_TH_SETTLE_US elapsed and SL_TH_SETTLE_REQUESTS requests in its row. Percentiles,
 * averages and rates can still recover and never abort a run. */
#define SL_TH_SETTLE_US (5 * SL_US_PER_S)
#define SL_TH_SETTLE_REQUESTS 100
const sl_threshold_t *sl_thresholds_doomed(const sl_thresholds_t *set, const sl_snapshot_t *s);

/* The unit of the observed value: "ms", "" (a ratio) or "req/s". */
const char *sl_threshold_unit(const sl_threshold_t *t);

/* "12.345 ms", "0.0123", "345.6 req/s" or "no requests". Returns buf. */
const char *sl_threshold_format(const sl_threshold_t *t, const sl_threshold_result_t *r, char *buf,
                                size_t len);

/* Evaluates every threshold of set (NULL: none) on s into out, with the set's aborted_by;
 * the verdicts borrow the set's expressions. */
void sl_thresholds_judge(const sl_thresholds_t *set, const sl_snapshot_t *s, sl_verdicts_t *out);

#endif
