/* The distributed worker: Locust's worker protocol on one thread, the users on the local
 * backend. */
#include "dist/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include "control/control.h"
#include "dist/payload.h"
#include "dist/wire.h"

#define MAX_CLASSES 64
#define HEARTBEAT_US (1000 * SL_US_PER_MS)
#define READY_RETRY_US (5 * SL_US_PER_S)

typedef struct worker {
    const sl_dist_worker_cfg_t *cfg;
    void *zctx, *sock;
    char id[160];
    char endpoint[300];
    bool acked;
    bool master_beats; /* the master sends heartbeats (stormlight, Locust 2.19+) */
    uint64_t last_from_master, last_heartbeat, last_ready;
    uint64_t last_cpu_us, last_cpu_at;
    double cpu_percent;
    /* The run, if any. */
    sl_control_t *ctl;
    sl_backend_t local; /* wrapped by the tap backend the controller owns */
    double start_wall_s;
    bool complete_sent;
    double last_spawn_ts;
    uint32_t want_users;
    /* The master's last user_classes_count, echoed back in reports. */
    char *class_names[MAX_CLASSES];
    uint32_t class_counts[MAX_CLASSES];
    uint32_t nclasses;
    bool warned_unknown;
    uint32_t users_running;
} worker_t;

static uint64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * SL_US_PER_S +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

void sl_dist_client_id(char *buf, size_t len)
{
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    unsigned char rnd[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
        uint64_t t = sl_wall_us() ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &t, sizeof(t));
    }
    if (fd >= 0)
        close(fd);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    snprintf(buf, len, "%s_%s", host, hex);
}

static void send_out(worker_t *w, sl_wire_out_t *o)
{
    sl_wire_end(o, w->id);
    /* Non-blocking, as Locust's: a message the queue cannot take now is dropped (the
     * heartbeats and the next report follow). */
    zmq_send(w->sock, o->buf.data, o->buf.size, ZMQ_DONTWAIT);
    sl_wire_out_dispose(o);
}

static void send_simple(worker_t *w, const char *type)
{
    sl_wire_out_t o;
    sl_wire_begin(&o, type);
    send_out(w, &o);
}

static void send_ready(worker_t *w)
{
    sl_wire_out_t o;
    sl_wire_begin(&o, "client_ready");
    sl_wire_pack_str(&o.pk, SL_WIRE_VERSION);
    o.has_data = true;
    send_out(w, &o);
    w->last_ready = sl_now_us();
}

static const char *state_name(const worker_t *w)
{
    return w->ctl ? sl_control_state_name(sl_control_state(w->ctl)) : "ready";
}

static void send_heartbeat(worker_t *w, uint64_t now)
{
    uint64_t c = cpu_us();
    if (w->last_cpu_at && now > w->last_cpu_at)
        w->cpu_percent = 100.0 * (double)(c - w->last_cpu_us) / (double)(now - w->last_cpu_at);
    w->last_cpu_us = c;
    w->last_cpu_at = now;
    sl_wire_out_t o;
    sl_wire_begin(&o, "heartbeat");
    msgpack_pack_map(&o.pk, 3);
    sl_wire_pack_str(&o.pk, "state");
    sl_wire_pack_str(&o.pk, state_name(w));
    sl_wire_pack_str(&o.pk, "current_cpu_usage");
    msgpack_pack_double(&o.pk, w->cpu_percent);
    sl_wire_pack_str(&o.pk, "current_memory_usage");
    msgpack_pack_uint64(&o.pk, rss_bytes());
    o.has_data = true;
    send_out(w, &o);
    w->last_heartbeat = now;
}

static void pack_classes(worker_t *w, msgpack_packer *pk)
{
    msgpack_pack_map(pk, w->nclasses);
    for (uint32_t i = 0; i < w->nclasses; i++) {
        sl_wire_pack_str(pk, w->class_names[i]);
        msgpack_pack_uint32(pk, w->class_counts[i]);
    }
}

