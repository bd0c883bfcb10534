/*
 * Fuzz harness: net_url_parse and net_url_redacted, the URL as logs show it.
 *
 * The input is one URL (cut at the first NUL, as an option or a header value
 * cannot hold one). Checked on any input:
 *  - net_url_redacted never writes past its cap, always NUL-terminates, and
 *    every cut output is a prefix of the whole one (-ENOSPC exactly when cut);
 *  - the whole output invents nothing: with every "***" taken out, it is a
 *    subsequence of the input;
 *  - no secret-named query value survives: after the first '?' past the
 *    authority, up to the first '#', each pair whose name
 *    net_url_query_name_secret takes has the value "***";
 *  - it is a fixed point: redacting it again changes nothing;
 *  - a URL net_url_parse takes comes out as one that parses to the same
 *    scheme, host, port, user and path (up to its query), its password "***"
 *    if it had one;
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
    /* each hidden value may grow by 3: "k=" -> "k=***" */
    static char in[MAX_IN + 1], whole[2 * MAX_IN + 8], again[2 * MAX_IN + 8], cut[2 * MAX_IN + 16];
    static net_url_t a, b;
    if (size > MAX_IN)
        size = MAX_IN;
    memcpy(in, data, size);
    in[size] = '\0';
    size_t n = strlen(in);

    if (net_url_redacted(in, whole, sizeof whole) != 0)
        abort();
    size_t wn = strlen(whole);
    /* nothing invented */
    size_t at = 0; /* where the input is matched up to */
    for (size_t j = 0; j < wn;) {
        if (strncmp(whole + j, "***", 3) == 0) {
            j += 3;
            continue;
        }
        while (at < n && in[at] != whole[j])
            at++;
        if (at == n)
            abort();
        at++, j++;
    }
    /* no secret value left */
    const char *sep = strstr(whole, "://");
    const char *after = sep ? sep + 3 : whole;
    const char *frag = after + strcspn(after, "#");
    const char *q = memchr(after, '?', (size_t)(frag - after));
    while (q && q < frag) {
        const char *name = q + 1;
        const char *amp = memchr(name, '&', (size_t)(frag - name));
        const char *pend = amp ? amp : frag;
        const char *eq = memchr(name, '=', (size_t)(pend - name));
        if (eq && net_url_query_name_secret(name, (size_t)(eq - name)) &&
            (pend - eq - 1 != 3 || strncmp(eq + 1, "***", 3) != 0))
            abort();
        q = amp;
    }
    /* a fixed point */
    if (net_url_redacted(whole, again, sizeof again) != 0 || strcmp(whole, again) != 0)
        abort();
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
        for (size_t k = 0; k < sizeof a.pass; k++)
            if (a.pass[k])
                abort();
        return 0;
    }
    if (net_url_parse(whole, &b) != 0)
        abort();
    if (strcmp(a.scheme, b.scheme) || strcmp(a.host, b.host) || a.port != b.port ||
        strcmp(a.user, b.user))
        abort();
    size_t pl = strcspn(a.path, "?");
    if (strcspn(b.path, "?") != pl || memcmp(a.path, b.path, pl) != 0)
        abort();
    if (a.pass[0] ? strcmp(b.pass, "***") != 0 : b.pass[0] && strcmp(b.pass, "***") != 0)
        abort(); /* "user:@" comes out as "user:***@": an empty password is hidden too */
    net_url_clear(&a);
    net_url_clear(&b);
    return 0;
}
