/*
 * Fuzz harness: net_url_parse and net_url_redacted, the URL as logs show it.
 *
 * The input is one URL (cut at the first NUL, as an option or a header value
 * cannot hold one). Checked on any input:
 *  - net_url_redacted never writes past its cap, always NUL-terminates, and
 *    every cut output is a prefix of the whole one (-ENOSPC exactly when cut);
 *  - the whole output keeps everything but the userinfo's password, which is
 *    "***" (or nothing, for a URL without one);
 *  - a URL net_url_parse takes comes out as one that parses to the same
 *    scheme, host, port, user and path, its password "***" if it had one;
 *  - a failed parse leaves no password behind.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_IN = 8192 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[MAX_IN + 1], whole[MAX_IN + 8], cut[MAX_IN + 16];
    static net_url_t a, b;
    if (size > MAX_IN)
        size = MAX_IN;
    memcpy(in, data, size);
    in[size] = '\0';
    size_t n = strlen(in);

    if (net_url_redacted(in, whole, sizeof whole) != 0)
        abort(); /* at most 3 bytes longer than the input */
    size_t wn = strlen(whole);
    /* what changed is one run of the input replaced by "***" */
    size_t pre = 0;
    while (pre < n && pre < wn && in[pre] == whole[pre])
        pre++;
    if (wn != n || pre != n) {
        size_t suf = 0;
        while (suf < n - pre && suf < wn - pre && in[n - 1 - suf] == whole[wn - 1 - suf])
            suf++;
        if (wn - pre - suf > 3 || strncmp(whole + pre, "***", wn - pre - suf) != 0)
            abort();
    }
    /* every cap: capped, terminated, a prefix */
    size_t caps[] = { 0, 1, 2, 3, wn / 2, wn > 0 ? wn - 1 : 0, wn, wn + 1 };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t cap = caps[i];
        memset(cut, 0x5a, cap + 1);
        int rc = net_url_redacted(in, cut, cap);
        if ((uint8_t)cut[cap] != 0x5a)
            abort();
        if (cap == 0) {
            if (rc != -ENOSPC)
                abort();
            continue;
        }
        size_t cn = strnlen(cut, cap);
        if (cn == cap || memcmp(cut, whole, cn) != 0)
            abort();
        if ((rc == 0) != (cap > wn) || (rc != 0 && rc != -ENOSPC))
            abort();
    }

    int rc = net_url_parse(in, &a);
    if (rc != 0) {
        for (size_t i = 0; i < sizeof a.pass; i++)
            if (a.pass[i])
                abort();
        return 0;
    }
    if (net_url_parse(whole, &b) != 0)
        abort();
    if (strcmp(a.scheme, b.scheme) || strcmp(a.host, b.host) || a.port != b.port ||
        strcmp(a.user, b.user) || strcmp(a.path, b.path))
        abort();
    if (a.pass[0] ? strcmp(b.pass, "***") != 0 : b.pass[0] && strcmp(b.pass, "***") != 0)
        abort(); /* "user:@" comes out as "user:***@": an empty password is hidden too */
    net_url_clear(&a);
    net_url_clear(&b);
    return 0;
}
