/* User{} classes and wait values in the scenario API, and their copy into the plan.
 *
 * User{} validates its argument where it is called, so a mistake names that line, and
 * registers two parallel entries in the Lua registry: the normalized class table the
 * runtime reads (SL__CLASSES: name, on_start, on_stop, tasks = {{fn = f} or {task = T}})
 * and what only the plan needs (SL__CLASSMETA: weight, fixed_count, wait, sequential,
 * tags, task weights and names). Both lists keep registration order, so a worker that
 * runs the same file finds every class at the same position (lua_index). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "scenario/internal.h"

/* Longest wait any wait function accepts, in seconds (about eleven days). */
#define MAX_WAIT_S 1e6
/* class_of_user is a uint16_t per user. */
#define MAX_CLASSES 65535

static bool number_arg(lua_State *L, int arg, double *out)
{
    if (lua_type(L, arg) != LUA_TNUMBER)
        return false;
    double v = (double)lua_tonumber(L, arg);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Wait values are full userdata holding an sl_wait_t: opaque to scripts, which cannot
 * change one after it was checked. */
static int push_wait(lua_State *L, sl_wait_kind_t kind, double a, double b)
{
    sl_wait_t *w = lua_newuserdatauv(L, sizeof(*w), 0);
    w->kind = kind;
    w->a_s = a;
    w->b_s = b;
    luaL_setmetatable(L, SL__WAIT_MT);
    return 1;
}

static int l_between(lua_State *L)
{
    double a, b;
    if (lua_gettop(L) != 2 || !number_arg(L, 1, &a) || !number_arg(L, 2, &b) || a < 0 || b < a ||
        b > MAX_WAIT_S)
        return luaL_error(L, "between: expected two numbers of seconds with 0 <= a <= b "
                             "(at most 1000000), as in between(0.5, 2)");
    return push_wait(L, SL_WAIT_BETWEEN, a, b);
}

static int l_constant(lua_State *L)
{
    double a;
    if (lua_gettop(L) != 1 || !number_arg(L, 1, &a) || a < 0 || a > MAX_WAIT_S)
        return luaL_error(L, "constant: expected a number of seconds >= 0 (at most 1000000), "
                             "as in constant(1)");
    return push_wait(L, SL_WAIT_CONSTANT, a, 0);
}

static int l_pacing(lua_State *L)
{
    double a;
    if (lua_gettop(L) != 1 || !number_arg(L, 1, &a) || a <= 0 || a > MAX_WAIT_S)
        return luaL_error(L, "pacing: expected a number of seconds > 0 (at most 1000000), "
                             "as in pacing(2)");
    return push_wait(L, SL_WAIT_PACING, a, 0);
}

static int l_throughput(lua_State *L)
{
    double a;
    if (lua_gettop(L) != 1 || !number_arg(L, 1, &a) || a <= 0 || 1 / a > MAX_WAIT_S ||
        a > MAX_WAIT_S)
        return luaL_error(L, "throughput: expected iterations per second > 0 (at least "
                             "0.000001, at most 1000000), as in throughput(0.5)");
    return push_wait(L, SL_WAIT_THROUGHPUT, a, 0);
}

static int l_wait_tostring(lua_State *L)
{
    const sl_wait_t *w = luaL_checkudata(L, 1, SL__WAIT_MT);
    switch (w->kind) {
    case SL_WAIT_BETWEEN:
        lua_pushfstring(L, "between(%f, %f)", w->a_s, w->b_s);
        break;
    case SL_WAIT_CONSTANT:
        lua_pushfstring(L, "constant(%f)", w->a_s);
        break;
    case SL_WAIT_PACING:
        lua_pushfstring(L, "pacing(%f)", w->a_s);
        break;
    case SL_WAIT_THROUGHPUT:
        lua_pushfstring(L, "throughput(%f)", w->a_s);
        break;
    default:
        lua_pushliteral(L, "no wait");
    }
    return 1;
}

static int rawfield(lua_State *L, int idx, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, idx);
}

