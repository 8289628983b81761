/* The failure vocabulary's texts: standard HTTP reason phrases and the error text users
 * see for each failure category. Pure functions; any thread. */
#include "base/fail.h"

#include <stdio.h>
#include <string.h>

const char *sl_http_reason(int status)
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
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
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
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
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
    }
    return "";
}

/* RFC 9113 section 7's names for the error codes a RST_STREAM carries. */
static const char *h2_code(int code)
{
    static const char *const names[] = {
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    };
    if (code >= 0 && (size_t)code < sizeof(names) / sizeof(names[0]))
        return names[code];
    return "unknown error code";
}

const char *sl_fail_describe(sl_fail_t kind, int detail, char *buf, size_t len)
{
    if (kind != SL_FAIL_SCRIPT)
        detail = sl_detail_number(detail);
    switch (kind) {
    case SL_FAIL_NONE:
        snprintf(buf, len, "none");
        break;
    case SL_FAIL_HTTP: {
        const char *reason = sl_http_reason(detail);
        snprintf(buf, len, "HTTP %d%s%s", detail, *reason ? " " : "", reason);
        break;
    }
    case SL_FAIL_CONNECT_REFUSED:
        snprintf(buf, len, "connection refused");
        break;
    case SL_FAIL_CONNECT_TIMEOUT:
        snprintf(buf, len, "connect timeout");
        break;
    case SL_FAIL_CONNECT:
        snprintf(buf, len, "connect error: %s", strerror(detail));
        break;
    case SL_FAIL_TLS_HANDSHAKE:
        snprintf(buf, len, "TLS handshake failed");
        break;
    case SL_FAIL_TLS_VERIFY:
        snprintf(buf, len, "TLS certificate verification failed");
        break;
    case SL_FAIL_RESET:
        snprintf(buf, len, "connection reset by peer");
        break;
    case SL_FAIL_CLOSED:
        snprintf(buf, len, "connection closed before a complete response");
        break;
    case SL_FAIL_TIMEOUT:
        snprintf(buf, len, "timeout");
        break;
    case SL_FAIL_MALFORMED:
        snprintf(buf, len, "malformed response");
        break;
    case SL_FAIL_TRUNCATED:
        snprintf(buf, len, "truncated response");
        break;
    case SL_FAIL_HEADER_TOO_LARGE:
        snprintf(buf, len, "response header too large");
        break;
    case SL_FAIL_IO:
        snprintf(buf, len, "socket error: %s", strerror(detail));
        break;
    case SL_FAIL_UNSENT:
        snprintf(buf, len, "request not sent: out of memory while building it");
        break;
    case SL_FAIL_H2_RESET:
        snprintf(buf, len, "HTTP/2 stream reset by the server: %s", h2_code(detail));
        break;
    case SL_FAIL_H2_PROTOCOL:
        snprintf(buf, len, "HTTP/2 protocol error");
        break;
    case SL_FAIL_H2_REFUSED:
        snprintf(buf, len, "HTTP/2 stream refused by the server");
        break;
    default:
        snprintf(buf, len, "other errors");
        break;
    }
    return buf;
}
