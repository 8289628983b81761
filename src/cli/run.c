/* One test from the command line, or the tests people start from the web UI (run.h). */
#include "cli/run.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/dist.h"
#include "cli/keys.h"
#include "cli/signals.h"
#include "control/control.h"
#include "control/local.h"
#include "report/outputs.h"
#include "web/server.h"

typedef struct cli_run {
    sl_options_t *opts;
    sl_run_setup_t *setup;
    sl_web_t *web;
    FILE *human;
    sl_live_t live;
    bool keys_possible;
    sl_control_params_t params;
} cli_run_t;

static int usage_error(const char *msg)
{
    fprintf(stderr, "stormlight: %s\n", msg);
    return SL_EXIT_USAGE;
}

/* Every reporting tick while users run: the per-second files, the web UI's counters. */
typedef struct tick_sinks {
    sl_outputs_t *outs;
    sl_web_t *web;
} tick_sinks_t;

static void on_tick(void *ud, const sl_snapshot_t *snap)
{
    tick_sinks_t *t = ud;
    sl_outputs_tick(t->outs, snap);
    if (t->web)
        sl_web_tick(t->web, snap);
}

/* With thresholds, they decide (a failure ratio may be allowed); without, a failed
 * request, a script error or a run in which no request completed fails the run, as in
 * Locust: a scenario that only raises, or a server that never answers, must not pass CI. */
static int verdict(const sl_snapshot_t *snap, const sl_thresholds_t *th, FILE *human)
{
    if (th->n)
        return sl_thresholds_pass(th, snap) && !th->aborted_by ? SL_EXIT_OK : SL_EXIT_FAILURES;
    uint64_t exceptions = 0;
    for (uint32_t i = 0; i < snap->stats->nexceptions; i++)
        exceptions += snap->stats->exceptions[i].occurrences;
    if (snap->total->num_failures)
        return SL_EXIT_FAILURES;
    if (exceptions || snap->total->num_requests == 0) {
        if (exceptions)
            fprintf(human, "\nThe run fails: %llu script error%s (see Exceptions).\n",
                    (unsigned long long)exceptions, exceptions == 1 ? "" : "s");
        else
            fprintf(human, "\nThe run fails: no request completed.\n");
        return SL_EXIT_FAILURES;
    }
    return SL_EXIT_OK;
}

/* After a run stopped: the last report tick, the summary, the JSON and the files, and the
 * exit code they add up to. */
static int finish(cli_run_t *r, sl_control_t *ctl, sl_outputs_t *outs)
{
    const sl_options_t *opts = r->opts;
    const sl_snapshot_t *snap = sl_control_snapshot(ctl);
    sl_control_result_t res;
    sl_control_result(ctl, &res);
    sl_err_t err = {{0}};
    sl_outputs_tick(outs, snap);
    if (r->web)
        sl_web_tick(r->web, snap); /* the final tick's interval */
    sl_report_summary(snap, r->human);
    if (opts->phases)
        sl_report_phases(snap, r->human);
    int code = verdict(snap, &r->setup->thresholds, r->human);
    if (res.out_of_memory)
        code = SL_EXIT_FAILURES;
    if (res.worker_failed) {
        fprintf(stderr, "stormlight: %s\n", res.error.msg);
        code = SL_EXIT_FAILURES;
    }
    /* Locust's --exit-code-on-error N: the code a failed run ends with (default 1). */
    if (code == SL_EXIT_FAILURES)
        code = (int)opts->exit_code_on_error;
    if (opts->json_path && sl_report_json_run(snap, opts->json_path, res.interrupted, &err) != 0) {
        fprintf(stderr, "stormlight: %s\n", err.msg);
        code = SL_EXIT_USAGE;
    }
    if (outs && sl_outputs_finish(outs, snap, &err) != 0) {
        fprintf(stderr, "stormlight: %s\n", err.msg);
        code = SL_EXIT_USAGE;
    }
    /* As a shell expects of a program that a signal cut short (unless a report could not
     * be written, which says more). */
    if (res.interrupted && code != SL_EXIT_USAGE)
        code = 128 + (res.last_signal ? res.last_signal : SIGINT);
    return code;
}

