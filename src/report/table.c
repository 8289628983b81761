/* The live table and the final summary, as text. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/duration.h"
#include "base/fmt.h"
#include "report/report.h"

const double sl_report_pcts[SL_REPORT_NPCTS] = {50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100};
const char *const sl_report_pct_keys[SL_REPORT_NPCTS] = {"50", "66", "75",   "80",    "90", "95",
                                                         "98", "99", "99.9", "99.99", "100"};

/* Shortens a long name for the table, keeping its end (where paths differ). The cut
 * moves forward past UTF-8 continuation bytes so that it never splits a character. */
static const char *fit(const char *s, char *buf, size_t width)
{
    size_t len = strlen(s);
    if (len <= width)
        return s;
    const char *tail = s + len - (width - 2);
    while (((unsigned char)*tail & 0xC0) == 0x80)
        tail++;
    snprintf(buf, width + 1, "..%s", tail);
    return buf;
}

/* One time column: " -" in place of a number when the row completed no request, since a
 * percentile (or mean, or minimum) of nothing is not zero. */
static void put_ms(FILE *out, bool any, double v)
{
    if (any)
        fprintf(out, " %8.2f", v);
    else
        fprintf(out, " %8s", "-");
}

static int print_row(FILE *out, const char *method, const char *name, const sl_row_stats_t *r,
                     double rps, double fps)
{
    char nb[48];
    const sl_hist_t *h = &r->latency;
    bool any = h->total_count > 0;
    fprintf(out, "%-7s %-32s %9" PRIu64 " %8" PRIu64 " %9.1f %8.1f |", method, fit(name, nb, 32),
            r->num_requests, r->num_failures, rps, fps);
    put_ms(out, any, any ? sl_fmt_ms(sl_hist_percentile(h, 50)) : 0.0);
    put_ms(out, any, any ? sl_fmt_ms(sl_hist_percentile(h, 95)) : 0.0);
    put_ms(out, any, any ? sl_fmt_ms(sl_hist_percentile(h, 99)) : 0.0);
    put_ms(out, any, any ? sl_fmt_ms(sl_hist_mean(h)) : 0.0);
    put_ms(out, any, any ? sl_fmt_ms(h->min_us) : 0.0);
    put_ms(out, any, sl_fmt_ms(h->max_us));
    fputc('\n', out);
    return 1;
}

static int by_requests_desc(const void *a, const void *b, void *ctx)
{
    const sl_row_stats_t *rows = ctx;
    uint64_t x = rows[*(const size_t *)a].num_requests, y = rows[*(const size_t *)b].num_requests;
    return (x < y) - (x > y);
}

/* Which rows a live frame of at most max_rows rows shows: the busiest (most requests so
 * far), so that a frame fits the terminal however many names the run met. Returns a
 * malloc'ed flag per row, or NULL when every row fits (or memory ran out: show them all). */
static bool *pick_busiest(const sl_snapshot_t *s, size_t max_rows)
{
    if (s->nrows <= max_rows)
        return NULL;
    size_t *by_count = malloc(s->nrows * sizeof(*by_count));
    bool *shown = calloc(s->nrows, sizeof(*shown));
    if (!by_count || !shown) {
        free(by_count);
        free(shown);
        return NULL;
    }
    for (size_t i = 0; i < s->nrows; i++)
        by_count[i] = i;
    qsort_r(by_count, s->nrows, sizeof(*by_count), by_requests_desc, (void *)s->stats->rows);
    for (size_t k = 0; k < max_rows; k++)
        shown[by_count[k]] = true;
    free(by_count);
    return shown;
}

/* The statistics table, at most max_rows rows of it (SIZE_MAX: all); returns the number of
 * lines printed. */
