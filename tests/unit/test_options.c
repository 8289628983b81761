/* Command-line options: defaults, every flag in both spellings, and one clear error per
 * kind of mistake, always naming the flag. */
#include <criterion/criterion.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

#define MAXARGS 32

/* Parses "stormlight" followed by the given words. getopt_long permutes argv, so a copy
 * is handed to it; optind = 0 fully resets glibc's getopt between parses. */
static int parse(sl_options_t *o, sl_err_t *err, const char *const *words)
{
    static char store[MAXARGS][128];
    char *argv[MAXARGS + 1];
    int argc = 0;
    strcpy(store[argc], "stormlight");
    argv[argc] = store[argc];
    argc++;
    for (; words[argc - 1]; argc++) {
        cr_assert(argc < MAXARGS);
        snprintf(store[argc], sizeof(store[argc]), "%s", words[argc - 1]);
        argv[argc] = store[argc];
    }
    argv[argc] = NULL;
    memset(err, 0, sizeof(*err));
    optind = 0;
    return sl_options_parse(argc, argv, o, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(options, defaults)
{
    sl_options_t o;
    sl_err_t err;
    cr_assert_eq(parse(&o, &err, (const char *const[]){NULL}), SL_OK, "%s", err.msg);
    cr_expect_str_eq(o.file, "stormlight_file.lua");
    cr_expect_null(o.host);
    cr_expect_eq(o.users, 1);
    cr_expect(o.spawn_rate == 1.0);
    cr_expect_eq(o.duration_us, 0);
    cr_expect_eq(o.threads, 0);
    cr_expect_eq(o.timeout_us, 60 * SL_US_PER_S);
    cr_expect_null(o.json_path);
    cr_expect_not(o.insecure);
    cr_expect_not(o.seed_set);
    cr_expect_not(o.quiet);
    cr_expect_not(o.help);
    cr_expect_not(o.version);
    cr_expect_not(o.list);
    cr_expect_null(o.tags);
    cr_expect_null(o.exclude_tags);
    cr_expect_eq(o.stop_timeout_us, 10 * SL_US_PER_S);
}

Test(options, scripted_user_flags)
{
    sl_options_t o;
    sl_err_t err;
    cr_assert_eq(parse(&o, &err,
                       ARGS("--list", "--tags", "smoke,api", "--exclude-tags", "slow",
                            "--stop-timeout", "30s")),
                 SL_OK, "%s", err.msg);
    cr_expect(o.list);
    cr_expect_str_eq(o.tags, "smoke,api");
    cr_expect_str_eq(o.exclude_tags, "slow");
    cr_expect_eq(o.stop_timeout_us, 30 * SL_US_PER_S);
    cr_assert_eq(parse(&o, &err, ARGS("-l", "--tags=a", "--stop-timeout=250ms")), SL_OK, "%s",
                 err.msg);
    cr_expect(o.list);
    cr_expect_str_eq(o.tags, "a");
    cr_expect_null(o.exclude_tags);
    cr_expect_eq(o.stop_timeout_us, 250 * SL_US_PER_MS);
    cr_assert_eq(parse(&o, &err, ARGS("-ql")), SL_OK, "%s", err.msg);
    cr_expect(o.quiet);
    cr_expect(o.list);
}

Test(options, every_flag_long)
{
    sl_options_t o;
    sl_err_t err;
    int rc = parse(&o, &err,
                   ARGS("--file", "x.lua", "--host", "http://127.0.0.1:8000", "--users", "10",
                        "--spawn-rate", "2.5", "--duration", "1h30m", "--threads", "4", "--timeout",
                        "250ms", "--json", "-", "--insecure", "--seed", "42", "--quiet"));
    cr_assert_eq(rc, SL_OK, "%s", err.msg);
    cr_expect_str_eq(o.file, "x.lua");
    cr_expect_str_eq(o.host, "http://127.0.0.1:8000");
    cr_expect_eq(o.users, 10);
    cr_expect(o.spawn_rate == 2.5);
    cr_expect_eq(o.duration_us, 5400 * SL_US_PER_S);
    cr_expect_eq(o.threads, 4);
    cr_expect_eq(o.timeout_us, 250 * SL_US_PER_MS);
    cr_expect_str_eq(o.json_path, "-");
    cr_expect(o.insecure);
    cr_expect(o.seed_set);
    cr_expect_eq(o.seed, 42);
    cr_expect(o.quiet);
}

Test(options, every_flag_short_and_equals)
{
    sl_options_t o;
    sl_err_t err;
    int rc = parse(&o, &err,
                   ARGS("-f", "y.lua", "-H", "https://example.com/api", "-u", "10000000", "-r",
                        "0.5", "-t", "30", "-q", "--threads=1024", "--json=out.json",
                        "--seed=18446744073709551615"));
    cr_assert_eq(rc, SL_OK, "%s", err.msg);
    cr_expect_str_eq(o.file, "y.lua");
    cr_expect_str_eq(o.host, "https://example.com/api");
    cr_expect_eq(o.users, 10000000);
    cr_expect(o.spawn_rate == 0.5);
    cr_expect_eq(o.duration_us, 30 * SL_US_PER_S);
    cr_expect(o.quiet);
    cr_expect_eq(o.threads, 1024);
    cr_expect_str_eq(o.json_path, "out.json");
    cr_expect_eq(o.seed, UINT64_MAX);
}

Test(options, run_time_alias_and_last_wins)
{
    sl_options_t o;
    sl_err_t err;
    cr_assert_eq(parse(&o, &err, ARGS("--run-time", "5m")), SL_OK, "%s", err.msg);
    cr_expect_eq(o.duration_us, 300 * SL_US_PER_S);
    cr_assert_eq(parse(&o, &err, ARGS("-t", "1m", "--run-time", "2m", "-u", "3", "-u", "4")), SL_OK,
                 "%s", err.msg);
    cr_expect_eq(o.duration_us, 120 * SL_US_PER_S);
    cr_expect_eq(o.users, 4);
}

Test(options, clustered_short_flags)
{
    sl_options_t o;
    sl_err_t err;
    cr_assert_eq(parse(&o, &err, ARGS("-qu5", "-r3")), SL_OK, "%s", err.msg);
    cr_expect(o.quiet);
    cr_expect_eq(o.users, 5);
    cr_expect(o.spawn_rate == 3.0);
}

Test(options, help_and_version)
{
    sl_options_t o;
    sl_err_t err;
    cr_assert_eq(parse(&o, &err, ARGS("-h")), SL_OK);
    cr_expect(o.help);
    cr_assert_eq(parse(&o, &err, ARGS("--version")), SL_OK);
    cr_expect(o.version);
    cr_expect_not(o.help);
    /* Help wins over a later mistake: the user is asking how to fix it. */
    cr_assert_eq(parse(&o, &err, ARGS("--help", "--users", "abc")), SL_OK);
    cr_expect(o.help);
}

static const struct {
    const char *args[4];
    const char *msg; /* exact message */
} invalid[] = {
    {{"--users", "abc"}, "--users: expected a positive integer, got 'abc'"},
    {{"-u", "abc"}, "--users: expected a positive integer, got 'abc'"},
    {{"--users", "0"}, "--users: must be between 1 and 10000000, got '0'"},
    {{"--users", "10000001"}, "--users: must be between 1 and 10000000, got '10000001'"},
    {{"--users", "-5"}, "--users: expected a positive integer, got '-5'"},
    {{"--users", "1.5"}, "--users: expected a positive integer, got '1.5'"},
    {{"--users", " 5"}, "--users: expected a positive integer, got ' 5'"},
    {{"--users", "99999999999999999999999"},
     "--users: must be between 1 and 10000000, got '99999999999999999999999'"},
    {{"--users", ""}, "--users: expected a positive integer, got ''"},
    {{"--users"}, "--users: missing value"},
    {{"-u"}, "--users: missing value"},
    {{"--spawn-rate", "0"}, "--spawn-rate: expected a positive number (e.g. 10 or 0.5), got '0'"},
    {{"-r", "-1"}, "--spawn-rate: expected a positive number (e.g. 10 or 0.5), got '-1'"},
    {{"-r", "inf"}, "--spawn-rate: expected a positive number (e.g. 10 or 0.5), got 'inf'"},
    {{"-r", "nan"}, "--spawn-rate: expected a positive number (e.g. 10 or 0.5), got 'nan'"},
    {{"-r", "1e999"}, "--spawn-rate: expected a positive number (e.g. 10 or 0.5), got '1e999'"},
    {{"-r", "2x"}, "--spawn-rate: expected a positive number (e.g. 10 or 0.5), got '2x'"},
    {{"--spawn-rate"}, "--spawn-rate: missing value"},
    {{"--threads", "0"}, "--threads: must be between 1 and 1024, got '0'"},
    {{"--threads", "1025"}, "--threads: must be between 1 and 1024, got '1025'"},
    {{"--threads", "x"}, "--threads: expected a positive integer, got 'x'"},
    {{"--threads"}, "--threads: missing value"},
    {{"--timeout", "0"}, "--timeout: must be greater than zero, got '0'"},
    {{"--timeout", "5x"},
     "--timeout: invalid duration '5x': unknown unit (use h, m, s or ms) (e.g. 30, 90s, 5m, "
     "1h30m, 250ms)"},
    {{"--timeout"}, "--timeout: missing value"},
    {{"-t", "0s"}, "--duration: must be greater than zero, got '0s'"},
    {{"--duration", "soon"},
     "--duration: invalid duration 'soon': expected a number (e.g. 30, 90s, 5m, 1h30m, 250ms)"},
    {{"--run-time", "-1m"},
     "--run-time: invalid duration '-1m': must not be negative (e.g. 30, 90s, 5m, 1h30m, "
     "250ms)"},
    {{"-t"}, "--duration: missing value"},
    {{"--seed", "-1"}, "--seed: expected an unsigned integer below 2^64, got '-1'"},
    {{"--seed", "18446744073709551616"},
     "--seed: expected an unsigned integer below 2^64, got '18446744073709551616'"},
    {{"--seed"}, "--seed: missing value"},
    {{"--json", ""},
     "--json: expected a path or '-' for stdout (Locust's --json is --json -), got ''"},
    {{"--json", "--headless"},
     "--json: expected a path or '-' for stdout (Locust's --json is --json -), got '--headless'"},
    {{"-T"}, "--tags: missing value"},
    {{"-s", "0"}, "--stop-timeout: must be greater than zero, got '0'"},
    {{"--exit-code-on-error", "256"}, "--exit-code-on-error: must be between 0 and 255, got '256'"},
    {{"--exit-code-on-error", "x"}, "--exit-code-on-error: expected a positive integer, got 'x'"},
    {{"--headless=yes"}, "--headless: does not take a value"},
    {{"--json"}, "--json: missing value"},
    {{"-f", ""}, "--file: expected a path, got ''"},
    {{"--file"}, "--file: missing value"},
    {{"-H", "localhost:8000"},
     "--host: invalid URL 'localhost:8000': missing scheme (expected http://HOST[:PORT] or "
     "https://...)"},
    {{"--host", "ftp://x"},
     "--host: invalid URL 'ftp://x': unsupported scheme (use http:// or "
     "https://)"},
    {{"--host"}, "--host: missing value"},
    {{"--insecure=yes"}, "--insecure: does not take a value"},
    {{"--quiet=1"}, "--quiet: does not take a value"},
    {{"--foo"}, "unknown option '--foo' (see --help)"},
    {{"--foo=bar"}, "unknown option '--foo' (see --help)"},
    {{"-x"}, "unknown option '-x' (see --help)"},
    {{"-qx"}, "unknown option '-x' (see --help)"},
    {{"--t", "5"}, "ambiguous option '--t' (see --help)"},
    {{"--tags", ""}, "--tags: expected tags separated by commas, as in smoke,api, got ''"},
    {{"--tags", " , "}, "--tags: expected tags separated by commas, as in smoke,api, got ' , '"},
    {{"--tags"}, "--tags: missing value"},
    {{"--exclude-tags", ","},
     "--exclude-tags: expected tags separated by commas, as in smoke,api, got ','"},
    {{"--stop-timeout", "0"}, "--stop-timeout: must be greater than zero, got '0'"},
    {{"--stop-timeout", "soon"},
     "--stop-timeout: invalid duration 'soon': expected a number (e.g. 30, 90s, 5m, 1h30m, "
     "250ms)"},
    {{"--list=yes"}, "--list: does not take a value"},
    {{"stray"}, "unexpected argument 'stray' (see --help)"},
    {{"-u", "5", "stray"}, "unexpected argument 'stray' (see --help)"},
    {{"--", "-u"}, "unexpected argument '-u' (see --help)"},
};

Test(options, invalid)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(invalid); i++) {
        sl_options_t o;
        sl_err_t err;
        const char *words[5] = {0};
        memcpy(words, invalid[i].args, sizeof(invalid[i].args));
        int rc = parse(&o, &err, words);
        cr_expect_eq(rc, SL_EINVAL, "case %zu (%s): rc %d", i, invalid[i].args[0], rc);
        cr_expect_str_eq(err.msg, invalid[i].msg, "case %zu", i);
        cr_expect_null(strchr(err.msg, '\n'), "case %zu: message is not one line", i);
    }
}

