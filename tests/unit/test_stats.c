/* Unit tests for statistics blocks (src/stats/stats.c) and the reporter
 * (src/stats/snapshot.c): exact merges across widths, resets that touch only busy rows,
 * the bounded error table, the out-of-memory mark travelling through merges, and the
 * reporter's interval, cumulative totals, history and row following. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "stats/rows.h"
#include "stats/snapshot.h"
#include "stats/stats.h"

static void record(sl_stats_t *s, uint32_t row, uint64_t us, bool failed)
{
    sl_stats_record(s, row, us, us, 100, failed);
}

Test(stats, record_grows_rows_and_costs_what_it_holds)
{
    sl_stats_t *s = sl_stats_new(2, SL_HIST_NARROW);
    cr_assert_not_null(s);
    cr_assert_eq(sl_stats_memory(s), 0, "untouched rows cost their counters only");
    record(s, 5, 250, false); /* a row met for the first time grows the block */
    cr_assert_eq(s->nrows, 6);
    cr_assert_eq(s->rows[5].num_requests, 1);
    cr_assert_eq(s->rows[5].content_bytes, 100);
    cr_assert_leq(sl_stats_memory(s), 3 * 64, "one value in three histograms: a few pairs");
    cr_assert_not(s->alloc_failed);
    sl_stats_free(s);
}

Test(stats, merge_is_exact_across_widths_and_rows)
{
    sl_stats_t *a = sl_stats_new(1, SL_HIST_NARROW);
    sl_stats_t *b = sl_stats_new(3, SL_HIST_NARROW);
    sl_stats_t *all = sl_stats_new(0, SL_HIST_WIDE);
    sl_stats_t *cum = sl_stats_new(0, SL_HIST_WIDE);
    for (uint64_t v = 1; v < 200000; v += 37) {
        record(a, 0, v, v % 5 == 0);
        record(all, 0, v, v % 5 == 0);
        record(b, 2, v * 3, false);
        record(all, 2, v * 3, false);
    }
    sl_stats_merge(cum, a);
    sl_stats_merge(cum, b);
    cr_assert_eq(cum->nrows, 3);
    for (uint32_t r = 0; r < 3; r++) {
        cr_assert_eq(cum->rows[r].num_requests, all->rows[r].num_requests, "row %u", r);
        cr_assert_eq(cum->rows[r].num_failures, all->rows[r].num_failures, "row %u", r);
        for (double p = 0; p <= 100; p += 12.5)
            cr_assert_eq(sl_hist_percentile(&cum->rows[r].latency, p),
                         sl_hist_percentile(&all->rows[r].latency, p), "row %u p%g", r, p);
    }
    cr_assert_eq(cum->rows[1].num_requests, 0);
    sl_row_stats_t total;
    sl_row_stats_init(&total, SL_HIST_WIDE);
    sl_stats_total(cum, &total);
    cr_assert_eq(total.num_requests, a->rows[0].num_requests + b->rows[2].num_requests);
    cr_assert_eq(total.latency.total_count, total.num_requests);
    sl_row_stats_dispose(&total);
    sl_stats_free(a);
    sl_stats_free(b);
    sl_stats_free(all);
    sl_stats_free(cum);
}

Test(stats, reset_empties_and_keeps_memory)
{
    sl_stats_t *s = sl_stats_new(4, SL_HIST_NARROW);
    for (uint64_t v = 1; v < 100000; v += 11)
        record(s, 1, v, true);
    sl_stats_error(s, 1, SL_FAIL_HTTP, 503, 3);
    sl_stats_exception(s, 7, 2);
    s->retries = 4;
    s->alloc_failed = true;
    size_t bytes = sl_stats_memory(s);
    sl_stats_reset(s);
    cr_assert_eq(sl_stats_memory(s), bytes, "memory is kept for the next second");
    cr_assert_eq(s->rows[1].num_requests, 0);
    cr_assert_eq(s->rows[1].latency.total_count, 0);
    cr_assert_eq(sl_hist_percentile(&s->rows[1].latency, 50), 0);
    cr_assert_eq(s->nerrors, 0);
    cr_assert_eq(s->nexceptions, 0);
    cr_assert_eq(s->retries, 0);
    cr_assert_not(s->alloc_failed);
    sl_stats_free(s);
}

