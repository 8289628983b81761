/* Locust-compatible CSV files (--csv PREFIX), with Locust 2.x's exact column headers so
 * that spreadsheets and dashboards built for Locust read them unchanged:
 *
 *   PREFIX_stats.csv          one row per (method, name) and an Aggregated row
 *   PREFIX_stats_history.csv  an Aggregated row per second (every row with
 *                             --csv-full-history), appended as the run goes
 *   PREFIX_failures.csv       Method,Name,Error,Occurrences
 *   PREFIX_exceptions.csv     Count,Message,Traceback,Nodes (script errors)
 *   PREFIX_phases.csv         the timing phases per row (not Locust's: docs/phases.md)
 *
 * The final files are written from the final snapshot, the same one the JSON summary and
 * the printed summary read, so all of them agree to the last request. Times are
 * milliseconds with microsecond precision, rounded exactly as the JSON summary rounds
 * them. Owns its five FILE handles. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fmt.h"
#include "base/utf8.h"
#include "report/csv.h"
#include "report/report.h"

struct sl_csv {
    const char *prefix;
    bool full_history;
    bool write_failed;
    int saved_errno;
    FILE *stats, *history, *failures, *exceptions, *phases;
};

static const char *const percentile_header = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";

/* One field, quoted as RFC 4180 (and Python's csv module, which Locust uses) quote: only
 * when it holds a comma, a quote or a line break; quotes inside are doubled. Bytes that
 * are not UTF-8 become U+FFFD (base/utf8.h), so every file decodes as UTF-8. */
static void put_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        sl_utf8_write(f, s);
        return;
    }
    char *clean = sl_utf8_sanitize(s);
    if (!clean)
        return; /* out of memory: an empty field rather than invalid text */
    fputc('"', f);
    for (const char *c = clean; *c; c++) {
        if (*c == '"')
            fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
    free(clean);
}

/* Milliseconds with microsecond precision: the JSON summary's rounding. */
static void put_ms(FILE *f, double us)
{
    fprintf(f, ",%.3f", sl_fmt_ms3(us));
}

/* A time, or N/A (Locust's mark for a percentile of nothing) when none was measured. */
static void put_time(FILE *f, bool any, double us)
{
    if (any)
        put_ms(f, us);
    else
        fputs(",N/A", f);
}

static void put_rate(FILE *f, double v)
{
    fprintf(f, ",%.3f", sl_fmt_round3(v));
}

static void put_percentiles(FILE *f, const sl_hist_t *h, bool na)
{
    for (int p = 0; p < SL_REPORT_NPCTS; p++) {
        if (na)
            fputs(",N/A", f);
        else
            put_ms(f, (double)sl_hist_percentile(h, sl_report_pcts[p]));
    }
}

static FILE *open_one(sl_csv_t *c, const char *suffix, sl_err_t *err)
{
    size_t len = strlen(c->prefix) + strlen(suffix) + 1;
    char *path = malloc(len);
    if (!path) {
        sl_err_set(err, "--csv: out of memory");
        return NULL;
    }
    snprintf(path, len, "%s%s", c->prefix, suffix);
    FILE *f = fopen(path, "w");
    if (!f)
        sl_err_set(err, "--csv: cannot write '%s': %s", path, strerror(errno));
    free(path);
    return f;
}

int sl_csv_open(sl_csv_t **out, const char *prefix, bool full_history, sl_err_t *err)
{
    sl_csv_t *c = calloc(1, sizeof(*c));
    if (!c) {
        sl_err_set(err, "--csv: out of memory");
        return SL_ENOMEM;
    }
    c->prefix = prefix;
    c->full_history = full_history;
    if (!(c->stats = open_one(c, "_stats.csv", err)) ||
        !(c->history = open_one(c, "_stats_history.csv", err)) ||
        !(c->failures = open_one(c, "_failures.csv", err)) ||
        !(c->exceptions = open_one(c, "_exceptions.csv", err)) ||
        !(c->phases = open_one(c, "_phases.csv", err))) {
        sl_csv_free(c);
        return SL_ESYS;
    }
    fprintf(c->history,
            "Timestamp,User Count,Type,Name,Requests/s,Failures/s,%s,Total Request Count,"
            "Total Failure Count,Total Median Response Time,Total Average Response Time,"
            "Total Min Response Time,Total Max Response Time,Total Average Content Size\n",
            percentile_header);
    fflush(c->history);
    *out = c;
    return SL_OK;
}

