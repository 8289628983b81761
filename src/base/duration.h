/* Durations as users write them: "30" (seconds), "250ms", "90s", "5m", "1h30m",
 * "1h2m3s", fractional "1.5s". */
#ifndef SL_BASE_DURATION_H
#define SL_BASE_DURATION_H

#include <stdint.h>

#include "sl.h"

/* Parses s into microseconds. Units: ms, s, m, h (optionally combined in decreasing
 * order, each at most once); a bare number is seconds. Rejects empty strings, negative
 * values, unknown units, trailing garbage and overflow (anything above 1000 days).
 * Returns 0 or SL_EPARSE / SL_ERANGE, with a message in err naming the input. */
int sl_duration_parse(const char *s, uint64_t *out_us, sl_err_t *err);

/* Formats a duration for people: "10s", "1m30s", "250ms". Returns buf. */
char *sl_duration_format(uint64_t us, char *buf, size_t len);

#endif
