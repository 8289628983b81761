/* Locust-compatible CSV files (--csv PREFIX), written from snapshots; see csv.c for the
 * files and their columns. Opened, ticked and finished by report/outputs.c. Main thread. */
#ifndef SL_REPORT_CSV_H
#define SL_REPORT_CSV_H

#include <stdbool.h>
#include <stdio.h>

#include "sl.h"
#include "stats/snapshot.h"

typedef struct sl_csv sl_csv_t;
/* Creates (truncates) the CSV files of prefix. Returns 0, or SL_ESYS / SL_ENOMEM with a
 * message naming --csv and the path. */
int sl_csv_open(sl_csv_t **out, const char *prefix, bool full_history, sl_err_t *err);
/* Appends the tick's history rows (from s->interval). */
void sl_csv_tick(sl_csv_t *c, const sl_snapshot_t *s);
/* Writes the final files from the final snapshot. Returns 0 or SL_ESYS with a message. */
int sl_csv_finish(sl_csv_t *c, const sl_snapshot_t *s, sl_err_t *err);
/* Closes whatever is still open. Accepts NULL. */
void sl_csv_free(sl_csv_t *c);

/* The bodies of PREFIX_stats.csv, PREFIX_failures.csv and PREFIX_exceptions.csv for s,
 * written to f (the web UI's downloads and Locust's /stats/requests/csv). */
void sl_csv_write_stats(FILE *f, const sl_snapshot_t *s);
void sl_csv_write_failures(FILE *f, const sl_snapshot_t *s);
void sl_csv_write_exceptions(FILE *f, const sl_snapshot_t *s);

#endif
