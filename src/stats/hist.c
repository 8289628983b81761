/* HDR histogram of microsecond latencies (see hist.h). The counts form HdrHistogram's fixed
 * layout of COUNTS_LEN entries, stored in chunks allocated on first touch, so two
 * histograms always share the layout and merge chunk by chunk, and memory follows the
 * range of values seen rather than the range that could be.
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

_Static_assert(COUNTS_LEN == SL_HIST_COUNTS_LEN, "SL_HIST_COUNTS_LEN does not match the layout");
_Static_assert(COUNTS_LEN % SL_HIST_CHUNK_LEN == 0, "chunks must tile the layout");

#define CHUNK_MASK (SL_HIST_CHUNK_LEN - 1)

static inline size_t chunk_bytes(const sl_hist_t *h)
{
    return (size_t)SL_HIST_CHUNK_LEN * (h->narrow ? sizeof(uint32_t) : sizeof(uint64_t));
}

/* First and last chunk that may hold counts: those of the minimum and the maximum. */
static inline uint32_t first_chunk(const sl_hist_t *h)
{
    return index_of(h->min_us) >> SL_HIST_CHUNK_SHIFT;
}

static inline uint32_t last_chunk(const sl_hist_t *h)
{
    return index_of(h->max_us) >> SL_HIST_CHUNK_SHIFT;
}

static inline uint64_t chunk_get(const sl_hist_t *h, const void *c, uint32_t j)
{
    return h->narrow ? ((const uint32_t *)c)[j] : ((const uint64_t *)c)[j];
}

void sl_hist_init(sl_hist_t *h, sl_hist_width_t width)
{
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
    h->narrow = width == SL_HIST_NARROW;
}

void sl_hist_dispose(sl_hist_t *h)
{
    if (h->chunks) {
        for (uint32_t c = 0; c < SL_HIST_NCHUNKS; c++)
            free(h->chunks[c]);
        free(h->chunks);
    }
    free(h->pairs);
    memset(h, 0, sizeof(*h));
}

void sl_hist_reset(sl_hist_t *h)
{
    if (h->total_count && h->chunks) {
        for (uint32_t c = first_chunk(h), end = last_chunk(h); c <= end; c++)
            if (h->chunks[c])
                memset(h->chunks[c], 0, chunk_bytes(h));
    }
    h->npairs = 0;
    h->total_count = 0;
    h->min_us = UINT64_MAX;
    h->max_us = 0;
    h->sum_us = 0;
}

/* ---- sparse form: sorted (index, count) pairs ---- */

