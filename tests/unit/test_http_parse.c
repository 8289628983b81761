/* Response parsing: a table of valid and broken responses with the expected outcome and
 * failure category, each fed whole, byte by byte, and split at every position. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/response.h"
#include "sl.h"
#include "stats/snapshot.h"

typedef struct resp_case {
    const char *name;
    const char *bytes;
    size_t len; /* 0: strlen(bytes) */
    bool head;
    bool then_eof; /* the peer closes after the bytes */
    sl_resp_result_t want;
    uint16_t status;
    uint64_t body;
    sl_fail_t fail;
    bool keep_alive;
} resp_case_t;

static const resp_case_t cases[] = {
    {"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, false, false,
     SL_RESP_DONE, 200, 5, SL_FAIL_NONE, true},
    {"empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false, false, SL_RESP_DONE,
     200, 0, SL_FAIL_NONE, true},
    {"chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 0,
     false, false, SL_RESP_DONE, 200, 5, SL_FAIL_NONE, true},
    {"chunked with trailer",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n", 0, false,
     false, SL_RESP_DONE, 200, 1, SL_FAIL_NONE, true},
    {"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 0,
     false, false, SL_RESP_DONE, 200, 2, SL_FAIL_NONE, false},
    {"http/1.0 close-delimited", "HTTP/1.0 200 OK\r\n\r\nuntil close", 0, false, true, SL_RESP_DONE,
     200, 11, SL_FAIL_NONE, false},
    {"100 continue first",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", 0, false,
     false, SL_RESP_DONE, 201, 1, SL_FAIL_NONE, true},
    {"204 without body", "HTTP/1.1 204 No Content\r\n\r\n", 0, false, false, SL_RESP_DONE, 204, 0,
     SL_FAIL_NONE, true},
    {"304 with content-length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 0, false,
     false, SL_RESP_DONE, 304, 0, SL_FAIL_NONE, true},
    {"HEAD with content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0, true, false,
     SL_RESP_DONE, 200, 0, SL_FAIL_NONE, true},
    {"503 is a complete response", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
     0, false, false, SL_RESP_DONE, 503, 0, SL_FAIL_NONE, true},
    {"closed before any byte", "", 0, false, true, SL_RESP_ERROR, 0, 0, SL_FAIL_CLOSED, false},
    {"short body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..", 0, false, true,
     SL_RESP_ERROR, 200, 10, SL_FAIL_TRUNCATED, false},
    {"truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 0, false,
     true, SL_RESP_ERROR, 200, 2, SL_FAIL_TRUNCATED, false},
    {"cut inside headers", "HTTP/1.1 200 OK\r\nContent-Le", 0, false, true, SL_RESP_ERROR, 0, 0,
     SL_FAIL_TRUNCATED, false},
    {"malformed status line", "HTTP/1.1 OK 200\r\n\r\n", 0, false, false, SL_RESP_ERROR, 0, 0,
     SL_FAIL_MALFORMED, false},
    {"binary garbage", "\x00\x01\xff\xfe garbage \x80", 13, false, false, SL_RESP_ERROR, 0, 0,
     SL_FAIL_MALFORMED, false},
    {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
     0, false, false, SL_RESP_ERROR, 200, 0, SL_FAIL_MALFORMED, false},
    {"not http at all", "SSH-2.0-OpenSSH_9.2\r\n", 0, false, false, SL_RESP_ERROR, 0, 0,
     SL_FAIL_MALFORMED, false},
    /* Found by fuzz_response: llhttp accepts any three digits as a status. */
    {"status below 100", "HTTP/1.1 020 OK\r\nContent-Length: 0\r\n\r\n", 0, false, false,
     SL_RESP_ERROR, 20, 0, SL_FAIL_MALFORMED, false},
    {"status above 599", "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n", 0, false, false,
     SL_RESP_ERROR, 600, 0, SL_FAIL_MALFORMED, false},
};

static sl_resp_result_t feed_split(sl_resp_t *r, const resp_case_t *c, size_t chunk)
{
    size_t len = c->len ? c->len : strlen(c->bytes);
    sl_resp_result_t rr = SL_RESP_MORE;
    for (size_t off = 0; off < len && rr == SL_RESP_MORE; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        rr = sl_resp_feed(r, c->bytes + off, n);
    }
    if (rr == SL_RESP_MORE && c->then_eof)
        rr = sl_resp_eof(r);
    return rr;
}

static void check_case(const resp_case_t *c, size_t chunk)
{
    sl_resp_t r;
    sl_resp_start(&r, c->head);
    sl_resp_result_t rr = feed_split(&r, c, chunk);
    cr_assert_eq(rr, c->want, "%s (chunk %zu): result %d, want %d", c->name, chunk, rr, c->want);
    if (c->want == SL_RESP_DONE) {
        cr_assert_eq(r.status, c->status, "%s: status %u", c->name, r.status);
        cr_assert_eq(r.body_bytes, c->body, "%s: body %llu", c->name,
                     (unsigned long long)r.body_bytes);
        cr_assert_eq(r.keep_alive, c->keep_alive, "%s: keep-alive", c->name);
        cr_assert(!r.trailing, "%s: trailing", c->name);
    } else {
        cr_assert_eq(r.fail, c->fail, "%s (chunk %zu): fail %d, want %d", c->name, chunk, r.fail,
                     c->fail);
    }
}

