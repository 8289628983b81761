/* stormlight: command-line wiring and exit codes. Everything else lives in the modules;
 * this file is the only place that decides to exit. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/config.h"
#include "cli/duration.h"
#include "cli/keys.h"
#include "cli/options.h"
#include "cli/stages.h"
#include "cli/url.h"
#include "engine/engine.h"
#include "net/conn.h"
#include "report/outputs.h"
#include "report/report.h"
#include "report/threshold.h"
#include "scenario/scenario.h"
#include "scenario/shape.h"
#include "stats/snapshot.h"

enum { EXIT_OK = 0, EXIT_FAILURES = 1, EXIT_USAGE = 2 };

static volatile sig_atomic_t stop_signals, last_signal, on_stop_skipped, resized;
static volatile sig_atomic_t first_signal; /* the signal that stopped the run */

/* SIGWINCH: the live view is redrawn at the new width now rather than at the next frame.
 * Installed with SA_RESTART so that output to the terminal is not cut short by it. */
static void on_resize(int sig)
{
    (void)sig;
    resized = 1;
}

/* First SIGINT/SIGTERM/SIGHUP: stop gracefully (the main loop notices). Second: stop waiting
 * for the users' on_stop and write what is known (wait_for_on_stop). One more after that:
 * leave at once, with the terminal restored. */
static void on_stop_signal(int sig)
{
    last_signal = sig;
    if (++stop_signals >= 3 || on_stop_skipped) {
        sl_keys_close(); /* async-signal-safe */
        static const char msg[] = "\nstormlight: interrupted again, exiting now\n";
        ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)n;
        _exit(128 + sig);
    }
    if (!first_signal)
        first_signal = sig;
}

static bool plan_has_on_stop(const sl_plan_t *plan)
{
    for (size_t i = 0; i < plan->nclasses; i++)
        if (plan->classes[i].has_on_stop)
            return true;
    return false;
}

/* After the stop, scripted users run on_stop for up to --stop-timeout, during which
 * nothing else is shown: once the wait is noticeable, say what it is for and how to skip
 * it, and skip it on the next Ctrl-C. Returns true when it was skipped: the reports then
 * hold what was measured until that moment, marked as interrupted. */
static bool wait_for_on_stop(sl_runner_t *runner, const sl_plan_t *plan, uint64_t timeout_us)
{
    if (!plan_has_on_stop(plan))
        return false; /* the workers end at once */
    int seen = stop_signals;
    uint64_t announce_at = sl_now_us() + 300 * SL_US_PER_MS;
    bool announced = false;
    for (;;) {
        if (stop_signals > seen) {
            on_stop_skipped = 1;
            sl_runner_skip_on_stop(runner);
            fprintf(stderr, "stormlight: not waiting for on_stop; writing what is known "
                            "(Ctrl-C again to exit at once)\n");
            return true;
        }
        /* In short slices: a signal that lands between two sleeps interrupts neither. */
        if (sl_runner_wait_stopped(runner, sl_now_us() + 50 * SL_US_PER_MS))
            return false;
        if (!announced && sl_now_us() >= announce_at) {
            char d[32];
            sl_duration_format(timeout_us, d, sizeof(d));
            fprintf(stderr,
                    "stormlight: stopping: waiting up to %s (--stop-timeout) for the users' "
                    "on_stop to finish; Ctrl-C %sto skip it\n",
                    d, seen ? "again " : "");
            announced = true;
        }
    }
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed terminal or `kill -HUP` is a stop like any other: the summary and the
     * reports are still written (the default action would lose them). */
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sa.sa_handler = on_resize;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, NULL);
}

/* The live keys: w/W add 1/10 users, s/S remove 1/10, r/R raise and f/F lower the rate
 * by 1%/10%, q stops. Returns true for q. */
