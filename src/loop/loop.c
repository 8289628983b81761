/* The epoll loop and its timer heap. Owns the epoll and eventfd descriptors and the heap
 * array; timers themselves belong to their callers. */
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
    free(loop->heap);
    loop->heap = NULL;
    loop->heap_len = loop->heap_cap = 0;
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

/* Heap of timer pointers ordered by at_us; each timer remembers its slot so it can be
 * removed or re-keyed in O(log n). */
static void heap_set(sl_loop_t *loop, uint32_t i, sl_timer_t *t)
{
    loop->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(sl_loop_t *loop, uint32_t i)
{
    sl_timer_t *t = loop->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (loop->heap[parent]->at_us <= t->at_us)
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(sl_loop_t *loop, uint32_t i)
{
    sl_timer_t *t = loop->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= loop->heap_len)
            break;
        if (child + 1 < loop->heap_len && loop->heap[child + 1]->at_us < loop->heap[child]->at_us)
            child++;
        if (t->at_us <= loop->heap[child]->at_us)
            break;
        heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    heap_set(loop, i, t);
}

int sl_loop_timer_start(sl_loop_t *loop, sl_timer_t *t, uint64_t at_us)
{
    if (t->slot) {
        uint64_t old = t->at_us;
        t->at_us = at_us;
        if (at_us < old)
            heap_up(loop, t->slot - 1);
        else
            heap_down(loop, t->slot - 1);
        return 0;
    }
    if (loop->heap_len == loop->heap_cap) {
        uint32_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        sl_timer_t **h = realloc(loop->heap, cap * sizeof(*h));
        if (!h)
            return SL_ENOMEM;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->at_us = at_us;
    loop->heap[loop->heap_len++] = t;
    heap_up(loop, loop->heap_len - 1);
    return 0;
}

void sl_loop_timer_stop(sl_loop_t *loop, sl_timer_t *t)
{
    if (!t->slot)
        return;
    uint32_t i = t->slot - 1;
    t->slot = 0;
    sl_timer_t *last = loop->heap[--loop->heap_len];
    if (i == loop->heap_len)
        return;
    heap_set(loop, i, last);
    if (i > 0 && loop->heap[(i - 1) / 2]->at_us > last->at_us)
        heap_up(loop, i);
    else
        heap_down(loop, i);
}

/* Runs the timers due now. A callback that re-arms a timer "at now" (to yield to I/O)
 * gets it run on the next pass, not in this one: a pass runs at most as many callbacks as
 * there were timers when it began, so the loop always goes back to epoll. */
static void run_timers(sl_loop_t *loop)
{
    uint32_t budget = loop->heap_len;
    while (budget-- && loop->heap_len && loop->heap[0]->at_us <= loop->now_us && !loop->stop) {
        sl_timer_t *t = loop->heap[0];
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

void sl_loop_run(sl_loop_t *loop)
{
    struct epoll_event events[SL_LOOP_MAX_EVENTS];
    while (!loop->stop) {
        uint64_t wait = UINT64_MAX;
        if (loop->heap_len) {
            uint64_t at = loop->heap[0]->at_us;
            wait = at > loop->now_us ? at - loop->now_us : 0;
        }
        int n = loop_wait(loop, events, wait);
        loop->now_us = sl_now_us();
        if (n < 0 && errno != EINTR)
            break;
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
}
