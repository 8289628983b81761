/* Scenario loader: the example file from the architecture document, JSON encoding of
 * `data`, and the exact message (with file and line) for each kind of mistake. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario/scenario.h"

#include "plan_rows.h"

#define CHUNK "stormlight_file.lua"

static int load(const char *src, sl_plan_t *plan, sl_err_t *err)
{
    memset(err, 0, sizeof(*err));
    return sl_scenario_load_string(src, strlen(src), CHUNK, plan, err);
}

static const char example[] =
    "endpoints = {\n"
    "  Task{\"GET\", \"/hello\", headers = {[\"Content-Type\"] = \"application/json\"}},\n"
    "  Task{\"POST\", \"/api/upload\", data = {name = \"test\", price = 10},\n"
    "       headers = {[\"Content-Type\"] = \"application/json\"}},\n"
    "}\n";

Test(scenario, architecture_example)
{
    sl_plan_t plan;
    sl_err_t err;
    cr_assert_eq(load(example, &plan, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plan.ntasks, 2);
    cr_assert_eq(plan.nrows, 2);
    cr_expect_eq(plan.total_weight, 2);
    cr_expect_null(plan.host);
    cr_expect_str_eq(plan.file, CHUNK);

    sl_task_t *get = &plan.tasks[0], *post = &plan.tasks[1];
    cr_expect_str_eq(get->method, "GET");
    cr_expect_str_eq(get->path, "/hello");
    cr_expect_str_eq(get->name, "/hello");
    cr_expect_eq(get->weight, 1);
    cr_expect_null(get->body);
    cr_expect_eq(get->body_len, 0);
    cr_expect_not(get->body_is_json);
    cr_assert_eq(get->nheaders, 1);
    cr_expect_str_eq(get->headers[0].name, "Content-Type");
    cr_expect_str_eq(get->headers[0].value, "application/json");
    cr_expect_eq(get->row, 0);
    cr_expect(get->idempotent);
    cr_expect_not(get->is_head);
    cr_expect_null(get->wire);

    cr_expect_str_eq(post->method, "POST");
    cr_expect_str_eq(post->path, "/api/upload");
    cr_expect_str_eq(post->name, "/api/upload");
    cr_expect(post->body_is_json);
    cr_assert_not_null(post->body);
    cr_expect_eq(post->body_len, strlen("{\"name\":\"test\",\"price\":10}"));
    cr_expect_str_eq(post->body, "{\"name\":\"test\",\"price\":10}");
    cr_expect_eq(post->nheaders, 1);
    cr_expect_eq(post->row, 1);
    cr_expect_not(post->idempotent);

    cr_expect_str_eq(row_method(&plan, 0), "GET");
    cr_expect_str_eq(row_name(&plan, 0), "/hello");
    cr_expect_str_eq(row_method(&plan, 1), "POST");
    cr_expect_str_eq(row_name(&plan, 1), "/api/upload");
    sl_plan_dispose(&plan);
    cr_expect_null(plan.tasks);
    sl_plan_dispose(&plan); /* a disposed (zeroed) plan can be disposed again */
}

