/* The scripted runtime (User{} classes): each virtual user is a Lua coroutine in its
 * worker's own lua_State. A request made from Lua (u:get(...)) renders its bytes in C,
 * yields the coroutine to the event loop, and resumes it with the response when the
 * exchange is over. Worker thread only. Internal to the engine. */
#ifndef SL_ENGINE_SCRIPT_H
#define SL_ENGINE_SCRIPT_H

#include "engine/internal.h"

/* Builds the worker's Lua state from the plan's source. Returns 0 or an SL_E* code with
 * a message. */
int sl__script_worker_init(sl_worker_t *w, sl_err_t *err);
void sl__script_worker_dispose(sl_worker_t *w);

/* Starts a spawned user: on_start, then its iterations. */
void sl__script_user_start(sl_user_t *u);

/* Whether a retired scripted user's coroutine has ended (it may be revived). */
bool sl__script_idle(sl_user_t *u);

/* Stop: records completed responses, abandons the iterations, and starts on_stop for
 * every user whose class has one. Returns how many are still running. */
uint32_t sl__script_stop(sl_worker_t *w);

#endif
