/* The HdrHistogram interval log (--hdr-log PATH): one compressed histogram per interval,
 * readable by HdrHistogram's tools. Opened, ticked and finished by report/outputs.c.
 * Main thread. */
#ifndef SL_REPORT_HDRLOG_H
#define SL_REPORT_HDRLOG_H

#include "sl.h"
#include "stats/hist.h"
#include "stats/snapshot.h"

typedef struct sl_hdrlog sl_hdrlog_t;
/* Creates (truncates) the log at path. Returns 0, or SL_ESYS / SL_ENOMEM with a message. */
int sl_hdrlog_open(sl_hdrlog_t **out, const char *path, sl_err_t *err);
/* Appends the tick's interval (s->interval). */
void sl_hdrlog_tick(sl_hdrlog_t *l, const sl_snapshot_t *s);
/* Flushes and closes the log. Returns 0 or SL_ESYS with a message. */
int sl_hdrlog_finish(sl_hdrlog_t *l, sl_err_t *err);
/* Closes whatever is still open. Accepts NULL. */
void sl_hdrlog_free(sl_hdrlog_t *l);
/* Encodes one histogram in HdrHistogram's compressed V2 form, base64 ("HISTF..."), into a
 * malloc'ed string. NULL on out of memory. Exposed for the unit tests. */
char *sl_hdrlog_encode(const sl_hist_t *h);

#endif
