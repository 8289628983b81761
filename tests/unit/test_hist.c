/* Unit tests for the HDR histogram (src/stats/hist.c): the value <-> index mapping at its
 * edges and over every index, percentiles against a sorted-array oracle, exact min, max,
 * mean and count, exact merge, reset and record_n. Nothing here is timed; speed is for
 * the benchmarks. */
#include <criterion/criterion.h>

#include "sl.h"
#include "stats/hist.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* (22 buckets + 1) * 1024 half sub-buckets, fixed by the configuration in hist.h. */
#define EXPECTED_COUNTS_LEN 23552U

/* Deterministic xorshift64* generator so that a failure reproduces exactly. */
typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi]; the modulo bias is irrelevant here. */
static uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(r) % (hi - lo + 1);
}

/* Uniform in (0, 1). */
static double rng_unit(rng_t *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal by Box-Muller. */
static double rng_normal(rng_t *r)
{
    const double two_pi = 6.283185307179586;
    return sqrt(-2.0 * log(rng_unit(r))) * cos(two_pi * rng_unit(r));
}

static uint64_t clamp_us(uint64_t v)
{
    if (v < SL_HIST_LOWEST_US)
        return SL_HIST_LOWEST_US;
    if (v > SL_HIST_HIGHEST_US)
        return SL_HIST_HIGHEST_US;
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Histograms start narrow in half the tests' calls and wide in the other half, so both
 * count widths go through every check; the results must not differ. */
static unsigned inits;

static void hist_init_or_fail(sl_hist_t *h)
{
    sl_hist_init(h, inits++ % 2 ? SL_HIST_NARROW : SL_HIST_WIDE);
    cr_assert_null(h->chunks, "nothing is allocated before the first value");
    cr_assert_eq(sl_hist_memory(h), 0);
}

/* ---- value <-> index ---- */

Test(hist_index, layout_and_memory)
{
    sl_hist_t h;
    hist_init_or_fail(&h);
    cr_assert_eq(h.total_count, 0);
    cr_assert_eq(h.min_us, UINT64_MAX);
    cr_assert_eq(h.max_us, 0);
    cr_assert_eq(h.sum_us, 0);
    cr_assert_eq(SL_HIST_COUNTS_LEN, EXPECTED_COUNTS_LEN);
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        cr_assert_eq(sl_hist_count_at(&h, i), 0);
    /* The largest index in use is that of the highest trackable value, and the array
     * ends within the last bucket. */
    cr_assert_lt(sl_hist_index_of(SL_HIST_HIGHEST_US), SL_HIST_COUNTS_LEN);
    cr_assert_gt(sl_hist_index_of(SL_HIST_HIGHEST_US), SL_HIST_COUNTS_LEN - 1024);
    sl_hist_dispose(&h);
    cr_assert_null(h.chunks);
}

Test(hist_index, exact_below_2048)
{
    for (uint64_t v = 1; v < 2048; v++) {
        cr_assert_eq(sl_hist_index_of(v), v, "index_of(%llu)", (unsigned long long)v);
        cr_assert_eq(sl_hist_lowest_equivalent(v), v);
        cr_assert_eq(sl_hist_highest_equivalent(v), v);
        cr_assert_eq(sl_hist_value_at_index((uint32_t)v), v);
    }
}

typedef struct edge_case {
    uint64_t value;
    uint32_t index;
    uint64_t lowest;
    uint64_t highest;
} edge_case_t;

Test(hist_index, edges)
{
    static const edge_case_t cases[] = {
        {0, 1, 1, 1}, /* clamped to 1 */
        {1, 1, 1, 1},
        {2, 2, 2, 2},
        {1023, 1023, 1023, 1023},
        {1024, 1024, 1024, 1024},
        {2047, 2047, 2047, 2047},
        /* Bucket 1: steps of 2, indices 2048..3071. */
        {2048, 2048, 2048, 2049},
        {2049, 2048, 2048, 2049},
        {2050, 2049, 2050, 2051},
        {4094, 3071, 4094, 4095},
        {4095, 3071, 4094, 4095},
        /* Bucket 2: steps of 4. */
        {4096, 3072, 4096, 4099},
        {4099, 3072, 4096, 4099},
        {4100, 3073, 4100, 4103},
        {8191, 4095, 8188, 8191},
        {8192, 4096, 8192, 8199},
        /* 1,000,000 = 2^19 + ...: bucket 9, sub-bucket 1953, steps of 512. */
        {1000000, (10U << 10) + 1953 - 1024, 999936, 1000447},
        /* The highest value: bucket 21, sub-bucket 1716, steps of 2^21. */
        {SL_HIST_HIGHEST_US, (22U << 10) + 1716 - 1024, 1716ULL << 21, (1717ULL << 21) - 1},
        /* Above the highest: clamped to it. */
        {SL_HIST_HIGHEST_US + 1, (22U << 10) + 1716 - 1024, 1716ULL << 21, (1717ULL << 21) - 1},
        {UINT64_MAX, (22U << 10) + 1716 - 1024, 1716ULL << 21, (1717ULL << 21) - 1},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const edge_case_t *c = &cases[k];
        unsigned long long v = c->value;
        cr_assert_eq(sl_hist_index_of(c->value), c->index, "index_of(%llu) = %u, want %u", v,
                     sl_hist_index_of(c->value), c->index);
        cr_assert_eq(sl_hist_lowest_equivalent(c->value), c->lowest, "lowest(%llu)", v);
        cr_assert_eq(sl_hist_highest_equivalent(c->value), c->highest, "highest(%llu)", v);
        cr_assert_eq(sl_hist_value_at_index(c->index), c->lowest, "value_at(%u)", c->index);
    }
}

Test(hist_index, powers_of_two)
{
    /* 2^k for k >= 11 starts bucket k - 10 at sub-bucket 1024, steps of 2^(k-10). */
    uint32_t prev_index = 0;
    for (unsigned k = 0; k < 32; k++) {
        uint64_t v = 1ULL << k;
        uint32_t i = sl_hist_index_of(v);
        uint64_t width = k < 11 ? 1 : 1ULL << (k - 10);
        cr_assert_eq(sl_hist_lowest_equivalent(v), v, "2^%u", k);
        cr_assert_eq(sl_hist_highest_equivalent(v), v + width - 1, "2^%u", k);
        cr_assert_eq(sl_hist_value_at_index(i), v, "2^%u", k);
        if (k > 0) {
            cr_assert_gt(i, prev_index);
            /* The value just below a power of two is in the previous index. */
            cr_assert_eq(sl_hist_index_of(v - 1), i - 1, "2^%u - 1", k);
        }
        if (k >= 11)
            cr_assert_eq(i, ((k - 10 + 1) << 10), "index of 2^%u", k);
        prev_index = i;
    }
    /* 2^32 is above the highest value and clamps onto it. */
    cr_assert_eq(sl_hist_index_of(1ULL << 32), sl_hist_index_of(SL_HIST_HIGHEST_US));
    cr_assert_eq(sl_hist_index_of(1ULL << 63), sl_hist_index_of(SL_HIST_HIGHEST_US));
}

/* Every index from 1 up to the highest value's: value_at_index and index_of invert each
 * other, the equivalence ranges tile the values with no gap or overlap, and each range is
 * narrower than 1/1024 of its values. */
Test(hist_index, every_index_round_trips)
{
    uint32_t last = sl_hist_index_of(SL_HIST_HIGHEST_US);
    uint64_t expect_next = 1;
    for (uint32_t i = 1; i <= last; i++) {
        uint64_t lo = sl_hist_value_at_index(i);
        cr_assert_eq(lo, expect_next, "gap or overlap at index %u", i);
        cr_assert_eq(sl_hist_index_of(lo), i, "index %u", i);
        cr_assert_eq(sl_hist_lowest_equivalent(lo), lo, "index %u", i);
        uint64_t hi = sl_hist_highest_equivalent(lo);
        cr_assert_geq(hi, lo);
        if (hi <= SL_HIST_HIGHEST_US) {
            cr_assert_eq(sl_hist_index_of(hi), i, "index %u", i);
            cr_assert_eq(sl_hist_lowest_equivalent(hi), lo, "index %u", i);
        }
        uint64_t width = hi - lo + 1;
        if (lo < 2048)
            cr_assert_eq(width, 1, "index %u", i);
        else
            cr_assert_leq(width * 1024, lo, "index %u too wide", i);
        expect_next = hi + 1;
    }
    cr_assert_gt(expect_next, SL_HIST_HIGHEST_US, "ranges end before the highest value");
}

Test(hist_index, random_values_within_range)
{
    rng_t r = {0x9E3779B97F4A7C15ULL};
    for (int k = 0; k < 200000; k++) {
        /* Log-uniform over the whole range, so every bucket is exercised. */
        unsigned bits = (unsigned)rng_range(&r, 1, 32);
        uint64_t v = clamp_us(rng_next(&r) >> (64 - bits));
        uint64_t lo = sl_hist_lowest_equivalent(v);
        uint64_t hi = sl_hist_highest_equivalent(v);
        uint32_t i = sl_hist_index_of(v);
        cr_assert(lo <= v && v <= hi, "v=%llu lo=%llu hi=%llu", (unsigned long long)v,
                  (unsigned long long)lo, (unsigned long long)hi);
        cr_assert_eq(sl_hist_index_of(lo), i);
        cr_assert_eq(sl_hist_value_at_index(i), lo);
        /* Three significant digits: everything in the range is within 0.1% of v. */
        cr_assert_lt((double)(hi - lo), (double)v / 1000.0, "v=%llu", (unsigned long long)v);
    }
}

/* ---- recording ---- */

Test(hist_record, clamps_and_never_loses)
{
    sl_hist_t h;
    hist_init_or_fail(&h);
    sl_hist_record(&h, 0);
    sl_hist_record(&h, 1);
    sl_hist_record(&h, SL_HIST_HIGHEST_US);
    sl_hist_record(&h, SL_HIST_HIGHEST_US + 1);
    sl_hist_record(&h, UINT64_MAX);
    cr_assert_eq(h.total_count, 5);
    cr_assert_eq(h.min_us, 1);
    cr_assert_eq(h.max_us, SL_HIST_HIGHEST_US);
    cr_assert_eq(h.sum_us, 2 + 3 * SL_HIST_HIGHEST_US);
    cr_assert_eq(sl_hist_count_at(&h, 0), 0);
    cr_assert_eq(sl_hist_count_at(&h, 1), 2);
    cr_assert_eq(sl_hist_count_at(&h, sl_hist_index_of(SL_HIST_HIGHEST_US)), 3);
    cr_assert_eq(sl_hist_percentile(&h, 0), 1);
    cr_assert_eq(sl_hist_percentile(&h, 40), 1);
    cr_assert_eq(sl_hist_percentile(&h, 41), SL_HIST_HIGHEST_US);
    cr_assert_eq(sl_hist_percentile(&h, 100), SL_HIST_HIGHEST_US);
    sl_hist_dispose(&h);
}

Test(hist_record, record_n_equals_repeated_record)
{
    sl_hist_t a, b;
    hist_init_or_fail(&a);
    hist_init_or_fail(&b);
    static const uint64_t values[] = {
        0, 7, 2048, 4097, 123456, 999999999, SL_HIST_HIGHEST_US, UINT64_MAX};
    for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
        uint64_t n = k + 1;
        sl_hist_record_n(&a, values[k], n);
        for (uint64_t j = 0; j < n; j++)
            sl_hist_record(&b, values[k]);
    }
    cr_assert_eq(a.total_count, 36);
    cr_assert_eq(a.total_count, b.total_count);
    cr_assert_eq(a.min_us, b.min_us);
    cr_assert_eq(a.max_us, b.max_us);
    cr_assert_eq(a.sum_us, b.sum_us);
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        cr_assert_eq(sl_hist_count_at(&a, i), sl_hist_count_at(&b, i), "counts[%u]", i);
    sl_hist_dispose(&a);
    sl_hist_dispose(&b);
}

Test(hist_record, record_n_zero_is_a_no_op)
{
    sl_hist_t h;
    hist_init_or_fail(&h);
    sl_hist_record_n(&h, 500, 0);
    cr_assert_eq(h.total_count, 0);
    cr_assert_eq(h.min_us, UINT64_MAX);
    cr_assert_eq(h.max_us, 0);
    cr_assert_eq(h.sum_us, 0);
    cr_assert_eq(sl_hist_count_at(&h, 500), 0);
    cr_assert_eq(sl_hist_memory(&h), 0);
    cr_assert_eq(sl_hist_percentile(&h, 50), 0);
    sl_hist_dispose(&h);
}

Test(hist_record, exact_min_max_mean_count)
{
    sl_hist_t h;
    hist_init_or_fail(&h);
    rng_t r = {42};
    uint64_t min = UINT64_MAX, max = 0, sum = 0;
    const int n = 100000;
    for (int k = 0; k < n; k++) {
        uint64_t v = rng_range(&r, 1, 50000000);
        sl_hist_record(&h, v);
        min = v < min ? v : min;
        max = v > max ? v : max;
        sum += v;
    }
    cr_assert_eq(h.total_count, (uint64_t)n);
    cr_assert_eq(h.min_us, min);
    cr_assert_eq(h.max_us, max);
    cr_assert_eq(h.sum_us, sum);
    cr_assert_eq(sl_hist_percentile(&h, 0), min);
    cr_assert_eq(sl_hist_percentile(&h, 100), max);
    cr_assert_float_eq(sl_hist_mean(&h), (double)sum / n, 1e-9);
    uint64_t total = 0;
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        total += sl_hist_count_at(&h, i);
    cr_assert_eq(total, (uint64_t)n);
    sl_hist_dispose(&h);
}

Test(hist_record, empty_returns_zero)
{
    static const double ps[] = {-1, 0, 0.001, 50, 99.99, 100, 200};
    sl_hist_t h;
    hist_init_or_fail(&h);
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++)
        cr_assert_eq(sl_hist_percentile(&h, ps[k]), 0, "p=%g", ps[k]);
    cr_assert_eq(sl_hist_percentile(&h, NAN), 0);
    cr_assert_float_eq(sl_hist_mean(&h), 0.0, 1e-12);
    sl_hist_dispose(&h);
}

