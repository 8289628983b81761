/* Command-line parsing with getopt_long. It only fills an sl_options_t and reports the
 * first problem as one line naming the flag; printing, exiting and the exit code belong
 * to main.c. getopt's own messages are turned off so that every error has our shape. */
#include "cli/options.h"
#include "scenario/stages.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/url.h"
#include "stats/rows.h"
#include "threshold/threshold.h"

#define SL_USERS_MAX 10000000u
#define SL_THREADS_MAX 1024u

/* Long-only options get values above the char range so they never collide with a short
 * option letter; getopt reports them back in optopt when their value is missing. */
enum {
    OPT_THREADS = 256,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_INSECURE,
    OPT_SEED,
    OPT_ITERATIONS,
    OPT_RATE,
    OPT_STAGES,
    OPT_RUN_TIME,
    OPT_CSV,
    OPT_CSV_FULL_HISTORY,
    OPT_HTML,
    OPT_THRESHOLD,
    OPT_ABORT_ON_THRESHOLD,
    OPT_HDR_LOG,
    OPT_CONFIG,
    OPT_MAX_ROWS,
    OPT_HEADLESS,
    OPT_ONLY_SUMMARY,
    OPT_EXIT_CODE_ON_ERROR,
    OPT_WEB,
    OPT_WEB_PORT,
    OPT_WEB_HOST,
    OPT_AUTOSTART,
    OPT_AUTOQUIT,
    OPT_WEB_AUTH,
    OPT_PHASES, /* --phases (timing phases, docs/phases.md) */
    /* HTTP/2 */
    OPT_HTTP2,
    OPT_H2C,
    OPT_H2_WINDOW,
    /* Distributed mode (src/dist/), Locust's names. */
    OPT_MASTER,
    OPT_WORKER,
    OPT_MASTER_HOST,
    OPT_MASTER_PORT,
    OPT_MASTER_BIND_HOST,
    OPT_MASTER_BIND_PORT,
    OPT_EXPECT_WORKERS,
    OPT_EXPECT_WORKERS_MAX_WAIT,
    /* Locust options with no equivalent here: OPT_LOCUST + index in locust_only[]. */
    OPT_LOCUST = 512,
};

/* Locust options that have no meaning here (yet), each answered with a pointer to what to
 * do instead, so that a pasted Locust command line gets advice and not "unknown option".
 * `val` is the short letter when Locust has one. Their value is optional to getopt, so
 * every spelling ("--master", "--web-port=8089", "-P8089") reaches the advice. */
static const struct {
    const char *name;
    int val;
    const char *hint;
} locust_only[] = {
#define SL_NO_WEB_UI                                                                               \
    "this part of Locust's web UI is not here: the web UI (--web) has no login, TLS, base "        \
    "path or class picker; put it behind a reverse proxy for those"
#define SL_NO_DISTRIBUTED                                                                          \
    "a stormlight worker takes its share when it joins; rebalancing is not an option here"
#define SL_NO_LOG                                                                                  \
    "stormlight keeps no log: errors and script errors are counted in the summary "                \
    "(--json, --csv for files)"
    {"web-login", 0, SL_NO_WEB_UI},
    {"web-base-path", 0, SL_NO_WEB_UI},
    {"tls-cert", 0, SL_NO_WEB_UI},
    {"tls-key", 0, SL_NO_WEB_UI},
    {"class-picker", 0,
     "Locust's class picker belongs to its web UI: choose what runs with --tags/--exclude-tags "
     "or the classes' weight and fixed_count in the scenario file"},
    {"legacy-ui", 0, SL_NO_WEB_UI},
    {"modern-ui", 0, SL_NO_WEB_UI},
    {"enable-rebalancing", 0, SL_NO_DISTRIBUTED},
    {"processes", 0,
     "stormlight runs worker threads in one process, not processes: use --threads N"},
    {"loglevel", 'L', SL_NO_LOG},
    {"logfile", 0, SL_NO_LOG},
    {"skip-log-setup", 0, SL_NO_LOG},
    {"reset-stats", 0,
     "statistics always cover the whole run; each second on its own is in the JSON "
     "\"history\" and in --csv's _stats_history.csv"},
    {"print-stats", 0,
     "the live table is printed by default (-q or --only-summary prints only the summary)"},
    {"show-task-ratio", 0, "use -l/--list: it prints each class and task with its weight"},
    {"show-task-ratio-json", 0, "use -l/--list: it prints each class and task with its weight"},
    {"equal-weights", 0, "set the same weight on every task in the scenario file"},
    {"hatch-rate", 0, "use -r/--spawn-rate (Locust renamed it too)"},
#undef SL_NO_WEB_UI
#undef SL_NO_DISTRIBUTED
#undef SL_NO_LOG
};

