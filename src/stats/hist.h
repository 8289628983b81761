/* HDR histogram of microsecond values: 1 us to 1 h, 3 significant digits, fixed memory,
 * exact merge. The algorithm is HdrHistogram's (Gil Tene): values are grouped in buckets
 * of doubling width, each split into 2048 sub-buckets, so every recorded value is kept
 * with a relative error below 1/1000. Written for this project from the published
 * description; no code copied.
 *
 * Not thread-safe: each worker records into its own histograms and the reporter merges
 * them after a hand-over. */
#ifndef SL_STATS_HIST_H
#define SL_STATS_HIST_H

#include <stdbool.h>
#include <stdint.h>

#define SL_HIST_LOWEST_US 1ULL
#define SL_HIST_HIGHEST_US 3600000000ULL /* one hour */
#define SL_HIST_SIGFIGS 3

typedef struct sl_hist {
    uint64_t total_count;
    uint64_t min_us; /* UINT64_MAX when empty */
    uint64_t max_us; /* 0 when empty */
    uint64_t sum_us; /* for the mean; exact, no bucketing */
    uint32_t counts_len;
    uint64_t *counts; /* counts_len entries, owned */
} sl_hist_t;

/* Allocates the counts array (fixed size for the configuration above, about 190 KiB).
 * Returns 0 or SL_ENOMEM. */
int sl_hist_init(sl_hist_t *h);
/* Frees the counts; h may be re-initialised afterwards. Accepts a zeroed h. */
void sl_hist_dispose(sl_hist_t *h);
/* Empties the histogram, keeping its memory. */
void sl_hist_reset(sl_hist_t *h);

/* Records one value. Values below 1 us count as 1 us, above 1 h as 1 h (clamped, never
 * lost). O(1), no allocation. */
void sl_hist_record(sl_hist_t *h, uint64_t value_us);
/* Records n occurrences of one value. */
void sl_hist_record_n(sl_hist_t *h, uint64_t value_us, uint64_t n);

/* Adds every count of src into dst (same configuration by construction): the result is
 * exactly the histogram of both value sets. */
void sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src);

/* The value at percentile p (0..100): the highest value equivalent to the bucket where the
 * running count first reaches ceil(p/100 * total) (at least 1), clamped to [min, max] so
 * p=100 is the exact max and p=0 the exact min. Returns 0 for an empty histogram. */
uint64_t sl_hist_percentile(const sl_hist_t *h, double p);

/* Mean of the recorded values (exact, from sum_us); 0 when empty. */
double sl_hist_mean(const sl_hist_t *h);

/* Bucket helpers, exposed for tests and for the HDR log encoder. */
uint32_t sl_hist_index_of(uint64_t value_us);
/* Lowest and highest value that map to the same index as value_us. */
uint64_t sl_hist_lowest_equivalent(uint64_t value_us);
uint64_t sl_hist_highest_equivalent(uint64_t value_us);
/* Value represented by counts index i (the lowest value of its bucket). */
uint64_t sl_hist_value_at_index(uint32_t i);

#endif
