/* The web UI and its HTTP API: an embedded HTTP server (libmicrohttpd) on its own threads.
 *
 * Threads and ownership. The server's threads never read worker, reporter or controller
 * state. The main thread renders every document the server serves (sl_web_update, after
 * each controller step) into buffers it hands over under one mutex; the server's threads
 * copy from those buffers, and reach the run only through sl_control_post (commands) and
 * sl_control_status (a few numbers), both thread-safe. Live events wait on a condition
 * variable that each update signals.
 *
 * Routes (docs/web.md): the page and its assets; GET /events (Server-Sent Events);
 * Locust 2.12's POST /swarm, GET /stop, GET /stats/reset, GET /stats/requests,
 * /stats/requests/csv, /stats/failures/csv, /exceptions, /exceptions/csv, /stats/report;
 * GET /stats/summary.json (the JSON summary); GET /metrics (Prometheus). */
#ifndef SL_WEB_SERVER_H
#define SL_WEB_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "control/control.h"
#include "sl.h"

typedef struct sl_web_cfg {
    const char *host; /* address to listen on: "*" for every interface, or an IP literal */
    const char *auth; /* "USER:PASSWORD" for HTTP basic authentication, or NULL */
    uint16_t port;
    const char *target_host; /* the URL the test loads (the form shows it; borrowed) */
    const char *scenario_file;
    uint64_t timeout_us;        /* --timeout, for the HTML report */
    sl_control_params_t params; /* a start from the page begins from these */
} sl_web_cfg_t;

typedef struct sl_web sl_web_t;

/* Listens and starts serving. NULL with err set when the address cannot be used ("--web-
 * port 8089: address already in use"). */
sl_web_t *sl_web_start(const sl_web_cfg_t *cfg, sl_err_t *err);
/* Stops serving (ends the live streams) and frees. Accepts NULL. */
void sl_web_free(sl_web_t *web);

/* The URL people open ("http://127.0.0.1:8089/"). */
const char *sl_web_url(const sl_web_t *web);

/* Sets the controller that commands go to (NULL: none). After a run the CLI attaches a
 * fresh, ready one, so that the page's "New test" (POST /swarm) can start it; the page
 * keeps showing the last run until the new one starts. Main thread. */
void sl_web_attach(sl_web_t *web, sl_control_t *ctl);

/* Counts a reporting tick's interval (snap->interval) toward the Prometheus totals: call
 * it from the controller's on_tick, which sees every tick once (a reset's flush too), and
 * once with the final snapshot. Main thread. */
void sl_web_tick(sl_web_t *web, const sl_snapshot_t *snap);

/* Renders what changed since the last call (after every sl_control_step): the documents
 * on every new reporting interval or change of state. Main thread. */
void sl_web_update(sl_web_t *web, sl_control_t *ctl);

#endif
