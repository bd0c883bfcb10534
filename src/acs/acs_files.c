/*
 * acs_files: the file store's bytes on disk, the body streams that fill
 * it, and serving its files (see acs_files.h). The CWMP listener's paths
 * (/files/, /uploads/) and task resolution are in acs_files_cwmp.c; on a
 * store several nodes share, the bytes in the database and this node's
 * cache of them are acs_files_shared.c's.
 */
#include "acs/acs_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acs/acs_api_err.h"
#include "acs/acs_tasks.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/http_file.h"

/* ---- the directory ----------------------------------------------------------------- */

int acs_file_path(const acs_files_t *fs, const char *name, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s", fs->dir, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Temporary files a crash left behind (".tmp-*"): never a stored file. */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[ACS_PATH_MAX];
    while ((e = readdir(d)))
        if (strncmp(e->d_name, ".tmp-", 5) == 0 &&
            (size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p && unlink(p) == 0)
            log_info("files_stale_removed", LF_S("path", p));
    closedir(d);
}

/* The key of the upload URLs' HMACs: made once, kept so that URLs given
 * before a restart still work after it. */
static int load_key(acs_files_t *fs)
{
    char p[ACS_PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/.upload-key", fs->dir) >= sizeof p)
        return -ENAMETOOLONG;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, fs->key, sizeof fs->key);
        close(fd);
        if (n == (ssize_t)sizeof fs->key)
            return 0;
        log_error("files_key", LF_S("path", p), LF_S("reason", "short upload key file"));
        return -EIO;
    }
    if (RAND_bytes(fs->key, sizeof fs->key) != 1)
        return -EIO;
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, fs->key, sizeof fs->key) != (ssize_t)sizeof fs->key) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        log_error("files_key", LF_S("path", p), LF_ERR(-e));
        return -e;
    }
    close(fd);
    return 0;
}

int acs_files_init(acs_t *a)
{
    acs_files_t *fs = calloc(1, sizeof *fs);
    if (!fs)
        return -ENOMEM;
    a->files = fs;
    if ((size_t)snprintf(fs->dir, sizeof fs->dir, "%s/files", a->o.common.data_dir) >= sizeof fs->dir)
        return -ENAMETOOLONG;
    int rc = runtime_mkdirs(fs->dir);
    if (rc)
        return rc;
    remove_stale(fs->dir);
    if ((rc = load_key(fs)) != 0)
        return rc;
    http_auth_opts_t ao = { .realm = "outpost files", .digest = true };
    fs->auth = http_auth_new(&ao);
    return fs->auth ? 0 : -ENOMEM;
}

void acs_files_set_base(acs_t *a)
{
    acs_files_t *fs = a->files;
    if (a->o.cwmp_url && *a->o.cwmp_url) {
        str_copy(fs->base, sizeof fs->base, a->o.cwmp_url);
    } else {
        const char *addr = http_server_addr(a->cwmp);
        /* a wildcard address names no host a CPE could reach: --cwmp-url says it */
        if (addr && strncmp(addr, "0.0.0.0:", 8) != 0 && strncmp(addr, "[::]:", 5) != 0)
            snprintf(fs->base, sizeof fs->base, "%s://%s", a->tls ? "https" : "http", addr);
    }
    size_t n = strlen(fs->base);
    while (n && fs->base[n - 1] == '/')
        fs->base[--n] = '\0';
    char shown[NET_URL_SHOWN];
    net_url_redacted(fs->base[0] ? fs->base : "unknown", shown, sizeof shown);
    log_info("files_ready", LF_S("dir", fs->dir), LF_S("url", shown),
             LF_U("max_file_size", a->o.max_file_size));
}

void acs_files_free(acs_t *a)
{
    if (!a->files)
        return;
    acs_files_shared_free(a);
    http_auth_free(a->files->auth);
    free(a->files);
    a->files = NULL;
}

/* ---- a body into a file ------------------------------------------------------------ */

typedef struct intake {
    acs_t *a;
    http_req_t *req;
    store_file_t f;            /* the row: meta in; size and digest as the bytes come */
    char tmp[ACS_PATH_MAX];
    uv_file fd;
    EVP_MD_CTX *md;
    uv_fs_t fs;
    char *piece;               /* the bytes being written */
    bool writing, body_done;
    int rc;                    /* the first error: the intake ends when no write is out */
    bool created;
    acs_intake_done_fn done;
    void *ud;
    bool committing;           /* past the body: fsync and the store job */
    int64_t db_bytes;          /* a shared store: bytes written into the database */
    struct intake *prev, *next; /* a->files->intakes */
} intake_t;

