/* The HTTP session: one keep-alive connection and the exchange of one request at a
 * time over it. It owns writing the request, reading and parsing the response, the
 * keep-alive decision, the stale-connection check before reuse, the retry rule and
 * following redirects (the owner renders the next request), and reports one outcome per
 * request to its owner through sl_http_session_ops_t.
 *
 * The owner (engine/worker.c) schedules users: it decides when a request starts, times
 * it out, and makes connections (connect slots, address fallback) when the session asks
 * for one. Nothing here knows about users, Lua or statistics blocks. When the endpoint
 * asks for HTTP/2 (sl_endpoint_t.h2_mode) and the established connection speaks it (ALPN
 * chose h2, or h2c by prior knowledge), the same calls drive an HTTP/2 stream per
 * exchange through http/h2.c instead: same outcome, same retry rule, same redirects.
 * Worker thread only; no allocation for HTTP/1.1 (nghttp2 allocates per connection and
 * per stream). */
#ifndef SL_HTTP_SESSION_H
#define SL_HTTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/response.h"
#include "loop/loop.h"
#include "net/conn.h"
#include "stats/phases.h"

/* A kept-alive connection idle for longer than this is checked for a pending close
 * before it is reused (one non-blocking recv). Back-to-back requests, idle for
 * microseconds, skip the check; a server's own idle timeout is far longer. */
#define SL_HTTP_STALE_CHECK_US 1000

typedef enum sl_http_state {
    SL_HTTP_IDLE = 0,   /* no request, or between requests */
    SL_HTTP_CONNECTING, /* waiting for the owner's connection (TCP connect, TLS) */
    SL_HTTP_SENDING,    /* request partly written */
    SL_HTTP_READING,    /* waiting for the response */
} sl_http_state_t;

/* The request of one exchange; the bytes are borrowed until the outcome is reported. */
typedef struct sl_http_exchange {
    const char *wire;
    size_t wire_len;
    bool idempotent;       /* may be sent again (see the retry rule) */
    bool is_head;          /* the response has no body whatever it says */
    uint8_t max_redirects; /* redirects to follow (0: none; needs a capture on resp) */
} sl_http_exchange_t;

typedef struct sl_http_session sl_http_session_t;
typedef struct sl_h2 sl_h2_t; /* http/h2.c: HTTP/2 on one connection */

/* The protocol a connection speaks, once it is established. */
typedef enum sl_http_proto {
    SL_PROTO_NONE = 0,
    SL_PROTO_H1, /* HTTP/1.1 */
    SL_PROTO_H2, /* HTTP/2: h2 by ALPN over TLS, or h2c with prior knowledge */
} sl_http_proto_t;

typedef enum sl_http_event {
    SL_HTTP_EV_RETRY,       /* a request is sent again (the summary's `retries`) */
    SL_HTTP_EV_STALE,       /* an idle connection was found closed before reuse */
    SL_HTTP_EV_CONN_H1,     /* a new connection speaks HTTP/1.1 (s->proto) */
    SL_HTTP_EV_CONN_H2,     /* a new connection speaks HTTP/2 */
    SL_HTTP_EV_H2_DECLINED, /* ... HTTP/1.1 although h2 was offered by ALPN (with CONN_H1) */
} sl_http_event_t;

/* What the owner does for the session. Every callback may be called from inside any
 * session call that drives I/O (begin, send, on_io, fail). */
typedef struct sl_http_session_ops {
    /* A connection is needed for the current request: the owner opens s->conn (or queues
     * it), registers it with its loop, and calls sl_http_session_send once it is
     * established, or sl_http_session_fail. */
    void (*connect)(sl_http_session_t *s);
    /* s->conn is about to be closed: the owner forgets what it had for it (its loop
     * token, a connect slot). */
    void (*closing)(sl_http_session_t *s);
    /* The response is being started: the owner may attach a capture to s->resp. */
    void (*response_start)(sl_http_session_t *s);
    /* Counts an event. */
    void (*event)(sl_http_session_t *s, sl_http_event_t ev);
    /* A redirect to follow: a 301, 302, 303, 307 or 308 with a Location header, fewer
     * than max_redirects followed for this request. The owner renders the next request
     * into *next (its bytes the owner's until done) and returns true; false takes this
     * response as the outcome. NULL: redirects are never followed. */
    bool (*redirect)(sl_http_session_t *s, uint16_t status, const char *location,
                     sl_http_exchange_t *next);
    /* The request's outcome, exactly once per sl_http_session_begin: fail is
     * SL_FAIL_NONE or the category, detail the status or errno; broken when no complete
     * response came and the connection is already closed. */
    void (*done)(sl_http_session_t *s, sl_fail_t fail, int detail, bool broken);
} sl_http_session_ops_t;

