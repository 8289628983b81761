/* Implementation of the common definitions in sl.h. */
#include "sl.h"

#include <stdio.h>
#include <time.h>

const char *sl_strerror(int code)
{
    switch (code) {
    case SL_OK:
        return "success";
    case SL_ENOMEM:
        return "out of memory";
    case SL_EINVAL:
        return "invalid argument";
    case SL_ERANGE:
        return "value out of range";
    case SL_ESYS:
        return "system call failed";
    case SL_EPARSE:
        return "parse error";
    case SL_ENOENT:
        return "not found";
    case SL_ELIMIT:
        return "resource limit exceeded";
    }
    return "unknown error";
}

void sl_err_set(sl_err_t *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

uint64_t sl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SL_US_PER_S + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t sl_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * SL_US_PER_S + (uint64_t)ts.tv_nsec / 1000;
}
