/*
 * crurl: splice rewritten ConnectionRequestURL values into a CWMP body.
 *
 * How the byte-exact splice works. Every input byte is appended to `pend`
 * (absolute offsets: pend.data[0] is byte `base` of the body) and fed to
 * expat. Expat reports each event with its absolute byte offset and length,
 * so we know (a) how far the input has been tokenised (`parsed`) and (b) the
 * exact byte range of a Value element's content: from the end of its start
 * tag to the start of its end tag. Output is pend copied up to
 * min(parsed, hold_start); a splice copies up to the content start, writes
 * the replacement and skips the original content.
 */
#include "codec/crurl.h"

#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/crurl_int.h"
#include "core/str.h"

/* ---- output ----------------------------------------------------------------- */

static void out_fail(crurl_t *rw, int rc)
{
    if (!rw->oerr)
        rw->oerr = rc;
    if (!rw->defer)
        XML_StopParser(rw->xp, XML_FALSE);
}

/* Copy input [head, upto) to the output. */
static int emit_to(crurl_t *rw, int64_t upto)
{
    if (upto <= rw->head)
        return 0;
    /* the fast path reads the caller's whole body in place */
    const char *src = rw->src ? rw->src : rw->pend.data;
    size_t srclen = rw->src ? rw->src_len : rw->pend.len;
    if (upto > rw->base + (int64_t)srclen)
        upto = rw->base + (int64_t)srclen;
    int rc = buf_append(rw->out, src + (rw->head - rw->base), (size_t)(upto - rw->head));
    if (rc)
        return rc;
    rw->head = upto;
    return 0;
}

/* Drop what was emitted from pend so it never holds more than the hold. */
static void compact(crurl_t *rw)
{
    size_t done = (size_t)(rw->head - rw->base);
    if (done == 0)
        return;
    buf_consume(&rw->pend, done);
    rw->base = rw->head;
}

static void mark(crurl_t *rw)
{
    int64_t end = rw->ev_idx + rw->ev_cnt;
    if (end > rw->parsed)
        rw->parsed = end;
}

/* ---- helpers ------------------------------------------------------------------ */

static const char *local_name(const char *name)
{
    const char *sep = strrchr(name, NS_SEP);
    return sep ? sep + 1 : name;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

bool crurl_is_param_name(const char *name, size_t len)
{
    static const char *const names[] = {
        "Device.ManagementServer.ConnectionRequestURL",
        "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
    };
    trim(&name, &len);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (len == strlen(names[i]) && memcmp(name, names[i], len) == 0)
            return true;
    return false;
}

int crurl_format(const char *public_url, const char *origin, size_t len, buf_t *out)
{
    int rc = buf_append_str(out, public_url);
    if (!rc)
        rc = buf_append_str(out, "/client?origin=");
    if (!rc)
        rc = str_pct_encode(out, origin, len, "-._~");
    return rc;
}

/* Append ASCII text in the document's encoding, XML-escaped. */
static int put_text(crurl_t *rw, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '&': esc = "&amp;"; break;
        case '<': esc = "&lt;"; break;
        case '>': esc = "&gt;"; break;
        case '"': esc = "&quot;"; break;
        case '\'': esc = "&apos;"; break;
        default: break;
        }
        char one[2] = { s[i], 0 };
        const char *p = esc ? esc : one;
        for (; *p; p++) {
            char w[2];
            int rc;
            if (rw->enc == ENC_ASCII) {
                rc = buf_append_byte(rw->out, *p);
            } else {
                w[rw->enc == ENC_UTF16LE ? 0 : 1] = *p;
                w[rw->enc == ENC_UTF16LE ? 1 : 0] = 0;
                rc = buf_append(rw->out, w, 2);
            }
            if (rc)
                return rc;
        }
    }
    return 0;
}

static void skip(crurl_t *rw, const char *why)
{
    rw->info.skipped++;
    rw->info.skip_reason = why;
}

