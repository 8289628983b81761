/* The plan after loading: pre-serialisation of its requests, --tags filtering, the
 * division of users among User{} classes, and --list. Each task is rendered once, at load
 * time, into one immutable buffer that every virtual user on every thread sends as is (as
 * wrk does): the hot path never formats a header. The plan owns every string and buffer
 * in it. */
#include "scenario/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

static int render_task(sl_task_t *t, const sl_url_t *base)
{
    sl_http_request_t r = {
        .method = t->method,
        .base_path = base->base_path,
        .target = t->path,
        .target_len = strlen(t->path),
        .authority = base->authority,
        .headers = t->headers,
        .nheaders = t->nheaders,
        .body = t->body,
        .body_len = t->body_len,
        .body_is_json = t->body_is_json,
    };
    size_t n = sl_http_render(&r, NULL, 0, NULL);
    char *wire = n < UINT32_MAX ? malloc(n) : NULL;
    if (!wire)
        return SL_ENOMEM;
    sl_http_render(&r, wire, n, &t->layout);
    free(t->wire);
    t->wire = wire;
    t->wire_len = n;
    return SL_OK;
}

int sl_plan_render(sl_plan_t *plan, const sl_url_t *base)
{
    for (size_t i = 0; i < plan->ntasks; i++) {
        int rc = render_task(&plan->tasks[i], base);
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

static void free_tags(char **tags, size_t n)
{
    for (size_t i = 0; tags && i < n; i++)
        free(tags[i]);
    free(tags);
}

static void task_dispose(sl_task_t *t)
{
    free(t->method);
    free(t->path);
    free(t->name);
    free(t->body);
    for (size_t j = 0; t->headers && j < t->nheaders; j++) {
        free((char *)t->headers[j].name);
        free((char *)t->headers[j].value);
    }
    free(t->headers);
    free_tags(t->tags, t->ntags);
    free(t->wire);
}

static void class_dispose(sl_class_t *k)
{
    free(k->name);
    for (size_t j = 0; k->tasks && j < k->ntasks; j++) {
        free(k->tasks[j].name);
        free_tags(k->tasks[j].tags, k->tasks[j].ntags);
    }
    free(k->tasks);
}

void sl_plan_dispose(sl_plan_t *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; plan->tasks && i < plan->ntasks; i++)
        task_dispose(&plan->tasks[i]);
    free(plan->tasks);
    sl_rows_free(plan->rows);
    if (plan->lua)
        lua_close(plan->lua);
    for (size_t i = 0; plan->classes && i < plan->nclasses; i++)
        class_dispose(&plan->classes[i]);
    free(plan->classes);
    free(plan->host);
    free(plan->file);
    free(plan->source);
    memset(plan, 0, sizeof(*plan));
}

/* True when tag is one of the comma-separated words of list (spaces around words are
 * ignored; empty words never match). */
static bool in_list(const char *list, const char *tag)
{
    size_t tlen = strlen(tag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *w = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > w && e[-1] == ' ')
            e--;
        if ((size_t)(e - w) == tlen && tlen > 0 && memcmp(w, tag, tlen) == 0)
            return true;
    }
    return false;
}

static bool list_given(const char *list)
{
    return list && list[strspn(list, " ,")] != '\0';
}

static bool tags_match(char *const *tags, size_t n, const char *include, const char *exclude)
{
    bool included = !list_given(include);
    for (size_t i = 0; i < n; i++) {
        if (list_given(exclude) && in_list(exclude, tags[i]))
            return false;
        if (!included && in_list(include, tags[i]))
            included = true;
    }
    return included;
}

/* Keeps the tasks with keep[i], in order, and frees the others; the rows are registered
 * again from the survivors. remap[i] receives the new index of task i (or SIZE_MAX). */
static int compact_tasks(sl_plan_t *plan, const bool *keep, size_t *remap)
{
    size_t n = 0;
    plan->total_weight = 0;
    for (size_t i = 0; i < plan->ntasks; i++) {
        if (!keep[i]) {
            task_dispose(&plan->tasks[i]);
            remap[i] = SIZE_MAX;
            continue;
        }
        remap[i] = n;
        plan->tasks[n] = plan->tasks[i];
        plan->total_weight += plan->tasks[n].weight;
        n++;
    }
    plan->ntasks = n;
    return sl_plan_index_rows(plan, SL_ROWS_MAX, NULL, NULL);
}