Test(hist_record, single_value)
{
    static const double ps[] = {0, 1, 50, 99.999, 100};
    sl_hist_t h;
    hist_init_or_fail(&h);
    sl_hist_record(&h, 1234567);
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++)
        cr_assert_eq(sl_hist_percentile(&h, ps[k]), 1234567, "p=%g", ps[k]);
    cr_assert_float_eq(sl_hist_mean(&h), 1234567.0, 1e-9);
    sl_hist_dispose(&h);
}

Test(hist_record, reset_keeps_memory)
{
    sl_hist_t h;
    hist_init_or_fail(&h);
    for (uint64_t v = 1; v < 5000000; v += 997)
        sl_hist_record(&h, v);
    void **chunks = h.chunks;
    size_t bytes = sl_hist_memory(&h);
    sl_hist_reset(&h);
    cr_assert_eq(h.chunks, chunks);
    cr_assert_eq(sl_hist_memory(&h), bytes);
    cr_assert_eq(h.total_count, 0);
    cr_assert_eq(h.min_us, UINT64_MAX);
    cr_assert_eq(h.max_us, 0);
    cr_assert_eq(h.sum_us, 0);
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        cr_assert_eq(sl_hist_count_at(&h, i), 0, "counts[%u] survived reset", i);
    cr_assert_eq(sl_hist_percentile(&h, 50), 0);
    cr_assert_float_eq(sl_hist_mean(&h), 0.0, 1e-12);
    /* Usable again, with no trace of what came before. */
    sl_hist_record(&h, 10);
    sl_hist_record(&h, 30);
    cr_assert_eq(sl_hist_percentile(&h, 0), 10);
    cr_assert_eq(sl_hist_percentile(&h, 50), 10);
    cr_assert_eq(sl_hist_percentile(&h, 51), 30);
    cr_assert_float_eq(sl_hist_mean(&h), 20.0, 1e-12);
    sl_hist_dispose(&h);
}

