/*
 * acs_files_cache: least-recently-used removal of a shared store's cached
 * copies past --file-cache-size, and the bytes they take (see
 * acs_files_cache.h for the scheme: the directory as index, access times
 * as last use, flock as "in use", a running total of the bytes).
 */
#include "acs/acs_files_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"

enum {
    COPY_NAME = 64,           /* a copy's name: its SHA-256 in lowercase hex */
    HELD_MAX = 256,           /* removed copies still read, kept to be counted (the header) */
};

typedef struct held {
    int fd;                   /* ours, unlocked: the copy's bytes until it is closed */
    int64_t size;
} held_t;

struct acs_files_cache {
    char dir[4096];
    uint64_t limit;           /* 0: no cap */
    pthread_mutex_t mu;       /* one pass, add or remove at a time; guards copies */
    int64_t copies;           /* the named copies' bytes: the last pass's, with adds and removes since */
    pthread_mutex_t held_mu;  /* guards held: taken under mu, or alone on the loop (never long) */
    held_t held[HELD_MAX];
    size_t nheld;
    _Atomic int64_t bytes;    /* copies + temporaries being written + held: the gauge */
    _Atomic uint64_t evictions;
    atomic_bool over, holding;
};

typedef struct copy {
    char name[COPY_NAME + 1];
    uint64_t size;
    struct timespec used;     /* its access time */
} copy_t;

