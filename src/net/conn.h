/* A client connection behind a small transport interface (plain TCP or TLS), so the
 * HTTP session above never knows which one it talks through. Calls return SL_IO_* codes;
 * on SL_IO_ERR the connection's fail/err say why, in the statistics' vocabulary. */
#ifndef SL_NET_CONN_H
#define SL_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "base/fail.h"
#include "sl.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

enum {
    SL_IO_AGAIN = -1, /* would block: wait for the next readiness edge */
    SL_IO_EOF = -2,   /* orderly close by the peer */
    SL_IO_ERR = -3,   /* failure: see conn.fail / conn.err */
};

typedef struct sl_conn sl_conn_t;

typedef struct sl_transport {
    /* Drives establishment after connect(): TCP completion, then the TLS handshake.
     * Returns 0 when the connection is ready, SL_IO_AGAIN or SL_IO_ERR. */
    int (*establish)(sl_conn_t *c);
    /* Returns bytes read (> 0), SL_IO_AGAIN, SL_IO_EOF or SL_IO_ERR. */
    ssize_t (*read)(sl_conn_t *c, char *buf, size_t len);
    /* Returns bytes written (> 0), SL_IO_AGAIN or SL_IO_ERR. */
    ssize_t (*write)(sl_conn_t *c, const char *buf, size_t len);
    /* Releases transport state; the socket itself is closed by sl_conn_close. */
    void (*close)(sl_conn_t *c);
    /* Whether received bytes may wait inside the transport after a read that returned
     * less than asked: TLS reads one record at a time and keeps what it decrypted, so a
     * short read does not mean the socket is drained, and an edge-triggered reader must
     * go on until SL_IO_AGAIN. Plain TCP: never. */
    bool (*pending)(const sl_conn_t *c);
    /* An idle connection has bytes waiting: whether they are only the transport's own
     * housekeeping (a TLS session ticket), which leaves it usable. Plain TCP: never. */
    bool (*idle_bytes_ok)(sl_conn_t *c);
} sl_transport_t;

/* Addresses kept per endpoint: a host name commonly resolves to one IPv6 and one IPv4
 * address; more than this are ignored. */
#define SL_ENDPOINT_MAX_ADDRS 8

/* Where and how to connect; shared read-only by every connection of a run. A name may
 * resolve to several addresses (Debian lists "::1 localhost" before 127.0.0.1): a
 * connect that fails moves on to the next one, in the resolver's order. */
typedef struct sl_endpoint {
    struct sockaddr_storage addrs[SL_ENDPOINT_MAX_ADDRS];
    socklen_t addrlens[SL_ENDPOINT_MAX_ADDRS];
    char names[SL_ENDPOINT_MAX_ADDRS][64]; /* "127.0.0.1:8080", "[::1]:8080", for errors */
    uint32_t naddrs;                       /* at least 1 once resolved */
    uint64_t resolve_us;                   /* how long the resolution took (once, at start) */
    SSL_CTX *tls;                          /* NULL for plain http */
    const struct sl_transport *transport;  /* NULL: plain TCP; see sl_endpoint_use_tls */
    const char *sni; /* host name for SNI and certificate checks (NULL for IPs) */
    const char *ip;  /* the host when it is an address literal: checked against the
                      * certificate's IP SANs (NULL for names) */
    /* HTTP/2 (--http2, --h2c): which protocol the connections speak is the HTTP
     * session's to decide once one is established; these say what was asked for. */
    uint8_t h2_mode;    /* sl_h2_mode_t */
    uint32_t h2_window; /* flow-control window offered per stream and per connection */
} sl_endpoint_t;

typedef enum sl_h2_mode {
    SL_H2_OFF = 0, /* HTTP/1.1 only */
    SL_H2_ALPN,    /* TLS offers h2 and http/1.1 by ALPN; the server chooses */
    SL_H2_PRIOR,   /* cleartext HTTP/2 with prior knowledge (h2c) */
} sl_h2_mode_t;

struct sl_conn {
    int fd; /* -1 when closed */
    bool established;
    bool tcp_up;  /* TCP connect completed (TLS may still be handshaking) */
    uint8_t fail; /* sl_fail_t after SL_IO_ERR */
    int err;      /* errno detail after SL_IO_ERR */
    const sl_transport_t *tp;
    const sl_endpoint_t *ep; /* borrowed, outlives the connection */
    uint32_t addr_idx;       /* which of ep's addresses this connection uses */
    SSL *ssl;
};

extern const sl_transport_t sl_tcp_transport;
extern const sl_transport_t sl_tls_transport;
/* Makes ep speak TLS with ctx (borrowed): its connections take the TLS transport. */
void sl_endpoint_use_tls(sl_endpoint_t *ep, SSL_CTX *ctx);

/* Starts a non-blocking connect to ep's address addr_idx (< ep->naddrs). On success
 * c->fd is open (connect in progress or done) and the caller registers it with its loop;
 * on failure returns SL_IO_ERR with c->fail set (e.g. EMFILE as SL_FAIL_CONNECT). */
int sl_conn_open(sl_conn_t *c, const sl_endpoint_t *ep, uint32_t addr_idx);

/* Whether a failure of an establishing connection is worth trying the endpoint's next
 * address for: the TCP connect itself failed (refused, unreachable...), not TLS. */
bool sl_conn_connect_failed(const sl_conn_t *c);

/* Whether an established connection that sat idle can still carry a request: false when
 * the peer has closed it (EOF or an error is pending) or sent bytes nobody asked for (a
 * 408, a TLS close_notify). Never blocks: one recv(MSG_PEEK | MSG_DONTWAIT), and for TLS
 * an SSL_peek only when bytes are pending. Worker thread. */
bool sl_conn_idle_alive(sl_conn_t *c);

/* Closes the socket and the transport state. Safe on a closed connection. With
 * abortive, sends RST instead of FIN (used for timeouts so no TIME_WAIT piles up). */
void sl_conn_close(sl_conn_t *c, bool abortive);

/* Resolves host:port for connecting: up to SL_ENDPOINT_MAX_ADDRS addresses, in the
 * resolver's order. Returns 0, or SL_ENOENT with a message in err. Blocking; call before
 * the test starts. host is borrowed and must outlive ep (it names SNI and checks). */
int sl_endpoint_resolve(sl_endpoint_t *ep, const char *host, unsigned port, sl_err_t *err);

/* Makes the shared TLS context: system trust store, peer verification unless insecure,
 * session cache off (each user is a fresh client). Returns NULL with a message. */
SSL_CTX *sl_tls_ctx_new(bool insecure, sl_err_t *err);
void sl_tls_ctx_free(SSL_CTX *ctx);
/* Makes ctx offer "h2" then "http/1.1" by ALPN. Returns 0, or SL_EINVAL with a message. */
int sl_tls_ctx_offer_h2(SSL_CTX *ctx, sl_err_t *err);
/* Whether an established TLS connection agreed on "h2" by ALPN (false for plain TCP). */
bool sl_conn_alpn_h2(const sl_conn_t *c);

/* OpenSSL's words for a certificate verification result ("self-signed certificate",
 * "certificate has expired", "IP address mismatch"). After an SL_FAIL_TLS_VERIFY,
 * conn.err holds that result. */
const char *sl_tls_verify_reason(int code);

/* Maps errno from a socket call to a failure category. */
sl_fail_t sl_conn_fail_from_errno(int e, bool connecting);

#endif
