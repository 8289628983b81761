/* A distributed worker (--worker): joins a master over ZeroMQ (a DEALER whose identity is
 * the client id, hostname_<32 hex>, as Locust's), speaks Locust 2.x's protocol, and on
 * each `spawn` drives a local run controller (control/control.h) over the local backend
 * with the users the master asks for. Every reporting tick (a second) it sends a `stats`
 * report of the interval (dist/payload.h: Locust's keys plus the exact extra), and a
 * heartbeat every second. It works with a stormlight master and with an unmodified Locust
 * master (tested with Debian's 2.12.1).
 *
 * The master's user class names map to the file's User{} classes of the same name; a file
 * with only endpoints serves whatever class the master names. Users the master gives to a
 * class the file does not have are not run (said once on stderr).
 *
 * Everything runs on the calling (main) thread; the users run on the local backend's
 * worker threads. */
#ifndef SL_DIST_WORKER_H
#define SL_DIST_WORKER_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "control/local.h"

typedef struct sl_dist_worker_cfg {
    const char *master_host; /* --master-host */
    uint16_t master_port;    /* --master-port */
    sl_local_cfg_t local;    /* the plan, rows, texts, endpoint (borrowed) */
    const char *host;        /* for the reports */
    uint32_t threads;        /* --threads, 0: online CPUs */
    uint64_t seed;
    /* A master that sends heartbeats (stormlight, Locust 2.19+) and then stays silent this
     * long is gone: the users stop and the run returns 1. Locust 2.12 sends none. */
    uint64_t master_timeout_us;
    /* The master never answered client_ready within this: return 1. */
    uint64_t connect_timeout_us;
    FILE *notices; /* what the worker tells people (stderr) */
    /* Set by a signal handler: stop the users, tell the master, return. */
    volatile sig_atomic_t *stop_flag;
} sl_dist_worker_cfg_t;

/* Runs the worker until the master says quit (returns 0), a signal (returns 0 after a
 * clean goodbye), or the master is lost or never answers (returns 1, message in err).
 * Returns 2 with err set for a setup problem (ZeroMQ could not connect the address). */
int sl_dist_worker_run(const sl_dist_worker_cfg_t *cfg, sl_err_t *err);

/* Makes a client id like Locust's: hostname, '_', 32 hex digits. */
void sl_dist_client_id(char *buf, size_t len);

#endif
