/* The `stats` message: Locust's rounded entries plus the exact "stormlight" extra. */
#include "dist/payload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fail.h"
#include "dist/wire.h"
#include "stats/snapshot.h"

int64_t sl_payload_round_ms(double ms)
{
    if (ms < 100)
        return (int64_t)llround(ms);
    if (ms < 1000)
        return (int64_t)llround(ms / 10) * 10;
    if (ms < 10000)
        return (int64_t)llround(ms / 100) * 100;
    return (int64_t)llround(ms / 1000) * 1000;
}

/* ---- packing ---- */

static uint32_t hist_first(const sl_hist_t *h)
{
    return sl_hist_index_of(h->min_us);
}

static uint32_t hist_last(const sl_hist_t *h)
{
    uint32_t i = sl_hist_index_of(h->max_us);
    return i < SL_HIST_COUNTS_LEN ? i : SL_HIST_COUNTS_LEN - 1;
}

static void pack_hist(msgpack_packer *pk, const sl_hist_t *h)
{
    uint32_t n = 0;
    if (h->total_count)
        for (uint32_t i = hist_first(h); i <= hist_last(h); i++)
            n += sl_hist_count_at(h, i) != 0;
    msgpack_pack_array(pk, 4 + 2 * n);
    msgpack_pack_uint64(pk, h->total_count);
    msgpack_pack_uint64(pk, h->total_count ? h->min_us : 0);
    msgpack_pack_uint64(pk, h->max_us);
    msgpack_pack_uint64(pk, h->sum_us);
    if (!h->total_count)
        return;
    uint32_t prev = 0;
    for (uint32_t i = hist_first(h); i <= hist_last(h); i++) {
        uint64_t c = sl_hist_count_at(h, i);
        if (!c)
            continue;
        msgpack_pack_uint32(pk, i - prev);
        msgpack_pack_uint64(pk, c);
        prev = i;
    }
}

/* Locust's response_times: {rounded ms: count}. Buckets come in increasing order and the
 * rounding is monotonic, so equal keys are adjacent. */
static void pack_response_times(msgpack_packer *pk, const sl_hist_t *h)
{
    for (int pass = 0; pass < 2; pass++) {
        uint32_t keys = 0;
        int64_t key = -1;
        uint64_t count = 0;
        if (h->total_count) {
            for (uint32_t i = hist_first(h); i <= hist_last(h); i++) {
                uint64_t c = sl_hist_count_at(h, i);
                if (!c)
                    continue;
                int64_t k = sl_payload_round_ms((double)sl_hist_value_at_index(i) / 1000.0);
                if (k != key && count) {
                    if (pass)
                        msgpack_pack_int64(pk, key), msgpack_pack_uint64(pk, count);
                    keys++;
                    count = 0;
                }
                key = k;
                count += c;
            }
        }
        if (count) {
            if (pass)
                msgpack_pack_int64(pk, key), msgpack_pack_uint64(pk, count);
            keys++;
        }
        if (!pass)
            msgpack_pack_map(pk, keys);
    }
}

