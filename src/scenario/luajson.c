/* JSON for the scenario API: an encoder from Lua values (Task{data = ...} at load time,
 * opts.json while the test runs) and a decoder to Lua values (r:json()).
 *
 * The encoder writes into a malloc'd buffer and reports mistakes by return code rather
 * than by luaL_error, so a caller in the middle of a request can clean up first; the only
 * Lua calls it makes read the user's tables with raw access. The decoder (r:json(), on
 * worker threads) is our own, parses straight into Lua values under lua_pcall, and
 * shares nothing between threads. */
#include "scenario/luajson.h"

#include "base/buf.h"
#include "base/utf8.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

struct jenc {
    lua_State *L;
    sl_buf_t out;
    bool oom;
    sl_err_t *err;
    const char *root;
    char path[128]; /* where we are below root, for messages: ".items[2].name" */
    size_t pathlen;
};

static void j_add(struct jenc *e, const char *s, size_t n)
{
    if (!e->oom && sl_buf_add(&e->out, s, n) != SL_OK)
        e->oom = true;
}

static void j_str(struct jenc *e, const char *s)
{
    j_add(e, s, strlen(s));
}

static int j_fail(struct jenc *e, const char *what)
{
    sl_err_set(e->err, "%s%s: %s", e->root, e->path, what);
    return SL_EINVAL;
}

/* Extends the message path; returns the old length for j_path_pop. Truncates silently:
 * the path is only for people. */
static size_t j_path_push_key(struct jenc *e, const char *k, size_t klen)
{
    size_t old = e->pathlen;
    char buf[64];
    size_t n = klen < 40 ? klen : 40;
    size_t o = 0;
    buf[o++] = '.';
    for (size_t i = 0; i < n; i++)
        buf[o++] = ((unsigned char)k[i] < 0x20) ? '?' : k[i];
    if (klen > n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    if (e->pathlen + o < sizeof(e->path)) {
        memcpy(e->path + e->pathlen, buf, o);
        e->pathlen += o;
        e->path[e->pathlen] = '\0';
    }
    return old;
}

static size_t j_path_push_index(struct jenc *e, lua_Integer i)
{
    size_t old = e->pathlen;
    int n = snprintf(e->path + e->pathlen, sizeof(e->path) - e->pathlen, "[%lld]", (long long)i);
    if (n > 0 && e->pathlen + (size_t)n < sizeof(e->path))
        e->pathlen += (size_t)n;
    e->path[e->pathlen] = '\0';
    return old;
}

static void j_path_pop(struct jenc *e, size_t old)
{
    e->pathlen = old;
    e->path[old] = '\0';
}

static int j_string(struct jenc *e, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    j_add(e, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t n = sl_utf8_seq_len((const unsigned char *)s + i, len - i);
            if (n == 0)
                return j_fail(e, "string is not valid UTF-8");
            j_add(e, s + i, n);
            i += n;
            continue;
        }
        switch (c) {
        case '"':
            j_add(e, "\\\"", 2);
            break;
        case '\\':
            j_add(e, "\\\\", 2);
            break;
        case '\b':
            j_add(e, "\\b", 2);
            break;
        case '\f':
            j_add(e, "\\f", 2);
            break;
        case '\n':
            j_add(e, "\\n", 2);
            break;
        case '\r':
            j_add(e, "\\r", 2);
            break;
        case '\t':
            j_add(e, "\\t", 2);
            break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                j_add(e, u, 6);
            } else {
                j_add(e, (const char *)&c, 1);
            }
        }
        i++;
    }
    j_add(e, "\"", 1);
    return SL_OK;
}

