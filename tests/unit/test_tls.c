/* The TLS transport (src/net/tls.c) against an OpenSSL server the test runs itself on
 * 127.0.0.1, with certificates made in memory: a handshake and an exchange, certificate
 * checks (self-signed, trusted with the right IP SAN, trusted for another address), the
 * idle check across session tickets and a close_notify, and a handshake with a server
 * that does not speak TLS. Client and server are driven in turns on one thread. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"

typedef struct server {
    int lfd;
    unsigned port;
    EVP_PKEY *key;
    X509 *cert;
    SSL_CTX *ctx;
    int fd;
    SSL *ssl;
} server_t;

/* A self-signed certificate for CN=stormlight test with subjectAltName san. */
static void make_cert(server_t *s, const char *san)
{
    s->key = EVP_EC_gen("P-256");
    cr_assert_not_null(s->key);
    X509 *x = X509_new();
    cr_assert_not_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, s->key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"stormlight test",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    cr_assert_not_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    cr_assert_gt(X509_sign(x, s->key, EVP_sha256()), 0);
    s->cert = x;
}

static void server_start(server_t *s, const char *san)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    make_cert(s, san);
    s->ctx = SSL_CTX_new(TLS_server_method());
    cr_assert_not_null(s->ctx);
    cr_assert_eq(SSL_CTX_use_certificate(s->ctx, s->cert), 1);
    cr_assert_eq(SSL_CTX_use_PrivateKey(s->ctx, s->key), 1);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(s->lfd, 8), 0);
    socklen_t len = sizeof(a);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
}

static void server_stop(server_t *s)
{
    if (s->ssl)
        SSL_free(s->ssl);
    if (s->fd >= 0)
        close(s->fd);
    close(s->lfd);
    SSL_CTX_free(s->ctx);
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
}

/* The client's endpoint for 127.0.0.1:port with ctx. */
static void endpoint(sl_endpoint_t *ep, unsigned port, SSL_CTX *ctx)
{
    sl_err_t err = {{0}};
    cr_assert_eq(sl_endpoint_resolve(ep, "127.0.0.1", port, &err), 0, "%s", err.msg);
    sl_endpoint_use_tls(ep, ctx);
}

/* Drives the client's establish() and the server's SSL_accept() in turns until the
 * client is done (0 or SL_IO_ERR). Returns the client's result. */
static int handshake(sl_conn_t *c, server_t *s, bool speak_tls)
{
    for (int i = 0; i < 1000; i++) {
        int rc = c->tp->establish(c);
        if (s->fd < 0) {
            s->fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (s->fd >= 0 && speak_tls) {
                s->ssl = SSL_new(s->ctx);
                SSL_set_fd(s->ssl, s->fd);
                SSL_set_accept_state(s->ssl);
            } else if (s->fd >= 0) {
                /* Not TLS: a plain HTTP answer to the ClientHello. */
                static const char resp[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
                struct pollfd p = {.fd = s->fd, .events = POLLIN};
                poll(&p, 1, 2000);
                cr_assert_eq(write(s->fd, resp, sizeof(resp) - 1), (ssize_t)sizeof(resp) - 1);
            }
        }
        if (s->ssl) {
            ERR_clear_error();
            SSL_do_handshake(s->ssl);
        }
        if (rc != SL_IO_AGAIN)
            return rc;
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = s->fd, .events = POLLIN}};
        poll(p, s->fd >= 0 ? 2 : 1, 10);
    }
    cr_assert_fail("the handshake never finished");
    return SL_IO_ERR;
}

static ssize_t client_read(sl_conn_t *c, char *buf, size_t len)
{
    for (int i = 0; i < 500; i++) {
        ssize_t n = c->tp->read(c, buf, len);
        if (n != SL_IO_AGAIN)
            return n;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        poll(&p, 1, 10);
    }
    cr_assert_fail("nothing to read");
    return SL_IO_ERR;
}

static int server_read(server_t *s, char *buf, int len)
{
    for (int i = 0; i < 500; i++) {
        int n = SSL_read(s->ssl, buf, len);
        if (n > 0)
            return n;
        cr_assert_eq(SSL_get_error(s->ssl, n), SSL_ERROR_WANT_READ);
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        poll(&p, 1, 10);
    }
    cr_assert_fail("the server read nothing");
    return -1;
}

/* Waits until the client's socket has bytes (so the idle check sees them). */
static void wait_readable(const sl_conn_t *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1);
}

