/* Unit tests for the distributed wire format (src/dist/wire.c) and the stats payload
 * (src/dist/payload.c): Locust-shaped [type, data, node_id] messages round-trip, malformed
 * frames are refused, Locust's rounding, and a stats report merged on the other side
 * gives exactly the single-process totals and percentiles (the exact extra), or Locust's
 * rounded view when only Locust's keys are there (a Python worker). */
#include <criterion/criterion.h>

#include <string.h>

#include "base/fail.h"
#include "dist/payload.h"
#include "dist/wire.h"
#include "stats/rows.h"
#include "stats/stats.h"

static void encode_heartbeat(sl_wire_out_t *o)
{
    sl_wire_begin(o, "heartbeat");
    msgpack_pack_map(&o->pk, 3);
    sl_wire_pack_str(&o->pk, "state");
    sl_wire_pack_str(&o->pk, "running");
    sl_wire_pack_str(&o->pk, "current_cpu_usage");
    msgpack_pack_double(&o->pk, 12.5);
    sl_wire_pack_str(&o->pk, "current_memory_usage");
    msgpack_pack_uint64(&o->pk, 1u << 20);
    o->has_data = true;
    sl_wire_end(o, "host_0123abcd");
}

Test(wire, message_round_trips)
{
    sl_wire_out_t o;
    encode_heartbeat(&o);
    sl_wire_msg_t m;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_wire_decode(&m, o.buf.data, o.buf.size, &err), 0, "%s", err.msg);
    cr_assert_str_eq(m.type, "heartbeat");
    cr_assert_str_eq(m.node_id, "host_0123abcd");
    char state[16];
    cr_assert(sl_wire_str(sl_wire_get(m.data, "state"), state, sizeof(state)));
    cr_assert_str_eq(state, "running");
    double cpu;
    uint64_t mem;
    cr_assert(sl_wire_num(sl_wire_get(m.data, "current_cpu_usage"), &cpu));
    cr_assert_float_eq(cpu, 12.5, 1e-9);
    cr_assert(sl_wire_u64(sl_wire_get(m.data, "current_memory_usage"), &mem));
    cr_assert_eq(mem, 1u << 20);
    cr_assert_null(sl_wire_get(m.data, "absent"));
    sl_wire_msg_dispose(&m);
    sl_wire_out_dispose(&o);
}

Test(wire, no_data_is_nil_and_bytes_match_python)
{
    /* msgpack.dumps(("quit", None, "w1")) in Python is 93 a4 'quit' c0 a2 'w1'. */
    static const unsigned char py[] = {0x93, 0xa4, 'q', 'u', 'i', 't', 0xc0, 0xa2, 'w', '1'};
    sl_wire_out_t o;
    sl_wire_begin(&o, "quit");
    sl_wire_end(&o, "w1");
    cr_assert_eq(o.buf.size, sizeof(py));
    cr_assert_eq(memcmp(o.buf.data, py, sizeof(py)), 0);
    sl_wire_msg_t m;
    sl_err_t err = {{0}};
    cr_assert_eq(sl_wire_decode(&m, py, sizeof(py), &err), 0);
    cr_assert_eq(m.data->type, MSGPACK_OBJECT_NIL);
    sl_wire_msg_dispose(&m);
    sl_wire_out_dispose(&o);
}

Test(wire, malformed_frames_are_refused)
{
    sl_err_t err = {{0}};
    sl_wire_msg_t m;
    static const unsigned char two[] = {0x92, 0xa1, 'x', 0xc0};
    cr_assert_eq(sl_wire_decode(&m, two, sizeof(two), &err), SL_EINVAL);
    sl_wire_msg_dispose(&m);
    static const unsigned char trunc[] = {0x93, 0xa4, 'q', 'u'};
    cr_assert_eq(sl_wire_decode(&m, trunc, sizeof(trunc), &err), SL_EINVAL);
    sl_wire_msg_dispose(&m);
    static const unsigned char trailing[] = {0x93, 0xa1, 'a', 0xc0, 0xc0, 0xc0};
    cr_assert_eq(sl_wire_decode(&m, trailing, sizeof(trailing), &err), SL_EINVAL);
    sl_wire_msg_dispose(&m);
    static const unsigned char inttype[] = {0x93, 0x01, 0xc0, 0xc0};
    cr_assert_eq(sl_wire_decode(&m, inttype, sizeof(inttype), &err), SL_EINVAL);
    sl_wire_msg_dispose(&m);
}