static void pack_entry(msgpack_packer *pk, const char *method, const char *name,
                       const sl_row_stats_t *r, const sl_payload_info_t *info)
{
    const sl_hist_t *h = &r->latency;
    msgpack_pack_map(pk, 14);
    sl_wire_pack_str(pk, "name");
    sl_wire_pack_str(pk, name);
    sl_wire_pack_str(pk, "method");
    sl_wire_pack_str(pk, method);
    sl_wire_pack_str(pk, "last_request_timestamp");
    if (r->num_requests)
        msgpack_pack_double(pk, info->now_s);
    else
        msgpack_pack_nil(pk);
    sl_wire_pack_str(pk, "start_time");
    msgpack_pack_double(pk, info->start_time_s);
    sl_wire_pack_str(pk, "num_requests");
    msgpack_pack_uint64(pk, r->num_requests);
    sl_wire_pack_str(pk, "num_none_requests");
    msgpack_pack_uint64(pk, 0);
    sl_wire_pack_str(pk, "num_failures");
    msgpack_pack_uint64(pk, r->num_failures);
    sl_wire_pack_str(pk, "total_response_time");
    msgpack_pack_double(pk, (double)h->sum_us / 1000.0);
    sl_wire_pack_str(pk, "max_response_time");
    msgpack_pack_double(pk, (double)h->max_us / 1000.0);
    sl_wire_pack_str(pk, "min_response_time");
    if (h->total_count)
        msgpack_pack_double(pk, (double)h->min_us / 1000.0);
    else
        msgpack_pack_nil(pk);
    sl_wire_pack_str(pk, "total_content_length");
    msgpack_pack_uint64(pk, r->content_bytes);
    sl_wire_pack_str(pk, "response_times");
    pack_response_times(pk, h);
    /* The interval's requests all count in the second the report is sent. */
    int64_t sec = (int64_t)info->now_s;
    sl_wire_pack_str(pk, "num_reqs_per_sec");
    msgpack_pack_map(pk, r->num_requests ? 1 : 0);
    if (r->num_requests)
        msgpack_pack_int64(pk, sec), msgpack_pack_uint64(pk, r->num_requests);
    sl_wire_pack_str(pk, "num_fail_per_sec");
    msgpack_pack_map(pk, r->num_failures ? 1 : 0);
    if (r->num_failures)
        msgpack_pack_int64(pk, sec), msgpack_pack_uint64(pk, r->num_failures);
}

static bool row_used(const sl_stats_t *d, uint32_t i)
{
    return d->rows[i].num_requests || d->rows[i].num_failures;
}

static void row_names(sl_rows_t *rows, uint32_t i, const char **method, const char **name)
{
    *method = "";
    *name = "";
    if (i < sl_rows_count(rows))
        sl_rows_get(rows, i, method, name);
}

static void pack_text(msgpack_packer *pk, sl_rows_t *texts, int64_t id)
{
    if (id < 0 || !texts || id >= sl_rows_count(texts)) {
        msgpack_pack_nil(pk);
        msgpack_pack_nil(pk);
        return;
    }
    const char *where, *msg;
    sl_rows_get(texts, (uint32_t)id, &where, &msg);
    sl_wire_pack_str(pk, where);
    sl_wire_pack_str(pk, msg);
}

static void pack_exact(msgpack_packer *pk, const sl_stats_t *d, sl_rows_t *rows, sl_rows_t *texts)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < d->nrows; i++)
        used += row_used(d, i);
    msgpack_pack_map(pk, 8);
    sl_wire_pack_str(pk, "v");
    msgpack_pack_uint32(pk, 1);
    sl_wire_pack_str(pk, "rows");
    msgpack_pack_array(pk, used);
    for (uint32_t i = 0; i < d->nrows; i++) {
        if (!row_used(d, i))
            continue;
        const char *method, *name;
        row_names(rows, i, &method, &name);
        const sl_row_stats_t *r = &d->rows[i];
        msgpack_pack_array(pk, 7);
        sl_wire_pack_str(pk, method);
        sl_wire_pack_str(pk, name);
        msgpack_pack_uint64(pk, r->num_requests);
        msgpack_pack_uint64(pk, r->num_failures);
        msgpack_pack_uint64(pk, r->content_bytes);
        pack_hist(pk, &r->latency);
        pack_hist(pk, &r->service);
    }
    /* [method, name, kind, number, text where, text message, occurrences] */
    sl_wire_pack_str(pk, "errors");
    msgpack_pack_array(pk, d->nerrors);
    for (uint32_t i = 0; i < d->nerrors; i++) {
        const sl_error_entry_t *e = &d->errors[i];
        const char *method, *name;
        row_names(rows, e->row, &method, &name);
        msgpack_pack_array(pk, 7);
        sl_wire_pack_str(pk, method);
        sl_wire_pack_str(pk, name);
        msgpack_pack_uint32(pk, e->kind);
        bool script = e->kind == SL_FAIL_SCRIPT;
        msgpack_pack_int32(pk, script ? 0 : sl_detail_number(e->detail));
        pack_text(pk, texts, script ? e->detail : sl_detail_text(e->detail));
        msgpack_pack_uint64(pk, e->occurrences);
    }
    sl_wire_pack_str(pk, "exceptions");
    msgpack_pack_array(pk, d->nexceptions);
    for (uint32_t i = 0; i < d->nexceptions; i++) {
        msgpack_pack_array(pk, 3);
        pack_text(pk, texts, d->exceptions[i].text);
        msgpack_pack_uint64(pk, d->exceptions[i].occurrences);
    }
    sl_wire_pack_str(pk, "retries");
    msgpack_pack_uint64(pk, d->retries);
    sl_wire_pack_str(pk, "stale_discarded");
    msgpack_pack_uint64(pk, d->stale_discarded);
    sl_wire_pack_str(pk, "dropped_iterations");
    msgpack_pack_uint64(pk, d->dropped_iterations);
    sl_wire_pack_str(pk, "send_lag");
    pack_hist(pk, &d->send_lag);
}

