/*
 * sl_target: the project's own scriptable HTTP/1.1 test server.
 *
 * End-to-end tests point stormlight at it to get, on demand, what no ordinary server
 * offers: exact delays, any status, unusual-but-valid responses, and every kind of broken
 * response (resets, truncation, garbage, hangs). It also counts what it received
 * (GET /__stats) so a test can reconcile the tool's numbers with the server's.
 *
 * One thread runs one epoll loop over edge-triggered sockets and one timerfd, which is
 * armed from a min-heap of per-connection deadlines in monotonic microseconds. The loop
 * owns every connection and the statistics table, so nothing locks. Only libc is used so
 * the target builds wherever the tests run.
 *
 * Usage: sl_target [--port N] [--host 127.0.0.1]. With port 0 (the default) it binds an
 * ephemeral loopback port and prints "PORT <n>" once listening. SIGTERM/SIGINT exit 0.
 *
 * Behaviour by path (any method; a query string is allowed):
 *   (anything else)     200 application/json {"ok":true}
 *   /status/NNN         that status (200..599) with its standard reason phrase, or with
 *                       ?reason=Some+Words (letters, digits, '+' or %20 for a space) that one
 *   /delay/MS           200 after MS milliseconds (fractions allowed), timer-driven
 *   /chunked?n=N        N chunks ("chunk i\n"), chunked transfer coding
 *   /http10             HTTP/1.0 response without Content-Length, body ends at close
 *   /close              200 with Connection: close, then close
 *   /idle-close         200 that looks reusable, then the server closes
 *   /continue           100 Continue, then 200
 *   /204, /304          no body (the 304 carries Content-Length: 5)
 *   /big?bytes=N        N body bytes (default 1 MiB, at most 100 MiB)
 *   /redirect           302 to /
 *   /slow?ms=M          headers, then a 100-byte body in ten pieces over M ms
 *   /fault/reset        RST before any response
 *   /fault/reset-mid    Content-Length 1000, 100 body bytes, RST
 *   /fault/close        close without a response
 *   /fault/short        Content-Length 100, 10 body bytes, close
 *   /fault/badstatus    a malformed status line
 *   /fault/garbage      256 bytes of binary noise, close
 *   /fault/badchunk     a non-hex chunk size
 *   /fault/truncchunk   a chunked body cut off by close
 *   /fault/bigheader    a 200 whose header block is over 1 MiB
 *   /fault/hang         never answers; keeps the connection open
 *   /fault/drip         a valid response, one byte per second
 *   /__stats            JSON: {"METHOD /path": count, ..., "total": n, "last": {"METHOD
 *                       /path": {"headers": {name: value}, "body": "..."}}, plus gauges
 *                       "accepted", "connections", "connections_max", "held", "held_max"}
 *   /__reset            clears the counts and "last"
 * A request counts once its head has arrived, before any fault acts. /__stats and
 * /__reset are not counted. Request heads over 64 KiB get 431 and a close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* A request head larger than this is refused with 431, like common servers do. */
#define SL_TARGET_HEAD_MAX (64 * 1024)
/* Request bodies are only kept for /__stats, so a modest ceiling is enough. */
#define SL_TARGET_BODY_MAX (16 * 1024 * 1024)
/* The part of a body remembered in "last"; keeps /__stats small and memory bounded. */
#define SL_TARGET_LAST_BODY_MAX (1024 * 1024)
#define SL_TARGET_BIG_MAX (100ULL * 1024 * 1024)
/* Pipelined requests are answered in batches until this much output is queued. */
#define SL_TARGET_OUT_HIGH (256 * 1024)
/* Distinct "METHOD /path" keys; beyond it requests still count in "total". */
#define SL_TARGET_KEYS_MAX 10000
#define SL_TARGET_KEY_BUCKETS 4096
/* How long a closing connection keeps reading (and discarding) before it gives up. */
#define SL_TARGET_LINGER_US 1000000ULL
#define SL_TARGET_PATTERN_LEN (256 * 1024)
#define SL_TARGET_IN_INITIAL 16384
/* A parked connection (delay, hang) buffers at most this much input. */
#define SL_TARGET_IN_PARKED_MAX (64 * 1024)
#define SL_TARGET_DELAY_MAX_US (3600ULL * 1000000ULL)
#define SL_TARGET_CHUNKS_MAX 100000
#define SL_TARGET_HEADERS_MAX 256

typedef struct sl_target_buf {
    char *data;
    size_t len;
    size_t cap;
} sl_target_buf_t;

/* The first member of everything registered with epoll, so one pointer tells them apart. */
enum sl_target_kind {
    SL_TARGET_EV_LISTEN,
    SL_TARGET_EV_SIGNAL,
    SL_TARGET_EV_TIMER,
    SL_TARGET_EV_CONN,
};

/* What a connection is doing between requests. */
enum sl_target_phase {
    SL_TARGET_PH_READY,  /* parsing and answering requests */
    SL_TARGET_PH_WAIT,   /* a timer will continue the current response */
    SL_TARGET_PH_HANG,   /* never answers; closes when the peer leaves */
    SL_TARGET_PH_LINGER, /* our side is shut; discard input until the peer closes */
};

/* What to do once the queued output has been written. */
enum sl_target_after {
    SL_TARGET_AFTER_KEEP,
    SL_TARGET_AFTER_CLOSE,
    SL_TARGET_AFTER_RESET,
    SL_TARGET_AFTER_HANG,
};

enum sl_target_timer {
    SL_TARGET_TM_NONE,
    SL_TARGET_TM_DELAY,
    SL_TARGET_TM_STREAM,
    SL_TARGET_TM_LINGER,
};

typedef struct sl_target_conn {
    int kind; /* SL_TARGET_EV_CONN; must stay first */
    int fd;
    int phase;
    int after;
    int dead;
    struct sl_target_conn *prev, *next; /* list of live connections, for shutdown */
    struct sl_target_conn *next_dead;   /* freed at the end of the loop pass */

    sl_target_buf_t in;
    size_t in_off;
    sl_target_buf_t out;
    size_t out_off;
    uint64_t big_left;            /* /big body bytes still to send after out */
    sl_target_buf_t chunked_body; /* scratch for decoding a chunked request body */

    /* Per-request state, kept here because delayed responses outlive the parse. */
    int counted;       /* this head was counted already (body still arriving) */
    int sent_continue; /* 100 Continue was sent for this request */
    int req_close;
    int req_http10;
    int req_head;

    uint64_t timer_at_us;
    int timer_kind;
    ssize_t heap_idx;

    /* Timed streaming (/slow, /fault/drip): bytes of stream go out step at a time. */
    sl_target_buf_t stream;
    size_t stream_off;
    size_t stream_step;
    uint64_t stream_interval_us;
} sl_target_conn_t;

/* A parsed request; every pointer is a slice of the connection's input buffer. */
typedef struct sl_target_req {
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
    const char *headers; /* header lines after the request line, each ending in CRLF */
    size_t headers_len;
    const char *body;
    size_t body_len;
    uint64_t content_length;
    int chunked;
    int http10;
    int close;
    int expect_continue;
} sl_target_req_t;

typedef struct sl_target_entry {
    struct sl_target_entry *next; /* hash chain */
    char *key;
    size_t key_len;
    uint64_t count;
    int has_last;
    sl_target_buf_t last_headers;
    sl_target_buf_t last_body;
} sl_target_entry_t;