static int noop_body(http_req_t *r, const char *d, size_t n, void *ud)
{
    (void)r, (void)d, (void)n, (void)ud;
    return 0;
}

static void noop_end(http_req_t *r, int err, void *ud) { (void)r, (void)err, (void)ud; }

static void close_fd(uv_file fd)
{
    uv_fs_t c;
    uv_fs_close(NULL, &c, fd, NULL);
    uv_fs_req_cleanup(&c);
}

static void intake_free(intake_t *it)
{
    acs_files_t *fs = it->a->files;
    if (it->prev)
        it->prev->next = it->next;
    else if (fs->intakes == it)
        fs->intakes = it->next;
    if (it->next)
        it->next->prev = it->prev;
    if (it->fd >= 0)
        close_fd(it->fd);
    if (it->tmp[0])
        unlink(it->tmp); /* renamed by now when it was stored */
    EVP_MD_CTX_free(it->md);
    free(it->piece);
    free(it);
}

/* The end, either way: the caller answers. */
static void intake_finish(intake_t *it, int rc)
{
    /* nothing of the body reaches us any more (it may still arrive: dropped) */
    http_req_stream_body(it->req, noop_body, noop_end, NULL);
    if (it->fd >= 0) {
        close_fd(it->fd);
        it->fd = -1;
    }
    if (rc && it->tmp[0])
        unlink(it->tmp); /* nothing of a failed file is kept */
    it->tmp[0] = '\0';  /* or it has its name now */
    if (rc && rc != -EFBIG && rc != -EPERM) /* those are logged where they are known */
        log_info("file_not_stored", LF_S("name", it->f.name), LF_I("bytes", it->f.size),
                 LF_S("peer", http_req_peer(it->req)), LF_ERR(rc));
    it->done(it->a, it->req, rc, &it->f, it->created, it->ud);
    intake_free(it);
}

/* On the store thread (a shared store: the transfers'): the bytes take
 * their name (and a shared store's database gets them) and the row its
 * values, in the order PUTs finish. An upload's task must still wait for
 * it. */
static int commit_run(store_t *st, void *ud)
{
    intake_t *it = ud;
    acs_t *a = it->a;
    int rc;
    if (it->f.task_id && (rc = acs_files_upload_check(st, &it->f)) != 0)
        return rc;
    char path[ACS_PATH_MAX], old[65] = "";
    if (a->files->sh) {
        rc = acs_files_shared_keep(a, st, &it->f, it->tmp, old, &it->db_bytes);
    } else if ((rc = acs_file_path(a->files, it->f.name, path, sizeof path)) == 0 &&
               rename(it->tmp, path) != 0) {
        rc = -errno;
        log_error("files_rename", LF_S("path", path), LF_ERR(rc));
    }
    if (rc)
        return rc;
    it->tmp[0] = '\0';
    it->f.created = it->f.updated = clock_real_s();
    rc = store_file_put(st, &it->f);
    if (rc < 0) {
        if (!a->files->sh)
            unlink(path); /* no row: no file (a shared store's copy goes with the sweep) */
        return rc;
    }
    it->created = rc == 1;
    if (old[0] && strcmp(old, it->f.sha256) != 0)
        acs_files_uncache(a, st, old); /* the version it replaced */
    return 0;
}

static void commit_done(int rc, void *ud)
{
    intake_t *it = ud;
    acs_files_t *fs = it->a->files;
    if (rc == 0 && fs->sh && it->db_bytes) {
        fs->n.stored++;
        fs->n.stored_bytes += (uint64_t)it->db_bytes;
    }
    if (rc == 0)
        log_info("file_stored", LF_S("name", it->f.name), LF_I("size", it->f.size),
                 LF_S("sha256", it->f.sha256), LF_I("task", it->f.task_id),
                 LF_S("peer", http_req_peer(it->req)));
    intake_finish(it, rc > 0 ? 0 : rc);
}

static void on_synced(uv_fs_t *fs)
{
    intake_t *it = fs->data;
    ssize_t r = fs->result;
    uv_fs_req_cleanup(fs);
    if (r < 0) {
        log_error("files_sync", LF_S("path", it->tmp), LF_S("reason", uv_strerror((int)r)));
        intake_finish(it, -EIO);
        return;
    }
    close_fd(it->fd);
    it->fd = -1;
    store_worker_t *w = acs_files_worker(it->a);
    int rc = w ? store_worker_submit(w, commit_run, commit_done, it) : -ECANCELED;
    if (rc != 0)
        intake_finish(it, rc);
}