void sl_payload_pack(msgpack_packer *pk, const sl_stats_t *delta, sl_rows_t *rows, sl_rows_t *texts,
                     const sl_payload_info_t *info)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < delta->nrows; i++)
        used += row_used(delta, i);
    msgpack_pack_map(pk, 6);
    sl_wire_pack_str(pk, "stats");
    msgpack_pack_array(pk, used);
    for (uint32_t i = 0; i < delta->nrows; i++) {
        if (!row_used(delta, i))
            continue;
        const char *method, *name;
        row_names(rows, i, &method, &name);
        pack_entry(pk, method, name, &delta->rows[i], info);
    }
    sl_row_stats_t total;
    sl_row_stats_init(&total, SL_HIST_WIDE);
    sl_stats_total(delta, &total);
    sl_wire_pack_str(pk, "stats_total");
    pack_entry(pk, "", "Aggregated", &total, info);
    sl_row_stats_dispose(&total);
    /* Locust keys errors by a hash of method, name and error; any unique key will do. */
    sl_wire_pack_str(pk, "errors");
    msgpack_pack_map(pk, delta->nerrors);
    for (uint32_t i = 0; i < delta->nerrors; i++) {
        const sl_error_entry_t *e = &delta->errors[i];
        const char *method, *name;
        row_names(rows, e->row, &method, &name);
        char text[512], key[64];
        sl_fail_describe_text(texts, (sl_fail_t)e->kind, e->detail, text, sizeof(text));
        snprintf(key, sizeof(key), "sl-%u-%u-%d", e->row, e->kind, (int)e->detail);
        sl_wire_pack_str(pk, key);
        msgpack_pack_map(pk, 4);
        sl_wire_pack_str(pk, "method");
        sl_wire_pack_str(pk, method);
        sl_wire_pack_str(pk, "name");
        sl_wire_pack_str(pk, name);
        sl_wire_pack_str(pk, "error");
        sl_wire_pack_str(pk, text);
        sl_wire_pack_str(pk, "occurrences");
        msgpack_pack_uint64(pk, e->occurrences);
    }
    sl_wire_pack_str(pk, "user_count");
    msgpack_pack_uint32(pk, info->user_count);
    sl_wire_pack_str(pk, "user_classes_count");
    msgpack_pack_map(pk, info->nclasses);
    for (uint32_t i = 0; i < info->nclasses; i++) {
        sl_wire_pack_str(pk, info->class_names[i]);
        msgpack_pack_uint32(pk, info->class_counts[i]);
    }
    sl_wire_pack_str(pk, "stormlight");
    pack_exact(pk, delta, rows, texts);
}

/* ---- merging ---- */

static bool is_array(const msgpack_object *o, uint32_t min)
{
    return o && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size >= min;
}

