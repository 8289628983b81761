/* The HTML report (src/report/html.c), written from a hand-made snapshot: the table
 * headers, exact cells for a row with requests, "-" for one without, the Aggregated row,
 * errors and exceptions, and every text from a user or a server escaped. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/html.h"
#include "report/outputs.h"
#include "report/report.h"

typedef struct fixture {
    sl_stats_t *stats;
    sl_row_stats_t total;
    sl_rows_t *texts;
    sl_row_t rows[2];
    sl_history_point_t history[1];
    sl_snapshot_t snap;
} fixture_t;

/* Row 0 never ran; row 1's name is markup. Latencies below 2048 us are kept exactly. */
static void fixture_init(fixture_t *f, bool with_failures)
{
    memset(f, 0, sizeof(*f));
    f->stats = sl_stats_new(2, SL_HIST_WIDE);
    cr_assert_not_null(f->stats);
    f->rows[0] = (sl_row_t){(char *)"POST", (char *)"/zz-never"};
    f->rows[1] = (sl_row_t){(char *)"GET", (char *)"/<script>alert('x')&\"y\""};
    for (uint64_t v = 100; v <= 400; v += 100)
        sl_stats_record(f->stats, 1, v, v, 10, with_failures && v == 300);
    f->texts = sl_rows_new(0, NULL);
    cr_assert_not_null(f->texts);
    if (with_failures) {
        sl_stats_error(f->stats, 1, SL_FAIL_HTTP, 503, 1);
        uint32_t id;
        cr_assert_eq(sl_rows_intern(f->texts, "s.lua:3", "a <b> & c", &id), 0);
        sl_stats_exception(f->stats, id, 2);
    }
    sl_row_stats_init(&f->total, SL_HIST_WIDE);
    sl_stats_total(f->stats, &f->total);
    f->history[0] = (sl_history_point_t){.elapsed_us = 2 * SL_US_PER_S,
                                         .interval_us = SL_US_PER_S,
                                         .users = 2,
                                         .requests = 4,
                                         .failures = 1,
                                         .p50_us = 200,
                                         .p95_us = 400,
                                         .p99_us = 400};
    f->snap = (sl_snapshot_t){.rows = f->rows,
                              .nrows = 2,
                              .stats = f->stats,
                              .total = &f->total,
                              .texts = f->texts,
                              .host = "http://127.0.0.1:8000/?a=<b>",
                              .started_wall_us = 1700000000 * SL_US_PER_S,
                              .elapsed_us = 2 * SL_US_PER_S,
                              .users_running = 2,
                              .users_target = 3,
                              .spawn_rate = 1.5,
                              .threads = 1,
                              .history = f->history,
                              .nhistory = 1,
                              .final = true};
}

static void fixture_dispose(fixture_t *f)
{
    sl_row_stats_dispose(&f->total);
    sl_stats_free(f->stats);
    sl_rows_free(f->texts);
}

static char *html_of(const sl_snapshot_t *s, const sl_outputs_cfg_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    cr_assert_not_null(mem);
    cr_assert_eq(sl_html_write(mem, s, cfg->scenario_file, cfg->timeout_us), 0);
    fclose(mem);
    return text;
}

static void expect_has(const char *html, const char *piece)
{
    cr_expect(strstr(html, piece) != NULL, "missing: %s", piece);
}

