/* Reading a whole file (see file.h), into the growable buffer. */
#include "base/file.h"

#include <errno.h>
#include <string.h>

#include "base/buf.h"

/* How much more is asked of each read: a file's bytes arrive in pieces this large. */
#define READ_STEP 4096

static void too_large(const char *path, size_t max, sl_err_t *err)
{
    if (max % (1u << 20) == 0)
        sl_err_set(err, "cannot read '%s': larger than %zu MiB", path, max >> 20);
    else
        sl_err_set(err, "cannot read '%s': larger than %zu bytes", path, max);
}

int sl_file_read_stream(FILE *f, const char *path, size_t max, char **buf, size_t *len,
                        sl_err_t *err)
{
    *buf = NULL;
    *len = 0;
    sl_buf_t b = {0};
    /* One byte past max is enough to see that a file is too large. */
    size_t ceiling = max < SL_BUF_MAX ? max + 1 : SL_BUF_MAX;
    int rc = SL_OK;
    for (;;) {
        if (b.len > max) {
            too_large(path, max, err);
            rc = SL_EINVAL;
            break;
        }
        size_t want = ceiling - b.len < READ_STEP ? ceiling - b.len : READ_STEP;
        if (want == 0)
            want = 1; /* max == SL_BUF_MAX: the NUL still needs its byte */
        if ((rc = sl_buf_reserve(&b, want)) != SL_OK) {
            if (rc == SL_ELIMIT) {
                too_large(path, max, err);
                rc = SL_EINVAL;
            } else {
                sl_err_set(err, "cannot read '%s': out of memory", path);
            }
            break;
        }
        size_t room = (b.cap < ceiling ? b.cap : ceiling) - b.len;
        size_t got = room ? fread(b.p + b.len, 1, room, f) : 0;
        b.len += got;
        if (got == 0) {
            if (ferror(f)) {
                sl_err_set(err, "cannot read '%s': %s", path, strerror(errno));
                rc = SL_EINVAL;
            } else if (b.len > max) {
                too_large(path, max, err);
                rc = SL_EINVAL;
            } else if ((rc = sl_buf_add(&b, "", 1)) != SL_OK) {
                sl_err_set(err, "cannot read '%s': out of memory", path);
            }
            break;
        }
    }
    if (rc != SL_OK) {
        sl_buf_free(&b);
        return rc;
    }
    *buf = b.p;
    *len = b.len - 1;
    return SL_OK;
}

int sl_file_read(const char *path, size_t max, char **buf, size_t *len, sl_err_t *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_err_set(err, "cannot open '%s': %s", path, strerror(errno));
        return SL_EINVAL;
    }
    int rc = sl_file_read_stream(f, path, max, buf, len, err);
    fclose(f);
    return rc;
}
