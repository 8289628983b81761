/* --stages (src/cli/stages.c): parsing "DUR:TARGET,..." with the stage that is wrong
 * named in the message, and the value over time: a linear ramp from the start value to
 * each target, the last target held after the end. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "scenario/stages.h"

Test(stages, parses_durations_and_targets)
{
    sl_stages_t st;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_stages_parse("30s:100,1m:100,500ms:0,2:7.5", &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.n, 4);
    cr_assert_eq(st.stage[0].duration_us, 30 * SL_US_PER_S);
    cr_assert_eq(st.stage[0].target, 100.0);
    cr_assert_eq(st.stage[1].duration_us, 60 * SL_US_PER_S);
    cr_assert_eq(st.stage[1].target, 100.0);
    cr_assert_eq(st.stage[2].duration_us, 500 * SL_US_PER_MS);
    cr_assert_eq(st.stage[2].target, 0.0);
    cr_assert_eq(st.stage[3].duration_us, 2 * SL_US_PER_S, "a bare number is seconds");
    cr_assert_eq(st.stage[3].target, 7.5);
    cr_assert_eq(sl_stages_total_us(&st), 92500 * SL_US_PER_MS);
    cr_assert_eq(sl_stages_max(&st), 100.0);
}

/* Table-driven: input, and a piece of the message that must name what is wrong. */
Test(stages, rejects_bad_specs_naming_the_stage)
{
    static const struct {
        const char *spec;
        const char *msg;
    } cases[] = {
        {"", "expected DURATION:TARGET"},
        {"30s", "stage 1 '30s' is not DURATION:TARGET"},
        {"30s:10,,1m:5", "stage 2 is empty"},
        {"30s:10,", "trailing ','"},
        {",30s:10", "stage 1 is empty"},
        {"0s:10", "stage 1: bad duration '0s'"},
        {"abc:10", "stage 1: bad duration 'abc'"},
        {"10s:10,5s:-1", "stage 2: bad target '-1'"},
        {"10s:", "stage 1: bad target ''"},
        {"10s:5x", "stage 1: bad target '5x'"},
        {"10s:nan", "stage 1: bad target 'nan'"},
        {"10s:20000000", "stage 1: bad target '20000000'"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_stages_t st;
        sl_err_t err = {{0}};
        cr_expect_eq(sl_stages_parse(cases[i].spec, &st, &err), SL_EINVAL, "'%s' accepted",
                     cases[i].spec);
        cr_expect(strstr(err.msg, cases[i].msg) != NULL, "'%s': message '%s', wanted '%s'",
                  cases[i].spec, err.msg, cases[i].msg);
    }
    sl_stages_t st;
    sl_err_t err = {{0}};
    cr_expect_eq(sl_stages_parse(NULL, &st, &err), SL_EINVAL);
}

Test(stages, at_most_the_limit_of_stages)
{
    /* "1s:1," is 5 bytes; one more stage than allowed. */
    static char spec[5 * (SL_STAGES_MAX + 1) + 1];
    size_t len = 0;
    for (int i = 0; i < SL_STAGES_MAX; i++)
        len += (size_t)snprintf(spec + len, sizeof(spec) - len, "1s:1,");
    spec[len - 1] = '\0';
    static sl_stages_t st;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_stages_parse(spec, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.n, SL_STAGES_MAX);
    cr_assert_eq(sl_stages_total_us(&st), SL_STAGES_MAX * SL_US_PER_S);
    spec[len - 1] = ',';
    snprintf(spec + len, sizeof(spec) - len, "1s:1");
    cr_assert_eq(sl_stages_parse(spec, &st, &err), SL_EINVAL);
    cr_assert(strstr(err.msg, "at most 256 stages"), "%s", err.msg);
}

Test(stages, values_ramp_linearly_and_hold_the_last_target)
{
    sl_stages_t st;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_stages_parse("10s:100,10s:100,5s:0", &st, &err), 0, "%s", err.msg);
    static const struct {
        double start;
        uint64_t at_s_x10; /* tenths of a second */
        double want;
    } cases[] = {
        {0, 0, 0},     {0, 10, 10},   {0, 50, 50},    {0, 99, 99},    {0, 100, 100},
        {0, 150, 100}, {0, 200, 100}, {0, 225, 50},   {0, 250, 0},    {0, 10000, 0},
        {20, 0, 20},   {20, 50, 60},  {20, 100, 100}, {100, 50, 100},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        double v = sl_stages_value(&st, cases[i].start, cases[i].at_s_x10 * SL_US_PER_S / 10);
        cr_expect_float_eq(v, cases[i].want, 1e-9, "start %g at %.1f s: %g, wanted %g",
                           cases[i].start, (double)cases[i].at_s_x10 / 10, v, cases[i].want);
    }
    /* A ramp down from a value above every target; and no stages keep the start. */
    cr_expect_float_eq(sl_stages_value(&st, 0, 24 * SL_US_PER_S), 20.0, 1e-9);
    sl_stages_t none = {.n = 0};
    cr_expect_eq(sl_stages_value(&none, 42, 5 * SL_US_PER_S), 42.0);
    cr_expect_eq(sl_stages_total_us(&none), 0);
    cr_expect_eq(sl_stages_max(&none), 0.0);
}
