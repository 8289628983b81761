/* Durations as users type them ("30", "250ms", "1h30m", "1.5s") to and from microseconds.
 * Parsing is done by hand with integer arithmetic rather than strtod so that "0.1s" is
 * exactly 100000 us, the result never depends on the locale, and overflow is detected
 * before it happens instead of after. */
#include "base/duration.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Anything longer than 1000 days is a typo, not a load test; the ceiling also keeps every
 * intermediate product below 2^64. */
#define SL_DURATION_MAX_US (1000ULL * 24 * 3600 * SL_US_PER_S)

/* Fraction digits beyond this are below a microsecond for every unit and are ignored (but
 * must still be digits). Nine digits times the largest unit (3.6e9 us) fits in 64 bits. */
#define SL_DURATION_FRAC_DIGITS 9

struct unit {
    const char *name;
    size_t len;
    uint64_t us;
};

/* In the only order they may appear: largest first. "ms" comes before "m" is tried so
 * that the longer suffix wins. */
static const struct unit units[] = {
    {"h", 1, 3600 * SL_US_PER_S},
    {"m", 1, 60 * SL_US_PER_S},
    {"s", 1, SL_US_PER_S},
    {"ms", 2, SL_US_PER_MS},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Finds the unit at s; returns its index in units[] or -1. */
static int match_unit(const char *s)
{
    if (s[0] == 'm' && s[1] == 's')
        return 3;
    for (int i = 0; i < 3; i++) {
        if (s[0] == units[i].name[0])
            return i;
    }
    return -1;
}

static int fail_parse(sl_err_t *err, const char *s, const char *why)
{
    sl_err_set(err, "invalid duration '%s': %s (e.g. 30, 90s, 5m, 1h30m, 250ms)", s, why);
    return SL_EPARSE;
}

static int fail_range(sl_err_t *err, const char *s)
{
    sl_err_set(err, "duration '%s' is too long (at most 1000 days)", s);
    return SL_ERANGE;
}

int sl_duration_parse(const char *s, uint64_t *out_us, sl_err_t *err)
{
    if (!s || !*s)
        return fail_parse(err, s ? s : "", "empty");
    if (*s == '-')
        return fail_parse(err, s, "must not be negative");

    const char *p = s;
    uint64_t total = 0;
    int next_unit = 0; /* units before this index have been used or skipped */
    bool bare = false;

    while (*p) {
        /* One component: digits [. digits] unit. */
        uint64_t ipart = 0;
        uint64_t frac = 0, frac_div = 1;
        bool digits = false;
        bool too_big = false;
        while (is_digit(*p)) {
            digits = true;
            /* Cap instead of overflowing; the range check below reports it. */
            if (ipart > SL_DURATION_MAX_US)
                too_big = true;
            else
                ipart = ipart * 10 + (uint64_t)(*p - '0');
            p++;
        }
        if (*p == '.') {
            p++;
            int nfrac = 0;
            while (is_digit(*p)) {
                digits = true;
                if (nfrac < SL_DURATION_FRAC_DIGITS) {
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    frac_div *= 10;
                    nfrac++;
                }
                p++;
            }
        }
        if (!digits)
            return fail_parse(err, s, *p ? "expected a number" : "missing number");

        uint64_t unit_us;
        if (*p == '\0') {
            /* A bare number means seconds, but only as the whole input: "1m30" is more
             * likely a mistake than a shorthand, so it is rejected. */
            if (next_unit == 0) {
                unit_us = SL_US_PER_S;
                bare = true;
            } else {
                return fail_parse(err, s, "missing unit after the last number");
            }
        } else {
            int u = match_unit(p);
            if (u < 0)
                return fail_parse(err, s, "unknown unit (use h, m, s or ms)");
            if (u < next_unit)
                return fail_parse(err, s, "units must appear once each, largest first");
            unit_us = units[u].us;
            next_unit = u + 1;
            p += units[u].len;
        }

        if (too_big || ipart > SL_DURATION_MAX_US / unit_us)
            return fail_range(err, s);
        uint64_t part = ipart * unit_us + frac * unit_us / frac_div;
        if (part > SL_DURATION_MAX_US - total)
            return fail_range(err, s);
        total += part;
        if (bare)
            break;
    }

    *out_us = total;
    return SL_OK;
}

/* Appends "<value><suffix>" to buf at *off, never writing past len. */
static void append_part(char *buf, size_t len, size_t *off, uint64_t value, const char *suffix)
{
    if (*off >= len)
        return;
    int n = snprintf(buf + *off, len - *off, "%llu%s", (unsigned long long)value, suffix);
    if (n > 0)
        *off += (size_t)n;
}

char *sl_duration_format(uint64_t us, char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    buf[0] = '\0';
    if (us == 0) {
        snprintf(buf, len, "0s");
        return buf;
    }

    uint64_t h = us / (3600 * SL_US_PER_S);
    uint64_t m = us / (60 * SL_US_PER_S) % 60;
    uint64_t s = us / SL_US_PER_S % 60;
    uint64_t sub = us % SL_US_PER_S; /* microseconds below one second */
    size_t off = 0;

    if (h)
        append_part(buf, len, &off, h, "h");
    if (m)
        append_part(buf, len, &off, m, "m");
    if (s)
        append_part(buf, len, &off, s, "s");
    if (sub) {
        /* Sub-millisecond parts are written as a decimal fraction of ms ("1.25ms") so the
         * output always parses back to the same value. */
        uint64_t ms = sub / SL_US_PER_MS, rest = sub % SL_US_PER_MS;
        if (rest == 0) {
            append_part(buf, len, &off, ms, "ms");
        } else {
            char frac[8];
            snprintf(frac, sizeof(frac), "%03u", (unsigned)rest);
            /* Drop trailing zeros: 1.250ms -> 1.25ms. */
            for (size_t i = strlen(frac); i > 0 && frac[i - 1] == '0'; i--)
                frac[i - 1] = '\0';
            char suffix[16];
            snprintf(suffix, sizeof(suffix), ".%sms", frac);
            append_part(buf, len, &off, ms, suffix);
        }
    }
    return buf;
}
