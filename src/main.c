/* stormlight: command-line wiring. The options and the scenario are read here; the test
 * (or, with the web UI, the tests) and the exit code they end with are cli/run.c's, and
 * the run itself is the run controller's (control/control.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "cli/dist.h"
#include "cli/new.h"
#include "cli/options.h"
#include "cli/run.h"
#include "cli/setup.h"
#include "sl_revision.h"

static int usage_error(const char *msg)
{
    fprintf(stderr, "stormlight: %s\n", msg);
    return SL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    sl_options_t opts;
    sl_err_t err = {{0}};
    /* The config file and STORMLIGHT_* variables become arguments in front of the real
     * ones (cli/config.h). Static: opts points into it until the end. */
    static sl_config_t conf;
    if (argc >= 2 && strcmp(argv[1], "new") == 0)
        return sl_cli_new(argc - 2, argv + 2, stdout, &err) == 0 ? SL_EXIT_OK
                                                                 : usage_error(err.msg);
    if (sl_config_load(&conf, argc, argv, environ, &err) != 0)
        return usage_error(err.msg);
    if (sl_options_parse(conf.argc, conf.argv, &opts, &err) != 0) {
        sl_config_blame(&conf, &err);
        return usage_error(err.msg);
    }
    if (opts.help || opts.version) {
        if (opts.help)
            fputs(sl_options_usage(), stdout);
        else
            printf("stormlight %s%s\n", SL_VERSION, SL_REVISION);
        return SL_EXIT_OK;
    }
    static sl_run_setup_t setup; /* the plan, rows, endpoint: what the run borrows */
    int rc = sl_run_setup(&setup, &opts, &err);
    if (rc == 0 && opts.list)
        sl_plan_list(&setup.sc.plan, stdout);
    if (rc != 0 || opts.list) {
        sl_run_setup_dispose(&setup);
        return rc != 0 ? usage_error(err.msg) : SL_EXIT_OK;
    }
    if (opts.worker) { /* distributed worker: cli/dist.c */
        rc = sl_cli_distributed(&opts, &setup);
        sl_run_setup_dispose(&setup);
        sl_config_dispose(&conf);
        return rc;
    }
    int code = sl_cli_run(&opts, &setup);
    sl_config_dispose(&conf);
    sl_run_setup_dispose(&setup);
    return code;
}