/* Position of the first pair whose index is >= i. */
static uint32_t pair_pos(const sl_hist_t *h, uint32_t i)
{
    uint32_t lo = 0, hi = h->npairs;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (h->pairs[mid].index < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool reserve_pairs(sl_hist_t *h, uint32_t n)
{
    if (n <= h->pairs_cap)
        return true;
    uint32_t cap = h->pairs_cap ? h->pairs_cap : 4;
    while (cap < n)
        cap *= 2;
    sl_hist_pair_t *p = realloc(h->pairs, cap * sizeof(*p));
    if (!p)
        return false;
    h->pairs = p;
    h->pairs_cap = (uint16_t)cap;
    return true;
}

/* Adds n at index i while sparse. The caller made sure the total stays within 32 bits, so
 * no pair's count can overflow. False when a new pair needs memory that is not there, or
 * when the histogram is full (SL_HIST_MAX_PAIRS pairs) and must become chunked. */
static bool sparse_add(sl_hist_t *h, uint32_t i, uint64_t n)
{
    uint32_t pos = pair_pos(h, i);
    if (pos < h->npairs && h->pairs[pos].index == i) {
        h->pairs[pos].count += (uint32_t)n;
        h->last_pair = (uint16_t)pos;
        return true;
    }
    if (h->npairs == SL_HIST_MAX_PAIRS || !reserve_pairs(h, h->npairs + 1U))
        return false;
    memmove(&h->pairs[pos + 1], &h->pairs[pos], (h->npairs - pos) * sizeof(*h->pairs));
    h->pairs[pos] = (sl_hist_pair_t){.index = i, .count = (uint32_t)n};
    h->npairs++;
    h->last_pair = (uint16_t)pos;
    return true;
}

/* ---- chunked form ---- */

/* The chunk for index i, allocated (zeroed) on first use; NULL when memory ran out. Off
 * the hot path: a busy row touches a handful of chunks in its first requests. */
static SL_NOINLINE void *touch_chunk(sl_hist_t *h, uint32_t c)
{
    if (!h->chunks[c]) {
        h->chunks[c] = calloc(1, chunk_bytes(h));
        if (!h->chunks[c])
            return NULL;
        h->nchunks++;
    }
    return h->chunks[c];
}

static inline void chunk_add(sl_hist_t *h, void *c, uint32_t i, uint64_t n)
{
    if (h->narrow)
        ((uint32_t *)c)[i & CHUNK_MASK] += (uint32_t)n;
    else
        ((uint64_t *)c)[i & CHUNK_MASK] += n;
}

/* Sparse to chunked, all or nothing: on failure the histogram is left as it was. */
static SL_NOINLINE bool to_chunks(sl_hist_t *h)
{
    void **chunks = calloc(SL_HIST_NCHUNKS, sizeof(*chunks));
    if (!chunks)
        return false;
    sl_hist_t t = *h;
    t.chunks = chunks;
    t.nchunks = 0;
    for (uint32_t k = 0; k < h->npairs; k++) {
        uint32_t i = h->pairs[k].index;
        void *c = touch_chunk(&t, i >> SL_HIST_CHUNK_SHIFT);
        if (!c) {
            for (uint32_t j = 0; j < SL_HIST_NCHUNKS; j++)
                free(chunks[j]);
            free(chunks);
            return false;
        }
        chunk_add(&t, c, i, h->pairs[k].count);
    }
    free(h->pairs);
    h->pairs = NULL;
    h->npairs = h->pairs_cap = 0;
    h->chunks = chunks;
    h->nchunks = t.nchunks;
    return true;
}

/* A narrow chunked histogram becomes wide before any of its counts could pass 2^32 - 1
 * (no count exceeds the total, so it is enough to watch the total). All or nothing. */
static SL_NOINLINE bool widen(sl_hist_t *h)
{
    uint64_t *wide[SL_HIST_NCHUNKS] = {0};
    for (uint32_t c = 0; c < SL_HIST_NCHUNKS; c++) {
        if (!h->chunks[c])
            continue;
        wide[c] = malloc(SL_HIST_CHUNK_LEN * sizeof(uint64_t));
        if (!wide[c]) {
            for (uint32_t k = 0; k < c; k++)
                free(wide[k]);
            return false;
        }
        const uint32_t *narrow = h->chunks[c];
        for (uint32_t j = 0; j < SL_HIST_CHUNK_LEN; j++)
            wide[c][j] = narrow[j];
    }
    for (uint32_t c = 0; c < SL_HIST_NCHUNKS; c++) {
        if (wide[c]) {
            free(h->chunks[c]);
            h->chunks[c] = wide[c];
        }
    }
    h->narrow = false;
    return true;
}

/* 32-bit counts (narrow chunks, sparse pairs) hold any total up to 2^32 - 1; past that a
 * histogram must be chunked and wide. */
static SL_NOINLINE bool make_room(sl_hist_t *h)
{
    if (!h->chunks && !to_chunks(h))
        return false;
    if (h->narrow && !widen(h))
        return false;
    return true;
}

static inline bool has_room(sl_hist_t *h, uint64_t n)
{
    if (SL_LIKELY(h->total_count + n <= UINT32_MAX || (h->chunks && !h->narrow)))
        return true;
    return make_room(h);
}

/* Adds n at index i when the fast path found no chunk: sparse, or a chunk to allocate. */
static SL_NOINLINE bool add_slow(sl_hist_t *h, uint32_t i, uint64_t n)
{
    if (!h->chunks) {
        if (sparse_add(h, i, n))
            return true;
        if (h->npairs < SL_HIST_MAX_PAIRS || !to_chunks(h))
            return false; /* out of memory */
    }
    void *c = touch_chunk(h, i >> SL_HIST_CHUNK_SHIFT);
    if (!c)
        return false;
    chunk_add(h, c, i, n);
    return true;
}

/* The hot path: two predictable clamp branches, one clz, a shift, a chunk load, an add
 * and four read-modify-writes on memory that is already in cache for a busy worker. */
bool sl_hist_record_n(sl_hist_t *h, uint64_t value_us, uint64_t n)
{
    if (n == 0)
        return true;
    uint64_t v = clamp_value(value_us);
    uint32_t i = index_of(v);
    if (SL_UNLIKELY(!has_room(h, n)))
        goto fail;
    void *c = h->chunks ? h->chunks[i >> SL_HIST_CHUNK_SHIFT] : NULL;
    if (SL_LIKELY(c != NULL))
        chunk_add(h, c, i, n);
    else if (!h->chunks && h->last_pair < h->npairs && h->pairs[h->last_pair].index == i)
        /* Sparse, and the same bucket as last time (a closed model's send lag is 0 on every
         * request, a quiet row's latency sits in a few buckets): no search, no call. The
         * total is within 32 bits (has_room), so the count cannot overflow. */
        h->pairs[h->last_pair].count += (uint32_t)n;
    else if (!add_slow(h, i, n))
        goto fail;
    h->total_count += n;
    /* sum_us wraps only after about 5e9 hour-long values, far beyond any run. */
    h->sum_us += v * n;
    if (v < h->min_us)
        h->min_us = v;
    if (v > h->max_us)
        h->max_us = v;
    return true;
fail:
    h->failed = true;
    return false;
}

bool sl_hist_record(sl_hist_t *h, uint64_t value_us)
{
    return sl_hist_record_n(h, value_us, 1);
}

/* Distinct indices of two sparse histograms together. */
static uint32_t union_pairs(const sl_hist_t *a, const sl_hist_t *b)
{
    uint32_t n = 0, i = 0, j = 0;
    while (i < a->npairs || j < b->npairs) {
        if (j == b->npairs || (i < a->npairs && a->pairs[i].index < b->pairs[j].index))
            i++;
        else if (i == a->npairs || b->pairs[j].index < a->pairs[i].index)
            j++;
        else
            i++, j++;
        n++;
    }
    return n;
}

/* Makes sure every count of src can be added to dst without allocating. */
static bool reserve_merge(sl_hist_t *dst, const sl_hist_t *src)
{
    if (!has_room(dst, src->total_count))
        return false;
    if (!dst->chunks && src->chunks && !to_chunks(dst))
        return false;
    if (!dst->chunks) {
        uint32_t need = union_pairs(dst, src);
        if (need <= SL_HIST_MAX_PAIRS)
            return reserve_pairs(dst, need);
        if (!to_chunks(dst))
            return false;
    }
    if (src->chunks) {
        for (uint32_t c = first_chunk(src), end = last_chunk(src); c <= end; c++)
            if (src->chunks[c] && !touch_chunk(dst, c))
                return false;
    } else {
        for (uint32_t k = 0; k < src->npairs; k++)
            if (!touch_chunk(dst, src->pairs[k].index >> SL_HIST_CHUNK_SHIFT))
                return false;
    }
    return true;
}

bool sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src)
{
    if (src->total_count == 0)
        return true;
    /* Allocate first, so a failure leaves dst's counts exactly as they were. */
    if (!reserve_merge(dst, src)) {
        dst->failed = true;
        return false;
    }
    if (!src->chunks) {
        for (uint32_t k = 0; k < src->npairs; k++) {
            uint32_t i = src->pairs[k].index;
            if (dst->chunks)
                chunk_add(dst, dst->chunks[i >> SL_HIST_CHUNK_SHIFT], i, src->pairs[k].count);
            else
                sparse_add(dst, i, src->pairs[k].count); /* cannot fail: reserved */
        }
    } else {
        for (uint32_t c = first_chunk(src), end = last_chunk(src); c <= end; c++) {
            const void *s = src->chunks[c];
            if (!s)
                continue;
            if (dst->narrow) {
                /* No count of src exceeds its total, and has_room made sure that dst's
                 * total plus src's fits in 32 bits, so every sum does. */
                uint32_t *d = dst->chunks[c];
                for (uint32_t j = 0; j < SL_HIST_CHUNK_LEN; j++)
                    d[j] += (uint32_t)chunk_get(src, s, j);
            } else {
                uint64_t *d = dst->chunks[c];
                for (uint32_t j = 0; j < SL_HIST_CHUNK_LEN; j++)
                    d[j] += chunk_get(src, s, j);
            }
        }
    }
    dst->total_count += src->total_count;
    dst->sum_us += src->sum_us;
    if (src->min_us < dst->min_us)
        dst->min_us = src->min_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
    return true;
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

/* The highest value of index i's bucket, within [min, max]. */
static uint64_t clamp_to_range(const sl_hist_t *h, uint32_t i)
{
    uint64_t lo = value_at_index(i);
    uint64_t v = lo + equivalent_range(lo) - 1;
    if (v < h->min_us)
        v = h->min_us;
    if (v > h->max_us)
        v = h->max_us;
    return v;
}

/* Walks the pairs, or the chunks from the minimum's to the maximum's, skipping those never touched:
 * cheap next to a report, never done on the hot path. */
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
    for (uint32_t k = 0; !h->chunks && k < h->npairs; k++) {
        running += h->pairs[k].count;
        if (running >= rank)
            return clamp_to_range(h, h->pairs[k].index);
    }
    for (uint32_t c = first_chunk(h), end = last_chunk(h); h->chunks && c <= end; c++) {
        const void *chunk = h->chunks[c];
        if (!chunk)
            continue;
        for (uint32_t j = 0; j < SL_HIST_CHUNK_LEN; j++) {
            running += chunk_get(h, chunk, j);
            if (running >= rank)
                return clamp_to_range(h, (c << SL_HIST_CHUNK_SHIFT) + j);
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

uint64_t sl_hist_count_at(const sl_hist_t *h, uint32_t i)
{
    if (i >= COUNTS_LEN)
        return 0;
    if (!h->chunks) {
        uint32_t pos = pair_pos(h, i);
        return pos < h->npairs && h->pairs[pos].index == i ? h->pairs[pos].count : 0;
    }
    const void *c = h->chunks[i >> SL_HIST_CHUNK_SHIFT];
    return c ? chunk_get(h, c, i & CHUNK_MASK) : 0;
}

size_t sl_hist_memory(const sl_hist_t *h)
{
    if (!h->chunks)
        return (size_t)h->pairs_cap * sizeof(*h->pairs);
    return SL_HIST_NCHUNKS * sizeof(*h->chunks) + (size_t)h->nchunks * chunk_bytes(h);
}
