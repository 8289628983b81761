/* UTF-8 repair for the reports: well-formed sequences are kept, every other byte becomes
 * one U+FFFD, and the result always decodes strictly. Table-driven: input, expected
 * output. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

#define R SL_UTF8_REPLACEMENT

static const struct {
    const char *in, *out, *what;
} cases[] = {
    {"", "", "empty"},
    {"/hello", "/hello", "ASCII"},
    {"caf\xC3\xA9", "caf\xC3\xA9", "valid two-byte (é)"},
    {"\xE2\x82\xAC", "\xE2\x82\xAC", "valid three-byte (€)"},
    {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80", "valid four-byte (emoji)"},
    {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF", "U+10FFFF, the last code point"},
    {"\xEF\xBF\xBD", "\xEF\xBF\xBD", "U+FFFD itself"},
    {"caf\xE9", "caf" R, "Latin-1 é"},
    {"\xE9t\xE9", R "t" R, "Latin-1 bytes around ASCII"},
    {"\x80", R, "lone continuation byte"},
    {"\xC0\xAF", R R, "overlong two-byte '/'"},
    {"\xC1\xBF", R R, "overlong two-byte lead C1"},
    {"\xE0\x80\xAF", R R R, "overlong three-byte"},
    {"\xF0\x80\x80\xAF", R R R R, "overlong four-byte"},
    {"\xED\xA0\x80", R R R, "UTF-16 surrogate D800"},
    {"\xED\x9F\xBF", "\xED\x9F\xBF", "U+D7FF, just below the surrogates"},
    {"\xF4\x90\x80\x80", R R R R, "above U+10FFFF"},
    {"\xF5\x80\x80\x80", R R R R, "lead byte F5"},
    {"\xFF\xFE", R R, "FF FE"},
    {"\xC3", R, "two-byte sequence cut at the end"},
    {"\xE2\x82", R R, "three-byte sequence cut at the end"},
    {"\xE2\x82x", R R "x", "three-byte sequence cut by ASCII"},
    {"\xC3\xA9\xE9\xC3\xA9", "\xC3\xA9" R "\xC3\xA9", "a bad byte between good ones"},
};

Test(utf8, sanitize_table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = sl_utf8_sanitize(cases[i].in);
        cr_assert_not_null(got);
        cr_expect_str_eq(got, cases[i].out, "%s", cases[i].what);
        free(got);
    }
}

Test(utf8, write_matches_sanitize)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        cr_assert_not_null(f);
        sl_utf8_write(f, cases[i].in);
        fclose(f);
        cr_expect_str_eq(buf, cases[i].out, "%s", cases[i].what);
        free(buf);
    }
}

/* Every byte value in every position: the output is always valid by the validator's own
 * rule, so a sanitized string re-sanitizes to itself. */
Test(utf8, output_is_always_valid)
{
    unsigned char in[5] = {0};
    for (unsigned a = 1; a < 256; a++) {
        for (unsigned b = 1; b < 256; b += 7) {
            for (unsigned c = 1; c < 256; c += 13) {
                in[0] = (unsigned char)a;
                in[1] = (unsigned char)b;
                in[2] = (unsigned char)c;
                in[3] = 0x80;
                char *once = sl_utf8_sanitize((const char *)in);
                const unsigned char *p = (const unsigned char *)once;
                size_t n = strlen(once);
                for (size_t i = 0; i < n;) {
                    size_t l = sl_utf8_seq_len(p + i, n - i);
                    cr_assert(l > 0, "invalid output for %02x %02x %02x", a, b, c);
                    i += l;
                }
                free(once);
            }
        }
    }
}
