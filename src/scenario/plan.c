/* Pre-serialisation of the plan's requests. Each task is rendered once, at load time, into
 * one immutable buffer that every virtual user on every thread sends as is (as wrk does):
 * the hot path never formats a header. The plan owns every string and buffer in it. */
#include "scenario/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A growable byte buffer used only while rendering. */
struct wbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void wbuf_add(struct wbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void wbuf_str(struct wbuf *b, const char *s)
{
    wbuf_add(b, s, strlen(s));
}

static void wbuf_header(struct wbuf *b, const char *name, const char *value)
{
    wbuf_str(b, name);
    wbuf_add(b, ": ", 2);
    wbuf_str(b, value);
    wbuf_add(b, "\r\n", 2);
}

/* Returns the user's header with this name (case-insensitive), or NULL. */
static const sl_header_t *find_header(const sl_task_t *t, const char *name)
{
    for (size_t i = 0; i < t->nheaders; i++) {
        if (strcasecmp(t->headers[i].name, name) == 0)
            return &t->headers[i];
    }
    return NULL;
}

static int render_task(sl_task_t *t, const sl_url_t *base)
{
    struct wbuf b = {0};

    wbuf_str(&b, t->method);
    wbuf_add(&b, " ", 1);
    wbuf_str(&b, base->base_path);
    wbuf_str(&b, t->path);
    wbuf_str(&b, " HTTP/1.1\r\n");

    /* Host comes first (RFC 9110 recommends it, and some servers expect it); a Host the
     * user set wins, for virtual-host testing. */
    const sl_header_t *host = find_header(t, "Host");
    wbuf_header(&b, "Host", host ? host->value : base->authority);

    /* The loader keeps user headers sorted by lower-cased name, so the bytes on the wire
     * do not depend on Lua's table order. */
    for (size_t i = 0; i < t->nheaders; i++) {
        const sl_header_t *h = &t->headers[i];
        if (h == host || strcasecmp(h->name, "Content-Length") == 0)
            continue;
        wbuf_header(&b, h->name, h->value);
    }

    if (!find_header(t, "User-Agent"))
        wbuf_header(&b, "User-Agent", "stormlight/" SL_VERSION);
    if (!find_header(t, "Accept"))
        wbuf_header(&b, "Accept", "*/*");
    if (t->body && t->body_is_json && !find_header(t, "Content-Type"))
        wbuf_header(&b, "Content-Type", "application/json");
    if (t->body) {
        /* Always the real length: a stale user value would desynchronise the
         * keep-alive connection for every request that follows. */
        char len[32];
        snprintf(len, sizeof(len), "%zu", t->body_len);
        wbuf_header(&b, "Content-Length", len);
    }
    wbuf_add(&b, "\r\n", 2);
    if (t->body)
        wbuf_add(&b, t->body, t->body_len);

    if (b.oom) {
        free(b.p);
        return SL_ENOMEM;
    }
    free(t->wire);
    t->wire = b.p;
    t->wire_len = b.len;
    return SL_OK;
}

int sl_plan_render(sl_plan_t *plan, const sl_url_t *base)
{
    for (size_t i = 0; i < plan->ntasks; i++) {
        int rc = render_task(&plan->tasks[i], base);
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

void sl_plan_dispose(sl_plan_t *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; plan->tasks && i < plan->ntasks; i++) {
        sl_task_t *t = &plan->tasks[i];
        free(t->method);
        free(t->path);
        free(t->name);
        free(t->body);
        for (size_t j = 0; t->headers && j < t->nheaders; j++) {
            free(t->headers[j].name);
            free(t->headers[j].value);
        }
        free(t->headers);
        free(t->wire);
    }
    free(plan->tasks);
    for (size_t i = 0; plan->rows && i < plan->nrows; i++) {
        free(plan->rows[i].method);
        free(plan->rows[i].name);
    }
    free(plan->rows);
    free(plan->host);
    free(plan->file);
    memset(plan, 0, sizeof(*plan));
}