/* Replace the content [vs, ve) whose decoded text is text[0..n). */
static void splice(crurl_t *rw, int64_t vs, int64_t ve, const char *text, size_t n, bool bad)
{
    if (bad) {
        skip(rw, "value too long or not plain text");
        return;
    }
    trim(&text, &n);
    if (n == 0)
        return; /* the CPE has no connection request URL: nothing to relay */
    size_t plen = strlen(rw->o.public_url);
    if (n > plen + 15 && memcmp(text, rw->o.public_url, plen) == 0 &&
        memcmp(text + plen, "/client?origin=", 15) == 0) {
        skip(rw, "already rewritten");
        return;
    }
    if (vs < rw->head) {
        skip(rw, "value sent before its name was known (struct over max_hold)");
        return;
    }
    buf_t rep = BUF_INIT(plen + 16 + 3 * n);
    int rc = crurl_format(rw->o.public_url, text, n, &rep);
    if (!rc)
        rc = emit_to(rw, vs);
    if (!rc)
        rc = put_text(rw, rep.data, rep.len);
    buf_free(&rep);
    if (rc) {
        out_fail(rw, rc);
        return;
    }
    rw->head = ve;
    rw->info.rewritten++;
    if (rw->defer) { /* reported if the fast scan gets to the end */
        if (buf_append(&rw->deferred, text, n) || buf_append_byte(&rw->deferred, '\0'))
            out_fail(rw, -ENOMEM);
        return;
    }
    if (rw->o.on_origin) {
        char *copy = malloc(n + 1);
        if (!copy) {
            out_fail(rw, -ENOMEM);
            return;
        }
        memcpy(copy, text, n);
        copy[n] = '\0';
        rw->o.on_origin(rw->o.ud, copy, n);
        free(copy);
    }
}

static void pvs_begin(crurl_t *rw)
{
    rw->name_state = NAME_UNKNOWN;
    rw->pvs_overflow = false;
    rw->pvs_values = 0;
    rw->name_bad = false;
    rw->pending = false;
    buf_reset(&rw->name);
    rw->hold_start = rw->ev_idx;
}

/* ---- expat handlers ------------------------------------------------------------- */

static ctx_t child_ctx(crurl_t *rw, ctx_t parent, const char *local)
{
    switch (parent) {
    case CTX_OTHER:
        return rw->depth == 0 && strcmp(local, "Envelope") == 0 ? CTX_ENVELOPE : CTX_OTHER;
    case CTX_ENVELOPE:
        return strcmp(local, "Body") == 0 ? CTX_BODY : CTX_OTHER;
    case CTX_BODY: {
        ctx_t c = CTX_OTHER;
        crurl_rpc_t r = CRURL_RPC_OTHER;
        if (strcmp(local, "Inform") == 0) {
            c = CTX_RPC_INFORM;
            r = CRURL_RPC_INFORM;
        } else if (strcmp(local, "GetParameterValuesResponse") == 0) {
            c = CTX_RPC_GPVR;
            r = CRURL_RPC_GPV_RESPONSE;
        }
        if (rw->info.rpc == CRURL_RPC_NONE)
            rw->info.rpc = r;
        return c;
    }
    case CTX_RPC_INFORM:
        if (strcmp(local, "DeviceId") == 0)
            return CTX_DEVID;
        /* fall through */
    case CTX_RPC_GPVR:
        return strcmp(local, "ParameterList") == 0 ? CTX_PLIST : CTX_OTHER;
    case CTX_DEVID: {
        char *f = NULL;
        if (strcmp(local, "Manufacturer") == 0)
            f = rw->info.manufacturer;
        else if (strcmp(local, "OUI") == 0)
            f = rw->info.oui;
        else if (strcmp(local, "ProductClass") == 0)
            f = rw->info.product_class;
        else if (strcmp(local, "SerialNumber") == 0)
            f = rw->info.serial;
        if (!f)
            return CTX_OTHER;
        if (f[0])
            rw->info.devid_ok = false; /* repeated: which one would the ACS take? */
        f[0] = '\0';
        rw->devid_field = f;
        rw->devid_len = 0;
        return CTX_DEVID_FIELD;
    }
    case CTX_PLIST:
        if (strcmp(local, "ParameterValueStruct") != 0)
            return CTX_OTHER;
        pvs_begin(rw);
        return CTX_PVS;
    case CTX_PVS:
        if (strcmp(local, "Name") == 0) {
            buf_reset(&rw->name);
            return CTX_NAME;
        }
        if (strcmp(local, "Value") == 0) {
            buf_reset(&rw->value);
            rw->val_bad = false;
            rw->val_start = rw->ev_idx + rw->ev_cnt;
            if (rw->name_state == NAME_MATCH)
                rw->hold_start = rw->val_start;
            return CTX_VALUE;
        }
        return CTX_OTHER;
    case CTX_NAME:
        rw->name_bad = true;
        return CTX_OTHER;
    case CTX_VALUE:
        rw->val_bad = true;
        return CTX_OTHER;
    case CTX_DEVID_FIELD:
        rw->info.devid_ok = false;
        return CTX_OTHER;
    }
    return CTX_OTHER;
}

