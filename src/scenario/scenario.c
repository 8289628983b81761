/* Scenario loader. Runs the user's Lua file once, in a private lua_State that is closed
 * before returning, and copies what it declared (`endpoints`, `host`, User{} classes) into
 * an sl_plan_t of plain C data; an endpoints-only plan needs no Lua afterwards. For a plan
 * with classes, each worker runs the same file again in its own state
 * (sl_scenario_state_new), and the two are checked to agree.
 *
 * Validation happens inside Task{} itself, so that a mistake is reported with the line of
 * the Task call ("stormlight_file.lua:12: Task: method must be a string"); the JSON body
 * is encoded there too, for the same reason. Every Lua call, including opening the
 * libraries and reading the results, runs under lua_pcall: a bad file or an allocation
 * failure becomes an error code, never a panic. */
#include "scenario/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "base/file.h"
#include "scenario/csvdata.h"
#include "scenario/internal.h"
#include "scenario/luajson.h"

/* The private metatable SL__TASK_MT marks a table as made by Task{}. Its __metatable
 * field hides it from getmetatable/setmetatable, so a script cannot forge a task or untag
 * one by accident. */

/* Registry key of the metatable of the box that holds an encoded body while Task{} turns
 * it into a Lua string: if that raises, the box's __gc frees the buffer. */
#define JBOX_MT "stormlight.jsonbox"

/* Limits that keep a broken or hostile file from exhausting memory. */
#define SL_MAX_FILE_BYTES (64u << 20)

/* Rejects keys Task{} does not know, so a typo ("header =", "wieght =") is an error and
 * not a silently ignored field. */
static void task_check_keys(lua_State *L)
{
    static const char *const known[] = {"data", "headers", "name", "tags", "weight"};
    sl__check_keys(L, 1, "Task", known, SL_ARRAY_LEN(known), "data, headers, name, tags, weight", 2,
                   "only method and path are positional");
}

/* Validates t.headers (at idx) and pushes a fresh name -> string-value table. */
static void task_headers(lua_State *L, int idx)
{
    lua_newtable(L);
    int out = lua_gettop(L);
    lua_newtable(L); /* lower-cased name -> name, to catch "accept" next to "Accept" */
    int seen = lua_gettop(L);

    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "Task: header names must be strings, got a %s", luaL_typename(L, -2));
        size_t nlen, vlen;
        const char *name = lua_tolstring(L, -2, &nlen);
        if (!sl_http_header_name_ok(name, nlen))
            luaL_error(L,
                       "Task: invalid header name '%s' (letters, digits and !#$%%&'*+-.^_`|~ "
                       "only)",
                       sl__printable(L, name, nlen));
        int vt = lua_type(L, -1);
        if (vt != LUA_TSTRING && vt != LUA_TNUMBER)
            luaL_error(L, "Task: header '%s' must be a string, got a %s", name,
                       luaL_typename(L, -1));
        /* Convert a copy: converting the value in place is allowed, but a copy keeps the
         * iteration obviously correct. */
        lua_pushvalue(L, -1);
        const char *value = lua_tolstring(L, -1, &vlen);
        if (!sl_http_header_value_ok(value, vlen))
            luaL_error(L, "Task: header '%s' value must not contain CR, LF or NUL", name);

        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t i = 0; i < nlen; i++)
            luaL_addchar(&b, (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]));
        luaL_pushresult(&b); /* stack: key, value, value copy, lower */
        lua_pushvalue(L, -1);
        if (lua_rawget(L, seen) != LUA_TNIL)
            luaL_error(L, "Task: header '%s' given twice (as '%s' and '%s')", lua_tostring(L, -2),
                       lua_tostring(L, -1), name);
        lua_pop(L, 1);
        lua_pushvalue(L, -4); /* name */
        lua_rawset(L, seen);  /* seen[lower] = name; pops lower and name */

        lua_pushvalue(L, -3); /* name */
        lua_insert(L, -2);    /* stack: key, value, name, value copy */
        lua_rawset(L, out);   /* out[name] = value copy */
        lua_pop(L, 1);        /* value; keep key for lua_next */
    }
    lua_pop(L, 1); /* seen */
}

