/* CSV test data for scenario files. Owns the process-wide cache of parsed files: each is
 * one block of field bytes plus an (offset, length) table, immutable once parsed and kept
 * until the process ends, so every Lua state may hand out pointers into it without
 * copying or locking. Only the round-robin position changes, with one atomic add. */
#include "scenario/csvdata.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "base/file.h"

/* Metatable of the iterator userdata. */
#define CSV_MT "stormlight.csv"

struct field {
    uint32_t off; /* into data; files are at most 256 MiB, so 32 bits suffice */
    uint32_t len;
};

struct sl_csvdata {
    char *data;           /* every field's bytes, each followed by a NUL */
    struct field *fields; /* (nrows + 1) * ncols: the header first, then the rows */
    size_t ncols;
    size_t nrows;
    _Atomic uint64_t next;
};

struct parser {
    const char *s;
    size_t len, pos;
    size_t line;
    char *data;
    size_t dlen;
    struct field *fields;
    size_t nfields, cap;
};

static bool push_field(struct parser *p, size_t off)
{
    if (p->nfields == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct field *f = realloc(p->fields, cap * sizeof(*f));
        if (!f)
            return false;
        p->fields = f;
        p->cap = cap;
    }
    p->fields[p->nfields].off = (uint32_t)off;
    p->fields[p->nfields].len = (uint32_t)(p->dlen - off);
    p->nfields++;
    p->data[p->dlen++] = '\0';
    return true;
}

/* Parses one field at p->pos into data. Returns SL_OK or SL_EINVAL (message in err). */
static int parse_field(struct parser *p, const char *name, sl_err_t *err)
{
    size_t off = p->dlen;
    if (p->pos < p->len && p->s[p->pos] == '"') {
        size_t opened = p->line;
        p->pos++;
        for (;;) {
            if (p->pos >= p->len) {
                sl_err_set(err, "'%s' line %zu: unterminated quoted field", name, opened);
                return SL_EINVAL;
            }
            char c = p->s[p->pos];
            if (c == '"') {
                if (p->pos + 1 < p->len && p->s[p->pos + 1] == '"') {
                    p->data[p->dlen++] = '"';
                    p->pos += 2;
                    continue;
                }
                p->pos++;
                break;
            }
            if (c == '\n')
                p->line++;
            p->data[p->dlen++] = c;
            p->pos++;
        }
        if (p->pos < p->len) {
            char c = p->s[p->pos];
            bool crlf = c == '\r' && p->pos + 1 < p->len && p->s[p->pos + 1] == '\n';
            if (c != ',' && c != '\n' && !crlf && !(c == '\r' && p->pos + 1 == p->len)) {
                sl_err_set(err, "'%s' line %zu: unexpected character after a closing quote", name,
                           p->line);
                return SL_EINVAL;
            }
        }
    } else {
        /* Unquoted: everything up to ',' or the end of the line. A stray '"' inside is kept
         * as is, as most readers do. */
        while (p->pos < p->len) {
            char c = p->s[p->pos];
            if (c == ',' || c == '\n')
                break;
            if (c == '\r' && (p->pos + 1 == p->len || p->s[p->pos + 1] == '\n'))
                break;
            p->data[p->dlen++] = c;
            p->pos++;
        }
    }
    return push_field(p, off) ? SL_OK : SL_ENOMEM;
}

static int check_header(const struct parser *p, size_t ncols, const char *name, sl_err_t *err)
{
    for (size_t i = 0; i < ncols; i++) {
        const struct field *f = &p->fields[i];
        if (f->len == 0) {
            sl_err_set(err, "'%s' line 1: column %zu has an empty name", name, i + 1);
            return SL_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            const struct field *g = &p->fields[j];
            if (g->len == f->len && memcmp(p->data + g->off, p->data + f->off, f->len) == 0) {
                sl_err_set(err, "'%s' line 1: column '%.*s' appears twice", name,
                           (int)(f->len > 60 ? 60 : f->len), p->data + f->off);
                return SL_EINVAL;
            }
        }
    }
    return SL_OK;
}

