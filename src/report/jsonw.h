/* A streaming JSON writer: values go straight to a FILE, so a summary with 100,000 rows
 * or a day of history costs no memory beyond stdio's buffer (a tree of the same document
 * would cost hundreds of MiB, and a run that stopped for want of memory must still write
 * it). Strings are escaped and kept valid UTF-8 (base/utf8.h); numbers print as cJSON
 * prints them; non-finite numbers become null.
 *
 * Each value takes a key when it is a member of an object, NULL when it is an element of
 * an array or the top-level value. Nesting is bounded (SL_JW_DEPTH); the writer checks
 * nothing else: the caller writes a well-formed document. */
#ifndef SL_REPORT_JSONW_H
#define SL_REPORT_JSONW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SL_JW_DEPTH 16

typedef struct sl_jw {
    FILE *f;
    bool pretty;    /* newlines and two-space indents */
    bool html_safe; /* '<' in strings as \u003c, so no value can close a script element */
    int depth;
    bool has_items[SL_JW_DEPTH]; /* the open container already holds a value */
} sl_jw_t;

void sl_jw_init(sl_jw_t *w, FILE *f, bool pretty);

void sl_jw_object(sl_jw_t *w, const char *key);
void sl_jw_array(sl_jw_t *w, const char *key);
/* Closes the innermost object or array. */
void sl_jw_end(sl_jw_t *w, char close);
#define sl_jw_end_object(w) sl_jw_end((w), '}')
#define sl_jw_end_array(w) sl_jw_end((w), ']')

void sl_jw_string(sl_jw_t *w, const char *key, const char *s);
void sl_jw_number(sl_jw_t *w, const char *key, double v);
void sl_jw_null(sl_jw_t *w, const char *key);
void sl_jw_bool(sl_jw_t *w, const char *key, bool v);

#endif
