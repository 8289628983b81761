/* The scripted runtime: User{} classes run as Lua coroutines, one lua_State per worker.
 *
 * Owns, per worker, the Lua state, a cache of statistics row ids, and per user a
 * sl_script_user_t: the coroutine, the `u` table, the request buffer, the response
 * capture, the cookie jar and the response still waiting for its verdict.
 *
 * A scripted request is recorded only when the script moves on (next request, sleep, end
 * of the iteration), so r:failure() and r:success() can overrule the default verdict.
 * Lua never sees C pointers: `u` carries the user's index in its worker, and the running
 * coroutine must be that user's. */
#include "engine/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "http/request.h"
#include "scenario/luajson.h"
#include "scenario/scenario.h"
#include "stats/snapshot.h"

#define USER_MT "stormlight.user"
#define RESP_MT "stormlight.response"
#define BODY_MT "stormlight.body"
#define MAX_REDIRECTS 10
#define MAX_COOKIES 64

typedef enum script_phase {
    PHASE_IDLE = 0, /* running Lua, or not started */
    PHASE_REQUEST,  /* waiting for a response */
    PHASE_SLEEP,    /* waiting for its sleep timer */
    PHASE_DEAD,     /* its coroutine failed outside any task: it does nothing more */
    PHASE_PARKED,   /* --iterations used up: it waits for the stop */
    PHASE_AWAIT,    /* open model: waiting for an arrival to start its next iteration */
} script_phase_t;

typedef sl_http_cookie_t cookie_t;

struct sl_script_user {
    lua_State *co; /* the running coroutine: the iterations, or on_stop */
    int co_ref;    /* anchors co in the registry */
    int u_ref;     /* the `u` table */
    uint16_t class_idx;
    uint8_t phase;
    bool static_req;   /* the current request is a Task{} entry: no response object */
    bool follow;       /* follow redirects for the current request */
    bool did_request;  /* the iteration made a request or slept */
    bool in_iteration; /* between iter_begin and iter_end (not on_start/on_stop) */
    bool cookies_seen; /* the latest response's Set-Cookie went into the jar already */
    uint32_t seq_pos;  /* sequential = true: next task */
    int32_t picked;    /* index into the class's tasks of the current iteration */
    uint32_t req_seq;  /* responses handed to Lua so far; r._seq identifies them */
    int resume_nargs;  /* values pushed on co for the timer's resume (0 or 1) */
    uint64_t iter_start_us;
    uint64_t lateness_us; /* how late this iteration started against its schedule */
    uint64_t timeout_us;
    sl_timer_t sleep_timer;
    sl_task_t dyn; /* the current request; dyn.wire points into wbuf */
    char *wbuf;
    size_t wlen, wcap;
    bool wbuf_short; /* a piece of the request being built did not fit: it must not go out */
    char *tbuf;      /* the target (path and query) being built; a redirect's new request */
    size_t tlen, tcap;
    sl_http_header_t *hdrs; /* opts.headers of the request being built (borrowed strings) */
    size_t hcap;
    sl_resp_capture_t cap;
    /* The latest response, until its verdict is final. */
    bool pending;
    uint8_t p_fail;
    int32_t p_detail;
    uint32_t p_row;
    uint64_t p_latency_us;
    uint64_t p_service_us;
    sl_phases_t p_phases;
    uint64_t p_bytes;
    cookie_t *cookies;
    uint32_t ncookies;
    sl_user_t *user;
};

typedef struct row_slot {
    uint64_t hash;
    uint32_t id_plus_1;
    const char *method; /* owned by the run's row registry */
    const char *name;
} row_slot_t;

struct sl_script_worker {
    lua_State *L;
    int run_user_ref;
    int run_stop_ref;
    int *class_refs;
    sl_script_user_t *users;
    uint32_t running_stop; /* on_stop coroutines still running */
    row_slot_t *rows;      /* worker-local cache: (method, name) -> row id */
    uint32_t rows_cap, rows_len;
    /* Large bodies (see body_box_t): bytes in boxes not yet freed, and bytes made Lua
     * strings since the last full collection. */
    size_t big_box_bytes, big_string_bytes;
    /* One freed large buffer kept for the next large capture: its pages are resident, so
     * receiving into it costs no page faults (they would be timed with the response). */
    char *spare_body;
    size_t spare_body_cap;
};

/* The user loop, in Lua: short enough to read, and every task runs under xpcall so an
 * error in one iteration is counted and the user goes on with the next. */
static const char prelude[] = "local pick, iter_begin, iter_end, exception, static_req = ...\n"
                              "local function handler(e)\n"
                              "  if type(e) ~= 'string' then e = tostring(e) end\n"
                              "  return e\n"
                              "end\n"
                              "local function run_user(u, class)\n"
                              "  if class.on_start then\n"
                              "    local ok, e = xpcall(class.on_start, handler, u)\n"
                              "    if not ok then exception(u, e) end\n"
                              "  end\n"
                              "  while true do\n"
                              "    local t = pick(u)\n"
                              "    if not t then break end\n"
                              "    iter_begin(u)\n"
                              "    if t.fn then\n"
                              "      local ok, e = xpcall(t.fn, handler, u)\n"
                              "      if not ok then exception(u, e) end\n"
                              "    else\n"
                              "      static_req(u)\n"
                              "    end\n"
                              "    iter_end(u)\n"
                              "  end\n"
                              "  if class.on_stop then\n"
                              "    local ok, e = xpcall(class.on_stop, handler, u)\n"
                              "    if not ok then exception(u, e) end\n"
                              "  end\n"
                              "  iter_end(u, true)\n"
                              "end\n"
                              "local function run_stop(u, class)\n"
                              "  local ok, e = xpcall(class.on_stop, handler, u)\n"
                              "  if not ok then exception(u, e) end\n"
                              "  iter_end(u, true)\n"
                              "end\n"
                              "return run_user, run_stop\n";

/* The worker owning a Lua state is kept in the state's extra space. */
static sl_worker_t *worker_of(lua_State *L)
{
    return *(sl_worker_t **)lua_getextraspace(L);
}

/* The user behind `u` at idx; raises when it is not a user or when called from another
 * coroutine than that user's (a request must resume the coroutine that made it). */
static sl_user_t *check_user(lua_State *L, int idx)
{
    sl_worker_t *w = worker_of(L);
    luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_getfield(L, idx, "_h") != LUA_TNUMBER)
        luaL_error(L, "expected a user (u), got another table");
    lua_Integer h = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (h < 0 || (uint64_t)h >= w->nusers)
        luaL_error(L, "expected a user (u)");
    sl_user_t *u = &w->users[h];
    if (!u->script || u->script->co != L)
        luaL_error(L, "requests and sleeps can only be made from the user's own tasks");
    return u;
}

/* ---- statistics rows and texts ---- */

/* Row id for (method, name): from the worker's cache, or the registry (one lock) when
 * this worker meets the pair for the first time. Names that went to the overflow row are
 * not cached, so a scenario that invents names cannot grow the cache past --max-rows;
 * they take the registry's lock each time instead. L is the requesting coroutine, for the
 * scenario line the hint names. */
