/*
 * acs_keys: API keys in memory (the router's lookup), their reload when the
 * store says they changed, and /api/keys (see acs_keys.h).
 */
#include "acs/acs_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum {
    ID_HEX = 12,             /* the public id: 6 random bytes */
    SECRET_BYTES = 32,
    TOKEN_TEXT = 4 + ID_HEX + 1 + 2 * SECRET_BYTES, /* "opk_" ID "_" SECRET */
    HASH_BYTES = ACS_KEY_HASH_LEN,
    USE_GRAIN_S = 60,        /* last use is kept to the minute */
    NAME_MAX_CHARS = STORE_NAME - 1,
};

#define TOKEN_ID ACS_KEY_TOKEN_ID

typedef struct key_ent {
    unsigned char hash[HASH_BYTES]; /* the table's key */
    char id[STORE_KEY_ID];
    int role;                /* http_access_t */
    int64_t last_used;       /* Unix s */
    bool dirty;              /* last_used not written to the store yet */
} key_ent_t;

typedef struct acs_keys {
    acs_t *a;
    hmap_t by_hash;          /* SHA-256 of a secret -> key_ent_t */
    uv_timer_t poll;
    bool timer_on;
    bool in_flight;          /* a poll job is out */
    bool force;              /* read the keys at the next poll whatever the version */
    int64_t version;         /* the store's key version the table holds */
} acs_keys_t;

/* ---- tokens ----------------------------------------------------------------------------- */

static int sha256(const void *in, size_t n, unsigned char out[HASH_BYTES])
{
    unsigned int len = 0;
    return EVP_Digest(in, n, out, &len, EVP_sha256(), NULL) == 1 && len == HASH_BYTES ? 0 : -EIO;
}

/* Lowercase hex only: one spelling per token. */
static int unhex(const char *s, size_t nbytes, unsigned char *out)
{
    if (!str_hex_lower(s, 2 * nbytes) || str_unhex(s, 2 * nbytes, out, nbytes) < 0)
        return -EINVAL;
    return 0;
}

/* A token's id (pointer into it, ID_HEX chars) and the hash of its secret. */
static int token_parse(const char *t, size_t len, const char **id, unsigned char hash[HASH_BYTES])
{
    unsigned char secret[SECRET_BYTES];
    if (len != TOKEN_TEXT || memcmp(t, "opk_", 4) != 0 || t[4 + ID_HEX] != '_')
        return -EINVAL;
    if (!str_hex_lower(t + 4, ID_HEX))
        return -EINVAL;
    if (unhex(t + 4 + ID_HEX + 1, SECRET_BYTES, secret))
        return -EINVAL;
    *id = t + 4;
    int rc = sha256(secret, sizeof secret, hash);
    memset(secret, 0, sizeof secret);
    return rc;
}

static int check_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;
    json_t *utf8 = n ? json_string(name) : NULL; /* NULL: not UTF-8 */
    bool ok = utf8 && n <= NAME_MAX_CHARS;
    json_decref(utf8);
    for (size_t i = 0; ok && i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            ok = false;
    if (!ok)
        snprintf(err, errlen, "name: 1-%d bytes of UTF-8 text without control characters",
                 NAME_MAX_CHARS);
    return ok ? 0 : -EINVAL;
}

int acs_key_make(const char *name, const char *role, int64_t now, store_key_t *k, char *token,
                 char *err, size_t errlen)
{
    http_access_t acc;
    if (check_name(name, err, errlen))
        return -EINVAL;
    if (!role || http_access_parse(role, &acc) != 0) {
        snprintf(err, errlen, "role: one of viewer, operator, admin");
        return -EINVAL;
    }
    memset(k, 0, sizeof *k);
    unsigned char secret[SECRET_BYTES], hash[HASH_BYTES];
    char secret_hex[2 * SECRET_BYTES + 1];
    int rc = str_random_hex(k->id, ID_HEX / 2);
    if (!rc)
        rc = str_random(secret, sizeof secret);
    if (!rc)
        rc = sha256(secret, sizeof secret, hash);
    if (rc) {
        snprintf(err, errlen, "no randomness or hash: %s", strerror(-rc));
        return rc;
    }
    str_hex(secret, sizeof secret, secret_hex);
    str_hex(hash, sizeof hash, k->hash);
    snprintf(token, ACS_KEY_TOKEN_LEN, "opk_%.12s_%.64s", k->id, secret_hex);
    str_copy(k->name, sizeof k->name, name);
    str_copy(k->role, sizeof k->role, role);
    k->created = now;
    memset(secret, 0, sizeof secret);
    memset(secret_hex, 0, sizeof secret_hex);
    return 0;
}

