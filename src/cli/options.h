/* Command-line options (Locust's names). Parsing only: no side effects, no exit(). */
#ifndef SL_CLI_OPTIONS_H
#define SL_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "sl.h"

#define SL_OPTIONS_MAX_THRESHOLDS 64

/* Statistics rows kept apart by default (--max-rows). */
#define SL_OPTIONS_MAX_ROWS 2000

typedef struct sl_options {
    const char *file;      /* -f, default "stormlight_file.lua" */
    const char *host;      /* -H, NULL when not given (the scenario may set it) */
    uint32_t users;        /* -u, default 1 */
    double spawn_rate;     /* -r, users per second, default 1 */
    uint64_t duration_us;  /* -t/--run-time; 0 = until stopped */
    uint32_t threads;      /* --threads; 0 = online CPUs */
    uint64_t timeout_us;   /* --timeout, default 60 s */
    const char *json_path; /* --json PATH or "-" */
    bool insecure;         /* --insecure */
    bool http2;            /* --http2: offer h2 by ALPN (https:// only) */
    bool h2c;              /* --h2c: cleartext HTTP/2 by prior knowledge (http:// only) */
    uint32_t h2_window;    /* --h2-window; 0 = the default */
    bool seed_set;
    uint64_t seed;                  /* --seed */
    uint64_t iterations;            /* --iterations N; 0 = no limit */
    uint32_t max_rows;              /* --max-rows N: rows before the overflow row */
    double rate_per_s;              /* --rate R: open model; 0 = closed model */
    const struct sl_stages *stages; /* --stages, or NULL */
    bool quiet;                     /* -q */
    const char *csv_prefix;         /* --csv PREFIX: PREFIX_stats.csv, ... */
    bool csv_full_history;    /* --csv-full-history: every row in the history, not only the total */
    bool phases;              /* --phases: the timing phases table in the summary */
    const char *html_path;    /* --html PATH */
    const char *hdr_log_path; /* --hdr-log PATH */
    const char *config_path;  /* --config PATH (read by cli/config.c before parsing) */
    /* --threshold EXPR, repeatable; each was parsed once to validate it. */
    const char *thresholds[SL_OPTIONS_MAX_THRESHOLDS];
    uint32_t nthresholds;
    bool abort_on_threshold; /* --abort-on-threshold */
    bool list;               /* -l/--list: print the classes and tasks, exit 0 */
    /* -T/--tags a,b (or Locust's "-T a b", stored as "a,b"): only tasks with one of these
     * tags, or NULL; -E/--exclude-tags: no task with one of these, or NULL. */
    const char *tags;
    const char *exclude_tags;
    uint64_t stop_timeout_us;    /* -s/--stop-timeout, default 10 s: time on_stop may take */
    uint32_t exit_code_on_error; /* --exit-code-on-error N: the code of a failed run, 1 */
    /* The web UI (web/): --web, or any of --web-port/--web-host/--autostart; never with
     * --headless. */
    bool web;
    bool headless;
    uint32_t web_port;    /* -P/--web-port, default 8089 */
    const char *web_host; /* --web-host, default 127.0.0.1 (beyond loopback: web_auth) */
    const char *web_auth; /* --web-auth USER:PASSWORD, NULL: none */
    bool autostart;       /* --autostart: start at once with -u/-r/-t */
    int32_t autoquit_s;   /* --autoquit N: exit N s after the test ends; -1: stay up */
    /* Distributed mode (Locust's names and defaults). */
    bool master;                         /* --master */
    bool worker;                         /* --worker */
    const char *master_host;             /* --master-host, default 127.0.0.1 */
    uint32_t master_port;                /* --master-port, default 5557 */
    const char *master_bind_host;        /* --master-bind-host, default "*" */
    uint32_t master_bind_port;           /* --master-bind-port, default 5557 */
    uint32_t expect_workers;             /* --expect-workers, 0 = not given */
    uint64_t expect_workers_max_wait_us; /* --expect-workers-max-wait, 0 = forever */
    bool help;                           /* -h: print usage, exit 0 */
    bool version;                        /* -V: print version, exit 0 */
} sl_options_t;

/* Fills opts with defaults, then parses argv. Every value is validated; on a problem
 * returns SL_EINVAL with one line in err that names the flag ("--users: expected a
 * positive integer, got 'abc'"). Unknown flags and stray arguments are errors. */
int sl_options_parse(int argc, char **argv, sl_options_t *opts, sl_err_t *err);

/* The --help text. */
const char *sl_options_usage(void);

/* Whether host (a --web-host value) is this machine only: 127.x.x.x, ::1, localhost. */
bool sl_options_loopback(const char *host);

/* Whether `name` is a long option ("users", "run-time") and whether it takes a value; for
 * the config file and STORMLIGHT_* variables. Returns SL_OK or SL_ENOENT. */
int sl_options_lookup(const char *name, bool *takes_value);

#endif
