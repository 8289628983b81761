/* Fuzz target for the HTTP response reader (src/http/response.h), driven the way a
 * worker's HTTP session drives it: sl_resp_start for each request, sl_resp_feed for each
 * read, sl_resp_eof when the peer closes, and a new response on the same connection after
 * a complete keep-alive one.
 *
 * Input layout, so that the fuzzer controls the splitting as well as the bytes:
 *   byte 0      bit 0: the request was HEAD; bits 1-3: n, the number of split sizes;
 *               bit 4: the connection ends with EOF (else it just stops, as at a timeout)
 *   bytes 1..n  split sizes: read k gets (size[k % n] + 1) bytes; n = 0 means one read
 *   the rest    what the server sent
 * Each read is copied to the very end of a heap buffer, so AddressSanitizer catches a read
 * past the end of one read even when more input follows it.
 *
 * Invariants checked: every result is one of the enum values; an error carries a failure
 * category in range; a completed response carries a status and, for HEAD, 204, 304, no
 * body; body bytes never exceed the bytes fed; the header count stays within its limit
 * on success; EOF never answers "need more". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_response: invariant failed: %s (line %d)\n", #cond, __LINE__);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_error(const sl_resp_t *r)
{
    CHECK(r->fail != SL_FAIL_NONE);
    CHECK(r->fail <= SL_FAIL_IO);
}

static void check_done(const sl_resp_t *r, size_t fed)
{
    CHECK(r->complete);
    CHECK(r->status >= 100 && r->status <= 599); /* the reader refuses any other status */
    CHECK(r->status < 100 || r->status >= 200 || r->status == 101);
    /* header_bytes counts what was fed while the headers were incomplete (the ceiling is
     * enforced per read), so it may pass the ceiling in the read that completed them. */
    CHECK(r->headers_done);
    CHECK(r->body_bytes <= fed);
    if (r->is_head || r->status == 204 || r->status == 304 || r->status < 200)
        CHECK(r->body_bytes == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool is_head = data[0] & 1;
    size_t nsplit = (data[0] >> 1) & 7;
    bool eof = (data[0] >> 4) & 1;
    if (size < 1 + nsplit)
        return 0;
    const uint8_t *split = data + 1;
    const uint8_t *in = data + 1 + nsplit;
    size_t len = size - 1 - nsplit;

    /* One allocation per input: each read is placed so that it ends where the buffer
     * does, right before ASan's redzone. */
    char *buf = malloc(len ? len : 1);
    CHECK(buf != NULL);
    sl_resp_t r;
    sl_resp_start(&r, is_head);
    size_t off = 0, k = 0;
    size_t fed = 0; /* bytes fed to the current response */
    sl_resp_result_t rr = SL_RESP_MORE;
    while (off < len) {
        size_t n = nsplit ? (size_t)split[k % nsplit] + 1 : len;
        k++;
        if (n > len - off)
            n = len - off;
        char *at = buf + len - n;
        memcpy(at, in + off, n);
        rr = sl_resp_feed(&r, at, n);
        off += n;
        fed += n;
        CHECK(rr == SL_RESP_MORE || rr == SL_RESP_DONE || rr == SL_RESP_ERROR);
        CHECK(r.body_bytes <= fed);
        if (rr == SL_RESP_ERROR) {
            check_error(&r);
            free(buf);
            return 0; /* the session closes the connection */
        }
        if (rr == SL_RESP_DONE) {
            check_done(&r, fed);
            bool reuse = r.keep_alive && !r.trailing;
            /* Feeding a completed response is harmless and marks the extra bytes. */
            CHECK(sl_resp_feed(&r, "x", 1) == SL_RESP_DONE && r.trailing);
            if (!reuse) {
                free(buf);
                return 0; /* the session closes: not keep-alive, or bytes followed */
            }
            /* Reused keep-alive connection: the next read belongs to the next response. */
            sl_resp_start(&r, is_head);
            fed = 0;
            rr = SL_RESP_MORE;
        }
    }
    free(buf);
    if (!eof)
        return 0;
    rr = sl_resp_eof(&r);
    CHECK(rr == SL_RESP_DONE || rr == SL_RESP_ERROR);
    if (rr == SL_RESP_ERROR)
        check_error(&r);
    else
        check_done(&r, fed);
    return 0;
}
