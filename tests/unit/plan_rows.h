/* For the scenario tests: the names of a plan's row id, from its row registry. */
#ifndef SL_TEST_PLAN_ROWS_H
#define SL_TEST_PLAN_ROWS_H

#include "scenario/plan.h"

static inline const char *row_method(const sl_plan_t *plan, size_t id)
{
    const char *m, *n;
    sl_rows_get(plan->rows, (uint32_t)id, &m, &n);
    return m;
}

static inline const char *row_name(const sl_plan_t *plan, size_t id)
{
    const char *m, *n;
    sl_rows_get(plan->rows, (uint32_t)id, &m, &n);
    return n;
}

#endif
