/* The JSON summary, schema stormlight.summary/1 (ARCHITECTURE.md part B). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fmt.h"
#include "report/json.h"
#include "report/jsonw.h"
#include "report/report.h"

/* A time, or null when there is none: a row that completed no request has no
 * percentiles, mean, minimum or maximum (never 0, which reads as "instant"). */
static void put_ms(sl_jw_t *w, const char *key, bool any, double us)
{
    if (any)
        sl_jw_number(w, key, sl_fmt_ms3(us));
    else
        sl_jw_null(w, key);
}

static void put_percentiles(sl_jw_t *w, const char *key, const sl_hist_t *h)
{
    bool any = h->total_count > 0;
    sl_jw_object(w, key);
    for (int i = 0; i < SL_REPORT_NPCTS; i++)
        put_ms(w, sl_report_pct_keys[i], any, (double)sl_hist_percentile(h, sl_report_pcts[i]));
    sl_jw_end_object(w);
}

/* A phase kept as a histogram: its mean and a few percentiles (k6's med, p90, p95, and
 * p99 and the maximum; fewer than a row's response times, so thousands of rows keep the
 * summary small). */
static void put_phase_hist(sl_jw_t *w, const char *key, const sl_hist_t *h)
{
    static const double pcts[] = {50, 90, 95, 99, 100};
    static const char *const keys[] = {"50", "90", "95", "99", "100"};
    bool any = h->total_count > 0;
    sl_jw_object(w, key);
    put_ms(w, "avg", any, any ? sl_hist_mean(h) : 0.0);
    for (size_t i = 0; i < SL_ARRAY_LEN(pcts); i++)
        put_ms(w, keys[i], any, (double)sl_hist_percentile(h, pcts[i]));
    sl_jw_end_object(w);
}

/* A phase kept as a sum: the total and the mean over n (the requests it applies to). */
static void put_phase_sum(sl_jw_t *w, const char *key, uint64_t sum_us, uint64_t n)
{
    sl_jw_object(w, key);
    sl_jw_number(w, "total", sl_fmt_ms3((double)sum_us));
    put_ms(w, "avg", n > 0, n ? (double)sum_us / (double)n : 0.0);
    sl_jw_end_object(w);
}

/* Where the time went (docs/phases.md): connecting and TLS per new connection, sending
 * and the histograms per request that got a response. */
static void put_phases(sl_jw_t *w, const sl_row_stats_t *r)
{
    const sl_phases_sums_t *p = &r->phases;
    sl_jw_object(w, "phases_ms");
    put_phase_sum(w, "connecting", p->connect_us, p->new_conns);
    put_phase_sum(w, "tls_handshaking", p->tls_us, p->new_conns);
    put_phase_sum(w, "sending", p->sending_us, r->waiting.total_count);
    put_phase_hist(w, "waiting", &r->waiting);
    put_phase_hist(w, "receiving", &r->receiving);
    sl_jw_number(w, "new_connections", (double)p->new_conns);
    sl_jw_number(w, "reused_connections", (double)p->reused_conns);
    sl_jw_end_object(w);
}

static void put_row(sl_jw_t *w, const char *key, const char *method, const char *name,
                    const sl_row_stats_t *r, double secs)
{
    const sl_hist_t *h = &r->latency;
    bool any = h->total_count > 0;
    sl_jw_object(w, key);
    sl_jw_string(w, "method", method);
    sl_jw_string(w, "name", name);
    sl_jw_number(w, "num_requests", (double)r->num_requests);
    sl_jw_number(w, "num_failures", (double)r->num_failures);
    put_ms(w, "min_ms", any, any ? (double)h->min_us : 0.0);
    put_ms(w, "max_ms", any, (double)h->max_us);
    put_ms(w, "avg_ms", any, any ? sl_hist_mean(h) : 0.0);
    sl_jw_number(w, "rps", sl_fmt_round3((double)r->num_requests / secs));
    sl_jw_number(w, "failures_per_s", sl_fmt_round3((double)r->num_failures / secs));
    sl_jw_number(w, "avg_content_bytes",
                 r->num_requests ? sl_fmt_round3((double)r->content_bytes / (double)r->num_requests)
                                 : 0.0);
    put_percentiles(w, "percentiles_ms", h);
    /* Service time: from the moment the request left, without the generator's lateness. */
    put_percentiles(w, "service_percentiles_ms", &r->service);
    put_phases(w, r);
    sl_jw_end_object(w);
}

int sl_report_json_check(const char *path, sl_err_t *err)
{
    if (strcmp(path, "-") == 0)
        return 0;
    /* Non-blocking, so a FIFO whose reader comes later does not hold the start (ENXIO:
     * no reader yet, which is fine); no O_TRUNC, so an old summary stays until the new
     * one replaces it. */
    int fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);
    if (fd < 0 && errno != ENXIO) {
        sl_err_set(err, "--json: cannot write '%s': %s", path, strerror(errno));
        return SL_ESYS;
    }
    if (fd >= 0)
        close(fd);
    return 0;
}