static void send_complete(worker_t *w)
{
    sl_wire_out_t o;
    sl_wire_begin(&o, "spawning_complete");
    msgpack_pack_map(&o.pk, 3);
    sl_wire_pack_str(&o.pk, "timestamp");
    msgpack_pack_double(&o.pk, (double)sl_wall_us() / 1e6);
    sl_wire_pack_str(&o.pk, "user_classes_count");
    pack_classes(w, &o.pk);
    sl_wire_pack_str(&o.pk, "user_count");
    msgpack_pack_uint32(&o.pk, w->want_users);
    o.has_data = true;
    send_out(w, &o);
    w->complete_sent = true;
}

/* The stats report of one interval block. */
static void send_stats(worker_t *w, const sl_stats_t *delta, uint32_t users)
{
    sl_payload_info_t info = {.user_count = users,
                              .class_names = (const char *const *)w->class_names,
                              .class_counts = w->class_counts,
                              .nclasses = w->nclasses,
                              .now_s = (double)sl_wall_us() / 1e6,
                              .start_time_s = w->start_wall_s};
    sl_wire_out_t o;
    sl_wire_begin(&o, "stats");
    sl_payload_pack(&o.pk, delta, w->cfg->local.rows, w->cfg->local.texts, &info);
    o.has_data = true;
    send_out(w, &o);
}

/* ---- the tap: the local backend, with every interval it hands over also reported ---- */

static int tap_start(void *b, const sl_backend_run_t *run, uint64_t *t0_us, sl_err_t *err)
{
    worker_t *w = b;
    return w->local.ops->start(w->local.b, run, t0_us, err);
}
static sl_backend_wait_t tap_wait(void *b, uint64_t until_us, const int *fds, int nfds)
{
    worker_t *w = b;
    return w->local.ops->wait(w->local.b, until_us, fds, nfds);
}
static uint32_t tap_set_users(void *b, uint32_t users)
{
    worker_t *w = b;
    return w->local.ops->set_users(w->local.b, users);
}
static double tap_set_rate(void *b, double rate)
{
    worker_t *w = b;
    return w->local.ops->set_rate(w->local.b, rate);
}
static void tap_collect(void *b, sl_stats_t *into, uint32_t *users)
{
    worker_t *w = b;
    w->local.ops->collect(w->local.b, into, users);
    w->users_running = *users;
    send_stats(w, into, *users);
}
static bool tap_has_on_stop(void *b)
{
    worker_t *w = b;
    return w->local.ops->has_on_stop(w->local.b);
}
static void tap_signal_stop(void *b)
{
    worker_t *w = b;
    w->local.ops->signal_stop(w->local.b);
}
static bool tap_wait_stopped(void *b, uint64_t until_us)
{
    worker_t *w = b;
    return w->local.ops->wait_stopped(w->local.b, until_us);
}
static void tap_skip_on_stop(void *b)
{
    worker_t *w = b;
    w->local.ops->skip_on_stop(w->local.b);
}
static void tap_stop(void *b, sl_stats_t *into, uint32_t *users)
{
    worker_t *w = b;
    w->local.ops->stop(w->local.b, into, users);
    if (into)
        send_stats(w, into, 0);
}
static uint32_t tap_users_started(void *b)
{
    worker_t *w = b;
    return w->local.ops->users_started(w->local.b);
}
static bool tap_failed(void *b, sl_err_t *err)
{
    worker_t *w = b;
    return w->local.ops->failed(w->local.b, err);
}
static void tap_release(void *b)
{
    worker_t *w = b;
    w->local.ops->release(w->local.b);
}
static void tap_free(void *b)
{
    worker_t *w = b;
    w->local.ops->free(w->local.b);
    w->local.b = NULL;
}

static const sl_backend_ops_t tap_ops = {
    .start = tap_start,
    .wait = tap_wait,
    .set_users = tap_set_users,
    .set_rate = tap_set_rate,
    .collect = tap_collect,
    .has_on_stop = tap_has_on_stop,
    .signal_stop = tap_signal_stop,
    .wait_stopped = tap_wait_stopped,
    .skip_on_stop = tap_skip_on_stop,
    .stop = tap_stop,
    .users_started = tap_users_started,
    .failed = tap_failed,
    .release = tap_release,
    .free = tap_free,
};

