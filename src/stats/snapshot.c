/* The reporter: cumulative statistics, the rate window, and the snapshot built from them.
 * Main thread only. */
#include "stats/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_reporter {
    sl_snapshot_t snap;
    sl_stats_t *cum; /* since the start: 64-bit counts */
    sl_row_stats_t total;
    /* The interval: filled by the runner between sl_reporter_interval and the tick, then
     * shown as the snapshot's interval until the next sl_reporter_interval empties it.
     * 32-bit counts, widened only if a second ever needs more. */
    sl_stats_t *interval;
    sl_row_stats_t interval_total;
    sl_history_point_t *history;
    size_t nhistory, history_cap;
    uint32_t nrows;
    /* Ring of per-second request and failure counts, nrows + 1 (total) per slot. */
    uint64_t *ring_req;
    uint64_t *ring_fail;
    uint64_t *ring_len_us;
    uint32_t ring_pos, ring_filled;
    uint64_t last_tick_us;
    double *rps;
    double *fps;
    sl_row_t *names;
};

/* Follows the registry: rows registered since the last tick get names, statistics and
 * rate columns. The ring is re-laid with the new width, old columns kept. */
static int follow_rows(sl_reporter_t *rep)
{
    uint32_t n = sl_rows_count(rep->snap.registry);
    if (n <= rep->nrows && rep->names)
        return 0;
    size_t old_cols = rep->nrows + 1, cols = (size_t)n + 1;
    uint64_t *req = calloc(SL_RATE_WINDOW_S * cols, sizeof(uint64_t));
    uint64_t *fail = calloc(SL_RATE_WINDOW_S * cols, sizeof(uint64_t));
    double *rps = calloc(cols, sizeof(double));
    double *fps = calloc(cols, sizeof(double));
    sl_row_t *names = realloc(rep->names, cols * sizeof(*names));
    if (!req || !fail || !rps || !fps || !names || sl_stats_reserve(rep->cum, n) != 0 ||
        sl_stats_reserve(rep->interval, n) != 0) {
        free(req);
        free(fail);
        free(rps);
        free(fps);
        if (names) /* realloc may have moved the old names: the snapshot follows them */
            rep->snap.rows = rep->names = names;
        return SL_ENOMEM;
    }
    for (uint32_t slot = 0; slot < SL_RATE_WINDOW_S && rep->ring_req; slot++) {
        for (size_t c = 0; c + 1 < old_cols; c++) {
            req[slot * cols + c] = rep->ring_req[slot * old_cols + c];
            fail[slot * cols + c] = rep->ring_fail[slot * old_cols + c];
        }
        req[slot * cols + n] = rep->ring_req[slot * old_cols + old_cols - 1];
        fail[slot * cols + n] = rep->ring_fail[slot * old_cols + old_cols - 1];
    }
    for (uint32_t i = rep->nrows; i < n; i++) {
        const char *m, *nm;
        sl_rows_get(rep->snap.registry, i, &m, &nm);
        names[i] = (sl_row_t){(char *)m, (char *)nm};
        if (sl_rows_is_overflow(rep->snap.registry, i))
            rep->snap.overflow_row = i;
    }
    free(rep->ring_req);
    free(rep->ring_fail);
    free(rep->rps);
    free(rep->fps);
    rep->ring_req = req;
    rep->ring_fail = fail;
    rep->rps = rps;
    rep->fps = fps;
    rep->names = names;
    rep->nrows = n;
    rep->snap.rows = names;
    rep->snap.nrows = n;
    rep->snap.cur_rps = rps;
    rep->snap.cur_fail_per_s = fps;
    return 0;
}

const char *sl_fail_describe_text(sl_rows_t *texts, sl_fail_t kind, int detail, char *buf,
                                  size_t len)
{
    const char *where, *msg;
    if (kind == SL_FAIL_SCRIPT && texts) {
        sl_rows_get(texts, (uint32_t)detail, &where, &msg);
        snprintf(buf, len, "%s", msg);
        return buf;
    }
    int64_t text = kind == SL_FAIL_SCRIPT ? -1 : sl_detail_text(detail);
    if (text < 0 || !texts || text >= sl_rows_count(texts))
        return sl_fail_describe(kind, detail, buf, len);
    sl_rows_get(texts, (uint32_t)text, &where, &msg);
    if (kind == SL_FAIL_HTTP) {
        snprintf(buf, len, "HTTP %d %s", (int)sl_detail_number(detail), msg);
        return buf;
    }
    char base[128];
    sl_fail_describe(kind, detail, base, sizeof(base));
    if (kind == SL_FAIL_TLS_VERIFY)
        snprintf(buf, len, "%s: %s", base, msg);
    else
        snprintf(buf, len, "%s (%s)", base, msg);
    return buf;
}

