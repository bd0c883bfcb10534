/*
 * xmpp_parse: the XML side of net/xmpp.h without sockets: a stream parser
 * on expat that cuts the stream into bounded stanza trees, element helpers,
 * JIDs and escaping. Everything here reads network input; every size is
 * capped (stanza bytes, depth, element count).
 */
#include "net/xmpp.h"

#include <errno.h>
#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/str.h"

enum {
    MAX_DEPTH = 16,    /* below the stream element; XMPP needs about 5 */
    MAX_ELEMENTS = 512, /* per stanza */
    MAX_ATTRS = 32,    /* per element */
};

struct xmpp_parser {
    XML_Parser xp;
    xmpp_parser_cbs_t cbs;
    void *ud;
    size_t max_stanza;
    int depth;          /* 0: outside the stream, 1: in it, 2+: in a stanza */
    xmpp_el_t *root;    /* the stanza being built */
    xmpp_el_t *stack[MAX_DEPTH + 1];
    size_t elements;
    uint64_t fed;       /* bytes fed since reset */
    uint64_t boundary;  /* ... at the last stanza's end (or the stream's start) */
    const char *err;    /* set by a handler that stopped the parse for cause */
    bool stopped;       /* stopped by the owner (xmpp_parser_stop) */
};

/* ---- elements ------------------------------------------------------------ */

void xmpp_el_free(xmpp_el_t *e)
{
    while (e) {
        xmpp_el_t *next = e->next;
        xmpp_el_free(e->kids);
        if (e->attrs) {
            for (char **a = e->attrs; *a; a++)
                free(*a);
            free(e->attrs);
        }
        free(e->name);
        if (e->text) /* a connection request's password is text */
            explicit_bzero(e->text, e->text_len);
        free(e->text);
        free(e);
        e = next;
    }
}

const char *xmpp_el_attr(const xmpp_el_t *e, const char *name)
{
    if (!e || !e->attrs)
        return NULL;
    for (char **a = e->attrs; a[0] && a[1]; a += 2)
        if (strcmp(a[0], name) == 0)
            return a[1];
    return NULL;
}

bool xmpp_el_is(const xmpp_el_t *e, const char *ns, const char *local)
{
    if (!e || !e->name)
        return false;
    const char *sp = strrchr(e->name, ' ');
    const char *l = sp ? sp + 1 : e->name;
    if (strcmp(l, local) != 0)
        return false;
    if (!ns)
        return true;
    size_t nl = strlen(ns);
    return sp && (size_t)(sp - e->name) == nl && memcmp(e->name, ns, nl) == 0;
}

const xmpp_el_t *xmpp_el_child(const xmpp_el_t *e, const char *ns, const char *local)
{
    for (const xmpp_el_t *k = e ? e->kids : NULL; k; k = k->next)
        if (xmpp_el_is(k, ns, local))
            return k;
    return NULL;
}

const xmpp_el_t *xmpp_el_first(const xmpp_el_t *e) { return e ? e->kids : NULL; }

const char *xmpp_iq_error_condition(const xmpp_el_t *iq)
{
    const xmpp_el_t *err = xmpp_el_child(iq, NULL, "error");
    for (const xmpp_el_t *k = err ? err->kids : NULL; k; k = k->next)
        if (strncmp(k->name, XMPP_NS_STANZAS " ", sizeof XMPP_NS_STANZAS) == 0 &&
            !xmpp_el_is(k, XMPP_NS_STANZAS, "text"))
            return k->name + sizeof XMPP_NS_STANZAS;
    return "";
}