Test(scenario, fields_rows_and_host)
{
    static const char src[] =
        "host = 'http://127.0.0.1:8000'\n"
        "endpoints = {\n"
        "  Task{'get', '/a', name = 'A', weight = 3},\n"
        "  Task{'HEAD', '/b'},\n"
        "  Task{'GET', '/a2', name = 'A', weight = 2.0},\n" /* same row as the first */
        "  Task{'POST', '/a', name = 'A', data = 'raw\\0body'},\n"
        "  Task{'delete', '/b', headers = {b = 'x', A = 1, ['c-D'] = 1.5}},\n"
        "}\n";
    sl_plan_t plan;
    sl_err_t err;
    cr_assert_eq(load(src, &plan, &err), SL_OK, "%s", err.msg);
    cr_expect_str_eq(plan.host, "http://127.0.0.1:8000");
    cr_assert_eq(plan.ntasks, 5);
    cr_expect_eq(plan.total_weight, 3 + 1 + 2 + 1 + 1);

    cr_expect_str_eq(plan.tasks[0].method, "GET");
    cr_expect_str_eq(plan.tasks[0].name, "A");
    cr_expect_eq(plan.tasks[0].weight, 3);
    cr_expect(plan.tasks[1].is_head);
    cr_expect(plan.tasks[1].idempotent);
    cr_expect_eq(plan.tasks[2].weight, 2);

    /* A string body is sent as is, NUL bytes included, and is not JSON. */
    cr_expect_eq(plan.tasks[3].body_len, 8);
    cr_expect_eq(memcmp(plan.tasks[3].body, "raw\0body", 8), 0);
    cr_expect_not(plan.tasks[3].body_is_json);
    cr_expect_not(plan.tasks[3].idempotent);

    /* Headers sorted by lower-cased name; numbers converted to strings. */
    sl_task_t *d = &plan.tasks[4];
    cr_expect_str_eq(d->method, "DELETE");
    cr_expect(d->idempotent);
    cr_assert_eq(d->nheaders, 3);
    cr_expect_str_eq(d->headers[0].name, "A");
    cr_expect_str_eq(d->headers[0].value, "1");
    cr_expect_str_eq(d->headers[1].name, "b");
    cr_expect_str_eq(d->headers[2].name, "c-D");
    cr_expect_str_eq(d->headers[2].value, "1.5");

    /* Rows: unique (method, name) in order of first appearance. */
    static const char *const rows[][2] = {
        {"GET", "A"}, {"HEAD", "/b"}, {"POST", "A"}, {"DELETE", "/b"}};
    static const uint32_t task_rows[] = {0, 1, 0, 2, 3};
    cr_assert_eq(plan.nrows, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_expect_str_eq(row_method(&plan, i), rows[i][0], "row %zu", i);
        cr_expect_str_eq(row_name(&plan, i), rows[i][1], "row %zu", i);
    }
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(plan.tasks[i].row, task_rows[i], "task %zu row %u", i, plan.tasks[i].row);
    sl_plan_dispose(&plan);
}

Test(scenario, idempotent_methods)
{
    static const struct {
        const char *method;
        bool idempotent;
    } cases[] = {{"GET", true},      {"HEAD", true},  {"PUT", true},   {"DELETE", true},
                 {"OPTIONS", true},  {"TRACE", true}, {"POST", false}, {"PATCH", false},
                 {"CONNECT", false}, {"PURGE", false}};
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char src[128];
        snprintf(src, sizeof(src), "endpoints = {Task{'%s', '/'}}", cases[i].method);
        sl_plan_t plan;
        sl_err_t err;
        cr_assert_eq(load(src, &plan, &err), SL_OK, "%s", err.msg);
        cr_expect_eq(plan.tasks[0].idempotent, cases[i].idempotent, "%s", cases[i].method);
        sl_plan_dispose(&plan);
    }
}

/* data = <Lua expression> -> exact JSON body. */
static const struct {
    const char *lua, *json;
} json_cases[] = {
    {"{name = 'test', price = 10}", "{\"name\":\"test\",\"price\":10}"},
    {"{b = 1, a = 2, A = 3, aa = 4}", "{\"A\":3,\"a\":2,\"aa\":4,\"b\":1}"},
    {"{1, 2, 3}", "[1,2,3]"},
    {"{}", "{}"},
    {"{x = {}}", "{\"x\":{}}"},
    {"{i = 10, f = 1.5, g = 10.0, n = -3, z = 0.1, big = 1e300, tiny = 5e-324}",
     "{\"big\":1e+300,\"f\":1.5,\"g\":10.0,\"i\":10,\"n\":-3,\"tiny\":4.94065645841247e-324,"
     "\"z\":0.1}"},
    {"{math.maxinteger, math.mininteger}", "[9223372036854775807,-9223372036854775808]"},
    {"{1/3}", "[0.3333333333333333]"},
    {"{t = true, f = false}", "{\"f\":false,\"t\":true}"},
    {"{list = {1, {a = {true}}, 'x'}}", "{\"list\":[1,{\"a\":[true]},\"x\"]}"},
    {"{s = 'q\"b\\\\s/\\n\\r\\t\\b\\f\\1\\31\\127'}",
     "{\"s\":\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"}"},
    {"{s = 'caf\\u{E9} \\u{1F600}'}", "{\"s\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}"},
    {"{['key with \"quote'] = 1}", "{\"key with \\\"quote\":1}"},
    {"{[1] = 'a', [2] = 'b'}", "[\"a\",\"b\"]"},
};