/* Interns one row into r; SL_ELIMIT when it lands past the limit. */
static int intern_row(sl_rows_t *r, const char *method, const char *name, uint32_t *id)
{
    int rc = sl_rows_intern(r, method, name, id);
    return rc != SL_OK ? rc : sl_rows_is_overflow(r, *id) ? SL_ELIMIT : SL_OK;
}

/* Registers the tasks' rows in r and their ids in ids[]: first the rows of the plan's
 * current registry that a task still uses, in their order (so filtering keeps the rows'
 * order), then any new ones in task order. */
static int intern_tasks(sl_rows_t *r, const sl_plan_t *plan, uint32_t *ids)
{
    size_t nold = plan->rows ? plan->nrows : 0;
    bool *used = calloc(nold ? nold : 1, sizeof(*used));
    if (!used)
        return SL_ENOMEM;
    for (size_t i = 0; i < plan->ntasks; i++) {
        if (plan->tasks[i].row < nold)
            used[plan->tasks[i].row] = true;
    }
    int rc = SL_OK;
    for (size_t id = 0; rc == SL_OK && id < nold; id++) {
        const char *m, *n;
        uint32_t new_id;
        if (!used[id])
            continue;
        sl_rows_get(plan->rows, (uint32_t)id, &m, &n);
        rc = intern_row(r, m, n, &new_id);
    }
    free(used);
    for (size_t i = 0; rc == SL_OK && i < plan->ntasks; i++)
        rc = intern_row(r, plan->tasks[i].method, plan->tasks[i].name, &ids[i]);
    return rc;
}

int sl_plan_index_rows(sl_plan_t *plan, uint32_t max_rows, const char *overflow_name,
                       size_t *nrows_out)
{
    sl_rows_t *r = sl_rows_new(max_rows, overflow_name);
    uint32_t *ids = malloc((plan->ntasks ? plan->ntasks : 1) * sizeof(*ids));
    int rc = r && ids ? intern_tasks(r, plan, ids) : SL_ENOMEM;
    if (rc == SL_ELIMIT && nrows_out) {
        /* How many there are, for the message: counted again without the limit. */
        sl_rows_free(r);
        r = sl_rows_new(SL_ROWS_MAX, NULL);
        int crc = r ? intern_tasks(r, plan, ids) : SL_ENOMEM;
        *nrows_out = crc == SL_ENOMEM ? 0 : crc == SL_OK ? sl_rows_count(r) : SL_ROWS_MAX + 1;
    }
    if (rc != SL_OK) {
        sl_rows_free(r);
        free(ids);
        return rc;
    }
    for (size_t i = 0; i < plan->ntasks; i++)
        plan->tasks[i].row = ids[i];
    free(ids);
    sl_rows_free(plan->rows);
    plan->rows = r;
    plan->nrows = sl_rows_count(r);
    if (nrows_out)
        *nrows_out = plan->nrows;
    return SL_OK;
}

int sl_plan_filter_tags(sl_plan_t *plan, const char *tags, const char *exclude, sl_err_t *err)
{
    if (!list_given(tags) && !list_given(exclude))
        return SL_OK;
    size_t ntasks = plan->ntasks;
    bool *keep = calloc(ntasks ? ntasks : 1, sizeof(*keep));
    size_t *remap = calloc(ntasks ? ntasks : 1, sizeof(*remap));
    if (!keep || !remap) {
        free(keep);
        free(remap);
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }

    /* Decide everything first, so that "nothing matches" leaves the plan as it was. */
    bool any = false;
    if (plan->nclasses == 0) {
        for (size_t i = 0; i < ntasks; i++) {
            const sl_task_t *t = &plan->tasks[i];
            keep[i] = tags_match(t->tags, t->ntags, tags, exclude);
            any = any || keep[i];
        }
    } else {
        for (size_t c = 0; c < plan->nclasses; c++) {
            const sl_class_t *k = &plan->classes[c];
            for (size_t j = 0; j < k->ntasks; j++) {
                const sl_class_task_t *ct = &k->tasks[j];
                if (tags_match(ct->tags, ct->ntags, tags, exclude)) {
                    any = true;
                    if (ct->task >= 0)
                        keep[ct->task] = true;
                }
            }
        }
    }
    if (!any) {
        free(keep);
        free(remap);
        sl_err_set(err, "no task matches --tags/--exclude-tags");
        return SL_EINVAL;
    }

    size_t nc = 0;
    for (size_t c = 0; c < plan->nclasses; c++) {
        sl_class_t *k = &plan->classes[c];
        size_t n = 0;
        k->total_weight = 0;
        for (size_t j = 0; j < k->ntasks; j++) {
            sl_class_task_t *ct = &k->tasks[j];
            if (!tags_match(ct->tags, ct->ntags, tags, exclude)) {
                free(ct->name);
                free_tags(ct->tags, ct->ntags);
                continue;
            }
            k->tasks[n++] = *ct;
            k->total_weight += ct->weight;
        }
        k->ntasks = n;
        if (n == 0) {
            class_dispose(k);
            continue;
        }
        plan->classes[nc++] = *k;
    }
    plan->nclasses = nc;

    int rc = compact_tasks(plan, keep, remap);
    if (rc == SL_OK) {
        for (size_t c = 0; c < plan->nclasses; c++) {
            sl_class_t *k = &plan->classes[c];
            for (size_t j = 0; j < k->ntasks; j++) {
                if (k->tasks[j].task >= 0)
                    k->tasks[j].task = (int32_t)remap[k->tasks[j].task];
            }
        }
    }
    free(keep);
    free(remap);
    if (rc != SL_OK)
        sl_err_set(err, "out of memory");
    return rc;
}