json_t *acs_key_json(const store_key_t *k)
{
    char c[CLOCK_ISO_LEN], u[CLOCK_ISO_LEN];
    acs_iso(k->created, c);
    acs_iso(k->last_used, u);
    return json_pack("{s:s, s:o, s:s, s:s, s:o, s:o}", "id", k->id, "name", acs_json_text(k->name),
                     "role", k->role, "source", "store", "created", c[0] ? json_string(c) : json_null(),
                     "last_used", u[0] ? json_string(u) : json_null());
}

json_t *acs_key_token_json(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:n, s:n}", "id", TOKEN_ID, "name",
                     "--api-token (or DATA_DIR/api-token)", "role", "admin", "source", "config",
                     "created", "last_used");
}

/* ---- the table -------------------------------------------------------------------------- */

static void table_clear(hmap_t *m)
{
    key_ent_t *e;
    for (size_t i = 0; (e = hmap_next(m, &i, NULL));)
        free(e);
    hmap_free(m);
}

static key_ent_t *find_id(const hmap_t *m, const char *id)
{
    key_ent_t *e;
    for (size_t i = 0; (e = hmap_next(m, &i, NULL));)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

/* One stored key into the table m; a row the ACS cannot use is said once
 * and left out. A use known in `old` and newer than the store's is kept. */
static int table_add(hmap_t *m, const store_key_t *k, const hmap_t *old)
{
    http_access_t role;
    key_ent_t *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    if (http_access_parse(k->role, &role) != 0 || strlen(k->hash) != 2 * HASH_BYTES ||
        unhex(k->hash, HASH_BYTES, e->hash) != 0) {
        log_warn("api_key_unusable", LF_S("id", k->id), LF_S("reason", "bad role or hash in the store"));
        free(e);
        return 0;
    }
    str_copy(e->id, sizeof e->id, k->id);
    e->role = role;
    e->last_used = k->last_used;
    const key_ent_t *was = old ? hmap_get(old, (const char *)e->hash, HASH_BYTES) : NULL;
    if (was && strcmp(was->id, e->id) == 0 && was->last_used > e->last_used) {
        e->last_used = was->last_used;
        e->dirty = was->dirty;
    }
    int rc = hmap_put(m, (const char *)e->hash, HASH_BYTES, e);
    if (rc)
        free(e);
    return rc == -EEXIST ? 0 : rc;
}

/* The table becomes k[0..n); said when the version moved or `say`. */
static void table_replace(acs_keys_t *ks, const store_key_t *k, size_t n, int64_t version, bool say)
{
    hmap_t m;
    hmap_init(&m);
    for (size_t i = 0; i < n; i++)
        if (table_add(&m, &k[i], &ks->by_hash) != 0) {
            log_error("api_keys_load_failed", LF_S("reason", "out of memory; the keys stay as they were"));
            table_clear(&m);
            return;
        }
    bool changed = say || version != ks->version;
    table_clear(&ks->by_hash);
    ks->by_hash = m;
    ks->version = version;
    if (changed)
        log_info("api_keys_loaded", LF_U("keys", hmap_len(&m)), LF_I("version", version));
    /* a key gone from the store (revoked on the command line, deleted by
     * hand) must not keep the event streams it opened */
    acs_events_keys_changed(ks->a);
}

int acs_key_role(const char *token, size_t len, void *ud)
{
    acs_t *a = ud;
    const char *id;
    unsigned char hash[HASH_BYTES];
    if (!a->keys || token_parse(token, len, &id, hash) != 0)
        return -1;
    key_ent_t *e = hmap_get(&a->keys->by_hash, (const char *)hash, HASH_BYTES);
    /* the hash decides; the id must agree (a token is one string) */
    if (!e || memcmp(e->id, id, ID_HEX) != 0)
        return -1;
    int64_t now = clock_real_s();
    if (now - e->last_used >= USE_GRAIN_S) {
        e->last_used = now;
        e->dirty = true;
    }
    return e->role;
}

int acs_key_who(const acs_t *a, const char *authorization, acs_key_who_t *out)
{
    memset(out, 0, sizeof *out);
    /* the router's order: a token that is its own is the --api-token, even
     * if it were also a key's */
    if (a->api_token[0] && http_auth_bearer(authorization, a->api_token) == HTTP_AUTH_OK)
        return 0;
    const char *tok = http_auth_bearer_value(authorization), *id;
    if (!a->keys || !tok || token_parse(tok, strlen(tok), &id, out->hash) != 0)
        return -ENOENT;
    const key_ent_t *e = hmap_get(&a->keys->by_hash, (const char *)out->hash, HASH_BYTES);
    if (!e || memcmp(e->id, id, ID_HEX) != 0)
        return -ENOENT;
    out->key = true;
    str_copy(out->id, sizeof out->id, e->id);
    return 0;
}

int acs_key_who_role(const acs_t *a, const acs_key_who_t *who)
{
    if (!who->key)
        return HTTP_ACCESS_ADMIN; /* the --api-token changes only with a restart */
    const key_ent_t *e =
        a->keys ? hmap_get(&a->keys->by_hash, (const char *)who->hash, HASH_BYTES) : NULL;
    /* by hash, then id: a row rewritten by hand with another secret is another key */
    return e && strcmp(e->id, who->id) == 0 ? e->role : -1;
}

/* ---- loading and the poll --------------------------------------------------------------- */

typedef struct key_list {
    store_key_t *k;
    size_t n, cap;
} key_list_t;

static int collect(const store_key_t *k, void *ud)
{
    key_list_t *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        if (cap > STORE_KEYS_MAX)
            cap = STORE_KEYS_MAX;
        if (l->n >= cap)
            return 1; /* more than the cap (written by hand): the first ones */
        store_key_t *nk = realloc(l->k, cap * sizeof *nk);
        if (!nk)
            return -ENOMEM;
        l->k = nk;
        l->cap = cap;
    }
    l->k[l->n++] = *k;
    return 0;
}

