/* The web UI's pure renderers: Prometheus text from interval blocks (monotonic totals,
 * the bucket ladder, label escaping) and Locust's /stats/requests JSON. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/metrics.h"
#include "web/render.h"

typedef struct fixture {
    sl_stats_t *cum, *iv;
    sl_row_stats_t total, iv_total;
    sl_row_t rows[2];
    double rps[3], fps[3];
    sl_history_point_t hist[1];
    sl_snapshot_t snap;
} fixture_t;

static void rec(sl_stats_t *s, uint32_t row, uint64_t us, bool failed)
{
    sl_stats_record(s, row, us, us, 10, failed);
}

static void fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    f->cum = sl_stats_new(2, SL_HIST_WIDE);
    f->iv = sl_stats_new(2, SL_HIST_NARROW);
    cr_assert(f->cum && f->iv);
    /* Row 0: 500 us, 3 ms and 2 s; row 1 (a name to escape): two failed 40 ms. */
    uint64_t v0[] = {500, 3000, 2000000};
    for (int k = 0; k < 3; k++) {
        rec(f->cum, 0, v0[k], false);
        rec(f->iv, 0, v0[k], false);
    }
    for (int k = 0; k < 2; k++) {
        rec(f->cum, 1, 40000, true);
        rec(f->iv, 1, 40000, true);
    }
    sl_stats_error(f->iv, 1, SL_FAIL_HTTP, 503, 2);
    sl_stats_error(f->cum, 1, SL_FAIL_HTTP, 503, 2);
    sl_stats_total(f->cum, &f->total);
    sl_stats_total(f->iv, &f->iv_total);
    f->rows[0] = (sl_row_t){(char *)"GET", (char *)"/a"};
    f->rows[1] = (sl_row_t){(char *)"POST", (char *)"/q\"x\\y"};
    f->rps[0] = 3, f->rps[1] = 2, f->rps[2] = 5;
    f->fps[1] = 2, f->fps[2] = 2;
    f->hist[0] = (sl_history_point_t){.elapsed_us = 1000000,
                                      .interval_us = 1000000,
                                      .users = 2,
                                      .requests = 5,
                                      .failures = 2,
                                      .p50_us = 3000,
                                      .p95_us = 2000000,
                                      .p99_us = 2000000};
    f->snap = (sl_snapshot_t){.rows = f->rows,
                              .nrows = 2,
                              .stats = f->cum,
                              .total = &f->total,
                              .cur_rps = f->rps,
                              .cur_fail_per_s = f->fps,
                              .interval = f->iv,
                              .interval_total = &f->iv_total,
                              .history = f->hist,
                              .nhistory = 1,
                              .users_running = 2,
                              .users_target = 3,
                              .elapsed_us = 1000000};
}

static void fixture_dispose(fixture_t *f)
{
    sl_stats_free(f->cum);
    sl_stats_free(f->iv);
}

static char *metrics_text(sl_metrics_t *m, const sl_snapshot_t *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sl_metrics_write(m, s, "running", f);
    fclose(f);
    return text;
}