Test(hist_record, dispose_zeroed_and_reinit)
{
    sl_hist_t h;
    memset(&h, 0, sizeof(h));
    sl_hist_dispose(&h);
    hist_init_or_fail(&h);
    sl_hist_record(&h, 5);
    sl_hist_dispose(&h);
    sl_hist_dispose(&h); /* dispose leaves h zeroed, so a second one is harmless */
    hist_init_or_fail(&h);
    cr_assert_eq(h.total_count, 0);
    cr_assert_eq(sl_hist_count_at(&h, 5), 0);
    sl_hist_dispose(&h);
}

/* ---- percentiles ---- */

/* Percentiles in hundredths, so the oracle's rank is exact integer arithmetic. */
static const uint32_t pct_x100[] = {0,    5000, 6600, 7500, 8000, 9000,
                                    9500, 9800, 9900, 9990, 9999, 10000};

/* The rank the header defines: ceil(p/100 * n), at least 1. */
static size_t oracle_rank(uint32_t p_x100, size_t n)
{
    size_t rank = ((size_t)p_x100 * n + 9999) / 10000;
    return rank < 1 ? 1 : rank;
}

/* Records values (clamping them into the oracle too), then checks every percentile two
 * ways: within 0.1% of the sorted array's element at the defined rank, and exactly equal
 * to the highest equivalent of that element clamped to [min, max], as the header
 * specifies. Takes ownership of nothing; sorts values in place. */