int xmpp_xml_escape(buf_t *out, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int rc;
        switch (ch) {
        case '&': rc = buf_append_str(out, "&amp;"); break;
        case '<': rc = buf_append_str(out, "&lt;"); break;
        case '>': rc = buf_append_str(out, "&gt;"); break;
        case '"': rc = buf_append_str(out, "&quot;"); break;
        case '\'': rc = buf_append_str(out, "&apos;"); break;
        default:
            if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
                return -EINVAL;
            rc = buf_append_byte(out, (char)ch);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the stream parser ----------------------------------------------------- */

static void fail(xmpp_parser_t *p, const char *why)
{
    if (!p->err)
        p->err = why;
    XML_StopParser(p->xp, XML_FALSE);
}

static bool over_cap(xmpp_parser_t *p)
{
    uint64_t at = (uint64_t)XML_GetCurrentByteIndex(p->xp);
    return at > p->boundary && at - p->boundary > p->max_stanza;
}

static xmpp_el_t *el_new(const XML_Char *name, const XML_Char **attrs)
{
    xmpp_el_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    size_t n = 0;
    while (attrs[n] && n < 2 * MAX_ATTRS)
        n += 2;
    e->name = strdup(name);
    e->attrs = calloc(n + 1, sizeof *e->attrs);
    e->text = strdup("");
    if (!e->name || !e->attrs || !e->text)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (!(e->attrs[i] = strdup(attrs[i])))
            goto oom;
    return e;
oom:
    xmpp_el_free(e);
    return NULL;
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    xmpp_parser_t *p = ud;
    if (p->depth == 0) {
        xmpp_el_t *s = el_new(name, attrs);
        if (!s)
            return fail(p, "out of memory");
        p->depth = 1;
        p->boundary = (uint64_t)XML_GetCurrentByteIndex(p->xp);
        if (p->cbs.on_open)
            p->cbs.on_open(p->ud, s);
        xmpp_el_free(s);
        return;
    }
    if (p->depth - 1 >= MAX_DEPTH)
        return fail(p, "stanza nested too deep");
    if (++p->elements > MAX_ELEMENTS)
        return fail(p, "stanza has too many elements");
    if (over_cap(p))
        return fail(p, "stanza too large");
    xmpp_el_t *e = el_new(name, attrs);
    if (!e)
        return fail(p, "out of memory");
    if (p->depth == 1) {
        p->root = e;
    } else {
        xmpp_el_t *parent = p->stack[p->depth - 1];
        xmpp_el_t **tail = &parent->kids;
        while (*tail)
            tail = &(*tail)->next;
        *tail = e;
    }
    p->stack[p->depth] = e;
    p->depth++;
}

static void on_end(void *ud, const XML_Char *name)
{
    xmpp_parser_t *p = ud;
    p->depth--;
    if (p->depth == 0) {
        if (p->cbs.on_close)
            p->cbs.on_close(p->ud);
        return;
    }
    if (p->depth == 1) {
        xmpp_el_t *root = p->root;
        p->root = NULL;
        p->elements = 0;
        p->boundary = (uint64_t)XML_GetCurrentByteIndex(p->xp) + (uint64_t)XML_GetCurrentByteCount(p->xp);
        if (p->cbs.on_stanza)
            p->cbs.on_stanza(p->ud, root);
        xmpp_el_free(root);
    }
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    xmpp_parser_t *p = ud;
    if (p->depth == 1) {
        /* whitespace keepalives between stanzas: not part of the next
         * stanza, so a long idle's many do not add up to the cap */
        p->boundary = (uint64_t)XML_GetCurrentByteIndex(p->xp) + (uint64_t)XML_GetCurrentByteCount(p->xp);
        return;
    }
    if (p->depth < 2 || len <= 0)
        return;
    if (over_cap(p))
        return fail(p, "stanza too large");
    /* Text comes in pieces (an entity, a read's end): it grows as a
     * secret buffer does, leaving no copy of a password behind. */
    xmpp_el_t *e = p->stack[p->depth - 1];
    buf_t t = { e->text, e->text_len, e->text ? e->text_len + 1 : 0, SIZE_MAX / 2 };
    if (buf_reserve_secret(&t, (size_t)len) != 0 || buf_append(&t, s, (size_t)len) != 0)
        return fail(p, "out of memory");
    e->text = t.data;
    e->text_len = t.len;
}

/* XMPP forbids DTDs, entity declarations and processing instructions
 * (RFC 6120 11.1): refusing them also shuts the door on entity expansion. */
static void on_doctype(void *ud, const XML_Char *n, const XML_Char *s, const XML_Char *pub, int internal)
{
    fail(ud, "DTD not allowed");
}

static void on_entity(void *ud, const XML_Char *n, int pe, const XML_Char *v, int vl, const XML_Char *b,
                      const XML_Char *s, const XML_Char *pub, const XML_Char *notation)
{
    fail(ud, "entity declaration not allowed");
}

static void on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    fail(ud, "processing instruction not allowed");
}

static int parser_make(xmpp_parser_t *p)
{
    p->xp = XML_ParserCreateNS("UTF-8", ' ');
    if (!p->xp)
        return -ENOMEM;
    XML_SetUserData(p->xp, p);
    XML_SetElementHandler(p->xp, on_start, on_end);
    XML_SetCharacterDataHandler(p->xp, on_text);
    XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
    XML_SetEntityDeclHandler(p->xp, on_entity);
    XML_SetProcessingInstructionHandler(p->xp, on_pi);
    return 0;
}

xmpp_parser_t *xmpp_parser_new(size_t max_stanza, const xmpp_parser_cbs_t *cbs, void *ud)
{
    xmpp_parser_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cbs = *cbs;
    p->ud = ud;
    p->max_stanza = max_stanza ? max_stanza : 65536;
    if (parser_make(p)) {
        free(p);
        return NULL;
    }
    return p;
}

static void parser_clear(xmpp_parser_t *p)
{
    xmpp_el_free(p->root);
    p->root = NULL;
    if (p->xp)
        XML_ParserFree(p->xp);
    p->xp = NULL;
}

void xmpp_parser_free(xmpp_parser_t *p)
{
    if (!p)
        return;
    parser_clear(p);
    free(p);
}

int xmpp_parser_reset(xmpp_parser_t *p)
{
    parser_clear(p);
    p->depth = 0;
    p->elements = 0;
    p->fed = p->boundary = 0;
    p->err = NULL;
    p->stopped = false;
    return parser_make(p);
}

void xmpp_parser_stop(xmpp_parser_t *p)
{
    p->stopped = true;
    XML_StopParser(p->xp, XML_FALSE);
}

int xmpp_parser_feed(xmpp_parser_t *p, const char *data, size_t len, const char **reason)
{
    *reason = NULL;
    if (!p->xp || p->err || p->stopped) {
        *reason = p->err ? p->err : "parser stopped";
        return -EPROTO;
    }
    /* Expat buffers an unfinished tag or text run whole: cap what may sit
     * unparsed, before handing it over, by the bytes since the last stanza. */
    while (len) {
        size_t n = len < 16384 ? len : 16384;
        if (p->fed + n - p->boundary > p->max_stanza + 16384) {
            *reason = p->err = "stanza too large";
            return -EPROTO;
        }
        p->fed += n;
        if (XML_Parse(p->xp, data, (int)n, XML_FALSE) != XML_STATUS_OK) {
            if (p->stopped && !p->err)
                return 0;
            if (!p->err)
                p->err = XML_ErrorString(XML_GetErrorCode(p->xp));
            *reason = p->err;
            return -EPROTO;
        }
        data += n;
        len -= n;
    }
    return 0;
}

/* ---- JIDs ---------------------------------------------------------------- */

static bool part_ok(const char *s, size_t n, const char *forbidden)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || (ch < 0x80 && strchr(forbidden, ch)))
            return false;
    }
    return true;
}

