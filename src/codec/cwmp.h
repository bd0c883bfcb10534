/*
 * cwmp: the TR-069 (CWMP) SOAP codec, both directions, no I/O.
 *
 * One message type, cwmp_msg_t, describes every CWMP envelope: the ACS's RPCs
 * and responses and the CPE's (Inform, TransferComplete, every RPC response,
 * faults). Each message kind uses the subset of fields listed next to it in
 * the table below; the rest stay zero. The same struct is what the decoder
 * produces and what the encoder consumes, so the ACS, cpe-sim and the
 * cwmp-proxy share one vocabulary.
 *
 * Decoder. A streaming, namespace-aware expat parser fed in chunks. It
 * rejects any DOCTYPE (so no entity can ever be declared or expanded), caps
 * the body size, element depth, element text and the number of list items,
 * and accepts urn:dslforum-org:cwmp-1-0, -1-1, -1-2 (and tolerates -1-3/-1-4,
 * which real CWMP 1.3/1.4 stacks never put on the wire since those versions
 * keep the 1-2 namespace). Elements inside an RPC are matched by local name,
 * qualified or not, as real CPEs do both. List items (ParameterValueStruct,
 * ParameterInfoStruct, ParameterAttributeStruct, ...) go either to an
 * on_param callback as they complete (nothing is kept: a 20,000-parameter
 * GetParameterValuesResponse costs one item of memory) or into a compact
 * arena of strings owned by the decoder. The decoded message and every
 * string in it belong to the decoder and stay valid until the next
 * cwmp_decoder_reset() or cwmp_decoder_free().
 *
 * Encoder. cwmp_encode() appends one complete envelope to a capped buf_t,
 * in the message's namespace, with cwmp:ID (mustUnderstand="1") when id is
 * set, soap-enc:arrayType on every array, the schema's element order and XML
 * escaping. It checks what the BBF schemas check (lengths, ranges, patterns
 * such as ObjectName ending in '.', fault code ranges, typed values) and
 * returns -EINVAL rather than emit an envelope that would not validate. The
 * caller owns the message and its strings.
 *
 * Times are xsd:dateTime strings; NULL encodes as the CWMP "unknown time"
 * 0001-01-01T00:00:00Z.
 */
#ifndef OUTPOST_CODEC_CWMP_H
#define OUTPOST_CODEC_CWMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum cwmp_ns {
    CWMP_NS_1_0 = 0,
    CWMP_NS_1_1 = 1,
    CWMP_NS_1_2 = 2,
    CWMP_NS_1_3 = 3, /* tolerated on input; encoded as the 1-2 namespace */
} cwmp_ns_t;

/* "urn:dslforum-org:cwmp-1-N" as written by the encoder (1-3 -> 1-2). */
const char *cwmp_ns_uri(cwmp_ns_t ns);

