/* Load shapes from the scenario file, read on the main thread: `stages = {...}` (as
 * --stages) and `shape = function(t) return users, spawn_rate end` (Locust's
 * LoadTestShape: called every second; returning nil ends the test). */
#ifndef SL_SCENARIO_SHAPE_H
#define SL_SCENARIO_SHAPE_H

#include <stdbool.h>

#include "scenario/plan.h"
#include "scenario/stages.h"

typedef struct sl_shape sl_shape_t;

/* Reads the globals of the state the plan was loaded in (plan->lua), without running the
 * file again, and takes that state over: the shape handle keeps it, or it is closed, and
 * plan->lua is NULL afterwards (so this is called once per load). Fills *stages when the
 * file sets `stages` ({{"30s", 100}, {duration = "1m", target = 100}, ...}) and sets
 * *has_stages; returns a shape handle when the file defines `shape` (else NULL with *err
 * empty). Errors ("file: stages[2]: ...", or a plan whose state was already taken) return
 * NULL with err set. Main thread. */
sl_shape_t *sl_shape_open(sl_plan_t *plan, sl_stages_t *stages, bool *has_stages, sl_err_t *err);

/* Calls shape(t_s) on a budget of Lua instructions. Returns 1 with *users and *spawn_rate
 * set, 0 when it returned nil (the test ends), or -1 with a message when it failed, ran
 * past its budget ("shape: file:LINE: took too long ...") or returned nonsense. */
int sl_shape_call(sl_shape_t *sh, double t_s, double *users, double *spawn_rate, sl_err_t *err);

void sl_shape_free(sl_shape_t *sh);

#endif
