/* The scenario's prepare step (src/scenario/prepare.c): the file runs exactly once even
 * when it defines `shape` (the shape is read from, and called in, the state of that one
 * run), the rows land in the run's row registry with its limit, --tags and --list stop
 * where they should, and the errors come in the documented order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario/prepare.h"

/* A scenario file with body in a fresh temporary file; the caller frees the path. */
static char *write_file(const char *body)
{
    char *path = strdup("/tmp/sl_test_prepare_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t n = strlen(body);
    cr_assert_eq(write(fd, body, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Lines in path (0 when it does not exist). */
static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* Every load of this file appends a line to $SL_TEST_LOAD_LOG and counts itself in a
 * global that shape() returns as its users. */
static const char counting_file[] =
    "local f = assert(io.open(os.getenv('SL_TEST_LOAD_LOG'), 'a'))\n"
    "f:write('loaded\\n')\n"
    "f:close()\n"
    "loads = (loads or 0) + 1\n"
    "host = 'http://127.0.0.1:9/'\n"
    "endpoints = { Task{'GET', '/a'}, Task{'POST', '/b'}, Task{'GET', '/a', weight = 2} }\n"
    "stages = { {'5s', 3} }\n"
    "shape = function(t) if t > 10 then return nil end return loads * 10 + t, 2 end\n";

/* Makes the log file (log is a mkstemp template), points $SL_TEST_LOAD_LOG at it and
 * writes counting_file; returns its path. */
static char *start_counting(char *log)
{
    int fd = mkstemp(log);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(setenv("SL_TEST_LOAD_LOG", log, 1), 0);
    return write_file(counting_file);
}

static void stop_counting(char *path, const char *log)
{
    unlink(path);
    unlink(log);
    free(path);
    unsetenv("SL_TEST_LOAD_LOG");
}

Test(prepare, file_with_shape_runs_exactly_once)
{
    char log[] = "/tmp/sl_test_prepare_log_XXXXXX";
    char *path = start_counting(log);

    sl_prepare_args_t a = {.file = path, .max_rows = 100};
    sl_scenario_t sc;
    sl_err_t err = {0};
    cr_assert_eq(sl_scenario_prepare(&a, &sc, &err), 0, "%s", err.msg);
    cr_assert_not_null(sc.shape);
    cr_assert(sc.has_stages);
    cr_expect_eq(sc.stages.n, 1);
    cr_expect_eq(sc.stages.stage[0].target, 3.0);
    cr_expect_eq(count_lines(log), 1, "the file ran %d times, not once", count_lines(log));

    /* shape() runs in the state of that one load: loads is 1 there. */
    double users = 0, rate = 0;
    cr_assert_eq(sl_shape_call(sc.shape, 2, &users, &rate, &err), 1, "%s", err.msg);
    cr_expect_eq(users, 12.0);
    cr_expect_eq(rate, 2.0);
    cr_expect_eq(sl_shape_call(sc.shape, 11, &users, &rate, &err), 0);
    cr_expect_eq(count_lines(log), 1, "calling shape() ran the file again");
    cr_expect_null(sc.plan.lua, "the shape took the load's state over");

    sl_scenario_dispose(&sc);
    stop_counting(path, log);
}

Test(prepare, rows_in_the_run_registry)
{
    char log[] = "/tmp/sl_test_prepare_log_XXXXXX";
    char *path = start_counting(log);
    sl_err_t err = {0};
    sl_scenario_t sc;

    /* Two distinct rows (GET /a twice): ids 0 and 1 in task order, a registry that holds
     * 2 rows, then the overflow row for names met while running. */
    sl_prepare_args_t a = {.file = path, .max_rows = 2};
    cr_assert_eq(sl_scenario_prepare(&a, &sc, &err), 0, "%s", err.msg);
    cr_assert_eq(sc.plan.nrows, 2);
    cr_expect_eq(sl_rows_count(sc.plan.rows), 2);
    cr_expect_eq(sl_rows_limit(sc.plan.rows), 2);
    cr_expect_eq(sc.plan.tasks[0].row, 0);
    cr_expect_eq(sc.plan.tasks[1].row, 1);
    cr_expect_eq(sc.plan.tasks[2].row, 0);
    const char *m, *n;
    sl_rows_get(sc.plan.rows, 1, &m, &n);
    cr_expect_str_eq(m, "POST");
    cr_expect_str_eq(n, "/b");
    uint32_t id;
    cr_assert_eq(sl_rows_intern(sc.plan.rows, "GET", "/new", &id), 0);
    cr_expect(sl_rows_is_overflow(sc.plan.rows, id));
    sl_rows_get(sc.plan.rows, id, &m, &n);
    cr_expect_str_eq(n, "(other names, past --max-rows 2)");
    cr_expect_str_eq(sc.host, "http://127.0.0.1:9/");
    cr_expect_str_eq(sc.host_origin, path);
    cr_expect_eq(sc.url.port, 9);
    cr_expect_not_null(sc.plan.tasks[0].wire, "rendered");
    sl_scenario_dispose(&sc);

    /* One row fewer than the file declares. */
    a.max_rows = 1;
    cr_expect_eq(sl_scenario_prepare(&a, &sc, &err), SL_ELIMIT);
    char want[512];
    snprintf(want, sizeof(want),
             "%s: the scenario declares 2 request rows, more than --max-rows 1 (raise it)", path);
    cr_expect_str_eq(err.msg, want);
    sl_scenario_dispose(&sc);

    /* --tags: nothing is tagged. */
    a = (sl_prepare_args_t){.file = path, .max_rows = 10, .tags = "smoke"};
    cr_expect_eq(sl_scenario_prepare(&a, &sc, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "no task matches --tags/--exclude-tags");
    sl_scenario_dispose(&sc);

    /* --host wins and is blamed by name; --list stops before the host is looked at. */
    a = (sl_prepare_args_t){.file = path, .max_rows = 10, .host = "ftp://x"};
    cr_expect_neq(sl_scenario_prepare(&a, &sc, &err), 0);
    cr_expect_eq(strncmp(err.msg, "--host: ", 8), 0, "%s", err.msg);
    sl_scenario_dispose(&sc);
    a.list_only = true;
    cr_expect_eq(sl_scenario_prepare(&a, &sc, &err), 0, "%s", err.msg);
    cr_expect_null(sc.shape);
    cr_expect_eq(sc.plan.ntasks, 3);
    sl_scenario_dispose(&sc);

    cr_expect_eq(count_lines(log), 5, "one run of the file per prepare");
    stop_counting(path, log);
}

Test(prepare, errors_in_order)
{
    sl_err_t err = {0};
    sl_scenario_t sc;
    /* No host anywhere. */
    char *path = write_file("endpoints = { Task{'GET', '/'} }\n");
    sl_prepare_args_t a = {.file = path, .max_rows = 10};
    cr_expect_eq(sl_scenario_prepare(&a, &sc, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "no host: give --host URL or set host = \"http://...\" in the "
                              "scenario file");
    sl_scenario_dispose(&sc);
    unlink(path);
    free(path);

    /* Bad stages come after the host, before the rows. */
    path = write_file("endpoints = { Task{'GET', '/'} }\nstages = 3\n");
    a = (sl_prepare_args_t){.file = path, .max_rows = 0, .host = "http://127.0.0.1:9"};
    cr_expect_eq(sl_scenario_prepare(&a, &sc, &err), SL_EINVAL);
    char want[512];
    snprintf(want, sizeof(want), "%s: 'stages' must be a list of {duration, target}", path);
    cr_expect_str_eq(err.msg, want);
    sl_scenario_dispose(&sc);
    unlink(path);
    free(path);

    /* A missing file. */
    a.file = "/nonexistent/sl_prepare.lua";
    cr_expect_eq(sl_scenario_prepare(&a, &sc, &err), SL_EINVAL);
    cr_expect_eq(strncmp(err.msg, "cannot open '/nonexistent/sl_prepare.lua'", 40), 0, "%s",
                 err.msg);
    sl_scenario_dispose(&sc);
}