int xmpp_jid_parse(const char *s, xmpp_jid_t *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return -EINVAL;
    const char *slash = strchr(s, '/');
    size_t bare_len = slash ? (size_t)(slash - s) : strlen(s);
    const char *at = memchr(s, '@', bare_len);
    const char *dom = at ? at + 1 : s;
    size_t local_len = at ? (size_t)(at - s) : 0;
    size_t dom_len = bare_len - (size_t)(dom - s);
    if (at && local_len == 0)
        return -EINVAL;
    if (dom_len == 0 || dom_len > XMPP_JID_PART_MAX || local_len > XMPP_JID_PART_MAX)
        return -EINVAL;
    if (!part_ok(s, local_len, " \"&'/:<>@") || !part_ok(dom, dom_len, " \"&'/:<>@\\"))
        return -EINVAL;
    if (slash) {
        size_t rl = strlen(slash + 1);
        if (rl == 0 || rl > XMPP_JID_PART_MAX || !part_ok(slash + 1, rl, ""))
            return -EINVAL;
        memcpy(out->resource, slash + 1, rl);
    }
    memcpy(out->local, s, local_len);
    memcpy(out->domain, dom, dom_len);
    return 0;
}

bool xmpp_jid_bare_eq(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
    return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

bool xmpp_jid_matches(const char *want, const char *jid)
{
    if (!xmpp_jid_bare_eq(want, jid))
        return false;
    const char *wr = strchr(want, '/'), *jr = strchr(jid, '/');
    return !wr || (jr && strcmp(wr, jr) == 0);
}
