/* Running what the options ask for: one test from the command line, or, with the web UI,
 * as many as people start from the page (each a fresh run controller), with the live
 * view, the report files, the summary and the exit code of each. Main thread. */
#ifndef SL_CLI_RUN_H
#define SL_CLI_RUN_H

#include "cli/options.h"
#include "cli/setup.h"

enum { SL_EXIT_OK = 0, SL_EXIT_FAILURES = 1, SL_EXIT_USAGE = 2 };

/* Returns the process's exit code (the last test's, or 0 when the web UI ran none). */
int sl_cli_run(sl_options_t *opts, sl_run_setup_t *setup);

#endif
