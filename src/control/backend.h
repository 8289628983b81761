/* The controller's seam to whatever runs the users: the local worker threads
 * (control/local.c) or, for a distributed master, the remote workers. A backend starts a
 * run, changes its load, hands over the statistics recorded since the last call, and
 * stops. The controller calls it on the main thread only. */
#ifndef SL_CONTROL_BACKEND_H
#define SL_CONTROL_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "sl.h"
#include "stats/stats.h"

/* What a backend starts (the controller has resolved the defaults). */
typedef struct sl_backend_run {
    uint32_t users;         /* the most users the schedule asks for (-u, the largest stage) */
    uint32_t initial_users; /* users the spawn schedule starts (0 when stages or a shape
                             * drive the users) */
    bool room_for_keys;     /* allocate room for users added live beyond `users` */
    double spawn_rate;
    double rate_per_s; /* open model; 0 = closed */
    uint64_t duration_us;
    uint64_t iterations;
    uint64_t seed;
    uint32_t threads;
} sl_backend_run_t;

/* Why sl_backend_ops_t.wait returned. */
typedef enum sl_backend_wait {
    SL_BACKEND_TIMEOUT = 0, /* until_us came, or a signal arrived */
    SL_BACKEND_DONE,        /* --iterations used up */
    SL_BACKEND_INPUT,       /* one of the fds is readable */
    SL_BACKEND_FAILED,      /* the load cannot go on: the run must end */
} sl_backend_wait_t;

typedef struct sl_backend_ops {
    /* Starts the users; *t0_us is the test's monotonic start. 0 or SL_E* with err set. */
    int (*start)(void *b, const sl_backend_run_t *run, uint64_t *t0_us, sl_err_t *err);
    /* Sleeps until until_us, a signal, input on one of fds, or news from the users. */
    sl_backend_wait_t (*wait)(void *b, uint64_t until_us, const int *fds, int nfds);
    uint32_t (*set_users)(void *b, uint32_t users); /* returns the value in force */
    double (*set_rate)(void *b, double rate_per_s);
    /* Merges the statistics since the last call into `into` (NULL: drops them) and says
     * how many users run. */
    void (*collect)(void *b, sl_stats_t *into, uint32_t *users_running);
    /* Whether stopping waits for users' on_stop (scripted classes that define one). */
    bool (*has_on_stop)(void *b);
    /* Tells the users to stop; returns at once. */
    void (*signal_stop)(void *b);
    /* Waits until every user is done, until_us or a signal; true once they all are. */
    bool (*wait_stopped)(void *b, uint64_t until_us);
    void (*skip_on_stop)(void *b);
    /* Stops, waits, and merges the last statistics into `into`. */
    void (*stop)(void *b, sl_stats_t *into, uint32_t *users_running);
    /* After stop: the most users that ran at once. */
    uint32_t (*users_started)(void *b);
    /* After stop: whether the load ended early because it failed (err says why). */
    bool (*failed)(void *b, sl_err_t *err);
    /* After stop: gives back the run's memory (users, Lua states, buffers). */
    void (*release)(void *b);
    /* Frees the backend (released or never started). */
    void (*free)(void *b);
} sl_backend_ops_t;

typedef struct sl_backend {
    const sl_backend_ops_t *ops;
    void *b;
} sl_backend_t;

#endif
