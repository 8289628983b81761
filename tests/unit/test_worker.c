/* A worker thread's fatal path: when its event loop cannot wait for events any more, the
 * worker says so to the runner (its error and a SL_WORKER_FAILED mark on done_fd) instead
 * of ending in silence while the run goes on without its users. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/url.h"
#include "engine/internal.h"
#include "scenario/scenario.h"

Test(worker, a_failing_event_loop_is_reported_to_the_runner)
{
    static const char src[] = "endpoints = { Task{\"GET\", \"/hello\"} }\n";
    sl_plan_t plan;
    memset(&plan, 0, sizeof(plan));
    sl_err_t err = {{0}};
    cr_assert_eq(sl_scenario_load_string(src, strlen(src), "t.lua", &plan, &err), 0, "%s", err.msg);
    sl_url_t url;
    cr_assert_eq(sl_url_parse("http://127.0.0.1:1", &url, &err), 0);
    cr_assert_eq(sl_plan_render(&plan, &url), 0);
    static sl_endpoint_t ep;
    cr_assert_eq(sl_endpoint_resolve(&ep, url.host, url.port, &err), 0);
    sl_rows_t *rows = sl_rows_new(0, NULL), *texts = sl_rows_new(0, NULL);
    sl_run_cfg_t cfg = {.plan = &plan,
                        .rows = rows,
                        .ep = &ep,
                        .url = &url,
                        .users = 1,
                        .initial_users = 1,
                        .spawn_rate = 1,
                        .threads = 1,
                        .timeout_us = SL_US_PER_S,
                        .texts = texts};
    uint64_t cum[1] = {plan.tasks[0].weight};
    sl_worker_t *w = calloc(1, sizeof(*w));
    cr_assert_not_null(w);
    w->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert_eq(sl__worker_init(w, 0, &cfg, sl_now_us(), cum, &err), 0, "%s", err.msg);
    /* A pipe where the epoll descriptor was: the first wait fails (EINVAL). */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_geq(dup2(p[0], w->loop.epfd), 0);
    sl__worker_main(w); /* on this thread: it must return, and say why */
    cr_assert_eq(w->error, EINVAL);
    uint64_t v = 0;
    cr_assert_eq(read(w->done_fd, &v, sizeof(v)), (ssize_t)sizeof(v), "the runner is woken");
    cr_assert_eq(v, SL_WORKER_FAILED);
    close(w->done_fd);
    close(p[0]);
    close(p[1]);
    sl__worker_dispose(w);
    free(w);
    sl_rows_free(rows);
    sl_rows_free(texts);
    sl_plan_dispose(&plan);
}