/* One history row: the interval's rates and percentiles, then the cumulative totals.
 * Percentiles are N/A for a second in which the row completed no request (before its
 * first one, as in Locust, and in any later quiet second). */
static void history_row(FILE *f, const sl_snapshot_t *s, uint64_t ts, const char *method,
                        const char *name, const sl_row_stats_t *iv, const sl_row_stats_t *cum,
                        double secs)
{
    fprintf(f, "%" PRIu64 ",%u,", ts, s->users_running);
    put_field(f, method);
    fputc(',', f);
    put_field(f, name);
    put_rate(f, (double)iv->num_requests / secs);
    put_rate(f, (double)iv->num_failures / secs);
    put_percentiles(f, &iv->latency, iv->latency.total_count == 0);
    const sl_hist_t *h = &cum->latency;
    bool any = h->total_count > 0;
    fprintf(f, ",%" PRIu64 ",%" PRIu64, cum->num_requests, cum->num_failures);
    put_time(f, any, (double)sl_hist_percentile(h, 50));
    put_time(f, any, any ? sl_hist_mean(h) : 0.0);
    put_time(f, any, any ? (double)h->min_us : 0.0);
    put_time(f, any, (double)h->max_us);
    put_rate(f, cum->num_requests ? (double)cum->content_bytes / (double)cum->num_requests : 0.0);
    fputc('\n', f);
}

void sl_csv_tick(sl_csv_t *c, const sl_snapshot_t *s)
{
    if (!c || !s->interval)
        return;
    uint64_t len_us =
        s->elapsed_us > s->interval_start_us ? s->elapsed_us - s->interval_start_us : 0;
    double secs = len_us ? (double)len_us / 1e6 : 1.0;
    uint64_t ts = (s->started_wall_us + s->elapsed_us) / SL_US_PER_S;
    if (c->full_history) {
        size_t *order = sl_report_order(s);
        for (size_t k = 0; k < s->nrows; k++) {
            size_t i = sl_report_row_at(order, k);
            if (i < s->interval->nrows)
                history_row(c->history, s, ts, s->rows[i].method, s->rows[i].name,
                            &s->interval->rows[i], &s->stats->rows[i], secs);
        }
        free(order);
    }
    history_row(c->history, s, ts, "", "Aggregated", s->interval_total, s->total, secs);
    if (fflush(c->history) != 0 && !c->write_failed) {
        c->write_failed = true;
        c->saved_errno = errno;
    }
}

static void stats_row(FILE *f, const char *method, const char *name, const sl_row_stats_t *r,
                      double secs)
{
    const sl_hist_t *h = &r->latency;
    bool any = h->total_count > 0;
    put_field(f, method);
    fputc(',', f);
    put_field(f, name);
    fprintf(f, ",%" PRIu64 ",%" PRIu64, r->num_requests, r->num_failures);
    put_time(f, any, (double)sl_hist_percentile(h, 50));
    put_time(f, any, any ? sl_hist_mean(h) : 0.0);
    put_time(f, any, any ? (double)h->min_us : 0.0);
    put_time(f, any, (double)h->max_us);
    put_rate(f, r->num_requests ? (double)r->content_bytes / (double)r->num_requests : 0.0);
    put_rate(f, (double)r->num_requests / secs);
    put_rate(f, (double)r->num_failures / secs);
    put_percentiles(f, h, !any);
    fputc('\n', f);
}

/* One row of the phases file: waiting and receiving with percentiles (N/A without a
 * response), then the means and totals of the rest and the connection counts. */
static void phases_row(FILE *f, const char *method, const char *name, const sl_row_stats_t *r)
{
    const sl_phases_sums_t *p = &r->phases;
    uint64_t responses = r->waiting.total_count;
    put_field(f, method);
    fputc(',', f);
    put_field(f, name);
    fprintf(f, ",%" PRIu64 ",%" PRIu64, r->num_requests, responses);
    const sl_hist_t *hs[] = {&r->waiting, &r->receiving};
    for (size_t k = 0; k < SL_ARRAY_LEN(hs); k++) {
        put_time(f, responses > 0, sl_hist_mean(hs[k]));
        put_percentiles(f, hs[k], responses == 0);
    }
    put_time(f, responses > 0, responses ? (double)p->sending_us / (double)responses : 0.0);
    put_ms(f, (double)p->connect_us);
    put_time(f, p->new_conns > 0, p->new_conns ? (double)p->connect_us / (double)p->new_conns : 0);
    put_ms(f, (double)p->tls_us);
    put_time(f, p->new_conns > 0, p->new_conns ? (double)p->tls_us / (double)p->new_conns : 0);
    fprintf(f, ",%" PRIu64 ",%" PRIu64 "\n", p->new_conns, p->reused_conns);
}

