/* The streaming JSON writer (see jsonw.h). */
#include "report/jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

void sl_jw_init(sl_jw_t *w, FILE *f, bool pretty)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->pretty = pretty;
}

static void newline(sl_jw_t *w)
{
    if (!w->pretty)
        return;
    fputc('\n', w->f);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->f);
}

static void put_escaped(sl_jw_t *w, const char *s)
{
    FILE *f = w->f;
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + strlen(s);
    while (*p) {
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t n = sl_utf8_seq_len(p, (size_t)(end - p));
            if (n == 0) {
                fputs(SL_UTF8_REPLACEMENT, f);
                p++;
            } else {
                fwrite(p, 1, n, f);
                p += n;
            }
            continue;
        }
        switch (c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (c < 0x20 || (c == '<' && w->html_safe))
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
        p++;
    }
    fputc('"', f);
}

/* The comma, the line and the key in front of a value. */
static void begin_value(sl_jw_t *w, const char *key)
{
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            fputc(',', w->f);
        w->has_items[w->depth - 1] = true;
        newline(w);
    }
    if (key) {
        put_escaped(w, key);
        fputs(w->pretty ? ": " : ":", w->f);
    }
}

static void open_container(sl_jw_t *w, const char *key, char open)
{
    begin_value(w, key);
    fputc(open, w->f);
    if (w->depth < SL_JW_DEPTH)
        w->has_items[w->depth] = false;
    w->depth++;
}

void sl_jw_object(sl_jw_t *w, const char *key)
{
    open_container(w, key, '{');
}

void sl_jw_array(sl_jw_t *w, const char *key)
{
    open_container(w, key, '[');
}

void sl_jw_end(sl_jw_t *w, char close)
{
    bool had = w->depth > 0 && w->depth <= SL_JW_DEPTH && w->has_items[w->depth - 1];
    w->depth--;
    if (had)
        newline(w);
    fputc(close, w->f);
}

void sl_jw_string(sl_jw_t *w, const char *key, const char *s)
{
    begin_value(w, key);
    put_escaped(w, s ? s : "");
}

/* As cJSON prints numbers: integers exactly, others with 15 significant digits unless
 * that does not read back as the same double, then 17. */
void sl_jw_number(sl_jw_t *w, const char *key, double v)
{
    begin_value(w, key);
    if (!isfinite(v)) {
        fputs("null", w->f);
        return;
    }
    char buf[32];
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(buf, sizeof(buf), "%.0f", v);
    } else {
        snprintf(buf, sizeof(buf), "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, sizeof(buf), "%.17g", v);
    }
    fputs(buf, w->f);
}

void sl_jw_null(sl_jw_t *w, const char *key)
{
    begin_value(w, key);
    fputs("null", w->f);
}

void sl_jw_bool(sl_jw_t *w, const char *key, bool v)
{
    begin_value(w, key);
    fputs(v ? "true" : "false", w->f);
}
