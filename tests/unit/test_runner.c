/* The runner (src/engine/runner.c) driving real worker threads against a tiny HTTP server
 * the test runs on 127.0.0.1: --iterations ends the run with exactly that many requests,
 * every one counted by the server and in the merged statistics; a refused port makes
 * every request a counted connect failure; live control stays within capacity; wait
 * returns for input and on time. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/url.h"
#include "engine/engine.h"
#include "scenario/scenario.h"

/* A keep-alive HTTP/1.1 server on one thread: answers every request head (GET, no body)
 * with a 2-byte 200 and counts them. */
typedef struct server {
    int lfd;
    unsigned port;
    int stop[2];
    pthread_t thread;
    atomic_uint requests;
    atomic_uint connections;
    atomic_uint open; /* connections not closed by the client yet */
} server_t;

#define MAX_CONNS 32

static void *serve(void *arg)
{
    server_t *s = arg;
    struct pollfd p[MAX_CONNS + 2];
    char pending[MAX_CONNS][4096];
    size_t len[MAX_CONNS];
    int n = 0;
    p[0] = (struct pollfd){.fd = s->stop[0], .events = POLLIN};
    p[1] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (;;) {
        if (poll(p, (nfds_t)(n + 2), 5000) <= 0 || p[0].revents)
            break;
        if ((p[1].revents & POLLIN) && n < MAX_CONNS) {
            int fd = accept(s->lfd, NULL, NULL);
            if (fd >= 0) {
                p[2 + n] = (struct pollfd){.fd = fd, .events = POLLIN};
                len[n++] = 0;
                atomic_fetch_add(&s->connections, 1);
                atomic_fetch_add(&s->open, 1);
            }
        }
        for (int i = 0; i < n; i++) {
            if (!p[2 + i].revents)
                continue;
            ssize_t r = read(p[2 + i].fd, pending[i] + len[i], sizeof(pending[i]) - len[i] - 1);
            if (r <= 0) {
                close(p[2 + i].fd);
                atomic_fetch_sub(&s->open, 1);
                p[2 + i] = p[2 + n - 1];
                memcpy(pending[i], pending[n - 1], len[n - 1]);
                len[i] = len[n - 1];
                n--;
                i--;
                continue;
            }
            len[i] += (size_t)r;
            pending[i][len[i]] = '\0';
            char *end;
            while ((end = strstr(pending[i], "\r\n\r\n")) != NULL) {
                size_t used = (size_t)(end + 4 - pending[i]);
                memmove(pending[i], pending[i] + used, len[i] - used + 1);
                len[i] -= used;
                atomic_fetch_add(&s->requests, 1);
                ssize_t w = write(p[2 + i].fd, resp, sizeof(resp) - 1);
                (void)w;
            }
        }
    }
    for (int i = 0; i < n; i++)
        close(p[2 + i].fd);
    return NULL;
}