static int j_number(struct jenc *e, int idx)
{
    lua_State *L = e->L;
    char buf[64];
    if (lua_isinteger(L, idx)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)lua_tointeger(L, idx));
        j_str(e, buf);
        return SL_OK;
    }
    double v = (double)lua_tonumber(L, idx);
    if (!isfinite(v))
        return j_fail(e, "cannot encode NaN or infinity as JSON");
    /* The shortest of 15..17 significant digits that reads back as the same double, so
     * 1.5 stays "1.5" and 0.1 stays "0.1" rather than 0.10000000000000001. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* A float with an integral value keeps a ".0" (as Lua prints it), so data written as
     * 10.0 is not silently turned into an integer. Guard against a ',' decimal point
     * from a locale set elsewhere in the process. */
    for (char *c = buf; *c; c++) {
        if (*c == ',')
            *c = '.';
    }
    j_str(e, buf);
    if (!strpbrk(buf, ".eE"))
        j_str(e, ".0");
    return SL_OK;
}

struct jkey {
    const char *s;
    size_t len;
};

static int jkey_cmp(const void *a, const void *b)
{
    const struct jkey *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static int j_value(struct jenc *e, int idx, int depth);

static int j_array(struct jenc *e, int idx, lua_Integer count, int depth)
{
    lua_State *L = e->L;
    j_add(e, "[", 1);
    for (lua_Integer i = 1; i <= count; i++) {
        if (i > 1)
            j_add(e, ",", 1);
        size_t old = j_path_push_index(e, i);
        lua_rawgeti(L, idx, i);
        int rc = j_value(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (rc != SL_OK)
            return rc;
        j_path_pop(e, old);
    }
    j_add(e, "]", 1);
    return SL_OK;
}

static int j_object(struct jenc *e, int idx, lua_Integer count, int depth)
{
    lua_State *L = e->L;
    /* Keys are sorted so that the body, and therefore the bytes on the wire, do not
     * depend on Lua's hash order. The key strings stay alive because the table, which is
     * on the stack, holds them. */
    struct jkey *keys = malloc((size_t)count * sizeof(*keys));
    if (!keys) {
        e->oom = true;
        return SL_ENOMEM;
    }
    lua_Integer k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        keys[k].s = lua_tolstring(L, -2, &keys[k].len);
        k++;
        lua_pop(L, 1);
    }
    qsort(keys, (size_t)count, sizeof(*keys), jkey_cmp);

    int rc = SL_OK;
    j_add(e, "{", 1);
    for (lua_Integer i = 0; i < count && rc == SL_OK; i++) {
        if (i > 0)
            j_add(e, ",", 1);
        rc = j_string(e, keys[i].s, keys[i].len);
        if (rc != SL_OK)
            break;
        j_add(e, ":", 1);
        size_t old = j_path_push_key(e, keys[i].s, keys[i].len);
        lua_pushlstring(L, keys[i].s, keys[i].len);
        lua_rawget(L, idx);
        rc = j_value(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (rc == SL_OK)
            j_path_pop(e, old);
    }
    j_add(e, "}", 1);
    free(keys);
    return rc;
}

static int j_table(struct jenc *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (depth > SL_LUAJSON_MAX_DEPTH)
        return j_fail(e, "tables nested more than 100 levels deep (is there a cycle?)");
    if (!lua_checkstack(L, 8))
        return j_fail(e, "nested too deeply");

    /* Classify keys: all strings -> object; exactly 1..n -> array; anything else has no
     * faithful JSON form and is rejected rather than guessed. Raw access throughout, so
     * metamethods in the user's tables do not run here. */
    lua_Integer count = 0, nstr = 0, nint = 0, maxint = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (lua_type(L, -2) == LUA_TSTRING) {
            nstr++;
        } else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
            nint++;
            if (lua_tointeger(L, -2) > maxint)
                maxint = lua_tointeger(L, -2);
        }
        lua_pop(L, 1);
    }

    if (count == 0) {
        /* Lua cannot tell an empty list from an empty object; an object is the more
         * common meaning for a request body. */
        j_str(e, "{}");
        return SL_OK;
    }
    if (nint == count && maxint == count)
        return j_array(e, idx, count, depth);
    if (nstr != count)
        return j_fail(e, "a table must have only string keys (object) or be a list 1..n "
                         "(array)");
    return j_object(e, idx, count, depth);
}

