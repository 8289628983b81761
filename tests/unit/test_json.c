/* The JSON summary (src/report/json.c), written from a hand-made snapshot to a file and
 * read back with cJSON: the schema's fields, rows by name then method with exact values,
 * null (never 0) for the times of a row without requests, the Aggregated total, errors,
 * exceptions, the send lag, the run's outcome, names that need escaping, and a path that
 * cannot be written. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"

typedef struct fixture {
    char path[64];
    sl_stats_t *stats;
    sl_row_stats_t total;
    sl_rows_t *texts;
    sl_row_t rows[2];
    sl_run_outcome_t outcome;
    sl_snapshot_t snap;
} fixture_t;

/* Row 0 never ran; row 1 ("/a\"b\n") had four requests of 100..400 us, each sent 50 us
 * late (service 50..350 us), one failed. Values below 2048 us are kept exactly. */
static void fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "/tmp/sl_test_json.XXXXXX");
    int fd = mkstemp(f->path);
    cr_assert_geq(fd, 0);
    close(fd);
    f->stats = sl_stats_new(2, SL_HIST_WIDE);
    cr_assert_not_null(f->stats);
    f->rows[0] = (sl_row_t){(char *)"POST", (char *)"/zz-never"};
    f->rows[1] = (sl_row_t){(char *)"GET", (char *)"/a\"b\n"};
    for (uint64_t v = 100; v <= 400; v += 100)
        sl_stats_record(f->stats, 1, v, v - 50, 10, v == 300);
    sl_stats_error(f->stats, 1, SL_FAIL_HTTP, 503, 1);
    f->stats->retries = 3;
    f->stats->in_flight_at_stop = 2;
    f->texts = sl_rows_new(0, NULL);
    cr_assert_not_null(f->texts);
    uint32_t id;
    cr_assert_eq(sl_rows_intern(f->texts, "s.lua:3", "bad </script>", &id), 0);
    sl_stats_exception(f->stats, id, 2);
    sl_row_stats_init(&f->total, SL_HIST_WIDE);
    sl_stats_total(f->stats, &f->total);
    f->outcome = (sl_run_outcome_t){.peak_users = 2,
                                    .target_users = 5,
                                    .iterations = 0,
                                    .stop_reason = "signal",
                                    .stop_signal = SIGTERM};
    f->snap = (sl_snapshot_t){.rows = f->rows,
                              .nrows = 2,
                              .stats = f->stats,
                              .total = &f->total,
                              .texts = f->texts,
                              .host = "http://127.0.0.1:8000",
                              .started_wall_us = 1700000000 * SL_US_PER_S,
                              .elapsed_us = 2 * SL_US_PER_S,
                              .users_running = 2,
                              .users_target = 2,
                              .spawn_rate = 1.5,
                              .threads = 1,
                              .outcome = &f->outcome,
                              .max_rows = 100,
                              .overflow_row = -1,
                              .final = true};
}

static void fixture_dispose(fixture_t *f)
{
    unlink(f->path);
    sl_row_stats_dispose(&f->total);
    sl_stats_free(f->stats);
    sl_rows_free(f->texts);
}

static char *slurp(const char *path)
{
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, in);
    buf[n] = '\0';
    fclose(in);
    return buf;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsString(v), "%s is not a string", key);
    return v->valuestring;
}

static bool is_null(const cJSON *o, const char *key)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert_not_null(v, "no %s", key);
    return v;
}

/* The percentiles object of a row: 50..100 in ms, or every one null. */
static void expect_pcts(const cJSON *p, const double *want)
{
    for (int i = 0; i < SL_REPORT_NPCTS; i++) {
        const char *k = sl_report_pct_keys[i];
        if (!want)
            cr_expect(is_null(p, k), "p%s is not null", k);
        else
            cr_expect_float_eq(num(p, k), want[i], 1e-9, "p%s", k);
    }
}

