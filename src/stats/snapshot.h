/* The snapshot: the one read-only view of a run's statistics that every consumer (live
 * view, final summary, JSON, later CSV, HTML, web UI, Prometheus) reads. Consumers never
 * touch worker state. A snapshot borrows from the reporter that made it and is valid until
 * the reporter's next tick. */
#ifndef SL_STATS_SNAPSHOT_H
#define SL_STATS_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "stats/outcome.h"
#include "stats/rows.h"
#include "stats/stats.h"

/* Current rates are averaged over this many most recent one-second intervals. */
#define SL_RATE_WINDOW_S 10

/* One reporting interval (about a second) of the whole run, kept for the run's history
 * (the JSON "history", the HTML charts). Rates are over the interval's real length;
 * percentiles are of the response times completed in the interval (0 when none). */
typedef struct sl_history_point {
    uint64_t elapsed_us;  /* end of the interval, since t0 */
    uint64_t interval_us; /* its length */
    uint32_t users;       /* running at its end */
    uint64_t requests;    /* completed in the interval */
    uint64_t failures;
    uint64_t p50_us, p95_us, p99_us;
} sl_history_point_t;

typedef struct sl_snapshot {
    sl_rows_t *registry;         /* where row names come from (borrowed) */
    sl_rows_t *texts;            /* script messages: (location, message) by text id */
    const sl_row_t *rows;        /* names of rows 0..nrows-1 */
    size_t nrows;                /* rows in this snapshot; stats has at least as many */
    const sl_stats_t *stats;     /* cumulative since the start */
    const sl_row_stats_t *total; /* all rows summed */
    const double *cur_rps;       /* per row, then the total at [nrows] */
    const double *cur_fail_per_s;
    const char *host;
    uint64_t dns_us;          /* resolving the host name, once before the start (stats/phases.h) */
    uint64_t started_wall_us; /* wall clock at t0 */
    uint64_t elapsed_us;      /* since t0 */
    uint64_t duration_us;     /* requested, 0 = until stopped */
    uint32_t users_running;
    uint32_t users_target;
    double spawn_rate;
    uint32_t threads;
    /* Peak and target users, the stop reason and the threshold verdicts (stats/outcome.h;
     * borrowed, NULL when not known), kept up to date by whoever runs the test. */
    const sl_run_outcome_t *outcome;
    /* The last tick's interval alone (per second, before it was merged into `stats`):
     * rows 0..nrows-1 and their sum. Valid until the next tick. */
    const sl_stats_t *interval;
    const sl_row_stats_t *interval_total;
    uint64_t interval_start_us; /* since t0 */
    /* One point per tick since the start, oldest first. */
    const sl_history_point_t *history;
    size_t nhistory;
    bool open_model;   /* --rate: arrivals on a schedule, not users in a loop */
    double rate_per_s; /* open model: the arrival rate in force */
    double cpu_share;  /* the process's CPU use over the last second, as a share
                        * of its worker threads (1.0 = every worker busy) */
    bool keys;         /* the live keys are on: the live view says so */
    bool final;
    /* Rows: the registry's limit, and which row took the names met after it (-1: none
     * yet). A hint when many rows share one path pattern (see sl_rows_hint). */
    uint32_t max_rows;
    int64_t overflow_row;
    /* Requests of rows that memory ran out for before this snapshot could list them:
     * part of the JSON's unrecorded_requests, in no row and not in the total. */
    uint64_t unlisted;
    bool has_hint;
    sl_rows_hint_t hint;
} sl_snapshot_t;

/* The text users see for an error (kind, detail) with the text its detail carries, from
 * texts (may be NULL): "HTTP 422 Unprocessable Entity" as the server said it, "connection
 * refused (127.0.0.1:8080)", "TLS certificate verification failed: self-signed
 * certificate", or a script's own r:failure() message. Returns buf. */
const char *sl_fail_describe_text(sl_rows_t *texts, sl_fail_t kind, int detail, char *buf,
                                  size_t len);

/* The text users see for an error entry (sl_fail_describe_text). Returns buf. */
const char *sl_snapshot_error_text(const sl_snapshot_t *s, const sl_error_entry_t *e, char *buf,
                                   size_t len);

typedef struct sl_reporter sl_reporter_t;

/* Makes a reporter; the snapshot fields that describe the run are copied from `base`
 * (registry, host, duration, users_target, spawn_rate, threads, started_wall_us,
 * outcome). */
sl_reporter_t *sl_reporter_new(const sl_snapshot_t *base);
void sl_reporter_free(sl_reporter_t *rep);

/* Begins an interval: empties the reporter's interval block (the one the last snapshot
 * showed as `interval`) and returns it for the runner to merge the workers' blocks into.
 * Call it right before sl_reporter_tick. */
sl_stats_t *sl_reporter_interval(sl_reporter_t *rep);

/* Folds the interval block into the cumulative statistics, the rate window and the
 * history. Until the next sl_reporter_interval the snapshot's `interval` shows that block
 * (the per-second view the CSV history and the HDR log are written from). */
void sl_reporter_tick(sl_reporter_t *rep, uint64_t elapsed_us, uint32_t users_running);

/* Forgets the statistics so far (Locust's "reset stats"): the cumulative rows, errors
 * and exceptions, the totals and the rate window start again; the history of past
 * intervals is kept. Call it between ticks. */
void sl_reporter_reset(sl_reporter_t *rep);

/* Live control changed the run: the users (closed model) or the rate (open model) now
 * wanted, for the next snapshots. */
void sl_reporter_set_control(sl_reporter_t *rep, uint32_t users_target, double rate_per_s);
/* The generator's own CPU use over the last interval (see sl_snapshot_t.cpu_share). */
void sl_reporter_set_cpu(sl_reporter_t *rep, double cpu_share);

/* The current snapshot. */
const sl_snapshot_t *sl_reporter_snapshot(sl_reporter_t *rep, bool final);

#endif
