/* The HdrHistogram interval log (--hdr-log PATH): every second, one histogram per row
 * (tagged "Tag=METHOD_name") and one untagged histogram of all rows, in HdrHistogram's
 * standard log format, so that its own tools (HistogramLogReader, HistogramLogProcessor,
 * HdrHistogramVisualizer) read the run's latency second by second:
 *
 *   #[Histogram log format version 1.3]
 *   #[StartTime: 1764180000.123 (seconds since epoch), Wed Nov 26 18:00:00 UTC 2025]
 *   #[BaseTime: 1764180000.123 (seconds since epoch)]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 *   Tag=GET_/hello,0.000,1.020,0.031,HISTFAAAA...
 *
 * Start times are seconds since BaseTime (the start of the test), the max column is the
 * interval's maximum divided by 1e6 (HdrHistogram's default unit ratio: our values are
 * microseconds, so it reads as seconds), and each histogram uses the compressed V2
 * encoding: a 40-byte header (cookie, payload length, normalizing offset, significant
 * digits, lowest and highest trackable value, conversion ratio; big-endian), then the
 * counts as ZigZag LEB128 longs with runs of zeros written as one negative count, all
 * deflated (zlib, best compression, as HistogramLogWriter does, so the bytes match its own)
 * behind an 8-byte cookie and length, then base64. Our histogram's layout
 * (1 us .. 1 h, 3 digits) is exactly HdrHistogram's for the same parameters, so the counts
 * array is written index for index. Written from the format's published description.
 *
 * Owns the log's FILE and the encoding buffers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "report/hdrlog.h"

#define COOKIE_V2 0x1c849313u            /* V2 encoding, LEB128-64b9B words */
#define COOKIE_V2_COMPRESSED 0x1c849314u /* the same, deflated */
#define HEADER_LEN 40
#define MAX_WORD_LEN 9

struct sl_hdrlog {
    FILE *f;
    const char *path;
    bool header_written;
    bool write_failed;
    int saved_errno;
};

static uint8_t *put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)(v >> (i * 8));
    return p;
}

static uint8_t *put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(v >> (i * 8));
    return p;
}

/* ZigZag, then LEB128 with at most 9 bytes: 8 groups of 7 bits, and a ninth byte that holds
 * the last 8 bits whole. */
