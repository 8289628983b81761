/* The event loop's timer heap: order, re-arming, stopping, and a callback that re-arms
 * itself "at now" cannot keep the loop from returning to epoll. */
#include <criterion/criterion.h>
#include <stdlib.h>

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

static void rearm_now(sl_loop_t *loop, sl_timer_t *t)
{
    self_arms++;
    sl_loop_timer_start(loop, t, loop->now_us);
}

static int io_passes;

static void count_wake(sl_loop_t *loop)
{
    (void)loop;
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
    self_arms = io_passes = 0;
    sl_loop_timer_start(&loop, &spinner, now);
    sl_loop_timer_start(&loop, &stopper, now + 1000);
    /* Without a per-pass budget the spinner would run for ever inside one pass and the
     * stopper would never get its turn. */
    sl_loop_run(&loop);
    cr_assert_eq(io_passes, 3);
    cr_assert_gt(self_arms, 2, "the spinner ran in many passes");
    sl_loop_dispose(&loop);
}
