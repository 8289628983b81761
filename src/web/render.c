/* Locust-shaped JSON and the page's live events (see render.h). */
#include "web/render.h"

#include <stdlib.h>

#include "base/fmt.h"
#include "control/control.h"
#include "report/json.h"
#include "report/jsonw.h"
#include "report/report.h"

static double ms(uint64_t us)
{
    return sl_fmt_ms3((double)us);
}

/* Locust's fields of one row; `extra` adds the page's own (p95, p99, service times). */
static void put_row(sl_jw_t *w, const char *method, const char *name, const sl_row_stats_t *r,
                    double rps, double fps, bool extra)
{
    const sl_hist_t *h = &r->latency;
    bool any = h->total_count > 0;
    sl_jw_object(w, NULL);
    sl_jw_string(w, "method", method);
    sl_jw_string(w, "name", name);
    sl_jw_string(w, "safe_name", name); /* the JSON is escaped; the page sets text, not HTML */
    sl_jw_number(w, "num_requests", (double)r->num_requests);
    sl_jw_number(w, "num_failures", (double)r->num_failures);
    sl_jw_number(w, "avg_response_time", any ? sl_fmt_ms3(sl_hist_mean(h)) : 0.0);
    sl_jw_number(w, "min_response_time", any ? ms(h->min_us) : 0.0);
    sl_jw_number(w, "max_response_time", ms(h->max_us));
    sl_jw_number(w, "current_rps", sl_fmt_round3(rps));
    sl_jw_number(w, "current_fail_per_sec", sl_fmt_round3(fps));
    sl_jw_number(w, "median_response_time", any ? ms(sl_hist_percentile(h, 50)) : 0.0);
    sl_jw_number(w, "ninetieth_response_time", any ? ms(sl_hist_percentile(h, 90)) : 0.0);
    sl_jw_number(w, "ninety_ninth_response_time", any ? ms(sl_hist_percentile(h, 99)) : 0.0);
    sl_jw_number(w, "avg_content_length",
                 r->num_requests ? sl_fmt_round3((double)r->content_bytes / (double)r->num_requests)
                                 : 0.0);
    if (extra) {
        const sl_hist_t *sv = &r->service;
        bool svc = sv->total_count > 0;
        sl_jw_number(w, "p95", any ? ms(sl_hist_percentile(h, 95)) : 0.0);
        sl_jw_number(w, "service_p50", svc ? ms(sl_hist_percentile(sv, 50)) : 0.0);
        sl_jw_number(w, "service_p95", svc ? ms(sl_hist_percentile(sv, 95)) : 0.0);
        sl_jw_number(w, "service_p99", svc ? ms(sl_hist_percentile(sv, 99)) : 0.0);
    }
    sl_jw_end_object(w);
}

static void put_rows(sl_jw_t *w, const sl_snapshot_t *s, bool extra)
{
    sl_jw_array(w, "stats");
    if (s) {
        size_t *order = sl_report_order(s);
        for (size_t k = 0; k < s->nrows; k++) {
            size_t i = sl_report_row_at(order, k);
            put_row(w, s->rows[i].method, s->rows[i].name, &s->stats->rows[i], s->cur_rps[i],
                    s->cur_fail_per_s[i], extra);
        }
        free(order);
        put_row(w, "", "Aggregated", s->total, s->cur_rps[s->nrows], s->cur_fail_per_s[s->nrows],
                extra);
    }
    sl_jw_end_array(w);
}

static void empty_array(sl_jw_t *w, const char *key)
{
    sl_jw_array(w, key);
    sl_jw_end_array(w);
}

static void put_exceptions(sl_jw_t *w, const sl_snapshot_t *s)
{
    sl_jw_array(w, "exceptions");
    for (uint32_t i = 0; s && s->texts && i < s->stats->nexceptions; i++) {
        const char *where, *msg;
        sl_rows_get(s->texts, s->stats->exceptions[i].text, &where, &msg);
        sl_jw_object(w, NULL);
        sl_jw_number(w, "count", (double)s->stats->exceptions[i].occurrences);
        sl_jw_string(w, "msg", msg);
        sl_jw_string(w, "traceback", where);
        sl_jw_string(w, "nodes", "local");
        sl_jw_end_object(w);
    }
    sl_jw_end_array(w);
}