acs_files_cache_t *acs_files_cache_new(const char *dir, uint64_t limit)
{
    acs_files_cache_t *c = calloc(1, sizeof *c);
    if (!c || str_copy(c->dir, sizeof c->dir, dir) != 0 || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    if (pthread_mutex_init(&c->held_mu, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    c->limit = limit;
    atomic_init(&c->bytes, 0);
    atomic_init(&c->evictions, 0);
    atomic_init(&c->over, false);
    atomic_init(&c->holding, false);
    return c;
}

void acs_files_cache_free(acs_files_cache_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nheld; i++)
        close(c->held[i].fd);
    pthread_mutex_destroy(&c->held_mu);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Only a copy's name is ever counted or removed. */
static bool copy_name(const char *s)
{
    return strlen(s) == COPY_NAME && str_hex_lower(s, COPY_NAME);
}

enum { COPY_PATH = sizeof ((acs_files_cache_t *)0)->dir + COPY_NAME + 2 };

/* DIR/SHA256: 0, or -EINVAL when sha256 is not a copy's name. */
static int copy_path(const acs_files_cache_t *c, const char *sha256, char path[COPY_PATH])
{
    return copy_name(sha256) && (size_t)snprintf(path, COPY_PATH, "%s/%s", c->dir, sha256) < COPY_PATH
               ? 0
               : -EINVAL;
}

int acs_files_cache_open(acs_files_cache_t *c, const char *sha256, int *fd)
{
    char path[COPY_PATH];
    if (copy_path(c, sha256, path) != 0)
        return -EINVAL;
    /* O_NONBLOCK: a FIFO named like a copy would block the worker until a
     * writer came. O_NOFOLLOW refuses a symbolic link (ELOOP); a socket
     * cannot be opened (ENXIO). */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    bool not_a_file = f < 0 ? errno == ELOOP || errno == ENXIO
                            : fstat(f, &sb) == 0 && !S_ISREG(sb.st_mode);
    if (not_a_file) { /* absent: the fetch's add removes it (drop) */
        if (f >= 0)
            close(f);
        log_warn("file_cache_not_a_file", LF_S("dir", c->dir), LF_S("sha256", sha256),
                 LF_S("reason", "named like a copy but not a regular file: fetched again"));
        return -ENOENT;
    }
    if (f < 0)
        return -errno;
    /* held by a pass that is removing it (or removed it between open and lock): absent */
    if (flock(f, LOCK_SH | LOCK_NB) != 0 || fstat(f, &sb) != 0 || sb.st_nlink == 0) {
        close(f);
        return -ENOENT;
    }
    /* its last use: explicit, as relatime or noatime would not (a failure only blurs the order) */
    const struct timespec t[2] = { { .tv_nsec = UTIME_NOW }, { .tv_nsec = UTIME_OMIT } };
    (void)futimens(f, t);
    *fd = f;
    return 0;
}

void acs_files_cache_writing(acs_files_cache_t *c, int64_t n) { atomic_fetch_add(&c->bytes, n); }

/* Under the mutex: the copy at path unlinked and counted off, now or, while
 * a download holds it, once it is free (held). 1, 0 absent, -errno. */
static int drop(acs_files_cache_t *c, const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(sb.st_mode))
        return -EISDIR;
    /* a link, FIFO or socket named like a copy: removed (its copy can be fetched), never counted */
    if (!S_ISREG(sb.st_mode))
        return unlink(path) == 0 ? 1 : -errno;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    int rc = fstat(fd, &sb) != 0 ? -errno : !S_ISREG(sb.st_mode) ? -EISDIR : 0;
    if (rc == 0 && unlink(path) != 0)
        rc = -errno;
    if (rc) {
        close(fd);
        return rc;
    }
    c->copies -= sb.st_size;
    /* no download holds it: its bytes are freed as ours closes */
    pthread_mutex_lock(&c->held_mu);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 || c->nheld == HELD_MAX) {
        close(fd);
        atomic_fetch_sub(&c->bytes, sb.st_size);
    } else {
        c->held[c->nheld++] = (held_t){ .fd = fd, .size = sb.st_size };
        atomic_store(&c->holding, true);
    }
    pthread_mutex_unlock(&c->held_mu);
    return 1;
}

int acs_files_cache_add(acs_files_cache_t *c, const char *tmp, const char *sha256, int64_t written)
{
    char path[COPY_PATH];
    if (copy_path(c, sha256, path) != 0)
        return -EINVAL;
    struct stat sb;
    pthread_mutex_lock(&c->mu);
    int rc = stat(tmp, &sb) != 0 ? -errno : 0;
    if (rc == 0 && (rc = drop(c, path)) >= 0)
        rc = rename(tmp, path) != 0 ? -errno : 0;
    if (rc == 0) {
        c->copies += sb.st_size;
        atomic_fetch_add(&c->bytes, sb.st_size - written);
    }
    pthread_mutex_unlock(&c->mu);
    return rc < 0 ? rc : 0;
}

int acs_files_cache_remove(acs_files_cache_t *c, const char *sha256)
{
    char path[COPY_PATH];
    if (copy_path(c, sha256, path) != 0)
        return -EINVAL;
    pthread_mutex_lock(&c->mu);
    int rc = drop(c, path);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void acs_files_cache_release(acs_files_cache_t *c)
{
    pthread_mutex_lock(&c->held_mu);
    size_t keep = 0;
    for (size_t i = 0; i < c->nheld; i++) {
        if (flock(c->held[i].fd, LOCK_EX | LOCK_NB) == 0) {
            close(c->held[i].fd);
            atomic_fetch_sub(&c->bytes, c->held[i].size);
        } else {
            c->held[keep++] = c->held[i];
        }
    }
    c->nheld = keep;
    atomic_store(&c->holding, keep > 0);
    pthread_mutex_unlock(&c->held_mu);
}

static int by_use(const void *x, const void *y)
{
    const copy_t *a = x, *b = y;
    if (a->used.tv_sec != b->used.tv_sec)
        return a->used.tv_sec < b->used.tv_sec ? -1 : 1;
    if (a->used.tv_nsec != b->used.tv_nsec)
        return a->used.tv_nsec < b->used.tv_nsec ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* The directory's copies into *out (malloc'd), their bytes into *total. */
static int list_copies(DIR *d, copy_t **out, size_t *n, uint64_t *total)
{
    size_t cap = 0;
    struct dirent *e;
    *out = NULL;
    *n = 0;
    *total = 0;
    while ((e = readdir(d))) {
        struct stat sb;
        if (!copy_name(e->d_name) || fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(sb.st_mode))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            copy_t *p = realloc(*out, ncap * sizeof *p);
            if (!p)
                return -ENOMEM;
            *out = p;
            cap = ncap;
        }
        copy_t *k = &(*out)[(*n)++];
        memcpy(k->name, e->d_name, COPY_NAME + 1);
        k->size = (uint64_t)sb.st_size;
        k->used = sb.st_atim;
        *total += k->size;
    }
    return 0;
}

/* 1: removed; 0: in use, or no longer the file that was listed (left). */
static int remove_copy(int dfd, const copy_t *k)
{
    int fd = openat(dfd, k->name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat held, named;
    int rc = 0;
    /* the exclusive lock, held until the name is gone: a reader that opened it
     * meanwhile finds it unlinked once it has its shared lock */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0 && S_ISREG(held.st_mode) &&
        fstatat(dfd, k->name, &named, AT_SYMLINK_NOFOLLOW) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev && unlinkat(dfd, k->name, 0) == 0)
        rc = 1;
    close(fd);
    return rc;
}

int acs_files_cache_trim(acs_files_cache_t *c, const char *keep)
{
    pthread_mutex_lock(&c->mu);
    acs_files_cache_release(c);
    DIR *d = opendir(c->dir);
    if (!d) {
        int rc = -errno;
        pthread_mutex_unlock(&c->mu);
        log_warn("file_cache_unreadable", LF_S("dir", c->dir), LF_ERR(rc));
        return rc;
    }
    copy_t *v;
    size_t n;
    uint64_t total;
    int rc = list_copies(d, &v, &n, &total);
    int removed = 0;
    if (rc == 0) { /* the directory says: what changed since is counted as it changed */
        atomic_fetch_add(&c->bytes, (int64_t)total - c->copies);
        c->copies = (int64_t)total;
    }
    if (rc == 0 && c->limit && total > c->limit) {
        qsort(v, n, sizeof *v, by_use);
        time_t now = time(NULL);
        for (size_t i = 0; i < n && total > c->limit; i++) {
            if ((keep && strcmp(v[i].name, keep) == 0) || remove_copy(dirfd(d), &v[i]) != 1)
                continue;
            total -= v[i].size;
            removed++;
            c->copies = (int64_t)total;
            atomic_fetch_sub(&c->bytes, (int64_t)v[i].size);
            atomic_fetch_add(&c->evictions, 1);
            /* cache_bytes: the gauge, temporaries and removed copies still read included */
            log_info("file_cache_evicted", LF_S("sha256", v[i].name), LF_U("bytes", v[i].size),
                     LF_I("idle_s", now - v[i].used.tv_sec),
                     LF_U("cache_bytes", acs_files_cache_bytes(c)), LF_U("limit", c->limit));
        }
    }
    if (rc == 0)
        atomic_store(&c->over, c->limit && total > c->limit);
    closedir(d);
    free(v);
    pthread_mutex_unlock(&c->mu);
    return rc ? rc : removed;
}

uint64_t acs_files_cache_bytes(const acs_files_cache_t *c)
{
    int64_t n = atomic_load(&c->bytes);
    return n > 0 ? (uint64_t)n : 0; /* below 0 only if a copy was removed that no pass had counted */
}
uint64_t acs_files_cache_limit(const acs_files_cache_t *c) { return c->limit; }
uint64_t acs_files_cache_evictions(const acs_files_cache_t *c) { return atomic_load(&c->evictions); }
bool acs_files_cache_due(const acs_files_cache_t *c)
{
    return atomic_load(&c->over) || atomic_load(&c->holding);
}
