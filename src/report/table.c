/* The live table and the final summary, as text. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/duration.h"
#include "report/report.h"
#include "report/threshold.h"

const double sl_report_pcts[SL_REPORT_NPCTS] = {50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100};
const char *const sl_report_pct_keys[SL_REPORT_NPCTS] = {"50", "66", "75",   "80",    "90", "95",
                                                         "98", "99", "99.9", "99.99", "100"};

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

/* Shortens a long name for the table, keeping its end (where paths differ). */
static const char *fit(const char *s, char *buf, size_t width)
{
    size_t len = strlen(s);
    if (len <= width)
        return s;
    snprintf(buf, width + 1, "..%s", s + len - (width - 2));
    return buf;
}

/* One time column: " -" in place of a number when the row completed no request, since a
 * percentile (or mean, or minimum) of nothing is not zero. */
static void put_ms(FILE *out, bool any, double v)
{
    if (any)
        fprintf(out, " %8.2f", v);
    else
        fprintf(out, " %8s", "-");
}

static int print_row(FILE *out, const char *method, const char *name, const sl_row_stats_t *r,
                     double rps, double fps)
{
    char nb[48];
    const sl_hist_t *h = &r->latency;
    bool any = h->total_count > 0;
    fprintf(out, "%-7s %-32s %9" PRIu64 " %8" PRIu64 " %9.1f %8.1f |", method, fit(name, nb, 32),
            r->num_requests, r->num_failures, rps, fps);
    put_ms(out, any, any ? ms(sl_hist_percentile(h, 50)) : 0.0);
    put_ms(out, any, any ? ms(sl_hist_percentile(h, 95)) : 0.0);
    put_ms(out, any, any ? ms(sl_hist_percentile(h, 99)) : 0.0);
    put_ms(out, any, any ? sl_hist_mean(h) / 1000.0 : 0.0);
    put_ms(out, any, any ? ms(h->min_us) : 0.0);
    put_ms(out, any, ms(h->max_us));
    fputc('\n', out);
    return 1;
}

/* The statistics table; returns the number of lines printed. */
static int print_stats(const sl_snapshot_t *s, FILE *out, bool whole_run)
{
    int lines = 0;
    double secs = s->elapsed_us ? (double)s->elapsed_us / 1e6 : 1.0;
    fprintf(out, "%-7s %-32s %9s %8s %9s %8s | %8s %8s %8s %8s %8s %8s\n", "Type", "Name", "# reqs",
            "# fails", whole_run ? "req/s" : "cur req/s", "fail/s", "Med(ms)", "95%", "99%", "Avg",
            "Min", "Max");
    lines++;
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        const sl_row_stats_t *r = &s->stats->rows[i];
        double rps = whole_run ? (double)r->num_requests / secs : s->cur_rps[i];
        double fps = whole_run ? (double)r->num_failures / secs : s->cur_fail_per_s[i];
        lines += print_row(out, s->rows[i].method, s->rows[i].name, r, rps, fps);
    }
    free(order);
    size_t n = s->nrows;
    double rps = whole_run ? (double)s->total->num_requests / secs : s->cur_rps[n];
    double fps = whole_run ? (double)s->total->num_failures / secs : s->cur_fail_per_s[n];
    fprintf(out, "%.*s\n", 140,
            "-------------------------------------------------------------------"
            "------------------------------------------------------------------");
    lines++;
    lines += print_row(out, "", "Aggregated", s->total, rps, fps);
    return lines;
}

