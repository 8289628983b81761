/* Internal to the engine: one worker thread, its virtual users and its mailbox. */
#ifndef SL_ENGINE_WORKER_H
#define SL_ENGINE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "http/response.h"
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

typedef enum sl_user_state {
    SL_USER_IDLE = 0,   /* not started, or between requests */
    SL_USER_CONNECTING, /* TCP connect or TLS handshake for the current request */
    SL_USER_SENDING,    /* request partly written */
    SL_USER_READING,    /* waiting for the response */
} sl_user_state_t;

typedef struct sl_worker sl_worker_t;
typedef struct sl_script_user sl_script_user_t;
typedef struct sl_script_worker sl_script_worker_t;

typedef struct sl_user {
    sl_conn_t conn;
    sl_resp_t resp;
    sl_timer_t timer; /* request timeout, armed lazily (see user_arm_timeout) */
    sl_worker_t *w;
    const sl_task_t *task;    /* the current request (a plan task, or a scripted user's own) */
    sl_script_user_t *script; /* NULL for users of an endpoints-only plan */
    uint64_t rng;             /* per-user generator: reproducible task order with --seed */
    uint64_t intended_us;     /* when this request was meant to start */
    uint64_t deadline_us;
    uint32_t gen;       /* bumped per connection; stale events are ignored */
    uint32_t global_id; /* 0-based across all threads; the spawn order */
    uint32_t wpos;      /* bytes of the request written */
    uint8_t state;
    uint32_t wait_prev; /* links in the worker's connect queue, SL_NO_USER at ends */
    uint32_t wait_next;
    bool waiting;      /* queued for a connect slot */
    bool connect_slot; /* holds one of the worker's connect slots */
    bool reused;       /* the connection already carried a complete exchange */
    bool retried;      /* the current request was already retried once */
    bool started;
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
    sl_stats_t *cur;
    sl_timer_t spawn_timer;
    sl_timer_t tick_timer;
    sl_timer_t connect_timer; /* pumps the connect queue outside any user's call stack */
    uint32_t connecting;
    uint32_t wait_head, wait_tail;
    uint64_t next_tick_us;
    atomic_bool stop;
    bool stopping;          /* scripted users are running on_stop */
    sl_timer_t stop_timer;  /* --stop-timeout for on_stop */
    sl_script_worker_t *sw; /* Lua state and scripted users; NULL for endpoints-only */
    /* Mailbox, guarded by mu: the reporter takes `full` and returns an emptied block in
     * `spare`, so steady state allocates nothing. */
    pthread_mutex_t mu;
    sl_stats_t *full;
    sl_stats_t *spare;
    uint32_t users_running;
    int error; /* setup failure reported to the runner */
    char rbuf[SL_WORKER_RBUF_BYTES];
};

int sl__worker_init(sl_worker_t *w, uint32_t index, const sl_run_cfg_t *cfg, uint64_t t0_us,
                    const uint64_t *cum_weights);
void sl__worker_dispose(sl_worker_t *w);
void *sl__worker_main(void *arg);
/* Hands the current block to the mailbox. Worker thread only. */
void sl__worker_publish(sl_worker_t *w);

/* For the scripted runtime (worker thread only). */
uint32_t sl__user_index(const sl_user_t *u);
uint64_t sl__user_rand(sl_user_t *u);
/* Sends u->task, intended at u->intended_us, with a deadline of timeout_us after that. */
void sl__user_send(sl_user_t *u, uint64_t timeout_us);
/* Every on_stop has finished: the worker's loop ends. */
void sl__worker_stopped(sl_worker_t *w);

#endif