/* Reads an exact histogram into a fresh one; false when malformed. */
static bool read_hist(const msgpack_object *o, sl_hist_t *h)
{
    sl_hist_init(h, SL_HIST_WIDE);
    if (!is_array(o, 4) || o->via.array.size % 2)
        return false;
    const msgpack_object *a = o->via.array.ptr;
    uint64_t total, min, max, sum, idx = 0, seen = 0;
    if (!sl_wire_u64(&a[0], &total) || !sl_wire_u64(&a[1], &min) || !sl_wire_u64(&a[2], &max) ||
        !sl_wire_u64(&a[3], &sum))
        return false;
    for (uint32_t i = 4; i < o->via.array.size; i += 2) {
        uint64_t di, c;
        if (!sl_wire_u64(&a[i], &di) || !sl_wire_u64(&a[i + 1], &c) || c == 0)
            return false;
        idx += di;
        if (idx >= SL_HIST_COUNTS_LEN || (i > 4 && di == 0))
            return false;
        if (!sl_hist_record_n(h, sl_hist_value_at_index((uint32_t)idx), c))
            return false;
        seen += c;
    }
    if (seen != total)
        return false;
    if (total) {
        if (min > max || sl_hist_index_of(min) != sl_hist_index_of(h->min_us) ||
            sl_hist_index_of(max) != sl_hist_index_of(h->max_us))
            return false;
        h->min_us = min;
        h->max_us = max;
        h->sum_us = sum;
    }
    return true;
}

static int intern_text(sl_rows_t *texts, const msgpack_object *where, const msgpack_object *msg,
                       int64_t *id)
{
    *id = -1;
    char w[256], m[1024];
    if (!texts || !sl_wire_str(where, w, sizeof(w)) || !sl_wire_str(msg, m, sizeof(m)))
        return 0;
    uint32_t t;
    if (sl_rows_intern(texts, w, m, &t) != 0)
        return SL_ENOMEM;
    *id = t;
    return 0;
}

static int intern_row(sl_rows_t *rows, const msgpack_object *m, const msgpack_object *n,
                      uint32_t *id)
{
    char method[64], name[2048];
    if (!sl_wire_str(m, method, sizeof(method)) || !sl_wire_str(n, name, sizeof(name)))
        return SL_EINVAL;
    return sl_rows_intern(rows, method, name, id) == 0 ? 0 : SL_ENOMEM;
}

