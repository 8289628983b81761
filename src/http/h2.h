/* HTTP/2 on one connection, over nghttp2: what the HTTP session (session.c) calls when
 * its connection speaks h2 (agreed by ALPN, or h2c with prior knowledge). One stream at a
 * time: the session's current exchange. The request is the exchange's HTTP/1.1 rendering
 * (the one every scenario already builds, cookies and redirects included), translated to
 * an h2 header list here, so scenarios run unchanged over either protocol; the response
 * fills the same sl_resp_t (status, body size, capture) the HTTP/1.1 reader fills.
 *
 * Flow control: the window offered (per stream and for the connection) is the endpoint's
 * h2_window, and nghttp2's automatic window update consumes every DATA byte received, so
 * the connection never stalls. Worker thread only. Internal to http/ (and its tests). */
#ifndef SL_HTTP_H2_H
#define SL_HTTP_H2_H

#include "http/response.h"
#include "net/conn.h"

typedef struct sl_h2 sl_h2_t;

/* The flow-control window offered by default: 16 MiB (the protocol's default, 64 KiB,
 * throttles large bodies to one window per round trip). */
#define SL_H2_DEFAULT_WINDOW (16u * 1024 * 1024)
/* The largest window the protocol allows (2^31 - 1). */
#define SL_H2_MAX_WINDOW 2147483647u

typedef enum sl_h2_result {
    SL_H2_MORE = 0, /* the exchange goes on: wait for the next readiness edge */
    SL_H2_DONE,     /* the current stream's response is complete (status in resp) */
    SL_H2_ERROR,    /* the current exchange failed: see sl_h2_out_t */
} sl_h2_result_t;

/* How an exchange (or the connection) ended, after SL_H2_DONE or SL_H2_ERROR. */
typedef struct sl_h2_out {
    sl_fail_t fail; /* after SL_H2_ERROR */
    int detail;     /* the RST_STREAM error code, errno, or nghttp2's error */
    bool conn_dead; /* the connection cannot carry another stream: close it */
    bool retryable; /* the server never processed the stream (refused, above a GOAWAY's
                     * last id, or the connection closed before any response byte) */
} sl_h2_out_t;

/* Starts HTTP/2 on the established connection c (borrowed): the client preface and
 * SETTINGS are queued (written by the next flush). now points at the owner's clock, read
 * for the timestamps below. NULL when out of memory. */
sl_h2_t *sl_h2_new(sl_conn_t *c, uint32_t window, const uint64_t *now);
void sl_h2_free(sl_h2_t *h);

/* Opens a stream for a request rendered as HTTP/1.1 (wire, its bytes borrowed until the
 * outcome) whose response fills r (already started). Returns SL_FAIL_NONE, SL_FAIL_UNSENT (out of
 * memory or no stream id left) or SL_FAIL_MALFORMED (req's bytes are not a request this code
 * rendered). */
sl_fail_t sl_h2_submit(sl_h2_t *h, const char *wire, size_t wire_len, sl_resp_t *r);

/* Writes what nghttp2 has queued (the request, WINDOW_UPDATEs, acknowledgements) and
 * reads what the socket has (all of it when hup, or for TLS, until it would block),
 * into rbuf (nothing is read when rbuf_len is 0: only written). With no stream open it only keeps
 * the connection's housekeeping going (a GOAWAY or close while idle makes it unusable). */
sl_h2_result_t sl_h2_drive(sl_h2_t *h, char *rbuf, size_t rbuf_len, bool hup, sl_h2_out_t *out);

/* Whether the connection can take a new stream: no GOAWAY came, no error, ids remain. */
bool sl_h2_usable(const sl_h2_t *h);

/* Timestamps of the current stream on the owner's clock (0 until they happen): the
 * first byte of the response (its first header) and the last (the end of the stream).
 * Kept for the timing phases. */
uint64_t sl_h2_first_byte_us(const sl_h2_t *h);
uint64_t sl_h2_last_byte_us(const sl_h2_t *h);
/* Whether nghttp2 still has frames to write (the request's body, say): until it has none,
 * the request is not sent in full. */
bool sl_h2_want_write(const sl_h2_t *h);

#endif