Test(payload, locust_rounding)
{
    cr_assert_eq(sl_payload_round_ms(47.4), 47);
    cr_assert_eq(sl_payload_round_ms(147), 150);
    cr_assert_eq(sl_payload_round_ms(3432), 3400);
    cr_assert_eq(sl_payload_round_ms(58760), 59000);
}

/* Packs a stats message for `s` and decodes it again. */
static void pack_decode(const sl_stats_t *s, sl_rows_t *rows, sl_rows_t *texts, sl_wire_msg_t *m,
                        sl_wire_out_t *o)
{
    const char *names[] = {"Api"};
    uint32_t counts[] = {3};
    sl_payload_info_t info = {.user_count = 3,
                              .class_names = names,
                              .class_counts = counts,
                              .nclasses = 1,
                              .now_s = 1700000000.5,
                              .start_time_s = 1700000000.0};
    sl_wire_begin(o, "stats");
    sl_payload_pack(&o->pk, s, rows, texts, &info);
    o->has_data = true;
    sl_wire_end(o, "w1");
    sl_err_t err = {{0}};
    cr_assert_eq(sl_wire_decode(m, o->buf.data, o->buf.size, &err), 0, "%s", err.msg);
}

static sl_stats_t *sample(sl_rows_t *rows, sl_rows_t *texts, uint64_t seed)
{
    uint32_t a, b, t;
    sl_rows_intern(rows, "GET", "/a", &a);
    sl_rows_intern(rows, "POST", "/b", &b);
    sl_rows_intern(texts, "file.lua:3", "boom", &t);
    sl_stats_t *s = sl_stats_new(2, SL_HIST_NARROW);
    uint64_t x = seed;
    for (int i = 0; i < 5000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t us = 1 + (x >> 33) % 2000000;
        sl_stats_record(s, i % 3 ? a : b, us, us / 2 + 1, 10, i % 97 == 0);
    }
    sl_stats_error(s, b, SL_FAIL_HTTP, 503, 7);
    sl_stats_error(s, a, SL_FAIL_SCRIPT, (int)t, 2);
    sl_stats_exception(s, t, 4);
    s->retries = 9;
    return s;
}

static void assert_same_row(const sl_row_stats_t *x, const sl_row_stats_t *y)
{
    cr_assert_eq(x->num_requests, y->num_requests);
    cr_assert_eq(x->num_failures, y->num_failures);
    cr_assert_eq(x->content_bytes, y->content_bytes);
    cr_assert_eq(x->latency.sum_us, y->latency.sum_us);
    cr_assert_eq(x->latency.min_us, y->latency.min_us);
    cr_assert_eq(x->latency.max_us, y->latency.max_us);
    for (double p = 0; p <= 100; p += 0.5) {
        cr_assert_eq(sl_hist_percentile(&x->latency, p), sl_hist_percentile(&y->latency, p));
        cr_assert_eq(sl_hist_percentile(&x->service, p), sl_hist_percentile(&y->service, p));
    }
}