static int print_stats(const sl_snapshot_t *s, FILE *out, bool whole_run, size_t max_rows)
{
    int lines = 0;
    double secs = s->elapsed_us ? (double)s->elapsed_us / 1e6 : 1.0;
    fprintf(out, "%-7s %-32s %9s %8s %9s %8s | %8s %8s %8s %8s %8s %8s\n", "Type", "Name", "# reqs",
            "# fails", whole_run ? "req/s" : "cur req/s", "fail/s", "Med(ms)", "95%", "99%", "Avg",
            "Min", "Max");
    lines++;
    size_t *order = sl_report_order(s);
    bool *shown = pick_busiest(s, max_rows);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        if (shown && !shown[i])
            continue;
        const sl_row_stats_t *r = &s->stats->rows[i];
        double rps = whole_run ? (double)r->num_requests / secs : s->cur_rps[i];
        double fps = whole_run ? (double)r->num_failures / secs : s->cur_fail_per_s[i];
        lines += print_row(out, s->rows[i].method, s->rows[i].name, r, rps, fps);
    }
    free(order);
    if (shown) {
        free(shown);
        fprintf(out, "... %zu more rows (fewer requests); the summary and reports list them all\n",
                s->nrows - max_rows);
        lines++;
    }
    size_t n = s->nrows;
    double rps = whole_run ? (double)s->total->num_requests / secs : s->cur_rps[n];
    double fps = whole_run ? (double)s->total->num_failures / secs : s->cur_fail_per_s[n];
    fprintf(out, "%.*s\n", 140,
            "-------------------------------------------------------------------"
            "------------------------------------------------------------------");
    lines++;
    lines += print_row(out, "", "Aggregated", s->total, rps, fps);
    return lines;
}

static int print_header(const sl_snapshot_t *s, FILE *out)
{
    char el[32], du[64];
    /* Whole seconds: the table is redrawn every two seconds. */
    sl_duration_format(s->elapsed_us / SL_US_PER_S * SL_US_PER_S, el, sizeof(el));
    const sl_run_outcome_t *oc = s->outcome;
    uint64_t iterations = oc ? oc->iterations : 0;
    if (s->duration_us)
        sl_duration_format(s->duration_us, du, sizeof(du));
    if (s->duration_us && iterations) {
        size_t n = strlen(du);
        snprintf(du + n, sizeof(du) - n, " or %llu iterations", (unsigned long long)iterations);
    } else if (iterations) {
        snprintf(du, sizeof(du), "%llu iterations", (unsigned long long)iterations);
    } else if (!s->duration_us) {
        snprintf(du, sizeof(du), "until stopped");
    }
    int lines = 1;
    if (s->final && oc && oc->stop_reason) {
        /* At the end, the users running now (usually 0) say nothing: the peak does. */
        char why[48];
        const char *sig = oc->stop_signal ? sigabbrev_np(oc->stop_signal) : NULL;
        if (sig)
            snprintf(why, sizeof(why), "%s (SIG%s)", oc->stop_reason, sig);
        else
            snprintf(why, sizeof(why), "%s", oc->stop_reason);
        if (s->open_model)
            fprintf(out,
                    "stormlight %s  %s  elapsed %s / %s  rate %.1f/s  peak users %u (at most %u)  "
                    "threads %u  stopped by %s\n",
                    SL_VERSION, s->host, el, du, s->rate_per_s, oc->peak_users, oc->target_users,
                    s->threads, why);
        else
            fprintf(out,
                    "stormlight %s  %s  elapsed %s / %s  peak users %u / %u  threads %u  "
                    "stopped by %s\n",
                    SL_VERSION, s->host, el, du, oc->peak_users, oc->target_users, s->threads, why);
    } else if (s->open_model)
        fprintf(out,
                "stormlight %s  %s  elapsed %s / %s  rate %.1f/s  users %u (at most %u)  "
                "threads %u\n",
                SL_VERSION, s->host, el, du, s->rate_per_s, s->users_running, s->users_target,
                s->threads);
    else
        fprintf(out, "stormlight %s  %s  elapsed %s / %s  users %u / %u  threads %u\n", SL_VERSION,
                s->host, el, du, s->users_running, s->users_target, s->threads);
    /* Warnings: when the generator falls behind, every figure understates latency. */
    const sl_stats_t *iv = s->interval ? s->interval : s->stats;
    uint64_t lag99 = sl_hist_percentile(&iv->send_lag, 99);
    if (lag99 > 10 * SL_US_PER_MS && !s->final) {
        fprintf(out,
                "WARNING: requests leave late (send lag p99 %.1f ms): the generator is "
                "overloaded and latency is understated\n",
                sl_fmt_ms((double)lag99));
        lines++;
    }
    if (s->cpu_share > 0.95 && !s->final) {
        fprintf(out,
                "WARNING: the generator uses %.0f%% of its threads' CPU: it may be the "
                "bottleneck, and latency is understated (add --threads or machines)\n",
                s->cpu_share * 100);
        lines++;
    }
    if (s->stats->dropped_iterations) {
        fprintf(out, "WARNING: %llu iterations dropped: no free user (raise -u, the pool)\n",
                (unsigned long long)s->stats->dropped_iterations);
        lines++;
    }
    if (s->keys && !s->final) {
        fprintf(out, "keys: w/W +1/+10 users  s/S -1/-10  r/R rate +1%%/+10%%  f/F -1%%/-10%%  "
                     "q quit\n");
        lines++;
    }
    return lines;
}

