/* User{} classes: what the loader puts in the plan and in the Lua registry (the layout the
 * runtime reads), a worker's own state, every mistake's message, --tags filtering, the
 * exact division of users among classes, --list, and csv() test data. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "scenario/csvdata.h"
#include "scenario/scenario.h"

#include "plan_rows.h"

#define CHUNK "shop.lua"

static int load(const char *src, sl_plan_t *plan, sl_err_t *err)
{
    memset(err, 0, sizeof(*err));
    return sl_scenario_load_string(src, strlen(src), CHUNK, plan, err);
}

static void load_ok(const char *src, sl_plan_t *plan)
{
    sl_err_t err;
    cr_assert_eq(load(src, plan, &err), SL_OK, "%s", err.msg);
}

static const char shop[] =
    "host = 'http://127.0.0.1:8000'\n"                                   /* 1 */
    "endpoints = {Task{'GET', '/health', tags = {'smoke'}}}\n"           /* 2 */
    "User{\n"                                                            /* 3 */
    "  name = 'shopper', weight = 3, wait = between(0.5, 1.5),\n"        /* 4 */
    "  on_start = function(u) end,\n"                                    /* 5 */
    "  tasks = {\n"                                                      /* 6 */
    "    Task{'GET', '/hello', weight = 5, tags = {'smoke', 'read'}},\n" /* 7 */
    "    {weight = 2, name = 'checkout', function(u) end, tags = {'buy'}},\n"
    "    function(u) end,\n" /* 9 */
    "  },\n"
    "  on_stop = function(u) end,\n"
    "  tags = {'shop'},\n"
    "}\n"
    "User{fixed_count = 2, sequential = true, wait = constant(5),\n" /* 14 */
    "  tasks = {Task{'POST', '/admin', data = {a = 1}, name = '/health'},\n"
    "           function(u) end}}\n"
    "User{name = 'pacer', wait = pacing(2), tasks = {Task{'GET', '/hello'}}}\n"
    "User{name = 'tp', weight = 2, wait = throughput(4), tasks = {function() end}}\n";

Test(classes, plan_of_a_multi_class_file)
{
    sl_plan_t plan;
    load_ok(shop, &plan);
    cr_expect_str_eq(plan.host, "http://127.0.0.1:8000");
    cr_expect_eq(plan.source_len, strlen(shop));
    cr_expect_str_eq(plan.source, shop);

    /* Tasks: the endpoints first, then the classes' Task{}s in order. */
    cr_assert_eq(plan.ntasks, 4);
    cr_expect_str_eq(plan.tasks[0].path, "/health");
    cr_expect_str_eq(plan.tasks[1].path, "/hello");
    cr_expect_str_eq(plan.tasks[2].path, "/admin");
    cr_expect_str_eq(plan.tasks[3].path, "/hello");
    cr_expect_eq(plan.total_weight, 1 + 5 + 1 + 1);
    cr_assert_eq(plan.tasks[1].ntags, 2);
    cr_expect_str_eq(plan.tasks[1].tags[0], "smoke");
    cr_expect_str_eq(plan.tasks[1].tags[1], "read");
    cr_expect_eq(plan.tasks[2].ntags, 0);
    cr_expect_str_eq(plan.tasks[2].body, "{\"a\":1}");
    /* Rows: (GET /health), (GET /hello), (POST /health); the last /hello shares a row. */
    cr_assert_eq(plan.nrows, 3);
    cr_expect_eq(plan.tasks[0].row, 0);
    cr_expect_eq(plan.tasks[1].row, 1);
    cr_expect_eq(plan.tasks[2].row, 2);
    cr_expect_eq(plan.tasks[3].row, 1);

    /* Classes in registration order, the endpoints last. */
    cr_assert_eq(plan.nclasses, 5);
    cr_expect_eq(plan.nlua_classes, 5);
    const sl_class_t *s = &plan.classes[0];
    cr_expect_str_eq(s->name, "shopper");
    cr_expect_eq(s->lua_index, 1);
    cr_expect_eq(s->weight, 3);
    cr_expect_eq(s->fixed_count, 0);
    cr_expect_eq(s->wait.kind, SL_WAIT_BETWEEN);
    cr_expect(s->wait.a_s == 0.5 && s->wait.b_s == 1.5);
    cr_expect_not(s->sequential);
    cr_expect(s->has_on_start);
    cr_expect(s->has_on_stop);
    cr_assert_eq(s->ntasks, 3);
    cr_expect_eq(s->total_weight, 8);

    const sl_class_task_t *t = &s->tasks[0];
    cr_expect_eq(t->lua_index, 1);
    cr_expect_eq(t->task, 1);
    cr_expect_eq(t->weight, 5);
    cr_expect_str_eq(t->name, "GET /hello");
    cr_assert_eq(t->ntags, 3); /* the class's tags first, then the task's */
    cr_expect_str_eq(t->tags[0], "shop");
    cr_expect_str_eq(t->tags[1], "smoke");
    cr_expect_str_eq(t->tags[2], "read");
    t = &s->tasks[1];
    cr_expect_eq(t->lua_index, 2);
    cr_expect_eq(t->task, -1);
    cr_expect_eq(t->weight, 2);
    cr_expect_str_eq(t->name, "checkout");
    cr_assert_eq(t->ntags, 2);
    cr_expect_str_eq(t->tags[0], "shop");
    cr_expect_str_eq(t->tags[1], "buy");
    t = &s->tasks[2];
    cr_expect_eq(t->lua_index, 3);
    cr_expect_eq(t->task, -1);
    cr_expect_eq(t->weight, 1);
    cr_expect_str_eq(t->name, "function at " CHUNK ":9");
    cr_assert_eq(t->ntags, 1);

    const sl_class_t *a = &plan.classes[1];
    cr_expect_str_eq(a->name, "User2");
    cr_expect_eq(a->lua_index, 2);
    cr_expect_eq(a->weight, 1);
    cr_expect_eq(a->fixed_count, 2);
    cr_expect_eq(a->wait.kind, SL_WAIT_CONSTANT);
    cr_expect(a->wait.a_s == 5);
    cr_expect(a->sequential);
    cr_expect_not(a->has_on_start);
    cr_expect_not(a->has_on_stop);
    cr_assert_eq(a->ntasks, 2);
    cr_expect_eq(a->tasks[0].task, 2);
    cr_expect_str_eq(a->tasks[0].name, "POST /health");
    cr_expect_str_eq(a->tasks[1].name, "function at " CHUNK ":16");

    cr_expect_eq(plan.classes[2].wait.kind, SL_WAIT_PACING);
    cr_expect(plan.classes[2].wait.a_s == 2);
    cr_expect_eq(plan.classes[2].tasks[0].task, 3);
    cr_expect_eq(plan.classes[3].wait.kind, SL_WAIT_THROUGHPUT);
    cr_expect(plan.classes[3].wait.a_s == 4);
    cr_expect_eq(plan.classes[3].weight, 2);

    const sl_class_t *e = &plan.classes[4];
    cr_expect_str_eq(e->name, "endpoints");
    cr_expect_eq(e->lua_index, 5);
    cr_expect_eq(e->weight, 1);
    cr_expect_eq(e->wait.kind, SL_WAIT_NONE);
    cr_assert_eq(e->ntasks, 1);
    cr_expect_eq(e->tasks[0].task, 0);
    cr_expect_eq(e->tasks[0].lua_index, 1);
    cr_expect_str_eq(e->tasks[0].name, "GET /health");
    cr_assert_eq(e->tasks[0].ntags, 1);
    cr_expect_str_eq(e->tasks[0].tags[0], "smoke");
    sl_plan_dispose(&plan);
    cr_expect_null(plan.classes);
    cr_expect_null(plan.source);
}

