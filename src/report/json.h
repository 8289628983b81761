/* The pieces of the JSON summary that the HTML report embeds as well, so both write the
 * same data the same way. The summary itself is sl_report_json (report/report.h). Main
 * thread. */
#ifndef SL_REPORT_JSON_H
#define SL_REPORT_JSON_H

#include "report/jsonw.h"
#include "stats/snapshot.h"

/* Writes the per-second history as a JSON array (the JSON summary's "history", and the
 * data the HTML charts are drawn from), as member `key` (NULL: an element). */
/* The errors as the JSON summary lists them (Locust's shape: method, name, error,
 * occurrences); the web UI's /stats/requests uses the same. */
void sl_report_errors_write(sl_jw_t *w, const char *key, const sl_snapshot_t *s);

void sl_report_history_write(sl_jw_t *w, const char *key, const sl_snapshot_t *s);

/* Writes the threshold verdicts of s->outcome as a JSON array of {"expr", "ok",
 * "observed", "unit"}; an empty array when there are none. */
void sl_report_thresholds_write(sl_jw_t *w, const char *key, const sl_snapshot_t *s);

#endif
