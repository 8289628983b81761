/* Fuzz target for durations (src/base/duration.h): "30", "250ms", "1h30m", "1.5s".
 *
 * Invariants checked: a parsed value is at most 1000 days; format(parse(x)) parses back
 * to the same value; and for any value in range (taken from the input's first eight
 * bytes), format(v) parses back to v. A failure comes with a terminated message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_duration: invariant failed: %s (line %d)\n", #cond, __LINE__);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_US (1000ULL * 24 * 3600 * 1000000ULL)

static void round_trip(uint64_t us)
{
    char buf[64];
    sl_duration_format(us, buf, sizeof(buf));
    CHECK(strnlen(buf, sizeof(buf)) < sizeof(buf) && buf[0] != '\0');
    uint64_t back = UINT64_MAX;
    sl_err_t err = {{0}};
    int rc = sl_duration_parse(buf, &back, &err);
    if (rc != SL_OK || back != us) {
        fprintf(stderr, "fuzz_duration: %llu us formats as '%s', which parses to %llu (%s)\n",
                (unsigned long long)us, buf, (unsigned long long)back, err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 8) {
        uint64_t v;
        memcpy(&v, data, 8);
        round_trip(v % (MAX_US + 1));
    }
    if (size > 256 || memchr(data, '\0', size))
        return 0;
    char s[257];
    memcpy(s, data, size);
    s[size] = '\0';
    uint64_t us = UINT64_MAX;
    sl_err_t err = {{0}};
    int rc = sl_duration_parse(s, &us, &err);
    if (rc != SL_OK) {
        CHECK(rc == SL_EPARSE || rc == SL_ERANGE);
        CHECK(strnlen(err.msg, sizeof(err.msg)) < sizeof(err.msg) && err.msg[0] != '\0');
        return 0;
    }
    CHECK(us <= MAX_US);
    round_trip(us);
    return 0;
}