Test(scenario, json_encoding)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(json_cases); i++) {
        char src[512];
        snprintf(src, sizeof(src), "endpoints = {Task{'POST', '/', data = %s}}", json_cases[i].lua);
        sl_plan_t plan;
        sl_err_t err;
        int rc = load(src, &plan, &err);
        cr_expect_eq(rc, SL_OK, "%s: %s", json_cases[i].lua, err.msg);
        if (rc != SL_OK)
            continue;
        cr_expect(plan.tasks[0].body_is_json);
        cr_expect_eq(plan.tasks[0].body_len, strlen(json_cases[i].json), "%s", json_cases[i].lua);
        cr_expect_str_eq(plan.tasks[0].body, json_cases[i].json, "%s", json_cases[i].lua);
        sl_plan_dispose(&plan);
    }
}

/* Source -> exact message. Lines count from 1 in the source. */
static const struct {
    const char *src, *msg;
} errors[] = {
    /* Task{} validation: file:line of the Task call. */
    {"endpoints = {\n  Task{5, '/'},\n}", CHUNK ":2: Task: method must be a string"},
    {"endpoints = {Task{}}", CHUNK ":1: Task: method must be a string"},
    {"endpoints = {Task{'', '/'}}", CHUNK ":1: Task: method must not be empty"},
    {"endpoints = {Task{'GE T', '/'}}", CHUNK ":1: Task: method 'GE T' is not a valid HTTP method"},
    {"\n\nendpoints = {Task{'GET'}}", CHUNK ":3: Task: path must be a string"},
    {"endpoints = {Task{'GET', 5}}", CHUNK ":1: Task: path must be a string"},
    {"endpoints = {Task{'GET', 'hello'}}", CHUNK ":1: Task: path must start with '/', got 'hello'"},
    {"endpoints = {Task{'GET', ''}}", CHUNK ":1: Task: path must start with '/', got ''"},
    {"endpoints = {Task{'GET', '/a b'}}",
     CHUNK ":1: Task: path must not contain spaces or control characters (percent-encode them)"},
    {"endpoints = {Task{'GET', '/a\\r\\n'}}",
     CHUNK ":1: Task: path must not contain spaces or control characters (percent-encode them)"},
    {"endpoints = {\n  Task{'GET', '/ok'},\n  Task{'GET',\n       '/x', weight = 0},\n}",
     CHUNK ":3: Task: weight must be a positive integer"},
    {"endpoints = {Task{'GET', '/', weight = 1.5}}",
     CHUNK ":1: Task: weight must be a positive integer"},
    {"endpoints = {Task{'GET', '/', weight = '2'}}",
     CHUNK ":1: Task: weight must be a positive integer"},
    {"endpoints = {Task{'GET', '/', weight = -1}}",
     CHUNK ":1: Task: weight must be a positive integer"},
    {"endpoints = {Task{'GET', '/', weight = 2^40}}",
     CHUNK ":1: Task: weight must be a positive integer"},
    {"endpoints = {Task{'GET', '/', name = 5}}", CHUNK ":1: Task: name must be a string"},
    {"endpoints = {Task{'GET', '/', name = ''}}", CHUNK ":1: Task: name must not be empty"},
    {"endpoints = {Task{'GET', '/', name = 'a\\nb'}}",
     CHUNK ":1: Task: name must not contain control characters"},
    {"endpoints = {Task{'GET', '/', data = 5}}",
     CHUNK ":1: Task: data must be a table or a string"},
    {"endpoints = {Task{'GET', '/', data = {f = print}}}",
     CHUNK ":1: Task: data.f: cannot encode a function value as JSON"},
    {"endpoints = {Task{'GET', '/', data = {a = {1, io.stdout}}}}",
     CHUNK ":1: Task: data.a[2]: cannot encode a userdata value as JSON"},
    {"endpoints = {Task{'GET', '/', data = {x = 0/0}}}",
     CHUNK ":1: Task: data.x: cannot encode NaN or infinity as JSON"},
    {"endpoints = {Task{'GET', '/', data = {x = math.huge}}}",
     CHUNK ":1: Task: data.x: cannot encode NaN or infinity as JSON"},
    {"endpoints = {Task{'GET', '/', data = {1, 2, x = 3}}}",
     CHUNK ":1: Task: data: a table must have only string keys (object) or be a list 1..n "
           "(array)"},
    {"endpoints = {Task{'GET', '/', data = {[2] = 1}}}",
     CHUNK ":1: Task: data: a table must have only string keys (object) or be a list 1..n "
           "(array)"},
    {"endpoints = {Task{'GET', '/', data = {s = '\\xff'}}}",
     CHUNK ":1: Task: data.s: string is not valid UTF-8"},
    {"endpoints = {Task{'GET', '/', data = {s = '\\xed\\xa0\\x80'}}}", /* a surrogate */
     CHUNK ":1: Task: data.s: string is not valid UTF-8"},
    {"local t = {}\nt.t = t\nendpoints = {Task{'GET', '/', data = {t}}}", NULL /* prefix */},
    {"endpoints = {Task{'GET', '/', headers = 5}}",
     CHUNK ":1: Task: headers must be a table of name = value strings"},
    {"endpoints = {Task{'GET', '/', headers = {'x'}}}",
     CHUNK ":1: Task: header names must be strings, got a number"},
    {"endpoints = {Task{'GET', '/', headers = {['a b'] = 'x'}}}",
     CHUNK ":1: Task: invalid header name 'a b' (letters, digits and !#$%&'*+-.^_`|~ only)"},
    {"endpoints = {Task{'GET', '/', headers = {['X-A\\r\\nEvil'] = 'x'}}}",
     CHUNK ":1: Task: invalid header name 'X-A??Evil' (letters, digits and !#$%&'*+-.^_`|~ "
           "only)"},
    {"endpoints = {Task{'GET', '/', headers = {a = 'x\\r\\nEvil: 1'}}}",
     CHUNK ":1: Task: header 'a' value must not contain CR, LF or NUL"},
    {"endpoints = {Task{'GET', '/', headers = {a = 'x\\n'}}}",
     CHUNK ":1: Task: header 'a' value must not contain CR, LF or NUL"},
    {"endpoints = {Task{'GET', '/', headers = {a = true}}}",
     CHUNK ":1: Task: header 'a' must be a string, got a boolean"},
    {"endpoints = {Task{'GET', '/', foo = 1}}",
     CHUNK ":1: Task: unknown field 'foo' (expected data, headers, name, tags, weight)"},
    {"endpoints = {Task{'GET', '/', header = {}}}",
     CHUNK ":1: Task: unknown field 'header' (expected data, headers, name, tags, weight)"},
    {"endpoints = {Task{'GET', '/', 'x'}}",
     CHUNK ":1: Task: unexpected positional value #3 (only method and path are positional)"},
    {"endpoints = {Task('GET', '/')}",
     CHUNK ":1: Task: expected a table, as in Task{\"GET\", \"/path\"}"},
    /* Syntax and runtime errors while loading keep Lua's file:line. */
    {"endpoints = {\n  Task{'GET', '/'}\n  Task{'GET', '/'}\n}",
     CHUNK ":3: '}' expected (to close '{' at line 1) near 'Task'"},
    {"x = = 1", CHUNK ":1: unexpected symbol near '='"},
    {"\nerror('boom')", CHUNK ":2: boom"},
    {"\n\nerror('boom', 0)", CHUNK ":3: boom"},
    {"error({})", CHUNK ":1: (error object is a table value)"},
    {"local x = nil + 1", CHUNK ":1: attempt to perform arithmetic on a nil value"},
    {"#!/usr/bin/env lua\nendpoints = {Task{5}}", CHUNK ":2: Task: method must be a string"},
    {"\xEF\xBB\xBF"
     "endpoints = {Task{5}}",
     CHUNK ":1: Task: method must be a string"},
    {"\x1bLua", CHUNK ": precompiled Lua is not accepted; give the source file"},
    /* The file as a whole: no line applies. */
    {"x = 1", CHUNK ": 'endpoints' is not defined"},
    {"endpoints = {}", CHUNK ": 'endpoints' is empty"},
    {"endpoints = 'GET /'", CHUNK ": 'endpoints' must be a list of Task{...}"},
    {"endpoints = {a = Task{'GET', '/'}}",
     CHUNK ": 'endpoints' must be a list { Task{...}, ... } without named keys or holes"},
    {"endpoints = {Task{'GET', '/'}, Task{'GET', '/'}, {'GET', '/'}}",
     CHUNK ": endpoints[3] is not a Task{...}"},
    {"endpoints = {Task{'GET', '/'}, 'GET /'}", CHUNK ": endpoints[2] is not a Task{...}"},
    {"host = 8000\nendpoints = {Task{'GET', '/'}}", CHUNK ": 'host' must be a string"},
    /* A script cannot forge or break a task, and a metatable on _G is not consulted. */
    {"local t = Task{'GET', '/'}\ndebug.getmetatable(t).__metatable = nil\n"
     "rawset(t, 'method', 5)\nendpoints = {t}",
     CHUNK ": endpoints[1] is not a Task{...}"},
    {"local t = Task{'GET', '/'}\nrawset(t, 'headers', {[1] = 2})\nendpoints = {t}",
     CHUNK ": endpoints[1] is not a Task{...}"},
    {"setmetatable(_G, {__index = function() error('no') end})", CHUNK ": 'endpoints' is not "
                                                                       "defined"},
};

