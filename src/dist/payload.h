/* The `stats` message's data, as a Locust 2.x worker sends it (locust/stats.py:
 * setup_distributed_stats_event_listeners): "stats" (one entry per row that saw requests
 * since the last report), "stats_total", "errors", "user_count" and
 * "user_classes_count". Response times there are milliseconds rounded to about two
 * significant digits, which is all a Locust master reads. Next to them the key
 * "stormlight" carries the same interval exactly: every row's latency and service HDR
 * histograms, its errors with their texts, the script exceptions and the run's counters,
 * which a Locust master ignores and a stormlight master merges, so merged totals and
 * percentiles equal a single process's.
 *
 * Exact histogram form: [total, min_us, max_us, sum_us, i0, c0, di1, c1, ...] where i0 is
 * the first non-zero layout index (stats/hist.h), di the distance to the previous one and
 * c the count there. Main thread (whoever owns the blocks). */
#ifndef SL_DIST_PAYLOAD_H
#define SL_DIST_PAYLOAD_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "stats/rows.h"
#include "stats/stats.h"

/* What a report says beyond the statistics. */
typedef struct sl_payload_info {
    uint32_t user_count;
    const char *const *class_names; /* user_classes_count: names and counts */
    const uint32_t *class_counts;
    uint32_t nclasses;
    double now_s;        /* wall clock (the entries' last_request_timestamp) */
    double start_time_s; /* wall clock at the worker's test start */
} sl_payload_info_t;

/* Packs the data map of a `stats` message for the interval `delta` (rows named from
 * `rows`, script texts from `texts`, which may be NULL). */
void sl_payload_pack(msgpack_packer *pk, const sl_stats_t *delta, sl_rows_t *rows, sl_rows_t *texts,
                     const sl_payload_info_t *info);

/* Merges a `stats` message's data into `into`, interning its rows into `rows` and its
 * texts into `texts`: exactly from the "stormlight" key when present, else from Locust's
 * rounded response times (a Locust worker). *exact says which. *user_count is the
 * reported users (0 when absent). Returns 0, or SL_EINVAL with err set for a payload
 * that is not a Locust stats report (nothing is merged then), or SL_ENOMEM. */
int sl_payload_merge(const msgpack_object *data, sl_stats_t *into, sl_rows_t *rows,
                     sl_rows_t *texts, bool *exact, uint32_t *user_count, sl_err_t *err);

/* Locust's rounding of a response time in ms (147 -> 150, 3432 -> 3400, 58760 -> 59000). */
int64_t sl_payload_round_ms(double ms);

#endif
