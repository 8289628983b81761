/* Config file and STORMLIGHT_* variables: the merged argv, precedence, and the messages
 * that name the file and line or the variable. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "cli/options.h"

/* String literals as the char * that argv and environ hold. */
#define A(s) ((char *)(s))

static char dir[] = "/tmp/sl-config-test-XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chdir(dir), 0);
}

static void teardown(void)
{
    unlink("stormlight.conf");
    unlink("other.conf");
    cr_assert_eq(chdir("/"), 0);
    rmdir(dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads and parses; returns the sl_options_parse code (or the load code when that
 * failed), with the message in err. */
static int load(sl_config_t *cfg, sl_options_t *opts, sl_err_t *err, char **argv, char **envp)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    int rc = sl_config_load(cfg, argc, argv, envp, err);
    if (rc != SL_OK)
        return rc;
    rc = sl_options_parse(cfg->argc, cfg->argv, opts, err);
    if (rc != SL_OK)
        sl_config_blame(cfg, err);
    return rc;
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, no_file_no_env_is_the_command_line)
{
    char *argv[] = {A("stormlight"), A("-u"), A("3"), NULL};
    char *envp[] = {A("PATH=/bin"), NULL};
    sl_config_t cfg;
    sl_options_t opts;
    sl_err_t err;
    cr_assert_eq(load(&cfg, &opts, &err, argv, envp), SL_OK, "%s", err.msg);
    cr_expect_eq(cfg.argc, 3);
    cr_expect_eq(cfg.nsynthetic, 0);
    cr_expect_null(cfg.path);
    cr_expect_eq(opts.users, 3);
    sl_config_dispose(&cfg);
}

Test(config, file_values_comments_quotes_and_booleans)
{
    write_file("stormlight.conf", "# a comment\n"
                                  "; another\n"
                                  "\n"
                                  "users = 10\n"
                                  "  run_time=30s  \n"
                                  "Host = \"http://127.0.0.1:8000\"\n"
                                  "quiet = true\n"
                                  "insecure = no\n"
                                  "threshold = p95<200ms\n"
                                  "threshold = GET /a: max<1s\n"
                                  "csv = out/run = 1\n");
    char *argv[] = {A("stormlight"), NULL};
    char *envp[] = {NULL};
    sl_config_t cfg;
    sl_options_t opts;
    sl_err_t err;
    cr_assert_eq(load(&cfg, &opts, &err, argv, envp), SL_OK, "%s", err.msg);
    cr_expect_str_eq(cfg.path, "stormlight.conf");
    cr_expect_eq(opts.users, 10);
    cr_expect_eq(opts.duration_us, 30 * SL_US_PER_S);
    cr_expect_str_eq(opts.host, "http://127.0.0.1:8000");
    cr_expect(opts.quiet);
    cr_expect(!opts.insecure);
    cr_expect_eq(opts.nthresholds, 2);
    cr_expect_str_eq(opts.thresholds[1], "GET /a: max<1s");
    cr_expect_str_eq(opts.csv_prefix, "out/run = 1", "only the first '=' separates");
    sl_config_dispose(&cfg);
}

Test(config, flags_beat_env_beat_file)
{
    write_file("stormlight.conf", "users = 1\nspawn-rate = 1\nthreads = 1\nquiet = true\n");
    char *envp[] = {A("STORMLIGHT_SPAWN_RATE=2"), A("STORMLIGHT_THREADS=2"),
                    A("STORMLIGHT_QUIET=false"), A("HOME=/root"), NULL};
    char *argv[] = {A("stormlight"), A("--threads"), A("3"), NULL};
    sl_config_t cfg;
    sl_options_t opts;
    sl_err_t err;
    cr_assert_eq(load(&cfg, &opts, &err, argv, envp), SL_OK, "%s", err.msg);
    cr_expect_eq(opts.users, 1, "file only");
    cr_expect_float_eq(opts.spawn_rate, 2.0, 1e-9, "env beats file");
    cr_expect_eq(opts.threads, 3, "flag beats env and file");
    cr_expect(!opts.quiet, "an environment false cancels the file's true");
    sl_config_dispose(&cfg);
}

Test(config, explicit_config_flag_and_env)
{
    write_file("stormlight.conf", "users = 1\n");
    write_file("other.conf", "users = 7\n");
    char *envp[] = {NULL};
    char *argv[] = {A("stormlight"), A("--config"), A("other.conf"), NULL};
    sl_config_t cfg;
    sl_options_t opts;
    sl_err_t err;
    cr_assert_eq(load(&cfg, &opts, &err, argv, envp), SL_OK, "%s", err.msg);
    cr_expect_eq(opts.users, 7);
    cr_expect_str_eq(opts.config_path, "other.conf");
    sl_config_dispose(&cfg);

    char *argv2[] = {A("stormlight"), A("--config=other.conf"), NULL};
    cr_assert_eq(load(&cfg, &opts, &err, argv2, envp), SL_OK, "%s", err.msg);
    cr_expect_eq(opts.users, 7);
    sl_config_dispose(&cfg);

    char *envp2[] = {A("STORMLIGHT_CONFIG=other.conf"), NULL};
    char *argv3[] = {A("stormlight"), NULL};
    cr_assert_eq(load(&cfg, &opts, &err, argv3, envp2), SL_OK, "%s", err.msg);
    cr_expect_eq(opts.users, 7);
    sl_config_dispose(&cfg);

    char *argv4[] = {A("stormlight"), A("--config"), A("missing.conf"), NULL};
    cr_expect_eq(load(&cfg, &opts, &err, argv4, envp), SL_ESYS);
    cr_expect(strstr(err.msg, "--config: cannot read 'missing.conf'") != NULL, "%s", err.msg);
    sl_config_dispose(&cfg);
}

static const struct {
    const char *file;
    const char *env;
    const char *msg;
} bad[] = {
    {"users = 1\nusres = 2\n", NULL, "stormlight.conf:2: unknown option 'usres'"},
    {"users = ten\n", NULL, "stormlight.conf:1: --users: expected a positive integer"},
    {"\n\nthreshold = p95<<1\n", NULL, "stormlight.conf:3: --threshold: 'p95<<1'"},
    {"quiet = maybe\n", NULL, "stormlight.conf:1: quiet: expected true or false"},
    {"just words\n", NULL, "stormlight.conf:1: expected 'key = value'"},
    {"config = x.conf\n", NULL, "stormlight.conf:1: unknown option 'config'"},
    {"= 5\n", NULL, "stormlight.conf:1: missing key"},
    {NULL, "STORMLIGHT_USRES=3", "STORMLIGHT_USRES: unknown option 'usres'"},
    {NULL, "STORMLIGHT_RUN_TIME=forever", "STORMLIGHT_RUN_TIME: --run-time:"},
    {NULL, "STORMLIGHT_INSECURE=perhaps", "STORMLIGHT_INSECURE: insecure: expected true or false"},
};

Test(config, bad_entries_name_their_origin)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        unlink("stormlight.conf");
        if (bad[i].file)
            write_file("stormlight.conf", bad[i].file);
        char *envp[] = {(char *)bad[i].env, NULL};
        char *argv[] = {A("stormlight"), NULL};
        sl_config_t cfg;
        sl_options_t opts;
        sl_err_t err = {{0}};
        cr_expect_neq(load(&cfg, &opts, &err, argv, envp), SL_OK, "case %zu accepted", i);
        cr_expect(strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)) == 0,
                  "case %zu: got '%s', want '%s...'", i, err.msg, bad[i].msg);
        sl_config_dispose(&cfg);
    }
}

