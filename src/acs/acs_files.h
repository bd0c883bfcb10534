/*
 * acs_files: the ACS's file store (firmware images, configuration files,
 * uploads from CPEs). The bytes are files in DATA_DIR/files/, one per name;
 * what is known about each (type, target, size, SHA-256, download
 * credentials) is a row of the store (store_file_*). A file is written
 * under a temporary name while it streams in and renamed by the store
 * thread in the job that writes its row, so a reader never sees half a
 * file and row and bytes change together.
 *
 * Its doors: the REST API (acs_api_files.c: PUT/GET/DELETE /api/files...),
 * and the CWMP listener, where CPEs download /files/{name} (ETag, Range,
 * optional per-file Digest credentials) and upload to /uploads/{token}
 * (an upload task's one URL: the task id and an HMAC of it). Download and
 * upload tasks may name a stored file; acs_files_resolve fills in the RPC's
 * URL, size, type and credentials when the task is sent.
 *
 * Ownership: the state (directory, upload key, Digest realm) hangs off the
 * acs_t (a->files), made by acs_files_init, freed by acs_files_free.
 */
#ifndef OUTPOST_ACS_FILES_H
#define OUTPOST_ACS_FILES_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "acs/acs_internal.h"

/* Names and file types are checked by acs_file_name_ok / acs_file_type_ok
 * (acs_tasks.h: pure, shared with the task checks). */

enum { ACS_PATH_MAX = 4400 };

typedef struct acs_files {
    char dir[4096];            /* DATA_DIR/files */
    unsigned char key[32];     /* the upload URLs' HMAC key (a shared store's: every node's) */
    unsigned char old_key[32]; /* this node's own key before it took the shared one: */
    bool has_old_key;          /* the URLs it gave with it still work here */
    http_auth_t *auth;         /* per-file download credentials (Digest) */
    char base[STORE_URL];      /* "http://host:port" CPEs reach the CWMP listener at; "" unknown */
    struct intake *intakes;    /* bodies streaming in (acs_files.c), ended at shutdown */
    struct acs_files_shared *sh; /* a shared store's bytes and this node's cache; NULL on one node */
    struct {                   /* the loop's counters (acs_files_metrics) */
        uint64_t fetched, fetch_failed, fetch_bytes, fetch_waits, stored, stored_bytes;
    } n;
} acs_files_t;

/* The directory, the upload key (DATA_DIR/files/.upload-key, made once),
 * the Digest realm of per-file credentials; temporary files a crash left
 * are removed. 0 or -errno (logged). */
int acs_files_init(acs_t *a);
/* Once the store is open (a->store, before the listeners): on a shared
 * store, the transfers' own connection and worker, the cache, the shared
 * upload key, the sweep (acs_files_shared.c). Nothing on one node. */
int acs_files_start(acs_t *a);
/* The base URL CPEs reach the CWMP listener at (--cwmp-url, or the
 * listener's own address when it is not a wildcard); call once it listens. */
void acs_files_set_base(acs_t *a);
/* Shutdown: bodies still streaming in are refused (503), their temporary
 * files removed, so the listeners' drain does not wait for their clients. */
void acs_files_stop(acs_t *a);
void acs_files_free(acs_t *a);

/* ---- streaming a request body into the store ---------------------------------------- */

/* rc: 0 (stored; created: a new name), -EFBIG (over --max-file-size),
 * -ECONNRESET/-ETIMEDOUT (the client went), -EIO and others. The caller
 * answers (the request is still its to answer, whatever rc). */
typedef void (*acs_intake_done_fn)(acs_t *a, http_req_t *req, int rc, const store_file_t *f,
                                   bool created, void *ud);
/* From an on_head: take the request's body as the file `meta` describes
 * (name, type, target, credentials, task id). -EFBIG when its
 * Content-Length is over the cap (nothing started: answer 413), other
 * -errno when it cannot start; 0: done will be called once. */
int acs_intake_start(acs_t *a, http_req_t *req, const store_file_t *meta, acs_intake_done_fn done,
                     void *ud);

/* ---- the API's view ----------------------------------------------------------------- */

/* The routes (acs_api_files.c), registered by acs_api_start. */
int acs_files_api_register(acs_t *a, http_router_t *r);
/* A stored file as JSON (never its password). */
json_t *acs_file_json(const acs_t *a, const store_file_t *f);
/* Answer req with the file's bytes (GET/HEAD, ETag, Range): a store job
 * finds its row and opens it; 404 JSON or text as `json` says. */
void acs_files_send(acs_t *a, http_req_t *req, const char *name, bool json);
/* Delete row and bytes (a store job's part; st is the store). */
int acs_files_delete(acs_t *a, store_t *st, const char *name);

/* ---- the CWMP listener's paths ------------------------------------------------------ */

/* From the CWMP listener's on_head / handler: true when the request was
 * for /files/... or /uploads/... and is now this module's. */
