/* `stages` and `shape` from the scenario file, read from the Lua state the file was
 * loaded in (main thread only), which is kept for the run when there is a shape function
 * to call. */
#include "scenario/shape.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "scenario/internal.h"

struct sl_shape {
    lua_State *L;
    int fn_ref;
};

/* stages[i] as {"30s", 100} or {duration = "30s", target = 100}; durations may also be
 * numbers of seconds. */
static int read_stage(lua_State *L, const char *file, int i, sl_stage_t *st, sl_err_t *err)
{
    if (!lua_istable(L, -1)) {
        sl_err_set(err, "%s: stages[%d] must be a table {duration, target}", file, i);
        return SL_EINVAL;
    }
    int t = lua_gettop(L);
    if (lua_getfield(L, t, "duration") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_rawgeti(L, t, 1);
    }
    if (lua_getfield(L, t, "target") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_rawgeti(L, t, 2);
    }
    int ok = 1;
    sl_err_t derr;
    if (lua_type(L, -2) == LUA_TNUMBER) {
        double s = lua_tonumber(L, -2);
        ok = s > 0 && s < 1e8;
        st->duration_us = ok ? (uint64_t)(s * 1e6) : 0;
    } else if (lua_type(L, -2) == LUA_TSTRING) {
        ok = sl_duration_parse(lua_tostring(L, -2), &st->duration_us, &derr) == 0 &&
             st->duration_us > 0;
    } else {
        ok = 0;
    }
    if (!ok) {
        sl_err_set(err,
                   "%s: stages[%d]: the duration must be like \"30s\" or a number of "
                   "seconds > 0",
                   file, i);
        lua_settop(L, t);
        return SL_EINVAL;
    }
    int isnum = 0;
    st->target = lua_tonumberx(L, -1, &isnum);
    lua_settop(L, t);
    if (!isnum || !(st->target >= 0) || st->target > 1e7) {
        sl_err_set(err, "%s: stages[%d]: the target must be a number >= 0", file, i);
        return SL_EINVAL;
    }
    return 0;
}

sl_shape_t *sl_shape_open(sl_plan_t *plan, sl_stages_t *stages, bool *has_stages, sl_err_t *err)
{
    *has_stages = false;
    err->msg[0] = '\0';
    /* The state the file was loaded in: reading its globals runs none of the file again. */
    lua_State *L = plan->lua;
    plan->lua = NULL;
    if (!L) {
        sl_err_set(err,
                   "%s: the scenario's Lua state is gone (stages and shape are read "
                   "once)",
                   plan->file ? plan->file : "scenario");
        return NULL;
    }
    lua_settop(L, 0);
    const char *file = plan->file ? plan->file : "scenario";
    if (lua_getglobal(L, "stages") != LUA_TNIL) {
        if (!lua_istable(L, -1)) {
            sl_err_set(err, "%s: 'stages' must be a list of {duration, target}", file);
            lua_close(L);
            return NULL;
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n < 1 || n > SL_STAGES_MAX) {
            sl_err_set(err, "%s: 'stages' must have 1 to %d entries", file, SL_STAGES_MAX);
            lua_close(L);
            return NULL;
        }
        stages->n = 0;
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            if (read_stage(L, file, (int)i, &stages->stage[stages->n], err) != 0) {
                lua_close(L);
                return NULL;
            }
            stages->n++;
            lua_pop(L, 1);
        }
        *has_stages = true;
    }
    lua_pop(L, 1);
    if (lua_getglobal(L, "shape") == LUA_TNIL) {
        lua_close(L);
        return NULL;
    }
    if (!lua_isfunction(L, -1)) {
        sl_err_set(err, "%s: 'shape' must be a function(t) returning users, spawn_rate", file);
        lua_close(L);
        return NULL;
    }
    sl_shape_t *sh = calloc(1, sizeof(*sh));
    if (!sh) {
        sl_err_set(err, "out of memory");
        lua_close(L);
        return NULL;
    }
    sh->L = L;
    sh->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return sh;
}

/* shape() runs on the main thread every second, between the live view, the keys and the
 * signals: an endless loop in it would hang all of them. So each call gets a budget of VM
 * instructions, as loading the file does (10 million, a few tens of milliseconds; a
 * real shape uses hundreds). */
#define SHAPE_MAX_INSTRUCTIONS 10000000

/* Count hook: the budget is spent. Every later instruction of this thread and of the
 * state's main thread fails too, so a pcall or a coroutine inside shape() cannot carry
 * on; sl_shape_call clears the hook afterwards. */
static void on_budget_spent(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    sl__budget_exhaust(L, on_budget_spent);
    luaL_where(L, 0);
    lua_pushfstring(L, "took too long (over %d Lua instructions: an endless loop?)",
                    SHAPE_MAX_INSTRUCTIONS);
    lua_concat(L, 2);
    lua_error(L);
}

int sl_shape_call(sl_shape_t *sh, double t_s, double *users, double *spawn_rate, sl_err_t *err)
{
    lua_State *L = sh->L;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sh->fn_ref);
    lua_pushnumber(L, t_s);
    lua_sethook(L, on_budget_spent, LUA_MASKCOUNT, SHAPE_MAX_INSTRUCTIONS);
    int st = lua_pcall(L, 1, 2, 0);
    lua_sethook(L, NULL, 0, 0);
    if (st != LUA_OK) {
        sl_err_set(err, "shape: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
        return -1;
    }
    if (lua_isnil(L, 1))
        return 0;
    int a = 0, b = 0;
    *users = lua_tonumberx(L, 1, &a);
    *spawn_rate = lua_isnil(L, 2) ? 0 : lua_tonumberx(L, 2, &b);
    if (lua_isnil(L, 2))
        b = 1;
    if (!a || !b || !(*users >= 0) || *users > 1e7 || !(*spawn_rate >= 0)) {
        sl_err_set(err, "shape(%g) must return users >= 0 and a spawn rate >= 0, or nil", t_s);
        return -1;
    }
    return 1;
}

void sl_shape_free(sl_shape_t *sh)
{
    if (!sh)
        return;
    lua_close(sh->L);
    free(sh);
}
