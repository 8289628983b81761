/* Test data from CSV files: csv("users.csv") in a scenario file. A file is read and parsed
 * once per process and kept in a process-wide cache keyed by its resolved path, so the
 * main thread's load and every worker's Lua state share one copy, and one round-robin
 * position: each row is handed out once before any row is handed out twice, across all
 * threads. */
#ifndef SL_SCENARIO_CSVDATA_H
#define SL_SCENARIO_CSVDATA_H

#include <stddef.h>

#include <lua.h>

#include "sl.h"

/* Largest CSV file csv() reads. */
#define SL_CSVDATA_MAX_BYTES (256u << 20)

/* A parsed file: a header row and at least one data row, every row with as many fields
 * as the header. Immutable after parsing, except for the atomic round-robin position. */
typedef struct sl_csvdata sl_csvdata_t;

/* Parses buf[0..len) (borrowed) as RFC 4180 CSV: fields separated by ',', records by CRLF
 * or LF, a field in double quotes may hold commas, line breaks and doubled quotes ("" for
 * one "). A UTF-8 byte-order mark at the start is skipped; empty lines are skipped; a
 * final line break is optional. The first record is the header: column names must be
 * non-empty and distinct. name is used in messages only.
 *
 * On success returns SL_OK with *out a new table (free with sl_csvdata_free). Otherwise
 * SL_EINVAL with err set to one of
 *   'NAME' is empty
 *   'NAME' has a header but no rows
 *   'NAME' line L: unterminated quoted field      (L: where the quote opened)
 *   'NAME' line L: unexpected character after a closing quote
 *   'NAME' line L: N fields, but the header has M
 *   'NAME' line 1: column C has an empty name
 *   'NAME' line 1: column 'x' appears twice
 *   'NAME' is larger than 256 MiB
 * or SL_ENOMEM. Any thread. */
int sl_csvdata_parse(const char *buf, size_t len, const char *name, sl_csvdata_t **out,
                     sl_err_t *err);

/* Frees a table made by sl_csvdata_parse. Accepts NULL. Never call it on a table from
 * sl_csvdata_open: the cache owns those. */
void sl_csvdata_free(sl_csvdata_t *csv);

size_t sl_csvdata_ncols(const sl_csvdata_t *csv);
size_t sl_csvdata_nrows(const sl_csvdata_t *csv); /* data rows, the header not counted */

/* Column name col (0-based); the pointer lives as long as the table. */
const char *sl_csvdata_header(const sl_csvdata_t *csv, size_t col, size_t *len);

/* Field col of data row row (both 0-based), NUL-terminated (a field may also hold NUL
 * bytes; *len is exact). The pointer lives as long as the table. */
const char *sl_csvdata_field(const sl_csvdata_t *csv, size_t row, size_t col, size_t *len);

/* The next data row in round-robin order, wrapping at the end. Lock-free (one relaxed
 * atomic add), safe from any thread. */
size_t sl_csvdata_next(sl_csvdata_t *csv);

/* Finds path in the process-wide cache, or reads and parses it once and adds it. A
 * relative path is looked up relative to base_dir (borrowed; NULL or "" = the working
 * directory) first, then relative to the working directory; the cache key is the
 * resolved (real) path. On success *out is owned by the cache and lives until
 * sl_csvdata_cache_clear. Errors as sl_csvdata_parse (with NAME = path as given), and
 *   cannot open 'PATH': <strerror>
 *   cannot read 'PATH': <strerror>          (e.g. Is a directory)
 *   cannot read 'PATH': not a regular file
 *   cannot read 'PATH': larger than 256 MiB
 * Thread-safe (one mutex around the cache; a file is parsed under it). */
int sl_csvdata_open(const char *path, const char *base_dir, sl_csvdata_t **out, sl_err_t *err);

/* Frees every cached table. Only when no Lua state that called csv() is alive (tests). */
void sl_csvdata_cache_clear(void);

/* Installs the global csv(path) in L, resolving relative paths against base_dir
 * (borrowed, copied into L; NULL = the working directory). csv() returns an iterator
 * object: it(), it:next() return the next row as a fresh table {column name = field
 * string}; #it is the number of data rows. Errors are raised at level 1 as
 * "csv: <message from sl_csvdata_open>". Raises on Lua memory errors; run it protected. */
void sl__csvdata_install(lua_State *L, const char *base_dir);

#endif