Test(scenario, errors)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(errors); i++) {
        sl_plan_t plan;
        sl_err_t err;
        int rc = load(errors[i].src, &plan, &err);
        cr_expect_eq(rc, SL_EINVAL, "case %zu: rc %d", i, rc);
        if (errors[i].msg)
            cr_expect_str_eq(err.msg, errors[i].msg, "case %zu", i);
        else
            cr_expect(strncmp(err.msg, CHUNK ":", strlen(CHUNK ":")) == 0, "case %zu: %s", i,
                      err.msg);
        cr_expect_null(strchr(err.msg, '\n'), "case %zu: message is not one line", i);
        /* On error the plan is left empty, so the caller has nothing to free. */
        cr_expect_null(plan.tasks, "case %zu", i);
        cr_expect_null(plan.file, "case %zu", i);
    }
}

/* An endless loop while loading ends with a message at its line, even when the script
 * catches errors or loops inside coroutines; the default budget leaves real files alone. */
Test(scenario, endless_loop_is_cut)
{
    static const char *const loops[] = {
        "local x = 0\nwhile true do x = x + 1 end\n",
        "for i = 1, 3 do\n  pcall(function() while true do end end)\nend\nwhile true do end\n",
        "while true do\n  coroutine.wrap(function() while true do end end)()\nend\n",
        "local ok = pcall(function() while true do end end)\n"
        "endpoints = {Task{'GET', '/'}}\n",
    };
    sl_scenario_set_instruction_limit(1000000);
    for (size_t i = 0; i < SL_ARRAY_LEN(loops); i++) {
        sl_plan_t plan;
        sl_err_t err;
        cr_expect_eq(load(loops[i], &plan, &err), SL_EINVAL, "case %zu", i);
        cr_expect(strncmp(err.msg, CHUNK ":", strlen(CHUNK ":")) == 0, "case %zu: %s", i, err.msg);
        cr_expect(strstr(err.msg, "scenario took too long to load"), "case %zu: %s", i, err.msg);
    }
    sl_scenario_set_instruction_limit(100000000);

    sl_plan_t plan;
    sl_err_t err;
    cr_assert_eq(load("local t = {}\nfor i = 1, 100000 do t[i] = i * 2 end\n"
                      "endpoints = {Task{'GET', '/'}}\n",
                      &plan, &err),
                 SL_OK, "%s", err.msg);
    sl_plan_dispose(&plan);
}