/* What the rows say about the scenario: names past --max-rows, and many rows made from
 * one path pattern (a forgotten name=). */
enum { NOTE_OVERFLOW = 1, NOTE_HINT = 2 };

/* Prints the notes that apply and are not in `skip`; returns the lines printed and adds
 * the notes printed to *shown. */
static int print_row_notes(const sl_snapshot_t *s, FILE *out, unsigned skip, unsigned *shown)
{
    int lines = 0;
    if (s->overflow_row >= 0 && !(skip & NOTE_OVERFLOW)) {
        fprintf(out,
                "WARNING: more than %u request names: the names met after that are counted "
                "together in the row '%s' (group names with name=, or raise --max-rows)\n",
                s->max_rows, s->rows[s->overflow_row].name);
        *shown |= NOTE_OVERFLOW;
        lines++;
    }
    if (s->has_hint && !(skip & NOTE_HINT)) {
        fprintf(out,
                "NOTE: %u rows look like %s %s%s%s: give these requests one name, e.g. "
                "{name = \"%s\"}, to count them in one row\n",
                s->hint.rows, s->hint.method, s->hint.pattern, s->hint.origin[0] ? " from " : "",
                s->hint.origin, s->hint.pattern);
        *shown |= NOTE_HINT;
        lines++;
    }
    return lines;
}

/* ---- Fitting the tables to the terminal's width ----
 *
 * The tables are written for a wide terminal (their rows are 134 and 149 columns). On a
 * narrower one a wrapped line would break the live view's redraw in place (it moves the
 * cursor up by the lines it wrote) and pile up half-drawn frames. So what goes to a
 * terminal is first written to memory as usual, then each line is fitted: table rows lose
 * columns in a fixed order and their name shrinks behind an ellipsis, every other line is
 * cut at the width. The column specs below follow the formats of print_row, print_stats
 * and print_summary byte for byte (test_table.c checks them against the header rows). */

typedef struct fit_col {
    uint16_t start, len; /* bytes in the row, with the space before the cell */
    uint8_t drop;        /* 0: kept; else the order in which columns go (1 first) */
} fit_col_t;

#define FIT_NAME 1       /* column 1 is the name in both tables */
#define FIT_NAME_MAX 32  /* as written */
#define FIT_NAME_KEEP 20 /* shrunk to this before any column is dropped */
#define FIT_NAME_MIN 8   /* and to this after every droppable one is gone */
#define FIT_MAX_COLS 16

/* Type Name | # reqs # fails req/s fail/s | Med 95% 99% Avg Min Max */
static const fit_col_t fit_stats_cols[] = {
    {0, 7, 6},  {7, 33, 0}, {40, 10, 0}, {50, 9, 8},  {59, 10, 9}, {69, 9, 3},  {78, 2, 0},
    {80, 9, 0}, {89, 9, 7}, {98, 9, 5},  {107, 9, 2}, {116, 9, 1}, {125, 9, 4},
};

/* Type Name | 50 66 75 80 90 95 98 99 99.9 99.99 100 | # reqs */
static const fit_col_t fit_pct_cols[] = {
    {0, 7, 8},  {7, 33, 0}, {40, 9, 0},  {49, 9, 1},  {58, 9, 2},  {67, 9, 3},  {76, 9, 7},
    {85, 9, 0}, {94, 9, 5}, {103, 9, 0}, {112, 9, 6}, {121, 9, 4}, {130, 9, 9}, {139, 10, 0},
};

typedef struct fit_layout {
    const fit_col_t *cols;
    size_t ncols;
    bool keep[FIT_MAX_COLS];
    int name_w;
    int width; /* of a fitted row */
} fit_layout_t;

/* The next character of s[0..n): its length in bytes, and in *cols the columns a
 * terminal gives it. Every code point of three bytes or more may be wide (CJK, emoji), so
 * it counts as two: a row may come out a little short, never too long. A byte that does
 * not start a valid sequence is one column (terminals show U+FFFD). */
