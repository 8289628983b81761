/* HTTP/1.1 requests: the one place request lines and header fields are formatted, and
 * the validators every producer of requests shares (Task{}, u:request, redirects).
 *
 * Static requests are rendered once at load time (scenario/plan.c) into immutable bytes
 * shared by every user; what changes per request (a cookie jar, a redirect's target) is
 * added as a piece around those bytes, never by formatting the request again. Every
 * function here is pure: no allocation, no global state, callable from any thread. */
#ifndef SL_HTTP_REQUEST_H
#define SL_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Methods longer than this are refused (RFC 9110 sets no limit; servers do). */
#define SL_HTTP_METHOD_MAX 64

/* A header field the user gave; borrowed by the renderer. */
typedef struct sl_http_header {
    const char *name;
    const char *value;
} sl_http_header_t;

/* One cookie of a user's jar; borrowed by the renderer. */
typedef struct sl_http_cookie {
    char *name;
    char *value;
} sl_http_cookie_t;

/* What a request says; every pointer is borrowed for the duration of the call. */
typedef struct sl_http_request {
    const char *method;    /* a valid, upper-cased method (sl_http_method_canon) */
    const char *base_path; /* the base URL's path prefix, "" or "/api" */
    const char *target;    /* path and query as sent: starts with '/', no bytes <= 0x20 */
    size_t target_len;
    const char *authority;           /* Host unless a user header gives one */
    const sl_http_header_t *headers; /* user headers, in the order to send them */
    size_t nheaders;
    const sl_http_cookie_t *cookies; /* the jar, sent as one Cookie field unless a user
                                      * header gives Cookie */
    size_t ncookies;
    const char *body; /* NULL: no body (and no Content-Length) */
    size_t body_len;
    bool body_is_json; /* adds Content-Type: application/json unless given */
} sl_http_request_t;

/* Where the parts of rendered bytes are, so a piece can be put between them:
 *   [0, line_end)          request line
 *   [line_end, fields_end) Host, user headers, default headers
 *   [fields_end, tail_off) per-request fields (the Cookie field), maybe empty
 *   [tail_off, body_off)   Content-Length when there is a body, then the empty line
 *   [body_off, len)        body */
typedef struct sl_http_layout {
    uint32_t line_end;
    uint32_t fields_end;
    uint32_t tail_off;
    uint32_t body_off;
    bool user_cookie; /* a user header gives Cookie: the jar is never added */
} sl_http_layout_t;

/* Renders the request into out (cap bytes; out may be NULL when cap is 0):
 *   METHOD base_path target HTTP/1.1\r\n
 *   Host: the user's Host or authority\r\n
 *   user headers, in order, without Content-Length (the real one is sent)\r\n
 *   User-Agent: stormlight/VERSION, Accept: * / * (no spaces) unless given;
 *   Content-Type: application/json for a JSON body unless given\r\n
 *   Cookie: a=b; c=d when there are cookies and no user Cookie\r\n
 *   Content-Length: n when there is a body\r\n
 *   \r\n body
 * User header names override defaults case-insensitively. Returns the length of the
 * request; when that is more than cap, out holds nothing usable: grow and call again.
 * layout (may be NULL) receives the parts' offsets when the request fit. */
size_t sl_http_render(const sl_http_request_t *req, char *out, size_t cap,
                      sl_http_layout_t *layout);

/* Renders wire (a request rendered by sl_http_render, with its layout) with the given
 * cookies in place of its per-request fields (none: the Cookie field is left out; a user
 * Cookie header always stays). Copies the other parts as they are. Returns the length and
 * fills out_layout as sl_http_render does. */
size_t sl_http_render_cookies(const char *wire, size_t wire_len, const sl_http_layout_t *layout,
                              const sl_http_cookie_t *cookies, size_t ncookies, char *out,
                              size_t cap, sl_http_layout_t *out_layout);

/* Renders the request a redirect makes of wire (a request rendered by sl_http_render):
 * with keep (307, 308), the same method, fields and body to the new target; otherwise a
 * GET (HEAD stays HEAD) without user fields or body. The jar's cookies are added as in
 * sl_http_render. Returns the length and fills out_layout. */
size_t sl_http_render_redirect(const char *wire, size_t wire_len, const sl_http_layout_t *layout,
                               bool keep, const char *base_path, const char *target,
                               size_t target_len, const char *authority,
                               const sl_http_cookie_t *cookies, size_t ncookies, char *out,
                               size_t cap, sl_http_layout_t *out_layout);

/* The method of a request rendered by sl_http_render (the bytes before the first space),
 * copied into out (SL_HTTP_METHOD_MAX + 1 bytes) with a NUL. */
void sl_http_wire_method(const char *wire, size_t wire_len, char *out);

/* Validates a method (an RFC 9110 token of at most SL_HTTP_METHOD_MAX bytes) and writes
 * it upper-cased to out (len bytes and a NUL). Returns false, writing nothing useful, when
 * it is not a method. Used by Task{} and u:request alike. */
bool sl_http_method_canon(const char *in, size_t len, char *out);

/* Whether the method is idempotent (RFC 9110 9.2.2): a request that may be sent again
 * when a reused connection closes before any byte of its response. */
bool sl_http_method_idempotent(const char *method);

/* A header name is an RFC 9110 token; a value holds no CR, LF or NUL. */
bool sl_http_header_name_ok(const char *s, size_t len);
bool sl_http_header_value_ok(const char *s, size_t len);

#endif