static void check_against_oracle(uint64_t *values, size_t n, const char *name)
{
    sl_hist_t h;
    hist_init_or_fail(&h);
    for (size_t k = 0; k < n; k++) {
        sl_hist_record(&h, values[k]);
        values[k] = clamp_us(values[k]);
    }
    qsort(values, n, sizeof(values[0]), cmp_u64);
    uint64_t min = values[0], max = values[n - 1];
    cr_assert_eq(h.total_count, n, "%s", name);
    cr_assert_eq(h.min_us, min, "%s", name);
    cr_assert_eq(h.max_us, max, "%s", name);

    for (size_t k = 0; k < sizeof(pct_x100) / sizeof(pct_x100[0]); k++) {
        double p = pct_x100[k] / 100.0;
        uint64_t want = values[oracle_rank(pct_x100[k], n) - 1];
        uint64_t got = sl_hist_percentile(&h, p);
        double rel = fabs((double)got - (double)want) / (double)want;
        cr_assert_leq(rel, 0.001, "%s: p%g = %llu, oracle %llu (rel %g)", name, p,
                      (unsigned long long)got, (unsigned long long)want, rel);
        uint64_t exact = sl_hist_highest_equivalent(want);
        exact = exact < min ? min : exact > max ? max : exact;
        if (pct_x100[k] == 0)
            exact = min;
        cr_assert_eq(got, exact, "%s: p%g = %llu, want %llu", name, p, (unsigned long long)got,
                     (unsigned long long)exact);
    }
    cr_assert_eq(sl_hist_percentile(&h, 0), min, "%s", name);
    cr_assert_eq(sl_hist_percentile(&h, 100), max, "%s", name);
    sl_hist_dispose(&h);
}

#define ORACLE_N 200000

Test(hist_percentile, uniform_1_to_1e6)
{
    uint64_t *v = malloc(ORACLE_N * sizeof(*v));
    cr_assert_not_null(v);
    rng_t r = {1};
    for (size_t k = 0; k < ORACLE_N; k++)
        v[k] = rng_range(&r, 1, 1000000);
    check_against_oracle(v, ORACLE_N, "uniform");
    free(v);
}

Test(hist_percentile, log_normal)
{
    uint64_t *v = malloc(ORACLE_N * sizeof(*v));
    cr_assert_not_null(v);
    rng_t r = {2};
    /* Median 5 ms, a long right tail reaching seconds: typical latencies. */
    for (size_t k = 0; k < ORACLE_N; k++) {
        double x = exp(log(5000.0) + 1.5 * rng_normal(&r));
        v[k] = x >= 1e12 ? 1000000000000ULL : (uint64_t)x;
    }
    check_against_oracle(v, ORACLE_N, "log-normal");
    free(v);
}