static int j_value(struct jenc *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (e->oom)
        return SL_ENOMEM;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return j_string(e, s, len);
    }
    case LUA_TNUMBER:
        return j_number(e, idx);
    case LUA_TBOOLEAN:
        j_str(e, lua_toboolean(L, idx) ? "true" : "false");
        return SL_OK;
    case LUA_TTABLE:
        return j_table(e, idx, depth);
    default: {
        char what[64];
        snprintf(what, sizeof(what), "cannot encode a %s value as JSON", luaL_typename(L, idx));
        return j_fail(e, what);
    }
    }
}

int sl_luajson_encode(lua_State *L, int idx, const char *root, char **out, size_t *len,
                      sl_err_t *err)
{
    struct jenc e = {.L = L, .err = err, .root = root ? root : ""};
    idx = lua_absindex(L, idx);
    *out = NULL;
    *len = 0;
    int top = lua_gettop(L);
    int rc = j_value(&e, idx, 1);
    lua_settop(L, top);
    j_add(&e, "", 1); /* the terminating NUL, not counted in len */
    if (rc == SL_OK && e.oom)
        rc = SL_ENOMEM;
    if (rc != SL_OK) {
        if (rc == SL_ENOMEM)
            sl_err_set(err, "%s: out of memory", e.root);
        sl_buf_free(&e.out);
        return rc;
    }
    *out = e.out.p;
    *len = e.out.len - 1;
    return SL_OK;
}

/* The decoder parses straight into Lua values: no intermediate tree, and no shared
 * state. (cJSON's parser writes a process-wide "last error" slot on every call, so worker
 * threads decoding at once had to take a lock per r:json(); a parser of our own needs
 * none.) It runs under lua_pcall, so a Lua memory error or a parse error unwinds through
 * lua_error and nothing is left half-built. */
typedef struct jdec {
    lua_State *L;
    const char *s;
    size_t len, pos;
} jdec_t;

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Raises "invalid JSON at byte N (near '...')", or "unexpected end" past the end. */
static _Noreturn void dec_fail(jdec_t *d, size_t at)
{
    if (at >= d->len) {
        lua_pushliteral(d->L, "invalid JSON: unexpected end of document");
    } else {
        char near[16];
        size_t n = 0;
        for (size_t i = at; i < d->len && n < 10; i++)
            near[n++] = ((unsigned char)d->s[i] < 0x20 || d->s[i] == 0x7f) ? '?' : d->s[i];
        near[n] = '\0';
        lua_pushfstring(d->L, "invalid JSON at byte %d (near '%s')", (int)at, near);
    }
    lua_error(d->L);
    abort(); /* not reached: lua_error does not return */
}

static void skip_ws(jdec_t *d)
{
    while (d->pos < d->len && is_ws(d->s[d->pos]))
        d->pos++;
}

static int hex4(jdec_t *d, size_t at)
{
    if (d->len - at < 4)
        dec_fail(d, d->len);
    int v = 0;
    for (size_t i = at; i < at + 4; i++) {
        char c = d->s[i];
        int h = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (h < 0)
            dec_fail(d, at - 2);
        v = v * 16 + h;
    }
    return v;
}

