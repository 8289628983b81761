/* Unit tests for the row registry (src/stats/rows.c): ids in order, the --max-rows limit
 * and its overflow row, the path patterns behind the name= hint. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "stats/rows.h"

Test(rows, ids_in_order_and_stable)
{
    sl_rows_t *r = sl_rows_new(0, NULL);
    cr_assert_not_null(r);
    uint32_t a, b, c;
    cr_assert_eq(sl_rows_intern(r, "GET", "/a", &a), 0);
    cr_assert_eq(sl_rows_intern(r, "POST", "/a", &b), 0);
    cr_assert_eq(sl_rows_intern(r, "GET", "/a", &c), 0);
    cr_assert_eq(a, 0);
    cr_assert_eq(b, 1);
    cr_assert_eq(c, 0, "the same pair is the same row");
    cr_assert_eq(sl_rows_count(r), 2);
    const char *m, *n;
    sl_rows_get(r, 1, &m, &n);
    cr_assert_str_eq(m, "POST");
    cr_assert_str_eq(n, "/a");
    sl_rows_free(r);
}

Test(rows, limit_without_overflow_row_is_an_error)
{
    sl_rows_t *r = sl_rows_new(3, NULL);
    uint32_t id;
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "/%d", i);
        cr_assert_eq(sl_rows_intern(r, "GET", name, &id), 0);
    }
    cr_assert_eq(sl_rows_intern(r, "GET", "/new", &id), SL_ELIMIT);
    cr_assert_eq(sl_rows_intern(r, "GET", "/1", &id), 0, "known rows are still found");
    cr_assert_eq(id, 1);
    cr_assert_not(sl_rows_is_overflow(r, 3));
    sl_rows_free(r);
}

Test(rows, names_past_the_limit_share_the_overflow_row)
{
    sl_rows_t *r = sl_rows_new(4, "(other names)");
    uint32_t id;
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "/item/%d", i);
        cr_assert_eq(sl_rows_intern_at(r, "GET", name, "f.lua:3", &id), 0);
        if (i < 4) {
            cr_assert_eq(id, (uint32_t)i);
            cr_assert_not(sl_rows_is_overflow(r, id));
        } else {
            cr_assert_eq(id, 4, "every later name gets the overflow row");
            cr_assert(sl_rows_is_overflow(r, id));
        }
    }
    /* The four kept names plus one overflow row, and nothing else was registered. */
    cr_assert_eq(sl_rows_count(r), 5);
    const char *m, *n;
    sl_rows_get(r, 4, &m, &n);
    cr_assert_str_eq(m, SL_ROWS_OVERFLOW_METHOD);
    cr_assert_str_eq(n, "(other names)");
    cr_assert_eq(sl_rows_intern(r, "GET", "/item/2", &id), 0);
    cr_assert_eq(id, 2, "a kept name keeps its row");
    cr_assert_eq(sl_rows_limit(r), 4);
    sl_rows_free(r);
}

struct pattern_case {
    const char *name;
    const char *pattern; /* NULL: no id in the name */
};

Test(rows, patterns)
{
    static const struct pattern_case cases[] = {
        {"/hello", NULL},
        {"/api/v2/users", NULL}, /* a short version token is not an id */
        {"/item/17", "/item/{id}"},
        {"/hello?id=4711", "/hello?id={id}"},
        {"/users/42/orders/7?page=3", "/users/{id}/orders/{id}?page={id}"},
        {"/o/3f2a9c1e-8b7d-4c2e-9f10-0a1b2c3d4e5f", "/o/{id}"},
        {"/blob/deadbeef0", "/blob/{id}"},
        {"/cafe", NULL}, /* hex letters but no digit: a word */
        {"/t/aZ3kQ9xP2mL7vB", "/t/{id}"},
        {"/search?q=shoes", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[160];
        bool changed = sl_rows_pattern(cases[i].name, buf, sizeof(buf));
        if (!cases[i].pattern) {
            cr_expect_not(changed, "%s: no id expected, got %s", cases[i].name, buf);
            cr_expect_str_eq(buf, cases[i].name);
        } else {
            cr_expect(changed, "%s: an id expected", cases[i].name);
            cr_expect_str_eq(buf, cases[i].pattern, "%s", cases[i].name);
        }
    }
    /* A small buffer truncates, never overflows. */
    char tiny[8];
    sl_rows_pattern("/item/123456/more", tiny, sizeof(tiny));
    cr_assert_lt(strlen(tiny), sizeof(tiny));
}

Test(rows, hint_once_many_names_share_a_pattern)
{
    sl_rows_t *r = sl_rows_new(0, "(other names)");
    sl_rows_hint_t h;
    uint32_t id;
    /* Plenty of distinct names without ids, and Task{}-style rows: no hint. */
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof(name), "/page-%c%c", 'a' + i % 26, 'a' + i / 26);
        sl_rows_intern_at(r, "GET", name, "f.lua:1", &id);
        snprintf(name, sizeof(name), "/static/%d", i);
        sl_rows_intern(r, "GET", name, &id);
    }
    cr_assert_not(sl_rows_hint(r, &h));
    for (int i = 0; i < SL_ROWS_HINT_AT - 1; i++) {
        char name[32];
        snprintf(name, sizeof(name), "/item/%d", i);
        sl_rows_intern_at(r, "GET", name, i ? "f.lua:9" : "f.lua:7", &id);
        sl_rows_intern_at(r, "GET", name, "f.lua:8", &id); /* a known name counts once */
    }
    cr_assert_not(sl_rows_hint(r, &h), "one short of the threshold");
    sl_rows_intern_at(r, "GET", "/item/999", "f.lua:9", &id);
    cr_assert(sl_rows_hint(r, &h));
    cr_assert_eq(h.rows, SL_ROWS_HINT_AT);
    cr_assert_str_eq(h.method, "GET");
    cr_assert_str_eq(h.pattern, "/item/{id}");
    cr_assert_str_eq(h.origin, "f.lua:7", "the line of the first such request");
    /* Another method's names are another pattern. */
    for (int i = 0; i < SL_ROWS_HINT_AT + 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "/cart/%d", i);
        sl_rows_intern_at(r, "POST", name, "f.lua:12", &id);
    }
    cr_assert(sl_rows_hint(r, &h));
    cr_assert_str_eq(h.pattern, "/cart/{id}", "the pattern with the most rows");
    cr_assert_str_eq(h.method, "POST");
    sl_rows_free(r);
}