static int jbox_gc(lua_State *L)
{
    char **box = lua_touserdata(L, 1);
    free(*box);
    *box = NULL;
    return 0;
}

/* Encodes the table at idx as JSON and pushes the string; raises "Task: data...: what is
 * wrong" at level 1. */
static void push_json(lua_State *L, int idx)
{
    char **box = lua_newuserdatauv(L, sizeof(*box), 0);
    *box = NULL;
    luaL_setmetatable(L, JBOX_MT);
    size_t len;
    sl_err_t err;
    int rc = sl_luajson_encode(L, idx, "data", box, &len, &err);
    if (rc == SL_ENOMEM)
        luaL_error(L, "Task: out of memory while encoding data");
    if (rc != SL_OK)
        luaL_error(L, "Task: %s", err.msg);
    lua_pushlstring(L, *box, len);
    free(*box);
    *box = NULL;
    lua_remove(L, -2);
}

/* Pushes t[key] without metamethods and returns its type: the argument table is checked
 * with raw access (as the unknown-key check is), so what is validated is what is used. */
static int rawfield(lua_State *L, int idx, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, idx);
}

/* Task{method, path, data=, headers=, name=, weight=}: validates its argument and returns
 * a new table tagged with the private metatable, holding checked values only. Errors are
 * raised at level 1, i.e. they carry the file and line of the Task call. */
static int l_task(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "Task: expected a table, as in Task{\"GET\", \"/path\"}");
    lua_settop(L, 1);
    task_check_keys(L);

    lua_createtable(L, 0, 8);
    int t = lua_gettop(L);

    /* method: a non-empty token, upper-cased. */
    size_t len;
    if (lua_rawgeti(L, 1, 1) != LUA_TSTRING)
        return luaL_error(L, "Task: method must be a string");
    const char *m = lua_tolstring(L, -1, &len);
    if (len == 0)
        return luaL_error(L, "Task: method must not be empty");
    char method[SL_HTTP_METHOD_MAX + 1];
    if (!sl_http_method_canon(m, len, method))
        return luaL_error(L, "Task: method '%s' is not a valid HTTP method",
                          sl__printable(L, m, len));
    lua_pushlstring(L, method, len);
    lua_setfield(L, t, "method");
    lua_pop(L, 1);

    /* path: goes into the request line verbatim, so nothing that could split it. */
    if (lua_rawgeti(L, 1, 2) != LUA_TSTRING)
        return luaL_error(L, "Task: path must be a string");
    const char *p = lua_tolstring(L, -1, &len);
    if (len == 0 || p[0] != '/')
        return luaL_error(L, "Task: path must start with '/', got '%s'", sl__printable(L, p, len));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c == 0x7f)
            return luaL_error(L, "Task: path must not contain spaces or control characters "
                                 "(percent-encode them)");
    }
    /* Bytes >= 0x80 (a UTF-8 path) are percent-encoded on the wire, as browsers and curl
     * send them; the default row name keeps the path as written, which reads better. */
    size_t elen = sl_url_escape_high(p, len, NULL);
    if (elen != len) {
        luaL_Buffer eb;
        char *e = luaL_buffinitsize(L, &eb, elen);
        sl_url_escape_high(p, len, e);
        luaL_pushresultsize(&eb, elen);
    } else {
        lua_pushvalue(L, -1);
    }
    lua_setfield(L, t, "path");

    /* name: the statistics row; defaults to the path. Shown in tables, so one line. */
    int ty = rawfield(L, 1, "name");
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1); /* the path as written, still below */
    } else if (ty != LUA_TSTRING) {
        return luaL_error(L, "Task: name must be a string");
    } else {
        const char *n = lua_tolstring(L, -1, &len);
        if (len == 0)
            return luaL_error(L, "Task: name must not be empty");
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
                return luaL_error(L, "Task: name must not contain control characters");
        }
    }
    lua_setfield(L, t, "name");
    lua_pop(L, 1); /* the path as written */

    /* weight: a positive integer (2.0 is accepted as 2, 1.5 is not). */
    ty = rawfield(L, 1, "weight");
    lua_Integer w = 1;
    if (ty != LUA_TNIL) {
        int isint = 0;
        if (ty == LUA_TNUMBER)
            w = lua_tointegerx(L, -1, &isint);
        if (!isint || w < 1 || w > (lua_Integer)UINT32_MAX)
            return luaL_error(L, "Task: weight must be a positive integer");
    }
    lua_pop(L, 1);
    lua_pushinteger(L, w);
    lua_setfield(L, t, "weight");

    /* data: a table becomes JSON now, so encoding errors point at this line; a string is
     * sent as is. */
    ty = rawfield(L, 1, "data");
    if (ty == LUA_TTABLE) {
        push_json(L, lua_gettop(L));
        lua_setfield(L, t, "body");
        lua_pushboolean(L, 1);
        lua_setfield(L, t, "json");
    } else if (ty == LUA_TSTRING) {
        lua_pushvalue(L, -1);
        lua_setfield(L, t, "body");
    } else if (ty != LUA_TNIL) {
        return luaL_error(L, "Task: data must be a table or a string");
    }
    lua_pop(L, 1);

    ty = rawfield(L, 1, "headers");
    if (ty == LUA_TTABLE) {
        task_headers(L, lua_gettop(L));
    } else if (ty == LUA_TNIL) {
        lua_newtable(L);
    } else {
        return luaL_error(L, "Task: headers must be a table of name = value strings");
    }
    lua_setfield(L, t, "headers");
    lua_pop(L, 1);

    /* tags: for --tags / --exclude-tags; always a list, maybe empty. */
    if (rawfield(L, 1, "tags") == LUA_TNIL)
        lua_newtable(L);
    else
        sl__push_tags(L, -1, "Task");
    lua_setfield(L, t, "tags");
    lua_pop(L, 1);

    luaL_setmetatable(L, SL__TASK_MT);
    return 1;
}

