/*
 * acs_files_cwmp: the file store on the CWMP listener, and the tasks that
 * name its files (see acs_files.h).
 *
 *   GET/HEAD /files/{name}    a stored file (ETag, Range, If-None-Match);
 *                             with the file's credentials, Digest first
 *   PUT/POST /uploads/{token} an upload task's file, into the store; the
 *                             token is "ID-HMAC": the task id and an HMAC
 *                             of it under the store's key, so only the URL
 *                             the ACS gave the CPE works, and only while
 *                             its task waits for it (checked when the
 *                             bytes are named, on the store thread)
 *
 * CPE authentication (--cpe-auth) is for CWMP messages; a file is served
 * to whoever names it unless it has credentials of its own. A file a
 * device uploaded (its configuration, a log) is that device's data: never
 * served here (the API has it), and an upload never replaces a file stored
 * through the API (nor, so, its credentials).
 */
#include "acs/acs_files.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_tasks.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/* ---- upload tokens ------------------------------------------------------------------- */

enum { TOKEN_MAC = 16 }; /* bytes of HMAC-SHA256 kept: 128 bits */

static int token_mac(const unsigned char key[32], int64_t task_id, char out[2 * TOKEN_MAC + 1])
{
    char msg[40];
    int n = snprintf(msg, sizeof msg, "upload:%" PRId64, task_id);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg, (size_t)n, md, &mdlen) ||
        mdlen < TOKEN_MAC)
        return -EIO;
    for (int i = 0; i < TOKEN_MAC; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* "ID-HMAC" -> the task id, or 0 when it is not a token of ours (the
 * store's key; on a shared store also this node's key from before, for the
 * URLs it gave with it). */
static int64_t token_task(const acs_files_t *fs, const char *tok)
{
    const char *dash = strchr(tok, '-');
    char idtext[24], want[2 * TOKEN_MAC + 1];
    int64_t id;
    if (!dash || (size_t)(dash - tok) >= sizeof idtext || strlen(dash + 1) != 2 * TOKEN_MAC)
        return 0;
    str_copyn(idtext, sizeof idtext, tok, (size_t)(dash - tok));
    if (str_to_i64(idtext, 1, INT64_MAX, &id) != 0)
        return 0;
    if (token_mac(fs->key, id, want) == 0 && CRYPTO_memcmp(want, dash + 1, 2 * TOKEN_MAC) == 0)
        return id;
    if (fs->has_old_key && token_mac(fs->old_key, id, want) == 0 &&
        CRYPTO_memcmp(want, dash + 1, 2 * TOKEN_MAC) == 0)
        return id;
    return 0;
}

/* ---- per-file credentials ------------------------------------------------------------ */

static int file_lookup(const char *user, char *out, size_t outlen, void *ud)
{
    const store_file_t *f = ud;
    if (strcmp(user, f->username) != 0)
        return -ENOENT;
    return str_copy(out, outlen, f->password);
}

bool acs_files_authorize(acs_t *a, http_req_t *req, const store_file_t *f)
{
    if (!f->username[0])
        return true;
    char addr[64];
    if (!acs_cpe_guard_admits(a, req, addr, sizeof addr))
        return false;
    const char *why = NULL;
    http_auth_result_t r = http_auth_check(a->files->auth, http_req_method(req), http_req_target(req),
                                           http_req_header(req, "Authorization"), file_lookup,
                                           (void *)f, NULL, 0, &why);
    if (r == HTTP_AUTH_OK) {
        authguard_ok(&a->cpe_guard, addr);
        return true;
    }
    if (r == HTTP_AUTH_FAILED) {
        log_warn("file_auth_failed", LF_S("name", f->name), LF_S("addr", addr),
                 LF_S("reason", why ? why : "-"));
        a->n.auth_failures++;
        (void)authguard_fail(&a->cpe_guard, addr, clock_mono_ms(), NULL);
    }
    buf_t h = BUF_INIT(4096);
    (void)http_auth_challenge(a->files->auth, r == HTTP_AUTH_STALE, &h);
    http_respond_hdrs(req, 401, h.data, "text/plain", "authentication required\n", 24);
    buf_free(&h);
    return false;
}

/* ---- uploads ------------------------------------------------------------------------- */

int acs_files_upload_check(store_t *st, store_file_t *f)
{
    store_task_t t = { 0 };
    int rc = store_task_get(st, f->task_id, &t);
    if (rc == 0 && (strcmp(t.type, "upload") != 0 || t.status != STORE_TASK_SENT))
        rc = -EPERM;
    json_t *p = rc == 0 ? json_loads(t.params ? t.params : "{}", 0, NULL) : NULL;
    const char *name = json_string_value(json_object_get(p, "file"));
    const char *type = json_string_value(json_object_get(p, "file_type"));
    if (rc == 0 && (!name || !acs_file_name_ok(name)))
        rc = -EPERM; /* not one of ours (a URL elsewhere) */
    store_file_t old;
    if (rc == 0 && store_file_get(st, name, &old) == 0 && !old.task_id)
        rc = -EPERM; /* stored through the API since the task was made: not the device's to replace */
    if (rc == 0) {
        str_copy(f->name, sizeof f->name, name);
        str_copy(f->file_type, sizeof f->file_type, type ? type : "1 Vendor Configuration File");
    }
    json_decref(p);
    store_task_clear(&t);
    return rc == -ENOENT ? -EPERM : rc;
}

static void upload_done(acs_t *a, http_req_t *req, int rc, const store_file_t *f, bool created,
                        void *ud)
{
    (void)a, (void)created, (void)ud;
    switch (rc) {
    case 0: http_respond(req, created ? 201 : 204, NULL, NULL, 0); break;
    case -EFBIG: http_respond_error(req, 413, "the file is larger than the ACS accepts"); break;
    case -EPERM:
        log_warn("file_upload_refused", LF_I("task", f->task_id), LF_S("peer", http_req_peer(req)),
                 LF_S("reason", "the task does not wait for an upload"));
        http_respond_error(req, 403, "this upload is not expected (any more)");
        break;
    case -EAGAIN: http_respond_error(req, 503, "busy, retry"); break;
    case -ECANCELED: http_respond_error(req, 503, "shutting down"); break;
    default: http_respond_error(req, 500, "the file could not be stored"); break;
    }
}

static void upload_head(acs_t *a, http_req_t *req, const char *tok)
{
    const char *m = http_req_method(req);
    if (strcmp(m, "PUT") != 0 && strcmp(m, "POST") != 0) {
        http_respond_hdrs(req, 405, "Allow: PUT, POST\r\n", "text/plain", "PUT or POST\n", 12);
        return;
    }
    int64_t id = token_task(a->files, tok);
    if (!id) {
        log_warn("file_upload_refused", LF_S("peer", http_req_peer(req)),
                 LF_S("reason", "not an upload URL of this ACS"));
        http_respond_error(req, 404, "no such upload");
        return;
    }
    store_file_t meta = { .task_id = id };
    str_copy(meta.name, sizeof meta.name, "(upload)"); /* the task names it (upload_check) */
    int rc = acs_intake_start(a, req, &meta, upload_done, NULL);
    if (rc == -EFBIG)
        http_respond_error(req, 413, "the file is larger than the ACS accepts");
    else if (rc)
        http_respond_error(req, 503, "cannot take the file now");
}

/* ---- the listener's paths ------------------------------------------------------------ */

static const char *under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 ? path + n : NULL;
}