static int sl_target_listen_tag = SL_TARGET_EV_LISTEN;
static int sl_target_signal_tag = SL_TARGET_EV_SIGNAL;
static int sl_target_timer_tag = SL_TARGET_EV_TIMER;

static int sl_target_epfd = -1;
static int sl_target_timerfd = -1;
static uint64_t sl_target_armed_us;
static sl_target_conn_t *sl_target_live;
static sl_target_conn_t *sl_target_dead;

static sl_target_conn_t **sl_target_heap;
static size_t sl_target_heap_len;
static size_t sl_target_heap_cap;

static sl_target_entry_t *sl_target_buckets[SL_TARGET_KEY_BUCKETS];
static sl_target_entry_t **sl_target_entries; /* insertion order, for stable output */
static size_t sl_target_nentries;
static uint64_t sl_target_total;

/*
 * Gauges for tests that need to see concurrency from the server side: open connections
 * and requests being held (delayed, streamed slowly or hung). The peaks restart at
 * /__reset from the current values.
 */
static uint64_t sl_target_accepted;
static uint64_t sl_target_open;
static uint64_t sl_target_open_max;
static uint64_t sl_target_held;
static uint64_t sl_target_held_max;

static char sl_target_pattern[SL_TARGET_PATTERN_LEN];
static sl_target_buf_t sl_target_bigheader;

/* The default answer is by far the most common one, so it is rendered once. */
static const char sl_target_ok_response[] = "HTTP/1.1 200 OK\r\n"
                                            "Content-Type: application/json\r\n"
                                            "Content-Length: 11\r\n"
                                            "\r\n"
                                            "{\"ok\":true}";

static void sl_target_oom(void)
{
    fputs("sl_target: out of memory\n", stderr);
    abort();
}

static uint64_t sl_target_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

/* Buffers: grow by doubling; allocation failure is fatal since this is a test fixture. */
static void buf_reserve(sl_target_buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        sl_target_oom();
    }
    b->data = p;
    b->cap = cap;
}

static void buf_add(sl_target_buf_t *b, const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_adds(sl_target_buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void buf_addf(sl_target_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data ? b->data + b->len : NULL, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static void buf_free(sl_target_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/*
 * Appends s as a JSON string. Valid UTF-8 passes through; any other byte is escaped as
 * \u00XX so that a binary request body still yields parseable JSON.
 */
static void buf_json_str(sl_target_buf_t *b, const char *s, size_t n)
{
    buf_reserve(b, n + 2);
    buf_add(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            buf_add(b, esc, 2);
            i++;
        } else if (ch < 0x20 || ch == 0x7f) {
            buf_addf(b, "\\u%04x", ch);
            i++;
        } else if (ch < 0x80) {
            buf_add(b, &s[i], 1);
            i++;
        } else {
            size_t need = ch >= 0xf0 && ch <= 0xf4 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 ? 2 : 0;
            if (ch > 0xf4) {
                need = 0;
            }
            int ok = need > 0 && i + need <= n;
            for (size_t k = 1; ok && k < need; k++) {
                ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
            }
            if (ok) {
                buf_add(b, &s[i], need);
                i += need;
            } else {
                buf_addf(b, "\\u%04x", ch);
                i++;
            }
        }
    }
    buf_add(b, "\"", 1);
}

static const char *sl_target_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 407:
        return "Proxy Authentication Required";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 418:
        return "I'm a teapot";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 425:
        return "Too Early";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    case 508:
        return "Loop Detected";
    case 511:
        return "Network Authentication Required";
    default:
        return "Unknown";
    }
}

/* Timer heap: a binary min-heap of connections keyed on timer_at_us, one slot each. */
static void heap_place(size_t i, sl_target_conn_t *c)
{
    sl_target_heap[i] = c;
    c->heap_idx = (ssize_t)i;
}

static void heap_up(size_t i)
{
    sl_target_conn_t *c = sl_target_heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (sl_target_heap[parent]->timer_at_us <= c->timer_at_us) {
            break;
        }
        heap_place(i, sl_target_heap[parent]);
        i = parent;
    }
    heap_place(i, c);
}

static void heap_down(size_t i)
{
    sl_target_conn_t *c = sl_target_heap[i];
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= sl_target_heap_len) {
            break;
        }
        size_t m = l;
        if (l + 1 < sl_target_heap_len &&
            sl_target_heap[l + 1]->timer_at_us < sl_target_heap[l]->timer_at_us) {
            m = l + 1;
        }
        if (sl_target_heap[m]->timer_at_us >= c->timer_at_us) {
            break;
        }
        heap_place(i, sl_target_heap[m]);
        i = m;
    }
    heap_place(i, c);
}

static void timer_clear(sl_target_conn_t *c)
{
    if (c->heap_idx < 0) {
        return;
    }
    size_t i = (size_t)c->heap_idx;
    sl_target_conn_t *last = sl_target_heap[--sl_target_heap_len];
    if (i != sl_target_heap_len) {
        heap_place(i, last);
        heap_down(i);
        heap_up((size_t)last->heap_idx);
    }
    c->heap_idx = -1;
    c->timer_kind = SL_TARGET_TM_NONE;
}

static void timer_set(sl_target_conn_t *c, uint64_t at_us, int kind)
{
    timer_clear(c);
    if (sl_target_heap_len == sl_target_heap_cap) {
        size_t cap = sl_target_heap_cap ? sl_target_heap_cap * 2 : 64;
        sl_target_conn_t **h = realloc(sl_target_heap, cap * sizeof(*h));
        if (!h) {
            sl_target_oom();
        }
        sl_target_heap = h;
        sl_target_heap_cap = cap;
    }
    c->timer_at_us = at_us;
    c->timer_kind = kind;
    heap_place(sl_target_heap_len++, c);
    heap_up((size_t)c->heap_idx);
}

/*
 * Arms the timerfd for the earliest deadline. An absolute CLOCK_MONOTONIC timerfd gives
 * microsecond wake-ups, which epoll_wait's millisecond timeout cannot.
 */
