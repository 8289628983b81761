/* Reading a whole file (src/base/file.c): the exact bytes (NUL-terminated, embedded NULs
 * kept), an empty file, the size limit at its edge, and the messages for a missing file,
 * a directory and a file over the limit. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"

static char *temp_with(const void *bytes, size_t n)
{
    char *path = strdup("/tmp/sl_test_file_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, bytes, n), (ssize_t)n);
    close(fd);
    return path;
}

Test(file, reads_exact_bytes)
{
    /* Larger than one read step, with NULs and every byte value. */
    size_t n = 20000;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + i / 256);
    char *path = temp_with(data, n);
    char *buf = NULL;
    size_t len = 0;
    sl_err_t err = {0};
    cr_assert_eq(sl_file_read(path, 1u << 20, &buf, &len, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(len, n);
    cr_expect_eq(memcmp(buf, data, n), 0);
    cr_expect_eq(buf[len], '\0', "NUL-terminated");
    free(buf);

    /* At the limit exactly it is read; one byte under it is "larger than". */
    cr_assert_eq(sl_file_read(path, n, &buf, &len, &err), SL_OK, "%s", err.msg);
    cr_expect_eq(len, n);
    free(buf);
    cr_expect_eq(sl_file_read(path, n - 1, &buf, &len, &err), SL_EINVAL);
    cr_expect_null(buf);
    cr_expect_eq(len, 0);
    char want[256];
    snprintf(want, sizeof(want), "cannot read '%s': larger than %zu bytes", path, n - 1);
    cr_expect_str_eq(err.msg, want);
    unlink(path);
    free(path);
    free(data);
}

Test(file, empty_and_limits_in_mib)
{
    char *path = temp_with("", 0);
    char *buf = NULL;
    size_t len = 99;
    sl_err_t err = {0};
    cr_assert_eq(sl_file_read(path, 10, &buf, &len, &err), SL_OK, "%s", err.msg);
    cr_assert_not_null(buf, "an empty file still gives a (NUL-terminated) buffer");
    cr_expect_eq(len, 0);
    cr_expect_eq(buf[0], '\0');
    free(buf);
    unlink(path);
    free(path);

    /* 1 MiB + 1 byte against a 1 MiB limit: the message says it in MiB. */
    size_t n = (1u << 20) + 1;
    char *big = calloc(1, n);
    path = temp_with(big, n);
    cr_expect_eq(sl_file_read(path, 1u << 20, &buf, &len, &err), SL_EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "cannot read '%s': larger than 1 MiB", path);
    cr_expect_str_eq(err.msg, want);

    /* The stream form reads from where the file is. */
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 1000, SEEK_SET), 0);
    cr_assert_eq(sl_file_read_stream(f, path, 1u << 20, &buf, &len, &err), SL_OK, "%s", err.msg);
    cr_expect_eq(len, n - 1000);
    fclose(f);
    free(buf);
    unlink(path);
    free(path);
    free(big);
}

Test(file, errors_name_the_path)
{
    char *buf = NULL;
    size_t len = 0;
    sl_err_t err = {0};
    cr_expect_eq(sl_file_read("/nonexistent/sl_file", 10, &buf, &len, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "cannot open '/nonexistent/sl_file': No such file or directory");
    cr_expect_null(buf);
    cr_expect_eq(sl_file_read("/", 10, &buf, &len, &err), SL_EINVAL);
    cr_expect_str_eq(err.msg, "cannot read '/': Is a directory");
    cr_expect_null(buf);
}
