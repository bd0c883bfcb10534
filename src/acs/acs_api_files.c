/*
 * acs_api_files: the file store on the REST API.
 *
 *   PUT    /api/files/{name}          the body is the file (streamed to disk,
 *                                     never held in memory; 413 past
 *                                     --max-file-size, nothing kept); its
 *                                     metadata from the query or headers
 *   GET    /api/files                 every file's metadata
 *   GET    /api/files/{name}          one file's metadata
 *   GET    /api/files/{name}/content  its bytes (ETag, Range)
 *   DELETE /api/files/{name}
 *
 * Errors are {"error", "message", "field"}: the field names the query
 * parameter (or "name", "body") that was wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_files.h"
#include "acs/acs_tasks.h"
#include "core/log.h"
#include "core/str.h"

static void field_error(http_req_t *req, int status, const char *code, const char *field,
                        const char *msg)
{
    acs_api_json(req, status, json_pack("{s:s, s:s, s:s}", "error", code, "message", msg, "field",
                                        field));
}

/* ---- PUT: metadata, then the body ---------------------------------------------------- */

/* The metadata a PUT may give: as a query parameter or a header. */
static const struct meta_field {
    const char *query, *header;
    size_t off, size;
} meta_fields[] = {
    { "file_type", "X-File-Type", offsetof(store_file_t, file_type), STORE_SHORT },
    { "oui", "X-OUI", offsetof(store_file_t, oui), STORE_SHORT },
    { "product_class", "X-Product-Class", offsetof(store_file_t, product_class), STORE_SHORT },
    { "version", "X-Version", offsetof(store_file_t, version), STORE_SHORT },
    { "username", "X-Download-Username", offsetof(store_file_t, username), STORE_SHORT },
    { "password", "X-Download-Password", offsetof(store_file_t, password), STORE_SHORT },
};

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* The metadata into f: NULL, or the wrong field with the reason in msg. */
static const char *read_meta(http_req_t *req, store_file_t *f, char *msg, size_t msglen)
{
    for (size_t i = 0; i < sizeof meta_fields / sizeof meta_fields[0]; i++) {
        const struct meta_field *mf = &meta_fields[i];
        char *dst = (char *)f + mf->off;
        buf_t b = BUF_INIT(256);
        int rc = http_req_query_param(req, mf->query, &b);
        const char *v = rc == 0 ? (b.data ? b.data : "") : http_req_header(req, mf->header);
        bool ok = (rc == 0 || rc == -ENOENT) && (!v || (printable(v) && strlen(v) <= 64 && str_copy(dst, mf->size, v) == 0));
        buf_free(&b);
        if (!ok) {
            snprintf(msg, msglen, "%s: at most 64 printable ASCII characters", mf->query);
            return mf->query;
        }
    }
    if (!f->file_type[0])
        str_copy(f->file_type, sizeof f->file_type, "1 Firmware Upgrade Image");
    if (!acs_file_type_ok(f->file_type)) {
        snprintf(msg, msglen, "file_type: like \"1 Firmware Upgrade Image\" or \"X OUI Text\"");
        return "file_type";
    }
    if (strchr(f->username, ':')) {
        snprintf(msg, msglen, "username: without ':'");
        return "username";
    }
    if (!f->username[0] != !f->password[0]) {
        const char *missing = f->username[0] ? "password" : "username";
        snprintf(msg, msglen, "%s: required with %s", missing, f->username[0] ? "username" : "password");
        return missing;
    }
    return NULL;
}

static void put_done(acs_t *a, http_req_t *req, int rc, const store_file_t *f, bool created, void *ud)
{
    (void)ud;
    switch (rc) {
    case 0:
        log_info("api_file_stored", LF_S("name", f->name), LF_I("size", f->size),
                 LF_B("created", created));
        acs_api_json(req, created ? 201 : 200, acs_file_json(a, f));
        break;
    case -EFBIG: {
        char msg[96];
        snprintf(msg, sizeof msg, "body: the file is larger than --max-file-size (%llu bytes)",
                 (unsigned long long)a->o.max_file_size);
        field_error(req, 413, "file_too_large", "body", msg);
        break;
    }
    case -ENOSPC: acs_api_error(req, 507, "insufficient_storage", "no space left for the file"); break;
    case -EAGAIN:
    case -ECANCELED:
    case -ENOTCONN: acs_api_store_error(req, rc); break;
    default: acs_api_error(req, 500, "internal", "the file could not be stored"); break;
    }
}

