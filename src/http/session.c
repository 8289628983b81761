/* The HTTP/1.1 session (see session.h): write, read, keep-alive, the stale check and the
 * retry rule for one connection. Hot path per request: one write, the reads of one
 * response, no allocation; the next request is written as soon as the previous response
 * completes, on the same registered socket. */
#include "http/session.h"

#include "http/h2.h"

void sl_http_session_init(sl_http_session_t *s, const sl_http_session_ops_t *ops, sl_loop_t *loop,
                          char *rbuf, size_t rbuf_len)
{
    s->ops = ops;
    s->loop = loop;
    s->rbuf = rbuf;
    s->rbuf_len = rbuf_len;
    s->conn.fd = -1;
    s->state = SL_HTTP_IDLE;
}

static void release(sl_http_session_t *s, bool abortive)
{
    sl_h2_free(s->h2);
    s->h2 = NULL;
    s->proto = SL_PROTO_NONE;
    sl_conn_close(&s->conn, abortive);
    s->reused = false;
}

void sl_http_session_close(sl_http_session_t *s, bool abortive)
{
    s->ops->closing(s);
    release(s, abortive);
}

void sl_http_session_dispose(sl_http_session_t *s)
{
    release(s, false);
}

static void done(sl_http_session_t *s, sl_fail_t fail, int detail, bool broken)
{
    s->state = SL_HTTP_IDLE;
    s->ops->done(s, fail, detail, broken);
}

void sl_http_session_fail(sl_http_session_t *s, sl_fail_t fail, int detail, bool abortive)
{
    sl_http_session_close(s, abortive);
    done(s, fail, detail, true);
}

/* Sends the current request, reusing the connection when it is still good. */
static void begin(sl_http_session_t *s)
{
    s->wpos = 0;
    s->sent_done_us = s->first_byte_us = 0;
    sl_resp_start(&s->resp, s->req.is_head);
    if (s->ops->response_start)
        s->ops->response_start(s);
    /* A request that cannot be retried must not go into a connection the server closed
     * while it sat idle (its FIN may have come while the loop was busy elsewhere, e.g.
     * in a script): check, and open a new one instead. */
    if (s->h2) {
        /* HTTP/2 has its own housekeeping on an idle connection (PING, SETTINGS): read
         * it, and a GOAWAY or a close that came meanwhile, before opening a stream. */
        sl_h2_out_t o = {0};
        if (s->loop->now_us - s->idle_since_us > SL_HTTP_STALE_CHECK_US)
            sl_h2_drive(s->h2, s->rbuf, s->rbuf_len, false, &o);
        if (o.conn_dead || !sl_h2_usable(s->h2))
            sl_http_session_close(s, false);
    } else if (s->conn.fd >= 0 && s->reused &&
               s->loop->now_us - s->idle_since_us > SL_HTTP_STALE_CHECK_US &&
               !sl_conn_idle_alive(&s->conn)) {
        s->ops->event(s, SL_HTTP_EV_STALE);
        sl_http_session_close(s, false);
    }
    if (s->conn.fd < 0) {
        s->state = SL_HTTP_CONNECTING;
        s->ops->connect(s);
        return;
    }
    if (s->phases.conn != SL_PHASES_CONN_NEW) /* a redirect's hop on the new connection */
        s->phases.conn = SL_PHASES_CONN_REUSED;
    sl_http_session_send(s);
}

void sl_http_session_begin(sl_http_session_t *s, const sl_http_exchange_t *req)
{
    s->req = *req;
    s->sent_us = 0;
    s->retried = false;
    s->redirects = 0;
    s->phases = (sl_phases_t){0};
    begin(s);
}

static bool is_redirect(uint16_t st)
{
    return st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
}

/* A complete response: the outcome, unless it is a redirect the owner follows. Then the
 * next request goes out as the same request (one outcome, retried afresh), timed from
 * its own write. */
static void complete(sl_http_session_t *s, uint16_t st)
{
    if (s->redirects < s->req.max_redirects && is_redirect(st) && s->ops->redirect && s->resp.cap) {
        size_t from = 0;
        const char *loc = sl_resp_capture_header(s->resp.cap, "location", &from);
        sl_http_exchange_t next;
        if (loc && *loc && s->ops->redirect(s, st, loc, &next)) {
            next.max_redirects = s->req.max_redirects;
            s->req = next;
            s->redirects++;
            s->sent_us = 0;
            s->retried = false;
            begin(s);
            return;
        }
    }
    done(s, st >= 400 ? SL_FAIL_HTTP : SL_FAIL_NONE, st, false);
}

