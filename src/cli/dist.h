/* The distributed modes' wiring (--worker, --master): from the parsed options and the
 * run's setup to dist/. Main thread. */
#ifndef SL_CLI_DIST_H
#define SL_CLI_DIST_H

#include "cli/options.h"
#include "cli/setup.h"

/* The backend a run drives: the local worker threads, or with --master the remote
 * workers (dist/master.h), once --expect-workers joined. Returns 0, 1 with err set when
 * the workers did not join within --expect-workers-max-wait (Locust exits 1 then too),
 * or 2 with err set (the address cannot be bound, out of memory). */
int sl_cli_backend(sl_backend_t *out, const sl_options_t *opts, sl_run_setup_t *setup,
                   sl_err_t *err);

/* Runs this process as a worker; returns the exit code (0: the master ended
 * the test; 1: the master was lost or never answered; 2: bad usage). */
int sl_cli_distributed(const sl_options_t *opts, sl_run_setup_t *setup);

#endif
