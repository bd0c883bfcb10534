/*
 * acs_api_search: finding devices. GET /api/devices (the filter language
 * of store/store_filter.h, sorting, pages with a stable cursor: the body
 * stays a bare JSON list, the page's context is in X-Total-Count and RFC
 * 8288 Link headers) and one tag at a time (PUT/DELETE
 * /api/devices/{id}/tags/{tag}). Store work runs on the store worker, the
 * answer is sent from the loop, as in acs_api.c.
 *
 * The cursor is opaque to clients: direction, sort, and the (sort key,
 * row id) of the row the page starts after (or before, for "prev"); a
 * device that informs between two pages does not shift the others.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_api_search.h"
#include "acs/acs_internal.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { PAGE_DEFAULT = 100, PAGE_MAX = 1000, CURSOR_MAX = 640, TAG_MAX = 64 };

/* ---- cursor ------------------------------------------------------------------------------ */

typedef struct cursor {
    bool backward;
    store_sort_t sort;
    bool desc;
    int64_t rid, num;
    char key[STORE_ID_MAX];
} cursor_t;

/* "<n|p><sort><a|d>.<rid>.<num>.<hex key>" */
static void cursor_encode(const cursor_t *c, char *out, size_t len)
{
    char hex[STORE_ID_MAX * 2 + 1];
    str_hex(c->key, strlen(c->key), hex);
    snprintf(out, len, "%c%d%c.%" PRId64 ".%" PRId64 ".%s", c->backward ? 'p' : 'n', (int)c->sort,
             c->desc ? 'd' : 'a', c->rid, c->num, hex);
}

static int cursor_decode(const char *s, cursor_t *c)
{
    memset(c, 0, sizeof *c);
    if ((s[0] != 'n' && s[0] != 'p') || s[1] < '0' || s[1] >= '0' + STORE_SORT_COUNT ||
        (s[2] != 'a' && s[2] != 'd') || s[3] != '.')
        return -EINVAL;
    c->backward = s[0] == 'p';
    c->sort = (store_sort_t)(s[1] - '0');
    c->desc = s[2] == 'd';
    const char *p = s + 4, *dot;
    char num[24];
    int64_t *dst[2] = { &c->rid, &c->num };
    for (int i = 0; i < 2; i++) {
        if (!(dot = strchr(p, '.')) || (size_t)(dot - p) >= sizeof num)
            return -EINVAL;
        memcpy(num, p, (size_t)(dot - p));
        num[dot - p] = '\0';
        if (str_to_i64(num, i == 0 ? 0 : INT64_MIN, INT64_MAX, dst[i]) != 0)
            return -EINVAL;
        p = dot + 1;
    }
    /* the key stays a C string: no NUL inside, room for the one after it */
    int n = str_unhex(p, strlen(p), (unsigned char *)c->key, sizeof c->key - 1);
    if (n < 0 || memchr(c->key, '\0', (size_t)n))
        return -EINVAL;
    return 0;
}

/* ---- GET /api/devices ---------------------------------------------------------------------- */

typedef struct list_job {
    acs_t *a;
    http_req_t *req;
    store_filter_t filter;
    store_search_t q;
    cursor_t cur;
    bool has_cursor;
    int64_t limit;
    int64_t offset;
    /* out */
    json_t *out;
    int64_t total, got;
    bool more;               /* rows beyond this page in the direction read */
    cursor_t first, last;    /* of the page, in the sort order */
} list_job_t;

static void key_of(list_job_t *j, const store_device_t *d, int64_t rid, cursor_t *c)
{
    c->sort = j->q.sort;
    c->desc = j->q.desc;
    c->rid = rid;
    str_copy(c->key, sizeof c->key, store_sort_key(d, j->q.sort, &c->num));
}

static int list_row(const store_device_t *d, int64_t rid, void *ud)
{
    list_job_t *j = ud;
    if (j->got == j->limit) {
        j->more = true; /* the one extra row read: there is a further page */
        return 1;
    }
    j->got++;
    json_t *o = acs_device_json(d, j->q.now, j->a->default_interval_s);
    if (j->q.backward)
        json_array_insert_new(j->out, 0, o);
    else
        json_array_append_new(j->out, o);
    /* backward rows come nearest first: the last read is the page's first */
    if (j->got == 1)
        key_of(j, d, rid, j->q.backward ? &j->last : &j->first);
    key_of(j, d, rid, j->q.backward ? &j->first : &j->last);
    return 0;
}

