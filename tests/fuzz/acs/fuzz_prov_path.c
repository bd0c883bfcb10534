/* Fuzz the provisioning path parser and the state's resolver. Input: the
 * first line is a path as a script writes it; each further line is a name
 * the "CPE" lists ("name" or "name=value"), applied as GetParameterNames /
 * GetParameterValues answers to a small capped state. Properties: a parsed
 * path formats to text that parses to the same text; resolving never
 * crashes, never reads outside the state, and every match is a concrete
 * name; the state stays within its caps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acs/provision/prov_path.h"
#include "acs/provision/prov_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_match(void *ud, const prov_res_t *r)
{
    size_t n = strlen(r->path);
    if (r->kind == PROV_RES_MATCH && !prov_name_ok(r->path, n))
        abort(); /* a match is always a concrete name */
    if (n > PROV_PATH_MAX + 1)
        abort();
    (*(int *)ud)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t first = nl ? (size_t)(nl - s) : size;
    prov_path_t p, q;
    char a[PROV_PATH_MAX * 2 + 64], b[PROV_PATH_MAX * 2 + 64];
    int rc = prov_path_parsen(s, first, &p);
    if (rc == 0) {
        if (prov_path_format(&p, a, sizeof a) != 0)
            abort();
        if (prov_path_parse(a, &q) != 0 || prov_path_format(&q, b, sizeof b) != 0 ||
            strcmp(a, b) != 0 || q.nseg != p.nseg || q.object != p.object ||
            q.pattern != p.pattern)
            abort(); /* format/parse round trip */
    }
    prov_state_opts_t o = { .max_nodes = 200, .max_bytes = 64 * 1024 };
    prov_state_t *st;
    if (prov_state_new(&o, &st) != 0)
        return 0;
    size_t pos = nl ? first + 1 : size;
    int64_t t = 10;
    (void)prov_state_gpn_begin(st, "", false, t);
    while (pos < size) {
        const char *line = s + pos;
        const char *end = memchr(line, '\n', size - pos);
        size_t len = end ? (size_t)(end - line) : size - pos;
        char buf[1024];
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            char *eq = strchr(buf, '=');
            if (eq) {
                *eq = '\0';
                (void)prov_state_gpv_item(st, buf, eq + 1, "xsd:string", t);
            } else if (buf[0] == '!') {
                (void)prov_state_absent(st, buf + 1, t);
            } else {
                (void)prov_state_gpn_item(st, buf, 1);
            }
        }
        pos += len + 1;
    }
    prov_state_gpn_end(st);
    if (prov_state_nodes(st) > 200 || prov_state_bytes(st) > 64 * 1024 + 4096)
        abort();
    if (rc == 0) {
        int n = 0;
        (void)prov_state_resolve(st, &p, 0, check_match, &n);
        (void)prov_state_resolve(st, &p, 5, check_match, &n);
        (void)prov_state_resolve(st, &p, 50, check_match, &n);
    }
    prov_state_free(st);
    return 0;
}
