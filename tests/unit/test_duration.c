/* Durations: the forms users type, the mistakes they make, and formatting back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/duration.h"

#define S SL_US_PER_S
#define MS SL_US_PER_MS

static const struct {
    const char *in;
    uint64_t us;
} valid[] = {
    {"30", 30 * S},
    {"0", 0},
    {"90s", 90 * S},
    {"5m", 300 * S},
    {"1h", 3600 * S},
    {"1h30m", 5400 * S},
    {"1h2m3s", 3723 * S},
    {"250ms", 250 * MS},
    {"1.5s", 1500 * MS},
    {"0.1s", 100 * MS},
    {".5s", 500 * MS},
    {"1.5", 1500 * MS},
    {"2.5m", 150 * S},
    {"1m30s", 90 * S},
    {"1s500ms", 1500 * MS},
    {"1h1ms", 3600 * S + MS},
    {"1.25ms", 1250},
    {"1.0000001s", S},               /* below a microsecond: truncated */
    {"24000h", 24000ULL * 3600 * S}, /* exactly the 1000-day ceiling */
};

static const struct {
    const char *in;
    int rc;
} invalid[] = {
    {"", SL_EPARSE},
    {"-5", SL_EPARSE},
    {"-5s", SL_EPARSE},
    {"5x", SL_EPARSE},
    {"s", SL_EPARSE},
    {"ms", SL_EPARSE},
    {".", SL_EPARSE},
    {"1m1h", SL_EPARSE},
    {"1s1s", SL_EPARSE},
    {"1ms1s", SL_EPARSE},
    {"abc", SL_EPARSE},
    {"1m30", SL_EPARSE},
    {" 5s", SL_EPARSE},
    {"5s ", SL_EPARSE},
    {"5 s", SL_EPARSE},
    {"1..5s", SL_EPARSE},
    {"+5", SL_EPARSE},
    {"5S", SL_EPARSE},
    {"24001h", SL_ERANGE},
    {"99999999999999999999", SL_ERANGE},
    {"18446744073709551616s", SL_ERANGE},
    {"23999h60m1s", SL_ERANGE},
};

Test(duration, valid)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(valid); i++) {
        uint64_t us = 12345;
        sl_err_t err = {{0}};
        int rc = sl_duration_parse(valid[i].in, &us, &err);
        cr_expect_eq(rc, SL_OK, "'%s': rc %d (%s)", valid[i].in, rc, err.msg);
        cr_expect_eq(us, valid[i].us, "'%s': got %llu us, want %llu", valid[i].in,
                     (unsigned long long)us, (unsigned long long)valid[i].us);
    }
}

Test(duration, invalid)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(invalid); i++) {
        uint64_t us = 777;
        sl_err_t err = {{0}};
        int rc = sl_duration_parse(invalid[i].in, &us, &err);
        cr_expect_eq(rc, invalid[i].rc, "'%s': rc %d, want %d", invalid[i].in, rc, invalid[i].rc);
        cr_expect_eq(us, 777, "'%s': output written on error", invalid[i].in);
        /* The message quotes the input so the user sees what was rejected. */
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", invalid[i].in);
        cr_expect(strstr(err.msg, quoted) != NULL, "'%s': message '%s' does not quote input",
                  invalid[i].in, err.msg);
    }
}

Test(duration, null_error_carrier)
{
    uint64_t us;
    cr_expect_eq(sl_duration_parse("bad", &us, NULL), SL_EPARSE);
}

static const struct {
    uint64_t us;
    const char *out;
} formats[] = {
    {0, "0s"},        {10 * S, "10s"},     {90 * S, "1m30s"},           {250 * MS, "250ms"},
    {3600 * S, "1h"}, {5400 * S, "1h30m"}, {3723 * S, "1h2m3s"},        {1500 * MS, "1s500ms"},
    {1250, "1.25ms"}, {1, "0.001ms"},      {3600 * S + 1, "1h0.001ms"},
};

Test(duration, format)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(formats); i++) {
        char buf[64];
        char *r = sl_duration_format(formats[i].us, buf, sizeof(buf));
        cr_expect_eq(r, buf);
        cr_expect_str_eq(buf, formats[i].out, "%llu us", (unsigned long long)formats[i].us);
        /* Whatever we print must parse back to the same value. */
        uint64_t back = 0;
        cr_expect_eq(sl_duration_parse(buf, &back, NULL), SL_OK, "'%s' does not parse", buf);
        cr_expect_eq(back, formats[i].us, "'%s' parses to %llu", buf, (unsigned long long)back);
    }
}

Test(duration, format_truncates_safely)
{
    char buf[4];
    sl_duration_format(5400 * S, buf, sizeof(buf));
    cr_expect_str_eq(buf, "1h3");
    char one[1];
    sl_duration_format(5400 * S, one, sizeof(one));
    cr_expect_eq(one[0], '\0');
}