static int print_header(const sl_snapshot_t *s, FILE *out)
{
    char el[32], du[64];
    /* Whole seconds: the table is redrawn every two seconds. */
    sl_duration_format(s->elapsed_us / SL_US_PER_S * SL_US_PER_S, el, sizeof(el));
    const sl_run_outcome_t *oc = s->outcome;
    uint64_t iterations = oc ? oc->iterations : 0;
    if (s->duration_us)
        sl_duration_format(s->duration_us, du, sizeof(du));
    if (s->duration_us && iterations) {
        size_t n = strlen(du);
        snprintf(du + n, sizeof(du) - n, " or %llu iterations", (unsigned long long)iterations);
    } else if (iterations) {
        snprintf(du, sizeof(du), "%llu iterations", (unsigned long long)iterations);
    } else if (!s->duration_us) {
        snprintf(du, sizeof(du), "until stopped");
    }
    int lines = 1;
    if (s->final && oc && oc->stop_reason) {
        /* At the end, the users running now (usually 0) say nothing: the peak does. */
        char why[48];
        const char *sig = oc->stop_signal ? sigabbrev_np(oc->stop_signal) : NULL;
        if (sig)
            snprintf(why, sizeof(why), "%s (SIG%s)", oc->stop_reason, sig);
        else
            snprintf(why, sizeof(why), "%s", oc->stop_reason);
        if (s->open_model)
            fprintf(out,
                    "stormlight %s  %s  elapsed %s / %s  rate %.1f/s  peak users %u (at most %u)  "
                    "threads %u  stopped by %s\n",
                    SL_VERSION, s->host, el, du, s->rate_per_s, oc->peak_users, oc->target_users,
                    s->threads, why);
        else
            fprintf(out,
                    "stormlight %s  %s  elapsed %s / %s  peak users %u / %u  threads %u  "
                    "stopped by %s\n",
                    SL_VERSION, s->host, el, du, oc->peak_users, oc->target_users, s->threads, why);
    } else if (s->open_model)
        fprintf(out,
                "stormlight %s  %s  elapsed %s / %s  rate %.1f/s  users %u (at most %u)  "
                "threads %u\n",
                SL_VERSION, s->host, el, du, s->rate_per_s, s->users_running, s->users_target,
                s->threads);
    else
        fprintf(out, "stormlight %s  %s  elapsed %s / %s  users %u / %u  threads %u\n", SL_VERSION,
                s->host, el, du, s->users_running, s->users_target, s->threads);
    /* Warnings: when the generator falls behind, every figure understates latency. */
    const sl_stats_t *iv = s->interval ? s->interval : s->stats;
    uint64_t lag99 = sl_hist_percentile(&iv->send_lag, 99);
    if (lag99 > 10 * SL_US_PER_MS && !s->final) {
        fprintf(out,
                "WARNING: requests leave late (send lag p99 %.1f ms): the generator is "
                "overloaded and latency is understated\n",
                (double)lag99 / 1000.0);
        lines++;
    }
    if (s->cpu_share > 0.95 && !s->final) {
        fprintf(out,
                "WARNING: the generator uses %.0f%% of its threads' CPU: it may be the "
                "bottleneck, and latency is understated (add --threads or machines)\n",
                s->cpu_share * 100);
        lines++;
    }
    if (s->stats->dropped_iterations) {
        fprintf(out, "WARNING: %llu iterations dropped: no free user (raise -u, the pool)\n",
                (unsigned long long)s->stats->dropped_iterations);
        lines++;
    }
    if (s->keys && !s->final) {
        fprintf(out, "keys: w/W +1/+10 users  s/S -1/-10  r/R rate +1%%/+10%%  f/F -1%%/-10%%  "
                     "q quit\n");
        lines++;
    }
    return lines;
}

/* What the rows say about the scenario: names past --max-rows, and many rows made from
 * one path pattern (a forgotten name=). */
enum { NOTE_OVERFLOW = 1, NOTE_HINT = 2 };

/* Prints the notes that apply and are not in `skip`; returns the lines printed and adds
 * the notes printed to *shown. */
static int print_row_notes(const sl_snapshot_t *s, FILE *out, unsigned skip, unsigned *shown)
{
    int lines = 0;
    if (s->overflow_row >= 0 && !(skip & NOTE_OVERFLOW)) {
        fprintf(out,
                "WARNING: more than %u request names: the names met after that are counted "
                "together in the row '%s' (group names with name=, or raise --max-rows)\n",
                s->max_rows, s->rows[s->overflow_row].name);
        *shown |= NOTE_OVERFLOW;
        lines++;
    }
    if (s->has_hint && !(skip & NOTE_HINT)) {
        fprintf(out,
                "NOTE: %u rows look like %s %s%s%s: give these requests one name, e.g. "
                "{name = \"%s\"}, to count them in one row\n",
                s->hint.rows, s->hint.method, s->hint.pattern, s->hint.origin[0] ? " from " : "",
                s->hint.origin, s->hint.pattern);
        *shown |= NOTE_HINT;
        lines++;
    }
    return lines;
}