struct sl_http_session {
    sl_conn_t conn;
    sl_resp_t resp;
    const sl_http_session_ops_t *ops; /* borrowed, outlives the session */
    sl_loop_t *loop;                  /* borrowed: its clock and nothing else */
    char *rbuf;                       /* received bytes land here (shared per worker) */
    size_t rbuf_len;
    sl_http_exchange_t req;
    uint64_t sent_us;       /* when the request's first byte was written; 0 until then */
    uint64_t idle_since_us; /* when the kept-alive connection carried its last response */
    /* Timing phases of the current request (stats/phases.h): the owner adds connect_us
     * and tls_us and sets conn = SL_PHASES_CONN_NEW when it establishes a connection for
     * it; the session marks a reused connection and stamps the rest with the loop's
     * clock (no extra clock reads). sl_http_session_phases makes the record. */
    sl_phases_t phases;
    uint64_t sent_done_us;  /* the request's last byte written; 0 until then */
    uint64_t first_byte_us; /* the response's first byte read; 0 until then */
    uint32_t wpos;          /* bytes of the request written */
    uint8_t state;          /* sl_http_state_t */
    bool reused;            /* the connection already carried a complete exchange */
    bool retried;           /* the current request was already retried once */
    uint8_t redirects;      /* redirects followed for the current request */
    uint8_t proto;          /* sl_http_proto_t of the connection; SL_PROTO_NONE when closed */
    sl_h2_t *h2;            /* HTTP/2 state of the connection when it speaks h2, else NULL */
};

/* Prepares a session (caller's storage) with no connection. ops, loop and rbuf are
 * borrowed. */
void sl_http_session_init(sl_http_session_t *s, const sl_http_session_ops_t *ops, sl_loop_t *loop,
                          char *rbuf, size_t rbuf_len);

/* Starts an exchange: req's bytes are borrowed until ops->done. Reuses the kept-alive
 * connection unless it went stale, else asks ops->connect. */
void sl_http_session_begin(sl_http_session_t *s, const sl_http_exchange_t *req);

/* Writes what is left of the request (after the connection is established, or when the
 * socket is writable again). */
void sl_http_session_send(sl_http_session_t *s);

/* A readiness event for s->conn while sending, reading or idle. hup: the event also
 * reported the peer's close or an error. (Connecting is the owner's.) */
void sl_http_session_on_io(sl_http_session_t *s, bool hup);

/* Ends the current exchange with a failure (a timeout, a connect error): closes the
 * connection (abortive: RST) and reports done(fail, detail, broken). */
void sl_http_session_fail(sl_http_session_t *s, sl_fail_t fail, int detail, bool abortive);

/* Fails the exchange before anything was sent (the request could not be built): the
 * connection is left as it was. */
void sl_http_session_fail_unsent(sl_http_session_t *s, const sl_http_exchange_t *req);

/* Closes the connection (calling ops->closing first); the next request opens a new
 * one. Safe when there is none. Does not report an outcome. */
void sl_http_session_close(sl_http_session_t *s, bool abortive);

/* The current request's phases once it is over at end_us (the clock its latency was
 * taken with); responded: a response came. After a followed redirect they describe the
 * last hop, with every hop's connects. */
static inline void sl_http_session_phases(const sl_http_session_t *s, uint64_t end_us,
                                          bool responded, sl_phases_t *out)
{
    *out = s->phases;
    uint64_t sent = s->sent_us, done = s->sent_done_us, first = s->first_byte_us;
    out->responded = responded && done && first;
    if (!out->responded)
        return;
    out->sending_us = done > sent ? done - sent : 0;
    out->waiting_us = first > done ? first - done : 0;
    out->receiving_us = end_us > first ? end_us - first : 0;
}

/* Releases the connection and its protocol state without calling the owner (when the
 * owner itself is going away). Safe when there is none. */
void sl_http_session_dispose(sl_http_session_t *s);

static inline bool sl_http_session_busy(const sl_http_session_t *s)
{
    return s->state != SL_HTTP_IDLE;
}

#endif