Test(stats, error_table_is_bounded_per_row)
{
    sl_stats_t *s = sl_stats_new(2, SL_HIST_NARROW);
    for (int k = 0; k < SL_STATS_MAX_ERRORS + 100; k++)
        sl_stats_error(s, 0, SL_FAIL_HTTP, 400 + k, 1);
    cr_assert_eq(s->nerrors, SL_STATS_MAX_ERRORS + 1, "one fold-over entry past the limit");
    uint64_t sum = 0;
    for (uint32_t i = 0; i < s->nerrors; i++)
        sum += s->errors[i].occurrences;
    cr_assert_eq(sum, SL_STATS_MAX_ERRORS + 100, "every occurrence is still counted");
    char buf[64];
    const sl_error_entry_t *last = &s->errors[s->nerrors - 1];
    cr_assert_str_eq(sl_fail_describe((sl_fail_t)last->kind, last->detail, buf, sizeof(buf)),
                     "other errors");
    sl_stats_free(s);
}

Test(stats, out_of_memory_mark_travels_through_merges)
{
    sl_stats_t *worker = sl_stats_new(1, SL_HIST_NARROW);
    sl_stats_t *interval = sl_stats_new(1, SL_HIST_NARROW);
    sl_stats_t *cum = sl_stats_new(1, SL_HIST_WIDE);
    record(worker, 0, 10, false);
    worker->alloc_failed = true;
    sl_stats_merge(interval, worker);
    sl_stats_merge(cum, interval);
    cr_assert(interval->alloc_failed);
    cr_assert(cum->alloc_failed);
    cr_assert_eq(cum->rows[0].num_requests, 1, "what was recorded is still merged");
    sl_stats_free(worker);
    sl_stats_free(interval);
    sl_stats_free(cum);
}

/* ---- the reporter ---- */

static sl_reporter_t *reporter(sl_rows_t *rows)
{
    sl_snapshot_t base;
    memset(&base, 0, sizeof(base));
    base.registry = rows;
    base.host = "http://127.0.0.1:1";
    base.duration_us = 10 * SL_US_PER_S;
    sl_reporter_t *rep = sl_reporter_new(&base);
    cr_assert_not_null(rep);
    return rep;
}

Test(reporter, interval_and_cumulative_and_history)
{
    sl_rows_t *rows = sl_rows_new(0, NULL);
    uint32_t id;
    sl_rows_intern(rows, "GET", "/a", &id);
    sl_reporter_t *rep = reporter(rows);
    uint64_t want_total = 0;
    for (int sec = 1; sec <= 3; sec++) {
        sl_stats_t *iv = sl_reporter_interval(rep);
        cr_assert_eq(iv->rows[0].num_requests, 0, "each interval starts empty");
        sl_stats_t *w = sl_stats_new(1, SL_HIST_NARROW);
        for (int k = 0; k < 100 * sec; k++)
            record(w, 0, (uint64_t)(1000 * sec + k), k == 0);
        sl_stats_merge(iv, w);
        sl_stats_free(w);
        want_total += 100 * (uint64_t)sec;
        sl_reporter_tick(rep, (uint64_t)sec * SL_US_PER_S, 4);
        const sl_snapshot_t *s = sl_reporter_snapshot(rep, false);
        cr_assert_eq(s->interval_total->num_requests, 100 * (uint64_t)sec);
        cr_assert_eq(s->interval->rows[0].num_requests, 100 * (uint64_t)sec);
        cr_assert_eq(s->total->num_requests, want_total, "the total grows by each interval");
        cr_assert_eq(s->total->latency.total_count, want_total);
        cr_assert_eq(s->stats->rows[0].num_failures, (uint64_t)sec);
        cr_assert_eq(s->nhistory, (size_t)sec);
        cr_assert_eq(s->history[sec - 1].requests, 100 * (uint64_t)sec);
        cr_assert_eq(s->history[sec - 1].p50_us,
                     sl_hist_percentile(&s->interval_total->latency, 50));
        cr_assert_eq(s->users_running, 4);
    }
    const sl_snapshot_t *s = sl_reporter_snapshot(rep, true);
    /* The cumulative minimum and maximum are those of the first and the last second. */
    cr_assert_eq(s->total->latency.min_us, 1000);
    cr_assert_eq(s->total->latency.max_us, 3000 + 299);
    cr_assert(s->final);
    sl_reporter_free(rep);
    sl_rows_free(rows);
}

Test(reporter, follows_new_rows_and_the_overflow_row)
{
    sl_rows_t *rows = sl_rows_new(60, "(other)");
    sl_reporter_t *rep = reporter(rows);
    sl_stats_t *w = sl_stats_new(0, SL_HIST_NARROW);
    for (int k = 0; k < 80; k++) {
        char name[32];
        uint32_t id;
        snprintf(name, sizeof(name), "/item/%d", k);
        cr_assert_eq(sl_rows_intern_at(rows, "GET", name, "s.lua:4", &id), 0);
        record(w, id, 500, false);
    }
    sl_stats_merge(sl_reporter_interval(rep), w);
    sl_reporter_tick(rep, SL_US_PER_S, 1);
    const sl_snapshot_t *s = sl_reporter_snapshot(rep, false);
    cr_assert_eq(s->nrows, 61, "60 rows and the overflow row");
    cr_assert_eq(s->overflow_row, 60);
    cr_assert_str_eq(s->rows[60].name, "(other)");
    cr_assert_eq(s->stats->rows[60].num_requests, 20);
    cr_assert_eq(s->max_rows, 60);
    cr_assert(s->has_hint);
    cr_assert_str_eq(s->hint.pattern, "/item/{id}");
    cr_assert_eq(s->hint.rows, 60);
    cr_assert_eq(s->cur_rps[60], 20.0, "the rate window covers the new rows");
    cr_assert_eq(s->cur_rps[61], 80.0, "and the total");
    sl_stats_free(w);
    sl_reporter_free(rep);
    sl_rows_free(rows);
}

