/* The plan: what the scenario file asked for, in plain C data. Built once at load time
 * on the main thread, then read-only and shared by every worker thread. */
#ifndef SL_SCENARIO_PLAN_H
#define SL_SCENARIO_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/url.h"
#include "http/request.h"
#include "sl.h"
#include "stats/rows.h"

/* A user header (name as written by the user); the plan owns both strings. */
typedef sl_http_header_t sl_header_t;

typedef struct sl_task {
    char *method;    /* upper-cased */
    char *path;      /* as sent: starts with '/', bytes >= 0x80 percent-encoded */
    char *name;      /* statistics name; the path when not given */
    uint32_t weight; /* >= 1 */
    char *body;      /* NULL when there is no body */
    size_t body_len;
    bool body_is_json;    /* data was a table, encoded as JSON */
    sl_header_t *headers; /* user headers, sorted by lower-case name */
    size_t nheaders;
    uint32_t row;    /* the row's id in plan.rows */
    bool idempotent; /* may be retried on a stale keep-alive connection */
    bool is_head;    /* HEAD: the response has no body whatever it says */
    char **tags;     /* Task{tags = {...}}: for --tags / --exclude-tags */
    size_t ntags;
    /* Filled by sl_plan_render: the complete request bytes, shared by every user, and
     * where a per-request piece (a cookie jar) goes between them. */
    char *wire;
    size_t wire_len;
    sl_http_layout_t layout;
} sl_task_t;

/* Waits between a scripted user's iterations (Locust's wait_time functions). */
typedef enum sl_wait_kind {
    SL_WAIT_NONE = 0,   /* no wait (endpoints, or a class without `wait`) */
    SL_WAIT_CONSTANT,   /* constant(a): a seconds after each iteration */
    SL_WAIT_BETWEEN,    /* between(a, b): uniform in [a, b] seconds */
    SL_WAIT_PACING,     /* pacing(a): iterations start every a seconds (constant_pacing) */
    SL_WAIT_THROUGHPUT, /* throughput(a): a iterations per second, i.e. pacing(1/a) */
} sl_wait_kind_t;

typedef struct sl_wait {
    sl_wait_kind_t kind;
    double a_s; /* seconds; for SL_WAIT_THROUGHPUT iterations per second (a > 0) */
    double b_s; /* SL_WAIT_BETWEEN only; 0 otherwise */
} sl_wait_t;

/* One entry of a User{} class's tasks list. */
typedef struct sl_class_task {
    uint32_t lua_index; /* 1-based position in the class's normalized `tasks` table */
    int32_t task;       /* index into plan.tasks for a Task{}, -1 for a function */
    uint32_t weight;
    char *name; /* shown by --list: the Task's "METHOD name", or the function
                 * task's name= (or "function at file:line") */
    char **tags;
    size_t ntags;
} sl_class_task_t;

/* A User{} class. */
typedef struct sl_class {
    char *name;
    uint32_t weight;      /* >= 1 unless fixed_count is set */
    uint32_t fixed_count; /* 0 = divided by weight */
    sl_wait_t wait;
    bool sequential; /* run tasks in order rather than by weighted choice */
    bool has_on_start;
    bool has_on_stop;
    uint32_t lua_index; /* 1-based position in the Lua registry list of classes */
    sl_class_task_t *tasks;
    size_t ntasks;
    uint64_t total_weight;
} sl_class_t;

typedef struct sl_plan {
    /* Every Task{}: the endpoints first (in order), then the Task{} entries of the User{}
     * classes (class by class, in order). Each is rendered to wire bytes. */
    sl_task_t *tasks;
    size_t ntasks;
    uint64_t total_weight; /* sum of tasks[].weight: the endpoint picker's range */
    /* The row registry (stats/rows.h), the run's only list of rows: the tasks' rows take
     * ids 0..nrows-1 in the order of plan->tasks; scripted requests add more while the
     * test runs. Built by sl_plan_index_rows. */
    sl_rows_t *rows;
    size_t nrows;
    char *host; /* `host = "..."` from the file, or NULL */
    char *file; /* the scenario file's path, for messages */
    /* User{} classes; none for a file with only `endpoints`, which runs in C alone.
     * When a file has both, the endpoints are one more class, "endpoints" (weight 1),
     * after the User{} classes. sl_plan_filter_tags may drop classes; the others keep
     * their lua_index. */
    sl_class_t *classes;
    size_t nclasses;
    /* How many classes the file registers in a Lua state (before any filtering): what
     * sl_scenario_state_new must find again in each worker's state. */
    uint32_t nlua_classes;
    /* The file's text, so every worker can build its own Lua state from the same
     * source (same line numbers in messages). */
    char *source;
    size_t source_len;
    /* The Lua state the file was loaded in (main thread only), kept so that its `stages`
     * and `shape` are read without running the file again (sl_shape_open takes it over);
     * NULL once taken, or closed by sl_plan_dispose. */
    struct lua_State *lua;
} sl_plan_t;