Test(hist_percentile, huge_outliers)
{
    uint64_t *v = malloc(ORACLE_N * sizeof(*v));
    cr_assert_not_null(v);
    rng_t r = {3};
    for (size_t k = 0; k < ORACLE_N; k++)
        v[k] = rng_range(&r, 100, 3000);
    /* A handful of pathological values: an hour, beyond an hour (clamped), zero (clamped),
     * and some seconds-long stalls sitting right at p99.99 and above. */
    v[17] = SL_HIST_HIGHEST_US;
    v[1000] = SL_HIST_HIGHEST_US + 999;
    v[2000] = UINT64_MAX;
    v[3000] = 0;
    for (size_t k = 0; k < 25; k++)
        v[5000 + k * 7000] = rng_range(&r, 1000000, 2000000000);
    check_against_oracle(v, ORACLE_N, "outliers");
    free(v);
}

Test(hist_percentile, odd_sizes)
{
    static const size_t sizes[] = {1, 2, 3, 7, 10, 99, 1001, 12345};
    rng_t r = {4};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t *v = malloc(sizes[s] * sizeof(*v));
        cr_assert_not_null(v);
        for (size_t k = 0; k < sizes[s]; k++)
            v[k] = rng_range(&r, 1, 100000000);
        check_against_oracle(v, sizes[s], "odd size");
        free(v);
    }
}

/* Values below 2048 are stored exactly, so the rank rule can be checked to the unit: with
 * 1..1000 recorded once each, percentile p is exactly ceil(10 p). This catches a rank that
 * is off by one, including through floating-point noise in p/100 * total. */
Test(hist_percentile, exact_rank_rule)
{
    static const struct {
        double p;
        uint64_t want;
    } cases[] = {
        {0, 1},      {0.05, 1},     {0.1, 1},      {0.11, 2},   {7, 70},     {14.1, 141},
        {29, 290},   {33.3, 333},   {50, 500},     {57, 570},   {66.6, 666}, {70, 700},
        {99.9, 999}, {99.91, 1000}, {99.99, 1000}, {100, 1000}, {-3, 1},     {250, 1000},
    };
    sl_hist_t h;
    hist_init_or_fail(&h);
    for (uint64_t v = 1000; v >= 1; v--)
        sl_hist_record(&h, v);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        cr_assert_eq(sl_hist_percentile(&h, cases[k].p), cases[k].want, "p%g = %llu, want %llu",
                     cases[k].p, (unsigned long long)sl_hist_percentile(&h, cases[k].p),
                     (unsigned long long)cases[k].want);
    cr_assert_eq(sl_hist_percentile(&h, NAN), 1);
    sl_hist_dispose(&h);
}

/* ---- merge ---- */

static void assert_same_hist(const sl_hist_t *a, const sl_hist_t *b)
{
    cr_assert_eq(a->total_count, b->total_count);
    cr_assert_eq(a->min_us, b->min_us);
    cr_assert_eq(a->max_us, b->max_us);
    cr_assert_eq(a->sum_us, b->sum_us);
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        cr_assert_eq(sl_hist_count_at(a, i), sl_hist_count_at(b, i), "counts[%u]: %llu vs %llu", i,
                     (unsigned long long)sl_hist_count_at(a, i),
                     (unsigned long long)sl_hist_count_at(b, i));
}

Test(hist_merge, equals_recording_everything_into_one)
{
    sl_hist_t a, b, all;
    hist_init_or_fail(&a);
    hist_init_or_fail(&b);
    hist_init_or_fail(&all);
    rng_t r = {5};
    for (int k = 0; k < 100000; k++) {
        uint64_t v = rng_range(&r, 1, 1000000);
        sl_hist_record(&a, v);
        sl_hist_record(&all, v);
    }
    for (int k = 0; k < 100000; k++) {
        uint64_t v = (uint64_t)exp(log(20000.0) + 2.0 * rng_normal(&r));
        if (k % 10000 == 0)
            v = k % 20000 ? 0 : UINT64_MAX; /* clamped extremes travel through merge too */
        sl_hist_record_n(&b, v, 1 + (uint64_t)(k % 3));
        sl_hist_record_n(&all, v, 1 + (uint64_t)(k % 3));
    }
    sl_hist_merge(&a, &b);
    assert_same_hist(&a, &all);
    cr_assert_eq(a.min_us, 1);
    cr_assert_eq(a.max_us, SL_HIST_HIGHEST_US);
    static const double ps[] = {0, 50, 90, 99, 99.9, 99.99, 100};
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++)
        cr_assert_eq(sl_hist_percentile(&a, ps[k]), sl_hist_percentile(&all, ps[k]));
    cr_assert_float_eq(sl_hist_mean(&a), sl_hist_mean(&all), 1e-9);
    sl_hist_dispose(&a);
    sl_hist_dispose(&b);
    sl_hist_dispose(&all);
}