static int list_all(store_t *s, key_list_t *l)
{
    int rc = store_key_list(s, collect, l);
    return rc < 0 ? rc : 0;
}

typedef struct poll_job {
    acs_t *a;
    bool force;
    int64_t known;
    struct touch {
        char id[STORE_KEY_ID];
        int64_t at;
    } *touch;
    size_t ntouch;
    /* out */
    int64_t version;
    bool loaded;
    key_list_t keys;
} poll_job_t;

static int poll_run(store_t *s, void *ud)
{
    poll_job_t *j = ud;
    for (size_t i = 0; i < j->ntouch; i++)
        (void)store_key_touch(s, j->touch[i].id, j->touch[i].at);
    int rc = store_key_version(s, &j->version);
    if (rc || (!j->force && j->version == j->known))
        return rc;
    j->loaded = true;
    return list_all(s, &j->keys);
}

static void poll_done(int rc, void *ud)
{
    poll_job_t *j = ud;
    acs_keys_t *ks = j->a->keys;
    ks->in_flight = false;
    if (rc == 0 && j->loaded && !j->a->stopping)
        table_replace(ks, j->keys.k, j->keys.n, j->version, j->force);
    else if (rc != 0 && j->force)
        ks->force = true; /* try again at the next tick */
    free(j->keys.k);
    free(j->touch);
    free(j);
}

static void poll_now(acs_keys_t *ks)
{
    acs_t *a = ks->a;
    if (ks->in_flight || !a->db || a->stopping)
        return;
    poll_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->a = a;
    j->force = ks->force;
    j->known = ks->version;
    size_t dirty = 0;
    key_ent_t *e;
    for (size_t i = 0; (e = hmap_next(&ks->by_hash, &i, NULL));)
        dirty += e->dirty;
    if (dirty && (j->touch = calloc(dirty, sizeof *j->touch)))
        for (size_t i = 0; (e = hmap_next(&ks->by_hash, &i, NULL));)
            if (e->dirty) {
                str_copy(j->touch[j->ntouch].id, STORE_KEY_ID, e->id);
                j->touch[j->ntouch++].at = e->last_used;
                e->dirty = false;
            }
    if (store_worker_submit(a->db, poll_run, poll_done, j) != 0) {
        free(j->touch);
        free(j);
        return;
    }
    ks->in_flight = true;
    ks->force = false;
}