static void timer_arm(void)
{
    uint64_t at = sl_target_heap_len ? sl_target_heap[0]->timer_at_us : 0;
    if (at == sl_target_armed_us) {
        return;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(at / 1000000ULL);
    its.it_value.tv_nsec = (long)(at % 1000000ULL) * 1000L;
    timerfd_settime(sl_target_timerfd, TFD_TIMER_ABSTIME, &its, NULL);
    sl_target_armed_us = at;
}

/* Statistics: request counts and the last request per "METHOD /path". */
static uint32_t sl_target_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

static sl_target_entry_t *stats_entry(const sl_target_req_t *r)
{
    static char key[SL_TARGET_HEAD_MAX + 2];
    size_t n = r->method_len + 1 + r->path_len;
    if (n > sizeof(key)) {
        return NULL;
    }
    memcpy(key, r->method, r->method_len);
    key[r->method_len] = ' ';
    memcpy(key + r->method_len + 1, r->path, r->path_len);
    uint32_t h = sl_target_hash(key, n) % SL_TARGET_KEY_BUCKETS;
    for (sl_target_entry_t *e = sl_target_buckets[h]; e; e = e->next) {
        if (e->key_len == n && memcmp(e->key, key, n) == 0) {
            return e;
        }
    }
    if (sl_target_nentries >= SL_TARGET_KEYS_MAX) {
        return NULL;
    }
    sl_target_entry_t *e = calloc(1, sizeof(*e));
    char *k = malloc(n);
    sl_target_entry_t **list =
        realloc(sl_target_entries, (sl_target_nentries + 1) * sizeof(*sl_target_entries));
    if (!e || !k || !list) {
        sl_target_oom();
    }
    memcpy(k, key, n);
    e->key = k;
    e->key_len = n;
    e->next = sl_target_buckets[h];
    sl_target_buckets[h] = e;
    sl_target_entries = list;
    sl_target_entries[sl_target_nentries++] = e;
    return e;
}

static void stats_count(const sl_target_req_t *r)
{
    sl_target_total++;
    sl_target_entry_t *e = stats_entry(r);
    if (e) {
        e->count++;
    }
}

/* Copies the raw header lines and body; they are rendered as JSON only when asked for. */
static void stats_last(const sl_target_req_t *r)
{
    sl_target_entry_t *e = stats_entry(r);
    if (!e) {
        return;
    }
    e->has_last = 1;
    e->last_headers.len = 0;
    buf_add(&e->last_headers, r->headers, r->headers_len);
    e->last_body.len = 0;
    size_t n = r->body_len < SL_TARGET_LAST_BODY_MAX ? r->body_len : SL_TARGET_LAST_BODY_MAX;
    buf_add(&e->last_body, r->body, n);
}

static void stats_reset(void)
{
    for (size_t i = 0; i < sl_target_nentries; i++) {
        sl_target_entry_t *e = sl_target_entries[i];
        free(e->key);
        buf_free(&e->last_headers);
        buf_free(&e->last_body);
        free(e);
    }
    free(sl_target_entries);
    sl_target_entries = NULL;
    sl_target_nentries = 0;
    sl_target_total = 0;
    sl_target_accepted = 0;
    sl_target_open_max = sl_target_open;
    sl_target_held_max = sl_target_held;
    memset(sl_target_buckets, 0, sizeof(sl_target_buckets));
}

static void trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t')) {
        (*n)--;
    }
}

/* Renders raw header lines as a JSON object with lower-case names; repeats are joined. */
static void stats_json_headers(sl_target_buf_t *b, const char *h, size_t len)
{
    const char *name[SL_TARGET_HEADERS_MAX], *val[SL_TARGET_HEADERS_MAX];
    size_t name_len[SL_TARGET_HEADERS_MAX], val_len[SL_TARGET_HEADERS_MAX];
    size_t count = 0;
    const char *p = h, *end = h + len;
    while (p < end && count < SL_TARGET_HEADERS_MAX) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) {
            eol = end;
        }
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            name[count] = p;
            name_len[count] = (size_t)(colon - p);
            trim(&name[count], &name_len[count]);
            val[count] = colon + 1;
            val_len[count] = (size_t)(eol - colon - 1);
            trim(&val[count], &val_len[count]);
            count++;
        }
        p = eol + 2;
    }
    buf_add(b, "{", 1);
    int first = 1;
    for (size_t i = 0; i < count; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = name_len[j] == name_len[i] && !strncasecmp(name[j], name[i], name_len[i]);
        }
        if (seen) {
            continue;
        }
        char lower[256];
        size_t ln = name_len[i] < sizeof(lower) ? name_len[i] : sizeof(lower);
        for (size_t k = 0; k < ln; k++) {
            char ch = name[i][k];
            lower[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        sl_target_buf_t joined = {0};
        for (size_t j = i; j < count; j++) {
            if (name_len[j] == name_len[i] && !strncasecmp(name[j], name[i], name_len[i])) {
                if (joined.len) {
                    buf_add(&joined, ", ", 2);
                }
                buf_add(&joined, val[j], val_len[j]);
            }
        }
        if (!first) {
            buf_add(b, ",", 1);
        }
        first = 0;
        buf_json_str(b, lower, ln);
        buf_add(b, ":", 1);
        buf_json_str(b, joined.data ? joined.data : "", joined.len);
        buf_free(&joined);
    }
    buf_add(b, "}", 1);
}

static void stats_json(sl_target_buf_t *b)
{
    buf_add(b, "{", 1);
    for (size_t i = 0; i < sl_target_nentries; i++) {
        sl_target_entry_t *e = sl_target_entries[i];
        buf_json_str(b, e->key, e->key_len);
        buf_addf(b, ":%llu,", (unsigned long long)e->count);
    }
    buf_addf(b,
             "\"total\":%llu,\"accepted\":%llu,\"connections\":%llu,\"connections_max\":%llu,"
             "\"held\":%llu,\"held_max\":%llu,\"last\":{",
             (unsigned long long)sl_target_total, (unsigned long long)sl_target_accepted,
             (unsigned long long)sl_target_open, (unsigned long long)sl_target_open_max,
             (unsigned long long)sl_target_held, (unsigned long long)sl_target_held_max);
    int first = 1;
    for (size_t i = 0; i < sl_target_nentries; i++) {
        sl_target_entry_t *e = sl_target_entries[i];
        if (!e->has_last) {
            continue;
        }
        if (!first) {
            buf_add(b, ",", 1);
        }
        first = 0;
        buf_json_str(b, e->key, e->key_len);
        buf_adds(b, ":{\"headers\":");
        stats_json_headers(b, e->last_headers.data, e->last_headers.len);
        buf_adds(b, ",\"body\":");
        buf_json_str(b, e->last_body.data ? e->last_body.data : "", e->last_body.len);
        buf_add(b, "}", 1);
    }
    buf_adds(b, "}}\n");
}

/* Connections. Closing is deferred: the struct is freed at the end of the loop pass. */
static sl_target_conn_t *conn_new(int fd)
{
    sl_target_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        sl_target_oom();
    }
    c->kind = SL_TARGET_EV_CONN;
    c->fd = fd;
    c->heap_idx = -1;
    c->next = sl_target_live;
    if (sl_target_live) {
        sl_target_live->prev = c;
    }
    sl_target_live = c;
    sl_target_accepted++;
    if (++sl_target_open > sl_target_open_max) {
        sl_target_open_max = sl_target_open;
    }
    return c;
}

static int phase_holds(int phase)
{
    return phase == SL_TARGET_PH_WAIT || phase == SL_TARGET_PH_HANG;
}

/* Changes phase, keeping the count of held requests (waiting on a timer, or hung). */
static void conn_set_phase(sl_target_conn_t *c, int phase)
{
    int was = phase_holds(c->phase), is = phase_holds(phase);
    c->phase = phase;
    if (is && !was && ++sl_target_held > sl_target_held_max) {
        sl_target_held_max = sl_target_held;
    } else if (was && !is) {
        sl_target_held--;
    }
}

static void conn_close(sl_target_conn_t *c)
{
    if (c->dead) {
        return;
    }
    timer_clear(c);
    conn_set_phase(c, SL_TARGET_PH_READY);
    close(c->fd);
    c->dead = 1;
    sl_target_open--;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        sl_target_live = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    c->next_dead = sl_target_dead;
    sl_target_dead = c;
}