Test(hist_merge, with_empty_histograms)
{
    sl_hist_t a, empty, copy;
    hist_init_or_fail(&a);
    hist_init_or_fail(&empty);
    hist_init_or_fail(&copy);
    for (uint64_t v = 3; v < 3000000; v = v * 3 + 1) {
        sl_hist_record(&a, v);
        sl_hist_record(&copy, v);
    }
    /* Merging an empty histogram changes nothing (its min of UINT64_MAX must not leak). */
    sl_hist_merge(&a, &empty);
    assert_same_hist(&a, &copy);
    /* Merging into an empty histogram gives a copy. */
    sl_hist_merge(&empty, &a);
    assert_same_hist(&empty, &copy);
    /* Empty into empty stays empty. */
    sl_hist_t e1, e2;
    hist_init_or_fail(&e1);
    hist_init_or_fail(&e2);
    sl_hist_merge(&e1, &e2);
    cr_assert_eq(e1.total_count, 0);
    cr_assert_eq(e1.min_us, UINT64_MAX);
    cr_assert_eq(e1.max_us, 0);
    cr_assert_eq(sl_hist_percentile(&e1, 50), 0);
    sl_hist_dispose(&a);
    sl_hist_dispose(&empty);
    sl_hist_dispose(&copy);
    sl_hist_dispose(&e1);
    sl_hist_dispose(&e2);
}

Test(hist_merge, many_workers)
{
    /* The reporter's case: several per-thread histograms folded into one. */
    enum { WORKERS = 8 };
    sl_hist_t w[WORKERS], total, all;
    hist_init_or_fail(&total);
    hist_init_or_fail(&all);
    rng_t r = {6};
    for (int t = 0; t < WORKERS; t++) {
        hist_init_or_fail(&w[t]);
        for (int k = 0; k < 20000; k++) {
            uint64_t v = rng_range(&r, 1, (uint64_t)1000 << (3 * t));
            sl_hist_record(&w[t], v);
            sl_hist_record(&all, v);
        }
    }
    for (int t = 0; t < WORKERS; t++)
        sl_hist_merge(&total, &w[t]);
    assert_same_hist(&total, &all);
    for (int t = 0; t < WORKERS; t++)
        sl_hist_dispose(&w[t]);
    sl_hist_dispose(&total);
    sl_hist_dispose(&all);
}

/* ---- memory that follows the recorded range, against the fixed layout ---- */

/* The oracle: the fixed layout every histogram had before chunks, a plain array of
 * SL_HIST_COUNTS_LEN 64-bit counts, with percentiles by the same walk. */
typedef struct dense {
    uint64_t counts[SL_HIST_COUNTS_LEN];
    uint64_t total, min, max;
} dense_t;

static void dense_record_n(dense_t *d, uint64_t v, uint64_t n)
{
    v = clamp_us(v);
    if (d->total == 0)
        d->min = UINT64_MAX;
    d->counts[sl_hist_index_of(v)] += n;
    d->total += n;
    d->min = v < d->min ? v : d->min;
    d->max = v > d->max ? v : d->max;
}

static uint64_t dense_percentile(const dense_t *d, double p)
{
    if (d->total == 0)
        return 0;
    if (p <= 0)
        return d->min;
    if (p >= 100)
        return d->max;
    double want = p / 100.0 * (double)d->total;
    double nearest = nearbyint(want);
    uint64_t rank =
        (uint64_t)(fabs(want - nearest) <= want * 16 * 2.220446049250313e-16 ? nearest
                                                                             : ceil(want));
    rank = rank < 1 ? 1 : rank > d->total ? d->total : rank;
    uint64_t running = 0;
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++) {
        running += d->counts[i];
        if (running >= rank) {
            uint64_t v = sl_hist_highest_equivalent(sl_hist_value_at_index(i));
            return v < d->min ? d->min : v > d->max ? d->max : v;
        }
    }
    return d->max;
}

static void assert_matches_dense(const sl_hist_t *h, const dense_t *d)
{
    cr_assert_eq(h->total_count, d->total);
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        cr_assert_eq(sl_hist_count_at(h, i), d->counts[i], "counts[%u]: %llu, want %llu", i,
                     (unsigned long long)sl_hist_count_at(h, i), (unsigned long long)d->counts[i]);
    static const double ps[] = {0, 1, 25, 50, 66, 75, 90, 95, 99, 99.9, 99.99, 100};
    for (size_t k = 0; k < SL_ARRAY_LEN(ps); k++)
        cr_assert_eq(sl_hist_percentile(h, ps[k]), dense_percentile(d, ps[k]), "p%g", ps[k]);
}

/* Bytes of a histogram holding `chunks` chunks of the given width. */
static size_t expected_bytes(uint32_t chunks, bool narrow)
{
    return SL_HIST_NCHUNKS * sizeof(void *) +
           (size_t)chunks * SL_HIST_CHUNK_LEN * (narrow ? sizeof(uint32_t) : sizeof(uint64_t));
}

