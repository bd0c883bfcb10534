/*
 * crurl_scan: the rewriter's fast path, a tokenizer for whole, well-formed,
 * UTF-8 or ASCII XML bodies. It finds markup with memchr, tracks the element
 * stack (and checks that end tags match), decodes the text of the elements
 * the rewriter reads (character and predefined entity references, CDATA,
 * line-end normalisation, text split by comments or PIs; other text is not
 * examined), and feeds the same
 * events, with the same byte offsets, as expat would. Everything else it
 * refuses with -EAGAIN, and expat parses the body instead: a DOCTYPE, an
 * encoding declaration other than UTF-8/US-ASCII, undeclared entities,
 * control characters, nesting deeper than SCAN_DEPTH, or any markup that is
 * not well-formed in the simple ways checked here. So it never decides a
 * well-formedness question expat would answer differently in a way that
 * changes the output: on well-formed input both give the same bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "codec/crurl_int.h"
#include "core/str.h"

enum { SCAN_DEPTH = 256, LOCAL_MAX = 128, PREFIXES = 64 };

typedef struct scan {
    crurl_t *rw;
    const char *p;
    size_t n;
    uint32_t name_off[SCAN_DEPTH]; /* qname of each open element */
    uint16_t name_len[SCAN_DEPTH];
    unsigned depth;
    bool root_done;
    /* Namespace prefixes declared (xmlns:p="...") on the open elements: an
     * unbound prefix is an error in expat's namespace mode, so here too. */
    uint32_t pfx_off[PREFIXES];
    uint16_t pfx_len[PREFIXES];
    uint16_t pfx_depth[PREFIXES];
    unsigned npfx;
    size_t cr_next;   /* next "ConnectionRequestURL" at or after it (n: none) */
} scan_t;

#define BAIL (-EAGAIN)

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Name characters, ASCII part of the XML 1.0 production; bytes >= 0x80
 * (UTF-8 sequences) are accepted, expat checks them on the slow path only
 * when something else sends us there. */
static bool name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}

static bool name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static size_t name_end(const scan_t *s, size_t i)
{
    if (i >= s->n || !name_start((unsigned char)s->p[i]))
        return 0;
    while (i < s->n && name_char((unsigned char)s->p[i]))
        i++;
    return i;
}

static void event(scan_t *s, size_t idx, size_t cnt)
{
    s->rw->ev_idx = (int64_t)idx;
    s->rw->ev_cnt = (int64_t)cnt;
}

