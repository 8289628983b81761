/* The HTML report (--html PATH): one self-contained page drawn from the final snapshot.
 * Written by report/outputs.c. Main thread. */
#ifndef SL_REPORT_HTML_H
#define SL_REPORT_HTML_H

#include <stdint.h>
#include <stdio.h>

#include "stats/snapshot.h"

/* Writes the HTML report for the final snapshot s to f (borrowed; not closed).
 * scenario_file (borrowed, may be NULL) and timeout_us (0: not shown) are run parameters
 * the page shows besides the snapshot's. Returns 0 or SL_ENOMEM. */
int sl_html_write(FILE *f, const sl_snapshot_t *s, const char *scenario_file, uint64_t timeout_us);

#endif