Test(hist_memory, few_values_cost_a_few_pairs)
{
    static dense_t d;
    for (int narrow = 0; narrow <= 1; narrow++) {
        memset(&d, 0, sizeof(d));
        sl_hist_t h;
        sl_hist_init(&h, narrow ? SL_HIST_NARROW : SL_HIST_WIDE);
        cr_assert(sl_hist_record(&h, 1234567));
        dense_record_n(&d, 1234567, 1);
        cr_assert_null(h.chunks, "one value: sparse");
        cr_assert_leq(sl_hist_memory(&h), 64, "a row that saw one value: tens of bytes");
        /* Up to SL_HIST_MAX_PAIRS distinct buckets stay sparse, in at most 512 bytes. */
        for (uint32_t k = 0; k < SL_HIST_MAX_PAIRS - 1; k++) {
            uint64_t v = 5000 + 97 * (uint64_t)k; /* bucket 1: one index per value */
            sl_hist_record_n(&h, v, k + 1);
            dense_record_n(&d, v, k + 1);
        }
        cr_assert_null(h.chunks);
        cr_assert_eq(h.npairs, SL_HIST_MAX_PAIRS);
        cr_assert_leq(sl_hist_memory(&h), SL_HIST_MAX_PAIRS * sizeof(sl_hist_pair_t));
        assert_matches_dense(&h, &d);
        /* One more distinct bucket: chunked, with the same counts. */
        sl_hist_record(&h, 17);
        dense_record_n(&d, 17, 1);
        cr_assert_not_null(h.chunks);
        cr_assert_null(h.pairs);
        assert_matches_dense(&h, &d);
        sl_hist_dispose(&h);
    }
}

Test(hist_memory, follows_the_recorded_range)
{
    /* A typical loopback row, 80..900 us: 4 chunks of the 92, whatever the count. */
    sl_hist_t h;
    sl_hist_init(&h, SL_HIST_WIDE);
    rng_t r = {11};
    for (int k = 0; k < 200000; k++)
        sl_hist_record(&h, rng_range(&r, 80, 900));
    uint32_t want = (sl_hist_index_of(900) >> SL_HIST_CHUNK_SHIFT) -
                    (sl_hist_index_of(80) >> SL_HIST_CHUNK_SHIFT) + 1;
    cr_assert_eq(h.nchunks, want);
    cr_assert_eq(sl_hist_memory(&h), expected_bytes(want, false));
    cr_assert_lt(sl_hist_memory(&h), 12 * 1024);
    /* One outlier far away costs one more chunk, not the range in between. */
    sl_hist_record(&h, 30 * SL_US_PER_S);
    cr_assert_eq(h.nchunks, want + 1);
    /* Every value in the layout: every chunk up to the one of the highest trackable value
     * (values above it are clamped), as much as the fixed layout held. */
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        sl_hist_record(&h, sl_hist_value_at_index(i));
    cr_assert_eq(h.nchunks, (sl_hist_index_of(SL_HIST_HIGHEST_US) >> SL_HIST_CHUNK_SHIFT) + 1);
    cr_assert_leq(sl_hist_memory(&h), SL_HIST_COUNTS_LEN * sizeof(uint64_t) + 1024);
    sl_hist_dispose(&h);
}

Test(hist_memory, random_values_match_the_fixed_layout)
{
    static dense_t d;
    for (int narrow = 0; narrow <= 1; narrow++) {
        memset(&d, 0, sizeof(d));
        sl_hist_t h;
        sl_hist_init(&h, narrow ? SL_HIST_NARROW : SL_HIST_WIDE);
        rng_t r = {(uint64_t)(21 + narrow)};
        for (int k = 0; k < 100000; k++) {
            uint64_t v = (uint64_t)exp(log(3000.0) + 2.5 * rng_normal(&r));
            uint64_t n = 1 + rng_next(&r) % 4;
            sl_hist_record_n(&h, v, n);
            dense_record_n(&d, v, n);
        }
        assert_matches_dense(&h, &d);
        sl_hist_dispose(&h);
    }
}

Test(hist_memory, merge_of_different_ranges_and_widths)
{
    /* Each pair of widths, each pair of disjoint or overlapping ranges. */
    static dense_t d;
    /* Wide ranges become chunked; the last two stay sparse alone (tens of buckets of
     * 1024 us) but not together. */
    static const uint64_t ranges[][2] = {
        {1, 500}, {900000, 2000000}, {300, 70000}, {2000000, 2030000}, {3000000, 3040000}};
    for (int wd = 0; wd <= 1; wd++) {
        for (int ws = 0; ws <= 1; ws++) {
            for (size_t a = 0; a < SL_ARRAY_LEN(ranges); a++) {
                for (size_t b = 0; b < SL_ARRAY_LEN(ranges); b++) {
                    memset(&d, 0, sizeof(d));
                    sl_hist_t dst, src;
                    sl_hist_init(&dst, wd ? SL_HIST_NARROW : SL_HIST_WIDE);
                    sl_hist_init(&src, ws ? SL_HIST_NARROW : SL_HIST_WIDE);
                    rng_t r = {a * 7 + b + 1};
                    for (int k = 0; k < 3000; k++) {
                        uint64_t v = rng_range(&r, ranges[a][0], ranges[a][1]);
                        sl_hist_record(&dst, v);
                        dense_record_n(&d, v, 1);
                        v = rng_range(&r, ranges[b][0], ranges[b][1]);
                        sl_hist_record_n(&src, v, 2);
                        dense_record_n(&d, v, 2);
                    }
                    cr_assert(sl_hist_merge(&dst, &src));
                    assert_matches_dense(&dst, &d);
                    cr_assert_eq(dst.min_us, d.min);
                    cr_assert_eq(dst.max_us, d.max);
                    if (a == b && a >= 3)
                        cr_assert_null(dst.chunks, "few buckets together stay sparse");
                    sl_hist_dispose(&dst);
                    sl_hist_dispose(&src);
                }
            }
        }
    }
}