Test(options, usage_lists_every_flag)
{
    const char *u = sl_options_usage();
    static const char *const needles[] = {
        "--file",
        "--host",
        "--users",
        "--spawn-rate",
        "--duration",
        "--run-time",
        "--threads",
        "--timeout",
        "--json",
        "--insecure",
        "--seed",
        "--quiet",
        "--help",
        "--version",
        "-f,",
        "-H,",
        "-u,",
        "-r,",
        "-t,",
        "-q,",
        "-h,",
        "-V,",
        "-l, --list",
        "--tags T1,T2",
        "--exclude-tags T1,T2",
        "--stop-timeout DUR",
        "--rate R",
        "--stages SPEC",
        "--iterations N",
        "default: 10s",
        "default: 60s",
        "online CPUs",
        "stormlight_file.lua",
        "Exit codes",
        "0  the run completed",
        "1  failed requests, script errors, no request completed at all",
        "2  bad usage",
        "Example",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(needles); i++)
        cr_expect(strstr(u, needles[i]) != NULL, "usage lacks '%s'", needles[i]);
    /* 80 columns, so it reads well in any terminal. */
    for (const char *line = u; *line;) {
        size_t len = strcspn(line, "\n");
        cr_expect_leq(len, 80, "usage line too long: %.*s", (int)len, line);
        line += len + (line[len] == '\n');
    }
}

