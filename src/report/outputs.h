/* Report files beyond the JSON summary: Locust-style CSV files, the HdrHistogram interval
 * log and the HTML report, all written from snapshots (see stats/snapshot.h).
 *
 * main.c opens them before the run starts (so a path that cannot be written is a usage
 * error, not a lost report after a long test), has the run controller call sl_outputs_tick
 * after every reporter tick (the CSV history and the HDR log are written as the run goes, from the
 * per-second interval), and sl_outputs_finish once with the final snapshot. Main thread
 * only. The writers behind it are report/csv.h, report/hdrlog.h and report/html.h. */
#ifndef SL_REPORT_OUTPUTS_H
#define SL_REPORT_OUTPUTS_H

#include <stdbool.h>
#include <stdio.h>

#include "sl.h"
#include "stats/snapshot.h"

typedef struct sl_outputs_cfg {
    const char *csv_prefix; /* NULL: no CSV files */
    bool csv_full_history;
    const char *html_path;    /* NULL: no HTML */
    const char *hdr_log_path; /* NULL: no HDR log */
    /* Run parameters the HTML report shows besides the snapshot's (borrowed). */
    const char *scenario_file;
    uint64_t timeout_us;
} sl_outputs_cfg_t;

typedef struct sl_outputs sl_outputs_t;

/* Opens (creates or truncates) every requested file. Returns 0, or SL_ESYS / SL_ENOMEM
 * with a message naming the flag and the path. cfg's strings must outlive the outputs. */
int sl_outputs_open(sl_outputs_t **out, const sl_outputs_cfg_t *cfg, sl_err_t *err);

/* Writes what the tick adds: history rows and HDR log intervals. Write errors are kept
 * and reported by sl_outputs_finish. */
void sl_outputs_tick(sl_outputs_t *o, const sl_snapshot_t *s);

/* Writes the final files from the final snapshot and closes everything. Returns 0 or
 * SL_ESYS with a message for the first file that could not be written. */
int sl_outputs_finish(sl_outputs_t *o, const sl_snapshot_t *s, sl_err_t *err);

/* Closes whatever is still open. Accepts NULL. */
void sl_outputs_free(sl_outputs_t *o);

#endif
