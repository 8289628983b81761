/* JSON <-> Lua: the encoder's exact output and messages (the same encoder Task{data=}
 * uses, see test_scenario.c for its full table), and the decoder's mapping of every JSON
 * type, its errors and its depth bound. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "scenario/luajson.h"

static lua_State *new_state(void)
{
    lua_State *L = luaL_newstate();
    cr_assert_not_null(L);
    luaL_openlibs(L);
    return L;
}

/* Evaluates a Lua expression and leaves its value on the stack. */
static void eval(lua_State *L, const char *expr)
{
    char src[4096];
    snprintf(src, sizeof(src), "return %s", expr);
    cr_assert_eq(luaL_dostring(L, src), LUA_OK, "%s", lua_tostring(L, -1));
}

static const struct {
    const char *lua, *json;
} enc_ok[] = {
    {"{name = 'test', price = 10}", "{\"name\":\"test\",\"price\":10}"},
    {"{b = 1, a = 2}", "{\"a\":2,\"b\":1}"},
    {"{1, 2.5, 'x', true, false}", "[1,2.5,\"x\",true,false]"},
    {"{}", "{}"},
    {"'top-level string'", "\"top-level string\""},
    {"42", "42"},
    {"10.0", "10.0"},
    {"true", "true"},
    {"{a = {b = {c = {}}}}", "{\"a\":{\"b\":{\"c\":{}}}}"},
    {"{s = 'a\\0b'}", "{\"s\":\"a\\u0000b\"}"},
};

Test(luajson, encode_ok)
{
    lua_State *L = new_state();
    for (size_t i = 0; i < sizeof(enc_ok) / sizeof(enc_ok[0]); i++) {
        eval(L, enc_ok[i].lua);
        int top = lua_gettop(L);
        char *out = (char *)1;
        size_t len = 99;
        sl_err_t err = {{0}};
        cr_assert_eq(sl_luajson_encode(L, -1, "json", &out, &len, &err), SL_OK, "%s: %s",
                     enc_ok[i].lua, err.msg);
        cr_expect_eq(lua_gettop(L), top, "%s: the stack is left as it was", enc_ok[i].lua);
        cr_expect_eq(len, strlen(enc_ok[i].json), "%s", enc_ok[i].lua);
        cr_expect_str_eq(out, enc_ok[i].json, "%s", enc_ok[i].lua);
        free(out);
        lua_settop(L, 0);
    }
    lua_close(L);
}

static const struct {
    const char *lua, *msg;
} enc_bad[] = {
    {"{f = print}", "opts.json.f: cannot encode a function value as JSON"},
    {"{a = {1, io.stdout}}", "opts.json.a[2]: cannot encode a userdata value as JSON"},
    {"{x = 0/0}", "opts.json.x: cannot encode NaN or infinity as JSON"},
    {"{1, x = 2}", "opts.json: a table must have only string keys (object) or be a list 1..n "
                   "(array)"},
    {"{s = '\\xff'}", "opts.json.s: string is not valid UTF-8"},
    {"{['\\xff'] = 1}", "opts.json: string is not valid UTF-8"},
    {"print", "opts.json: cannot encode a function value as JSON"},
    {"nil", "opts.json: cannot encode a nil value as JSON"},
};

Test(luajson, encode_errors)
{
    lua_State *L = new_state();
    for (size_t i = 0; i < sizeof(enc_bad) / sizeof(enc_bad[0]); i++) {
        eval(L, enc_bad[i].lua);
        char *out = (char *)1;
        size_t len = 99;
        sl_err_t err = {{0}};
        cr_expect_eq(sl_luajson_encode(L, 1, "opts.json", &out, &len, &err), SL_EINVAL, "%s",
                     enc_bad[i].lua);
        cr_expect_null(out);
        cr_expect_eq(len, 0);
        cr_expect_str_eq(err.msg, enc_bad[i].msg, "%s", enc_bad[i].lua);
        cr_expect_eq(lua_gettop(L), 1);
        lua_settop(L, 0);
    }
    /* A cycle is reported as too deep, with the path to where it gave up. */
    cr_assert_eq(luaL_dostring(L, "local t = {} t.t = t return t"), LUA_OK);
    char *out;
    size_t len;
    sl_err_t err;
    cr_expect_eq(sl_luajson_encode(L, -1, "data", &out, &len, &err), SL_EINVAL);
    cr_expect(strncmp(err.msg, "data.t.t.t", 10) == 0, "%s", err.msg);
    cr_expect(strstr(err.msg, ": tables nested more than 100 levels deep (is there a cycle?)"),
              "%s", err.msg);
    lua_close(L);
}

