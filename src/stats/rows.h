/* The row registry: every statistics row (a unique method and name) gets a small integer
 * id for the whole run. Rows from Task{} entries are registered at load time; scripted
 * requests may register new names while the test runs. Thread-safe; workers cache the ids
 * they use, so the lock is taken only the first time a worker meets a name. */
#ifndef SL_STATS_ROWS_H
#define SL_STATS_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl.h"

/* One statistics row: a unique (method, name) pair. */
typedef struct sl_row {
    char *method;
    char *name;
} sl_row_t;

typedef struct sl_rows sl_rows_t;

/* A registry of at most max_rows rows (at most SL_ROWS_MAX). With an overflow name, pairs
 * met once the registry is full share one extra row, the overflow row (id max_rows), whose
 * method is SL_ROWS_OVERFLOW_METHOD and whose name is overflow_name (copied); without one,
 * interning past the limit fails with SL_ELIMIT. NULL on out of memory. */
#define SL_ROWS_MAX 100000
#define SL_ROWS_OVERFLOW_METHOD "*"
sl_rows_t *sl_rows_new(uint32_t max_rows, const char *overflow_name);
void sl_rows_free(sl_rows_t *r);

/* Returns the id of (method, name), registering it when new. The strings are copied.
 * Returns 0, or SL_ENOMEM, or SL_ELIMIT when the registry is full and has no overflow row. */
int sl_rows_intern(sl_rows_t *r, const char *method, const char *name, uint32_t *id);
/* The same for a row met while the test runs: `origin` ("file:line" of the scenario line
 * that made the request, borrowed) is remembered for the hint below. */
int sl_rows_intern_at(sl_rows_t *r, const char *method, const char *name, const char *origin,
                      uint32_t *id);
/* Whether id is the overflow row. Lock-free: the limit never changes. */
bool sl_rows_is_overflow(const sl_rows_t *r, uint32_t id);
uint32_t sl_rows_limit(const sl_rows_t *r);

/* The hash the registry indexes by (FNV-1a over method, a separator, name); workers use it
 * for their own caches of ids. */
uint64_t sl_rows_hash(const char *method, const char *name);

/* Number of rows registered so far (the overflow row included, once it exists). */
uint32_t sl_rows_count(sl_rows_t *r);

/* The names of row id (< count); the strings live as long as the registry. */
void sl_rows_get(sl_rows_t *r, uint32_t id, const char **method, const char **name);

/* Many rows from one path pattern usually mean a forgotten name= (`/item/<id>` makes one
 * row per id). Names met while running are reduced to a pattern (ids, numbers and hashes
 * in the path or query become {id}); once SL_ROWS_HINT_AT names share one, the registry
 * has a hint. */
#define SL_ROWS_HINT_AT 50
typedef struct sl_rows_hint {
    char method[16];
    char pattern[160];
    char origin[160]; /* where the first such request was made, "" if unknown */
    uint32_t rows;    /* registered names with that pattern */
} sl_rows_hint_t;
/* Copies the pattern that made the most rows into *out when it made SL_ROWS_HINT_AT or
 * more; false otherwise. */
bool sl_rows_hint(sl_rows_t *r, sl_rows_hint_t *out);
/* The pattern of a name: each token (a run of letters, digits, '-' and '_') that looks like
 * an id (digits, hex with a digit, or any 12+ characters with a digit) becomes {id}. False
 * when the name has no such token. Exposed for tests. */
bool sl_rows_pattern(const char *name, char *buf, size_t len);

#endif
