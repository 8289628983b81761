/* The embedded web server (see server.h for the threads and what each may touch). */
#include "web/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/duration.h"
#include "report/csv.h"
#include "report/html.h"
#include "report/report.h"
#include "web/assets.h"
#include "web/metrics.h"
#include "web/render.h"

/* History points the live stream keeps: past this, every other one is dropped (ids keep
 * their gaps), so a day-long run replays in a few hundred KiB. */
#define WEB_MAX_POINTS 2000
/* Concurrent connections (each live stream holds one thread). */
#define WEB_MAX_CONNECTIONS 64
/* A live stream sends a comment this often when nothing happens, so proxies and browsers
 * keep it open. */
#define WEB_KEEPALIVE_S 10
/* The largest form a POST may send. */
#define WEB_MAX_POST 4096

/* The documents rendered by the main thread, by route. */
enum {
    DOC_STATS,     /* /stats/requests */
    DOC_STATS_CSV, /* /stats/requests/csv */
    DOC_FAIL_CSV,  /* /stats/failures/csv */
    DOC_EXC,       /* /exceptions */
    DOC_EXC_CSV,   /* /exceptions/csv */
    DOC_METRICS,   /* /metrics */
    DOC_SUMMARY,   /* /stats/summary.json */
    DOC_REPORT,    /* /stats/report */
    DOC_TABLE,     /* the latest "table" event */
    NDOCS,
};

typedef struct buf {
    char *data;
    size_t len;
} buf_t;

typedef struct point {
    uint64_t id;
    buf_t json;
} point_t;

struct sl_web {
    sl_web_cfg_t cfg;
    struct MHD_Daemon *daemon;
    int listen_fd;
    char url[128];

    /* Main thread only. */
    sl_metrics_t *metrics;
    size_t seen_history; /* history points of the attached run already published */
    int last_state;
    bool waiting;  /* the attached controller has not started yet */
    bool counted;  /* sl_web_tick counted an interval the documents do not show yet */
    bool loopback; /* listening on loopback only: the Host check applies */
    unsigned ticks_since_report;

    /* Shared: everything below under mu. */
    pthread_mutex_t mu;
    pthread_cond_t changed;
    bool closing;
    sl_control_t *ctl;
    buf_t docs[NDOCS];
    point_t *points;
    size_t npoints;
    uint64_t next_id; /* ids of events: one per history point, never reused */
    uint64_t run;     /* runs started through this server (the page clears its charts) */
    uint64_t version; /* bumped on every publication */
};

/* ---- main thread: rendering ---- */

typedef void (*render_fn)(FILE *f, const sl_snapshot_t *s, void *ctx);

/* Renders into a fresh buffer (open_memstream); false when memory ran out. */
static bool render(buf_t *out, render_fn fn, const sl_snapshot_t *s, void *ctx)
{
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    if (!f)
        return false;
    fn(f, s, ctx);
    bool ok = !ferror(f);
    if (fclose(f) != 0 || !ok) {
        free(data);
        return false;
    }
    out->data = data;
    out->len = len;
    return true;
}

typedef struct render_ctx {
    sl_web_t *web;
    const char *state;
    uint32_t users;
    uint64_t id;
} render_ctx_t;

