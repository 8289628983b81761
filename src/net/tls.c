/* TLS transport over OpenSSL 3: a non-blocking handshake driven by readiness edges,
 * SNI, and certificate checks against the system store unless --insecure. The SSL_CTX is
 * shared by all threads (OpenSSL allows SSL_new from many threads on one context). */
#include "net/conn.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

int sl__tcp_connect_done(sl_conn_t *c);

SSL_CTX *sl_tls_ctx_new(bool insecure, sl_err_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        sl_err_set(err, "TLS: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Each virtual user is a separate client: no session reuse across users. Buffers are
     * released between records so thousands of idle TLS users stay small. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            sl_err_set(err, "TLS: cannot load the system certificate store");
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

void sl_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

int sl_tls_ctx_offer_h2(SSL_CTX *ctx, sl_err_t *err)
{
    static const unsigned char protos[] = "\x02h2\x08http/1.1";
    if (SSL_CTX_set_alpn_protos(ctx, protos, sizeof(protos) - 1) != 0) {
        sl_err_set(err, "TLS: cannot offer h2 by ALPN");
        return SL_EINVAL;
    }
    return 0;
}

bool sl_conn_alpn_h2(const sl_conn_t *c)
{
    if (!c->ssl)
        return false;
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(c->ssl, &p, &n);
    return n == 2 && p[0] == 'h' && p[1] == '2';
}

const char *sl_tls_verify_reason(int code)
{
    return X509_verify_cert_error_string(code);
}

/* Turns an SSL_get_error result into an SL_IO code, recording why on failure. */
static int tls_result(sl_conn_t *c, int ret, bool handshaking)
{
    int e = SSL_get_error(c->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return SL_IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return SL_IO_EOF;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0 || errno == EPIPE) {
            /* Closed without close_notify: as common as it is sloppy. Treat as EOF and
             * let the HTTP layer decide whether the response was complete. */
            if (!handshaking)
                return SL_IO_EOF;
            c->fail = SL_FAIL_TLS_HANDSHAKE;
            return SL_IO_ERR;
        }
        c->err = errno;
        c->fail = (uint8_t)sl_conn_fail_from_errno(errno, false);
        if (handshaking && c->fail == SL_FAIL_IO)
            c->fail = SL_FAIL_TLS_HANDSHAKE;
        return SL_IO_ERR;
    default:
        ERR_clear_error();
        if (handshaking && SSL_get_verify_result(c->ssl) != X509_V_OK) {
            c->fail = SL_FAIL_TLS_VERIFY;
            c->err = (int)SSL_get_verify_result(c->ssl);
        } else
            c->fail = SL_FAIL_TLS_HANDSHAKE;
        return SL_IO_ERR;
    }
}

static int tls_establish(sl_conn_t *c)
{
    int rc = sl__tcp_connect_done(c);
    if (rc != 0)
        return rc;
    if (!c->ssl) {
        c->ssl = SSL_new(c->ep->tls);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
            c->fail = SL_FAIL_TLS_HANDSHAKE;
            return SL_IO_ERR;
        }
        /* Without a name or an address to check, any certificate from a trusted CA
         * would do: a literal is matched against the IP SANs, and gets no SNI. */
        if (c->ep->sni) {
            SSL_set_tlsext_host_name(c->ssl, c->ep->sni);
            SSL_set1_host(c->ssl, c->ep->sni);
        } else if (c->ep->ip &&
                   X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->ep->ip) != 1) {
            c->fail = SL_FAIL_TLS_HANDSHAKE;
            return SL_IO_ERR;
        }
        SSL_set_connect_state(c->ssl);
    }
    errno = 0;
    int ret = SSL_do_handshake(c->ssl);
    if (ret == 1) {
        c->established = true;
        return 0;
    }
    return tls_result(c, ret, true);
}

static ssize_t tls_read(sl_conn_t *c, char *buf, size_t len)
{
    errno = 0;
    int n = SSL_read(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (n > 0)
        return n;
    return tls_result(c, n, false);
}

static ssize_t tls_write(sl_conn_t *c, const char *buf, size_t len)
{
    errno = 0;
    int n = SSL_write(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (n > 0)
        return n;
    int rc = tls_result(c, n, false);
    return rc == SL_IO_EOF ? (c->fail = SL_FAIL_RESET, SL_IO_ERR) : rc;
}

/* Called with bytes pending on an idle connection: alive when they were only TLS
 * housekeeping, so that no application data or alert is waiting. */
static bool tls_idle_bytes_ok(sl_conn_t *c)
{
    if (SSL_pending(c->ssl) > 0)
        return false;
    char b;
    errno = 0;
    int n = SSL_peek(c->ssl, &b, 1);
    if (n > 0)
        return false;
    bool alive = SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_READ;
    ERR_clear_error();
    return alive;
}

static void tls_close(sl_conn_t *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
}

/* Records are read one at a time: more may wait in the socket behind a short read. */
static bool tls_pending(const sl_conn_t *c)
{
    (void)c;
    return true;
}

const sl_transport_t sl_tls_transport = {
    .establish = tls_establish,
    .read = tls_read,
    .write = tls_write,
    .close = tls_close,
    .pending = tls_pending,
    .idle_bytes_ok = tls_idle_bytes_ok,
};

void sl_endpoint_use_tls(sl_endpoint_t *ep, SSL_CTX *ctx)
{
    ep->tls = ctx;
    ep->transport = ctx ? &sl_tls_transport : NULL;
}