/* What a pasted Locust command line means here. */
Test(options, locust_spellings)
{
    sl_options_t o;
    sl_err_t err;
    cr_assert_eq(
        parse(&o, &err,
              ARGS("--headless", "-T", "smoke", "api", "-u", "3", "-E", "slow", "flaky", "-s", "5s",
                   "--only-summary", "--exit-code-on-error", "3", "--locustfile", "x.lua")),
        SL_OK, "%s", err.msg);
    cr_expect_str_eq(o.tags, "smoke,api");
    cr_expect_str_eq(o.exclude_tags, "slow,flaky");
    cr_expect_eq(o.users, 3);
    cr_expect_eq(o.stop_timeout_us, 5 * SL_US_PER_S);
    cr_expect(o.quiet);
    cr_expect_eq(o.exit_code_on_error, 3);
    cr_expect_str_eq(o.file, "x.lua");
    /* Commas, spaces in one word (a config file's "tags = a b"), the attached forms. */
    cr_assert_eq(parse(&o, &err, ARGS("-T", "a,b", "c", "--exclude-tags=d e", "-Tz")), SL_OK, "%s",
                 err.msg);
    cr_expect_str_eq(o.tags, "z");
    cr_expect_str_eq(o.exclude_tags, "d,e");
    cr_assert_eq(parse(&o, &err, ARGS("-T", "a,b", "c", "-q")), SL_OK, "%s", err.msg);
    cr_expect_str_eq(o.tags, "a,b,c");
    /* "--tags=a" is one value: a word after it is still a stray. */
    cr_expect_eq(parse(&o, &err, ARGS("--tags=a", "b")), SL_EINVAL);
    cr_expect_str_eq(err.msg, "unexpected argument 'b' (see --help)");
    cr_assert_eq(parse(&o, &err, ARGS("-q")), SL_OK, "%s", err.msg);
    cr_expect_eq(o.exit_code_on_error, 1);
}