static int row_id(sl_worker_t *w, lua_State *L, const char *method, const char *name, uint32_t *id)
{
    sl_script_worker_t *sw = w->sw;
    uint64_t h = sl_rows_hash(method, name);
    if (sw->rows_cap) {
        for (uint32_t i = (uint32_t)h & (sw->rows_cap - 1);; i = (i + 1) & (sw->rows_cap - 1)) {
            row_slot_t *s = &sw->rows[i];
            if (!s->id_plus_1)
                break;
            if (s->hash == h && strcmp(s->method, method) == 0 && strcmp(s->name, name) == 0) {
                *id = s->id_plus_1 - 1;
                return 0;
            }
        }
    }
    char origin[160] = "";
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
        snprintf(origin, sizeof(origin), "%s:%d", ar.short_src, ar.currentline);
    int rc = sl_rows_intern_at(w->cfg->rows, method, name, origin, id);
    if (rc != 0 || sl_rows_is_overflow(w->cfg->rows, *id))
        return rc;
    if ((sw->rows_len + 1) * 2 > sw->rows_cap) {
        uint32_t cap = sw->rows_cap ? sw->rows_cap * 2 : 64;
        row_slot_t *rows = calloc(cap, sizeof(*rows));
        if (!rows)
            return 0; /* the id is right; the cache just stays small */
        for (uint32_t i = 0; i < sw->rows_cap; i++) {
            if (!sw->rows[i].id_plus_1)
                continue;
            uint32_t j = (uint32_t)sw->rows[i].hash & (cap - 1);
            while (rows[j].id_plus_1)
                j = (j + 1) & (cap - 1);
            rows[j] = sw->rows[i];
        }
        free(sw->rows);
        sw->rows = rows;
        sw->rows_cap = cap;
    }
    const char *m, *n;
    sl_rows_get(w->cfg->rows, *id, &m, &n);
    uint32_t j = (uint32_t)h & (sw->rows_cap - 1);
    while (sw->rows[j].id_plus_1)
        j = (j + 1) & (sw->rows_cap - 1);
    sw->rows[j] = (row_slot_t){.hash = h, .id_plus_1 = *id + 1, .method = m, .name = n};
    sw->rows_len++;
    return 0;
}

/* Splits "file:line: message" into its location and message, as Lua formats errors. */
static uint32_t intern_error(sl_worker_t *w, const char *text)
{
    char where[256] = "";
    const char *msg = text;
    const char *p = text;
    while (*p && *p != ':' && *p != '\n')
        p++;
    if (*p == ':' && p[1] >= '0' && p[1] <= '9') {
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9')
            q++;
        if (*q == ':' && (size_t)(q - text) < sizeof(where)) {
            memcpy(where, text, (size_t)(q - text));
            where[q - text] = '\0';
            msg = q[1] == ' ' ? q + 2 : q + 1;
        }
    }
    uint32_t id = 0;
    if (sl_rows_intern(w->cfg->texts, where, msg, &id) != 0)
        sl_rows_intern(w->cfg->texts, "", "(too many distinct messages)", &id);
    return id;
}

/* ---- recording ---- */

static void flush_pending(sl_script_user_t *su)
{
    if (!su->pending)
        return;
    sl_worker_t *w = su->user->w;
    su->pending = false;
    bool failed = su->p_fail != SL_FAIL_NONE;
    sl_stats_record(w->cur, su->p_row, su->p_latency_us, su->p_service_us, su->p_bytes, failed);
    sl_stats_record_phases(w->cur, su->p_row, &su->p_phases);
    if (failed)
        sl_stats_error(w->cur, su->p_row, (sl_fail_t)su->p_fail, su->p_detail, 1);
}

/* ---- resuming ---- */

static void user_release_coroutine(sl_script_user_t *su)
{
    sl_worker_t *w = su->user->w;
    if (su->co_ref != LUA_NOREF) {
        luaL_unref(w->sw->L, LUA_REGISTRYINDEX, su->co_ref);
        su->co_ref = LUA_NOREF;
    }
    su->co = NULL;
}

static void count_exception(sl_worker_t *w, const char *msg)
{
    sl_stats_exception(w->cur, intern_error(w, msg ? msg : "(error object is not a string)"), 1);
}

/* Resumes the user's coroutine with nargs values already pushed on it. */
static void resume(sl_script_user_t *su, int nargs)
{
    sl_worker_t *w = su->user->w;
    lua_State *co = su->co;
    if (!co)
        return;
    int nres = 0;
    su->phase = PHASE_IDLE;
    int st = lua_resume(co, w->sw->L, nargs, &nres);
    if (st == LUA_YIELD) {
        lua_pop(co, nres);
        return;
    }
    if (st != LUA_OK) {
        /* Outside any task (tasks run under xpcall): the user cannot go on. */
        count_exception(w, lua_tostring(co, -1));
        su->phase = PHASE_DEAD;
    }
    bool was_stop = w->stopping;
    user_release_coroutine(su);
    if (!was_stop)
        sl__user_retire_now(su->user); /* its loop ended: live control removed it */
    if (was_stop && w->sw->running_stop > 0 && --w->sw->running_stop == 0)
        sl__worker_stopped(w);
}

static void on_sleep_timer(sl_loop_t *loop, sl_timer_t *t)
{
    sl_script_user_t *su =
        (sl_script_user_t *)((char *)t - offsetof(sl_script_user_t, sleep_timer));
    (void)loop;
    if (su->phase == PHASE_SLEEP) {
        int n = su->resume_nargs;
        su->resume_nargs = 0;
        resume(su, n);
    }
}

/* Suspends the coroutine until the timer fires; must be returned from the C function. */
static int sleep_yield(lua_State *L, sl_script_user_t *su, uint64_t us)
{
    sl_worker_t *w = su->user->w;
    su->phase = PHASE_SLEEP;
    su->did_request = true;
    sl_loop_timer_start(&w->loop, &su->sleep_timer, sl_loop_update_now(&w->loop) + us);
    return lua_yield(L, 0);
}

/* ---- request rendering ---- */

/* Grows a request buffer to hold n bytes. Once growing failed for the request being
 * built it is not tried again (a truncated request must not go out, and hammering the
 * allocator helps nobody): false, and su->wbuf_short stays set until the next request. */
static bool grow(sl_script_user_t *su, char **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return true;
    if (su->wbuf_short)
        return false;
    if (sl_buf_grow(buf, cap, n) != SL_OK) {
        su->wbuf_short = true;
        return false;
    }
    return true;
}

/* Appends to the target being built. */
static void t_add(sl_script_user_t *su, const char *s, size_t len)
{
    if (!grow(su, &su->tbuf, &su->tcap, su->tlen + len))
        return;
    memcpy(su->tbuf + su->tlen, s, len);
    su->tlen += len;
}

/* The renderers (http/request.h) only count past the end of a buffer that is too small:
 * grow wbuf to what they counted and render again. */
static bool wire_fits(sl_script_user_t *su, size_t n)
{
    su->wlen = n;
    return n <= su->wcap || !grow(su, &su->wbuf, &su->wcap, n);
}

