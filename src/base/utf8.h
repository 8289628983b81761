/* Keeping report output valid UTF-8 whatever bytes a name holds.
 *
 * Row names, error texts and script messages are bytes: a Latin-1 path or a csv() value
 * reaches the reports as is. Every report that promises UTF-8 (JSON, CSV, HTML) passes
 * such text through here: a well-formed UTF-8 sequence is kept, and each byte that is not
 * part of one becomes U+FFFD (the replacement character), one per byte, so the output
 * always decodes strictly and the position of every bad byte stays visible. */
#ifndef SL_BASE_UTF8_H
#define SL_BASE_UTF8_H

#include <stddef.h>
#include <stdio.h>

/* U+FFFD in UTF-8. */
#define SL_UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* The length (1..4) of the well-formed UTF-8 sequence at s, which has avail bytes, or 0
 * when s[0] does not start one (a stray continuation byte, an overlong form, a surrogate,
 * a code point above U+10FFFF, or a sequence cut short). Strict as RFC 3629. */
size_t sl_utf8_seq_len(const unsigned char *s, size_t avail);

/* A malloc'ed copy of the NUL-terminated s with every invalid byte replaced as above.
 * NULL on out of memory. Caller frees. */
char *sl_utf8_sanitize(const char *s);

/* Writes the NUL-terminated s to f with every invalid byte replaced as above. */
void sl_utf8_write(FILE *f, const char *s);

#endif