Test(payload, two_workers_merge_exactly)
{
    /* Two workers with their own registries; the master merges both reports. The result
     * equals the single-process merge of both blocks. */
    sl_rows_t *r1 = sl_rows_new(100, NULL), *r2 = sl_rows_new(100, NULL);
    sl_rows_t *t1 = sl_rows_new(100, NULL), *t2 = sl_rows_new(100, NULL);
    uint32_t dummy;
    sl_rows_intern(r2, "GET", "/only-on-2", &dummy); /* ids differ between the workers */
    sl_stats_t *s1 = sample(r1, t1, 1), *s2 = sample(r2, t2, 2);
    sl_stats_t *single = sl_stats_new(2, SL_HIST_WIDE);
    sl_stats_merge(single, s1);
    /* s2's rows are shifted by one: fold them onto s1's ids by name */
    sl_row_stats_t *a = &single->rows[0], *b = &single->rows[1];
    cr_assert(sl_row_stats_merge(a, &s2->rows[1], NULL));
    cr_assert(sl_row_stats_merge(b, &s2->rows[2], NULL));

    sl_rows_t *mr = sl_rows_new(100, NULL), *mt = sl_rows_new(100, NULL);
    sl_stats_t *master = sl_stats_new(0, SL_HIST_WIDE);
    sl_stats_t *blocks[] = {s1, s2};
    for (int w = 0; w < 2; w++) {
        sl_wire_msg_t m;
        sl_wire_out_t o;
        pack_decode(blocks[w], w ? r2 : r1, w ? t2 : t1, &m, &o);
        bool exact;
        uint32_t users;
        sl_err_t err = {{0}};
        cr_assert_eq(sl_payload_merge(m.data, master, mr, mt, &exact, &users, &err), 0, "%s",
                     err.msg);
        cr_assert(exact);
        cr_assert_eq(users, 3);
        sl_wire_msg_dispose(&m);
        sl_wire_out_dispose(&o);
    }
    const char *method, *name;
    sl_rows_get(mr, 0, &method, &name);
    cr_assert_str_eq(name, "/a");
    assert_same_row(&master->rows[0], a);
    assert_same_row(&master->rows[1], b);
    cr_assert_eq(master->retries, 18);
    cr_assert_eq(master->send_lag.total_count, 10000);
    uint64_t http = 0, script = 0;
    for (uint32_t i = 0; i < master->nerrors; i++) {
        if (master->errors[i].kind == SL_FAIL_HTTP) {
            http += master->errors[i].occurrences;
            cr_assert_eq(master->errors[i].detail, 503);
        } else if (master->errors[i].kind == SL_FAIL_SCRIPT) {
            script += master->errors[i].occurrences;
            const char *where, *msg;
            sl_rows_get(mt, (uint32_t)master->errors[i].detail, &where, &msg);
            cr_assert_str_eq(msg, "boom");
        }
    }
    cr_assert_eq(http, 14);
    cr_assert_eq(script, 4);
    cr_assert_eq(master->nexceptions, 1);
    cr_assert_eq(master->exceptions[0].occurrences, 8);
    sl_stats_free(s1);
    sl_stats_free(s2);
    sl_stats_free(single);
    sl_stats_free(master);
    sl_rows_free(r1);
    sl_rows_free(r2);
    sl_rows_free(t1);
    sl_rows_free(t2);
    sl_rows_free(mr);
    sl_rows_free(mt);
}

