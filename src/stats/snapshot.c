/* The reporter: cumulative statistics, the rate window, and the snapshot built from them.
 * Main thread only. */
#include "stats/snapshot.h"

#include <stdlib.h>
#include <string.h>

struct sl_reporter {
    sl_snapshot_t snap;
    sl_stats_t *cum;
    sl_stats_t *interval;
    sl_row_stats_t total;
    uint32_t nrows;
    /* Ring of per-second request and failure counts, nrows + 1 (total) per slot. */
    uint64_t *ring_req;
    uint64_t *ring_fail;
    uint64_t *ring_len_us;
    uint32_t ring_pos, ring_filled;
    uint64_t last_tick_us;
    double *rps;
    double *fps;
};

sl_reporter_t *sl_reporter_new(const sl_snapshot_t *base)
{
    sl_reporter_t *rep = calloc(1, sizeof(*rep));
    if (!rep)
        return NULL;
    rep->snap = *base;
    rep->nrows = (uint32_t)base->plan->nrows;
    size_t cols = rep->nrows + 1;
    rep->cum = sl_stats_new(rep->nrows);
    rep->interval = sl_stats_new(rep->nrows);
    rep->ring_req = calloc(SL_RATE_WINDOW_S * cols, sizeof(uint64_t));
    rep->ring_fail = calloc(SL_RATE_WINDOW_S * cols, sizeof(uint64_t));
    rep->ring_len_us = calloc(SL_RATE_WINDOW_S, sizeof(uint64_t));
    rep->rps = calloc(cols, sizeof(double));
    rep->fps = calloc(cols, sizeof(double));
    if (!rep->cum || !rep->interval || !rep->ring_req || !rep->ring_fail || !rep->ring_len_us ||
        !rep->rps || !rep->fps || sl_hist_init(&rep->total.latency) != 0) {
        sl_reporter_free(rep);
        return NULL;
    }
    rep->snap.stats = rep->cum;
    rep->snap.total = &rep->total;
    rep->snap.cur_rps = rep->rps;
    rep->snap.cur_fail_per_s = rep->fps;
    return rep;
}

void sl_reporter_free(sl_reporter_t *rep)
{
    if (!rep)
        return;
    sl_stats_free(rep->cum);
    sl_stats_free(rep->interval);
    sl_hist_dispose(&rep->total.latency);
    free(rep->ring_req);
    free(rep->ring_fail);
    free(rep->ring_len_us);
    free(rep->rps);
    free(rep->fps);
    free(rep);
}

sl_stats_t *sl_reporter_interval(sl_reporter_t *rep)
{
    return rep->interval;
}

void sl_reporter_tick(sl_reporter_t *rep, uint64_t elapsed_us, uint32_t users_running)
{
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

    sl_stats_merge(rep->cum, rep->interval);
    sl_stats_reset(rep->interval);
    sl_stats_total(rep->cum, &rep->total);
    rep->snap.elapsed_us = elapsed_us;
    rep->snap.users_running = users_running;
}

const sl_snapshot_t *sl_reporter_snapshot(sl_reporter_t *rep, bool final)
{
    rep->snap.final = final;
    return &rep->snap;
}