/* The document, streamed: memory stays flat whatever the rows and the history hold. */
static void put_summary(sl_jw_t *w, const sl_snapshot_t *s, bool interrupted)
{
    double secs = s->elapsed_us ? (double)s->elapsed_us / 1e6 : 1.0;
    sl_jw_object(w, NULL);
    sl_jw_string(w, "schema", "stormlight.summary/1");
    sl_jw_string(w, "version", SL_VERSION);
    sl_jw_string(w, "host", s->host);
    char when[32];
    time_t t = (time_t)(s->started_wall_us / SL_US_PER_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    sl_jw_string(w, "started_at", when);
    sl_jw_number(w, "duration_s", sl_fmt_round3(secs));
    /* "users" is what the run asked for: with stages or a shape the target in force at
     * the end (often 0) would understate it. */
    const sl_run_outcome_t *oc = s->outcome;
    sl_jw_number(w, "users", oc ? oc->target_users : s->users_target);
    sl_jw_number(w, "spawn_rate", s->spawn_rate);
    sl_jw_number(w, "threads", s->threads);
    sl_jw_array(w, "stats");
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        put_row(w, NULL, s->rows[i].method, s->rows[i].name, &s->stats->rows[i], secs);
    }
    free(order);
    sl_jw_end_array(w);
    put_row(w, "total", "", "Aggregated", s->total, secs);
    sl_report_errors_write(w, "errors", s);
    sl_jw_array(w, "exceptions");
    for (uint32_t i = 0; i < s->stats->nexceptions && s->texts; i++) {
        const char *where, *msg;
        sl_rows_get(s->texts, s->stats->exceptions[i].text, &where, &msg);
        sl_jw_object(w, NULL);
        sl_jw_string(w, "message", msg);
        sl_jw_string(w, "location", where);
        sl_jw_number(w, "occurrences", (double)s->stats->exceptions[i].occurrences);
        sl_jw_end_object(w);
    }
    sl_jw_end_array(w);
    sl_jw_number(w, "in_flight_at_stop", (double)s->stats->in_flight_at_stop);
    sl_jw_string(w, "model", s->open_model ? "open" : "closed");
    sl_jw_number(w, "dropped_iterations", (double)s->stats->dropped_iterations);
    sl_jw_object(w, "send_lag_ms");
    bool lagged = s->stats->send_lag.total_count > 0;
    put_ms(w, "50", lagged, (double)sl_hist_percentile(&s->stats->send_lag, 50));
    put_ms(w, "99", lagged, (double)sl_hist_percentile(&s->stats->send_lag, 99));
    put_ms(w, "max", lagged, (double)s->stats->send_lag.max_us);
    sl_jw_end_object(w);
    sl_jw_number(w, "retries", (double)s->stats->retries);
    sl_jw_number(w, "dns_ms", sl_fmt_ms3((double)s->dns_us));
    sl_jw_number(w, "stale_connections_discarded", (double)s->stats->stale_discarded);
    const char *proto = sl_stats_protocol(s->stats);
    if (proto)
        sl_jw_string(w, "protocol", proto);
    else
        sl_jw_null(w, "protocol");
    sl_jw_object(w, "connections");
    sl_jw_number(w, "http/1.1", (double)s->stats->conns_h1);
    sl_jw_number(w, "h2", (double)s->stats->conns_h2);
    sl_jw_number(w, "h2_declined", (double)s->stats->h2_declined);
    sl_jw_end_object(w);
    sl_jw_number(w, "unrecorded_requests", (double)(s->stats->unrecorded + s->unlisted));
    sl_jw_number(w, "max_rows", s->max_rows);
    if (s->overflow_row >= 0)
        sl_jw_string(w, "overflow_row", s->rows[s->overflow_row].name);
    else
        sl_jw_null(w, "overflow_row");
    if (s->has_hint) {
        sl_jw_object(w, "row_hint");
        sl_jw_string(w, "method", s->hint.method);
        sl_jw_string(w, "pattern", s->hint.pattern);
        sl_jw_number(w, "rows", s->hint.rows);
        sl_jw_string(w, "origin", s->hint.origin);
        sl_jw_end_object(w);
    } else {
        sl_jw_null(w, "row_hint");
    }
    if (oc) {
        sl_jw_number(w, "peak_users", oc->peak_users);
        sl_jw_number(w, "target_users", oc->target_users);
        if (oc->iterations)
            sl_jw_number(w, "iterations", (double)oc->iterations);
        else
            sl_jw_null(w, "iterations");
        if (oc->stop_reason)
            sl_jw_string(w, "stop_reason", oc->stop_reason);
        else
            sl_jw_null(w, "stop_reason");
        const char *sig = oc->stop_signal ? sigabbrev_np(oc->stop_signal) : NULL;
        if (sig) {
            char name[32];
            snprintf(name, sizeof(name), "SIG%s", sig);
            sl_jw_string(w, "stop_signal", name);
        }
    }
    sl_report_history_write(w, "history", s);
    sl_report_thresholds_write(w, "thresholds", s);
    if (s->outcome && s->outcome->thresholds.aborted_by)
        sl_jw_string(w, "aborted_by_threshold", s->outcome->thresholds.aborted_by);
    sl_jw_bool(w, "interrupted", interrupted);
    sl_jw_end_object(w);
    fputc('\n', w->f);
}

