/* --worker and --master: the distributed modes (dist/). */
#include "cli/dist.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "control/local.h"
#include "dist/master.h"
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
                                .host = setup->sc.host,
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

int sl_cli_backend(sl_backend_t *out, const sl_options_t *opts, sl_run_setup_t *setup,
                   sl_err_t *err)
{
    if (!opts->master) {
        if (sl_local_backend_new(out, &setup->local) == 0)
            return 0;
        sl_err_set(err, "out of memory");
        return 2;
    }
    sl_dist_master_cfg_t cfg = {.bind_host = opts->master_bind_host,
                                .bind_port = (uint16_t)opts->master_bind_port,
                                .expect_workers = opts->expect_workers,
                                .expect_max_wait_us = opts->expect_workers_max_wait_us,
                                .plan = &setup->sc.plan,
                                .rows = setup->sc.plan.rows,
                                .texts = setup->texts,
                                .host = setup->sc.host,
                                .stop_timeout_us = opts->stop_timeout_us,
                                .notices = stderr};
    if (sl_dist_master_new(out, &cfg, err) != 0)
        return 2;
    if (sl_dist_master_await(out, err) != 0) {
        out->ops->free(out->b);
        out->b = NULL;
        return 1;
    }
    return 0;
}