static void on_poll(uv_timer_t *t)
{
    poll_now(t->data);
}

int acs_keys_start(acs_t *a)
{
    acs_keys_t *ks = calloc(1, sizeof *ks);
    if (!ks)
        return -ENOMEM;
    ks->a = a;
    ks->version = -1;
    hmap_init(&ks->by_hash);
    a->keys = ks;
    key_list_t l = { 0 };
    int64_t v = 0;
    int rc = store_key_version(a->store, &v);
    if (!rc)
        rc = list_all(a->store, &l);
    if (!rc)
        table_replace(ks, l.k, l.n, v, true);
    free(l.k);
    if (rc) {
        log_error("api_keys_load_failed", LF_ERR(rc));
        return rc;
    }
    uv_timer_init(a->loop, &ks->poll);
    ks->poll.data = ks;
    ks->timer_on = true;
    uv_timer_start(&ks->poll, on_poll, ACS_KEYS_POLL_MS, ACS_KEYS_POLL_MS);
    return 0;
}

void acs_keys_reload(acs_t *a)
{
    if (!a->keys)
        return;
    a->keys->force = true;
    poll_now(a->keys);
}

void acs_keys_stop(acs_t *a)
{
    acs_keys_t *ks = a->keys;
    if (ks && ks->timer_on) {
        uv_timer_stop(&ks->poll);
        uv_close((uv_handle_t *)&ks->poll, NULL);
        ks->timer_on = false;
    }
}

void acs_keys_free(acs_t *a)
{
    if (!a->keys)
        return;
    table_clear(&a->keys->by_hash);
    free(a->keys);
    a->keys = NULL;
}

/* ---- /api/keys ------------------------------------------------------------------------- */

enum { K_LIST, K_ADD, K_DELETE };

typedef struct key_job {
    acs_t *a;
    http_req_t *req;
    int kind;
    store_key_t k;
    char token[ACS_KEY_TOKEN_LEN];
    key_list_t list;
} key_job_t;

static void key_job_free(key_job_t *j)
{
    memset(j->token, 0, sizeof j->token);
    free(j->list.k);
    free(j);
}

static int key_run(store_t *s, void *ud)
{
    key_job_t *j = ud;
    switch (j->kind) {
    case K_LIST: return list_all(s, &j->list);
    case K_ADD: return store_key_add(s, &j->k);
    default: return store_key_delete(s, j->k.id);
    }
}

static void key_done(int rc, void *ud)
{
    key_job_t *j = ud;
    acs_keys_t *ks = j->a->keys;
    http_req_t *req = j->req;
    if (rc == -ENOSPC) {
        acs_api_error(req, 409, "too_many_keys", "the ACS keeps at most 1000 keys: revoke some first");
    } else if (rc == -ENOENT) {
        acs_api_error(req, 404, "not_found", "no such key");
    } else if (rc < 0) {
        acs_api_store_error(req, rc);
    } else if (j->kind == K_LIST) {
        json_t *arr = json_array();
        json_array_append_new(arr, acs_key_token_json());
        for (size_t i = 0; i < j->list.n; i++) {
            /* a use not written yet is newer than the store's */
            key_ent_t *e = find_id(&ks->by_hash, j->list.k[i].id);
            if (e && e->last_used > j->list.k[i].last_used)
                j->list.k[i].last_used = e->last_used;
            json_array_append_new(arr, acs_key_json(&j->list.k[i]));
        }
        acs_api_json(req, 200, arr);
    } else if (j->kind == K_ADD) {
        /* usable at once, before the next poll reads it back */
        (void)table_add(&ks->by_hash, &j->k, NULL);
        log_info("api_key_created", LF_S("id", j->k.id), LF_S("name", j->k.name),
                 LF_S("role", j->k.role), LF_S("by", "api"));
        json_t *o = acs_key_json(&j->k);
        json_object_set_new(o, "token", json_string(j->token));
        acs_api_json(req, 201, o);
    } else {
        key_ent_t *e = find_id(&ks->by_hash, j->k.id);
        if (e)
            free(hmap_del(&ks->by_hash, (const char *)e->hash, HASH_BYTES));
        log_info("api_key_revoked", LF_S("id", j->k.id), LF_S("by", "api"));
        /* its event streams end before the 204: none gets an event after it */
        acs_events_keys_changed(j->a);
        http_respond(req, 204, NULL, NULL, 0);
    }
    key_job_free(j);
}

