/* The row registry: a mutex-guarded array of (method, name) pairs plus a hash index.
 * Strings are allocated once and never moved, so readers may keep the pointers. */
#include "stats/rows.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct row_entry {
    char *method;
    char *name;
} row_entry_t;

struct sl_rows {
    pthread_mutex_t mu;
    row_entry_t *rows;
    uint32_t count, cap;
    uint32_t *index; /* open addressing: id + 1, 0 = empty */
    uint32_t index_cap;
};

uint64_t sl_rows_hash(const char *method, const char *name)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = method; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h;
}

sl_rows_t *sl_rows_new(void)
{
    sl_rows_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void sl_rows_free(sl_rows_t *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->count; i++) {
        free(r->rows[i].method);
        free(r->rows[i].name);
    }
    free(r->rows);
    free(r->index);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static int rehash(sl_rows_t *r, uint32_t cap)
{
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (!idx)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < r->count; i++) {
        uint64_t h = sl_rows_hash(r->rows[i].method, r->rows[i].name);
        uint32_t slot = (uint32_t)(h & (cap - 1));
        while (idx[slot])
            slot = (slot + 1) & (cap - 1);
        idx[slot] = i + 1;
    }
    free(r->index);
    r->index = idx;
    r->index_cap = cap;
    return 0;
}

static int intern_locked(sl_rows_t *r, const char *method, const char *name, uint32_t *id)
{
    if (r->index_cap) {
        uint64_t h = sl_rows_hash(method, name);
        uint32_t slot = (uint32_t)(h & (r->index_cap - 1));
        while (r->index[slot]) {
            row_entry_t *e = &r->rows[r->index[slot] - 1];
            if (strcmp(e->method, method) == 0 && strcmp(e->name, name) == 0) {
                *id = r->index[slot] - 1;
                return 0;
            }
            slot = (slot + 1) & (r->index_cap - 1);
        }
    }
    if (r->count >= SL_ROWS_MAX)
        return SL_ELIMIT;
    if (r->count == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 16;
        row_entry_t *rows = realloc(r->rows, cap * sizeof(*rows));
        if (!rows)
            return SL_ENOMEM;
        r->rows = rows;
        r->cap = cap;
    }
    row_entry_t e = {strdup(method), strdup(name)};
    if (!e.method || !e.name) {
        free(e.method);
        free(e.name);
        return SL_ENOMEM;
    }
    r->rows[r->count] = e;
    *id = r->count++;
    /* Keep the index at most half full. */
    if (r->count * 2 > r->index_cap)
        return rehash(r, r->index_cap ? r->index_cap * 2 : 64);
    uint64_t h = sl_rows_hash(method, name);
    uint32_t slot = (uint32_t)(h & (r->index_cap - 1));
    while (r->index[slot])
        slot = (slot + 1) & (r->index_cap - 1);
    r->index[slot] = *id + 1;
    return 0;
}

int sl_rows_intern(sl_rows_t *r, const char *method, const char *name, uint32_t *id)
{
    pthread_mutex_lock(&r->mu);
    int rc = intern_locked(r, method, name, id);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

uint32_t sl_rows_count(sl_rows_t *r)
{
    pthread_mutex_lock(&r->mu);
    uint32_t n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void sl_rows_get(sl_rows_t *r, uint32_t id, const char **method, const char **name)
{
    pthread_mutex_lock(&r->mu);
    *method = r->rows[id].method;
    *name = r->rows[id].name;
    pthread_mutex_unlock(&r->mu);
}
