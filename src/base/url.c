/* Base URL parsing for --host and the scenario's `host`. Deliberately strict: a base URL
 * that we would silently reinterpret (a query string, credentials, a missing scheme) is
 * reported to the user instead, because a load test aimed at the wrong place is worse
 * than no load test. */
#include "base/url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Every message has the same shape, "invalid URL 'X': why", so callers can prefix the
 * flag or file name and still produce one readable line. */
static int fail(sl_err_t *err, const char *s, const char *why)
{
    sl_err_set(err, "invalid URL '%s': %s", s, why);
    return SL_EPARSE;
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_hex(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9');
}

int sl_url_parse(const char *s, sl_url_t *out, sl_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return fail(err, "", "empty (expected e.g. http://127.0.0.1:8000)");

    /* Everything after this point copies bytes into the request line or the Host header,
     * so anything that could split or corrupt them is rejected up front. */
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return fail(err, s, "contains a space or control character");
    }

    const char *p;
    if (strncasecmp(s, "http://", 7) == 0) {
        p = s + 7;
        out->tls = false;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        p = s + 8;
        out->tls = true;
    } else if (strstr(s, "://")) {
        return fail(err, s, "unsupported scheme (use http:// or https://)");
    } else {
        return fail(err, s, "missing scheme (expected http://HOST[:PORT] or https://...)");
    }
    uint16_t scheme_port = out->tls ? 443 : 80;

    if (strpbrk(s, "?#"))
        return fail(err, s, "query strings and fragments are not allowed in a base URL");

    size_t auth_len = strcspn(p, "/");
    const char *auth_end = p + auth_len;
    if (memchr(p, '@', auth_len))
        return fail(err, s, "user info (user@host) is not supported");

    /* Host: a bracketed IPv6 literal, or a name / IPv4 address up to the port colon. */
    const char *h = p, *h_end;
    const char *after;
    bool v6 = false;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth_len);
        if (!close)
            return fail(err, s, "unterminated IPv6 literal (missing ']')");
        h = p + 1;
        h_end = close;
        after = close + 1;
        v6 = true;
        bool colon = false;
        for (const char *c = h; c < h_end; c++) {
            if (*c == ':')
                colon = true;
            else if (!is_hex(*c) && *c != '.')
                return fail(err, s, "invalid IPv6 literal");
        }
        if (h_end > h && !colon)
            return fail(err, s, "invalid IPv6 literal");
    } else {
        h_end = p;
        while (h_end < auth_end && *h_end != ':')
            h_end++;
        after = h_end;
        for (const char *c = h; c < h_end; c++) {
            if (!is_alnum(*c) && *c != '-' && *c != '.' && *c != '_')
                return fail(err, s, "invalid character in the host name");
        }
    }
    size_t host_len = (size_t)(h_end - h);
    if (host_len == 0)
        return fail(err, s, "empty host");
    if (host_len >= sizeof(out->host))
        return fail(err, s, "host name longer than 255 characters");
    memcpy(out->host, h, host_len);
    out->host[host_len] = '\0';

    /* Port: optional, decimal, 1..65535. */
    out->port = scheme_port;
    if (after < auth_end) {
        if (*after != ':')
            return fail(err, s, "unexpected characters after the host");
        const char *d = after + 1;
        if (d == auth_end)
            return fail(err, s, "empty port");
        unsigned long port = 0;
        for (; d < auth_end; d++) {
            if (*d < '0' || *d > '9')
                return fail(err, s, "invalid port (expected 1..65535)");
            port = port * 10 + (unsigned long)(*d - '0');
            if (port > 65535)
                return fail(err, s, "invalid port (expected 1..65535)");
        }
        if (port == 0)
            return fail(err, s, "invalid port (expected 1..65535)");
        out->port = (uint16_t)port;
    }
    out->default_port = out->port == scheme_port;

    /* The Host header carries the port only when it is not the scheme's default, as
     * browsers and curl do; some servers route on the exact string. */
    if (out->default_port)
        snprintf(out->authority, sizeof(out->authority), v6 ? "[%s]" : "%s", out->host);
    else
        snprintf(out->authority, sizeof(out->authority), v6 ? "[%s]:%u" : "%s:%u", out->host,
                 (unsigned)out->port);

    /* Base path: trailing slashes are dropped so that joining it with a task path that
     * starts with '/' never produces "//". */
    size_t path_len = strlen(auth_end);
    while (path_len > 0 && auth_end[path_len - 1] == '/')
        path_len--;
    if (path_len >= sizeof(out->base_path))
        return fail(err, s, "base path longer than 1023 characters");
    memcpy(out->base_path, auth_end, path_len);
    out->base_path[path_len] = '\0';
    return SL_OK;
}

size_t sl_url_escape_high(const char *s, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (out)
                out[n] = (char)c;
            n++;
            continue;
        }
        if (out) {
            out[n] = '%';
            out[n + 1] = hex[c >> 4];
            out[n + 2] = hex[c & 15];
        }
        n += 3;
    }
    return n;
}