static void key_submit(acs_t *a, http_req_t *req, key_job_t *j)
{
    j->a = a;
    j->req = req;
    int rc = store_worker_submit(a->db, key_run, key_done, j);
    if (rc)
        key_done(rc, j);
}

static void h_keys(http_req_t *req, void *ud)
{
    key_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    j->kind = K_LIST;
    key_submit(ud, req, j);
}

/* POST {"name": N, "role": R}: a new key; its token is in this answer only. */
static void h_key_add(http_req_t *req, void *ud)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    json_error_t e;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    char err[256] = "";
    if (!o) {
        snprintf(err, sizeof err, "malformed JSON: %.160s (line %d)", e.text, e.line);
        acs_api_error(req, 400, "bad_json", err);
        return;
    }
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        snprintf(err, sizeof err, "expected {\"name\": \"...\", \"role\": \"viewer|operator|admin\"}");
    } else {
        json_object_foreach(o, k, v) {
            if (strcmp(k, "name") != 0 && strcmp(k, "role") != 0) {
                snprintf(err, sizeof err, "%.64s: unknown field (name and role only)", k);
                break;
            }
        }
        json_t *name = json_object_get(o, "name"), *role = json_object_get(o, "role");
        if (!err[0] && !json_is_string(name))
            snprintf(err, sizeof err, "name: a string is required");
        else if (!err[0] && !json_is_string(role))
            snprintf(err, sizeof err, "role: one of viewer, operator, admin is required");
        else if (!err[0] && strlen(json_string_value(name)) != json_string_length(name))
            snprintf(err, sizeof err, "name: no NUL characters");
    }
    key_job_t *j = err[0] ? NULL : calloc(1, sizeof *j);
    if (!err[0] && !j) {
        json_decref(o);
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    if (!err[0] && acs_key_make(json_string_value(json_object_get(o, "name")),
                                json_string_value(json_object_get(o, "role")), clock_real_s(),
                                &j->k, j->token, err, sizeof err) != 0 && !err[0])
        snprintf(err, sizeof err, "cannot make a key");
    json_decref(o);
    if (err[0]) {
        if (j)
            key_job_free(j);
        acs_api_error(req, 422, "invalid_key", err);
        return;
    }
    j->kind = K_ADD;
    key_submit(ud, req, j);
}

static void h_key_delete(http_req_t *req, void *ud)
{
    const char *id = http_req_param(req, "id");
    if (id && strcmp(id, TOKEN_ID) == 0) {
        acs_api_error(req, 409, "conflict",
                      "the --api-token (or DATA_DIR/api-token) is the configuration's admin key: "
                      "change it there and restart the ACS");
        return;
    }
    size_t n = id ? strlen(id) : 0;
    if (n != ID_HEX || !str_hex_lower(id, n)) {
        acs_api_error(req, 404, "not_found", "no such key");
        return;
    }
    key_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    j->kind = K_DELETE;
    str_copy(j->k.id, sizeof j->k.id, id);
    key_submit(ud, req, j);
}

/* Keys are admin business: a key that may make keys may make an admin one. */
static const http_route_t key_routes[] = {
    HTTP_ROUTE("GET", "/api/keys", HTTP_ACCESS_ADMIN, h_keys),
    HTTP_ROUTE("POST", "/api/keys", HTTP_ACCESS_ADMIN, h_key_add),
    HTTP_ROUTE("DELETE", "/api/keys/{id}", HTTP_ACCESS_ADMIN, h_key_delete),
};

int acs_keys_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, key_routes, a);
}