Test(classes, endpoints_alone_have_no_classes)
{
    sl_plan_t plan;
    load_ok("endpoints = {Task{'GET', '/a', weight = 2}, Task{'GET', '/b'}}", &plan);
    cr_expect_eq(plan.nclasses, 0);
    cr_expect_eq(plan.nlua_classes, 0);
    cr_expect_null(plan.classes);
    cr_expect_eq(plan.ntasks, 2);
    cr_expect_eq(plan.total_weight, 3);
    sl_err_t err;
    lua_State *L = sl_scenario_state_new(&plan, &err);
    cr_assert_not_null(L, "%s", err.msg);
    cr_expect_eq(lua_gettop(L), 0);
    lua_close(L);
    sl_plan_dispose(&plan);
}

Test(classes, user_alone_is_enough)
{
    sl_plan_t plan;
    load_ok("User{tasks = {function(u) end}}", &plan);
    cr_expect_eq(plan.nclasses, 1);
    cr_expect_eq(plan.ntasks, 0);
    cr_expect_eq(plan.nrows, 0);
    cr_expect_str_eq(plan.classes[0].name, "User1");
    cr_expect_null(plan.host);
    sl_plan_dispose(&plan);
}

/* Runs a Lua check `function(c) return ... end` against the normalized class table. */
static void expect_class(lua_State *L, uint32_t lua_index, const char *check)
{
    int top = lua_gettop(L);
    char src[2048];
    snprintf(src, sizeof(src), "local c = ... ; return %s", check);
    cr_assert_eq(luaL_loadstring(L, src), LUA_OK, "%s", lua_tostring(L, -1));
    sl_scenario_push_class(L, lua_index);
    cr_assert_eq(lua_pcall(L, 1, 1, 0), LUA_OK, "%s", lua_tostring(L, -1));
    cr_expect(lua_toboolean(L, -1), "class %u: %s", lua_index, check);
    lua_settop(L, top);
}

/* The layout the runtime reads: exactly name, on_start, on_stop, tasks = {{fn}|{task}}. */
Test(classes, normalized_tables_in_a_worker_state)
{
    sl_plan_t plan;
    load_ok(shop, &plan);
    sl_err_t err;
    lua_State *L = sl_scenario_state_new(&plan, &err);
    cr_assert_not_null(L, "%s", err.msg);
    cr_expect_eq(lua_gettop(L), 0);
    luaL_openlibs(L);
    /* Only the documented keys. */
    static const char only_keys[] =
        "(function() for k, v in pairs(c) do "
        "  if k ~= 'name' and k ~= 'on_start' and k ~= 'on_stop' and k ~= 'tasks' then "
        "    return false end end "
        "  for i, t in ipairs(c.tasks) do for k in pairs(t) do "
        "    if k ~= 'fn' and k ~= 'task' then return false end end end "
        "  return #c.tasks > 0 end)()";
    for (uint32_t i = 1; i <= 5; i++)
        expect_class(L, i, only_keys);
    expect_class(L, 1,
                 "c.name == 'shopper' and type(c.on_start) == 'function' and "
                 "type(c.on_stop) == 'function' and #c.tasks == 3 and "
                 "type(c.tasks[1].task) == 'table' and c.tasks[1].fn == nil and "
                 "c.tasks[1].task.path == '/hello' and type(c.tasks[2].fn) == 'function' and "
                 "c.tasks[2].task == nil and type(c.tasks[3].fn) == 'function'");
    expect_class(L, 2,
                 "c.name == 'User2' and c.on_start == nil and c.on_stop == nil and "
                 "c.tasks[1].task.method == 'POST' and type(c.tasks[2].fn) == 'function'");
    expect_class(L, 5,
                 "c.name == 'endpoints' and #c.tasks == 1 and c.tasks[1].task.path == '/health'");
    expect_class(L, 6, "c == nil");
    /* The plan's lua_index values point at the same entries. */
    for (size_t i = 0; i < plan.nclasses; i++) {
        sl_scenario_push_class(L, plan.classes[i].lua_index);
        lua_getfield(L, -1, "name");
        cr_expect_str_eq(lua_tostring(L, -1), plan.classes[i].name);
        lua_settop(L, 0);
    }
    lua_close(L);
    sl_plan_dispose(&plan);
}

Test(classes, worker_state_runs_the_same_file)
{
    sl_plan_t plan;
    load_ok("counter = (counter or 0) + 1\n"
            "User{name = 'a', tasks = {function(u) return counter end}}\n",
            &plan);
    sl_err_t err;
    lua_State *L = sl_scenario_state_new(&plan, &err);
    cr_assert_not_null(L, "%s", err.msg);
    lua_getglobal(L, "counter");
    cr_expect_eq(lua_tointeger(L, -1), 1);
    lua_close(L);
    sl_plan_dispose(&plan);
}

