/* A growable byte buffer: the one way the program grows a byte array as it writes into
 * it (JSON bodies, scripted requests, captured response heads, files read whole).
 * Growth doubles from SL_BUF_MIN and is bounded by SL_BUF_MAX; a failure leaves the
 * buffer as it was. Not thread-safe: a buffer belongs to one thread at a time. */
#ifndef SL_BASE_BUF_H
#define SL_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sl.h"

#define SL_BUF_MIN 256                  /* the first capacity */
#define SL_BUF_MAX ((size_t)UINT32_MAX) /* no buffer grows past this many bytes */

/* The growing part of sl_buf_grow, out of line. */
int sl_buf__grow(char **p, size_t *cap, size_t need);

/* Grows the array *p of capacity *cap (both 0/NULL for none yet) to hold need bytes:
 * the capacity doubles from SL_BUF_MIN until it does, capped at SL_BUF_MAX. Returns
 * SL_OK (also when it already fits), SL_ELIMIT when need is over SL_BUF_MAX, SL_ENOMEM;
 * on failure *p and *cap are unchanged. For arrays kept as a pointer and a capacity.
 * Inline, so that the common case (it fits) costs a comparison on the request path. */
static inline int sl_buf_grow(char **p, size_t *cap, size_t need)
{
    return need <= *cap ? SL_OK : sl_buf__grow(p, cap, need);
}

/* A buffer with its length; zero-initialize it ({0}) to start empty. */
typedef struct sl_buf {
    char *p;    /* NULL until the first byte */
    size_t len; /* bytes written */
    size_t cap; /* bytes allocated */
} sl_buf_t;

/* Room for n more bytes past len. SL_OK, SL_ELIMIT (len + n over SL_BUF_MAX) or
 * SL_ENOMEM. */
static inline int sl_buf_reserve(sl_buf_t *b, size_t n)
{
    if (n <= b->cap - b->len)
        return SL_OK;
    if (n > SL_BUF_MAX - b->len)
        return SL_ELIMIT;
    return sl_buf__grow(&b->p, &b->cap, b->len + n);
}

/* Appends n bytes of s. SL_OK, SL_ELIMIT or SL_ENOMEM (then nothing is appended). */
static inline int sl_buf_add(sl_buf_t *b, const void *s, size_t n)
{
    int rc = sl_buf_reserve(b, n);
    if (rc != SL_OK)
        return rc;
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    return SL_OK;
}

/* Frees the bytes and empties the buffer. */
void sl_buf_free(sl_buf_t *b);

#endif
