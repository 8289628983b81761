/* The request renderer and the validators of methods and header fields. Rendering
 * writes into the caller's buffer and only counts past its end, snprintf-like, so the
 * same code sizes a request and writes it and never allocates. */
#include "http/request.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sl.h"

/* Output that counts every byte and stores those that fit. */
struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (n && o->len <= o->cap && n <= o->cap - o->len)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_field(struct out *o, const char *name, const char *value)
{
    put_str(o, name);
    put(o, ": ", 2);
    put_str(o, value);
    put(o, "\r\n", 2);
}

static void put_line(struct out *o, const char *method, const char *base_path, const char *target,
                     size_t target_len)
{
    put_str(o, method);
    put(o, " ", 1);
    put_str(o, base_path);
    put(o, target, target_len);
    put(o, " HTTP/1.1\r\n", 11);
}

static void put_cookies(struct out *o, const sl_http_cookie_t *c, size_t n)
{
    if (n == 0)
        return;
    put(o, "Cookie: ", 8);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(o, "; ", 2);
        put_str(o, c[i].name);
        put(o, "=", 1);
        put_str(o, c[i].value);
    }
    put(o, "\r\n", 2);
}

static void put_tail(struct out *o, const char *body, size_t body_len)
{
    if (body) {
        /* Always the real length: a stale user value would desynchronise the keep-alive
         * connection for every request that follows. */
        char len[32];
        int n = snprintf(len, sizeof(len), "%zu", body_len);
        put(o, "Content-Length: ", 16);
        put(o, len, (size_t)n);
        put(o, "\r\n", 2);
    }
    put(o, "\r\n", 2);
    if (body)
        put(o, body, body_len);
}

static const sl_http_header_t *find(const sl_http_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return &r->headers[i];
    }
    return NULL;
}

static bool fits(const struct out *o)
{
    return o->len <= o->cap && o->len <= UINT32_MAX;
}

size_t sl_http_render(const sl_http_request_t *r, char *out, size_t cap, sl_http_layout_t *layout)
{
    struct out o = {out, 0, cap};
    sl_http_layout_t lay = {0};
    put_line(&o, r->method, r->base_path, r->target, r->target_len);
    lay.line_end = (uint32_t)o.len;

    /* Host comes first (RFC 9110 recommends it, and some servers expect it); a Host the
     * user set wins, for virtual-host testing. */
    const sl_http_header_t *host = find(r, "Host");
    put_field(&o, "Host", host ? host->value : r->authority);
    bool ua = false, accept = false, ctype = false;
    for (size_t i = 0; i < r->nheaders; i++) {
        const sl_http_header_t *h = &r->headers[i];
        if (h == host || strcasecmp(h->name, "Content-Length") == 0)
            continue;
        ua = ua || strcasecmp(h->name, "User-Agent") == 0;
        accept = accept || strcasecmp(h->name, "Accept") == 0;
        ctype = ctype || strcasecmp(h->name, "Content-Type") == 0;
        lay.user_cookie = lay.user_cookie || strcasecmp(h->name, "Cookie") == 0;
        put_field(&o, h->name, h->value);
    }
    if (!ua)
        put_field(&o, "User-Agent", "stormlight/" SL_VERSION);
    if (!accept)
        put_field(&o, "Accept", "*/*");
    if (r->body && r->body_is_json && !ctype)
        put_field(&o, "Content-Type", "application/json");
    lay.fields_end = (uint32_t)o.len;
    if (!lay.user_cookie)
        put_cookies(&o, r->cookies, r->ncookies);
    lay.tail_off = (uint32_t)o.len;
    put_tail(&o, r->body, r->body_len);
    lay.body_off = (uint32_t)(o.len - (r->body ? r->body_len : 0));
    if (layout && fits(&o))
        *layout = lay;
    return o.len;
}

/* Copies the rendered fields and tail of wire after a request line (wire's own when
 * method is NULL) and before new cookies. */
static size_t splice(const char *wire, size_t wire_len, const sl_http_layout_t *l,
                     const char *method, const char *base_path, const char *target,
                     size_t target_len, const sl_http_cookie_t *cookies, size_t ncookies, char *out,
                     size_t cap, sl_http_layout_t *out_layout)
{
    struct out o = {out, 0, cap};
    sl_http_layout_t lay = *l;
    if (method)
        put_line(&o, method, base_path, target, target_len);
    else
        put(&o, wire, l->line_end);
    lay.line_end = (uint32_t)o.len;
    put(&o, wire + l->line_end, l->fields_end - l->line_end);
    lay.fields_end = (uint32_t)o.len;
    if (!l->user_cookie)
        put_cookies(&o, cookies, ncookies);
    lay.tail_off = (uint32_t)o.len;
    put(&o, wire + l->tail_off, wire_len - l->tail_off);
    lay.body_off = (uint32_t)(o.len - (wire_len - l->body_off));
    if (out_layout && fits(&o))
        *out_layout = lay;
    return o.len;
}

size_t sl_http_render_cookies(const char *wire, size_t wire_len, const sl_http_layout_t *layout,
                              const sl_http_cookie_t *cookies, size_t ncookies, char *out,
                              size_t cap, sl_http_layout_t *out_layout)
{
    return splice(wire, wire_len, layout, NULL, NULL, NULL, 0, cookies, ncookies, out, cap,
                  out_layout);
}

void sl_http_wire_method(const char *wire, size_t wire_len, char *out)
{
    size_t n = 0;
    while (n < wire_len && n < SL_HTTP_METHOD_MAX && wire[n] != ' ') {
        out[n] = wire[n];
        n++;
    }
    out[n] = '\0';
}

size_t sl_http_render_redirect(const char *wire, size_t wire_len, const sl_http_layout_t *layout,
                               bool keep, const char *base_path, const char *target,
                               size_t target_len, const char *authority,
                               const sl_http_cookie_t *cookies, size_t ncookies, char *out,
                               size_t cap, sl_http_layout_t *out_layout)
{
    char method[SL_HTTP_METHOD_MAX + 1];
    sl_http_wire_method(wire, wire_len, method);
    if (!keep) {
        /* 303, and 301/302 after anything but GET/HEAD, become a GET without a body, as
         * browsers and curl do. */
        sl_http_request_t r = {
            .method = strcmp(method, "HEAD") == 0 ? "HEAD" : "GET",
            .base_path = base_path,
            .target = target,
            .target_len = target_len,
            .authority = authority,
            .cookies = cookies,
            .ncookies = ncookies,
        };
        return sl_http_render(&r, out, cap, out_layout);
    }
    /* 307 and 308 repeat the request as it was: only the line and the cookies change. */
    return splice(wire, wire_len, layout, method, base_path, target, target_len, cookies, ncookies,
                  out, cap, out_layout);
}

/* HTTP token characters (RFC 9110 tchar). */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool sl_http_header_name_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return true;
}

bool sl_http_header_value_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return false;
    }
    return true;
}

bool sl_http_method_canon(const char *in, size_t len, char *out)
{
    if (len > SL_HTTP_METHOD_MAX || !sl_http_header_name_ok(in, len))
        return false;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)((in[i] >= 'a' && in[i] <= 'z') ? in[i] - 32 : in[i]);
    out[len] = '\0';
    return true;
}

bool sl_http_method_idempotent(const char *m)
{
    static const char *const list[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < SL_ARRAY_LEN(list); i++) {
        if (strcmp(m, list[i]) == 0)
            return true;
    }
    return false;
}