/* Reads an optional integer field at the top of the stack (popped) in [lo, UINT32_MAX]. */
static lua_Integer opt_count(lua_State *L, lua_Integer def, lua_Integer lo, const char *msg)
{
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int isint = 0;
        if (lua_type(L, -1) == LUA_TNUMBER)
            v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < lo || v > (lua_Integer)UINT32_MAX)
            luaL_error(L, "%s", msg);
    }
    lua_pop(L, 1);
    return v;
}

/* Checks a name at the top of the stack: a non-empty string on one line. */
static void check_name(lua_State *L, const char *who)
{
    size_t len = 0;
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!s || len == 0)
        luaL_error(L, "%s: name must be a non-empty string", who);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            luaL_error(L, "%s: name must not contain control characters", who);
    }
}

/* Pushes "function at file:line" for the function at the top of the stack. */
static void push_function_name(lua_State *L)
{
    lua_Debug ar;
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    if (ar.linedefined < 0)
        lua_pushliteral(L, "C function");
    else if (ar.source[0] == '@')
        lua_pushfstring(L, "function at %s:%d", ar.source + 1, ar.linedefined);
    else
        lua_pushfstring(L, "function at %s:%d", ar.short_src, ar.linedefined);
}

/* One entry of tasks = {...}: pushes its normalized table and its meta table. */
static void user_task(lua_State *L, int e, lua_Integer i)
{
    static const char *const known[] = {"weight", "name", "tags"};
    char who[48];
    snprintf(who, sizeof(who), "User: tasks[%lld]", (long long)i);

    lua_createtable(L, 0, 1); /* normalized */
    lua_createtable(L, 0, 3); /* meta */
    int norm = lua_gettop(L) - 1, meta = norm + 1;
    if (sl__is_task(L, e)) {
        lua_pushvalue(L, e);
        lua_setfield(L, norm, "task");
        return;
    }
    if (lua_type(L, e) == LUA_TFUNCTION) {
        lua_pushvalue(L, e);
        lua_setfield(L, norm, "fn");
        lua_pushvalue(L, e);
        push_function_name(L);
        lua_setfield(L, meta, "name");
        lua_pop(L, 1);
        lua_pushinteger(L, 1);
        lua_setfield(L, meta, "weight");
        return;
    }
    if (lua_type(L, e) != LUA_TTABLE)
        luaL_error(L, "%s must be a Task{...}, a function, or {function, weight = n}", who);

    if (lua_rawgeti(L, e, 1) != LUA_TFUNCTION)
        luaL_error(L, "%s: [1] must be a function, as in {function(u) ... end, weight = 2}", who);
    sl__check_keys(L, e, who, known, SL_ARRAY_LEN(known), "[1] = function, weight, name, tags", 1,
                   "only [1], the function, is positional");
    lua_pushvalue(L, -1);
    lua_setfield(L, norm, "fn");
    if (rawfield(L, e, "name") == LUA_TNIL) {
        lua_pop(L, 1);
        push_function_name(L);
    } else {
        check_name(L, who);
    }
    lua_setfield(L, meta, "name");
    lua_pop(L, 1); /* the function */

    rawfield(L, e, "weight");
    char msg[96];
    snprintf(msg, sizeof(msg), "%s: weight must be a positive integer", who);
    lua_pushinteger(L, opt_count(L, 1, 1, msg));
    lua_setfield(L, meta, "weight");

    if (rawfield(L, e, "tags") != LUA_TNIL) {
        sl__push_tags(L, -1, who);
        lua_setfield(L, meta, "tags");
    }
    lua_pop(L, 1);
}

