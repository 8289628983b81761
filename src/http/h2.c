/* HTTP/2 over nghttp2 (see h2.h): the session's callbacks write to the connection and
 * fill the current stream's sl_resp_t; what they learn (the stream closed, a GOAWAY, a
 * connection error) is kept here and turned into one result after nghttp2 returns, so
 * the HTTP session never runs inside an nghttp2 callback. */
#include "http/h2.h"

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct sl_h2 {
    nghttp2_session *ng;
    sl_conn_t *c;
    const uint64_t *now;
    sl_resp_t *r;   /* the current stream's response; NULL between streams */
    int32_t stream; /* the current stream's id; 0 between streams */
    /* The request's body, fed to nghttp2 by the data provider. */
    const char *body;
    size_t body_len, body_pos;
    /* The header list of the request being submitted: lower-cased names in names. */
    nghttp2_nv *nv;
    size_t nv_cap;
    char *names;
    size_t names_cap;
    uint64_t first_byte_us, last_byte_us;
    uint32_t header_bytes;   /* of the current header block, counted as RFC 9113 does */
    uint32_t goaway_last_id; /* valid when goaway */
    uint32_t close_code;     /* the current stream's, when closed */
    uint8_t io_fail;         /* sl_fail_t of a write that failed inside nghttp2 */
    int io_err;
    bool goaway;      /* the server sent GOAWAY: no new stream on this one */
    bool local_error; /* nghttp2 ended the connection for the server's error */
    bool dead;        /* a connection error: nothing more goes over it */
    bool closed;      /* the current stream is closed */
    bool rst_recv;    /* ... by the server's RST_STREAM */
    bool too_large;   /* ... by us, its header block being over the limit */
    bool ended;       /* the response's END_STREAM arrived */
};

/* ---- nghttp2 callbacks ---- */

