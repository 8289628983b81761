/* UTF-8 validation and repair for the reports (see utf8.h). No state, any thread. */
#include "base/utf8.h"

#include <stdlib.h>
#include <string.h>

size_t sl_utf8_seq_len(const unsigned char *s, size_t avail)
{
    if (avail == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    /* The second byte's range depends on the first (RFC 3629, section 4): this rules out
     * overlong forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above
     * U+10FFFF (F4 90..BF) without decoding. */
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0; /* 80..C1 (continuation or overlong lead) and F5..FF never start one */
    }
    if (avail < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

char *sl_utf8_sanitize(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    /* Each bad byte grows to three: the worst case is known up front. */
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = sl_utf8_seq_len(p + i, n - i);
        if (len) {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, SL_UTF8_REPLACEMENT, 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

void sl_utf8_write(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t run = 0; /* valid bytes not yet written, ending at i */
    for (size_t i = 0; i < n;) {
        size_t len = sl_utf8_seq_len(p + i, n - i);
        if (len) {
            run += len;
            i += len;
            continue;
        }
        fwrite(p + i - run, 1, run, f);
        run = 0;
        fputs(SL_UTF8_REPLACEMENT, f);
        i++;
    }
    fwrite(p + n - run, 1, run, f);
}