static bool apply_keys(sl_runner_t *runner, bool open_model)
{
    char keys[64];
    int n = sl_keys_read(keys, (int)sizeof(keys));
    for (int i = 0; i < n; i++) {
        uint32_t u = sl_runner_users(runner);
        double r = sl_runner_rate(runner);
        switch (keys[i]) {
        case 'q':
            return true;
        case 'w':
        case 'W':
            if (!open_model)
                sl_runner_set_users(runner, u + (keys[i] == 'W' ? 10 : 1));
            break;
        case 's':
        case 'S': {
            uint32_t d = keys[i] == 'S' ? 10 : 1;
            if (!open_model)
                sl_runner_set_users(runner, u > d ? u - d : 0);
            break;
        }
        case 'r':
        case 'R':
            sl_runner_set_rate(runner, r * (keys[i] == 'R' ? 1.10 : 1.01));
            break;
        case 'f':
        case 'F':
            sl_runner_set_rate(runner, r * (keys[i] == 'F' ? 0.90 : 0.99));
            break;
        }
    }
    return false;
}

/* The most users asked for so far (stages, shapes and live keys change it). */
static void note_target(sl_run_outcome_t *o, const sl_runner_t *runner)
{
    uint32_t u = sl_runner_users(runner);
    if (u > o->target_users)
        o->target_users = u;
}

/* User plus system CPU time of the whole process, for the overload warning. */
static uint64_t process_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * SL_US_PER_S +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "stormlight: %s\n", msg);
    return EXIT_USAGE;
}

/* Each user holds one socket; raise the soft limit to the hard limit when needed and say
 * clearly when even that is not enough. */
static int ensure_fd_limit(uint32_t users, sl_err_t *err)
{
    const rlim_t reserve = 64; /* stdio, epoll, eventfds, reports */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    rlim_t need = (rlim_t)users + reserve;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        sl_err_set(err,
                   "--users: %u users need %llu open files, but this process may open at most "
                   "%llu (ulimit -Hn); use at most %llu users or raise the hard limit",
                   users, (unsigned long long)need, (unsigned long long)rl.rlim_max,
                   (unsigned long long)(rl.rlim_max > reserve ? rl.rlim_max - reserve : 0));
        return SL_ELIMIT;
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        sl_err_set(err, "--users: cannot raise the open-file limit to %llu: %s",
                   (unsigned long long)rl.rlim_cur, strerror(errno));
        return SL_ELIMIT;
    }
    return 0;
}

