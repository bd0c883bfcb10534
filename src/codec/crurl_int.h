/*
 * crurl_int: internals of the ConnectionRequestURL rewriter shared by its
 * two front ends, crurl.c (expat, streaming) and crurl_scan.c (a fast
 * tokenizer for whole, well-formed bodies). Not for use outside codec/.
 */
#ifndef OUTPOST_CODEC_CRURL_INT_H
#define OUTPOST_CODEC_CRURL_INT_H

#include <expat.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec/crurl.h"
#include "core/buf.h"

#define NS_SEP '\x01'

enum {
    MAX_NAME = 1024,      /* a TR-069 parameter name is at most 256 chars */
    CTX_STACK = 16,       /* deeper elements are never interesting */
};

typedef enum ctx {
    CTX_OTHER = 0,
    CTX_ENVELOPE,
    CTX_BODY,
    CTX_RPC_INFORM,
    CTX_RPC_GPVR,
    CTX_DEVID,
    CTX_DEVID_FIELD,
    CTX_PLIST,
    CTX_PVS,
    CTX_NAME,
    CTX_VALUE,
} ctx_t;

typedef enum name_state { NAME_UNKNOWN = 0, NAME_MATCH, NAME_NOMATCH } name_state_t;

typedef enum encoding { ENC_ASCII = 0, ENC_UTF16LE, ENC_UTF16BE } encoding_t;

struct crurl {
    crurl_opts_t o;
    XML_Parser xp;
    crurl_info_t info;
    buf_t *out;          /* the caller's, during a feed */
    int oerr;            /* output error met inside a handler */

    buf_t pend;          /* input not yet emitted (plus bytes already skipped) */
    const char *src;     /* fast path: the caller's whole body, read in place of pend */
    size_t src_len;
    int64_t base;        /* absolute offset of pend.data[0] */
    int64_t head;        /* first byte not yet emitted or skipped */
    int64_t fed;         /* bytes fed so far */
    int64_t parsed;      /* every byte before this was reported by expat */
    int64_t hold_start;  /* -1: nothing held */
    bool failed;         /* pass-through from here on */
    bool started;        /* first bytes seen (encoding detected) */
    encoding_t enc;
    char err[128];

    unsigned depth;
    ctx_t stack[CTX_STACK];

    /* The ParameterValueStruct being parsed. */
    name_state_t name_state;
    bool pvs_overflow;   /* hold given up: bytes of this struct went out early */
    unsigned pvs_values; /* Value elements completed in this struct */
    buf_t name;
    bool name_bad;
    /* The Value being parsed (or the one that came before its Name). */
    buf_t value;
    int64_t val_start;
    bool val_bad;        /* child elements, or longer than max_value */
    bool pending;        /* a complete Value waits for its Name */
    int64_t pend_vs, pend_ve;
    bool pend_bad;
    buf_t pend_text;

    char *devid_field;   /* the DeviceId field being read, or NULL */
    size_t devid_len;

    /* The event being handled: its offset and length in the input (from
     * expat, or from the fast scanner). */
    int64_t ev_idx, ev_cnt;
    /* Fast scanner: origins are reported only once the scan succeeded. */
    bool defer;
    buf_t deferred;      /* NUL-separated origins */
    buf_t scan_text;     /* decoded text of the element being read */
};

/* Event handlers shared by the expat callbacks and the fast scanner; the
 * caller sets ev_idx/ev_cnt first. `local` is the element's local name. */
void crurl_ev_start(crurl_t *rw, const char *local);
void crurl_ev_end(crurl_t *rw);
void crurl_ev_text(crurl_t *rw, const char *s, size_t n);
void crurl_ev_other(crurl_t *rw);
/* Is the innermost open element one whose text is collected? */
bool crurl_ev_wants_text(const crurl_t *rw);
/* Is it a ParameterValueStruct of a parameter list (Inform, GPV response)? */
bool crurl_ev_in_pvs(const crurl_t *rw);
/* Is it an element whose content can change nothing (not the SOAP envelope,
 * body, an Inform or GPV response, or anything in them we read)? */
bool crurl_ev_in_other(const crurl_t *rw);

/* The fast path for a whole, ASCII-compatible body: a tokenizer for
 * well-formed XML that feeds the same events. 0 when it scanned the whole
 * document; -EAGAIN when anything is outside what it handles (DOCTYPE,
 * another encoding, malformed or unusual markup): then expat decides. */
int crurl_scan(crurl_t *rw, const char *p, size_t n);


#endif