/* Sends what is in wbuf as the user's current request, intended now. A request that
 * could not be built whole is not sent (a truncated one would be another request, or
 * none): it fails at once, counted, and the script gets its failed response. */
static void send_rendered(sl_user_t *u, const char *method, uint32_t row)
{
    sl_script_user_t *su = u->script;
    sl_worker_t *w = u->w;
    bool unsent = su->wbuf_short;
    su->dyn.wire = su->wbuf;
    su->dyn.wire_len = unsent ? 0 : su->wlen;
    su->dyn.row = row;
    su->dyn.is_head = !strcmp(method, "HEAD");
    su->dyn.idempotent = sl_http_method_idempotent(method);
    u->task = &su->dyn;
    /* An iteration that started late (behind its arrival or its pacing grid) has all
     * its requests measured as if it had started on time. */
    u->intended_us = sl_loop_update_now(&w->loop) - (su->in_iteration ? su->lateness_us : 0);
    su->phase = PHASE_REQUEST;
    su->did_request = true;
    u->max_redirects = su->follow ? MAX_REDIRECTS : 0;
    if (unsent) {
        sl__user_fail_unsent(u);
        return;
    }
    sl__user_send(u, su->timeout_us);
}

static void t_encoded(sl_script_user_t *su, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t j = 0; j < len; j++) {
        unsigned char c = (unsigned char)s[j];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            t_add(su, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            t_add(su, e, 3);
        }
    }
}

/* A name or key shown in a one-line message: control bytes become '?'. */
static const char *shown(const char *k, char out[64])
{
    size_t n = 0;
    for (; k[n] && n < 63; n++)
        out[n] = ((unsigned char)k[n] < 0x20 || k[n] == 0x7f) ? '?' : k[n];
    out[n] = '\0';
    return out;
}

/* Appends "?k=v&..." from the table of query parameters at idx, keys sorted so the bytes
 * do not depend on Lua's hash order, percent-encoded. */
static void render_query(lua_State *L, sl_script_user_t *su, int idx, bool has_query)
{
    lua_newtable(L);
    int keys = lua_gettop(L);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "opts.query: keys must be strings");
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, ++n);
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, keys);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, keys, i);
        lua_pushvalue(L, -1);
        lua_gettable(L, idx);
        size_t kl, vl;
        const char *k = lua_tolstring(L, -2, &kl);
        const char *v = luaL_tolstring(L, -1, &vl);
        t_add(su, (i == 1 && !has_query) ? "?" : "&", 1);
        t_encoded(su, k, kl);
        t_add(su, "=", 1);
        t_encoded(su, v, vl);
        lua_pop(L, 3);
    }
    lua_pop(L, 1);
}

/* Rejects keys opts does not know, as Task{} does with its fields: a typo ("jsn =",
 * "header =") would otherwise send the request without what the author meant. Runs once
 * per scripted request over a handful of keys; the cost is a few string compares. */
static void check_opts_keys(lua_State *L, int opts)
{
    static const char *const known[] = {"body",  "headers",   "json",   "name",
                                        "query", "redirects", "timeout"};
    lua_pushnil(L);
    while (lua_next(L, opts)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L,
                       "opts: unexpected %s key (expected body, headers, json, name, query, "
                       "redirects, timeout)",
                       luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        bool ok = false;
        for (size_t i = 0; i < SL_ARRAY_LEN(known) && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok) {
            char buf[64];
            luaL_error(L,
                       "opts: unknown key '%s' (expected body, headers, json, name, query, "
                       "redirects, timeout)",
                       shown(k, buf));
        }
    }
}

/* u:request(method, path, opts) */
static int l_request_impl(lua_State *L, const char *method_in, int path_idx)
{
    sl_user_t *u = check_user(L, 1);
    sl_script_user_t *su = u->script;
    sl_worker_t *w = u->w;
    if (w->stopping && !w->sw->running_stop)
        return luaL_error(L, "the test is over");
    char method[SL_HTTP_METHOD_MAX + 1];
    if (!sl_http_method_canon(method_in, strlen(method_in), method))
        return luaL_error(L, "invalid HTTP method '%s'", method_in);
    size_t plen;
    const char *path = luaL_checklstring(L, path_idx, &plen);
    if (plen == 0 || path[0] != '/')
        return luaL_error(L, "path must start with '/', got '%s'", path);
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)path[i] <= 0x20 || path[i] == 0x7f)
            return luaL_error(L, "path must not contain spaces or control characters");
    int opts = path_idx + 1;
    bool have_opts = lua_type(L, opts) == LUA_TTABLE;
    if (!have_opts && !lua_isnoneornil(L, opts))
        return luaL_error(L, "opts must be a table");
    if (have_opts)
        check_opts_keys(L, opts);

    flush_pending(su);
    su->static_req = false;
    su->follow = true;
    su->timeout_us = w->cfg->timeout_us;
    /* Before another body may arrive, earlier large ones nobody holds any more are freed
     * now rather than when Lua's pace gets to them (see body_box_t): one full collection
     * per 64 MiB of large bodies, which take longer to receive. Here, in the running
     * coroutine, it is what collectgarbage() would do. */
    sl_script_worker_t *sw = w->sw;
    if (sw->big_box_bytes + sw->big_string_bytes >= SL_RESP_MAX_BODY_BYTES) {
        lua_gc(L, LUA_GCCOLLECT);
        sw->big_string_bytes = 0;
    }

    /* The statistics row: opts.name, else the path as written (without opts.query). */
    const char *name = path;
    if (have_opts && lua_getfield(L, opts, "name") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "opts.name must be a string");
        name = lua_tostring(L, -1);
    }
    uint32_t row;
    if (row_id(w, L, method, name, &row) != 0)
        return luaL_error(L, "out of memory for a new request name");

    const char *body = NULL;
    size_t body_len = 0;
    char *json = NULL;
    if (have_opts) {
        if (lua_getfield(L, opts, "timeout") != LUA_TNIL) {
            double t = luaL_checknumber(L, -1);
            if (!(t > 0) || t > 86400)
                return luaL_error(L, "opts.timeout must be a number of seconds > 0");
            su->timeout_us = (uint64_t)(t * 1e6);
        }
        lua_pop(L, 1);
        if (lua_getfield(L, opts, "redirects") != LUA_TNIL)
            su->follow = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, opts, "json") != LUA_TNIL) {
            sl_err_t err;
            if (sl_luajson_encode(L, lua_gettop(L), "opts.json", &json, &body_len, &err) != 0)
                return luaL_error(L, "%s", err.msg);
            body = json;
        }
        lua_pop(L, 1);
        if (!body && lua_getfield(L, opts, "body") != LUA_TNIL) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "opts.body must be a string");
            body = lua_tolstring(L, -1, &body_len);
            lua_pushvalue(L, -1); /* keep it alive while rendering */
            lua_remove(L, -2);
        } else if (!body) {
            lua_pop(L, 1);
        }
    }

    /* The target: the path, then opts.query. A UTF-8 path goes out percent-encoded, as
     * from Task{} (base/url.h). */
    su->wbuf_short = false;
    su->tlen = 0;
    size_t elen = sl_url_escape_high(path, plen, NULL);
    if (elen == plen) {
        t_add(su, path, plen);
    } else if (grow(su, &su->tbuf, &su->tcap, elen)) {
        sl_url_escape_high(path, plen, su->tbuf);
        su->tlen = elen;
    }
    if (have_opts && lua_getfield(L, opts, "query") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TTABLE) {
            free(json);
            return luaL_error(L, "opts.query must be a table");
        }
        render_query(L, su, lua_gettop(L), memchr(path, '?', plen) != NULL);
    }
    if (have_opts)
        lua_pop(L, 1);
    /* opts.headers, in the table's order. Each value stays on the stack until the request
     * is rendered (a number's string exists only there); the names are the table's keys. */
    size_t nh = 0;
    int top = lua_gettop(L);
    if (have_opts && lua_getfield(L, opts, "headers") == LUA_TTABLE) {
        int h = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, h)) {
            char buf[64];
            size_t kl, vl;
            if (lua_type(L, -2) != LUA_TSTRING ||
                (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)) {
                free(json);
                return luaL_error(L, "opts.headers must map names to strings");
            }
            const char *k = lua_tolstring(L, -2, &kl);
            const char *v = lua_tolstring(L, -1, &vl); /* the value slot, not the key */
            if (!sl_http_header_name_ok(k, kl)) {
                free(json);
                return luaL_error(L, "opts.headers: invalid header name '%s'", shown(k, buf));
            }
            if (!sl_http_header_value_ok(v, vl)) {
                free(json);
                return luaL_error(L, "opts.headers: CR, LF or NUL in header '%s'", k);
            }
            if (nh == su->hcap) {
                size_t cap = su->hcap ? su->hcap * 2 : 16;
                sl_http_header_t *hd = realloc(su->hdrs, cap * sizeof(*hd));
                if (!hd || !lua_checkstack(L, 3)) {
                    if (hd)
                        su->hdrs = hd;
                    free(json);
                    return luaL_error(L, "out of memory");
                }
                su->hdrs = hd;
                su->hcap = cap;
            }
            su->hdrs[nh++] = (sl_http_header_t){k, v};
            lua_insert(L, -2); /* keep the value below the key */
        }
    }
    sl_http_request_t req = {
        .method = method,
        .base_path = w->cfg->url->base_path,
        .target = su->tbuf,
        .target_len = su->tlen,
        .authority = w->cfg->url->authority,
        .headers = su->hdrs,
        .nheaders = nh,
        .cookies = su->cookies,
        .ncookies = su->ncookies,
        .body = body,
        .body_len = body_len,
        .body_is_json = json != NULL,
    };
    if (!su->wbuf_short) {
        while (!wire_fits(su, sl_http_render(&req, su->wbuf, su->wcap, &su->dyn.layout)))
            ;
    }
    lua_settop(L, top);
    free(json);
    send_rendered(u, method, row);
    return lua_yield(L, 0);
}

