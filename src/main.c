/* stormlight: command-line wiring and exit codes. The run itself is the run controller's
 * (control/control.h); this file is the only place that decides to exit. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "cli/dist.h"
#include "cli/keys.h"
#include "cli/options.h"
#include "cli/setup.h"
#include "cli/signals.h"
#include "control/control.h"
#include "control/local.h"
#include "report/outputs.h"

enum { EXIT_OK = 0, EXIT_FAILURES = 1, EXIT_USAGE = 2 };

static int usage_error(const char *msg)
{
    fprintf(stderr, "stormlight: %s\n", msg);
    return EXIT_USAGE;
}

static void outputs_tick(void *outs, const sl_snapshot_t *snap)
{
    sl_outputs_tick(outs, snap);
}

/* With thresholds, they decide (a failure ratio may be allowed); without, a failed
 * request, a script error or a run in which no request completed fails the run, as in
 * Locust: a scenario that only raises, or a server that never answers, must not pass CI. */
static int verdict(const sl_snapshot_t *snap, const sl_thresholds_t *th, FILE *human)
{
    if (th->n)
        return sl_thresholds_pass(th, snap) && !th->aborted_by ? EXIT_OK : EXIT_FAILURES;
    uint64_t exceptions = 0;
    for (uint32_t i = 0; i < snap->stats->nexceptions; i++)
        exceptions += snap->stats->exceptions[i].occurrences;
    if (snap->total->num_failures)
        return EXIT_FAILURES;
    if (exceptions || snap->total->num_requests == 0) {
        if (exceptions)
            fprintf(human, "\nThe run fails: %llu script error%s (see Exceptions).\n",
                    (unsigned long long)exceptions, exceptions == 1 ? "" : "s");
        else
            fprintf(human, "\nThe run fails: no request completed.\n");
        return EXIT_FAILURES;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    sl_options_t opts;
    sl_err_t err = {{0}};
    /* The config file and STORMLIGHT_* variables become arguments in front of the real
     * ones (cli/config.h). Static: opts points into it until the end. */
    static sl_config_t conf;
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
            printf("stormlight %s\n", SL_VERSION);
        return EXIT_OK;
    }
    static sl_run_setup_t setup; /* the plan, rows, endpoint: what the run borrows */
    int rc = sl_run_setup(&setup, &opts, &err);
    if (rc == 0 && opts.list)
        sl_plan_list(&setup.plan, stdout);
    if (rc != 0 || opts.list) {
        sl_run_setup_dispose(&setup);
        return rc != 0 ? usage_error(err.msg) : EXIT_OK;
    }
    if (opts.worker) { /* distributed worker: cli/dist.c */
        rc = sl_cli_distributed(&opts, &setup);
        sl_run_setup_dispose(&setup);
        sl_config_dispose(&conf);
        return rc;
    }
    int code = EXIT_USAGE;
    sl_outputs_t *outs = NULL;
    sl_control_t *ctl = NULL;
    /* Report files are opened before the run, so a bad path costs no test. */
    sl_outputs_cfg_t outs_cfg = {.csv_prefix = opts.csv_prefix,
                                 .csv_full_history = opts.csv_full_history,
                                 .html_path = opts.html_path,
                                 .hdr_log_path = opts.hdr_log_path,
                                 .scenario_file = opts.file,
                                 .timeout_us = opts.timeout_us};
    if (sl_outputs_open(&outs, &outs_cfg, &err) != 0 ||
        (opts.json_path && sl_report_json_check(opts.json_path, &err) != 0)) {
        usage_error(err.msg);
        goto out;
    }
    /* When the JSON goes to stdout, people's text goes to stderr so stdout stays parseable;
     * the live keys only when a person watches the live view on a terminal. */
    bool json_stdout = opts.json_path && strcmp(opts.json_path, "-") == 0;
    FILE *human = json_stdout ? stderr : stdout;
    sl_live_t live = {.tty = isatty(fileno(human)) != 0};
    bool keys_possible = !opts.quiet && sl_keys_foreground() && live.tty;
    sl_control_cfg_t cc = {.rows = setup.rows,
                           .texts = setup.texts,
                           .host = setup.host,
                           .thresholds = &setup.thresholds,
                           .abort_on_threshold = opts.abort_on_threshold,
                           .shape = setup.shape ? sl_control_shape_lua : NULL,
                           .shape_ud = setup.shape,
                           .on_tick = outputs_tick,
                           .on_tick_ud = outs,
                           .stop_timeout_us = opts.stop_timeout_us,
                           .notices = stderr,
                           .keys = keys_possible,
                           .reserve_bytes = 64u << 20};
    int brc = sl_cli_backend(&cc.backend, &opts, &setup, &err); /* local, or --master */
    if (brc != 0 || !(ctl = sl_control_new(&cc, &err))) {
        code = brc == 1 ? EXIT_FAILURES : usage_error(err.msg);
        if (brc == 1)
            fprintf(stderr, "stormlight: %s\n", err.msg);
        goto out;
    }
    sl_signals_install(ctl);
    sl_control_params_t params = {.users = opts.users,
                                  .spawn_rate = opts.spawn_rate,
                                  .rate_per_s = opts.rate_per_s,
                                  .duration_us = opts.duration_us,
                                  .iterations = opts.iterations,
                                  .stages = opts.stages,
                                  .threads = opts.threads,
                                  .seed = opts.seed,
                                  .room_for_keys = keys_possible};
    if (sl_control_start(ctl, &params, &err) != 0) {
        usage_error(err.msg);
        goto out;
    }
    int keys_fd = live.tty && !opts.quiet ? sl_keys_open() : -1;
    for (unsigned ticks = 0; sl_control_state(ctl) != SL_CONTROL_STOPPED;) {
        unsigned ev = sl_control_step(ctl, keys_fd);
        if (ev & SL_CONTROL_EV_INPUT)
            sl_keys_apply(ctl);
        sl_control_state_t st = sl_control_state(ctl);
        if (st != SL_CONTROL_STARTING && st != SL_CONTROL_RUNNING) {
            sl_keys_close();
            keys_fd = -1;
            continue;
        }
        bool draw = (ev & SL_CONTROL_EV_TICK) && ++ticks % 2 == 0;
        if (live.tty && live.lines_drawn > 0 && sl_signals_take_resize())
            draw = true;
        if (draw && !opts.quiet)
            sl_report_live(&live, sl_control_snapshot(ctl), human);
    }
    const sl_snapshot_t *snap = sl_control_snapshot(ctl);
    sl_control_result_t res;
    sl_control_result(ctl, &res);
    sl_outputs_tick(outs, snap);
    sl_report_summary(snap, human);
    code = verdict(snap, &setup.thresholds, human);
    if (res.out_of_memory)
        code = EXIT_FAILURES;
    if (res.worker_failed) {
        fprintf(stderr, "stormlight: %s\n", res.error.msg);
        code = EXIT_FAILURES;
    }
    /* Locust's --exit-code-on-error N: the code a failed run ends with (default 1). */
    if (code == EXIT_FAILURES)
        code = (int)opts.exit_code_on_error;
    if (opts.json_path && sl_report_json_run(snap, opts.json_path, res.interrupted, &err) != 0) {
        fprintf(stderr, "stormlight: %s\n", err.msg);
        code = EXIT_USAGE;
    }
    if (outs && sl_outputs_finish(outs, snap, &err) != 0) {
        fprintf(stderr, "stormlight: %s\n", err.msg);
        code = EXIT_USAGE;
    }
    /* As a shell expects of a program that a signal cut short (unless a report could not
     * be written, which says more). */
    if (res.interrupted && code != EXIT_USAGE)
        code = 128 + (res.last_signal ? res.last_signal : SIGINT);
out:
    sl_signals_detach();
    sl_outputs_free(outs);
    sl_control_free(ctl);
    sl_config_dispose(&conf);
    sl_run_setup_dispose(&setup);
    return code;
}