const char *sl_snapshot_error_text(const sl_snapshot_t *s, const sl_error_entry_t *e, char *buf,
                                   size_t len)
{
    return sl_fail_describe_text(s->texts, (sl_fail_t)e->kind, e->detail, buf, len);
}

/* One history point from the interval just folded (rep->interval_total). A failed allocation
 * drops the point: the history is a report, not an invariant. */
static void append_history(sl_reporter_t *rep, uint64_t elapsed_us, uint64_t interval_us,
                           uint32_t users)
{
    if (rep->nhistory == rep->history_cap) {
        size_t cap = rep->history_cap ? rep->history_cap * 2 : 64;
        sl_history_point_t *h = realloc(rep->history, cap * sizeof(*h));
        if (!h)
            return;
        rep->history = h;
        rep->history_cap = cap;
    }
    const sl_row_stats_t *t = &rep->interval_total;
    rep->history[rep->nhistory++] = (sl_history_point_t){
        .elapsed_us = elapsed_us,
        .interval_us = interval_us,
        .users = users,
        .requests = t->num_requests,
        .failures = t->num_failures,
        .p50_us = sl_hist_percentile(&t->latency, 50),
        .p95_us = sl_hist_percentile(&t->latency, 95),
        .p99_us = sl_hist_percentile(&t->latency, 99),
    };
    rep->snap.history = rep->history;
    rep->snap.nhistory = rep->nhistory;
}

sl_reporter_t *sl_reporter_new(const sl_snapshot_t *base)
{
    sl_reporter_t *rep = calloc(1, sizeof(*rep));
    if (!rep)
        return NULL;
    rep->snap = *base;
    rep->snap.overflow_row = -1;
    rep->snap.max_rows = sl_rows_limit(base->registry);
    sl_row_stats_init(&rep->total, SL_HIST_WIDE);
    sl_row_stats_init(&rep->interval_total, SL_HIST_NARROW);
    rep->cum = sl_stats_new(0, SL_HIST_WIDE);
    rep->interval = sl_stats_new(0, SL_HIST_NARROW);
    rep->ring_len_us = calloc(SL_RATE_WINDOW_S, sizeof(uint64_t));
    if (!rep->cum || !rep->interval || !rep->ring_len_us || follow_rows(rep) != 0) {
        sl_reporter_free(rep);
        return NULL;
    }
    rep->snap.stats = rep->cum;
    rep->snap.total = &rep->total;
    rep->snap.interval = rep->interval;
    rep->snap.interval_total = &rep->interval_total;
    /* A timed run knows how many history points it will keep: reserve and touch them now
     * (64 bytes a second, at most two days' worth), so the process's memory stays flat
     * while it runs instead of creeping up by one point a second. */
    uint64_t points = base->duration_us ? base->duration_us / SL_US_PER_S + 16 : 0;
    if (points > 2 * 86400)
        points = 2 * 86400;
    if (points) {
        rep->history = malloc(points * sizeof(*rep->history));
        if (rep->history) {
            memset(rep->history, 0, points * sizeof(*rep->history));
            rep->history_cap = points;
        }
    }
    return rep;
}

void sl_reporter_free(sl_reporter_t *rep)
{
    if (!rep)
        return;
    sl_stats_free(rep->cum);
    sl_stats_free(rep->interval);
    sl_row_stats_dispose(&rep->total);
    sl_row_stats_dispose(&rep->interval_total);
    free(rep->history);
    free(rep->ring_req);
    free(rep->ring_fail);
    free(rep->ring_len_us);
    free(rep->rps);
    free(rep->fps);
    free(rep->names);
    free(rep);
}

sl_stats_t *sl_reporter_interval(sl_reporter_t *rep)
{
    sl_stats_reset(rep->interval);
    return rep->interval;
}