static int list_run(store_t *st, void *ud)
{
    list_job_t *j = ud;
    j->out = json_array();
    if (!j->out)
        return -ENOMEM;
    j->q.now = clock_real_s();
    j->q.default_interval = j->a->default_interval_s;
    j->q.limit = j->limit + 1;
    return store_device_search(st, &j->q, list_row, j, &j->total);
}

/* The request's query without cursor= and offset=, for the links. */
static void base_query(http_req_t *req, buf_t *out)
{
    const char *q = http_req_query(req);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        bool drop = (n >= 6 && !strncmp(q, "cursor", 6) && (n == 6 || q[6] == '=')) ||
                    (n >= 6 && !strncmp(q, "offset", 6) && (n == 6 || q[6] == '='));
        if (n && !drop) {
            /* the target as the client sent it, with anything that could
             * end the <URI> or the header percent-encoded */
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)q[i];
                if (c > 0x20 && c < 0x7f && !strchr("<>\"\\^`{|}", c))
                    buf_append_byte(out, (char)c);
                else
                    buf_printf(out, "%%%02X", c);
            }
            buf_append_byte(out, '&');
        }
        q = amp ? amp + 1 : NULL;
    }
}

static void add_link(buf_t *h, http_req_t *req, const cursor_t *c, const char *rel)
{
    char cur[CURSOR_MAX];
    cursor_encode(c, cur, sizeof cur);
    buf_printf(h, "%s<%s?", h->len ? ", " : "Link: ", http_req_path(req));
    base_query(req, h);
    buf_printf(h, "cursor=%s>; rel=\"%s\"", cur, rel);
}

static void list_done(int rc, void *ud)
{
    list_job_t *j = ud;
    http_req_t *req = j->req;
    if (rc < 0) {
        if (rc == -E2BIG)
            acs_api_error(req, 400, "bad_filter", "filter: too large to run");
        else
            acs_api_store_error(req, rc);
        json_decref(j->out);
        free(j);
        return;
    }
    buf_t h = BUF_INIT(64 * 1024); /* two links with the query, filter included */
    if (j->got > 0) {
        /* next: read forward and there was more, or came backward (from a later page);
         * prev: read backward and there was more, or came forward from a cursor/offset */
        bool next = j->q.backward || j->more;
        bool prev = j->q.backward ? j->more : (j->has_cursor || j->offset > 0);
        if (next) {
            j->last.backward = false;
            add_link(&h, req, &j->last, "next");
        }
        if (prev) {
            j->first.backward = true;
            add_link(&h, req, &j->first, "prev");
        }
    }
    if (h.len)
        buf_append_str(&h, "\r\n");
    buf_printf(&h, "X-Total-Count: %" PRId64 "\r\n", j->total);
    char *s = json_dumps(j->out, JSON_COMPACT);
    if (!s || !h.data)
        acs_api_error(req, 500, "internal", "out of memory");
    else
        http_respond_hdrs(req, 200, h.data, "application/json", s, strlen(s));
    free(s);
    buf_free(&h);
    json_decref(j->out);
    free(j);
}

static int query_text(http_req_t *req, const char *name, char *out, size_t len)
{
    buf_t b = BUF_INIT(len);
    int rc = http_req_query_param(req, name, &b);
    if (rc == 0 && b.data && strlen(b.data) != b.len)
        rc = -EINVAL; /* a NUL inside */
    if (rc == 0)
        str_copy(out, len, b.data ? b.data : "");
    buf_free(&b);
    return rc;
}

/* 400 {"error": "bad_request", "message": ..., "field": name} */
static void bad_field(http_req_t *req, const char *code, const char *field, const char *msg)
{
    acs_api_json(req, 400, json_pack("{s:s, s:s, s:s}", "error", code, "message", msg, "field",
                                      field));
}

static bool text_param(http_req_t *req, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    int rc = query_text(req, name, out, len);
    if (rc == 0 || rc == -ENOENT)
        return true;
    char msg[96];
    snprintf(msg, sizeof msg, "%s: too long or malformed", name);
    bad_field(req, "bad_request", name, msg);
    return false;
}

static bool int_param(http_req_t *req, const char *name, int64_t min, int64_t max, int64_t *out)
{
    char v[32];
    if (!text_param(req, name, v, sizeof v))
        return false;
    if (!v[0])
        return true;
    if (str_to_i64(v, min, max, out) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: an integer in [%" PRId64 ", %" PRId64 "]", name, min, max);
        bad_field(req, "bad_request", name, msg);
        return false;
    }
    return true;
}

