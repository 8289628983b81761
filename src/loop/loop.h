/* A tiny event loop: one epoll instance, a min-heap of microsecond timers and a cached
 * clock. One loop per worker thread; nothing here is thread-safe except sl_loop_wake().
 *
 * Registered file descriptors carry a 64-bit token chosen by the owner (for users: their
 * index and connection generation), so an event for a socket that was closed and replaced
 * within the same batch can be recognised and ignored. */
#ifndef SL_LOOP_LOOP_H
#define SL_LOOP_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "sl.h"

typedef struct sl_loop sl_loop_t;
typedef struct sl_timer sl_timer_t;

/* Called for every epoll event: token as registered, events as epoll reports them. */
typedef void (*sl_loop_io_cb)(sl_loop_t *loop, uint64_t token, uint32_t events);
typedef void (*sl_timer_cb)(sl_loop_t *loop, sl_timer_t *timer);

/* Caller-owned timer, embedded in the object it belongs to. It carries its own links
 * in the loop's timer heap (a pairing heap), so arming never allocates and cannot fail.
 * Zero-initialised is "not armed"; only cb is the owner's to set. */
struct sl_timer {
    uint64_t at_us; /* monotonic deadline */
    uint64_t seq;   /* arming order: equal deadlines fire first armed, first */
    sl_timer_t *child, *next;
    sl_timer_t *prev; /* the previous sibling, or the parent of a first child */
    bool armed;
    sl_timer_cb cb;
};

struct sl_loop {
    int epfd;
    int wakefd;      /* eventfd; its token is SL_LOOP_WAKE_TOKEN */
    bool stop;       /* set by the owner to leave sl_loop_run */
    uint64_t now_us; /* read once per iteration; sl_loop_update_now() refreshes */
    sl_loop_io_cb io_cb;
    void (*wake_cb)(sl_loop_t *loop); /* called when sl_loop_wake() was used */
    void *data;                       /* owner's pointer */
    sl_timer_t *heap;                 /* the earliest timer, root of the heap; NULL: none */
    uint32_t heap_len;                /* timers armed */
    uint64_t timer_seq;               /* last seq handed out */
    int error;                        /* errno when sl_loop_run failed */
};

#define SL_LOOP_WAKE_TOKEN UINT64_MAX

int sl_loop_init(sl_loop_t *loop, sl_loop_io_cb io_cb, void *data);
void sl_loop_dispose(sl_loop_t *loop);

/* Registers fd once for edge-triggered read and write readiness (EPOLLIN | EPOLLOUT |
 * EPOLLRDHUP | EPOLLET). The socket is never modified afterwards: closing it removes it.
 * Returns 0 or SL_ESYS. */
int sl_loop_add_fd(sl_loop_t *loop, int fd, uint64_t token);

/* Arms (or re-arms) a timer at an absolute monotonic time. Timers with equal deadlines
 * fire in the order they were armed; re-arming counts as arming anew. O(1), and
 * O(log n) amortised when the timer fires or is stopped; never allocates, cannot fail. */
void sl_loop_timer_start(sl_loop_t *loop, sl_timer_t *t, uint64_t at_us);
void sl_loop_timer_stop(sl_loop_t *loop, sl_timer_t *t);
static inline bool sl_loop_timer_armed(const sl_timer_t *t)
{
    return t->armed;
}

/* Runs until loop->stop is set: waits for events or the next timer (microsecond
 * resolution through epoll_pwait2), dispatches events, then expired timers. Returns 0
 * when stopped, or SL_ESYS with loop->error set when waiting for events failed (the loop
 * cannot go on: the owner must treat it as fatal, not as a normal end). */
int sl_loop_run(sl_loop_t *loop);

/* Wakes the loop from another thread (async-signal-safe). */
void sl_loop_wake(sl_loop_t *loop);

static inline uint64_t sl_loop_update_now(sl_loop_t *loop)
{
    loop->now_us = sl_now_us();
    return loop->now_us;
}

#endif
