/* JSON <-> Lua values: the encoder behind Task{data = {...}} and a scripted request's
 * opts.json, and the decoder behind r:json(). Both are plain functions on a lua_State and
 * may be called from any thread on the state that thread owns. */
#ifndef SL_SCENARIO_LUAJSON_H
#define SL_SCENARIO_LUAJSON_H

#include <stddef.h>

#include <lua.h>

#include "sl.h"

/* Deepest nesting either direction accepts; deeper input is an error, not a crash. */
#define SL_LUAJSON_MAX_DEPTH 100
#define SL_LUAJSON_MAX_DECODE_DEPTH 512

/* Encodes the Lua value at idx (borrowed, left on the stack) as JSON.
 *
 * Tables whose keys are all strings become objects with their keys sorted bytewise (so
 * the bytes do not depend on Lua's hash order); tables whose keys are exactly 1..n become
 * arrays; an empty table becomes {}. Integers print exactly, floats with the shortest of
 * 15..17 significant digits that reads back as the same double, and an integral float
 * keeps ".0" (10.0 stays 10.0). Strings must be valid UTF-8 and are escaped as RFC 8259
 * requires. Any other key mix, NaN, infinity, functions, userdata, threads and nesting
 * deeper than SL_LUAJSON_MAX_DEPTH (also what a cycle becomes) are errors. Raw access
 * only: no metamethod of the user's tables runs.
 *
 * On success returns SL_OK with *out a malloc'd, NUL-terminated string the caller frees
 * and *len its length. On failure returns SL_EINVAL with err set to "<root><path>: what is
 * wrong", e.g. root "data" gives "data.items[2].price: cannot encode NaN or infinity as
 * JSON", or SL_ENOMEM; *out is then NULL. Never raises a Lua error except when Lua itself
 * runs out of memory. */
int sl_luajson_encode(lua_State *L, int idx, const char *root, char **out, size_t *len,
                      sl_err_t *err);

/* Decodes the JSON text s[0..len) (borrowed) and pushes the value: objects become tables
 * keyed by string, arrays sequences 1..n, strings strings, true/false booleans, numbers an
 * integer when integral and within the 64-bit range, else a float, and null becomes nil
 * (so {"a": null} decodes to a table without "a", and [1, null] to {1}; a top-level null
 * pushes nil). Numbers go through a double, so integers beyond 2^53 lose precision, as in
 * JavaScript; a string's "\u0000" is kept as a zero byte, a lone surrogate is an error, and
 * raw bytes in strings (control characters too) are kept as they are. Nesting deeper
 * than SL_LUAJSON_MAX_DECODE_DEPTH is an error. Surrounding whitespace is allowed,
 * anything else after the value is not.
 *
 * Returns SL_OK with the value pushed, or SL_EPARSE (or SL_ENOMEM) with one short message
 * pushed instead ("invalid JSON at byte 12 (near '}')"); SL_ENOMEM with nothing pushed when
 * the caller's Lua stack cannot grow. Lua running out of memory while building the value
 * is SL_ENOMEM too, not a Lua error. Shares nothing between threads (no lock): any worker
 * thread, on its own lua_State. */
int sl_luajson_decode(lua_State *L, const char *s, size_t len);

#endif