void crurl_ev_start(crurl_t *rw, const char *local)
{
    ctx_t parent = rw->depth == 0 ? CTX_OTHER
                 : rw->depth <= CTX_STACK ? rw->stack[rw->depth - 1] : CTX_OTHER;
    ctx_t c = child_ctx(rw, parent, local);
    if (rw->depth < CTX_STACK)
        rw->stack[rw->depth] = c;
    rw->depth++;
    mark(rw);
}

static void expat_pos(crurl_t *rw)
{
    rw->ev_idx = (int64_t)XML_GetCurrentByteIndex(rw->xp);
    rw->ev_cnt = XML_GetCurrentByteCount(rw->xp);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    crurl_t *rw = ud;
    expat_pos(rw);
    crurl_ev_start(rw, local_name(name));
}

static void name_end(crurl_t *rw)
{
    bool match = !rw->name_bad && crurl_is_param_name(rw->name.data ? rw->name.data : "", rw->name.len);
    if (match) {
        if (rw->name_state == NAME_NOMATCH && rw->pvs_values)
            skip(rw, "a Value between two different Names");
        else if (rw->name_state == NAME_UNKNOWN && rw->pvs_overflow)
            skip(rw, "value sent before its name was known (struct over max_hold)");
        rw->name_state = NAME_MATCH;
        if (rw->pending) {
            rw->pending = false;
            splice(rw, rw->pend_vs, rw->pend_ve, rw->pend_text.data ? rw->pend_text.data : "",
                   rw->pend_text.len, rw->pend_bad);
        }
        rw->hold_start = -1;
    } else if (rw->name_state == NAME_UNKNOWN) {
        rw->name_state = NAME_NOMATCH;
        rw->pending = false;
        rw->hold_start = -1;
    }
}

static void value_end(crurl_t *rw)
{
    int64_t ve = rw->ev_idx;
    const char *text = rw->value.data ? rw->value.data : "";
    rw->pvs_values++;
    if (rw->name_state == NAME_MATCH) {
        if (ve > rw->val_start)
            splice(rw, rw->val_start, ve, text, rw->value.len, rw->val_bad);
        rw->hold_start = -1;
        return;
    }
    if (rw->name_state != NAME_UNKNOWN || ve <= rw->val_start)
        return;
    /* The Value came first: keep it (and the hold) until the Name says.
     * Two Values before any Name: we cannot tell which one the ACS takes. */
    buf_reset(&rw->pend_text);
    if (rw->pending || buf_append(&rw->pend_text, text, rw->value.len) != 0) {
        skip(rw, "several Value elements before the Name");
        rw->pending = false;
        rw->hold_start = -1;
        rw->pvs_overflow = true;
        return;
    }
    rw->pending = true;
    rw->pend_vs = rw->val_start;
    rw->pend_ve = ve;
    rw->pend_bad = rw->val_bad;
}

void crurl_ev_end(crurl_t *rw)
{
    if (rw->depth == 0)
        return;
    rw->depth--;
    ctx_t c = rw->depth < CTX_STACK ? rw->stack[rw->depth] : CTX_OTHER;
    switch (c) {
    case CTX_NAME:
        name_end(rw);
        break;
    case CTX_VALUE:
        value_end(rw);
        break;
    case CTX_PVS:
        rw->pending = false;
        rw->hold_start = -1;
        break;
    case CTX_DEVID_FIELD:
        rw->devid_field = NULL;
        break;
    default:
        break;
    }
    mark(rw);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    crurl_t *rw = ud;
    expat_pos(rw);
    crurl_ev_end(rw);
}