/* A file that registers different classes on another run is caught. */
Test(classes, worker_state_must_match)
{
    sl_plan_t plan;
    unsetenv("SL_TEST_EXTRA");
    unsetenv("SL_TEST_NAME");
    load_ok("User{name = os.getenv('SL_TEST_NAME') or 'a', tasks = {function() end}}\n"
            "if os.getenv('SL_TEST_EXTRA') then User{tasks = {function() end}} end\n",
            &plan);
    sl_err_t err = {{0}};
    setenv("SL_TEST_EXTRA", "1", 1);
    cr_expect_null(sl_scenario_state_new(&plan, &err));
    cr_expect_str_eq(err.msg, CHUNK ": 2 classes on this load but 1 on the first (User{} calls "
                                    "must not depend on the run)");
    unsetenv("SL_TEST_EXTRA");
    setenv("SL_TEST_NAME", "b", 1);
    cr_expect_null(sl_scenario_state_new(&plan, &err));
    cr_expect_str_eq(err.msg, CHUNK ": class 'a' differs from the first load (User{} calls must "
                                    "not depend on the run)");
    unsetenv("SL_TEST_NAME");
    lua_State *L = sl_scenario_state_new(&plan, &err);
    cr_expect_not_null(L, "%s", err.msg);
    lua_close(L);
    sl_plan_dispose(&plan);
}

Test(classes, worker_state_reports_script_errors)
{
    sl_plan_t plan;
    unsetenv("SL_TEST_BOOM");
    load_ok("if os.getenv('SL_TEST_BOOM') then\n  error('boom')\nend\n"
            "User{tasks = {function() end}}\n",
            &plan);
    setenv("SL_TEST_BOOM", "1", 1);
    sl_err_t err = {{0}};
    cr_expect_null(sl_scenario_state_new(&plan, &err));
    cr_expect_str_eq(err.msg, CHUNK ":2: boom");
    unsetenv("SL_TEST_BOOM");
    sl_plan_dispose(&plan);
}

/* Source -> exact message, at the line of the User{} (or wait, or csv) call. */
static const struct {
    const char *src, *msg;
} errors[] = {
    {"User('x')", CHUNK ":1: User: expected a table, as in User{tasks = {...}}"},
    {"User{}", CHUNK ":1: User: tasks must be a non-empty list of tasks, as in tasks = "
                     "{Task{\"GET\", \"/\"}}"},
    {"User{tasks = {}}", CHUNK ":1: User: tasks must be a non-empty list of tasks, as in tasks = "
                               "{Task{\"GET\", \"/\"}}"},
    {"User{tasks = function() end}", CHUNK ":1: User: tasks must be a non-empty list of tasks, "
                                           "as in tasks = {Task{\"GET\", \"/\"}}"},
    {"User{tasks = {[1] = print, [3] = print}}",
     CHUNK ":1: User: tasks must be a non-empty list of tasks, as in tasks = "
           "{Task{\"GET\", \"/\"}}"},
    {"\nUser{tasks = {print}, nmae = 'x'}",
     CHUNK ":2: User: unknown field 'nmae' (expected name, weight, fixed_count, wait, on_start, "
           "on_stop, tasks, sequential, tags)"},
    {"User{{print}}", CHUNK ":1: User: unexpected positional value #1 (every field of User{} is "
                            "named)"},
    {"User{tasks = {print}, [true] = 1}", CHUNK ":1: User: unexpected boolean key"},
    {"User{tasks = {print}, name = 5}", CHUNK ":1: User: name must be a non-empty string"},
    {"User{tasks = {print}, name = ''}", CHUNK ":1: User: name must be a non-empty string"},
    {"User{tasks = {print}, name = 'a\\nb'}",
     CHUNK ":1: User: name must not contain control characters"},
    {"User{tasks = {print}, name = 'a'}\n\nUser{tasks = {print}, name = 'a'}",
     CHUNK ":3: User: a class named 'a' is already defined"},
    {"User{tasks = {print}}\nUser{tasks = {print}, name = 'User1'}",
     CHUNK ":2: User: a class named 'User1' is already defined"},
    {"User{tasks = {print}, weight = 0}", CHUNK ":1: User: weight must be a positive integer"},
    {"User{tasks = {print}, weight = 1.5}", CHUNK ":1: User: weight must be a positive integer"},
    {"User{tasks = {print}, weight = '2'}", CHUNK ":1: User: weight must be a positive integer"},
    {"User{tasks = {print}, fixed_count = -1}",
     CHUNK ":1: User: fixed_count must be a non-negative integer"},
    {"User{tasks = {print}, fixed_count = 2^40}",
     CHUNK ":1: User: fixed_count must be a non-negative integer"},
    {"User{tasks = {print}, wait = 1}", CHUNK ":1: User: wait must be between(a, b), constant(s), "
                                              "pacing(s) or throughput(per_s)"},
    {"User{tasks = {print}, wait = between}",
     CHUNK ":1: User: wait must be between(a, b), constant(s), pacing(s) or throughput(per_s)"},
    {"User{tasks = {print}, on_start = 1}", CHUNK ":1: User: on_start must be a function"},
    {"User{tasks = {print}, on_stop = {}}", CHUNK ":1: User: on_stop must be a function"},
    {"User{tasks = {print}, sequential = 1}", CHUNK ":1: User: sequential must be a boolean"},
    {"User{tasks = {print}, tags = 'smoke'}",
     CHUNK ":1: User: tags must be a list of words without spaces or commas, as in tags = "
           "{\"smoke\"}"},
    {"User{tasks = {print}, tags = {'a,b'}}",
     CHUNK ":1: User: tags must be a list of words without spaces or commas, as in tags = "
           "{\"smoke\"}"},
    {"User{tasks = {print}, tags = {x = 'a'}}",
     CHUNK ":1: User: tags must be a list of words without spaces or commas, as in tags = "
           "{\"smoke\"}"},
    {"User{tasks = {print}, tags = {''}}",
     CHUNK ":1: User: tags must be a list of words without spaces or commas, as in tags = "
           "{\"smoke\"}"},
    {"User{tasks = {print, 5}}",
     CHUNK ":1: User: tasks[2] must be a Task{...}, a function, or {function, weight = n}"},
    {"User{tasks = {{'GET', '/'}}}",
     CHUNK ":1: User: tasks[1]: [1] must be a function, as in {function(u) ... end, weight = 2}"},
    {"User{tasks = {{weight = 2}}}",
     CHUNK ":1: User: tasks[1]: [1] must be a function, as in {function(u) ... end, weight = 2}"},
    {"User{tasks = {{print, wieght = 2}}}",
     CHUNK ":1: User: tasks[1]: unknown field 'wieght' (expected [1] = function, weight, name, "
           "tags)"},
    {"User{tasks = {{print, print}}}",
     CHUNK ":1: User: tasks[1]: unexpected positional value #2 (only [1], the function, is "
           "positional)"},
    {"User{tasks = {{print, weight = 0}}}",
     CHUNK ":1: User: tasks[1]: weight must be a positive integer"},
    {"User{tasks = {{print, name = ''}}}",
     CHUNK ":1: User: tasks[1]: name must be a non-empty string"},
    {"User{tasks = {{print, tags = {1}}}}",
     CHUNK ":1: User: tasks[1]: tags must be a list of words without spaces or commas, as in "
           "tags = {\"smoke\"}"},
    {"User{tasks = {Task{'GET', '/', tags = {'a b'}}}}",
     CHUNK ":1: Task: tags must be a list of words without spaces or commas, as in tags = "
           "{\"smoke\"}"},
    {"endpoints = {Task{'GET', '/', tags = 'x'}}",
     CHUNK ":1: Task: tags must be a list of words without spaces or commas, as in tags = "
           "{\"smoke\"}"},
    /* Waits. */
    {"w = between(2, 1)", CHUNK ":1: between: expected two numbers of seconds with 0 <= a <= b "
                                "(at most 1000000), as in between(0.5, 2)"},
    {"w = between(-1, 1)", CHUNK ":1: between: expected two numbers of seconds with 0 <= a <= b "
                                 "(at most 1000000), as in between(0.5, 2)"},
    {"w = between(1)", CHUNK ":1: between: expected two numbers of seconds with 0 <= a <= b (at "
                             "most 1000000), as in between(0.5, 2)"},
    {"w = between(0, 1/0)", CHUNK ":1: between: expected two numbers of seconds with 0 <= a <= b "
                                  "(at most 1000000), as in between(0.5, 2)"},
    {"w = constant(-1)",
     CHUNK ":1: constant: expected a number of seconds >= 0 (at most 1000000), as in constant(1)"},
    {"w = constant('1')",
     CHUNK ":1: constant: expected a number of seconds >= 0 (at most 1000000), as in constant(1)"},
    {"w = pacing(0)",
     CHUNK ":1: pacing: expected a number of seconds > 0 (at most 1000000), as in pacing(2)"},
    {"w = throughput(0)", CHUNK ":1: throughput: expected iterations per second > 0 (at least "
                                "0.000001, at most 1000000), as in throughput(0.5)"},
    {"w = throughput(0/0)", CHUNK ":1: throughput: expected iterations per second > 0 (at least "
                                  "0.000001, at most 1000000), as in throughput(0.5)"},
    /* The file as a whole. */
    {"endpoints = {Task{'GET', '/'}}\nUser{name = 'endpoints', tasks = {print}}",
     CHUNK ": a User{} class is named 'endpoints', the name the endpoints list takes next to "
           "User{} classes"},
    {"User{tasks = {print}}\nendpoints = {}", CHUNK ": 'endpoints' is empty"},
    {"User{tasks = {print}}\nendpoints = {5}", CHUNK ": endpoints[1] is not a Task{...}"},
    {"x = 1", CHUNK ": 'endpoints' is not defined"},
    /* csv(). */
    {"local users = csv()", CHUNK ":1: csv: expected a file name, as in csv(\"users.csv\")"},
    {"\nlocal users = csv('/nonexistent/users.csv')",
     CHUNK ":2: csv: cannot open '/nonexistent/users.csv': No such file or directory"},
    {"local users = csv('/')", CHUNK ":1: csv: cannot read '/': Is a directory"},
    {"local users = csv('/dev/null')",
     CHUNK ":1: csv: cannot read '/dev/null': not a regular file"},
};