/* SO_LINGER with a zero timeout makes close() send RST instead of FIN. */
static void conn_reset(sl_target_conn_t *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    conn_close(c);
}

/*
 * A graceful close: send FIN now but keep reading until the peer closes. Closing a socket
 * with unread input makes the kernel send RST, which would turn a clean "server closed"
 * into a reset on the client; lingering, as nginx does, avoids that.
 */
static void conn_linger(sl_target_conn_t *c)
{
    shutdown(c->fd, SHUT_WR);
    conn_set_phase(c, SL_TARGET_PH_LINGER);
    c->in.len = c->in_off = 0;
    timer_set(c, sl_target_now_us() + SL_TARGET_LINGER_US, SL_TARGET_TM_LINGER);
}

static void conn_free_dead(void)
{
    while (sl_target_dead) {
        sl_target_conn_t *c = sl_target_dead;
        sl_target_dead = c->next_dead;
        buf_free(&c->in);
        buf_free(&c->out);
        buf_free(&c->chunked_body);
        buf_free(&c->stream);
        free(c);
    }
}

/* Returns 0 when all output is written, 1 when the socket is full, -1 on error. */
static int conn_flush(sl_target_conn_t *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        }
        c->out_off += (size_t)n;
    }
    c->out.len = c->out_off = 0;
    if (c->out.cap > 4 * SL_TARGET_OUT_HIGH) {
        /* Don't keep a 1 MiB /fault/bigheader buffer around on every connection. */
        buf_free(&c->out);
    }
    while (c->big_left > 0) {
        size_t want =
            c->big_left < SL_TARGET_PATTERN_LEN ? (size_t)c->big_left : SL_TARGET_PATTERN_LEN;
        ssize_t n = send(c->fd, sl_target_pattern, want, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        }
        c->big_left -= (uint64_t)n;
    }
    return 0;
}

/*
 * Reads once into the input buffer. Returns bytes read, 0 on EOF, -1 when the socket is
 * drained, -2 on error, -3 when there is no room (grow==0 or the ceiling is reached).
 */
static ssize_t conn_read(sl_target_conn_t *c, int grow)
{
    if (c->in_off > 0 && c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    }
    if (c->in.cap - c->in.len < 4096) {
        if (c->in_off > 0) {
            memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
            c->in.len -= c->in_off;
            c->in_off = 0;
        }
        size_t limit =
            grow ? SL_TARGET_HEAD_MAX + SL_TARGET_BODY_MAX + 65536 : SL_TARGET_IN_PARKED_MAX;
        if (c->in.cap - c->in.len < 4096 && c->in.cap < limit) {
            buf_reserve(&c->in, c->in.cap ? c->in.cap : SL_TARGET_IN_INITIAL);
        }
        if (c->in.cap == c->in.len) {
            return -3;
        }
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            return n;
        }
        if (n == 0) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    }
}

/* Adds the Connection header this request's keep-alive state calls for. */
static void conn_connection_header(sl_target_conn_t *c)
{
    if (c->req_close) {
        buf_adds(&c->out, "Connection: close\r\n");
    } else if (c->req_http10) {
        buf_adds(&c->out, "Connection: keep-alive\r\n");
    }
}

/* Queues a complete response with the given reason phrase; the body is left out for
 * HEAD, 1xx, 204 and 304. */
static void conn_respond_reason(sl_target_conn_t *c, int status, const char *reason,
                                const char *ctype, const char *body, size_t body_len,
                                const char *extra_headers)
{
    int bodiless = status == 204 || status == 304 || (status >= 100 && status < 200);
    buf_addf(&c->out, "HTTP/1.1 %d %s\r\n", status, reason);
    if (ctype && !bodiless) {
        buf_addf(&c->out, "Content-Type: %s\r\n", ctype);
    }
    if (!bodiless) {
        buf_addf(&c->out, "Content-Length: %zu\r\n", body_len);
    }
    if (extra_headers) {
        buf_adds(&c->out, extra_headers);
    }
    conn_connection_header(c);
    buf_add(&c->out, "\r\n", 2);
    if (!bodiless && !c->req_head) {
        buf_add(&c->out, body, body_len);
    }
    c->after = c->req_close ? SL_TARGET_AFTER_CLOSE : SL_TARGET_AFTER_KEEP;
}

/* Queues a complete response with the status's standard reason phrase. */
static void conn_respond(sl_target_conn_t *c, int status, const char *ctype, const char *body,
                         size_t body_len, const char *extra_headers)
{
    conn_respond_reason(c, status, sl_target_reason(status), ctype, body, body_len, extra_headers);
}

static void conn_respond_ok(sl_target_conn_t *c)
{
    if (!c->req_close && !c->req_http10 && !c->req_head) {
        buf_add(&c->out, sl_target_ok_response, sizeof(sl_target_ok_response) - 1);
        c->after = SL_TARGET_AFTER_KEEP;
        return;
    }
    conn_respond(c, 200, "application/json", "{\"ok\":true}", 11, NULL);
}

/* Refuses a request we cannot parse or hold; the connection is closed afterwards. */
static void conn_reject(sl_target_conn_t *c, int status)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"error\":%d}", status);
    c->req_close = 1;
    c->req_head = 0;
    c->req_http10 = 0;
    conn_respond(c, status, "application/json", body, (size_t)n, NULL);
}

/* Starts a timed stream: stream bytes are written step bytes every interval_us. */
static void conn_stream_start(sl_target_conn_t *c, size_t step, uint64_t interval_us)
{
    c->stream_off = 0;
    c->stream_step = step ? step : 1;
    c->stream_interval_us = interval_us;
    conn_set_phase(c, SL_TARGET_PH_WAIT);
    timer_set(c, sl_target_now_us() + interval_us, SL_TARGET_TM_STREAM);
}

static int path_is(const sl_target_req_t *r, const char *s)
{
    size_t n = strlen(s);
    return r->path_len == n && memcmp(r->path, s, n) == 0;
}

/* Returns the rest of the path after prefix, or NULL. */
static const char *path_after(const sl_target_req_t *r, const char *prefix, size_t *rest_len)
{
    size_t n = strlen(prefix);
    if (r->path_len < n || memcmp(r->path, prefix, n) != 0) {
        return NULL;
    }
    *rest_len = r->path_len - n;
    return r->path + n;
}

/* Parses decimal digits only; rejects empty input and overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Parses milliseconds with an optional fraction ("20", "0.25") into microseconds. */
static int parse_ms_us(const char *s, size_t n, uint64_t *us)
{
    const char *dot = memchr(s, '.', n);
    size_t int_len = dot ? (size_t)(dot - s) : n;
    uint64_t ms = 0;
    if (int_len > 10 || (int_len > 0 && parse_u64(s, int_len, &ms) < 0) || (!dot && !int_len)) {
        return -1;
    }
    uint64_t frac_us = 0;
    if (dot) {
        size_t frac_len = n - int_len - 1;
        if (frac_len == 0 && int_len == 0) {
            return -1;
        }
        uint64_t scale = 100;
        for (size_t i = 0; i < frac_len; i++) {
            char ch = dot[1 + i];
            if (ch < '0' || ch > '9') {
                return -1;
            }
            frac_us += (uint64_t)(ch - '0') * scale;
            scale /= 10;
        }
    }
    *us = ms * 1000 + frac_us;
    return 0;
}