/* See `reserve` in main. */
#define SL_REPORT_RESERVE_BYTES (64u << 20)

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
    if (opts.help) {
        fputs(sl_options_usage(), stdout);
        return EXIT_OK;
    }
    if (opts.version) {
        printf("stormlight %s\n", SL_VERSION);
        return EXIT_OK;
    }

    sl_plan_t plan;
    memset(&plan, 0, sizeof(plan));
    if (sl_scenario_load(opts.file, &plan, &err) != 0)
        return usage_error(err.msg);
    /* --tags before --list, so the list shows what a tag selection runs. */
    if (sl_plan_filter_tags(&plan, opts.tags, opts.exclude_tags, &err) != 0) {
        sl_plan_dispose(&plan);
        return usage_error(err.msg);
    }
    if (opts.list) {
        sl_plan_list(&plan, stdout);
        sl_plan_dispose(&plan);
        return EXIT_OK;
    }

    int code = EXIT_USAGE;
    void *reserve = NULL;
    SSL_CTX *tls = NULL;
    sl_runner_t *runner = NULL;
    sl_reporter_t *rep = NULL;
    sl_outputs_t *outs = NULL;
    static sl_thresholds_t thresholds;
    char overflow_name[64];
    snprintf(overflow_name, sizeof(overflow_name), "(other names, past --max-rows %u)",
             opts.max_rows);
    /* Address space held back for the reports: when the run runs out of memory, this is
     * given back first so the summary and every report can still be written. Never
     * touched, so it costs no resident memory. */
    reserve = malloc(SL_REPORT_RESERVE_BYTES);
    sl_rows_t *rows = sl_rows_new(opts.max_rows, overflow_name);
    sl_rows_t *texts = sl_rows_new(0, NULL);
    sl_shape_t *shape = NULL;
    uint16_t *class_of_user = NULL;
    const char *host = opts.host ? opts.host : plan.host;
    sl_url_t url;
    sl_endpoint_t ep;
    memset(&ep, 0, sizeof(ep));
    if (!host) {
        usage_error("no host: give --host URL or set host = \"http://...\" in the scenario file");
        goto out;
    }
    /* Name where the host came from: the flag, or the scenario file. */
    const char *host_origin = opts.host ? "--host" : opts.file;
    if (sl_url_parse(host, &url, &err) != 0) {
        fprintf(stderr, "stormlight: %s: %s\n", host_origin, err.msg);
        goto out;
    }
    if (sl_plan_render(&plan, &url) != 0) {
        usage_error("out of memory while rendering requests");
        goto out;
    }
    if (sl_endpoint_resolve(&ep, url.host, url.port, &err) != 0) {
        fprintf(stderr, "stormlight: %s: %s\n", host_origin, err.msg);
        goto out;
    }
    if (url.tls) {
        tls = sl_tls_ctx_new(opts.insecure, &err);
        if (!tls) {
            usage_error(err.msg);
            goto out;
        }
        ep.tls = tls;
    }
    /* `stages` and `shape` in the file (the flag wins over the file's stages). */
    static sl_stages_t file_stages;
    bool file_has_stages = false;
    shape = sl_shape_open(&plan, &file_stages, &file_has_stages, &err);
    if (!shape && err.msg[0]) {
        usage_error(err.msg);
        goto out;
    }
    if (file_has_stages && !opts.stages)
        opts.stages = &file_stages;
    /* With stages the users follow the stages: room for the largest target. */
    if (opts.stages && opts.rate_per_s <= 0 && sl_stages_max(opts.stages) > opts.users)
        opts.users = (uint32_t)ceil(sl_stages_max(opts.stages));
    if (ensure_fd_limit(opts.users, &err) != 0) {
        usage_error(err.msg);
        goto out;
    }

    uint32_t threads = opts.threads;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (uint32_t)n : 1;
    }
    if (threads > opts.users)
        threads = opts.users;
    if (!opts.seed_set)
        opts.seed = sl_wall_us() ^ ((uint64_t)getpid() << 32);

    if (plan.nrows > opts.max_rows) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "%s: the scenario declares %zu request rows, more than --max-rows %u "
                 "(raise it)",
                 opts.file, plan.nrows, opts.max_rows);
        usage_error(msg);
        goto out;
    }
    /* The plan's rows take ids 0..nrows-1 in order, the ids its tasks already carry. */
    for (size_t i = 0; rows && i < plan.nrows; i++) {
        uint32_t id;
        if (sl_rows_intern(rows, plan.rows[i].method, plan.rows[i].name, &id) != 0 || id != i) {
            sl_rows_free(rows);
            rows = NULL;
        }
    }
    if (!rows || !texts) {
        usage_error("out of memory");
        goto out;
    }

    for (uint32_t i = 0; i < opts.nthresholds; i++) {
        if (sl_thresholds_add(&thresholds, opts.thresholds[i], &err) != 0) {
            fprintf(stderr, "stormlight: --threshold: %s\n", err.msg);
            goto out;
        }
    }
    /* Report files are opened before the run, so a bad path costs no test. */
    sl_outputs_cfg_t outs_cfg = {.csv_prefix = opts.csv_prefix,
                                 .csv_full_history = opts.csv_full_history,
                                 .html_path = opts.html_path,
                                 .hdr_log_path = opts.hdr_log_path,
                                 .scenario_file = opts.file,
                                 .timeout_us = opts.timeout_us};
    if (sl_outputs_open(&outs, &outs_cfg, &err) != 0) {
        usage_error(err.msg);
        goto out;
    }
    if (opts.json_path && sl_report_json_check(opts.json_path, &err) != 0) {
        usage_error(err.msg);
        goto out;
    }

    /* Room for users added by the live keys on a terminal: as many again (at least 100),
     * within the open-file limit. Users beyond -u are only allocated, not started. */
    uint32_t capacity = opts.users;
    bool keys_possible =
        !opts.quiet && sl_keys_foreground() &&
        isatty(opts.json_path && !strcmp(opts.json_path, "-") ? STDERR_FILENO : STDOUT_FILENO);
    if (keys_possible && !opts.stages && opts.rate_per_s <= 0) {
        uint32_t extra = opts.users > 100 ? opts.users : 100;
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            rlim_t room = rl.rlim_cur > (rlim_t)opts.users + 64 ? rl.rlim_cur - opts.users - 64 : 0;
            extra = (rlim_t)extra < room ? extra : (uint32_t)room;
        }
        capacity = opts.users + extra;
    }

    if (plan.nclasses) {
        /* Which class each user (in spawn order) belongs to: Locust's exact division for
         * the -u users; users added live repeat that order. */
        class_of_user = calloc(capacity, sizeof(*class_of_user));
        uint32_t *counts = calloc(plan.nclasses, sizeof(*counts));
        int rc = !class_of_user || !counts
                     ? SL_ENOMEM
                     : sl_plan_assign_users(&plan, opts.users, class_of_user, counts, &err);
        free(counts);
        if (rc != 0) {
            usage_error(rc == SL_ENOMEM ? "out of memory" : err.msg);
            goto out;
        }
        for (uint32_t i = opts.users; i < capacity; i++)
            class_of_user[i] = class_of_user[i % opts.users];
    }

    /* Borrowed by every snapshot: the final header and the JSON report it. */
    static sl_run_outcome_t outcome;
    outcome.iterations = opts.iterations;
    install_signals();
    /* Stages drive the users (or, with --rate, the rate) from the main loop. */
    const sl_stages_t *stages = opts.stages;
    bool open_model = opts.rate_per_s > 0;
    uint32_t initial_users = (stages || shape) && !open_model ? 0 : opts.users;
    uint64_t duration_us = opts.duration_us;
    if (stages && !duration_us)
        duration_us = sl_stages_total_us(stages);
    sl_run_cfg_t cfg = {.plan = &plan,
                        .initial_users = initial_users,
                        .users = capacity,
                        .rows = rows,
                        .ep = &ep,
                        .spawn_rate = opts.spawn_rate,
                        .threads = threads,
                        .timeout_us = opts.timeout_us,
                        .duration_us = duration_us,
                        .seed = opts.seed,
                        .iterations = opts.iterations,
                        .rate_per_s = opts.rate_per_s,
                        .class_of_user = class_of_user,
                        .url = &url,
                        .texts = texts,
                        .stop_timeout_us = opts.stop_timeout_us};
    uint64_t started_wall = sl_wall_us();
    if (sl_runner_start(&runner, &cfg, &err) != 0) {
        usage_error(err.msg);
        goto out;
    }
    sl_snapshot_t base = {.registry = rows,
                          .open_model = opts.rate_per_s > 0,
                          .rate_per_s = opts.rate_per_s,
                          .keys = keys_possible,
                          .texts = texts,
                          .host = host,
                          .started_wall_us = started_wall,
                          .duration_us = duration_us,
                          .users_target = opts.users,
                          .spawn_rate = opts.spawn_rate,
                          .threads = threads,
                          .thresholds = &thresholds,
                          .outcome = &outcome};
    rep = sl_reporter_new(&base);
    if (!rep) {
        usage_error("out of memory");
        goto out;
    }

    /* When the JSON goes to stdout, people's text goes to stderr so stdout stays parseable. */
    bool json_stdout = opts.json_path && strcmp(opts.json_path, "-") == 0;
    FILE *human = json_stdout ? stderr : stdout;
    sl_live_t live = {.tty = isatty(fileno(human)) != 0};
    uint64_t t0 = sl_runner_t0(runner);
    uint64_t end = duration_us ? t0 + duration_us : UINT64_MAX;
    /* Collect a little after each worker's one-second hand-over. */
    uint64_t next_tick = t0 + SL_US_PER_S + 20 * SL_US_PER_MS;
    uint32_t tick_no = 0, users = 0;
    bool out_of_memory = false;
    uint64_t last_cpu_us = 0, last_tick_at = 0;
    /* Live keys only when a person watches the live view on a terminal. */
    int keys_fd = live.tty && !opts.quiet ? sl_keys_open() : -1;
    uint64_t next_control = stages || shape ? t0 : UINT64_MAX;
    uint64_t next_shape_call = t0;
    double shape_target = 0, shape_rate = 0, shape_now = open_model ? opts.rate_per_s : 0;
    while (!stop_signals) {
        note_target(&outcome, runner);
        uint64_t wake = next_tick < end ? next_tick : end;
        wake = next_control < wake ? next_control : wake;
        sl_wait_result_t wr = sl_runner_wait(runner, wake, &keys_fd, 1);
        if (wr == SL_RUNNER_DONE) {
            outcome.stop_reason = "iterations";
            break;
        }
        if (wr == SL_RUNNER_FAILED) {
            outcome.stop_reason = "failure"; /* a worker cannot go on */
            break;
        }
        uint64_t now = sl_now_us();
        if (stop_signals)
            break;
        if (now >= end) {
            outcome.stop_reason = "duration";
            break;
        }
        if (wr == SL_RUNNER_INPUT && apply_keys(runner, open_model)) {
            outcome.stop_reason = "key"; /* q */
            break;
        }
        if ((stages || shape) && now >= next_control) {
            /* Ten steps a second make the ramps smooth enough for any user count. */
            double v;
            if (shape) {
                if (now >= next_shape_call) {
                    int sr = sl_shape_call(shape, (double)(now - t0) / 1e6, &shape_target,
                                           &shape_rate, &err);
                    if (sr < 0)
                        fprintf(stderr, "stormlight: %s\n", err.msg);
                    if (sr <= 0) {
                        outcome.stop_reason = "shape"; /* nil (or an error) ends the test */
                        break;
                    }
                    next_shape_call += SL_US_PER_S;
                }
                /* Toward the shape's target at its spawn rate (0: at once). */
                double step = shape_rate > 0 ? shape_rate / 10 : 1e12;
                if (shape_now < shape_target)
                    shape_now = fmin(shape_target, shape_now + step);
                else
                    shape_now = fmax(shape_target, shape_now - step);
                v = shape_now;
            } else {
                v = sl_stages_value(stages, open_model ? opts.rate_per_s : 0, now - t0);
            }
            if (open_model)
                sl_runner_set_rate(runner, v > 0.001 ? v : 0.001);
            else
                sl_runner_set_users(runner, (uint32_t)(v + 0.5));
            next_control = now + 100 * SL_US_PER_MS;
        }
        if (resized && live.tty && !opts.quiet && live.lines_drawn > 0) {
            resized = 0;
            sl_report_live(&live, sl_reporter_snapshot(rep, false), human);
        }
        if (now < next_tick)
            continue;
        sl_reporter_set_control(rep, sl_runner_users(runner), sl_runner_rate(runner));
        uint64_t cpu = process_cpu_us();
        if (last_cpu_us && now > last_tick_at)
            sl_reporter_set_cpu(rep, (double)(cpu - last_cpu_us) /
                                         ((double)(now - last_tick_at) * threads));
        last_cpu_us = cpu;
        last_tick_at = now;
        sl_runner_collect(runner, sl_reporter_interval(rep), &users);
        outcome.peak_users = users > outcome.peak_users ? users : outcome.peak_users;
        sl_reporter_tick(rep, now - t0, users);
        sl_outputs_tick(outs, sl_reporter_snapshot(rep, false));
        if (sl_reporter_snapshot(rep, false)->stats->alloc_failed) {
            out_of_memory = true; /* stop while the reports can still be written */
            outcome.stop_reason = "memory";
            break;
        }
        if (opts.abort_on_threshold) {
            const sl_threshold_t *doomed =
                sl_thresholds_doomed(&thresholds, sl_reporter_snapshot(rep, false));
            if (doomed) {
                thresholds.aborted_by = doomed->expr;
                outcome.stop_reason = "threshold";
                break;
            }
        }
        if (++tick_no % 2 == 0 && !opts.quiet)
            sl_report_live(&live, sl_reporter_snapshot(rep, false), human);
        next_tick += SL_US_PER_S;
        if (next_tick < now)
            next_tick = now + SL_US_PER_S; /* we overslept; don't burst to catch up */
    }
    uint64_t stopped_at = sl_now_us();
    if (!outcome.stop_reason) { /* the loop saw a stop signal */
        outcome.stop_reason = "signal";
        outcome.stop_signal = first_signal;
    }
    note_target(&outcome, runner);
    sl_keys_close();
    bool interrupted = wait_for_on_stop(runner, &plan, opts.stop_timeout_us);
    sl_runner_stop(runner, sl_reporter_interval(rep), &users);
    /* A run shorter than a second has no tick: the users it started count for the peak. */
    uint32_t started = sl_runner_users_started(runner);
    outcome.peak_users = started > outcome.peak_users ? started : outcome.peak_users;
    sl_reporter_tick(rep, stopped_at - t0, users);
    /* The workers' memory (users, Lua states, buffers) is not needed for the reports:
     * give it back first, which matters when the run stopped for want of memory. */
    sl_err_t worker_error = {{0}};
    bool worker_failed = sl_runner_failed(runner, &worker_error);
    sl_runner_free(runner);
    runner = NULL;
    const sl_snapshot_t *snap = sl_reporter_snapshot(rep, true);
    out_of_memory |= snap->stats->alloc_failed;
    free(reserve);
    reserve = NULL;
    if (out_of_memory)
        fprintf(stderr, "stormlight: out of memory: the run stopped early; the reports show "
                        "what was recorded until then\n");
    sl_outputs_tick(outs, snap);
    sl_report_summary(snap, human);
    /* With thresholds, they decide (a failure ratio may be allowed); without, a failed
     * request, a script error or a run in which no request completed fails the run, as in
     * Locust: a scenario that only raises, or a server that never answers, must not pass
     * CI. */
    if (thresholds.n) {
        code = sl_thresholds_pass(&thresholds, snap) && !thresholds.aborted_by ? EXIT_OK
                                                                               : EXIT_FAILURES;
    } else {
        uint64_t exceptions = 0;
        for (uint32_t i = 0; i < snap->stats->nexceptions; i++)
            exceptions += snap->stats->exceptions[i].occurrences;
        code = EXIT_OK;
        if (snap->total->num_failures) {
            code = EXIT_FAILURES;
        } else if (exceptions) {
            fprintf(human, "\nThe run fails: %llu script error%s (see Exceptions).\n",
                    (unsigned long long)exceptions, exceptions == 1 ? "" : "s");
            code = EXIT_FAILURES;
        } else if (snap->total->num_requests == 0) {
            fprintf(human, "\nThe run fails: no request completed.\n");
            code = EXIT_FAILURES;
        }
    }
    if (out_of_memory)
        code = EXIT_FAILURES;
    if (worker_failed) {
        fprintf(stderr, "stormlight: %s\n", worker_error.msg);
        code = EXIT_FAILURES;
    }
    /* Locust's --exit-code-on-error N: the code a failed run ends with (default 1). */
    if (code == EXIT_FAILURES)
        code = (int)opts.exit_code_on_error;
    if (opts.json_path && sl_report_json_run(snap, opts.json_path, interrupted, &err) != 0) {
        fprintf(stderr, "stormlight: %s\n", err.msg);
        code = EXIT_USAGE;
    }
    if (outs && sl_outputs_finish(outs, snap, &err) != 0) {
        fprintf(stderr, "stormlight: %s\n", err.msg);
        code = EXIT_USAGE;
    }
    if (interrupted && code != EXIT_USAGE) {
        /* As a shell expects of a program that a signal cut short (unless a report could
         * not be written, which says more). */
        code = 128 + (last_signal ? last_signal : SIGINT);
    }

out:
    free(reserve);
    sl_outputs_free(outs);
    sl_thresholds_dispose(&thresholds);
    sl_config_dispose(&conf);
    sl_runner_free(runner);
    sl_reporter_free(rep);
    sl_rows_free(rows);
    sl_rows_free(texts);
    sl_shape_free(shape);
    free(class_of_user);
    sl_tls_ctx_free(tls);
    sl_plan_dispose(&plan);
    return code;
}