Test(payload, locust_keys_are_what_a_locust_master_reads)
{
    sl_rows_t *rows = sl_rows_new(100, NULL), *texts = sl_rows_new(100, NULL);
    uint32_t a;
    sl_rows_intern(rows, "GET", "/a", &a);
    sl_stats_t *s = sl_stats_new(1, SL_HIST_NARROW);
    sl_stats_record(s, a, 147000, 147000, 5, false);   /* 147 ms -> 150 */
    sl_stats_record(s, a, 152000, 152000, 5, true);    /* 152 ms -> 150 */
    sl_stats_record(s, a, 3432000, 3432000, 5, false); /* -> 3400 */
    sl_wire_msg_t m;
    sl_wire_out_t o;
    pack_decode(s, rows, texts, &m, &o);
    const msgpack_object *st = sl_wire_get(m.data, "stats");
    cr_assert_eq(st->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(st->via.array.size, 1);
    const msgpack_object *e = &st->via.array.ptr[0];
    uint64_t n, f, len;
    cr_assert(sl_wire_u64(sl_wire_get(e, "num_requests"), &n));
    cr_assert(sl_wire_u64(sl_wire_get(e, "num_failures"), &f));
    cr_assert(sl_wire_u64(sl_wire_get(e, "total_content_length"), &len));
    cr_assert_eq(n, 3);
    cr_assert_eq(f, 1);
    cr_assert_eq(len, 15);
    const msgpack_object *rt = sl_wire_get(e, "response_times");
    cr_assert_eq(rt->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(rt->via.map.size, 2);
    cr_assert_eq(rt->via.map.ptr[0].key.via.u64, 150);
    cr_assert_eq(rt->via.map.ptr[0].val.via.u64, 2);
    cr_assert_eq(rt->via.map.ptr[1].key.via.u64, 3400);
    double total_ms;
    cr_assert(sl_wire_num(sl_wire_get(e, "total_response_time"), &total_ms));
    cr_assert_float_eq(total_ms, 147 + 152 + 3432, 1e-6);
    char name[32];
    cr_assert(sl_wire_str(sl_wire_get(sl_wire_get(m.data, "stats_total"), "name"), name, 32));
    cr_assert_str_eq(name, "Aggregated");
    for (const char *k = "method"; k; k = NULL)
        cr_assert_not_null(sl_wire_get(e, k));
    cr_assert_not_null(sl_wire_get(m.data, "user_classes_count"));

    /* A Python worker sends the same without "stormlight": the master reads the rounded
     * times (milliseconds) and Locust's own sum, min and max. */
    sl_wire_msg_dispose(&m);
    sl_wire_out_dispose(&o);
    sl_wire_begin(&o, "stats");
    msgpack_packer *pk = &o.pk;
    msgpack_pack_map(pk, 3);
    sl_wire_pack_str(pk, "stats");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 8);
    sl_wire_pack_str(pk, "name");
    sl_wire_pack_str(pk, "/py");
    sl_wire_pack_str(pk, "method");
    sl_wire_pack_str(pk, "GET");
    sl_wire_pack_str(pk, "num_requests");
    msgpack_pack_uint64(pk, 3);
    sl_wire_pack_str(pk, "num_failures");
    msgpack_pack_uint64(pk, 1);
    sl_wire_pack_str(pk, "total_response_time");
    msgpack_pack_double(pk, 12.5);
    sl_wire_pack_str(pk, "min_response_time");
    msgpack_pack_double(pk, 2.5);
    sl_wire_pack_str(pk, "max_response_time");
    msgpack_pack_double(pk, 6.0);
    sl_wire_pack_str(pk, "response_times");
    msgpack_pack_map(pk, 2);
    msgpack_pack_uint64(pk, 3);
    msgpack_pack_uint64(pk, 2);
    msgpack_pack_double(pk, 6.0);
    msgpack_pack_uint64(pk, 1);
    sl_wire_pack_str(pk, "errors");
    msgpack_pack_map(pk, 1);
    sl_wire_pack_str(pk, "k");
    msgpack_pack_map(pk, 4);
    sl_wire_pack_str(pk, "method");
    sl_wire_pack_str(pk, "GET");
    sl_wire_pack_str(pk, "name");
    sl_wire_pack_str(pk, "/py");
    sl_wire_pack_str(pk, "error");
    sl_wire_pack_str(pk, "HTTPError('500 Server Error')");
    sl_wire_pack_str(pk, "occurrences");
    msgpack_pack_uint64(pk, 1);
    sl_wire_pack_str(pk, "user_count");
    msgpack_pack_uint64(pk, 2);
    o.has_data = true;
    sl_wire_end(&o, "py1");
    sl_err_t err = {{0}};
    cr_assert_eq(sl_wire_decode(&m, o.buf.data, o.buf.size, &err), 0);
    sl_stats_t *master = sl_stats_new(0, SL_HIST_WIDE);
    bool exact;
    uint32_t users;
    cr_assert_eq(sl_payload_merge(m.data, master, rows, texts, &exact, &users, &err), 0);
    cr_assert_not(exact);
    cr_assert_eq(users, 2);
    uint32_t py;
    sl_rows_intern(rows, "GET", "/py", &py);
    cr_assert_eq(master->rows[py].num_requests, 3);
    cr_assert_eq(master->rows[py].num_failures, 1);
    cr_assert_eq(master->rows[py].latency.sum_us, 12500);
    cr_assert_eq(master->rows[py].latency.min_us, 2500);
    cr_assert_eq(master->rows[py].latency.max_us, 6000);
    cr_assert_eq(sl_hist_lowest_equivalent(sl_hist_percentile(&master->rows[py].latency, 50)),
                 sl_hist_lowest_equivalent(3000));
    cr_assert_eq(master->nerrors, 1);
    cr_assert_eq(master->errors[0].occurrences, 1);

    /* Not a stats report: refused, nothing merged. */
    sl_wire_msg_dispose(&m);
    sl_wire_out_dispose(&o);
    sl_wire_begin(&o, "stats");
    sl_wire_end(&o, "py1");
    cr_assert_eq(sl_wire_decode(&m, o.buf.data, o.buf.size, &err), 0);
    cr_assert_eq(sl_payload_merge(m.data, master, rows, texts, &exact, &users, &err), SL_EINVAL);
    sl_wire_msg_dispose(&m);
    sl_wire_out_dispose(&o);
    sl_stats_free(master);
    sl_stats_free(s);
    sl_rows_free(rows);
    sl_rows_free(texts);
}
