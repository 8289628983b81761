/* Scenario loader: runs the Lua scenario file once, in a private lua_State, and turns
 * `endpoints = { Task{...}, ... }` and `host = "..."` into an sl_plan_t. */
#ifndef SL_SCENARIO_SCENARIO_H
#define SL_SCENARIO_SCENARIO_H

#include "scenario/plan.h"

/* Loads path into plan (zeroed by the caller). Every mistake is reported in err as
 * "file:line: what is wrong" (or "file: what is wrong" when no line applies) and returns
 * SL_EINVAL: unreadable file, syntax error, error raised while loading, no or empty
 * `endpoints`, an entry that is not a Task{}, fields of the wrong type or value.
 * The Lua state is closed before returning. */
int sl_scenario_load(const char *path, sl_plan_t *plan, sl_err_t *err);

/* Sets how many Lua VM instructions a scenario file may run while loading before it is
 * abandoned with "file:line: scenario took too long to load ..." (default 100 million,
 * about a second; 0 = no limit). Process-wide: call before loading, from the thread that
 * loads (tests and fuzzers lower it). */
void sl_scenario_set_instruction_limit(int max_instructions);

/* Same, from a string (for tests and fuzzing); chunkname is used in messages. */
int sl_scenario_load_string(const char *src, size_t len, const char *chunkname, sl_plan_t *plan,
                            sl_err_t *err);

#endif