static const struct option long_options[] = {
    {"file", required_argument, NULL, 'f'},
    {"host", required_argument, NULL, 'H'},
    {"users", required_argument, NULL, 'u'},
    {"spawn-rate", required_argument, NULL, 'r'},
    {"duration", required_argument, NULL, 't'},
    {"run-time", required_argument, NULL, OPT_RUN_TIME},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", required_argument, NULL, OPT_JSON},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"iterations", required_argument, NULL, OPT_ITERATIONS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"stages", required_argument, NULL, OPT_STAGES},
    {"quiet", no_argument, NULL, 'q'},
    {"csv", required_argument, NULL, OPT_CSV},
    {"csv-full-history", no_argument, NULL, OPT_CSV_FULL_HISTORY},
    {"html", required_argument, NULL, OPT_HTML},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"abort-on-threshold", no_argument, NULL, OPT_ABORT_ON_THRESHOLD},
    {"hdr-log", required_argument, NULL, OPT_HDR_LOG},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"list", no_argument, NULL, 'l'},
    {"tags", required_argument, NULL, 'T'},
    {"exclude-tags", required_argument, NULL, 'E'},
    {"stop-timeout", required_argument, NULL, 's'},
    {"max-rows", required_argument, NULL, OPT_MAX_ROWS},
    {"phases", no_argument, NULL, OPT_PHASES},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    /* Locust's spellings of what exists here. */
    {"locustfile", required_argument, NULL, 'f'},
    {"headless", no_argument, NULL, OPT_HEADLESS},
    {"only-summary", no_argument, NULL, OPT_ONLY_SUMMARY},
    {"exit-code-on-error", required_argument, NULL, OPT_EXIT_CODE_ON_ERROR},
    /* The web UI and its HTTP API (web/), with Locust's names. */
    {"web", no_argument, NULL, OPT_WEB},
    {"web-port", required_argument, NULL, 'P'},
    {"web-host", required_argument, NULL, OPT_WEB_HOST},
    {"autostart", no_argument, NULL, OPT_AUTOSTART},
    {"autoquit", required_argument, NULL, OPT_AUTOQUIT},
    {"web-auth", required_argument, NULL, OPT_WEB_AUTH},
    /* HTTP/2 */
    {"http2", no_argument, NULL, OPT_HTTP2},
    {"h2c", no_argument, NULL, OPT_H2C},
    {"h2-window", required_argument, NULL, OPT_H2_WINDOW},
    /* Distributed mode. */
    {"master", no_argument, NULL, OPT_MASTER},
    {"worker", no_argument, NULL, OPT_WORKER},
    {"master-host", required_argument, NULL, OPT_MASTER_HOST},
    {"master-port", required_argument, NULL, OPT_MASTER_PORT},
    {"master-bind-host", required_argument, NULL, OPT_MASTER_BIND_HOST},
    {"master-bind-port", required_argument, NULL, OPT_MASTER_BIND_PORT},
    {"expect-workers", required_argument, NULL, OPT_EXPECT_WORKERS},
    {"expect-workers-max-wait", required_argument, NULL, OPT_EXPECT_WORKERS_MAX_WAIT},
    {NULL, 0, NULL, 0},
};

/* long_options followed by locust_only, built once (the tables stay separate so that each
 * reads as a list). */
static struct option all_options[SL_ARRAY_LEN(long_options) + SL_ARRAY_LEN(locust_only)];

static const struct option *options_table(void)
{
    if (all_options[0].name)
        return all_options;
    size_t n = 0;
    for (const struct option *o = long_options; o->name; o++)
        all_options[n++] = *o;
    for (size_t i = 0; i < SL_ARRAY_LEN(locust_only); i++) {
        int val = locust_only[i].val ? locust_only[i].val : OPT_LOCUST + (int)i;
        all_options[n++] = (struct option){locust_only[i].name, optional_argument, NULL, val};
    }
    all_options[n] = (struct option){NULL, 0, NULL, 0};
    return all_options;
}

/* The leading ':' makes getopt return ':' (not '?') for a missing value, so the two
 * cases get different messages. */
static const char short_options[] = ":f:H:u:r:t:qlhVT:E:s:P:L::";