typedef enum cwmp_type {
    CWMP_NONE = 0,       /* empty envelope body (the empty HTTP POST is the caller's) */
    CWMP_UNKNOWN,        /* a body element we do not know: `method` says which */
    CWMP_FAULT,          /* SOAP Fault with a cwmp:Fault detail: `fault` */
    /* CPE -> ACS requests, and their responses */
    CWMP_INFORM,                    /* device, events, max_envelopes, current_time, retry_count, params */
    CWMP_INFORM_RESPONSE,           /* max_envelopes */
    CWMP_TRANSFER_COMPLETE,         /* command_key, fault_code/fault_string, start_time, complete_time */
    CWMP_TRANSFER_COMPLETE_RESPONSE,
    CWMP_AUTONOMOUS_TRANSFER_COMPLETE, /* announce_url, transfer_url, is_download, file_type,
                                        * file_size, target_file_name, fault_code/string, times (1-1+) */
    CWMP_AUTONOMOUS_TRANSFER_COMPLETE_RESPONSE,
    CWMP_REQUEST_DOWNLOAD,          /* file_type, params (FileTypeArg: name/value) */
    CWMP_REQUEST_DOWNLOAD_RESPONSE,
    /* Either side may ask */
    CWMP_GET_RPC_METHODS,
    CWMP_GET_RPC_METHODS_RESPONSE,  /* names (MethodList) */
    /* ACS -> CPE requests, and the CPE's responses */
    CWMP_GET_PARAMETER_NAMES,       /* parameter_path, next_level */
    CWMP_GET_PARAMETER_NAMES_RESPONSE, /* params (name, writable) */
    CWMP_GET_PARAMETER_VALUES,      /* names */
    CWMP_GET_PARAMETER_VALUES_RESPONSE, /* params (name, value, type) */
    CWMP_SET_PARAMETER_VALUES,      /* params (name, value, type), parameter_key */
    CWMP_SET_PARAMETER_VALUES_RESPONSE, /* status */
    CWMP_GET_PARAMETER_ATTRIBUTES,  /* names */
    CWMP_GET_PARAMETER_ATTRIBUTES_RESPONSE, /* params (name, notification, access_list) */
    CWMP_SET_PARAMETER_ATTRIBUTES,  /* params (name, notification_change, notification,
                                     * access_list_change, access_list) */
    CWMP_SET_PARAMETER_ATTRIBUTES_RESPONSE,
    CWMP_ADD_OBJECT,                /* object_name, parameter_key */
    CWMP_ADD_OBJECT_RESPONSE,       /* instance_number, status */
    CWMP_DELETE_OBJECT,             /* object_name, parameter_key */
    CWMP_DELETE_OBJECT_RESPONSE,    /* status */
    CWMP_REBOOT,                    /* command_key */
    CWMP_REBOOT_RESPONSE,
    CWMP_FACTORY_RESET,
    CWMP_FACTORY_RESET_RESPONSE,
    CWMP_DOWNLOAD,                  /* command_key, file_type, url, username, password, file_size,
                                     * target_file_name, delay_seconds, success_url, failure_url */
    CWMP_DOWNLOAD_RESPONSE,         /* status, start_time, complete_time */
    CWMP_UPLOAD,                    /* command_key, file_type, url, username, password, delay_seconds */
    CWMP_UPLOAD_RESPONSE,           /* status, start_time, complete_time */
    CWMP_SCHEDULE_INFORM,           /* delay_seconds, command_key */
    CWMP_SCHEDULE_INFORM_RESPONSE,
    CWMP_TYPE_COUNT
} cwmp_type_t;

/* The RPC's element name ("GetParameterValues"); "Fault", "" for NONE. */
const char *cwmp_type_name(cwmp_type_t t);
/* Element name -> type; CWMP_UNKNOWN when not ours. */
cwmp_type_t cwmp_type_from_name(const char *name);
/* The response type answering a request type (GetParameterValues ->
 * GetParameterValuesResponse); CWMP_NONE when t is not a request. */
cwmp_type_t cwmp_response_type(cwmp_type_t t);

/* One list item of a ParameterList / FileTypeArg; which fields are set
 * depends on the message (see cwmp_type_t). Strings are never NULL in a
 * decoded item ("" when absent), except `type`, NULL when no xsi:type. */
typedef struct cwmp_param {
    const char *name;
    const char *value;
    const char *type;        /* "xsd:string", "xsd:unsignedInt"...; encoder: NULL = xsd:string */
    int writable;            /* GetParameterNamesResponse: 0/1 */
    int notification;        /* 0..6 */
    bool notification_change;
    bool access_list_change;
    const char *access_list; /* entries joined by ',' ("" = empty list; usually "Subscriber") */
} cwmp_param_t;

typedef struct cwmp_event {
    const char *code;        /* "0 BOOTSTRAP", "M Reboot"... */
    const char *command_key;
} cwmp_event_t;

typedef struct cwmp_device_id {
    const char *manufacturer, *oui, *product_class, *serial_number;
} cwmp_device_id_t;

typedef struct cwmp_spv_fault {
    const char *name;
    int code;
    const char *string;
} cwmp_spv_fault_t;

typedef struct cwmp_fault {
    int code;                /* 8000-8899 (ACS) or 9000-9899 (CPE) */
    const char *string;
    const char *soap_code;   /* "Client" / "Server"; encoder: NULL = by code */
    const cwmp_spv_fault_t *spv; /* SetParameterValuesFault entries */
    size_t n_spv;
} cwmp_fault_t;