Test(config, a_bad_flag_is_still_the_flags_fault)
{
    write_file("stormlight.conf", "users = 2\n");
    char *envp[] = {NULL};
    char *argv[] = {A("stormlight"), A("--users"), A("zero"), NULL};
    sl_config_t cfg;
    sl_options_t opts;
    sl_err_t err;
    cr_expect_eq(load(&cfg, &opts, &err, argv, envp), SL_EINVAL);
    cr_expect(strncmp(err.msg, "--users: expected a positive integer", 36) == 0, "%s", err.msg);
    sl_config_dispose(&cfg);
}

/* A NUL cuts a C string short: "\0users = 5" used to read as an empty line and run with
 * the default of one user. */
Test(config, a_nul_byte_is_an_error_with_its_line)
{
    FILE *f = fopen("stormlight.conf", "w");
    cr_assert_not_null(f);
    static const char text[] = "quiet = true\n\0users = 5\n";
    fwrite(text, 1, sizeof(text) - 1, f);
    fclose(f);
    char *envp[] = {NULL};
    char *argv[] = {A("stormlight"), NULL};
    sl_config_t cfg;
    sl_options_t opts;
    sl_err_t err = {{0}};
    cr_expect_eq(load(&cfg, &opts, &err, argv, envp), SL_EINVAL);
    cr_expect(strstr(err.msg, "stormlight.conf:2: a NUL byte") == err.msg, "%s", err.msg);
    sl_config_dispose(&cfg);
}
