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

/* The live table (elapsed, users, per-row requests, failures, current RPS, median, p95,
 * p99, average, min, max, and a total row). On a terminal (tty) it redraws in place over
 * the previous table, fitted to the terminal's width (read on every frame): names shrink
 * behind an ellipsis and columns are dropped, so no line wraps; otherwise it prints a
 * plain table. */
typedef struct sl_live {
    bool tty;
    int lines_drawn;
    int cols; /* the terminal's width the last frame was fitted to (0: not fitted) */
} sl_live_t;
void sl_report_live(sl_live_t *live, const sl_snapshot_t *s, FILE *out);

/* The final summary: the statistics table with whole-run rates, the percentile table and
 * the error table; fitted to the width when out is a terminal, as the live view is. */
void sl_report_summary(const sl_snapshot_t *s, FILE *out);

/* Writes the JSON summary (schema stormlight.summary/1) to path, "-" for stdout. Returns
 * 0 or SL_ESYS with a message. */
int sl_report_json(const sl_snapshot_t *s, const char *path, sl_err_t *err);
/* The same, saying whether the run was interrupted: a second Ctrl-C cut the users'
 * on_stop short, so the figures are what was measured until then. */
int sl_report_json_run(const sl_snapshot_t *s, const char *path, bool interrupted, sl_err_t *err);

#endif
