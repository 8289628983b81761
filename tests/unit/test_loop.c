/* The event loop's timer heap: order, re-arming, stopping, and a callback that re-arms
 * itself "at now" cannot keep the loop from returning to epoll. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "loop/loop.h"

typedef struct rec {
    sl_timer_t t;
    int id;
    int fired;
} rec_t;

static int order[64];
static int norder;

static void on_fire(sl_loop_t *loop, sl_timer_t *t)
{
    rec_t *r = (rec_t *)t;
    r->fired++;
    order[norder++] = r->id;
    (void)loop;
}

static void no_io(sl_loop_t *loop, uint64_t token, uint32_t events)
{
    (void)loop;
    (void)token;
    (void)events;
}

static void on_last(sl_loop_t *loop, sl_timer_t *t)
{
    on_fire(loop, t);
    loop->stop = true;
}

Test(loop, timers_fire_in_deadline_order)
{
    sl_loop_t loop;
    cr_assert_eq(sl_loop_init(&loop, no_io, NULL), 0);
    norder = 0;
    uint64_t now = sl_loop_update_now(&loop);
    rec_t r[20];
    /* Deadlines in a scrambled order, 100..2000 us from now. */
    for (int i = 0; i < 20; i++) {
        r[i] = (rec_t){.t.cb = on_fire, .id = (i * 7) % 20};
        sl_loop_timer_start(&loop, &r[i].t, now + 100 + 100 * (uint64_t)r[i].id);
    }
    /* Re-key one later and stop another: both must be honoured. */
    sl_loop_timer_start(&loop, &r[0].t, now + 5000);
    sl_loop_timer_stop(&loop, &r[1].t);
    cr_assert(!sl_loop_timer_armed(&r[1].t));
    r[0].t.cb = on_last;
    sl_loop_run(&loop);
    cr_assert_eq(norder, 19);
    for (int i = 1; i < norder - 1; i++)
        cr_assert_lt(order[i - 1], order[i], "fired out of order at %d", i);
    cr_assert_eq(order[norder - 1], r[0].id, "the re-keyed timer fires last");
    cr_assert_eq(r[1].fired, 0, "a stopped timer never fires");
    cr_assert_geq(sl_now_us(), now + 5000, "timers do not fire early");
    sl_loop_dispose(&loop);
}

static int self_arms;
static int wakes_seen;

/* Each run wakes the loop: the wake is only seen when the loop goes back to epoll. */
static void rearm_now(sl_loop_t *loop, sl_timer_t *t)
{
    self_arms++;
    sl_loop_wake(loop);
    sl_loop_timer_start(loop, t, loop->now_us);
}

static int io_passes;

static void count_wake(sl_loop_t *loop)
{
    (void)loop;
    wakes_seen++;
}

static void stop_after(sl_loop_t *loop, sl_timer_t *t)
{
    (void)t;
    io_passes++;
    if (io_passes == 3)
        loop->stop = true;
    else
        sl_loop_timer_start(loop, t, loop->now_us + 1000);
}

Test(loop, a_timer_rearmed_at_now_lets_the_loop_go_on)
{
    sl_loop_t loop;
    cr_assert_eq(sl_loop_init(&loop, no_io, NULL), 0);
    loop.wake_cb = count_wake;
    sl_timer_t spinner = {.cb = rearm_now};
    sl_timer_t stopper = {.cb = stop_after};
    uint64_t now = sl_loop_update_now(&loop);
    self_arms = io_passes = wakes_seen = 0;
    sl_loop_timer_start(&loop, &spinner, now);
    sl_loop_timer_start(&loop, &stopper, now + 1000);
    /* Without a per-pass budget the spinner would run for ever inside one pass and the
     * stopper would never get its turn. */
    sl_loop_run(&loop);
    cr_assert_eq(io_passes, 3);
    cr_assert_gt(self_arms, 2, "the spinner ran in many passes");
    /* Every pass but the first began with the wake the spinner left in the one before
     * (the last pass stops before reading its own), and a pass runs at most as many
     * callbacks as there were timers (two): so the spinner ran at most twice per pass. */
    cr_assert_geq(wakes_seen, 2, "the loop went back to epoll between the spinner's runs");
    cr_assert_leq(self_arms, 2 * (wakes_seen + 1), "%d runs in %d passes", self_arms,
                  wakes_seen + 1);
    sl_loop_dispose(&loop);
}