/* Decodes json and checks the value with a Lua predicate `function(v) return ... end`. */
static void expect_decoded(lua_State *L, const char *json, const char *check)
{
    int top = lua_gettop(L);
    int rc = sl_luajson_decode(L, json, strlen(json));
    cr_assert_eq(rc, SL_OK, "%s: %s", json, rc ? lua_tostring(L, -1) : "");
    cr_assert_eq(lua_gettop(L), top + 1, "%s: one value pushed", json);
    char src[1024];
    snprintf(src, sizeof(src), "local v = ... ; return %s", check);
    cr_assert_eq(luaL_loadstring(L, src), LUA_OK, "%s", lua_tostring(L, -1));
    lua_insert(L, -2);
    cr_assert_eq(lua_pcall(L, 1, 1, 0), LUA_OK, "%s: %s", json, lua_tostring(L, -1));
    cr_expect(lua_toboolean(L, -1), "%s: %s is false", json, check);
    lua_settop(L, top);
}

Test(luajson, decode_types)
{
    lua_State *L = new_state();
    expect_decoded(L, "{\"token\": \"abc\", \"n\": 3}",
                   "v.token == 'abc' and math.type(v.n) == 'integer' and v.n == 3");
    expect_decoded(L, "[1, 2.5, \"x\", true, false]",
                   "#v == 5 and math.type(v[1]) == 'integer' and v[2] == 2.5 and v[3] == 'x' "
                   "and v[4] == true and v[5] == false");
    expect_decoded(L, "  \"s\"\n", "v == 's'");
    expect_decoded(L, "1.0", "math.type(v) == 'integer' and v == 1");
    expect_decoded(L, "-0", "math.type(v) == 'integer' and v == 0");
    expect_decoded(L, "1e3", "math.type(v) == 'integer' and v == 1000");
    expect_decoded(L, "0.1", "math.type(v) == 'float' and v == 0.1");
    expect_decoded(L, "1e300", "math.type(v) == 'float' and v == 1e300");
    expect_decoded(L, "-9007199254740992", "math.type(v) == 'integer' and v == -2^53");
    expect_decoded(L, "9223372036854775808", "math.type(v) == 'float'");
    expect_decoded(L, "-9223372036854775808", "v == math.mininteger");
    expect_decoded(L, "null", "v == nil");
    expect_decoded(L, "{\"a\": null, \"b\": 1}",
                   "v.a == nil and v.b == 1 and next(v, 'b') == "
                   "nil");
    expect_decoded(L, "[1, null, 3]", "v[1] == 1 and v[2] == nil and v[3] == 3");
    expect_decoded(L, "{}", "type(v) == 'table' and next(v) == nil");
    expect_decoded(L, "[]", "type(v) == 'table' and next(v) == nil");
    expect_decoded(L, "{\"a\": 1, \"a\": 2}", "v.a == 2");
    expect_decoded(L, "{\"nested\": {\"list\": [{\"x\": [true]}]}}", "v.nested.list[1].x[1]");
    expect_decoded(L, "\"a\\u0000b\"", "v == 'a\\0b'");
    expect_decoded(L, "[\"\\/\\b\\f\\r\\t\", 1E+2, -0.5e-1]",
                   "v[1] == '/\\b\\f\\r\\t' and v[2] == 100 and v[3] == -0.05");
    expect_decoded(L, "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\n\"",
                   "v == 'caf\\u{E9} \\u{1F600} \"q\" \\n'");
    lua_close(L);
}

static const struct {
    const char *json, *msg;
} dec_bad[] = {
    {"", "invalid JSON: empty document"},
    {"  \n", "invalid JSON: empty document"},
    {"{\"a\": }", "invalid JSON at byte 6 (near '}')"},
    {"[1, 2", "invalid JSON: unexpected end of document"},
    {"[1, 2 x", "invalid JSON at byte 6 (near 'x')"},
    {"{\"a\" 1}", "invalid JSON at byte 5 (near '1}')"},
    {"[01]", "invalid JSON at byte 2 (near '1]')"},
    {"[1.]", "invalid JSON at byte 1 (near '1.]')"},
    {"\"\\ud83d x\"", "invalid JSON at byte 1 (near '\\ud83d x\"')"},
    {"\"abc", "invalid JSON at byte 0 (near '\"abc')"},
    {"{\"a\": 1} x", "invalid JSON: unexpected data after the value at byte 9"},
    {"[1] [2]", "invalid JSON: unexpected data after the value at byte 4"},
    {"tru", "invalid JSON at byte 0 (near 'tru')"},
    {"nope", "invalid JSON at byte 0 (near 'nope')"},
};

