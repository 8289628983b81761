/* Base URLs: http://host[:port][/base/path] and https://..., with IPv6 literals in
 * brackets. The path of a base URL is a prefix for every task's path (as Locust joins
 * host and path). */
#ifndef SL_BASE_URL_H
#define SL_BASE_URL_H

#include <stdbool.h>
#include <stdint.h>

#include "sl.h"

typedef struct sl_url {
    bool tls;             /* https */
    char host[256];       /* name or address, without brackets */
    uint16_t port;        /* explicit or 80/443 */
    bool default_port;    /* the port was not given, or equals the scheme's default */
    char authority[280];  /* value for the Host header: host[:port], [v6][:port] */
    char base_path[1024]; /* "" or "/api" (no trailing slash) */
} sl_url_t;

/* Parses an absolute http(s) URL. Rejects other schemes, empty hosts, bad or zero ports,
 * userinfo, queries and fragments, with a message in err. Returns 0 or SL_EPARSE. */
int sl_url_parse(const char *s, sl_url_t *out, sl_err_t *err);

/* Percent-encodes the bytes >= 0x80 of a request target (a UTF-8 path such as "/café"),
 * as browsers and curl do; every other byte is kept, so "%20" or "?a=b" mean what the
 * author wrote. Writes into out (borrowed, at least 3 * len bytes; NULL to only count)
 * and returns the encoded length. Any thread. */
size_t sl_url_escape_high(const char *s, size_t len, char *out);

#endif
