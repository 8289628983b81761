/* Load shapes from the scenario file (src/scenario/shape.c): `stages = {...}` read in both
 * forms, `shape(t)` called for its users and spawn rate, nil ending the test, bad values
 * and errors reported with the file's line, and an endless loop stopped by the budget. */
#include <criterion/criterion.h>
#include <string.h>

#include "scenario/scenario.h"
#include "scenario/shape.h"

typedef struct opened {
    sl_plan_t plan;
    sl_stages_t stages;
    bool has_stages;
    sl_shape_t *sh;
    sl_err_t err;
} opened_t;

/* Loads body as "t.lua" after one line of endpoints (so the body starts at line 2) and
 * opens its stages and shape. */
static void open_src(opened_t *o, const char *body)
{
    static char src[4096];
    snprintf(src, sizeof(src), "endpoints = { Task{\"GET\", \"/\"} }\n%s", body);
    memset(o, 0, sizeof(*o));
    cr_assert_eq(sl_scenario_load_string(src, strlen(src), "t.lua", &o->plan, &o->err), 0, "%s",
                 o->err.msg);
    o->sh = sl_shape_open(&o->plan, &o->stages, &o->has_stages, &o->err);
}

static void close_src(opened_t *o)
{
    sl_shape_free(o->sh);
    sl_plan_dispose(&o->plan);
}

Test(shape, neither_stages_nor_shape)
{
    opened_t o;
    open_src(&o, "");
    cr_assert_null(o.sh);
    cr_assert_not(o.has_stages);
    cr_assert_str_empty(o.err.msg);
    close_src(&o);
}

Test(shape, stages_in_both_forms)
{
    opened_t o;
    open_src(&o, "stages = { {\"30s\", 10}, {duration = \"1m\", target = 20}, {1.5, 0} }\n");
    cr_assert_null(o.sh, "no shape function");
    cr_assert_str_empty(o.err.msg);
    cr_assert(o.has_stages);
    cr_assert_eq(o.stages.n, 3);
    cr_assert_eq(o.stages.stage[0].duration_us, 30 * SL_US_PER_S);
    cr_assert_eq(o.stages.stage[0].target, 10.0);
    cr_assert_eq(o.stages.stage[1].duration_us, 60 * SL_US_PER_S);
    cr_assert_eq(o.stages.stage[1].target, 20.0);
    cr_assert_eq(o.stages.stage[2].duration_us, 1500 * SL_US_PER_MS, "a number is seconds");
    cr_assert_eq(o.stages.stage[2].target, 0.0);
    close_src(&o);
}