/* ACS fault codes (TR-069 table 6) and the CPE ones the ACS reasons about. */
enum {
    CWMP_FAULT_METHOD_NOT_SUPPORTED = 8000,
    CWMP_FAULT_REQUEST_DENIED = 8001,
    CWMP_FAULT_INTERNAL_ERROR = 8002,
    CWMP_FAULT_INVALID_ARGUMENTS = 8003,
    CWMP_FAULT_RESOURCES_EXCEEDED = 8004,
    CWMP_FAULT_RETRY_REQUEST = 8005,
    CWMP_FAULT_ACS_VERSION = 8006, /* named in CWMP 1.4; 1-1 and 1-2 accept it as a number of the
                                    * ACS range (8000-8999), 1-0 does not */
    CWMP_FAULT_CPE_METHOD_NOT_SUPPORTED = 9000,
    CWMP_FAULT_CPE_REQUEST_DENIED = 9001,
    CWMP_FAULT_CPE_INTERNAL_ERROR = 9002,
    CWMP_FAULT_CPE_INVALID_ARGUMENTS = 9003,
    CWMP_FAULT_CPE_RESOURCES_EXCEEDED = 9004,
    CWMP_FAULT_CPE_INVALID_PARAMETER_NAME = 9005,
    CWMP_FAULT_CPE_INVALID_PARAMETER_TYPE = 9006,
    CWMP_FAULT_CPE_INVALID_PARAMETER_VALUE = 9007,
    CWMP_FAULT_CPE_NON_WRITABLE = 9008,
};
/* Standard text for a fault code ("Invalid parameter name"), "" if none. */
const char *cwmp_fault_text(int code);

/* TR-069's numbered event codes (Table 7): "0 BOOTSTRAP" .. "14 HEARTBEAT",
 * indexed by their number. "M <method>" and "X <OUI> <event>" are the
 * others a CPE may send. */
enum { CWMP_EVENT_CODES = 15 };
extern const char *const cwmp_event_codes[CWMP_EVENT_CODES];

typedef struct cwmp_msg {
    cwmp_type_t type;
    cwmp_ns_t ns;
    const char *id;            /* cwmp:ID header; NULL = none */
    bool has_hold_requests;    /* cwmp:HoldRequests header present */
    bool hold_requests;
    const char *method;        /* CWMP_UNKNOWN: the body element's local name */

    /* Lists. In a decoded message with an on_param callback, params stays
     * empty (n_params counts what was delivered). */
    const cwmp_param_t *params;
    size_t n_params;
    const char *const *names;  /* ParameterNames / MethodList */
    size_t n_names;
    const cwmp_event_t *events;
    size_t n_events;

    cwmp_device_id_t device;
    uint32_t max_envelopes;
    const char *current_time;
    uint32_t retry_count;

    const char *parameter_key;
    const char *parameter_path;
    bool next_level;
    const char *object_name;
    uint32_t instance_number;
    int status;                /* 0 = applied, 1 = applied at next boot */

    const char *command_key;
    const char *file_type;
    const char *url;
    const char *username;
    const char *password;
    uint32_t file_size;
    const char *target_file_name;
    uint32_t delay_seconds;
    const char *success_url;
    const char *failure_url;
    const char *start_time;
    const char *complete_time;
    const char *announce_url;  /* AutonomousTransferComplete */
    const char *transfer_url;
    bool is_download;
    int fault_code;            /* TransferComplete FaultStruct (0 = success) */
    const char *fault_string;

    cwmp_fault_t fault;        /* CWMP_FAULT */
} cwmp_msg_t;

/* ---- encoder -------------------------------------------------------------- */

/* Append the envelope for m to out. 0; -EINVAL when a field breaks the
 * schema (nothing useful is left in out then: truncate to the old length);
 * -ENOTSUP for a message the namespace lacks (AutonomousTransferComplete in
 * 1-0); -ENOBUFS past out's cap. */