/* The long spelling of an option value, used in every message so that "-u x" and
 * "--users x" report the same flag. NULL for values that are not options. */
static const char *flag_name(int val)
{
    for (const struct option *o = options_table(); o->name; o++) {
        if (o->val == val)
            return o->name;
    }
    return NULL;
}

/* Strict unsigned decimal: digits only, no sign, no spaces, no overflow. strtoull would
 * accept " 5", "+5" and "-5" (as a huge number), all of which are mistakes here. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        unsigned d = (unsigned)(*c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static int bad(sl_err_t *err, const char *flag, const char *what, const char *arg)
{
    sl_err_set(err, "--%s: %s, got '%s'", flag, what, arg);
    return SL_EINVAL;
}

static int parse_bounded(const char *flag, const char *arg, uint64_t lo, uint64_t hi, uint32_t *out,
                         sl_err_t *err)
{
    uint64_t v;
    if (!parse_u64(arg, &v)) {
        /* An all-digit string that failed can only have overflowed. */
        if (*arg && strspn(arg, "0123456789") == strlen(arg))
            goto range;
        return bad(err, flag, "expected a positive integer", arg);
    }
    if (v < lo || v > hi)
        goto range;
    *out = (uint32_t)v;
    return SL_OK;
range:
    sl_err_set(err, "--%s: must be between %llu and %llu, got '%s'", flag, (unsigned long long)lo,
               (unsigned long long)hi, arg);
    return SL_EINVAL;
}

static int parse_positive_duration(const char *flag, const char *arg, uint64_t *out, sl_err_t *err)
{
    sl_err_t derr;
    uint64_t us;
    if (sl_duration_parse(arg, &us, &derr) != SL_OK) {
        sl_err_set(err, "--%s: %s", flag, derr.msg);
        return SL_EINVAL;
    }
    if (us == 0)
        return bad(err, flag, "must be greater than zero", arg);
    *out = us;
    return SL_OK;
}

static int parse_rate(const char *arg, double *out, sl_err_t *err)
{
    /* Only plain decimal notation: strtod would also take "inf", "nan", hex floats and
     * leading spaces. */
    char *end;
    double v;
    if ((arg[0] >= '0' && arg[0] <= '9') || arg[0] == '.') {
        errno = 0;
        v = strtod(arg, &end);
        if (*end == '\0' && errno == 0 && isfinite(v) && v > 0) {
            *out = v;
            return SL_OK;
        }
    }
    return bad(err, "spawn-rate", "expected a positive number (e.g. 10 or 0.5)", arg);
}

/* Stores a tag list with every run of spaces turned into a comma ("a b" -> "a,b"), in a
 * buffer of this file: options live as long as main, as --stages does. */
static int set_tags(const char **out, int which, const char *arg, sl_err_t *err)
{
    static char lists[2][4096];
    char *d = lists[which];
    size_t n = 0;
    for (const char *c = arg; *c; c++) {
        if (n + 1 >= sizeof(lists[which])) {
            sl_err_set(err, "--%s: at most %zu characters of tags", which ? "exclude-tags" : "tags",
                       sizeof(lists[which]) - 1);
            return SL_EINVAL;
        }
        d[n++] = *c == ' ' || *c == '\t' ? ',' : *c;
    }
    d[n] = '\0';
    *out = d;
    return SL_OK;
}

/* Locust's -T/-E take a space-separated list: "-T a b" means tags a and b. The words that
 * follow a separate value, up to the next option, are joined to it with spaces, and
 * getopt resumes after them. Only a value given as its own word takes followers, so
 * "--tags=a" stays one tag. Returns a pointer to a buffer of this file, or NULL when the
 * words do not fit. */
static const char *take_tag_words(int which, char *value, int argc, char **argv)
{
    if (optind < 1 || argv[optind - 1] != value)
        return value;
    static char joined[2][4096];
    char *d = joined[which];
    size_t n = 0, cap = sizeof(joined[which]);
    int i = optind - 1;
    for (; i < argc && (i == optind - 1 || argv[i][0] != '-'); i++) {
        size_t len = strlen(argv[i]);
        if (n + len + 2 > cap)
            return NULL;
        if (n)
            d[n++] = ' ';
        memcpy(d + n, argv[i], len);
        n += len;
    }
    d[n] = '\0';
    optind = i;
    return d;
}

