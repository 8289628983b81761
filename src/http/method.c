/* HTTP method semantics: the one list of idempotent methods behind the retry rule, for
 * Task{} requests (scenario/) and scripted ones (engine/script.c) alike. */
#include "http/method.h"

#include <stddef.h>
#include <string.h>

#include "sl.h"

bool sl_http_method_idempotent(const char *method)
{
    static const char *const list[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < SL_ARRAY_LEN(list); i++) {
        if (strcmp(method, list[i]) == 0)
            return true;
    }
    return false;
}
