/* The JSON summary, schema stormlight.summary/1 (ARCHITECTURE.md part B). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report/outputs.h"
#include "report/report.h"
#include "report/threshold.h"

/* Milliseconds with microsecond precision, free of binary noise in the output. */
static double ms3(double us)
{
    return round(us) / 1000.0;
}

static double round3(double v)
{
    return round(v * 1000.0) / 1000.0;
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
    cJSON_AddNumberToObject(o, "min_ms", any ? ms3((double)h->min_us) : 0.0);
    cJSON_AddNumberToObject(o, "max_ms", ms3((double)h->max_us));
    cJSON_AddNumberToObject(o, "avg_ms", any ? ms3(sl_hist_mean(h)) : 0.0);
    cJSON_AddNumberToObject(o, "rps", round3((double)r->num_requests / secs));
    cJSON_AddNumberToObject(o, "failures_per_s", round3((double)r->num_failures / secs));
    cJSON_AddNumberToObject(
        o, "avg_content_bytes",
        r->num_requests ? round3((double)r->content_bytes / (double)r->num_requests) : 0.0);
    cJSON *p = cJSON_AddObjectToObject(o, "percentiles_ms");
    for (int i = 0; i < SL_REPORT_NPCTS; i++)
        cJSON_AddNumberToObject(p, sl_report_pct_keys[i],
                                ms3((double)sl_hist_percentile(h, sl_report_pcts[i])));
    /* Service time: from the moment the request left, without the generator's lateness. */
    cJSON *sp = cJSON_AddObjectToObject(o, "service_percentiles_ms");
    for (int i = 0; i < SL_REPORT_NPCTS; i++)
        cJSON_AddNumberToObject(sp, sl_report_pct_keys[i],
                                ms3((double)sl_hist_percentile(&r->service, sl_report_pcts[i])));
    return o;
}

int sl_report_json(const sl_snapshot_t *s, const char *path, sl_err_t *err)
{
    return sl_report_json_run(s, path, false, err);
}

int sl_report_json_run(const sl_snapshot_t *s, const char *path, bool interrupted, sl_err_t *err)
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
    cJSON_AddNumberToObject(root, "users", s->users_target);
    cJSON_AddNumberToObject(root, "spawn_rate", s->spawn_rate);
    cJSON_AddNumberToObject(root, "threads", s->threads);
    cJSON *stats = cJSON_AddArrayToObject(root, "stats");
    for (size_t i = 0; i < s->nrows; i++)
        cJSON_AddItemToArray(
            stats, row_json(s->rows[i].method, s->rows[i].name, &s->stats->rows[i], secs));
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
    cJSON_AddNumberToObject(lag, "50", ms3((double)sl_hist_percentile(&s->stats->send_lag, 50)));
    cJSON_AddNumberToObject(lag, "99", ms3((double)sl_hist_percentile(&s->stats->send_lag, 99)));
    cJSON_AddNumberToObject(lag, "max", ms3((double)s->stats->send_lag.max_us));
    cJSON_AddNumberToObject(root, "retries", (double)s->stats->retries);
    cJSON_AddItemToObject(root, "history", sl_report_history_json(s));
    cJSON_AddItemToObject(root, "thresholds", sl_report_thresholds_json(s));
    if (s->thresholds && s->thresholds->aborted_by)
        cJSON_AddStringToObject(root, "aborted_by_threshold", s->thresholds->aborted_by);
    cJSON_AddBoolToObject(root, "interrupted", interrupted);

    char *text = cJSON_Print(root);
    cJSON_Delete(root);
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
    cJSON_free(text);
    return rc;
}
