/* HDR histogram of microsecond latencies (see hist.h). Each sl_hist_t owns one counts array
 * of fixed size, allocated in sl_hist_init and never resized, so recording never allocates
 * and two histograms always have the same layout and merge element by element.
 *
 * Layout, for the fixed configuration (lowest 1 us, highest 3.6e9 us, 3 significant digits):
 * a value v is split into a bucket, how many places its highest set bit lies above bit 10
 * (0 for v < 2048), and a sub-bucket, v shifted right by that many places, which always
 * lands in 1024..2047 (or 0..2047 in bucket 0). Bucket b therefore holds values in steps of 2^b,
 * and every value is kept to within 1 part in 1024. Only the upper half of each bucket's
 * sub-buckets is stored for b > 0, because the lower half would repeat the range of bucket b - 1.
 */
#include "stats/hist.h"

#include "sl.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Derived from SL_HIST_SIGFIGS = 3: one unit of resolution must be kept up to 2 * 10^3,
 * and the next power of two, 2048 = 2^11, is the sub-bucket count. */
#define SUB_BUCKET_COUNT_MAGNITUDE 11
#define SUB_BUCKET_HALF_COUNT_MAGNITUDE (SUB_BUCKET_COUNT_MAGNITUDE - 1)
#define SUB_BUCKET_COUNT (1U << SUB_BUCKET_COUNT_MAGNITUDE)           /* 2048 */
#define SUB_BUCKET_HALF_COUNT (1U << SUB_BUCKET_HALF_COUNT_MAGNITUDE) /* 1024 */
#define SUB_BUCKET_MASK ((uint64_t)SUB_BUCKET_COUNT - 1)
/* SL_HIST_LOWEST_US is 1, so values are stored in units of 1 us. */
#define UNIT_MAGNITUDE 0

/* Buckets needed so that SUB_BUCKET_COUNT << (BUCKET_COUNT - 1) exceeds the highest value:
 * 2048 << 21 = 2^32 > 3.6e9, so 22 buckets. */
#define BUCKET_COUNT 22
/* (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT = 23552 counts, 188,416 bytes. */
#define COUNTS_LEN ((uint32_t)(BUCKET_COUNT + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE)

_Static_assert(SL_HIST_LOWEST_US == 1, "unit magnitude 0 assumes a lowest value of 1");
_Static_assert(((uint64_t)SUB_BUCKET_COUNT << (BUCKET_COUNT - 1)) > SL_HIST_HIGHEST_US &&
                   ((uint64_t)SUB_BUCKET_COUNT << (BUCKET_COUNT - 2)) <= SL_HIST_HIGHEST_US,
               "BUCKET_COUNT does not match SL_HIST_HIGHEST_US");

static inline uint64_t clamp_value(uint64_t v)
{
    if (SL_UNLIKELY(v < SL_HIST_LOWEST_US))
        v = SL_HIST_LOWEST_US;
    if (SL_UNLIKELY(v > SL_HIST_HIGHEST_US))
        v = SL_HIST_HIGHEST_US;
    return v;
}

/* Bucket of v: how far v must be shifted right for it to fit in SUB_BUCKET_COUNT. OR-ing
 * the mask in makes every v < 2048 land in bucket 0 and keeps clz's argument non-zero. */
static inline unsigned bucket_of(uint64_t v)
{
    unsigned pow2_ceiling = 64U - (unsigned)__builtin_clzll(v | SUB_BUCKET_MASK);
    return pow2_ceiling - UNIT_MAGNITUDE - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1);
}

