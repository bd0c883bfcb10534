/*
 * acs_files_shared: the file store when several nodes share one store
 * (store_shared(): PostgreSQL; docs/files.md "Several nodes"). The
 * database holds every file's bytes beside its row (store.h, "file
 * contents in a shared store"); this node's DATA_DIR/files/.cache/ holds
 * copies named by their SHA-256. A copy gets that name only once its
 * digest was checked, and nothing writes to a name afterwards, so a copy is
 * right for the version its name says and never changes under a reader.
 *
 *   storing   an API PUT or a CPE's upload streams into a temporary file as
 *             on one node (acs_files.c); one job then writes its bytes and
 *             its row in one transaction and the temporary becomes the
 *             version's copy (acs_files_shared_keep)
 *   serving   the row names the version; without its copy the node fetches
 *             it (acs_files_fetch: one fetch per version however many
 *             requests want it, the others wait for it), checks size and
 *             digest, names it, and serves it like any file; a failed fetch
 *             is answered 503 with Retry-After by the caller
 *   threads   transfers run on a database connection and a store worker of
 *             their own: a 64 MiB file never waits behind, nor holds up, the
 *             CWMP sessions' jobs; one piece (1 MiB) in memory at a time
 *   cleaning  the node that replaces or deletes a file removes the old
 *             version's copy in that job (acs_files_uncache); every
 *             SWEEP_MS, and at start, each node removes the copies no row
 *             names any more (another node's replacement or delete) and the
 *             temporaries a crash left; a copy removed under a download
 *             stays counted until the download ends
 *   the cap   --file-cache-size: past it the least recently used copies go,
 *             never one being served (acs_files_cache.c), in a pass after
 *             each copy added, each sweep, and the end of an answer when
 *             one is due (the cache over: a copy in use, or one larger than
 *             the cap; or a removed copy still read)
 *   before    rows without bytes in the database (stored by an older
 *             version, whose bytes are its DATA_DIR/files/NAME; or bytes lost
 *             from the database): the sweep at start uploads those this node
 *             has (that file, or its copy), their digest checked, and moves
 *             a file from before into the cache (a node still on an older
 *             version does the same once upgraded: only at start can there
 *             be new ones of its own)
 *
 * Ownership: acs_files_t's sh, made by acs_files_start, its worker and
 * connection ended by acs_files_stop, freed by acs_files_free. Counters are
 * the loop's (acs_files_t.n), but `removed`, counted on store threads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acs/acs_files.h"
#include "acs/acs_files_cache.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/runtime.h"
#include "core/str.h"

enum {
    SWEEP_MS = 60 * 1000,   /* copies no row names, stale temporaries */
    TMP_STALE_S = 600,      /* a temporary unwritten this long is a crash's */
    TRANSFER_QUEUE = 4096,  /* transfer jobs waiting (each a request or a sweep) */
};

typedef struct fetch_wait {
    acs_files_fetched_fn cb;
    void *ud;
    struct fetch_wait *next;
} fetch_wait_t;

/* One version being fetched, and whoever waits for it. */
typedef struct fetch {
    acs_t *a;
    store_file_t f;           /* name, sha256, size: the version */
    fetch_wait_t *waits;
    int64_t bytes;            /* read from the database (0: the copy was there by then) */
    int64_t t0_ms;
    const char *why;          /* a failure's reason (static) */
    struct fetch *next;
} fetch_t;

struct acs_files_shared {
    store_t *store;           /* the transfers' own connection */
    store_worker_t *worker;
    char cache[ACS_PATH_MAX]; /* DATA_DIR/files/.cache */
    acs_files_cache_t *copies; /* its cap */
    bool trimming, trim_again; /* a pass after an answer: queued; another wanted */
    fetch_t *fetches;
    uv_timer_t *timer;        /* the sweep; heap, freed by its close */
    bool sweeping;
    bool swept;               /* the first sweep (at start) is done */
    atomic_bool stopping;     /* read by transfers between pieces */
    _Atomic uint64_t removed; /* copies removed (store threads) */
};