static size_t fit_char(const unsigned char *s, size_t n, int *cols)
{
    size_t len = s[0] < 0x80                    ? 1
                 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                                : 0;
    for (size_t i = 1; i < len; i++) {
        if (i >= n || (s[i] & 0xC0) != 0x80) {
            len = 0;
            break;
        }
    }
    if (len == 0) {
        *cols = 1;
        return 1;
    }
    *cols = len < 3 || (len == 3 && !memcmp(s, "\xE2\x80\xA6", 3)) ? 1 : 2;
    return len;
}

static int fit_cols_of(const char *s, size_t n)
{
    int cols = 0;
    for (size_t i = 0; i < n;) {
        int c;
        i += fit_char((const unsigned char *)s + i, n - i, &c);
        cols += c;
    }
    return cols;
}

static void fit_put_spaces(FILE *out, int n)
{
    for (int i = 0; i < n; i++)
        fputc(' ', out);
}

/* Writes s[0..n) in exactly w columns: padded, or "…" and its end (where names differ). */
static void fit_put_name(FILE *out, const char *s, size_t n, int w)
{
    int cols = fit_cols_of(s, n);
    if (cols <= w) {
        fwrite(s, 1, n, out);
        fit_put_spaces(out, w - cols);
        return;
    }
    /* Keep the longest tail of at most w - 1 columns that starts on a character. */
    size_t from = n;
    int tail = 0;
    for (size_t i = 0; i < n;) {
        int c;
        size_t l = fit_char((const unsigned char *)s + i, n - i, &c);
        if (cols - c < w) {
            from = i + l;
            tail = cols - c;
            break;
        }
        cols -= c;
        i += l;
    }
    fputs("\xE2\x80\xA6", out);
    fwrite(s + from, 1, n - from, out);
    fit_put_spaces(out, w - 1 - tail);
}

/* Cuts a line to width columns, ending in "…" when something was cut. */
static void fit_put_clipped(FILE *out, const char *s, size_t n, int width)
{
    if (fit_cols_of(s, n) <= width) {
        fwrite(s, 1, n, out);
        return;
    }
    int used = 0;
    for (size_t i = 0; i < n;) {
        int c;
        size_t l = fit_char((const unsigned char *)s + i, n - i, &c);
        if (used + c > width - 1)
            break;
        fwrite(s + i, 1, l, out);
        used += c;
        i += l;
    }
    if (width > 0)
        fputs("\xE2\x80\xA6", out);
}

static int fit_row_width(const fit_layout_t *lo)
{
    int w = 0;
    bool first = true;
    for (size_t i = 0; i < lo->ncols; i++) {
        if (!lo->keep[i])
            continue;
        int len = i == FIT_NAME ? 1 + lo->name_w : lo->cols[i].len;
        w += first && i > 0 ? len - 1 : len; /* the first cell loses its leading space */
        first = false;
    }
    return w;
}

/* Chooses the columns and the name's width for a terminal of width columns: the name
 * shrinks to FIT_NAME_KEEP, then columns go in their drop order, then the name may take
 * back what is left over, or shrink to FIT_NAME_MIN. */
static void fit_layout_make(fit_layout_t *lo, const fit_col_t *cols, size_t ncols, int width)
{
    lo->cols = cols;
    lo->ncols = ncols;
    for (size_t i = 0; i < ncols; i++)
        lo->keep[i] = true;
    lo->name_w = FIT_NAME_MAX;
    int over = fit_row_width(lo) - width;
    if (over > 0)
        lo->name_w = FIT_NAME_MAX - over > FIT_NAME_KEEP ? FIT_NAME_MAX - over : FIT_NAME_KEEP;
    for (int rank = 1; fit_row_width(lo) > width && rank < 256; rank++) {
        bool any = false;
        for (size_t i = 0; i < ncols; i++) {
            if (cols[i].drop == rank) {
                lo->keep[i] = false;
                any = true;
            }
        }
        if (!any)
            break;
    }
    int spare = width - fit_row_width(lo);
    if (spare > 0)
        lo->name_w = lo->name_w + spare < FIT_NAME_MAX ? lo->name_w + spare : FIT_NAME_MAX;
    over = fit_row_width(lo) - width;
    if (over > 0)
        lo->name_w = lo->name_w - over > FIT_NAME_MIN ? lo->name_w - over : FIT_NAME_MIN;
    lo->width = fit_row_width(lo);
}

