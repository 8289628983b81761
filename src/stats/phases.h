/* Where one request's time went, protocol-neutral: the session that carried it (HTTP/1.1
 * in http/session.c, or any other protocol behind the same seam) fills one record per
 * request, and the engine adds it to the request's row. Durations in microseconds.
 *
 * The host name is resolved once before the test starts (sl_endpoint_resolve), so no
 * request waits for DNS: there is no per-request DNS phase; the one-off resolution time
 * is reported for the run (sl_endpoint_t.resolve_us, carried to sl_snapshot_t.dns_us). */
#ifndef SL_STATS_PHASES_H
#define SL_STATS_PHASES_H

#include <stdbool.h>
#include <stdint.h>

typedef enum sl_phases_conn {
    SL_PHASES_CONN_NONE = 0, /* no connection carried the request (a connect failed) */
    SL_PHASES_CONN_NEW,      /* a connection was opened for it (connect, maybe TLS) */
    SL_PHASES_CONN_REUSED,   /* it went out on a kept-alive connection */
} sl_phases_conn_t;

typedef struct sl_phases {
    uint64_t connect_us;   /* TCP connect of a new connection; 0 when reused */
    uint64_t tls_us;       /* TLS handshake of a new connection; 0 when reused or plain */
    uint64_t sending_us;   /* first byte of the request written -> last byte written */
    uint64_t waiting_us;   /* request fully sent -> first response byte read */
    uint64_t receiving_us; /* first response byte -> response complete */
    uint8_t conn;          /* sl_phases_conn_t */
    bool responded;        /* a response came: waiting and receiving mean something */
} sl_phases_t;

/* Per-row phase totals beside the row's waiting and receiving histograms. */
typedef struct sl_phases_sums {
    uint64_t connect_us, tls_us, sending_us; /* sums over the row's requests */
    uint64_t new_conns;                      /* requests that opened a connection */
    uint64_t reused_conns;                   /* requests on a kept-alive connection */
} sl_phases_sums_t;

#endif