static int l_request(lua_State *L)
{
    /* The method string stays at index 2 for the whole call, so it cannot be collected. */
    return l_request_impl(L, luaL_checkstring(L, 2), 3);
}

#define VERB(fn, m)                                                                                \
    static int fn(lua_State *L)                                                                    \
    {                                                                                              \
        return l_request_impl(L, m, 2);                                                            \
    }
VERB(l_get, "GET")
VERB(l_post, "POST")
VERB(l_put, "PUT")
VERB(l_patch, "PATCH")
VERB(l_delete, "DELETE")
VERB(l_head, "HEAD")
VERB(l_options, "OPTIONS")

static int l_sleep(lua_State *L)
{
    sl_user_t *u = check_user(L, 1);
    double s = luaL_checknumber(L, 2);
    if (!(s >= 0) || s > 86400 * 365)
        return luaL_error(L, "u:sleep(seconds): expected a number >= 0");
    flush_pending(u->script);
    return sleep_yield(L, u->script, (uint64_t)(s * 1e6));
}

/* ---- responses ---- */

static void jar_set(sl_script_user_t *su, const char *name, size_t nl, const char *value, size_t vl,
                    bool remove)
{
    for (uint32_t i = 0; i < su->ncookies; i++) {
        cookie_t *c = &su->cookies[i];
        if (strlen(c->name) == nl && !memcmp(c->name, name, nl)) {
            free(c->value);
            if (remove) {
                free(c->name);
                su->cookies[i] = su->cookies[--su->ncookies];
                return;
            }
            c->value = strndup(value, vl);
            if (!c->value)
                c->value = strdup("");
            return;
        }
    }
    if (remove || su->ncookies >= MAX_COOKIES)
        return;
    if (!su->cookies) {
        su->cookies = calloc(MAX_COOKIES, sizeof(*su->cookies));
        if (!su->cookies)
            return;
    }
    cookie_t c = {strndup(name, nl), strndup(value, vl)};
    if (!c.name || !c.value) {
        free(c.name);
        free(c.value);
        return;
    }
    su->cookies[su->ncookies++] = c;
}

/* Set-Cookie: name=value[; attributes]. One host per run, so Domain and Path do not
 * select anything; Max-Age <= 0 (and an Expires in the past, which servers pair with it)
 * deletes the cookie. */
static void update_cookies(sl_script_user_t *su)
{
    size_t from = 0;
    const char *v;
    while ((v = sl_resp_capture_header(&su->cap, "set-cookie", &from))) {
        const char *eq = strchr(v, '=');
        const char *semi = strchr(v, ';');
        if (!eq || (semi && semi < eq) || eq == v)
            continue;
        const char *val = eq + 1;
        size_t vl = semi ? (size_t)(semi - val) : strlen(val);
        while (vl && val[vl - 1] == ' ')
            vl--;
        const char *name = v;
        while (*name == ' ')
            name++;
        bool remove = false;
        for (const char *a = semi; a; a = strchr(a + 1, ';')) {
            const char *p = a + 1;
            while (*p == ' ')
                p++;
            if (!strncasecmp(p, "max-age=", 8) && (p[8] == '-' || p[8] == '0'))
                remove = true;
        }
        if (memchr(val, '\r', vl) || memchr(val, '\n', vl))
            continue;
        jar_set(su, name, (size_t)(eq - name), val, vl, remove);
    }
}

/* The session met a redirect to follow (see sl_http_session_ops_t): on the same origin,
 * the next request is rendered into wbuf and handed back; false when it does not apply
 * or could not be built whole (wbuf_short: the outcome is then a failure). The
 * response's cookies are taken first, as a browser does. */