/* Writes one table row with the layout's columns. */
static void fit_put_row(FILE *out, const fit_layout_t *lo, const char *s, size_t n)
{
    bool first = true;
    for (size_t i = 0; i < lo->ncols; i++) {
        if (!lo->keep[i])
            continue;
        const fit_col_t *c = &lo->cols[i];
        size_t a = c->start < n ? c->start : n;
        size_t b = (size_t)c->start + c->len < n ? (size_t)c->start + c->len : n;
        if (i > 0 && a < b && s[a] == ' ')
            a++; /* the space before the cell: written below unless the cell is first */
        if (i > 0 && !first)
            fputc(' ', out);
        if (i == FIT_NAME) {
            while (b > a && s[b - 1] == ' ')
                b--;
            fit_put_name(out, s + a, b - a, lo->name_w);
        } else {
            fwrite(s + a, 1, b - a, out);
        }
        first = false;
    }
}

static bool fit_starts(const char *s, size_t n, const char *prefix)
{
    size_t l = strlen(prefix);
    return n >= l && !memcmp(s, prefix, l);
}

static bool fit_has(const char *s, size_t n, const char *what)
{
    size_t l = strlen(what);
    for (size_t i = 0; i + l <= n; i++)
        if (!memcmp(s + i, what, l))
            return true;
    return false;
}

/* Writes text (lines ending in '\n') fitted to width columns; returns the lines written.
 * A table starts at its header row ("Type    Name ... # reqs") and runs to the next empty
 * line; its rule of dashes is redrawn at the fitted width, and a "... N more rows" line in
 * it is text, cut like any other. */
static int fit_text(const char *text, size_t len, int width, FILE *out)
{
    fit_layout_t stats, pct;
    fit_layout_make(&stats, fit_stats_cols, SL_ARRAY_LEN(fit_stats_cols), width);
    fit_layout_make(&pct, fit_pct_cols, SL_ARRAY_LEN(fit_pct_cols), width);
    const fit_layout_t *table = NULL;
    int lines = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        const char *s = text + i;
        if (n == 0)
            table = NULL;
        else if (fit_starts(s, n, "Type    Name") && fit_has(s, n, "# reqs"))
            table = fit_has(s, n, "# fails") ? &stats : &pct;
        if (table && n > 0 && strspn(s, "-") >= n) {
            for (int k = 0; k < table->width && k < (int)n; k++)
                fputc('-', out);
        } else if (table && n > 0 && !fit_starts(s, n, "... ")) {
            /* Cut as well, for a terminal too narrow even for the columns always kept. */
            char row[1024];
            FILE *mem = fmemopen(row, sizeof(row), "w");
            if (mem) {
                fit_put_row(mem, table, s, n);
                long used = ftell(mem);
                fclose(mem);
                fit_put_clipped(out, row, used > 0 ? (size_t)used : 0, width);
            }
        } else {
            fit_put_clipped(out, s, n, width);
        }
        if (nl) {
            fputc('\n', out);
            lines++;
        }
        i += n + (nl ? 1 : 0);
    }
    return lines;
}

/* The terminal's width when out is a terminal, else 0 (no fitting); its height in *rows
 * (0 when unknown). */
static int fit_terminal_size(FILE *out, int *rows)
{
    struct winsize ws;
    *rows = 0;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
        return 0;
    *rows = ws.ws_row;
    return ws.ws_col;
}

/* Lines of a live frame besides the rows: the column header, the rule, the Aggregated row,
 * the "more rows" line, and the line the cursor waits on. */
#define LIVE_FRAME_EXTRA 5