int sl_csvdata_parse(const char *buf, size_t len, const char *name, sl_csvdata_t **out,
                     sl_err_t *err)
{
    *out = NULL;
    if (len > SL_CSVDATA_MAX_BYTES) {
        sl_err_set(err, "'%s' is larger than 256 MiB", name);
        return SL_EINVAL;
    }
    struct parser p = {.s = buf, .len = len, .line = 1};
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    /* Unescaped fields are never longer than their text; each gets one NUL. */
    p.data = malloc(len + 1);
    if (!p.data)
        return SL_ENOMEM;

    int rc = SL_OK;
    size_t ncols = 0, records = 0;
    while (p.pos < p.len && rc == SL_OK) {
        /* Empty lines are skipped rather than read as one-field records. */
        if (p.s[p.pos] == '\n') {
            p.pos++;
            p.line++;
            continue;
        }
        if (p.s[p.pos] == '\r' && p.pos + 1 < p.len && p.s[p.pos + 1] == '\n') {
            p.pos += 2;
            p.line++;
            continue;
        }
        size_t first = p.nfields, line = p.line;
        for (;;) {
            rc = parse_field(&p, name, err);
            if (rc != SL_OK)
                break;
            if (p.pos < p.len && p.s[p.pos] == ',') {
                p.pos++;
                continue;
            }
            break;
        }
        if (rc != SL_OK)
            break;
        if (p.pos < p.len && p.s[p.pos] == '\r')
            p.pos++;
        if (p.pos < p.len && p.s[p.pos] == '\n') {
            p.pos++;
            p.line++;
        }
        size_t n = p.nfields - first;
        if (records == 0) {
            ncols = n;
            rc = check_header(&p, ncols, name, err);
        } else if (n != ncols) {
            sl_err_set(err, "'%s' line %zu: %zu field%s, but the header has %zu", name, line, n,
                       n == 1 ? "" : "s", ncols);
            rc = SL_EINVAL;
        }
        records++;
    }
    if (rc == SL_OK && records == 0) {
        sl_err_set(err, "'%s' is empty", name);
        rc = SL_EINVAL;
    } else if (rc == SL_OK && records == 1) {
        sl_err_set(err, "'%s' has a header but no rows", name);
        rc = SL_EINVAL;
    }
    sl_csvdata_t *csv = rc == SL_OK ? calloc(1, sizeof(*csv)) : NULL;
    if (rc == SL_OK && !csv)
        rc = SL_ENOMEM;
    if (rc != SL_OK) {
        if (rc == SL_ENOMEM)
            sl_err_set(err, "'%s': out of memory", name);
        free(p.data);
        free(p.fields);
        return rc;
    }
    csv->data = p.data;
    csv->fields = p.fields;
    csv->ncols = ncols;
    csv->nrows = records - 1;
    atomic_init(&csv->next, 0);
    *out = csv;
    return SL_OK;
}

void sl_csvdata_free(sl_csvdata_t *csv)
{
    if (!csv)
        return;
    free(csv->data);
    free(csv->fields);
    free(csv);
}

size_t sl_csvdata_ncols(const sl_csvdata_t *csv)
{
    return csv->ncols;
}

size_t sl_csvdata_nrows(const sl_csvdata_t *csv)
{
    return csv->nrows;
}

const char *sl_csvdata_header(const sl_csvdata_t *csv, size_t col, size_t *len)
{
    const struct field *f = &csv->fields[col];
    *len = f->len;
    return csv->data + f->off;
}

const char *sl_csvdata_field(const sl_csvdata_t *csv, size_t row, size_t col, size_t *len)
{
    const struct field *f = &csv->fields[(row + 1) * csv->ncols + col];
    *len = f->len;
    return csv->data + f->off;
}

size_t sl_csvdata_next(sl_csvdata_t *csv)
{
    uint64_t n = atomic_fetch_add_explicit(&csv->next, 1, memory_order_relaxed);
    return (size_t)(n % csv->nrows);
}

struct entry {
    char *key; /* the resolved path */
    sl_csvdata_t *csv;
    struct entry *next;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *cache;

static int read_file(const char *resolved, const char *path, char **buf, size_t *len, sl_err_t *err)
{
    /* Non-blocking, so that a FIFO cannot stall the load in open(); only regular files
     * are read, so /dev/zero or a terminal cannot either. */
    int fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        sl_err_set(err, "cannot open '%s': %s", path, strerror(errno));
        return SL_EINVAL;
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0)
        bad = strerror(errno);
    else if (S_ISDIR(st.st_mode))
        bad = strerror(EISDIR);
    else if (!S_ISREG(st.st_mode))
        bad = "not a regular file";
    else if ((uint64_t)st.st_size > SL_CSVDATA_MAX_BYTES)
        bad = "larger than 256 MiB";
    FILE *f = bad ? NULL : fdopen(fd, "rb");
    if (!f) {
        sl_err_set(err, "cannot read '%s': %s", path, bad ? bad : strerror(errno));
        close(fd);
        return SL_EINVAL;
    }
    int rc = sl_file_read_stream(f, path, SL_CSVDATA_MAX_BYTES, buf, len, err);
    fclose(f);
    return rc;
}

