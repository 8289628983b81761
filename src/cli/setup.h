/* From the parsed options to what a run borrows: the loaded and rendered plan, the base
 * URL and its resolved endpoint (with a TLS context for https), the file's stages and
 * shape, the row registry with the plan's rows and the parsed thresholds. main.c hands
 * these to the run controller (control/control.h). Main thread. */
#ifndef SL_CLI_SETUP_H
#define SL_CLI_SETUP_H

#include "base/url.h"
#include "cli/options.h"
#include "control/local.h"
#include "net/conn.h"
#include "scenario/plan.h"
#include "scenario/shape.h"
#include "scenario/stages.h"
#include "stats/rows.h"
#include "threshold/threshold.h"

typedef struct sl_run_setup {
    sl_plan_t plan;
    const char *host; /* --host, else the file's host (borrowed from opts or the plan) */
    sl_url_t url;
    sl_endpoint_t ep;
    SSL_CTX *tls;
    sl_shape_t *shape;       /* the file's shape(), or NULL */
    sl_stages_t file_stages; /* the file's stages (opts->stages points here when used) */
    sl_rows_t *rows;         /* the run's row registry: the plan's rows first */
    sl_rows_t *texts;        /* messages of script failures and exceptions */
    sl_thresholds_t thresholds;
    sl_local_cfg_t local; /* the local backend's configuration, pointing into the above */
} sl_run_setup_t;

/* Loads the scenario and applies --tags; with --list it stops there. Otherwise resolves
 * the host, renders the requests, reads the file's stages (which the flag overrides: it
 * may set opts->stages) and shape, registers the rows, parses the thresholds, and picks a
 * seed when none was given (opts->seed). Returns 0, or an SL_E* code with the message a
 * user reads in err ("stormlight: " goes in front). Dispose *s in either case. */
int sl_run_setup(sl_run_setup_t *s, sl_options_t *opts, sl_err_t *err);
void sl_run_setup_dispose(sl_run_setup_t *s);

#endif
