/* prov_path: see prov_path.h. A single left-to-right scan; the output text
 * never grows past the input (separators become NULs, escapes shrink), so
 * the fixed buffer cannot overflow once the input length is checked. */
#include "acs/provision/prov_path.h"

#include <errno.h>
#include <string.h>

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

bool prov_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > PROV_PATH_MAX)
        return false;
    size_t seglen = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (seglen == 0)
                return false;
            seglen = 0;
        } else if (name_char((unsigned char)s[i])) {
            seglen++;
        } else {
            return false;
        }
    }
    return true; /* a trailing '.' (object) is fine */
}

/* One key selector, s[*i] just past '['. Writes "name\0value\0" at *o. */
static int parse_keys(const char *s, size_t n, size_t *i, prov_path_t *p, size_t *o,
                      prov_seg_t *seg)
{
    seg->kind = PROV_SEG_KEYS;
    seg->key0 = p->nkey;
    seg->nkeys = 0;
    for (;;) {
        if (p->nkey >= PROV_KEY_MAX)
            return -ENAMETOOLONG;
        prov_key_t *k = &p->key[p->nkey];
        /* key: a relative name path, up to ':' */
        size_t start = *i, seglen = 0;
        k->name = p->text + *o;
        while (*i < n && s[*i] != ':') {
            char c = s[*i];
            if (c == '.') {
                if (seglen == 0)
                    return -EINVAL;
                seglen = 0;
            } else if (name_char((unsigned char)c)) {
                seglen++;
            } else {
                return -EINVAL;
            }
            p->text[(*o)++] = c;
            (*i)++;
        }
        if (*i >= n || *i == start || seglen == 0)
            return -EINVAL;
        p->text[(*o)++] = '\0';
        (*i)++; /* ':' */
        k->value = p->text + *o;
        bool closed = false, next = false;
        while (*i < n) {
            char c = s[(*i)++];
            if (c == '\\') {
                if (*i >= n)
                    return -EINVAL;
                c = s[(*i)++];
                if (c != ',' && c != ']' && c != '\\')
                    return -EINVAL;
            } else if (c == ',') {
                next = true;
                break;
            } else if (c == ']') {
                closed = true;
                break;
            } else if (c == '\0' || c == '[') {
                return -EINVAL;
            }
            p->text[(*o)++] = c;
        }
        p->text[(*o)++] = '\0';
        p->nkey++;
        seg->nkeys++;
        if (closed)
            return 0;
        if (!next)
            return -EINVAL; /* ran off the end */
    }
}

int prov_path_parsen(const char *s, size_t n, prov_path_t *p)
{
    memset(p, 0, offsetof(prov_path_t, seg));
    p->nseg = p->nkey = 0;
    p->object = p->pattern = false;
    if (n == 0)
        return -EINVAL;
    if (n > PROV_PATH_MAX)
        return -ENAMETOOLONG;
    size_t i = 0, o = 0;
    while (i < n) {
        if (p->nseg >= PROV_SEG_MAX)
            return -ENAMETOOLONG;
        prov_seg_t *seg = &p->seg[p->nseg];
        memset(seg, 0, sizeof *seg);
        if (s[i] == '*') {
            seg->kind = PROV_SEG_ANY;
            p->pattern = true;
            i++;
        } else if (s[i] == '[') {
            i++;
            int rc = parse_keys(s, n, &i, p, &o, seg);
            if (rc != 0)
                return rc;
            p->pattern = true;
        } else {
            seg->kind = PROV_SEG_NAME;
            seg->name = p->text + o;
            size_t start = i;
            while (i < n && name_char((unsigned char)s[i]))
                p->text[o++] = s[i++];
            if (i == start)
                return -EINVAL;
            p->text[o++] = '\0';
        }
        p->nseg++;
        if (i == n)
            break;
        if (s[i] != '.')
            return -EINVAL;
        i++;
        if (i == n)
            p->object = true;
    }
    return 0;
}

int prov_path_parse(const char *s, prov_path_t *out)
{
    size_t n = strnlen(s, PROV_PATH_MAX + 1);
    return prov_path_parsen(s, n, out);
}

static int put(char *out, size_t size, size_t *o, const char *s, size_t n)
{
    if (*o + n >= size)
        return -ENAMETOOLONG;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return 0;
}

int prov_path_format(const prov_path_t *p, char *out, size_t size)
{
    size_t o = 0;
    if (size == 0)
        return -ENAMETOOLONG;
    out[0] = '\0';
    for (size_t i = 0; i < p->nseg; i++) {
        const prov_seg_t *sg = &p->seg[i];
        if (i > 0 && put(out, size, &o, ".", 1) != 0)
            return -ENAMETOOLONG;
        if (sg->kind == PROV_SEG_ANY) {
            if (put(out, size, &o, "*", 1) != 0)
                return -ENAMETOOLONG;
        } else if (sg->kind == PROV_SEG_NAME) {
            if (put(out, size, &o, sg->name, strlen(sg->name)) != 0)
                return -ENAMETOOLONG;
        } else {
            if (put(out, size, &o, "[", 1) != 0)
                return -ENAMETOOLONG;
            for (unsigned k = 0; k < sg->nkeys; k++) {
                const prov_key_t *key = &p->key[sg->key0 + k];
                if ((k > 0 && put(out, size, &o, ",", 1) != 0) ||
                    put(out, size, &o, key->name, strlen(key->name)) != 0 ||
                    put(out, size, &o, ":", 1) != 0)
                    return -ENAMETOOLONG;
                for (const char *v = key->value; *v; v++) {
                    if ((*v == ',' || *v == ']' || *v == '\\') && put(out, size, &o, "\\", 1) != 0)
                        return -ENAMETOOLONG;
                    if (put(out, size, &o, v, 1) != 0)
                        return -ENAMETOOLONG;
                }
            }
            if (put(out, size, &o, "]", 1) != 0)
                return -ENAMETOOLONG;
        }
    }
    if (p->object && put(out, size, &o, ".", 1) != 0)
        return -ENAMETOOLONG;
    return 0;
}
