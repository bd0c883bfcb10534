#include "core/str.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int str_copyn(char *dst, size_t size, const char *src, size_t n)
{
    if (size == 0)
        return -ENAMETOOLONG;
    int rc = 0;
    if (n >= size) {
        n = size - 1;
        rc = -ENAMETOOLONG;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return rc;
}

int str_copy(char *dst, size_t size, const char *src)
{
    return str_copyn(dst, size, src, strlen(src));
}

bool str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool str_ieq_n(const char *s, size_t n, const char *t)
{
    size_t m = strlen(t);
    return n == m && strncasecmp(s, t, n) == 0;
}

int str_to_u64n(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    bool neg = *s == '-';
    const char *d = neg || *s == '+' ? s + 1 : s;
    uint64_t mag;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int rc = str_to_u64n(d, strlen(d), lim, &mag);
    if (rc)
        return rc;
    int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

bool str_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    const volatile unsigned char *x = a, *y = b;
    unsigned char acc = 0;
    for (size_t i = 0; i < alen; i++)
        acc |= x[i] ^ y[i];
    return acc == 0;
}

char *str_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

void str_hex(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int str_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int str_unhex(const char *s, size_t n, unsigned char *out, size_t outcap)
{
    if (n % 2)
        return -EINVAL;
    if (n / 2 > outcap || n / 2 > INT_MAX)
        return -ENOBUFS;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = str_hexval(s[2 * i]), lo = str_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return (int)(n / 2);
}

bool str_hex_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int str_base64_encode(buf_t *out, const void *in, size_t n)
{
    const unsigned char *p = in;
    int rc = buf_reserve(out, (n + 2) / 3 * 4);
    if (rc)
        return rc;
    char *o = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int str_base64_decode(buf_t *out, const char *in, size_t n)
{
    /* Whitespace is skipped (MIME line breaks); padding is optional. */
    uint32_t acc = 0;
    int bits = 0;
    size_t pad = 0;
    int rc = buf_reserve(out, n / 4 * 3 + 3);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad)
            return -EINVAL; /* data after padding */
        int v = b64_val(c);
        if (v < 0)
            return -EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (pad > 2 || bits >= 6)
        return -EINVAL;
    out->data[out->len] = '\0';
    return 0;
}

int str_pct_encode(buf_t *out, const char *in, size_t n, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        int rc;
        if (isalnum(c) || (c && keep && strchr(keep, c)))
            rc = buf_append_byte(out, (char)c);
        else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            rc = buf_append(out, e, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int str_pct_decode(buf_t *out, const char *in, size_t n, bool plus_is_space)
{
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (n - i < 3)
                return -EINVAL;
            int hi = str_hexval(in[i + 1]), lo = str_hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        int rc = buf_append_byte(out, c);
        if (rc)
            return rc;
    }
    return 0;
}

static int random_kernel(void *p, size_t n)
{
    unsigned char *b = p;
    while (n) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Small requests (cookies, nonces, tokens: one per CWMP session) are served
 * from a per-thread pool of kernel bytes refilled RANDOM_POOL at a time, so
 * most cost no system call. A byte is handed out once and wiped from the
 * pool as it goes; a forked child starts with an empty pool (it must never
 * repeat its parent's bytes). */
enum { RANDOM_POOL = 512, RANDOM_POOLED_MAX = 64 };
static _Thread_local unsigned char random_pool[RANDOM_POOL];
static _Thread_local size_t random_left;
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void random_forget(void)
{
    explicit_bzero(random_pool, sizeof random_pool);
    random_left = 0;
}

static void random_init(void)
{
    (void)pthread_atfork(NULL, NULL, random_forget);
}

int str_random(void *p, size_t n)
{
    if (n > RANDOM_POOLED_MAX)
        return random_kernel(p, n);
    pthread_once(&random_once, random_init);
    if (random_left < n) {
        int rc = random_kernel(random_pool, sizeof random_pool);
        if (rc) {
            random_forget();
            return rc;
        }
        random_left = sizeof random_pool;
    }
    unsigned char *from = random_pool + random_left - n;
    memcpy(p, from, n);
    explicit_bzero(from, n);
    random_left -= n;
    return 0;
}

uint64_t str_seed64(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        if (str_random(&state, sizeof state) != 0)
            state = (uint64_t)(uintptr_t)&state ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
        seeded = true;
    }
    /* splitmix64: each output a bijective mix of a distinct counter value */
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int str_random_hex(char *out, size_t nbytes)
{
    unsigned char tmp[64];
    if (nbytes > sizeof tmp)
        return -EINVAL;
    int rc = str_random(tmp, nbytes);
    if (rc)
        return rc;
    str_hex(tmp, nbytes, out);
    return 0;
}

int str_json_escape(buf_t *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc = c == '"' || c == '\\' ? buf_printf(out, "\\%c", c)
                 : c < 0x20          ? buf_printf(out, "\\u%04x", c)
                                     : buf_append_byte(out, (char)c);
        if (rc)
            return rc;
    }
    return 0;
}