void sl_http_session_fail_unsent(sl_http_session_t *s, const sl_http_exchange_t *req)
{
    s->req = *req;
    s->sent_us = 0;
    s->retried = false;
    s->phases = (sl_phases_t){0};
    s->sent_done_us = s->first_byte_us = 0;
    sl_resp_start(&s->resp, req->is_head);
    done(s, SL_FAIL_UNSENT, 0, true);
}

/* The contract's retry rule: a request on a reused keep-alive connection that the server
 * closed before any byte of the response is sent again, once, on a new connection when
 * its method is idempotent. */
static bool maybe_retry(sl_http_session_t *s)
{
    if (!s->reused || s->retried || s->resp.got_bytes || !s->req.idempotent)
        return false;
    s->retried = true;
    s->ops->event(s, SL_HTTP_EV_RETRY);
    sl_http_session_close(s, false);
    begin(s);
    return true;
}

static void conn_error(sl_http_session_t *s, bool eof)
{
    if ((eof || s->conn.fail == SL_FAIL_RESET) && maybe_retry(s))
        return;
    if (eof) {
        /* A response delimited by the close is complete now. */
        if (sl_resp_eof(&s->resp) == SL_RESP_DONE) {
            sl_http_session_close(s, false);
            complete(s, s->resp.status);
            return;
        }
        sl_http_session_fail(s, (sl_fail_t)s->resp.fail, 0, false);
        return;
    }
    sl_http_session_fail(s, (sl_fail_t)s->conn.fail, s->conn.err, false);
}

/* After an HTTP/2 drive: the outcome, a retry, or more waiting. sending: the drive ran
 * inside sl_http_session_begin/send, whose caller may not take an outcome at once unless
 * it is a broken one (the connection closed), as with HTTP/1.1. */
static void h2_result(sl_http_session_t *s, sl_h2_result_t res, const sl_h2_out_t *o, bool sending)
{
    if (res == SL_H2_MORE) {
        s->state = SL_HTTP_READING;
        if (o->conn_dead)
            sl_http_session_fail(s, SL_FAIL_CLOSED, 0, false);
        return;
    }
    if (res == SL_H2_DONE) {
        /* The timing phases, as for HTTP/1.1: the stream's first response byte (its
         * HEADERS frame) as the loop saw it. */
        if (!s->first_byte_us)
            s->first_byte_us = sl_h2_first_byte_us(s->h2);
        if (!s->sent_done_us)
            s->sent_done_us = s->sent_us;
        if (o->conn_dead) {
            sl_http_session_close(s, false);
        } else {
            s->reused = true;
            s->idle_since_us = s->loop->now_us;
        }
        complete(s, s->resp.status);
        return;
    }
    /* The retry rule, as for HTTP/1.1: a stream the server never processed (refused,
     * above a GOAWAY's last id, or cut by a close before any byte of its response) goes
     * again, once, on a new connection when its method is idempotent. */
    if (o->retryable && !s->retried && s->req.idempotent && !s->resp.got_bytes) {
        s->retried = true;
        s->ops->event(s, SL_HTTP_EV_RETRY);
        sl_http_session_close(s, false);
        begin(s);
        return;
    }
    if (o->conn_dead || sending) {
        sl_http_session_fail(s, o->fail, o->detail, false);
        return;
    }
    done(s, o->fail, o->detail, false);
}

/* The connection was just established: which protocol it speaks. */
static bool choose_proto(sl_http_session_t *s)
{
    const sl_endpoint_t *ep = s->conn.ep;
    bool h2 = ep && ((ep->h2_mode == SL_H2_PRIOR && !s->conn.ssl) ||
                     (ep->h2_mode == SL_H2_ALPN && sl_conn_alpn_h2(&s->conn)));
    if (!h2) {
        s->proto = SL_PROTO_H1;
        s->ops->event(s, SL_HTTP_EV_CONN_H1);
        if (ep && ep->h2_mode == SL_H2_ALPN)
            s->ops->event(s, SL_HTTP_EV_H2_DECLINED);
        return true;
    }
    s->h2 = sl_h2_new(&s->conn, ep->h2_window, &s->loop->now_us);
    if (!s->h2) {
        sl_http_session_fail(s, SL_FAIL_UNSENT, 0, false);
        return false;
    }
    s->proto = SL_PROTO_H2;
    s->ops->event(s, SL_HTTP_EV_CONN_H2);
    return true;
}

