/*
 * crurl: the ConnectionRequestURL rewriter of the cwmp-proxy. Pure bytes in,
 * bytes out; no I/O.
 *
 * A CPE reports where the ACS can wake it up in the parameter
 * `Device.ManagementServer.ConnectionRequestURL` (TR-181) or
 * `InternetGatewayDevice.ManagementServer.ConnectionRequestURL` (TR-098), in
 * an Inform's ParameterList and in GetParameterValuesResponse. The proxy
 * replaces every such value with
 *
 *     <public-url>/client?origin=<percent-encoded original>
 *
 * and leaves every other byte of the message exactly as it was: the body is
 * parsed with expat (namespace-aware, entities, CDATA, comments, any prefix,
 * UTF-8/ISO-8859-1/UTF-16), and only the content between `<Value ...>` and
 * `</Value>` of a matching ParameterValueStruct is spliced, using expat's
 * byte offsets into the original input. The decoded value (entities
 * expanded, surrounding whitespace trimmed) is what gets percent-encoded.
 *
 * Streaming. Bytes go out as soon as they are known not to change: only a
 * ParameterValueStruct whose Name is not yet known, or whose Name matched and
 * whose Value is still open, is held back (capped by max_hold / max_value).
 * So memory stays bounded for a 20,000-parameter GetParameterValuesResponse.
 *
 * Fast path. A whole body given in one call (the proxy's usual case) goes
 * first through a small tokenizer for well-formed XML that feeds the same
 * events as expat, several times faster (parameter structs that cannot
 * hold a ConnectionRequestURL are passed through unread); anything it does not handle
 * (DOCTYPE, encodings other than UTF-8/ASCII, malformed or unusual markup)
 * sends the body to expat instead, so expat stays the judge of what is
 * well-formed. Both paths give the same bytes (tests and the fuzz harness
 * compare them).
 *
 * Malformed input never fails the caller: the rewriter switches to pass-
 * through (every remaining byte copied verbatim, earlier rewrites kept) and
 * crurl_error() says why. Only the caller's output cap yields an error.
 *
 * Ownership: the caller owns `out` and the options' strings, which must
 * outlive the rewriter. The rewriter owns its parser and held bytes.
 */
#ifndef OUTPOST_CODEC_CRURL_H
#define OUTPOST_CODEC_CRURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum crurl_rpc {
    CRURL_RPC_NONE = 0,     /* empty body, or no RPC element seen (yet) */
    CRURL_RPC_INFORM,
    CRURL_RPC_GPV_RESPONSE, /* GetParameterValuesResponse */
    CRURL_RPC_OTHER,        /* any other element in the SOAP Body */
} crurl_rpc_t;

enum { CRURL_DEVID_FIELD_MAX = 65 }; /* the schema's 64 characters + NUL */

typedef struct crurl_info {
    crurl_rpc_t rpc;        /* the first RPC of the Body */
    /* Inform DeviceId, as decoded; "" when absent. `devid_ok` is false when
     * a field was over-long or repeated (then the device is "unknown"). */
    char manufacturer[CRURL_DEVID_FIELD_MAX];
    char oui[CRURL_DEVID_FIELD_MAX];
    char product_class[CRURL_DEVID_FIELD_MAX];
    char serial[CRURL_DEVID_FIELD_MAX];
    bool devid_ok;
    unsigned rewritten;     /* values replaced */
    unsigned skipped;       /* matching values left as they were (see skip_reason) */
    const char *skip_reason; /* static text for the last skip, NULL when none */
    bool fast;              /* the fast scanner did it (not expat) */
} crurl_info_t;

/* Called for each replaced value with the decoded, trimmed original
 * (NUL-terminated, valid during the call). Return 0. */
typedef void (*crurl_origin_fn)(void *ud, const char *origin, size_t len);

typedef struct crurl_opts {
    const char *public_url; /* "http://proxy.example.net:7548" (no trailing '/', no query) */
    size_t max_value;       /* longest ConnectionRequestURL rewritten; default 2048 */
    size_t max_hold;        /* bytes held while a struct's Name is unknown; default 64 KiB */
    crurl_origin_fn on_origin; /* optional */
    void *ud;
    bool no_fast;           /* always use expat (tests compare the two paths) */
} crurl_opts_t;

typedef struct crurl crurl_t;

/* NULL on allocation failure. */
crurl_t *crurl_new(const crurl_opts_t *opts);
void crurl_free(crurl_t *rw);
/* Start over for a new message (keeps the memory). */
void crurl_reset(crurl_t *rw);

/* Feed the next bytes of the body; everything that is final is appended to
 * out. `last` on the final call (len may be 0): then all output is flushed.
 * 0, or -ENOBUFS when out's cap is reached (out then holds a prefix), or
 * -ENOMEM. */
int crurl_feed(crurl_t *rw, const char *data, size_t len, bool last, buf_t *out);

const crurl_info_t *crurl_info(const crurl_t *rw);
/* Why the rewriter fell back to pass-through ("line 3: mismatched tag",
 * "DOCTYPE not allowed"...), or NULL when it did not. */
const char *crurl_error(const crurl_t *rw);

/* A cheap pre-check on a complete body: false when no parse can find a
 * ConnectionRequestURL or an Inform in it (so the body is forwarded as it
 * is, without running expat). True when unsure. */
bool crurl_may_rewrite(const char *data, size_t len);

/* Is `name` (trimmed) one of the ConnectionRequestURL parameter names? */
bool crurl_is_param_name(const char *name, size_t len);

/* The device id the proxy files origins under: "OUI-ProductClass-Serial"
 * (ProductClass omitted when empty), each part percent-encoded as the
 * CWMP ACSs do. -ENOENT when the Inform had no usable DeviceId. */
int crurl_device_id(const crurl_info_t *info, char *out, size_t outlen);

/* The value the rewriter writes for `origin` (not XML-escaped): appended to
 * out. Exposed for the proxy's tests and docs. */
int crurl_format(const char *public_url, const char *origin, size_t len, buf_t *out);

#endif