/* ---- the messages from the master ---- */

static void free_classes(worker_t *w)
{
    for (uint32_t i = 0; i < w->nclasses; i++)
        free(w->class_names[i]);
    w->nclasses = 0;
}

/* The users this file runs of the master's user_classes_count. */
static uint32_t read_classes(worker_t *w, const msgpack_object *ucc)
{
    free_classes(w);
    const sl_plan_t *plan = w->cfg->local.plan;
    uint64_t users = 0;
    if (!ucc || ucc->type != MSGPACK_OBJECT_MAP)
        return 0;
    for (uint32_t i = 0; i < ucc->via.map.size && w->nclasses < MAX_CLASSES; i++) {
        char name[128];
        uint64_t n;
        if (!sl_wire_str(&ucc->via.map.ptr[i].key, name, sizeof(name)) ||
            !sl_wire_u64(&ucc->via.map.ptr[i].val, &n))
            continue;
        bool known = plan->nclasses == 0;
        for (size_t c = 0; c < plan->nclasses && !known; c++)
            known = strcmp(plan->classes[c].name, name) == 0;
        if (!known && n) {
            if (!w->warned_unknown && w->cfg->notices)
                fprintf(w->cfg->notices,
                        "stormlight: the master asks for users of class '%s', which %s does "
                        "not define: they are not run\n",
                        name, plan->file ? plan->file : "the scenario");
            w->warned_unknown = true;
            n = 0;
        }
        char *copy = strdup(name);
        if (!copy)
            continue;
        w->class_names[w->nclasses] = copy;
        w->class_counts[w->nclasses++] = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
        users += n;
    }
    return users > UINT32_MAX ? UINT32_MAX : (uint32_t)users;
}

static void end_run(worker_t *w)
{
    if (!w->ctl)
        return;
    sl_control_stop(w->ctl, SL_STOP_REQUEST, 0);
    while (sl_control_state(w->ctl) != SL_CONTROL_STOPPED)
        sl_control_step(w->ctl, -1);
    sl_control_result_t res;
    sl_control_result(w->ctl, &res);
    if (res.worker_failed && w->cfg->notices)
        fprintf(w->cfg->notices, "stormlight: %s\n", res.error.msg);
    sl_control_free(w->ctl);
    w->ctl = NULL;
}

