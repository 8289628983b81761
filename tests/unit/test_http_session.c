/* The HTTP/1.1 session (http/session.c) without a server: its connection is one end of a
 * socketpair behind the plain TCP transport, the test plays the server on the other end
 * and the owner's callbacks record what the session reports. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/session.h"

struct owner {
    sl_http_session_t s;
    int peer;     /* the server's end */
    int connects; /* ops->connect calls */
    int closings; /* ops->closing calls */
    int retries;  /* SL_HTTP_EV_RETRY */
    int stale;    /* SL_HTTP_EV_STALE */
    int dones;    /* outcomes */
    sl_fail_t fail;
    int detail;
    bool broken;
    sl_resp_capture_t cap; /* attached to each response when capture is set */
    bool capture;
    int redirects;     /* ops->redirect calls */
    char location[64]; /* the last one's Location */
};

static sl_loop_t loop;
static char rbuf[4096];

#define OWNER(s) ((struct owner *)((char *)(s)-offsetof(struct owner, s)))

/* Gives the session an established connection to a fresh peer. */
static void attach(struct owner *o)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    o->s.conn.fd = sv[0];
    o->s.conn.tp = &sl_tcp_transport;
    o->s.conn.established = true;
    o->s.conn.tcp_up = true;
    if (o->peer >= 0)
        close(o->peer);
    o->peer = sv[1];
}

static void on_connect(sl_http_session_t *s)
{
    struct owner *o = OWNER(s);
    o->connects++;
    attach(o);
    sl_http_session_send(s);
}

static void on_closing(sl_http_session_t *s)
{
    OWNER(s)->closings++;
}

static void on_event(sl_http_session_t *s, sl_http_event_t ev)
{
    if (ev == SL_HTTP_EV_RETRY)
        OWNER(s)->retries++;
    else if (ev == SL_HTTP_EV_STALE)
        OWNER(s)->stale++;
}

static void on_done(sl_http_session_t *s, sl_fail_t fail, int detail, bool broken)
{
    struct owner *o = OWNER(s);
    o->dones++;
    o->fail = fail;
    o->detail = detail;
    o->broken = broken;
}

static void on_response_start(sl_http_session_t *s)
{
    struct owner *o = OWNER(s);
    if (o->capture)
        sl_resp_capture_attach(&s->resp, &o->cap);
}

static const char NEXT[] = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";

static bool on_redirect(sl_http_session_t *s, uint16_t status, const char *location,
                        sl_http_exchange_t *next)
{
    struct owner *o = OWNER(s);
    o->redirects++;
    o->detail = status;
    snprintf(o->location, sizeof(o->location), "%s", location);
    *next = (sl_http_exchange_t){.wire = NEXT, .wire_len = strlen(NEXT), .idempotent = true};
    return true;
}

static const sl_http_session_ops_t ops = {.connect = on_connect,
                                          .closing = on_closing,
                                          .response_start = on_response_start,
                                          .event = on_event,
                                          .redirect = on_redirect,
                                          .done = on_done};