bool crurl_ev_wants_text(const crurl_t *rw)
{
    ctx_t c = rw->depth == 0 || rw->depth > CTX_STACK ? CTX_OTHER : rw->stack[rw->depth - 1];
    return c == CTX_NAME || c == CTX_DEVID_FIELD ||
           (c == CTX_VALUE && rw->name_state != NAME_NOMATCH);
}

bool crurl_ev_in_pvs(const crurl_t *rw)
{
    return rw->depth && rw->depth <= CTX_STACK && rw->stack[rw->depth - 1] == CTX_PVS;
}

bool crurl_ev_in_other(const crurl_t *rw)
{
    /* Children of an OTHER element are OTHER (child_ctx), except a root
     * Envelope; an element opened inside a Name, a Value or a DeviceId
     * field has done its harm (name_bad, val_bad, devid_ok) at its start. */
    return rw->depth > CTX_STACK || (rw->depth && rw->stack[rw->depth - 1] == CTX_OTHER);
}

void crurl_ev_text(crurl_t *rw, const char *s, size_t n)
{
    ctx_t c = rw->depth == 0 || rw->depth > CTX_STACK ? CTX_OTHER : rw->stack[rw->depth - 1];
    switch (c) {
    case CTX_NAME:
        if (!rw->name_bad && buf_append(&rw->name, s, n))
            rw->name_bad = true;
        break;
    case CTX_VALUE:
        if (rw->name_state != NAME_NOMATCH && !rw->val_bad &&
            buf_append(&rw->value, s, n))
            rw->val_bad = true;
        break;
    case CTX_DEVID_FIELD:
        if (rw->devid_field) {
            if (rw->devid_len + n >= CRURL_DEVID_FIELD_MAX) {
                rw->info.devid_ok = false;
                break;
            }
            memcpy(rw->devid_field + rw->devid_len, s, n);
            rw->devid_len += n;
            rw->devid_field[rw->devid_len] = '\0';
        }
        break;
    default:
        break;
    }
    mark(rw);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    crurl_t *rw = ud;
    expat_pos(rw);
    crurl_ev_text(rw, s, (size_t)len);
}

void crurl_ev_other(crurl_t *rw) { mark(rw); }

static void XMLCALL on_default(void *ud, const XML_Char *s, int len)
{
    crurl_t *rw = ud;
    expat_pos(rw);
    crurl_ev_other(rw);
}

/* SOAP forbids a DTD; refusing it also rules out every entity trick. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    crurl_t *rw = ud;
    snprintf(rw->err, sizeof rw->err, "DOCTYPE not allowed");
    XML_StopParser(rw->xp, XML_FALSE);
}

/* ---- life cycle ---------------------------------------------------------------- */

static int make_parser(crurl_t *rw)
{
    /* Reset keeps expat's buffers (and namespace mode) for the next body. */
    if (!rw->xp || XML_ParserReset(rw->xp, NULL) != XML_TRUE) {
        if (rw->xp)
            XML_ParserFree(rw->xp);
        rw->xp = XML_ParserCreateNS(NULL, NS_SEP);
    }
    if (!rw->xp)
        return -ENOMEM;
    XML_SetUserData(rw->xp, rw);
    XML_SetElementHandler(rw->xp, on_start, on_end);
    XML_SetCharacterDataHandler(rw->xp, on_text);
    XML_SetDefaultHandlerExpand(rw->xp, on_default);
    XML_SetStartDoctypeDeclHandler(rw->xp, on_doctype);
    XML_SetParamEntityParsing(rw->xp, XML_PARAM_ENTITY_PARSING_NEVER);
    /* Our own random salt for expat's hash tables: otherwise expat asks
     * the kernel for one on every document. */
    XML_SetHashSalt(rw->xp, (unsigned long)str_seed64());
    return 0;
}