int cwmp_encode(buf_t *out, const cwmp_msg_t *m);
/* Append s with XML escaping (& < > " ' and \r); -EINVAL for bytes XML 1.0
 * cannot carry (control characters, invalid UTF-8). */
int cwmp_xml_escape(buf_t *out, const char *s, size_t n);

/* Can XML 1.0 carry this text (valid UTF-8, no control characters but tab,
 * LF and CR, no U+FFFE/U+FFFF)? What cwmp_xml_escape() accepts. */
bool cwmp_text_ok(const char *s);
/* Would the encoder take this typed Value? (xsd:boolean, int, unsignedInt,
 * long, unsignedLong, dateTime and hexBinary are checked; NULL type means
 * xsd:string.) Also false for characters XML 1.0 cannot carry. */
bool cwmp_value_ok(const char *type, const char *value);

/* ---- decoder -------------------------------------------------------------- */

/* A list item as it completes; the item's strings live until the callback
 * returns. Return 0 to go on, non-zero to abort the decode (-ECANCELED). */
typedef int (*cwmp_param_fn)(const cwmp_msg_t *m, const cwmp_param_t *p, void *ud);

typedef struct cwmp_decode_opts {
    size_t max_body;      /* bytes of XML; default 8 MiB */
    size_t max_depth;     /* element nesting; default 32 */
    size_t max_text;      /* text of one element; default 64 KiB */
    size_t max_items;     /* list items (params, names, events, faults); default 100,000 */
    cwmp_param_fn on_param; /* optional: stream params instead of storing them */
    void *ud;
} cwmp_decode_opts_t;

typedef struct cwmp_decoder cwmp_decoder_t;

/* Why a decode failed, with the ACS fault that answers it. */
typedef enum cwmp_decode_err {
    CWMP_DEC_OK = 0,
    CWMP_DEC_SYNTAX = -1,       /* not well-formed XML: 8003 */
    CWMP_DEC_DOCTYPE = -2,      /* DOCTYPE / entity declarations: 8003 */
    CWMP_DEC_LIMIT = -3,        /* body, depth, text or item cap: 8004 */
    CWMP_DEC_NOT_SOAP = -4,     /* root is not a SOAP 1.1 Envelope, or no Body: 8003 */
    CWMP_DEC_NAMESPACE = -5,    /* cwmp namespace unknown: 8006 (8003 for 1-0) */
    CWMP_DEC_INVALID = -6,      /* a value of the wrong form (number...): 8003 */
    CWMP_DEC_CANCELED = -7,     /* the on_param callback stopped it */
    CWMP_DEC_NOMEM = -8,        /* 8002 */
} cwmp_decode_err_t;

cwmp_decoder_t *cwmp_decoder_new(const cwmp_decode_opts_t *opts);
void cwmp_decoder_free(cwmp_decoder_t *d);
/* Forget the last message (its strings become invalid); keep the memory. */
void cwmp_decoder_reset(cwmp_decoder_t *d);
/* Feed a chunk; `final` on the last one. Returns CWMP_DEC_OK or an error
 * (sticky until reset). After the final chunk, cwmp_decoder_msg() holds
 * the message. */
int cwmp_decoder_feed(cwmp_decoder_t *d, const char *data, size_t len, bool final);
const cwmp_msg_t *cwmp_decoder_msg(const cwmp_decoder_t *d);
/* A short reason for the last error ("DOCTYPE not allowed", "line 3: ..."). */
const char *cwmp_decoder_reason(const cwmp_decoder_t *d);
/* The ACS fault code that answers a decode error (8003, 8004, ...). */
int cwmp_decode_fault_code(int err, cwmp_ns_t ns);
/* Bytes the decoder holds right now (arena, lists, buffers): for metrics,
 * and for tests that prove a long list is not kept in callback mode. */
size_t cwmp_decoder_memory(const cwmp_decoder_t *d);
/* The namespace seen so far (valid after an error too; 1-0 before any). */
cwmp_ns_t cwmp_decoder_ns(const cwmp_decoder_t *d);

/* One-shot: reset, feed everything as final. */
int cwmp_decode(cwmp_decoder_t *d, const char *data, size_t len, const cwmp_msg_t **out);

#endif