Test(classes, errors)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        sl_plan_t plan;
        sl_err_t err;
        int rc = load(errors[i].src, &plan, &err);
        cr_expect_eq(rc, SL_EINVAL, "case %zu: rc %d", i, rc);
        cr_expect_str_eq(err.msg, errors[i].msg, "case %zu", i);
        cr_expect_null(plan.classes, "case %zu", i);
        cr_expect_null(plan.source, "case %zu", i);
    }
}

Test(classes, wait_values_are_opaque)
{
    sl_plan_t plan;
    load_ok("local w = between(1, 2)\n"
            "assert(type(w) == 'userdata' and getmetatable(w) == 'wait')\n"
            "assert(tostring(w) == 'between(1.0, 2.0)', tostring(w))\n"
            "assert(tostring(constant(0)) == 'constant(0.0)')\n"
            "assert(not pcall(setmetatable, w, {}))\n"
            "User{wait = w, tasks = {print}}\n",
            &plan);
    cr_expect_eq(plan.classes[0].wait.kind, SL_WAIT_BETWEEN);
    sl_plan_dispose(&plan);
}

static const char tagged_endpoints[] =
    "endpoints = {\n"
    "  Task{'GET', '/a', tags = {'smoke'}},\n"
    "  Task{'GET', '/b', weight = 2, tags = {'slow'}},\n"
    "  Task{'GET', '/c', weight = 3},\n"
    "  Task{'GET', '/d', weight = 4, tags = {'smoke', 'slow'}},\n"
    "}\n";