static void h2_send(sl_http_session_t *s)
{
    if (s->wpos == 0) {
        sl_fail_t f = sl_h2_submit(s->h2, s->req.wire, s->req.wire_len, &s->resp);
        if (f != SL_FAIL_NONE) {
            sl_http_session_fail(s, f, 0, false);
            return;
        }
        s->wpos = 1; /* submitted: nghttp2 writes the rest */
    }
    sl_h2_out_t o;
    /* Only written: what the server sends comes with the next readiness edge, so the
     * outcome is never reported from inside begin/send (as with HTTP/1.1). */
    sl_h2_result_t res = sl_h2_drive(s->h2, s->rbuf, 0, false, &o);
    /* Sent once nghttp2 has handed the request's frames to the kernel. */
    if (res == SL_H2_MORE && !s->sent_done_us && !sl_h2_want_write(s->h2))
        s->sent_done_us = s->loop->now_us;
    h2_result(s, res, &o, true);
}

void sl_http_session_send(sl_http_session_t *s)
{
    sl_conn_t *c = &s->conn;
    if (s->state == SL_HTTP_CONNECTING && s->proto == SL_PROTO_NONE && !choose_proto(s))
        return;
    if (s->wpos == 0 && !s->sent_us) {
        /* After a connect the loop's clock may be a batch old: read it afresh. */
        s->sent_us = s->state == SL_HTTP_CONNECTING ? sl_loop_update_now(s->loop) : s->loop->now_us;
    }
    if (s->h2) {
        h2_send(s);
        return;
    }
    while (s->wpos < s->req.wire_len) {
        ssize_t n = c->tp->write(c, s->req.wire + s->wpos, s->req.wire_len - s->wpos);
        if (n == SL_IO_AGAIN) {
            s->state = SL_HTTP_SENDING;
            return;
        }
        if (n < 0) {
            if (c->fail == SL_FAIL_RESET && maybe_retry(s))
                return;
            sl_http_session_fail(s, (sl_fail_t)c->fail, c->err, false);
            return;
        }
        s->wpos += (uint32_t)n;
    }
    s->sent_done_us = s->loop->now_us;
    s->state = SL_HTTP_READING;
}

/* hup: the readiness event also reported the peer's close (or an error). That edge will
 * not come again, so the socket is read until it says EOF, error or would-block. */
static void read_response(sl_http_session_t *s, bool hup)
{
    sl_conn_t *c = &s->conn;
    for (;;) {
        ssize_t n = c->tp->read(c, s->rbuf, s->rbuf_len);
        if (n == SL_IO_AGAIN)
            return;
        if (n == SL_IO_EOF || n == SL_IO_ERR) {
            conn_error(s, n == SL_IO_EOF);
            return;
        }
        if (!s->first_byte_us)
            s->first_byte_us = s->loop->now_us; /* when the loop saw the bytes arrive */
        sl_resp_result_t rr = sl_resp_feed(&s->resp, s->rbuf, (size_t)n);
        if (rr == SL_RESP_ERROR) {
            sl_http_session_fail(s, (sl_fail_t)s->resp.fail, 0, true);
            return;
        }
        if (rr == SL_RESP_DONE) {
            /* A server that already closed its end cannot take the next request: open a
             * fresh connection rather than provoke a reset and a retry. */
            if (!s->resp.keep_alive || s->resp.trailing || hup) {
                sl_http_session_close(s, false);
            } else {
                s->reused = true;
                s->idle_since_us = s->loop->now_us;
            }
            complete(s, s->resp.status);
            return;
        }
        /* A short read on TCP means the socket was drained: the next byte brings a new
         * edge. A transport that may hold more (TLS, one record at a time) is read until
         * it would block. */
        if ((size_t)n < s->rbuf_len && !hup && !c->tp->pending(c))
            return;
    }
}

void sl_http_session_on_io(sl_http_session_t *s, bool hup)
{
    if (s->h2) {
        sl_h2_out_t o;
        sl_h2_result_t res = sl_h2_drive(s->h2, s->rbuf, s->rbuf_len, hup, &o);
        if (s->state == SL_HTTP_IDLE) {
            if (o.conn_dead)
                sl_http_session_close(s, false);
            return;
        }
        if (s->state != SL_HTTP_CONNECTING)
            h2_result(s, res, &o, false);
        return;
    }
    switch (s->state) {
    case SL_HTTP_SENDING:
        sl_http_session_send(s);
        break;
    case SL_HTTP_READING:
        read_response(s, hup);
        break;
    case SL_HTTP_IDLE:
        /* Between requests (only while stopping or after a failure): the server may close
         * the idle connection; notice it now so the next request does not need a retry. */
        if (hup)
            sl_http_session_close(s, false);
        break;
    default:
        break;
    }
}
