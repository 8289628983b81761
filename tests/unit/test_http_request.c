/* The request renderer (http/request.c) on its own: whole requests compared byte for
 * byte, the pieces a cookie jar and a redirect add, and the shared validators. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "sl.h"

/* The jar owns its strings; these tests lend literals. */
#define CK(n, v)                                                                                   \
    {                                                                                              \
        (char *)(n), (char *)(v)                                                                   \
    }
#define UA "User-Agent: stormlight/" SL_VERSION "\r\n"

/* Renders into an exact-size buffer after sizing with a NULL one, as callers do. */
static char *render(const sl_http_request_t *r, size_t *len, sl_http_layout_t *lay)
{
    size_t n = sl_http_render(r, NULL, 0, NULL);
    char *p = malloc(n + 1);
    cr_assert_not_null(p);
    cr_assert_eq(sl_http_render(r, p, n, lay), n);
    p[n] = '\0';
    *len = n;
    return p;
}

static void expect_bytes(const char *got, size_t len, const char *want)
{
    cr_expect(len == strlen(want) && memcmp(got, want, len) == 0,
              "--- got ---\n%.*s\n--- want ---\n%s", (int)len, got, want);
}

Test(http_request, defaults_cookies_and_body)
{
    sl_http_header_t h[] = {{"X-A", "1"}, {"content-length", "99"}, {"host", "vhost"}};
    sl_http_cookie_t c[] = {CK("a", "1"), CK("b", "2")};
    sl_http_request_t r = {.method = "POST",
                           .base_path = "/api",
                           .target = "/x?q=1",
                           .target_len = 6,
                           .authority = "h:81",
                           .headers = h,
                           .nheaders = 3,
                           .cookies = c,
                           .ncookies = 2,
                           .body = "{}",
                           .body_len = 2,
                           .body_is_json = true};
    size_t n;
    sl_http_layout_t lay;
    char *w = render(&r, &n, &lay);
    const char *want = "POST /api/x?q=1 HTTP/1.1\r\n"
                       "Host: vhost\r\n"
                       "X-A: 1\r\n" UA "Accept: */*\r\n"
                       "Content-Type: application/json\r\n"
                       "Cookie: a=1; b=2\r\n"
                       "Content-Length: 2\r\n"
                       "\r\n"
                       "{}";
    expect_bytes(w, n, want);
    cr_expect(memcmp(w + lay.fields_end, "Cookie: ", 8) == 0);
    cr_expect(memcmp(w + lay.tail_off, "Content-Length", 14) == 0);
    cr_expect_eq(lay.body_off, n - 2);
    cr_expect_eq(lay.line_end, strlen("POST /api/x?q=1 HTTP/1.1\r\n"));
    cr_expect(!lay.user_cookie);

    /* A buffer one byte short stores nothing usable but counts the same. */
    char small[16];
    cr_expect_eq(sl_http_render(&r, small, sizeof(small), NULL), n);
    free(w);
}

Test(http_request, cookies_spliced_into_static_bytes)
{
    sl_http_request_t r = {
        .method = "GET", .base_path = "", .target = "/s", .target_len = 2, .authority = "h"};
    size_t n;
    sl_http_layout_t lay;
    char *w = render(&r, &n, &lay);
    cr_expect_eq(lay.fields_end, lay.tail_off); /* no cookies yet */
    sl_http_cookie_t c[] = {CK("sid", "x")};
    char out[256];
    sl_http_layout_t l2;
    size_t m = sl_http_render_cookies(w, n, &lay, c, 1, out, sizeof(out), &l2);
    expect_bytes(out, m,
                 "GET /s HTTP/1.1\r\nHost: h\r\n" UA "Accept: */*\r\nCookie: sid=x\r\n\r\n");
    /* The spliced bytes equal a fresh rendering with the cookies. */
    r.cookies = c;
    r.ncookies = 1;
    size_t k;
    char *fresh = render(&r, &k, NULL);
    expect_bytes(out, m, fresh);
    /* Splicing again replaces the cookies rather than adding a second field. */
    char out2[256];
    sl_http_cookie_t c2[] = {CK("sid", "y")};
    size_t m2 = sl_http_render_cookies(out, m, &l2, c2, 1, out2, sizeof(out2), NULL);
    expect_bytes(out2, m2,
                 "GET /s HTTP/1.1\r\nHost: h\r\n" UA "Accept: */*\r\nCookie: sid=y\r\n\r\n");
    free(w);
    free(fresh);
}