/* Checks every part first, then merges: a malformed payload merges nothing. */
static int merge_exact(const msgpack_object *x, sl_stats_t *into, sl_rows_t *rows, sl_rows_t *texts,
                       sl_err_t *err)
{
    const msgpack_object *rws = sl_wire_get(x, "rows"), *errs = sl_wire_get(x, "errors");
    const msgpack_object *exc = sl_wire_get(x, "exceptions");
    if (!is_array(rws, 0) || !is_array(errs, 0) || !is_array(exc, 0)) {
        sl_err_set(err, "stats report: the exact statistics are malformed");
        return SL_EINVAL;
    }
    uint32_t n = rws->via.array.size;
    sl_hist_t *hs = calloc(2 * (size_t)n + 1, sizeof(*hs));
    if (!hs)
        return SL_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const msgpack_object *r = &rws->via.array.ptr[i];
        uint64_t v;
        if (!is_array(r, 7) || !sl_wire_u64(&r->via.array.ptr[2], &v) ||
            !sl_wire_u64(&r->via.array.ptr[3], &v) || !sl_wire_u64(&r->via.array.ptr[4], &v) ||
            !read_hist(&r->via.array.ptr[5], &hs[2 * i]) ||
            !read_hist(&r->via.array.ptr[6], &hs[2 * i + 1]))
            rc = SL_EINVAL;
        uint64_t nreq = 0;
        if (rc == 0 && (!sl_wire_u64(&r->via.array.ptr[2], &nreq) || nreq != hs[2 * i].total_count))
            rc = SL_EINVAL;
    }
    if (rc == 0 && !read_hist(sl_wire_get(x, "send_lag"), &hs[2 * n]))
        rc = SL_EINVAL;
    for (uint32_t i = 0; i < errs->via.array.size && rc == 0; i++)
        if (!is_array(&errs->via.array.ptr[i], 7))
            rc = SL_EINVAL;
    for (uint32_t i = 0; i < exc->via.array.size && rc == 0; i++)
        if (!is_array(&exc->via.array.ptr[i], 3))
            rc = SL_EINVAL;
    if (rc != 0)
        sl_err_set(err, "stats report: the exact statistics are malformed");
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const msgpack_object *a = rws->via.array.ptr[i].via.array.ptr;
        uint32_t id;
        rc = intern_row(rows, &a[0], &a[1], &id);
        if (rc == 0 && id >= into->nrows && sl_stats_reserve(into, id + 1) != 0)
            rc = SL_ENOMEM;
        if (rc != 0)
            break;
        sl_row_stats_t *dst = &into->rows[id];
        uint64_t f = 0, b = 0;
        sl_wire_u64(&a[3], &f);
        sl_wire_u64(&a[4], &b);
        dst->num_requests += hs[2 * i].total_count;
        dst->num_failures += f;
        dst->content_bytes += b;
        if (!sl_hist_merge(&dst->latency, &hs[2 * i]) ||
            !sl_hist_merge(&dst->service, &hs[2 * i + 1]))
            into->alloc_failed = true;
    }
    if (rc == 0 && !sl_hist_merge(&into->send_lag, &hs[2 * n]))
        into->alloc_failed = true;
    for (uint32_t i = 0; i < errs->via.array.size && rc == 0; i++) {
        const msgpack_object *a = errs->via.array.ptr[i].via.array.ptr;
        uint32_t row;
        uint64_t kind = 0, occ = 0;
        double number = 0;
        int64_t text = -1;
        rc = intern_row(rows, &a[0], &a[1], &row);
        if (rc == 0)
            rc = intern_text(texts, &a[4], &a[5], &text);
        if (rc != 0 || !sl_wire_u64(&a[2], &kind) || !sl_wire_num(&a[3], &number) ||
            !sl_wire_u64(&a[6], &occ) || kind > SL_FAIL_UNSENT)
            continue;
        int32_t detail = (int32_t)number;
        if (kind == SL_FAIL_SCRIPT)
            detail = text >= 0 ? (int32_t)text : 0;
        else if (text >= 0)
            detail = sl_detail_with_text(detail, (uint32_t)text);
        sl_stats_error(into, row, (sl_fail_t)kind, detail, occ);
    }
    for (uint32_t i = 0; i < exc->via.array.size && rc == 0; i++) {
        const msgpack_object *a = exc->via.array.ptr[i].via.array.ptr;
        int64_t text;
        uint64_t occ;
        rc = intern_text(texts, &a[0], &a[1], &text);
        if (rc == 0 && text >= 0 && sl_wire_u64(&a[2], &occ))
            sl_stats_exception(into, (uint32_t)text, occ);
    }
    if (rc == 0) {
        uint64_t v;
        if (sl_wire_u64(sl_wire_get(x, "retries"), &v))
            into->retries += v;
        if (sl_wire_u64(sl_wire_get(x, "stale_discarded"), &v))
            into->stale_discarded += v;
        if (sl_wire_u64(sl_wire_get(x, "dropped_iterations"), &v))
            into->dropped_iterations += v;
    }
    for (uint32_t i = 0; i < 2 * n + 1; i++)
        sl_hist_dispose(&hs[i]);
    free(hs);
    if (rc == SL_ENOMEM)
        sl_err_set(err, "out of memory");
    return rc;
}

/* A Locust worker's entry: its rounded response times become the histogram (in ms, as
 * exact as Locust keeps them), the sum, min and max are Locust's own. */
