/* The HDR log's histogram encoding (compressed V2, base64) against strings that
 * HdrHistogram's Java HistogramLogWriter produced for the same values (Debian's
 * libhdrhistogram-java 2.1.11, histogram 1..3600000000, 3 digits), and a round trip
 * through zlib for a wide histogram. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "report/hdrlog.h"

static char *encode_values(const uint64_t *values, size_t n)
{
    sl_hist_t h;
    sl_hist_init(&h, SL_HIST_WIDE);
    for (size_t i = 0; i < n; i++)
        sl_hist_record(&h, values[i]);
    char *text = sl_hdrlog_encode(&h);
    sl_hist_dispose(&h);
    cr_assert_not_null(text);
    return text;
}

Test(hdrlog, matches_hdrhistogram_java)
{
    const uint64_t values[] = {100, 100, 5000};
    char *text = encode_values(values, 3);
    cr_expect_str_eq(text, "HISTFAAAACZ42pNpmSzMwMDAxgABzFCaEURcm7yEwf4DROA4I8tPQyYAdPwGhQ==");
    free(text);
}

Test(hdrlog, empty_histogram_starts_with_the_cookie)
{
    char *text = encode_values(NULL, 0);
    cr_expect(strncmp(text, "HISTF", 5) == 0, "%s", text);
    free(text);
}

static size_t unbase64(const char *in, uint8_t *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        acc = acc << 6 | (uint32_t)(strchr(tab, *in) - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

Test(hdrlog, round_trip_of_a_wide_histogram)
{
    /* Values across many buckets, with big counts that need several LEB128 bytes. */
    sl_hist_t h;
    sl_hist_init(&h, SL_HIST_WIDE);
    sl_hist_record_n(&h, 1, 1000000);
    sl_hist_record_n(&h, 2047, 3);
    sl_hist_record_n(&h, 123456, 77);
    sl_hist_record(&h, SL_HIST_HIGHEST_US);
    char *text = sl_hdrlog_encode(&h);
    cr_assert_not_null(text);
    size_t cap = strlen(text);
    uint8_t *bin = malloc(cap);
    size_t n = unbase64(text, bin);
    cr_assert_eq(be32(bin), 0x1c849314u, "compressed V2 cookie");
    cr_assert_eq(be32(bin + 4), n - 8, "compressed length");
    uLongf raw_len = 40 + (uLongf)SL_HIST_COUNTS_LEN * 9;
    uint8_t *raw = malloc(raw_len);
    cr_assert_eq(uncompress(raw, &raw_len, bin + 8, (uLong)(n - 8)), Z_OK);
    cr_assert_eq(be32(raw), 0x1c849313u, "V2 cookie");
    cr_assert_eq(be32(raw + 4), raw_len - 40, "payload length");
    cr_assert_eq(be32(raw + 12), 3, "significant digits");
    /* Decode the ZigZag LEB128 counts back into an array and compare. */
    uint64_t *counts = calloc(SL_HIST_COUNTS_LEN, sizeof(*counts));
    size_t idx = 0;
    for (const uint8_t *p = raw + 40; p < raw + raw_len;) {
        uint64_t v = 0;
        int shift = 0;
        for (int i = 0; i < 9; i++) {
            uint8_t b = *p++;
            if (i == 8) {
                v |= (uint64_t)b << 56;
                break;
            }
            v |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80))
                break;
        }
        int64_t value = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        if (value < 0)
            idx += (size_t)-value;
        else
            counts[idx++] = (uint64_t)value;
    }
    cr_expect_eq(idx, sl_hist_index_of(SL_HIST_HIGHEST_US) + 1, "counts up to the max's index");
    for (uint32_t i = 0; i < SL_HIST_COUNTS_LEN; i++)
        cr_expect_eq(counts[i], sl_hist_count_at(&h, i), "count %u", i);
    free(counts);
    free(raw);
    free(bin);
    free(text);
    sl_hist_dispose(&h);
}
