/* The summary table on a terminal: fitted to its width (no line wider, the median and p95
 * kept, names shortened behind an ellipsis), and byte for byte as written when the
 * terminal is wide enough, which pins the fitting's column specs to the table formats. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/utf8.h"
#include "report/report.h"

typedef struct fixture {
    sl_stats_t *stats;
    sl_stats_t *total;
    sl_row_t rows[3];
    sl_snapshot_t snap;
} fixture_t;

static void rec(sl_stats_t *s, uint32_t row, uint64_t us)
{
    s->rows[row].num_requests++;
    sl_hist_record(&s->rows[row].latency, us);
}

static void fixture_init(fixture_t *f, bool ascii_only)
{
    memset(f, 0, sizeof(*f));
    f->stats = sl_stats_new(3, SL_HIST_WIDE);
    f->total = sl_stats_new(1, SL_HIST_WIDE);
    cr_assert(f->stats && f->total);
    for (uint32_t row = 0; row < 3; row++) {
        for (uint64_t v = 1; v <= 100; v++) {
            rec(f->stats, row, v * 100 * (row + 1));
            rec(f->total, 0, v * 100 * (row + 1));
        }
    }
    f->rows[0] = (sl_row_t){(char *)"GET", (char *)"/short"};
    f->rows[1] = (sl_row_t){(char *)"POST",
                            (char *)"/a/very/long/name/of/a/resource/that/goes/on/and/on/[id]"};
    /* Padded by columns on a terminal, by bytes elsewhere: not for the byte comparison. */
    f->rows[2] =
        (sl_row_t){(char *)"GET", ascii_only ? (char *)"/cafe/x"
                                             : (char *)"/caf\xC3\xA9/\xE5\x90\x8D\xE5\x89\x8D/x"};
    f->snap = (sl_snapshot_t){.rows = f->rows,
                              .nrows = 3,
                              .stats = f->stats,
                              .total = &f->total->rows[0],
                              .host = "http://127.0.0.1:8000",
                              .elapsed_us = 10 * SL_US_PER_S,
                              .users_running = 3,
                              .users_target = 3,
                              .threads = 2,
                              .final = true};
}

static void fixture_dispose(fixture_t *f)
{
    sl_stats_free(f->stats);
    sl_stats_free(f->total);
}

/* The summary as written to a terminal of cols columns (in raw mode, so the bytes are the
 * tool's own). Returns a malloc'd string. */
static char *summary_on_pty(const sl_snapshot_t *s, int cols)
{
    int master, slave;
    struct winsize ws = {.ws_row = 50, .ws_col = (unsigned short)cols};
    cr_assert_eq(openpty(&master, &slave, NULL, NULL, &ws), 0);
    struct termios t;
    cr_assert_eq(tcgetattr(slave, &t), 0);
    cfmakeraw(&t);
    cr_assert_eq(tcsetattr(slave, TCSANOW, &t), 0);
    FILE *out = fdopen(slave, "w");
    cr_assert_not_null(out);
    sl_report_summary(s, out);
    fclose(out);
    /* The kernel hands the bytes to the master side asynchronously: read until it has
     * been quiet for a while. */
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    struct pollfd pfd = {.fd = master, .events = POLLIN};
    while (len < cap - 1 && poll(&pfd, 1, 300) == 1) {
        ssize_t n = read(master, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(master);
    return buf;
}

static char *summary_plain(const sl_snapshot_t *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    cr_assert_not_null(mem);
    sl_report_summary(s, mem);
    fclose(mem);
    return text;
}

/* Display columns of a UTF-8 line: a character of three bytes or more counts as two, as
 * the fitting assumes (the CJK characters here are wide). */
static int line_cols(const char *s, size_t n)
{
    int cols = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) == 0x80)
            continue;
        cols += c >= 0xE0 && memcmp(s + i, "\xE2\x80\xA6", 3) != 0 ? 2 : 1;
    }
    return cols;
}

Test(table, summary_fits_a_narrow_terminal)
{
    fixture_t f;
    fixture_init(&f, false);
    const int widths[] = {80, 60, 40};
    for (size_t k = 0; k < SL_ARRAY_LEN(widths); k++) {
        char *text = summary_on_pty(&f.snap, widths[k]);
        int lines = 0;
        for (char *l = text; *l;) {
            char *nl = strchr(l, '\n');
            size_t n = nl ? (size_t)(nl - l) : strlen(l);
            cr_expect_leq(line_cols(l, n), widths[k], "%d columns: '%.*s'", widths[k], (int)n, l);
            lines++;
            l += n + (nl ? 1 : 0);
        }
        cr_expect_gt(lines, 10);
        cr_expect(strstr(text, "Med(ms)"), "%d columns: the median is kept", widths[k]);
        cr_expect(strstr(text, "\xE2\x80\xA6"), "%d columns: a name was shortened", widths[k]);
        if (widths[k] >= 80)
            cr_expect(strstr(text, "95%"), "%d columns: p95 is kept", widths[k]);
        if (widths[k] >= 60) {
            cr_expect(strstr(text, "on/and/on/[id]"), "%d columns: names keep their end",
                      widths[k]);
        }
        free(text);
    }
    fixture_dispose(&f);
}

Test(table, a_wide_terminal_gets_the_table_as_written)
{
    fixture_t f;
    fixture_init(&f, true);
    char *plain = summary_plain(&f.snap);
    char *tty = summary_on_pty(&f.snap, 200);
    cr_expect_str_eq(tty, plain);
    free(plain);
    free(tty);
    fixture_dispose(&f);
}

/* Written to a file, a name longer than its 32-byte column keeps its end behind "..", and
 * the cut moves past UTF-8 continuation bytes: the summary stays valid UTF-8. */
Test(table, a_shortened_name_never_splits_a_character)
{
    fixture_t f;
    fixture_init(&f, true);
    /* "/", twenty "é" (two bytes each) and "x": 42 bytes. The column keeps ".." and the
     * last 30 bytes, from byte 12: the second byte of an "é", so the cut moves to 13. */
    char name[64] = "/";
    for (int i = 0; i < 20; i++)
        strcat(name, "\xC3\xA9");
    strcat(name, "x");
    f.rows[2].name = name;
    char *text = summary_plain(&f.snap);
    const char *line = strstr(text, "..\xC3\xA9");
    cr_assert_not_null(line, "the shortened name starts on a whole character: %s", text);
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        size_t n = sl_utf8_seq_len(p, strlen((const char *)p));
        cr_assert_gt(n, 0, "invalid UTF-8 at byte %zu", (size_t)(p - (const unsigned char *)text));
        p += n;
    }
    free(text);
    fixture_dispose(&f);
}
