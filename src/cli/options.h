/* Command-line options (Locust's names). Parsing only: no side effects, no exit(). */
#ifndef SL_CLI_OPTIONS_H
#define SL_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "sl.h"

typedef struct sl_options {
    const char *file;       /* -f, default "stormlight_file.lua" */
    const char *host;       /* -H, NULL when not given (the scenario may set it) */
    uint32_t users;         /* -u, default 1 */
    double spawn_rate;      /* -r, users per second, default 1 */
    uint64_t duration_us;   /* -t/--run-time; 0 = until stopped */
    uint32_t threads;       /* --threads; 0 = online CPUs */
    uint64_t timeout_us;    /* --timeout, default 60 s */
    const char *json_path;  /* --json PATH or "-" */
    bool insecure;          /* --insecure */
    bool seed_set;
    uint64_t seed;          /* --seed */
    bool quiet;             /* -q */
    bool help;              /* -h: print usage, exit 0 */
    bool version;           /* -V: print version, exit 0 */
} sl_options_t;

/* Fills opts with defaults, then parses argv. Every value is validated; on a problem
 * returns SL_EINVAL with one line in err that names the flag ("--users: expected a
 * positive integer, got 'abc'"). Unknown flags and stray arguments are errors. */
int sl_options_parse(int argc, char **argv, sl_options_t *opts, sl_err_t *err);

/* The --help text. */
const char *sl_options_usage(void);

#endif
