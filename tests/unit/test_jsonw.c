/* Unit tests for the streaming JSON writer (src/report/jsonw.c): documents it writes parse
 * back (cJSON as the oracle) to the values written, strings are escaped and valid UTF-8
 * whatever bytes they held, numbers keep their value. */
#include <criterion/criterion.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/jsonw.h"

/* Runs fn on a writer into memory and returns the text (caller frees). */
static char *written(void (*fn)(sl_jw_t *), bool pretty, bool html_safe)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    sl_jw_t w;
    sl_jw_init(&w, f, pretty);
    w.html_safe = html_safe;
    fn(&w);
    fclose(f);
    return buf;
}

static void nested(sl_jw_t *w)
{
    sl_jw_object(w, NULL);
    sl_jw_string(w, "s", "a\"b\\c\n\t\x01");
    sl_jw_number(w, "i", 2642);
    sl_jw_number(w, "big", 9007199254740991.0);
    sl_jw_number(w, "f", 0.1);
    sl_jw_number(w, "third", 1.0 / 3.0);
    sl_jw_number(w, "inf", INFINITY);
    sl_jw_null(w, "n");
    sl_jw_bool(w, "t", true);
    sl_jw_array(w, "empty");
    sl_jw_end_array(w);
    sl_jw_object(w, "o");
    sl_jw_array(w, "a");
    sl_jw_number(w, NULL, 1);
    sl_jw_object(w, NULL);
    sl_jw_end_object(w);
    sl_jw_string(w, NULL, "x");
    sl_jw_end_array(w);
    sl_jw_end_object(w);
    sl_jw_end_object(w);
}

Test(jsonw, round_trips_through_a_parser)
{
    for (int pretty = 0; pretty <= 1; pretty++) {
        char *text = written(nested, pretty, false);
        cJSON *root = cJSON_Parse(text);
        cr_assert_not_null(root, "does not parse: %s", text);
        cr_assert_str_eq(cJSON_GetObjectItem(root, "s")->valuestring, "a\"b\\c\n\t\x01");
        cr_assert_eq(cJSON_GetObjectItem(root, "i")->valuedouble, 2642);
        cr_assert_eq(cJSON_GetObjectItem(root, "big")->valuedouble, 9007199254740991.0);
        cr_assert_eq(cJSON_GetObjectItem(root, "f")->valuedouble, 0.1);
        cr_assert_eq(cJSON_GetObjectItem(root, "third")->valuedouble, 1.0 / 3.0,
                     "17 digits when 15 do not read back");
        cr_assert(cJSON_IsNull(cJSON_GetObjectItem(root, "inf")), "non-finite is null");
        cr_assert(cJSON_IsNull(cJSON_GetObjectItem(root, "n")));
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(root, "t")));
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "empty")), 0);
        cJSON *a = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "o"), "a");
        cr_assert_eq(cJSON_GetArraySize(a), 3);
        cr_assert_str_eq(cJSON_GetArrayItem(a, 2)->valuestring, "x");
        cr_assert_eq(strchr(text, '\n') != NULL, pretty, "pretty means lines");
        cJSON_Delete(root);
        free(text);
    }
}

static void bad_bytes(sl_jw_t *w)
{
    sl_jw_object(w, NULL);
    sl_jw_string(w, "latin1", "caf\xe9 \xff</script>");
    sl_jw_string(w, "utf8", "caf\xc3\xa9 \xe2\x82\xac");
    sl_jw_string(w, "cut", "\xe2\x82");
    sl_jw_end_object(w);
}

Test(jsonw, strings_stay_valid_utf8)
{
    char *text = written(bad_bytes, false, true);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root, "%s", text);
    cr_assert_str_eq(cJSON_GetObjectItem(root, "latin1")->valuestring,
                     "caf\xef\xbf\xbd \xef\xbf\xbd</script>", "one U+FFFD per bad byte");
    cr_assert_str_eq(cJSON_GetObjectItem(root, "utf8")->valuestring, "caf\xc3\xa9 \xe2\x82\xac",
                     "valid UTF-8 is kept");
    cr_assert_str_eq(cJSON_GetObjectItem(root, "cut")->valuestring, "\xef\xbf\xbd\xef\xbf\xbd");
    cr_assert_null(strstr(text, "</"), "html_safe: no '</' in the text: %s", text);
    cJSON_Delete(root);
    free(text);
}
