/* The Locust-style CSV files (src/report/csv.c), written from a hand-made snapshot and
 * read back byte for byte: Locust's headers, rows by name then method, the Aggregated
 * row, N/A for a row without requests, RFC 4180 quoting, U+FFFD for bytes that are not
 * UTF-8, the failures and exceptions files, and the per-second history. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/csv.h"
#include "report/outputs.h"
#include "report/report.h"

static const char stats_header[] =
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n";

static const char history_header[] =
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,"
    "Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size\n";

typedef struct fixture {
    char dir[64];
    char prefix[96];
    sl_stats_t *stats;
    sl_row_stats_t total;
    sl_rows_t *texts;
    sl_row_t rows[3];
    sl_snapshot_t snap;
} fixture_t;

/* Three rows in id order: one never requested, one whose name needs quoting, and one
 * with a byte that is not UTF-8. Latencies below 2048 us are kept exactly by the
 * histogram, so every percentile is known. */
static void fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sl_test_csv.XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->prefix, sizeof(f->prefix), "%s/run", f->dir);
    f->stats = sl_stats_new(3, SL_HIST_WIDE);
    cr_assert_not_null(f->stats);
    f->rows[0] = (sl_row_t){(char *)"POST", (char *)"/zz-never"};
    f->rows[1] = (sl_row_t){(char *)"GET", (char *)"/a,\"b\""};
    f->rows[2] = (sl_row_t){(char *)"GET", (char *)"/caf\xff"};
    /* /a,"b": 100, 200, 300, 400 us, one failure, 10 bytes each. */
    for (uint64_t v = 100; v <= 400; v += 100)
        sl_stats_record(f->stats, 1, v, v, 10, v == 300);
    /* /caf?: one 1000 us request of 5 bytes. */
    sl_stats_record(f->stats, 2, 1000, 1000, 5, false);
    sl_stats_error(f->stats, 1, SL_FAIL_HTTP, 503, 1);
    f->texts = sl_rows_new(0, NULL);
    cr_assert_not_null(f->texts);
    uint32_t id;
    cr_assert_eq(sl_rows_intern(f->texts, "s.lua:3", "bad, \"x\"", &id), 0);
    sl_stats_exception(f->stats, id, 2);
    sl_row_stats_init(&f->total, SL_HIST_WIDE);
    sl_stats_total(f->stats, &f->total);
    f->snap = (sl_snapshot_t){.rows = f->rows,
                              .nrows = 3,
                              .stats = f->stats,
                              .total = &f->total,
                              .texts = f->texts,
                              .host = "http://127.0.0.1:8000",
                              .started_wall_us = 1700000000 * SL_US_PER_S,
                              .elapsed_us = 2 * SL_US_PER_S,
                              .users_running = 2,
                              .users_target = 2,
                              .threads = 1,
                              .final = true};
}

static char *slurp(const fixture_t *f, const char *suffix)
{
    char path[160];
    snprintf(path, sizeof(path), "%s%s", f->prefix, suffix);
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in, "%s", path);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, in);
    buf[n] = '\0';
    fclose(in);
    return buf;
}

static void fixture_dispose(fixture_t *f)
{
    static const char *const suffixes[] = {"_stats.csv", "_stats_history.csv", "_failures.csv",
                                           "_exceptions.csv", "_phases.csv"};
    for (size_t i = 0; i < SL_ARRAY_LEN(suffixes); i++) {
        char path[160];
        snprintf(path, sizeof(path), "%s%s", f->prefix, suffixes[i]);
        unlink(path);
    }
    rmdir(f->dir);
    sl_row_stats_dispose(&f->total);
    sl_stats_free(f->stats);
    sl_rows_free(f->texts);
}

