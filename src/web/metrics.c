/* Prometheus metrics: totals kept apart from the resettable statistics (see metrics.h). */
#include "web/metrics.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stats/hist.h"

const uint64_t sl_metrics_bounds_us[SL_METRICS_NBOUNDS] = {
    1000,   2500,    5000,    10000,   25000,    50000,    100000,   250000,
    500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

typedef struct metrics_row {
    uint64_t requests, failures;
    uint64_t sum_us;
    uint64_t buckets[SL_METRICS_NBOUNDS]; /* values <= bound, not cumulative: summed on write */
} metrics_row_t;

typedef struct metrics_error {
    uint32_t row;
    uint16_t kind;
    int32_t detail;
    uint64_t count;
    char *text; /* as the reports say it */
} metrics_error_t;

struct sl_metrics {
    metrics_row_t *rows;
    uint32_t nrows;
    metrics_error_t *errors;
    uint32_t nerrors, errors_cap;
};

sl_metrics_t *sl_metrics_new(void)
{
    return calloc(1, sizeof(sl_metrics_t));
}

void sl_metrics_free(sl_metrics_t *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nerrors; i++)
        free(m->errors[i].text);
    free(m->errors);
    free(m->rows);
    free(m);
}

/* Counts of h into per-bound slots: each value goes to the first bound at or above it,
 * or past the last (the +Inf bucket only). */
static void add_buckets(metrics_row_t *r, const sl_hist_t *h)
{
    if (!h->total_count)
        return;
    uint32_t lo = sl_hist_index_of(h->min_us), hi = sl_hist_index_of(h->max_us);
    unsigned b = 0;
    for (uint32_t i = lo; i <= hi; i++) {
        uint64_t n = sl_hist_count_at(h, i);
        if (!n)
            continue;
        uint64_t v = sl_hist_value_at_index(i);
        while (b < SL_METRICS_NBOUNDS && v > sl_metrics_bounds_us[b])
            b++;
        if (b < SL_METRICS_NBOUNDS)
            r->buckets[b] += n;
    }
}

static metrics_error_t *find_error(sl_metrics_t *m, const sl_error_entry_t *e)
{
    for (uint32_t i = 0; i < m->nerrors; i++) {
        metrics_error_t *x = &m->errors[i];
        if (x->row == e->row && x->kind == e->kind && x->detail == e->detail)
            return x;
    }
    return NULL;
}

