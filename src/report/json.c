/* The JSON summary, schema stormlight.summary/1 (ARCHITECTURE.md part B). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/outputs.h"
#include "report/report.h"
#include "report/threshold.h"
#include "report/utf8.h"

/* Milliseconds with microsecond precision, free of binary noise in the output. */
static double ms3(double us)
{
    return round(us) / 1000.0;
}

static double round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

/* A time, or null when there is none: a row that completed no request has no
 * percentiles, mean, minimum or maximum (never 0, which reads as "instant"). */
static void add_ms(cJSON *o, const char *key, bool any, double us)
{
    if (any)
        cJSON_AddNumberToObject(o, key, ms3(us));
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *row_json(const char *method, const char *name, const sl_row_stats_t *r, double secs)
{
    const sl_hist_t *h = &r->latency;
    bool any = h->total_count > 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", method);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "num_requests", (double)r->num_requests);
    cJSON_AddNumberToObject(o, "num_failures", (double)r->num_failures);
    add_ms(o, "min_ms", any, any ? (double)h->min_us : 0.0);
    add_ms(o, "max_ms", any, (double)h->max_us);
    add_ms(o, "avg_ms", any, any ? sl_hist_mean(h) : 0.0);
    cJSON_AddNumberToObject(o, "rps", round3((double)r->num_requests / secs));
    cJSON_AddNumberToObject(o, "failures_per_s", round3((double)r->num_failures / secs));
    cJSON_AddNumberToObject(
        o, "avg_content_bytes",
        r->num_requests ? round3((double)r->content_bytes / (double)r->num_requests) : 0.0);
    cJSON *p = cJSON_AddObjectToObject(o, "percentiles_ms");
    for (int i = 0; i < SL_REPORT_NPCTS; i++)
        add_ms(p, sl_report_pct_keys[i], any, (double)sl_hist_percentile(h, sl_report_pcts[i]));
    /* Service time: from the moment the request left, without the generator's lateness. */
    cJSON *sp = cJSON_AddObjectToObject(o, "service_percentiles_ms");
    bool sany = r->service.total_count > 0;
    for (int i = 0; i < SL_REPORT_NPCTS; i++)
        add_ms(sp, sl_report_pct_keys[i], sany,
               (double)sl_hist_percentile(&r->service, sl_report_pcts[i]));
    return o;
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

int sl_report_json(const sl_snapshot_t *s, const char *path, sl_err_t *err)
{
    double secs = s->elapsed_us ? (double)s->elapsed_us / 1e6 : 1.0;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "stormlight.summary/1");
    cJSON_AddStringToObject(root, "version", SL_VERSION);
    cJSON_AddStringToObject(root, "host", s->host);
    char when[32];
    time_t t = (time_t)(s->started_wall_us / SL_US_PER_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(root, "started_at", when);
    cJSON_AddNumberToObject(root, "duration_s", round3(secs));
    /* "users" is what the run asked for: with stages or a shape the target in force at
     * the end (often 0) would understate it. */
    const sl_run_outcome_t *oc = s->outcome;
    cJSON_AddNumberToObject(root, "users", oc ? oc->target_users : s->users_target);
    cJSON_AddNumberToObject(root, "spawn_rate", s->spawn_rate);
    cJSON_AddNumberToObject(root, "threads", s->threads);
    cJSON *stats = cJSON_AddArrayToObject(root, "stats");
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        cJSON_AddItemToArray(
            stats, row_json(s->rows[i].method, s->rows[i].name, &s->stats->rows[i], secs));
    }
    free(order);
    cJSON_AddItemToObject(root, "total", row_json("", "Aggregated", s->total, secs));
    cJSON *errors = cJSON_AddArrayToObject(root, "errors");
    for (uint32_t i = 0; i < s->stats->nerrors; i++) {
        const sl_error_entry_t *e = &s->stats->errors[i];
        char buf[128];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", s->rows[e->row].method);
        cJSON_AddStringToObject(o, "name", s->rows[e->row].name);
        cJSON_AddStringToObject(o, "error", sl_snapshot_error_text(s, e, buf, sizeof(buf)));
        cJSON_AddNumberToObject(o, "occurrences", (double)e->occurrences);
        cJSON_AddItemToArray(errors, o);
    }
    cJSON *exc = cJSON_AddArrayToObject(root, "exceptions");
    for (uint32_t i = 0; i < s->stats->nexceptions && s->texts; i++) {
        const char *where, *msg;
        sl_rows_get(s->texts, s->stats->exceptions[i].text, &where, &msg);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "message", msg);
        cJSON_AddStringToObject(o, "location", where);
        cJSON_AddNumberToObject(o, "occurrences", (double)s->stats->exceptions[i].occurrences);
        cJSON_AddItemToArray(exc, o);
    }
    cJSON_AddNumberToObject(root, "in_flight_at_stop", (double)s->stats->in_flight_at_stop);
    cJSON_AddStringToObject(root, "model", s->open_model ? "open" : "closed");
    cJSON_AddNumberToObject(root, "dropped_iterations", (double)s->stats->dropped_iterations);
    cJSON *lag = cJSON_AddObjectToObject(root, "send_lag_ms");
    bool lagged = s->stats->send_lag.total_count > 0;
    add_ms(lag, "50", lagged, (double)sl_hist_percentile(&s->stats->send_lag, 50));
    add_ms(lag, "99", lagged, (double)sl_hist_percentile(&s->stats->send_lag, 99));
    add_ms(lag, "max", lagged, (double)s->stats->send_lag.max_us);
    cJSON_AddNumberToObject(root, "retries", (double)s->stats->retries);
    if (oc) {
        cJSON_AddNumberToObject(root, "peak_users", oc->peak_users);
        cJSON_AddNumberToObject(root, "target_users", oc->target_users);
        if (oc->iterations)
            cJSON_AddNumberToObject(root, "iterations", (double)oc->iterations);
        else
            cJSON_AddNullToObject(root, "iterations");
        if (oc->stop_reason)
            cJSON_AddStringToObject(root, "stop_reason", oc->stop_reason);
        else
            cJSON_AddNullToObject(root, "stop_reason");
        const char *sig = oc->stop_signal ? sigabbrev_np(oc->stop_signal) : NULL;
        if (sig) {
            char name[32];
            snprintf(name, sizeof(name), "SIG%s", sig);
            cJSON_AddStringToObject(root, "stop_signal", name);
        }
    }
    cJSON_AddItemToObject(root, "history", sl_report_history_json(s));
    cJSON_AddItemToObject(root, "thresholds", sl_report_thresholds_json(s));
    if (s->thresholds && s->thresholds->aborted_by)
        cJSON_AddStringToObject(root, "aborted_by_threshold", s->thresholds->aborted_by);

    char *raw = cJSON_Print(root);
    cJSON_Delete(root);
    /* Names and messages are bytes; cJSON copies them as they are. JSON's own syntax is
     * ASCII, so repairing the whole text repairs exactly the strings (report/utf8.h). */
    char *text = raw ? sl_utf8_sanitize(raw) : NULL;
    cJSON_free(raw);
    if (!text) {
        sl_err_set(err, "--json: out of memory");
        return SL_ENOMEM;
    }
    int rc = 0;
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        sl_err_set(err, "--json: cannot write '%s': %s", path, strerror(errno));
        rc = SL_ESYS;
    } else {
        fputs(text, f);
        fputc('\n', f);
        if (to_stdout ? fflush(f) != 0 : fclose(f) != 0) {
            sl_err_set(err, "--json: cannot write '%s': %s", path, strerror(errno));
            rc = SL_ESYS;
        }
    }
    free(text);
    return rc;
}
