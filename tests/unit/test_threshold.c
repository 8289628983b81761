/* Thresholds: the expression language (table-driven, valid and invalid forms) and
 * evaluation on a hand-made snapshot, including the --abort-on-threshold rule. */
#include <criterion/criterion.h>
#include <string.h>

#include "threshold/threshold.h"

static const struct {
    const char *in;
    sl_th_metric_t metric;
    double pct;
    sl_th_op_t op;
    double limit;
    const char *method, *name;
} valid[] = {
    {"p95<200ms", SL_TH_PCT, 95, SL_TH_LT, 200000, NULL, NULL},
    {"p99.9<1s", SL_TH_PCT, 99.9, SL_TH_LT, 1000000, NULL, NULL},
    {"p(99)<=250", SL_TH_PCT, 99, SL_TH_LE, 250000, NULL, NULL},
    {"p100 < 3s", SL_TH_PCT, 100, SL_TH_LT, 3000000, NULL, NULL},
    {"avg<50ms", SL_TH_AVG, 0, SL_TH_LT, 50000, NULL, NULL},
    {"max<2s", SL_TH_MAX, 0, SL_TH_LT, 2000000, NULL, NULL},
    {"min>=1.5us", SL_TH_MIN, 0, SL_TH_GE, 1.5, NULL, NULL},
    {"med<10", SL_TH_PCT, 50, SL_TH_LT, 10000, NULL, NULL},
    {"median<=0.5s", SL_TH_PCT, 50, SL_TH_LE, 500000, NULL, NULL},
    {"fail_ratio<0.01", SL_TH_FAIL_RATIO, 0, SL_TH_LT, 0.01, NULL, NULL},
    {"fail_ratio<=2%", SL_TH_FAIL_RATIO, 0, SL_TH_LE, 0.02, NULL, NULL},
    {"rps>500", SL_TH_RPS, 0, SL_TH_GT, 500, NULL, NULL},
    {"  rps >= 0.5  ", SL_TH_RPS, 0, SL_TH_GE, 0.5, NULL, NULL},
    {"GET /hello: p95<100ms", SL_TH_PCT, 95, SL_TH_LT, 100000, "GET", "/hello"},
    {"post /api/upload:max<1s", SL_TH_MAX, 0, SL_TH_LT, 1000000, "POST", "/api/upload"},
    {"GET /a b:c: rps>1", SL_TH_RPS, 0, SL_TH_GT, 1, "GET", "/a b:c"},
};

Test(threshold, parses_every_form)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(valid); i++) {
        sl_threshold_t t;
        sl_err_t err = {{0}};
        cr_assert_eq(sl_threshold_parse(valid[i].in, &t, &err), SL_OK, "%s: %s", valid[i].in,
                     err.msg);
        cr_expect_eq(t.metric, valid[i].metric, "%s metric", valid[i].in);
        cr_expect_eq(t.op, valid[i].op, "%s op", valid[i].in);
        cr_expect_float_eq(t.limit, valid[i].limit, 1e-9, "%s limit %f", valid[i].in, t.limit);
        if (valid[i].metric == SL_TH_PCT)
            cr_expect_float_eq(t.pct, valid[i].pct, 1e-9, "%s pct", valid[i].in);
        cr_expect_str_eq(t.expr, valid[i].in);
        if (valid[i].method) {
            cr_assert_not_null(t.method, "%s scope", valid[i].in);
            cr_expect_str_eq(t.method, valid[i].method);
            cr_expect_str_eq(t.name, valid[i].name);
        } else {
            cr_expect_null(t.method, "%s: unexpected scope", valid[i].in);
        }
        sl_threshold_dispose(&t);
    }
}

static const struct {
    const char *in;
    const char *msg_part;
} invalid[] = {
    {"", "empty"},
    {"p95", "expected one of"},
    {"p95<", "expected a number"},
    {"p95<abc", "expected a number"},
    {"p95<200xs", "unknown time unit"},
    {"p95<-5ms", "expected a number"},
    {"p0<5ms", "percentile"},
    {"p101<5ms", "percentile"},
    {"p(95<5ms", "percentile"},
    {"q95<5ms", "unknown metric"},
    {"p95=5ms", "expected one of"},
    {"p95<5ms extra", "unexpected text"},
    {"fail_ratio<2", "at most 1"},
    {"fail_ratio<0.1ms", "ratio"},
    {"rps>5ms", "plain number"},
    {"/hello: p95<5ms", "scope"},
    {": p95<5ms", "scope"},
    {"GET /x:", "empty"},
    {"p95<1.2.3ms", "expected a number"},
};

Test(threshold, rejects_malformed_with_a_reason)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(invalid); i++) {
        sl_threshold_t t;
        sl_err_t err = {{0}};
        cr_expect_eq(sl_threshold_parse(invalid[i].in, &t, &err), SL_EINVAL, "'%s' accepted",
                     invalid[i].in);
        cr_expect(strstr(err.msg, invalid[i].msg_part) != NULL, "'%s': message '%s' lacks '%s'",
                  invalid[i].in, err.msg, invalid[i].msg_part);
        cr_expect(strstr(err.msg, invalid[i].in) != NULL, "message '%s' does not quote '%s'",
                  err.msg, invalid[i].in);
    }
}