static void write_phases(FILE *f, const sl_snapshot_t *s)
{
    const char *pct[] = {"Waiting", "Receiving"};
    fputs("Type,Name,Request Count,Response Count", f);
    for (size_t k = 0; k < SL_ARRAY_LEN(pct); k++) {
        fprintf(f, ",%s Average", pct[k]);
        for (int p = 0; p < SL_REPORT_NPCTS; p++)
            fprintf(f, ",%s %s%%", pct[k], sl_report_pct_keys[p]);
    }
    fputs(",Sending Average,Connecting Total,Connecting Average,TLS Handshaking Total,"
          "TLS Handshaking Average,New Connections,Reused Connections\n",
          f);
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        phases_row(f, s->rows[i].method, s->rows[i].name, &s->stats->rows[i]);
    }
    free(order);
    phases_row(f, "", "Aggregated", s->total);
}

static int close_checked(sl_csv_t *c, FILE **f, const char *suffix, int rc, sl_err_t *err)
{
    bool failed = ferror(*f) != 0;
    if (fclose(*f) != 0)
        failed = true;
    *f = NULL;
    if (failed && rc == SL_OK) {
        sl_err_set(err, "--csv: cannot write '%s%s': %s", c->prefix, suffix, strerror(errno));
        return SL_ESYS;
    }
    return rc;
}

void sl_csv_write_stats(FILE *f, const sl_snapshot_t *s)
{
    double secs = s->elapsed_us ? (double)s->elapsed_us / 1e6 : 1.0;
    fprintf(f,
            "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
            "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
            "%s\n",
            percentile_header);
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        stats_row(f, s->rows[i].method, s->rows[i].name, &s->stats->rows[i], secs);
    }
    free(order);
    stats_row(f, "", "Aggregated", s->total, secs);
}

void sl_csv_write_failures(FILE *f, const sl_snapshot_t *s)
{
    fputs("Method,Name,Error,Occurrences\n", f);
    for (uint32_t i = 0; i < s->stats->nerrors; i++) {
        const sl_error_entry_t *e = &s->stats->errors[i];
        char buf[128];
        put_field(f, s->rows[e->row].method);
        fputc(',', f);
        put_field(f, s->rows[e->row].name);
        fputc(',', f);
        put_field(f, sl_snapshot_error_text(s, e, buf, sizeof(buf)));
        fprintf(f, ",%" PRIu64 "\n", e->occurrences);
    }
}

/* Script errors: Locust's Traceback column gets the script location, and Nodes the one
 * node a local run has. */
void sl_csv_write_exceptions(FILE *f, const sl_snapshot_t *s)
{
    fputs("Count,Message,Traceback,Nodes\n", f);
    for (uint32_t i = 0; i < s->stats->nexceptions && s->texts; i++) {
        const char *where, *msg;
        sl_rows_get(s->texts, s->stats->exceptions[i].text, &where, &msg);
        fprintf(f, "%" PRIu64 ",", s->stats->exceptions[i].occurrences);
        put_field(f, msg);
        fputc(',', f);
        put_field(f, where);
        fputs(",local\n", f);
    }
}

int sl_csv_finish(sl_csv_t *c, const sl_snapshot_t *s, sl_err_t *err)
{
    sl_csv_write_stats(c->stats, s);
    sl_csv_write_failures(c->failures, s);
    sl_csv_write_exceptions(c->exceptions, s);

    write_phases(c->phases, s);

    int rc = SL_OK;
    if (c->write_failed) {
        sl_err_set(err, "--csv: cannot write '%s_stats_history.csv': %s", c->prefix,
                   strerror(c->saved_errno));
        rc = SL_ESYS;
    }
    rc = close_checked(c, &c->stats, "_stats.csv", rc, err);
    rc = close_checked(c, &c->history, "_stats_history.csv", rc, err);
    rc = close_checked(c, &c->failures, "_failures.csv", rc, err);
    rc = close_checked(c, &c->exceptions, "_exceptions.csv", rc, err);
    rc = close_checked(c, &c->phases, "_phases.csv", rc, err);
    return rc;
}

void sl_csv_free(sl_csv_t *c)
{
    if (!c)
        return;
    FILE *files[] = {c->stats, c->history, c->failures, c->exceptions, c->phases};
    for (size_t i = 0; i < SL_ARRAY_LEN(files); i++) {
        if (files[i])
            fclose(files[i]);
    }
    free(c);
}