int acs_files_digest_hex(EVP_MD_CTX *md, char out[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md, d, &len) != 1 || len != 32)
        return -EIO;
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* The whole body is on disk: its digest, then durable, then named. */
static void intake_complete(intake_t *it)
{
    if (acs_files_digest_hex(it->md, it->f.sha256) != 0) {
        intake_finish(it, -EIO);
        return;
    }
    it->committing = true;
    it->fs.data = it;
    if (uv_fs_fsync(it->a->loop, &it->fs, it->fd, on_synced) != 0)
        intake_finish(it, -EIO);
}

static void on_written(uv_fs_t *fs)
{
    intake_t *it = fs->data;
    ssize_t r = fs->result;
    uv_fs_req_cleanup(fs);
    free(it->piece);
    it->piece = NULL;
    it->writing = false;
    if (r < 0 && !it->rc) {
        log_error("files_write", LF_S("path", it->tmp), LF_S("reason", uv_strerror((int)r)));
        it->rc = r == UV_ENOSPC ? -ENOSPC : -EIO;
    }
    if (it->rc)
        intake_finish(it, it->rc);
    else if (it->body_done)
        intake_complete(it);
    else
        http_req_resume_body(it->req);
}

static int on_body(http_req_t *r, const char *data, size_t len, void *ud)
{
    (void)r;
    intake_t *it = ud;
    if ((uint64_t)it->f.size + len > it->a->o.max_file_size) {
        log_info("file_too_large", LF_S("name", it->f.name), LF_U("max", it->a->o.max_file_size),
                 LF_S("peer", http_req_peer(it->req)));
        intake_finish(it, -EFBIG); /* no write is out: the body pauses while one is */
        return 0;
    }
    it->f.size += (int64_t)len;
    if (EVP_DigestUpdate(it->md, data, len) != 1 || !(it->piece = malloc(len ? len : 1))) {
        intake_finish(it, -ENOMEM);
        return 0;
    }
    memcpy(it->piece, data, len);
    uv_buf_t b = uv_buf_init(it->piece, (unsigned)len);
    it->fs.data = it;
    it->writing = true;
    if (uv_fs_write(it->a->loop, &it->fs, it->fd, &b, 1, it->f.size - (int64_t)len, on_written) != 0) {
        it->writing = false;
        intake_finish(it, -EIO);
        return 0;
    }
    return 1; /* paused until the piece is on disk */
}

static void on_end(http_req_t *r, int err, void *ud)
{
    (void)r;
    intake_t *it = ud;
    if (err && !it->rc)
        it->rc = err;
    it->body_done = true;
    if (it->writing)
        return; /* on_written goes on */
    if (it->rc)
        intake_finish(it, it->rc);
    else
        intake_complete(it);
}

int acs_intake_start(acs_t *a, http_req_t *req, const store_file_t *meta, acs_intake_done_fn done,
                     void *ud)
{
    const http_msg_t *m = http_req_msg(req);
    if (m->content_length > 0 && (uint64_t)m->content_length > a->o.max_file_size) {
        log_info("file_too_large", LF_S("name", meta->name), LF_I("content_length", m->content_length),
                 LF_U("max", a->o.max_file_size), LF_S("peer", http_req_peer(req)));
        return -EFBIG;
    }
    intake_t *it = calloc(1, sizeof *it);
    if (!it)
        return -ENOMEM;
    it->a = a;
    it->req = req;
    it->f = *meta;
    it->f.size = 0;
    it->done = done;
    it->ud = ud;
    it->fd = -1;
    it->md = EVP_MD_CTX_new();
    if ((size_t)snprintf(it->tmp, sizeof it->tmp, "%s/.tmp-XXXXXX", a->files->dir) >= sizeof it->tmp ||
        !it->md || EVP_DigestInit_ex(it->md, EVP_sha256(), NULL) != 1) {
        it->tmp[0] = '\0';
        intake_free(it);
        return -ENOMEM;
    }
    it->fd = mkostemp(it->tmp, O_CLOEXEC);
    if (it->fd < 0) {
        int rc = -errno;
        log_error("files_create", LF_S("path", it->tmp), LF_ERR(rc));
        it->tmp[0] = '\0';
        intake_free(it);
        return rc;
    }
    http_req_stream_body(req, on_body, on_end, it);
    it->next = a->files->intakes;
    if (it->next)
        it->next->prev = it;
    a->files->intakes = it;
    return 0;
}