/* Message handler for the chunk: the message itself, one line, no traceback (the line of
 * the mistake is what a user needs). Adds "file:line:" when the error value lacks it
 * (error("x", 0), error({})), so every message points somewhere. */
static int msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline <= 0)
            continue;
        size_t n = strlen(ar.short_src);
        if (strncmp(msg, ar.short_src, n) != 0 || msg[n] != ':')
            msg = lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
        break;
    }
    lua_pushstring(L, msg);
    return 1;
}

struct load_ctx {
    const char *src;
    size_t len;
    const char *chunkname;  /* "@file", as Lua wants it */
    const char *file;       /* "file", for our own messages */
    const char *dir;        /* the file's directory for csv(), NULL = working directory */
    sl_plan_t *plan;        /* filled by a load */
    const sl_plan_t *check; /* or, for a worker's state, what it must match */
    sl_err_t *err;
    int rc;
    size_t task_cap; /* allocated entries of plan->tasks */
};

static char *dup_mem(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* Reads a string field of the task table at idx into a new C string. The task was made
 * by Task{}, but a script using the debug library could still have changed it, so types
 * are checked again. Returns NULL when missing or not a string; *oom on malloc failure. */
static char *task_string(lua_State *L, int idx, const char *key, size_t *len, bool *oom)
{
    char *r = NULL;
    size_t n = 0;
    if (lua_getfield(L, idx, key) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, -1, &n);
        r = dup_mem(s, n);
        if (!r)
            *oom = true;
    }
    lua_pop(L, 1);
    if (len)
        *len = n;
    return r;
}

static int header_cmp(const void *a, const void *b)
{
    const sl_header_t *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);
    return c ? c : strcmp(x->name, y->name);
}

/* Copies the task table at idx into t. Returns SL_OK, SL_EINVAL (not a task) or
 * SL_ENOMEM. Everything allocated is stored in t at once, so sl_plan_dispose frees it
 * even if a Lua error unwinds through here. */
