/*
 * Fuzz harness: http_path_canonical, the router's one view of a request path.
 *
 * The input is the raw path (it is cut at the first NUL, as a request line
 * cannot hold one). Invariants checked on success: the canonical form is
 * printable ASCII starting with '/', holds no empty, "." or ".." segment, no
 * escape of an unreserved character and no lower-case escape; it is a fixed
 * point (canonicalising it again gives it back); and it is never longer than
 * the input. On failure a reason is given for every -EINVAL.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canonical(const char *c)
{
    if (c[0] != '/')
        abort();
    size_t n = strlen(c);
    if (n > 1 && c[n - 1] == '/')
        abort();
    for (const char *p = c; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch >= 0x7f)
            abort();
        if (p[0] == '/' && p[1] == '/')
            abort();
        if (p[0] == '/' && p[1] == '.' && (p[2] == '/' || !p[2] || (p[2] == '.' && (p[3] == '/' || !p[3]))))
            abort();
        if (ch == '%') {
            char hex[3] = { p[1], p[2], 0 };
            if (!hex[0] || !hex[1] || strspn(hex, "0123456789ABCDEF") != 2)
                abort();
            unsigned v = (unsigned)strtoul(hex, NULL, 16);
            if ((v >= 'a' && v <= 'z') || (v >= 'A' && v <= 'Z') || (v >= '0' && v <= '9') ||
                v == '-' || v == '.' || v == '_' || v == '~' || v == 0)
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[8192];
    if (size >= sizeof in)
        size = sizeof in - 1;
    memcpy(in, data, size);
    in[size] = '\0';
    char out[4096], again[4096];
    const char *why = NULL;
    int rc = http_path_canonical(in, out, sizeof out, &why);
    if (rc == -EINVAL && !why)
        abort();
    if (rc != 0 && rc != -EINVAL && rc != -ENAMETOOLONG)
        abort();
    if (rc != 0)
        return 0;
    check_canonical(out);
    if (strlen(out) > strlen(in))
        abort();
    if (http_path_canonical(out, again, sizeof again, &why) != 0 || strcmp(out, again) != 0)
        abort();
    return 0;
}