/* filter=, and the older tag=, q= and online= ANDed to it. */
static bool parse_filter(http_req_t *req, store_filter_t *f)
{
    char *text = malloc(STORE_FILTER_MAX + 1);
    if (!text) {
        acs_api_error(req, 500, "internal", "out of memory");
        return false;
    }
    int rc = query_text(req, "filter", text, STORE_FILTER_MAX + 1);
    if (rc == -ENOBUFS || rc == -EINVAL) {
        free(text);
        bad_field(req, "bad_filter", "filter", rc == -ENOBUFS ? "filter: longer than 2048 bytes"
                                                              : "filter: malformed query encoding");
        return false;
    }
    store_filter_error_t e;
    rc = store_filter_parse(f, rc == 0 ? text : "", rc == 0 ? strlen(text) : 0, &e);
    free(text);
    if (rc < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "filter: %s at position %zu", e.msg[0] ? e.msg : "too complex",
                 e.pos);
        acs_api_json(req, 400, json_pack("{s:s, s:s, s:s, s:I}", "error", "bad_filter", "message",
                                         msg, "field", "filter", "position", (json_int_t)e.pos));
        return false;
    }
    char tag[128], q[128], online[8];
    if (!text_param(req, "tag", tag, sizeof tag) || !text_param(req, "q", q, sizeof q) ||
        !text_param(req, "online", online, sizeof online))
        return false;
    static const store_filter_field_t q_fields[] = { SF_F_ID, SF_F_SERIAL, SF_F_MODEL };
    bool b = false;
    if (online[0] && cfg_parse_bool(online, &b) != 0) {
        bad_field(req, "bad_request", "online", "online: true or false");
        return false;
    }
    if ((tag[0] && store_filter_and_cmp(f, SF_F_TAG, SF_EQ, tag) < 0) ||
        (q[0] && store_filter_and_any(f, q_fields, 3, SF_PREFIX_CI, q) < 0) ||
        (online[0] && store_filter_and_cmp(f, SF_F_ONLINE, SF_EQ, b ? "true" : "false") < 0)) {
        bad_field(req, "bad_filter", "filter", "filter: too complex");
        return false;
    }
    return true;
}

static void h_devices(http_req_t *req, void *ud)
{
    list_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    j->a = ud;
    j->req = req;
    j->limit = PAGE_DEFAULT;
    char sort[32], cur[CURSOR_MAX];
    if (!int_param(req, "limit", 1, PAGE_MAX, &j->limit) ||
        !int_param(req, "offset", 0, INT64_MAX / 2, &j->offset) ||
        !text_param(req, "sort", sort, sizeof sort) || !text_param(req, "cursor", cur, sizeof cur) ||
        !parse_filter(req, &j->filter))
        goto fail;
    if (sort[0] && store_sort_parse(sort, &j->q.sort, &j->q.desc) != 0) {
        bad_field(req, "bad_request", "sort",
                  "sort: id, serial, model, oui, software_version, last_inform or first_seen,"
                  " - first for descending");
        goto fail;
    }
    if (cur[0]) {
        if (cursor_decode(cur, &j->cur) != 0) {
            bad_field(req, "bad_cursor", "cursor", "cursor: not one this API gave");
            goto fail;
        }
        if (j->cur.sort != j->q.sort || j->cur.desc != j->q.desc) {
            bad_field(req, "bad_cursor", "cursor", "cursor: made for another sort order");
            goto fail;
        }
        if (j->offset > 0) {
            bad_field(req, "bad_request", "offset", "offset: not with a cursor");
            goto fail;
        }
        j->has_cursor = true;
        j->q.has_key = true;
        j->q.backward = j->cur.backward;
        j->q.key_text = j->cur.key;
        j->q.key_num = j->cur.num;
        j->q.key_rid = j->cur.rid;
    }
    j->q.filter = &j->filter;
    j->q.offset = j->offset;
    int rc = store_worker_submit(j->a->db, list_run, list_done, j);
    if (rc == 0)
        return;
    acs_api_store_error(req, rc);
fail:
    free(j);
}

/* ---- one tag: PUT/DELETE /api/devices/{id}/tags/{tag} --------------------------------- */

typedef struct tag_job {
    acs_t *a;
    http_req_t *req;
    bool add;
    char id[STORE_ID_MAX];
    char tag[TAG_MAX + 1];
    store_device_t dev;
    json_t *out;
} tag_job_t;

