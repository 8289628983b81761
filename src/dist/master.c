/* The distributed master: the controller's backend over remote workers. */
#include "dist/master.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "dist/payload.h"
#include "dist/wire.h"
#include "stats/stats.h"

#define MAX_WORKERS 1024
#define HEARTBEAT_US SL_US_PER_S
#define MISSING_US (3 * SL_US_PER_S)
#define SPAWN_STEP_US (100 * SL_US_PER_MS)

typedef enum node_state { NODE_READY, NODE_RUNNING, NODE_STOPPED, NODE_LOST } node_state_t;

typedef struct node {
    char id[160];
    node_state_t state;
    uint64_t last_seen;
    uint32_t users;    /* reported */
    uint32_t assigned; /* sent */
    bool in_run;       /* was given a share of this run */
    bool stopped_run;  /* said client_stopped since its last share */
    bool stormlight;   /* a stormlight worker (Locust 2.12's own workers know no heartbeat) */
    bool quit_sent;    /* told to quit; a Locust worker sends its last report after that */
    bool final_report; /* a report came after quit */
} node_t;

typedef struct master {
    sl_dist_master_cfg_t cfg;
    void *zctx, *sock;
    int zfd;
    node_t *nodes;
    uint32_t nnodes, lost;
    sl_stats_t *pending;
    /* The run. */
    bool running, stopping;
    sl_backend_run_t run;
    uint64_t t0, last_beat, next_spawn;
    uint32_t target;    /* users wanted now (-u, or what set_users asked) */
    uint32_t scheduled; /* users the spawn schedule has reached */
    double rate;
    uint16_t *class_of_user; /* global spawn order, when the plan has classes */
    uint32_t class_cap;
    uint32_t peak;
} master_t;

static uint32_t alive(const master_t *m)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->nnodes; i++)
        n += m->nodes[i].state == NODE_READY || m->nodes[i].state == NODE_RUNNING;
    return n;
}