Test(tls, handshake_exchange_idle_and_close_notify)
{
    server_t s;
    server_start(&s, "IP:127.0.0.1");
    sl_err_t err = {{0}};
    SSL_CTX *ctx = sl_tls_ctx_new(true, &err);
    cr_assert_not_null(ctx, "%s", err.msg);
    static sl_endpoint_t ep;
    endpoint(&ep, s.port, ctx);
    sl_conn_t c = {.fd = -1};
    cr_assert_eq(sl_conn_open(&c, &ep, 0), 0);
    cr_assert_eq(c.tp, &sl_tls_transport, "an endpoint with a context: the TLS transport");
    cr_assert_eq(handshake(&c, &s, true), 0, "fail %d err %d", c.fail, c.err);
    cr_assert(c.established);
    cr_assert(c.tcp_up);
    cr_assert_not_null(c.ssl);

    cr_assert_eq(c.tp->write(&c, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    char buf[64] = {0};
    cr_assert_eq(server_read(&s, buf, sizeof(buf)), 18);
    cr_assert_str_eq(buf, "GET / HTTP/1.1\r\n\r\n");
    cr_assert_eq(SSL_write(s.ssl, "hello", 5), 5);
    memset(buf, 0, sizeof(buf));
    cr_assert_eq(client_read(&c, buf, sizeof(buf)), 5);
    cr_assert_str_eq(buf, "hello");
    /* TLS 1.3 servers send session tickets after the handshake: housekeeping that the
     * read above has consumed or that SSL_peek skips. Either way the connection is idle. */
    cr_assert(sl_conn_idle_alive(&c), "an idle TLS connection is alive");

    cr_assert_eq(SSL_write(s.ssl, "extra", 5), 5);
    wait_readable(&c);
    cr_assert_not(sl_conn_idle_alive(&c), "application data nobody asked for");
    memset(buf, 0, sizeof(buf));
    cr_assert_eq(client_read(&c, buf, sizeof(buf)), 5);
    cr_assert(sl_conn_idle_alive(&c));

    SSL_shutdown(s.ssl); /* close_notify */
    wait_readable(&c);
    cr_assert_not(sl_conn_idle_alive(&c), "a close_notify is waiting");
    cr_assert_eq(client_read(&c, buf, sizeof(buf)), SL_IO_EOF);
    sl_conn_close(&c, false);
    cr_assert_null(c.ssl, "the transport's state is released");
    cr_assert_eq(c.fd, -1);
    sl_tls_ctx_free(ctx);
    server_stop(&s);
}

Test(tls, a_self_signed_certificate_is_refused)
{
    server_t s;
    server_start(&s, "IP:127.0.0.1");
    sl_err_t err = {{0}};
    SSL_CTX *ctx = sl_tls_ctx_new(false, &err);
    cr_assert_not_null(ctx, "%s", err.msg);
    static sl_endpoint_t ep;
    endpoint(&ep, s.port, ctx);
    sl_conn_t c = {.fd = -1};
    cr_assert_eq(sl_conn_open(&c, &ep, 0), 0);
    cr_assert_eq(handshake(&c, &s, true), SL_IO_ERR);
    cr_assert_eq(c.fail, SL_FAIL_TLS_VERIFY);
    cr_assert_eq(c.err, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    cr_assert_str_eq(sl_tls_verify_reason(c.err), "self-signed certificate");
    cr_assert_not(sl_conn_connect_failed(&c), "TCP was up: no next address to try");
    sl_conn_close(&c, false);
    sl_tls_ctx_free(ctx);
    server_stop(&s);
}

/* A certificate the client trusts (added to its store), checked against the address
 * literal it connected to. */
static void trusted_handshake(const char *san, int want_rc, int want_verify)
{
    server_t s;
    server_start(&s, san);
    sl_err_t err = {{0}};
    SSL_CTX *ctx = sl_tls_ctx_new(false, &err);
    cr_assert_not_null(ctx, "%s", err.msg);
    cr_assert_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), s.cert), 1);
    static sl_endpoint_t ep;
    endpoint(&ep, s.port, ctx);
    sl_conn_t c = {.fd = -1};
    cr_assert_eq(sl_conn_open(&c, &ep, 0), 0);
    cr_assert_eq(handshake(&c, &s, true), want_rc, "%s: fail %d err %d", san, c.fail, c.err);
    if (want_rc != 0) {
        cr_assert_eq(c.fail, SL_FAIL_TLS_VERIFY, "%s", san);
        cr_assert_eq(c.err, want_verify, "%s: %s", san, sl_tls_verify_reason(c.err));
    }
    sl_conn_close(&c, false);
    sl_tls_ctx_free(ctx);
    server_stop(&s);
}

Test(tls, an_address_literal_is_checked_against_the_ip_sans)
{
    trusted_handshake("IP:127.0.0.1", 0, 0);
    trusted_handshake("IP:10.1.2.3,DNS:localhost", SL_IO_ERR, X509_V_ERR_IP_ADDRESS_MISMATCH);
    cr_assert_str_eq(sl_tls_verify_reason(X509_V_ERR_IP_ADDRESS_MISMATCH), "IP address mismatch");
}

Test(tls, a_server_that_does_not_speak_tls_fails_the_handshake)
{
    server_t s;
    server_start(&s, "IP:127.0.0.1");
    sl_err_t err = {{0}};
    SSL_CTX *ctx = sl_tls_ctx_new(true, &err);
    static sl_endpoint_t ep;
    endpoint(&ep, s.port, ctx);
    sl_conn_t c = {.fd = -1};
    cr_assert_eq(sl_conn_open(&c, &ep, 0), 0);
    cr_assert_eq(handshake(&c, &s, false), SL_IO_ERR);
    cr_assert_eq(c.fail, SL_FAIL_TLS_HANDSHAKE);
    cr_assert_not(sl_conn_connect_failed(&c));
    sl_conn_close(&c, false);
    sl_tls_ctx_free(ctx);
    server_stop(&s);
}