Test(shape, bad_stages_name_the_entry)
{
    static const struct {
        const char *body;
        const char *msg;
    } cases[] = {
        {"stages = 5\n", "t.lua: 'stages' must be a list of {duration, target}"},
        {"stages = {}\n", "t.lua: 'stages' must have 1 to 256 entries"},
        {"stages = { {\"1s\", 1}, 7 }\n", "t.lua: stages[2] must be a table"},
        {"stages = { {\"0s\", 1} }\n", "t.lua: stages[1]: the duration must be"},
        {"stages = { {-1, 1} }\n", "t.lua: stages[1]: the duration must be"},
        {"stages = { {\"1s\", -2} }\n", "t.lua: stages[1]: the target must be a number >= 0"},
        {"stages = { {\"1s\", 1}, {\"1s\", \"x\"} }\n", "t.lua: stages[2]: the target must"},
        {"shape = 3\n", "t.lua: 'shape' must be a function(t)"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        opened_t o;
        open_src(&o, cases[i].body);
        cr_expect_null(o.sh, "%s", cases[i].body);
        cr_expect(strstr(o.err.msg, cases[i].msg) != NULL, "%s: message '%s', wanted '%s'",
                  cases[i].body, o.err.msg, cases[i].msg);
        close_src(&o);
    }
}

Test(shape, values_over_time_and_nil_ends)
{
    opened_t o;
    open_src(&o, "stages = { {\"10s\", 5} }\n"
                 "function shape(t)\n"
                 "  if t < 10 then return 4, 2 end\n"
                 "  if t < 20 then return t, 0.5 end\n"
                 "  if t < 30 then return 3 end\n"
                 "  return nil\n"
                 "end\n");
    cr_assert_not_null(o.sh, "%s", o.err.msg);
    cr_assert(o.has_stages, "stages and shape are read in the same load");
    static const struct {
        double t;
        int rc;
        double users, rate;
    } cases[] = {
        {0, 1, 4, 2},  {9.5, 1, 4, 2},  {10, 1, 10, 0.5}, {17, 1, 17, 0.5},
        {25, 1, 3, 0}, {30, 0, -1, -1}, {1e6, 0, -1, -1},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        double users = -1, rate = -1;
        sl_err_t err = {{0}};
        int rc = sl_shape_call(o.sh, cases[i].t, &users, &rate, &err);
        cr_expect_eq(rc, cases[i].rc, "shape(%g): %d (%s)", cases[i].t, rc, err.msg);
        cr_expect_eq(users, cases[i].users, "shape(%g) users %g", cases[i].t, users);
        cr_expect_eq(rate, cases[i].rate, "shape(%g) spawn rate %g", cases[i].t, rate);
    }
    close_src(&o);
}

Test(shape, errors_and_nonsense_are_reported)
{
    opened_t o;
    open_src(&o, "function shape(t)\n"
                 "  if t == 1 then error('boom') end\n"
                 "  if t == 2 then return -1, 1 end\n"
                 "  if t == 3 then return 'many', 1 end\n"
                 "  if t == 4 then return 1, -5 end\n"
                 "  if t == 5 then return 2e7, 1 end\n"
                 "  if t == 6 then return 0/0, 1 end\n"
                 "  return 1, 1\n"
                 "end\n");
    cr_assert_not_null(o.sh, "%s", o.err.msg);
    static const struct {
        double t;
        const char *msg;
    } cases[] = {
        {1, "shape: t.lua:3: boom"},
        {2, "shape(2) must return users >= 0 and a spawn rate >= 0, or nil"},
        {3, "shape(3) must return users"},
        {4, "shape(4) must return users"},
        {5, "shape(5) must return users"},
        {6, "shape(6) must return users"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        double users = 0, rate = 0;
        sl_err_t err = {{0}};
        cr_expect_eq(sl_shape_call(o.sh, cases[i].t, &users, &rate, &err), -1, "shape(%g)",
                     cases[i].t);
        cr_expect(strstr(err.msg, cases[i].msg) != NULL, "shape(%g): '%s', wanted '%s'", cases[i].t,
                  err.msg, cases[i].msg);
    }
    /* A failed call leaves the shape usable. */
    double users = 0, rate = 0;
    sl_err_t err = {{0}};
    cr_expect_eq(sl_shape_call(o.sh, 7, &users, &rate, &err), 1, "%s", err.msg);
    cr_expect_eq(users, 1.0);
    cr_expect_eq(rate, 1.0);
    close_src(&o);
}

Test(shape, an_endless_loop_runs_out_of_budget)
{
    opened_t o;
    /* The pcall inside must not catch the budget's error and carry on. */
    open_src(&o, "function shape(t)\n"
                 "  if t > 0 then\n"
                 "    while true do pcall(function() while true do end end) end\n"
                 "  end\n"
                 "  local n = 0\n"
                 "  for i = 1, 100000 do n = n + 1 end\n"
                 "  return n / 10000, 1\n"
                 "end\n");
    cr_assert_not_null(o.sh, "%s", o.err.msg);
    double users = 0, rate = 0;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_shape_call(o.sh, 0, &users, &rate, &err), 1,
                 "a loop of 100000 is well within the budget: %s", err.msg);
    cr_assert_eq(users, 10.0);
    cr_assert_eq(sl_shape_call(o.sh, 1, &users, &rate, &err), -1);
    cr_assert(strstr(err.msg, "shape: t.lua:4: took too long") != NULL, "%s", err.msg);
    /* The hook is cleared afterwards: the next call has its whole budget again. */
    err.msg[0] = '\0';
    cr_assert_eq(sl_shape_call(o.sh, 0, &users, &rate, &err), 1, "%s", err.msg);
    cr_assert_eq(users, 10.0);
    close_src(&o);
}

Test(shape, read_from_the_load_once)
{
    /* The shape takes the load's own state (globals set while loading are there), and a
     * second open of the same plan finds it gone rather than running the file again. */
    opened_t o;
    open_src(&o, "base = 7\nshape = function(t) return base, 1 end\n");
    cr_assert_not_null(o.sh, "%s", o.err.msg);
    cr_assert_null(o.plan.lua);
    double users = 0, rate = 0;
    cr_assert_eq(sl_shape_call(o.sh, 0, &users, &rate, &o.err), 1, "%s", o.err.msg);
    cr_expect_eq(users, 7.0);
    sl_stages_t st;
    bool has = true;
    cr_expect_null(sl_shape_open(&o.plan, &st, &has, &o.err));
    cr_expect_not(has);
    cr_expect_str_eq(o.err.msg,
                     "t.lua: the scenario's Lua state is gone (stages and shape are read once)");
    close_src(&o);
}