/* A ready controller over the local backend, or with --master the remote workers (which
 * it waits for, --expect-workers). NULL with *code set: 2 for bad usage or no memory, 1
 * when the workers did not come. */
static sl_control_t *make_controller(cli_run_t *r, tick_sinks_t *sinks, int *code)
{
    sl_run_setup_t *setup = r->setup;
    sl_control_cfg_t cc = {.rows = setup->sc.plan.rows,
                           .texts = setup->texts,
                           .host = setup->sc.host,
                           .dns_us = setup->ep.resolve_us,
                           .thresholds = &setup->thresholds,
                           .abort_on_threshold = r->opts->abort_on_threshold,
                           .shape = setup->sc.shape ? sl_control_shape_lua : NULL,
                           .shape_ud = setup->sc.shape,
                           .on_tick = on_tick,
                           .on_tick_ud = sinks,
                           .stop_timeout_us = r->opts->stop_timeout_us,
                           .notices = stderr,
                           .keys = r->keys_possible,
                           .reserve_bytes = 64u << 20};
    sl_err_t err = {{0}};
    int brc = sl_cli_backend(&cc.backend, r->opts, setup, &err);
    sl_control_t *ctl = brc == 0 ? sl_control_new(&cc, &err) : NULL;
    if (!ctl) {
        fprintf(stderr, "stormlight: %s\n", err.msg[0] ? err.msg : "out of memory");
        *code = brc == 1 ? SL_EXIT_FAILURES : SL_EXIT_USAGE;
    }
    return ctl;
}

/* Steps the controller until it stops, drawing the live view and serving the keys while
 * users run, and handing every change to the web UI. */
static void drive(cli_run_t *r, sl_control_t *ctl)
{
    int keys_fd = -1;
    bool keys_done = false;
    for (unsigned ticks = 0; sl_control_state(ctl) != SL_CONTROL_STOPPED;) {
        unsigned ev = sl_control_step(ctl, keys_fd);
        if (ev & SL_CONTROL_EV_INPUT)
            sl_keys_apply(ctl);
        sl_control_state_t st = sl_control_state(ctl);
        /* Stopped is published after the final tick is counted (sl_cli_run), so that
         * nobody reads "stopped" beside counters that miss the last second. */
        if (r->web && st != SL_CONTROL_STOPPED)
            sl_web_update(r->web, ctl);
        if (st != SL_CONTROL_STARTING && st != SL_CONTROL_RUNNING) {
            if (keys_fd >= 0 || st != SL_CONTROL_READY) {
                sl_keys_close();
                keys_fd = -1;
                keys_done = st != SL_CONTROL_READY;
            }
            continue;
        }
        if (keys_fd < 0 && !keys_done && r->live.tty && !r->opts->quiet)
            keys_fd = sl_keys_open();
        bool draw = (ev & SL_CONTROL_EV_TICK) && ++ticks % 2 == 0;
        if (r->live.tty && r->live.lines_drawn > 0 && sl_signals_take_resize())
            draw = true;
        if (draw && !r->opts->quiet)
            sl_report_live(&r->live, sl_control_snapshot(ctl), r->human);
    }
}

/* --autoquit N: the page stays up N seconds more, then the process ends (sooner on a
 * signal, which lands on the controller that waits for the next test). */
static void linger(sl_control_t *next, int32_t seconds)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += seconds;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            return;
        if (sl_control_state(next) == SL_CONTROL_STOPPED)
            return;
        struct timespec slice = {0, 100 * 1000 * 1000};
        nanosleep(&slice, NULL);
        /* A signal stops the waiting controller at its next step. */
        if (sl_control_stop_reason(next) == SL_STOP_NONE)
            sl_control_step(next, -1);
    }
}