static void r_stats(FILE *f, const sl_snapshot_t *s, void *c)
{
    render_ctx_t *x = c;
    sl_web_locust_stats(f, s, x->state, x->users);
}
static void r_stats_csv(FILE *f, const sl_snapshot_t *s, void *c)
{
    (void)c;
    if (s)
        sl_csv_write_stats(f, s);
}
static void r_fail_csv(FILE *f, const sl_snapshot_t *s, void *c)
{
    (void)c;
    if (s)
        sl_csv_write_failures(f, s);
}
static void r_exc(FILE *f, const sl_snapshot_t *s, void *c)
{
    (void)c;
    sl_web_locust_exceptions(f, s);
}
static void r_exc_csv(FILE *f, const sl_snapshot_t *s, void *c)
{
    (void)c;
    if (s)
        sl_csv_write_exceptions(f, s);
}
static void r_metrics(FILE *f, const sl_snapshot_t *s, void *c)
{
    render_ctx_t *x = c;
    sl_metrics_write(x->web->metrics, s, x->state, f);
}
static void r_summary(FILE *f, const sl_snapshot_t *s, void *c)
{
    (void)c;
    if (s)
        sl_report_json_write(f, s, false);
}
static void r_report(FILE *f, const sl_snapshot_t *s, void *c)
{
    render_ctx_t *x = c;
    if (s)
        sl_html_write(f, s, x->web->cfg.scenario_file, x->web->cfg.timeout_us);
}
static void r_table(FILE *f, const sl_snapshot_t *s, void *c)
{
    render_ctx_t *x = c;
    const sl_control_params_t *p = &x->web->cfg.params;
    sl_web_form_t form = {.host = x->web->cfg.target_host,
                          .users = p->users,
                          .spawn_rate = p->spawn_rate,
                          .duration_us = p->duration_us,
                          .rate_per_s = p->rate_per_s};
    sl_web_table_event(f, s, x->state, x->id, &form);
}
static void r_point(FILE *f, const sl_snapshot_t *s, void *c)
{
    render_ctx_t *x = c;
    sl_web_point_event(f, s, x->id);
}

/* Drops every other point, keeping the newest, when the history is full. */
static void thin_points(sl_web_t *web)
{
    size_t keep = 0;
    for (size_t i = 0; i < web->npoints; i++) {
        if ((web->npoints - 1 - i) % 2 == 0)
            web->points[keep++] = web->points[i];
        else
            free(web->points[i].json.data);
    }
    web->npoints = keep;
}

void sl_web_update(sl_web_t *web, sl_control_t *ctl)
{
    if (!ctl)
        return;
    int state = sl_control_state(ctl);
    const sl_snapshot_t *s = sl_control_snapshot(ctl);
    bool new_run = false;
    if (web->waiting) {
        /* A fresh controller: nothing of it is published until it starts, so the page
         * keeps showing the last run. */
        if (state == SL_CONTROL_READY)
            return;
        web->waiting = false;
        new_run = true;
    }
    size_t nhist = s ? s->nhistory : 0;
    bool fresh = nhist > web->seen_history;
    if (!fresh && !web->counted && state == web->last_state && !new_run)
        return;
    web->counted = false;
    web->last_state = state;
    sl_control_status_t st;
    sl_control_status(ctl, &st);
    render_ctx_t x = {.web = web,
                      .state = sl_control_state_name((sl_control_state_t)state),
                      .users = s ? s->users_running : 0};
    pthread_mutex_lock(&web->mu);
    x.id = web->next_id;
    pthread_mutex_unlock(&web->mu);

    buf_t docs[NDOCS] = {{0}};
    render_fn fns[NDOCS] = {
        [DOC_STATS] = r_stats,     [DOC_STATS_CSV] = r_stats_csv, [DOC_FAIL_CSV] = r_fail_csv,
        [DOC_EXC] = r_exc,         [DOC_EXC_CSV] = r_exc_csv,     [DOC_METRICS] = r_metrics,
        [DOC_SUMMARY] = r_summary, [DOC_REPORT] = r_report,       [DOC_TABLE] = r_table};
    /* The HTML report and the JSON summary are the heavy ones: every 5 s, and at the end. */
    bool heavy = state == SL_CONTROL_STOPPED || ++web->ticks_since_report >= 5;
    if (heavy)
        web->ticks_since_report = 0;
    point_t pt = {0};
    bool have_point = false;
    if (fresh && s) {
        pt.id = x.id;
        have_point = render(&pt.json, r_point, s, &x);
        if (have_point)
            x.id++;
    }
    render_ctx_t tx = x;
    tx.id = have_point ? pt.id : x.id;
    for (int d = 0; d < NDOCS; d++) {
        if (!heavy && (d == DOC_SUMMARY || d == DOC_REPORT))
            continue;
        render(&docs[d], fns[d], s, d == DOC_TABLE ? &tx : &x);
    }

    pthread_mutex_lock(&web->mu);
    if (new_run) {
        for (size_t i = 0; i < web->npoints; i++)
            free(web->points[i].json.data);
        web->npoints = 0;
        web->run++;
    }
    for (int d = 0; d < NDOCS; d++) {
        if (!docs[d].data)
            continue; /* not rendered (or no memory): the last one stays */
        free(web->docs[d].data);
        web->docs[d] = docs[d];
    }
    if (have_point) {
        if (web->npoints == WEB_MAX_POINTS)
            thin_points(web);
        web->points[web->npoints++] = pt;
        web->next_id = pt.id + 1;
    }
    web->version++;
    pthread_cond_broadcast(&web->changed);
    pthread_mutex_unlock(&web->mu);
    web->seen_history = nhist;
}