static uint8_t *put_zigzag(uint8_t *p, int64_t value)
{
    uint64_t v = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    for (int i = 0; i < 8; i++) {
        if (v >> 7 == 0) {
            *p++ = (uint8_t)v;
            return p;
        }
        *p++ = (uint8_t)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static char *base64(const uint8_t *in, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

char *sl_hdrlog_encode(const sl_hist_t *h)
{
    /* Counts up to the maximum's index only, as HdrHistogram writes them. */
    uint32_t limit = sl_hist_index_of(h->max_us) + 1;
    size_t raw_cap = HEADER_LEN + (size_t)limit * MAX_WORD_LEN;
    uLong packed_cap = compressBound((uLong)raw_cap);
    uint8_t *raw = malloc(raw_cap);
    uint8_t *packed = malloc(8 + packed_cap);
    char *text = NULL;
    if (!raw || !packed)
        goto out;

    uint8_t *p = raw + HEADER_LEN;
    for (uint32_t i = 0; i < limit;) {
        uint64_t count = sl_hist_count_at(h, i++);
        if (count == 0) {
            int64_t zeros = 1;
            while (i < limit && sl_hist_count_at(h, i) == 0) {
                zeros++;
                i++;
            }
            p = put_zigzag(p, zeros > 1 ? -zeros : 0);
        } else {
            /* Counts above 2^63 cannot occur: a run would need centuries. */
            p = put_zigzag(p, (int64_t)count);
        }
    }
    uint32_t payload = (uint32_t)(p - raw - HEADER_LEN);
    uint8_t *hp = put_be32(raw, COOKIE_V2);
    hp = put_be32(hp, payload);
    hp = put_be32(hp, 0); /* normalizing index offset */
    hp = put_be32(hp, SL_HIST_SIGFIGS);
    hp = put_be64(hp, SL_HIST_LOWEST_US);  /* lowest discernible value */
    hp = put_be64(hp, SL_HIST_HIGHEST_US); /* highest trackable value */
    double ratio = 1.0;                    /* integer to double conversion ratio */
    uint64_t bits;
    memcpy(&bits, &ratio, sizeof(bits));
    put_be64(hp, bits);

    uLongf packed_len = packed_cap;
    if (compress2(packed + 8, &packed_len, raw, (uLong)(p - raw), Z_BEST_COMPRESSION) != Z_OK)
        goto out;
    put_be32(put_be32(packed, COOKIE_V2_COMPRESSED), (uint32_t)packed_len);
    text = base64(packed, 8 + (size_t)packed_len);
out:
    free(raw);
    free(packed);
    return text;
}

int sl_hdrlog_open(sl_hdrlog_t **out, const char *path, sl_err_t *err)
{
    sl_hdrlog_t *l = calloc(1, sizeof(*l));
    if (!l) {
        sl_err_set(err, "--hdr-log: out of memory");
        return SL_ENOMEM;
    }
    l->path = path;
    l->f = fopen(path, "w");
    if (!l->f) {
        sl_err_set(err, "--hdr-log: cannot write '%s': %s", path, strerror(errno));
        free(l);
        return SL_ESYS;
    }
    *out = l;
    return SL_OK;
}

static void write_header(sl_hdrlog_t *l, const sl_snapshot_t *s)
{
    double start_s = (double)s->started_wall_us / 1e6;
    time_t t = (time_t)(s->started_wall_us / SL_US_PER_S);
    struct tm tm;
    char when[64];
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%a %b %d %H:%M:%S UTC %Y", &tm);
    fprintf(l->f, "#[Histogram log format version 1.3]\n");
    fprintf(l->f, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_s, when);
    fprintf(l->f, "#[BaseTime: %.3f (seconds since epoch)]\n", start_s);
    fprintf(l->f,
            "#stormlight %s: values in microseconds; tags are METHOD_name with ',' "
            "and white space as '_'; untagged lines are all rows together\n",
            SL_VERSION);
    fprintf(l->f, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                  "\"Interval_Compressed_Histogram\"\n");
    l->header_written = true;
}

/* Tags may not hold the log's separators: commas and white space become '_'. */
static void put_tag(FILE *f, const char *method, const char *name)
{
    fputs("Tag=", f);
    for (const char *parts[] = {method, "_", name}, **part = parts; part < parts + 3; part++) {
        for (const char *c = *part; *c; c++)
            fputc(*c == ',' || *c == ' ' || *c == '\t' || *c == '\r' || *c == '\n' ? '_' : *c, f);
    }
    fputc(',', f);
}

static void write_interval(sl_hdrlog_t *l, const sl_snapshot_t *s, const sl_row_t *row,
                           const sl_hist_t *h)
{
    char *text = sl_hdrlog_encode(h);
    if (!text) {
        l->write_failed = true;
        l->saved_errno = ENOMEM;
        return;
    }
    if (row)
        put_tag(l->f, row->method, row->name);
    uint64_t start = s->interval_start_us;
    uint64_t len = s->elapsed_us > start ? s->elapsed_us - start : 0;
    fprintf(l->f, "%.3f,%.3f,%.3f,%s\n", (double)start / 1e6, (double)len / 1e6,
            (double)h->max_us / 1e6, text);
    free(text);
}

void sl_hdrlog_tick(sl_hdrlog_t *l, const sl_snapshot_t *s)
{
    if (!l || !s->interval)
        return;
    if (!l->header_written)
        write_header(l, s);
    write_interval(l, s, NULL, &s->interval_total->latency);
    for (size_t i = 0; i < s->nrows && i < s->interval->nrows; i++)
        write_interval(l, s, &s->rows[i], &s->interval->rows[i].latency);
    if (fflush(l->f) != 0 && !l->write_failed) {
        l->write_failed = true;
        l->saved_errno = errno;
    }
}

int sl_hdrlog_finish(sl_hdrlog_t *l, sl_err_t *err)
{
    int rc = SL_OK;
    bool failed = l->write_failed || ferror(l->f);
    int e = l->write_failed ? l->saved_errno : errno;
    if (fclose(l->f) != 0 && !failed) {
        failed = true;
        e = errno;
    }
    l->f = NULL;
    if (failed) {
        sl_err_set(err, "--hdr-log: cannot write '%s': %s", l->path, strerror(e));
        rc = SL_ESYS;
    }
    return rc;
}

void sl_hdrlog_free(sl_hdrlog_t *l)
{
    if (!l)
        return;
    if (l->f)
        fclose(l->f);
    free(l);
}
