/* Common definitions shared by every module: version, error codes, the error
 * message carrier and the monotonic microsecond clock. Kept tiny on purpose:
 * anything bigger belongs to a module. */
#ifndef SL_H
#define SL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define SL_VERSION "0.2.0"

/* Negative error codes returned by sl_* functions; 0 is success. */
enum {
    SL_OK = 0,
    SL_ENOMEM = -1, /* allocation failed */
    SL_EINVAL = -2, /* invalid argument or input */
    SL_ERANGE = -3, /* value out of range */
    SL_ESYS = -4,   /* a system call failed; errno says why */
    SL_EPARSE = -5, /* input did not parse */
    SL_ENOENT = -6, /* not found */
    SL_ELIMIT = -7, /* a resource limit would be exceeded */
};

/* Human-readable text for an SL_E* code. Never NULL. */
const char *sl_strerror(int code);

/* Carrier for a message a user should read ("stormlight_file.lua:3: Task: ...").
 * Functions that can fail because of user input take an sl_err_t * (may be NULL). */
typedef struct sl_err {
    char msg[512];
} sl_err_t;

/* Formats into err->msg (truncating); does nothing when err is NULL. */
void sl_err_set(sl_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Microseconds from CLOCK_MONOTONIC. The only clock used for intervals. */
uint64_t sl_now_us(void);

/* Wall-clock time in microseconds since the Unix epoch; only for report timestamps. */
uint64_t sl_wall_us(void);

#define SL_US_PER_MS 1000ULL
#define SL_US_PER_S 1000000ULL

#define SL_LIKELY(x) __builtin_expect(!!(x), 1)
#define SL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SL_NOINLINE __attribute__((noinline))
#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