static bool script_on_redirect(sl_http_session_t *s, uint16_t st, const char *loc,
                               sl_http_exchange_t *next)
{
    sl_user_t *u = sl__user_of(s);
    sl_script_user_t *su = u->script;
    if (!su->co || su->phase != PHASE_REQUEST)
        return false;
    update_cookies(su);
    su->cookies_seen = true;
    const sl_url_t *url = u->w->cfg->url;
    /* Absolute URLs must point at the run's own origin; then keep the path. */
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%s://%s", url->tls ? "https" : "http", url->authority);
    if (!strncasecmp(loc, prefix, strlen(prefix)))
        loc += strlen(prefix);
    size_t ll = strlen(loc);
    if (loc[0] != '/')
        return false;
    for (size_t i = 0; i < ll; i++) {
        if ((unsigned char)loc[i] <= 0x20 || loc[i] == 0x7f)
            return false; /* it goes into the request line */
    }
    size_t bl = strlen(url->base_path);
    const char *target = loc;
    if (bl && !strncmp(loc, url->base_path, bl))
        target = loc + bl; /* the renderer adds the base path again */
    /* 303, and 301/302 after anything but GET/HEAD, become a GET without a body, as
     * browsers and curl do; 307/308 repeat the request as it was. The new request is
     * made from the old one's bytes (its fields and body are copied, not formatted
     * again) into tbuf, which then becomes the request buffer. */
    bool keep = st == 307 || st == 308;
    su->wbuf_short = false;
    sl_http_layout_t lay;
    size_t n;
    for (;;) {
        n = sl_http_render_redirect(su->wbuf, su->wlen, &su->dyn.layout, keep, url->base_path,
                                    target, strlen(target), url->authority, su->cookies,
                                    su->ncookies, su->tbuf, su->tcap, &lay);
        if (n <= su->tcap)
            break;
        if (!grow(su, &su->tbuf, &su->tcap, n))
            return false; /* not built whole: the caller fails the request */
    }
    char *old = su->wbuf;
    size_t old_cap = su->wcap;
    su->wbuf = su->tbuf;
    su->wcap = su->tcap;
    su->wlen = n;
    su->tbuf = old;
    su->tcap = old_cap;
    su->dyn.layout = lay;
    char method[SL_HTTP_METHOD_MAX + 1];
    sl_http_wire_method(su->wbuf, su->wlen, method);
    su->dyn.wire = su->wbuf;
    su->dyn.wire_len = su->wlen;
    su->dyn.is_head = !strcmp(method, "HEAD");
    su->dyn.idempotent = sl_http_method_idempotent(method);
    u->task = &su->dyn;
    /* Still one request: the original start, name and timeout. */
    u->deadline_us = u->intended_us + su->timeout_us;
    *next = (sl_http_exchange_t){.wire = su->dyn.wire,
                                 .wire_len = su->dyn.wire_len,
                                 .idempotent = su->dyn.idempotent,
                                 .is_head = su->dyn.is_head};
    su->cookies_seen = false; /* the next response brings its own */
    return true;
}

/* Large bodies (SL_RESP_BIG_BODY_BYTES and up) are not copied into a Lua string when
 * they arrive: the capture's buffer moves into a userdata on the response (`_body`), and
 * r.body becomes a string only when the script reads it (resp_index), which frees the
 * buffer. A script that never reads a 64 MiB body costs 64 MiB, not twice that; one that
 * reads it holds both only for the copy. Lua cannot see the boxes' memory, and its own
 * pace (a cycle once the heap has doubled) would keep earlier bodies resident beside the
 * next one, so a request collects first when large bodies add up to the cap. */
typedef struct body_box {
    char *buf; /* NULL once made a string, or freed */
    size_t len, cap;
} body_box_t;

static void body_box_free(sl_script_worker_t *sw, body_box_t *b)
{
    if (!b->buf)
        return;
    if (sw && !sw->spare_body) {
        sw->spare_body = b->buf;
        sw->spare_body_cap = b->cap;
    } else {
        sl_resp_body_release(b->buf, b->cap);
    }
    b->buf = NULL;
    if (sw)
        sw->big_box_bytes -= b->len;
}

static int body_box_gc(lua_State *L)
{
    body_box_free(worker_of(L)->sw, luaL_checkudata(L, 1, BODY_MT));
    return 0;
}

static void push_big_body(lua_State *co, sl_resp_capture_t *cap)
{
    body_box_t *b = lua_newuserdatauv(co, sizeof(*b), 0);
    b->buf = NULL;
    luaL_setmetatable(co, BODY_MT);
    sl_resp_capture_take_body(cap, &b->buf, &b->len, &b->cap);
    sl_script_worker_t *sw = worker_of(co)->sw;
    if (sw && b->buf)
        sw->big_box_bytes += b->len;
}

/* r.body of a large body: the string, made now and kept on r. */
static void push_body_string(lua_State *L, int resp)
{
    if (lua_getfield(L, resp, "_body") != LUA_TUSERDATA) {
        lua_pop(L, 1);
        lua_pushliteral(L, "");
        return;
    }
    body_box_t *b = luaL_checkudata(L, -1, BODY_MT);
    sl_script_worker_t *sw = worker_of(L)->sw;
    lua_pushlstring(L, b->buf ? b->buf : "", b->buf ? b->len : 0);
    if (b->buf && sw)
        sw->big_string_bytes += b->len;
    body_box_free(sw, b);
    lua_pushvalue(L, -1);
    lua_setfield(L, resp, "body"); /* RESP_MT has no __newindex: a plain field */
    lua_remove(L, -2);             /* the box */
}

/* ---- C-side calls into Lua, protected ----
 *
 * The loop calls into Lua outside any Lua function: building a response, a user's table,
 * a coroutine. An allocation that fails there would be an unprotected error, and Lua would
 * abort the process. So each such step runs as a C function under lua_pcall in the
 * worker's main state; when it fails (memory ran out), the worker's block is marked and
 * the run controller stops the run and writes what was recorded. */

struct response_args {
    sl_script_user_t *su;
    sl_fail_t fail;
    int detail;
    uint64_t latency_us;
};

static int build_response(lua_State *co);

/* Runs fn(L) with ctx as its only argument under lua_pcall; fn leaves nres values. False
 * (with nothing left on the stack) when it raised, which here means out of memory. */
static bool protected_call(sl_worker_t *w, lua_CFunction fn, void *ctx, int nres)
{
    lua_State *L = w->sw->L;
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, ctx);
    if (lua_pcall(L, 1, nres, 0) == LUA_OK)
        return true;
    lua_pop(L, 1);
    w->cur->alloc_failed = true;
    return false;
}

/* Pushes the response table onto the coroutine's stack for its resume; false when memory
 * ran out (the coroutine then gets nothing). */
static bool push_response(sl_script_user_t *su, lua_State *co, sl_fail_t fail, int detail,
                          uint64_t latency_us)
{
    sl_worker_t *w = su->user->w;
    struct response_args a = {su, fail, detail, latency_us};
    if (!protected_call(w, build_response, &a, 1))
        return false;
    if (!lua_checkstack(co, 1)) {
        lua_pop(w->sw->L, 1);
        w->cur->alloc_failed = true;
        return false;
    }
    lua_xmove(w->sw->L, co, 1);
    return true;
}