/* A tag: 1-64 of [A-Za-z0-9_.:-] (no comma: they are stored comma-joined). */
bool acs_tag_valid(const char *t)
{
    size_t n = 0;
    for (; t[n]; n++) {
        char c = t[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return n >= 1 && n <= TAG_MAX;
}

static int tag_run(store_t *st, void *ud)
{
    tag_job_t *j = ud;
    int rc = store_device_get(st, j->id, &j->dev);
    if (rc < 0)
        return rc;
    /* the device's tags without this one, then with it when adding */
    char tags[STORE_TAGS] = "";
    size_t off = 0;
    char *save = NULL;
    for (char *t = strtok_r(j->dev.tags, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, j->tag))
            continue;
        off += (size_t)snprintf(tags + off, sizeof tags - off, "%s%s", off ? "," : "", t);
    }
    if (j->add) {
        if (off + strlen(j->tag) + 2 > sizeof tags)
            return -ENOSPC;
        off += (size_t)snprintf(tags + off, sizeof tags - off, "%s%s", off ? "," : "", j->tag);
    }
    if ((rc = store_device_set_tags(st, j->id, tags)) < 0 ||
        (rc = store_device_get(st, j->id, &j->dev)) < 0)
        return rc;
    j->out = acs_device_json(&j->dev, clock_real_s(), j->a->default_interval_s);
    return 0;
}

static void tag_done(int rc, void *ud)
{
    tag_job_t *j = ud;
    if (rc == -ENOENT)
        acs_api_json(j->req, 404, json_pack("{s:s, s:s, s:s}", "error", "not_found", "message",
                                            "no such device", "field", "id"));
    else if (rc == -ENOSPC)
        acs_api_json(j->req, 422, json_pack("{s:s, s:s, s:s}", "error", "invalid_tag", "message",
                                            "tag: the device's tags would pass 511 characters",
                                            "field", "tag"));
    else if (rc < 0 || !j->out)
        acs_api_store_error(j->req, rc);
    else {
        acs_api_json(j->req, 200, j->out);
        j->out = NULL;
    }
    json_decref(j->out);
    free(j);
}

static void h_tag(http_req_t *req, void *ud, bool add)
{
    const char *id = http_req_param(req, "id"), *tag = http_req_param(req, "tag");
    tag_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    if (!id || str_copy(j->id, sizeof j->id, id) != 0) {
        free(j);
        acs_api_json(req, 404, json_pack("{s:s, s:s, s:s}", "error", "not_found", "message",
                                         "no such device", "field", "id"));
        return;
    }
    if (!tag || !acs_tag_valid(tag)) {
        free(j);
        acs_api_json(req, 422, json_pack("{s:s, s:s, s:s}", "error", "invalid_tag", "message",
                                         "tag: 1-64 characters of A-Z a-z 0-9 _ . : -", "field",
                                         "tag"));
        return;
    }
    str_copy(j->tag, sizeof j->tag, tag);
    j->a = ud;
    j->req = req;
    j->add = add;
    int rc = store_worker_submit(j->a->db, tag_run, tag_done, j);
    if (rc != 0) {
        free(j);
        acs_api_store_error(req, rc);
    }
}

static void h_tag_put(http_req_t *req, void *ud) { h_tag(req, ud, true); }
static void h_tag_delete(http_req_t *req, void *ud) { h_tag(req, ud, false); }

/* ---- --search-param ------------------------------------------------------------------------ */

int acs_search_param_check(const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n == 0 || n > 255 || strchr(v, ' ')) {
        snprintf(err, errlen, "a parameter name of 1-255 bytes without spaces");
        return -EINVAL;
    }
    return 0;
}

int acs_search_params_sync(acs_t *a)
{
    int rc = store_begin(a->store);
    if (rc == 0) {
        rc = store_search_params_set(a->store, (const char *const *)a->o.search_params.v,
                                     a->o.search_params.n);
        rc = rc == 0 ? store_commit(a->store) : (store_rollback(a->store), rc);
    }
    if (rc < 0)
        log_error("search_params", LF_ERR(rc));
    return rc < 0 ? 1 : 0;
}

/* ---- routes: reading is a viewer's, tagging an operator's ------------------------------ */

static const http_route_t search_routes[] = {
    HTTP_ROUTE("GET", "/api/devices", HTTP_ACCESS_VIEWER, h_devices),
    HTTP_ROUTE("PUT", "/api/devices/{id}/tags/{tag}", HTTP_ACCESS_OPERATOR, h_tag_put),
    HTTP_ROUTE("DELETE", "/api/devices/{id}/tags/{tag}", HTTP_ACCESS_OPERATOR, h_tag_delete),
};

int acs_search_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, search_routes, a);
}