void sl_web_tick(sl_web_t *web, const sl_snapshot_t *snap)
{
    sl_metrics_add_interval(web->metrics, snap);
    web->counted = true;
}

void sl_web_attach(sl_web_t *web, sl_control_t *ctl)
{
    if (ctl) {
        web->waiting = true;
        web->seen_history = 0;
        web->last_state = SL_CONTROL_READY;
    }
    pthread_mutex_lock(&web->mu);
    web->ctl = ctl;
    pthread_mutex_unlock(&web->mu);
}

/* ---- server threads ---- */

typedef struct conn {
    bool is_post;
    struct MHD_PostProcessor *pp;
    char users[32], spawn_rate[32], host[512], run_time[64], rate[32];
    bool too_big;
    size_t posted;
} conn_t;

static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    conn_t *c = cls;
    char *dst = NULL;
    size_t cap = 0;
    if (!strcmp(key, "user_count"))
        dst = c->users, cap = sizeof(c->users);
    else if (!strcmp(key, "spawn_rate"))
        dst = c->spawn_rate, cap = sizeof(c->spawn_rate);
    else if (!strcmp(key, "host"))
        dst = c->host, cap = sizeof(c->host);
    else if (!strcmp(key, "run_time"))
        dst = c->run_time, cap = sizeof(c->run_time);
    else if (!strcmp(key, "rate"))
        dst = c->rate, cap = sizeof(c->rate);
    if (!dst)
        return MHD_YES; /* Locust's other fields (user_classes, shape_class): not here */
    if (off + size >= cap) {
        c->too_big = true;
        return MHD_YES;
    }
    memcpy(dst + off, data, size);
    dst[off + size] = '\0';
    return MHD_YES;
}