static void server_start(server_t *s)
{
    memset(s, 0, sizeof(*s));
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(s->lfd, 64), 0);
    socklen_t alen = sizeof(a);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pipe(s->stop), 0);
    cr_assert_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server_t *s)
{
    cr_assert_eq(write(s->stop[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    close(s->stop[0]);
    close(s->stop[1]);
    close(s->lfd);
}

/* Everything a run borrows, for one endpoints-only plan against 127.0.0.1:port. */
typedef struct run {
    sl_plan_t plan;
    sl_url_t url;
    sl_endpoint_t ep;
    sl_rows_t *rows, *texts;
    sl_run_cfg_t cfg;
    sl_runner_t *r;
} run_t;

static void run_init(run_t *x, unsigned port, uint32_t users, uint32_t threads, uint64_t iterations)
{
    static const char src[] = "endpoints = { Task{\"GET\", \"/a\"}, Task{\"GET\", \"/b\"} }\n";
    memset(x, 0, sizeof(*x));
    sl_err_t err = {{0}};
    cr_assert_eq(sl_scenario_load_string(src, strlen(src), "t.lua", &x->plan, &err), 0, "%s",
                 err.msg);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
    cr_assert_eq(sl_url_parse(base, &x->url, &err), 0, "%s", err.msg);
    cr_assert_eq(sl_plan_render(&x->plan, &x->url), 0);
    cr_assert_eq(sl_endpoint_resolve(&x->ep, x->url.host, x->url.port, &err), 0, "%s", err.msg);
    x->rows = sl_rows_new(0, NULL);
    x->texts = sl_rows_new(0, NULL);
    x->cfg = (sl_run_cfg_t){.plan = &x->plan,
                            .rows = x->rows,
                            .ep = &x->ep,
                            .url = &x->url,
                            .users = users,
                            .initial_users = users,
                            .spawn_rate = 1000,
                            .threads = threads,
                            .timeout_us = 5 * SL_US_PER_S,
                            .seed = 1,
                            .stop_timeout_us = SL_US_PER_S,
                            .iterations = iterations,
                            .texts = x->texts};
}

static void run_dispose(run_t *x)
{
    sl_runner_free(x->r);
    sl_rows_free(x->rows);
    sl_rows_free(x->texts);
    sl_plan_dispose(&x->plan);
}

/* Starts the run, waits for its iterations to be used up (10 s at most), stops it and
 * returns the merged statistics. */
static sl_stats_t *run_to_the_end(run_t *x, uint32_t *users_after)
{
    sl_err_t err = {{0}};
    cr_assert_eq(sl_runner_start(&x->r, &x->cfg, &err), 0, "%s", err.msg);
    cr_assert_geq(sl_now_us(), sl_runner_t0(x->r));
    sl_stats_t *all = sl_stats_new(0, SL_HIST_WIDE);
    uint64_t until = sl_now_us() + 10 * SL_US_PER_S;
    sl_wait_result_t wr;
    while ((wr = sl_runner_wait(x->r, until, NULL, 0)) == SL_RUNNER_TIMEOUT && sl_now_us() < until)
        ;
    cr_assert_eq(wr, SL_RUNNER_DONE, "the iterations were used up");
    sl_runner_collect(x->r, all, NULL);
    sl_runner_stop(x->r, all, users_after);
    cr_assert_not(sl_runner_failed(x->r, &err), "%s", err.msg);
    return all;
}

static void totals(const sl_stats_t *s, uint64_t *requests, uint64_t *failures, uint64_t *bytes)
{
    *requests = *failures = *bytes = 0;
    for (uint32_t i = 0; i < s->nrows; i++) {
        *requests += s->rows[i].num_requests;
        *failures += s->rows[i].num_failures;
        *bytes += s->rows[i].content_bytes;
    }
}

Test(runner, iterations_end_the_run_with_every_request_counted)
{
    server_t s;
    server_start(&s);
    run_t x;
    run_init(&x, s.port, 4, 2, 40);
    uint32_t users_after = 99;
    sl_stats_t *all = run_to_the_end(&x, &users_after);
    uint64_t requests, failures, bytes;
    totals(all, &requests, &failures, &bytes);
    cr_expect_eq(requests, 40, "--iterations 40: %lu requests", (unsigned long)requests);
    cr_expect_eq(failures, 0);
    cr_expect_eq(bytes, 80, "2 bytes each");
    cr_expect_eq(all->nerrors, 0);
    cr_expect_eq(all->in_flight_at_stop, 0);
    uint32_t started = sl_runner_users_started(x.r);
    cr_expect(started >= 1 && started <= 4, "users started: %u", started);
    cr_expect_leq(users_after, started, "running at the end: %u", users_after);
    server_stop(&s);
    cr_expect_eq(atomic_load(&s.requests), 40, "what the server answered");
    cr_expect_leq(atomic_load(&s.connections), 4, "keep-alive: at most one per user");
    sl_stats_free(all);
    run_dispose(&x);
}

Test(runner, a_refused_port_is_a_counted_connect_failure)
{
    /* Bound but not listening: every connect is refused. */
    int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(hold, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t alen = sizeof(a);
    cr_assert_eq(getsockname(hold, (struct sockaddr *)&a, &alen), 0);
    run_t x;
    run_init(&x, ntohs(a.sin_port), 2, 1, 10);
    sl_stats_t *all = run_to_the_end(&x, NULL);
    uint64_t requests, failures, bytes;
    totals(all, &requests, &failures, &bytes);
    cr_expect_eq(requests, 10);
    cr_expect_eq(failures, 10);
    uint64_t refused = 0;
    for (uint32_t i = 0; i < all->nerrors; i++) {
        cr_expect_eq(all->errors[i].kind, SL_FAIL_CONNECT_REFUSED, "error %u kind %d", i,
                     all->errors[i].kind);
        refused += all->errors[i].occurrences;
    }
    cr_expect_eq(refused, 10, "one error per failed request");
    sl_stats_free(all);
    run_dispose(&x);
    close(hold);
}

Test(runner, live_control_and_waiting)
{
    server_t s;
    server_start(&s);
    run_t x;
    run_init(&x, s.port, 3, 2, 0);
    x.cfg.initial_users = 1;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_runner_start(&x.r, &x.cfg, &err), 0, "%s", err.msg);
    cr_expect_eq(sl_runner_users(x.r), 1);
    cr_expect_eq(sl_runner_set_users(x.r, 2), 2);
    cr_expect_eq(sl_runner_set_users(x.r, 50), 3, "capped at the capacity");
    cr_expect_eq(sl_runner_users(x.r), 3);
    cr_expect_eq(sl_runner_set_rate(x.r, 10), 0.0, "the closed model has no rate to set");

    /* Input on extra_fd wakes the wait; without input it returns at until_us. */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(write(p[1], "k", 1), 1);
    cr_expect_eq(sl_runner_wait(x.r, sl_now_us() + 5 * SL_US_PER_S, &p[0], 1), SL_RUNNER_INPUT);
    char k;
    cr_assert_eq(read(p[0], &k, 1), 1);
    uint64_t until = sl_now_us() + 50 * SL_US_PER_MS;
    cr_expect_eq(sl_runner_wait(x.r, until, &p[0], 1), SL_RUNNER_TIMEOUT);
    cr_expect_geq(sl_now_us(), until, "not before until_us");

    /* Requests flow until the stop; the server saw every one the statistics count. */
    sl_stats_t *all = sl_stats_new(0, SL_HIST_WIDE);
    while (atomic_load(&s.requests) < 20)
        sl_runner_wait(x.r, sl_now_us() + 10 * SL_US_PER_MS, NULL, 0);
    sl_runner_stop(x.r, all, NULL);
    sl_runner_stop(x.r, all, NULL); /* a second stop does nothing */
    uint64_t requests, failures, bytes;
    totals(all, &requests, &failures, &bytes);
    cr_expect_eq(failures, 0);
    /* The workers closed their connections: once the server has seen every close, it
     * has read every request that was sent. One in flight at the stop may or may not
     * have reached it. */
    uint64_t until_closed = sl_now_us() + 5 * SL_US_PER_S;
    while (atomic_load(&s.open) > 0 && sl_now_us() < until_closed)
        poll(NULL, 0, 1);
    cr_expect_eq(atomic_load(&s.open), 0, "the workers closed their connections");
    unsigned answered = atomic_load(&s.requests);
    cr_expect(requests <= answered && answered <= requests + all->in_flight_at_stop,
              "%lu counted + %lu in flight, the server answered %u", (unsigned long)requests,
              (unsigned long)all->in_flight_at_stop, answered);
    cr_expect_leq(sl_runner_users_started(x.r), 3);
    server_stop(&s);
    close(p[0]);
    close(p[1]);
    sl_stats_free(all);
    run_dispose(&x);
}
