/* Internal to the engine: one worker thread, its virtual users and its mailbox. */
#ifndef SL_ENGINE_INTERNAL_H
#define SL_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "http/session.h"
#include "loop/loop.h"

/* Received bytes land here, are parsed at once and discarded: one buffer per worker, not
 * per connection. */
#define SL_WORKER_RBUF_BYTES (64 * 1024)

/* Connects in progress per worker. Spawning thousands of users at once would otherwise
 * overflow the server's SYN and accept queues, and the dropped SYNs come back as
 * one-second retransmits, i.e. as fake latency. Further users wait their turn in a FIFO;
 * their wait counts in their response time, as it should. */
#define SL_WORKER_MAX_CONNECTING 64
#define SL_NO_USER UINT32_MAX
#define SL_NO_ADDR UINT8_MAX

/* Texts a worker attached to errors lately (reason phrases, addresses), so that a flood
 * of the same failure takes the text registry's lock once, not per request. */
#define SL_WORKER_TEXT_SLOTS 16
/* Reason phrases come from the server: a worker interns at most this many lookups of
 * them (a hostile server inventing a phrase per response must neither fill the run's text
 * registry nor take its lock per request); beyond, errors use the standard phrase. */
#define SL_WORKER_MAX_PHRASE_INTERNS 256
typedef struct sl_text_slot {
    uint32_t id_plus_1; /* 0: empty */
    uint8_t len;
    char s[63];
} sl_text_slot_t;

typedef struct sl_worker sl_worker_t;
typedef struct sl_script_user sl_script_user_t;
typedef struct sl_script_worker sl_script_worker_t;

typedef struct sl_user {
    sl_http_session_t http; /* its connection and the exchange on it */
    sl_timer_t timer;       /* request timeout, armed lazily (see user_arm_timeout) */
    sl_worker_t *w;
    const sl_task_t *task;    /* the current request (a plan task, or a scripted user's own) */
    sl_script_user_t *script; /* NULL for users of an endpoints-only plan */
    uint64_t rng;             /* per-user generator: reproducible task order with --seed */
    uint64_t intended_us;     /* when this request was meant to start */
    uint64_t deadline_us;
    uint64_t conn_start_us; /* the current connect began (its phases, stats/phases.h) */
    uint64_t tcp_up_us;     /* its TCP connect completed; 0 before */
    uint32_t gen;           /* bumped per connection; stale events are ignored */
    uint32_t global_id;     /* 0-based across all threads; the spawn order */
    uint64_t arrival_us;    /* open model: intended start of the iteration it was given */
    uint8_t max_redirects;  /* redirects the current request follows (scripted only) */
    uint8_t addr_tries;     /* addresses of the endpoint tried for the current connect */
    uint8_t connect_addr;   /* the address being connected to; SL_NO_ADDR before any */
    uint32_t wait_prev;     /* links in the worker's connect queue, SL_NO_USER at ends */
    uint32_t wait_next;
    bool waiting;      /* queued for a connect slot */
    bool connect_slot; /* holds one of the worker's connect slots */
    bool started;
    bool retiring; /* live control removed it: it stops after this request */
    bool retired;
} sl_user_t;

struct sl_worker {
    uint32_t index;
    pthread_t thread;
    sl_loop_t loop;
    const sl_run_cfg_t *cfg;
    uint64_t t0_us;
    const uint64_t *cum_weights; /* shared, plan order */
    sl_user_t *users;
    uint32_t nusers;
    uint32_t nstarted;
    uint32_t nusers_spawn; /* users to start (fewer once --iterations is used up) */
    sl_stats_t *cur;
    sl_timer_t spawn_timer;
    sl_timer_t tick_timer;
    sl_timer_t connect_timer; /* pumps the connect queue outside any user's call stack */
    uint32_t connecting;
    uint32_t addr_pref; /* the endpoint address the last connection was made to */
    uint32_t wait_head, wait_tail;
    uint64_t next_tick_us;
    atomic_bool stop;
    atomic_bool skip_on_stop; /* the runner gave up waiting for on_stop (a second Ctrl-C) */
    /* Live control from the runner: written there, read here after a wake-up. */
    _Atomic uint32_t ctl_users;
    _Atomic uint32_t ctl_seq;
    _Atomic uint64_t ctl_anchor_us;
    _Atomic uint64_t ctl_rate_bits;
    uint32_t seen_seq;
    uint32_t target;        /* users that should run on this worker */
    uint32_t running;       /* started and not retired (or retiring) */
    double rate_per_s;      /* this run's rate now (open model) */
    uint64_t anchor_us;     /* the arrival schedule restarts here after a rate change */
    bool stopping;          /* scripted users are running on_stop */
    sl_timer_t stop_timer;  /* --stop-timeout for on_stop */
    sl_script_worker_t *sw; /* Lua state and scripted users; NULL for endpoints-only */
    /* Mailbox, guarded by mu: the reporter takes `full` and returns an emptied block in
     * `spare`, so steady state allocates nothing. */
    pthread_mutex_t mu;
    sl_stats_t *full;
    sl_stats_t *spare;
    uint32_t users_running;
    atomic_int error;    /* errno of a failure that ended the worker's loop, 0 if none */
    int done_fd;         /* the runner's eventfd: "my iterations are used up" */
    uint64_t iter_quota; /* this worker's share of --iterations; 0 = no limit */
    uint64_t iter_started;
    uint32_t active; /* users that may still start iterations */
    bool exhausted;  /* the quota is used up: no iteration starts any more */
    bool done_sent;  /* the runner was told */
    /* Open model (--rate): this worker's arrivals are global iterations k * threads +
     * index, intended at t0 + i / rate. An arrival takes a free user, else starts a new
     * one (up to the pool), else waits in a queue no longer than the pool, else is dropped
     * and counted. */
    sl_timer_t arrival_timer;
    uint64_t arrival_k;
    uint32_t *free_users; /* stack of idle user indices */
    uint32_t nfree;
    uint64_t *queue; /* ring of intended times of waiting arrivals */
    uint32_t q_head, q_len, q_cap;
    sl_text_slot_t texts[SL_WORKER_TEXT_SLOTS];
    uint32_t phrase_interns; /* registry lookups made for reason phrases */
    char rbuf[SL_WORKER_RBUF_BYTES];
};