static int copy_task(lua_State *L, int idx, sl_task_t *t)
{
    bool oom = false;
    if (!sl__is_task(L, idx))
        return SL_EINVAL;

    t->method = task_string(L, idx, "method", NULL, &oom);
    t->path = task_string(L, idx, "path", NULL, &oom);
    t->name = task_string(L, idx, "name", NULL, &oom);
    if (lua_getfield(L, idx, "body") == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        t->body = dup_mem(s, n);
        t->body_len = n;
        oom = oom || !t->body;
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "json");
    t->body_is_json = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "weight");
    lua_Integer w = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    if (oom)
        return SL_ENOMEM;
    if (!t->method || !t->path || !t->name || w < 1 || w > (lua_Integer)UINT32_MAX)
        return SL_EINVAL;
    t->weight = (uint32_t)w;
    t->idempotent = sl_http_method_idempotent(t->method);
    t->is_head = strcmp(t->method, "HEAD") == 0;

    if (lua_getfield(L, idx, "headers") != LUA_TTABLE)
        return SL_EINVAL;
    int h = lua_gettop(L);
    size_t n = (size_t)sl__count_keys(L, h);
    if (n > 0) {
        t->headers = calloc(n, sizeof(*t->headers));
        if (!t->headers)
            return SL_ENOMEM;
        lua_pushnil(L);
        while (lua_next(L, h)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return SL_EINVAL;
            size_t nl, vl;
            const char *name = lua_tolstring(L, -2, &nl);
            const char *value = lua_tolstring(L, -1, &vl);
            sl_header_t *hd = &t->headers[t->nheaders++];
            hd->name = dup_mem(name, nl);
            hd->value = dup_mem(value, vl);
            if (!hd->name || !hd->value)
                return SL_ENOMEM;
            lua_pop(L, 1);
        }
        qsort(t->headers, t->nheaders, sizeof(*t->headers), header_cmp);
    }
    lua_pop(L, 1);

    if (lua_getfield(L, idx, "tags") != LUA_TTABLE)
        return SL_EINVAL;
    size_t ntags = (size_t)lua_rawlen(L, -1);
    if (ntags > 0) {
        t->tags = calloc(ntags, sizeof(*t->tags));
        if (!t->tags)
            return SL_ENOMEM;
        for (size_t i = 0; i < ntags; i++) {
            if (lua_rawgeti(L, -1, (lua_Integer)i + 1) != LUA_TSTRING)
                return SL_EINVAL;
            t->tags[t->ntags] = strdup(lua_tostring(L, -1));
            if (!t->tags[t->ntags])
                return SL_ENOMEM;
            t->ntags++;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return SL_OK;
}

static int fail_file(struct load_ctx *c, const char *what)
{
    sl_err_set(c->err, "%s: %s", c->file, what);
    c->rc = SL_EINVAL;
    return 0;
}

static int fail_oom(struct load_ctx *c)
{
    sl_err_set(c->err, "%s: out of memory", c->file);
    c->rc = SL_ENOMEM;
    return 0;
}

/* Appends the Task{} at idx to plan->tasks and gives it its statistics row, a new one for
 * a new (method, name) pair. Serves both the endpoints list and, as an sl__add_task_fn,
 * the Task{} entries of User{} classes. Returns SL_OK, SL_EINVAL (not a task), SL_ELIMIT
 * (too many tasks) or SL_ENOMEM; whatever was allocated is already in the plan. */
static int add_task(lua_State *L, int idx, void *ctx, uint32_t *index)
{
    struct load_ctx *c = ctx;
    sl_plan_t *plan = c->plan;
    idx = lua_absindex(L, idx);
    if (plan->ntasks >= SL__MAX_TASKS)
        return SL_ELIMIT;
    if (plan->ntasks == c->task_cap) {
        size_t cap = c->task_cap ? c->task_cap * 2 : 16;
        sl_task_t *p = realloc(plan->tasks, cap * sizeof(*p));
        if (!p)
            return SL_ENOMEM;
        plan->tasks = p;
        c->task_cap = cap;
    }
    sl_task_t *t = &plan->tasks[plan->ntasks++];
    memset(t, 0, sizeof(*t));
    int rc = copy_task(L, idx, t);
    if (rc != SL_OK)
        return rc;
    plan->total_weight += t->weight;
    *index = (uint32_t)(plan->ntasks - 1);

    /* The row comes with sl_plan_index_rows, once every task is known. */
    return SL_OK;
}

/* Checks `endpoints` (at ep, of type ty) and returns its length, or -1 after reporting. */
static lua_Integer check_endpoints(lua_State *L, struct load_ctx *c, int ep, int ty,
                                   lua_Integer nclasses)
{
    if (ty == LUA_TNIL) {
        /* A file of User{} classes needs no endpoints. */
        if (nclasses > 0)
            return 0;
        fail_file(c, "'endpoints' is not defined");
        return -1;
    }
    if (ty != LUA_TTABLE) {
        fail_file(c, "'endpoints' must be a list of Task{...}");
        return -1;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, ep);
    lua_Integer count = sl__count_keys(L, ep);
    const char *what = NULL;
    if (count == 0)
        what = "'endpoints' is empty";
    else if (count != n)
        what = "'endpoints' must be a list { Task{...}, ... } without named keys or holes";
    else if (n > SL__MAX_TASKS)
        what = "too many endpoints (at most 1000000)";
    if (what) {
        fail_file(c, what);
        return -1;
    }
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, ep, i);
        bool ok = sl__is_task(L, -1);
        lua_pop(L, 1);
        if (!ok) {
            sl_err_set(c->err, "%s: endpoints[%lld] is not a Task{...}", c->file, (long long)i);
            c->rc = SL_EINVAL;
            return -1;
        }
    }
    return n;
}

