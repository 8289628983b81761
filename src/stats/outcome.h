/* How a run went, beyond its statistics: the peak and target users, why it stopped, and the
 * verdicts of its --threshold set. Whoever owns the run (main.c today, the run controller
 * next, a distributed master later) fills it as the run goes and the snapshot borrows it
 * (sl_snapshot_t.outcome), so that every report says the same thing without reaching into
 * the controller or the threshold set. Plain data: the thresholds are evaluated by
 * threshold/ (sl_thresholds_judge), reports only read the verdicts. */
#ifndef SL_STATS_OUTCOME_H
#define SL_STATS_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most thresholds a run can have (--threshold is limited to as many). */
#define SL_VERDICTS_MAX 64

/* One threshold evaluated on a snapshot. */
typedef struct sl_verdict {
    const char *expr; /* as given (borrowed from the threshold set) */
    bool ok;
    bool has_value;   /* false when the row is missing or has no requests (then !ok) */
    double observed;  /* in the threshold's unit: ms for times, a ratio, requests/s */
    const char *unit; /* "ms", "" (a ratio) or "req/s" (static) */
    char text[64];    /* "12.345 ms", "0.0123", "345.6 req/s" or "no requests" */
} sl_verdict_t;

/* The verdicts of a run's threshold set, in the order given; n = 0 without thresholds. */
typedef struct sl_verdicts {
    sl_verdict_t item[SL_VERDICTS_MAX];
    size_t n;
    /* The threshold that --abort-on-threshold ended the run on (borrowed), or NULL. */
    const char *aborted_by;
} sl_verdicts_t;

typedef struct sl_run_outcome {
    uint32_t peak_users;   /* the most users running at a reporting tick (once a second) */
    uint32_t target_users; /* the most users asked for at any time: -u, the largest stage,
                            * a shape's target, users added live; the pool with --rate */
    uint64_t iterations;   /* --iterations N, 0 = no limit */
    /* Why the run ended: "duration" (-t, or the end of the stages), "iterations",
     * "signal" (SIGINT, SIGTERM, SIGHUP), "key" (q in the live view), "threshold"
     * (--abort-on-threshold), "shape" (shape() returned nil or raised), "memory",
     * "failure" (a worker cannot go on) or "request" (a stop through the controller's
     * API). NULL while running. */
    const char *stop_reason;
    int stop_signal; /* with "signal": which one */
    /* The thresholds judged on the final snapshot (sl_thresholds_judge). */
    sl_verdicts_t thresholds;
} sl_run_outcome_t;

#endif
