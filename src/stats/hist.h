/* HDR histogram of microsecond values: 1 us to 1 h, 3 significant digits, exact merge,
 * memory that follows what was recorded. The algorithm is HdrHistogram's (Gil Tene):
 * values are grouped in buckets of doubling width, each split into 2048 sub-buckets, so
 * every recorded value is kept with a relative error below 1/1000. Written for this
 * project from the published description; no code copied.
 *
 * The logical layout is HdrHistogram's fixed array of SL_HIST_COUNTS_LEN counts (so the
 * HDR log is standard). It is stored first as a short sorted list of (index, count) pairs
 * (a row that saw one value costs 32 bytes), then, past SL_HIST_MAX_PAIRS distinct
 * indices, in chunks of SL_HIST_CHUNK_LEN counts allocated the first time a value lands in
 * them (a busy row with a typical spread costs a few chunks). Reset and merge walk only
 * the pairs, or the chunks between the minimum and the maximum.
 *
 * Counts are 64-bit (SL_HIST_WIDE) or 32-bit (SL_HIST_NARROW, for the per-second blocks
 * that workers fill and the reporter folds): a narrow histogram widens itself before any
 * count could pass 2^32 - 1, so both stay exact.
 *
 * Not thread-safe: each worker records into its own histograms and the reporter merges
 * them after a hand-over. */
#ifndef SL_STATS_HIST_H
#define SL_STATS_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_HIST_LOWEST_US 1ULL
#define SL_HIST_HIGHEST_US 3600000000ULL /* one hour */
#define SL_HIST_SIGFIGS 3

/* (22 buckets + 1) * 1024 half sub-buckets: the layout HdrHistogram uses for the
 * configuration above. */
#define SL_HIST_COUNTS_LEN 23552U
#define SL_HIST_CHUNK_SHIFT 8
#define SL_HIST_CHUNK_LEN (1U << SL_HIST_CHUNK_SHIFT) /* 256 counts */
#define SL_HIST_NCHUNKS (SL_HIST_COUNTS_LEN >> SL_HIST_CHUNK_SHIFT)

typedef enum sl_hist_width {
    SL_HIST_WIDE = 0,   /* 64-bit counts: cumulative statistics */
    SL_HIST_NARROW = 1, /* 32-bit counts until one could overflow: interval blocks */
} sl_hist_width_t;

/* A histogram that has seen few distinct buckets keeps them as sorted pairs (at most
 * SL_HIST_MAX_PAIRS, 512 bytes) and becomes chunked when it needs more: most rows of a
 * large API see a few values a second. */
#define SL_HIST_MAX_PAIRS 64
typedef struct sl_hist_pair {
    uint32_t index;
    uint32_t count;
} sl_hist_pair_t;

typedef struct sl_hist {
    uint64_t total_count;
    uint64_t min_us; /* UINT64_MAX when empty */
    uint64_t max_us; /* 0 when empty */
    uint64_t sum_us; /* for the mean; exact, no bucketing */
    /* Sparse form (chunks NULL): npairs pairs sorted by index, the total within 32 bits.
     * Chunked form: SL_HIST_NCHUNKS slots, each NULL until a value lands in its range.
     * Either way every non-zero count lies between the indices of min and max. */
    sl_hist_pair_t *pairs;
    uint16_t npairs, pairs_cap;
    uint16_t last_pair; /* the pair the last sparse record landed in (a cheap first guess) */
    void **chunks;
    uint32_t nchunks; /* chunks allocated */
    bool narrow;      /* chunks hold uint32_t counts (else uint64_t) */
    bool failed;      /* a value could not be kept: memory ran out */
} sl_hist_t;

/* Makes h empty. Allocates nothing (the first record does), so it cannot fail. */
void sl_hist_init(sl_hist_t *h, sl_hist_width_t width);
/* Frees the chunks; h may be re-initialised afterwards. Accepts a zeroed h. */
void sl_hist_dispose(sl_hist_t *h);
/* Empties the histogram, keeping its memory; only the touched chunks are cleared. */
void sl_hist_reset(sl_hist_t *h);

/* Records one value. Values below 1 us count as 1 us, above 1 h as 1 h (clamped, never
 * lost). O(1); allocates only when the value lands in a chunk not used before. Returns
 * false (and sets h->failed) when that allocation fails: the value is then not recorded
 * at all, so the histogram stays consistent. */
bool sl_hist_record(sl_hist_t *h, uint64_t value_us);
/* Records n occurrences of one value. */
bool sl_hist_record_n(sl_hist_t *h, uint64_t value_us, uint64_t n);

/* Adds every count of src into dst, whatever the widths and ranges of both: the result is
 * exactly the histogram of both value sets. Returns false (dst->failed set, dst
 * unchanged) when dst could not allocate the chunks it needs. */
bool sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src);

/* The value at percentile p (0..100): the highest value equivalent to the bucket where the
 * running count first reaches ceil(p/100 * total) (at least 1), clamped to [min, max] so
 * p=100 is the exact max and p=0 the exact min. Returns 0 for an empty histogram. */
uint64_t sl_hist_percentile(const sl_hist_t *h, double p);

/* Mean of the recorded values (exact, from sum_us); 0 when empty. */
double sl_hist_mean(const sl_hist_t *h);

/* The count at layout index i (< SL_HIST_COUNTS_LEN), as a fixed array would hold it. */
uint64_t sl_hist_count_at(const sl_hist_t *h, uint32_t i);
/* Heap bytes h owns (chunk table and chunks). */
size_t sl_hist_memory(const sl_hist_t *h);

/* Bucket helpers, exposed for tests and for the HDR log encoder. */
uint32_t sl_hist_index_of(uint64_t value_us);
/* Lowest and highest value that map to the same index as value_us. */
uint64_t sl_hist_lowest_equivalent(uint64_t value_us);
uint64_t sl_hist_highest_equivalent(uint64_t value_us);
/* Value represented by counts index i (the lowest value of its bucket). */
uint64_t sl_hist_value_at_index(uint32_t i);

#endif
