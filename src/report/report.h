/* Every human and machine view of a run, all drawn from one sl_snapshot_t. */
#ifndef SL_REPORT_REPORT_H
#define SL_REPORT_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "stats/snapshot.h"

/* The percentiles every report shows, in order, with their JSON keys. */
extern const double sl_report_pcts[];
extern const char *const sl_report_pct_keys[];
#define SL_REPORT_NPCTS 11

/* The snapshot's row indexes 0..nrows-1 sorted by name, then method (Locust's order),
 * for every table and file that lists rows. Malloc'ed, caller frees; NULL on out of
 * memory, when callers list rows in id order instead. */
size_t *sl_report_order(const sl_snapshot_t *s);
/* The i-th row to list: order[i], or i without an order. */
static inline size_t sl_report_row_at(const size_t *order, size_t i)
{
    return order ? order[i] : i;
}

/* The live table (elapsed, users, per-row requests, failures, current RPS, median, p95,
 * p99, average, min, max, and a total row). On a terminal (tty) it redraws in place over
 * the previous table, fitted to the terminal's width (read on every frame): names shrink
 * behind an ellipsis and columns are dropped, so no line wraps; otherwise it prints a
 * plain table. */
typedef struct sl_live {
    bool tty;
    int lines_drawn;
    unsigned notes_shown; /* which row notes a plain log has printed already */
    int cols;             /* the terminal's width the last frame was fitted to (0: not fitted) */
} sl_live_t;
void sl_report_live(sl_live_t *live, const sl_snapshot_t *s, FILE *out);

/* The final summary: the statistics table with whole-run rates, the percentile table,
 * the error table and the threshold verdicts (s->outcome); fitted to the width when out
 * is a terminal, as the live view is. */
void sl_report_summary(const sl_snapshot_t *s, FILE *out);
/* The timing phases per row (--phases, docs/phases.md): waiting and receiving
 * percentiles, the mean sending, connect and TLS times, new and reused connections. */
void sl_report_phases(const sl_snapshot_t *s, FILE *out);

/* Checks before the run that the JSON summary can be written to path, as the other report
 * files are opened before the run: opens it for writing (creating it, empty, when it does
 * not exist) without blocking and closes it again. "-" always passes. Returns 0 or
 * SL_ESYS with a message naming --json and the path. */
int sl_report_json_check(const char *path, sl_err_t *err);

/* Writes the JSON summary (schema stormlight.summary/1) to path, "-" for stdout. Returns
 * 0 or SL_ESYS with a message. */
int sl_report_json(const sl_snapshot_t *s, const char *path, sl_err_t *err);
/* The same, saying whether the run was interrupted: a second Ctrl-C cut the users'
 * on_stop short, so the figures are what was measured until then. */
int sl_report_json_run(const sl_snapshot_t *s, const char *path, bool interrupted, sl_err_t *err);
/* The JSON summary written to f (the web UI's download). */
void sl_report_json_write(FILE *f, const sl_snapshot_t *s, bool interrupted);

/* The summary's threshold section: one line per verdict of s->outcome with a check mark or
 * a cross and the observed value, and the reason when the run was aborted. Prints nothing
 * when the run has no thresholds. */
void sl_report_thresholds(const sl_snapshot_t *s, FILE *out);

#endif