static int build_response(lua_State *co)
{
    struct response_args *a = lua_touserdata(co, 1);
    sl_script_user_t *su = a->su;
    sl_fail_t fail = a->fail;
    int detail = a->detail;
    uint64_t latency_us = a->latency_us;
    sl_user_t *u = su->user;
    lua_createtable(co, 0, 8);
    lua_pushinteger(co, u->http.resp.status);
    lua_setfield(co, -2, "status");
    lua_pushboolean(co, fail == SL_FAIL_NONE);
    lua_setfield(co, -2, "ok");
    if (su->cap.body_len >= SL_RESP_BIG_BODY_BYTES) {
        push_big_body(co, &su->cap);
        lua_setfield(co, -2, "_body");
    } else {
        lua_pushlstring(co, su->cap.body ? su->cap.body : "", su->cap.body_len);
        lua_setfield(co, -2, "body");
        /* A small body in a large buffer (the spare, or a Content-Length that was not
         * met): the buffer goes back rather than stay with this user. */
        if (su->cap.body_cap >= SL_RESP_BIG_BODY_BYTES) {
            body_box_t b;
            sl_resp_capture_take_body(&su->cap, &b.buf, &b.len, &b.cap);
            b.len = 0; /* counted in no box */
            body_box_free(u->w->sw, &b);
        }
    }
    lua_pushlstring(co, su->cap.head ? su->cap.head : "", su->cap.head_len);
    lua_setfield(co, -2, "_hdr");
    lua_pushnumber(co, (double)latency_us / 1000.0);
    lua_setfield(co, -2, "elapsed_ms");
    lua_pushinteger(co, su->req_seq);
    lua_setfield(co, -2, "_seq");
    lua_pushinteger(co, sl__user_index(u));
    lua_setfield(co, -2, "_h");
    if (fail != SL_FAIL_NONE) {
        char buf[128];
        lua_pushstring(co, sl_fail_describe_text(u->w->cfg->texts, fail, detail, buf, sizeof(buf)));
        lua_setfield(co, -2, "error");
    }
    luaL_setmetatable(co, RESP_MT);
    return 1;
}

/* Resumes from the timer queue rather than from deep inside the I/O path, so that a
 * request failing at once cannot recurse through the script. */
static void resume_soon(sl_script_user_t *su)
{
    sl_worker_t *w = su->user->w;
    su->phase = PHASE_SLEEP;
    sl_loop_timer_start(&w->loop, &su->sleep_timer, w->loop.now_us);
}

/* The exchange of the user's current request is over: the outcome goes to its coroutine
 * (after a redirect is followed, or as the response r). */
static void script_on_done(sl_http_session_t *s, sl_fail_t fail, int detail, bool broken)
{
    sl_user_t *u = sl__user_of(s);
    sl_script_user_t *su = u->script;
    sl_worker_t *w = u->w;
    if (fail != SL_FAIL_NONE)
        detail = sl__user_fail_detail(u, fail, detail);
    bool cookies_seen = su->cookies_seen;
    su->cookies_seen = false;
    if (!su->co || su->phase != PHASE_REQUEST)
        return;
    if (!broken) {
        if (!cookies_seen)
            update_cookies(su);
        if (su->wbuf_short) {
            /* The redirect's request could not be built: the request fails. */
            fail = SL_FAIL_UNSENT;
            detail = 0;
        }
    }
    uint64_t now = sl_loop_update_now(&w->loop);
    uint64_t lat = now > u->intended_us ? now - u->intended_us : 0;
    su->pending = true;
    su->p_fail = (uint8_t)fail;
    su->p_detail = detail;
    su->p_row = u->task->row;
    su->p_latency_us = lat;
    uint64_t svc = u->http.sent_us && now > u->http.sent_us ? now - u->http.sent_us : lat;
    su->p_service_us = svc <= lat ? svc : lat;
    su->p_bytes = u->http.resp.body_bytes;
    sl_http_session_phases(&u->http, now, !broken, &su->p_phases);
    int nargs = 0;
    if (su->static_req) {
        flush_pending(su);
    } else {
        su->req_seq++;
        nargs = push_response(su, su->co, fail, detail, lat) ? 1 : 0;
    }
    if (broken) {
        /* The pushed response stays on the coroutine's stack for the resume. */
        su->resume_nargs = nargs;
        resume_soon(su);
        return;
    }
    resume(su, nargs);
}

/* r:failure(msg), r:success(): overrule the verdict of the latest response. */
static sl_script_user_t *resp_owner(lua_State *L)
{
    sl_worker_t *w = worker_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "_h");
    lua_getfield(L, 1, "_seq");
    lua_Integer h = lua_tointeger(L, -2), seq = lua_tointeger(L, -1);
    lua_pop(L, 2);
    if (h < 0 || (uint64_t)h >= w->nusers || !w->users[h].script)
        luaL_error(L, "expected a response");
    sl_script_user_t *su = w->users[h].script;
    if (!su->pending || (lua_Integer)su->req_seq != seq)
        luaL_error(L, "the response was already recorded: call r:failure()/r:success() "
                      "before the next request");
    return su;
}

static int l_failure(lua_State *L)
{
    sl_script_user_t *su = resp_owner(L);
    const char *msg = luaL_optstring(L, 2, "marked as failed by the script");
    su->p_fail = SL_FAIL_SCRIPT;
    su->p_detail = (int32_t)intern_error(su->user->w, msg);
    lua_pushboolean(L, 0);
    lua_setfield(L, 1, "ok");
    return 0;
}

static int l_success(lua_State *L)
{
    sl_script_user_t *su = resp_owner(L);
    su->p_fail = SL_FAIL_NONE;
    su->p_detail = 0;
    lua_pushboolean(L, 1);
    lua_setfield(L, 1, "ok");
    return 0;
}

static int l_json(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t len;
    const char *s = NULL;
    /* A large body not yet made a string is decoded where it lies. */
    if (lua_getfield(L, 1, "_body") == LUA_TUSERDATA) {
        body_box_t *b = luaL_checkudata(L, -1, BODY_MT);
        if (b->buf) {
            s = b->buf;
            len = b->len;
        }
    }
    if (!s) {
        lua_getfield(L, 1, "body");
        s = lua_tolstring(L, -1, &len);
    }
    if (!s)
        return luaL_error(L, "r:json(): the response has no body");
    if (sl_luajson_decode(L, s, len) != 0)
        return luaL_error(L, "r:json(): %s", lua_tostring(L, -1));
    return 1;
}

