/* The growable byte buffer (src/base/buf.c): appends keep every byte in order, growth
 * doubles from SL_BUF_MIN, a need past SL_BUF_MAX is refused with the buffer untouched,
 * and the pointer-and-capacity form grows only when it must. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

Test(buf, appends_in_order_across_growth)
{
    sl_buf_t b = {0};
    cr_assert_eq(sl_buf_add(&b, "", 0), SL_OK, "an empty append on an empty buffer");
    cr_expect_eq(b.len, 0);
    /* 10000 appends of 3 bytes: every byte where it belongs after many reallocations. */
    for (int i = 0; i < 10000; i++) {
        char piece[3] = {(char)('a' + i % 26), (char)('0' + i % 10), '|'};
        cr_assert_eq(sl_buf_add(&b, piece, sizeof(piece)), SL_OK);
    }
    cr_assert_eq(b.len, 30000);
    cr_expect_geq(b.cap, b.len);
    for (int i = 0; i < 10000; i++) {
        cr_assert_eq(b.p[3 * i], (char)('a' + i % 26), "byte %d", 3 * i);
        cr_assert_eq(b.p[3 * i + 1], (char)('0' + i % 10));
        cr_assert_eq(b.p[3 * i + 2], '|');
    }
    sl_buf_free(&b);
    cr_expect_null(b.p);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(b.cap, 0);
}

Test(buf, growth_doubles_from_the_minimum)
{
    char *p = NULL;
    size_t cap = 0;
    cr_assert_eq(sl_buf_grow(&p, &cap, 1), SL_OK);
    cr_expect_eq(cap, SL_BUF_MIN);
    char *before = p;
    cr_assert_eq(sl_buf_grow(&p, &cap, SL_BUF_MIN), SL_OK, "fits: no change");
    cr_expect_eq(cap, SL_BUF_MIN);
    cr_expect_eq(p, before);
    cr_assert_eq(sl_buf_grow(&p, &cap, SL_BUF_MIN + 1), SL_OK);
    cr_expect_eq(cap, 2 * SL_BUF_MIN);
    cr_assert_eq(sl_buf_grow(&p, &cap, 5 * SL_BUF_MIN), SL_OK);
    cr_expect_eq(cap, 8 * SL_BUF_MIN);
    /* A capacity that is not a power of two (set by someone else) doubles from there. */
    free(p);
    p = malloc(300);
    cap = 300;
    cr_assert_eq(sl_buf_grow(&p, &cap, 301), SL_OK);
    cr_expect_eq(cap, 600);
    free(p);

    sl_buf_t b = {0};
    cr_assert_eq(sl_buf_reserve(&b, 1000), SL_OK);
    cr_expect_eq(b.cap, 4 * SL_BUF_MIN);
    cr_expect_eq(b.len, 0, "reserving writes nothing");
    sl_buf_free(&b);
}

Test(buf, bounded)
{
    char *p = NULL;
    size_t cap = 0;
    cr_expect_eq(sl_buf_grow(&p, &cap, SL_BUF_MAX + (size_t)1), SL_ELIMIT);
    cr_expect_null(p, "a refused growth leaves the array as it was");
    cr_expect_eq(cap, 0);

    sl_buf_t b = {0};
    cr_assert_eq(sl_buf_add(&b, "abc", 3), SL_OK);
    char *q = b.p;
    size_t old_cap = b.cap;
    /* len + n past the bound, and an n that would wrap len + n around. */
    cr_expect_eq(sl_buf_reserve(&b, SL_BUF_MAX - 2), SL_ELIMIT);
    cr_expect_eq(sl_buf_reserve(&b, SIZE_MAX), SL_ELIMIT);
    volatile size_t huge = SIZE_MAX - 1; /* not a constant, or the compiler warns */
    cr_expect_eq(sl_buf_add(&b, "x", huge), SL_ELIMIT);
    cr_expect_eq(b.p, q);
    cr_expect_eq(b.cap, old_cap);
    cr_expect_eq(b.len, 3);
    cr_expect_eq(memcmp(b.p, "abc", 3), 0);
    sl_buf_free(&b);
}
