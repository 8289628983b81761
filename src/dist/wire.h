/* Locust's wire format: every message is one msgpack array [type, data, node_id] (Locust
 * 2.x, locust/rpc/protocol.py), carried in one ZeroMQ frame from a worker's DEALER and as
 * [identity, frame] at the master's ROUTER. This file encodes and decodes those arrays
 * with the msgpack-c library and offers small readers for the maps inside `data`.
 * No threads of its own; a message belongs to the thread that decoded it. */
#ifndef SL_DIST_WIRE_H
#define SL_DIST_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl.h"

/* The version a stormlight node sends in client_ready. Locust's master (2.12) rejects an
 * empty one and only warns about a different one. */
#define SL_WIRE_VERSION "stormlight-" SL_VERSION

/* A decoded message. data is NIL when the sender sent None. */
typedef struct sl_wire_msg {
    msgpack_unpacked up; /* owns every object below */
    char type[32];
    char node_id[160];
    const msgpack_object *data;
} sl_wire_msg_t;

/* Decodes one frame. Returns 0, or SL_EINVAL with err set when it is not a Locust message
 * (not an array of three, the type not a string, trailing bytes). Dispose m either way. */
int sl_wire_decode(sl_wire_msg_t *m, const void *buf, size_t len, sl_err_t *err);
void sl_wire_msg_dispose(sl_wire_msg_t *m);

/* Encoding: begin packs the array header and the type; the caller packs exactly one data
 * object with o->pk and sets o->has_data (or packs none: end packs nil then); end packs
 * the node id. The bytes are
 * o->buf.data, o->buf.size. */
typedef struct sl_wire_out {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    bool has_data;
} sl_wire_out_t;
void sl_wire_begin(sl_wire_out_t *o, const char *type);
void sl_wire_end(sl_wire_out_t *o, const char *node_id);
void sl_wire_out_dispose(sl_wire_out_t *o);

/* Packs a string (msgpack str, as Python's msgpack sends str). */
void sl_wire_pack_str(msgpack_packer *pk, const char *s);

/* Readers. get: the value of a string key in a map (NULL when absent or not a map). num:
 * any integer or float as a double. u64: a non-negative integer (or an integral float).
 * str: copies a string into buf (truncated, NUL-terminated). eq: whether o is the string s. */
const msgpack_object *sl_wire_get(const msgpack_object *map, const char *key);
bool sl_wire_num(const msgpack_object *o, double *v);
bool sl_wire_u64(const msgpack_object *o, uint64_t *v);
bool sl_wire_str(const msgpack_object *o, char *buf, size_t len);
bool sl_wire_eq(const msgpack_object *o, const char *s);

#endif