void sl_web_locust_stats(FILE *f, const sl_snapshot_t *s, const char *state, uint32_t user_count)
{
    sl_jw_t w;
    sl_jw_init(&w, f, false);
    sl_jw_object(&w, NULL);
    put_rows(&w, s, false);
    if (s)
        sl_report_errors_write(&w, "errors", s);
    else
        empty_array(&w, "errors");
    if (s) {
        const sl_hist_t *iv = s->interval_total ? &s->interval_total->latency : NULL;
        bool cur = iv && iv->total_count;
        uint64_t n = s->total->num_requests;
        sl_jw_number(&w, "total_rps", sl_fmt_round3(s->cur_rps[s->nrows]));
        sl_jw_number(&w, "fail_ratio", n ? (double)s->total->num_failures / (double)n : 0.0);
        if (cur) {
            sl_jw_number(&w, "current_response_time_percentile_95", ms(sl_hist_percentile(iv, 95)));
            sl_jw_number(&w, "current_response_time_percentile_50", ms(sl_hist_percentile(iv, 50)));
        } else {
            sl_jw_null(&w, "current_response_time_percentile_95");
            sl_jw_null(&w, "current_response_time_percentile_50");
        }
    } else {
        sl_jw_number(&w, "total_rps", 0);
        sl_jw_number(&w, "fail_ratio", 0);
        sl_jw_null(&w, "current_response_time_percentile_95");
        sl_jw_null(&w, "current_response_time_percentile_50");
    }
    sl_jw_array(&w, "workers");
    sl_jw_end_array(&w);
    sl_jw_string(&w, "state", state);
    sl_jw_number(&w, "user_count", user_count);
    sl_jw_end_object(&w);
    fputc('\n', f);
}

void sl_web_locust_exceptions(FILE *f, const sl_snapshot_t *s)
{
    sl_jw_t w;
    sl_jw_init(&w, f, false);
    sl_jw_object(&w, NULL);
    put_exceptions(&w, s);
    sl_jw_end_object(&w);
    fputc('\n', f);
}

void sl_web_point_event(FILE *f, const sl_snapshot_t *s, uint64_t id)
{
    const sl_history_point_t *h = &s->history[s->nhistory - 1];
    double secs = h->interval_us ? (double)h->interval_us / 1e6 : 1.0;
    sl_jw_t w;
    sl_jw_init(&w, f, false);
    sl_jw_object(&w, NULL);
    sl_jw_number(&w, "id", (double)id);
    sl_jw_number(&w, "t", sl_fmt_round3((double)h->elapsed_us / 1e6));
    sl_jw_number(&w, "users", h->users);
    sl_jw_number(&w, "rps", sl_fmt_round3((double)h->requests / secs));
    sl_jw_number(&w, "fps", sl_fmt_round3((double)h->failures / secs));
    sl_jw_number(&w, "p50", ms(h->p50_us));
    sl_jw_number(&w, "p95", ms(h->p95_us));
    sl_jw_number(&w, "p99", ms(h->p99_us));
    sl_jw_end_object(&w);
}

void sl_web_table_event(FILE *f, const sl_snapshot_t *s, const char *state, uint64_t id,
                        const sl_web_form_t *form)
{
    sl_jw_t w;
    sl_jw_init(&w, f, false);
    sl_jw_object(&w, NULL);
    sl_jw_number(&w, "id", (double)id);
    sl_jw_string(&w, "state", state);
    sl_jw_object(&w, "form");
    sl_jw_string(&w, "host", form->host ? form->host : "");
    sl_jw_number(&w, "user_count", form->users);
    sl_jw_number(&w, "spawn_rate", form->spawn_rate);
    sl_jw_number(&w, "run_time_s", sl_fmt_round3((double)form->duration_us / 1e6));
    sl_jw_bool(&w, "open_model", form->rate_per_s > 0);
    sl_jw_number(&w, "rate", form->rate_per_s);
    sl_jw_end_object(&w);
    if (s) {
        sl_jw_string(&w, "host", s->host ? s->host : "");
        sl_jw_number(&w, "elapsed_s", sl_fmt_round3((double)s->elapsed_us / 1e6));
        sl_jw_number(&w, "duration_s", sl_fmt_round3((double)s->duration_us / 1e6));
        sl_jw_number(&w, "users", s->users_running);
        sl_jw_number(&w, "users_target", s->users_target);
        sl_jw_number(&w, "spawn_rate", s->spawn_rate);
        sl_jw_bool(&w, "open_model", s->open_model);
        sl_jw_number(&w, "rate", s->open_model ? s->rate_per_s : 0.0);
        const sl_hist_t *lag = &s->stats->send_lag;
        sl_jw_number(&w, "send_lag_p50", lag->total_count ? ms(sl_hist_percentile(lag, 50)) : 0.0);
        sl_jw_number(&w, "send_lag_p99", lag->total_count ? ms(sl_hist_percentile(lag, 99)) : 0.0);
        sl_jw_number(&w, "dropped_iterations", (double)s->stats->dropped_iterations);
        sl_jw_number(&w, "cpu_share", sl_fmt_round3(s->cpu_share));
        if (s->outcome && s->outcome->stop_reason)
            sl_jw_string(&w, "stop_reason", s->outcome->stop_reason);
        else
            sl_jw_null(&w, "stop_reason");
        if (s->final)
            sl_report_thresholds_write(&w, "thresholds", s);
    }
    put_rows(&w, s, true);
    if (s)
        sl_report_errors_write(&w, "errors", s);
    else
        empty_array(&w, "errors");
    put_exceptions(&w, s);
    sl_jw_end_object(&w);
}
