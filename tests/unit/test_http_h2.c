/* The HTTP/2 glue (http/h2.c behind http/session.c) without a server process: the
 * session's connection is one end of a socketpair (h2c, prior knowledge), and the test
 * runs a real nghttp2 server session on the other end that answers each request as the
 * test says. */
#include <criterion/criterion.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/session.h"

enum answer { ANSWER_OK, ANSWER_RST, ANSWER_GOAWAY_AFTER_FIRST, ANSWER_BIG };

struct server {
    nghttp2_session *ng;
    int fd;
    enum answer answer;
    int streams; /* requests received on this connection */
    char method[64], path[64], authority[64], ua[64];
    bool saw_host;       /* a "host" field arrived (it must not: :authority carries it) */
    bool saw_connection; /* a connection-specific field arrived */
    char body[64];
    size_t body_len;
    size_t big_left; /* ANSWER_BIG: body bytes still to send */
};

struct owner {
    sl_http_session_t s;
    struct server srv;
    int connects, retries, conns_h2, dones;
    sl_fail_t fail;
    int detail;
    bool broken;
    bool capture;
    sl_resp_capture_t cap;
    enum answer answer;
};

static sl_loop_t loop;
static char rbuf[16384];
static sl_endpoint_t ep = {.h2_mode = SL_H2_PRIOR, .naddrs = 1};

#define OWNER(s) ((struct owner *)((char *)(s)-offsetof(struct owner, s)))

/* ---- the test's server ---- */

static ssize_t srv_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud)
{
    struct server *sv = ud;
    (void)ng;
    (void)flags;
    ssize_t n = write(sv->fd, data, len);
    return n < 0 ? NGHTTP2_ERR_WOULDBLOCK : n;
}

static int srv_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                      const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    struct server *sv = ud;
    (void)ng;
    (void)f;
    (void)flags;
    char v[64];
    snprintf(v, sizeof(v), "%.*s", (int)vl, (const char *)value);
    if (nl == 7 && !memcmp(name, ":method", 7))
        snprintf(sv->method, sizeof(sv->method), "%s", v);
    else if (nl == 5 && !memcmp(name, ":path", 5))
        snprintf(sv->path, sizeof(sv->path), "%s", v);
    else if (nl == 10 && !memcmp(name, ":authority", 10))
        snprintf(sv->authority, sizeof(sv->authority), "%s", v);
    else if (nl == 10 && !memcmp(name, "user-agent", 10))
        snprintf(sv->ua, sizeof(sv->ua), "%s", v);
    else if (nl == 4 && !memcmp(name, "host", 4))
        sv->saw_host = true;
    else if (nl == 10 && !memcmp(name, "connection", 10))
        sv->saw_connection = true;
    return 0;
}

static int srv_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                    void *ud)
{
    struct server *sv = ud;
    (void)ng;
    (void)flags;
    (void)id;
    size_t room = sizeof(sv->body) - sv->body_len;
    size_t n = len < room ? len : room;
    memcpy(sv->body + sv->body_len, data, n);
    sv->body_len += n;
    return 0;
}

static ssize_t srv_read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                             uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct server *sv = ud;
    (void)ng;
    (void)id;
    (void)src;
    if (sv->answer != ANSWER_BIG) {
        memcpy(buf, "hello", 5);
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 5;
    }
    size_t n = sv->big_left < len ? sv->big_left : len;
    memset(buf, 'b', n);
    sv->big_left -= n;
    if (!sv->big_left)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int srv_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    struct server *sv = ud;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    int32_t id = f->hd.stream_id;
    sv->streams++;
    if (sv->answer == ANSWER_RST) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
        return 0;
    }
    if (sv->answer == ANSWER_GOAWAY_AFTER_FIRST && sv->streams > 1) {
        nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, id - 2, NGHTTP2_NO_ERROR, NULL, 0);
        return 0;
    }
    if (sv->answer == ANSWER_BIG)
        sv->big_left = 1024 * 1024;
    nghttp2_nv hdrs[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"x-test", (uint8_t *)"v", 6, 1, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prd = {.read_callback = srv_read_body};
    nghttp2_submit_response(ng, id, hdrs, 2, &prd);
    return 0;
}

