/* Statistics blocks and the error table. */
#include "stats/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_row_stats_init(sl_row_stats_t *r, sl_hist_width_t width)
{
    memset(r, 0, sizeof(*r));
    sl_hist_init(&r->latency, width);
    sl_hist_init(&r->service, width);
    sl_hist_init(&r->waiting, width);
    sl_hist_init(&r->receiving, width);
}

void sl_row_stats_dispose(sl_row_stats_t *r)
{
    sl_hist_dispose(&r->latency);
    sl_hist_dispose(&r->service);
    sl_hist_dispose(&r->waiting);
    sl_hist_dispose(&r->receiving);
}

static void row_reset(sl_row_stats_t *r)
{
    r->num_requests = r->num_failures = r->content_bytes = 0;
    sl_hist_reset(&r->latency);
    sl_hist_reset(&r->service);
    sl_hist_reset(&r->waiting);
    sl_hist_reset(&r->receiving);
    memset(&r->phases, 0, sizeof(r->phases));
}

bool sl_row_stats_merge(sl_row_stats_t *dst, const sl_row_stats_t *src, uint64_t *unrecorded)
{
    if (!src->num_requests)
        return true;
    /* The latency histogram first: a row's requests stay exactly its values. */
    if (!sl_hist_merge(&dst->latency, &src->latency)) {
        if (unrecorded)
            *unrecorded += src->num_requests;
        return false;
    }
    dst->num_requests += src->num_requests;
    dst->num_failures += src->num_failures;
    dst->content_bytes += src->content_bytes;
    dst->phases.connect_us += src->phases.connect_us;
    dst->phases.tls_us += src->phases.tls_us;
    dst->phases.sending_us += src->phases.sending_us;
    dst->phases.new_conns += src->phases.new_conns;
    dst->phases.reused_conns += src->phases.reused_conns;
    bool ok = sl_hist_merge(&dst->service, &src->service);
    ok &= sl_hist_merge(&dst->waiting, &src->waiting);
    ok &= sl_hist_merge(&dst->receiving, &src->receiving);
    return ok;
}

int sl_stats_reserve(sl_stats_t *s, uint32_t nrows)
{
    if (nrows <= s->nrows)
        return 0;
    sl_row_stats_t *rows = realloc(s->rows, nrows * sizeof(*rows));
    if (!rows)
        return SL_ENOMEM;
    s->rows = rows;
    for (uint32_t i = s->nrows; i < nrows; i++)
        sl_row_stats_init(&rows[i], s->width);
    s->nrows = nrows;
    return 0;
}

sl_stats_t *sl_stats_new(uint32_t nrows, sl_hist_width_t width)
{
    sl_stats_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->width = width;
    sl_hist_init(&s->send_lag, width);
    if (sl_stats_reserve(s, nrows) != 0) {
        sl_stats_free(s);
        return NULL;
    }
    return s;
}

size_t sl_stats_memory(const sl_stats_t *s)
{
    size_t n = sl_hist_memory(&s->send_lag);
    for (uint32_t i = 0; i < s->nrows; i++)
        n += sl_hist_memory(&s->rows[i].latency) + sl_hist_memory(&s->rows[i].service) +
             sl_hist_memory(&s->rows[i].waiting) + sl_hist_memory(&s->rows[i].receiving);
    return n;
}

void sl_stats_free(sl_stats_t *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nrows; i++)
        sl_row_stats_dispose(&s->rows[i]);
    sl_hist_dispose(&s->send_lag);
    free(s->rows);
    free(s->errors);
    free(s->exceptions);
    free(s);
}

/* Only rows that recorded something are touched: an interval block with thousands of
 * rows costs what its busy rows hold. */
void sl_stats_reset(sl_stats_t *s)
{
    for (uint32_t i = 0; i < s->nrows; i++)
        if (s->rows[i].num_requests)
            row_reset(&s->rows[i]);
    s->nerrors = 0;
    s->nexceptions = 0;
    s->retries = 0;
    s->stale_discarded = 0;
    s->conns_h1 = 0;
    s->conns_h2 = 0;
    s->h2_declined = 0;
    s->in_flight_at_stop = 0;
    s->dropped_iterations = 0;
    s->alloc_failed = false;
    s->unrecorded = 0;
    sl_hist_reset(&s->send_lag);
}