void sl_report_live(sl_live_t *live, const sl_snapshot_t *s, FILE *out)
{
    if (live->tty && live->lines_drawn > 0)
        fprintf(out, "\x1b[%dA\x1b[J", live->lines_drawn);
    int lines = print_header(s, out);
    /* On a terminal the notes stay in the redrawn frame; in a log, each is said once. */
    lines += print_row_notes(s, out, live->tty ? 0 : live->notes_shown, &live->notes_shown);
    lines += print_stats(s, out, false);
    if (!live->tty) {
        fputc('\n', out);
        lines++;
    }
    live->lines_drawn = lines;
    fflush(out);
}

void sl_report_summary(const sl_snapshot_t *s, FILE *out)
{
    fputc('\n', out);
    print_header(s, out);
    unsigned shown = 0;
    print_row_notes(s, out, 0, &shown);
    fputc('\n', out);
    print_stats(s, out, true);

    fprintf(out, "\nResponse time percentiles (ms)\n%-7s %-32s", "Type", "Name");
    for (int p = 0; p < SL_REPORT_NPCTS; p++)
        fprintf(out, " %8s", sl_report_pct_keys[p]);
    fprintf(out, " %9s\n", "# reqs");
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k <= s->nrows; k++) {
        bool total = k == s->nrows;
        size_t i = total ? k : sl_report_row_at(order, k);
        const sl_row_stats_t *r = total ? s->total : &s->stats->rows[i];
        char nb[48];
        fprintf(out, "%-7s %-32s", total ? "" : s->rows[i].method,
                fit(total ? "Aggregated" : s->rows[i].name, nb, 32));
        for (int p = 0; p < SL_REPORT_NPCTS; p++)
            put_ms(out, r->latency.total_count > 0,
                   ms(sl_hist_percentile(&r->latency, sl_report_pcts[p])));
        fprintf(out, " %9" PRIu64 "\n", r->num_requests);
    }
    free(order);

    if (s->stats->nerrors) {
        fprintf(out, "\nErrors\n%12s  %-7s %-32s %s\n", "# occurrences", "Type", "Name", "Error");
        for (uint32_t i = 0; i < s->stats->nerrors; i++) {
            const sl_error_entry_t *e = &s->stats->errors[i];
            char buf[128], nb[48];
            fprintf(out, "%12" PRIu64 "  %-7s %-32s %s\n", e->occurrences, s->rows[e->row].method,
                    fit(s->rows[e->row].name, nb, 32),
                    sl_snapshot_error_text(s, e, buf, sizeof(buf)));
        }
        /* Said once, not per row: the usual cause is a test server's own certificate. */
        for (uint32_t i = 0; i < s->stats->nerrors; i++) {
            if (s->stats->errors[i].kind == SL_FAIL_TLS_VERIFY) {
                fprintf(out, "Hint: the server's TLS certificate was not accepted; "
                             "--insecure skips verification (for test servers only).\n");
                break;
            }
        }
    }
    if (s->stats->nexceptions && s->texts) {
        fprintf(out, "\nExceptions\n%12s  %-40s %s\n", "# occurrences", "Location", "Message");
        for (uint32_t i = 0; i < s->stats->nexceptions; i++) {
            const char *where, *msg;
            sl_rows_get(s->texts, s->stats->exceptions[i].text, &where, &msg);
            fprintf(out, "%12" PRIu64 "  %-40s %s\n", s->stats->exceptions[i].occurrences, where,
                    msg);
        }
    }
    if (s->stats->in_flight_at_stop || s->stats->retries)
        fprintf(out,
                "\nIn flight at stop: %" PRIu64 "   retried on stale connections: %" PRIu64 "\n",
                s->stats->in_flight_at_stop, s->stats->retries);
    sl_report_thresholds(s, out);
    fflush(out);
}