void crurl_reset(crurl_t *rw)
{
    memset(&rw->info, 0, sizeof rw->info);
    rw->info.devid_ok = true;
    buf_reset_keep(&rw->pend, 256 * 1024);
    rw->base = rw->head = rw->fed = rw->parsed = 0;
    rw->hold_start = -1;
    rw->failed = rw->started = false;
    rw->enc = ENC_ASCII;
    rw->err[0] = '\0';
    rw->oerr = 0;
    rw->depth = 0;
    rw->name_state = NAME_UNKNOWN;
    rw->pending = false;
    rw->devid_field = NULL;
    buf_reset_keep(&rw->name, 4096);
    buf_reset_keep(&rw->value, 4096);
    buf_reset_keep(&rw->pend_text, 4096);
    buf_reset_keep(&rw->deferred, 4096);
    buf_reset_keep(&rw->scan_text, 4096);
    rw->defer = false;
    rw->ev_idx = rw->ev_cnt = 0;
    if (make_parser(rw))
        rw->failed = true; /* pass-through: safe, if unhelpful */
}

crurl_t *crurl_new(const crurl_opts_t *opts)
{
    crurl_t *rw = calloc(1, sizeof *rw);
    if (!rw)
        return NULL;
    rw->o = *opts;
    if (!rw->o.max_value)
        rw->o.max_value = 2048;
    if (!rw->o.max_hold)
        rw->o.max_hold = 64 * 1024;
    if (rw->o.max_hold < rw->o.max_value)
        rw->o.max_hold = rw->o.max_value;
    /* pend holds at most one held struct plus the chunk being fed. */
    buf_init(&rw->pend, SIZE_MAX / 4);
    buf_init(&rw->name, MAX_NAME);
    buf_init(&rw->value, rw->o.max_value);
    buf_init(&rw->pend_text, rw->o.max_value);
    buf_init(&rw->deferred, SIZE_MAX / 4);
    buf_init(&rw->scan_text, MAX_NAME + rw->o.max_value);
    crurl_reset(rw);
    if (!rw->xp) {
        crurl_free(rw);
        return NULL;
    }
    return rw;
}

void crurl_free(crurl_t *rw)
{
    if (!rw)
        return;
    if (rw->xp)
        XML_ParserFree(rw->xp);
    buf_free(&rw->pend);
    buf_free(&rw->name);
    buf_free(&rw->value);
    buf_free(&rw->pend_text);
    buf_free(&rw->deferred);
    buf_free(&rw->scan_text);
    free(rw);
}

const crurl_info_t *crurl_info(const crurl_t *rw) { return &rw->info; }
const char *crurl_error(const crurl_t *rw) { return rw->failed ? rw->err : NULL; }

static void detect_encoding(crurl_t *rw, const unsigned char *d, size_t n)
{
    rw->started = true;
    if (n >= 2 && ((d[0] == 0xFF && d[1] == 0xFE) || (d[0] == '<' && d[1] == 0)))
        rw->enc = ENC_UTF16LE;
    else if (n >= 2 && ((d[0] == 0xFE && d[1] == 0xFF) || (d[0] == 0 && d[1] == '<')))
        rw->enc = ENC_UTF16BE;
}

static void fail(crurl_t *rw)
{
    rw->failed = true;
    if (!rw->err[0])
        snprintf(rw->err, sizeof rw->err, "line %lu: %s",
                 (unsigned long)XML_GetCurrentLineNumber(rw->xp),
                 XML_ErrorString(XML_GetErrorCode(rw->xp)));
    rw->hold_start = -1;
}

/* A whole body in one call: try the fast scanner; 1 when it did the job. */
static int try_scan(crurl_t *rw, const char *data, size_t len, buf_t *out)
{
    size_t mark_out = out->len;
    rw->out = out;
    rw->oerr = 0;
    rw->src = data; /* not copied: the scan and the output read it where it is */
    rw->src_len = len;
    rw->fed = (int64_t)len;
    rw->defer = true;
    int rc = crurl_scan(rw, data, len);
    rw->defer = false;
    if (rc == 0 && !rw->oerr)
        rc = emit_to(rw, (int64_t)len);
    rw->src = NULL;
    if (rc == 0 && !rw->oerr) {
        rw->base = rw->head; /* all of it emitted: pend stays empty */
        rw->info.fast = true;
        for (size_t off = 0; rw->o.on_origin && off < rw->deferred.len;) {
            const char *o = rw->deferred.data + off;
            size_t n = strlen(o);
            rw->o.on_origin(rw->o.ud, o, n);
            off += n + 1;
        }
        return 1;
    }
    if (rw->oerr == -ENOBUFS || rc == -ENOBUFS)
        return -ENOBUFS;
    /* Not for the fast path: start over with expat, output as it was. */
    crurl_reset(rw);
    out->len = mark_out;
    if (out->data)
        out->data[mark_out] = '\0';
    return 0;
}

