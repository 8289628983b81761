/* Numbers as reports write them. Times are microseconds inside the program (sl.h) and
 * milliseconds in every report; these are the one place that converts and rounds, so the
 * live view, the summary, the JSON, the CSV files and the HTML report agree. Pure; any
 * thread. */
#ifndef SL_BASE_FMT_H
#define SL_BASE_FMT_H

#include <math.h>

/* Microseconds as milliseconds, unrounded: for text printed with a fixed number of
 * decimals ("%.2f"), which rounds once. */
static inline double sl_fmt_ms(double us)
{
    return us / 1000.0;
}

/* Microseconds as milliseconds with microsecond precision (three decimals), free of
 * binary noise: the JSON summary's and the CSV files' times. */
static inline double sl_fmt_ms3(double us)
{
    return round(us) / 1000.0;
}

/* A value rounded to three decimals (rates, seconds) for machine-readable output. */
static inline double sl_fmt_round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

#endif