/* The fold-over entry for a row once the table is full; kind 0xffff renders as
 * "other errors". */
#define SL_FAIL_OTHER 0xffff

void sl_stats_error(sl_stats_t *s, uint32_t row, sl_fail_t kind, int detail, uint64_t n)
{
    for (uint32_t i = 0; i < s->nerrors; i++) {
        sl_error_entry_t *e = &s->errors[i];
        if (e->row == row && e->kind == kind && e->detail == detail) {
            e->occurrences += n;
            return;
        }
    }
    if (s->nerrors >= SL_STATS_MAX_ERRORS) {
        kind = SL_FAIL_OTHER;
        detail = 0;
        for (uint32_t i = 0; i < s->nerrors; i++) {
            sl_error_entry_t *e = &s->errors[i];
            if (e->row == row && e->kind == SL_FAIL_OTHER) {
                e->occurrences += n;
                return;
            }
        }
    }
    if (s->nerrors == s->errors_cap) {
        uint32_t cap = s->errors_cap ? s->errors_cap * 2 : 8;
        sl_error_entry_t *e = realloc(s->errors, cap * sizeof(*e));
        if (!e)
            return; /* the request is still counted as a failure in its row */
        s->errors = e;
        s->errors_cap = cap;
    }
    s->errors[s->nerrors++] =
        (sl_error_entry_t){.row = row, .kind = (uint16_t)kind, .detail = detail, .occurrences = n};
}

void sl_stats_exception(sl_stats_t *s, uint32_t text, uint64_t n)
{
    for (uint32_t i = 0; i < s->nexceptions; i++) {
        if (s->exceptions[i].text == text) {
            s->exceptions[i].occurrences += n;
            return;
        }
    }
    if (s->nexceptions >= SL_STATS_MAX_ERRORS)
        return; /* bounded: a script inventing messages cannot grow memory */
    if (s->nexceptions == s->exceptions_cap) {
        uint32_t cap = s->exceptions_cap ? s->exceptions_cap * 2 : 8;
        sl_exception_entry_t *e = realloc(s->exceptions, cap * sizeof(*e));
        if (!e)
            return;
        s->exceptions = e;
        s->exceptions_cap = cap;
    }
    s->exceptions[s->nexceptions++] = (sl_exception_entry_t){.text = text, .occurrences = n};
}

void sl_stats_merge(sl_stats_t *dst, const sl_stats_t *src)
{
    bool ok = sl_stats_reserve(dst, src->nrows) == 0;
    for (uint32_t i = 0; i < dst->nrows && i < src->nrows; i++)
        ok &= sl_row_stats_merge(&dst->rows[i], &src->rows[i], &dst->unrecorded);
    for (uint32_t i = 0; i < src->nerrors; i++) {
        const sl_error_entry_t *e = &src->errors[i];
        sl_stats_error(dst, e->row, (sl_fail_t)e->kind, e->detail, e->occurrences);
    }
    for (uint32_t i = 0; i < src->nexceptions; i++)
        sl_stats_exception(dst, src->exceptions[i].text, src->exceptions[i].occurrences);
    dst->retries += src->retries;
    dst->stale_discarded += src->stale_discarded;
    dst->conns_h1 += src->conns_h1;
    dst->conns_h2 += src->conns_h2;
    dst->h2_declined += src->h2_declined;
    dst->dropped_iterations += src->dropped_iterations;
    ok &= sl_hist_merge(&dst->send_lag, &src->send_lag);
    dst->in_flight_at_stop += src->in_flight_at_stop;
    dst->unrecorded += src->unrecorded;
    if (!ok || src->alloc_failed)
        dst->alloc_failed = true;
}

void sl_stats_total_rows(const sl_stats_t *s, uint32_t nrows, sl_row_stats_t *out)
{
    row_reset(out);
    for (uint32_t i = 0; i < s->nrows && i < nrows; i++)
        sl_row_stats_merge(out, &s->rows[i], NULL);
}

void sl_stats_total(const sl_stats_t *s, sl_row_stats_t *out)
{
    sl_stats_total_rows(s, s->nrows, out);
}

const char *sl_stats_protocol(const sl_stats_t *s)
{
    if (s->conns_h2 && s->conns_h1)
        return "h2+http/1.1";
    if (s->conns_h2)
        return "h2";
    if (s->conns_h1)
        return "http/1.1";
    return NULL;
}