/* Locust flags without an equivalent get one line of advice, whatever their spelling. */
Test(options, locust_only_flags_get_a_pointer)
{
    static const struct {
        const char *args[3];
        const char *flag, *hint;
    } cases[] = {
        {{"--web-login"}, "--web-login: ", "web UI"},
        {{"--web-base-path=/x"}, "--web-base-path: ", "web UI"},
        {{"--enable-rebalancing"}, "--enable-rebalancing: ", "rebalancing"},
        {{"--processes", "4"}, "--processes: ", "--threads"},
        {{"--class-picker"}, "--class-picker: ", "--tags"},
        {{"--loglevel", "DEBUG"}, "--loglevel: ", "log"},
        {{"-L", "DEBUG"}, "--loglevel: ", "log"},
        {{"--logfile", "x.log"}, "--logfile: ", "log"},
        {{"--reset-stats"}, "--reset-stats: ", "history"},
        {{"--show-task-ratio"}, "--show-task-ratio: ", "--list"},
        {{"--hatch-rate", "5"}, "--hatch-rate: ", "--spawn-rate"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_options_t o;
        sl_err_t err;
        const char *words[4] = {0};
        memcpy(words, cases[i].args, sizeof(cases[i].args));
        cr_expect_eq(parse(&o, &err, words), SL_EINVAL, "case %zu", i);
        cr_expect(strncmp(err.msg, cases[i].flag, strlen(cases[i].flag)) == 0,
                  "case %zu: '%s' does not start with '%s'", i, err.msg, cases[i].flag);
        cr_expect(strstr(err.msg, cases[i].hint) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg,
                  cases[i].hint);
        cr_expect_null(strstr(err.msg, "unknown option"), "case %zu: %s", i, err.msg);
        cr_expect_null(strchr(err.msg, '\n'), "case %zu: message is not one line", i);
    }
    /* The config file and STORMLIGHT_* know these names too, to give the same advice. */
    bool takes_value;
    cr_expect_eq(sl_options_lookup("master", &takes_value), SL_OK);
    cr_expect_eq(sl_options_lookup("headless", &takes_value), SL_OK);
    cr_expect_not(takes_value);
    cr_expect_eq(sl_options_lookup("exit-code-on-error", &takes_value), SL_OK);
    cr_expect(takes_value);
}

/* The web UI's flags, with Locust's names: any of them turns the UI on, --headless off. */
Test(options, web_flags)
{
    sl_options_t o;
    sl_err_t err;
    cr_assert_eq(parse(&o, &err, ARGS("-q")), SL_OK, "%s", err.msg);
    cr_expect(!o.web);
    cr_expect_eq(o.web_port, 8089);
    cr_expect_str_eq(o.web_host, "127.0.0.1");
    cr_expect_eq(o.autoquit_s, -1);
    cr_assert_eq(parse(&o, &err, ARGS("-P8090")), SL_OK, "%s", err.msg);
    cr_expect(o.web);
    cr_expect_eq(o.web_port, 8090);
    cr_assert_eq(parse(&o, &err, ARGS("--web-host", "127.0.0.1", "--autostart", "--autoquit", "3")),
                 SL_OK, "%s", err.msg);
    cr_expect(o.web && o.autostart);
    cr_expect_str_eq(o.web_host, "127.0.0.1");
    cr_expect_eq(o.autoquit_s, 3);
    cr_assert_eq(parse(&o, &err, ARGS("--web", "--headless")), SL_OK, "%s", err.msg);
    cr_expect(!o.web, "--headless wins");
    cr_expect_eq(parse(&o, &err, ARGS("--web-port", "0")), SL_EINVAL);
    cr_expect_str_eq(err.msg, "--web-port: must be between 1 and 65535, got '0'");
    cr_expect_eq(parse(&o, &err, ARGS("--web-port", "http")), SL_EINVAL);
    cr_expect_eq(parse(&o, &err, ARGS("--autoquit", "5")), SL_EINVAL);
    cr_expect(strstr(err.msg, "--autoquit: only with the web UI") == err.msg, "%s", err.msg);
    /* Beyond loopback only with a password. */
    cr_expect_eq(parse(&o, &err, ARGS("--web-host", "0.0.0.0")), SL_EINVAL);
    cr_expect(strstr(err.msg, "--web-auth") != NULL, "%s", err.msg);
    cr_assert_eq(parse(&o, &err, ARGS("--web-host", "*", "--web-auth", "a:b")), SL_OK, "%s",
                 err.msg);
    cr_expect_str_eq(o.web_auth, "a:b");
    cr_expect_eq(parse(&o, &err, ARGS("--web-auth", "nopassword")), SL_EINVAL);
    cr_assert_eq(parse(&o, &err, ARGS("--web-host", "localhost")), SL_OK, "%s", err.msg);
}

/* Distributed mode: Locust's flags and defaults. */
Test(options, distributed_flags)
{
    sl_options_t o;
    sl_err_t err;
    const char *none[] = {NULL};
    cr_assert_eq(parse(&o, &err, none), SL_OK);
    cr_expect_not(o.worker);
    cr_expect_not(o.master);
    cr_expect_str_eq(o.master_host, "127.0.0.1");
    cr_expect_eq(o.master_port, 5557);
    cr_expect_str_eq(o.master_bind_host, "*");
    cr_expect_eq(o.master_bind_port, 5557);
    const char *w[] = {"--worker", "--master-host", "10.0.0.1", "--master-port", "6000", NULL};
    cr_assert_eq(parse(&o, &err, w), SL_OK, "%s", err.msg);
    cr_expect(o.worker);
    cr_expect_str_eq(o.master_host, "10.0.0.1");
    cr_expect_eq(o.master_port, 6000);
    const char *m[] = {"--master",  "--master-bind-host",
                       "127.0.0.1", "--master-bind-port",
                       "6001",      "--expect-workers",
                       "3",         "--expect-workers-max-wait",
                       "20s",       NULL};
    cr_assert_eq(parse(&o, &err, m), SL_OK, "%s", err.msg);
    cr_expect(o.master);
    cr_expect_eq(o.master_bind_port, 6001);
    cr_expect_eq(o.expect_workers, 3);
    cr_expect_eq(o.expect_workers_max_wait_us, 20 * SL_US_PER_S);
    const char *bad_port[] = {"--master-port", "70000", NULL};
    cr_expect_eq(parse(&o, &err, bad_port), SL_EINVAL);
    cr_expect(strstr(err.msg, "--master-port") != NULL, "%s", err.msg);
}