static void user_tasks(lua_State *L, int cls, int meta)
{
    static const char msg[] =
        "User: tasks must be a non-empty list of tasks, as in tasks = {Task{\"GET\", \"/\"}}";
    if (rawfield(L, 1, "tasks") != LUA_TTABLE)
        luaL_error(L, "%s", msg);
    int t = lua_gettop(L);
    lua_Integer n = sl__count_keys(L, t);
    if (n == 0 || (lua_Integer)lua_rawlen(L, t) != n)
        luaL_error(L, "%s", msg);
    if (n > SL__MAX_TASKS)
        luaL_error(L, "User: too many tasks (at most 1000000)");
    lua_createtable(L, (int)n, 0);
    lua_createtable(L, (int)n, 0);
    int norms = t + 1, metas = t + 2;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, t, i);
        user_task(L, lua_gettop(L), i);
        lua_rawseti(L, metas, i);
        lua_rawseti(L, norms, i);
        lua_pop(L, 1);
    }
    lua_setfield(L, meta, "tasks");
    lua_setfield(L, cls, "tasks");
    lua_pop(L, 1);
}

/* User{name=, weight=, fixed_count=, wait=, on_start=, on_stop=, tasks=, sequential=,
 * tags=}: validates, then appends the normalized class and its meta to the registry
 * lists. Returns nothing. Errors are raised at level 1 (the User{} line). */
static int l_user(lua_State *L)
{
    static const char *const known[] = {"name",    "weight", "fixed_count", "wait", "on_start",
                                        "on_stop", "tasks",  "sequential",  "tags"};
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "User: expected a table, as in User{tasks = {...}}");
    lua_settop(L, 1);
    sl__check_keys(L, 1, "User", known, SL_ARRAY_LEN(known),
                   "name, weight, fixed_count, wait, on_start, on_stop, tasks, sequential, tags", 0,
                   "every field of User{} is named");

    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSES);   /* 2 */
    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSMETA); /* 3 */
    lua_Integer index = (lua_Integer)lua_rawlen(L, 2) + 1;
    /* One class index is kept for the "endpoints" class. */
    if (index >= MAX_CLASSES)
        return luaL_error(L, "User: too many classes (at most %d)", MAX_CLASSES - 1);
    lua_createtable(L, 0, 4); /* 4: the normalized class */
    lua_createtable(L, 0, 8); /* 5: meta */
    const int cls = 4, meta = 5;

    if (rawfield(L, 1, "name") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushfstring(L, "User%I", (LUAI_UACINT)index);
    } else {
        check_name(L, "User");
    }
    for (lua_Integer i = 1; i < index; i++) {
        lua_rawgeti(L, 2, i);
        lua_getfield(L, -1, "name");
        if (lua_rawequal(L, -1, -3)) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            return luaL_error(L, "User: a class named '%s' is already defined",
                              sl__printable(L, s, len));
        }
        lua_pop(L, 2);
    }
    lua_setfield(L, cls, "name");

    rawfield(L, 1, "weight");
    lua_pushinteger(L, opt_count(L, 1, 1, "User: weight must be a positive integer"));
    lua_setfield(L, meta, "weight");
    rawfield(L, 1, "fixed_count");
    lua_pushinteger(L, opt_count(L, 0, 0, "User: fixed_count must be a non-negative integer"));
    lua_setfield(L, meta, "fixed_count");

    if (rawfield(L, 1, "wait") != LUA_TNIL) {
        const sl_wait_t *w = luaL_testudata(L, -1, SL__WAIT_MT);
        if (!w)
            return luaL_error(L, "User: wait must be between(a, b), constant(s), pacing(s) or "
                                 "throughput(per_s)");
        lua_pushinteger(L, (lua_Integer)w->kind);
        lua_setfield(L, meta, "wait_kind");
        lua_pushnumber(L, (lua_Number)w->a_s);
        lua_setfield(L, meta, "wait_a");
        lua_pushnumber(L, (lua_Number)w->b_s);
        lua_setfield(L, meta, "wait_b");
    }
    lua_pop(L, 1);

    static const char *const hooks[] = {"on_start", "on_stop"};
    for (size_t i = 0; i < SL_ARRAY_LEN(hooks); i++) {
        int ty = rawfield(L, 1, hooks[i]);
        if (ty != LUA_TNIL && ty != LUA_TFUNCTION)
            return luaL_error(L, "User: %s must be a function", hooks[i]);
        lua_setfield(L, cls, hooks[i]);
    }

    int ty = rawfield(L, 1, "sequential");
    if (ty != LUA_TNIL && ty != LUA_TBOOLEAN)
        return luaL_error(L, "User: sequential must be a boolean");
    lua_pushboolean(L, lua_toboolean(L, -1));
    lua_setfield(L, meta, "sequential");
    lua_pop(L, 1);

    if (rawfield(L, 1, "tags") != LUA_TNIL) {
        sl__push_tags(L, -1, "User");
        lua_setfield(L, meta, "tags");
    }
    lua_pop(L, 1);

    user_tasks(L, cls, meta);

    lua_rawseti(L, 3, index);
    lua_rawseti(L, 2, index);
    return 0;
}

