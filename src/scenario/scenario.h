/* Scenario loader: runs the Lua scenario file once, in a private lua_State, and turns
 * `endpoints = { Task{...}, ... }`, User{...} classes and `host = "..."` into an
 * sl_plan_t; and builds each worker's own Lua state from the same file. */
#ifndef SL_SCENARIO_SCENARIO_H
#define SL_SCENARIO_SCENARIO_H

#include <stdint.h>

#include <lua.h>

#include "scenario/plan.h"

/* Loads path into plan (zeroed by the caller). Every mistake is reported in err as
 * "file:line: what is wrong" (or "file: what is wrong" when no line applies) and returns
 * SL_EINVAL: unreadable file, syntax error, error raised while loading, neither
 * `endpoints` nor a User{} class, an empty `endpoints`, an entry that is not a Task{},
 * fields of the wrong type or value. The plan keeps a copy of the file's text (source)
 * for sl_scenario_state_new. The Lua state is closed before returning. Main thread. */
int sl_scenario_load(const char *path, sl_plan_t *plan, sl_err_t *err);

/* Sets how many Lua VM instructions a scenario file may run while loading before it is
 * abandoned with "file:line: scenario took too long to load ..." (default 100 million,
 * about a second; 0 = no limit). Process-wide: call before loading, from the thread that
 * loads (tests and fuzzers lower it). */
void sl_scenario_set_instruction_limit(int max_instructions);

/* Same, from a string (for tests and fuzzing); chunkname is used in messages. */
int sl_scenario_load_string(const char *src, size_t len, const char *chunkname, sl_plan_t *plan,
                            sl_err_t *err);

/* A worker's own Lua state: opens a new state with the same API (Task, User, between,
 * constant, pacing, throughput, csv), runs plan->source (borrowed) as "@<plan->file>", so
 * messages carry the same file and lines, and checks that it registered the same classes
 * as the load that made the plan (count, names, task kinds). Returns the state, with an
 * empty stack, for the caller to close; or NULL with err set ("file:line: ..." for an
 * error raised by the file, "file: N classes on this load but M on the first (User{}
 * calls must not depend on the run)" for a file that behaves differently per run). The
 * instruction budget of sl_scenario_set_instruction_limit applies to this run too. Call
 * it on the thread that will use the state; any number of threads at once. */
lua_State *sl_scenario_state_new(const sl_plan_t *plan, sl_err_t *err);

/* Pushes the normalized class table at lua_index (1-based, sl_class_t.lua_index) of a
 * state made by sl_scenario_state_new, or nil when there is none. Its fields, and only
 * these:
 *   name     string
 *   on_start function or nil
 *   on_stop  function or nil
 *   tasks    list; entry k (sl_class_task_t.lua_index == k) is {fn = function} for a
 *            function task or {task = <the Task{} value>} for a Task{} (whose wire bytes
 *            are plan->tasks[sl_class_task_t.task].wire)
 * The class "endpoints" (a file with both endpoints and User{}) has only Task{} entries.
 * Raises only on Lua memory errors. */
void sl_scenario_push_class(lua_State *L, uint32_t lua_index);

#endif
