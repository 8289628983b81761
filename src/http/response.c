/* The llhttp callbacks and the classification of broken responses. The settings are
 * shared and read-only; the parser lives inside each connection's sl_resp_t. */
#include "http/response.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/buf.h"

static int on_status(llhttp_t *p, const char *at, size_t len);
static int on_header_field(llhttp_t *p, const char *at, size_t len);
static int on_header_value(llhttp_t *p, const char *at, size_t len);
static int on_header_end(llhttp_t *p);
static int on_headers_complete(llhttp_t *p);
static int on_body(llhttp_t *p, const char *at, size_t len);
static int on_message_complete(llhttp_t *p);

/* Task{} requests only need the status, the body size and the end: no per-header
 * callback runs for them (they were an eighth of the user-space work per request). */
static const llhttp_settings_t plain_settings = {
    .on_status = on_status,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Scripted requests keep their headers and body for the script. */
static const llhttp_settings_t capture_settings = {
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_field_complete = on_header_end,
    .on_header_value_complete = on_header_end,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

#define RESP(p) ((sl_resp_t *)(p)->data)

/* Body buffers: malloc'd below SL_RESP_BIG_BODY_BYTES, mapped from there on (whether a
 * buffer is mapped follows from its capacity alone). A heap buffer of tens of MiB would
 * be copied at each doubling and, freed, would stay resident in the thread's arena. */
static size_t page_round(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (n + pg - 1) / pg * pg;
}

void sl_resp_body_release(char *buf, size_t cap)
{
    if (!buf)
        return;
    if (cap >= SL_RESP_BIG_BODY_BYTES)
        munmap(buf, cap);
    else
        free(buf);
}

/* Makes room for need bytes (need <= SL_RESP_MAX_BODY_BYTES), keeping the content:
 * exactly need when the length is known (exact), else doubling, within the cap. */
static bool body_reserve(sl_resp_capture_t *c, size_t need, bool exact)
{
    if (need <= c->body_cap)
        return true;
    size_t n = c->body_cap ? c->body_cap : 256;
    while (n < need)
        n *= 2;
    if (exact || n > SL_RESP_MAX_BODY_BYTES)
        n = need;
    if (n < SL_RESP_BIG_BODY_BYTES) {
        char *b = realloc(c->body, n);
        if (!b)
            return false;
        c->body = b;
        c->body_cap = n;
        return true;
    }
    n = page_round(n);
    void *m;
    if (c->body_cap >= SL_RESP_BIG_BODY_BYTES) {
        m = mremap(c->body, c->body_cap, n, MREMAP_MAYMOVE);
    } else {
        m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED && c->body_len)
            memcpy(m, c->body, c->body_len);
        if (m != MAP_FAILED)
            free(c->body);
    }
    if (m == MAP_FAILED)
        return false;
    c->body = m;
    c->body_cap = n;
    return true;
}

void sl_resp_capture_take_body(sl_resp_capture_t *c, char **buf, size_t *len, size_t *cap)
{
    *buf = c->body;
    *len = c->body_len;
    *cap = c->body_cap;
    c->body = NULL;
    c->body_len = c->body_cap = 0;
}

void sl_resp_capture_give_body(sl_resp_capture_t *c, char *buf, size_t cap)
{
    c->body = buf;
    c->body_cap = cap;
    c->body_len = 0;
}

static void cap_head(sl_resp_t *r, const char *at, size_t len)
{
    sl_resp_capture_t *c = r->cap;
    size_t cap = c->head_cap;
    /* The header block is bounded by SL_RESP_MAX_HEADER_BYTES, so this cannot grow far. */
    if (sl_buf_grow(&c->head, &cap, (size_t)c->head_len + len) != SL_OK) {
        c->oom = true;
        return;
    }
    c->head_cap = (uint32_t)cap;
    memcpy(c->head + c->head_len, at, len);
    c->head_len += (uint32_t)len;
}

/* The reason phrase, possibly in several pieces. The status code is parsed by then, so
 * a success costs one call and a comparison. */
static int on_status(llhttp_t *p, const char *at, size_t len)
{
    sl_resp_t *r = RESP(p);
    if (p->status_code < 400)
        return 0;
    for (size_t i = 0; i < len && r->reason_len < sizeof(r->reason); i++) {
        unsigned char ch = (unsigned char)at[i];
        r->reason[r->reason_len++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    sl_resp_t *r = RESP(p);
    if (r->cap)
        cap_head(r, at, len);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    return on_header_field(p, at, len);
}

/* Ends a captured name or value; a value may be empty, so its end is always marked. */
static int on_header_end(llhttp_t *p)
{
    sl_resp_t *r = RESP(p);
    if (r->cap)
        cap_head(r, "", 1);
    return 0;
}

void sl_resp_capture_attach(sl_resp_t *r, sl_resp_capture_t *c)
{
    r->cap = c;
    r->parser.settings = (void *)&capture_settings;
    sl_resp_capture_reset(c);
}

void sl_resp_capture_reset(sl_resp_capture_t *c)
{
    c->head_len = 0;
    c->body_len = 0;
    c->body_truncated = false;
    c->oom = false;
}

void sl_resp_capture_free(sl_resp_capture_t *c)
{
    free(c->head);
    sl_resp_body_release(c->body, c->body_cap);
    c->head = c->body = NULL;
    c->head_len = c->head_cap = 0;
    c->body_len = c->body_cap = 0;
}

static int on_headers_complete(llhttp_t *p)
{
    sl_resp_t *r = RESP(p);
    r->status = (uint16_t)p->status_code;
    r->headers_done = true;
    /* llhttp takes any three digits; RFC 9110 15 makes codes outside 100..599 invalid,
     * and "020" must not count as a success. */
    if (r->status < 100 || r->status > 599) {
        r->fail = SL_FAIL_MALFORMED;
        return -1;
    }
    /* 1 tells llhttp that no body follows, whatever the headers say: a response to HEAD,
     * an interim 1xx, 204 and 304 (RFC 9110 6.4.1; llhttp 8 does not infer 304 itself). */
    uint16_t st = r->status;
    if (r->is_head || (st >= 100 && st < 200) || st == 204 || st == 304)
        return 1;
    /* A captured body of known length gets its buffer in one piece. Only virtual memory
     * until the bytes arrive, so a length that is a lie costs nothing resident. */
    sl_resp_capture_t *c = r->cap;
    if (c && (p->flags & F_CONTENT_LENGTH) && p->content_length > 0) {
        uint64_t want =
            p->content_length < SL_RESP_MAX_BODY_BYTES ? p->content_length : SL_RESP_MAX_BODY_BYTES;
        if (!body_reserve(c, (size_t)want, true))
            c->oom = true;
    }
    return 0;
}

static void body_take(sl_resp_t *r, const char *at, size_t len);

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    body_take(RESP(p), at, len);
    return 0;
}

/* Counts body bytes and captures what the capture has room for. */
static void body_take(sl_resp_t *r, const char *at, size_t len)
{
    r->body_bytes += len;
    sl_resp_capture_t *c = r->cap;
    if (c && !c->body_truncated) {
        size_t keep = len;
        if (c->body_len + keep > SL_RESP_MAX_BODY_BYTES) {
            keep = SL_RESP_MAX_BODY_BYTES - c->body_len;
            c->body_truncated = true;
        }
        if (!body_reserve(c, c->body_len + keep, false)) {
            c->oom = true;
            c->body_truncated = true;
            return;
        }
        memcpy(c->body + c->body_len, at, keep);
        c->body_len += keep;
    }
}

void sl_resp_h2_header(sl_resp_t *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    r->got_bytes = true;
    if (!r->cap)
        return;
    cap_head(r, name, nlen);
    cap_head(r, "", 1);
    cap_head(r, value, vlen);
    cap_head(r, "", 1);
}

void sl_resp_h2_body(sl_resp_t *r, const char *at, size_t len)
{
    r->got_bytes = true;
    body_take(r, at, len);
}

void sl_resp_h2_interim(sl_resp_t *r)
{
    r->header_bytes = 0;
    r->headers_done = false;
    r->status = 0;
    if (r->cap)
        sl_resp_capture_reset(r->cap);
}

static int on_message_complete(llhttp_t *p)
{
    sl_resp_t *r = RESP(p);
    uint16_t status = (uint16_t)p->status_code;
    if (status >= 100 && status < 200 && status != 101) {
        /* An interim response (100 Continue, 103 Early Hints): the real one follows on
         * the same connection. Start counting its header block afresh. */
        r->header_bytes = 0;
        r->headers_done = false;
        r->status = 0;
        if (r->cap)
            sl_resp_capture_reset(r->cap);
        return 0;
    }
    r->status = status;
    r->complete = true;
    r->keep_alive = llhttp_should_keep_alive(p) != 0;
    return HPE_PAUSED;
}

void sl_resp_start(sl_resp_t *r, bool is_head)
{
    llhttp_init(&r->parser, HTTP_RESPONSE, &plain_settings);
    r->parser.data = r;
    r->cap = NULL; /* the owner attaches a capture after starting, when it wants one */
    r->headers_done = false;
    r->body_bytes = 0;
    r->header_bytes = 0;
    r->status = 0;
    r->fail = SL_FAIL_NONE;
    r->reason_len = 0;
    r->is_head = is_head;
    r->got_bytes = false;
    r->complete = false;
    r->keep_alive = false;
    r->trailing = false;
}

sl_resp_result_t sl_resp_feed(sl_resp_t *r, const char *buf, size_t len)
{
    if (r->complete) {
        r->trailing |= len > 0;
        return SL_RESP_DONE;
    }
    if (len)
        r->got_bytes = true;
    /* The header block's ceiling, counted here rather than in per-header callbacks: the
     * bytes fed while the headers are incomplete bound the block from above. */
    if (!r->headers_done) {
        size_t room = UINT32_MAX - r->header_bytes;
        r->header_bytes += (uint32_t)(len < room ? len : room);
    }
    llhttp_errno_t e = llhttp_execute(&r->parser, buf, len);
    if (e == HPE_OK) {
        if (!r->headers_done && r->header_bytes > SL_RESP_MAX_HEADER_BYTES) {
            r->fail = SL_FAIL_HEADER_TOO_LARGE;
            return SL_RESP_ERROR;
        }
        return SL_RESP_MORE;
    }
    if (e == HPE_PAUSED && r->complete) {
        const char *pos = llhttp_get_error_pos(&r->parser);
        if (pos && pos < buf + len)
            r->trailing = true;
        return SL_RESP_DONE;
    }
    if (r->fail == SL_FAIL_NONE)
        r->fail = SL_FAIL_MALFORMED;
    return SL_RESP_ERROR;
}

sl_resp_result_t sl_resp_eof(sl_resp_t *r)
{
    if (r->complete)
        return SL_RESP_DONE;
    if (!r->got_bytes) {
        r->fail = SL_FAIL_CLOSED;
        return SL_RESP_ERROR;
    }
    /* llhttp_finish completes a body that runs until close (HTTP/1.0 style) and errors
     * when a length-delimited or chunked body, or the header block, was cut short. */
    llhttp_errno_t e = llhttp_finish(&r->parser);
    if ((e == HPE_OK || e == HPE_PAUSED) && r->complete)
        return SL_RESP_DONE;
    r->fail = SL_FAIL_TRUNCATED;
    return SL_RESP_ERROR;
}

const char *sl_resp_capture_header(const sl_resp_capture_t *c, const char *name, size_t *from)
{
    size_t i = *from;
    while (i < c->head_len) {
        const char *k = c->head + i;
        size_t kl = strnlen(k, c->head_len - i);
        size_t vi = i + kl + 1;
        if (vi > c->head_len)
            break;
        const char *v = c->head + vi;
        size_t vl = strnlen(v, c->head_len - vi);
        i = vi + vl + 1;
        if (kl == strlen(name) && !strncasecmp(k, name, kl)) {
            *from = i;
            return v;
        }
    }
    *from = c->head_len;
    return NULL;
}
