/* What HTTP's method semantics decide for a client (RFC 9110, section 9.2). Pure; any
 * thread. */
#ifndef SL_HTTP_METHOD_H
#define SL_HTTP_METHOD_H

#include <stdbool.h>

/* True for the idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS, TRACE; upper case, as
 * requests are sent): a request the server may have missed on a stale keep-alive
 * connection may be sent again, as curl, Go's net/http and urllib3 do. */
bool sl_http_method_idempotent(const char *method);

#endif
