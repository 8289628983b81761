/* The distributed modes' wiring (--worker, --master): from the parsed options and the
 * run's setup to dist/. Main thread. */
#ifndef SL_CLI_DIST_H
#define SL_CLI_DIST_H

#include "cli/options.h"
#include "cli/setup.h"

/* Runs this process as a worker or a master; returns the exit code (0: the master ended
 * the test; 1: the master was lost or never answered; 2: bad usage). */
int sl_cli_distributed(const sl_options_t *opts, sl_run_setup_t *setup);

#endif