/* r.headers is built on first use: most scripts never read it. */
static int resp_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && !strcmp(k, "headers")) {
        lua_getfield(L, 1, "_hdr");
        size_t len;
        const char *h = lua_tolstring(L, -1, &len);
        lua_newtable(L);
        for (size_t i = 0; h && i < len;) {
            size_t kl = strnlen(h + i, len - i);
            size_t vi = i + kl + 1;
            if (vi > len)
                break;
            size_t vl = strnlen(h + vi, len - vi);
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (size_t j = 0; j < kl; j++) {
                char c = h[i + j];
                luaL_addchar(&b, (char)((c >= 'A' && c <= 'Z') ? c + 32 : c));
            }
            luaL_pushresult(&b);
            lua_pushvalue(L, -1);
            if (lua_rawget(L, -3) == LUA_TSTRING) {
                /* Repeated header: joined with ", " as RFC 9110 allows. */
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, h + vi, vl);
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, h + vi, vl);
            }
            lua_rawset(L, -3);
            i = vi + vl + 1;
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, 1, "headers");
        return 1;
    }
    if (k && !strcmp(k, "body")) {
        push_body_string(L, 1);
        return 1;
    }
    if (k && !strcmp(k, "json")) {
        lua_pushcfunction(L, l_json);
        return 1;
    }
    if (k && !strcmp(k, "failure")) {
        lua_pushcfunction(L, l_failure);
        return 1;
    }
    if (k && !strcmp(k, "success")) {
        lua_pushcfunction(L, l_success);
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

/* ---- the iteration ---- */

static sl_script_user_t *su_of(lua_State *L)
{
    return check_user(L, 1)->script;
}

static int do_pick(lua_State *L, sl_script_user_t *su)
{
    sl_worker_t *w = su->user->w;
    const sl_class_t *cls = &w->cfg->plan->classes[su->class_idx];
    uint32_t k = 0;
    if (cls->sequential) {
        k = su->seq_pos++ % (uint32_t)cls->ntasks;
    } else if (cls->ntasks > 1) {
        uint64_t x = sl__user_rand(su->user) % cls->total_weight;
        while (k + 1 < cls->ntasks && x >= cls->tasks[k].weight) {
            x -= cls->tasks[k].weight;
            k++;
        }
    }
    su->picked = (int32_t)k;
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->sw->class_refs[su->class_idx]);
    lua_getfield(L, -1, "tasks");
    lua_rawgeti(L, -1, cls->tasks[k].lua_index);
    return 1;
}

static int pick_after_arrival(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    return do_pick(L, (sl_script_user_t *)ctx);
}

static int l_pick(lua_State *L)
{
    sl_script_user_t *su = su_of(L);
    sl_user_t *u = su->user;
    sl_worker_t *w = u->w;
    if (u->retiring) {
        /* Live control removed this user: its loop ends, on_stop runs, and the coroutine
         * finishes (resume() then marks it retired). */
        lua_pushnil(L);
        return 1;
    }
    if (w->cfg->rate_per_s > 0) {
        /* Open model: an iteration starts only with an arrival; wait for one. */
        if (!u->arrival_us && !sl__worker_user_free(u)) {
            su->phase = PHASE_AWAIT;
            return lua_yieldk(L, 0, (lua_KContext)su, pick_after_arrival);
        }
        return do_pick(L, su);
    }
    if (!sl__worker_take_iteration(w)) {
        su->phase = PHASE_PARKED;
        sl__worker_user_retired(w);
        return lua_yield(L, 0); /* never resumed: the stop abandons this coroutine */
    }
    return do_pick(L, su);
}

bool sl__script_idle(sl_user_t *u)
{
    return u->script->co == NULL;
}

void sl__script_arrival(sl_user_t *u)
{
    sl_script_user_t *su = u->script;
    if (su->phase == PHASE_AWAIT)
        resume(su, 0);
}

static int l_iter_begin(lua_State *L)
{
    sl_script_user_t *su = su_of(L);
    uint64_t now = sl_loop_update_now(&su->user->w->loop);
    uint64_t sched = su->user->arrival_us; /* the arrival's or the grid's time, if any */
    su->iter_start_us = sched ? sched : now;
    su->lateness_us = sched && now > sched ? now - sched : 0;
    su->user->arrival_us = 0;
    su->did_request = false;
    su->in_iteration = true;
    return 0;
}

static int l_iter_end(lua_State *L)
{
    sl_script_user_t *su = su_of(L);
    sl_worker_t *w = su->user->w;
    flush_pending(su);
    su->in_iteration = false;
    su->user->arrival_us = 0;
    if (lua_toboolean(L, 2))
        return 0; /* after on_stop: nothing more */
    if (w->cfg->rate_per_s > 0)
        return 0; /* open model: the next arrival, not a wait, starts the next iteration */
    const sl_wait_t *wt = &w->cfg->plan->classes[su->class_idx].wait;
    uint64_t now = sl_loop_update_now(&w->loop);
    double wait_s = 0;
    switch (wt->kind) {
    case SL_WAIT_NONE:
        break;
    case SL_WAIT_CONSTANT:
        wait_s = wt->a_s;
        break;
    case SL_WAIT_BETWEEN: {
        double r = (double)(sl__user_rand(su->user) >> 11) / 9007199254740992.0;
        wait_s = wt->a_s + (wt->b_s - wt->a_s) * r;
        break;
    }
    case SL_WAIT_PACING:
    case SL_WAIT_THROUGHPUT: {
        /* The next iteration is intended on the pacing grid, even when this one ran
         * over: its first request is then measured from the grid, so a schedule that
         * falls behind shows in the latency (the closed model's coordinated omission). */
        double period = wt->kind == SL_WAIT_PACING ? wt->a_s : 1.0 / wt->a_s;
        uint64_t grid = su->iter_start_us + (uint64_t)(period * 1e6);
        su->user->arrival_us = grid;
        if (grid > now)
            return sleep_yield(L, su, grid - now);
        return 0;
    }
    }
    if (wait_s > 0) {
        /* Intended when the wait was meant to end, however late the loop wakes. */
        su->user->arrival_us = now + (uint64_t)(wait_s * 1e6);
        return sleep_yield(L, su, (uint64_t)(wait_s * 1e6));
    }
    if (!su->did_request)
        return sleep_yield(L, su, 0); /* never spin without giving the loop a turn */
    return 0;
}

static int l_exception(lua_State *L)
{
    sl_script_user_t *su = su_of(L);
    count_exception(su->user->w, lua_tostring(L, 2));
    return 0;
}

/* A Task{} entry of a class: its rendered bytes when no cookie needs adding. */
static int l_static(lua_State *L)
{
    sl_user_t *u = check_user(L, 1);
    sl_script_user_t *su = u->script;
    sl_worker_t *w = u->w;
    const sl_plan_t *plan = w->cfg->plan;
    const sl_class_t *cls = &plan->classes[su->class_idx];
    const sl_task_t *t = &plan->tasks[cls->tasks[su->picked].task];
    flush_pending(su);
    su->static_req = true;
    su->follow = false;
    su->timeout_us = w->cfg->timeout_us;
    if (su->ncookies == 0) {
        u->task = t;
        u->intended_us = sl_loop_update_now(&w->loop) - (su->in_iteration ? su->lateness_us : 0);
        su->phase = PHASE_REQUEST;
        su->did_request = true;
        u->max_redirects = 0;
        sl__user_send(u, su->timeout_us);
        return lua_yield(L, 0);
    }
    /* The plan's bytes with the jar's Cookie field put between them. */
    su->wbuf_short = false;
    while (
        !wire_fits(su, sl_http_render_cookies(t->wire, t->wire_len, &t->layout, su->cookies,
                                              su->ncookies, su->wbuf, su->wcap, &su->dyn.layout)))
        ;
    send_rendered(u, t->method, t->row);
    return lua_yield(L, 0);
}

/* ---- set-up ---- */