/* The spawn order's heap: classes ordered by the ideal position (2j + 1) / (2n) of their
 * next user j of n, then by class index. */
struct slot {
    uint32_t cls;
    uint32_t next;  /* j */
    uint32_t count; /* n */
};

static bool slot_before(const struct slot *a, const struct slot *b)
{
    /* (2ja + 1) / na < (2jb + 1) / nb, cross-multiplied: at most 2e7 * 1e7, no overflow. */
    uint64_t x = (2 * (uint64_t)a->next + 1) * b->count;
    uint64_t y = (2 * (uint64_t)b->next + 1) * a->count;
    return x != y ? x < y : a->cls < b->cls;
}

static void heap_down(struct slot *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && slot_before(&h[l], &h[m]))
            m = l;
        if (r < n && slot_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        struct slot t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

int sl_plan_assign_users(const sl_plan_t *plan, uint32_t users, uint16_t *class_of_user,
                         uint32_t *per_class_counts, sl_err_t *err)
{
    size_t nc = plan->nclasses;
    if (nc == 0) {
        sl_err_set(err, "the plan has no User{} classes");
        return SL_EINVAL;
    }
    uint64_t fixed = 0, weights = 0;
    for (size_t c = 0; c < nc; c++) {
        const sl_class_t *k = &plan->classes[c];
        if (k->fixed_count)
            fixed += k->fixed_count;
        else
            weights += k->weight;
        per_class_counts[c] = k->fixed_count;
    }
    if (fixed > users) {
        sl_err_set(err,
                   "--users: the User{} classes' fixed_count add up to %llu, more than the %u "
                   "users",
                   (unsigned long long)fixed, users);
        return SL_EINVAL;
    }
    uint64_t rest = users - fixed;
    if (rest > 0 && weights == 0) {
        sl_err_set(err,
                   "--users: %u users, but the User{} classes all have a fixed_count, adding up "
                   "to %llu",
                   users, (unsigned long long)fixed);
        return SL_EINVAL;
    }

    /* Largest remainder: floor(rest * w / W) each, then one more to the largest
     * remainders, earlier classes first on ties. rest <= 2^32 and w < 2^32: no overflow. */
    uint64_t *rem = calloc(nc, sizeof(*rem));
    struct slot *heap = calloc(nc, sizeof(*heap));
    if (!rem || !heap) {
        free(rem);
        free(heap);
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    uint64_t given = 0;
    for (size_t c = 0; c < nc && rest > 0; c++) {
        const sl_class_t *k = &plan->classes[c];
        if (k->fixed_count)
            continue;
        uint64_t q = rest * k->weight;
        per_class_counts[c] = (uint32_t)(q / weights);
        rem[c] = q % weights;
        given += per_class_counts[c];
    }
    while (given < rest) {
        size_t best = SIZE_MAX;
        for (size_t c = 0; c < nc; c++) {
            if (plan->classes[c].fixed_count == 0 && rem[c] != UINT64_MAX &&
                (best == SIZE_MAX || rem[c] > rem[best]))
                best = c;
        }
        per_class_counts[best]++;
        rem[best] = UINT64_MAX; /* at most one extra each */
        given++;
    }

    size_t n = 0;
    for (size_t c = 0; c < nc; c++) {
        if (per_class_counts[c])
            heap[n++] = (struct slot){.cls = (uint32_t)c, .count = per_class_counts[c]};
    }
    for (size_t i = n / 2; i-- > 0;)
        heap_down(heap, n, i);
    for (uint32_t u = 0; u < users; u++) {
        class_of_user[u] = (uint16_t)heap[0].cls;
        if (++heap[0].next == heap[0].count)
            heap[0] = heap[--n];
        heap_down(heap, n, 0);
    }
    free(rem);
    free(heap);
    return SL_OK;
}

static void print_wait(const sl_wait_t *w, FILE *out)
{
    switch (w->kind) {
    case SL_WAIT_BETWEEN:
        fprintf(out, "between(%g, %g)", w->a_s, w->b_s);
        break;
    case SL_WAIT_CONSTANT:
        fprintf(out, "constant(%g)", w->a_s);
        break;
    case SL_WAIT_PACING:
        fprintf(out, "pacing(%g)", w->a_s);
        break;
    case SL_WAIT_THROUGHPUT:
        fprintf(out, "throughput(%g)", w->a_s);
        break;
    default:
        fputs("none", out);
    }
}

static void print_tags(char *const *tags, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? "," : "", tags[i]);
}

/* The task's name, then its tags in a column (no trailing blanks when it has none). */
static void print_name_tags(const char *name, char *const *tags, size_t ntags, FILE *out)
{
    if (ntags == 0) {
        fprintf(out, "%s\n", name);
        return;
    }
    fprintf(out, "%-40s  ", name);
    print_tags(tags, ntags, out);
    fputc('\n', out);
}

static void print_task_row(uint32_t weight, uint64_t total, const char *name, char *const *tags,
                           size_t ntags, FILE *out)
{
    double share = total ? 100.0 * weight / (double)total : 0;
    fprintf(out, "    %8u %6.1f%%  ", weight, share);
    print_name_tags(name, tags, ntags, out);
}

void sl_plan_list(const sl_plan_t *plan, FILE *out)
{
    if (plan->nclasses == 0) {
        fprintf(out, "endpoints: %zu task%s, each user picks one at random by weight\n",
                plan->ntasks, plan->ntasks == 1 ? "" : "s");
        fprintf(out, "    %8s %7s  %-40s  %s\n", "weight", "share", "task", "tags");
        for (size_t i = 0; i < plan->ntasks; i++) {
            const sl_task_t *t = &plan->tasks[i];
            char name[512];
            snprintf(name, sizeof(name), "%s %s", t->method, t->name);
            print_task_row(t->weight, plan->total_weight, name, t->tags, t->ntags, out);
        }
        return;
    }
    uint64_t weights = 0;
    for (size_t c = 0; c < plan->nclasses; c++) {
        if (!plan->classes[c].fixed_count)
            weights += plan->classes[c].weight;
    }
    for (size_t c = 0; c < plan->nclasses; c++) {
        const sl_class_t *k = &plan->classes[c];
        if (c > 0)
            fputc('\n', out);
        fprintf(out, "%s: ", k->name);
        if (k->fixed_count)
            fprintf(out, "fixed_count %u", k->fixed_count);
        else
            fprintf(out, "weight %u (%.1f%% of the users)", k->weight,
                    weights ? 100.0 * k->weight / (double)weights : 0.0);
        fputs(", wait ", out);
        print_wait(&k->wait, out);
        if (k->sequential)
            fputs(", sequential", out);
        if (k->has_on_start)
            fputs(", on_start", out);
        if (k->has_on_stop)
            fputs(", on_stop", out);
        fputc('\n', out);
        fprintf(out, "    %8s %7s  %-40s  %s\n", k->sequential ? "order" : "weight",
                k->sequential ? "" : "share", "task", "tags");
        for (size_t j = 0; j < k->ntasks; j++) {
            const sl_class_task_t *ct = &k->tasks[j];
            if (k->sequential) {
                fprintf(out, "    %8zu %7s  ", j + 1, "");
                print_name_tags(ct->name, ct->tags, ct->ntags, out);
            } else {
                print_task_row(ct->weight, k->total_weight, ct->name, ct->tags, ct->ntags, out);
            }
        }
    }
}