bool acs_files_on_head(acs_t *a, http_req_t *req)
{
    const char *tok = under(http_req_path(req), "/uploads/");
    if (!tok)
        return under(http_req_path(req), "/files/") != NULL; /* the handler serves it */
    upload_head(a, req, tok);
    return true;
}

bool acs_files_handle(acs_t *a, http_req_t *req)
{
    const char *path = http_req_path(req);
    const char *name = under(path, "/files/");
    if (!name)
        return false;
    const char *m = http_req_method(req);
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
        http_respond_hdrs(req, 405, "Allow: GET, HEAD\r\n", "text/plain", "GET or HEAD\n", 12);
    else if (!acs_file_name_ok(name)) /* names need no escapes: one with '%' is none of ours */
        http_respond_error(req, 404, "no such file");
    else
        acs_files_send_as(a, req, name, false, true);
    return true;
}

/* ---- tasks naming a stored file -------------------------------------------------------- */

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

int acs_files_url(const acs_t *a, const char *name, char *out, size_t len)
{
    if (!a->files->base[0])
        return -ENOENT;
    int n = snprintf(out, len, "%s/files/%s", a->files->base, name);
    return n < 0 || (size_t)n >= len || n > 256 ? -ENAMETOOLONG : 0;
}

/* The stored file a URL of our own names, or NULL. */
static const char *own_file(const acs_files_t *fs, const char *url)
{
    size_t n = strlen(fs->base);
    if (!url || !n || strncmp(url, fs->base, n) != 0 || strncmp(url + n, "/files/", 7) != 0)
        return NULL;
    return acs_file_name_ok(url + n + 7) ? url + n + 7 : NULL;
}