/* Reads an unsigned query parameter; absent or malformed gives the default. */
static uint64_t query_u64(const sl_target_req_t *r, const char *name, uint64_t dflt)
{
    size_t name_len = strlen(name);
    const char *q = r->query, *end = r->query + r->query_len;
    while (q && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        if (!amp) {
            amp = end;
        }
        if ((size_t)(amp - q) > name_len && memcmp(q, name, name_len) == 0 && q[name_len] == '=') {
            uint64_t v;
            const char *s = q + name_len + 1;
            return parse_u64(s, (size_t)(amp - s), &v) == 0 ? v : dflt;
        }
        q = amp + 1;
    }
    return dflt;
}

/* Copies a reason=... query parameter into out ('+' and %20 become a space); 0 when
 * absent or when it holds anything but letters, digits and those. */
static size_t query_reason(const sl_target_req_t *r, char *out, size_t cap)
{
    const char *q = r->query, *end = r->query + r->query_len;
    while (q && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        if (!amp) {
            amp = end;
        }
        if (amp - q > 7 && memcmp(q, "reason=", 7) == 0) {
            size_t n = 0;
            for (const char *s = q + 7; s < amp; s++) {
                char ch = *s;
                if (ch == '%' && amp - s >= 3 && s[1] == '2' && s[2] == '0') {
                    ch = '+';
                    s += 2;
                }
                int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         (ch >= '0' && ch <= '9') || ch == '+';
                if (!ok || n + 1 >= cap) {
                    return 0;
                }
                out[n++] = ch == '+' ? ' ' : ch;
            }
            out[n] = '\0';
            return n;
        }
        q = amp + 1;
    }
    return 0;
}

static void route_status(sl_target_conn_t *c, const sl_target_req_t *r, const char *rest,
                         size_t rest_len)
{
    uint64_t status;
    if (parse_u64(rest, rest_len, &status) < 0 || status < 200 || status > 599) {
        conn_respond(c, 400, "application/json", "{\"error\":\"status must be 200..599\"}", 35,
                     NULL);
        return;
    }
    char body[32], reason[64];
    int n = snprintf(body, sizeof(body), "{\"status\":%d}", (int)status);
    if (query_reason(r, reason, sizeof(reason)) > 0) {
        conn_respond_reason(c, (int)status, reason, "application/json", body, (size_t)n, NULL);
    } else {
        conn_respond(c, (int)status, "application/json", body, (size_t)n, NULL);
    }
}

static void route_chunked(sl_target_conn_t *c, const sl_target_req_t *r)
{
    uint64_t n = query_u64(r, "n", 5);
    if (n > SL_TARGET_CHUNKS_MAX) {
        n = SL_TARGET_CHUNKS_MAX;
    }
    buf_adds(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      "Transfer-Encoding: chunked\r\n");
    conn_connection_header(c);
    buf_add(&c->out, "\r\n", 2);
    if (!c->req_head) {
        for (uint64_t i = 0; i < n; i++) {
            char chunk[32];
            int len = snprintf(chunk, sizeof(chunk), "chunk %llu\n", (unsigned long long)i);
            buf_addf(&c->out, "%x\r\n%s\r\n", (unsigned)len, chunk);
        }
        buf_adds(&c->out, "0\r\n\r\n");
    }
    c->after = c->req_close ? SL_TARGET_AFTER_CLOSE : SL_TARGET_AFTER_KEEP;
}

static void route_big(sl_target_conn_t *c, const sl_target_req_t *r)
{
    uint64_t bytes = query_u64(r, "bytes", 1024 * 1024);
    if (bytes > SL_TARGET_BIG_MAX) {
        conn_respond(c, 400, "application/json", "{\"error\":\"bytes must be <= 104857600\"}", 38,
                     NULL);
        return;
    }
    buf_addf(&c->out,
             "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
             "Content-Length: %llu\r\n",
             (unsigned long long)bytes);
    conn_connection_header(c);
    buf_add(&c->out, "\r\n", 2);
    /* The body comes straight from a shared pattern buffer: no per-request copy. */
    c->big_left = c->req_head ? 0 : bytes;
    c->after = c->req_close ? SL_TARGET_AFTER_CLOSE : SL_TARGET_AFTER_KEEP;
}