Test(luajson, decode_errors)
{
    lua_State *L = new_state();
    for (size_t i = 0; i < sizeof(dec_bad) / sizeof(dec_bad[0]); i++) {
        cr_expect_eq(sl_luajson_decode(L, dec_bad[i].json, strlen(dec_bad[i].json)), SL_EPARSE,
                     "%s", dec_bad[i].json);
        cr_assert_eq(lua_gettop(L), 1, "%s: one message pushed", dec_bad[i].json);
        cr_expect_str_eq(lua_tostring(L, -1), dec_bad[i].msg, "%s", dec_bad[i].json);
        lua_settop(L, 0);
    }
    lua_close(L);
}

Test(luajson, decode_length_is_respected)
{
    /* Not NUL-terminated: only the first len bytes count. */
    lua_State *L = new_state();
    const char buf[] = "[1,2]garbage";
    cr_assert_eq(sl_luajson_decode(L, buf, 5), SL_OK, "%s", lua_tostring(L, -1));
    cr_expect_eq(lua_rawlen(L, -1), 2);
    lua_settop(L, 0);
    cr_expect_eq(sl_luajson_decode(L, buf, 4), SL_EPARSE);
    lua_close(L);
}

Test(luajson, decode_depth_bound)
{
    lua_State *L = new_state();
    char *deep = malloc(2 * 600 + 1);
    size_t n = 0;
    for (int i = 0; i < 600; i++)
        deep[n++] = '[';
    for (int i = 0; i < 600; i++)
        deep[n++] = ']';
    cr_expect_eq(sl_luajson_decode(L, deep, n), SL_EPARSE);
    cr_expect_str_eq(lua_tostring(L, -1), "JSON nested more than 512 levels deep");
    cr_expect_eq(lua_gettop(L), 1);
    lua_settop(L, 0);

    /* 512 levels are fine. */
    n = 0;
    for (int i = 0; i < 512; i++)
        deep[n++] = '[';
    for (int i = 0; i < 512; i++)
        deep[n++] = ']';
    cr_expect_eq(sl_luajson_decode(L, deep, n), SL_OK, "%s", lua_tostring(L, -1));
    free(deep);

    /* Far deeper than cJSON's own limit: an error, not a crash. */
    size_t big = 100000;
    deep = malloc(big);
    memset(deep, '[', big);
    lua_settop(L, 0);
    cr_expect_eq(sl_luajson_decode(L, deep, big), SL_EPARSE);
    free(deep);
    lua_close(L);
}

/* What the encoder writes, the decoder reads back. */
Test(luajson, round_trip)
{
    lua_State *L = new_state();
    eval(L, "{user = 'u1', items = {1, 2, {sku = 'a-1', qty = 2}}, price = 9.5, ok = true}");
    char *out;
    size_t len;
    sl_err_t err;
    cr_assert_eq(sl_luajson_encode(L, -1, "json", &out, &len, &err), SL_OK, "%s", err.msg);
    lua_settop(L, 0);
    cr_assert_eq(sl_luajson_decode(L, out, len), SL_OK);
    free(out);
    cr_assert_eq(sl_luajson_encode(L, -1, "json", &out, &len, &err), SL_OK, "%s", err.msg);
    cr_expect_str_eq(out, "{\"items\":[1,2,{\"qty\":2,\"sku\":\"a-1\"}],\"ok\":true,\"price\":9.5,"
                          "\"user\":\"u1\"}");
    free(out);
    lua_close(L);
}

/* r:json() runs on every worker thread, on the request path: it must not serialise them.
 * (cJSON's parser writes a process-wide error slot, which once meant a mutex per call.)
 * The test binary's own pthread_mutex_lock counts the calls made by this thread. */
static __thread int lock_counting, locks_taken;

int pthread_mutex_lock(pthread_mutex_t *m)
{
    static int (*real)(pthread_mutex_t *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pthread_mutex_lock");
    if (lock_counting)
        locks_taken++;
    return real(m);
}

Test(luajson, decode_takes_no_lock)
{
    lua_State *L = new_state();
    const char doc[] = "{\"token\": \"abc\", \"items\": [1, 2, {\"x\": null}]}";
    lock_counting = 1;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(sl_luajson_decode(L, doc, sizeof(doc) - 1), SL_OK);
        lua_settop(L, 0);
        cr_assert_eq(sl_luajson_decode(L, "[1, 2", 5), SL_EPARSE);
        lua_settop(L, 0);
    }
    lock_counting = 0;
    cr_expect_eq(locks_taken, 0, "%d mutex locks in 200 decodes", locks_taken);
    lua_close(L);
}