int sl_cli_run(sl_options_t *opts, sl_run_setup_t *setup)
{
    cli_run_t r = {.opts = opts, .setup = setup};
    /* When the JSON goes to stdout, people's text goes to stderr so stdout stays parseable;
     * the live keys only when a person watches the live view on a terminal. */
    bool json_stdout = opts->json_path && strcmp(opts->json_path, "-") == 0;
    r.human = json_stdout ? stderr : stdout;
    r.live.tty = isatty(fileno(r.human)) != 0;
    r.keys_possible = !opts->quiet && sl_keys_foreground() && r.live.tty;
    r.params = (sl_control_params_t){.users = opts->users,
                                     .spawn_rate = opts->spawn_rate,
                                     .rate_per_s = opts->rate_per_s,
                                     .duration_us = opts->duration_us,
                                     .iterations = opts->iterations,
                                     .stages = opts->stages,
                                     .threads = opts->threads,
                                     .seed = opts->seed,
                                     /* the page's Edit may add users too */
                                     .room_for_keys = r.keys_possible || opts->web};
    sl_err_t err = {{0}};
    if (opts->web) {
        sl_web_cfg_t wc = {.host = opts->web_host,
                           .auth = opts->web_auth,
                           .port = (uint16_t)opts->web_port,
                           .target_host = setup->sc.host,
                           .scenario_file = opts->file,
                           .timeout_us = opts->timeout_us,
                           .params = r.params};
        if (!(r.web = sl_web_start(&wc, &err)))
            return usage_error(err.msg);
        fprintf(stderr, "stormlight: web UI at %s%s\n", sl_web_url(r.web),
                opts->autostart ? "" : " (waiting for a start from the page; Ctrl-C quits)");
    }
    int code = SL_EXIT_OK;
    sl_outputs_t *outs = NULL;
    sl_control_t *ctl = NULL;
    tick_sinks_t sinks = {0};
    /* Report files are opened before each run, so a bad path costs no test. */
    sl_outputs_cfg_t outs_cfg = {.csv_prefix = opts->csv_prefix,
                                 .csv_full_history = opts->csv_full_history,
                                 .html_path = opts->html_path,
                                 .hdr_log_path = opts->hdr_log_path,
                                 .scenario_file = opts->file,
                                 .timeout_us = opts->timeout_us};
    for (bool first = true;; first = false) {
        if (sl_outputs_open(&outs, &outs_cfg, &err) != 0 ||
            (opts->json_path && sl_report_json_check(opts->json_path, &err) != 0)) {
            code = usage_error(err.msg);
            break;
        }
        sinks = (tick_sinks_t){.outs = outs, .web = r.web};
        if (!(ctl = make_controller(&r, &sinks, &code)))
            break;
        sl_signals_install(ctl);
        if (r.web)
            sl_web_attach(r.web, ctl);
        if (!r.web || (first && opts->autostart)) {
            if (sl_control_start(ctl, &r.params, &err) != 0) {
                code = usage_error(err.msg);
                break;
            }
        }
        drive(&r, ctl);
        bool ran = sl_control_snapshot(ctl) != NULL;
        if (ran)
            code = finish(&r, ctl, outs);
        if (r.web)
            sl_web_update(r.web, ctl); /* the final snapshot, with the last tick counted */
        bool quit = !r.web || !ran || sl_control_stop_reason(ctl) == SL_STOP_SIGNAL;
        sl_control_result_t res;
        sl_control_result(ctl, &res);
        if (r.web)
            sl_web_attach(r.web, NULL);
        sl_signals_detach();
        sl_outputs_free(outs);
        outs = NULL;
        sl_control_free(ctl);
        ctl = NULL;
        if (quit || res.interrupted)
            break;
        /* The page shows the finished run until a new one starts: a fresh controller
         * waits for that start (or, with --autoquit, for the time to leave). */
        if (opts->autoquit_s >= 0) {
            tick_sinks_t none = {0};
            int idle_code = 0;
            sl_control_t *idle = make_controller(&r, &none, &idle_code);
            if (!idle)
                break;
            sl_signals_install(idle);
            linger(idle, opts->autoquit_s);
            sl_signals_detach();
            sl_control_free(idle);
            break;
        }
        fprintf(stderr,
                "stormlight: the test ended; the web UI at %s can start a new one "
                "(Ctrl-C quits)\n",
                sl_web_url(r.web));
    }
    if (r.web)
        sl_web_attach(r.web, NULL);
    sl_signals_detach();
    sl_outputs_free(outs);
    sl_control_free(ctl);
    sl_web_free(r.web);
    return code;
}
