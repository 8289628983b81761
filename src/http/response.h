/* Streaming HTTP/1.x response reader on top of llhttp. It keeps only what a load test
 * needs (status, body size, keep-alive, whether any byte arrived); headers and body are
 * parsed in place and discarded, so no per-connection buffer is needed. */
#ifndef SL_HTTP_RESPONSE_H
#define SL_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "base/fail.h"

/* Ceiling on the status line plus header block of one response. */
#define SL_RESP_MAX_HEADER_BYTES (64 * 1024)

/* Ceiling on the reason phrase kept for an error status. */
#define SL_RESP_MAX_REASON 48

typedef enum sl_resp_result {
    SL_RESP_MORE = 0, /* need more bytes */
    SL_RESP_DONE,     /* a complete final response was read */
    SL_RESP_ERROR,    /* the response is broken: see resp.fail */
} sl_resp_result_t;

/* Optional capture of a response's headers and body, for scripted requests (Task{}
 * requests never capture). Headers are kept as "name\0value\0" pairs, names as sent.
 * Both buffers grow only as a response needs and are bounded. The body buffer is sized
 * from Content-Length when there is one (no doubling overshoot); from SL_RESP_BIG_BODY_BYTES
 * up it is mapped memory of its own (mmap/mremap), so growing it copies nothing and
 * freeing it gives the memory back to the system at once. */
#define SL_RESP_MAX_BODY_BYTES (64u * 1024 * 1024)
#define SL_RESP_BIG_BODY_BYTES (1024u * 1024)
typedef struct sl_resp_capture {
    char *head;
    uint32_t head_len, head_cap;
    char *body;
    size_t body_len, body_cap;
    bool body_truncated; /* the body was over SL_RESP_MAX_BODY_BYTES: the rest was counted */
    bool oom;            /* an allocation failed: what was captured is incomplete */
} sl_resp_capture_t;

void sl_resp_capture_reset(sl_resp_capture_t *c);
/* The value of the next captured header called name (case-insensitive) at or after
 * *from, which moves past it (start with 0); NULL when there is none. */
const char *sl_resp_capture_header(const sl_resp_capture_t *c, const char *name, size_t *from);

typedef struct sl_resp sl_resp_t;
/* Captures the response being read into c (after sl_resp_start). */
void sl_resp_capture_attach(sl_resp_t *r, sl_resp_capture_t *c);
void sl_resp_capture_free(sl_resp_capture_t *c);

/* Moves the captured body out of c: *buf (body_len bytes, capacity *cap) is the caller's,
 * to free with sl_resp_body_release; c starts its next body in a fresh buffer. */
void sl_resp_capture_take_body(sl_resp_capture_t *c, char **buf, size_t *len, size_t *cap);
/* Frees a body buffer taken from a capture (NULL is fine). Any thread. */
void sl_resp_body_release(char *buf, size_t cap);
/* Gives c, which must have no body buffer, buf (transferred, capacity cap) for its next
 * body: a buffer whose pages are already resident, so receiving into it faults nothing. */
void sl_resp_capture_give_body(sl_resp_capture_t *c, char *buf, size_t cap);

struct sl_resp {
    llhttp_t parser;
    sl_resp_capture_t *cap; /* NULL: discard headers and body */
    uint64_t body_bytes;
    uint32_t header_bytes;
    uint16_t status;
    uint8_t fail;       /* sl_fail_t when the result was SL_RESP_ERROR */
    uint8_t reason_len; /* bytes in reason */
    /* The reason phrase of an error status (>= 400) as the server sent it, printable
     * ASCII only (other bytes become '?'), cut at SL_RESP_MAX_REASON bytes: the error
     * table names it when it differs from the standard phrase. */
    char reason[SL_RESP_MAX_REASON];
    bool is_head;
    bool got_bytes; /* at least one byte of this response arrived */
    bool complete;
    bool headers_done; /* the current (final or interim) header block is complete */
    bool keep_alive;   /* valid after SL_RESP_DONE */
    bool trailing;     /* bytes followed the response: the connection must not be reused */
};

/* Prepares for the response to one request; is_head: the request was HEAD, so the
 * response has no body whatever its headers say. */
void sl_resp_start(sl_resp_t *r, bool is_head);

/* Feeds received bytes. Returns SL_RESP_DONE once the final (non-1xx) response is
 * complete; bytes after it set r->trailing. Never reads past len. */
sl_resp_result_t sl_resp_feed(sl_resp_t *r, const char *buf, size_t len);

/* HTTP/2 (http/h2.c) fills the response from its frames instead of llhttp: a header
 * field (captured when a capture is attached), body bytes (counted, captured), and the
 * end of an interim (1xx) header block, after which the final one starts afresh. */
void sl_resp_h2_header(sl_resp_t *r, const char *name, size_t nlen, const char *value, size_t vlen);
void sl_resp_h2_body(sl_resp_t *r, const char *at, size_t len);
void sl_resp_h2_interim(sl_resp_t *r);

/* The peer closed the connection: completes a close-delimited body (SL_RESP_DONE) or
 * classifies the response as closed/truncated (SL_RESP_ERROR). */
sl_resp_result_t sl_resp_eof(sl_resp_t *r);

#endif