static void send_to(master_t *m, const node_t *n, sl_wire_out_t *o)
{
    sl_wire_end(o, n->id);
    zmq_send(m->sock, n->id, strlen(n->id), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(m->sock, o->buf.data, o->buf.size, ZMQ_DONTWAIT);
    sl_wire_out_dispose(o);
}

static void send_simple(master_t *m, const node_t *n, const char *type)
{
    sl_wire_out_t o;
    sl_wire_begin(&o, type);
    send_to(m, n, &o);
}

static const char *class_name(const master_t *m, uint32_t c)
{
    return m->cfg.plan && m->cfg.plan->nclasses ? m->cfg.plan->classes[c].name : "endpoints";
}

/* The class order of the first `users` users (Locust's exact division). */
static void ensure_classes(master_t *m, uint32_t users)
{
    const sl_plan_t *plan = m->cfg.plan;
    if (!plan || !plan->nclasses || users <= m->class_cap)
        return;
    uint16_t *order = calloc(users, sizeof(*order));
    uint32_t *counts = calloc(plan->nclasses, sizeof(*counts));
    sl_err_t err;
    if (order && counts && sl_plan_assign_users(plan, users, order, counts, &err) == 0) {
        free(m->class_of_user);
        m->class_of_user = order;
        m->class_cap = users;
        order = NULL;
    }
    free(order);
    free(counts);
}

/* Sends every worker in the run its share of the first `users` users: user k goes to the
 * k mod n-th live worker. */
static void dispatch(master_t *m, uint32_t users)
{
    uint32_t n = alive(m);
    if (!n)
        return;
    ensure_classes(m, users);
    const sl_plan_t *plan = m->cfg.plan;
    uint32_t nclasses = plan && plan->nclasses ? (uint32_t)plan->nclasses : 1;
    uint32_t counts[256];
    if (nclasses > 256)
        nclasses = 256;
    uint64_t iters_left = m->run.iterations;
    uint32_t slot = 0;
    for (uint32_t i = 0; i < m->nnodes; i++) {
        node_t *nd = &m->nodes[i];
        if (nd->state != NODE_READY && nd->state != NODE_RUNNING)
            continue;
        memset(counts, 0, sizeof(counts));
        uint32_t share = 0;
        for (uint32_t k = slot; k < users; k += n) {
            uint32_t c = m->class_of_user && k < m->class_cap ? m->class_of_user[k] : 0;
            counts[c < nclasses ? c : 0]++;
            share++;
        }
        uint64_t iters = m->run.iterations / n + (slot < m->run.iterations % n);
        (void)iters_left;
        slot++;
        nd->assigned = share;
        nd->in_run = true;
        nd->stopped_run = false;
        sl_wire_out_t o;
        sl_wire_begin(&o, "spawn");
        msgpack_packer *pk = &o.pk;
        msgpack_pack_map(pk, 6);
        sl_wire_pack_str(pk, "timestamp");
        msgpack_pack_double(pk, (double)sl_wall_us() / 1e6);
        sl_wire_pack_str(pk, "user_classes_count");
        msgpack_pack_map(pk, nclasses);
        for (uint32_t c = 0; c < nclasses; c++) {
            sl_wire_pack_str(pk, class_name(m, c));
            msgpack_pack_uint32(pk, counts[c]);
        }
        sl_wire_pack_str(pk, "host");
        sl_wire_pack_str(pk, m->cfg.host ? m->cfg.host : "");
        sl_wire_pack_str(pk, "stop_timeout");
        msgpack_pack_double(pk, (double)m->cfg.stop_timeout_us / 1e6);
        sl_wire_pack_str(pk, "parsed_options");
        msgpack_pack_map(pk, 0);
        /* What a stormlight worker reads beyond Locust's keys. */
        sl_wire_pack_str(pk, "stormlight");
        msgpack_pack_map(pk, 2);
        sl_wire_pack_str(pk, "iterations");
        msgpack_pack_uint64(pk, iters);
        sl_wire_pack_str(pk, "rate_per_s");
        msgpack_pack_double(pk, m->rate / n);
        o.has_data = true;
        send_to(m, nd, &o);
    }
}

static node_t *find(master_t *m, const char *id)
{
    for (uint32_t i = 0; i < m->nnodes; i++)
        if (strcmp(m->nodes[i].id, id) == 0)
            return &m->nodes[i];
    return NULL;
}

static void on_ready(master_t *m, const char *id, const msgpack_object *version)
{
    node_t *n = find(m, id);
    bool fresh = !n;
    if (!n) {
        if (m->nnodes == MAX_WORKERS)
            return;
        n = &m->nodes[m->nnodes++];
        memset(n, 0, sizeof(*n));
        snprintf(n->id, sizeof(n->id), "%s", id);
    }
    bool was_lost = !fresh && n->state == NODE_LOST;
    bool was_gone = was_lost || (!fresh && n->state == NODE_STOPPED);
    n->state = NODE_READY;
    n->last_seen = sl_now_us();
    char v[64] = "";
    sl_wire_str(version, v, sizeof(v));
    n->stormlight = strncmp(v, "stormlight-", 11) == 0;
    sl_wire_out_t o;
    sl_wire_begin(&o, "ack");
    msgpack_pack_map(&o.pk, 1);
    sl_wire_pack_str(&o.pk, "index");
    msgpack_pack_uint32(&o.pk, (uint32_t)(n - m->nodes));
    o.has_data = true;
    send_to(m, n, &o);
    if (m->cfg.notices && (fresh || was_lost))
        fprintf(m->cfg.notices, "stormlight: worker %s joined (%u connected)\n", id, alive(m));
    /* A worker that joins a running test gets its share. */
    if (m->running && !m->stopping && (was_gone || !n->in_run))
        dispatch(m, m->scheduled);
}

static void handle(master_t *m, const char *id, const sl_wire_msg_t *msg)
{
    if (strcmp(msg->type, "client_ready") == 0) {
        on_ready(m, id, msg->data);
        return;
    }
    node_t *n = find(m, id);
    if (!n)
        return;
    n->last_seen = sl_now_us();
    if (strcmp(msg->type, "stats") == 0) {
        bool exact;
        uint32_t users;
        sl_err_t err = {{0}};
        if (sl_payload_merge(msg->data, m->pending, m->cfg.rows, m->cfg.texts, &exact, &users,
                             &err) == 0) {
            n->users = users;
            n->final_report |= n->quit_sent;
        } else if (m->cfg.notices)
            fprintf(m->cfg.notices, "stormlight: worker %s: %s\n", id, err.msg);
    } else if (strcmp(msg->type, "heartbeat") == 0) {
        if (n->state == NODE_LOST) {
            n->state = NODE_READY;
            m->lost--;
        }
    } else if (strcmp(msg->type, "spawning_complete") == 0 || strcmp(msg->type, "spawning") == 0) {
        if (n->state == NODE_READY)
            n->state = NODE_RUNNING;
    } else if (strcmp(msg->type, "client_stopped") == 0) {
        n->state = NODE_STOPPED;
        n->stopped_run = true;
        n->users = 0;
    } else if (strcmp(msg->type, "quit") == 0) {
        n->state = NODE_STOPPED;
        n->users = 0;
        if (m->running && !m->stopping)
            dispatch(m, m->scheduled);
    } else if (strcmp(msg->type, "exception") == 0 && m->cfg.notices) {
        char text[512] = "";
        sl_wire_str(sl_wire_get(msg->data, "msg"), text, sizeof(text));
        fprintf(m->cfg.notices, "stormlight: worker %s: %s\n", id, text);
    }
}

static void drain(master_t *m)
{
    for (;;) {
        zmq_msg_t idf, body;
        zmq_msg_init(&idf);
        if (zmq_msg_recv(&idf, m->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&idf);
            int ev;
            size_t evlen = sizeof(ev);
            zmq_getsockopt(m->sock, ZMQ_EVENTS, &ev, &evlen);
            if (ev & ZMQ_POLLIN)
                continue;
            return;
        }
        char id[160];
        size_t idlen = zmq_msg_size(&idf) < sizeof(id) - 1 ? zmq_msg_size(&idf) : sizeof(id) - 1;
        memcpy(id, zmq_msg_data(&idf), idlen);
        id[idlen] = '\0';
        bool more = zmq_msg_more(&idf);
        zmq_msg_close(&idf);
        if (!more)
            continue;
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, m->sock, ZMQ_DONTWAIT) >= 0) {
            sl_wire_msg_t msg;
            sl_err_t err = {{0}};
            if (sl_wire_decode(&msg, zmq_msg_data(&body), zmq_msg_size(&body), &err) == 0)
                handle(m, id, &msg);
            sl_wire_msg_dispose(&msg);
            /* the rest of a multipart message, if any */
            while (zmq_msg_more(&body)) {
                zmq_msg_close(&body);
                zmq_msg_init(&body);
                if (zmq_msg_recv(&body, m->sock, ZMQ_DONTWAIT) < 0)
                    break;
            }
        }
        zmq_msg_close(&body);
    }
}