Test(web, metrics_count_every_interval_once_and_never_go_down)
{
    fixture_t f;
    fixture_init(&f);
    sl_metrics_t *m = sl_metrics_new();
    cr_assert_eq(sl_metrics_add_interval(m, &f.snap), 0);
    cr_assert_eq(sl_metrics_add_interval(m, &f.snap), 0); /* a second interval, the same */
    char *t = metrics_text(m, &f.snap);
    cr_expect(strstr(t, "stormlight_requests_total{method=\"GET\",name=\"/a\"} 6\n"), "%s", t);
    cr_expect(strstr(t, "stormlight_requests_total{method=\"POST\",name=\"/q\\\"x\\\\y\"} 4\n"),
              "label escaping: %s", t);
    cr_expect(strstr(t, "stormlight_failures_total{method=\"POST\",name=\"/q\\\"x\\\\y\","
                        "error=\"HTTP 503 Service Unavailable\"} 4\n") != NULL,
              "%s", t);
    /* Buckets are cumulative: 500 us <= 1 ms; 3 ms <= 5 ms; 2 s <= 2.5 s. */
    cr_expect(strstr(t, "stormlight_response_time_seconds_bucket{method=\"GET\",name=\"/a\","
                        "le=\"0.001\"} 2\n"),
              "%s", t);
    cr_expect(strstr(t, "stormlight_response_time_seconds_bucket{method=\"GET\",name=\"/a\","
                        "le=\"0.0025\"} 2\n"),
              "%s", t);
    cr_expect(strstr(t, "stormlight_response_time_seconds_bucket{method=\"GET\",name=\"/a\","
                        "le=\"0.005\"} 4\n"),
              "%s", t);
    cr_expect(strstr(t, "stormlight_response_time_seconds_bucket{method=\"GET\",name=\"/a\","
                        "le=\"2.5\"} 6\n"),
              "%s", t);
    cr_expect(strstr(t, "stormlight_response_time_seconds_bucket{method=\"GET\",name=\"/a\","
                        "le=\"+Inf\"} 6\n"),
              "%s", t);
    cr_expect(strstr(t, "stormlight_response_time_seconds_sum{method=\"GET\",name=\"/a\"} "
                        "4.007000\n"),
              "sum of 2 x (0.5 ms + 3 ms + 2 s): %s", t);
    cr_expect(strstr(t, "stormlight_users 2\n") && strstr(t, "stormlight_users_target 3\n"), "%s",
              t);
    cr_expect(strstr(t, "stormlight_state{state=\"running\"} 1\n") &&
                  strstr(t, "stormlight_state{state=\"stopped\"} 0\n"),
              "%s", t);
    free(t);
    /* A reset of the table's statistics does not touch the counters. */
    sl_stats_reset(f.cum);
    t = metrics_text(m, &f.snap);
    cr_expect(strstr(t, "stormlight_requests_total{method=\"GET\",name=\"/a\"} 6\n"), "%s", t);
    free(t);
    sl_metrics_free(m);
    fixture_dispose(&f);
}

Test(web, locust_stats_json)
{
    fixture_t f;
    fixture_init(&f);
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    sl_web_locust_stats(fp, &f.snap, "running", 2);
    fclose(fp);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "valid JSON: %s", text);
    cJSON *stats = cJSON_GetObjectItem(j, "stats");
    cr_assert_eq(cJSON_GetArraySize(stats), 3);
    cJSON *agg = cJSON_GetArrayItem(stats, 2);
    cr_expect_str_eq(cJSON_GetObjectItem(agg, "name")->valuestring, "Aggregated");
    cr_expect_eq(cJSON_GetObjectItem(agg, "num_requests")->valuedouble, 5);
    cJSON *a = cJSON_GetArrayItem(stats, 0);
    cr_expect_str_eq(cJSON_GetObjectItem(a, "name")->valuestring, "/a");
    cr_expect_eq(cJSON_GetObjectItem(a, "min_response_time")->valuedouble, 0.5);
    /* The median as HDR keeps it: 3 ms to three significant digits. */
    double med = cJSON_GetObjectItem(a, "median_response_time")->valuedouble;
    cr_expect(med >= 3.0 && med <= 3.003, "median %f", med);
    cr_expect_eq(cJSON_GetObjectItem(a, "avg_content_length")->valuedouble, 10);
    const char *fields[] = {"method",
                            "safe_name",
                            "num_failures",
                            "avg_response_time",
                            "max_response_time",
                            "current_rps",
                            "current_fail_per_sec",
                            "ninetieth_response_time",
                            "ninety_ninth_response_time"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        cr_expect_not_null(cJSON_GetObjectItem(a, fields[i]), "Locust's field %s", fields[i]);
    cr_expect_eq(cJSON_GetObjectItem(j, "fail_ratio")->valuedouble, 0.4);
    cr_expect_eq(cJSON_GetObjectItem(j, "total_rps")->valuedouble, 5);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "state")->valuestring, "running");
    cr_expect_eq(cJSON_GetObjectItem(j, "user_count")->valuedouble, 2);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "workers")), 0);
    cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(j, "current_response_time_percentile_95")));
    cJSON_Delete(j);
    free(text);
    /* Before any run. */
    fp = open_memstream(&text, &len);
    sl_web_locust_stats(fp, NULL, "ready", 0);
    fclose(fp);
    j = cJSON_Parse(text);
    cr_assert_not_null(j);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "stats")), 0);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(j, "current_response_time_percentile_50")));
    cJSON_Delete(j);
    free(text);
    fixture_dispose(&f);
}

Test(web, point_event)
{
    fixture_t f;
    fixture_init(&f);
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    sl_web_point_event(fp, &f.snap, 7);
    fclose(fp);
    cr_expect_str_eq(text, "{\"id\":7,\"t\":1,\"users\":2,\"rps\":5,\"fps\":2,\"p50\":3,"
                           "\"p95\":2000,\"p99\":2000}");
    free(text);
    fixture_dispose(&f);
}