Test(csv, final_files_from_a_snapshot)
{
    fixture_t f;
    fixture_init(&f);
    sl_csv_t *c = NULL;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_csv_open(&c, f.prefix, false, &err), 0, "%s", err.msg);
    cr_assert_eq(sl_csv_finish(c, &f.snap, &err), 0, "%s", err.msg);
    sl_csv_free(c);

    char *stats = slurp(&f, "_stats.csv");
    char want[4096];
    snprintf(want, sizeof(want),
             "%s"
             "GET,\"/a,\"\"b\"\"\",4,1,0.200,0.250,0.100,0.400,10.000,2.000,0.500,"
             "0.200,0.300,0.300,0.400,0.400,0.400,0.400,0.400,0.400,0.400,0.400\n"
             "GET,/caf\xEF\xBF\xBD,1,0,1.000,1.000,1.000,1.000,5.000,0.500,0.000,"
             "1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000\n"
             "POST,/zz-never,0,0,N/A,N/A,N/A,N/A,0.000,0.000,0.000,"
             "N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\n"
             ",Aggregated,5,1,0.300,0.400,0.100,1.000,9.000,2.500,0.500,"
             "0.300,0.400,0.400,0.400,1.000,1.000,1.000,1.000,1.000,1.000,1.000\n",
             stats_header);
    cr_expect_str_eq(stats, want);
    free(stats);

    char *failures = slurp(&f, "_failures.csv");
    cr_expect_str_eq(failures, "Method,Name,Error,Occurrences\n"
                               "GET,\"/a,\"\"b\"\"\",HTTP 503 Service Unavailable,1\n");
    free(failures);

    char *exceptions = slurp(&f, "_exceptions.csv");
    cr_expect_str_eq(exceptions, "Count,Message,Traceback,Nodes\n"
                                 "2,\"bad, \"\"x\"\"\",s.lua:3,local\n");
    free(exceptions);

    char *history = slurp(&f, "_stats_history.csv");
    cr_expect_str_eq(history, history_header, "no tick: the header alone");
    free(history);
    fixture_dispose(&f);
}

Test(csv, history_rows_per_tick)
{
    fixture_t f;
    fixture_init(&f);
    /* The last second saw only /caf?'s request: its interval block. */
    sl_stats_t *iv = sl_stats_new(3, SL_HIST_NARROW);
    sl_stats_record(iv, 2, 1000, 1000, 5, false);
    sl_row_stats_t iv_total;
    sl_row_stats_init(&iv_total, SL_HIST_WIDE);
    sl_stats_total(iv, &iv_total);
    f.snap.interval = iv;
    f.snap.interval_total = &iv_total;
    f.snap.interval_start_us = 1500 * SL_US_PER_MS; /* a half-second interval */
    f.snap.final = false;

    sl_csv_t *c = NULL;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_csv_open(&c, f.prefix, true, &err), 0, "%s", err.msg);
    sl_csv_tick(c, &f.snap);
    cr_assert_eq(sl_csv_finish(c, &f.snap, &err), 0, "%s", err.msg);
    sl_csv_free(c);

    char *history = slurp(&f, "_stats_history.csv");
    char want[4096];
    snprintf(want, sizeof(want),
             "%s"
             "1700000002,2,GET,\"/a,\"\"b\"\"\",0.000,0.000,"
             "N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,"
             "4,1,0.200,0.250,0.100,0.400,10.000\n"
             "1700000002,2,GET,/caf\xEF\xBF\xBD,2.000,0.000,"
             "1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,"
             "1,0,1.000,1.000,1.000,1.000,5.000\n"
             "1700000002,2,POST,/zz-never,0.000,0.000,"
             "N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,"
             "0,0,N/A,N/A,N/A,N/A,0.000\n"
             "1700000002,2,,Aggregated,2.000,0.000,"
             "1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,"
             "5,1,0.300,0.400,0.100,1.000,9.000\n",
             history_header);
    cr_expect_str_eq(history, want);
    free(history);
    sl_row_stats_dispose(&iv_total);
    sl_stats_free(iv);
    fixture_dispose(&f);
}

Test(csv, a_prefix_that_cannot_be_written_is_refused)
{
    sl_csv_t *c = NULL;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_csv_open(&c, "/nonexistent-dir/run", false, &err), SL_ESYS);
    cr_assert_null(c);
    cr_assert(strstr(err.msg, "--csv: cannot write '/nonexistent-dir/run_stats.csv'"), "%s",
              err.msg);
}
