/*
 * cwmp_decode: the streaming CWMP decoder on expat.
 *
 * No tree is built: a stack of element local names gives each leaf its
 * context, and a leaf's text is stored (or handed to the on_param callback)
 * when its end tag arrives. Strings go to a chunked arena whose blocks stay
 * put, so pointers handed out remain valid while it grows; in callback mode
 * the arena is rolled back after each item, so memory stays at one item.
 */
#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/cwmp.h"
#include "core/str.h"

#define NS_SEP '\x01' /* cannot occur in an XML name or a well-formed URI */
#define SOAP_ENV "http://schemas.xmlsoap.org/soap/envelope/"
#define XSI_TYPE "http://www.w3.org/2001/XMLSchema-instance\x01type"
#define NAME_MAX_LEN 48
#define BLOCK_SIZE (64 * 1024)

typedef struct block {
    size_t size, used;
    char data[];
} block_t;

typedef enum item_kind {
    ITEM_NONE = 0,
    ITEM_PARAM,  /* any cwmp_param_t list */
    ITEM_EVENT,
    ITEM_SPV,    /* SetParameterValuesFault */
} item_kind_t;

struct cwmp_decoder {
    XML_Parser xp;
    cwmp_decode_opts_t o;
    int err;
    char reason[160];
    size_t fed;

    /* element stack */
    size_t depth;
    char (*stack)[NAME_MAX_LEN];
    bool in_header, in_body, seen_envelope, seen_body, seen_rpc, ns_set;
    buf_t text;

    /* arena */
    block_t **blocks;
    size_t nblocks, cur, arena_bytes, arena_max;

    /* lists */
    cwmp_param_t *params;
    size_t n_params, cap_params;
    const char **names;
    size_t n_names, cap_names;
    cwmp_event_t *events;
    size_t n_events, cap_events;
    cwmp_spv_fault_t *spv;
    size_t n_spv, cap_spv;
    size_t items;

    /* item being built */
    item_kind_t item;
    cwmp_param_t cur_param;
    cwmp_event_t cur_event;
    cwmp_spv_fault_t cur_spv;
    buf_t access; /* AccessList entries, joined */
    size_t mark_block, mark_used;

    cwmp_msg_t msg;
};

/* ---- errors and arena ------------------------------------------------------ */