/* Reads `host`, `endpoints` and the User{} classes into the plan (a load), or checks that
 * they match c->check (a worker's state). Raw access only: the script's code must not run
 * again here (a metatable on _G could otherwise do anything). */
static int collect(lua_State *L, struct load_ctx *c)
{
    sl_plan_t *plan = c->plan;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    int g = lua_gettop(L);

    if (plan) {
        lua_pushliteral(L, "host");
        int ty = lua_rawget(L, g);
        if (ty != LUA_TNIL) {
            if (ty != LUA_TSTRING)
                return fail_file(c, "'host' must be a string");
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            plan->host = dup_mem(s, n);
            if (!plan->host)
                return fail_oom(c);
        }
        lua_pop(L, 1);
    }

    lua_Integer nclasses = sl__classes_count(L);
    lua_pushliteral(L, "endpoints");
    int ty = lua_rawget(L, g);
    int ep = lua_gettop(L);
    lua_Integer n = check_endpoints(L, c, ep, ty, nclasses);
    if (n < 0)
        return 0;

    if (plan) {
        for (lua_Integer i = 1; i <= n; i++) {
            uint32_t index;
            lua_rawgeti(L, ep, i);
            int rc = add_task(L, -1, c, &index);
            if (rc == SL_ENOMEM)
                return fail_oom(c);
            if (rc != SL_OK) {
                sl_err_set(c->err, "%s: endpoints[%lld] is not a Task{...}", c->file, (long long)i);
                c->rc = SL_EINVAL;
                return 0;
            }
            lua_pop(L, 1);
        }
    }

    /* Next to User{} classes, the endpoints are one more class. */
    if (n > 0 && nclasses > 0 && !sl__classes_add_endpoints(L, ep, n))
        return fail_file(c, "a User{} class is named 'endpoints', the name the endpoints list "
                            "takes next to User{} classes");

    int rc = plan ? sl__classes_collect(L, plan, add_task, c, c->file, c->err)
                  : sl__classes_verify(L, c->check, c->err);
    if (rc != SL_OK) {
        c->rc = rc;
        return 0;
    }
    lua_settop(L, g - 1);
    return 0;
}

/* Copies a Lua error message into err. Lua shortens long file names in messages to
 * "..." and the last LUA_IDSIZE - 4 characters; the full path is put back so that every
 * message names the file exactly as the user gave it. */