void sl_report_live(sl_live_t *live, const sl_snapshot_t *s, FILE *out)
{
    int term_rows = 0;
    int cols = live->tty ? fit_terminal_size(out, &term_rows) : 0;
    char *frame = NULL;
    size_t frame_len = 0;
    FILE *mem = cols ? open_memstream(&frame, &frame_len) : NULL;
    FILE *to = mem ? mem : out;
    if (live->tty && live->lines_drawn > 0) {
        /* After a resize the terminal may have re-wrapped the last frame, so its height
         * is unknown: start again from a clear screen. */
        if (cols != live->cols)
            fputs("\x1b[H\x1b[2J", out);
        else
            fprintf(out, "\x1b[%dA\x1b[J", live->lines_drawn);
    }
    int lines = print_header(s, to);
    /* On a terminal the notes stay in the redrawn frame; in a log, each is said once. */
    lines += print_row_notes(s, to, live->tty ? 0 : live->notes_shown, &live->notes_shown);
    /* A frame taller than the terminal scrolls, and the redraw (cursor up by the frame's
     * height) then smears it: on a terminal, the frame lists only the rows that fit. */
    size_t max_rows = SIZE_MAX;
    if (cols && term_rows > 0)
        max_rows = term_rows > lines + LIVE_FRAME_EXTRA
                       ? (size_t)(term_rows - lines - LIVE_FRAME_EXTRA)
                       : 0;
    lines += print_stats(s, to, false, max_rows);
    if (mem) {
        fclose(mem);
        lines = fit_text(frame, frame_len, cols, out);
        free(frame);
    }
    if (!live->tty) {
        fputc('\n', out);
        lines++;
    }
    live->lines_drawn = lines;
    live->cols = cols;
    fflush(out);
}

static void print_summary(const sl_snapshot_t *s, FILE *out)
{
    fputc('\n', out);
    print_header(s, out);
    unsigned shown = 0;
    print_row_notes(s, out, 0, &shown);
    fputc('\n', out);
    print_stats(s, out, true, SIZE_MAX);

    fprintf(out, "\nResponse time percentiles (ms)\n%-7s %-32s", "Type", "Name");
    for (int p = 0; p < SL_REPORT_NPCTS; p++)
        fprintf(out, " %8s", sl_report_pct_keys[p]);
    fprintf(out, " %9s\n", "# reqs");
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k <= s->nrows; k++) {
        bool total = k == s->nrows;
        size_t i = total ? k : sl_report_row_at(order, k);
        const sl_row_stats_t *r = total ? s->total : &s->stats->rows[i];
        char nb[48];
        fprintf(out, "%-7s %-32s", total ? "" : s->rows[i].method,
                fit(total ? "Aggregated" : s->rows[i].name, nb, 32));
        for (int p = 0; p < SL_REPORT_NPCTS; p++)
            put_ms(out, r->latency.total_count > 0,
                   sl_fmt_ms(sl_hist_percentile(&r->latency, sl_report_pcts[p])));
        fprintf(out, " %9" PRIu64 "\n", r->num_requests);
    }
    free(order);

    if (s->stats->nerrors) {
        fprintf(out, "\nErrors\n%12s  %-7s %-32s %s\n", "# occurrences", "Type", "Name", "Error");
        for (uint32_t i = 0; i < s->stats->nerrors; i++) {
            const sl_error_entry_t *e = &s->stats->errors[i];
            char buf[128], nb[48];
            fprintf(out, "%12" PRIu64 "  %-7s %-32s %s\n", e->occurrences, s->rows[e->row].method,
                    fit(s->rows[e->row].name, nb, 32),
                    sl_snapshot_error_text(s, e, buf, sizeof(buf)));
        }
        /* Said once, not per row: the usual cause is a test server's own certificate. */
        for (uint32_t i = 0; i < s->stats->nerrors; i++) {
            if (s->stats->errors[i].kind == SL_FAIL_TLS_VERIFY) {
                fprintf(out, "Hint: the server's TLS certificate was not accepted; "
                             "--insecure skips verification (for test servers only).\n");
                break;
            }
        }
    }
    if (s->stats->nexceptions && s->texts) {
        fprintf(out, "\nExceptions\n%12s  %-40s %s\n", "# occurrences", "Location", "Message");
        for (uint32_t i = 0; i < s->stats->nexceptions; i++) {
            const char *where, *msg;
            sl_rows_get(s->texts, s->stats->exceptions[i].text, &where, &msg);
            fprintf(out, "%12" PRIu64 "  %-40s %s\n", s->stats->exceptions[i].occurrences, where,
                    msg);
        }
    }
    if (s->stats->conns_h2 || s->stats->h2_declined)
        fprintf(out,
                "\nProtocol: %s   connections: %" PRIu64 " h2, %" PRIu64 " http/1.1 (%" PRIu64
                " declined h2)\n",
                sl_stats_protocol(s->stats), s->stats->conns_h2, s->stats->conns_h1,
                s->stats->h2_declined);
    if (s->stats->in_flight_at_stop || s->stats->retries)
        fprintf(out,
                "\nIn flight at stop: %" PRIu64 "   retried on stale connections: %" PRIu64 "\n",
                s->stats->in_flight_at_stop, s->stats->retries);
    sl_report_thresholds(s, out);
    fflush(out);
}

