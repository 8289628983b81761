/* Request rendering: the exact bytes each task puts on the wire, compared in full. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/url.h"
#include "scenario/plan.h"
#include "scenario/scenario.h"

#define UA "User-Agent: stormlight/" SL_VERSION "\r\n"

/* Loads `endpoints = { <task> }`, renders it against base and compares the whole
 * request with want. */
static void check(const char *task, const char *base, const char *want)
{
    char src[1024];
    snprintf(src, sizeof(src), "endpoints = { %s }", task);
    sl_plan_t plan;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_scenario_load_string(src, strlen(src), "t.lua", &plan, &err), SL_OK, "%s",
                 err.msg);
    sl_url_t url;
    cr_assert_eq(sl_url_parse(base, &url, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(sl_plan_render(&plan, &url), SL_OK);
    const sl_task_t *t = &plan.tasks[0];
    cr_assert_not_null(t->wire);
    cr_expect(t->wire_len == strlen(want) && memcmp(t->wire, want, t->wire_len) == 0,
              "%s against %s\n--- got ---\n%.*s\n--- want ---\n%s", task, base, (int)t->wire_len,
              t->wire, want);
    sl_plan_dispose(&plan);
}

Test(render, get_without_body)
{
    check("Task{'GET', '/hello'}", "http://127.0.0.1:8000",
          "GET /hello HTTP/1.1\r\n"
          "Host: 127.0.0.1:8000\r\n" UA "Accept: */*\r\n"
          "\r\n");
}

Test(render, architecture_example_get)
{
    /* The user's Content-Type is sent even without a body; no Content-Length. */
    check("Task{'GET', '/hello', headers = {['Content-Type'] = 'application/json'}}",
          "http://localhost:8089",
          "GET /hello HTTP/1.1\r\n"
          "Host: localhost:8089\r\n"
          "Content-Type: application/json\r\n" UA "Accept: */*\r\n"
          "\r\n");
}

Test(render, post_with_json_data)
{
    check("Task{'POST', '/api/upload', data = {name = 'test', price = 10}}", "http://localhost",
          "POST /api/upload HTTP/1.1\r\n"
          "Host: localhost\r\n" UA "Accept: */*\r\n"
          "Content-Type: application/json\r\n"
          "Content-Length: 26\r\n"
          "\r\n"
          "{\"name\":\"test\",\"price\":10}");
}

Test(render, user_headers_override_defaults)
{
    /* Overrides match case-insensitively and keep the user's spelling; a stale
     * Content-Length is replaced by the real one; user headers come sorted. */
    check("Task{'post', '/x', data = {a = 1}, headers = {['user-agent'] = 'custom/1', "
          "['Content-Type'] = 'application/vnd.api+json', ['Content-Length'] = '999', "
          "['X-Trace'] = 't', ACCEPT = 'text/plain'}}",
          "https://example.com",
          "POST /x HTTP/1.1\r\n"
          "Host: example.com\r\n"
          "ACCEPT: text/plain\r\n"
          "Content-Type: application/vnd.api+json\r\n"
          "user-agent: custom/1\r\n"
          "X-Trace: t\r\n"
          "Content-Length: 7\r\n"
          "\r\n"
          "{\"a\":1}");
}

Test(render, user_host_header_wins)
{
    check("Task{'GET', '/', headers = {host = 'vhost.test', Z = 'z'}}", "http://10.0.0.1:81",
          "GET / HTTP/1.1\r\n"
          "Host: vhost.test\r\n"
          "Z: z\r\n" UA "Accept: */*\r\n"
          "\r\n");
}

Test(render, string_body_is_not_json)
{
    check("Task{'PUT', '/form', data = 'a=1&b=2', headers = {['Content-Type'] = "
          "'application/x-www-form-urlencoded'}}",
          "http://h",
          "PUT /form HTTP/1.1\r\n"
          "Host: h\r\n"
          "Content-Type: application/x-www-form-urlencoded\r\n" UA "Accept: */*\r\n"
          "Content-Length: 7\r\n"
          "\r\n"
          "a=1&b=2");
    check("Task{'POST', '/raw', data = 'xyz'}", "http://h",
          "POST /raw HTTP/1.1\r\n"
          "Host: h\r\n" UA "Accept: */*\r\n"
          "Content-Length: 3\r\n"
          "\r\n"
          "xyz");
    check("Task{'POST', '/empty', data = ''}", "http://h",
          "POST /empty HTTP/1.1\r\n"
          "Host: h\r\n" UA "Accept: */*\r\n"
          "Content-Length: 0\r\n"
          "\r\n");
}

Test(render, base_path)
{
    check("Task{'GET', '/users?id=1'}", "http://h/api",
          "GET /api/users?id=1 HTTP/1.1\r\n"
          "Host: h\r\n" UA "Accept: */*\r\n"
          "\r\n");
    check("Task{'GET', '/'}", "http://h/api/",
          "GET /api/ HTTP/1.1\r\n"
          "Host: h\r\n" UA "Accept: */*\r\n"
          "\r\n");
}

Test(render, ipv6_authority)
{
    check("Task{'GET', '/'}", "http://[::1]:8080",
          "GET / HTTP/1.1\r\n"
          "Host: [::1]:8080\r\n" UA "Accept: */*\r\n"
          "\r\n");
    check("Task{'HEAD', '/'}", "https://[2001:db8::1]",
          "HEAD / HTTP/1.1\r\n"
          "Host: [2001:db8::1]\r\n" UA "Accept: */*\r\n"
          "\r\n");
}

Test(render, ports)
{
    check("Task{'GET', '/'}", "https://example.com:8443",
          "GET / HTTP/1.1\r\n"
          "Host: example.com:8443\r\n" UA "Accept: */*\r\n"
          "\r\n");
    check("Task{'GET', '/'}", "http://example.com:80",
          "GET / HTTP/1.1\r\n"
          "Host: example.com\r\n" UA "Accept: */*\r\n"
          "\r\n");
    check("Task{'GET', '/'}", "https://example.com:80",
          "GET / HTTP/1.1\r\n"
          "Host: example.com:80\r\n" UA "Accept: */*\r\n"
          "\r\n");
}

/* plan.c on its own, without the Lua loader, and rendering twice. */
Test(render, hand_built_plan_rerender)
{
    sl_header_t headers[] = {{(char *)"Accept", (char *)"a/b"}};
    sl_task_t task = {
        .method = (char *)"DELETE",
        .path = (char *)"/item/1",
        .name = (char *)"/item/1",
        .weight = 1,
        .headers = headers,
        .nheaders = 1,
    };
    sl_plan_t plan = {.tasks = &task, .ntasks = 1};
    sl_url_t a, b;
    cr_assert_eq(sl_url_parse("http://one:1", &a, NULL), SL_OK);
    cr_assert_eq(sl_url_parse("http://two/v2", &b, NULL), SL_OK);
    cr_assert_eq(sl_plan_render(&plan, &a), SL_OK);
    cr_assert_eq(sl_plan_render(&plan, &b), SL_OK); /* replaces, does not leak */
    const char *want = "DELETE /v2/item/1 HTTP/1.1\r\n"
                       "Host: two\r\n"
                       "Accept: a/b\r\n" UA "\r\n";
    cr_expect_eq(task.wire_len, strlen(want));
    cr_expect(memcmp(task.wire, want, task.wire_len) == 0, "%.*s", (int)task.wire_len, task.wire);
    free(task.wire);
}

Test(render, dispose_zeroed_plan)
{
    sl_plan_t plan = {0};
    sl_plan_dispose(&plan);
    sl_plan_dispose(NULL);
}