Test(html, tables_from_a_snapshot)
{
    fixture_t f;
    fixture_init(&f, true);
    sl_outputs_cfg_t cfg = {.scenario_file = "shop<1>.lua", .timeout_us = 5 * SL_US_PER_S};
    char *html = html_of(&f.snap, &cfg);
    cr_assert(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    cr_assert(strstr(html, "</body>\n</html>\n") != NULL);
    expect_has(html, "<title>stormlight report: http://127.0.0.1:8000/?a=&lt;b&gt; "
                     "2023-11-14T22:13:20Z</title>");
    expect_has(html, "<tr><th>Scenario file</th><td class=\"l\">shop&lt;1&gt;.lua</td></tr>");
    expect_has(html, "<tr><th>Users</th><td class=\"l\">3 (running at the end: 2)</td></tr>");
    expect_has(html, "<tr><th>Spawn rate</th><td class=\"l\">1.5 per second</td></tr>");
    expect_has(html, "<tr><th>Run time</th><td class=\"l\">until stopped</td></tr>");
    expect_has(html, "<tr><th>Request timeout</th><td class=\"l\">5s</td></tr>");
    expect_has(html, "<tr><th>Accounting</th><td class=\"l\">0 in flight at stop, 0 "
                     "retries</td></tr>");
    /* Headers of both tables. */
    expect_has(html, "<tr><th class=\"l\">Type</th><th class=\"l\">Name</th><th># requests</th>"
                     "<th># fails</th><th>Median (ms)</th><th>Average (ms)</th><th>Min "
                     "(ms)</th><th>Max (ms)</th><th>Avg size (bytes)</th><th>RPS</th>"
                     "<th>Failures/s</th></tr>\n");
    expect_has(html, "<tr><th class=\"l\">Type</th><th class=\"l\">Name</th><th>50%</th>"
                     "<th>66%</th><th>75%</th><th>80%</th><th>90%</th><th>95%</th><th>98%</th>"
                     "<th>99%</th><th>99.9%</th><th>99.99%</th><th>100%</th>"
                     "<th># requests</th></tr>\n");
    /* The row with requests, its name escaped, listed before /zz-never (by name). */
    static const char row[] =
        "<tr><td class=\"l\">GET</td><td class=\"l\">/&lt;script&gt;alert(&#39;x&#39;)&amp;"
        "&quot;y&quot;</td><td>4</td><td class=\"bad\">1</td><td>0.20</td><td>0.25</td>"
        "<td>0.10</td><td>0.40</td><td>10.0</td><td>2.0</td><td>0.5</td></tr>\n"
        "<tr><td class=\"l\">POST</td><td class=\"l\">/zz-never</td><td>0</td><td>0</td>"
        "<td class=\"none\">-</td><td class=\"none\">-</td><td class=\"none\">-</td>"
        "<td class=\"none\">-</td><td>0.0</td><td>0.0</td><td>0.0</td></tr>\n"
        "<tr class=\"total\"><td class=\"l\"></td><td class=\"l\">Aggregated</td><td>4</td>"
        "<td class=\"bad\">1</td><td>0.20</td><td>0.25</td><td>0.10</td><td>0.40</td>"
        "<td>10.0</td><td>2.0</td><td>0.5</td></tr>\n";
    expect_has(html, row);
    static const char pcts[] =
        "<td class=\"l\">/&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;y&quot;</td>"
        "<td>0.20</td><td>0.30</td><td>0.30</td><td>0.40</td><td>0.40</td><td>0.40</td>"
        "<td>0.40</td><td>0.40</td><td>0.40</td><td>0.40</td><td>0.40</td><td>4</td></tr>\n"
        "<tr><td class=\"l\">POST</td><td class=\"l\">/zz-never</td>"
        "<td class=\"none\">-</td><td class=\"none\">-</td><td class=\"none\">-</td>"
        "<td class=\"none\">-</td><td class=\"none\">-</td><td class=\"none\">-</td>"
        "<td class=\"none\">-</td><td class=\"none\">-</td><td class=\"none\">-</td>"
        "<td class=\"none\">-</td><td class=\"none\">-</td><td>0</td></tr>\n";
    expect_has(html, pcts);
    /* Errors and exceptions, escaped. */
    expect_has(html, "<tr><td>1</td><td class=\"l\">GET</td><td class=\"l\">/&lt;script&gt;"
                     "alert(&#39;x&#39;)&amp;&quot;y&quot;</td><td class=\"l\">HTTP 503 Service "
                     "Unavailable</td></tr>\n");
    expect_has(html, "<tr><td>2</td><td class=\"l\">s.lua:3</td><td class=\"l\">a &lt;b&gt; "
                     "&amp; c</td></tr>\n");
    /* The history the charts draw, embedded as JSON. */
    expect_has(html, "<script type=\"application/json\" id=\"sl-history\">[{\"t_s\":2,"
                     "\"interval_s\":1,\"users\":2,\"requests\":4,\"failures\":1,\"rps\":4,"
                     "\"failures_per_s\":1,\"p50_ms\":0.2,\"p95_ms\":0.4,\"p99_ms\":0.4}]"
                     "</script>\n");
    /* No raw markup from the row name, the host or the scenario file anywhere. */
    cr_expect_null(strstr(html, "<script>alert"));
    cr_expect_null(strstr(html, "<b>"));
    cr_expect_null(strstr(html, "shop<1>"));
    cr_expect_null(strstr(html, "No failed requests."));
    cr_expect_null(strstr(html, "No script errors."));
    free(html);
    fixture_dispose(&f);
}

Test(html, a_clean_run_says_so)
{
    fixture_t f;
    fixture_init(&f, false);
    f.snap.duration_us = 90 * SL_US_PER_S;
    sl_outputs_cfg_t cfg = {0};
    char *html = html_of(&f.snap, &cfg);
    expect_has(html, "<h2>Errors</h2>\n<p class=\"none\">No failed requests.</p>\n");
    expect_has(html, "<h2>Exceptions</h2>\n<p class=\"none\">No script errors.</p>\n");
    expect_has(html, "<tr><th>Run time</th><td class=\"l\">1m30s</td></tr>");
    expect_has(html, "<td>4</td><td>0</td><td>0.20</td>");
    cr_expect_null(strstr(html, "Scenario file"), "no scenario file, no row");
    cr_expect_null(strstr(html, "Request timeout"), "no timeout, no row");
    cr_expect_null(strstr(html, "class=\"banner"), "no thresholds, no banner");
    free(html);
    fixture_dispose(&f);
}

Test(html, bytes_that_are_not_utf8_are_replaced)
{
    fixture_t f;
    fixture_init(&f, false);
    f.rows[0].name = (char *)"/bad\xff\xfe";
    char *html = html_of(&f.snap, &(sl_outputs_cfg_t){0});
    expect_has(html, "<td class=\"l\">/bad\xEF\xBF\xBD\xEF\xBF\xBD</td>");
    cr_expect_null(strstr(html, "\xff"));
    free(html);
    fixture_dispose(&f);
}