static int start_run(worker_t *w, uint32_t users, const msgpack_object *extra, sl_err_t *err)
{
    /* A stormlight master's share of --iterations and --rate. */
    uint64_t iterations = 0;
    double rate = 0;
    sl_wire_u64(sl_wire_get(extra, "iterations"), &iterations);
    sl_wire_num(sl_wire_get(extra, "rate_per_s"), &rate);
    if (!(rate > 0))
        rate = 0;
    if (sl_local_backend_new(&w->local, &w->cfg->local) != 0) {
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    sl_control_cfg_t cc = {.backend = {.ops = &tap_ops, .b = w},
                           .rows = w->cfg->local.rows,
                           .texts = w->cfg->local.texts,
                           .host = w->cfg->host,
                           .stop_timeout_us = w->cfg->local.stop_timeout_us,
                           .notices = w->cfg->notices};
    w->ctl = sl_control_new(&cc, err);
    if (!w->ctl)
        return SL_ENOMEM;
    /* The master drives the ramp with its spawn messages: each one's users start at once.
     * Room is kept for the users later messages add. */
    sl_control_params_t p = {.users = users,
                             .spawn_rate = users ? (double)users * 10.0 : 1.0,
                             .threads = w->cfg->threads,
                             .seed = w->cfg->seed,
                             .iterations = iterations,
                             .rate_per_s = rate,
                             .room_for_keys = rate == 0};
    w->start_wall_s = (double)sl_wall_us() / 1e6;
    int rc = sl_control_start(w->ctl, &p, err);
    if (rc != 0) {
        sl_control_free(w->ctl);
        w->ctl = NULL;
    }
    return rc;
}

static void on_spawn(worker_t *w, const msgpack_object *data)
{
    send_simple(w, "spawning");
    double ts = 0;
    sl_wire_num(sl_wire_get(data, "timestamp"), &ts);
    if (ts <= w->last_spawn_ts)
        return; /* an older or repeated spawn message, as Locust's worker discards */
    w->last_spawn_ts = ts;
    uint32_t users = read_classes(w, sl_wire_get(data, "user_classes_count"));
    w->want_users = users;
    w->complete_sent = false;
    if (w->ctl && sl_control_state(w->ctl) != SL_CONTROL_STOPPED &&
        sl_control_state(w->ctl) != SL_CONTROL_STOPPING) {
        uint32_t now = sl_control_set_users(w->ctl, users);
        if (now != users && w->cfg->notices)
            fprintf(w->cfg->notices,
                    "stormlight: the master asks for %u users here; this run has room for %u\n",
                    users, now);
        return;
    }
    end_run(w);
    if (users == 0) {
        send_complete(w);
        return;
    }
    sl_err_t err = {{0}};
    if (start_run(w, users, sl_wire_get(data, "stormlight"), &err) != 0) {
        sl_wire_out_t o;
        sl_wire_begin(&o, "exception");
        msgpack_pack_map(&o.pk, 2);
        sl_wire_pack_str(&o.pk, "msg");
        sl_wire_pack_str(&o.pk, err.msg);
        sl_wire_pack_str(&o.pk, "traceback");
        sl_wire_pack_str(&o.pk, "");
        o.has_data = true;
        send_out(w, &o);
        if (w->cfg->notices)
            fprintf(w->cfg->notices, "stormlight: cannot start the users: %s\n", err.msg);
    }
}

static void on_stop(worker_t *w)
{
    end_run(w);
    send_simple(w, "client_stopped");
    send_ready(w);
}

static void reconnect(worker_t *w)
{
    int zero = 0;
    zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(w->sock);
    w->sock = zmq_socket(w->zctx, ZMQ_DEALER);
    int one = 1, idle = 30, linger = 1000;
    zmq_setsockopt(w->sock, ZMQ_IDENTITY, w->id, strlen(w->id));
    zmq_setsockopt(w->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof(one));
    zmq_setsockopt(w->sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof(idle));
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_connect(w->sock, w->endpoint);
    send_ready(w);
}

enum { GO_ON = 0, QUIT = 1 };

static int handle(worker_t *w, const sl_wire_msg_t *m)
{
    w->last_from_master = sl_now_us();
    if (strcmp(m->type, "ack") == 0) {
        if (!w->acked && w->cfg->notices) {
            uint64_t index = 0;
            sl_wire_u64(sl_wire_get(m->data, "index"), &index);
            fprintf(w->cfg->notices, "stormlight: joined the master at %s as %s (index %llu)\n",
                    w->endpoint, w->id, (unsigned long long)index);
        }
        w->acked = true;
    } else if (strcmp(m->type, "spawn") == 0) {
        on_spawn(w, m->data);
    } else if (strcmp(m->type, "stop") == 0) {
        on_stop(w);
    } else if (strcmp(m->type, "quit") == 0) {
        end_run(w);
        return QUIT;
    } else if (strcmp(m->type, "reconnect") == 0) {
        reconnect(w);
    } else if (strcmp(m->type, "heartbeat") == 0) {
        w->master_beats = true;
    }
    return GO_ON;
}

static int drain(worker_t *w)
{
    for (;;) {
        zmq_msg_t zm;
        zmq_msg_init(&zm);
        if (zmq_msg_recv(&zm, w->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&zm);
            /* Reading the events re-arms the notification fd. */
            int ev;
            size_t evlen = sizeof(ev);
            zmq_getsockopt(w->sock, ZMQ_EVENTS, &ev, &evlen);
            if (ev & ZMQ_POLLIN)
                continue;
            return GO_ON;
        }
        sl_wire_msg_t m;
        sl_err_t err = {{0}};
        int rc = GO_ON;
        if (sl_wire_decode(&m, zmq_msg_data(&zm), zmq_msg_size(&zm), &err) == 0)
            rc = handle(w, &m);
        else if (w->cfg->notices)
            fprintf(w->cfg->notices, "stormlight: ignored a message from the master: %s\n",
                    err.msg);
        sl_wire_msg_dispose(&m);
        zmq_msg_close(&zm);
        if (rc == QUIT)
            return QUIT;
    }
}

int sl_dist_worker_run(const sl_dist_worker_cfg_t *cfg, sl_err_t *err)
{
    worker_t *w = calloc(1, sizeof(*w));
    if (!w) {
        sl_err_set(err, "out of memory");
        return 2;
    }
    w->cfg = cfg;
    sl_dist_client_id(w->id, sizeof(w->id));
    bool v6 = strchr(cfg->master_host, ':') != NULL;
    snprintf(w->endpoint, sizeof(w->endpoint), v6 ? "tcp://[%s]:%u" : "tcp://%s:%u",
             cfg->master_host, (unsigned)cfg->master_port);
    int code = 2;
    w->zctx = zmq_ctx_new();
    w->sock = w->zctx ? zmq_socket(w->zctx, ZMQ_DEALER) : NULL;
    if (!w->sock) {
        sl_err_set(err, "ZeroMQ: %s", zmq_strerror(errno));
        goto out;
    }
    int one = 1, idle = 30, linger = 1000;
    zmq_setsockopt(w->sock, ZMQ_IDENTITY, w->id, strlen(w->id));
    zmq_setsockopt(w->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof(one));
    zmq_setsockopt(w->sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof(idle));
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (v6)
        zmq_setsockopt(w->sock, ZMQ_IPV6, &one, sizeof(one));
    if (zmq_connect(w->sock, w->endpoint) != 0) {
        sl_err_set(err, "--master-host: cannot connect to %s: %s", w->endpoint,
                   zmq_strerror(errno));
        goto out;
    }
    int zfd = -1;
    size_t zfdlen = sizeof(zfd);
    zmq_getsockopt(w->sock, ZMQ_FD, &zfd, &zfdlen);
    uint64_t began = sl_now_us();
    send_ready(w);
    code = 0;
    for (;;) {
        if (cfg->stop_flag && *cfg->stop_flag) {
            end_run(w);
            send_simple(w, "quit");
            break;
        }
        if (w->ctl && sl_control_state(w->ctl) != SL_CONTROL_STOPPED) {
            sl_control_step(w->ctl, zfd);
            if (!w->complete_sent && sl_control_state(w->ctl) == SL_CONTROL_RUNNING)
                send_complete(w);
            /* The run ended here (its share of --iterations): the master hears it. */
            if (sl_control_state(w->ctl) == SL_CONTROL_STOPPED) {
                end_run(w);
                send_simple(w, "client_stopped");
            }
        } else {
            zmq_pollitem_t it = {.socket = w->sock, .events = ZMQ_POLLIN};
            zmq_poll(&it, 1, 200);
        }
        if (drain(w) == QUIT)
            break;
        uint64_t now = sl_now_us();
        if (!w->acked) {
            if (now - began > cfg->connect_timeout_us) {
                sl_err_set(err, "no master answered at %s within %llu s", w->endpoint,
                           (unsigned long long)(cfg->connect_timeout_us / SL_US_PER_S));
                code = 1;
                break;
            }
            if (now - w->last_ready > READY_RETRY_US)
                send_ready(w);
            continue;
        }
        if (now - w->last_heartbeat >= HEARTBEAT_US)
            send_heartbeat(w, now);
        if (w->master_beats && now - w->last_from_master > cfg->master_timeout_us) {
            sl_err_set(err, "the master at %s sent nothing for %llu s: stopped the users",
                       w->endpoint, (unsigned long long)(cfg->master_timeout_us / SL_US_PER_S));
            end_run(w);
            code = 1;
            break;
        }
    }
out:
    end_run(w);
    free_classes(w);
    if (w->sock)
        zmq_close(w->sock);
    if (w->zctx)
        zmq_ctx_term(w->zctx);
    free(w);
    return code;
}
