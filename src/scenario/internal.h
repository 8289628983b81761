/* Shared between the scenario loader's files (scenario.c, classes.c, luaval.c, shape.c)
 * and nothing else. */
#ifndef SL_SCENARIO_INTERNAL_H
#define SL_SCENARIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "scenario/plan.h"

/* Registry key of the private metatable that marks a table as made by Task{}. */
#define SL__TASK_MT "stormlight.Task"
/* Registry key of the metatable of wait values (between(), constant(), ...). */
#define SL__WAIT_MT "stormlight.wait"
/* Registry field: the list of normalized class tables, in registration order, that the
 * runtime reads (see sl_scenario_push_class). */
#define SL__CLASSES "stormlight.classes"
/* Registry field: a list parallel to SL__CLASSES with what only the loader needs
 * (weights, wait, tags, names), so the normalized tables hold exactly their fields. */
#define SL__CLASSMETA "stormlight.classmeta"

#define SL__MAX_TASKS 1000000

/* Pushes a printable, shortened copy of s for use inside an error message and returns it.
 * It and the helpers below, up to sl__push_tags, are in luaval.c. */
const char *sl__printable(lua_State *L, const char *s, size_t len);
/* For an instruction budget's count hook, once the budget is spent: every later
 * instruction of L and of its state's main thread calls hook again, so neither a pcall
 * nor a fresh coroutine lets the script carry on. The caller then raises its message. */
void sl__budget_exhaust(lua_State *L, lua_Hook hook);

/* How many keys the table at idx has (raw: no metamethod runs). */
lua_Integer sl__count_keys(lua_State *L, int idx);

/* Rejects keys of the constructor argument table at idx that `who` (Task, User, ...)
 * does not know: a string key not among known[0..nknown-1] raises "<who>: unknown field
 * 'k' (expected <expected>)", an integer key outside 1..npos "<who>: unexpected
 * positional value #i (<pos_msg>)", any other key "<who>: unexpected <type> key", so that
 * a typo ("wieght =") is an error and not an ignored field. Raises at level 1. */
void sl__check_keys(lua_State *L, int idx, const char *who, const char *const *known, size_t nknown,
                    const char *expected, lua_Integer npos, const char *pos_msg);

/* True when the value at idx is a table made by Task{}. */
bool sl__is_task(lua_State *L, int idx);

/* Validates the tags list at idx (a sequence of non-empty strings without ',', spaces
 * or control characters) and pushes a fresh copy. Raises "<who>: tags must be a list of
 * words, as in tags = {\"smoke\"}" at level 1. */
void sl__push_tags(lua_State *L, int idx, const char *who);

/* Installs User, between, constant, pacing and throughput, and empty class lists. */
void sl__classes_install(lua_State *L);

/* How many classes the registry lists hold. */
lua_Integer sl__classes_count(lua_State *L);

/* Appends the class "endpoints" made of the list at idx (n Task{} values, already
 * checked), for a file that has both `endpoints` and User{} classes. Task i of it is
 * plan task i - 1. False, and nothing added, when a User{} class has that name. */
bool sl__classes_add_endpoints(lua_State *L, int idx, lua_Integer n);

/* Adds the Task{} at idx to the plan's tasks (and rows) and sets *index. Returns SL_OK,
 * SL_EINVAL (not a valid task) or SL_ENOMEM. */
typedef int (*sl__add_task_fn)(lua_State *L, int idx, void *ctx, uint32_t *index);

/* Copies the registered classes into plan->classes, calling add for every Task{} entry
 * in order. Returns SL_OK, or SL_EINVAL / SL_ENOMEM with err set ("file: ..."). Raw
 * access only. */
int sl__classes_collect(lua_State *L, sl_plan_t *plan, sl__add_task_fn add, void *ctx,
                        const char *file, sl_err_t *err);

/* Checks that the classes registered in L are those of plan (same count, names and task
 * kinds), for a worker's state. Returns SL_OK or SL_EINVAL with err set. */
int sl__classes_verify(lua_State *L, const sl_plan_t *plan, sl_err_t *err);

#endif