void acs_files_stop(acs_t *a)
{
    if (!a->files)
        return;
    http_file_cancel_all(a->loop); /* downloads in progress: the clients resume later */
    intake_t *it = a->files->intakes, *next;
    for (; it; it = next) {
        next = it->next;
        if (it->committing)
            continue; /* fsync and its store job: short, they finish */
        if (it->writing)
            it->rc = -ECANCELED; /* on_written ends it */
        else
            intake_finish(it, -ECANCELED);
    }
    acs_files_shared_stop(a); /* transfers end; their requests are answered */
}

/* ---- JSON -------------------------------------------------------------------------- */

static json_t *text_or_null(const char *s) { return s[0] ? acs_json_text(s) : json_null(); }

json_t *acs_file_json(const acs_t *a, const store_file_t *f)
{
    char url[STORE_URL + STORE_FILE_NAME + 8];
    const char *base = a->files->base;
    snprintf(url, sizeof url, "%s/files/%s", base, f->name);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "name",
                     acs_json_text(f->name), "file_type", acs_json_text(f->file_type), "oui",
                     text_or_null(f->oui), "product_class", text_or_null(f->product_class),
                     "version", text_or_null(f->version), "size", (json_int_t)f->size, "sha256",
                     f->sha256, "url", base[0] ? json_string(url) : json_null(), "username",
                     text_or_null(f->username), "task_id",
                     f->task_id ? json_integer(f->task_id) : json_null(), "created",
                     acs_json_time(f->created), "updated", acs_json_time(f->updated));
}

/* ---- sending a stored file ---------------------------------------------------------- */

enum {
    SEND_FETCH = 1,   /* send_run: a shared store's file whose version this node has no copy of */
    SEND_TRIES = 3,   /* lookups of one request (each fetch is followed by one) */
};

typedef struct send_job {
    acs_t *a;
    http_req_t *req;
    bool json, cpe;            /* errors as JSON (the API); a CPE (credentials apply) */
    bool authorized;           /* a CPE's credentials were checked (before a fetch) */
    int tries;
    char name[STORE_FILE_NAME];
    store_file_t f;
    uv_file fd;
} send_job_t;

/* On the store thread: the row and the bytes it describes, opened together
 * (one node: a PUT renames in this thread, they cannot be of two versions;
 * a shared store: the copy is named by the row's version). */
static int send_run(store_t *st, void *ud)
{
    send_job_t *j = ud;
    const acs_files_t *fs = j->a->files;
    int rc = store_file_get(st, j->name, &j->f);
    if (rc)
        return rc;
    if (j->cpe && j->f.task_id)
        return -ENOENT; /* a device's upload: the API's to read, not any CPE's (acs_files_cwmp.c) */
    char path[ACS_PATH_MAX];
    rc = fs->sh ? acs_files_cache_path(fs, j->f.sha256, path, sizeof path)
                : acs_file_path(fs, j->name, path, sizeof path);
    if (rc)
        return rc;
    if (fs->sh) /* locked while it is served: the cache's cap never removes it then */
        rc = acs_files_shared_open(fs, j->f.sha256, &j->fd);
    else
        /* non-blocking: a FIFO put under the name must not hold this worker */
        rc = (j->fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)) < 0 ? -errno : 0;
    struct stat sb;
    const char *why = "size differs from the row";
    if (j->fd >= 0 && fstat(j->fd, &sb) != 0)
        rc = -errno;
    else if (j->fd >= 0 && !S_ISREG(sb.st_mode)) {
        why = "not a regular file";
        rc = -EIO;
    } else if (j->fd >= 0 && sb.st_size != j->f.size)
        rc = -EIO;
    if (rc && fs->sh && rc != -EACCES) { /* no copy here yet (or a cut one): fetch it */
        if (j->fd >= 0)
            close(j->fd);
        j->fd = -1;
        return SEND_FETCH;
    }
    if (rc) {
        log_error("files_open", LF_S("path", path), LF_S("reason", rc != -EIO ? strerror(-rc) : why));
        return rc;
    }
    return 0;
}