bool acs_files_on_head(acs_t *a, http_req_t *req);
bool acs_files_handle(acs_t *a, http_req_t *req);

/* ---- between the module's files (acs_files.c, acs_files_cwmp.c) ----------------------- */

/* DATA_DIR/files/NAME: 0 or -ENAMETOOLONG. */
int acs_file_path(const acs_files_t *fs, const char *name, char *out, size_t len);
/* acs_files_send for a CPE (cpe: the file's credentials apply). */
void acs_files_send_as(acs_t *a, http_req_t *req, const char *name, bool json, bool cpe);
/* A CPE's request for f: true when it may have it; false once answered
 * (401 with a Digest challenge, 429 while its address is locked out). */
bool acs_files_authorize(acs_t *a, http_req_t *req, const store_file_t *f);
/* The store worker that stores files (a shared store: the transfers' own;
 * else the ACS's); NULL once stopped. */
store_worker_t *acs_files_worker(const acs_t *a);
/* A finished SHA-256 as lowercase hex: 0 or -EIO. */
int acs_files_digest_hex(EVP_MD_CTX *md, char out[65]);

/* ---- a shared store (acs_files_shared.c) ----------------------------------------------- */

/* DATA_DIR/files/.cache/SHA256: this node's copy of that version. */
int acs_files_cache_path(const acs_files_t *fs, const char *sha256, char *out, size_t len);
/* On a store thread: that copy opened to be served, locked against the
 * cache's cap until the descriptor closes (acs_files_cache_open). 0,
 * -ENOENT (no copy: fetch it), other -errno. */
int acs_files_shared_open(const acs_files_t *fs, const char *sha256, int *fd);
/* On the loop, as http_file_serve closes a copy (ud: the acs_t): removed
 * copies no download reads any more off the count at once
 * (acs_files_cache_release), and a pass of the cache's cap when one is due
 * (acs_files_cache_due: the last one left it over, or a removed copy is
 * still being read). */
void acs_files_served(void *ud);
/* On the transfer thread, as a body is stored: the bytes of tmp (f's
 * version, digest known) into the database, then tmp renamed to the
 * version's copy. old_sha: the version the name had ("" none); db_bytes:
 * bytes written (0: the database had them). The caller puts the row in the
 * same job. 0 or -errno. */
int acs_files_shared_keep(acs_t *a, store_t *st, const store_file_t *f, const char *tmp,
                          char old_sha[65], int64_t *db_bytes);
/* On a store thread, in the job that replaced or deleted a version: its
 * copy goes unless another row names the same bytes. */
void acs_files_uncache(acs_t *a, store_t *st, const char *sha256);
/* rc: 0 (the copy is there now: look the file up again), -ESTALE/-ENOENT
 * (the file changed or went meanwhile: look it up again), -ECANCELED
 * (shutting down), other -errno (the fetch failed, logged once). */
typedef void (*acs_files_fetched_fn)(int rc, void *ud);
/* Make this node's copy of version f (name, sha256, size) from the
 * database; cb once, on the loop. Requests for a version being fetched
 * wait for that fetch. */
void acs_files_fetch(acs_t *a, const store_file_t *f, acs_files_fetched_fn cb, void *ud);
/* Shutdown: transfers cancelled, their callbacks run, the connection closed. */
void acs_files_shared_stop(acs_t *a);
void acs_files_shared_free(acs_t *a);
/* outpost_acs_file_* on /metrics (a shared store only). */
int acs_files_metrics(acs_t *a, buf_t *o);

/* On the store thread, before an upload's bytes are named: its task
 * (f->task_id) must be an upload still waiting (sent), f gets the name and
 * type the task asked for. 0, or -EPERM (the upload is not expected). */
int acs_files_upload_check(store_t *st, store_file_t *f);

/* ---- tasks naming a stored file ---------------------------------------------------- */

/* BASE/files/NAME into out: 0, -ENOENT (the ACS does not know its URL),
 * -ENAMETOOLONG (longer than TR-069's 256). A download task's URL of this
 * form is resolved like a task naming the file (presets' `file` downloads
 * become such URLs). */
int acs_files_url(const acs_t *a, const char *name, char *out, size_t len);

/* On the store thread, as the API creates a task: a download naming
 * {"file": NAME} needs the file to exist and not to be a device's upload;
 * an upload naming one may not replace a file stored through the API. 0,
 * or -ENXIO with the reason ("file: no stored file ...") in err. */
int acs_files_task_check(store_t *st, const char *type, json_t *params, char *err, size_t errlen);
/* On the store thread, as task t is taken to be sent: a download naming
 * {"file": NAME} gets the file's URL, size, type and credentials; an upload
 * gets its /uploads/ URL. t->params is replaced (malloc'd). 0 (nothing to
 * do, or done), or -ENOENT/-EINVAL with the reason in err (the task fails). */
int acs_files_resolve(acs_t *a, store_t *st, store_task_t *t, char *err, size_t errlen);

#endif