Test(scenario, cycle_and_depth)
{
    sl_plan_t plan;
    sl_err_t err;
    cr_assert_eq(
        load("local t = {}\nt.t = t\nendpoints = {Task{'GET', '/', data = t}}", &plan, &err),
        SL_EINVAL);
    cr_expect(strncmp(err.msg, CHUNK ":3: Task: data.t.t", strlen(CHUNK ":3: Task: data.t.t")) == 0,
              "%s", err.msg);
    cr_expect(strstr(err.msg, "tables nested more than 100 levels deep (is there a cycle?)"), "%s",
              err.msg);

    /* 100 levels are fine. */
    cr_assert_eq(load("local d = 1\nfor i = 1, 99 do d = {d} end\n"
                      "endpoints = {Task{'POST', '/', data = d}}",
                      &plan, &err),
                 SL_OK, "%s", err.msg);
    cr_expect_eq(plan.tasks[0].body_len, 99 * 2 + 1);
    sl_plan_dispose(&plan);
}

Test(scenario, load_missing_file)
{
    sl_plan_t plan;
    sl_err_t err = {{0}};
    int rc = sl_scenario_load("/nonexistent/stormlight_file.lua", &plan, &err);
    cr_expect_eq(rc, SL_EINVAL);
    cr_expect_str_eq(err.msg,
                     "cannot open '/nonexistent/stormlight_file.lua': No such file or directory");
    cr_expect_null(plan.tasks);
}

