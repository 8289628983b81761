/* The growable byte buffer (see buf.h). */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

int sl_buf__grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return SL_OK;
    if (need > SL_BUF_MAX)
        return SL_ELIMIT;
    size_t c = *cap >= SL_BUF_MIN ? *cap : SL_BUF_MIN;
    while (c < need)
        c = c > SL_BUF_MAX / 2 ? SL_BUF_MAX : c * 2;
    char *n = realloc(*p, c);
    if (!n)
        return SL_ENOMEM;
    *p = n;
    *cap = c;
    return SL_OK;
}

void sl_buf_free(sl_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