void sl__classes_install(lua_State *L)
{
    if (luaL_newmetatable(L, SL__WAIT_MT)) {
        lua_pushcfunction(L, l_wait_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "wait");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SL__CLASSES);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SL__CLASSMETA);
    lua_register(L, "User", l_user);
    lua_register(L, "between", l_between);
    lua_register(L, "constant", l_constant);
    lua_register(L, "pacing", l_pacing);
    lua_register(L, "throughput", l_throughput);
}

lua_Integer sl__classes_count(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSES);
    lua_Integer n = lua_type(L, -1) == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, -1) : 0;
    lua_pop(L, 1);
    return n;
}

bool sl__classes_add_endpoints(lua_State *L, int idx, lua_Integer n)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSES);
    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSMETA);
    int list = lua_gettop(L) - 1, metas = list + 1;
    lua_Integer index = (lua_Integer)lua_rawlen(L, list) + 1;
    for (lua_Integer i = 1; i < index; i++) {
        lua_rawgeti(L, list, i);
        lua_getfield(L, -1, "name");
        bool taken =
            lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "endpoints") == 0;
        lua_pop(L, 2);
        if (taken) {
            lua_pop(L, 2);
            return false;
        }
    }

    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "endpoints");
    lua_setfield(L, -2, "name");
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, 1);
    lua_setfield(L, -2, "weight");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "fixed_count");
    int cls = lua_gettop(L) - 1, meta = cls + 1;

    lua_createtable(L, (int)n, 0);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_createtable(L, 0, 1);
        lua_rawgeti(L, idx, i);
        lua_setfield(L, -2, "task");
        lua_rawseti(L, -3, i);
        lua_createtable(L, 0, 1);
        lua_pushinteger(L, i - 1);
        lua_setfield(L, -2, "endpoint");
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, meta, "tasks");
    lua_setfield(L, cls, "tasks");
    lua_rawseti(L, metas, index);
    lua_rawseti(L, list, index);
    lua_pop(L, 2);
    return true;
}

static lua_Integer meta_int(lua_State *L, int idx, const char *key, lua_Integer def)
{
    lua_getfield(L, idx, key);
    lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : def;
    lua_pop(L, 1);
    return v;
}

static double meta_num(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    double v = lua_isnumber(L, -1) ? (double)lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    return v;
}

/* Appends s to the tag list unless present. False on allocation failure. */
static bool tag_add(char ***tags, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*tags)[i], s) == 0)
            return true;
    }
    char **p = realloc(*tags, (*n + 1) * sizeof(*p));
    if (!p)
        return false;
    *tags = p;
    p[*n] = strdup(s);
    if (!p[*n])
        return false;
    (*n)++;
    return true;
}

