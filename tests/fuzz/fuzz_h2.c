/* Fuzz target for HTTP/2 server bytes through the session glue (src/http/session.c and
 * src/http/h2.c): a real sl_http_session_t with an h2c endpoint (prior knowledge), over a
 * transport that swallows what the client writes (its preface, SETTINGS, requests) and
 * reads the fuzzer's bytes as what the server sent after it.
 *
 * Input layout, so that the fuzzer controls the splitting as well as the bytes:
 *   byte 0      bit 0: the requests are HEAD; bit 1: responses are captured (as for a
 *               scripted request); bit 2: each read reports hup; bits 3-5: n, the number
 *               of split sizes; bit 6: the connection ends with EOF (else the exchange
 *               times out)
 *   bytes 1..n  split sizes: read k gets (size[k % n] + 1) bytes; n = 0 means one read
 *   the rest    the server's frames
 * Each read is copied to the very end of a heap buffer, so AddressSanitizer catches a read
 * past the end of one read.
 *
 * Invariants checked: exactly one outcome per exchange; a failure category in range; a
 * success carries a final status and, for HEAD, no body; body bytes never exceed the
 * bytes fed; the session is idle after each outcome. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_h2: invariant failed: %s (line %d)\n", #cond, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct {
    const uint8_t *in;
    size_t len, pos;
    const uint8_t *splits;
    size_t nsplit, k;
    bool eof;
    char *chunk; /* the current read, at the end of its own heap buffer */
    int outcomes;
    sl_fail_t fail;
    bool capture;
    sl_resp_capture_t cap;
} F;

static ssize_t fz_read(sl_conn_t *c, char *buf, size_t len)
{
    (void)c;
    if (F.pos >= F.len)
        return F.eof ? SL_IO_EOF : SL_IO_AGAIN;
    size_t n = F.nsplit ? (size_t)F.splits[F.k++ % F.nsplit] + 1 : F.len - F.pos;
    if (n > F.len - F.pos)
        n = F.len - F.pos;
    if (n > len)
        n = len;
    free(F.chunk);
    F.chunk = malloc(n);
    memcpy(F.chunk, F.in + F.pos, n);
    memcpy(buf, F.chunk, n);
    F.pos += n;
    return (ssize_t)n;
}

static ssize_t fz_write(sl_conn_t *c, const char *buf, size_t len)
{
    (void)c;
    (void)buf;
    return (ssize_t)len;
}

static int fz_establish(sl_conn_t *c)
{
    (void)c;
    return 0;
}

static bool fz_pending(const sl_conn_t *c)
{
    (void)c;
    return false;
}

static bool fz_idle_ok(sl_conn_t *c)
{
    (void)c;
    return true;
}

static const sl_transport_t fz_tp = {
    .establish = fz_establish,
    .read = fz_read,
    .write = fz_write,
    .pending = fz_pending,
    .idle_bytes_ok = fz_idle_ok,
};

static sl_endpoint_t fz_ep = {.h2_mode = SL_H2_PRIOR, .naddrs = 1};

static void on_connect(sl_http_session_t *s)
{
    s->conn.fd = open("/dev/null", O_RDWR);
    CHECK(s->conn.fd >= 0);
    s->conn.tp = &fz_tp;
    s->conn.ep = &fz_ep;
    s->conn.established = true;
    sl_http_session_send(s);
}

static void on_closing(sl_http_session_t *s)
{
    (void)s;
}

static void on_event(sl_http_session_t *s, sl_http_event_t ev)
{
    (void)s;
    CHECK(ev <= SL_HTTP_EV_H2_DECLINED);
}

static void on_response_start(sl_http_session_t *s)
{
    if (F.capture)
        sl_resp_capture_attach(&s->resp, &F.cap);
}

static void on_done(sl_http_session_t *s, sl_fail_t fail, int detail, bool broken)
{
    (void)detail;
    F.outcomes++;
    F.fail = fail;
    CHECK(fail <= SL_FAIL_H2_REFUSED);
    CHECK(!sl_http_session_busy(s));
    if (broken)
        CHECK(s->conn.fd < 0);
    if (fail == SL_FAIL_NONE || fail == SL_FAIL_HTTP) {
        CHECK(s->resp.status >= 200 && s->resp.status <= 599);
        CHECK(s->resp.body_bytes <= F.len);
        if (s->resp.is_head)
            CHECK(s->resp.body_bytes == 0);
    }
}

static const sl_http_session_ops_t ops = {
    .connect = on_connect,
    .closing = on_closing,
    .response_start = on_response_start,
    .event = on_event,
    .done = on_done,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    memset(&F, 0, sizeof(F));
    bool is_head = data[0] & 1;
    F.capture = (data[0] >> 1) & 1;
    bool hup = (data[0] >> 2) & 1;
    F.nsplit = (data[0] >> 3) & 7;
    F.eof = (data[0] >> 6) & 1;
    if (size < 1 + F.nsplit)
        return 0;
    F.splits = data + 1;
    F.in = data + 1 + F.nsplit;
    F.len = size - 1 - F.nsplit;

    static char rbuf[16 * 1024];
    sl_loop_t loop;
    memset(&loop, 0, sizeof(loop));
    sl_http_session_t s;
    memset(&s, 0, sizeof(s));
    sl_http_session_init(&s, &ops, &loop, rbuf, sizeof(rbuf));
    static const char get[] = "GET /x HTTP/1.1\r\nHost: fuzz\r\nAccept: */*\r\n\r\n";
    static const char head[] = "HEAD /x HTTP/1.1\r\nHost: fuzz\r\nAccept: */*\r\n\r\n";
    sl_http_exchange_t req = {.wire = is_head ? head : get,
                              .wire_len = is_head ? sizeof(head) - 1 : sizeof(get) - 1,
                              .idempotent = true,
                              .is_head = is_head};
    /* Exchanges one after the other on the connection while input is left. */
    for (int ex = 0; ex < 8; ex++) {
        int before = F.outcomes;
        sl_http_session_begin(&s, &req);
        for (int rounds = 0; sl_http_session_busy(&s) && rounds < 100000; rounds++) {
            size_t pos = F.pos;
            sl_http_session_on_io(&s, hup);
            if (F.pos == pos && sl_http_session_busy(&s))
                break; /* nothing more will come */
        }
        if (sl_http_session_busy(&s))
            sl_http_session_fail(&s, SL_FAIL_TIMEOUT, 0, true);
        CHECK(F.outcomes == before + 1);
        if (F.pos >= F.len)
            break;
    }
    sl_http_session_dispose(&s);
    sl_resp_capture_free(&F.cap);
    free(F.chunk);
    return 0;
}