static int merge_locust_entry(const msgpack_object *e, sl_stats_t *into, sl_rows_t *rows)
{
    uint32_t id;
    int rc = intern_row(rows, sl_wire_get(e, "method"), sl_wire_get(e, "name"), &id);
    if (rc != 0)
        return rc;
    if (id >= into->nrows && sl_stats_reserve(into, id + 1) != 0)
        return SL_ENOMEM;
    sl_row_stats_t *dst = &into->rows[id];
    const msgpack_object *rt = sl_wire_get(e, "response_times");
    sl_hist_t h;
    sl_hist_init(&h, SL_HIST_WIDE);
    if (rt && rt->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < rt->via.map.size; i++) {
            double ms;
            uint64_t c;
            if (sl_wire_num(&rt->via.map.ptr[i].key, &ms) && ms >= 0 &&
                sl_wire_u64(&rt->via.map.ptr[i].val, &c) && c)
                sl_hist_record_n(&h, (uint64_t)llround(ms * 1000.0), c);
        }
    }
    double v;
    if (h.total_count) {
        if (sl_wire_num(sl_wire_get(e, "total_response_time"), &v) && v >= 0)
            h.sum_us = (uint64_t)llround(v * 1000.0);
        if (sl_wire_num(sl_wire_get(e, "min_response_time"), &v) && v >= 0)
            h.min_us = (uint64_t)llround(v * 1000.0) ? (uint64_t)llround(v * 1000.0) : 1;
        if (sl_wire_num(sl_wire_get(e, "max_response_time"), &v) && v * 1000.0 >= (double)h.min_us)
            h.max_us = (uint64_t)llround(v * 1000.0);
    }
    uint64_t f = 0, b = 0;
    sl_wire_u64(sl_wire_get(e, "num_failures"), &f);
    sl_wire_u64(sl_wire_get(e, "total_content_length"), &b);
    dst->num_requests += h.total_count;
    dst->num_failures += f;
    dst->content_bytes += b;
    bool ok = sl_hist_merge(&dst->latency, &h) && sl_hist_merge(&dst->service, &h);
    sl_hist_dispose(&h);
    if (!ok)
        into->alloc_failed = true;
    return 0;
}

static int merge_locust(const msgpack_object *data, sl_stats_t *into, sl_rows_t *rows,
                        sl_rows_t *texts)
{
    const msgpack_object *st = sl_wire_get(data, "stats");
    int rc = 0;
    for (uint32_t i = 0; i < st->via.array.size && rc == 0; i++)
        if (st->via.array.ptr[i].type == MSGPACK_OBJECT_MAP)
            rc = merge_locust_entry(&st->via.array.ptr[i], into, rows);
    const msgpack_object *errs = sl_wire_get(data, "errors");
    if (rc != 0 || !errs || errs->type != MSGPACK_OBJECT_MAP)
        return rc;
    for (uint32_t i = 0; i < errs->via.map.size && rc == 0; i++) {
        const msgpack_object *e = &errs->via.map.ptr[i].val;
        uint32_t row, text;
        uint64_t occ;
        char msg[1024];
        if (intern_row(rows, sl_wire_get(e, "method"), sl_wire_get(e, "name"), &row) != 0 ||
            !sl_wire_str(sl_wire_get(e, "error"), msg, sizeof(msg)) ||
            !sl_wire_u64(sl_wire_get(e, "occurrences"), &occ))
            continue;
        if (!texts || sl_rows_intern(texts, "", msg, &text) != 0)
            continue;
        sl_stats_error(into, row, SL_FAIL_SCRIPT, (int)text, occ);
    }
    return rc;
}

int sl_payload_merge(const msgpack_object *data, sl_stats_t *into, sl_rows_t *rows,
                     sl_rows_t *texts, bool *exact, uint32_t *user_count, sl_err_t *err)
{
    *exact = false;
    *user_count = 0;
    const msgpack_object *st = sl_wire_get(data, "stats");
    if (!is_array(st, 0)) {
        sl_err_set(err, "stats report: no \"stats\" list");
        return SL_EINVAL;
    }
    uint64_t u;
    if (sl_wire_u64(sl_wire_get(data, "user_count"), &u))
        *user_count = u > UINT32_MAX ? UINT32_MAX : (uint32_t)u;
    const msgpack_object *x = sl_wire_get(data, "stormlight");
    if (x) {
        *exact = true;
        return merge_exact(x, into, rows, texts, err);
    }
    int rc = merge_locust(data, into, rows, texts);
    if (rc == SL_ENOMEM)
        sl_err_set(err, "out of memory");
    return rc;
}