static void h_file_put_head(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    const char *name = http_req_param(req, "name");
    store_file_t f = { 0 };
    char msg[160];
    const char *bad;
    if (!name || !acs_file_name_ok(name)) {
        field_error(req, 400, "invalid_file", "name",
                    "name: 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
        return;
    }
    str_copy(f.name, sizeof f.name, name);
    if ((bad = read_meta(req, &f, msg, sizeof msg))) {
        field_error(req, 400, "invalid_file", bad, msg);
        return;
    }
    int rc = acs_intake_start(a, req, &f, put_done, NULL);
    if (rc)
        put_done(a, req, rc, &f, false, NULL);
}

/* Not reached: the head handler answers or streams every PUT. */
static void h_file_put(http_req_t *req, void *ud)
{
    (void)ud;
    acs_api_error(req, 500, "internal", "the body was not streamed");
}

/* ---- the others: store jobs ---------------------------------------------------------- */

enum { FJ_LIST, FJ_GET, FJ_DELETE };

typedef struct file_job {
    acs_t *a;
    http_req_t *req;
    int kind;
    char name[STORE_FILE_NAME];
    json_t *out;
} file_job_t;

static int collect(const store_file_t *f, void *ud)
{
    file_job_t *j = ud;
    json_array_append_new(j->out, acs_file_json(j->a, f));
    return 0;
}

static int file_run(store_t *st, void *ud)
{
    file_job_t *j = ud;
    store_file_t f;
    int rc;
    switch (j->kind) {
    case FJ_LIST:
        j->out = json_array();
        return store_file_list(st, collect, j);
    case FJ_GET:
        if ((rc = store_file_get(st, j->name, &f)) == 0)
            j->out = acs_file_json(j->a, &f);
        return rc;
    case FJ_DELETE:
        return acs_files_delete(j->a, st, j->name);
    }
    return -EINVAL;
}

static void file_done(int rc, void *ud)
{
    file_job_t *j = ud;
    if (rc == -ENOENT)
        acs_api_error(j->req, 404, "not_found", "no such file");
    else if (rc < 0)
        acs_api_store_error(j->req, rc);
    else if (j->kind == FJ_DELETE) {
        log_info("api_file_deleted", LF_S("name", j->name));
        http_respond(j->req, 204, NULL, NULL, 0);
    } else {
        acs_api_json(j->req, 200, j->out);
        j->out = NULL;
    }
    json_decref(j->out);
    free(j);
}

/* The {name} of the path: false once answered (404: no file can have it). */
static bool path_name(http_req_t *req, char *out)
{
    const char *name = http_req_param(req, "name");
    if (!name || !acs_file_name_ok(name)) {
        acs_api_error(req, 404, "not_found", "no such file");
        return false;
    }
    str_copy(out, STORE_FILE_NAME, name);
    return true;
}

static void file_submit(http_req_t *req, acs_t *a, int kind)
{
    file_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    j->a = a;
    j->req = req;
    j->kind = kind;
    if (kind != FJ_LIST && !path_name(req, j->name)) {
        free(j);
        return;
    }
    int rc = store_worker_submit(a->db, file_run, file_done, j);
    if (rc != 0) {
        acs_api_store_error(req, rc);
        free(j);
    }
}

static void h_files(http_req_t *req, void *ud) { file_submit(req, ud, FJ_LIST); }
static void h_file(http_req_t *req, void *ud) { file_submit(req, ud, FJ_GET); }
static void h_file_delete(http_req_t *req, void *ud) { file_submit(req, ud, FJ_DELETE); }

static void h_file_content(http_req_t *req, void *ud)
{
    char name[STORE_FILE_NAME];
    if (path_name(req, name))
        acs_files_send(ud, req, name, true);
}

/* ---- routes ------------------------------------------------------------------------ */

/* Viewers read the store; operators fill and empty it (a rollout's files). */
static const http_route_t file_routes[] = {
    HTTP_ROUTE("GET", "/api/files", HTTP_ACCESS_VIEWER, h_files),
    HTTP_ROUTE_HEAD("PUT", "/api/files/{name}", HTTP_ACCESS_OPERATOR, h_file_put, h_file_put_head),
    HTTP_ROUTE("GET", "/api/files/{name}", HTTP_ACCESS_VIEWER, h_file),
    HTTP_ROUTE("DELETE", "/api/files/{name}", HTTP_ACCESS_OPERATOR, h_file_delete),
    HTTP_ROUTE("GET", "/api/files/{name}/content", HTTP_ACCESS_VIEWER, h_file_content),
};

int acs_files_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, file_routes, a);
}
