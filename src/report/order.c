/* The order every report lists its rows in: by name, then method, as Locust's console
 * table and CSV files do (Python sorts the (name, method) keys; strcmp compares bytes,
 * which for UTF-8 is the same code point order). Main thread only. */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

static int by_name_then_method(const void *a, const void *b, void *ctx)
{
    const sl_row_t *rows = ctx;
    const sl_row_t *x = &rows[*(const size_t *)a], *y = &rows[*(const size_t *)b];
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = strcmp(x->method, y->method);
    if (c == 0) { /* distinct rows never tie; keep ids in order if they ever do */
        size_t i = *(const size_t *)a, j = *(const size_t *)b;
        c = (i > j) - (i < j);
    }
    return c;
}

size_t *sl_report_order(const sl_snapshot_t *s)
{
    size_t *order = malloc((s->nrows ? s->nrows : 1) * sizeof(*order));
    if (!order)
        return NULL;
    for (size_t i = 0; i < s->nrows; i++)
        order[i] = i;
    qsort_r(order, s->nrows, sizeof(*order), by_name_then_method, (void *)s->rows);
    return order;
}