static void srv_start(struct server *sv, int fd, enum answer answer)
{
    if (sv->ng)
        nghttp2_session_del(sv->ng);
    memset(sv, 0, sizeof(*sv));
    sv->fd = fd;
    sv->answer = answer;
    nghttp2_session_callbacks *cbs;
    cr_assert_eq(nghttp2_session_callbacks_new(&cbs), 0);
    nghttp2_session_callbacks_set_send_callback(cbs, srv_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, srv_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, srv_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, srv_frame);
    cr_assert_eq(nghttp2_session_server_new(&sv->ng, cbs, sv), 0);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(sv->ng, NGHTTP2_FLAG_NONE, NULL, 0);
}

/* Reads what the client wrote and writes the server's answer. */
static void srv_pump(struct server *sv)
{
    uint8_t buf[16384];
    ssize_t n;
    while ((n = read(sv->fd, buf, sizeof(buf))) > 0)
        cr_assert_geq(nghttp2_session_mem_recv(sv->ng, buf, (size_t)n), 0);
    nghttp2_session_send(sv->ng);
}

/* ---- the session's owner ---- */

static void on_connect(sl_http_session_t *s)
{
    struct owner *o = OWNER(s);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    o->connects++;
    s->conn.fd = sv[0];
    s->conn.tp = &sl_tcp_transport;
    s->conn.ep = &ep;
    s->conn.established = true;
    s->conn.tcp_up = true;
    if (o->srv.ng)
        close(o->srv.fd);
    srv_start(&o->srv, sv[1], o->answer);
    sl_http_session_send(s);
}

static void on_closing(sl_http_session_t *s)
{
    (void)s;
}

static void on_event(sl_http_session_t *s, sl_http_event_t ev)
{
    if (ev == SL_HTTP_EV_RETRY)
        OWNER(s)->retries++;
    if (ev == SL_HTTP_EV_CONN_H2)
        OWNER(s)->conns_h2++;
}

static void on_response_start(sl_http_session_t *s)
{
    struct owner *o = OWNER(s);
    if (o->capture)
        sl_resp_capture_attach(&s->resp, &o->cap);
}

static void on_done(sl_http_session_t *s, sl_fail_t fail, int detail, bool broken)
{
    struct owner *o = OWNER(s);
    o->dones++;
    o->fail = fail;
    o->detail = detail;
    o->broken = broken;
}

static const sl_http_session_ops_t ops = {.connect = on_connect,
                                          .closing = on_closing,
                                          .response_start = on_response_start,
                                          .event = on_event,
                                          .done = on_done};

static const char GET[] = "GET /p?q=1 HTTP/1.1\r\nHost: example\r\nUser-Agent: ua/1\r\n"
                          "Connection: keep-alive\r\nAccept: */*\r\n\r\n";
static const char POST[] = "POST /up HTTP/1.1\r\nHost: example\r\nContent-Length: 3\r\n\r\nabc";

static void setup(struct owner *o, enum answer answer)
{
    memset(o, 0, sizeof(*o));
    o->answer = answer;
    sl_loop_update_now(&loop);
    sl_http_session_init(&o->s, &ops, &loop, rbuf, sizeof(rbuf));
}

static void teardown(struct owner *o)
{
    sl_http_session_dispose(&o->s);
    if (o->srv.ng) {
        nghttp2_session_del(o->srv.ng);
        close(o->srv.fd);
    }
    sl_resp_capture_free(&o->cap);
}