Test(hist_memory, reset_clears_the_touched_range_then_a_new_range_is_exact)
{
    static dense_t d;
    sl_hist_t h;
    sl_hist_init(&h, SL_HIST_NARROW);
    for (uint64_t v = 1; v < 40 * SL_US_PER_S; v = v * 5 / 4 + 1)
        sl_hist_record(&h, v);
    uint32_t chunks = h.nchunks;
    sl_hist_reset(&h);
    cr_assert_eq(h.nchunks, chunks, "reset keeps the memory");
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        cr_assert_eq(sl_hist_count_at(&h, i), 0, "counts[%u] survived reset", i);
    /* A second interval in another range; a reset between must leave nothing behind. */
    memset(&d, 0, sizeof(d));
    for (uint64_t v = 5000; v < 9000; v += 3) {
        sl_hist_record(&h, v);
        dense_record_n(&d, v, 1);
    }
    assert_matches_dense(&h, &d);
    sl_hist_reset(&h);
    sl_hist_reset(&h); /* an empty histogram resets to itself */
    cr_assert_eq(h.total_count, 0);
    cr_assert_eq(sl_hist_percentile(&h, 50), 0);
    sl_hist_dispose(&h);
}

Test(hist_memory, narrow_counts_widen_before_they_overflow)
{
    sl_hist_t h;
    sl_hist_init(&h, SL_HIST_NARROW);
    sl_hist_record(&h, 77);
    cr_assert(sl_hist_record_n(&h, 100, UINT32_MAX - 1));
    cr_assert(h.narrow, "exactly 2^32 - 1 values still fit");
    cr_assert(sl_hist_record(&h, 100));
    cr_assert_not(h.narrow);
    cr_assert_eq(sl_hist_count_at(&h, sl_hist_index_of(100)), (uint64_t)UINT32_MAX);
    cr_assert_eq(sl_hist_count_at(&h, sl_hist_index_of(77)), 1);
    cr_assert_eq(h.total_count, (uint64_t)UINT32_MAX + 1);
    cr_assert_eq(sl_hist_percentile(&h, 50), 100);
    sl_hist_dispose(&h);

    /* Two narrow blocks whose sum passes 2^32 merge exactly into a narrow one. */
    sl_hist_t a, b;
    sl_hist_init(&a, SL_HIST_NARROW);
    sl_hist_init(&b, SL_HIST_NARROW);
    sl_hist_record_n(&a, 5000, 3000000000ULL);
    sl_hist_record_n(&b, 5000, 3000000000ULL);
    cr_assert(sl_hist_merge(&a, &b));
    cr_assert_not(a.narrow);
    cr_assert_eq(sl_hist_count_at(&a, sl_hist_index_of(5000)), 6000000000ULL);
    sl_hist_dispose(&a);
    sl_hist_dispose(&b);
}

/* The sparse form's fast path (the bucket of the last record) stays exact when new
 * buckets are inserted in front of it, after a merge and after a reset. */
Test(hist_memory, sparse_repeat_records_stay_exact)
{
    sl_hist_t h, other;
    sl_hist_init(&h, SL_HIST_NARROW);
    sl_hist_init(&other, SL_HIST_NARROW);
    const uint64_t vals[] = {900, 900, 500, 900, 100, 100, 500, 900, 900, 100};
    uint64_t want900 = 0, want500 = 0, want100 = 0;
    for (int round = 0; round < 50; round++) {
        for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
            cr_assert(sl_hist_record(&h, vals[k]));
            want900 += vals[k] == 900, want500 += vals[k] == 500, want100 += vals[k] == 100;
        }
    }
    cr_assert_null(h.chunks, "still sparse");
    cr_expect_eq(h.npairs, 3);
    cr_expect_eq(sl_hist_count_at(&h, sl_hist_index_of(900)), want900);
    cr_expect_eq(sl_hist_count_at(&h, sl_hist_index_of(500)), want500);
    cr_expect_eq(sl_hist_count_at(&h, sl_hist_index_of(100)), want100);
    cr_expect_eq(h.total_count, want900 + want500 + want100);
    sl_hist_record(&other, 50);
    sl_hist_record(&other, 700);
    cr_assert(sl_hist_merge(&h, &other));
    cr_assert(sl_hist_record(&h, 100));
    cr_assert(sl_hist_record(&h, 50));
    cr_expect_eq(sl_hist_count_at(&h, sl_hist_index_of(100)), want100 + 1);
    cr_expect_eq(sl_hist_count_at(&h, sl_hist_index_of(50)), 2);
    cr_expect_eq(sl_hist_count_at(&h, sl_hist_index_of(700)), 1);
    sl_hist_reset(&h);
    cr_assert(sl_hist_record(&h, 300));
    cr_expect_eq(sl_hist_count_at(&h, sl_hist_index_of(300)), 1);
    cr_expect_eq(sl_hist_count_at(&h, sl_hist_index_of(100)), 0);
    cr_expect_eq(h.total_count, 1);
    sl_hist_dispose(&h);
    sl_hist_dispose(&other);
}