/* Applies one option's value. Returns 0 or SL_EINVAL with err set. */
static int apply(int c, const char *arg, sl_options_t *opts, sl_err_t *err)
{
    uint64_t v;
    switch (c) {
    case 'f':
        if (!*arg)
            return bad(err, "file", "expected a path", arg);
        opts->file = arg;
        return SL_OK;
    case 'H': {
        /* Validated here so that a typo is reported against the flag; main parses it
         * again when it chooses between --host and the scenario's host. */
        sl_url_t url;
        sl_err_t uerr;
        if (sl_url_parse(arg, &url, &uerr) != SL_OK) {
            sl_err_set(err, "--host: %s", uerr.msg);
            return SL_EINVAL;
        }
        opts->host = arg;
        return SL_OK;
    }
    case 'u':
        return parse_bounded("users", arg, 1, SL_USERS_MAX, &opts->users, err);
    case 'r':
        return parse_rate(arg, &opts->spawn_rate, err);
    case 't':
        return parse_positive_duration("duration", arg, &opts->duration_us, err);
    case OPT_RUN_TIME:
        return parse_positive_duration("run-time", arg, &opts->duration_us, err);
    case OPT_THREADS:
        return parse_bounded("threads", arg, 1, SL_THREADS_MAX, &opts->threads, err);
    case OPT_TIMEOUT:
        return parse_positive_duration("timeout", arg, &opts->timeout_us, err);
    case OPT_JSON:
        /* Locust's --json takes no value (it prints to stdout): "--json --headless" must
         * not write a file called "--headless". */
        if (!*arg || (arg[0] == '-' && arg[1]))
            return bad(err, "json",
                       "expected a path or '-' for stdout (Locust's --json is --json -)", arg);
        opts->json_path = arg;
        return SL_OK;
    case OPT_INSECURE:
        opts->insecure = true;
        return SL_OK;
    case OPT_HTTP2:
        opts->http2 = true;
        return SL_OK;
    case OPT_H2C:
        opts->h2c = true;
        return SL_OK;
    case OPT_H2_WINDOW:
        return parse_bounded("h2-window", arg, 65535, 2147483647, &opts->h2_window, err);
    case OPT_SEED:
        if (!parse_u64(arg, &v))
            return bad(err, "seed", "expected an unsigned integer below 2^64", arg);
        opts->seed = v;
        opts->seed_set = true;
        return SL_OK;
    case OPT_RATE: {
        char *end = NULL;
        double r = strtod(arg, &end);
        if (!*arg || *end || !(r > 0) || r > 1e7)
            return bad(err, "rate", "expected iterations per second, a number > 0", arg);
        opts->rate_per_s = r;
        return SL_OK;
    }
    case OPT_STAGES: {
        static sl_stages_t stages; /* one per process: options live as long as main */
        if (sl_stages_parse(arg, &stages, err) != 0)
            return SL_EINVAL;
        opts->stages = &stages;
        return SL_OK;
    }
    case OPT_MAX_ROWS:
        if (!parse_u64(arg, &v) || v == 0 || v > SL_ROWS_MAX)
            return bad(err, "max-rows", "expected an integer from 1 to 100000", arg);
        opts->max_rows = (uint32_t)v;
        return SL_OK;
    case OPT_ITERATIONS:
        if (!parse_u64(arg, &v) || v == 0)
            return bad(err, "iterations", "expected a positive integer", arg);
        opts->iterations = v;
        return SL_OK;
    case 'q':
        opts->quiet = true;
        return SL_OK;
    case 'l':
        opts->list = true;
        return SL_OK;
    case 'T':
    case 'E':
        /* Tags separated by commas or spaces (sl_options_parse joins Locust's "-T a b"
         * into "a b"); the scenario module matches them against the tasks. */
        if (arg[strspn(arg, ", ")] == '\0')
            return bad(err, flag_name(c), "expected tags separated by commas, as in smoke,api",
                       arg);
        return set_tags(c == 'T' ? &opts->tags : &opts->exclude_tags, c == 'T' ? 0 : 1, arg, err);
    case OPT_HEADLESS:
        opts->headless = true; /* no web UI, whatever else says so */
        return SL_OK;
    case OPT_WEB:
        opts->web = true;
        return SL_OK;
    case 'P':
        opts->web = true;
        return parse_bounded("web-port", arg, 1, 65535, &opts->web_port, err);
    case OPT_WEB_HOST:
        if (!*arg)
            return bad(err, "web-host", "expected an address such as 127.0.0.1 or *", arg);
        opts->web_host = arg;
        opts->web = true;
        return SL_OK;
    case OPT_AUTOSTART:
        opts->autostart = true;
        opts->web = true;
        return SL_OK;
    case OPT_WEB_AUTH: {
        const char *colon = strchr(arg, ':');
        if (!colon || colon == arg || !colon[1])
            return bad(err, "web-auth", "expected USER:PASSWORD", arg);
        opts->web_auth = arg;
        opts->web = true;
        return SL_OK;
    }
    case OPT_AUTOQUIT: {
        uint32_t secs;
        int rc = parse_bounded("autoquit", arg, 0, 86400, &secs, err);
        opts->autoquit_s = (int32_t)secs;
        return rc;
    }
    case OPT_ONLY_SUMMARY:
        opts->quiet = true;
        return SL_OK;
    case OPT_EXIT_CODE_ON_ERROR:
        return parse_bounded("exit-code-on-error", arg, 0, 255, &opts->exit_code_on_error, err);
    case 's':
        return parse_positive_duration("stop-timeout", arg, &opts->stop_timeout_us, err);
    case OPT_CSV:
        if (!*arg)
            return bad(err, "csv", "expected a file name prefix", arg);
        opts->csv_prefix = arg;
        return SL_OK;
    case OPT_CSV_FULL_HISTORY:
        opts->csv_full_history = true;
        return SL_OK;
    case OPT_PHASES:
        opts->phases = true;
        return SL_OK;
    case OPT_HTML:
        if (!*arg)
            return bad(err, "html", "expected a path", arg);
        opts->html_path = arg;
        return SL_OK;
    case OPT_HDR_LOG:
        if (!*arg)
            return bad(err, "hdr-log", "expected a path", arg);
        opts->hdr_log_path = arg;
        return SL_OK;
    case OPT_CONFIG:
        if (!*arg)
            return bad(err, "config", "expected a path", arg);
        opts->config_path = arg;
        return SL_OK;
    case OPT_THRESHOLD: {
        sl_threshold_t t;
        sl_err_t terr;
        if (sl_threshold_parse(arg, &t, &terr) != SL_OK) {
            sl_err_set(err, "--threshold: %s", terr.msg);
            return SL_EINVAL;
        }
        sl_threshold_dispose(&t);
        if (opts->nthresholds == SL_OPTIONS_MAX_THRESHOLDS) {
            sl_err_set(err, "--threshold: at most %d thresholds", SL_OPTIONS_MAX_THRESHOLDS);
            return SL_EINVAL;
        }
        opts->thresholds[opts->nthresholds++] = arg;
        return SL_OK;
    }
    case OPT_ABORT_ON_THRESHOLD:
        opts->abort_on_threshold = true;
        return SL_OK;
    case OPT_MASTER:
        opts->master = true;
        return SL_OK;
    case OPT_WORKER:
        opts->worker = true;
        return SL_OK;
    case OPT_MASTER_HOST:
    case OPT_MASTER_BIND_HOST:
        if (!*arg)
            return bad(err, flag_name(c), "expected a host name or address", arg);
        *(c == OPT_MASTER_HOST ? &opts->master_host : &opts->master_bind_host) = arg;
        return SL_OK;
    case OPT_MASTER_PORT:
    case OPT_MASTER_BIND_PORT:
        return parse_bounded(flag_name(c), arg, 1, 65535,
                             c == OPT_MASTER_PORT ? &opts->master_port : &opts->master_bind_port,
                             err);
    case OPT_EXPECT_WORKERS:
        return parse_bounded("expect-workers", arg, 1, 100000, &opts->expect_workers, err);
    case OPT_EXPECT_WORKERS_MAX_WAIT:
        return parse_positive_duration("expect-workers-max-wait", arg,
                                       &opts->expect_workers_max_wait_us, err);
    }
    if (c == 'P' || c == 'L' ||
        (c >= OPT_LOCUST && c < OPT_LOCUST + (int)SL_ARRAY_LEN(locust_only))) {
        for (size_t i = 0; i < SL_ARRAY_LEN(locust_only); i++) {
            if (locust_only[i].val == c || OPT_LOCUST + (int)i == c) {
                sl_err_set(err, "--%s: %s", locust_only[i].name, locust_only[i].hint);
                return SL_EINVAL;
            }
        }
    }
    /* Unreachable: every value in long_options and short_options is handled above. */
    sl_err_set(err, "internal error: unhandled option %d", c);
    return SL_EINVAL;
}