static void set_lua_error(struct load_ctx *c, const char *msg)
{
    const size_t tail = LUA_IDSIZE - 4; /* what luaO_chunkid keeps of an "@file" name */
    size_t flen = strlen(c->file);
    c->rc = SL_EINVAL;
    if (flen + 1 > LUA_IDSIZE && strncmp(msg, "...", 3) == 0 &&
        strncmp(msg + 3, c->file + flen - tail, tail) == 0 && msg[3 + tail] == ':') {
        sl_err_set(c->err, "%s%s", c->file, msg + 3 + tail);
        return;
    }
    sl_err_set(c->err, "%s", msg);
}

/* An endless loop in a scenario file would hang the tool before the test starts, so the
 * file's code runs on a budget of VM instructions (100 million, about a second; real files
 * use thousands). 0 means no budget. */
static int instruction_limit = 100000000;

void sl_scenario_set_instruction_limit(int max_instructions)
{
    instruction_limit = max_instructions > 0 ? max_instructions : 0;
}

/* Count hook: the budget is spent. From now on every instruction of the main thread and
 * of this one fails, so neither a pcall nor a fresh coroutine lets the script carry on.
 * msgh adds the file and the line being run. */
static void on_budget_spent(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    sl__budget_exhaust(L, on_budget_spent);
    lua_pushfstring(L,
                    "scenario took too long to load (over %d Lua instructions: an endless "
                    "loop?)",
                    instruction_limit);
    lua_error(L);
}

/* Everything that touches Lua, run under lua_pcall so that even an allocation failure
 * while opening the libraries is an error code, not a panic. */
static int run(lua_State *L)
{
    struct load_ctx *c = lua_touserdata(L, 1);
    luaL_openlibs(L);

    luaL_newmetatable(L, SL__TASK_MT);
    lua_pushliteral(L, "Task");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    luaL_newmetatable(L, JBOX_MT);
    lua_pushcfunction(L, jbox_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_register(L, "Task", l_task);
    sl__classes_install(L);
    sl__csvdata_install(L, c->dir);

    lua_pushcfunction(L, msgh);
    int h = lua_gettop(L);
    /* As luaL_loadfile does: skip a UTF-8 byte-order mark and a "#!" first line, keeping
     * the newline so that line numbers in messages stay right. */
    const char *src = c->src;
    size_t len = c->len;
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) {
        src += 3;
        len -= 3;
    }
    if (len > 0 && src[0] == '#') {
        const char *nl = memchr(src, '\n', len);
        len = nl ? len - (size_t)(nl - src) : 0;
        src = nl ? nl : src;
    }
    /* Text only: precompiled bytecode is not verified by Lua and can crash the process.
     * Checked here as well as by the "t" mode so the message names the file. */
    if (len > 0 && src[0] == LUA_SIGNATURE[0]) {
        sl_err_set(c->err, "%s: precompiled Lua is not accepted; give the source file", c->file);
        c->rc = SL_EINVAL;
        return 0;
    }
    int st = luaL_loadbufferx(L, src, len, c->chunkname, "t");
    if (st == LUA_OK) {
        if (instruction_limit > 0)
            lua_sethook(L, on_budget_spent, LUA_MASKCOUNT, instruction_limit);
        st = lua_pcall(L, 0, 0, h);
        lua_sethook(L, NULL, 0, 0);
    }
    if (st == LUA_ERRMEM) {
        c->rc = SL_ENOMEM;
        sl_err_set(c->err, "%s: out of memory", c->file);
        return 0;
    }
    if (st != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        set_lua_error(c, msg ? msg : "unknown error");
        return 0;
    }
    lua_settop(L, h - 1);
    return collect(L, c);
}

/* Opens a Lua state and runs c->src in it as file, then collects or checks (see
 * collect). Returns the state when c->rc is SL_OK, else closes it and returns NULL with
 * c->err set. */