Test(classes, filter_endpoints)
{
    sl_plan_t plan;
    sl_err_t err;
    load_ok(tagged_endpoints, &plan);
    cr_assert_eq(sl_plan_filter_tags(&plan, "smoke", NULL, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plan.ntasks, 2);
    cr_expect_str_eq(plan.tasks[0].path, "/a");
    cr_expect_str_eq(plan.tasks[1].path, "/d");
    cr_expect_eq(plan.total_weight, 5);
    /* Rows of removed tasks go too, and the others are renumbered. */
    cr_assert_eq(plan.nrows, 2);
    cr_expect_str_eq(row_name(&plan, 0), "/a");
    cr_expect_str_eq(row_name(&plan, 1), "/d");
    cr_expect_eq(plan.tasks[0].row, 0);
    cr_expect_eq(plan.tasks[1].row, 1);
    sl_plan_dispose(&plan);

    load_ok(tagged_endpoints, &plan);
    cr_assert_eq(sl_plan_filter_tags(&plan, NULL, "slow", &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plan.ntasks, 2);
    cr_expect_str_eq(plan.tasks[0].path, "/a");
    cr_expect_str_eq(plan.tasks[1].path, "/c");
    cr_expect_eq(plan.total_weight, 4);
    sl_plan_dispose(&plan);

    load_ok(tagged_endpoints, &plan);
    cr_assert_eq(sl_plan_filter_tags(&plan, " smoke , slow ", "smoke", &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plan.ntasks, 1);
    cr_expect_str_eq(plan.tasks[0].path, "/b");
    cr_expect_eq(plan.tasks[0].row, 0);
    cr_expect_eq(plan.total_weight, 2);
    sl_plan_dispose(&plan);

    /* Neither list given (or only empty words): nothing changes. */
    load_ok(tagged_endpoints, &plan);
    cr_assert_eq(sl_plan_filter_tags(&plan, "", ",", &err), SL_OK);
    cr_expect_eq(plan.ntasks, 4);
    cr_expect_eq(plan.total_weight, 10);

    /* Nothing left: an error, and the plan as it was. */
    cr_expect_eq(sl_plan_filter_tags(&plan, "nope", NULL, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "no task matches --tags/--exclude-tags");
    cr_expect_eq(sl_plan_filter_tags(&plan, "smoke", "smoke,x", &err), SL_EINVAL);
    cr_expect_eq(sl_plan_filter_tags(&plan, "smok", NULL, &err), SL_EINVAL);
    cr_expect_eq(plan.ntasks, 4);
    cr_expect_eq(plan.nrows, 4);
    sl_plan_dispose(&plan);
}

Test(classes, filter_classes)
{
    sl_plan_t plan;
    sl_err_t err;
    load_ok(shop, &plan);
    /* smoke: shopper's GET /hello (own tag) and the endpoints' /health; User2, pacer and tp
     * have no smoke task and go. */
    cr_assert_eq(sl_plan_filter_tags(&plan, "smoke", NULL, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plan.nclasses, 2);
    cr_expect_eq(plan.nlua_classes, 5);
    const sl_class_t *s = &plan.classes[0];
    cr_expect_str_eq(s->name, "shopper");
    cr_expect_eq(s->lua_index, 1);
    cr_assert_eq(s->ntasks, 1);
    cr_expect_eq(s->tasks[0].lua_index, 1);
    cr_expect_eq(s->total_weight, 5);
    const sl_class_t *e = &plan.classes[1];
    cr_expect_str_eq(e->name, "endpoints");
    cr_expect_eq(e->lua_index, 5);
    /* plan.tasks keeps the two Task{}s still used, renumbered. */
    cr_assert_eq(plan.ntasks, 2);
    cr_expect_str_eq(plan.tasks[0].path, "/health");
    cr_expect_str_eq(plan.tasks[1].path, "/hello");
    cr_expect_eq(e->tasks[0].task, 0);
    cr_expect_eq(s->tasks[0].task, 1);
    cr_expect_eq(plan.nrows, 2);

    /* The filtered plan still matches a worker's state (it checks by lua_index). */
    lua_State *L = sl_scenario_state_new(&plan, &err);
    cr_assert_not_null(L, "%s", err.msg);
    lua_close(L);
    sl_plan_dispose(&plan);

    /* A class tag reaches every task of the class; exclusion wins. */
    load_ok(shop, &plan);
    cr_assert_eq(sl_plan_filter_tags(&plan, "shop", "buy", &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plan.nclasses, 1);
    cr_assert_eq(plan.classes[0].ntasks, 2);
    cr_expect_eq(plan.classes[0].tasks[0].lua_index, 1);
    cr_expect_eq(plan.classes[0].tasks[1].lua_index, 3);
    cr_expect_eq(plan.classes[0].total_weight, 6);
    sl_plan_dispose(&plan);

    /* Excluding only: untagged tasks stay. */
    load_ok(shop, &plan);
    cr_assert_eq(sl_plan_filter_tags(&plan, NULL, "shop,smoke", &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plan.nclasses, 3);
    cr_expect_str_eq(plan.classes[0].name, "User2");
    cr_expect_str_eq(plan.classes[1].name, "pacer");
    cr_expect_str_eq(plan.classes[2].name, "tp");
    cr_assert_eq(plan.ntasks, 2);
    cr_expect_str_eq(plan.tasks[0].path, "/admin");
    cr_expect_str_eq(plan.tasks[1].path, "/hello");
    cr_expect_eq(plan.classes[0].tasks[0].task, 0);
    cr_expect_eq(plan.classes[1].tasks[0].task, 1);
    /* Rows: GET /hello and POST /health remain, renumbered in their order. */
    cr_assert_eq(plan.nrows, 2);
    cr_expect_str_eq(row_method(&plan, 0), "GET");
    cr_expect_str_eq(row_method(&plan, 1), "POST");
    cr_expect_eq(plan.tasks[0].row, 1);
    cr_expect_eq(plan.tasks[1].row, 0);

    cr_expect_eq(sl_plan_filter_tags(&plan, "nothing", NULL, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "no task matches --tags/--exclude-tags");
    cr_expect_eq(plan.nclasses, 3);
    sl_plan_dispose(&plan);
}

/* A plan with the given weights (0 = use the fixed count instead). */
static void classes_plan(sl_plan_t *plan, const uint32_t *weights, const uint32_t *fixed, size_t n)
{
    char src[4096];
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(src + o, sizeof(src) - o,
                              "User{weight = %u, fixed_count = %u, tasks = {print}}\n",
                              weights[i] ? weights[i] : 1, fixed ? fixed[i] : 0);
    load_ok(src, plan);
}

static void expect_division(const uint32_t *weights, const uint32_t *fixed, size_t n,
                            uint32_t users, const uint32_t *want)
{
    sl_plan_t plan;
    classes_plan(&plan, weights, fixed, n);
    uint16_t *order = calloc(users ? users : 1, sizeof(*order));
    uint32_t counts[16];
    sl_err_t err;
    cr_assert_eq(sl_plan_assign_users(&plan, users, order, counts, &err), SL_OK, "%s", err.msg);
    uint32_t seen[16] = {0};
    for (uint32_t u = 0; u < users; u++) {
        cr_assert_lt(order[u], n);
        seen[order[u]]++;
    }
    for (size_t c = 0; c < n; c++) {
        cr_expect_eq(counts[c], want[c], "%u users, class %zu: %u, want %u", users, c, counts[c],
                     want[c]);
        cr_expect_eq(seen[c], want[c], "%u users, class %zu in the order", users, c);
    }
    /* Every prefix of the spawn order holds each class within one user of its share. */
    uint32_t so_far[16] = {0};
    for (uint32_t p = 1; p <= users; p++) {
        so_far[order[p - 1]]++;
        for (size_t c = 0; c < n; c++) {
            double ideal = (double)p * want[c] / users;
            cr_assert_leq(so_far[c], ideal + 1.0, "prefix %u class %zu", p, c);
            cr_assert_geq(so_far[c] + 1.0, ideal, "prefix %u class %zu", p, c);
        }
    }
    free(order);
    sl_plan_dispose(&plan);
}

Test(classes, divide_by_weight_exactly)
{
    expect_division((uint32_t[]){3, 1}, NULL, 2, 40, (uint32_t[]){30, 10});
    expect_division((uint32_t[]){1, 1, 1}, NULL, 3, 10, (uint32_t[]){4, 3, 3});
    expect_division((uint32_t[]){1, 1, 1}, NULL, 3, 11, (uint32_t[]){4, 4, 3});
    expect_division((uint32_t[]){1, 1, 1}, NULL, 3, 2, (uint32_t[]){1, 1, 0});
    expect_division((uint32_t[]){1, 2, 3}, NULL, 3, 1, (uint32_t[]){0, 0, 1});
    expect_division((uint32_t[]){1, 2, 3}, NULL, 3, 7, (uint32_t[]){1, 2, 4});
    expect_division((uint32_t[]){5, 3, 2}, NULL, 3, 9, (uint32_t[]){4, 3, 2});
    expect_division((uint32_t[]){1}, NULL, 1, 5, (uint32_t[]){5});
    expect_division((uint32_t[]){7, 13}, NULL, 2, 1000, (uint32_t[]){350, 650});
    expect_division((uint32_t[]){1, 1}, NULL, 2, 0, (uint32_t[]){0, 0});
}

Test(classes, divide_with_fixed_counts)
{
    /* Fixed counts first, the rest 3:1 (38 -> 28.5 : 9.5, the tie to the earlier class). */
    expect_division((uint32_t[]){3, 0, 1}, (uint32_t[]){0, 2, 0}, 3, 40, (uint32_t[]){29, 2, 9});
    expect_division((uint32_t[]){0, 1}, (uint32_t[]){5, 0}, 2, 5, (uint32_t[]){5, 0});
    expect_division((uint32_t[]){0, 0}, (uint32_t[]){1, 2}, 2, 3, (uint32_t[]){1, 2});

    sl_plan_t plan;
    classes_plan(&plan, (uint32_t[]){0, 0, 1}, (uint32_t[]){7, 5, 0}, 3);
    uint16_t order[20];
    uint32_t counts[3];
    sl_err_t err;
    cr_expect_eq(sl_plan_assign_users(&plan, 10, order, counts, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg,
                     "--users: the User{} classes' fixed_count add up to 12, more than the 10 "
                     "users");
    sl_plan_dispose(&plan);

    classes_plan(&plan, (uint32_t[]){0, 0}, (uint32_t[]){4, 6}, 2);
    cr_expect_eq(sl_plan_assign_users(&plan, 12, order, counts, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "--users: 12 users, but the User{} classes all have a fixed_count, "
                              "adding up to 10");
    sl_plan_dispose(&plan);

    load_ok("endpoints = {Task{'GET', '/'}}", &plan);
    cr_expect_eq(sl_plan_assign_users(&plan, 1, order, counts, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "the plan has no User{} classes");
    sl_plan_dispose(&plan);
}

Test(classes, spawn_order_is_interleaved)
{
    sl_plan_t plan;
    classes_plan(&plan, (uint32_t[]){3, 1}, NULL, 2);
    uint16_t order[8];
    uint32_t counts[2];
    sl_err_t err;
    cr_assert_eq(sl_plan_assign_users(&plan, 8, order, counts, &err), SL_OK);
    /* Ideal positions: class 0 at 1/12, 3/12, 5/12, ...; class 1 at 1/4, 3/4. */
    static const uint16_t want[8] = {0, 0, 1, 0, 0, 0, 1, 0};
    for (int i = 0; i < 8; i++)
        cr_expect_eq(order[i], want[i], "user %d", i);
    sl_plan_dispose(&plan);

    classes_plan(&plan, (uint32_t[]){1, 1, 1}, NULL, 3);
    uint16_t order3[6];
    uint32_t counts3[3];
    cr_assert_eq(sl_plan_assign_users(&plan, 6, order3, counts3, &err), SL_OK);
    static const uint16_t want3[6] = {0, 1, 2, 0, 1, 2};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(order3[i], want3[i], "user %d", i);
    sl_plan_dispose(&plan);
}

Test(classes, many_users_and_classes)
{
    /* Large numbers stay exact and fast (the order is built with a heap). */
    sl_plan_t plan;
    char *src = malloc(200 * 64);
    size_t o = 0;
    for (int i = 0; i < 200; i++)
        o += (size_t)sprintf(src + o, "User{weight = %d, tasks = {print}}\n", i + 1);
    load_ok(src, &plan);
    free(src);
    uint32_t users = 1000000;
    uint16_t *order = malloc(users * sizeof(*order));
    uint32_t counts[200];
    sl_err_t err;
    cr_assert_eq(sl_plan_assign_users(&plan, users, order, counts, &err), SL_OK);
    uint64_t total = 0;
    for (int c = 0; c < 200; c++) {
        /* Total weight 20100: class c gets floor or ceil of its share. */
        double share = (double)users * (c + 1) / 20100.0;
        cr_expect(counts[c] >= (uint32_t)share && counts[c] <= (uint32_t)share + 1, "class %d", c);
        total += counts[c];
    }
    cr_expect_eq(total, users);
    free(order);
    sl_plan_dispose(&plan);
}

static char *list_of(const sl_plan_t *plan)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    sl_plan_list(plan, f);
    fclose(f);
    return buf;
}

Test(classes, list)
{
    sl_plan_t plan;
    load_ok(shop, &plan);
    char *out = list_of(&plan);
    static const char *const needles[] = {
        "shopper: weight 3 (42.9% of the users), wait between(0.5, 1.5), on_start, on_stop\n",
        "       5   62.5%  GET /hello",
        "shop,smoke,read\n",
        "       2   25.0%  checkout",
        "function at " CHUNK ":9",
        "User2: fixed_count 2, wait constant(5), sequential\n",
        "       1          POST /health",
        "       2          function at " CHUNK ":16",
        "pacer: weight 1 (14.3% of the users), wait pacing(2)\n",
        "tp: weight 2 (28.6% of the users), wait throughput(4)\n",
        "endpoints: weight 1 (14.3% of the users), wait none\n",
        "       1  100.0%  GET /health",
    };
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        cr_expect(strstr(out, needles[i]), "missing '%s' in:\n%s", needles[i], out);
    free(out);
    sl_plan_dispose(&plan);

    load_ok(tagged_endpoints, &plan);
    out = list_of(&plan);
    cr_expect(strstr(out, "endpoints: 4 tasks, each user picks one at random by weight\n"), "%s",
              out);
    cr_expect(strstr(out, "       4   40.0%  GET /d"), "%s", out);
    cr_expect(strstr(out, "smoke,slow\n"), "%s", out);
    free(out);
    sl_plan_dispose(&plan);
}

static const struct {
    const char *text;
    size_t nrows, ncols;
    const char *cells[6]; /* header, then the rows, left to right */
} csv_ok[] = {
    {"user,password\nu1,p1\nu2,p2\n", 2, 2, {"user", "password", "u1", "p1", "u2", "p2"}},
    {"user,password\r\nu1,p1\r\nu2,p2", 2, 2, {"user", "password", "u1", "p1", "u2", "p2"}},
    {"a,b\n\"x, y\",\"say \"\"hi\"\"\"\n", 1, 2, {"a", "b", "x, y", "say \"hi\""}},
    {"a,b\n\"two\r\nlines\",\"\"\n", 1, 2, {"a", "b", "two\r\nlines", ""}},
    {"\xEF\xBB\xBFname\n\nbob\n\n\nann\n", 2, 1, {"name", "bob", "ann"}},
    {"a,b,c\n1,,\n", 1, 3, {"a", "b", "c", "1", "", ""}},
    {"a\nsay \"hi\"\n", 1, 1, {"a", "say \"hi\""}},
};

Test(csvdata, parse)
{
    for (size_t i = 0; i < sizeof(csv_ok) / sizeof(csv_ok[0]); i++) {
        sl_csvdata_t *csv;
        sl_err_t err;
        int rc = sl_csvdata_parse(csv_ok[i].text, strlen(csv_ok[i].text), "t.csv", &csv, &err);
        cr_assert_eq(rc, SL_OK, "case %zu: %s", i, err.msg);
        cr_expect_eq(sl_csvdata_nrows(csv), csv_ok[i].nrows, "case %zu", i);
        cr_assert_eq(sl_csvdata_ncols(csv), csv_ok[i].ncols, "case %zu", i);
        size_t k = 0, len;
        for (size_t c = 0; c < csv_ok[i].ncols; c++) {
            const char *h = sl_csvdata_header(csv, c, &len);
            cr_expect_eq(len, strlen(csv_ok[i].cells[k]), "case %zu header %zu", i, c);
            cr_expect_str_eq(h, csv_ok[i].cells[k++], "case %zu", i);
        }
        for (size_t r = 0; r < csv_ok[i].nrows; r++) {
            for (size_t c = 0; c < csv_ok[i].ncols; c++) {
                const char *f = sl_csvdata_field(csv, r, c, &len);
                cr_expect_eq(len, strlen(csv_ok[i].cells[k]), "case %zu (%zu, %zu)", i, r, c);
                cr_expect_str_eq(f, csv_ok[i].cells[k++], "case %zu (%zu, %zu)", i, r, c);
            }
        }
        sl_csvdata_free(csv);
    }
}

static const struct {
    const char *text, *msg;
} csv_bad[] = {
    {"", "'t.csv' is empty"},
    {"\n\r\n\n", "'t.csv' is empty"},
    {"\xEF\xBB\xBF", "'t.csv' is empty"},
    {"a,b\n", "'t.csv' has a header but no rows"},
    {"a,b\n1,2\n\"3,4\n", "'t.csv' line 3: unterminated quoted field"},
    {"a,b\n\"1\"x,2\n", "'t.csv' line 2: unexpected character after a closing quote"},
    {"a,b\n1,2\n3\n", "'t.csv' line 3: 1 field, but the header has 2"},
    {"a,b\n\"multi\nline\",2\n1,2,3\n", "'t.csv' line 4: 3 fields, but the header has 2"},
    {"a,,c\n1,2,3\n", "'t.csv' line 1: column 2 has an empty name"},
    {"a,b,a\n1,2,3\n", "'t.csv' line 1: column 'a' appears twice"},
    {"a,b\n\"x\"\r\n", "'t.csv' line 2: 1 field, but the header has 2"},
};

Test(csvdata, parse_errors)
{
    for (size_t i = 0; i < sizeof(csv_bad) / sizeof(csv_bad[0]); i++) {
        sl_csvdata_t *csv = (sl_csvdata_t *)1;
        sl_err_t err = {{0}};
        cr_expect_eq(
            sl_csvdata_parse(csv_bad[i].text, strlen(csv_bad[i].text), "t.csv", &csv, &err),
            SL_EINVAL, "case %zu", i);
        cr_expect_null(csv, "case %zu", i);
        cr_expect_str_eq(err.msg, csv_bad[i].msg, "case %zu", i);
    }
}

Test(csvdata, round_robin_wraps)
{
    sl_csvdata_t *csv;
    sl_err_t err;
    cr_assert_eq(sl_csvdata_parse("n\n0\n1\n2\n", 8, "t.csv", &csv, &err), SL_OK);
    for (size_t i = 0; i < 10; i++)
        cr_expect_eq(sl_csvdata_next(csv), i % 3);
    sl_csvdata_free(csv);
}

/* A directory with a scenario file and a CSV file in it. */
struct fixture {
    char dir[64];
    char scenario[128];
    char csv[128];
};

static void make_fixture(struct fixture *fx, const char *scenario, const char *csv_name,
                         const char *csv)
{
    strcpy(fx->dir, "/tmp/sl_test_classes_XXXXXX");
    cr_assert_not_null(mkdtemp(fx->dir));
    snprintf(fx->scenario, sizeof(fx->scenario), "%s/scenario.lua", fx->dir);
    snprintf(fx->csv, sizeof(fx->csv), "%s/%s", fx->dir, csv_name);
    FILE *f = fopen(fx->scenario, "w");
    cr_assert_not_null(f);
    fputs(scenario, f);
    fclose(f);
    f = fopen(fx->csv, "w");
    cr_assert_not_null(f);
    fputs(csv, f);
    fclose(f);
}

static void remove_fixture(struct fixture *fx)
{
    unlink(fx->scenario);
    unlink(fx->csv);
    rmdir(fx->dir);
}

/* Calls the global function `name` in L and returns its string result (static buffer). */
static const char *call(lua_State *L, const char *name)
{
    static char buf[256];
    lua_getglobal(L, name);
    cr_assert_eq(lua_pcall(L, 0, 1, 0), LUA_OK, "%s", lua_tostring(L, -1));
    snprintf(buf, sizeof(buf), "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return buf;
}

static const char csv_scenario[] =
    "local users = csv('users.csv')\n"
    "assert(#users == 3, 'rows')\n"
    "local first = users()\n" /* every load takes a row: the position is shared */
    "assert(first.user and first.password, 'a row')\n"
    "function take() local r = users:next() return r.user end\n"
    "User{tasks = {function() end}}\n";

Test(csvdata, csv_next_to_the_scenario_and_shared_by_states)
{
    struct fixture fx;
    make_fixture(&fx, csv_scenario, "users.csv", "user,password\nu1,p 1\nu2,p2\nu3,\"p,3\"\n");
    /* The working directory is elsewhere: the file is found next to the scenario. */
    cr_assert_eq(chdir("/"), 0);
    sl_plan_t plan;
    sl_err_t err;
    cr_assert_eq(sl_scenario_load(fx.scenario, &plan, &err), SL_OK, "%s", err.msg);
    /* The file is read once: changing it now changes nothing. */
    FILE *f = fopen(fx.csv, "w");
    fputs("other\nx\n", f);
    fclose(f);

    lua_State *a = sl_scenario_state_new(&plan, &err);
    cr_assert_not_null(a, "%s", err.msg);
    lua_State *b = sl_scenario_state_new(&plan, &err);
    cr_assert_not_null(b, "%s", err.msg);
    /* The three loads took u1, u2 and u3; the position is shared and wraps. */
    cr_expect_str_eq(call(a, "take"), "u1");
    cr_expect_str_eq(call(b, "take"), "u2");
    cr_expect_str_eq(call(a, "take"), "u3");
    cr_expect_str_eq(call(a, "take"), "u1");
    lua_close(a);
    lua_close(b);
    sl_plan_dispose(&plan);
    remove_fixture(&fx);
}

Test(csvdata, csv_in_the_working_directory)
{
    struct fixture fx;
    make_fixture(&fx, "local d = csv('data.csv')()\nassert(d.k == 'v')\nUser{tasks = {print}}\n",
                 "data.csv", "k\nv\n");
    char here[64];
    strcpy(here, "/tmp/sl_test_classes_cwd_XXXXXX");
    cr_assert_not_null(mkdtemp(here));
    char other[160];
    snprintf(other, sizeof(other), "%s/scenario.lua", here);
    cr_assert_eq(rename(fx.scenario, other), 0);
    /* The scenario is now in `here`, the CSV in fx.dir, which is the working directory. */
    cr_assert_eq(chdir(fx.dir), 0);
    sl_plan_t plan;
    sl_err_t err;
    cr_expect_eq(sl_scenario_load(other, &plan, &err), SL_OK, "%s", err.msg);
    sl_plan_dispose(&plan);

    /* Missing in both places: the message names the path as written. */
    cr_assert_eq(chdir("/"), 0);
    cr_expect_eq(sl_scenario_load(other, &plan, &err), SL_EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "%s:1: csv: cannot open 'data.csv': No such file or directory",
             other);
    cr_expect_str_eq(err.msg, want);
    unlink(other);
    rmdir(here);
    remove_fixture(&fx);
}

Test(csvdata, csv_empty_file)
{
    struct fixture fx;
    make_fixture(&fx, "\nlocal d = csv('empty.csv')\n", "empty.csv", "");
    sl_plan_t plan;
    sl_err_t err;
    cr_expect_eq(sl_scenario_load(fx.scenario, &plan, &err), SL_EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "%s:2: csv: 'empty.csv' is empty", fx.scenario);
    cr_expect_str_eq(err.msg, want);
    remove_fixture(&fx);
}

struct taker {
    const sl_plan_t *plan;
    int counts[4];
    bool ok;
};

static void *take_many(void *arg)
{
    struct taker *t = arg;
    sl_err_t err;
    lua_State *L = sl_scenario_state_new(t->plan, &err);
    if (!L)
        return NULL;
    for (int i = 0; i < 3000; i++) {
        lua_getglobal(L, "take");
        if (lua_pcall(L, 0, 1, 0) != LUA_OK)
            break;
        const char *u = lua_tostring(L, -1);
        if (u && u[0] == 'u' && u[1] >= '1' && u[1] <= '3')
            t->counts[u[1] - '0']++;
        lua_pop(L, 1);
    }
    lua_close(L);
    t->ok = true;
    return NULL;
}

/* Worker threads build their states at once and share one position without losing rows. */
Test(csvdata, shared_across_threads)
{
    struct fixture fx;
    make_fixture(&fx, csv_scenario, "users.csv", "user,password\nu1,p 1\nu2,p2\nu3,p3\n");
    sl_plan_t plan;
    sl_err_t err;
    cr_assert_eq(sl_scenario_load(fx.scenario, &plan, &err), SL_OK, "%s", err.msg);
    struct taker takers[4];
    pthread_t th[4];
    memset(takers, 0, sizeof(takers));
    for (int i = 0; i < 4; i++) {
        takers[i].plan = &plan;
        cr_assert_eq(pthread_create(&th[i], NULL, take_many, &takers[i]), 0);
    }
    int total[4] = {0};
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect(takers[i].ok);
        for (int k = 1; k <= 3; k++)
            total[k] += takers[i].counts[k];
    }
    /* 1 (the main load) + 4 (the states' loads) + 12000 takes = 12005 = 3 * 4001 + 2 rows
     * handed out: u1 and u2 4002 times, u3 4001 times, none lost or repeated. The five
     * loads took some of them, u1 first. */
    cr_expect_eq(total[1] + total[2] + total[3], 12000);
    cr_expect(total[1] >= 3997 && total[1] <= 4001, "u1: %d", total[1]);
    cr_expect(total[2] >= 3998 && total[2] <= 4002, "u2: %d", total[2]);
    cr_expect(total[3] >= 3997 && total[3] <= 4001, "u3: %d", total[3]);
    sl_plan_dispose(&plan);
    remove_fixture(&fx);
}