int sl_metrics_add_interval(sl_metrics_t *m, const sl_snapshot_t *s)
{
    const sl_stats_t *iv = s->interval;
    if (!iv)
        return 0;
    /* Memory first, so that an interval is counted whole or not at all. */
    if (s->nrows > m->nrows) {
        metrics_row_t *rows = realloc(m->rows, s->nrows * sizeof(*rows));
        if (!rows)
            return SL_ENOMEM;
        memset(rows + m->nrows, 0, (s->nrows - m->nrows) * sizeof(*rows));
        m->rows = rows;
        m->nrows = (uint32_t)s->nrows;
    }
    uint32_t need = m->nerrors;
    for (uint32_t i = 0; i < iv->nerrors; i++)
        need += iv->errors[i].row < s->nrows && !find_error(m, &iv->errors[i]);
    if (need > m->errors_cap) {
        uint32_t cap = m->errors_cap ? m->errors_cap : 8;
        while (cap < need)
            cap *= 2;
        metrics_error_t *e = realloc(m->errors, cap * sizeof(*e));
        if (!e)
            return SL_ENOMEM;
        m->errors = e;
        m->errors_cap = cap;
    }
    for (uint32_t i = 0; i < iv->nerrors; i++) {
        const sl_error_entry_t *e = &iv->errors[i];
        if (e->row >= s->nrows)
            continue;
        metrics_error_t *x = find_error(m, e);
        if (!x) {
            char buf[128];
            x = &m->errors[m->nerrors++];
            *x = (metrics_error_t){.row = e->row, .kind = e->kind, .detail = e->detail};
            x->text = strdup(sl_snapshot_error_text(s, e, buf, sizeof(buf)));
        }
        x->count += e->occurrences;
    }
    for (size_t i = 0; i < s->nrows && i < iv->nrows; i++) {
        const sl_row_stats_t *src = &iv->rows[i];
        if (!src->num_requests)
            continue;
        metrics_row_t *r = &m->rows[i];
        r->requests += src->num_requests;
        r->failures += src->num_failures;
        r->sum_us += src->latency.sum_us;
        add_buckets(r, &src->latency);
    }
    return 0;
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '"')
            fputs("\\\"", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void put_row_labels(FILE *f, const sl_snapshot_t *s, uint32_t row)
{
    fputs("method=\"", f);
    put_label(f, s->rows[row].method);
    fputs("\",name=\"", f);
    put_label(f, s->rows[row].name);
    fputc('"', f);
}

void sl_metrics_write(const sl_metrics_t *m, const sl_snapshot_t *s, const char *state, FILE *f)
{
    /* Rows are named by the snapshot (the registry only grows, so every row the totals
     * know is in it). */
    uint32_t nrows = s ? (uint32_t)(m->nrows < s->nrows ? m->nrows : s->nrows) : 0;
    fputs("# HELP stormlight_requests_total Requests completed (failed or not), since the "
          "process started.\n"
          "# TYPE stormlight_requests_total counter\n",
          f);
    for (uint32_t i = 0; i < nrows; i++) {
        if (!m->rows[i].requests)
            continue;
        fputs("stormlight_requests_total{", f);
        put_row_labels(f, s, i);
        fprintf(f, "} %" PRIu64 "\n", m->rows[i].requests);
    }
    fputs("# HELP stormlight_failures_total Failed requests by error, since the process "
          "started.\n"
          "# TYPE stormlight_failures_total counter\n",
          f);
    for (uint32_t i = 0; i < m->nerrors; i++) {
        const metrics_error_t *e = &m->errors[i];
        if (e->row >= nrows)
            continue;
        fputs("stormlight_failures_total{", f);
        put_row_labels(f, s, e->row);
        fputs(",error=\"", f);
        put_label(f, e->text ? e->text : "?");
        fprintf(f, "\"} %" PRIu64 "\n", e->count);
    }
    fputs("# HELP stormlight_response_time_seconds Response time from the intended start "
          "to the last byte.\n"
          "# TYPE stormlight_response_time_seconds histogram\n",
          f);
    for (uint32_t i = 0; i < nrows; i++) {
        const metrics_row_t *r = &m->rows[i];
        if (!r->requests)
            continue;
        uint64_t cum = 0;
        for (unsigned b = 0; b < SL_METRICS_NBOUNDS; b++) {
            cum += r->buckets[b];
            fputs("stormlight_response_time_seconds_bucket{", f);
            put_row_labels(f, s, i);
            fprintf(f, ",le=\"%g\"} %" PRIu64 "\n", (double)sl_metrics_bounds_us[b] / 1e6, cum);
        }
        fputs("stormlight_response_time_seconds_bucket{", f);
        put_row_labels(f, s, i);
        fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", r->requests);
        fputs("stormlight_response_time_seconds_sum{", f);
        put_row_labels(f, s, i);
        fprintf(f, "} %.6f\n", (double)r->sum_us / 1e6);
        fputs("stormlight_response_time_seconds_count{", f);
        put_row_labels(f, s, i);
        fprintf(f, "} %" PRIu64 "\n", r->requests);
    }
    fprintf(f,
            "# HELP stormlight_users Virtual users running.\n"
            "# TYPE stormlight_users gauge\n"
            "stormlight_users %u\n"
            "# HELP stormlight_users_target Virtual users asked for.\n"
            "# TYPE stormlight_users_target gauge\n"
            "stormlight_users_target %u\n"
            "# HELP stormlight_rate_per_second The open model's arrival rate (0: closed "
            "model).\n"
            "# TYPE stormlight_rate_per_second gauge\n"
            "stormlight_rate_per_second %g\n",
            s ? s->users_running : 0, s ? s->users_target : 0,
            s && s->open_model ? s->rate_per_s : 0.0);
    static const char *const states[] = {"ready", "spawning", "running", "stopping", "stopped"};
    fputs("# HELP stormlight_state The test's state (1 for the current one), as Locust names "
          "them.\n"
          "# TYPE stormlight_state gauge\n",
          f);
    for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
        fprintf(f, "stormlight_state{state=\"%s\"} %d\n", states[k], strcmp(states[k], state) == 0);
}