void sl_reporter_tick(sl_reporter_t *rep, uint64_t elapsed_us, uint32_t users_running)
{
    follow_rows(rep); /* on failure the new rows wait for the next tick */
    if (sl_stats_reserve(rep->interval, rep->nrows) != 0)
        return;
    uint64_t interval_start_us = rep->last_tick_us;
    size_t cols = rep->nrows + 1;
    uint64_t *req = &rep->ring_req[rep->ring_pos * cols];
    uint64_t *fail = &rep->ring_fail[rep->ring_pos * cols];
    req[rep->nrows] = fail[rep->nrows] = 0;
    for (uint32_t i = 0; i < rep->nrows; i++) {
        req[i] = rep->interval->rows[i].num_requests;
        fail[i] = rep->interval->rows[i].num_failures;
        req[rep->nrows] += req[i];
        fail[rep->nrows] += fail[i];
    }
    rep->ring_len_us[rep->ring_pos] =
        elapsed_us > rep->last_tick_us ? elapsed_us - rep->last_tick_us : 0;
    rep->last_tick_us = elapsed_us;
    rep->ring_pos = (rep->ring_pos + 1) % SL_RATE_WINDOW_S;
    if (rep->ring_filled < SL_RATE_WINDOW_S)
        rep->ring_filled++;

    uint64_t span_us = 0;
    for (uint32_t s = 0; s < rep->ring_filled; s++)
        span_us += rep->ring_len_us[s];
    for (size_t c = 0; c < cols; c++) {
        uint64_t r = 0, f = 0;
        for (uint32_t s = 0; s < rep->ring_filled; s++) {
            r += rep->ring_req[s * cols + c];
            f += rep->ring_fail[s * cols + c];
        }
        rep->rps[c] = span_us ? (double)r * 1e6 / (double)span_us : 0.0;
        rep->fps[c] = span_us ? (double)f * 1e6 / (double)span_us : 0.0;
    }

    /* The total since the start grows by the interval's total: the cumulative rows are
     * never walked, so a tick costs what the second recorded, not what the run did. */
    uint64_t unrecorded = rep->cum->unrecorded;
    sl_stats_merge(rep->cum, rep->interval);
    sl_stats_total(rep->interval, &rep->interval_total);
    bool partial = rep->cum->unrecorded != unrecorded || rep->cum->nrows > rep->nrows;
    if (partial || rep->cum->alloc_failed ||
        !sl_row_stats_merge(&rep->total, &rep->interval_total, NULL)) {
        /* Memory ran out: part of an interval may not have reached the cumulative rows,
         * or the registry grew past the rows this reporter could take in. The total is
         * then summed again from the rows every report lists, and the requests of rows
         * it cannot list are counted as unrecorded, so that nothing is counted twice or
         * listed in the total alone. */
        rep->cum->alloc_failed = true;
        sl_stats_total_rows(rep->cum, rep->nrows, &rep->total);
        uint64_t unlisted = 0;
        for (uint32_t i = rep->nrows; i < rep->cum->nrows; i++)
            unlisted += rep->cum->rows[i].num_requests;
        rep->snap.unlisted = unlisted;
    }
    rep->snap.interval_start_us = interval_start_us;
    append_history(rep, elapsed_us,
                   elapsed_us > interval_start_us ? elapsed_us - interval_start_us : 0,
                   users_running);
    rep->snap.elapsed_us = elapsed_us;
    rep->snap.users_running = users_running;
    rep->snap.has_hint = sl_rows_hint(rep->snap.registry, &rep->snap.hint);
}

void sl_reporter_reset(sl_reporter_t *rep)
{
    /* alloc_failed survives: a value that was lost still means the run must stop. */
    bool alloc_failed = rep->cum->alloc_failed;
    sl_stats_reset(rep->cum);
    rep->cum->alloc_failed = alloc_failed;
    sl_stats_reset(rep->interval);
    sl_row_stats_dispose(&rep->total);
    sl_row_stats_init(&rep->total, SL_HIST_WIDE);
    sl_row_stats_dispose(&rep->interval_total);
    sl_row_stats_init(&rep->interval_total, SL_HIST_NARROW);
    size_t cols = (size_t)rep->nrows + 1;
    memset(rep->ring_req, 0, SL_RATE_WINDOW_S * cols * sizeof(uint64_t));
    memset(rep->ring_fail, 0, SL_RATE_WINDOW_S * cols * sizeof(uint64_t));
    memset(rep->ring_len_us, 0, SL_RATE_WINDOW_S * sizeof(uint64_t));
    memset(rep->rps, 0, cols * sizeof(double));
    memset(rep->fps, 0, cols * sizeof(double));
    rep->ring_pos = rep->ring_filled = 0;
}

void sl_reporter_set_control(sl_reporter_t *rep, uint32_t users_target, double rate_per_s)
{
    rep->snap.users_target = users_target;
    rep->snap.rate_per_s = rate_per_s;
}

void sl_reporter_set_cpu(sl_reporter_t *rep, double cpu_share)
{
    rep->snap.cpu_share = cpu_share;
}

const sl_snapshot_t *sl_reporter_snapshot(sl_reporter_t *rep, bool final)
{
    rep->snap.final = final;
    return &rep->snap;
}