int crurl_feed(crurl_t *rw, const char *data, size_t len, bool last, buf_t *out)
{
    if (last && rw->fed == 0 && len && !rw->started && !rw->failed && !rw->o.no_fast &&
        (unsigned char)data[0] != 0xFE && (unsigned char)data[0] != 0xFF && !memchr(data, 0, len)) {
        int done = try_scan(rw, data, len, out);
        if (done)
            return done < 0 ? done : 0;
    }
    rw->out = out;
    rw->oerr = 0;
    if (!rw->started && len)
        detect_encoding(rw, (const unsigned char *)data, len);
    if (rw->failed) {
        int rc = emit_to(rw, rw->base + (int64_t)rw->pend.len);
        compact(rw);
        return rc ? rc : buf_append(out, data, len);
    }
    int rc = buf_append(&rw->pend, data, len);
    if (rc)
        return rc;
    rw->fed += (int64_t)len;
    /* expat takes int lengths: feed very large chunks in slices. */
    size_t off = 0;
    do {
        size_t n = len - off > (1u << 30) ? (1u << 30) : len - off;
        bool fin = last && off + n == len;
        if (fin && rw->fed == 0) {
            rw->info.rpc = CRURL_RPC_NONE; /* empty POST: nothing to parse */
            break;
        }
        enum XML_Status st = XML_Parse(rw->xp, data + off, (int)n, fin);
        if (rw->oerr)
            return rw->oerr;
        if (st != XML_STATUS_OK) {
            fail(rw);
            break;
        }
        off += n;
    } while (off < len);

    int64_t limit = rw->failed || last ? rw->base + (int64_t)rw->pend.len
                  : rw->hold_start >= 0 ? rw->hold_start : rw->parsed;
    if (!rw->failed && !last && rw->hold_start >= 0 &&
        rw->fed - rw->hold_start > (int64_t)rw->o.max_hold) {
        /* A struct too big to hold before its Name is known: let it go. */
        rw->hold_start = -1;
        rw->pvs_overflow = true;
        if (rw->pending) {
            rw->pending = false;
            skip(rw, "value sent before its name was known (struct over max_hold)");
        }
        limit = rw->parsed;
    }
    rc = emit_to(rw, limit);
    compact(rw);
    return rc;
}

bool crurl_may_rewrite(const char *data, size_t len)
{
    if (len == 0)
        return false;
    /* UTF-16 and other non-ASCII layouts: only a parse can tell. */
    if (memchr(data, '\0', len) || (unsigned char)data[0] >= 0x80)
        return true;
    if (memmem(data, len, "ConnectionRequestURL", 20) || memmem(data, len, "Inform", 6))
        return true;
    /* Ways to spell a name without its literal bytes: character references,
     * and text split by CDATA sections, comments or processing
     * instructions (the leading XML declaration aside). */
    if (memmem(data, len, "&#", 2) || memmem(data, len, "<!", 2))
        return true;
    const char *pi = memmem(data, len, "<?", 2);
    if (pi && pi != data)
        return true;
    if (pi && memmem(data + 2, len - 2, "<?", 2))
        return true;
    return false;
}

int crurl_device_id(const crurl_info_t *info, char *out, size_t outlen)
{
    if (!info->devid_ok || !info->oui[0] || !info->serial[0])
        return -ENOENT;
    buf_t b = BUF_INIT(outlen ? outlen - 1 : 0);
    int rc = str_pct_encode(&b, info->oui, strlen(info->oui), "_");
    if (!rc && info->product_class[0]) {
        rc = buf_append_byte(&b, '-');
        if (!rc)
            rc = str_pct_encode(&b, info->product_class, strlen(info->product_class), "_");
    }
    if (!rc)
        rc = buf_append_byte(&b, '-');
    if (!rc)
        rc = str_pct_encode(&b, info->serial, strlen(info->serial), "_");
    if (!rc)
        rc = str_copyn(out, outlen, b.data, b.len);
    buf_free(&b);
    return rc ? (rc == -ENOBUFS ? -ENAMETOOLONG : rc) : 0;
}