/* Two rows: GET /fast with 1000 requests at 1..1000 us and no failures, GET /slow with 200
 * requests at 10 ms of which 20 failed; 10 s elapsed. */
typedef struct fixture {
    sl_stats_t *stats;
    sl_stats_t *total; /* one row: everything */
    sl_row_t rows[2];
    sl_snapshot_t snap;
} fixture_t;

/* Records one request by hand: only the fields thresholds read. */
static void rec(sl_stats_t *s, uint32_t row, uint64_t us, bool failed)
{
    sl_row_stats_t *r = &s->rows[row];
    r->num_requests++;
    r->num_failures += failed;
    r->content_bytes += 10;
    sl_hist_record(&r->latency, us);
}

static void fixture_init(fixture_t *f, uint64_t elapsed_us)
{
    memset(f, 0, sizeof(*f));
    f->stats = sl_stats_new(2, SL_HIST_WIDE);
    f->total = sl_stats_new(1, SL_HIST_WIDE);
    cr_assert(f->stats && f->total);
    for (uint64_t v = 1; v <= 1000; v++) {
        rec(f->stats, 0, v, false);
        rec(f->total, 0, v, false);
    }
    for (int i = 0; i < 200; i++) {
        rec(f->stats, 1, 10000, i < 20);
        rec(f->total, 0, 10000, i < 20);
    }
    f->rows[0] = (sl_row_t){(char *)"GET", (char *)"/fast"};
    f->rows[1] = (sl_row_t){(char *)"GET", (char *)"/slow"};
    f->snap = (sl_snapshot_t){.rows = f->rows,
                              .nrows = 2,
                              .stats = f->stats,
                              .total = &f->total->rows[0],
                              .elapsed_us = elapsed_us,
                              .final = true};
}

static void fixture_dispose(fixture_t *f)
{
    sl_stats_free(f->stats);
    sl_stats_free(f->total);
}

static const struct {
    const char *expr;
    bool ok;
    double observed;
} evals[] = {
    {"GET /fast: p50<=500us", true, 0.5},
    {"GET /fast: p50<500us", false, 0.5},
    {"GET /fast: max<1ms", false, 1.0},
    {"GET /fast: max<=1ms", true, 1.0},
    {"GET /fast: min>=1us", true, 0.001},
    {"GET /fast: avg<0.5ms", false, 0.501}, /* 500.5 us, shown to the microsecond */
    {"GET /fast: fail_ratio<0.001", true, 0.0},
    {"GET /slow: fail_ratio<0.1", false, 0.1},
    {"GET /slow: fail_ratio<=10%", true, 0.1},
    {"GET /slow: rps>=20", true, 20.0},
    {"GET /slow: rps>20", false, 20.0},
    {"rps>119", true, 120.0},
    {"p99<10ms", false, 10.0},
    {"p80<=1ms", true, 0.96},
    {"p90<=1ms", false, 10.0}, /* 1000 of 1200 requests are at most 1 ms: p90 is 10 ms */
    {"fail_ratio<0.02", true, 20.0 / 1200.0},
    {"GET /none: p95<1s", false, 0.0}, /* no such row: a breach, not a silent pass */
};

Test(threshold, evaluates_on_a_snapshot)
{
    fixture_t f;
    fixture_init(&f, 10 * SL_US_PER_S);
    for (size_t i = 0; i < SL_ARRAY_LEN(evals); i++) {
        sl_threshold_t t;
        sl_err_t err = {{0}};
        cr_assert_eq(sl_threshold_parse(evals[i].expr, &t, &err), SL_OK, "%s", err.msg);
        sl_threshold_result_t r;
        sl_threshold_eval(&t, &f.snap, &r);
        cr_expect_eq(r.ok, evals[i].ok, "%s: ok=%d observed %f", evals[i].expr, r.ok, r.observed);
        cr_expect_float_eq(r.observed, evals[i].observed, 1e-9, "%s: observed %f", evals[i].expr,
                           r.observed);
        sl_threshold_dispose(&t);
    }
    fixture_dispose(&f);
}

Test(threshold, set_passes_only_when_all_hold)
{
    fixture_t f;
    fixture_init(&f, 10 * SL_US_PER_S);
    sl_thresholds_t set = {0};
    sl_err_t err;
    cr_assert(sl_thresholds_pass(&set, &f.snap), "an empty set passes");
    cr_assert_eq(sl_thresholds_add(&set, "max<20ms", &err), SL_OK);
    cr_assert_eq(sl_thresholds_add(&set, "GET /fast: p95<1ms", &err), SL_OK);
    cr_expect(sl_thresholds_pass(&set, &f.snap));
    cr_assert_eq(sl_thresholds_add(&set, "rps>1000", &err), SL_OK);
    cr_expect(!sl_thresholds_pass(&set, &f.snap));
    cr_expect_eq(sl_thresholds_add(&set, "rps>>1000", &err), SL_EINVAL);
    cr_expect_eq(set.n, 3);
    sl_thresholds_dispose(&set);
    fixture_dispose(&f);
}