static lua_State *open_and_run(struct load_ctx *c, const char *file)
{
    c->file = file;
    c->rc = SL_OK;
    size_t flen = strlen(file);
    char *chunk = malloc(flen + 2);
    /* csv() looks next to the scenario file first. */
    const char *slash = strrchr(file, '/');
    char *dir = slash ? strndup(file, slash == file ? 1 : (size_t)(slash - file)) : NULL;
    lua_State *L = chunk && (dir || !slash) ? luaL_newstate() : NULL;
    if (!L) {
        free(chunk);
        free(dir);
        sl_err_set(c->err, "%s: out of memory", file);
        c->rc = SL_ENOMEM;
        return NULL;
    }
    chunk[0] = '@';
    memcpy(chunk + 1, file, flen + 1);
    c->chunkname = chunk;
    c->dir = dir;

    lua_pushcfunction(L, run);
    lua_pushlightuserdata(L, c);
    int st = lua_pcall(L, 1, 0, 0);
    if (st == LUA_ERRMEM) {
        c->rc = SL_ENOMEM;
        sl_err_set(c->err, "%s: out of memory", file);
    } else if (st != LUA_OK) {
        /* Only reachable through a bug in this file: run() reports user errors itself. */
        const char *msg = lua_tostring(L, -1);
        sl_err_set(c->err, "%s: %s", file, msg ? msg : "internal error");
        c->rc = SL_EINVAL;
    }
    free(chunk);
    free(dir);
    c->chunkname = c->dir = NULL;
    if (c->rc != SL_OK) {
        lua_close(L);
        return NULL;
    }
    lua_settop(L, 0);
    return L;
}

int sl_scenario_load_string(const char *src, size_t len, const char *chunkname, sl_plan_t *plan,
                            sl_err_t *err)
{
    /* Lua prints "@name" chunks as "name:line:"; accept a caller's '@' or '=' too. */
    const char *file = chunkname ? chunkname : "scenario";
    if (file[0] == '@' || file[0] == '=')
        file++;
    struct load_ctx c = {.src = src, .len = len, .plan = plan, .err = err};

    memset(plan, 0, sizeof(*plan));
    plan->file = strdup(file);
    plan->source = dup_mem(src, len);
    plan->source_len = len;
    if (!plan->file || !plan->source) {
        sl_plan_dispose(plan);
        sl_err_set(err, "%s: out of memory", file);
        return SL_ENOMEM;
    }
    lua_State *L = open_and_run(&c, file);
    if (!L) {
        sl_plan_dispose(plan);
        return c.rc;
    }
    /* Kept for the file's stages and shape (sl_shape_open), so the file runs once. */
    plan->lua = L;
    size_t nrows = 0;
    int rc = sl_plan_index_rows(plan, SL_ROWS_MAX, NULL, &nrows);
    if (rc == SL_ELIMIT)
        sl_err_set(err, "%s: the scenario declares more than %u request rows", file, SL_ROWS_MAX);
    else if (rc != SL_OK)
        sl_err_set(err, "%s: out of memory", file);
    if (rc != SL_OK) {
        sl_plan_dispose(plan);
        return rc == SL_ELIMIT ? SL_EINVAL : rc;
    }
    return SL_OK;
}

lua_State *sl_scenario_state_new(const sl_plan_t *plan, sl_err_t *err)
{
    struct load_ctx c = {
        .src = plan->source ? plan->source : "",
        .len = plan->source ? plan->source_len : 0,
        .check = plan,
        .err = err,
    };
    return open_and_run(&c, plan->file ? plan->file : "scenario");
}

void sl_scenario_push_class(lua_State *L, uint32_t lua_index)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSES);
    if (lua_type(L, -1) == LUA_TTABLE)
        lua_rawgeti(L, -1, (lua_Integer)lua_index);
    else
        lua_pushnil(L);
    lua_remove(L, -2);
}

int sl_scenario_load(const char *path, sl_plan_t *plan, sl_err_t *err)
{
    memset(plan, 0, sizeof(*plan));
    /* Read the file ourselves rather than with luaL_loadfile, for our message format
     * ("cannot open 'path': ...") and so the same code path serves strings and files. */
    char *buf = NULL;
    size_t len = 0;
    int rc = sl_file_read(path, SL_MAX_FILE_BYTES, &buf, &len, err);
    if (rc == SL_OK)
        rc = sl_scenario_load_string(buf ? buf : "", len, path, plan, err);
    free(buf);
    return rc;
}
