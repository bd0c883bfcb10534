/*
 * Fuzz harness: the Authorization / WWW-Authenticate parsers of net/http_auth.
 *
 * The input's first byte drives the harness, the rest is the header value:
 *   bit 0 clear: server side, http_auth_check() on the value as Authorization;
 *   bit 0 set:   client side, http_auth_pick_challenge() and
 *                http_auth_client_digest() on the value as WWW-Authenticate;
 *   bits 1-3:    advance the clock by that many 10 s steps (TTL is 60 s);
 *   bit 4:       issue a fresh nonce first.
 * "@N@" in the input is replaced by a nonce this process really issued and
 * "@R@" by the right response for Mufasa's password (computed from the nc=
 * and cnonce= found in the input), so inputs reach the checks behind the
 * nonce MAC and the password: expiry, the nc table, its eviction.
 * Invariants checked: results are in range, a success names a known user,
 * produced headers hold no CR/LF and stay under the cap.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fuzz_ms = 1000000;
static int64_t fuzz_now(void *ud) { return fuzz_ms; }

static int lookup(const char *user, char *out, size_t outlen, void *ud)
{
    if (strcmp(user, "Mufasa") && strcmp(user, "admin"))
        return -2; /* -ENOENT */
    snprintf(out, outlen, "%s", "Circle of Life");
    return 0;
}

static http_auth_t *auth;
static char nonce[128];

/* A fresh nonce from the server's own challenge. */
static void new_nonce(void)
{
    buf_t h = BUF_INIT(4096);
    if (http_auth_challenge(auth, false, &h))
        abort();
    const char *p = strstr(h.data, "nonce=\"");
    if (!p)
        abort();
    p += 7;
    snprintf(nonce, sizeof nonce, "%.*s", (int)(strchr(p, '"') - p), p);
    buf_free(&h);
}

static void setup(void)
{
    http_auth_opts_t o = { .realm = "http-auth@example.org", .basic = true, .digest = true,
                           .nonce_ttl_ms = 60000, .max_nonces = 64 };
    auth = http_auth_new(&o);
    if (!auth)
        abort();
    http_auth_set_clock(auth, fuzz_now, NULL);
    new_nonce();
}

/* The value with "@N@" replaced by the nonce, with 64 bytes to spare. */
static char *expand(const uint8_t *data, size_t size)
{
    size_t nl = strlen(nonce), cap = size * (nl + 1) / 3 + size + 64 + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < size; i++) {
        if (i + 3 <= size && !memcmp(data + i, "@N@", 3)) {
            memcpy(out + j, nonce, nl);
            j += nl;
            i += 2;
        } else {
            out[j++] = (char)data[i];
        }
    }
    out[j] = '\0';
    return out;
}

/* The value of `name=` (quoted or not) in v, into out; "" if absent. */
static void param(const char *v, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    for (const char *p = v; (p = strstr(p, name)); p++) {
        if (p != v && p[-1] != ' ' && p[-1] != ',')
            continue;
        p += strlen(name);
        bool q = *p == '"';
        p += q;
        size_t k = 0;
        while (p[k] && p[k] != (q ? '"' : ',') && k + 1 < n)
            k++;
        memcpy(out, p, k);
        out[k] = '\0';
        return;
    }
}

/* Replace "@R@" by the response Mufasa's password gives. */
static void fill_response(char *v)
{
    char *r = strstr(v, "@R@");
    if (!r)
        return;
    char nc[16], cnonce[64], alg[16], resp[65];
    param(v, "nc=", nc, sizeof nc);
    param(v, "cnonce=", cnonce, sizeof cnonce);
    param(v, "algorithm=", alg, sizeof alg);
    http_digest_alg_t a = strstr(alg, "256") ? HTTP_DIGEST_SHA256 : HTTP_DIGEST_MD5;
    if (http_digest_compute(a, "Mufasa", "http-auth@example.org", "Circle of Life", "GET",
                            "/dir/index.html", nonce, nc, cnonce, "auth", resp, sizeof resp))
        return;
    size_t hl = strlen(resp); /* expand() left 64 spare bytes for this */
    memmove(r + hl, r + 3, strlen(r + 3) + 1);
    memcpy(r, resp, hl);
}

static void check_header(const buf_t *b)
{
    if (b->len && (memchr(b->data, '\r', b->len) || memchr(b->data, '\n', b->len)))
        abort();
    if (b->len > HTTP_AUTH_HEADER_MAX * 2)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!auth)
        setup();
    if (size < 1 || size > 3 * HTTP_AUTH_HEADER_MAX)
        return 0;
    bool server = (data[0] & 1) == 0;
    if (data[0] & 0x10)
        new_nonce();
    fuzz_ms += ((data[0] >> 1) & 7) * 10000; /* age the nonce: 7 steps pass the TTL */
    char *v = expand(data + 1, size - 1);
    if (!v)
        return 0;
    if (server) {
        fill_response(v);
        char user[64];
        const char *why = NULL;
        http_auth_result_t r =
            http_auth_check(auth, "GET", "/dir/index.html", v, lookup, NULL, user, sizeof user,
                            &why);
        if (r > HTTP_AUTH_STALE)
            abort();
        if (r == HTTP_AUTH_OK && strcmp(user, "Mufasa") && strcmp(user, "admin"))
            abort();
        if (r != HTTP_AUTH_OK && !why)
            abort();
    } else {
        const char *vals[2] = { v, "Basic realm=\"x\"" };
        int i = http_auth_pick_challenge(vals, 2, data[0] & 2);
        if (i != -2 && (i < 0 || i > 1))
            abort();
        buf_t out = BUF_INIT(HTTP_AUTH_HEADER_MAX * 2);
        if (http_auth_client_digest(v, "GET", "/dir/index.html", "Mufasa", "Circle of Life", 1,
                                    "0a4f113b", &out) == 0)
            check_header(&out);
        buf_free(&out);
    }
    free(v);
    return 0;
}