/* Resolves path as sl_csvdata_open describes into a malloc'd real path, or NULL with err. */
static char *resolve(const char *path, const char *base_dir, sl_err_t *err)
{
    int first_errno = 0;
    if (path[0] != '/' && base_dir && base_dir[0]) {
        size_t n = strlen(base_dir) + strlen(path) + 2;
        char *joined = malloc(n);
        if (!joined) {
            sl_err_set(err, "cannot open '%s': out of memory", path);
            return NULL;
        }
        snprintf(joined, n, "%s/%s", base_dir, path);
        char *r = realpath(joined, NULL);
        first_errno = errno;
        free(joined);
        if (r)
            return r;
    }
    char *r = realpath(path, NULL);
    if (r)
        return r;
    sl_err_set(err, "cannot open '%s': %s", path, strerror(first_errno ? first_errno : errno));
    return NULL;
}

int sl_csvdata_open(const char *path, const char *base_dir, sl_csvdata_t **out, sl_err_t *err)
{
    *out = NULL;
    char *key = resolve(path, base_dir, err);
    if (!key)
        return SL_EINVAL;

    pthread_mutex_lock(&cache_mu);
    for (struct entry *e = cache; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            *out = e->csv;
            pthread_mutex_unlock(&cache_mu);
            free(key);
            return SL_OK;
        }
    }
    /* Parsed under the lock: workers loading the same file at start-up wait for the
     * first one instead of each reading it. */
    char *buf = NULL;
    size_t len = 0;
    sl_csvdata_t *csv = NULL;
    int rc = read_file(key, path, &buf, &len, err);
    if (rc == SL_OK)
        rc = sl_csvdata_parse(buf ? buf : "", len, path, &csv, err);
    free(buf);
    struct entry *e = rc == SL_OK ? malloc(sizeof(*e)) : NULL;
    if (rc == SL_OK && !e) {
        sl_csvdata_free(csv);
        sl_err_set(err, "'%s': out of memory", path);
        rc = SL_ENOMEM;
    }
    if (rc == SL_OK) {
        e->key = key;
        e->csv = csv;
        e->next = cache;
        cache = e;
        *out = csv;
        key = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
    free(key);
    return rc;
}

void sl_csvdata_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    while (cache) {
        struct entry *e = cache;
        cache = e->next;
        sl_csvdata_free(e->csv);
        free(e->key);
        free(e);
    }
    pthread_mutex_unlock(&cache_mu);
}

static sl_csvdata_t *check_iter(lua_State *L)
{
    sl_csvdata_t **ud = luaL_testudata(L, 1, CSV_MT);
    if (!ud)
        luaL_error(L, "csv: call the iterator as rows() or rows:next()");
    return *ud;
}

/* it() / it:next(): the next row as {column = field}. */
static int l_next(lua_State *L)
{
    sl_csvdata_t *csv = check_iter(L);
    size_t row = sl_csvdata_next(csv);
    lua_createtable(L, 0, (int)(csv->ncols < INT_MAX ? csv->ncols : INT_MAX));
    for (size_t c = 0; c < csv->ncols; c++) {
        size_t hl, fl;
        const char *h = sl_csvdata_header(csv, c, &hl);
        const char *f = sl_csvdata_field(csv, row, c, &fl);
        lua_pushlstring(L, h, hl);
        lua_pushlstring(L, f, fl);
        lua_rawset(L, -3);
    }
    return 1;
}

static int l_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_iter(L)->nrows);
    return 1;
}

static int l_tostring(lua_State *L)
{
    sl_csvdata_t *csv = check_iter(L);
    lua_pushfstring(L, "csv (%d rows)", (int)(csv->nrows < INT_MAX ? csv->nrows : INT_MAX));
    return 1;
}

/* csv(path), with the base directory (or nil) as upvalue 1. */
static int l_csv(lua_State *L)
{
    size_t len;
    const char *path = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : NULL;
    if (!path || len == 0 || strlen(path) != len)
        return luaL_error(L, "csv: expected a file name, as in csv(\"users.csv\")");
    const char *dir = lua_tostring(L, lua_upvalueindex(1));
    sl_csvdata_t *csv;
    sl_err_t err;
    int rc = sl_csvdata_open(path, dir, &csv, &err);
    if (rc == SL_ENOMEM)
        return luaL_error(L, "csv: out of memory");
    if (rc != SL_OK)
        return luaL_error(L, "csv: %s", err.msg);
    sl_csvdata_t **ud = lua_newuserdatauv(L, sizeof(*ud), 0);
    *ud = csv;
    luaL_setmetatable(L, CSV_MT);
    return 1;
}

void sl__csvdata_install(lua_State *L, const char *base_dir)
{
    if (luaL_newmetatable(L, CSV_MT)) {
        static const luaL_Reg methods[] = {{"next", l_next}, {NULL, NULL}};
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_next);
        lua_setfield(L, -2, "__call");
        lua_pushcfunction(L, l_len);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "csv");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    if (base_dir)
        lua_pushstring(L, base_dir);
    else
        lua_pushnil(L);
    lua_pushcclosure(L, l_csv, 1);
    lua_setglobal(L, "csv");
}