static void fail(cwmp_decoder_t *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(cwmp_decoder_t *d, int err, const char *fmt, ...)
{
    if (d->err)
        return;
    d->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
    XML_StopParser(d->xp, XML_FALSE);
}

static char *arena_alloc(cwmp_decoder_t *d, size_t n)
{
    if (d->nblocks) {
        block_t *b = d->blocks[d->cur];
        if (b->size - b->used >= n) {
            char *p = b->data + b->used;
            b->used += n;
            return p;
        }
        /* The next block may be left over from a rollback or reset. */
        if (d->cur + 1 < d->nblocks) {
            block_t *nb = d->blocks[d->cur + 1];
            if (nb->size >= n) {
                d->cur++;
                nb->used = n;
                return nb->data;
            }
            d->arena_bytes -= nb->size;
            free(nb);
            memmove(&d->blocks[d->cur + 1], &d->blocks[d->cur + 2],
                    (d->nblocks - d->cur - 2) * sizeof *d->blocks);
            d->nblocks--;
        }
    }
    size_t size = n > BLOCK_SIZE ? n : BLOCK_SIZE;
    if (d->arena_bytes + size > d->arena_max) {
        fail(d, CWMP_DEC_LIMIT, "decoded strings exceed %zu bytes", d->arena_max);
        return NULL;
    }
    block_t *b = malloc(sizeof *b + size);
    block_t **nbv = b ? realloc(d->blocks, (d->nblocks + 1) * sizeof *nbv) : NULL;
    if (!nbv) {
        free(b);
        fail(d, CWMP_DEC_NOMEM, "out of memory");
        return NULL;
    }
    d->blocks = nbv;
    size_t at = d->nblocks ? d->cur + 1 : 0;
    memmove(&d->blocks[at + 1], &d->blocks[at], (d->nblocks - at) * sizeof *d->blocks);
    d->blocks[at] = b;
    d->nblocks++;
    d->cur = at;
    d->arena_bytes += size;
    b->size = size;
    b->used = n;
    return b->data;
}

static const char *arena_str(cwmp_decoder_t *d, const char *s, size_t n)
{
    char *p = arena_alloc(d, n + 1);
    if (!p)
        return "";
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void arena_mark(cwmp_decoder_t *d)
{
    d->mark_block = d->cur;
    d->mark_used = d->nblocks ? d->blocks[d->cur]->used : 0;
}

static void arena_rollback(cwmp_decoder_t *d)
{
    if (!d->nblocks)
        return;
    for (size_t i = d->mark_block + 1; i <= d->cur; i++)
        d->blocks[i]->used = 0;
    d->cur = d->mark_block;
    d->blocks[d->cur]->used = d->mark_used;
}

/* Grow one of the lists (all share the max_items budget). */
static void *list_push(cwmp_decoder_t *d, void **arr, size_t *n, size_t *cap, size_t elem)
{
    if (d->items >= d->o.max_items) {
        fail(d, CWMP_DEC_LIMIT, "more than %zu list items", d->o.max_items);
        return NULL;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        void *na = realloc(*arr, nc * elem);
        if (!na) {
            fail(d, CWMP_DEC_NOMEM, "out of memory");
            return NULL;
        }
        *arr = na;
        *cap = nc;
    }
    d->items++;
    return (char *)*arr + (*n)++ * elem;
}

/* ---- value parsing --------------------------------------------------------- */

static const char *trim(const char *s, size_t *n)
{
    while (*n && strchr(" \t\r\n", *s)) {
        s++;
        (*n)--;
    }
    while (*n && strchr(" \t\r\n", s[*n - 1]))
        (*n)--;
    return s;
}

static bool parse_u32(cwmp_decoder_t *d, const char *s, size_t n, uint32_t *out)
{
    s = trim(s, &n);
    uint64_t v = 0;
    if (n && *s == '+') {
        s++;
        n--;
    }
    if (n == 0 || n > 10)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        goto bad;
    *out = (uint32_t)v;
    return true;
bad:
    fail(d, CWMP_DEC_INVALID, "<%s>: not an unsignedInt", d->stack[d->depth - 1]);
    return false;
}

static bool parse_int(cwmp_decoder_t *d, const char *s, size_t n, int *out)
{
    size_t m = n;
    const char *t = trim(s, &m);
    bool neg = m && *t == '-';
    uint32_t v;
    if (!parse_u32(d, neg ? t + 1 : t, neg ? m - 1 : m, &v))
        return false;
    if (v > INT32_MAX) {
        fail(d, CWMP_DEC_INVALID, "<%s>: out of range", d->stack[d->depth - 1]);
        return false;
    }
    *out = neg ? -(int)v : (int)v;
    return true;
}

static bool parse_bool(cwmp_decoder_t *d, const char *s, size_t n, bool *out)
{
    s = trim(s, &n);
    if ((n == 1 && *s == '1') || (n == 4 && !memcmp(s, "true", 4)))
        *out = true;
    else if ((n == 1 && *s == '0') || (n == 5 && !memcmp(s, "false", 5)))
        *out = false;
    else {
        fail(d, CWMP_DEC_INVALID, "<%s>: not a boolean", d->stack[d->depth - 1]);
        return false;
    }
    return true;
}

/* ---- element handlers ------------------------------------------------------ */

/* Split an expat name "uri\x01local" (or just "local"). */
static const char *local_name(const char *name, const char **uri, size_t *urilen)
{
    const char *sep = strchr(name, NS_SEP);
    if (!sep) {
        *uri = "";
        *urilen = 0;
        return name;
    }
    *uri = name;
    *urilen = (size_t)(sep - name);
    return sep + 1;
}

static bool uri_is(const char *uri, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(uri, want, n) == 0;
}

/* Accept the cwmp namespaces; the first one seen is the message's. */
static bool cwmp_uri(cwmp_decoder_t *d, const char *uri, size_t n)
{
    static const char pfx[] = "urn:dslforum-org:cwmp-1-";
    if (n != sizeof pfx || memcmp(uri, pfx, sizeof pfx - 1) != 0 || uri[n - 1] < '0' ||
        uri[n - 1] > '4')
        return false;
    cwmp_ns_t ns = uri[n - 1] >= '3' ? CWMP_NS_1_3 : (cwmp_ns_t)(uri[n - 1] - '0');
    if (!d->ns_set) {
        d->msg.ns = ns;
        d->ns_set = true;
    }
    return true;
}

static bool is_param_struct(const char *n)
{
    return !strcmp(n, "ParameterValueStruct") || !strcmp(n, "ParameterInfoStruct") ||
           !strcmp(n, "ParameterAttributeStruct") || !strcmp(n, "SetParameterAttributesStruct") ||
           !strcmp(n, "ArgStruct");
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    cwmp_decoder_t *d = ud;
    if (d->err)
        return;
    if (d->depth >= d->o.max_depth) {
        fail(d, CWMP_DEC_LIMIT, "elements nested deeper than %zu", d->o.max_depth);
        return;
    }
    const char *uri;
    size_t ulen;
    const char *ln = local_name(name, &uri, &ulen);
    size_t lnl = strnlen(ln, NAME_MAX_LEN - 1); /* longer names match nothing anyway */
    memcpy(d->stack[d->depth], ln, lnl);
    d->stack[d->depth][lnl] = '\0';
    d->depth++;
    buf_reset(&d->text);
    size_t depth = d->depth;

    if (depth == 1) {
        if (!uri_is(uri, ulen, SOAP_ENV) || strcmp(ln, "Envelope") != 0)
            fail(d, CWMP_DEC_NOT_SOAP, "root element is not a SOAP 1.1 Envelope");
        d->seen_envelope = true;
    } else if (depth == 2) {
        if (!uri_is(uri, ulen, SOAP_ENV))
            fail(d, CWMP_DEC_NOT_SOAP, "unexpected <%s> in the Envelope", ln);
        else if (!strcmp(ln, "Header"))
            d->in_header = true;
        else if (!strcmp(ln, "Body"))
            d->in_body = d->seen_body = true;
        else
            fail(d, CWMP_DEC_NOT_SOAP, "unexpected <%s> in the Envelope", ln);
    } else if (depth == 3 && d->in_header) {
        if (ulen && strncmp(uri, "urn:dslforum-org:cwmp-", 22) == 0 && !cwmp_uri(d, uri, ulen))
            fail(d, CWMP_DEC_NAMESPACE, "unsupported namespace %.*s", (int)(ulen > 60 ? 60 : ulen),
                 uri);
    } else if (depth == 3 && d->in_body) {
        if (d->seen_rpc) {
            fail(d, CWMP_DEC_INVALID, "more than one message in the Body");
            return;
        }
        d->seen_rpc = true;
        if (uri_is(uri, ulen, SOAP_ENV) && !strcmp(ln, "Fault")) {
            d->msg.type = CWMP_FAULT;
        } else if (ulen && strncmp(uri, "urn:dslforum-org:cwmp-", 22) == 0) {
            if (!cwmp_uri(d, uri, ulen)) {
                fail(d, CWMP_DEC_NAMESPACE, "unsupported namespace %.*s",
                     (int)(ulen > 60 ? 60 : ulen), uri);
                return;
            }
            d->msg.type = cwmp_type_from_name(ln);
        } else {
            d->msg.type = CWMP_UNKNOWN;
        }
        if (d->msg.type == CWMP_UNKNOWN)
            d->msg.method = arena_str(d, ln, strlen(ln));
    } else if (d->in_body && depth == 5 && d->msg.type != CWMP_FAULT) {
        if (is_param_struct(ln)) {
            d->item = ITEM_PARAM;
            d->cur_param = (cwmp_param_t){ .name = "", .value = "", .access_list = "" };
            buf_reset(&d->access);
            arena_mark(d);
        } else if (!strcmp(ln, "EventStruct")) {
            d->item = ITEM_EVENT;
            d->cur_event = (cwmp_event_t){ "", "" };
        }
    } else if (d->in_body && depth == 6 && d->msg.type == CWMP_FAULT &&
               !strcmp(ln, "SetParameterValuesFault")) {
        d->item = ITEM_SPV;
        d->cur_spv = (cwmp_spv_fault_t){ "", 0, "" };
    } else if (d->item == ITEM_PARAM && depth == 6 && !strcmp(ln, "Value")) {
        for (const XML_Char **a = atts; a[0]; a += 2) {
            if (strcmp(a[0], XSI_TYPE) == 0) {
                /* Normalise the prefix: the CPE may bind XSD to any name. */
                const char *c = strchr(a[1], ':');
                const char *t = c ? c + 1 : a[1];
                char tmp[80] = "xsd:";
                size_t tl = strlen(t);
                if (tl < sizeof tmp - 4) {
                    memcpy(tmp + 4, t, tl);
                    d->cur_param.type = arena_str(d, tmp, tl + 4);
                }
            }
        }
    }
}

static void item_end(cwmp_decoder_t *d)
{
    switch (d->item) {
    case ITEM_PARAM:
        if (d->access.len)
            d->cur_param.access_list = arena_str(d, d->access.data, d->access.len);
        if (d->err)
            break;
        if (d->o.on_param) {
            if (d->items >= d->o.max_items) {
                fail(d, CWMP_DEC_LIMIT, "more than %zu list items", d->o.max_items);
                break;
            }
            d->items++;
            d->n_params++;
            d->msg.n_params = d->n_params;
            if (d->o.on_param(&d->msg, &d->cur_param, d->o.ud) != 0)
                fail(d, CWMP_DEC_CANCELED, "stopped by the receiver");
            arena_rollback(d);
        } else {
            cwmp_param_t *p = list_push(d, (void **)&d->params, &d->n_params, &d->cap_params,
                                        sizeof *p);
            if (p)
                *p = d->cur_param;
        }
        break;
    case ITEM_EVENT: {
        cwmp_event_t *e = list_push(d, (void **)&d->events, &d->n_events, &d->cap_events,
                                    sizeof *e);
        if (e)
            *e = d->cur_event;
        break;
    }
    case ITEM_SPV: {
        cwmp_spv_fault_t *f = list_push(d, (void **)&d->spv, &d->n_spv, &d->cap_spv, sizeof *f);
        if (f)
            *f = d->cur_spv;
        break;
    }
    default:
        break;
    }
    d->item = ITEM_NONE;
}

/* A leaf or struct under the RPC element (depth 4). */
static void rpc_field(cwmp_decoder_t *d, const char *ln, const char *s, size_t n)
{
    cwmp_msg_t *m = &d->msg;
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
        { "CurrentTime", offsetof(cwmp_msg_t, current_time) },
        { "StartTime", offsetof(cwmp_msg_t, start_time) },
        { "CompleteTime", offsetof(cwmp_msg_t, complete_time) },
        { "ParameterKey", offsetof(cwmp_msg_t, parameter_key) },
        { "ParameterPath", offsetof(cwmp_msg_t, parameter_path) },
        { "ObjectName", offsetof(cwmp_msg_t, object_name) },
        { "CommandKey", offsetof(cwmp_msg_t, command_key) },
        { "FileType", offsetof(cwmp_msg_t, file_type) },
        { "URL", offsetof(cwmp_msg_t, url) },
        { "Username", offsetof(cwmp_msg_t, username) },
        { "Password", offsetof(cwmp_msg_t, password) },
        { "TargetFileName", offsetof(cwmp_msg_t, target_file_name) },
        { "SuccessURL", offsetof(cwmp_msg_t, success_url) },
        { "FailureURL", offsetof(cwmp_msg_t, failure_url) },
        { "AnnounceURL", offsetof(cwmp_msg_t, announce_url) },
        { "TransferURL", offsetof(cwmp_msg_t, transfer_url) },
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (!strcmp(ln, strs[i].name)) {
            *(const char **)((char *)m + strs[i].off) = arena_str(d, s, n);
            return;
        }
    }
    if (!strcmp(ln, "MaxEnvelopes"))
        parse_u32(d, s, n, &m->max_envelopes);
    else if (!strcmp(ln, "RetryCount"))
        parse_u32(d, s, n, &m->retry_count);
    else if (!strcmp(ln, "InstanceNumber"))
        parse_u32(d, s, n, &m->instance_number);
    else if (!strcmp(ln, "FileSize"))
        parse_u32(d, s, n, &m->file_size);
    else if (!strcmp(ln, "DelaySeconds"))
        parse_u32(d, s, n, &m->delay_seconds);
    else if (!strcmp(ln, "Status"))
        parse_int(d, s, n, &m->status);
    else if (!strcmp(ln, "NextLevel"))
        parse_bool(d, s, n, &m->next_level);
    else if (!strcmp(ln, "IsDownload"))
        parse_bool(d, s, n, &m->is_download);
    /* unknown children are ignored: vendors add their own */
}

static void param_field(cwmp_decoder_t *d, const char *ln, const char *s, size_t n)
{
    cwmp_param_t *p = &d->cur_param;
    bool b;
    if (!strcmp(ln, "Name"))
        p->name = arena_str(d, s, n);
    else if (!strcmp(ln, "Value"))
        p->value = arena_str(d, s, n);
    else if (!strcmp(ln, "Writable")) {
        if (parse_bool(d, s, n, &b))
            p->writable = b;
    } else if (!strcmp(ln, "Notification"))
        parse_int(d, s, n, &p->notification);
    else if (!strcmp(ln, "NotificationChange"))
        parse_bool(d, s, n, &p->notification_change);
    else if (!strcmp(ln, "AccessListChange"))
        parse_bool(d, s, n, &p->access_list_change);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    cwmp_decoder_t *d = ud;
    (void)name;
    if (d->err || d->depth == 0)
        return;
    size_t depth = d->depth;
    const char *ln = d->stack[depth - 1];
    const char *parent = depth >= 2 ? d->stack[depth - 2] : "";
    /* on_text keeps one byte free for this NUL */
    (void)buf_append_byte(&d->text, '\0');
    const char *s = d->text.data ? d->text.data : "";
    size_t n = d->text.len ? d->text.len - 1 : 0;

    if (depth == 2) {
        d->in_header = d->in_body = false;
    } else if (depth == 3 && d->in_header) {
        if (!strcmp(ln, "ID"))
            d->msg.id = arena_str(d, s, n);
        else if (!strcmp(ln, "HoldRequests"))
            d->msg.has_hold_requests = parse_bool(d, s, n, &d->msg.hold_requests);
    } else if (d->in_body && d->msg.type == CWMP_FAULT) {
        cwmp_fault_t *f = &d->msg.fault;
        if (depth == 4 && !strcmp(ln, "faultcode")) {
            const char *c = memchr(s, ':', n);
            const char *v = c ? c + 1 : s;
            f->soap_code = arena_str(d, v, n - (size_t)(v - s));
        } else if (depth == 6 && !strcmp(parent, "Fault")) {
            if (!strcmp(ln, "FaultCode"))
                parse_int(d, s, n, &f->code);
            else if (!strcmp(ln, "FaultString"))
                f->string = arena_str(d, s, n);
            else if (!strcmp(ln, "SetParameterValuesFault"))
                item_end(d);
        } else if (depth == 7 && d->item == ITEM_SPV) {
            if (!strcmp(ln, "ParameterName"))
                d->cur_spv.name = arena_str(d, s, n);
            else if (!strcmp(ln, "FaultCode"))
                parse_int(d, s, n, &d->cur_spv.code);
            else if (!strcmp(ln, "FaultString"))
                d->cur_spv.string = arena_str(d, s, n);
        }
    } else if (d->in_body && depth == 4) {
        rpc_field(d, ln, s, n);
    } else if (d->in_body && depth == 5) {
        if (!strcmp(parent, "DeviceId")) {
            cwmp_device_id_t *dev = &d->msg.device;
            if (!strcmp(ln, "Manufacturer"))
                dev->manufacturer = arena_str(d, s, n);
            else if (!strcmp(ln, "OUI"))
                dev->oui = arena_str(d, s, n);
            else if (!strcmp(ln, "ProductClass"))
                dev->product_class = arena_str(d, s, n);
            else if (!strcmp(ln, "SerialNumber"))
                dev->serial_number = arena_str(d, s, n);
        } else if (!strcmp(parent, "FaultStruct")) {
            if (!strcmp(ln, "FaultCode"))
                parse_int(d, s, n, &d->msg.fault_code);
            else if (!strcmp(ln, "FaultString"))
                d->msg.fault_string = arena_str(d, s, n);
        } else if ((!strcmp(parent, "ParameterNames") || !strcmp(parent, "MethodList")) &&
                   !strcmp(ln, "string")) {
            const char **v = list_push(d, (void **)&d->names, &d->n_names, &d->cap_names,
                                       sizeof *v);
            if (v)
                *v = arena_str(d, s, n);
        } else if (d->item != ITEM_NONE) {
            item_end(d);
        }
    } else if (d->in_body && depth == 6) {
        if (d->item == ITEM_PARAM)
            param_field(d, ln, s, n);
        else if (d->item == ITEM_EVENT) {
            if (!strcmp(ln, "EventCode"))
                d->cur_event.code = arena_str(d, s, n);
            else if (!strcmp(ln, "CommandKey"))
                d->cur_event.command_key = arena_str(d, s, n);
        }
    } else if (d->in_body && depth == 7 && d->item == ITEM_PARAM && !strcmp(parent, "AccessList") &&
               !strcmp(ln, "string")) {
        if ((d->access.len && buf_append_byte(&d->access, ',') < 0) ||
            buf_append(&d->access, s, n) < 0)
            fail(d, CWMP_DEC_LIMIT, "AccessList too long");
    }
    buf_reset(&d->text);
    d->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    cwmp_decoder_t *d = ud;
    if (d->err || d->depth < 3)
        return;
    /* +1 keeps room for the terminating NUL added at the end tag */
    if (d->text.len + (size_t)len + 1 > d->o.max_text || buf_append(&d->text, s, (size_t)len) < 0)
        fail(d, CWMP_DEC_LIMIT, "text of <%s> longer than %zu bytes", d->stack[d->depth - 1],
             d->o.max_text);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    fail(ud, CWMP_DEC_DOCTYPE, "DOCTYPE not allowed");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                              int value_len, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
    fail(ud, CWMP_DEC_DOCTYPE, "entity declarations not allowed");
}

/* ---- public API ------------------------------------------------------------- */

static void set_handlers(cwmp_decoder_t *d)
{
    XML_SetUserData(d->xp, d);
    XML_SetElementHandler(d->xp, on_start, on_end);
    XML_SetCharacterDataHandler(d->xp, on_text);
    XML_SetStartDoctypeDeclHandler(d->xp, on_doctype);
    XML_SetEntityDeclHandler(d->xp, on_entity);
    XML_SetParamEntityParsing(d->xp, XML_PARAM_ENTITY_PARSING_NEVER);
    /* our salt for expat's hash tables: otherwise expat asks the kernel
     * for one on every document */
    XML_SetHashSalt(d->xp, (unsigned long)str_seed64());
}

cwmp_decoder_t *cwmp_decoder_new(const cwmp_decode_opts_t *opts)
{
    cwmp_decoder_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (opts)
        d->o = *opts;
    if (!d->o.max_body)
        d->o.max_body = 8 * 1024 * 1024;
    if (!d->o.max_depth)
        d->o.max_depth = 32;
    if (!d->o.max_text)
        d->o.max_text = 64 * 1024;
    if (!d->o.max_items)
        d->o.max_items = 100000;
    if (d->o.max_depth > 256)
        d->o.max_depth = 256;
    d->arena_max = 2 * d->o.max_body + 2 * BLOCK_SIZE + d->o.max_text;
    d->stack = calloc(d->o.max_depth, sizeof *d->stack);
    buf_init(&d->text, d->o.max_text + 1);
    buf_init(&d->access, d->o.max_text);
    d->xp = XML_ParserCreateNS(NULL, NS_SEP);
    if (!d->stack || !d->xp) {
        cwmp_decoder_free(d);
        return NULL;
    }
    set_handlers(d);
    return d;
}

void cwmp_decoder_free(cwmp_decoder_t *d)
{
    if (!d)
        return;
    if (d->xp)
        XML_ParserFree(d->xp);
    for (size_t i = 0; i < d->nblocks; i++)
        free(d->blocks[i]);
    free(d->blocks);
    free(d->stack);
    free(d->params);
    free(d->names);
    free(d->events);
    free(d->spv);
    buf_free(&d->text);
    buf_free(&d->access);
    free(d);
}

void cwmp_decoder_reset(cwmp_decoder_t *d)
{
    XML_ParserReset(d->xp, NULL);
    set_handlers(d);
    d->err = 0;
    d->reason[0] = '\0';
    d->fed = 0;
    d->depth = 0;
    d->in_header = d->in_body = d->seen_envelope = d->seen_body = d->seen_rpc = d->ns_set = false;
    buf_reset_keep(&d->text, 64 * 1024);
    buf_reset(&d->access);
    /* Keep one block; larger arenas from a big message are given back. */
    for (size_t i = 1; i < d->nblocks; i++) {
        free(d->blocks[i]);
    }
    if (d->nblocks) {
        d->nblocks = 1;
        d->blocks[0]->used = 0;
        d->arena_bytes = d->blocks[0]->size;
    }
    d->cur = 0;
    d->n_params = d->n_names = d->n_events = d->n_spv = d->items = 0;
    d->item = ITEM_NONE;
    memset(&d->msg, 0, sizeof d->msg);
}

int cwmp_decoder_feed(cwmp_decoder_t *d, const char *data, size_t len, bool final)
{
    if (d->err)
        return d->err;
    if (len > d->o.max_body - d->fed) {
        fail(d, CWMP_DEC_LIMIT, "body larger than %zu bytes", d->o.max_body);
        return d->err;
    }
    d->fed += len;
    if (XML_Parse(d->xp, data, (int)len, final) != XML_STATUS_OK && !d->err) {
        enum XML_Error e = XML_GetErrorCode(d->xp);
        fail(d, CWMP_DEC_SYNTAX, "line %lu: %s", (unsigned long)XML_GetCurrentLineNumber(d->xp),
             XML_ErrorString(e));
    }
    if (d->err)
        return d->err;
    if (final) {
        if (!d->seen_envelope || !d->seen_body) {
            fail(d, CWMP_DEC_NOT_SOAP, "no SOAP Body");
            return d->err;
        }
        cwmp_msg_t *m = &d->msg;
        if (!d->o.on_param) {
            m->params = d->params;
            m->n_params = d->n_params;
        }
        m->names = d->names;
        m->n_names = d->n_names;
        m->events = d->events;
        m->n_events = d->n_events;
        m->fault.spv = d->spv;
        m->fault.n_spv = d->n_spv;
        if (m->type == CWMP_FAULT && !m->fault.string)
            m->fault.string = "";
    }
    return 0;
}

const cwmp_msg_t *cwmp_decoder_msg(const cwmp_decoder_t *d)
{
    return &d->msg;
}

const char *cwmp_decoder_reason(const cwmp_decoder_t *d)
{
    return d->reason;
}

size_t cwmp_decoder_memory(const cwmp_decoder_t *d)
{
    return d->arena_bytes + d->cap_params * sizeof *d->params + d->cap_names * sizeof *d->names +
           d->cap_events * sizeof *d->events + d->cap_spv * sizeof *d->spv + d->text.cap +
           d->access.cap + d->o.max_depth * NAME_MAX_LEN;
}

cwmp_ns_t cwmp_decoder_ns(const cwmp_decoder_t *d)
{
    return d->msg.ns;
}

int cwmp_decode(cwmp_decoder_t *d, const char *data, size_t len, const cwmp_msg_t **out)
{
    cwmp_decoder_reset(d);
    int rc = cwmp_decoder_feed(d, data, len, true);
    if (out)
        *out = rc == 0 ? &d->msg : NULL;
    return rc;
}
