/*
 * certs_write: put a set of PEM files on disk all-or-nothing.
 *
 * Each file is written to a temporary name in the target directory, given
 * its final mode (0600 for anything holding a private key), flushed to disk,
 * then moved into place: with link() when overwriting is not allowed (so a
 * file that appears meanwhile is never clobbered) or rename() with --force.
 * If any step fails, files this call already placed are removed again, so a
 * failed run never leaves a certificate without its key. Missing parent
 * directories are created (mode 0700).
 *
 * The caller owns the contents; nothing is kept after the call.
 */
#ifndef OUTPOST_CERTS_WRITE_H
#define OUTPOST_CERTS_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct certs_file {
    const char *path;
    const char *data;
    size_t len;
    mode_t mode;
} certs_file_t;

/* 0, -EEXIST (a target exists and !force; err names it), or -errno. */
int certs_write_files(const certs_file_t *files, size_t n, bool force, char *err, size_t errlen);

#endif