static void send_error(send_job_t *j, int status, const char *code, const char *msg)
{
    if (j->json)
        acs_api_error(j->req, status, code, msg);
    else
        http_respond_error(j->req, status, msg);
}

/* A failure the API's table knows (the queue full, the database away...)
 * says so; any other: the file could not be read. */
static void send_failed(send_job_t *j, int rc)
{
    const acs_api_err_t *e = acs_api_err_for(rc);
    if (e->rc == 0)
        send_error(j, 500, "internal", "the file cannot be read");
    else if (j->json)
        acs_api_store_error(j->req, rc);
    else
        http_respond_error(j->req, e->status, e->message);
}

/* A shared store's bytes could not be fetched into this node: a client
 * retries (a CPE's download is its own, with its retries), the file exists. */
static void send_unavailable(send_job_t *j)
{
    static const char text[] = "the file's bytes cannot be read from the database now; retry\n";
    static const char json[] = "{\"error\":\"unavailable\",\"message\":\"the file's bytes cannot be"
                               " read from the database now; retry\"}";
    if (j->json)
        http_respond_hdrs(j->req, 503, "Retry-After: 5\r\n", "application/json", json, sizeof json - 1);
    else
        http_respond_hdrs(j->req, 503, "Retry-After: 5\r\n", "text/plain", text, sizeof text - 1);
}

static void send_done(int rc, void *ud);

static void fetched(int rc, void *ud)
{
    send_job_t *j = ud;
    /* the copy is there, or the file changed or went meanwhile: look again */
    bool again = rc == 0 || rc == -ESTALE || rc == -ENOENT;
    if (again && ++j->tries < SEND_TRIES &&
        store_worker_submit(j->a->db, send_run, send_done, j) == 0)
        return;
    if (rc == -ECANCELED)
        send_failed(j, rc);
    else
        send_unavailable(j);
    free(j);
}

static void send_done(int rc, void *ud)
{
    send_job_t *j = ud;
    if (rc == SEND_FETCH) {
        /* a CPE's credentials first: a fetch is for those who may have the file */
        if (j->cpe && !j->authorized && !acs_files_authorize(j->a, j->req, &j->f)) {
            free(j);
            return;
        }
        j->authorized = true;
        acs_files_fetch(j->a, &j->f, fetched, j);
        return;
    }
    if (rc == -ENOENT && j->fd < 0) {
        send_error(j, 404, "not_found", "no such file");
    } else if (rc < 0) {
        send_failed(j, rc);
    } else if (!j->cpe || j->authorized || acs_files_authorize(j->a, j->req, &j->f)) {
        char etag[72];
        snprintf(etag, sizeof etag, "\"%s\"", j->f.sha256);
        http_file_serve(j->a->loop, j->req,
                        &(http_file_opts_t){ .fd = j->fd, .size = j->f.size, .etag = etag,
                                             .done = j->a->files->sh ? acs_files_served : NULL,
                                             .ud = j->a });
        j->fd = -1;
    }
    if (j->fd >= 0) { /* not served (refused): a copy removed meanwhile is let go as by an answer */
        close_fd(j->fd);
        acs_files_served(j->a);
    }
    free(j);
}

void acs_files_send_as(acs_t *a, http_req_t *req, const char *name, bool json, bool cpe)
{
    send_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    j->a = a;
    j->req = req;
    j->json = json;
    j->cpe = cpe;
    j->fd = -1;
    str_copy(j->name, sizeof j->name, name);
    int rc = store_worker_submit(a->db, send_run, send_done, j);
    if (rc) {
        send_failed(j, rc);
        free(j);
    }
}

void acs_files_send(acs_t *a, http_req_t *req, const char *name, bool json)
{
    acs_files_send_as(a, req, name, json, false);
}

int acs_files_delete(acs_t *a, store_t *st, const char *name)
{
    store_file_t f;
    int rc = a->files->sh ? store_file_get(st, name, &f) : 0;
    if (rc == 0)
        rc = store_file_delete(st, name);
    if (rc)
        return rc;
    if (a->files->sh) { /* the other nodes' copies go with their sweeps */
        acs_files_uncache(a, st, f.sha256);
        return 0;
    }
    char path[ACS_PATH_MAX];
    if (acs_file_path(a->files, name, path, sizeof path) == 0 && unlink(path) != 0 && errno != ENOENT)
        log_warn("files_unlink", LF_S("path", path), LF_ERR(-errno));
    return 0;
}
