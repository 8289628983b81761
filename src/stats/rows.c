/* The row registry: a mutex-guarded array of (method, name) pairs plus a hash index.
 * Strings are allocated once and never moved, so readers may keep the pointers. */
#include "stats/rows.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct row_entry {
    char *method;
    char *name;
} row_entry_t;

/* A path pattern being watched for the hint. */
typedef struct pattern_entry {
    char *method;
    char *pattern;
    char *origin;
    uint32_t rows;
} pattern_entry_t;

/* Patterns watched at once; past that, new patterns are not tracked (the hint is advice). */
#define MAX_PATTERNS 64

struct sl_rows {
    pthread_mutex_t mu;
    row_entry_t *rows;
    uint32_t count, cap;
    uint32_t *index; /* open addressing: id + 1, 0 = empty */
    uint32_t index_cap;
    uint32_t limit;      /* rows before the overflow row; immutable */
    char *overflow_name; /* NULL: no overflow row, SL_ELIMIT past the limit */
    bool overflowed;     /* the overflow row exists, with id `limit` */
    pattern_entry_t patterns[MAX_PATTERNS];
    uint32_t npatterns;
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

sl_rows_t *sl_rows_new(uint32_t max_rows, const char *overflow_name)
{
    sl_rows_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->limit = max_rows && max_rows < SL_ROWS_MAX ? max_rows : SL_ROWS_MAX;
    if (overflow_name && !(r->overflow_name = strdup(overflow_name))) {
        free(r);
        return NULL;
    }
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
    for (uint32_t i = 0; i < r->npatterns; i++) {
        free(r->patterns[i].method);
        free(r->patterns[i].pattern);
        free(r->patterns[i].origin);
    }
    free(r->rows);
    free(r->index);
    free(r->overflow_name);
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

static bool find_locked(sl_rows_t *r, const char *method, const char *name, uint32_t *id)
{
    if (!r->index_cap)
        return false;
    uint64_t h = sl_rows_hash(method, name);
    uint32_t slot = (uint32_t)(h & (r->index_cap - 1));
    while (r->index[slot]) {
        row_entry_t *e = &r->rows[r->index[slot] - 1];
        if (strcmp(e->method, method) == 0 && strcmp(e->name, name) == 0) {
            *id = r->index[slot] - 1;
            return true;
        }
        slot = (slot + 1) & (r->index_cap - 1);
    }
    return false;
}

static int add_locked(sl_rows_t *r, const char *method, const char *name, uint32_t *id)
{
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

/* Counts a new name against its pattern; under the lock, once per new row. */
static void watch_pattern_locked(sl_rows_t *r, const char *method, const char *name,
                                 const char *origin)
{
    char pat[160];
    if (!sl_rows_pattern(name, pat, sizeof(pat)))
        return;
    for (uint32_t i = 0; i < r->npatterns; i++) {
        pattern_entry_t *p = &r->patterns[i];
        if (strcmp(p->pattern, pat) == 0 && strcmp(p->method, method) == 0) {
            p->rows++;
            return;
        }
    }
    if (r->npatterns == MAX_PATTERNS)
        return;
    pattern_entry_t p = {strdup(method), strdup(pat), strdup(origin ? origin : ""), 1};
    if (!p.method || !p.pattern || !p.origin) {
        free(p.method);
        free(p.pattern);
        free(p.origin);
        return;
    }
    r->patterns[r->npatterns++] = p;
}

static int intern_locked(sl_rows_t *r, const char *method, const char *name, const char *origin,
                         bool watch, uint32_t *id)
{
    if (find_locked(r, method, name, id))
        return 0;
    if (r->count - r->overflowed >= r->limit) {
        if (!r->overflow_name)
            return SL_ELIMIT;
        if (!r->overflowed) {
            int rc = add_locked(r, SL_ROWS_OVERFLOW_METHOD, r->overflow_name, id);
            if (rc != 0)
                return rc;
            r->overflowed = true;
        }
        *id = r->limit;
        return 0;
    }
    int rc = add_locked(r, method, name, id);
    if (rc == 0 && watch)
        watch_pattern_locked(r, method, name, origin);
    return rc;
}

int sl_rows_intern(sl_rows_t *r, const char *method, const char *name, uint32_t *id)
{
    pthread_mutex_lock(&r->mu);
    int rc = intern_locked(r, method, name, NULL, false, id);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int sl_rows_intern_at(sl_rows_t *r, const char *method, const char *name, const char *origin,
                      uint32_t *id)
{
    pthread_mutex_lock(&r->mu);
    int rc = intern_locked(r, method, name, origin, true, id);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

bool sl_rows_is_overflow(const sl_rows_t *r, uint32_t id)
{
    return r->overflow_name && id == r->limit;
}

uint32_t sl_rows_limit(const sl_rows_t *r)
{
    return r->limit;
}

bool sl_rows_hint(sl_rows_t *r, sl_rows_hint_t *out)
{
    pthread_mutex_lock(&r->mu);
    const pattern_entry_t *best = NULL;
    for (uint32_t i = 0; i < r->npatterns; i++)
        if (!best || r->patterns[i].rows > best->rows)
            best = &r->patterns[i];
    bool found = best && best->rows >= SL_ROWS_HINT_AT;
    if (found) {
        snprintf(out->method, sizeof(out->method), "%s", best->method);
        snprintf(out->pattern, sizeof(out->pattern), "%s", best->pattern);
        snprintf(out->origin, sizeof(out->origin), "%s", best->origin);
        out->rows = best->rows;
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* A token that names one thing among many: all digits, hex or a UUID with at least one
 * digit, or a long token (base64, slugs with numbers) with a digit. */
static bool id_like(const char *t, size_t n)
{
    bool digit = false, hex = true;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        digit |= c >= '0' && c <= '9';
        hex &=
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
    }
    return digit && (hex || n >= 12);
}

bool sl_rows_pattern(const char *name, char *buf, size_t len)
{
    bool changed = false;
    size_t o = 0;
    for (const char *p = name; *p && o + 1 < len;) {
        if (!token_char(*p)) {
            buf[o++] = *p++;
            continue;
        }
        const char *t = p;
        while (*p && token_char(*p))
            p++;
        size_t n = (size_t)(p - t);
        if (id_like(t, n)) {
            t = "{id}";
            n = 4;
            changed = true;
        }
        if (o + n >= len)
            break;
        memcpy(buf + o, t, n);
        o += n;
    }
    buf[o] = '\0';
    return changed;
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