/* Builds the message for an option getopt did not accept ('?'). */
static int unknown(int argc, char **argv, sl_err_t *err)
{
    /* A known option that came back as '?' was given a value it does not take
     * ("--quiet=yes"). */
    const char *known = optopt ? flag_name(optopt) : NULL;
    if (known) {
        sl_err_set(err, "--%s: does not take a value", known);
        return SL_EINVAL;
    }
    /* glibc sets optopt to the letter for an unknown short option, and to 0 for an
     * unknown (or ambiguous) long one, which is then argv[optind - 1]. */
    if (optopt) {
        sl_err_set(err, "unknown option '-%c' (see --help)", optopt);
        return SL_EINVAL;
    }
    const char *arg = optind >= 1 && optind <= argc ? argv[optind - 1] : "?";
    int len = (int)strcspn(arg, "=");
    /* A prefix of several long options ("--t") is also reported as '?'. */
    if (len > 2 && strncmp(arg, "--", 2) == 0) {
        int matches = 0;
        for (const struct option *o = options_table(); o->name; o++) {
            if (strncmp(o->name, arg + 2, (size_t)len - 2) == 0)
                matches++;
        }
        if (matches > 1) {
            sl_err_set(err, "ambiguous option '%.*s' (see --help)", len, arg);
            return SL_EINVAL;
        }
    }
    sl_err_set(err, "unknown option '%.*s' (see --help)", len, arg);
    return SL_EINVAL;
}