/* Renders every task's request into task->wire (and task->layout) for the given base
 * URL with sl_http_render (http/request.h): base_path + path, the user headers in sorted
 * order, no cookies. Returns 0 or SL_ENOMEM. */
int sl_plan_render(sl_plan_t *plan, const sl_url_t *base);

/* Registers the tasks' (method, name) pairs in a new row registry of at
 * most max_rows rows (with overflow_name, copied, as in sl_rows_new), sets every task's
 * row and plan->nrows, and replaces plan->rows. The rows of the old registry that a task
 * still uses keep their order; new ones follow in task order. Returns SL_OK; SL_ELIMIT (plan
 * unchanged) when the tasks have more distinct rows than max_rows, with *nrows_out (may be NULL)
 * set to how many they have, counted up to SL_ROWS_MAX + 1; or SL_ENOMEM. Main thread. */
int sl_plan_index_rows(sl_plan_t *plan, uint32_t max_rows, const char *overflow_name,
                       size_t *nrows_out);

/* Frees everything the plan owns. Accepts a zeroed plan. */
void sl_plan_dispose(sl_plan_t *plan);

/* Applies --tags / --exclude-tags (comma lists, borrowed; NULL or "" = not given). A task
 * runs when (no include list is given, or it has one of those tags) and it has none of
 * the excluded tags. A class task's tags are its own plus its class's.
 *
 * Filtered tasks are removed, not disabled: in an endpoints-only plan plan->tasks is
 * compacted and total_weight recomputed; in a plan with classes each class's tasks list
 * is compacted (the survivors keep their lua_index) and its total_weight recomputed, a
 * class left without tasks is removed from plan->classes (the others keep their
 * lua_index), and plan->tasks is compacted to the Task{}s still referenced, with the
 * class tasks' `task` indices renumbered. The rows are registered again
 * (sl_plan_index_rows), so rows no task uses any more are gone and every row can receive
 * requests. Call it after loading and before rendering (sl_scenario_prepare does).
 *
 * Returns SL_OK; SL_EINVAL with err "no task matches --tags/--exclude-tags" and the plan
 * unchanged; or SL_ENOMEM with err "out of memory", after which the plan may be partly
 * filtered and is only good for sl_plan_dispose. Main thread. */
int sl_plan_filter_tags(sl_plan_t *plan, const char *tags, const char *exclude, sl_err_t *err);

/* Divides users among the classes exactly as Locust does: classes with fixed_count get
 * that many first (in order); the rest are divided by weight among the other classes
 * with the largest-remainder method, ties going to the earlier class (40 users at 3:1
 * give 30 and 10; 10 at 1:1:1 give 4, 3, 3). per_class_counts (plan->nclasses entries,
 * caller's) receives the counts. class_of_user (users entries, caller's) receives the
 * spawn order: user k belongs to class class_of_user[k], interleaved so that every prefix
 * holds each class in proportion to its count (the j-th user of a class with n users
 * goes at its ideal position (j + 1/2) / n of the order; ties to the earlier class).
 *
 * Returns SL_OK; SL_EINVAL with err set when the plan has no classes, when the fixed
 * counts add up to more than users ("--users: the User{} classes' fixed_count add up to
 * 12, more than the 10 users"), or when users are left over but every class has a
 * fixed_count ("--users: 12 users, but the User{} classes all have a fixed_count, adding
 * up to 10"); SL_ENOMEM. Any thread; reads the plan only. */
int sl_plan_assign_users(const sl_plan_t *plan, uint32_t users, uint16_t *class_of_user,
                         uint32_t *per_class_counts, sl_err_t *err);

/* Prints what -l/--list shows: each class with its weight or fixed_count, wait, hooks
 * and order, then its tasks with weights, share and tags; or, for an endpoints-only plan,
 * the tasks. */
void sl_plan_list(const sl_plan_t *plan, FILE *out);

#endif
