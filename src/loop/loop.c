/* The epoll loop and its timer heap. Owns the epoll and eventfd descriptors; timers,
 * heap links included, belong to their callers. */
#include "loop/loop.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define SL_LOOP_MAX_EVENTS 256

int sl_loop_init(sl_loop_t *loop, sl_loop_io_cb io_cb, void *data)
{
    *loop = (sl_loop_t){.epfd = -1, .wakefd = -1, .io_cb = io_cb, .data = data};
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return SL_ESYS;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0) {
        sl_loop_dispose(loop);
        return SL_ESYS;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SL_LOOP_WAKE_TOKEN};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0) {
        sl_loop_dispose(loop);
        return SL_ESYS;
    }
    loop->now_us = sl_now_us();
    return 0;
}

void sl_loop_dispose(sl_loop_t *loop)
{
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->heap = NULL;
    loop->heap_len = 0;
    loop->epfd = loop->wakefd = -1;
}

int sl_loop_add_fd(sl_loop_t *loop, int fd, uint64_t token)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = token};
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? SL_ESYS : 0;
}

void sl_loop_wake(sl_loop_t *loop)
{
    uint64_t one = 1;
    /* A full counter still wakes the loop, so a failed write loses nothing. */
    ssize_t n = write(loop->wakefd, &one, sizeof(one));
    (void)n;
}

/* The timer heap is a pairing heap over the timers' own links: a root, each node's
 * children in a list (child, then next), prev pointing back (to the parent for a first
 * child). Arming melds one node into the root, O(1); taking the root or stopping a timer
 * merges its children in two passes, O(log n) amortised. Nothing is allocated, so
 * arming cannot fail. Ties are broken by seq, which makes equal deadlines FIFO. */
static inline bool timer_before(const sl_timer_t *a, const sl_timer_t *b)
{
    return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

/* Melds two heaps whose roots have no siblings; returns the new root. */
static sl_timer_t *heap_meld(sl_timer_t *a, sl_timer_t *b)
{
    if (timer_before(b, a)) {
        sl_timer_t *t = a;
        a = b;
        b = t;
    }
    b->prev = a;
    b->next = a->child;
    if (a->child)
        a->child->prev = b;
    a->child = b;
    return a;
}

/* Merges a list of sibling heaps (linked by next) into one: pairs left to right, then the
 * pairs right to left. Returns the root, with no siblings, or NULL for an empty list. */
static sl_timer_t *heap_merge_pairs(sl_timer_t *first)
{
    sl_timer_t *pairs = NULL; /* melded pairs, the last one first, linked by next */
    while (first) {
        sl_timer_t *a = first, *b = a->next;
        first = b ? b->next : NULL;
        a->next = a->prev = NULL;
        if (b) {
            b->next = b->prev = NULL;
            a = heap_meld(a, b);
        }
        a->next = pairs;
        pairs = a;
    }
    if (!pairs)
        return NULL;
    sl_timer_t *root = pairs;
    pairs = pairs->next;
    root->next = NULL;
    while (pairs) {
        sl_timer_t *n = pairs->next;
        pairs->next = NULL;
        root = heap_meld(root, pairs);
        pairs = n;
    }
    return root;
}

void sl_loop_timer_start(sl_loop_t *loop, sl_timer_t *t, uint64_t at_us)
{
    if (t->armed)
        sl_loop_timer_stop(loop, t);
    t->at_us = at_us;
    t->seq = ++loop->timer_seq;
    t->child = t->next = t->prev = NULL;
    t->armed = true;
    loop->heap = loop->heap ? heap_meld(loop->heap, t) : t;
    loop->heap_len++;
}

void sl_loop_timer_stop(sl_loop_t *loop, sl_timer_t *t)
{
    if (!t->armed)
        return;
    t->armed = false;
    loop->heap_len--;
    sl_timer_t *sub = heap_merge_pairs(t->child);
    if (t == loop->heap) {
        loop->heap = sub;
    } else {
        /* Unlink t from its siblings, then meld its children back in at the root. */
        if (t->prev->child == t)
            t->prev->child = t->next;
        else
            t->prev->next = t->next;
        if (t->next)
            t->next->prev = t->prev;
        if (sub)
            loop->heap = heap_meld(loop->heap, sub);
    }
    t->child = t->next = t->prev = NULL;
}

/* Runs the timers due now. A callback that re-arms a timer "at now" (to yield to I/O)
 * gets it run on the next pass, not in this one: a pass runs at most as many callbacks as
 * there were timers when it began, so the loop always goes back to epoll. */
static void run_timers(sl_loop_t *loop)
{
    uint32_t budget = loop->heap_len;
    while (budget-- && loop->heap && loop->heap->at_us <= loop->now_us && !loop->stop) {
        sl_timer_t *t = loop->heap;
        sl_loop_timer_stop(loop, t);
        t->cb(loop, t);
    }
}

/* Set once epoll_pwait2 turned out to be unavailable; shared by every loop's thread. */
static atomic_bool no_pwait2;

/* Waits for events for at most wait_us (UINT64_MAX: no timer, wait for ever).
 * epoll_pwait2 (Linux 5.11) takes a timespec, which keeps timers at microsecond
 * resolution. Older kernels, seccomp profiles written before it (container runtimes
 * answer EPERM) and valgrind refuse it; then epoll_wait is used, with the timeout rounded
 * up to whole milliseconds so that a timer never fires early. Without this fallback the
 * loop would end at once and a run would silently send nothing. */
static int loop_wait(sl_loop_t *loop, struct epoll_event *events, uint64_t wait_us)
{
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts, *tsp = NULL;
        if (wait_us != UINT64_MAX) {
            ts.tv_sec = (time_t)(wait_us / SL_US_PER_S);
            ts.tv_nsec = (long)(wait_us % SL_US_PER_S) * 1000;
            tsp = &ts;
        }
        int n = epoll_pwait2(loop->epfd, events, SL_LOOP_MAX_EVENTS, tsp, NULL);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
            return n;
        atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
    }
    int ms = -1;
    if (wait_us != UINT64_MAX) {
        uint64_t up = (wait_us + SL_US_PER_MS - 1) / SL_US_PER_MS;
        ms = up > INT_MAX ? INT_MAX : (int)up;
    }
    return epoll_wait(loop->epfd, events, SL_LOOP_MAX_EVENTS, ms);
}

int sl_loop_run(sl_loop_t *loop)
{
    struct epoll_event events[SL_LOOP_MAX_EVENTS];
    while (!loop->stop) {
        uint64_t wait = UINT64_MAX;
        if (loop->heap) {
            uint64_t at = loop->heap->at_us;
            wait = at > loop->now_us ? at - loop->now_us : 0;
        }
        int n = loop_wait(loop, events, wait);
        int e = errno;
        loop->now_us = sl_now_us();
        /* Nothing but a signal should interrupt the wait; anything else (a closed or
         * broken epoll descriptor) would come back at once, for ever. */
        if (n < 0 && e != EINTR) {
            loop->error = e;
            return SL_ESYS;
        }
        for (int i = 0; i < n && !loop->stop; i++) {
            if (events[i].data.u64 == SL_LOOP_WAKE_TOKEN) {
                uint64_t v;
                ssize_t r = read(loop->wakefd, &v, sizeof(v));
                (void)r;
                if (loop->wake_cb)
                    loop->wake_cb(loop);
                continue;
            }
            loop->io_cb(loop, events[i].data.u64, events[i].events);
        }
        run_timers(loop);
    }
    return 0;
}