void sl_report_thresholds(const sl_snapshot_t *s, FILE *out)
{
    const sl_verdicts_t *v = s->outcome ? &s->outcome->thresholds : NULL;
    if (!v || v->n == 0)
        return;
    size_t width = 10;
    for (size_t i = 0; i < v->n; i++) {
        size_t n = strlen(v->item[i].expr);
        if (n > width)
            width = n;
    }
    if (width > 60)
        width = 60;
    fprintf(out, "\nThresholds\n");
    size_t failed = 0;
    for (size_t i = 0; i < v->n; i++) {
        const sl_verdict_t *r = &v->item[i];
        failed += !r->ok;
        fprintf(out, "  %s %-*s  observed %s\n", r->ok ? "\xe2\x9c\x93" : "\xe2\x9c\x97",
                (int)width, r->expr, r->text);
    }
    if (v->aborted_by)
        fprintf(out, "Aborted early: threshold '%s' was breached for good\n", v->aborted_by);
    if (failed)
        fprintf(out, "%zu of %zu thresholds breached\n", failed, v->n);
    else
        fprintf(out, "All %zu thresholds met\n", v->n);
}

void sl_report_summary(const sl_snapshot_t *s, FILE *out)
{
    /* On a terminal, fitted to its width like the live view (a wrapped table is hard to
     * read); elsewhere (files, pipes, CI logs) as written. */
    int term_rows;
    int cols = isatty(fileno(out)) ? fit_terminal_size(out, &term_rows) : 0;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = cols ? open_memstream(&text, &len) : NULL;
    if (!mem) {
        print_summary(s, out);
        return;
    }
    print_summary(s, mem);
    fclose(mem);
    fit_text(text, len, cols, out);
    free(text);
    fflush(out);
}

/* A mean over n, or "-" when n is 0. */
static void put_mean_ms(FILE *out, uint64_t sum_us, uint64_t n)
{
    put_ms(out, n > 0, n ? sl_fmt_ms((double)sum_us / (double)n) : 0.0);
}

static void phases_row(FILE *out, const char *method, const char *name, const sl_row_stats_t *r)
{
    char nb[48];
    const sl_phases_sums_t *p = &r->phases;
    fprintf(out, "%-7s %-32s |", method, fit(name, nb, 32));
    const sl_hist_t *hs[] = {&r->waiting, &r->receiving};
    for (size_t k = 0; k < SL_ARRAY_LEN(hs); k++) {
        bool any = hs[k]->total_count > 0;
        put_ms(out, any, sl_fmt_ms(sl_hist_percentile(hs[k], 50)));
        put_ms(out, any, sl_fmt_ms(sl_hist_percentile(hs[k], 95)));
        put_ms(out, any, sl_fmt_ms(sl_hist_percentile(hs[k], 99)));
        fputs(" |", out);
    }
    put_mean_ms(out, p->sending_us, r->waiting.total_count);
    put_mean_ms(out, p->connect_us, p->new_conns);
    put_mean_ms(out, p->tls_us, p->new_conns);
    fprintf(out, " %9" PRIu64 " %9" PRIu64 "\n", p->new_conns, p->reused_conns);
}

void sl_report_phases(const sl_snapshot_t *s, FILE *out)
{
    fprintf(out,
            "\nTiming phases (ms): waiting = sent -> first byte, receiving = first -> last "
            "byte;\nsend, connect and TLS are means (connect and TLS per new connection); "
            "DNS %.2f ms once at start\n",
            sl_fmt_ms(s->dns_us));
    fprintf(out, "%-7s %-32s | %8s %8s %8s | %8s %8s %8s | %8s %8s %8s %9s %9s\n", "Type", "Name",
            "Wait 50%", "95%", "99%", "Recv 50%", "95%", "99%", "Send", "Connect", "TLS", "# new",
            "# reused");
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        phases_row(out, s->rows[i].method, s->rows[i].name, &s->stats->rows[i]);
    }
    free(order);
    phases_row(out, "", "Aggregated", s->total);
    fflush(out);
}
