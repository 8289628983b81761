/* Statistics blocks: per-row counters and histograms plus an error table. A worker
 * records into its own block with no lock; once a second it hands the block to the
 * reporter, which merges it exactly into the cumulative block. */
#ifndef SL_STATS_STATS_H
#define SL_STATS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/fail.h"
#include "sl.h"
#include "stats/hist.h"
#include "stats/phases.h"

typedef struct sl_row_stats {
    uint64_t num_requests; /* completed, failed or not */
    uint64_t num_failures;
    uint64_t content_bytes; /* response body bytes */
    sl_hist_t latency;      /* intended start -> completion, microseconds */
    sl_hist_t service;      /* sent -> completion: what the server took */
    /* Where the time went (stats/phases.h): waiting and receiving as histograms (sparse:
     * they allocate on first use), connect, TLS and sending as sums. */
    sl_hist_t waiting;
    sl_hist_t receiving;
    sl_phases_sums_t phases;
} sl_row_stats_t;

typedef struct sl_error_entry {
    uint32_t row;
    uint16_t kind;
    int32_t detail;
    uint64_t occurrences;
} sl_error_entry_t;

/* An error raised by a script task: text id (file:line and message, interned in the run's
 * text registry) and how often. */
typedef struct sl_exception_entry {
    uint32_t text;
    uint64_t occurrences;
} sl_exception_entry_t;

/* Distinct errors beyond this many are counted in their row but folded into one entry
 * per row ("other errors"), so a server that invents error kinds cannot grow memory. */
#define SL_STATS_MAX_ERRORS 256

typedef struct sl_stats {
    uint32_t nrows; /* rows allocated (with histograms); grows on demand */
    sl_row_stats_t *rows;
    sl_error_entry_t *errors;
    uint32_t nerrors, errors_cap;
    sl_exception_entry_t *exceptions;
    uint32_t nexceptions, exceptions_cap;
    uint64_t retries;
    uint64_t stale_discarded; /* idle keep-alive connections found closed before reuse */
    uint64_t conns_h1;        /* connections established that spoke HTTP/1.1 */
    uint64_t conns_h2;        /* ... that spoke HTTP/2 (h2 by ALPN, or h2c) */
    uint64_t h2_declined;     /* of conns_h1: h2 was offered by ALPN, the server chose 1.1 */
    uint64_t in_flight_at_stop;
    uint64_t dropped_iterations; /* open model: arrivals that found no user and no room */
    sl_hist_t send_lag;          /* sent - intended, all rows: the generator's lateness */
    sl_hist_width_t width;       /* of every histogram in the block */
    /* Memory ran out while recording or merging into this block: some values were not
     * kept. Carried through merges so the run controller can stop the run and say so. */
    bool alloc_failed;
    uint64_t unrecorded; /* completed requests that memory ran out for (then the run stops) */
} sl_stats_t;

/* The protocol the block's connections spoke, as the summary and the JSON name it: "h2",
 * "http/1.1", "h2+http/1.1" (both), or NULL when no connection was established. */
const char *sl_stats_protocol(const sl_stats_t *s);

/* Allocates a block for nrows rows. Histograms allocate on first use, so an untouched row
 * costs its counters only. Interval blocks (workers', the reporter's per-second one) are
 * SL_HIST_NARROW, cumulative ones SL_HIST_WIDE. NULL on out of memory. */
sl_stats_t *sl_stats_new(uint32_t nrows, sl_hist_width_t width);
/* Heap bytes the block's histograms own, for the memory benchmark and tests. */
size_t sl_stats_memory(const sl_stats_t *s);
/* Grows the block to at least nrows rows. Allocates; called only when a row id is met
 * for the first time in this block. Returns 0 or SL_ENOMEM. */
int sl_stats_reserve(sl_stats_t *s, uint32_t nrows);
void sl_stats_free(sl_stats_t *s);
/* Zeroes every counter and histogram, keeping the memory. */
void sl_stats_reset(sl_stats_t *s);
/* Adds src into dst (growing dst to src's rows). Exact. */
void sl_stats_merge(sl_stats_t *dst, const sl_stats_t *src);

/* Records one completed request: latency from its intended start, service time from
 * when it was sent (equal when it left on time). Hot path: no allocation. */
static inline void sl_stats_record(sl_stats_t *s, uint32_t row, uint64_t latency_us,
                                   uint64_t service_us, uint64_t bytes, bool failed)
{
    if (SL_UNLIKELY(row >= s->nrows) && sl_stats_reserve(s, row + 1) != 0) {
        s->alloc_failed = true; /* the request cannot be recorded; the run will stop */
        s->unrecorded++;
        return;
    }
    sl_row_stats_t *r = &s->rows[row];
    /* A row's requests are exactly the values of its latency histogram: a request whose
     * latency could not be kept (memory ran out) is counted apart, not in the row. */
    if (SL_UNLIKELY(!sl_hist_record(&r->latency, latency_us))) {
        s->alloc_failed = true;
        s->unrecorded++;
        return;
    }
    r->num_requests++;
    r->num_failures += failed;
    r->content_bytes += bytes;
    bool ok = sl_hist_record(&r->service, service_us);
    ok &= sl_hist_record(&s->send_lag, latency_us - service_us);
    if (SL_UNLIKELY(!ok))
        s->alloc_failed = true;
}

/* Adds one request's phases to its row (after sl_stats_record for it): the connection
 * counts and sums for every request, waiting and receiving only when a response came.
 * Hot path: no allocation once the row's two histograms hold the values seen. */
static inline void sl_stats_record_phases(sl_stats_t *s, uint32_t row, const sl_phases_t *ph)
{
    if (SL_UNLIKELY(row >= s->nrows))
        return; /* sl_stats_record could not make the row: already counted */
    sl_row_stats_t *r = &s->rows[row];
    r->phases.connect_us += ph->connect_us;
    r->phases.tls_us += ph->tls_us;
    r->phases.sending_us += ph->sending_us;
    r->phases.new_conns += ph->conn == SL_PHASES_CONN_NEW;
    r->phases.reused_conns += ph->conn == SL_PHASES_CONN_REUSED;
    if (!ph->responded)
        return;
    bool ok = sl_hist_record(&r->waiting, ph->waiting_us);
    ok &= sl_hist_record(&r->receiving, ph->receiving_us);
    if (SL_UNLIKELY(!ok))
        s->alloc_failed = true;
}

/* Counts one occurrence of an error for a row (the request itself is recorded with
 * sl_stats_record). Allocates only when a new distinct error appears. */
void sl_stats_error(sl_stats_t *s, uint32_t row, sl_fail_t kind, int detail, uint64_t n);

/* Counts one occurrence of a script exception (text id from the run's text registry). */
void sl_stats_exception(sl_stats_t *s, uint32_t text, uint64_t n);

/* Sums every row into out (whose histograms must be initialised). */
void sl_stats_total(const sl_stats_t *s, sl_row_stats_t *out);
/* The same over rows 0..nrows-1 only. */
void sl_stats_total_rows(const sl_stats_t *s, uint32_t nrows, sl_row_stats_t *out);
/* Adds one row's counters and histograms into another. Returns false when memory ran out;
 * if it ran out for the latency histogram, nothing of src was added and its requests are
 * added to *unrecorded (when not NULL). */
bool sl_row_stats_merge(sl_row_stats_t *dst, const sl_row_stats_t *src, uint64_t *unrecorded);
/* Initialises / frees a row kept outside a block (the reporter's totals). */
void sl_row_stats_init(sl_row_stats_t *r, sl_hist_width_t width);
void sl_row_stats_dispose(sl_row_stats_t *r);

#endif