/* Heartbeats, lost workers, the spawn schedule. */
static void housekeeping(master_t *m, uint64_t now)
{
    if (now - m->last_beat >= HEARTBEAT_US) {
        m->last_beat = now;
        for (uint32_t i = 0; i < m->nnodes; i++) {
            node_t *n = &m->nodes[i];
            if (n->state == NODE_LOST || !n->stormlight)
                continue;
            sl_wire_out_t o;
            sl_wire_begin(&o, "heartbeat");
            msgpack_pack_map(&o.pk, 1);
            sl_wire_pack_str(&o.pk, "state");
            sl_wire_pack_str(&o.pk, m->running ? "running" : "ready");
            o.has_data = true;
            send_to(m, n, &o);
        }
    }
    bool redo = false;
    for (uint32_t i = 0; i < m->nnodes; i++) {
        node_t *n = &m->nodes[i];
        if ((n->state == NODE_READY || n->state == NODE_RUNNING) &&
            now - n->last_seen > MISSING_US) {
            n->state = NODE_LOST;
            n->users = 0;
            m->lost++;
            redo = n->in_run;
            if (m->cfg.notices)
                fprintf(m->cfg.notices,
                        "stormlight: worker %s is lost (silent for 3 s); its users go to the "
                        "others\n",
                        n->id);
        }
    }
    if (!m->running || m->stopping)
        return;
    if (now >= m->next_spawn) {
        m->next_spawn = now + SPAWN_STEP_US;
        uint32_t due = m->target;
        if (m->run.spawn_rate > 0 && !m->run.rate_per_s) {
            double k = floor((double)(now - m->t0) / 1e6 * m->run.spawn_rate) + 1;
            if (k < due)
                due = (uint32_t)k;
        }
        if (due != m->scheduled) {
            m->scheduled = due;
            redo = true;
        }
    }
    if (redo)
        dispatch(m, m->scheduled);
}