/* Runs one exchange to its outcome: the server and the client take turns. */
static void exchange(struct owner *o, const char *wire)
{
    int before = o->dones;
    sl_http_exchange_t req = {.wire = wire, .wire_len = strlen(wire), .idempotent = wire == GET};
    sl_http_session_begin(&o->s, &req);
    for (int i = 0; i < 2000 && o->dones == before; i++) {
        srv_pump(&o->srv);
        sl_loop_update_now(&loop);
        sl_http_session_on_io(&o->s, false);
    }
    cr_assert_eq(o->dones, before + 1, "one outcome per exchange");
}

Test(http_h2, request_translated_and_connection_reused)
{
    struct owner o;
    setup(&o, ANSWER_OK);
    exchange(&o, GET);
    cr_expect_eq(o.fail, SL_FAIL_NONE);
    cr_expect_eq(o.s.resp.status, 200);
    cr_expect_eq(o.s.resp.body_bytes, 5);
    cr_expect_eq(o.s.proto, SL_PROTO_H2);
    cr_expect_str_eq(o.srv.method, "GET");
    cr_expect_str_eq(o.srv.path, "/p?q=1");
    cr_expect_str_eq(o.srv.authority, "example");
    cr_expect_str_eq(o.srv.ua, "ua/1", "names lower-cased, values kept");
    cr_expect(!o.srv.saw_host, "Host became :authority");
    cr_expect(!o.srv.saw_connection, "connection-specific fields are dropped");
    exchange(&o, GET);
    cr_expect_eq(o.fail, SL_FAIL_NONE);
    cr_expect_eq(o.connects, 1, "the second request reuses the connection");
    cr_expect_eq(o.conns_h2, 1);
    cr_expect_eq(o.srv.streams, 2);
    teardown(&o);
}

Test(http_h2, body_and_capture)
{
    struct owner o;
    setup(&o, ANSWER_OK);
    o.capture = true;
    exchange(&o, POST);
    cr_expect_eq(o.fail, SL_FAIL_NONE);
    cr_expect_str_eq(o.srv.method, "POST");
    cr_expect_eq(o.srv.body_len, 3);
    cr_expect(!memcmp(o.srv.body, "abc", 3), "the request body arrived");
    size_t from = 0;
    const char *v = sl_resp_capture_header(&o.cap, "x-test", &from);
    cr_assert_not_null(v, "response header captured");
    cr_expect_str_eq(v, "v");
    cr_expect_eq(o.cap.body_len, 5);
    cr_expect(!memcmp(o.cap.body, "hello", 5), "response body captured");
    teardown(&o);
}

Test(http_h2, rst_stream_is_its_own_failure_and_keeps_the_connection)
{
    struct owner o;
    setup(&o, ANSWER_RST);
    exchange(&o, GET);
    cr_expect_eq(o.fail, SL_FAIL_H2_RESET);
    cr_expect_eq(o.detail, NGHTTP2_INTERNAL_ERROR);
    cr_expect(!o.broken, "the connection stays");
    cr_expect_geq(o.s.conn.fd, 0);
    exchange(&o, GET);
    cr_expect_eq(o.connects, 1);
    teardown(&o);
}

Test(http_h2, stream_above_goaway_is_retried_on_a_new_connection)
{
    struct owner o;
    setup(&o, ANSWER_GOAWAY_AFTER_FIRST);
    exchange(&o, GET);
    cr_expect_eq(o.fail, SL_FAIL_NONE);
    exchange(&o, GET); /* refused by GOAWAY, retried on a fresh connection */
    cr_expect_eq(o.fail, SL_FAIL_NONE);
    cr_expect_eq(o.retries, 1);
    cr_expect_eq(o.connects, 2);
    teardown(&o);
}

Test(http_h2, smallest_window_still_completes_a_large_body)
{
    struct owner o;
    setup(&o, ANSWER_BIG);
    ep.h2_window = 65535;
    exchange(&o, GET);
    ep.h2_window = 0;
    cr_expect_eq(o.fail, SL_FAIL_NONE);
    cr_expect_eq(o.s.resp.body_bytes, 1024 * 1024, "every byte consumed, nothing stalls");
    teardown(&o);
}
