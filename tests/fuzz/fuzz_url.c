/* Fuzz target for base-URL parsing (src/base/url.h), which turns --host and the scenario's
 * `host` into the bytes of every request line and Host header.
 *
 * Invariants checked on success: the host is non-empty and the port non-zero; host,
 * authority and base path are terminated inside their buffers and hold no byte that could
 * split a request line or a header (space, control characters); the base path is empty or
 * starts with '/' and does not end with one; and parsing is a fixed point: the URL rebuilt
 * from the result parses to the same result. On failure, the message is terminated and
 * non-empty. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_url: invariant failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_clean(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] > 0x20 && s[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096 || memchr(data, '\0', size))
        return 0;
    char *s = malloc(size + 1);
    CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';

    sl_url_t u;
    sl_err_t err = {{0}};
    int rc = sl_url_parse(s, &u, &err);
    if (rc != SL_OK) {
        CHECK(rc == SL_EPARSE);
        CHECK(strnlen(err.msg, sizeof(err.msg)) < sizeof(err.msg));
        CHECK(err.msg[0] != '\0');
        free(s);
        return 0;
    }
    check_clean(u.host, sizeof(u.host));
    check_clean(u.authority, sizeof(u.authority));
    check_clean(u.base_path, sizeof(u.base_path));
    CHECK(u.host[0] != '\0');
    CHECK(u.port != 0);
    CHECK(u.default_port == (u.port == (u.tls ? 443 : 80)));
    size_t bl = strlen(u.base_path);
    CHECK(bl == 0 || (u.base_path[0] == '/' && u.base_path[bl - 1] != '/'));
    CHECK(strstr(u.authority, u.host) != NULL);

    /* Rebuild with the port always explicit, then parse again. */
    char again[2048];
    bool v6 = strchr(u.host, ':') != NULL;
    int n = snprintf(again, sizeof(again), "%s://%s%s%s:%u%s", u.tls ? "https" : "http",
                     v6 ? "[" : "", u.host, v6 ? "]" : "", (unsigned)u.port, u.base_path);
    CHECK(n > 0 && (size_t)n < sizeof(again));
    sl_url_t u2;
    rc = sl_url_parse(again, &u2, &err);
    CHECK(rc == SL_OK);
    CHECK(u2.tls == u.tls && u2.port == u.port && u2.default_port == u.default_port);
    CHECK(strcmp(u2.host, u.host) == 0);
    CHECK(strcmp(u2.authority, u.authority) == 0);
    CHECK(strcmp(u2.base_path, u.base_path) == 0);
    free(s);
    return 0;
}
