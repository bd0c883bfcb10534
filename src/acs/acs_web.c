/*
 * acs_web: the dashboard's files (web/ in the source tree), served by the
 * API listener at /, and GET /api/whoami (the role the page's key has).
 *
 * The build embeds every file under web/ (scripts/embed-dir: one
 * http_static_t each, with its ETag and gzip copy worked out in advance),
 * so a release binary serves the page with no file of its own. With
 * --web-dir DIR the same paths are read from DIR on each request instead
 * (development: edit, reload), with no ETag and no caching.
 *
 * The files are public (the sign-in page has to load without a key);
 * everything they show comes from the API with the operator's key. The
 * Content-Security-Policy allows this origin's own files only, so nothing
 * a device reports can run as script even if it reached the page as HTML.
 * The routes are literal paths and one capture under /views/ (never a
 * catch-all), so a path under /api/ still gets the router's 401/404.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "acs/acs_internal.h"
#include "core/log.h"
#include "net/http_static.h"

/* scripts/embed-dir's table of web/ (src/acs/meson.build) */
extern const http_static_entry_t acs_web_files[];
extern const size_t acs_web_files_count;

/* A file read from --web-dir is at most this big (the page's files are a
 * few KiB; a mistake is not read whole into memory). */
enum { WEB_DIR_FILE_MAX = 4 << 20 };

#define WEB_HEADERS                                                                           \
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; frame-ancestors "  \
    "'none'; base-uri 'none'; form-action 'self'\r\n"                                       \
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"                    \
    "Cache-Control: no-cache\r\n"

static const http_static_t *embedded(const char *path)
{
    for (size_t i = 0; i < acs_web_files_count; i++)
        if (!strcmp(acs_web_files[i].path, path))
            return acs_web_files[i].file;
    return NULL;
}

static const char *ctype_of(const char *path)
{
    static const struct {
        const char *ext, *ctype;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },  { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },    { ".svg", "image/svg+xml" },
        { ".png", "image/png" },                  { ".ico", "image/x-icon" },
        { ".json", "application/json" },
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].ctype;
    return "application/octet-stream";
}

/* --web-dir: DIR + path (the router refused "..", "//" and escapes of "/"
 * before we got here; names under /views/ are checked by the caller). */
static void serve_disk(http_req_t *req, const char *dir, const char *path)
{
    char full[4096];
    int n = snprintf(full, sizeof full, "%s%s", dir, path);
    if (n < 0 || (size_t)n >= sizeof full) {
        http_respond_error(req, 404, "not found");
        return;
    }
    FILE *f = fopen(full, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        if (f)
            fclose(f);
        http_respond_error(req, 404, "not found");
        return;
    }
    if (st.st_size > WEB_DIR_FILE_MAX) {
        fclose(f);
        log_warn("web_dir_file_too_big", LF_S("path", full), LF_I("bytes", st.st_size));
        http_respond_error(req, 500, "file too big for --web-dir");
        return;
    }
    char *body = malloc((size_t)st.st_size + 1);
    size_t got = body ? fread(body, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!body) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    http_respond_hdrs(req, 200, WEB_HEADERS, ctype_of(path), body, got);
    free(body);
}

static void serve(http_req_t *req, acs_t *a, const char *path)
{
    if (a->o.web_dir && *a->o.web_dir) {
        serve_disk(req, a->o.web_dir, path);
        return;
    }
    const http_static_t *f = embedded(path);
    if (!f) {
        http_respond_error(req, 404, "not found");
        return;
    }
    http_static_serve(req, f, WEB_HEADERS);
}

static void h_index(http_req_t *req, void *ud) { serve(req, ud, "/index.html"); }

/* The route matched the canonical path ("/%69ndex.html" is "/index.html"):
 * the file is named by that form, not by the spelling sent. */
static void h_top(http_req_t *req, void *ud)
{
    char path[64];
    const char *why;
    if (http_path_canonical(http_req_path(req), path, sizeof path, &why) != 0) {
        http_respond_error(req, 404, "not found");
        return;
    }
    serve(req, ud, path);
}

/* /views/{name}: one path segment of [a-z0-9_-] ending in .js */
static void h_view(http_req_t *req, void *ud)
{
    const char *name = http_req_param(req, "name");
    size_t len = name ? strlen(name) : 0;
    bool ok = len > 3 && len < 64 && !strcmp(name + len - 3, ".js");
    for (size_t i = 0; ok && i < len - 3; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '-' || name[i] == '_';
    if (!ok) {
        http_respond_error(req, 404, "not found");
        return;
    }
    char path[80];
    snprintf(path, sizeof path, "/views/%s", name);
    serve(req, ud, path);
}

/* GET /api/whoami: what the page's key may do (the role decides which
 * actions the page shows; the API checks every call anyway). */
static void h_whoami(http_req_t *req, void *ud)
{
    (void)ud;
    int role = http_req_access(req);
    acs_api_json(req, 200, json_pack("{s:s, s:i}", "role", http_access_name(role), "level", role));
}

int acs_web_register(acs_t *a, http_router_t *r)
{
    static const char *const top[] = { "/index.html", "/app.js", "/app.css", "/lib.js",
                                       "/favicon.svg" };
    int rc = http_router_add(r, "GET", "/", HTTP_ACCESS_PUBLIC, h_index, a);
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        rc |= http_router_add(r, "GET", top[i], HTTP_ACCESS_PUBLIC, h_top, a);
    rc |= http_router_add(r, "GET", "/views/{name}", HTTP_ACCESS_PUBLIC, h_view, a);
    rc |= http_router_add(r, "GET", "/api/whoami", HTTP_ACCESS_VIEWER, h_whoami, a);
    return rc ? -EINVAL : 0;
}