Test(http_request, user_cookie_header_wins_over_the_jar)
{
    sl_http_header_t h[] = {{"Cookie", "mine=1"}};
    sl_http_cookie_t c[] = {CK("jar", "2")};
    sl_http_request_t r = {.method = "GET",
                           .base_path = "",
                           .target = "/",
                           .target_len = 1,
                           .authority = "h",
                           .headers = h,
                           .nheaders = 1,
                           .cookies = c,
                           .ncookies = 1};
    size_t n;
    sl_http_layout_t lay;
    char *w = render(&r, &n, &lay);
    cr_expect(lay.user_cookie);
    expect_bytes(w, n, "GET / HTTP/1.1\r\nHost: h\r\nCookie: mine=1\r\n" UA "Accept: */*\r\n\r\n");
    free(w);
}

Test(http_request, redirects)
{
    sl_http_header_t h[] = {{"X-K", "v"}};
    sl_http_request_t r = {.method = "POST",
                           .base_path = "/b",
                           .target = "/old",
                           .target_len = 4,
                           .authority = "h",
                           .headers = h,
                           .nheaders = 1,
                           .body = "abc",
                           .body_len = 3};
    size_t n;
    sl_http_layout_t lay;
    char *w = render(&r, &n, &lay);
    sl_http_cookie_t c[] = {CK("s", "1")};
    char out[512];
    sl_http_layout_t l2;
    /* 307: same method, fields and body; new target; cookies added. */
    size_t m = sl_http_render_redirect(w, n, &lay, true, "/b", "/new", 4, "h", c, 1, out,
                                       sizeof(out), &l2);
    expect_bytes(out, m,
                 "POST /b/new HTTP/1.1\r\nHost: h\r\nX-K: v\r\n" UA
                 "Accept: */*\r\nCookie: s=1\r\nContent-Length: 3\r\n\r\nabc");
    cr_expect_eq(l2.body_off, m - 3);
    /* A second 307 from the first's bytes: still one Cookie field. */
    char out2[512];
    size_t m2 = sl_http_render_redirect(out, m, &l2, true, "/b", "/n2", 3, "h", c, 1, out2,
                                        sizeof(out2), NULL);
    expect_bytes(out2, m2,
                 "POST /b/n2 HTTP/1.1\r\nHost: h\r\nX-K: v\r\n" UA
                 "Accept: */*\r\nCookie: s=1\r\nContent-Length: 3\r\n\r\nabc");
    /* 303: a GET without user fields or body. */
    m = sl_http_render_redirect(w, n, &lay, false, "/b", "/see", 4, "h", NULL, 0, out, sizeof(out),
                                NULL);
    expect_bytes(out, m, "GET /b/see HTTP/1.1\r\nHost: h\r\n" UA "Accept: */*\r\n\r\n");
    char method[SL_HTTP_METHOD_MAX + 1];
    sl_http_wire_method(out, m, method);
    cr_expect_str_eq(method, "GET");
    free(w);
}

struct method_case {
    const char *in;
    const char *want; /* NULL: rejected */
};

Test(http_request, method_validator)
{
    static const struct method_case cases[] = {
        {"get", "GET"},
        {"M-SEARCH", "M-SEARCH"},
        {"propfind", "PROPFIND"},
        {"X.Y_Z~1!", "X.Y_Z~1!"}, /* any RFC 9110 token */
        {"", NULL},
        {"GE T", NULL},
        {"GET\r\n", NULL},
        {"G(T", NULL},
        {"\xc3\xa9", NULL},
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL}, /* 65 */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char out[SL_HTTP_METHOD_MAX + 1];
        bool ok = sl_http_method_canon(cases[i].in, strlen(cases[i].in), out);
        cr_expect_eq(ok, cases[i].want != NULL, "%s", cases[i].in);
        if (ok && cases[i].want)
            cr_expect_str_eq(out, cases[i].want);
    }
    cr_expect(sl_http_method_idempotent("GET") && sl_http_method_idempotent("DELETE"));
    cr_expect(!sl_http_method_idempotent("POST") && !sl_http_method_idempotent("PATCH"));
}

Test(http_request, header_validators)
{
    cr_expect(sl_http_header_name_ok("X-Trace_1", 9));
    cr_expect(!sl_http_header_name_ok("", 0));
    cr_expect(!sl_http_header_name_ok("a b", 3));
    cr_expect(!sl_http_header_name_ok("a:b", 3));
    cr_expect(sl_http_header_value_ok("any thing; \t ok", 15));
    cr_expect(!sl_http_header_value_ok("a\r\nX: y", 7));
    cr_expect(!sl_http_header_value_ok("a\0b", 3));
}