Test(json, summary_from_a_snapshot)
{
    fixture_t f;
    fixture_init(&f);
    sl_err_t err = {{0}};
    cr_assert_eq(sl_report_json_run(&f.snap, f.path, true, &err), 0, "%s", err.msg);
    char *text = slurp(f.path);
    cJSON *doc = cJSON_Parse(text);
    cr_assert_not_null(doc, "not JSON: %s", text);
    cr_expect(strstr(text, "\"/a\\\"b\\n\"") != NULL, "the name is escaped in the text");

    cr_expect_str_eq(str(doc, "schema"), "stormlight.summary/1");
    cr_expect_str_eq(str(doc, "version"), SL_VERSION);
    cr_expect_str_eq(str(doc, "host"), "http://127.0.0.1:8000");
    cr_expect_str_eq(str(doc, "started_at"), "2023-11-14T22:13:20Z");
    cr_expect_eq(num(doc, "duration_s"), 2.0);
    cr_expect_eq(num(doc, "users"), 5.0, "the most users asked for, from the outcome");
    cr_expect_eq(num(doc, "spawn_rate"), 1.5);
    cr_expect_eq(num(doc, "threads"), 1.0);

    const cJSON *stats = get(doc, "stats");
    cr_assert_eq(cJSON_GetArraySize(stats), 2);
    const cJSON *a = cJSON_GetArrayItem(stats, 0), *never = cJSON_GetArrayItem(stats, 1);
    cr_expect_str_eq(str(a, "method"), "GET", "rows by name: /a... before /zz-never");
    cr_expect_str_eq(str(a, "name"), "/a\"b\n");
    cr_expect_eq(num(a, "num_requests"), 4.0);
    cr_expect_eq(num(a, "num_failures"), 1.0);
    cr_expect_float_eq(num(a, "min_ms"), 0.1, 1e-9);
    cr_expect_float_eq(num(a, "max_ms"), 0.4, 1e-9);
    cr_expect_float_eq(num(a, "avg_ms"), 0.25, 1e-9);
    cr_expect_eq(num(a, "rps"), 2.0);
    cr_expect_eq(num(a, "failures_per_s"), 0.5);
    cr_expect_eq(num(a, "avg_content_bytes"), 10.0);
    static const double lat[] = {0.2, 0.3, 0.3, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4};
    static const double svc[] = {0.15, 0.25, 0.25, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35};
    expect_pcts(get(a, "percentiles_ms"), lat);
    expect_pcts(get(a, "service_percentiles_ms"), svc);

    cr_expect_str_eq(str(never, "name"), "/zz-never");
    cr_expect_eq(num(never, "num_requests"), 0.0);
    cr_expect(is_null(never, "min_ms") && is_null(never, "max_ms") && is_null(never, "avg_ms"),
              "no request, no times (null, not 0)");
    cr_expect_eq(num(never, "avg_content_bytes"), 0.0);
    expect_pcts(get(never, "percentiles_ms"), NULL);
    expect_pcts(get(never, "service_percentiles_ms"), NULL);

    const cJSON *total = get(doc, "total");
    cr_expect_str_eq(str(total, "name"), "Aggregated");
    cr_expect_str_eq(str(total, "method"), "");
    cr_expect_eq(num(total, "num_requests"), 4.0);
    cr_expect_eq(num(total, "num_failures"), 1.0);
    expect_pcts(get(total, "percentiles_ms"), lat);

    const cJSON *errors = get(doc, "errors");
    cr_assert_eq(cJSON_GetArraySize(errors), 1);
    const cJSON *e = cJSON_GetArrayItem(errors, 0);
    cr_expect_str_eq(str(e, "name"), "/a\"b\n");
    cr_expect_str_eq(str(e, "error"), "HTTP 503 Service Unavailable");
    cr_expect_eq(num(e, "occurrences"), 1.0);
    const cJSON *exc = get(doc, "exceptions");
    cr_assert_eq(cJSON_GetArraySize(exc), 1);
    cr_expect_str_eq(str(cJSON_GetArrayItem(exc, 0), "message"), "bad </script>");
    cr_expect_str_eq(str(cJSON_GetArrayItem(exc, 0), "location"), "s.lua:3");
    cr_expect_eq(num(cJSON_GetArrayItem(exc, 0), "occurrences"), 2.0);

    cr_expect_eq(num(doc, "in_flight_at_stop"), 2.0);
    cr_expect_eq(num(doc, "retries"), 3.0);
    cr_expect_str_eq(str(doc, "model"), "closed");
    cr_expect_eq(num(doc, "dropped_iterations"), 0.0);
    const cJSON *lag = get(doc, "send_lag_ms");
    cr_expect_float_eq(num(lag, "50"), 0.05, 1e-9, "every request left 50 us late");
    cr_expect_float_eq(num(lag, "max"), 0.05, 1e-9);
    cr_expect_eq(num(doc, "max_rows"), 100.0);
    cr_expect(is_null(doc, "overflow_row"));
    cr_expect(is_null(doc, "row_hint"));
    cr_expect_eq(num(doc, "peak_users"), 2.0);
    cr_expect_eq(num(doc, "target_users"), 5.0);
    cr_expect(is_null(doc, "iterations"), "no --iterations: null");
    cr_expect_str_eq(str(doc, "stop_reason"), "signal");
    cr_expect_str_eq(str(doc, "stop_signal"), "SIGTERM");
    cr_expect_eq(cJSON_GetArraySize(get(doc, "history")), 0);
    cr_expect_eq(cJSON_GetArraySize(get(doc, "thresholds")), 0);
    cr_expect(cJSON_IsTrue(get(doc, "interrupted")));
    cJSON_Delete(doc);
    free(text);
    fixture_dispose(&f);
}

Test(json, an_unwritable_path_is_an_error)
{
    fixture_t f;
    fixture_init(&f);
    sl_err_t err = {{0}};
    cr_expect_eq(sl_report_json(&f.snap, "/nonexistent-dir/s.json", &err), SL_ESYS);
    cr_expect(strstr(err.msg, "--json: cannot write '/nonexistent-dir/s.json'"), "%s", err.msg);
    err.msg[0] = '\0';
    cr_expect_eq(sl_report_json_check("/nonexistent-dir/s.json", &err), SL_ESYS);
    cr_expect(strstr(err.msg, "--json: cannot write"), "%s", err.msg);
    cr_expect_eq(sl_report_json_check("-", &err), 0, "stdout always passes");
    cr_expect_eq(sl_report_json_check(f.path, &err), 0, "%s", err.msg);
    fixture_dispose(&f);
}
