/* Fuzz target for the scenario loader (src/scenario/scenario.h) and request rendering
 * (src/scenario/plan.h): load the input as a scenario file, render every task against a
 * base URL (the file's own `host` when it parses, else a fixed one with a base path),
 * check the bytes, dispose.
 *
 * The loader runs arbitrary Lua. So that the fuzzer explores the loader rather than the
 * machine, a first line removes what reaches outside the process or loads unverified
 * bytecode (os, io, package, require, dofile, loadfile, debug, string.dump, load in
 * binary mode, print); the input starts on line 2. Endless loops are cut by the loader's
 * instruction budget, lowered here to a million; runaway memory is bounded by libFuzzer's
 * -rss_limit_mb / -malloc_limit_mb (see tests/fuzz/run.sh).
 *
 * Invariants checked: a failure has a message and leaves a zeroed plan; a loaded plan has
 * tasks, rows in range, weights >= 1 summing to total_weight; every rendered request is
 * "METHOD SP target SP HTTP/1.1" CRLF, header lines with CRLF and no bare CR, LF or NUL,
 * an empty line, then exactly the body, with a Content-Length that matches it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/url.h"
#include "scenario/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_scenario: invariant failed: %s (line %d)\n", #cond, __LINE__);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char prelude[] =
    "os, io, package, require, dofile, loadfile, debug, print = nil; string.dump = nil; "
    "do local l = load; load = function(c, n, _, e) return l(c, n, 't', e) end end\n";

static void check_head_line(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        CHECK(p[i] != '\r' && p[i] != '\n' && p[i] != '\0');
}

static void check_wire(const sl_task_t *t)
{
    const char *w = t->wire;
    size_t len = t->wire_len;
    CHECK(w != NULL && len > 0);
    const char *end = memmem(w, len, "\r\n\r\n", 4);
    CHECK(end != NULL);
    size_t head = (size_t)(end - w) + 4;
    CHECK(len - head == (t->body ? t->body_len : 0));
    if (t->body_len)
        CHECK(memcmp(w + head, t->body, t->body_len) == 0);

    /* Request line. */
    size_t ml = strlen(t->method);
    CHECK(strncmp(w, t->method, ml) == 0 && w[ml] == ' ');
    const char *eol = memmem(w, head, "\r\n", 2);
    CHECK(eol != NULL && (size_t)(eol - w) > ml + 10);
    CHECK(memcmp(eol - 9, " HTTP/1.1", 9) == 0);
    check_head_line(w, (size_t)(eol - w));
    const char *target = w + ml + 1;
    CHECK(target[0] == '/');
    CHECK(memchr(target, ' ', (size_t)(eol - 9 - target)) == NULL);

    /* Header lines: "name: value" CRLF, nothing that could split them. */
    bool has_length = false;
    const char *p = eol + 2;
    while (p < end + 2) {
        const char *q = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        CHECK(q != NULL);
        check_head_line(p, (size_t)(q - p));
        const char *colon = memchr(p, ':', (size_t)(q - p));
        CHECK(colon != NULL && colon > p);
        if ((size_t)(colon - p) == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            CHECK(!has_length);
            has_length = true;
            CHECK(strtoull(colon + 2, NULL, 10) == t->body_len);
        }
        p = q + 2;
    }
    CHECK(has_length == (t->body != NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        sl_scenario_set_instruction_limit(1000000);
        init = true;
    }
    size_t plen = sizeof(prelude) - 1;
    char *src = malloc(plen + size);
    CHECK(src != NULL);
    memcpy(src, prelude, plen);
    memcpy(src + plen, data, size);

    sl_plan_t plan;
    sl_err_t err = {{0}};
    int rc = sl_scenario_load_string(src, plen + size, "fuzz.lua", &plan, &err);
    free(src);
    if (rc != SL_OK) {
        CHECK(rc == SL_EINVAL || rc == SL_ENOMEM);
        CHECK(err.msg[0] != '\0' && strnlen(err.msg, sizeof(err.msg)) < sizeof(err.msg));
        CHECK(plan.tasks == NULL && plan.ntasks == 0 && plan.rows == NULL && !plan.host &&
              !plan.lua);
        return 0;
    }
    CHECK(plan.ntasks > 0 && plan.tasks != NULL);
    CHECK(plan.nrows > 0 && plan.nrows <= plan.ntasks);
    CHECK(plan.rows && sl_rows_count(plan.rows) == plan.nrows);
    uint64_t total = 0;
    for (size_t i = 0; i < plan.ntasks; i++) {
        const sl_task_t *t = &plan.tasks[i];
        CHECK(t->method && t->path && t->name);
        CHECK(t->weight >= 1);
        CHECK(t->row < plan.nrows);
        const char *rm, *rn;
        sl_rows_get(plan.rows, t->row, &rm, &rn);
        CHECK(strcmp(rm, t->method) == 0);
        CHECK(strcmp(rn, t->name) == 0);
        total += t->weight;
    }
    CHECK(total == plan.total_weight);

    sl_url_t base;
    if (!plan.host || sl_url_parse(plan.host, &base, &err) != SL_OK)
        CHECK(sl_url_parse("http://127.0.0.1:8000/base", &base, &err) == SL_OK);
    rc = sl_plan_render(&plan, &base);
    CHECK(rc == SL_OK || rc == SL_ENOMEM);
    if (rc == SL_OK) {
        for (size_t i = 0; i < plan.ntasks; i++)
            check_wire(&plan.tasks[i]);
    }
    sl_plan_dispose(&plan);
    return 0;
}