/* /slow?ms=M: headers now, then a 100-byte body in ten pieces spread over M ms. */
static void route_slow(sl_target_conn_t *c, const sl_target_req_t *r)
{
    uint64_t ms = query_u64(r, "ms", 100);
    if (ms > 60000) {
        ms = 60000;
    }
    buf_adds(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n");
    conn_connection_header(c);
    buf_add(&c->out, "\r\n", 2);
    c->after = SL_TARGET_AFTER_KEEP;
    if (c->req_head) {
        c->after = c->req_close ? SL_TARGET_AFTER_CLOSE : SL_TARGET_AFTER_KEEP;
        return;
    }
    c->stream.len = 0;
    for (int i = 0; i < 10; i++) {
        buf_adds(&c->stream, "slowbody.\n");
    }
    if (ms == 0) {
        buf_add(&c->out, c->stream.data, c->stream.len);
        c->after = c->req_close ? SL_TARGET_AFTER_CLOSE : SL_TARGET_AFTER_KEEP;
        return;
    }
    conn_stream_start(c, 10, ms * 100);
}

static void route_bigheader(sl_target_conn_t *c)
{
    if (!sl_target_bigheader.len) {
        /* 1040 lines of ~1 KiB: a header block just over 1 MiB, built once. */
        buf_adds(&sl_target_bigheader, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n");
        char filler[1001];
        memset(filler, 'h', 1000);
        filler[1000] = '\0';
        for (int i = 0; i < 1040; i++) {
            buf_addf(&sl_target_bigheader, "X-Filler-%04d: %s\r\n", i, filler);
        }
        buf_adds(&sl_target_bigheader, "Content-Length: 2\r\n");
    }
    buf_add(&c->out, sl_target_bigheader.data, sl_target_bigheader.len);
    conn_connection_header(c);
    buf_adds(&c->out, "\r\nok");
    c->after = c->req_close ? SL_TARGET_AFTER_CLOSE : SL_TARGET_AFTER_KEEP;
}

static void route_fault(sl_target_conn_t *c, const char *kind, size_t kind_len)
{
#define SL_TARGET_IS(s) (kind_len == sizeof(s) - 1 && memcmp(kind, s, kind_len) == 0)
    if (SL_TARGET_IS("reset")) {
        c->after = SL_TARGET_AFTER_RESET;
    } else if (SL_TARGET_IS("reset-mid")) {
        buf_adds(&c->out,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n");
        buf_add(&c->out, sl_target_pattern, 100);
        c->after = SL_TARGET_AFTER_RESET;
    } else if (SL_TARGET_IS("close")) {
        c->after = SL_TARGET_AFTER_CLOSE;
    } else if (SL_TARGET_IS("short")) {
        buf_adds(&c->out,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
                 "only10byte");
        c->after = SL_TARGET_AFTER_CLOSE;
    } else if (SL_TARGET_IS("badstatus")) {
        buf_adds(&c->out, "HTTP/1.1 2x0 Broken\r\nContent-Length: 2\r\n\r\nok");
        c->after = SL_TARGET_AFTER_CLOSE;
    } else if (SL_TARGET_IS("garbage")) {
        /* Deterministic binary noise that cannot be mistaken for a status line. */
        unsigned char junk[256];
        uint32_t x = 0x9e3779b9u;
        for (size_t i = 0; i < sizeof(junk); i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk[i] = (unsigned char)(x | 0x80);
        }
        junk[0] = 0x00;
        buf_add(&c->out, junk, sizeof(junk));
        c->after = SL_TARGET_AFTER_CLOSE;
    } else if (SL_TARGET_IS("badchunk")) {
        buf_adds(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
        c->after = SL_TARGET_AFTER_CLOSE;
    } else if (SL_TARGET_IS("truncchunk")) {
        buf_adds(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc");
        c->after = SL_TARGET_AFTER_CLOSE;
    } else if (SL_TARGET_IS("bigheader")) {
        route_bigheader(c);
    } else if (SL_TARGET_IS("hang")) {
        c->after = SL_TARGET_AFTER_HANG;
    } else if (SL_TARGET_IS("drip")) {
        c->stream.len = 0;
        buf_adds(&c->stream, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 4\r\n\r\ndrip");
        /* The first byte goes out now, the rest one per second. */
        buf_add(&c->out, c->stream.data, 1);
        conn_stream_start(c, 1, 1000000);
        c->stream_off = 1;
    } else {
        conn_respond(c, 404, "application/json", "{\"error\":\"unknown fault\"}", 25, NULL);
    }
#undef SL_TARGET_IS
}

/* Chooses the behaviour for a complete request by its path. */
static void route(sl_target_conn_t *c, const sl_target_req_t *r)
{
    const char *rest;
    size_t rest_len;
    c->after = SL_TARGET_AFTER_KEEP;
    if (path_is(r, "/__stats")) {
        sl_target_buf_t b = {0};
        stats_json(&b);
        conn_respond(c, 200, "application/json", b.data, b.len, NULL);
        buf_free(&b);
    } else if (path_is(r, "/__reset")) {
        stats_reset();
        conn_respond_ok(c);
    } else if ((rest = path_after(r, "/status/", &rest_len))) {
        route_status(c, r, rest, rest_len);
    } else if ((rest = path_after(r, "/delay/", &rest_len))) {
        uint64_t us;
        if (parse_ms_us(rest, rest_len, &us) < 0 || us > SL_TARGET_DELAY_MAX_US) {
            conn_respond(c, 400, "application/json", "{\"error\":\"bad delay\"}", 21, NULL);
            return;
        }
        conn_set_phase(c, SL_TARGET_PH_WAIT);
        timer_set(c, sl_target_now_us() + us, SL_TARGET_TM_DELAY);
    } else if (path_is(r, "/chunked")) {
        route_chunked(c, r);
    } else if (path_is(r, "/http10")) {
        /* No Content-Length: the body ends when the connection does. */
        buf_adds(&c->out, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
        if (!c->req_head) {
            buf_adds(&c->out, "hello from HTTP/1.0\n");
        }
        c->after = SL_TARGET_AFTER_CLOSE;
    } else if (path_is(r, "/close")) {
        c->req_close = 1;
        conn_respond(c, 200, "application/json", "{\"ok\":true}", 11, NULL);
    } else if (path_is(r, "/idle-close")) {
        /* Looks reusable, but the server closes right after: the stale keep-alive case. */
        conn_respond(c, 200, "application/json", "{\"ok\":true}", 11, NULL);
        c->after = SL_TARGET_AFTER_CLOSE;
    } else if (path_is(r, "/continue")) {
        buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        conn_respond(c, 200, "application/json", "{\"ok\":true}", 11, NULL);
    } else if (path_is(r, "/204")) {
        conn_respond(c, 204, NULL, NULL, 0, NULL);
    } else if (path_is(r, "/304")) {
        /* 304 may carry the Content-Length of the full representation but never a body. */
        conn_respond(c, 304, NULL, NULL, 0, "Content-Length: 5\r\nETag: \"sl-target\"\r\n");
    } else if (path_is(r, "/big")) {
        route_big(c, r);
    } else if (path_is(r, "/login")) {
        /* A token in the body and a session cookie, for scripted-user tests. */
        static uint64_t logins;
        char body[64], hdr[96];
        logins++;
        int n =
            snprintf(body, sizeof(body), "{\"token\":\"tok-%llu\"}", (unsigned long long)logins);
        snprintf(hdr, sizeof(hdr), "Set-Cookie: session=s%llu; Path=/; HttpOnly\r\n",
                 (unsigned long long)logins);
        conn_respond(c, 200, "application/json", body, (size_t)n, hdr);
    } else if (path_is(r, "/redirect")) {
        conn_respond(c, 302, "text/plain", "redirecting to /\n", 17, "Location: /\r\n");
    } else if (path_is(r, "/slow")) {
        route_slow(c, r);
    } else if ((rest = path_after(r, "/fault/", &rest_len))) {
        route_fault(c, rest, rest_len);
    } else {
        conn_respond_ok(c);
    }
}

static int header_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* True when the comma-separated header value contains token (case-insensitive). */
static int value_has_token(const char *v, size_t n, const char *token)
{
    size_t tn = strlen(token);
    const char *end = v + n;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        if (!comma) {
            comma = end;
        }
        const char *t = v;
        size_t len = (size_t)(comma - v);
        trim(&t, &len);
        if (len == tn && strncasecmp(t, token, tn) == 0) {
            return 1;
        }
        v = comma + 1;
    }
    return 0;
}

/* Parses a request head (including its blank line). Returns 0, or -1 if malformed. */
static int parse_head(const char *p, size_t len, sl_target_req_t *r)
{
    memset(r, 0, sizeof(*r));
    const char *line_end = memmem(p, len, "\r\n", 2);
    const char *sp1 = memchr(p, ' ', (size_t)(line_end - p));
    if (!sp1 || sp1 == p || sp1 - p > 32) {
        return -1;
    }
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1) {
        return -1;
    }
    for (const char *m = p; m < sp1; m++) {
        if (*m <= ' ' || *m >= 0x7f) {
            return -1;
        }
    }
    const char *version = sp2 + 1;
    size_t version_len = (size_t)(line_end - version);
    if (version_len == 8 && memcmp(version, "HTTP/1.1", 8) == 0) {
        r->http10 = 0;
    } else if (version_len == 8 && memcmp(version, "HTTP/1.0", 8) == 0) {
        r->http10 = 1;
    } else {
        return -1;
    }
    r->method = p;
    r->method_len = (size_t)(sp1 - p);
    r->path = sp1 + 1;
    const char *target_end = sp2;
    const char *q = memchr(r->path, '?', (size_t)(target_end - r->path));
    r->path_len = (size_t)((q ? q : target_end) - r->path);
    if (q) {
        r->query = q + 1;
        r->query_len = (size_t)(target_end - q - 1);
    }

    r->headers = line_end + 2;
    r->headers_len = len - (size_t)(r->headers - p) - 2;
    int keep_alive = 0, has_cl = 0;
    const char *h = r->headers, *end = r->headers + r->headers_len;
    while (h < end) {
        const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
        if (!eol) {
            return -1;
        }
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (!colon || colon == h) {
            return -1;
        }
        size_t name_len = (size_t)(colon - h);
        const char *v = colon + 1;
        size_t vn = (size_t)(eol - v);
        trim(&v, &vn);
        if (header_is(h, name_len, "content-length")) {
            uint64_t cl;
            if (parse_u64(v, vn, &cl) < 0 || (has_cl && cl != r->content_length)) {
                return -1;
            }
            r->content_length = cl;
            has_cl = 1;
        } else if (header_is(h, name_len, "transfer-encoding")) {
            if (value_has_token(v, vn, "chunked")) {
                r->chunked = 1;
            }
        } else if (header_is(h, name_len, "connection")) {
            if (value_has_token(v, vn, "close")) {
                r->close = 1;
            }
            if (value_has_token(v, vn, "keep-alive")) {
                keep_alive = 1;
            }
        } else if (header_is(h, name_len, "expect")) {
            r->expect_continue = value_has_token(v, vn, "100-continue");
        }
        h = eol + 2;
    }
    if (r->chunked && has_cl) {
        return -1; /* request smuggling shape: refuse rather than guess */
    }
    if (r->http10 && !keep_alive) {
        r->close = 1;
    }
    return 0;
}

/*
 * Decodes a complete chunked body from p into out. Returns 1 with *used set when the
 * body (with trailers) is complete, 0 when more input is needed, -1 when malformed, -2
 * when too large.
 */
static int decode_chunked(const char *p, size_t len, sl_target_buf_t *out, size_t *used)
{
    size_t pos = 0;
    out->len = 0;
    for (;;) {
        const char *eol = memmem(p + pos, len - pos, "\r\n", 2);
        if (!eol) {
            return len - pos > 1024 ? -1 : 0;
        }
        uint64_t size = 0;
        size_t digits = 0;
        const char *s = p + pos;
        for (; s < eol; s++, digits++) {
            int d = *s >= '0' && *s <= '9'   ? *s - '0'
                    : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                    : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
                                             : -1;
            if (d < 0) {
                break;
            }
            if (size > SL_TARGET_BODY_MAX) {
                return -2;
            }
            size = size * 16 + (uint64_t)d;
        }
        if (digits == 0 || (s < eol && *s != ';' && *s != ' ' && *s != '\t')) {
            return -1;
        }
        pos = (size_t)(eol - p) + 2;
        if (size == 0) {
            for (;;) {
                eol = memmem(p + pos, len - pos, "\r\n", 2);
                if (!eol) {
                    return 0;
                }
                size_t line = (size_t)(eol - (p + pos));
                pos += line + 2;
                if (line == 0) {
                    *used = pos;
                    return 1;
                }
            }
        }
        if (size > SL_TARGET_BODY_MAX || out->len + size > SL_TARGET_BODY_MAX) {
            return -2;
        }
        if (len - pos < size + 2) {
            return 0;
        }
        buf_add(out, p + pos, (size_t)size);
        pos += (size_t)size;
        if (p[pos] != '\r' || p[pos + 1] != '\n') {
            return -1;
        }
        pos += 2;
    }
}

static int is_internal(const sl_target_req_t *r)
{
    return path_is(r, "/__stats") || path_is(r, "/__reset");
}

/* Sends 100 Continue once when the client waits for it before sending its body. */
static void maybe_continue(sl_target_conn_t *c, const sl_target_req_t *r)
{
    if (r->expect_continue && !r->http10 && !c->sent_continue) {
        buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        c->sent_continue = 1;
    }
}

/*
 * Parses and answers at most one request from the input buffer. Returns 1 when a request
 * was handled (or refused), 0 when more input is needed.
 */
static int conn_parse_one(sl_target_conn_t *c)
{
    /* RFC 9112 asks servers to ignore empty lines before a request line. */
    while (c->in.len - c->in_off >= 2 && c->in.data[c->in_off] == '\r' &&
           c->in.data[c->in_off + 1] == '\n') {
        c->in_off += 2;
    }
    const char *p = c->in.data + c->in_off;
    size_t len = c->in.len - c->in_off;
    if (len == 0) {
        return 0;
    }
    const char *end = memmem(p, len, "\r\n\r\n", 4);
    if (!end) {
        if (len >= SL_TARGET_HEAD_MAX) {
            conn_reject(c, 431);
            return 1;
        }
        return 0;
    }
    size_t head_len = (size_t)(end - p) + 4;
    if (head_len > SL_TARGET_HEAD_MAX) {
        conn_reject(c, 431);
        return 1;
    }
    sl_target_req_t r;
    if (parse_head(p, head_len, &r) < 0) {
        conn_reject(c, 400);
        return 1;
    }
    int internal = is_internal(&r);
    /* Count on the complete head, before any fault acts, so counts reconcile exactly. */
    if (!c->counted) {
        c->counted = 1;
        if (!internal) {
            stats_count(&r);
        }
    }
    size_t consumed;
    if (r.chunked) {
        size_t used = 0;
        int rc = decode_chunked(p + head_len, len - head_len, &c->chunked_body, &used);
        if (rc < 0) {
            conn_reject(c, rc == -2 ? 413 : 400);
            return 1;
        }
        if (rc == 0) {
            maybe_continue(c, &r);
            return 0;
        }
        r.body = c->chunked_body.data ? c->chunked_body.data : "";
        r.body_len = c->chunked_body.len;
        consumed = head_len + used;
    } else {
        if (r.content_length > SL_TARGET_BODY_MAX) {
            conn_reject(c, 413);
            return 1;
        }
        if (len - head_len < r.content_length) {
            maybe_continue(c, &r);
            return 0;
        }
        r.body = p + head_len;
        r.body_len = (size_t)r.content_length;
        consumed = head_len + (size_t)r.content_length;
    }
    if (!internal) {
        stats_last(&r);
    }
    c->counted = 0;
    c->sent_continue = 0;
    c->req_close = r.close;
    c->req_http10 = r.http10;
    c->req_head = r.method_len == 4 && memcmp(r.method, "HEAD", 4) == 0;
    route(c, &r);
    c->in_off += consumed;
    return 1;
}

/*
 * Advances a connection as far as it can go without blocking: answer buffered requests,
 * write, apply what follows the response, read more. Sockets are edge-triggered, so every
 * path that returns has either drained the socket or is waiting on a timer or EPOLLOUT.
 */
static void conn_drive(sl_target_conn_t *c)
{
    while (!c->dead) {
        int need_input = 0;
        while (c->phase == SL_TARGET_PH_READY && c->after == SL_TARGET_AFTER_KEEP &&
               c->out.len - c->out_off < SL_TARGET_OUT_HIGH && !c->big_left) {
            if (!conn_parse_one(c)) {
                need_input = 1;
                break;
            }
        }
        int fr = conn_flush(c);
        if (fr < 0) {
            conn_close(c);
            return;
        }
        if (fr > 0) {
            return; /* EPOLLOUT resumes us */
        }
        int after = c->after;
        c->after = SL_TARGET_AFTER_KEEP;
        if (after == SL_TARGET_AFTER_RESET) {
            conn_reset(c);
            return;
        }
        if (after == SL_TARGET_AFTER_CLOSE) {
            conn_linger(c);
        } else if (after == SL_TARGET_AFTER_HANG) {
            conn_set_phase(c, SL_TARGET_PH_HANG);
        }
        ssize_t n;
        switch (c->phase) {
        case SL_TARGET_PH_READY:
            if (!need_input) {
                continue; /* stopped on the output ceiling; more requests may be buffered */
            }
            n = conn_read(c, 1);
            if (n > 0) {
                continue;
            }
            if (n == -1) {
                return;
            }
            conn_close(c);
            return;
        case SL_TARGET_PH_WAIT:
        case SL_TARGET_PH_HANG:
            /* Buffer what arrives meanwhile, but notice a peer that goes away. */
            n = conn_read(c, 0);
            if (n > 0) {
                continue;
            }
            if (n == 0 || n == -2) {
                conn_close(c);
            }
            return;
        case SL_TARGET_PH_LINGER:
            for (;;) {
                char scratch[16384];
                n = recv(c->fd, scratch, sizeof(scratch), 0);
                if (n > 0) {
                    continue;
                }
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                    conn_close(c);
                }
                return;
            }
        }
        return;
    }
}

/* Runs an expired timer; the heap entry was already removed, so it may re-arm. */
static void conn_on_timer(sl_target_conn_t *c, int kind)
{
    switch (kind) {
    case SL_TARGET_TM_DELAY:
        conn_set_phase(c, SL_TARGET_PH_READY);
        conn_respond_ok(c);
        break;
    case SL_TARGET_TM_STREAM: {
        size_t left = c->stream.len - c->stream_off;
        size_t step = left < c->stream_step ? left : c->stream_step;
        buf_add(&c->out, c->stream.data + c->stream_off, step);
        c->stream_off += step;
        if (c->stream_off < c->stream.len) {
            timer_set(c, c->timer_at_us + c->stream_interval_us, SL_TARGET_TM_STREAM);
        } else {
            conn_set_phase(c, SL_TARGET_PH_READY);
            c->after = c->req_close ? SL_TARGET_AFTER_CLOSE : SL_TARGET_AFTER_KEEP;
        }
        break;
    }
    case SL_TARGET_TM_LINGER:
        conn_close(c);
        return;
    default:
        return;
    }
    conn_drive(c);
}

static void sl_target_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return; /* EAGAIN, or EMFILE: the level-triggered listener retries later */
        }
        /* Responses are written whole; Nagle would only add latency to timed ones. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        sl_target_conn_t *c = conn_new(fd);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(sl_target_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            conn_close(c);
        }
    }
}

static void sl_target_usage(FILE *f)
{
    fputs("usage: sl_target [--port N] [--host 127.0.0.1]\n"
          "  Scriptable HTTP/1.1 test server for stormlight. With port 0 (the default) it\n"
          "  binds an ephemeral loopback port and prints 'PORT <n>' once listening.\n"
          "  See the comment at the top of tests/target/sl_target.c for the endpoints.\n",
          f);
}

/* Resolves host to a loopback address; anything else is refused so tests never leak. */
static int sl_target_listen(const char *host, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t ss_len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (strcmp(host, "localhost") == 0) {
        host = "127.0.0.1";
    }
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "sl_target: --host %s is not a loopback address\n", host);
            return -1;
        }
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        ss_len = sizeof(*in4);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
            fprintf(stderr, "sl_target: --host %s is not a loopback address\n", host);
            return -1;
        }
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ss_len = sizeof(*in6);
    } else {
        fprintf(stderr, "sl_target: --host %s is not a loopback IP address\n", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("sl_target: socket");
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, ss_len) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "sl_target: cannot listen on %s:%u: %s\n", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    unsigned long port = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            sl_target_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--port") || !strcmp(a, "--host")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sl_target: %s needs a value\n", a);
                return 2;
            }
            v = argv[++i];
        } else if (!strncmp(a, "--port=", 7) || !strncmp(a, "--host=", 7)) {
            v = a + 7;
        } else {
            fprintf(stderr, "sl_target: unknown option '%s'\n", a);
            sl_target_usage(stderr);
            return 2;
        }
        if (!strncmp(a, "--port", 6)) {
            char *endp;
            errno = 0;
            port = strtoul(v, &endp, 10);
            if (errno || *endp || !*v || port > 65535) {
                fprintf(stderr, "sl_target: --port must be 0..65535, got '%s'\n", v);
                return 2;
            }
        } else {
            host = v;
        }
    }

    /* Thousands of keep-alive connections need more than the usual 1024 descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* The default 50 us timer slack would blur the delays used to measure overhead. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    for (size_t i = 0; i < sizeof(sl_target_pattern); i++) {
        sl_target_pattern[i] = (i % 64) == 63 ? '\n' : (char)('a' + (i % 64) % 26);
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    int lfd = sl_target_listen(host, (unsigned)port);
    if (lfd < 0) {
        return 1;
    }
    sl_target_epfd = epoll_create1(EPOLL_CLOEXEC);
    sl_target_timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (sfd < 0 || sl_target_epfd < 0 || sl_target_timerfd < 0) {
        perror("sl_target: setup");
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sl_target_listen_tag};
    epoll_ctl(sl_target_epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &sl_target_signal_tag;
    epoll_ctl(sl_target_epfd, EPOLL_CTL_ADD, sfd, &ev);
    ev.data.ptr = &sl_target_timer_tag;
    epoll_ctl(sl_target_epfd, EPOLL_CTL_ADD, sl_target_timerfd, &ev);

    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    getsockname(lfd, (struct sockaddr *)&bound, &bound_len);
    unsigned bound_port =
        ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                          : ((struct sockaddr_in *)&bound)->sin_port);
    printf("PORT %u\n", bound_port);
    fflush(stdout);

    int running = 1;
    struct epoll_event events[1024];
    while (running) {
        timer_arm();
        int n = epoll_wait(sl_target_epfd, events, 1024, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("sl_target: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            int kind = *(int *)events[i].data.ptr;
            uint32_t e = events[i].events;
            if (kind == SL_TARGET_EV_LISTEN) {
                sl_target_accept(lfd);
            } else if (kind == SL_TARGET_EV_SIGNAL) {
                running = 0;
            } else if (kind == SL_TARGET_EV_TIMER) {
                uint64_t expirations;
                ssize_t rn = read(sl_target_timerfd, &expirations, sizeof(expirations));
                (void)rn;
                sl_target_armed_us = 0; /* fired: re-arm even if the next deadline is equal */
            } else {
                sl_target_conn_t *c = events[i].data.ptr;
                if (c->dead) {
                    continue;
                }
                if ((e & (EPOLLERR | EPOLLHUP)) ||
                    ((e & EPOLLRDHUP) && c->phase == SL_TARGET_PH_HANG)) {
                    conn_close(c);
                    continue;
                }
                conn_drive(c);
            }
        }
        uint64_t now = sl_target_now_us();
        while (sl_target_heap_len && sl_target_heap[0]->timer_at_us <= now) {
            sl_target_conn_t *c = sl_target_heap[0];
            int tkind = c->timer_kind;
            timer_clear(c);
            conn_on_timer(c, tkind);
        }
        conn_free_dead();
    }

    while (sl_target_live) {
        conn_close(sl_target_live);
    }
    conn_free_dead();
    stats_reset();
    buf_free(&sl_target_bigheader);
    free(sl_target_heap);
    close(lfd);
    close(sfd);
    close(sl_target_timerfd);
    close(sl_target_epfd);
    return 0;
}