static const char GET[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
static const char POST[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx";
static const char OK[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

static void setup(struct owner *o)
{
    memset(o, 0, sizeof(*o));
    o->peer = -1;
    sl_loop_update_now(&loop);
    sl_http_session_init(&o->s, &ops, &loop, rbuf, sizeof(rbuf));
}

static void teardown(struct owner *o)
{
    sl_http_session_close(&o->s, false);
    sl_resp_capture_free(&o->cap);
    if (o->peer >= 0)
        close(o->peer);
}

static void expect_request(struct owner *o, const char *want)
{
    char buf[512];
    ssize_t n = read(o->peer, buf, sizeof(buf));
    cr_assert_eq(n, (ssize_t)strlen(want), "the server got %zd bytes", n);
    cr_expect(memcmp(buf, want, (size_t)n) == 0);
}

static void respond(struct owner *o, const char *resp)
{
    cr_assert_eq(write(o->peer, resp, strlen(resp)), (ssize_t)strlen(resp));
    sl_http_session_on_io(&o->s, false);
}

static void begin(struct owner *o, const char *wire, bool idempotent)
{
    sl_http_exchange_t ex = {.wire = wire, .wire_len = strlen(wire), .idempotent = idempotent};
    sl_http_session_begin(&o->s, &ex);
}

/* One exchange on a new connection, a second on the same one. */
static void two_exchanges(struct owner *o)
{
    begin(o, GET, true);
    cr_assert_eq(o->connects, 1);
    cr_assert_eq(o->s.state, SL_HTTP_READING);
    expect_request(o, GET);
    respond(o, OK);
    cr_assert_eq(o->dones, 1);
    cr_expect_eq(o->fail, SL_FAIL_NONE);
    cr_expect_eq(o->detail, 200);
    cr_expect(!o->broken);
    cr_expect(o->s.reused, "kept alive");
    cr_expect_eq(o->s.resp.body_bytes, 2);
}

Test(http_session, keep_alive_reuses_the_connection)
{
    struct owner o;
    setup(&o);
    two_exchanges(&o);
    begin(&o, GET, true);
    cr_expect_eq(o.connects, 1, "no new connection");
    expect_request(&o, GET);
    respond(&o, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
    cr_expect_eq(o.dones, 2);
    cr_expect_eq(o.fail, SL_FAIL_HTTP);
    cr_expect_eq(o.detail, 503);
    teardown(&o);
}

Test(http_session, connection_close_is_not_reused)
{
    struct owner o;
    setup(&o);
    begin(&o, GET, true);
    expect_request(&o, GET);
    respond(&o, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    cr_expect_eq(o.dones, 1);
    cr_expect_eq(o.s.conn.fd, -1);
    begin(&o, GET, true);
    cr_expect_eq(o.connects, 2);
    teardown(&o);
}

/* The retry rule: closed before any response byte on a reused connection, an idempotent
 * request is sent once more on a new connection and reported once. */
Test(http_session, idempotent_request_is_retried_once)
{
    struct owner o;
    setup(&o);
    two_exchanges(&o);
    begin(&o, GET, true);
    expect_request(&o, GET);
    close(o.peer); /* the server closed the kept-alive connection instead of answering */
    o.peer = -1;
    sl_http_session_on_io(&o.s, true);
    cr_expect_eq(o.retries, 1);
    cr_expect_eq(o.connects, 2);
    cr_expect_eq(o.dones, 1, "no outcome yet");
    expect_request(&o, GET);
    respond(&o, OK);
    cr_expect_eq(o.dones, 2);
    cr_expect_eq(o.fail, SL_FAIL_NONE);
    teardown(&o);
}

Test(http_session, retry_happens_only_once)
{
    struct owner o;
    setup(&o);
    two_exchanges(&o);
    begin(&o, GET, true);
    close(o.peer);
    o.peer = -1;
    sl_http_session_on_io(&o.s, true); /* retried on a new connection */
    close(o.peer);
    o.peer = -1;
    sl_http_session_on_io(&o.s, true); /* a fresh connection closing is a failure */
    cr_expect_eq(o.retries, 1);
    cr_expect_eq(o.dones, 2);
    cr_expect_neq(o.fail, SL_FAIL_NONE);
    cr_expect(o.broken);
    teardown(&o);
}

Test(http_session, post_is_not_retried)
{
    struct owner o;
    setup(&o);
    two_exchanges(&o);
    begin(&o, POST, false);
    expect_request(&o, POST);
    close(o.peer);
    o.peer = -1;
    sl_http_session_on_io(&o.s, true);
    cr_expect_eq(o.retries, 0);
    cr_expect_eq(o.connects, 1);
    cr_expect_eq(o.dones, 2);
    cr_expect_neq(o.fail, SL_FAIL_NONE);
    cr_expect(o.broken);
    cr_expect_eq(o.s.conn.fd, -1);
    teardown(&o);
}

/* A connection idle for longer than the check's threshold and closed by the server is
 * replaced before the request goes out: no retry is needed. */
Test(http_session, stale_connection_is_replaced_before_reuse)
{
    struct owner o;
    setup(&o);
    two_exchanges(&o);
    close(o.peer);
    o.peer = -1;
    loop.now_us += 2 * SL_HTTP_STALE_CHECK_US;
    begin(&o, POST, false);
    cr_expect_eq(o.stale, 1);
    cr_expect_eq(o.connects, 2);
    expect_request(&o, POST);
    respond(&o, OK);
    cr_expect_eq(o.dones, 2);
    cr_expect_eq(o.fail, SL_FAIL_NONE);
    cr_expect_eq(o.retries, 0);
    teardown(&o);
}

Test(http_session, malformed_response_fails_and_closes)
{
    struct owner o;
    setup(&o);
    begin(&o, GET, true);
    expect_request(&o, GET);
    respond(&o, "SMTP ready\r\n\r\n");
    cr_expect_eq(o.dones, 1);
    cr_expect_neq(o.fail, SL_FAIL_NONE);
    cr_expect(o.broken);
    cr_expect_eq(o.s.conn.fd, -1);
    cr_expect_geq(o.closings, 1);
    teardown(&o);
}

Test(http_session, unsent_request_fails_without_io)
{
    struct owner o;
    setup(&o);
    sl_http_exchange_t ex = {.wire = GET, .wire_len = 0, .idempotent = true};
    sl_http_session_fail_unsent(&o.s, &ex);
    cr_expect_eq(o.dones, 1);
    cr_expect_eq(o.fail, SL_FAIL_UNSENT);
    cr_expect_eq(o.connects, 0);
    teardown(&o);
}

static const char FOUND[] = "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n";

/* A redirect the owner renders goes out on the same connection, and the request still
 * has one outcome: the final response's. */
Test(http_session, redirect_is_followed_as_one_request)
{
    struct owner o;
    setup(&o);
    o.capture = true;
    sl_http_exchange_t ex = {
        .wire = GET, .wire_len = strlen(GET), .idempotent = true, .max_redirects = 2};
    sl_http_session_begin(&o.s, &ex);
    expect_request(&o, GET);
    respond(&o, FOUND);
    cr_expect_eq(o.redirects, 1);
    cr_expect_str_eq(o.location, "/b");
    cr_expect_eq(o.dones, 0, "no outcome for the redirect itself");
    expect_request(&o, NEXT);
    respond(&o, FOUND);
    expect_request(&o, NEXT);
    respond(&o, FOUND); /* the third: over max_redirects, so it is the outcome */
    cr_expect_eq(o.redirects, 2);
    cr_expect_eq(o.dones, 1);
    cr_expect_eq(o.detail, 302);
    cr_expect_eq(o.connects, 1, "one connection throughout");
    teardown(&o);
}

Test(http_session, redirect_not_followed_without_max_redirects)
{
    struct owner o;
    setup(&o);
    o.capture = true;
    begin(&o, GET, true);
    expect_request(&o, GET);
    respond(&o, FOUND);
    cr_expect_eq(o.redirects, 0);
    cr_expect_eq(o.dones, 1);
    cr_expect_eq(o.detail, 302);
    teardown(&o);
}

/* The phases of a request on a kept-alive connection, stamped off the loop's clock: sent
 * at once, the first byte 50 ms later, the last 300 us after that. */
Test(http_session, phases_stamp_waiting_and_receiving_on_a_reused_connection)
{
    struct owner o;
    setup(&o);
    two_exchanges(&o);
    uint64_t t = sl_loop_update_now(&loop);
    begin(&o, GET, true);
    cr_assert_eq(o.s.phases.conn, SL_PHASES_CONN_REUSED);
    cr_assert_eq(o.s.sent_us, t);
    cr_assert_eq(o.s.sent_done_us, t, "written in one go");
    expect_request(&o, GET);
    loop.now_us = t + 50000;
    respond(&o, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nh");
    cr_assert_eq(o.dones, 2 - 1, "not complete yet");
    loop.now_us = t + 50300;
    respond(&o, "i");
    cr_assert_eq(o.dones, 2);
    sl_phases_t ph;
    sl_http_session_phases(&o.s, t + 50400, true, &ph);
    cr_expect(ph.responded);
    cr_expect_eq(ph.conn, SL_PHASES_CONN_REUSED);
    cr_expect_eq(ph.sending_us, 0);
    cr_expect_eq(ph.waiting_us, 50000);
    cr_expect_eq(ph.receiving_us, 400);
    cr_expect_eq(ph.connect_us + ph.tls_us, 0, "nothing connected for it");
    sl_http_session_phases(&o.s, t + 50400, false, &ph);
    cr_expect(!ph.responded, "no response: no waiting or receiving");
    cr_expect_eq(ph.waiting_us, 0);
    /* The next request starts afresh. */
    begin(&o, GET, true);
    cr_expect_eq(o.s.first_byte_us, 0);
    teardown(&o);
}
