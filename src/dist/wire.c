/* Locust's [type, data, node_id] messages over msgpack-c. */
#include "dist/wire.h"

#include <math.h>
#include <string.h>

int sl_wire_decode(sl_wire_msg_t *m, const void *buf, size_t len, sl_err_t *err)
{
    memset(m, 0, sizeof(*m));
    msgpack_unpacked_init(&m->up);
    size_t off = 0;
    if (msgpack_unpack_next(&m->up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        sl_err_set(err, "not a msgpack message (%zu bytes)", len);
        return SL_EINVAL;
    }
    const msgpack_object *o = &m->up.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3 ||
        !sl_wire_str(&o->via.array.ptr[0], m->type, sizeof(m->type))) {
        sl_err_set(err, "not a Locust message: expected [type, data, node_id]");
        return SL_EINVAL;
    }
    m->data = &o->via.array.ptr[1];
    const msgpack_object *id = &o->via.array.ptr[2];
    if (id->type != MSGPACK_OBJECT_NIL && !sl_wire_str(id, m->node_id, sizeof(m->node_id))) {
        sl_err_set(err, "Locust message '%s': the node id is not a string", m->type);
        return SL_EINVAL;
    }
    return 0;
}

void sl_wire_msg_dispose(sl_wire_msg_t *m)
{
    msgpack_unpacked_destroy(&m->up);
}

void sl_wire_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void sl_wire_begin(sl_wire_out_t *o, const char *type)
{
    msgpack_sbuffer_init(&o->buf);
    msgpack_packer_init(&o->pk, &o->buf, msgpack_sbuffer_write);
    o->has_data = false;
    msgpack_pack_array(&o->pk, 3);
    sl_wire_pack_str(&o->pk, type);
}

void sl_wire_end(sl_wire_out_t *o, const char *node_id)
{
    if (!o->has_data)
        msgpack_pack_nil(&o->pk);
    sl_wire_pack_str(&o->pk, node_id);
}

void sl_wire_out_dispose(sl_wire_out_t *o)
{
    msgpack_sbuffer_destroy(&o->buf);
}

const msgpack_object *sl_wire_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

bool sl_wire_num(const msgpack_object *o, double *v)
{
    if (!o)
        return false;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *v = (double)o->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *v = (double)o->via.i64;
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *v = o->via.f64;
        return true;
    default:
        return false;
    }
}

bool sl_wire_u64(const msgpack_object *o, uint64_t *v)
{
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *v = o->via.u64;
        return true;
    }
    double d;
    if (o && (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) &&
        sl_wire_num(o, &d) && d >= 0 && d < 1.8e19 && d == floor(d)) {
        *v = (uint64_t)d;
        return true;
    }
    return false;
}

bool sl_wire_str(const msgpack_object *o, char *buf, size_t len)
{
    if (!o || (o->type != MSGPACK_OBJECT_STR && o->type != MSGPACK_OBJECT_BIN) || len == 0)
        return false;
    size_t n = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : o->via.bin.size;
    const char *p = o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->via.bin.ptr;
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return true;
}

bool sl_wire_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}
