/* JSON for the scenario API: an encoder from Lua values (Task{data = ...} at load time,
 * opts.json while the test runs) and a decoder to Lua values on cJSON (r:json()).
 *
 * The encoder writes into a malloc'd buffer and reports mistakes by return code rather
 * than by luaL_error, so a caller in the middle of a request can clean up first; the only
 * Lua calls it makes read the user's tables with raw access. The decoder lets cJSON parse
 * and then builds the Lua value under lua_pcall, so not even a Lua memory error can leave
 * a cJSON tree behind. */
#include "scenario/luajson.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <pthread.h>

static pthread_mutex_t parse_mu = PTHREAD_MUTEX_INITIALIZER;

struct jenc {
    lua_State *L;
    char *p;
    size_t len, cap;
    bool oom;
    sl_err_t *err;
    const char *root;
    char path[128]; /* where we are below root, for messages: ".items[2].name" */
    size_t pathlen;
};

static void j_add(struct jenc *e, const char *s, size_t n)
{
    if (e->oom)
        return;
    if (n > e->cap - e->len) {
        size_t cap = e->cap ? e->cap : 256;
        while (cap - e->len < n)
            cap *= 2;
        char *p = realloc(e->p, cap);
        if (!p) {
            e->oom = true;
            return;
        }
        e->p = p;
        e->cap = cap;
    }
    memcpy(e->p + e->len, s, n);
    e->len += n;
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

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. Rejects
 * overlong forms, surrogates and values above U+10FFFF, as JSON (RFC 8259) requires. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

static int j_string(struct jenc *e, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    j_add(e, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)s + i, len - i);
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
        free(e.p);
        return rc;
    }
    *out = e.p;
    *len = e.len - 1;
    return SL_OK;
}

static bool push_item(lua_State *L, const cJSON *it, int depth);

static bool push_children(lua_State *L, const cJSON *it, int depth, bool object)
{
    int n = 0;
    for (const cJSON *c = it->child; c; c = c->next)
        n++;
    lua_createtable(L, object ? 0 : n, object ? n : 0);
    lua_Integer i = 0;
    for (const cJSON *c = it->child; c; c = c->next) {
        if (!push_item(L, c, depth + 1))
            return false;
        if (object) {
            /* null members are left out (a Lua table cannot hold nil); a duplicate key
             * keeps its last value, as JavaScript does. */
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushstring(L, c->string ? c->string : "");
            lua_insert(L, -2);
            lua_rawset(L, -3);
        } else {
            /* Array elements keep their positions; a null leaves a hole. */
            lua_rawseti(L, -2, ++i);
        }
    }
    return true;
}

/* Pushes the value of it. False (with the message pushed instead) when the document is
 * nested too deeply or the Lua stack cannot grow. */
static bool push_item(lua_State *L, const cJSON *it, int depth)
{
    if (depth > SL_LUAJSON_MAX_DECODE_DEPTH || !lua_checkstack(L, 4)) {
        lua_pushfstring(L, "JSON nested more than %d levels deep", SL_LUAJSON_MAX_DECODE_DEPTH);
        return false;
    }
    if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
        if (push_children(L, it, depth, cJSON_IsObject(it)))
            return true;
        lua_remove(L, -2); /* the half-built table under the message */
        return false;
    }
    if (cJSON_IsString(it)) {
        lua_pushstring(L, it->valuestring ? it->valuestring : "");
    } else if (cJSON_IsNumber(it)) {
        double d = it->valuedouble;
        /* -2^63 <= d < 2^63: the doubles that convert to a 64-bit integer exactly. */
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            lua_pushinteger(L, (lua_Integer)d);
        else
            lua_pushnumber(L, (lua_Number)d);
    } else if (cJSON_IsTrue(it)) {
        lua_pushboolean(L, 1);
    } else if (cJSON_IsFalse(it)) {
        lua_pushboolean(L, 0);
    } else {
        lua_pushnil(L);
    }
    return true;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* lua_pcall'd: pushes the value of the tree (light userdata at 1), or raises the message
 * push_item left. Protected so that a Lua memory error cannot leak the tree. */
static int convert(lua_State *L)
{
    const cJSON *root = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (!push_item(L, root, 1))
        return lua_error(L);
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
    /* cJSON writes a process-wide "last error" on every parse; nothing here reads it (the
     * error position comes back through `end`), so concurrent workers do not depend on
     * it. */
    const char *end = NULL;
    /* cJSON's parser writes a process-wide "last error" on every call: serialise the
     * parse (not the conversion) so worker threads decoding at once do not race on it. */
    pthread_mutex_lock(&parse_mu);
    cJSON *root = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    pthread_mutex_unlock(&parse_mu);
    if (!root) {
        size_t at = end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
        if (at >= len) {
            lua_pushliteral(L, "invalid JSON: unexpected end of document");
        } else {
            char near[16];
            size_t n = 0;
            for (size_t i = at; i < len && n < 10; i++)
                near[n++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
            near[n] = '\0';
            lua_pushfstring(L, "invalid JSON at byte %d (near '%s')", (int)at, near);
        }
        return SL_EPARSE;
    }
    size_t at = end && end >= s && end <= s + len ? (size_t)(end - s) : len;
    while (at < len && is_ws(s[at]))
        at++;
    if (at < len) {
        cJSON_Delete(root);
        lua_pushfstring(L, "invalid JSON: unexpected data after the value at byte %d", (int)at);
        return SL_EPARSE;
    }
    lua_pushcfunction(L, convert);
    lua_pushlightuserdata(L, root);
    int st = lua_pcall(L, 1, 1, 0);
    cJSON_Delete(root);
    if (st == LUA_OK)
        return SL_OK;
    if (st == LUA_ERRMEM || !lua_isstring(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "out of memory while decoding JSON");
        return SL_ENOMEM;
    }
    return SL_EPARSE;
}
