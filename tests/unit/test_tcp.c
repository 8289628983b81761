/* The plain TCP transport and address resolution (src/net/tcp.c), on real sockets on
 * 127.0.0.1 that the tests open themselves: connect to a listener, write and read,
 * end of stream, a refused port, a reset, an abortive close, the idle check, the
 * endpoint's address list in order, and errno to failure categories. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"

/* A listening socket on 127.0.0.1 at a port the kernel picks. */
static int listen_loopback(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fd, 8), 0);
    socklen_t len = sizeof(a);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nothing listens on: bound (so no one else takes it) but never listening. */
static int closed_port(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    cr_assert_eq(poll(&p, 1, 5000), 1, "fd %d never became ready", fd);
}

/* Drives establish() until it is done, waiting for writability in between. */
static int establish(sl_conn_t *c)
{
    for (int i = 0; i < 100; i++) {
        int rc = c->tp->establish(c);
        if (rc != SL_IO_AGAIN)
            return rc;
        wait_fd(c->fd, POLLOUT);
    }
    cr_assert_fail("establish never finished");
    return SL_IO_ERR;
}

static ssize_t read_some(sl_conn_t *c, char *buf, size_t len)
{
    for (int i = 0; i < 100; i++) {
        ssize_t n = c->tp->read(c, buf, len);
        if (n != SL_IO_AGAIN)
            return n;
        wait_fd(c->fd, POLLIN);
    }
    cr_assert_fail("nothing to read");
    return SL_IO_ERR;
}

/* Connects c to 127.0.0.1:port and returns the server's end of it. */
static int connect_pair(sl_conn_t *c, sl_endpoint_t *ep, int lfd, unsigned port)
{
    sl_err_t err = {{0}};
    cr_assert_eq(sl_endpoint_resolve(ep, "127.0.0.1", port, &err), 0, "%s", err.msg);
    cr_assert_eq(sl_conn_open(c, ep, 0), 0);
    cr_assert_geq(c->fd, 0);
    cr_assert_eq(c->tp, &sl_tcp_transport, "plain http: the TCP transport");
    cr_assert_eq(establish(c), 0);
    int sfd = accept(lfd, NULL, NULL);
    cr_assert_geq(sfd, 0);
    return sfd;
}

Test(tcp, connect_write_read_and_end_of_stream)
{
    unsigned port;
    int lfd = listen_loopback(&port);
    static sl_endpoint_t ep;
    sl_conn_t c = {.fd = -1};
    int sfd = connect_pair(&c, &ep, lfd, port);
    cr_assert(c.tcp_up);
    cr_assert(c.established);
    cr_assert_not(sl_conn_connect_failed(&c));
    cr_assert(sl_conn_idle_alive(&c), "a quiet connection is alive");

    cr_assert_eq(c.tp->write(&c, "ping", 4), 4);
    char buf[16] = {0};
    cr_assert_eq(read(sfd, buf, sizeof(buf)), 4);
    cr_assert_str_eq(buf, "ping");

    cr_assert_eq(c.tp->read(&c, buf, sizeof(buf)), SL_IO_AGAIN, "nothing sent yet");
    cr_assert_eq(write(sfd, "pong!", 5), 5);
    wait_fd(c.fd, POLLIN);
    cr_assert_not(sl_conn_idle_alive(&c), "bytes nobody asked for: not reusable");
    memset(buf, 0, sizeof(buf));
    cr_assert_eq(read_some(&c, buf, sizeof(buf)), 5);
    cr_assert_str_eq(buf, "pong!");
    cr_assert(sl_conn_idle_alive(&c), "read empty again: alive");

    close(sfd);
    wait_fd(c.fd, POLLIN);
    cr_assert_not(sl_conn_idle_alive(&c), "closed by the peer");
    cr_assert_eq(read_some(&c, buf, sizeof(buf)), SL_IO_EOF);
    sl_conn_close(&c, false);
    cr_assert_eq(c.fd, -1);
    cr_assert_not(c.established);
    sl_conn_close(&c, false); /* safe on a closed connection */
    cr_assert_not(sl_conn_idle_alive(&c));
    close(lfd);
}

