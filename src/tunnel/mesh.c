/* mesh: routing table, split-brain winner, link tie-break, digest (see mesh.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/str.h"
#include "tunnel/mesh.h"

int tunnel_mesh_cmp(uint64_t ea, const char *ga, uint64_t eb, const char *gb)
{
    if (ea != eb)
        return ea > eb ? 1 : -1;
    int c = strcmp(ga, gb);
    return c < 0 ? 1 : c > 0 ? -1 : 0; /* the name that sorts first wins */
}

void tunnel_mesh_init(tunnel_mesh_t *t)
{
    hmap_init(&t->by_name);
}

void tunnel_mesh_free(tunnel_mesh_t *t)
{
    size_t pos = 0;
    tunnel_route_t *r;
    while ((r = hmap_next(&t->by_name, &pos, NULL)))
        free(r);
    hmap_free(&t->by_name);
}

const tunnel_route_t *tunnel_mesh_get(const tunnel_mesh_t *t, const char *name)
{
    return hmap_get(&t->by_name, name, strlen(name));
}

const tunnel_route_t *tunnel_mesh_next(const tunnel_mesh_t *t, size_t *pos)
{
    return hmap_next(&t->by_name, pos, NULL);
}

int tunnel_mesh_offer(tunnel_mesh_t *t, const char *name, const char *gateway, uint64_t epoch,
                      tunnel_route_t *displaced)
{
    tunnel_route_t *r = hmap_get(&t->by_name, name, strlen(name));
    if (r) {
        int c = tunnel_mesh_cmp(epoch, gateway, r->epoch, r->gateway);
        if (c == 0)
            return TUNNEL_OFFER_SAME;
        if (c < 0)
            return TUNNEL_OFFER_LOST;
        if (displaced)
            *displaced = *r;
        str_copy(r->gateway, sizeof r->gateway, gateway);
        r->epoch = epoch;
        return TUNNEL_OFFER_WON;
    }
    if (!(r = calloc(1, sizeof *r)))
        return -ENOMEM;
    str_copy(r->name, sizeof r->name, name);
    str_copy(r->gateway, sizeof r->gateway, gateway);
    r->epoch = epoch;
    if (hmap_put(&t->by_name, r->name, strlen(r->name), r) != 0) {
        free(r);
        return -ENOMEM;
    }
    return TUNNEL_OFFER_NEW;
}

bool tunnel_mesh_withdraw(tunnel_mesh_t *t, const char *name, const char *gateway, uint64_t epoch)
{
    tunnel_route_t *r = hmap_get(&t->by_name, name, strlen(name));
    if (!r || r->epoch != epoch || strcmp(r->gateway, gateway) != 0)
        return false;
    hmap_del(&t->by_name, r->name, strlen(r->name));
    free(r);
    return true;
}

size_t tunnel_mesh_drop_gateway(tunnel_mesh_t *t, const char *gateway)
{
    size_t n = 0;
    for (;;) {
        /* deleting moves entries (backward shift): look again from the start */
        size_t pos = 0, found = 0;
        tunnel_route_t *r;
        while ((r = hmap_next(&t->by_name, &pos, NULL))) {
            if (strcmp(r->gateway, gateway) == 0) {
                hmap_del(&t->by_name, r->name, strlen(r->name));
                free(r);
                found++;
                break;
            }
        }
        if (!found)
            return n;
        n++;
    }
}

uint64_t tunnel_mesh_next_epoch(const tunnel_mesh_t *t, const char *name, uint64_t now_ms)
{
    const tunnel_route_t *r = tunnel_mesh_get(t, name);
    return r && r->epoch >= now_ms ? r->epoch + 1 : now_ms;
}

const char *tunnel_mesh_keeper(const char *a, const char *b)
{
    return strcmp(a, b) <= 0 ? a : b;
}

/* ---- digest ----------------------------------------------------------------- */

static int strp_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

int tunnel_mesh_digest(const char *const *names, const char *const *hashes, size_t nagents,
                       const tunnel_acl_t *acl, char out[65])
{
    size_t n = nagents + acl->n;
    char **lines = calloc(n ? n : 1, sizeof *lines);
    int rc = lines ? 0 : -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; !rc && i < nagents; i++) {
        size_t len = strlen(names[i]) + strlen(hashes[i]) + 16;
        if (!(lines[k] = malloc(len)))
            rc = -ENOMEM;
        else
            snprintf(lines[k++], len, "agent %s %s\n", names[i], hashes[i]);
    }
    for (size_t i = 0; !rc && i < acl->n; i++) {
        char canon[2048];
        if (tunnel_acl_canon(&acl->rules[i], canon, sizeof canon) != 0) {
            rc = -ENOBUFS;
            break;
        }
        size_t len = strlen(canon) + 8;
        if (!(lines[k] = malloc(len)))
            rc = -ENOMEM;
        else
            snprintf(lines[k++], len, "rule %s\n", canon);
    }
    if (!rc) {
        qsort(lines, k, sizeof *lines, strp_cmp);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char d[32];
        unsigned dl = 0;
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
            rc = -ENOMEM;
        for (size_t i = 0; !rc && i < k; i++)
            if (i == 0 || strcmp(lines[i], lines[i - 1]) != 0) /* a rule given twice is one */
                EVP_DigestUpdate(md, lines[i], strlen(lines[i]));
        if (!rc && EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 32)
            str_hex(d, 32, out);
        else if (!rc)
            rc = -ENOMEM;
        EVP_MD_CTX_free(md);
    }
    for (size_t i = 0; lines && i < k; i++)
        free(lines[i]);
    free(lines);
    return rc;
}
