/* The row registry: every statistics row (a unique method and name) gets a small integer
 * id for the whole run. Rows from Task{} entries are registered at load time; scripted
 * requests may register new names while the test runs. Thread-safe; workers cache the ids
 * they use, so the lock is taken only the first time a worker meets a name. */
#ifndef SL_STATS_ROWS_H
#define SL_STATS_ROWS_H

#include <stdint.h>

#include "sl.h"

typedef struct sl_rows sl_rows_t;

sl_rows_t *sl_rows_new(void);
void sl_rows_free(sl_rows_t *r);

/* Returns the id of (method, name), registering it when new. The strings are copied.
 * Returns 0 or SL_ENOMEM / SL_ELIMIT (more than SL_ROWS_MAX distinct rows). */
#define SL_ROWS_MAX 100000
int sl_rows_intern(sl_rows_t *r, const char *method, const char *name, uint32_t *id);

/* The hash the registry indexes by (FNV-1a over method, a separator, name); workers use it
 * for their own caches of ids. */
uint64_t sl_rows_hash(const char *method, const char *name);

/* Number of rows registered so far. */
uint32_t sl_rows_count(sl_rows_t *r);

/* The names of row id (< count); the strings live as long as the registry. */
void sl_rows_get(sl_rows_t *r, uint32_t id, const char **method, const char **name);

#endif