int sl__worker_init(sl_worker_t *w, uint32_t index, const sl_run_cfg_t *cfg, uint64_t t0_us,
                    const uint64_t *cum_weights, sl_err_t *err);
void sl__worker_dispose(sl_worker_t *w);
void *sl__worker_main(void *arg);
/* What a worker adds to the runner's done_fd counter: 1 when its iterations are used up,
 * SL_WORKER_FAILED when its loop failed and it ended early. */
#define SL_WORKER_FAILED (1ULL << 32)
/* Hands the current block to the mailbox. Worker thread only. */
void sl__worker_publish(sl_worker_t *w);

/* The detail to record for a failure: detail itself, or with a text attached (the
 * server's own reason phrase, the address a connect failed at, OpenSSL's reason); see
 * SL_DETAIL_TEXT_UNIT. Worker thread only. */
int32_t sl__user_fail_detail(sl_user_t *u, sl_fail_t fail, int32_t detail);

/* ---- engine/user.c: a user's connections and session glue, and the calls the scripted
 * runtime makes. Worker thread only. ---- */

/* A loop token: the user's index and its connection's generation. */
#define SL_USER_TOKEN(idx, gen) (((uint64_t)(idx) << 32) | (uint32_t)(gen))

static inline sl_user_t *sl__user_of(sl_http_session_t *s)
{
    return (sl_user_t *)((char *)s - offsetof(sl_user_t, http));
}

static inline bool sl__user_busy(const sl_user_t *u)
{
    return sl_http_session_busy(&u->http);
}

/* What every user's session asks of its owner (see sl_http_session_ops_t): a connection
 * through the worker's connect slots, forgetting a closed one, counting events. */
void sl__user_on_connect(sl_http_session_t *s);
void sl__user_on_closing(sl_http_session_t *s);
void sl__user_on_event(sl_http_session_t *s, sl_http_event_t ev);
/* Drives the user's connection establishment (a readiness event while connecting). */
void sl__user_establish(sl_user_t *u);
/* Closes the user's connection; ends no exchange. */
void sl__user_close(sl_user_t *u, bool abortive);
/* Ends the user's exchange with a failure (see sl_http_session_fail). */
void sl__user_fail(sl_user_t *u, sl_fail_t fail, int detail, bool abortive);
/* The connect queue's timer: starts waiting connects while slots are free. */
void sl__worker_on_connect_pump(sl_loop_t *loop, sl_timer_t *t);
/* Tells the runner this worker's --iterations are used up (once). */
void sl__worker_notify_done(sl_worker_t *w);
/* Requests in flight; with abandon, their connections are closed. */
uint64_t sl__worker_count_in_flight(sl_worker_t *w, bool abandon);
uint64_t sl__splitmix64(uint64_t x);

/* For the scripted runtime (worker thread only). */
uint32_t sl__user_index(const sl_user_t *u);
uint64_t sl__user_rand(sl_user_t *u);
/* Sends u->task, intended at u->intended_us, with a deadline of timeout_us after that. */
void sl__user_send(sl_user_t *u, uint64_t timeout_us);
/* Fails u->task at once without sending anything (it could not be built whole): counted
 * like a request that failed on its way out; the connection is left as it was. */
void sl__user_fail_unsent(sl_user_t *u);
/* Takes one iteration from the worker's --iterations share; false when it is used up
 * (the user then goes idle for good and the worker may report itself done). */
bool sl__worker_take_iteration(sl_worker_t *w);
/* Open model: the user finished an iteration; it takes the oldest waiting arrival (true,
 * with u->arrival_us set) or goes on the free list (false). */
bool sl__worker_user_free(sl_user_t *u);
/* Open model, scripted users: start the iteration a parked user was just given. */
void sl__script_arrival(sl_user_t *u);
/* Live control: whether a user was asked to stop; if so it is marked retired and the
 * caller stops it (scripted users run on_stop first). */
bool sl__user_retire_now(sl_user_t *u);
/* A user will start no more iterations (see sl__worker_take_iteration). */
void sl__worker_user_retired(sl_worker_t *w);
/* Every on_stop has finished: the worker's loop ends. */
void sl__worker_stopped(sl_worker_t *w);

#endif
