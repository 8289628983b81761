/* Reading a whole file into memory, with the messages a user reads when it fails. */
#ifndef SL_BASE_FILE_H
#define SL_BASE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "sl.h"

/* Reads f from where it is to its end into a new malloc'd buffer (*buf, NUL-terminated,
 * the NUL not counted in *len; the caller frees it), reading no more than max + 1 bytes.
 * f stays open. Errors name path: "cannot read 'path': larger than 64 MiB" (max in MiB,
 * or in bytes when it is not a whole number of MiB) and SL_EINVAL; "cannot read 'path':
 * out of memory" and SL_ENOMEM; "cannot read 'path': <strerror>" and SL_EINVAL. On error
 * *buf is NULL and *len 0. */
int sl_file_read_stream(FILE *f, const char *path, size_t max, char **buf, size_t *len,
                        sl_err_t *err);

/* Opens path and reads it as sl_file_read_stream does; an unopenable file is "cannot
 * open 'path': <strerror>" and SL_EINVAL. */
int sl_file_read(const char *path, size_t max, char **buf, size_t *len, sl_err_t *err);

#endif