int sl_report_json(const sl_snapshot_t *s, const char *path, sl_err_t *err)
{
    return sl_report_json_run(s, path, false, err);
}

void sl_report_json_write(FILE *f, const sl_snapshot_t *s, bool interrupted)
{
    sl_jw_t w;
    sl_jw_init(&w, f, true);
    put_summary(&w, s, interrupted);
}

int sl_report_json_run(const sl_snapshot_t *s, const char *path, bool interrupted, sl_err_t *err)
{
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        sl_err_set(err, "--json: cannot write '%s': %s", path, strerror(errno));
        return SL_ESYS;
    }
    sl_report_json_write(f, s, interrupted);
    bool failed = ferror(f) != 0;
    if (to_stdout ? fflush(f) != 0 : fclose(f) != 0)
        failed = true;
    if (failed) {
        sl_err_set(err, "--json: cannot write '%s': %s", path, strerror(errno));
        return SL_ESYS;
    }
    return 0;
}

void sl_report_errors_write(sl_jw_t *w, const char *key, const sl_snapshot_t *s)
{
    sl_jw_array(w, key);
    for (uint32_t i = 0; i < s->stats->nerrors; i++) {
        const sl_error_entry_t *e = &s->stats->errors[i];
        char buf[128];
        sl_jw_object(w, NULL);
        sl_jw_string(w, "method", s->rows[e->row].method);
        sl_jw_string(w, "name", s->rows[e->row].name);
        sl_jw_string(w, "error", sl_snapshot_error_text(s, e, buf, sizeof(buf)));
        sl_jw_number(w, "occurrences", (double)e->occurrences);
        sl_jw_end_object(w);
    }
    sl_jw_end_array(w);
}

void sl_report_history_write(sl_jw_t *w, const char *key, const sl_snapshot_t *s)
{
    sl_jw_array(w, key);
    for (size_t i = 0; i < s->nhistory; i++) {
        const sl_history_point_t *h = &s->history[i];
        double secs = h->interval_us ? (double)h->interval_us / 1e6 : 1.0;
        sl_jw_object(w, NULL);
        sl_jw_number(w, "t_s", sl_fmt_round3((double)h->elapsed_us / 1e6));
        sl_jw_number(w, "interval_s", sl_fmt_round3((double)h->interval_us / 1e6));
        sl_jw_number(w, "users", h->users);
        sl_jw_number(w, "requests", (double)h->requests);
        sl_jw_number(w, "failures", (double)h->failures);
        sl_jw_number(w, "rps", sl_fmt_round3((double)h->requests / secs));
        sl_jw_number(w, "failures_per_s", sl_fmt_round3((double)h->failures / secs));
        /* A second without completed requests has no percentiles: null, a gap in charts. */
        if (h->requests) {
            sl_jw_number(w, "p50_ms", sl_fmt_ms3(h->p50_us));
            sl_jw_number(w, "p95_ms", sl_fmt_ms3(h->p95_us));
            sl_jw_number(w, "p99_ms", sl_fmt_ms3(h->p99_us));
        } else {
            sl_jw_null(w, "p50_ms");
            sl_jw_null(w, "p95_ms");
            sl_jw_null(w, "p99_ms");
        }
        sl_jw_end_object(w);
    }
    sl_jw_end_array(w);
}

void sl_report_thresholds_write(sl_jw_t *w, const char *key, const sl_snapshot_t *s)
{
    sl_jw_array(w, key);
    const sl_verdicts_t *v = s->outcome ? &s->outcome->thresholds : NULL;
    for (size_t i = 0; v && i < v->n; i++) {
        const sl_verdict_t *r = &v->item[i];
        sl_jw_object(w, NULL);
        sl_jw_string(w, "expr", r->expr);
        sl_jw_bool(w, "ok", r->ok);
        if (r->has_value)
            sl_jw_number(w, "observed", r->observed);
        else
            sl_jw_null(w, "observed");
        sl_jw_string(w, "unit", r->unit);
        sl_jw_end_object(w);
    }
    sl_jw_end_array(w);
}
