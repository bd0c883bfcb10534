#include "certs/certs_write.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/runtime.h"
#include "core/str.h"

enum { PATH_LEN = 4096 };

static int dir_of(const char *path, char *dir, size_t n)
{
    char tmp[PATH_LEN];
    if (str_copy(tmp, sizeof tmp, path))
        return -ENAMETOOLONG;
    return str_copy(dir, n, dirname(tmp)) ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Write one file under a temporary name next to its target; *tmp gets the name. */
static int write_tmp(const certs_file_t *f, char *tmp, size_t tmplen)
{
    char dir[PATH_LEN];
    int rc = dir_of(f->path, dir, sizeof dir);
    if (rc)
        return rc;
    const char *base = strrchr(f->path, '/');
    base = base ? base + 1 : f->path;
    if (snprintf(tmp, tmplen, "%s/.%s.XXXXXX", dir, base) >= (int)tmplen)
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC); /* created 0600: no window with a readable key */
    if (fd < 0)
        return -errno;
    rc = write_all(fd, f->data, f->len);
    if (!rc && fchmod(fd, f->mode))
        rc = -errno;
    if (!rc && fsync(fd))
        rc = -errno;
    if (close(fd) && !rc)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

static void sync_dir(const char *path)
{
    char dir[PATH_LEN];
    if (dir_of(path, dir, sizeof dir))
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int certs_write_files(const certs_file_t *files, size_t n, bool force, char *err, size_t errlen)
{
    struct stat st;
    for (size_t i = 0; i < n; i++) {
        if (!force && lstat(files[i].path, &st) == 0) {
            snprintf(err, errlen, "%s exists (use --force to replace it)", files[i].path);
            return -EEXIST;
        }
    }
    char dir[PATH_LEN];
    int rc = n ? dir_of(files[0].path, dir, sizeof dir) : 0;
    if (rc) {
        snprintf(err, errlen, "%s: path too long", files[0].path);
        return rc;
    }
    if (n && stat(dir, &st) != 0) {
        rc = runtime_mkdirs(dir);
        if (rc) {
            snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(-rc));
            return rc;
        }
    }
    /* Phase 1: every file under a temporary name, so a full disk or a
     * permission problem is found before anything visible changes. */
    char(*tmp)[PATH_LEN] = calloc(n ? n : 1, sizeof *tmp);
    if (!tmp)
        return -ENOMEM;
    size_t written = 0;
    for (; !rc && written < n; written++) {
        rc = write_tmp(&files[written], tmp[written], PATH_LEN);
        if (rc) {
            snprintf(err, errlen, "cannot write %s: %s", files[written].path, strerror(-rc));
            break;
        }
    }
    /* Phase 2: move them into place. */
    size_t placed = 0;
    for (; !rc && placed < n; placed++) {
        const certs_file_t *f = &files[placed];
        if (force ? rename(tmp[placed], f->path) : link(tmp[placed], f->path))
            rc = -errno;
        if (rc == -EEXIST)
            snprintf(err, errlen, "%s exists (use --force to replace it)", f->path);
        else if (rc)
            snprintf(err, errlen, "cannot create %s: %s", f->path, strerror(-rc));
        if (rc)
            break;
    }
    for (size_t i = 0; i < written; i++)
        unlink(tmp[i]); /* after rename() this is a harmless ENOENT */
    free(tmp);
    if (rc) {
        /* All or nothing: undo what this call placed. */
        for (size_t i = 0; i < placed; i++)
            unlink(files[i].path);
        return rc;
    }
    if (n)
        sync_dir(files[0].path);
    return 0;
}