static enum MHD_Result send_bytes(struct MHD_Connection *con, unsigned status, const char *type,
                                  const char *data, size_t len, const char *filename)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (filename) {
        char cd[160];
        snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(r, "Content-Disposition", cd);
    }
    enum MHD_Result ret = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *con, unsigned status, const char *text)
{
    return send_bytes(con, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

static enum MHD_Result send_json_msg(struct MHD_Connection *con, bool ok, const char *msg,
                                     const char *host)
{
    char body[1024];
    /* msg and host come from us (host: the run's URL, validated at start). */
    snprintf(body, sizeof(body), "{\"success\": %s, \"message\": \"%s\", \"host\": \"%s\"}\n",
             ok ? "true" : "false", msg, host ? host : "");
    return send_bytes(con, ok ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST, "application/json", body,
                      strlen(body), NULL);
}

/* A published document, copied under the lock. */
static enum MHD_Result send_doc(sl_web_t *web, struct MHD_Connection *con, int d, const char *type,
                                const char *filename)
{
    pthread_mutex_lock(&web->mu);
    buf_t b = web->docs[d];
    enum MHD_Result ret;
    if (b.data)
        ret = send_bytes(con, MHD_HTTP_OK, type, b.data, b.len, filename);
    else if (d == DOC_SUMMARY || d == DOC_REPORT)
        ret = send_text(con, MHD_HTTP_NOT_FOUND, "no run yet\n");
    else
        ret = MHD_NO; /* cannot happen after the first update */
    pthread_mutex_unlock(&web->mu);
    return ret;
}

static bool parse_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* POST /swarm: start a ready run with the form's values, or change a running one's users
 * (and rate), as Locust does when the form is sent again. */
static enum MHD_Result swarm(sl_web_t *web, struct MHD_Connection *con, conn_t *c)
{
    const char *host = web->cfg.target_host;
    if (c->too_big)
        return send_json_msg(con, false, "a form field is too long", host);
    sl_control_params_t p = web->cfg.params;
    double v;
    if (c->users[0]) {
        if (!parse_number(c->users, 1, 10000000, &v) || v != (double)(uint32_t)v)
            return send_json_msg(con, false, "user_count: expected a positive integer", host);
        p.users = (uint32_t)v;
    }
    if (c->spawn_rate[0]) {
        if (!parse_number(c->spawn_rate, 1e-6, 1e9, &v))
            return send_json_msg(con, false, "spawn_rate: expected a positive number", host);
        p.spawn_rate = v;
    }
    if (c->rate[0]) {
        if (!parse_number(c->rate, 1e-6, 1e9, &v))
            return send_json_msg(con, false, "rate: expected a positive number", host);
        if (p.rate_per_s <= 0)
            return send_json_msg(con, false,
                                 "rate: this run is a closed model (start with --rate for an "
                                 "open one)",
                                 host);
        p.rate_per_s = v;
    }
    if (c->run_time[0]) {
        sl_err_t derr;
        uint64_t us;
        char t[80];
        /* Locust takes a bare number as seconds. */
        snprintf(t, sizeof(t), "%s%s", c->run_time,
                 strspn(c->run_time, "0123456789") == strlen(c->run_time) ? "s" : "");
        if (sl_duration_parse(t, &us, &derr) != 0)
            return send_json_msg(
                con, false, "run_time: valid formats are 20, 20s, 3m, 2h, 1h20m, 3h30m10s", host);
        p.duration_us = us;
    }
    if (c->host[0] && host && strcmp(c->host, host) != 0 &&
        !(strlen(c->host) + 1 == strlen(host) && !strncmp(c->host, host, strlen(c->host)) &&
          host[strlen(host) - 1] == '/'))
        return send_json_msg(con, false,
                             "host: this run loads the host it was started with (-H); start "
                             "stormlight again with -H to load another",
                             host);
    pthread_mutex_lock(&web->mu);
    sl_control_t *ctl = web->ctl;
    sl_control_status_t st = {0};
    if (ctl)
        sl_control_status(ctl, &st);
    int rc = -1;
    const char *msg = "not ready for a new test yet";
    bool ok = false;
    if (ctl && st.state == SL_CONTROL_READY) {
        sl_control_cmd_t cmd = {.kind = SL_CMD_START, .params = p};
        rc = sl_control_post(ctl, &cmd);
        ok = rc == 0;
        msg = ok ? "Swarming started" : "too many commands waiting";
    } else if (ctl && (st.state == SL_CONTROL_STARTING || st.state == SL_CONTROL_RUNNING)) {
        sl_control_cmd_t cmd =
            p.rate_per_s > 0
                ? (sl_control_cmd_t){.kind = SL_CMD_SET_RATE, .rate_per_s = p.rate_per_s}
                : (sl_control_cmd_t){.kind = SL_CMD_SET_USERS, .users = p.users};
        rc = sl_control_post(ctl, &cmd);
        ok = rc == 0;
        msg = ok ? "Swarming started" : "too many commands waiting";
    } else if (ctl && st.state == SL_CONTROL_STOPPING) {
        msg = "the test is stopping";
    }
    pthread_mutex_unlock(&web->mu);
    return send_json_msg(con, ok, msg, host);
}

static enum MHD_Result post_command(sl_web_t *web, struct MHD_Connection *con,
                                    sl_control_cmd_kind_t kind, const char *done)
{
    pthread_mutex_lock(&web->mu);
    int rc = web->ctl ? sl_control_post(web->ctl, &(sl_control_cmd_t){.kind = kind}) : -1;
    pthread_mutex_unlock(&web->mu);
    if (kind == SL_CMD_RESET_STATS)
        return rc == 0 ? send_text(con, MHD_HTTP_OK, "ok")
                       : send_text(con, MHD_HTTP_SERVICE_UNAVAILABLE, "busy");
    char body[128];
    snprintf(body, sizeof(body), "{\"success\": %s, \"message\": \"%s\"}\n",
             rc == 0 ? "true" : "false", rc == 0 ? done : "no test to stop");
    return send_bytes(con, MHD_HTTP_OK, "application/json", body, strlen(body), NULL);
}

/* ---- live events ---- */

typedef struct stream {
    sl_web_t *web;
    uint64_t next_id; /* the first point not sent yet */
    uint64_t version; /* the publication last sent */
    uint64_t run;
    char *pending; /* bytes still to hand to the connection */
    size_t len, off;
    bool started;
} stream_t;

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return; /* out of memory: the event is cut, the page resynchronises later */
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void append_event(char **buf, size_t *len, size_t *cap, const char *type, uint64_t id,
                         const buf_t *data)
{
    char head[64];
    int n = id ? snprintf(head, sizeof(head), "event: %s\nid: %llu\ndata: ", type,
                          (unsigned long long)id)
               : snprintf(head, sizeof(head), "event: %s\ndata: ", type);
    append(buf, len, cap, head, (size_t)n);
    append(buf, len, cap, data->data, data->len);
    append(buf, len, cap, "\n\n", 2);
}

/* Collects what the stream has not sent yet: the points after its last one (all of them
 * for a new stream: the whole history) and the latest table. Under web->mu. */
static void collect(stream_t *st)
{
    sl_web_t *web = st->web;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (st->run != web->run) {
        char hello[64];
        int n = snprintf(hello, sizeof(hello), "event: run\ndata: {\"run\": %llu}\n\n",
                         (unsigned long long)web->run);
        append(&buf, &len, &cap, hello, (size_t)n);
        st->run = web->run;
        st->next_id = 0;
    }
    for (size_t i = 0; i < web->npoints; i++) {
        if (web->points[i].id < st->next_id)
            continue;
        append_event(&buf, &len, &cap, "point", web->points[i].id + 1, &web->points[i].json);
    }
    if (web->npoints)
        st->next_id = web->points[web->npoints - 1].id + 1;
    if (web->docs[DOC_TABLE].data)
        append_event(&buf, &len, &cap, "table", 0, &web->docs[DOC_TABLE]);
    st->version = web->version;
    st->pending = buf;
    st->len = len;
    st->off = 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    stream_t *st = cls;
    sl_web_t *web = st->web;
    if (st->off == st->len) {
        free(st->pending);
        st->pending = NULL;
        st->len = st->off = 0;
        pthread_mutex_lock(&web->mu);
        if (st->started) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += WEB_KEEPALIVE_S;
            while (!web->closing && web->version == st->version)
                if (pthread_cond_timedwait(&web->changed, &web->mu, &until) == ETIMEDOUT)
                    break;
        }
        bool closing = web->closing;
        if (!closing && (web->version != st->version || !st->started))
            collect(st);
        pthread_mutex_unlock(&web->mu);
        st->started = true;
        if (closing)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (!st->len) {
            static const char ping[] = ": keep-alive\n\n";
            size_t n = sizeof(ping) - 1 < max ? sizeof(ping) - 1 : max;
            memcpy(out, ping, n);
            return (ssize_t)n;
        }
    }
    size_t n = st->len - st->off < max ? st->len - st->off : max;
    memcpy(out, st->pending + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_t *st = cls;
    free(st->pending);
    free(st);
}

static enum MHD_Result events(sl_web_t *web, struct MHD_Connection *con)
{
    stream_t *st = calloc(1, sizeof(*st));
    if (!st)
        return MHD_NO;
    st->web = web;
    /* A reconnect resumes after the last point it saw (the browser sends its id). */
    const char *last = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Last-Event-ID");
    pthread_mutex_lock(&web->mu);
    st->run = web->run;
    pthread_mutex_unlock(&web->mu);
    if (last && *last)
        st->next_id = strtoull(last, NULL, 10);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st, stream_free);
    if (!r) {
        free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(con, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- routing ---- */

/* Basic authentication (--web-auth): the credentials compared in full, in time that does
 * not depend on where they differ. */
static bool same(const char *a, const char *b, size_t n)
{
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static bool authorized(const sl_web_t *web, struct MHD_Connection *con)
{
    const char *auth = web->cfg.auth;
    if (!auth)
        return true;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(con, &pass);
    bool ok = false;
    if (user && pass) {
        size_t ul = strlen(user), pl = strlen(pass), al = strlen(auth);
        const char *colon = strchr(auth, ':');
        ok = colon && (size_t)(colon - auth) == ul && al == ul + 1 + pl && same(auth, user, ul) &&
             same(colon + 1, pass, pl);
    }
    MHD_free(user);
    MHD_free(pass);
    return ok;
}

/* On loopback the page must be asked for by a loopback name: a page of another site whose
 * name was made to resolve to 127.0.0.1 (DNS rebinding) sends its own name as Host. */
static bool foreign_host(const sl_web_t *web, struct MHD_Connection *con)
{
    if (!web->loopback)
        return false;
    const char *host = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host");
    if (!host)
        return false; /* HTTP/1.0 scripts */
    size_t n = host[0] == '[' ? (size_t)(strchr(host, ']') ? strchr(host, ']') - host + 1 : 0)
                              : strcspn(host, ":");
    return !((n == 9 && !strncmp(host, "localhost", 9)) || (n == 5 && !strncmp(host, "[::1]", 5)) ||
             (n >= 7 && !strncmp(host, "127.", 4) && strspn(host, "0123456789.") == n));
}

/* A request that changes the run (start, stop, reset) from a page of another site is
 * refused: a browser sends Origin with it, and it must name this server (the Host the
 * browser asked for). Scripts (curl, Locust clients) send no Origin and pass. */
static bool foreign_origin(struct MHD_Connection *con)
{
    const char *origin = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return false;
    const char *host = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host");
    const char *sep = strstr(origin, "://");
    return !host || !sep || strcmp(sep + 3, host) != 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    sl_web_t *web = cls;
    bool post = !strcmp(method, "POST");
    if (!*con_cls) {
        conn_t *c = calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        c->is_post = post;
        if (post && !strcmp(url, "/swarm"))
            c->pp = MHD_create_post_processor(con, 1024, post_field, c);
        *con_cls = c;
        return MHD_YES;
    }
    conn_t *c = *con_cls;
    if (post && *upload_size) {
        c->posted += *upload_size;
        if (c->posted > WEB_MAX_POST)
            c->too_big = true;
        else if (c->pp)
            MHD_post_process(c->pp, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (foreign_host(web, con))
        return send_text(con, MHD_HTTP_FORBIDDEN,
                         "forbidden: this web UI answers to 127.0.0.1 and localhost only\n");
    if (!authorized(web, con)) {
        static const char msg[] = "stormlight: authentication required (--web-auth)\n";
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        enum MHD_Result ret = MHD_queue_basic_auth_fail_response(con, "stormlight", r);
        MHD_destroy_response(r);
        return ret;
    }
    bool changes =
        (post && !strcmp(url, "/swarm")) || !strcmp(url, "/stop") || !strcmp(url, "/stats/reset");
    if (changes && foreign_origin(con))
        return send_text(con, MHD_HTTP_FORBIDDEN,
                         "forbidden: a page of another origin may not control this test\n");
    if (post) {
        if (!strcmp(url, "/swarm"))
            return swarm(web, con, c);
        return send_text(con, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_text(con, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or POST\n");
    if (!strcmp(url, "/events"))
        return events(web, con);
    if (!strcmp(url, "/stop"))
        return post_command(web, con, SL_CMD_STOP, "Test stopped");
    if (!strcmp(url, "/stats/reset"))
        return post_command(web, con, SL_CMD_RESET_STATS, "");
    static const struct {
        const char *url;
        int doc;
        const char *type, *filename;
    } docs[] = {
        {"/stats/requests", DOC_STATS, "application/json", NULL},
        {"/stats/requests/csv", DOC_STATS_CSV, "text/csv", "requests.csv"},
        {"/stats/failures/csv", DOC_FAIL_CSV, "text/csv", "failures.csv"},
        {"/exceptions", DOC_EXC, "application/json", NULL},
        {"/exceptions/csv", DOC_EXC_CSV, "text/csv", "exceptions.csv"},
        {"/metrics", DOC_METRICS, "text/plain; version=0.0.4; charset=utf-8", NULL},
        {"/stats/summary.json", DOC_SUMMARY, "application/json", "stormlight-summary.json"},
        {"/stats/report", DOC_REPORT, "text/html; charset=utf-8", NULL},
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        if (!strcmp(url, docs[i].url))
            return send_doc(web, con, docs[i].doc, docs[i].type, docs[i].filename);
    const sl_web_asset_t *a = sl_web_asset(url);
    if (a)
        return send_bytes(con, MHD_HTTP_OK, a->type, (const char *)a->data, a->len, NULL);
    return send_text(con, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)con, (void)toe;
    conn_t *c = *con_cls;
    if (!c)
        return;
    if (c->pp)
        MHD_destroy_post_processor(c->pp);
    free(c);
    *con_cls = NULL;
}

/* The listening socket, made here so that a port in use gets a message that says so. */
static int listen_on(const char *host, uint16_t port, char *url, size_t url_len, sl_err_t *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t slen;
    int family;
    bool any = !strcmp(host, "*") || !*host;
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    struct in6_addr a6;
    if (!any && inet_pton(AF_INET6, host, &a6) == 1) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        s6->sin6_addr = a6;
        family = AF_INET6;
        slen = sizeof(*s6);
        snprintf(url, url_len, "http://[%s]:%u/", host, port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        if (any) {
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
        } else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
            sl_err_set(err, "--web-host: expected an IP address or *, got '%s'", host);
            return -1;
        }
        family = AF_INET;
        slen = sizeof(*s4);
        snprintf(url, url_len, "http://%s:%u/", any ? "127.0.0.1" : host, port);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sl_err_set(err, "--web-port %u: %s", port, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, slen) != 0 || listen(fd, 64) != 0) {
        sl_err_set(err, "--web-port %u: cannot listen on %s: %s", port, host, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

sl_web_t *sl_web_start(const sl_web_cfg_t *cfg, sl_err_t *err)
{
    sl_web_t *web = calloc(1, sizeof(*web));
    if (!web) {
        sl_err_set(err, "out of memory");
        return NULL;
    }
    web->cfg = *cfg;
    web->listen_fd = -1;
    web->loopback = !strcmp(cfg->host, "localhost") || !strcmp(cfg->host, "::1") ||
                    !strncmp(cfg->host, "127.", 4);
    web->last_state = -1;
    web->points = calloc(WEB_MAX_POINTS, sizeof(*web->points));
    web->metrics = sl_metrics_new();
    pthread_mutex_init(&web->mu, NULL);
    pthread_cond_init(&web->changed, NULL);
    if (!web->points || !web->metrics) {
        sl_err_set(err, "out of memory");
        goto fail;
    }
    /* Something to serve before the first run. */
    render_ctx_t x = {.web = web, .state = "ready"};
    render(&web->docs[DOC_STATS], r_stats, NULL, &x);
    render(&web->docs[DOC_STATS_CSV], r_stats_csv, NULL, &x);
    render(&web->docs[DOC_FAIL_CSV], r_fail_csv, NULL, &x);
    render(&web->docs[DOC_EXC], r_exc, NULL, &x);
    render(&web->docs[DOC_EXC_CSV], r_exc_csv, NULL, &x);
    render(&web->docs[DOC_METRICS], r_metrics, NULL, &x);
    render(&web->docs[DOC_TABLE], r_table, NULL, &x);
    web->listen_fd = listen_on(cfg->host, cfg->port, web->url, sizeof(web->url), err);
    if (web->listen_fd < 0)
        goto fail;
    web->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, on_request,
        web, MHD_OPTION_LISTEN_SOCKET, web->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)WEB_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, web, MHD_OPTION_END);
    /* The daemon owns the socket from here (it closes it when it stops); if it failed,
     * leaking one descriptor on the way to exit 2 beats closing it twice. */
    web->listen_fd = -1;
    if (!web->daemon) {
        sl_err_set(err, "--web-port %u: the web server could not start", cfg->port);
        goto fail;
    }
    return web;
fail:
    sl_web_free(web);
    return NULL;
}

void sl_web_free(sl_web_t *web)
{
    if (!web)
        return;
    pthread_mutex_lock(&web->mu);
    web->closing = true;
    pthread_cond_broadcast(&web->changed);
    pthread_mutex_unlock(&web->mu);
    if (web->daemon)
        MHD_stop_daemon(web->daemon);
    if (web->listen_fd >= 0)
        close(web->listen_fd);
    for (int d = 0; d < NDOCS; d++)
        free(web->docs[d].data);
    for (size_t i = 0; i < web->npoints; i++)
        free(web->points[i].json.data);
    free(web->points);
    sl_metrics_free(web->metrics);
    pthread_cond_destroy(&web->changed);
    pthread_mutex_destroy(&web->mu);
    free(web);
}

const char *sl_web_url(const sl_web_t *web)
{
    return web->url;
}