int sl_options_parse(int argc, char **argv, sl_options_t *opts, sl_err_t *err)
{
    *opts = (sl_options_t){
        .file = "stormlight_file.lua",
        .users = 1,
        .spawn_rate = 1.0,
        .timeout_us = 60 * SL_US_PER_S,
        .stop_timeout_us = 10 * SL_US_PER_S,
        .max_rows = SL_OPTIONS_MAX_ROWS,
        .exit_code_on_error = 1,
        .web_port = 8089,
        .web_host = "127.0.0.1",
        .autoquit_s = -1,
        .master_host = "127.0.0.1",
        .master_port = 5557,
        .master_bind_host = "*",
        .master_bind_port = 5557,
    };

    /* optind = 0 makes glibc reinitialise completely, so parsing twice in one process
     * (tests, a future config reload) starts from a clean state. */
    optind = 0;
    opterr = 0;

    int c;
    while ((c = getopt_long(argc, argv, short_options, options_table(), NULL)) != -1) {
        switch (c) {
        case 'h':
            /* Help and version win over whatever follows, as in most tools: the user
             * asked how to fix the rest of the command line. */
            opts->help = true;
            return SL_OK;
        case 'V':
            opts->version = true;
            return SL_OK;
        case ':': {
            const char *name = flag_name(optopt);
            if (name)
                sl_err_set(err, "--%s: missing value", name);
            else
                sl_err_set(err, "-%c: missing value", optopt);
            return SL_EINVAL;
        }
        case '?':
            return unknown(argc, argv, err);
        case 'T':
        case 'E': {
            const char *words = take_tag_words(c == 'T' ? 0 : 1, optarg, argc, argv);
            if (!words) {
                sl_err_set(err, "--%s: too many tags", flag_name(c));
                return SL_EINVAL;
            }
            int rc = apply(c, words, opts, err);
            if (rc != SL_OK)
                return rc;
            break;
        }
        default: {
            int rc = apply(c, optarg, opts, err);
            if (rc != SL_OK)
                return rc;
        }
        }
    }
    /* GNU getopt moves operands to the end; any left over is a stray word. */
    if (optind < argc) {
        sl_err_set(err, "unexpected argument '%s' (see --help)", argv[optind]);
        return SL_EINVAL;
    }
    /* Locust's --headless wins over the web flags: no server is started. */
    if (opts->headless)
        opts->web = false;
    /* Whoever reaches the web UI can aim this machine's load anywhere: beyond loopback
     * only with a password (Locust's --web-auth). */
    if (opts->web && !opts->web_auth && !sl_options_loopback(opts->web_host)) {
        sl_err_set(err,
                   "--web-host %s: the web UI would be reachable from other machines; give "
                   "--web-auth USER:PASSWORD too, or keep it on 127.0.0.1",
                   opts->web_host);
        return SL_EINVAL;
    }
    if (opts->autoquit_s >= 0 && !opts->web) {
        sl_err_set(err, "--autoquit: only with the web UI (--web, --web-port or --autostart)");
        return SL_EINVAL;
    }
    return SL_OK;
}

