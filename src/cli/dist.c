/* --worker and --master: the distributed modes (dist/). */
#include "cli/dist.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dist/worker.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int sl_cli_distributed(const sl_options_t *opts, sl_run_setup_t *setup)
{
    if (opts->master && opts->worker) {
        fprintf(stderr, "stormlight: --master and --worker: choose one\n");
        return 2;
    }
    if (opts->master) {
        fprintf(stderr, "stormlight: --master: a stormlight master is not built yet; run "
                        "Locust's master (locust --master) with stormlight workers\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sl_dist_worker_cfg_t cfg = {.master_host = opts->master_host,
                                .master_port = (uint16_t)opts->master_port,
                                .local = setup->local,
                                .host = setup->host,
                                .threads = opts->threads,
                                .seed = opts->seed,
                                .master_timeout_us = 10 * SL_US_PER_S,
                                .connect_timeout_us = 60 * SL_US_PER_S,
                                .notices = stderr,
                                .stop_flag = &stop_requested};
    sl_err_t err = {{0}};
    int code = sl_dist_worker_run(&cfg, &err);
    if (code != 0)
        fprintf(stderr, "stormlight: %s\n", err.msg);
    return code;
}