/* Counts index of an already clamped value: a handful of instructions, no branches. */
static inline uint32_t index_of(uint64_t v)
{
    unsigned bucket = bucket_of(v);
    uint32_t sub_bucket = (uint32_t)(v >> (bucket + UNIT_MAGNITUDE));
    return ((uint32_t)(bucket + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) +
           (sub_bucket - SUB_BUCKET_HALF_COUNT);
}

/* Width of the range of values that share v's index (v clamped). */
static inline uint64_t equivalent_range(uint64_t v)
{
    return 1ULL << (bucket_of(v) + UNIT_MAGNITUDE);
}

static inline uint64_t lowest_equivalent(uint64_t v)
{
    unsigned bucket = bucket_of(v);
    return (v >> (bucket + UNIT_MAGNITUDE)) << (bucket + UNIT_MAGNITUDE);
}

static inline uint64_t value_at_index(uint32_t i)
{
    int bucket = (int)(i >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1;
    uint32_t sub_bucket = (i & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if (bucket < 0) {
        /* Bucket 0 also stores its lower half: indices 0..1023 are the values 0..1023. */
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    return (uint64_t)sub_bucket << (bucket + UNIT_MAGNITUDE);
}

int sl_hist_init(sl_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
    h->counts = calloc(COUNTS_LEN, sizeof(*h->counts));
    if (!h->counts)
        return SL_ENOMEM;
    h->counts_len = COUNTS_LEN;
    return SL_OK;
}

void sl_hist_dispose(sl_hist_t *h)
{
    free(h->counts);
    memset(h, 0, sizeof(*h));
}

void sl_hist_reset(sl_hist_t *h)
{
    if (h->counts)
        memset(h->counts, 0, (size_t)h->counts_len * sizeof(*h->counts));
    h->total_count = 0;
    h->min_us = UINT64_MAX;
    h->max_us = 0;
    h->sum_us = 0;
}

/* The hot path: two predictable clamp branches, one clz, a shift, an add and four
 * read-modify-writes on memory that is already in cache for a busy worker. */
void sl_hist_record(sl_hist_t *h, uint64_t value_us)
{
    uint64_t v = clamp_value(value_us);
    h->counts[index_of(v)]++;
    h->total_count++;
    h->sum_us += v;
    if (v < h->min_us)
        h->min_us = v;
    if (v > h->max_us)
        h->max_us = v;
}

/* sum_us wraps only after about 5e9 hour-long values, far beyond any run. */
void sl_hist_record_n(sl_hist_t *h, uint64_t value_us, uint64_t n)
{
    if (n == 0)
        return;
    uint64_t v = clamp_value(value_us);
    h->counts[index_of(v)] += n;
    h->total_count += n;
    h->sum_us += v * n;
    if (v < h->min_us)
        h->min_us = v;
    if (v > h->max_us)
        h->max_us = v;
}

void sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src)
{
    /* Every histogram is built by sl_hist_init with the same layout; anything else is a
     * broken invariant, not an input error. */
    assert(dst->counts_len == src->counts_len);
    if (src->total_count == 0)
        return;
    for (uint32_t i = 0; i < src->counts_len; i++)
        dst->counts[i] += src->counts[i];
    dst->total_count += src->total_count;
    dst->sum_us += src->sum_us;
    if (src->min_us < dst->min_us)
        dst->min_us = src->min_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

/* Rank (1-based) of the value at percentile p: ceil(p / 100 * total), at least 1 and at most
 * total. p / 100 is rarely exact in binary, so a product that should be an integer can come
 * out a hair above it (99.9% of 1000 as 999.0000000000001) and ceil would then step one rank
 * too far (or 99.99% of 10000 as 9998.999999999998, which is harmless). A product within a
 * few rounding errors (16 ulp) of an integer is taken as that integer. */
static uint64_t rank_at(double p, uint64_t total)
{
    double want = p / 100.0 * (double)total;
    double nearest = nearbyint(want);
    double rank = fabs(want - nearest) <= want * 16 * DBL_EPSILON ? nearest : ceil(want);
    if (rank < 1.0)
        return 1;
    if (rank >= (double)total)
        return total;
    return (uint64_t)rank;
}

/* Walks counts from the minimum's index: at most COUNTS_LEN additions (about 23k), cheap
 * next to a report, never done on the hot path. */
uint64_t sl_hist_percentile(const sl_hist_t *h, double p)
{
    if (h->total_count == 0)
        return 0;
    if (!(p > 0.0)) /* also catches NaN */
        return h->min_us;
    if (p >= 100.0)
        return h->max_us;

    uint64_t rank = rank_at(p, h->total_count);
    uint64_t running = 0;
    for (uint32_t i = index_of(h->min_us); i < h->counts_len; i++) {
        running += h->counts[i];
        if (running >= rank) {
            uint64_t lo = value_at_index(i);
            uint64_t v = lo + equivalent_range(lo) - 1;
            if (v < h->min_us)
                v = h->min_us;
            if (v > h->max_us)
                v = h->max_us;
            return v;
        }
    }
    /* Only reachable if counts and total_count disagree. */
    return h->max_us;
}

double sl_hist_mean(const sl_hist_t *h)
{
    if (h->total_count == 0)
        return 0.0;
    return (double)h->sum_us / (double)h->total_count;
}

/* The public helpers clamp like sl_hist_record, so sl_hist_index_of(v) is always the index
 * that recording v increments, and is always below counts_len. */
uint32_t sl_hist_index_of(uint64_t value_us)
{
    return index_of(clamp_value(value_us));
}

uint64_t sl_hist_lowest_equivalent(uint64_t value_us)
{
    return lowest_equivalent(clamp_value(value_us));
}

uint64_t sl_hist_highest_equivalent(uint64_t value_us)
{
    uint64_t v = clamp_value(value_us);
    return lowest_equivalent(v) + equivalent_range(v) - 1;
}

uint64_t sl_hist_value_at_index(uint32_t i)
{
    return value_at_index(i);
}