bool sl_options_loopback(const char *host)
{
    return !strcmp(host, "localhost") || !strcmp(host, "::1") || !strncmp(host, "127.", 4);
}

int sl_options_lookup(const char *name, bool *takes_value)
{
    for (const struct option *o = options_table(); o->name; o++) {
        if (strcmp(o->name, name) == 0) {
            *takes_value = o->has_arg != no_argument;
            return SL_OK;
        }
    }
    return SL_ENOENT;
}

const char *sl_options_usage(void)
{
    return "Usage: stormlight [-f FILE] -H URL -u N -r RATE -t DURATION [options]\n"
           "       stormlight new [FILE]\n"
           "\n"
           "Run the tasks of a Lua scenario file against a host with N virtual users and\n"
           "report throughput, latency percentiles and failures.\n"
           "\n"
           "Options:\n"
           "  -f, --file FILE          scenario file (default: ./stormlight_file.lua)\n"
           "  -H, --host URL           base URL, http:// or https://, optionally with a base\n"
           "                           path (default: `host` from the scenario file)\n"
           "  -u, --users N            concurrent virtual users, 1..10000000 (default: 1)\n"
           "  -r, --spawn-rate RATE    users started per second, may be fractional\n"
           "                           (default: 1)\n"
           "  -t, --duration DUR       how long to run: 30 (= 30s), 90s, 5m, 1h30m, 250ms\n"
           "                           (default: until stopped with Ctrl-C)\n"
           "      --run-time DUR       same as --duration\n"
           "      --threads N          worker threads, 1..1024 (default: online CPUs)\n"
           "      --timeout DUR        per-request timeout (default: 60s)\n"
           "      --json PATH          write the summary as JSON to PATH, '-' for stdout\n"
           "                           (default: none)\n"
           "      --insecure           do not verify TLS certificates (default: verify)\n"
           "      --http2              offer HTTP/2 (h2) by ALPN on https:// hosts; a server\n"
           "                           that declines is spoken to in HTTP/1.1 (the summary\n"
           "                           says which) (default: HTTP/1.1 only)\n"
           "      --h2c                cleartext HTTP/2 (prior knowledge) on http:// hosts\n"
           "      --h2-window BYTES    HTTP/2 flow-control window per stream and per\n"
           "                           connection, 65535..2147483647 (default: 16777216)\n"
           "      --seed N             seed for random choices, for a reproducible task\n"
           "                           order (default: random)\n"
           "      --rate R             open model: start R task iterations per second in\n"
           "                           total, on free users (at most --users), and measure\n"
           "                           latency from each one's scheduled start\n"
           "                           (default: closed model, users loop)\n"
           "      --stages SPEC        ramp linearly through DURATION:TARGET stages, e.g.\n"
           "                           30s:100,1m:100,30s:0 (users; with --rate, the\n"
           "                           rate); the run lasts as long as the stages unless\n"
           "                           -t is given\n"
           "      --iterations N       end after exactly N task iterations in total\n"
           "                           (default: no limit)\n"
           "      --max-rows N         statistics rows (distinct request names) kept apart;\n"
           "                           names met after that share one overflow row\n"
           "                           (default: 2000)\n"
           "  -q, --quiet              no live view; print only the final summary\n"
           "                           (default: live view); also --only-summary\n"
           "\n"
           "Scripted users (User{} classes):\n"
           "  -l, --list               list the user classes and their tasks, weights and\n"
           "                           tags (after --tags filtering), then exit\n"
           "  -T, --tags T1,T2         run only the tasks tagged with one of these (also\n"
           "                           Locust's space-separated -T T1 T2)\n"
           "  -E, --exclude-tags T1,T2 do not run the tasks tagged with any of these (also\n"
           "                           -E T1 T2)\n"
           "  -s, --stop-timeout DUR   how long users' on_stop may run once the test stops\n"
           "                           (default: 10s; a second Ctrl-C skips the wait)\n"
           "\n"
           "Reports and CI gates:\n"
           "      --csv PREFIX         write Locust-style PREFIX_stats.csv,\n"
           "                           PREFIX_stats_history.csv, PREFIX_failures.csv,\n"
           "                           PREFIX_exceptions.csv and PREFIX_phases.csv\n"
           "      --csv-full-history   every row in the history file, not only Aggregated\n"
           "      --html PATH          write a self-contained HTML report with charts\n"
           "      --phases             also print where the time went per row: waiting,\n"
           "                           receiving, sending, connect, TLS, new and reused\n"
           "                           connections (always in the JSON, CSV and HTML)\n"
           "      --hdr-log PATH       write one HdrHistogram interval log line per second\n"
           "                           and row (microseconds, compressed V2 encoding)\n"
           "      --threshold EXPR     pass/fail criterion, repeatable: p95<200ms, avg<50ms,\n"
           "                           max<2s, med<10ms, fail_ratio<0.01, rps>500, scoped\n"
           "                           as 'GET /hello: p99<100ms'; units us, ms, s\n"
           "      --abort-on-threshold stop early once a threshold is breached for good\n"
           "                           (max/min at once, fail_ratio after 5 s and 100\n"
           "                           requests)\n"
           "      --config PATH        read options from PATH (default: ./stormlight.conf\n"
           "                           when it exists)\n"
           "\n"
           "Web UI and HTTP API (docs/web.md):\n"
           "      --web                serve the web UI and a Locust-compatible API, print\n"
           "                           its address and wait for a start from the page or\n"
           "                           POST /swarm (also implied by the flags below)\n"
           "  -P, --web-port PORT      its port (default: 8089)\n"
           "      --web-host ADDR      the address it listens on (default: 127.0.0.1;\n"
           "                           * for every interface, which needs --web-auth)\n"
           "      --web-auth AUTH      USER:PASSWORD: HTTP basic authentication for the\n"
           "                           web UI and its API\n"
           "      --autostart          start the test at once with -u, -r, -t, as without\n"
           "                           --web; the server (and /metrics) stays up\n"
           "      --autoquit N         exit N seconds after the test ends (default: stay\n"
           "                           up until Ctrl-C)\n"
           "      --headless           no web UI, whatever the flags above say\n"
           "\n"
           "      --exit-code-on-error N  the exit code of a failed run, 0..255 (default: 1)\n"
           "\n"
           "Distributed mode (Locust's protocol; see docs/distributed.md):\n"
           "      --worker             join a master (stormlight, or Locust 2.x) and run the\n"
           "                           users it asks for, with this -f file and -H host\n"
           "      --master-host HOST   the master to join (default: 127.0.0.1)\n"
           "      --master-port PORT   its port (default: 5557)\n"
           "      --master             run no users: divide them among the workers that\n"
           "                           join, merge their statistics, write the reports\n"
           "      --master-bind-host ADDR  the address a master listens on (default: *)\n"
           "      --master-bind-port PORT  its port (default: 5557)\n"
           "      --expect-workers N   a master starts once N workers joined (default: 1)\n"
           "      --expect-workers-max-wait DUR  and exits 1 when they did not within DUR\n"
           "                           (default: wait forever)\n"
           "\n"
           "Locust command lines:\n"
           "  Locust's flags work where they mean something here: -f/--locustfile, -H, -u,\n"
           "  -r, -t/--run-time, -l, -T, -E, -s, --csv, --csv-full-history, --html,\n"
           "  --config, --headless, --web-port, --web-host, --autostart, --autoquit,\n"
           "  --only-summary, --exit-code-on-error, and the distributed flags above.\n"
           "  Others (--processes, --loglevel, ...) are answered with what to use\n"
           "  instead.\n"
           "\n"
           "  -h, --help               show this help and exit\n"
           "  -V, --version            show the version and exit\n"
           "\n"
           "Exit codes:\n"
           "  0  the run completed, requests completed, none failed, no script error\n"
           "  1  failed requests, script errors, no request completed at all, or the run\n"
           "     ended early on an internal failure or out of memory (stderr says which)\n"
           "  2  bad usage or a bad scenario file\n"
           "  With --threshold, the thresholds decide between 0 and 1; with\n"
           "  --exit-code-on-error N, a failed run exits N instead of 1.\n"
           "\n"
           "Configuration:\n"
           "  Every long option may also come from the config file, as `key = value` lines\n"
           "  (users = 10, run-time = 30s, quiet = true; # starts a comment), and from\n"
           "  STORMLIGHT_<KEY> environment variables (STORMLIGHT_USERS=10,\n"
           "  STORMLIGHT_RUN_TIME=30s). Flags beat the environment, which beats the file.\n"
           "\n"
           "Example:\n"
           "  stormlight new                 write a commented starter stormlight_file.lua\n"
           "  stormlight -f stormlight_file.lua -H http://127.0.0.1:8000 -u 10 -r 2 -t 1m\n";
}