static ssize_t on_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud)
{
    sl_h2_t *h = ud;
    (void)ng;
    (void)flags;
    ssize_t n = h->c->tp->write(h->c, (const char *)data, len);
    if (n == SL_IO_AGAIN)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (n < 0) {
        h->io_fail = h->c->fail;
        h->io_err = h->c->err;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return n;
}

static ssize_t on_read_body(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    sl_h2_t *h = ud;
    (void)ng;
    (void)stream_id;
    (void)src;
    size_t left = h->body_len - h->body_pos;
    size_t n = left < len ? left : len;
    memcpy(buf, h->body + h->body_pos, n);
    h->body_pos += n;
    if (h->body_pos == h->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static bool ours(const sl_h2_t *h, int32_t stream_id)
{
    return h->r && stream_id == h->stream;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    sl_h2_t *h = ud;
    (void)ng;
    (void)flags;
    if (frame->hd.type != NGHTTP2_HEADERS || !ours(h, frame->hd.stream_id))
        return 0;
    sl_resp_t *r = h->r;
    if (!h->first_byte_us)
        h->first_byte_us = *h->now;
    /* The same ceiling as HTTP/1.1's header block, in RFC 9113's accounting (name,
     * value and 32 bytes per field); beyond it the stream is reset. */
    h->header_bytes += (uint32_t)(nlen + vlen + 32);
    if (h->header_bytes > SL_RESP_MAX_HEADER_BYTES) {
        h->too_large = true;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (r->headers_done)
        return 0; /* trailers: counted, not kept */
    if (nlen == 7 && !memcmp(name, ":status", 7)) {
        uint16_t st = 0;
        for (size_t i = 0; i < vlen && i < 4; i++)
            st = (uint16_t)(value[i] >= '0' && value[i] <= '9' ? st * 10 + (value[i] - '0') : 0);
        if (vlen != 3 || st < 100 || st > 599)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        r->status = st;
        r->got_bytes = true;
        return 0;
    }
    sl_resp_h2_header(r, (const char *)name, nlen, (const char *)value, vlen);
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    sl_h2_t *h = ud;
    (void)ng;
    switch (frame->hd.type) {
    case NGHTTP2_GOAWAY:
        h->goaway = true;
        h->goaway_last_id = (uint32_t)frame->goaway.last_stream_id;
        return 0;
    case NGHTTP2_RST_STREAM:
        if (ours(h, frame->hd.stream_id))
            h->rst_recv = true;
        return 0;
    case NGHTTP2_HEADERS:
        if (!ours(h, frame->hd.stream_id))
            return 0;
        if (!h->r->headers_done && h->r->status >= 100 && h->r->status < 200) {
            sl_resp_h2_interim(h->r); /* 103 Early Hints, 100 Continue: the final follows */
            h->header_bytes = 0;
        } else if (h->r->status) {
            h->r->headers_done = true;
        }
        break;
    case NGHTTP2_DATA:
        if (!ours(h, frame->hd.stream_id))
            return 0;
        break;
    default:
        return 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        h->ended = true;
        h->last_byte_us = *h->now;
    }
    return 0;
}

/* nghttp2 sends GOAWAY with an error code when the server broke the protocol (a bad
 * frame, a bad header block): the connection ends, and that is a protocol error. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    sl_h2_t *h = ud;
    (void)ng;
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
        h->local_error = true;
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t stream_id, const uint8_t *data,
                   size_t len, void *ud)
{
    sl_h2_t *h = ud;
    (void)ng;
    (void)flags;
    /* The window update for these bytes is nghttp2's own (automatic), for every stream,
     * ours or not: nothing received is left unconsumed. */
    if (ours(h, stream_id) && !h->r->is_head)
        sl_resp_h2_body(h->r, (const char *)data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t code, void *ud)
{
    sl_h2_t *h = ud;
    (void)ng;
    if (ours(h, stream_id)) {
        h->closed = true;
        h->close_code = code;
        if (!h->last_byte_us)
            h->last_byte_us = *h->now;
    }
    return 0;
}

/* The callbacks are the same for every connection: made once, read-only after. */
static nghttp2_session_callbacks *callbacks(void)
{
    static nghttp2_session_callbacks *cbs;
    static int once;
    if (__atomic_load_n(&once, __ATOMIC_ACQUIRE))
        return cbs;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    if (!cbs && nghttp2_session_callbacks_new(&cbs) == 0) {
        nghttp2_session_callbacks_set_send_callback(cbs, on_send);
        nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
        nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
        __atomic_store_n(&once, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&mu);
    return cbs;
}

/* ---- the connection ---- */

sl_h2_t *sl_h2_new(sl_conn_t *c, uint32_t window, const uint64_t *now)
{
    nghttp2_session_callbacks *cbs = callbacks();
    sl_h2_t *h = calloc(1, sizeof(*h));
    if (!cbs || !h) {
        free(h);
        return NULL;
    }
    h->c = c;
    h->now = now;
    if (!window || window > SL_H2_MAX_WINDOW)
        window = SL_H2_DEFAULT_WINDOW;
    if (nghttp2_session_client_new(&h->ng, cbs, h) != 0) {
        free(h);
        return NULL;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, SL_RESP_MAX_HEADER_BYTES},
    };
    if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
        nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, (int32_t)window) != 0) {
        sl_h2_free(h);
        return NULL;
    }
    return h;
}

void sl_h2_free(sl_h2_t *h)
{
    if (!h)
        return;
    nghttp2_session_del(h->ng);
    free(h->nv);
    free(h->names);
    free(h);
}

bool sl_h2_usable(const sl_h2_t *h)
{
    return !h->goaway && !h->dead && nghttp2_session_want_read(h->ng) &&
           nghttp2_session_get_next_stream_id(h->ng) < (1u << 31);
}

uint64_t sl_h2_first_byte_us(const sl_h2_t *h)
{
    return h->first_byte_us;
}

uint64_t sl_h2_last_byte_us(const sl_h2_t *h)
{
    return h->last_byte_us;
}

static bool nv_room(sl_h2_t *h, size_t n)
{
    if (n <= h->nv_cap)
        return true;
    size_t cap = h->nv_cap ? h->nv_cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    nghttp2_nv *nv = realloc(h->nv, cap * sizeof(*nv));
    if (!nv)
        return false;
    h->nv = nv;
    h->nv_cap = cap;
    return true;
}

static void nv_set(nghttp2_nv *nv, const char *name, size_t nlen, const char *value, size_t vlen)
{
    nv->name = (uint8_t *)(uintptr_t)name;
    nv->namelen = nlen;
    nv->value = (uint8_t *)(uintptr_t)value;
    nv->valuelen = vlen;
    nv->flags = NGHTTP2_NV_FLAG_NONE; /* nghttp2 copies both at submit */
}

static bool hop_by_hop(const char *n, size_t len)
{
    static const char *const drop[] = {"connection",        "keep-alive", "proxy-connection",
                                       "transfer-encoding", "upgrade",    "te"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strlen(drop[i]) == len && !memcmp(drop[i], n, len))
            return true;
    return false;
}

/* The request's HTTP/1.1 rendering as an h2 header list: the request line gives :method
 * and :path, Host gives :authority, the fields follow with lower-cased names and without
 * HTTP/1.1's connection-specific ones; the body follows the blank line. */
static sl_fail_t translate(sl_h2_t *h, const char *w, size_t len, size_t *nnv)
{
    const char *end = w + len;
    const char *sp1 = memchr(w, ' ', len);
    const char *eol = memmem(w, len, "\r\n", 2);
    if (!sp1 || !eol || sp1 > eol)
        return SL_FAIL_MALFORMED;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2)
        return SL_FAIL_MALFORMED;
    if (h->names_cap < len) {
        char *b = realloc(h->names, len);
        if (!b)
            return SL_FAIL_UNSENT;
        h->names = b;
        h->names_cap = len;
    }
    size_t n = 4, used = 0;
    if (!nv_room(h, n))
        return SL_FAIL_UNSENT;
    nv_set(&h->nv[0], ":method", 7, w, (size_t)(sp1 - w));
    nv_set(&h->nv[1], ":scheme", 7, h->c->ssl ? "https" : "http", h->c->ssl ? 5 : 4);
    nv_set(&h->nv[2], ":path", 5, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    nv_set(&h->nv[3], ":authority", 10, "", 0);
    const char *p = eol + 2;
    for (;;) {
        const char *le = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!le)
            return SL_FAIL_MALFORMED;
        if (le == p) {
            p += 2;
            break;
        }
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon)
            return SL_FAIL_MALFORMED;
        size_t nl = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        char *lower = h->names + used;
        for (size_t i = 0; i < nl; i++)
            lower[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
        used += nl;
        if (nl == 4 && !memcmp(lower, "host", 4)) {
            nv_set(&h->nv[3], ":authority", 10, v, (size_t)(le - v));
        } else if (!hop_by_hop(lower, nl)) {
            if (!nv_room(h, n + 1))
                return SL_FAIL_UNSENT;
            nv_set(&h->nv[n++], lower, nl, v, (size_t)(le - v));
        }
        p = le + 2;
    }
    h->body = p;
    h->body_len = (size_t)(end - p);
    h->body_pos = 0;
    *nnv = n;
    return SL_FAIL_NONE;
}

sl_fail_t sl_h2_submit(sl_h2_t *h, const char *wire, size_t wire_len, sl_resp_t *r)
{
    size_t nnv = 0;
    sl_fail_t f = translate(h, wire, wire_len, &nnv);
    if (f != SL_FAIL_NONE)
        return f;
    nghttp2_data_provider prd = {.read_callback = on_read_body};
    int32_t id = nghttp2_submit_request(h->ng, NULL, h->nv, nnv, h->body_len ? &prd : NULL, NULL);
    if (id < 0)
        return SL_FAIL_UNSENT;
    h->stream = id;
    h->r = r;
    h->closed = h->rst_recv = h->too_large = h->ended = false;
    h->close_code = 0;
    h->header_bytes = 0;
    h->first_byte_us = h->last_byte_us = 0;
    return SL_FAIL_NONE;
}

static sl_h2_result_t fail(sl_h2_t *h, sl_h2_out_t *out, sl_fail_t f, int detail, bool dead)
{
    out->fail = f;
    out->detail = detail;
    out->conn_dead = dead || h->dead;
    h->dead |= dead;
    h->r = NULL;
    h->stream = 0;
    return SL_H2_ERROR;
}

/* Where the current stream stands after nghttp2 has run. */
static sl_h2_result_t stream_result(sl_h2_t *h, sl_h2_out_t *out)
{
    if (!h->r || !h->closed)
        return SL_H2_MORE;
    sl_resp_t *r = h->r;
    bool got = r->got_bytes;
    if (h->close_code == NGHTTP2_NO_ERROR && h->ended && r->status >= 200) {
        r->complete = true;
        h->r = NULL;
        h->stream = 0;
        out->conn_dead = !sl_h2_usable(h);
        return SL_H2_DONE;
    }
    if (h->close_code == NGHTTP2_REFUSED_STREAM) {
        /* Refused by RST_STREAM, or above a GOAWAY's last id (nghttp2 closes those with
         * this code): the server did not process it, so it may go again elsewhere. */
        out->retryable = !got;
        return fail(h, out, SL_FAIL_H2_REFUSED, 0, false);
    }
    if (h->too_large)
        return fail(h, out, SL_FAIL_HEADER_TOO_LARGE, 0, false);
    if (h->rst_recv)
        return fail(h, out, SL_FAIL_H2_RESET, (int)(h->close_code & 0xfff), false);
    return fail(h, out, SL_FAIL_H2_PROTOCOL, (int)(h->close_code & 0xfff), false);
}

/* The connection is over (EOF, a socket error, a connection-level protocol error): the
 * current stream ends with it unless it had just completed. */
static sl_h2_result_t conn_over(sl_h2_t *h, sl_h2_out_t *out, sl_fail_t f, int detail)
{
    sl_h2_result_t res = stream_result(h, out);
    h->dead = true;
    out->conn_dead = true;
    if (res != SL_H2_MORE || !h->r)
        return res;
    if (h->local_error)
        f = SL_FAIL_H2_PROTOCOL;
    else if (h->goaway && (uint32_t)h->stream > h->goaway_last_id)
        f = SL_FAIL_H2_REFUSED;
    out->retryable = !h->r->got_bytes && !h->local_error;
    if (f == SL_FAIL_CLOSED && h->r->got_bytes)
        f = SL_FAIL_TRUNCATED;
    return fail(h, out, f, detail, true);
}

static sl_h2_result_t flush(sl_h2_t *h, sl_h2_out_t *out)
{
    int rv = nghttp2_session_send(h->ng);
    if (rv == NGHTTP2_ERR_CALLBACK_FAILURE)
        return conn_over(h, out, (sl_fail_t)h->io_fail, h->io_err);
    if (rv != 0)
        return conn_over(h, out, SL_FAIL_H2_PROTOCOL, -rv);
    return SL_H2_MORE;
}

sl_h2_result_t sl_h2_drive(sl_h2_t *h, char *rbuf, size_t rbuf_len, bool hup, sl_h2_out_t *out)
{
    *out = (sl_h2_out_t){0};
    if (h->dead)
        return conn_over(h, out, SL_FAIL_CLOSED, 0);
    sl_h2_result_t res = flush(h, out);
    if (res != SL_H2_MORE)
        return res;
    sl_conn_t *c = h->c;
    while (rbuf_len) {
        ssize_t n = c->tp->read(c, rbuf, rbuf_len);
        if (n == SL_IO_AGAIN)
            break;
        if (n == SL_IO_EOF)
            return conn_over(h, out, SL_FAIL_CLOSED, 0);
        if (n < 0)
            return conn_over(h, out, (sl_fail_t)c->fail, c->err);
        ssize_t rv = nghttp2_session_mem_recv(h->ng, (const uint8_t *)rbuf, (size_t)n);
        if (rv < 0) {
            flush(h, out); /* nghttp2's GOAWAY, if the socket takes it */
            return conn_over(h, out, SL_FAIL_H2_PROTOCOL, (int)-rv);
        }
        if ((size_t)n < rbuf_len && !hup && !c->tp->pending(c))
            break;
    }
    /* Acknowledgements and window updates for what was read, the rest of the request. */
    res = flush(h, out);
    if (res != SL_H2_MORE)
        return res;
    res = stream_result(h, out);
    if (res == SL_H2_MORE && (h->local_error || (!nghttp2_session_want_read(h->ng) &&
                                                 !nghttp2_session_want_write(h->ng))))
        return conn_over(h, out, SL_FAIL_CLOSED, 0);
    return res;
}

bool sl_h2_want_write(const sl_h2_t *h)
{
    return nghttp2_session_want_write(h->ng) != 0;
}