/* The verdicts reports read: one per threshold, in order, as data. */
Test(threshold, judge_fills_the_verdicts)
{
    fixture_t f;
    fixture_init(&f, 10 * SL_US_PER_S);
    sl_thresholds_t set = {0};
    sl_err_t err;
    sl_verdicts_t v;
    sl_thresholds_judge(NULL, &f.snap, &v);
    cr_expect_eq(v.n, 0);
    cr_expect_null(v.aborted_by);
    cr_assert_eq(sl_thresholds_add(&set, "max<20ms", &err), SL_OK);
    cr_assert_eq(sl_thresholds_add(&set, "rps>1000", &err), SL_OK);
    cr_assert_eq(sl_thresholds_add(&set, "GET /nowhere: p95<1ms", &err), SL_OK);
    set.aborted_by = set.items[1].expr;
    sl_thresholds_judge(&set, &f.snap, &v);
    cr_assert_eq(v.n, 3);
    cr_expect_str_eq(v.item[0].expr, "max<20ms");
    cr_expect(v.item[0].ok);
    cr_expect_str_eq(v.item[0].unit, "ms");
    cr_expect(!v.item[1].ok);
    cr_expect_str_eq(v.item[1].unit, "req/s");
    cr_expect(!v.item[2].ok);
    cr_expect(!v.item[2].has_value);
    cr_expect_str_eq(v.item[2].text, "no requests in this row");
    cr_expect_eq(v.aborted_by, set.items[1].expr);
    sl_thresholds_dispose(&set);
    for (int i = 0; i < SL_VERDICTS_MAX; i++)
        cr_assert_eq(sl_thresholds_add(&set, "max<1s", &err), SL_OK);
    cr_expect_eq(sl_thresholds_add(&set, "max<1s", &err), SL_ELIMIT);
    sl_thresholds_dispose(&set);
    fixture_dispose(&f);
}

Test(threshold, abort_rule)
{
    fixture_t f;
    fixture_init(&f, 2 * SL_US_PER_S); /* not settled yet */
    sl_thresholds_t set = {0};
    sl_err_t err;
    cr_assert_eq(sl_thresholds_add(&set, "p99<1ms", &err), SL_OK);         /* never aborts */
    cr_assert_eq(sl_thresholds_add(&set, "fail_ratio<0.01", &err), SL_OK); /* settles */
    cr_expect_null(sl_thresholds_doomed(&set, &f.snap), "fail_ratio before 5 s");
    f.snap.elapsed_us = 6 * SL_US_PER_S;
    const sl_threshold_t *t = sl_thresholds_doomed(&set, &f.snap);
    cr_assert_not_null(t);
    cr_expect_str_eq(t->expr, "fail_ratio<0.01");
    sl_thresholds_dispose(&set);

    /* Scoped: its own row's requests count. */
    cr_assert_eq(sl_thresholds_add(&set, "GET /slow: fail_ratio<0.01", &err), SL_OK);
    cr_expect_not_null(sl_thresholds_doomed(&set, &f.snap), "200 requests settle");
    sl_thresholds_dispose(&set);

    /* max breaches for good at once, whatever the time. */
    f.snap.elapsed_us = SL_US_PER_S;
    cr_assert_eq(sl_thresholds_add(&set, "max<5ms", &err), SL_OK);
    cr_expect_not_null(sl_thresholds_doomed(&set, &f.snap));
    sl_thresholds_dispose(&set);
    cr_assert_eq(sl_thresholds_add(&set, "max<50ms", &err), SL_OK);
    cr_assert_eq(sl_thresholds_add(&set, "min>2us", &err), SL_OK); /* min is 1 us */
    t = sl_thresholds_doomed(&set, &f.snap);
    cr_assert_not_null(t);
    cr_expect_str_eq(t->expr, "min>2us");
    sl_thresholds_dispose(&set);
    fixture_dispose(&f);
}

Test(threshold, fail_ratio_settles_on_row_requests)
{
    fixture_t f;
    fixture_init(&f, 6 * SL_US_PER_S);
    sl_stats_t *few = sl_stats_new(2, SL_HIST_WIDE);
    cr_assert_not_null(few);
    for (int i = 0; i < 50; i++)
        rec(few, 1, 10000, true);
    f.snap.stats = few;
    sl_thresholds_t set = {0};
    sl_err_t err;
    cr_assert_eq(sl_thresholds_add(&set, "GET /slow: fail_ratio<0.5", &err), SL_OK);
    cr_expect_null(sl_thresholds_doomed(&set, &f.snap), "50 requests do not settle");
    sl_thresholds_dispose(&set);
    sl_stats_free(few);
    fixture_dispose(&f);
}