static int open_runtime(lua_State *L)
{
    luaL_newmetatable(L, USER_MT);
    static const luaL_Reg methods[] = {
        {"request", l_request}, {"get", l_get},       {"post", l_post}, {"put", l_put},
        {"patch", l_patch},     {"delete", l_delete}, {"head", l_head}, {"options", l_options},
        {"sleep", l_sleep},     {NULL, NULL},
    };
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "user");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    luaL_newmetatable(L, RESP_MT);
    lua_pushcfunction(L, resp_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, BODY_MT);
    lua_pushcfunction(L, body_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "body");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    if (luaL_loadbufferx(L, prelude, sizeof(prelude) - 1, "=stormlight", "t") != LUA_OK)
        return lua_error(L);
    lua_pushcfunction(L, l_pick);
    lua_pushcfunction(L, l_iter_begin);
    lua_pushcfunction(L, l_iter_end);
    lua_pushcfunction(L, l_exception);
    lua_pushcfunction(L, l_static);
    lua_call(L, 5, 2);
    return 2;
}

static void script_on_response_start(sl_http_session_t *s);

/* A scripted user's session: the common connection glue, its capture, its outcome. */
static const sl_http_session_ops_t script_ops = {
    .connect = sl__user_on_connect,
    .closing = sl__user_on_closing,
    .response_start = script_on_response_start,
    .event = sl__user_on_event,
    .redirect = script_on_redirect,
    .done = script_on_done,
};

int sl__script_worker_init(sl_worker_t *w, sl_err_t *err)
{
    const sl_plan_t *plan = w->cfg->plan;
    sl_script_worker_t *sw = calloc(1, sizeof(*sw));
    if (!sw)
        return SL_ENOMEM;
    w->sw = sw;
    sw->L = sl_scenario_state_new(plan, err);
    if (!sw->L)
        return SL_EINVAL;
    *(sl_worker_t **)lua_getextraspace(sw->L) = w;
    lua_pushcfunction(sw->L, open_runtime);
    if (lua_pcall(sw->L, 0, 2, 0) != LUA_OK) {
        sl_err_set(err, "cannot start the script runtime: %s", lua_tostring(sw->L, -1));
        return SL_EINVAL;
    }
    sw->run_stop_ref = luaL_ref(sw->L, LUA_REGISTRYINDEX);
    sw->run_user_ref = luaL_ref(sw->L, LUA_REGISTRYINDEX);
    sw->class_refs = calloc(plan->nclasses, sizeof(int));
    sw->users = calloc(w->nusers ? w->nusers : 1, sizeof(*sw->users));
    if (!sw->class_refs || !sw->users)
        return SL_ENOMEM;
    for (size_t i = 0; i < plan->nclasses; i++) {
        sl_scenario_push_class(sw->L, plan->classes[i].lua_index);
        sw->class_refs[i] = luaL_ref(sw->L, LUA_REGISTRYINDEX);
    }
    for (uint32_t i = 0; i < w->nusers; i++) {
        sl_script_user_t *su = &sw->users[i];
        sl_user_t *u = &w->users[i];
        su->user = u;
        su->co_ref = su->u_ref = LUA_NOREF;
        su->sleep_timer.cb = on_sleep_timer;
        su->class_idx = w->cfg->class_of_user[u->global_id];
        u->script = su;
        u->http.ops = &script_ops;
    }
    return 0;
}

void sl__script_worker_dispose(sl_worker_t *w)
{
    sl_script_worker_t *sw = w->sw;
    if (!sw)
        return;
    for (uint32_t i = 0; sw->users && i < w->nusers; i++) {
        sl_script_user_t *su = &sw->users[i];
        free(su->wbuf);
        free(su->tbuf);
        free(su->hdrs);
        sl_resp_capture_free(&su->cap);
        for (uint32_t c = 0; c < su->ncookies; c++) {
            free(su->cookies[c].name);
            free(su->cookies[c].value);
        }
        free(su->cookies);
        if (w->users)
            w->users[i].script = NULL;
    }
    if (sw->L)
        lua_close(sw->L); /* frees the boxes (one may become the spare) */
    sl_resp_body_release(sw->spare_body, sw->spare_body_cap);
    free(sw->users);
    free(sw->class_refs);
    free(sw->rows);
    free(sw);
    w->sw = NULL;
}

/* Attaches the user's capture buffers to the response being read. */
static void script_on_response_start(sl_http_session_t *s)
{
    sl_user_t *u = sl__user_of(s);
    sl_script_worker_t *sw = u->w->sw;
    sl_resp_capture_t *cap = &u->script->cap;
    if (!cap->body && sw->spare_body) {
        sl_resp_capture_give_body(cap, sw->spare_body, sw->spare_body_cap);
        sw->spare_body = NULL;
    }
    sl_resp_capture_attach(&u->http.resp, cap);
}

/* Starts fn (run_user or run_stop) for the user in a fresh coroutine. */
static int new_coroutine(lua_State *L)
{
    sl_script_user_t *su = lua_touserdata(L, 1);
    su->co = lua_newthread(L);
    su->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static void start_coroutine(sl_script_user_t *su, int fn_ref)
{
    sl_worker_t *w = su->user->w;
    user_release_coroutine(su);
    if (!protected_call(w, new_coroutine, su, 0)) {
        su->co = NULL;
        su->co_ref = LUA_NOREF;
        su->phase = PHASE_DEAD;
        return;
    }
    /* A new thread's stack has room for these three: pushing them cannot fail. */
    lua_rawgeti(su->co, LUA_REGISTRYINDEX, fn_ref);
    lua_rawgeti(su->co, LUA_REGISTRYINDEX, su->u_ref);
    lua_rawgeti(su->co, LUA_REGISTRYINDEX, w->sw->class_refs[su->class_idx]);
    resume(su, 2);
}

static int new_user_table(lua_State *L)
{
    sl_user_t *u = lua_touserdata(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)u->global_id + 1);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, sl__user_index(u));
    lua_setfield(L, -2, "_h");
    luaL_setmetatable(L, USER_MT);
    u->script->u_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

void sl__script_user_start(sl_user_t *u)
{
    if (!protected_call(u->w, new_user_table, u, 0)) {
        u->script->phase = PHASE_DEAD;
        return;
    }
    start_coroutine(u->script, u->w->sw->run_user_ref);
}

uint32_t sl__script_stop(sl_worker_t *w)
{
    sl_script_worker_t *sw = w->sw;
    /* Responses that completed before the stop are counted; the iterations end here. */
    for (uint32_t i = 0; i < w->nstarted; i++) {
        sl_script_user_t *su = &sw->users[i];
        flush_pending(su);
        sl_loop_timer_stop(&w->loop, &su->sleep_timer);
        su->phase = PHASE_IDLE;
        user_release_coroutine(su);
    }
    w->stopping = true;
    /* One count held while starting, so an on_stop that finishes at once cannot end the
     * worker before the others have started. */
    sw->running_stop = 1;
    for (uint32_t i = 0; i < w->nstarted; i++) {
        sl_script_user_t *su = &sw->users[i];
        if (!w->cfg->plan->classes[su->class_idx].has_on_stop || su->u_ref == LUA_NOREF)
            continue;
        sw->running_stop++;
        start_coroutine(su, sw->run_stop_ref);
    }
    return --sw->running_stop;
}
