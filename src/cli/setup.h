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
#include "scenario/prepare.h"
#include "stats/rows.h"
#include "threshold/threshold.h"

typedef struct sl_run_setup {
    /* The prepared scenario: the plan (with the run's row registry, sc.plan.rows), the
     * host and its URL, the file's shape and stages (opts->stages points at sc.stages
     * when the file's are used). */
    sl_scenario_t sc;
    sl_endpoint_t ep;
    SSL_CTX *tls;
    sl_rows_t *texts; /* messages of script failures and exceptions */
    sl_thresholds_t thresholds;
    sl_local_cfg_t local; /* the local backend's configuration, pointing into the above */
} sl_run_setup_t;

/* Prepares the scenario in one step (sl_scenario_prepare: load, --tags, host, render,
 * stages and shape, rows); with --list it stops after the tags. Otherwise resolves the
 * host, applies the file's stages unless the flag gave some (it may set opts->stages),
 * parses the thresholds, and picks a seed when none was given (opts->seed). Returns 0, or an SL_E*
 * code with the message a user reads in err ("stormlight: " goes in front). Dispose *s in either
 * case. */
int sl_run_setup(sl_run_setup_t *s, sl_options_t *opts, sl_err_t *err);
void sl_run_setup_dispose(sl_run_setup_t *s);

#endif
