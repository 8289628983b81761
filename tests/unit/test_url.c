/* Base URLs: what --host and `host = ...` accept, what they reject, and the Host header
 * value and base path derived from them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/url.h"

static const struct {
    const char *in;
    bool tls;
    const char *host;
    uint16_t port;
    bool default_port;
    const char *authority;
    const char *base_path;
} valid[] = {
    {"http://localhost", false, "localhost", 80, true, "localhost", ""},
    {"https://example.com", true, "example.com", 443, true, "example.com", ""},
    {"http://127.0.0.1:8000", false, "127.0.0.1", 8000, false, "127.0.0.1:8000", ""},
    {"https://example.com:8443/", true, "example.com", 8443, false, "example.com:8443", ""},
    {"http://example.com:80", false, "example.com", 80, true, "example.com", ""},
    {"https://example.com:443", true, "example.com", 443, true, "example.com", ""},
    {"http://example.com:443", false, "example.com", 443, false, "example.com:443", ""},
    {"http://[::1]:8080", false, "::1", 8080, false, "[::1]:8080", ""},
    {"http://[::1]", false, "::1", 80, true, "[::1]", ""},
    {"https://[2001:db8::1]/x", true, "2001:db8::1", 443, true, "[2001:db8::1]", "/x"},
    {"http://[::ffff:127.0.0.1]:81", false, "::ffff:127.0.0.1", 81, false, "[::ffff:127.0.0.1]:81",
     ""},
    {"http://h/api", false, "h", 80, true, "h", "/api"},
    {"http://h/api/", false, "h", 80, true, "h", "/api"},
    {"http://h/api//", false, "h", 80, true, "h", "/api"},
    {"http://h/", false, "h", 80, true, "h", ""},
    {"http://h:9000/a/b/", false, "h", 9000, false, "h:9000", "/a/b"},
    {"HTTP://Host.Example:1", false, "Host.Example", 1, false, "Host.Example:1", ""},
    {"http://my_host-1.local:65535", false, "my_host-1.local", 65535, false,
     "my_host-1.local:65535", ""},
};

static const char *const invalid[] = {
    "",
    "ftp://example.com",
    "localhost:8000",
    "example.com",
    "//example.com",
    "http://",
    "http:///path",
    "http://:8080",
    "http://[]:80",
    "http://h:0",
    "http://h:99999",
    "http://h:65536",
    "http://h:abc",
    "http://h:",
    "http://h:-1",
    "http://h?x=1",
    "http://h/p?x=1",
    "http://h/p#frag",
    "http://user:pw@h",
    "http://u@h/",
    "http://h h",
    "http://h/a b",
    "http://h\r\n/",
    "http://[::1",
    "http://[::1]x",
    "http://[zz::1]",
    "http://[1.2.3.4]",
    "http://h!/",
};

Test(url, valid)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(valid); i++) {
        sl_url_t u;
        sl_err_t err = {{0}};
        int rc = sl_url_parse(valid[i].in, &u, &err);
        cr_expect_eq(rc, SL_OK, "'%s': rc %d (%s)", valid[i].in, rc, err.msg);
        if (rc != SL_OK)
            continue;
        cr_expect_eq(u.tls, valid[i].tls, "'%s': tls", valid[i].in);
        cr_expect_str_eq(u.host, valid[i].host, "'%s': host", valid[i].in);
        cr_expect_eq(u.port, valid[i].port, "'%s': port %u", valid[i].in, u.port);
        cr_expect_eq(u.default_port, valid[i].default_port, "'%s': default_port", valid[i].in);
        cr_expect_str_eq(u.authority, valid[i].authority, "'%s': authority", valid[i].in);
        cr_expect_str_eq(u.base_path, valid[i].base_path, "'%s': base_path", valid[i].in);
    }
}

Test(url, invalid)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(invalid); i++) {
        sl_url_t u;
        sl_err_t err = {{0}};
        int rc = sl_url_parse(invalid[i], &u, &err);
        cr_expect_eq(rc, SL_EPARSE, "'%s' accepted (rc %d)", invalid[i], rc);
        cr_expect(strncmp(err.msg, "invalid URL '", 13) == 0, "'%s': message '%s'", invalid[i],
                  err.msg);
    }
}

/* The messages name the actual problem, so a user can fix it without reading docs. */
Test(url, messages)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"ftp://x", "invalid URL 'ftp://x': unsupported scheme (use http:// or https://)"},
        {"localhost:8000", "invalid URL 'localhost:8000': missing scheme (expected "
                           "http://HOST[:PORT] or https://...)"},
        {"http://h:0", "invalid URL 'http://h:0': invalid port (expected 1..65535)"},
        {"http://", "invalid URL 'http://': empty host"},
        {"http://h/?q", "invalid URL 'http://h/?q': query strings and fragments are not "
                        "allowed in a base URL"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_url_t u;
        sl_err_t err = {{0}};
        sl_url_parse(cases[i].in, &u, &err);
        cr_expect_str_eq(err.msg, cases[i].msg);
    }
}

Test(url, long_host)
{
    char s[400];
    memset(s, 'a', sizeof(s));
    memcpy(s, "http://", 7);
    s[7 + 255] = '\0';
    sl_url_t u;
    cr_expect_eq(sl_url_parse(s, &u, NULL), SL_OK, "255-character host rejected");
    s[7 + 255] = 'a';
    s[7 + 256] = '\0';
    cr_expect_eq(sl_url_parse(s, &u, NULL), SL_EPARSE, "256-character host accepted");
}
