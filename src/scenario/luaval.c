/* Checks and messages on Lua values that Task{} (scenario.c) and User{} (classes.c) share,
 * below both so that neither file needs the other for them. Main thread or a worker's own
 * state; every function works on the lua_State it is given. */
#include <lauxlib.h>
#include <string.h>

#include "scenario/internal.h"

/* Pushes a printable, shortened copy of s for use inside an error message, so that a
 * value containing CR, LF or megabytes of data still gives one short line. */
const char *sl__printable(lua_State *L, const char *s, size_t len)
{
    enum { MAX = 60 };
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len && i < MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        luaL_addchar(&b, (c < 0x20 || c == 0x7f) ? '?' : (char)c);
    }
    if (len > MAX)
        luaL_addstring(&b, "...");
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

bool sl__is_task(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return false;
    luaL_getmetatable(L, SL__TASK_MT);
    bool tagged = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return tagged;
}

void sl__check_keys(lua_State *L, int idx, const char *who, const char *const *known, size_t nknown,
                    const char *expected, lua_Integer npos, const char *pos_msg)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *k = lua_tolstring(L, -1, &len);
            bool ok = false;
            for (size_t i = 0; i < nknown; i++)
                ok = ok || strcmp(k, known[i]) == 0;
            if (!ok)
                luaL_error(L, "%s: unknown field '%s' (expected %s)", who, sl__printable(L, k, len),
                           expected);
        } else if (lua_isinteger(L, -1)) {
            lua_Integer i = lua_tointeger(L, -1);
            if (i < 1 || i > npos)
                luaL_error(L, "%s: unexpected positional value #%I (%s)", who, (LUAI_UACINT)i,
                           pos_msg);
        } else {
            luaL_error(L, "%s: unexpected %s key", who, luaL_typename(L, -1));
        }
    }
}

lua_Integer sl__count_keys(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n++;
        lua_pop(L, 1);
    }
    return n;
}

void sl__push_tags(lua_State *L, int idx, const char *who)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE)
        goto bad;
    lua_Integer n = sl__count_keys(L, idx);
    if ((lua_Integer)lua_rawlen(L, idx) != n)
        goto bad;
    lua_createtable(L, (int)(n < 1000 ? n : 1000), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        size_t len;
        if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
            goto bad;
        const char *s = lua_tolstring(L, -1, &len);
        if (len == 0)
            goto bad;
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)s[k];
            if (c <= 0x20 || c == 0x7f || c == ',')
                goto bad;
        }
        lua_rawseti(L, -2, i);
    }
    return;
bad:
    luaL_error(L,
               "%s: tags must be a list of words without spaces or commas, as in tags = "
               "{\"smoke\"}",
               who);
}

void sl__budget_exhaust(lua_State *L, lua_Hook hook)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *main_thread = lua_tothread(L, -1);
    lua_pop(L, 1);
    if (main_thread)
        lua_sethook(main_thread, hook, LUA_MASKCOUNT, 1);
    lua_sethook(L, hook, LUA_MASKCOUNT, 1);
}