static void on_fire_stop_at_end(sl_loop_t *loop, sl_timer_t *t)
{
    on_fire(loop, t);
    if (!loop->heap_len)
        loop->stop = true;
}

Test(loop, equal_deadlines_fire_in_arming_order)
{
    sl_loop_t loop;
    cr_assert_eq(sl_loop_init(&loop, no_io, NULL), 0);
    norder = 0;
    uint64_t at = sl_loop_update_now(&loop) + 200;
    rec_t r[40];
    for (int i = 0; i < 40; i++) {
        r[i] = (rec_t){.t.cb = on_fire_stop_at_end, .id = i};
        sl_loop_timer_start(&loop, &r[i].t, at);
    }
    /* Re-arming at the same deadline is arming anew: 5 goes to the back. Stopping and
     * re-arming 7 does the same; 9 stays stopped. */
    sl_loop_timer_start(&loop, &r[5].t, at);
    sl_loop_timer_stop(&loop, &r[7].t);
    sl_loop_timer_start(&loop, &r[7].t, at);
    sl_loop_timer_stop(&loop, &r[9].t);
    sl_loop_run(&loop);
    int want[40], n = 0;
    for (int i = 0; i < 40; i++)
        if (i != 5 && i != 7 && i != 9)
            want[n++] = i;
    want[n++] = 5;
    want[n++] = 7;
    cr_assert_eq(norder, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(order[i], want[i], "position %d: timer %d fired, %d was due", i, order[i],
                     want[i]);
    sl_loop_dispose(&loop);
}

/* Random arming, re-arming and stopping of many timers with few distinct deadlines (many
 * ties): they must fire by (deadline, latest arming), each exactly once. */
typedef struct rtimer {
    sl_timer_t t;
    uint64_t at;
    uint64_t armed_as; /* the test's own arming counter at the latest start */
    bool armed;
    int fired;
} rtimer_t;

static rtimer_t *fired_seq[4096];
static int nfired;

static void on_rfire(sl_loop_t *loop, sl_timer_t *t)
{
    rtimer_t *r = (rtimer_t *)t;
    r->fired++;
    fired_seq[nfired++] = r;
    if (!loop->heap_len)
        loop->stop = true;
}

Test(loop, random_operations_keep_the_order)
{
    enum { N = 1000 };
    static rtimer_t r[N];
    sl_loop_t loop;
    cr_assert_eq(sl_loop_init(&loop, no_io, NULL), 0);
    uint64_t base = sl_loop_update_now(&loop) + 1000;
    uint64_t x = 88172645463325252ULL, counter = 0;
    int armed = 0;
    for (int i = 0; i < N; i++)
        r[i] = (rtimer_t){.t.cb = on_rfire};
    for (int op = 0; op < 20000; op++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rtimer_t *t = &r[x % N];
        if ((x >> 20) % 4 == 0) {
            sl_loop_timer_stop(&loop, &t->t);
            armed -= t->armed;
            t->armed = false;
        } else {
            t->at = base + (x >> 32) % 8;
            sl_loop_timer_start(&loop, &t->t, t->at);
            armed += !t->armed;
            t->armed = true;
            t->armed_as = ++counter;
        }
        cr_assert_eq(loop.heap_len, (uint32_t)armed);
    }
    nfired = 0;
    if (armed)
        sl_loop_run(&loop);
    cr_assert_eq(nfired, armed);
    for (int i = 1; i < nfired; i++) {
        const rtimer_t *a = fired_seq[i - 1], *b = fired_seq[i];
        cr_assert(a->at < b->at || (a->at == b->at && a->armed_as < b->armed_as),
                  "out of order at %d", i);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(r[i].fired, r[i].armed ? 1 : 0, "timer %d fired %d times", i, r[i].fired);
    sl_loop_dispose(&loop);
}

Test(loop, a_failing_wait_ends_the_run_with_an_error)
{
    sl_loop_t loop;
    cr_assert_eq(sl_loop_init(&loop, no_io, NULL), 0);
    /* Put a pipe where the epoll descriptor was: every wait fails with EINVAL. */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_geq(dup2(p[0], loop.epfd), 0);
    sl_timer_t far = {.cb = on_last};
    sl_loop_timer_start(&loop, &far, sl_loop_update_now(&loop) + 10 * SL_US_PER_S);
    cr_assert_eq(sl_loop_run(&loop), SL_ESYS, "the failure is reported, not a normal end");
    cr_assert_eq(loop.error, EINVAL);
    close(p[0]);
    close(p[1]);
    sl_loop_dispose(&loop);
}