/* Waits for socket input, fds or until_us; handles what arrives. Returns 1 when an fd
 * is readable. */
static int pump(master_t *m, uint64_t until_us, const int *fds, int nfds)
{
    struct pollfd p[9];
    int np = 0;
    p[np++] = (struct pollfd){.fd = m->zfd, .events = POLLIN};
    for (int i = 0; i < nfds && np < 9; i++)
        p[np++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    drain(m);
    uint64_t now = sl_now_us();
    uint64_t wake = until_us;
    if (wake > now + SPAWN_STEP_US)
        wake = now + SPAWN_STEP_US;
    int ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
    int rc = poll(p, (nfds_t)np, ms);
    drain(m);
    housekeeping(m, sl_now_us());
    if (rc > 0)
        for (int i = 1; i < np; i++)
            if (p[i].revents)
                return 1;
    return 0;
}

/* Waits until --expect-workers joined (at least one). */
static int await_workers(master_t *m, sl_err_t *err)
{
    uint32_t expect = m->cfg.expect_workers ? m->cfg.expect_workers : 1;
    uint64_t began = sl_now_us();
    if (m->cfg.notices && alive(m) < expect)
        fprintf(m->cfg.notices, "stormlight: waiting for %u worker%s on %s:%u\n", expect,
                expect == 1 ? "" : "s", m->cfg.bind_host, (unsigned)m->cfg.bind_port);
    while (alive(m) < expect) {
        if (m->cfg.expect_max_wait_us && sl_now_us() - began > m->cfg.expect_max_wait_us) {
            sl_err_set(err, "--expect-workers: %u of %u workers joined within %llu s; gave up",
                       alive(m), expect,
                       (unsigned long long)(m->cfg.expect_max_wait_us / SL_US_PER_S));
            return SL_ELIMIT;
        }
        pump(m, sl_now_us() + 200 * SL_US_PER_MS, NULL, 0);
    }
    return 0;
}

int sl_dist_master_await(sl_backend_t *b, sl_err_t *err)
{
    return await_workers(b->b, err);
}

static int m_start(void *b, const sl_backend_run_t *run, uint64_t *t0_us, sl_err_t *err)
{
    master_t *m = b;
    int rc = await_workers(m, err);
    if (rc != 0)
        return rc;
    m->run = *run;
    m->t0 = sl_now_us();
    m->target = run->initial_users ? run->initial_users : 0;
    m->rate = run->rate_per_s;
    m->scheduled = 0;
    m->next_spawn = m->t0;
    m->running = true;
    m->stopping = false;
    housekeeping(m, m->t0);
    *t0_us = m->t0;
    return 0;
}

static sl_backend_wait_t m_wait(void *b, uint64_t until_us, const int *fds, int nfds)
{
    master_t *m = b;
    while (sl_now_us() < until_us) {
        if (pump(m, until_us, fds, nfds))
            return SL_BACKEND_INPUT;
        if (m->run.iterations) {
            bool all_done = true, any = false;
            for (uint32_t i = 0; i < m->nnodes; i++) {
                if (!m->nodes[i].in_run || m->nodes[i].state == NODE_LOST)
                    continue;
                any = true;
                all_done &= m->nodes[i].stopped_run;
            }
            if (any && all_done)
                return SL_BACKEND_DONE;
        }
        if (m->running && !alive(m)) {
            bool any_run = false;
            for (uint32_t i = 0; i < m->nnodes; i++)
                any_run |= m->nodes[i].in_run;
            if (any_run)
                return SL_BACKEND_FAILED;
        }
    }
    return SL_BACKEND_TIMEOUT;
}

static uint32_t m_set_users(void *b, uint32_t users)
{
    master_t *m = b;
    m->target = users;
    if (m->scheduled > users)
        m->scheduled = users;
    m->next_spawn = 0;
    return users;
}

static double m_set_rate(void *b, double rate)
{
    master_t *m = b;
    if (!m->run.rate_per_s)
        return 0;
    m->rate = rate;
    dispatch(m, m->scheduled);
    return rate;
}

static uint32_t reported_users(const master_t *m)
{
    uint32_t u = 0;
    for (uint32_t i = 0; i < m->nnodes; i++)
        if (m->nodes[i].state != NODE_LOST)
            u += m->nodes[i].users;
    return u;
}

static void m_collect(void *b, sl_stats_t *into, uint32_t *users)
{
    master_t *m = b;
    drain(m);
    if (into)
        sl_stats_merge(into, m->pending);
    sl_stats_reset(m->pending);
    *users = reported_users(m);
    if (*users > m->peak)
        m->peak = *users;
}

static bool m_has_on_stop(void *b)
{
    (void)b;
    return true; /* the workers' last reports come after `stop` */
}

static void m_signal_stop(void *b)
{
    master_t *m = b;
    if (m->stopping)
        return;
    m->stopping = true;
    for (uint32_t i = 0; i < m->nnodes; i++)
        if (m->nodes[i].in_run && m->nodes[i].state != NODE_LOST && !m->nodes[i].stopped_run)
            send_simple(m, &m->nodes[i], "stop");
}

static bool all_stopped(const master_t *m)
{
    for (uint32_t i = 0; i < m->nnodes; i++)
        if (m->nodes[i].in_run && m->nodes[i].state != NODE_LOST && !m->nodes[i].stopped_run)
            return false;
    return true;
}

static bool m_wait_stopped(void *b, uint64_t until_us)
{
    master_t *m = b;
    m_signal_stop(m); /* the controller is stopping: the workers stop too */
    while (!all_stopped(m) && sl_now_us() < until_us)
        pump(m, until_us, NULL, 0);
    return all_stopped(m);
}

static void m_skip_on_stop(void *b)
{
    (void)b;
}

/* Locust's Python workers send their last report only once told to quit, after sleeping
 * the stop timeout: wait for it. */
static bool finals_in(const master_t *m)
{
    for (uint32_t i = 0; i < m->nnodes; i++) {
        const node_t *n = &m->nodes[i];
        if (n->in_run && !n->stormlight && n->state != NODE_LOST && !n->final_report)
            return false;
    }
    return true;
}

static void m_stop(void *b, sl_stats_t *into, uint32_t *users)
{
    master_t *m = b;
    m_signal_stop(m);
    uint64_t deadline = sl_now_us() + m->cfg.stop_timeout_us + 3 * SL_US_PER_S;
    m_wait_stopped(m, deadline);
    m->running = false;
    for (uint32_t i = 0; i < m->nnodes; i++)
        if (m->nodes[i].state != NODE_LOST) {
            send_simple(m, &m->nodes[i], "quit");
            m->nodes[i].quit_sent = true;
        }
    while (!finals_in(m) && sl_now_us() < deadline)
        pump(m, deadline, NULL, 0);
    uint32_t u = 0;
    m_collect(m, into, &u);
    if (users)
        *users = 0;
    if (m->cfg.notices)
        fprintf(m->cfg.notices, "stormlight: workers: %u joined, %u lost\n", m->nnodes, m->lost);
}

static uint32_t m_users_started(void *b)
{
    return ((master_t *)b)->peak;
}

static bool m_failed(void *b, sl_err_t *err)
{
    master_t *m = b;
    uint32_t in_run = 0;
    for (uint32_t i = 0; i < m->nnodes; i++)
        in_run += m->nodes[i].in_run;
    if (in_run && m->lost >= in_run) {
        sl_err_set(err, "every worker was lost");
        return true;
    }
    return false;
}

static void m_release(void *b)
{
    master_t *m = b;
    free(m->class_of_user);
    m->class_of_user = NULL;
    m->class_cap = 0;
}

static void m_free(void *b)
{
    master_t *m = b;
    if (!m)
        return;
    m_release(m);
    if (m->sock) {
        int linger = 500;
        zmq_setsockopt(m->sock, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(m->sock);
    }
    if (m->zctx)
        zmq_ctx_term(m->zctx);
    sl_stats_free(m->pending);
    free(m->nodes);
    free(m);
}

static const sl_backend_ops_t master_ops = {
    .start = m_start,
    .wait = m_wait,
    .set_users = m_set_users,
    .set_rate = m_set_rate,
    .collect = m_collect,
    .has_on_stop = m_has_on_stop,
    .signal_stop = m_signal_stop,
    .wait_stopped = m_wait_stopped,
    .skip_on_stop = m_skip_on_stop,
    .stop = m_stop,
    .users_started = m_users_started,
    .failed = m_failed,
    .release = m_release,
    .free = m_free,
};

int sl_dist_master_new(sl_backend_t *out, const sl_dist_master_cfg_t *cfg, sl_err_t *err)
{
    master_t *m = calloc(1, sizeof(*m));
    if (!m || !(m->nodes = calloc(MAX_WORKERS, sizeof(*m->nodes))) ||
        !(m->pending = sl_stats_new(0, SL_HIST_WIDE))) {
        m_free(m);
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    m->cfg = *cfg;
    m->zctx = zmq_ctx_new();
    m->sock = m->zctx ? zmq_socket(m->zctx, ZMQ_ROUTER) : NULL;
    char ep[300];
    bool v6 = strchr(cfg->bind_host, ':') != NULL;
    snprintf(ep, sizeof(ep), v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", cfg->bind_host,
             (unsigned)cfg->bind_port);
    int one = 1, idle = 30;
    if (m->sock) {
        zmq_setsockopt(m->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof(one));
        zmq_setsockopt(m->sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof(idle));
        if (v6)
            zmq_setsockopt(m->sock, ZMQ_IPV6, &one, sizeof(one));
    }
    if (!m->sock || zmq_bind(m->sock, ep) != 0) {
        sl_err_set(err, "--master-bind-host/--master-bind-port: cannot listen on %s: %s", ep,
                   zmq_strerror(errno));
        m_free(m);
        return SL_EINVAL;
    }
    size_t len = sizeof(m->zfd);
    zmq_getsockopt(m->sock, ZMQ_FD, &m->zfd, &len);
    out->ops = &master_ops;
    out->b = m;
    return 0;
}

void sl_dist_master_counts(const sl_backend_t *b, uint32_t *joined, uint32_t *lost)
{
    const master_t *m = b->b;
    *joined = m->nnodes;
    *lost = m->lost;
}