/* Adds the strings of the Lua list at idx (ignored when not a table). */
static bool tags_add_lua(lua_State *L, int idx, char ***tags, size_t *n)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        return true;
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= len; i++) {
        bool ok = lua_rawgeti(L, idx, i) != LUA_TSTRING || tag_add(tags, n, lua_tostring(L, -1));
        lua_pop(L, 1);
        if (!ok)
            return false;
    }
    return true;
}

static char *name_of_task(const sl_task_t *t)
{
    size_t n = strlen(t->method) + strlen(t->name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s %s", t->method, t->name);
    return s;
}

/* Copies class entry i (normalized at cls, meta at meta) into k. */
static int collect_class(lua_State *L, int cls, int meta, sl_plan_t *plan, sl_class_t *k,
                         sl__add_task_fn add, void *ctx)
{
    if (lua_getfield(L, cls, "name") != LUA_TSTRING)
        return SL_EINVAL;
    k->name = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!k->name)
        return SL_ENOMEM;
    k->weight = (uint32_t)meta_int(L, meta, "weight", 1);
    k->fixed_count = (uint32_t)meta_int(L, meta, "fixed_count", 0);
    k->wait.kind = (sl_wait_kind_t)meta_int(L, meta, "wait_kind", SL_WAIT_NONE);
    k->wait.a_s = meta_num(L, meta, "wait_a");
    k->wait.b_s = meta_num(L, meta, "wait_b");
    lua_getfield(L, meta, "sequential");
    k->sequential = lua_toboolean(L, -1);
    lua_pop(L, 1);
    k->has_on_start = lua_getfield(L, cls, "on_start") == LUA_TFUNCTION;
    k->has_on_stop = lua_getfield(L, cls, "on_stop") == LUA_TFUNCTION;
    lua_pop(L, 2);

    lua_getfield(L, meta, "tags");
    int ctags = lua_gettop(L);
    if (lua_getfield(L, cls, "tasks") != LUA_TTABLE || lua_getfield(L, meta, "tasks") != LUA_TTABLE)
        return SL_EINVAL;
    int norms = ctags + 1, metas = ctags + 2;
    size_t n = (size_t)lua_rawlen(L, norms);
    if (n == 0 || (size_t)lua_rawlen(L, metas) != n)
        return SL_EINVAL;
    k->tasks = calloc(n, sizeof(*k->tasks));
    if (!k->tasks)
        return SL_ENOMEM;
    for (size_t j = 0; j < n; j++) {
        sl_class_task_t *ct = &k->tasks[k->ntasks++];
        ct->lua_index = (uint32_t)(j + 1);
        lua_rawgeti(L, norms, (lua_Integer)j + 1);
        lua_rawgeti(L, metas, (lua_Integer)j + 1);
        int e = lua_gettop(L) - 1, m = e + 1;
        if (lua_type(L, e) != LUA_TTABLE || lua_type(L, m) != LUA_TTABLE)
            return SL_EINVAL;
        if (lua_getfield(L, e, "task") == LUA_TTABLE) {
            uint32_t index;
            lua_Integer ep = meta_int(L, m, "endpoint", -1);
            if (ep >= 0 && (size_t)ep < plan->ntasks) {
                index = (uint32_t)ep;
            } else {
                int rc = add(L, lua_gettop(L), ctx, &index);
                if (rc != SL_OK)
                    return rc;
            }
            const sl_task_t *t = &plan->tasks[index];
            ct->task = (int32_t)index;
            ct->weight = t->weight;
            ct->name = name_of_task(t);
            if (!ct->name || !tags_add_lua(L, ctags, &ct->tags, &ct->ntags))
                return SL_ENOMEM;
            for (size_t i = 0; i < t->ntags; i++) {
                if (!tag_add(&ct->tags, &ct->ntags, t->tags[i]))
                    return SL_ENOMEM;
            }
        } else {
            ct->task = -1;
            lua_Integer w = meta_int(L, m, "weight", 0);
            if (w < 1 || w > (lua_Integer)UINT32_MAX || lua_getfield(L, m, "name") != LUA_TSTRING)
                return SL_EINVAL;
            ct->weight = (uint32_t)w;
            ct->name = strdup(lua_tostring(L, -1));
            lua_pop(L, 1);
            lua_getfield(L, m, "tags");
            bool ok = ct->name && tags_add_lua(L, ctags, &ct->tags, &ct->ntags) &&
                      tags_add_lua(L, lua_gettop(L), &ct->tags, &ct->ntags);
            lua_pop(L, 1);
            if (!ok)
                return SL_ENOMEM;
        }
        k->total_weight += ct->weight;
        lua_settop(L, metas);
    }
    lua_settop(L, ctags - 1);
    return SL_OK;
}