Test(scenario, load_directory)
{
    sl_plan_t plan;
    sl_err_t err = {{0}};
    cr_expect_eq(sl_scenario_load("/", &plan, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "cannot read '/': Is a directory");
}

static char *write_temp(const char *content)
{
    char *path = strdup("/tmp/sl_test_scenario_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(content);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

Test(scenario, load_file)
{
    char *path = write_temp(example);
    sl_plan_t plan;
    sl_err_t err = {{0}};
    int rc = sl_scenario_load(path, &plan, &err);
    cr_expect_eq(rc, SL_OK, "%s", err.msg);
    cr_expect_eq(plan.ntasks, 2);
    cr_expect_str_eq(plan.file, path);
    cr_expect_str_eq(plan.tasks[1].body, "{\"name\":\"test\",\"price\":10}");
    sl_plan_dispose(&plan);
    unlink(path);
    free(path);
}

Test(scenario, load_file_error_names_the_file)
{
    char *path = write_temp("endpoints = {\n  Task{'GET', 'nope'},\n}\n");
    sl_plan_t plan;
    sl_err_t err = {{0}};
    cr_expect_eq(sl_scenario_load(path, &plan, &err), SL_EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "%s:2: Task: path must start with '/', got 'nope'", path);
    cr_expect_str_eq(err.msg, want);
    unlink(path);
    free(path);
}

/* Lua shortens long chunk names to "...tail"; messages still carry the full path. */
Test(scenario, long_path_kept_whole)
{
    char dir[] = "/tmp/sl_test_a_rather_long_directory_name_for_paths_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/and_a_long_scenario_file_name.lua", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("endpoints = {\n  Task{'GET', '/'},\n  Task{'GET', 'x'},\n}\n", f);
    fclose(f);

    sl_plan_t plan;
    sl_err_t err = {{0}};
    cr_expect_eq(sl_scenario_load(path, &plan, &err), SL_EINVAL);
    char want[512];
    snprintf(want, sizeof(want), "%s:3: Task: path must start with '/', got 'x'", path);
    cr_expect_str_eq(err.msg, want);

    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("endpoints = {\n  Task{'GET' '/'},\n}\n", f);
    fclose(f);
    cr_expect_eq(sl_scenario_load(path, &plan, &err), SL_EINVAL);
    snprintf(want, sizeof(want), "%s:2: '}' expected near ''/''", path);
    cr_expect_str_eq(err.msg, want);
    unlink(path);
    rmdir(dir);
}

/* Writes a scenario of exactly len bytes: one endpoint, then a long comment. */
static char *write_sized(size_t len)
{
    char *path = strdup("/tmp/sl_test_scenario_big_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static const char head[] = "endpoints = {Task{'GET', '/'}}\n--";
    cr_assert_eq(write(fd, head, sizeof(head) - 1), (ssize_t)(sizeof(head) - 1));
    size_t left = len - (sizeof(head) - 1);
    static char fill[65536];
    memset(fill, 'x', sizeof(fill));
    while (left) {
        size_t n = left < sizeof(fill) ? left : sizeof(fill);
        cr_assert_eq(write(fd, fill, n), (ssize_t)n);
        left -= n;
    }
    close(fd);
    return path;
}

/* The ceiling is 64 MiB of file, not of the read buffer: a file 2000 bytes under it used
 * to be called "larger than 64 MiB" once the buffer would have doubled past it. */
Test(scenario, size_limit_is_on_the_file)
{
    const size_t limit = 64u << 20;
    const size_t sizes[] = {limit - 2000, limit};
    for (size_t i = 0; i < SL_ARRAY_LEN(sizes); i++) {
        char *path = write_sized(sizes[i]);
        sl_plan_t plan;
        sl_err_t err = {{0}};
        cr_expect_eq(sl_scenario_load(path, &plan, &err), SL_OK, "%zu bytes: %s", sizes[i],
                     err.msg);
        sl_plan_dispose(&plan);
        unlink(path);
        free(path);
    }
    char *path = write_sized(limit + 1);
    sl_plan_t plan;
    sl_err_t err = {{0}};
    cr_expect_eq(sl_scenario_load(path, &plan, &err), SL_EINVAL);
    cr_expect(strstr(err.msg, "larger than 64 MiB"), "%s", err.msg);
    unlink(path);
    free(path);
}