int acs_files_task_check(store_t *st, const char *type, json_t *params, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(params, "file"));
    bool dl = strcmp(type, "download") == 0;
    store_file_t f;
    if ((!dl && strcmp(type, "upload") != 0) || !name)
        return 0;
    int rc = store_file_get(st, name, &f);
    if (dl && rc == -ENOENT) {
        snprintf(err, errlen, "file: no stored file '%.128s'", name);
        return -ENXIO;
    }
    if (dl && rc == 0 && f.task_id) {
        snprintf(err, errlen, "file: '%.128s' was uploaded by a device and is not served to CPEs;"
                 " store it again through the API (PUT /api/files/NAME) to send it", name);
        return -ENXIO;
    }
    if (!dl && rc == 0 && !f.task_id) {
        snprintf(err, errlen, "file: '%.128s' is a file stored through the API; an upload may"
                 " not replace it (name another)", name);
        return -ENXIO;
    }
    return rc == -ENOENT ? 0 : rc;
}

int acs_files_resolve(acs_t *a, store_t *st, store_task_t *t, char *err, size_t errlen)
{
    bool dl = strcmp(t->type, "download") == 0;
    if (!dl && strcmp(t->type, "upload") != 0)
        return 0;
    json_t *p = json_loads(t->params ? t->params : "{}", 0, NULL);
    const acs_files_t *fs = a->files;
    const char *name = json_string_value(json_object_get(p, "file"));
    const char *url0 = json_string_value(json_object_get(p, "url"));
    char own[STORE_FILE_NAME];
    int rc = 0;
    if (dl && !name && own_file(fs, url0)) { /* our own /files/ URL: that file */
        str_copy(own, sizeof own, own_file(fs, url0));
        name = own;
    } else if (!name || url0) {
        json_decref(p);
        return 0; /* a URL of the operator's */
    }
    char url[STORE_URL + STORE_FILE_NAME + 64];
    if (!fs->base[0]) {
        rc = ERR("the ACS does not know its own URL (set --cwmp-url)");
    } else if (dl) {
        store_file_t f;
        rc = store_file_get(st, name, &f);
        if (rc == -ENOENT)
            rc = ERR("file: no stored file '%.128s'", name);
        if (rc == 0) {
            snprintf(url, sizeof url, "%s/files/%s", fs->base, f.name);
            json_object_set_new(p, "url", json_string(url));
            if (!json_object_get(p, "file_size"))
                json_object_set_new(p, "file_size", json_integer(f.size));
            if (!json_object_get(p, "file_type"))
                json_object_set_new(p, "file_type", json_string(f.file_type));
            if (f.username[0] && !json_object_get(p, "username")) {
                json_object_set_new(p, "username", json_string(f.username));
                json_object_set_new(p, "password", json_string(f.password));
            }
        }
    } else {
        char mac[2 * TOKEN_MAC + 1];
        rc = token_mac(fs->key, t->id, mac);
        if (rc == 0) {
            snprintf(url, sizeof url, "%s/uploads/%" PRId64 "-%s", fs->base, t->id, mac);
            json_object_set_new(p, "url", json_string(url));
        }
    }
    if (rc == 0 && strlen(url) > 256) /* TR-069's URL is a string(256) */
        rc = ERR("the file's URL would be longer than 256 characters (a shorter name or --cwmp-url)");
    char *text = rc == 0 ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (rc == 0 && !text)
        return ERR("out of memory");
    if (rc == 0) {
        free(t->params);
        t->params = text;
    }
    return rc;
}