/* The timing phases (stats/phases.h): connection counts and sums for every request,
 * waiting and receiving only for those that got a response; exact through merges, the
 * total and resets. */
static void record_phases(sl_stats_t *s, uint32_t row, uint8_t conn, bool responded,
                          uint64_t wait_us, uint64_t recv_us)
{
    record(s, row, wait_us + recv_us + 10, false);
    sl_phases_t ph = {.connect_us = conn == SL_PHASES_CONN_NEW ? 100 : 0,
                      .tls_us = conn == SL_PHASES_CONN_NEW ? 1000 : 0,
                      .sending_us = responded ? 10 : 0,
                      .waiting_us = wait_us,
                      .receiving_us = recv_us,
                      .conn = conn,
                      .responded = responded};
    sl_stats_record_phases(s, row, &ph);
}

Test(stats, phases_sum_count_and_merge_exactly)
{
    sl_stats_t *a = sl_stats_new(1, SL_HIST_NARROW);
    sl_stats_t *b = sl_stats_new(2, SL_HIST_NARROW);
    sl_stats_t *cum = sl_stats_new(0, SL_HIST_WIDE);
    record_phases(a, 0, SL_PHASES_CONN_NEW, true, 50000, 20);
    for (int i = 0; i < 9; i++)
        record_phases(a, 0, SL_PHASES_CONN_REUSED, true, 50000 + (uint64_t)i, 30);
    record_phases(b, 0, SL_PHASES_CONN_NONE, false, 0, 0); /* a connect that failed */
    record_phases(b, 1, SL_PHASES_CONN_NEW, true, 700, 200000);
    const sl_row_stats_t *r = &a->rows[0];
    cr_assert_eq(r->phases.new_conns, 1);
    cr_assert_eq(r->phases.reused_conns, 9);
    cr_assert_eq(r->phases.connect_us, 100);
    cr_assert_eq(r->phases.tls_us, 1000);
    cr_assert_eq(r->phases.sending_us, 100);
    cr_assert_eq(r->waiting.total_count, 10);
    cr_assert_eq(r->waiting.min_us, 50000);
    cr_assert_eq(r->receiving.max_us, 30);
    sl_stats_merge(cum, a);
    sl_stats_merge(cum, b);
    r = &cum->rows[0];
    cr_assert_eq(r->num_requests, 11);
    cr_assert_eq(r->waiting.total_count, 10, "no response: not in waiting");
    cr_assert_eq(r->phases.new_conns + r->phases.reused_conns, 10);
    cr_assert_eq(sl_hist_percentile(&r->waiting, 50), sl_hist_percentile(&a->rows[0].waiting, 50));
    sl_row_stats_t total;
    sl_row_stats_init(&total, SL_HIST_WIDE);
    sl_stats_total(cum, &total);
    cr_assert_eq(total.phases.new_conns, 2);
    cr_assert_eq(total.phases.tls_us, 2000);
    cr_assert_eq(total.receiving.max_us, 200000);
    cr_assert_eq(total.waiting.total_count, 11);
    sl_stats_reset(cum);
    cr_assert_eq(cum->rows[0].phases.new_conns, 0);
    cr_assert_eq(cum->rows[0].waiting.total_count, 0);
    cr_assert_eq(cum->rows[1].phases.tls_us, 0);
    sl_row_stats_dispose(&total);
    sl_stats_free(a);
    sl_stats_free(b);
    sl_stats_free(cum);
}

Test(stats, phases_of_a_row_never_made_are_dropped)
{
    sl_stats_t *s = sl_stats_new(1, SL_HIST_NARROW);
    sl_phases_t ph = {.conn = SL_PHASES_CONN_NEW, .responded = true, .waiting_us = 5};
    sl_stats_record_phases(s, 7, &ph); /* no sl_stats_record made row 7 */
    cr_assert_eq(s->nrows, 1);
    cr_assert_eq(s->rows[0].phases.new_conns, 0);
    sl_stats_free(s);
}