int sl__classes_collect(lua_State *L, sl_plan_t *plan, sl__add_task_fn add, void *ctx,
                        const char *file, sl_err_t *err)
{
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSES);
    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSMETA);
    int list = top + 1, metas = top + 2;
    size_t n = (size_t)lua_rawlen(L, list);
    int rc = SL_OK;
    if (n > 0) {
        plan->classes = calloc(n, sizeof(*plan->classes));
        if (!plan->classes)
            rc = SL_ENOMEM;
    }
    for (size_t i = 0; i < n && rc == SL_OK; i++) {
        sl_class_t *k = &plan->classes[plan->nclasses++];
        k->lua_index = (uint32_t)(i + 1);
        lua_rawgeti(L, list, (lua_Integer)i + 1);
        lua_rawgeti(L, metas, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TTABLE || lua_type(L, -2) != LUA_TTABLE)
            rc = SL_EINVAL;
        else
            rc = collect_class(L, top + 3, top + 4, plan, k, add, ctx);
        lua_settop(L, metas);
    }
    lua_settop(L, top);
    plan->nlua_classes = (uint32_t)n;
    if (rc == SL_ENOMEM)
        sl_err_set(err, "%s: out of memory", file);
    else if (rc == SL_ELIMIT)
        sl_err_set(err, "%s: too many tasks (at most 1000000)", file);
    else if (rc != SL_OK)
        sl_err_set(err, "%s: a User{} class was changed after it was defined", file);
    return rc;
}

int sl__classes_verify(lua_State *L, const sl_plan_t *plan, sl_err_t *err)
{
    lua_Integer n = sl__classes_count(L);
    if (n != (lua_Integer)plan->nlua_classes) {
        sl_err_set(err,
                   "%s: %lld classes on this load but %u on the first (User{} calls must not "
                   "depend on the run)",
                   plan->file, (long long)n, plan->nlua_classes);
        return SL_EINVAL;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, SL__CLASSES);
    int list = lua_gettop(L);
    int rc = SL_OK;
    for (size_t i = 0; i < plan->nclasses && rc == SL_OK; i++) {
        const sl_class_t *k = &plan->classes[i];
        lua_rawgeti(L, list, k->lua_index);
        int cls = lua_gettop(L);
        bool same = lua_getfield(L, cls, "name") == LUA_TSTRING &&
                    strcmp(lua_tostring(L, -1), k->name) == 0 &&
                    lua_getfield(L, cls, "tasks") == LUA_TTABLE;
        for (size_t j = 0; same && j < k->ntasks; j++) {
            const sl_class_task_t *ct = &k->tasks[j];
            same = lua_rawgeti(L, cls + 2, ct->lua_index) == LUA_TTABLE &&
                   (lua_getfield(L, -1, "task") == LUA_TTABLE) == (ct->task >= 0);
            lua_settop(L, cls + 2);
        }
        if (!same) {
            sl_err_set(err,
                       "%s: class '%s' differs from the first load (User{} calls must not "
                       "depend on the run)",
                       plan->file, k->name);
            rc = SL_EINVAL;
        }
        lua_settop(L, list);
    }
    lua_pop(L, 1);
    return rc;
}