int acs_files_cache_path(const acs_files_t *fs, const char *sha256, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/.cache/%s", fs->dir, sha256);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int acs_files_shared_open(const acs_files_t *fs, const char *sha256, int *fd)
{
    return acs_files_cache_open(fs->sh->copies, sha256, fd);
}

store_worker_t *acs_files_worker(const acs_t *a)
{
    return a->files && a->files->sh ? a->files->sh->worker : a->db;
}

/* ---- pieces from a file, pieces into one ------------------------------------------- */

typedef struct source {
    int fd;
    EVP_MD_CTX *md;           /* NULL: no digest wanted */
    const char *want;         /* with md: the digest the bytes must have */
    atomic_bool *stop;
} source_t;

/* store_piece_in_fn: a piece of the file; with a digest, its end is
 * refused (-EBADMSG) when the bytes are not the ones wanted. */
static int source_read(void *buf, size_t len, size_t *got, void *ud)
{
    source_t *src = ud;
    if (atomic_load(src->stop))
        return -ECANCELED;
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(src->fd, (char *)buf + n, len - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *got = n;
    if (src->md && EVP_DigestUpdate(src->md, buf, n) != 1)
        return -EIO;
    char hex[65];
    if (src->md && n < len && (acs_files_digest_hex(src->md, hex) != 0 || strcmp(hex, src->want) != 0))
        return -EBADMSG;
    return 0;
}

typedef struct sink {
    int fd;
    EVP_MD_CTX *md;
    int64_t n, max;
    atomic_bool *stop;
    acs_files_cache_t *cache; /* the bytes counted as they land */
} sink_t;

static int sink_write(const void *data, size_t len, void *ud)
{
    sink_t *k = ud;
    if (atomic_load(k->stop))
        return -ECANCELED;
    if (k->n + (int64_t)len > k->max)
        return -EFBIG; /* longer than its row says: not the version asked for */
    for (size_t off = 0; off < len;) {
        ssize_t w = write(k->fd, (const char *)data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == ENOSPC ? -ENOSPC : -EIO;
        off += (size_t)w;
    }
    k->n += (int64_t)len;
    acs_files_cache_writing(k->cache, (int64_t)len);
    return EVP_DigestUpdate(k->md, data, len) == 1 ? 0 : -EIO;
}

/* ---- storing ------------------------------------------------------------------------- */

int acs_files_shared_keep(acs_t *a, store_t *st, const store_file_t *f, const char *tmp,
                          char old_sha[65], int64_t *db_bytes)
{
    struct acs_files_shared *sh = a->files->sh;
    store_file_t old;
    int rc = store_file_get(st, f->name, &old);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    str_copy(old_sha, 65, rc == 0 ? old.sha256 : "");
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        log_error("files_open", LF_S("path", tmp), LF_ERR(rc));
        return rc;
    }
    source_t src = { .fd = fd, .stop = &sh->stopping };
    rc = store_file_content_put(st, f->name, f->sha256, f->size, source_read, &src);
    close(fd);
    if (rc < 0)
        return rc;
    *db_bytes = rc == 1 ? 0 : f->size; /* 1: that version's bytes were there already */
    if ((rc = acs_files_cache_add(sh->copies, tmp, f->sha256, 0)) != 0) {
        log_error("files_rename", LF_S("path", tmp), LF_S("sha256", f->sha256), LF_ERR(rc));
        return rc;
    }
    acs_files_cache_trim(sh->copies, f->sha256);
    return 0;
}

typedef struct sha_use {
    const char *sha;
    bool used;
} sha_use_t;

static int find_sha(const store_file_t *f, void *ud)
{
    sha_use_t *u = ud;
    u->used = strcmp(f->sha256, u->sha) == 0;
    return u->used;
}

void acs_files_uncache(acs_t *a, store_t *st, const char *sha256)
{
    struct acs_files_shared *sh = a->files->sh;
    sha_use_t u = { .sha = sha256 };
    /* another name with the same bytes keeps the copy */
    if (store_file_list(st, find_sha, &u) != 0 || u.used)
        return;
    int rc = acs_files_cache_remove(sh->copies, sha256); /* its bytes off the count: no pass */
    if (rc == 1)
        atomic_fetch_add(&sh->removed, 1);
    else if (rc < 0)
        log_warn("files_unlink", LF_S("dir", sh->cache), LF_S("sha256", sha256), LF_ERR(rc));
}

/* ---- fetching ------------------------------------------------------------------------ */

/* The version's bytes from the database into its copy. */
static int fetch_bytes(fetch_t *x, store_t *st)
{
    struct acs_files_shared *sh = x->a->files->sh;
    char tmp[ACS_PATH_MAX];
    errno = 0;
    int fd = (size_t)snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", sh->cache) < sizeof tmp
                 ? mkostemp(tmp, O_CLOEXEC)
                 : -1;
    if (fd < 0) {
        x->why = "cannot create a temporary file in the cache";
        return errno ? -errno : -ENAMETOOLONG;
    }
    sink_t k = { .fd = fd, .md = EVP_MD_CTX_new(), .max = x->f.size, .stop = &sh->stopping,
                 .cache = sh->copies };
    int rc = k.md && EVP_DigestInit_ex(k.md, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
    if (rc == 0)
        rc = store_file_content_get(st, x->f.name, x->f.sha256, sink_write, &k);
    x->bytes = k.n;
    char hex[65];
    if (rc == -ENOENT) /* not "no such file" (the row is there): no bytes */
        x->why = "the database holds no bytes for this version (stored before files were shared:"
                 " the node that has them uploads them at its next sweep)", rc = -ENODATA;
    else if (rc == -EFBIG || (rc == 0 && k.n != x->f.size))
        x->why = "the bytes in the database are not as long as the file", rc = -EIO;
    else if (rc == 0 && (acs_files_digest_hex(k.md, hex) != 0 || strcmp(hex, x->f.sha256) != 0))
        x->why = "the bytes in the database do not have the file's SHA-256", rc = -EIO;
    else if (rc == 0 && fdatasync(fd) != 0)
        x->why = "cannot write the copy", rc = -errno;
    else if (rc == -ENOSPC || rc == -EIO)
        x->why = rc == -ENOSPC ? "no space left for the copy" : "reading or writing the bytes failed";
    close(fd);
    if (rc == 0 && (rc = acs_files_cache_add(sh->copies, tmp, x->f.sha256, k.n)) != 0)
        x->why = "cannot name the copy";
    if (rc) {
        unlink(tmp);
        acs_files_cache_writing(sh->copies, -k.n);
    }
    EVP_MD_CTX_free(k.md);
    return rc;
}

/* On the transfer thread: the row still names this version (else -ESTALE,
 * or -ENOENT: gone), and the copy is made unless another job made it. */
static int fetch_run(store_t *st, void *ud)
{
    fetch_t *x = ud;
    store_file_t now;
    int rc = store_file_get(st, x->f.name, &now);
    if (rc)
        return rc;
    if (strcmp(now.sha256, x->f.sha256) != 0)
        return -ESTALE;
    x->f = now;
    char path[ACS_PATH_MAX];
    if ((rc = acs_files_cache_path(x->a->files, now.sha256, path, sizeof path)) != 0)
        return rc;
    struct stat sb;
    bool there = lstat(path, &sb) == 0;
    if (there && S_ISREG(sb.st_mode) && sb.st_size == now.size)
        return 0;
    /* cut short (a disk that lost what it had not written), or not a file (a FIFO): again */
    if (there)
        acs_files_cache_remove(x->a->files->sh->copies, now.sha256);
    if ((rc = fetch_bytes(x, st)) == 0)
        acs_files_cache_trim(x->a->files->sh->copies, now.sha256); /* its waiters open it next */
    return rc;
}

static void fetch_done(int rc, void *ud)
{
    fetch_t *x = ud;
    acs_files_t *fs = x->a->files;
    struct acs_files_shared *sh = fs->sh;
    for (fetch_t **p = &sh->fetches; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            break;
        }
    if (rc == 0 && x->bytes) {
        fs->n.fetched++;
        fs->n.fetch_bytes += (uint64_t)x->bytes;
        log_info("file_fetched", LF_S("name", x->f.name), LF_S("sha256", x->f.sha256),
                 LF_I("bytes", x->bytes), LF_I("ms", clock_mono_ms() - x->t0_ms));
    } else if (rc < 0 && rc != -ESTALE && rc != -ENOENT && rc != -ECANCELED) {
        fs->n.fetch_failed++;
        log_warn("file_fetch_failed", LF_S("name", x->f.name), LF_S("sha256", x->f.sha256),
                 LF_S("reason", x->why ? x->why : "the store could not be read"), LF_ERR(rc));
    }
    while (x->waits) {
        fetch_wait_t *w = x->waits;
        x->waits = w->next;
        w->cb(rc, w->ud);
        free(w);
    }
    free(x);
}

void acs_files_fetch(acs_t *a, const store_file_t *f, acs_files_fetched_fn cb, void *ud)
{
    struct acs_files_shared *sh = a->files->sh;
    if (!sh || !sh->worker || atomic_load(&sh->stopping)) {
        cb(-ECANCELED, ud);
        return;
    }
    fetch_wait_t *w = calloc(1, sizeof *w);
    if (!w) {
        cb(-ENOMEM, ud);
        return;
    }
    w->cb = cb;
    w->ud = ud;
    for (fetch_t *x = sh->fetches; x; x = x->next)
        if (strcmp(x->f.sha256, f->sha256) == 0) { /* the same bytes on their way */
            w->next = x->waits;
            x->waits = w;
            a->files->n.fetch_waits++;
            return;
        }
    fetch_t *x = calloc(1, sizeof *x);
    if (!x) {
        free(w);
        cb(-ENOMEM, ud);
        return;
    }
    x->a = a;
    x->f = *f;
    x->waits = w;
    x->t0_ms = clock_mono_ms();
    int rc = store_worker_submit(sh->worker, fetch_run, fetch_done, x);
    if (rc) {
        x->why = "the transfer queue is full";
        fetch_done(rc, x); /* not listed yet: its waiter is answered */
        return;
    }
    x->next = sh->fetches;
    sh->fetches = x;
}

/* ---- the sweep ----------------------------------------------------------------------- */

typedef struct row {
    char name[STORE_FILE_NAME];
    char sha[65];
    int64_t size;
    const char *shared_from;  /* its bytes stored by this sweep from (logged once committed) */
} row_t;

typedef struct sweep {
    acs_t *a;
    bool first;               /* at start: rows without bytes are looked for too */
    row_t *rows;
    size_t n, cap;
    int64_t missing, adopted, removed;
    char first_missing[STORE_FILE_NAME];
} sweep_t;

static int collect_row(const store_file_t *f, void *ud)
{
    sweep_t *s = ud;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        row_t *r = realloc(s->rows, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        s->rows = r;
        s->cap = cap;
    }
    row_t *r = &s->rows[s->n++];
    str_copy(r->name, sizeof r->name, f->name);
    str_copy(r->sha, sizeof r->sha, f->sha256);
    r->size = f->size;
    r->shared_from = NULL;
    return 0;
}

static int by_sha(const void *x, const void *y)
{
    return strcmp(((const row_t *)x)->sha, ((const row_t *)y)->sha);
}

/* A row without bytes in the database whose bytes this node has: from
 * before (DATA_DIR/files/NAME, as an older version kept them) or its copy
 * (bytes lost from the database): stored, the digest checked on the way; a
 * file from before becomes the copy. 1 done, 0 not here, -errno. */
static int adopt(acs_t *a, store_t *st, row_t *r)
{
    char old[ACS_PATH_MAX], copy[ACS_PATH_MAX];
    struct stat sb;
    if (acs_file_path(a->files, r->name, old, sizeof old) != 0 ||
        acs_files_cache_path(a->files, r->sha, copy, sizeof copy) != 0)
        return 0;
    /* regular files only: a FIFO would block this thread, a link lead elsewhere */
    bool from_old = lstat(old, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == r->size;
    if (!from_old && (lstat(copy, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size != r->size))
        return 0;
    const char *path = from_old ? old : copy;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    source_t src = { .fd = fd, .md = EVP_MD_CTX_new(), .want = r->sha, .stop = &a->files->sh->stopping };
    int rc = src.md && EVP_DigestInit_ex(src.md, EVP_sha256(), NULL) == 1
                 ? store_file_content_put(st, r->name, r->sha, r->size, source_read, &src)
                 : -ENOMEM;
    close(fd);
    EVP_MD_CTX_free(src.md);
    if (rc == -EBADMSG) {
        log_warn("file_not_shared", LF_S("name", r->name), LF_S("path", path),
                 LF_S("reason", "the file on disk does not have the row's SHA-256"));
        return 0;
    }
    if (rc < 0)
        return rc;
    /* kept where it was when it cannot move: the next start finds it there */
    if (from_old && (rc = acs_files_cache_add(a->files->sh->copies, old, r->sha, 0)) != 0)
        log_warn("files_rename", LF_S("path", old), LF_ERR(rc));
    r->shared_from = from_old ? "the data directory" : "this node's copy";
    return 1;
}

/* On the transfer thread: at start, rows without bytes adopted from disk;
 * copies no row names and stale temporaries removed. */
static int sweep_run(store_t *st, void *ud)
{
    sweep_t *s = ud;
    acs_t *a = s->a;
    struct acs_files_shared *sh = a->files->sh;
    int rc = store_file_list(st, collect_row, s);
    if (rc)
        return rc;
    for (size_t i = 0; s->first && i < s->n && !atomic_load(&sh->stopping); i++) {
        if ((rc = store_file_content_has(st, s->rows[i].name, s->rows[i].sha, s->rows[i].size)) != 0) {
            if (rc < 0)
                return rc;
            continue;
        }
        if ((rc = adopt(a, st, &s->rows[i])) < 0)
            return rc;
        if (rc == 1) {
            s->adopted++;
        } else if (s->missing++ == 0) {
            str_copy(s->first_missing, sizeof s->first_missing, s->rows[i].name);
        }
    }
    if (s->n)
        qsort(s->rows, s->n, sizeof *s->rows, by_sha);
    DIR *d = opendir(sh->cache);
    if (!d)
        return 0;
    struct dirent *e;
    char path[ACS_PATH_MAX];
    time_t now = time(NULL);
    while ((e = readdir(d))) {
        row_t key;
        struct stat sb;
        bool tmp = strncmp(e->d_name, ".tmp-", 5) == 0;
        if (e->d_name[0] == '.' && !tmp)
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", sh->cache, e->d_name) >= sizeof path)
            continue;
        if (tmp) { /* fetches run on this thread: none is writing now (unless a shared directory's) */
            if (lstat(path, &sb) == 0 && now - sb.st_mtime > TMP_STALE_S && unlink(path) == 0)
                log_info("files_stale_removed", LF_S("path", path));
            continue;
        }
        str_copy(key.sha, sizeof key.sha, e->d_name);
        if (s->n && bsearch(&key, s->rows, s->n, sizeof *s->rows, by_sha))
            continue;
        rc = acs_files_cache_remove(sh->copies, e->d_name); /* counted off, in use or not */
        if (rc == 1 || (rc == -EINVAL && unlink(path) == 0)) /* -EINVAL: not a copy's name */
            s->removed++;
    }
    closedir(d);
    atomic_fetch_add(&sh->removed, (uint64_t)s->removed);
    acs_files_cache_trim(sh->copies, NULL); /* at start too: a smaller cap than before */
    return 0;
}

static void sweep_done(int rc, void *ud)
{
    sweep_t *s = ud;
    acs_files_t *fs = s->a->files;
    if (fs->sh) {
        fs->sh->sweeping = false;
        fs->sh->swept |= rc == 0;
        for (size_t i = 0; rc == 0 && i < s->n; i++)
            if (s->rows[i].shared_from)
                log_info("file_shared", LF_S("name", s->rows[i].name), LF_I("size", s->rows[i].size),
                         LF_S("from", s->rows[i].shared_from),
                         LF_S("reason", "the database had no bytes for it: uploaded from this node"));
        if (rc == 0 && s->removed)
            log_info("files_cache_swept", LF_I("removed", s->removed), LF_I("files", (int64_t)s->n));
        if (rc == 0 && s->first && s->missing)
            log_warn("files_without_bytes", LF_I("count", s->missing), LF_S("first", s->first_missing),
                     LF_S("reason", "stored before the database kept file bytes, and not on this node:"
                                    " served once the node that has them shares them (or PUT them again)"));
        if (rc && rc != -ECANCELED)
            log_warn("files_sweep_failed", LF_ERR(rc));
    }
    free(s->rows);
    free(s);
}

static void on_sweep(uv_timer_t *t)
{
    acs_t *a = t->data;
    struct acs_files_shared *sh = a->files->sh;
    if (sh->sweeping || !sh->worker)
        return;
    sweep_t *s = calloc(1, sizeof *s);
    if (!s)
        return;
    s->a = a;
    s->first = !sh->swept;
    sh->sweeping = true;
    if (store_worker_submit(sh->worker, sweep_run, sweep_done, s) != 0) {
        sh->sweeping = false;
        free(s);
    }
}

/* ---- the cap, after an answer ---------------------------------------------------------- */

static int trim_run(store_t *st, void *ud)
{
    (void)st;
    acs_t *a = ud;
    int rc = acs_files_cache_trim(a->files->sh->copies, NULL);
    return rc < 0 ? rc : 0;
}

static void trim_done(int rc, void *ud)
{
    (void)rc; /* logged by the pass */
    acs_t *a = ud;
    struct acs_files_shared *sh = a->files->sh;
    sh->trimming = false;
    if (sh->trim_again) { /* an answer ended while the pass ran: its copy may go now */
        sh->trim_again = false;
        acs_files_served(a);
    }
}

void acs_files_served(void *ud)
{
    acs_t *a = ud;
    struct acs_files_shared *sh = a->files ? a->files->sh : NULL;
    if (!sh)
        return;
    /* a removed copy this download read: off the count now, not behind the transfers */
    acs_files_cache_release(sh->copies);
    if (!sh->worker || atomic_load(&sh->stopping) || !acs_files_cache_due(sh->copies))
        return;
    if (sh->trimming)
        sh->trim_again = true;
    else
        sh->trimming = store_worker_submit(sh->worker, trim_run, trim_done, a) == 0;
}

/* ---- start, stop, metrics --------------------------------------------------------------- */

int acs_files_start(acs_t *a)
{
    acs_files_t *fs = a->files;
    if (!store_shared(a->store))
        return 0;
    struct acs_files_shared *sh = calloc(1, sizeof *sh);
    if (!sh)
        return -ENOMEM;
    fs->sh = sh;
    atomic_init(&sh->stopping, false);
    atomic_init(&sh->removed, 0);
    if ((size_t)snprintf(sh->cache, sizeof sh->cache, "%s/.cache", fs->dir) >= sizeof sh->cache)
        return -ENAMETOOLONG;
    int rc = runtime_mkdirs(sh->cache);
    if (rc)
        return rc;
    if (!(sh->copies = acs_files_cache_new(sh->cache, a->o.file_cache_size)))
        return -ENOMEM;
    /* its own connection: a tool's (the daemon's settings are the main one's to write) */
    store_opts_t so = { .tool = true, .app_name = "outpost-files" };
    if ((rc = store_open(a->o.db, &so, &sh->store)) != 0)
        return rc;
    /* every node signs upload URLs with the stored key, so any node takes any
     * upload; the key this node had before still opens the URLs it gave */
    unsigned char key[32];
    if ((rc = store_file_upload_key(sh->store, fs->key, key)) != 0)
        return rc;
    if (memcmp(key, fs->key, sizeof key) != 0) {
        memcpy(fs->old_key, fs->key, sizeof key);
        memcpy(fs->key, key, sizeof key);
        fs->has_old_key = true;
    }
    if ((rc = store_worker_new(a->loop, sh->store, TRANSFER_QUEUE, &sh->worker)) != 0)
        return rc;
    if (!(sh->timer = malloc(sizeof *sh->timer)))
        return -ENOMEM;
    uv_timer_init(a->loop, sh->timer);
    sh->timer->data = a;
    uv_timer_start(sh->timer, on_sweep, 0, SWEEP_MS); /* the first now: what a crash left */
    log_info("files_shared", LF_S("cache", sh->cache), LF_U("cache_limit", a->o.file_cache_size),
             LF_I("sweep_s", SWEEP_MS / 1000));
    return 0;
}

void acs_files_shared_stop(acs_t *a)
{
    struct acs_files_shared *sh = a->files ? a->files->sh : NULL;
    if (!sh)
        return;
    atomic_store(&sh->stopping, true); /* transfers end at their next piece */
    if (sh->timer) {
        uv_timer_stop(sh->timer);
        uv_close((uv_handle_t *)sh->timer, (uv_close_cb)free);
        sh->timer = NULL;
    }
    store_worker_free(sh->worker); /* callbacks run: waiters and stores answered */
    sh->worker = NULL;
    store_close(sh->store);
    sh->store = NULL;
}

void acs_files_shared_free(acs_t *a)
{
    if (a->files && a->files->sh) {
        acs_files_shared_stop(a);
        acs_files_cache_free(a->files->sh->copies);
        free(a->files->sh);
        a->files->sh = NULL;
    }
}

int acs_files_metrics(acs_t *a, buf_t *o)
{
    acs_files_t *fs = a->files;
    if (!fs || !fs->sh)
        return 0;
    int rc = metrics_head(o, "outpost_acs_file_fetches_total", "counter",
                          "Files fetched from the shared database into this node's cache, by outcome.");
    if (!rc)
        rc = metrics_value(o, "outpost_acs_file_fetches_total", "outcome=\"ok\"", (double)fs->n.fetched);
    if (!rc)
        rc = metrics_value(o, "outpost_acs_file_fetches_total", "outcome=\"failed\"",
                           (double)fs->n.fetch_failed);
    const struct {
        const char *name, *type, *help;
        double v;
    } plain[] = {
        { "outpost_acs_file_fetch_bytes_total", "counter", "Bytes fetched from the database.",
          (double)fs->n.fetch_bytes },
        { "outpost_acs_file_fetch_waits_total", "counter",
          "Requests that waited for a fetch another request had started.", (double)fs->n.fetch_waits },
        { "outpost_acs_file_stores_total", "counter",
          "Files (API PUTs, CPE uploads) whose bytes this node wrote into the database.",
          (double)fs->n.stored },
        { "outpost_acs_file_store_bytes_total", "counter", "Bytes this node wrote into the database.",
          (double)fs->n.stored_bytes },
        { "outpost_acs_file_cache_removed_total", "counter",
          "Cached copies removed (their file replaced or deleted).",
          (double)atomic_load(&fs->sh->removed) },
        { "outpost_acs_file_transfer_queue", "gauge", "File transfer jobs waiting or running.",
          fs->sh->worker ? (double)store_worker_pending(fs->sh->worker) : 0 },
        { "outpost_acs_file_cache_bytes", "gauge",
          "Bytes this node's file cache takes on disk: its copies, fetches being written, and"
          " removed copies that downloads still read.",
          (double)acs_files_cache_bytes(fs->sh->copies) },
        { "outpost_acs_file_cache_limit_bytes", "gauge",
          "--file-cache-size: the cached copies' bytes at most, but copies in use (0: no cap).",
          (double)acs_files_cache_limit(fs->sh->copies) },
        { "outpost_acs_file_cache_evictions_total", "counter",
          "Cached copies removed as the least recently used, to stay under --file-cache-size.",
          (double)acs_files_cache_evictions(fs->sh->copies) },
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && !rc; i++)
        rc = metrics_one(o, plain[i].name, plain[i].type, plain[i].help, plain[i].v);
    return rc;
}