static void add_utf8(luaL_Buffer *b, unsigned cp)
{
    if (cp < 0x80) {
        luaL_addchar(b, (char)cp);
    } else if (cp < 0x800) {
        luaL_addchar(b, (char)(0xC0 | (cp >> 6)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        luaL_addchar(b, (char)(0xE0 | (cp >> 12)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        luaL_addchar(b, (char)(0xF0 | (cp >> 18)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* A string at d->pos (on its opening quote). Raw bytes are kept as they are (control
 * characters too, as cJSON did); escapes become UTF-8, a \u pair of surrogates one code
 * point, a lone surrogate is an error. */
static void dec_string(jdec_t *d)
{
    size_t start = d->pos++;
    /* The common case, a string without escapes, is pushed in one piece. */
    size_t i = d->pos;
    while (i < d->len && d->s[i] != '"' && d->s[i] != '\\')
        i++;
    if (i >= d->len)
        dec_fail(d, start);
    if (d->s[i] == '"') {
        lua_pushlstring(d->L, d->s + d->pos, i - d->pos);
        d->pos = i + 1;
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(d->L, &b);
    luaL_addlstring(&b, d->s + d->pos, i - d->pos);
    d->pos = i;
    for (;;) {
        if (d->pos >= d->len)
            dec_fail(d, start);
        char c = d->s[d->pos];
        if (c == '"') {
            d->pos++;
            break;
        }
        if (c != '\\') {
            luaL_addchar(&b, c);
            d->pos++;
            continue;
        }
        if (d->pos + 1 >= d->len)
            dec_fail(d, start);
        char e = d->s[d->pos + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char out[] = "\"\\/\b\f\n\r\t";
            luaL_addchar(&b, out[simple - "\"\\/bfnrt"]);
            d->pos += 2;
            continue;
        }
        if (e != 'u')
            dec_fail(d, d->pos);
        size_t at = d->pos;
        unsigned cp = (unsigned)hex4(d, at + 2);
        d->pos = at + 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            dec_fail(d, at);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (d->len - d->pos < 6 || d->s[d->pos] != '\\' || d->s[d->pos + 1] != 'u')
                dec_fail(d, at);
            unsigned lo = (unsigned)hex4(d, d->pos + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                dec_fail(d, at);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            d->pos += 6;
        }
        add_utf8(&b, cp);
    }
    luaL_pushresult(&b);
}

/* A number, by JSON's grammar; its value passes through a double (as in JavaScript) and
 * becomes an integer when it is integral and fits. */
static void dec_number(jdec_t *d)
{
    size_t start = d->pos, i = d->pos;
    const char *s = d->s;
    if (i < d->len && s[i] == '-')
        i++;
    if (i >= d->len || !(s[i] >= '0' && s[i] <= '9'))
        dec_fail(d, start);
    if (s[i] == '0')
        i++;
    else
        while (i < d->len && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < d->len && s[i] == '.') {
        i++;
        if (i >= d->len || !(s[i] >= '0' && s[i] <= '9'))
            dec_fail(d, start);
        while (i < d->len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < d->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < d->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= d->len || !(s[i] >= '0' && s[i] <= '9'))
            dec_fail(d, start);
        while (i < d->len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    /* strtod needs a terminated copy: the body is not NUL-terminated at the number. */
    char small[64];
    size_t n = i - start;
    char *copy = n < sizeof(small) ? small : lua_newuserdatauv(d->L, n + 1, 0);
    memcpy(copy, s + start, n);
    copy[n] = '\0';
    double v = strtod(copy, NULL);
    if (copy != small)
        lua_pop(d->L, 1);
    d->pos = i;
    /* -2^63 <= v < 2^63: the doubles that convert to a 64-bit integer exactly. */
    if (v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0)
        lua_pushinteger(d->L, (lua_Integer)v);
    else
        lua_pushnumber(d->L, (lua_Number)v);
}

static void dec_literal(jdec_t *d, const char *word, size_t wlen)
{
    if (d->len - d->pos < wlen || memcmp(d->s + d->pos, word, wlen) != 0)
        dec_fail(d, d->pos);
    d->pos += wlen;
}

/* Pushes the value at d->pos (after white space); null pushes nil. */
static void dec_value(jdec_t *d, int depth)
{
    lua_State *L = d->L;
    if (depth > SL_LUAJSON_MAX_DECODE_DEPTH || !lua_checkstack(L, 6)) {
        lua_pushfstring(L, "JSON nested more than %d levels deep", SL_LUAJSON_MAX_DECODE_DEPTH);
        lua_error(L);
    }
    skip_ws(d);
    if (d->pos >= d->len)
        dec_fail(d, d->pos);
    char c = d->s[d->pos];
    if (c == '{') {
        d->pos++;
        lua_newtable(L);
        skip_ws(d);
        if (d->pos < d->len && d->s[d->pos] == '}') {
            d->pos++;
            return;
        }
        for (;;) {
            skip_ws(d);
            if (d->pos >= d->len || d->s[d->pos] != '"')
                dec_fail(d, d->pos);
            dec_string(d);
            skip_ws(d);
            if (d->pos >= d->len || d->s[d->pos] != ':')
                dec_fail(d, d->pos);
            d->pos++;
            dec_value(d, depth + 1);
            /* null members are left out (a Lua table cannot hold nil); a duplicate key
             * keeps its last value, as JavaScript does. */
            if (lua_isnil(L, -1))
                lua_pop(L, 2);
            else
                lua_rawset(L, -3);
            skip_ws(d);
            if (d->pos < d->len && d->s[d->pos] == ',') {
                d->pos++;
                continue;
            }
            if (d->pos < d->len && d->s[d->pos] == '}') {
                d->pos++;
                return;
            }
            dec_fail(d, d->pos);
        }
    }
    if (c == '[') {
        d->pos++;
        lua_newtable(L);
        skip_ws(d);
        if (d->pos < d->len && d->s[d->pos] == ']') {
            d->pos++;
            return;
        }
        for (lua_Integer i = 1;; i++) {
            dec_value(d, depth + 1);
            /* Elements keep their positions; a null leaves a hole. */
            lua_rawseti(L, -2, i);
            skip_ws(d);
            if (d->pos < d->len && d->s[d->pos] == ',') {
                d->pos++;
                continue;
            }
            if (d->pos < d->len && d->s[d->pos] == ']') {
                d->pos++;
                return;
            }
            dec_fail(d, d->pos);
        }
    }
    if (c == '"') {
        dec_string(d);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        dec_number(d);
    } else if (c == 't') {
        dec_literal(d, "true", 4);
        lua_pushboolean(L, 1);
    } else if (c == 'f') {
        dec_literal(d, "false", 5);
        lua_pushboolean(L, 0);
    } else if (c == 'n') {
        dec_literal(d, "null", 4);
        lua_pushnil(L);
    } else {
        dec_fail(d, d->pos);
    }
}

/* lua_pcall'd: the decoder (light userdata at 1) parses one document and pushes it. */
static int dec_run(lua_State *L)
{
    jdec_t *d = lua_touserdata(L, 1);
    lua_settop(L, 0);
    d->L = L;
    dec_value(d, 1);
    skip_ws(d);
    if (d->pos < d->len) {
        lua_pushfstring(L, "invalid JSON: unexpected data after the value at byte %d", (int)d->pos);
        return lua_error(L);
    }
    return 1;
}

int sl_luajson_decode(lua_State *L, const char *s, size_t len)
{
    if (!lua_checkstack(L, 8))
        return SL_ENOMEM; /* nothing can be pushed; the caller's stack is full */
    size_t start = 0;
    while (start < len && is_ws(s[start]))
        start++;
    if (start == len) {
        lua_pushliteral(L, "invalid JSON: empty document");
        return SL_EPARSE;
    }
    jdec_t d = {.s = s, .len = len, .pos = start};
    lua_pushcfunction(L, dec_run);
    lua_pushlightuserdata(L, &d);
    int st = lua_pcall(L, 1, 1, 0);
    if (st == LUA_OK)
        return SL_OK;
    if (st == LUA_ERRMEM || !lua_isstring(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "out of memory while decoding JSON");
        return SL_ENOMEM;
    }
    return SL_EPARSE;
}