static bool xml_char(unsigned long cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Append a code point as UTF-8. */
static int put_utf8(buf_t *b, unsigned long cp)
{
    char u[4];
    size_t k;
    if (cp < 0x80) {
        u[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    return buf_append(b, u, k);
}

/* Character data [i, end): checked, and decoded into out when out != NULL. */
static int text(scan_t *s, size_t i, size_t end, buf_t *out)
{
    /* Text the rewriter does not read is not examined: a malformation in
     * it changes nothing we write (the ACS rejects the message anyway). */
    if (!out)
        return 0;
    const char *p = s->p;
    while (i < end) {
        unsigned char c = (unsigned char)p[i];
        if (c == '&') {
            const char *semi = memchr(p + i, ';', end - i < 12 ? end - i : 12);
            if (!semi)
                return BAIL;
            size_t k = (size_t)(semi - (p + i)); /* "&...;" is k + 1 bytes */
            const char *ref = p + i + 1;         /* k - 1 bytes before the ';' */
            unsigned long cp = 0;
            if (k >= 3 && ref[0] == '#') {
                bool hex = ref[1] == 'x';
                size_t d = hex ? 2 : 1;
                if (d >= k - 1)
                    return BAIL;
                for (; d < k - 1; d++) {
                    char h = ref[d];
                    int v = hex ? str_hexval(h) : h >= '0' && h <= '9' ? h - '0' : -1;
                    if (v < 0 || cp > 0x10FFFF)
                        return BAIL;
                    cp = cp * (hex ? 16 : 10) + (unsigned long)v;
                }
            } else if (k == 3 && memcmp(ref, "lt", 2) == 0) {
                cp = '<';
            } else if (k == 3 && memcmp(ref, "gt", 2) == 0) {
                cp = '>';
            } else if (k == 4 && memcmp(ref, "amp", 3) == 0) {
                cp = '&';
            } else if (k == 5 && memcmp(ref, "quot", 4) == 0) {
                cp = '"';
            } else if (k == 5 && memcmp(ref, "apos", 4) == 0) {
                cp = '\'';
            } else {
                return BAIL; /* undeclared entity: expat's error to report */
            }
            if (!xml_char(cp) || (out && put_utf8(out, cp)))
                return BAIL; /* a text longer than ours to keep: expat decides */
            i += k + 1;
            continue;
        }
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return BAIL;
        if (c == ']' && end - i >= 3 && p[i + 1] == ']' && p[i + 2] == '>')
            return BAIL; /* "]]>" is not allowed in text */
        if (c == '\r') { /* line ends: "\r\n" and "\r" are "\n" */
            if (out && buf_append_byte(out, '\n'))
                return BAIL;
            i += i + 1 < end && p[i + 1] == '\n' ? 2 : 1;
            continue;
        }
        if (out) {
            /* copy the run up to the next special byte */
            size_t j = i + 1;
            while (j < end && p[j] != '&' && p[j] != '\r' && p[j] != ']' &&
                   ((unsigned char)p[j] >= 0x20 || p[j] == '\t' || p[j] == '\n'))
                j++;
            if (buf_append(out, p + i, j - i))
                return BAIL;
            i = j;
        } else {
            i++;
        }
    }
    return 0;
}

/* Text is delivered per element; wanted only inside Name/Value/DeviceId. */
static void flush_text(scan_t *s, size_t idx)
{
    crurl_t *rw = s->rw;
    if (rw->scan_text.len) {
        event(s, idx, 0);
        crurl_ev_text(rw, rw->scan_text.data, rw->scan_text.len);
        buf_reset(&rw->scan_text);
    }
}

static const char *find(const scan_t *s, size_t from, const char *needle, size_t nl)
{
    return from <= s->n ? memmem(s->p + from, s->n - from, needle, nl) : NULL;
}

/* "<?xml version=... encoding=...?>": refuse encodings other than ours. */
static int xml_decl(const scan_t *s, size_t i, size_t end)
{
    const char *e = memmem(s->p + i, end - i, "encoding", 8);
    if (!e)
        return 0;
    const char *q = e + 8;
    while (q < s->p + end && (is_ws(*q) || *q == '='))
        q++;
    if (q >= s->p + end || (*q != '"' && *q != '\''))
        return BAIL;
    const char *v = q + 1, *ve = memchr(v, *q, (size_t)(s->p + end - v));
    if (!ve)
        return BAIL;
    size_t vl = (size_t)(ve - v);
    if ((vl == 5 && strncasecmp(v, "UTF-8", 5) == 0) || (vl == 8 && strncasecmp(v, "US-ASCII", 8) == 0))
        return 0;
    return BAIL;
}

static bool bound(const scan_t *s, const char *q, size_t ql)
{
    const char *colon = memchr(q, ':', ql);
    if (!colon)
        return true;
    size_t pl = (size_t)(colon - q);
    if (pl == 0 || memchr(colon + 1, ':', ql - pl - 1) || colon + 1 == q + ql)
        return false; /* ":x", "a:b:c", "a:" */
    if (pl == 3 && memcmp(q, "xml", 3) == 0)
        return true;
    for (unsigned k = 0; k < s->npfx; k++)
        if (s->pfx_len[k] == pl && memcmp(s->p + s->pfx_off[k], q, pl) == 0)
            return true;
    return false;
}

/* A start tag at i ("<name attrs... >" or "/>"). */
static int start_tag(scan_t *s, size_t i, size_t *next)
{
    size_t ne = name_end(s, i + 1);
    if (!ne || s->root_done || s->depth >= SCAN_DEPTH)
        return BAIL;
    size_t j = ne;
    bool empty = false;
    uint32_t attr_q[16];
    uint16_t attr_ql[16];
    unsigned nattr_q = 0;
    for (;;) {
        size_t w = j;
        while (j < s->n && is_ws(s->p[j]))
            j++;
        if (j >= s->n)
            return BAIL;
        if (s->p[j] == '>') {
            j++;
            break;
        }
        if (s->p[j] == '/') {
            if (j + 1 >= s->n || s->p[j + 1] != '>')
                return BAIL;
            j += 2;
            empty = true;
            break;
        }
        if (w == j) /* attributes must be separated by white space */
            return BAIL;
        size_t an = name_end(s, j);
        if (!an)
            return BAIL;
        size_t as = j, al = an - j;
        j = an;
        while (j < s->n && is_ws(s->p[j]))
            j++;
        if (j >= s->n || s->p[j] != '=')
            return BAIL;
        j++;
        while (j < s->n && is_ws(s->p[j]))
            j++;
        if (j >= s->n || (s->p[j] != '"' && s->p[j] != '\''))
            return BAIL;
        const char *close = memchr(s->p + j + 1, s->p[j], s->n - j - 1);
        if (!close || memchr(s->p + j + 1, '<', (size_t)(close - (s->p + j + 1))))
            return BAIL;
        if (al > 6 && memcmp(s->p + as, "xmlns:", 6) == 0) {
            if (close == s->p + j + 1 || s->npfx >= PREFIXES)
                return BAIL; /* xmlns:p="" is an error; many prefixes: expat's job */
            s->pfx_off[s->npfx] = (uint32_t)(as + 6);
            s->pfx_len[s->npfx] = (uint16_t)(al - 6 > 0xFFFF ? 0xFFFF : al - 6);
            s->pfx_depth[s->npfx] = (uint16_t)s->depth;
            s->npfx++;
        } else if (memchr(s->p + as, ':', al) && !(al == 5 && memcmp(s->p + as, "xmlns", 5) == 0)) {
            attr_q[nattr_q++ % 16] = (uint32_t)as; /* checked once all declarations are in */
            attr_ql[(nattr_q - 1) % 16] = (uint16_t)(al > 0xFFFF ? 0xFFFF : al);
            if (nattr_q > 16)
                return BAIL;
        }
        j = (size_t)(close - s->p) + 1;
    }
    if (!bound(s, s->p + i + 1, ne - (i + 1)))
        return BAIL;
    for (unsigned k = 0; k < nattr_q; k++)
        if (!bound(s, s->p + attr_q[k], attr_ql[k]))
            return BAIL;
    /* the local name, as expat's namespace mode reports it */
    const char *qn = s->p + i + 1;
    size_t ql = ne - (i + 1);
    const char *colon = memrchr(qn, ':', ql);
    const char *ln = colon ? colon + 1 : qn;
    size_t ll = ql - (size_t)(ln - qn);
    char local[LOCAL_MAX];
    if (ll >= LOCAL_MAX) /* too long to be one of ours; keep it distinct */
        ll = LOCAL_MAX - 1;
    memcpy(local, ln, ll);
    local[ll] = '\0';
    flush_text(s, i);
    event(s, i, j - i);
    crurl_ev_start(s->rw, local);
    if (empty) {
        while (s->npfx && s->pfx_depth[s->npfx - 1] >= s->depth)
            s->npfx--;
        event(s, j, 0);
        crurl_ev_end(s->rw);
        if (s->depth == 0)
            s->root_done = true;
    } else {
        s->name_off[s->depth] = (uint32_t)(i + 1);
        s->name_len[s->depth] = (uint16_t)(ql > 0xFFFF ? 0xFFFF : ql);
        if (ql > 0xFFFF)
            return BAIL;
        s->depth++;
    }
    *next = j;
    return 0;
}

static int end_tag(scan_t *s, size_t i, size_t *next)
{
    size_t ne = name_end(s, i + 2);
    if (!ne || s->depth == 0)
        return BAIL;
    size_t ql = ne - (i + 2);
    unsigned d = s->depth - 1;
    if (ql != s->name_len[d] || memcmp(s->p + i + 2, s->p + s->name_off[d], ql) != 0)
        return BAIL;
    size_t j = ne;
    while (j < s->n && is_ws(s->p[j]))
        j++;
    if (j >= s->n || s->p[j] != '>')
        return BAIL;
    j++;
    flush_text(s, i);
    event(s, i, j - i);
    crurl_ev_end(s->rw);
    s->depth--;
    while (s->npfx && s->pfx_depth[s->npfx - 1] >= s->depth)
        s->npfx--;
    if (s->depth == 0)
        s->root_done = true;
    *next = j;
    return 0;
}

/* Just after the start tag of a ParameterValueStruct in a parameter list
 * (at i): where its end tag begins, when the struct cannot hold a
 * ConnectionRequestURL, so that its content is passed through unread; else
 * i (read it). A Name that matches holds the literal bytes
 * "ConnectionRequestURL" unless it spells them with character references or
 * splits them with comments, CDATA or processing instructions: with none of
 * those (nor the name itself nested) in the struct, the first end tag of
 * its name closes it and it carries no value we rewrite. Its content is not
 * checked for well-formedness (like the text of elements we do not read): on
 * a well-formed body the output is expat's; a malformed one the ACS refuses. */
static size_t struct_end(scan_t *s, size_t i, const char *qn, size_t ql)
{
    size_t end, j = i;
    for (;;) {
        const char *lt = memchr(s->p + j, '<', s->n - j);
        if (!lt)
            return SIZE_MAX;
        size_t k = (size_t)(lt - s->p);
        if (k + 1 >= s->n || s->p[k + 1] == '!' || s->p[k + 1] == '?')
            return SIZE_MAX;
        size_t q = k + 1 + (s->p[k + 1] == '/');
        if (s->n - q > ql && s->p[q] == qn[0] && memcmp(s->p + q, qn, ql) == 0 &&
            !name_char((unsigned char)s->p[q + ql])) {
            if (q == k + 1)
                return SIZE_MAX; /* the same name nested */
            end = k;
            break;
        }
        j = k + 1;
    }
    if (s->cr_next < i) {
        const char *m = memmem(s->p + i, s->n - i, "ConnectionRequestURL", 20);
        s->cr_next = m ? (size_t)(m - s->p) : s->n;
    }
    if (s->cr_next < end)
        return SIZE_MAX;
    for (const char *a = memchr(s->p + i, '&', end - i); a;
         a = memchr(a + 1, '&', (size_t)(s->p + end - a - 1)))
        if (a + 1 < s->p + end && a[1] == '#')
            return SIZE_MAX;
    return end;
}

/* Just after the start tag of an element none of whose content can change
 * what we write or learn (crurl_ev_in_other): where its end tag begins, so
 * that its content is passed through unread; i when comments, CDATA or PIs
 * (which could hide an end tag) or its own name nested make that unsure. */
static size_t skip_other(scan_t *s, size_t i)
{
    unsigned d = s->depth - 1;
    const char *qn = s->p + s->name_off[d];
    size_t ql = s->name_len[d];
    for (size_t j = i;;) {
        const char *lt = memchr(s->p + j, '<', s->n - j);
        if (!lt)
            return i;
        size_t k = (size_t)(lt - s->p);
        if (k + 1 >= s->n || s->p[k + 1] == '!' || s->p[k + 1] == '?')
            return i;
        size_t q = k + 1 + (s->p[k + 1] == '/');
        if (s->n - q > ql && s->p[q] == qn[0] && memcmp(s->p + q, qn, ql) == 0 &&
            !name_char((unsigned char)s->p[q + ql]))
            return q == k + 1 ? i : k;
        j = k + 1;
    }
}

static size_t skip_pvs(scan_t *s, size_t i)
{
    unsigned d = s->depth - 1;
    const char *qn = s->p + s->name_off[d];
    size_t ql = s->name_len[d];
    size_t end = struct_end(s, i, qn, ql);
    if (end == SIZE_MAX)
        return i;
    /* Plain siblings right after it ("</q>", white space, "<q>") go with
     * it: between the first one's start and the last one's end the events
     * would change nothing either. */
    for (;;) {
        size_t j = end + 2 + ql;
        if (j >= s->n || s->p[j] != '>')
            break;
        for (j++; j < s->n && is_ws(s->p[j]); j++)
            ;
        if (s->n - j < ql + 2 || s->p[j] != '<' || memcmp(s->p + j + 1, qn, ql) != 0 ||
            s->p[j + 1 + ql] != '>')
            break;
        size_t e = struct_end(s, j + ql + 2, qn, ql);
        if (e == SIZE_MAX)
            break;
        end = e;
    }
    return end;
}

int crurl_scan(crurl_t *rw, const char *p, size_t n)
{
    scan_t s = { .rw = rw, .p = p, .n = n };
    size_t i = 0;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    buf_reset(&rw->scan_text);
    while (i < n) {
        if (rw->oerr)
            return rw->oerr;
        const char *lt = memchr(p + i, '<', n - i);
        size_t end = lt ? (size_t)(lt - p) : n;
        if (end > i) {
            if (s.depth == 0) { /* outside the root: white space only */
                for (size_t k = i; k < end; k++)
                    if (!is_ws(p[k]))
                        return BAIL;
            } else if (text(&s, i, end, crurl_ev_wants_text(rw) ? &rw->scan_text : NULL)) {
                return BAIL;
            }
        }
        if (!lt)
            break;
        i = end;
        size_t left = n - i;
        if (left >= 4 && memcmp(p + i, "<!--", 4) == 0) {
            const char *c = find(&s, i + 4, "--", 2);
            if (!c || (size_t)(c - p) + 2 >= n || p[c - p + 2] != '>')
                return BAIL; /* unterminated, or "--" inside a comment */
            i = (size_t)(c - p) + 3;
            continue; /* comments split nothing: text goes on */
        }
        if (left >= 9 && memcmp(p + i, "<![CDATA[", 9) == 0) {
            const char *c = find(&s, i + 9, "]]>", 3);
            if (!c || s.depth == 0)
                return BAIL;
            size_t cs = i + 9, ce = (size_t)(c - p);
            if (crurl_ev_wants_text(rw)) {
                /* CDATA is literal, but line ends are still normalised */
                for (size_t k = cs; k < ce; k++) {
                    char ch = p[k];
                    if (ch == '\r') {
                        ch = '\n';
                        if (k + 1 < ce && p[k + 1] == '\n')
                            k++;
                    } else if ((unsigned char)ch < 0x20 && ch != '\t' && ch != '\n') {
                        return BAIL;
                    }
                    if (buf_append_byte(&rw->scan_text, ch))
                        return BAIL;
                }
            }
            i = ce + 3;
            continue;
        }
        if (left >= 2 && p[i + 1] == '?') {
            const char *c = find(&s, i + 2, "?>", 2);
            size_t te = name_end(&s, i + 2);
            if (!c || !te)
                return BAIL;
            size_t tl = te - (i + 2);
            bool is_decl = tl == 3 && memcmp(p + i + 2, "xml", 3) == 0;
            if (tl == 3 && strncasecmp(p + i + 2, "xml", 3) == 0 && !is_decl)
                return BAIL;
            if (is_decl && (i != (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0 ? 3u : 0u) ||
                            xml_decl(&s, i, (size_t)(c - p))))
                return BAIL; /* a declaration elsewhere, or another encoding */
            i = (size_t)(c - p) + 2;
            continue;
        }
        if (left >= 2 && p[i + 1] == '!')
            return BAIL; /* DOCTYPE and other declarations: expat refuses them */
        size_t next;
        bool close = left >= 2 && p[i + 1] == '/';
        unsigned depth = s.depth;
        int rc = close ? end_tag(&s, i, &next) : start_tag(&s, i, &next);
        if (rc)
            return rc;
        i = next;
        if (s.depth > depth) { /* an element opened (not an empty one) */
            if (crurl_ev_in_pvs(rw))
                i = skip_pvs(&s, i);
            else if (crurl_ev_in_other(rw))
                i = skip_other(&s, i);
        }
    }
    if (rw->oerr)
        return rw->oerr;
    return s.root_done && s.depth == 0 ? 0 : BAIL;
}