Test(http_parse, table_whole)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        check_case(&cases[i], 1 << 20);
}

Test(http_parse, table_byte_by_byte)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        check_case(&cases[i], 1);
}

Test(http_parse, table_every_chunk_size)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        for (size_t chunk = 2; chunk < 40; chunk++)
            check_case(&cases[i], chunk);
}

Test(http_parse, header_block_over_limit)
{
    sl_resp_t r;
    sl_resp_start(&r, false);
    const char *head = "HTTP/1.1 200 OK\r\n";
    cr_assert_eq(sl_resp_feed(&r, head, strlen(head)), SL_RESP_MORE);
    char line[1024];
    memset(line, 'a', sizeof(line));
    memcpy(line, "X-Big: ", 7);
    line[sizeof(line) - 2] = '\r';
    line[sizeof(line) - 1] = '\n';
    sl_resp_result_t rr = SL_RESP_MORE;
    for (int i = 0; i < 200 && rr == SL_RESP_MORE; i++)
        rr = sl_resp_feed(&r, line, sizeof(line));
    cr_assert_eq(rr, SL_RESP_ERROR);
    cr_assert_eq(r.fail, SL_FAIL_HEADER_TOO_LARGE);
}

Test(http_parse, bytes_after_response_mark_trailing)
{
    sl_resp_t r;
    sl_resp_start(&r, false);
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA";
    cr_assert_eq(sl_resp_feed(&r, s, strlen(s)), SL_RESP_DONE);
    cr_assert(r.trailing);
}

Test(http_parse, restart_for_next_response)
{
    sl_resp_t r;
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (int i = 0; i < 3; i++) {
        sl_resp_start(&r, false);
        cr_assert_eq(sl_resp_feed(&r, s, strlen(s)), SL_RESP_DONE);
        cr_assert_eq(r.body_bytes, 2);
    }
}

Test(http_parse, fail_descriptions)
{
    char buf[128];
    cr_assert_str_eq(sl_fail_describe(SL_FAIL_HTTP, 503, buf, sizeof(buf)),
                     "HTTP 503 Service Unavailable");
    cr_assert_str_eq(sl_fail_describe(SL_FAIL_HTTP, 404, buf, sizeof(buf)), "HTTP 404 Not Found");
    cr_assert_str_eq(sl_fail_describe(SL_FAIL_HTTP, 599, buf, sizeof(buf)), "HTTP 599");
    cr_assert_str_eq(sl_fail_describe(SL_FAIL_CONNECT_REFUSED, 0, buf, sizeof(buf)),
                     "connection refused");
}

Test(http_parse, keeps_the_reason_phrase_of_an_error_status)
{
    sl_resp_t r;
    /* Split inside the phrase: the pieces are joined; other bytes are made printable. */
    const char *a = "HTTP/1.1 422 Unprocessable En", *b = "tity\x01\r\nContent-Length: 0\r\n\r\n";
    sl_resp_start(&r, false);
    cr_assert_eq(sl_resp_feed(&r, a, strlen(a)), SL_RESP_MORE);
    cr_assert_eq(sl_resp_feed(&r, b, strlen(b)), SL_RESP_DONE);
    cr_assert_eq(r.reason_len, strlen("Unprocessable Entity?"));
    cr_assert_arr_eq(r.reason, "Unprocessable Entity?", r.reason_len);
    /* A success keeps nothing. */
    const char *ok = "HTTP/1.1 200 Fine\r\nContent-Length: 0\r\n\r\n";
    sl_resp_start(&r, false);
    cr_assert_eq(sl_resp_feed(&r, ok, strlen(ok)), SL_RESP_DONE);
    cr_assert_eq(r.reason_len, 0);
}

Test(http_parse, error_texts_carried_in_the_detail)
{
    char buf[128];
    sl_rows_t *texts = sl_rows_new(0, NULL);
    uint32_t phrase, addr;
    cr_assert_eq(sl_rows_intern(texts, "", "Unprocessable Entity", &phrase), 0);
    cr_assert_eq(sl_rows_intern(texts, "", "127.0.0.1:1", &addr), 0);
    cr_assert_str_eq(sl_fail_describe_text(texts, SL_FAIL_HTTP, sl_detail_with_text(422, phrase),
                                           buf, sizeof(buf)),
                     "HTTP 422 Unprocessable Entity");
    cr_assert_str_eq(sl_fail_describe_text(texts, SL_FAIL_HTTP, 422, buf, sizeof(buf)),
                     "HTTP 422 Unprocessable Content");
    cr_assert_str_eq(sl_fail_describe_text(texts, SL_FAIL_CONNECT_REFUSED,
                                           sl_detail_with_text(0, addr), buf, sizeof(buf)),
                     "connection refused (127.0.0.1:1)");
    /* Without the registry, the number alone. */
    cr_assert_str_eq(
        sl_fail_describe(SL_FAIL_HTTP, sl_detail_with_text(422, phrase), buf, sizeof(buf)),
        "HTTP 422 Unprocessable Content");
    sl_rows_free(texts);
}
