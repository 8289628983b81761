/* The body capture for scripted requests: sized from Content-Length without overshoot,
 * grown for chunked bodies past the size where it becomes mapped memory, cut at the cap,
 * and handed over (taken, given back) without a copy. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/response.h"
#include "sl.h"

/* Feeds head, then body_len bytes of a repeating pattern in pieces of piece bytes. */
static void feed_body(sl_resp_t *r, size_t body_len, size_t piece, bool chunked)
{
    static char buf[1 << 16];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)('a' + i % 26);
    size_t sent = 0;
    while (sent < body_len) {
        size_t n = body_len - sent < piece ? body_len - sent : piece;
        if (chunked) {
            char size[32];
            int sl = snprintf(size, sizeof(size), "%zx\r\n", n);
            cr_assert_eq(sl_resp_feed(r, size, (size_t)sl), SL_RESP_MORE);
        }
        sl_resp_result_t res = sl_resp_feed(r, buf + sent % 26, n);
        if (chunked)
            res = sl_resp_feed(r, "\r\n", 2);
        sent += n;
        if (sent < body_len || chunked)
            cr_assert_eq(res, SL_RESP_MORE, "at %zu", sent);
        else
            cr_assert_eq(res, SL_RESP_DONE);
    }
    if (chunked)
        cr_assert_eq(sl_resp_feed(r, "0\r\n\r\n", 5), SL_RESP_DONE);
}

static void expect_pattern(const sl_resp_capture_t *c, size_t len)
{
    cr_assert_eq(c->body_len, len);
    for (size_t i = 0; i < len; i += 4093)
        cr_assert_eq(c->body[i], (char)('a' + i % 26), "byte %zu", i);
    cr_assert_eq(c->body[len - 1], (char)('a' + (len - 1) % 26));
}

Test(capture, content_length_sizes_the_buffer_once)
{
    const size_t sizes[] = {1000, 300 * 1000, 3 * 1000 * 1000};
    for (size_t k = 0; k < SL_ARRAY_LEN(sizes); k++) {
        sl_resp_t r;
        sl_resp_capture_t c = {0};
        sl_resp_start(&r, false);
        sl_resp_capture_attach(&r, &c);
        char head[128];
        int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                          sizes[k]);
        cr_assert_eq(sl_resp_feed(&r, head, (size_t)hl), SL_RESP_MORE);
        /* Reserved before any body byte: the length, page-rounded when mapped. */
        cr_expect_geq(c.body_cap, sizes[k]);
        cr_expect_lt(c.body_cap, sizes[k] + 4096 * 4, "%zu bytes: capacity %zu", sizes[k],
                     c.body_cap);
        size_t cap = c.body_cap;
        feed_body(&r, sizes[k], 1400, false);
        cr_expect_eq(c.body_cap, cap, "%zu bytes: no growth after the reservation", sizes[k]);
        expect_pattern(&c, sizes[k]);
        sl_resp_capture_free(&c);
    }
}

Test(capture, chunked_grows_past_the_mapped_size)
{
    sl_resp_t r;
    sl_resp_capture_t c = {0};
    sl_resp_start(&r, false);
    sl_resp_capture_attach(&r, &c);
    const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    cr_assert_eq(sl_resp_feed(&r, head, sizeof(head) - 1), SL_RESP_MORE);
    size_t len = 5 * SL_RESP_BIG_BODY_BYTES + 12345;
    feed_body(&r, len, 60000, true);
    expect_pattern(&c, len);
    cr_expect_leq(c.body_cap, 2 * len);

    /* Taken and given back: the same memory, no copy. */
    char *buf;
    size_t got, cap;
    sl_resp_capture_take_body(&c, &buf, &got, &cap);
    cr_expect_eq(got, len);
    cr_expect_null(c.body);
    sl_resp_capture_give_body(&c, buf, cap);
    sl_resp_start(&r, false);
    sl_resp_capture_attach(&r, &c);
    const char small[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz";
    cr_assert_eq(sl_resp_feed(&r, small, sizeof(small) - 1), SL_RESP_DONE);
    cr_expect_eq(c.body, buf);
    cr_expect_eq(c.body_len, 3);
    cr_expect(!memcmp(c.body, "xyz", 3));
    sl_resp_capture_free(&c);
}

Test(capture, the_cap_holds_whatever_the_length_says)
{
    sl_resp_t r;
    sl_resp_capture_t c = {0};
    sl_resp_start(&r, false);
    sl_resp_capture_attach(&r, &c);
    /* A length far over the cap reserves the cap (virtual memory until bytes arrive). */
    const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n";
    cr_assert_eq(sl_resp_feed(&r, head, sizeof(head) - 1), SL_RESP_MORE);
    cr_expect_eq(c.body_cap, SL_RESP_MAX_BODY_BYTES);
    cr_expect_eq(sl_resp_feed(&r, "abc", 3), SL_RESP_MORE);
    cr_expect_eq(c.body_len, 3);
    cr_expect(!c.oom);
    sl_resp_capture_free(&c);
}
