/* The failure vocabulary: the categories a failed request is counted under, the detail
 * that refines each, and the text users see for them. Raised by net/ (connect, TLS, socket
 * errors), http/ (malformed, truncated, status) and scripts; counted by stats/ and shown
 * by every report, so it lives in the base below all of them. */
#ifndef SL_BASE_FAIL_H
#define SL_BASE_FAIL_H

#include <stddef.h>
#include <stdint.h>

/* Failure categories. Each failed request gets exactly one; `detail` refines it (the
 * HTTP status for SL_FAIL_HTTP, errno for SL_FAIL_CONNECT and SL_FAIL_IO). */
typedef enum sl_fail {
    SL_FAIL_NONE = 0,
    SL_FAIL_HTTP, /* status >= 400 */
    SL_FAIL_CONNECT_REFUSED,
    SL_FAIL_CONNECT_TIMEOUT,
    SL_FAIL_CONNECT, /* other connect errors, detail = errno */
    SL_FAIL_TLS_HANDSHAKE,
    SL_FAIL_TLS_VERIFY,       /* certificate verification failed */
    SL_FAIL_RESET,            /* connection reset by peer */
    SL_FAIL_CLOSED,           /* closed before a complete response */
    SL_FAIL_TIMEOUT,          /* no complete response within --timeout */
    SL_FAIL_MALFORMED,        /* not a valid HTTP/1.x response */
    SL_FAIL_TRUNCATED,        /* body shorter than announced */
    SL_FAIL_HEADER_TOO_LARGE, /* header block over the limit */
    SL_FAIL_IO,               /* other socket error, detail = errno */
    SL_FAIL_SCRIPT,           /* r:failure(msg) in a script, detail = text id of msg */
    SL_FAIL_UNSENT,           /* the request could not be built whole (out of memory) */
    SL_FAIL_H2_RESET,         /* HTTP/2: the server reset the stream, detail = error code */
    SL_FAIL_H2_PROTOCOL,      /* HTTP/2: a protocol error on the connection or the stream */
    SL_FAIL_H2_REFUSED,       /* HTTP/2: the server refused the stream (REFUSED_STREAM) */
} sl_fail_t;

/* Some failures carry a text besides their number: the reason phrase the server sent
 * when it is not the standard one, the address a connect failed at, OpenSSL's reason for
 * refusing a certificate. The text is interned in the run's text registry (as script
 * failures are) and its id rides in the detail above the number, so the error table keeps
 * its (row, kind, detail) key: detail = number + SL_DETAIL_TEXT_UNIT * (text id + 1). The
 * numbers (HTTP statuses, errno values, X509 verify codes) stay below the unit. Not used
 * by SL_FAIL_SCRIPT, whose detail is the text id itself. */
#define SL_DETAIL_TEXT_UNIT 4096
static inline int32_t sl_detail_number(int32_t detail)
{
    return detail >= 0 ? detail % SL_DETAIL_TEXT_UNIT : detail;
}
/* The text id carried by detail, or -1. */
static inline int64_t sl_detail_text(int32_t detail)
{
    return detail >= SL_DETAIL_TEXT_UNIT ? (int64_t)(detail / SL_DETAIL_TEXT_UNIT) - 1 : -1;
}
static inline int32_t sl_detail_with_text(int32_t number, uint32_t text)
{
    return sl_detail_number(number) + SL_DETAIL_TEXT_UNIT * (int32_t)(text + 1);
}

/* Renders the error text users see ("HTTP 503 Service Unavailable", "connection
 * refused"), without the text a detail may carry (see sl_fail_describe_text in
 * stats/snapshot.h for that). Returns buf. */
const char *sl_fail_describe(sl_fail_t kind, int detail, char *buf, size_t len);

/* Standard reason phrase for an HTTP status ("Service Unavailable"), "" if unknown. */
const char *sl_http_reason(int status);

#endif