Test(tcp, a_refused_port_is_a_connect_failure)
{
    unsigned port;
    int hold = closed_port(&port);
    static sl_endpoint_t ep;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_endpoint_resolve(&ep, "127.0.0.1", port, &err), 0, "%s", err.msg);
    sl_conn_t c = {.fd = -1};
    /* The refusal comes from connect() itself or from the first completion check. */
    int rc = sl_conn_open(&c, &ep, 0);
    if (rc == 0)
        rc = establish(&c);
    cr_assert_eq(rc, SL_IO_ERR);
    cr_assert_eq(c.fail, SL_FAIL_CONNECT_REFUSED);
    cr_assert_eq(c.err, ECONNREFUSED);
    cr_assert_not(c.tcp_up);
    cr_assert(sl_conn_connect_failed(&c), "worth trying the next address");
    sl_conn_close(&c, false);
    close(hold);
}

Test(tcp, a_reset_by_the_peer_is_not_a_connect_failure)
{
    unsigned port;
    int lfd = listen_loopback(&port);
    static sl_endpoint_t ep;
    sl_conn_t c = {.fd = -1};
    int sfd = connect_pair(&c, &ep, lfd, port);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    cr_assert_eq(setsockopt(sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(sfd); /* RST */
    wait_fd(c.fd, POLLIN);
    char buf[8];
    cr_assert_eq(read_some(&c, buf, sizeof(buf)), SL_IO_ERR);
    cr_assert_eq(c.fail, SL_FAIL_RESET);
    cr_assert_eq(c.err, ECONNRESET);
    cr_assert_not(sl_conn_connect_failed(&c), "the connection was up");
    sl_conn_close(&c, false);
    close(lfd);
}

Test(tcp, an_abortive_close_sends_a_reset)
{
    unsigned port;
    int lfd = listen_loopback(&port);
    static sl_endpoint_t ep;
    sl_conn_t c = {.fd = -1};
    int sfd = connect_pair(&c, &ep, lfd, port);
    sl_conn_close(&c, true);
    cr_assert_eq(c.fd, -1);
    char b;
    wait_fd(sfd, POLLIN);
    cr_assert_eq(read(sfd, &b, 1), -1, "a reset, not an orderly end of stream");
    cr_assert_eq(errno, ECONNRESET);
    close(sfd);

    /* A graceful close is an end of stream for the server. */
    sfd = connect_pair(&c, &ep, lfd, port);
    sl_conn_close(&c, false);
    wait_fd(sfd, POLLIN);
    cr_assert_eq(read(sfd, &b, 1), 0);
    close(sfd);
    close(lfd);
}

/* A name may resolve to several addresses: a connection uses the one it is given, so a
 * refused first address and a listening second one are tried in the list's order. */
Test(tcp, each_address_of_the_list_in_order)
{
    unsigned good, bad;
    int lfd = listen_loopback(&good);
    int hold = closed_port(&bad);
    static sl_endpoint_t ep, one;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_endpoint_resolve(&one, "127.0.0.1", bad, &err), 0, "%s", err.msg);
    ep = one;
    cr_assert_eq(sl_endpoint_resolve(&one, "127.0.0.1", good, &err), 0, "%s", err.msg);
    ep.addrs[1] = one.addrs[0];
    ep.addrlens[1] = one.addrlens[0];
    memcpy(ep.names[1], one.names[0], sizeof(ep.names[1]));
    ep.naddrs = 2;

    sl_conn_t c = {.fd = -1};
    int rc = sl_conn_open(&c, &ep, 0);
    if (rc == 0)
        rc = establish(&c);
    cr_assert_eq(rc, SL_IO_ERR, "address 0 is refused");
    cr_assert(sl_conn_connect_failed(&c));
    cr_assert_eq(c.addr_idx, 0);
    sl_conn_close(&c, false);

    cr_assert_eq(sl_conn_open(&c, &ep, 1), 0);
    cr_assert_eq(c.addr_idx, 1);
    cr_assert_eq(establish(&c), 0, "address 1 listens");
    int sfd = accept(lfd, NULL, NULL);
    cr_assert_geq(sfd, 0);
    sl_conn_close(&c, false);
    close(sfd);

    /* An index past the list falls back to the first address. */
    rc = sl_conn_open(&c, &ep, 7);
    cr_assert_eq(c.addr_idx, 0);
    if (rc == 0)
        rc = establish(&c);
    cr_assert_eq(c.fail, SL_FAIL_CONNECT_REFUSED);
    sl_conn_close(&c, false);
    close(hold);
    close(lfd);
}

Test(tcp, resolve_literals_and_names)
{
    static sl_endpoint_t ep;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_endpoint_resolve(&ep, "127.0.0.1", 8080, &err), 0, "%s", err.msg);
    cr_assert_eq(ep.naddrs, 1);
    cr_assert_str_eq(ep.names[0], "127.0.0.1:8080");
    cr_assert_eq(ep.addrs[0].ss_family, AF_INET);
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ep.addrs[0];
    cr_assert_eq(ntohs(a4->sin_port), 8080);
    cr_assert_eq(ntohl(a4->sin_addr.s_addr), INADDR_LOOPBACK);
    cr_assert_null(ep.sni, "no SNI for an address");
    cr_assert_str_eq(ep.ip, "127.0.0.1", "an address is checked against IP SANs");
    cr_assert_null(ep.tls);

    cr_assert_eq(sl_endpoint_resolve(&ep, "::1", 443, &err), 0, "%s", err.msg);
    cr_assert_eq(ep.naddrs, 1);
    cr_assert_str_eq(ep.names[0], "[::1]:443");
    cr_assert_eq(ep.addrs[0].ss_family, AF_INET6);
    cr_assert_str_eq(ep.ip, "::1");

    /* localhost comes from /etc/hosts: every address it lists, none twice. */
    cr_assert_eq(sl_endpoint_resolve(&ep, "localhost", 80, &err), 0, "%s", err.msg);
    cr_assert_geq(ep.naddrs, 1);
    cr_assert_leq(ep.naddrs, SL_ENDPOINT_MAX_ADDRS);
    cr_assert_str_eq(ep.sni, "localhost", "a name is sent as SNI");
    cr_assert_null(ep.ip);
    bool v4 = false;
    for (uint32_t i = 0; i < ep.naddrs; i++) {
        v4 |= strcmp(ep.names[i], "127.0.0.1:80") == 0;
        for (uint32_t j = 0; j < i; j++)
            cr_assert_str_neq(ep.names[i], ep.names[j]);
    }
    cr_assert(v4, "localhost lists 127.0.0.1");
}

Test(tcp, errno_to_failure_categories)
{
    static const struct {
        int e;
        bool connecting;
        sl_fail_t want;
    } cases[] = {
        {ECONNREFUSED, true, SL_FAIL_CONNECT_REFUSED},
        {ECONNREFUSED, false, SL_FAIL_CONNECT_REFUSED},
        {ETIMEDOUT, true, SL_FAIL_CONNECT_TIMEOUT},
        {ETIMEDOUT, false, SL_FAIL_TIMEOUT},
        {ECONNRESET, true, SL_FAIL_CONNECT_REFUSED},
        {ECONNRESET, false, SL_FAIL_RESET},
        {EPIPE, false, SL_FAIL_RESET},
        {EHOSTUNREACH, true, SL_FAIL_CONNECT},
        {EMFILE, true, SL_FAIL_CONNECT},
        {EIO, false, SL_FAIL_IO},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        cr_expect_eq(sl_conn_fail_from_errno(cases[i].e, cases[i].connecting), cases[i].want,
                     "%s (connecting %d)", strerror(cases[i].e), cases[i].connecting);
}
