/* Plain TCP transport, address resolution and socket set-up. */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

sl_fail_t sl_conn_fail_from_errno(int e, bool connecting)
{
    switch (e) {
    case ECONNREFUSED:
        return SL_FAIL_CONNECT_REFUSED;
    case ETIMEDOUT:
        return connecting ? SL_FAIL_CONNECT_TIMEOUT : SL_FAIL_TIMEOUT;
    case ECONNRESET:
    case EPIPE:
        return connecting ? SL_FAIL_CONNECT_REFUSED : SL_FAIL_RESET;
    default:
        return connecting ? SL_FAIL_CONNECT : SL_FAIL_IO;
    }
}

static int set_fail(sl_conn_t *c, int e, bool connecting)
{
    c->err = e;
    c->fail = (uint8_t)sl_conn_fail_from_errno(e, connecting);
    return SL_IO_ERR;
}

int sl_conn_open(sl_conn_t *c, const sl_endpoint_t *ep, uint32_t addr_idx)
{
    c->established = false;
    c->tcp_up = false;
    c->fail = SL_FAIL_NONE;
    c->err = 0;
    c->ssl = NULL;
    c->ep = ep;
    c->addr_idx = addr_idx < ep->naddrs ? addr_idx : 0;
    /* The endpoint names its transport (sl_endpoint_use_tls), so TCP needs to know
     * nothing of TLS. */
    c->tp = ep->transport ? ep->transport : &sl_tcp_transport;
    const struct sockaddr_storage *addr = &ep->addrs[c->addr_idx];
    c->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (c->fd < 0)
        return set_fail(c, errno, true);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)addr, ep->addrlens[c->addr_idx]) < 0 &&
        errno != EINPROGRESS) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        return set_fail(c, e, true);
    }
    return 0;
}

bool sl_conn_connect_failed(const sl_conn_t *c)
{
    if (c->tcp_up)
        return false;
    switch (c->fail) {
    case SL_FAIL_CONNECT_REFUSED:
    case SL_FAIL_CONNECT_TIMEOUT:
    case SL_FAIL_CONNECT:
        return true;
    default:
        return false;
    }
}

bool sl_conn_idle_alive(sl_conn_t *c)
{
    if (c->fd < 0 || !c->established)
        return false;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0)
        return false;
    /* Bytes on an idle plain connection belong to no request; on TLS they may be only a
     * post-handshake message (a session ticket), which OpenSSL can tell. */
    return c->tp->idle_bytes_ok(c);
}

void sl_conn_close(sl_conn_t *c, bool abortive)
{
    if (c->fd < 0)
        return;
    if (c->tp && c->tp->close)
        c->tp->close(c);
    if (abortive) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    c->fd = -1;
    c->established = false;
    c->tcp_up = false;
}

/* Checks whether a non-blocking connect finished. Shared with the TLS transport. */
int sl__tcp_connect_done(sl_conn_t *c);
int sl__tcp_connect_done(sl_conn_t *c)
{
    if (c->tcp_up)
        return 0;
    int e = 0;
    socklen_t len = sizeof(e);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        return set_fail(c, errno, true);
    if (e == EINPROGRESS || e == EALREADY)
        return SL_IO_AGAIN;
    if (e)
        return set_fail(c, e, true);
    /* SO_ERROR is also 0 while the handshake is still running: ask the kernel whether we
     * have a peer yet. */
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    if (getpeername(c->fd, (struct sockaddr *)&peer, &plen) < 0) {
        if (errno == ENOTCONN)
            return SL_IO_AGAIN;
        return set_fail(c, errno, true);
    }
    c->tcp_up = true;
    return 0;
}

static int tcp_establish(sl_conn_t *c)
{
    int rc = sl__tcp_connect_done(c);
    if (rc == 0)
        c->established = true;
    return rc;
}

static ssize_t tcp_read(sl_conn_t *c, char *buf, size_t len)
{
    ssize_t n = read(c->fd, buf, len);
    if (n > 0)
        return n;
    if (n == 0)
        return SL_IO_EOF;
    if (errno == EAGAIN || errno == EINTR)
        return SL_IO_AGAIN;
    return set_fail(c, errno, false);
}

static ssize_t tcp_write(sl_conn_t *c, const char *buf, size_t len)
{
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n > 0 ? n : SL_IO_AGAIN;
    if (errno == EAGAIN || errno == EINTR)
        return SL_IO_AGAIN;
    return set_fail(c, errno, !c->established);
}

static bool tcp_pending(const sl_conn_t *c)
{
    (void)c;
    return false;
}

static bool tcp_idle_bytes_ok(sl_conn_t *c)
{
    (void)c;
    return false;
}

const sl_transport_t sl_tcp_transport = {
    .establish = tcp_establish,
    .read = tcp_read,
    .write = tcp_write,
    .close = NULL,
    .pending = tcp_pending,
    .idle_bytes_ok = tcp_idle_bytes_ok,
};

/* "127.0.0.1:80" or "[::1]:80": how an error names the address it could not reach. */
static void name_addr(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        snprintf(out, len, "[%s]:%u", ip, port);
        return;
    }
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    port = ntohs(a->sin_port);
    snprintf(out, len, "%s:%u", ip, port);
}

int sl_endpoint_resolve(sl_endpoint_t *ep, const char *host, unsigned port, sl_err_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    uint64_t t0 = sl_now_us();
    int rc = getaddrinfo(host, portstr, &hints, &res);
    ep->resolve_us = sl_now_us() - t0;
    if (rc != 0 || !res) {
        sl_err_set(err, "cannot resolve host '%s': %s", host, gai_strerror(rc));
        return SL_ENOENT;
    }
    ep->naddrs = 0;
    for (struct addrinfo *ai = res; ai && ep->naddrs < SL_ENDPOINT_MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(ep->addrs[0]))
            continue;
        uint32_t i = ep->naddrs++;
        memcpy(&ep->addrs[i], ai->ai_addr, ai->ai_addrlen);
        ep->addrlens[i] = ai->ai_addrlen;
        name_addr(ai->ai_addr, ep->names[i], sizeof(ep->names[i]));
    }
    freeaddrinfo(res);
    if (!ep->naddrs) {
        sl_err_set(err, "cannot resolve host '%s': no usable address", host);
        return SL_ENOENT;
    }
    /* SNI and name checks only make sense for names; an address literal is checked
     * against the certificate's IP SANs instead (RFC 6125 6.2, as curl does). */
    struct in6_addr tmp;
    bool literal = inet_pton(AF_INET, host, &tmp) == 1 || inet_pton(AF_INET6, host, &tmp) == 1;
    ep->sni = literal ? NULL : host;
    ep->ip = literal ? host : NULL;
    return 0;
}
