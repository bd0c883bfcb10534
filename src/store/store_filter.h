/*
 * store_filter: the device search language (GET /api/devices?filter=,
 * bulk tasks), parsed into a small tree the store backends compile to
 * parameterised SQL. Pure: no SQL, no I/O, no allocation: a filter is one
 * fixed-size struct the caller owns, the values it holds are copies inside
 * it, and input is bounded (STORE_FILTER_MAX bytes, STORE_FILTER_NODES
 * nodes, STORE_FILTER_DEPTH nesting).
 *
 *   filter  := or
 *   or      := and ("OR" and)*
 *   and     := unary ("AND" unary)*
 *   unary   := "NOT" unary | "(" or ")" | "online" | "offline" | cmp
 *   cmp     := FIELD OP VALUE
 *   OP      := "=" | "!=" | "^=" (prefix) | "<" | "<=" | ">" | ">="
 *   VALUE   := a bare word (no space, parenthesis or quote) | "quoted \" \\"
 *
 * Fields: id, serial, oui, model (= product_class), manufacturer,
 * software_version (= version), hardware_version, ip: = != ^=;
 * tag: = !=; online: = true|false; last_inform (= inform), first_seen:
 * the comparisons, against Unix seconds, an ISO 8601 UTC time or a time
 * ago ("-30m", "-2h", "-7d"); param.NAME: = != ^= (text) and < <= > >=
 * (numeric: only values that are numbers compare). "!=" is NOT "=": a
 * device without the parameter or tag matches it. Keywords are
 * case-insensitive.
 */
#ifndef OUTPOST_STORE_STORE_FILTER_H
#define OUTPOST_STORE_STORE_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    STORE_FILTER_MAX = 2048,  /* bytes of filter text */
    STORE_FILTER_NODES = 64,
    STORE_FILTER_DEPTH = 16,
};

typedef enum store_filter_field {
    SF_F_ID = 0,
    SF_F_SERIAL,
    SF_F_OUI,
    SF_F_MODEL,
    SF_F_MANUFACTURER,
    SF_F_SW_VERSION,
    SF_F_HW_VERSION,
    SF_F_IP,
    SF_F_TAG,
    SF_F_ONLINE,
    SF_F_LAST_INFORM,
    SF_F_FIRST_SEEN,
    SF_F_PARAM,
    SF_F_COUNT
} store_filter_field_t;

typedef enum store_filter_op {
    SF_EQ = 0,
    SF_NE,
    SF_PREFIX,
    SF_LT,
    SF_LE,
    SF_GT,
    SF_GE,
    SF_PREFIX_CI, /* not in the language: the API's old ?q= (ASCII case-insensitive) */
} store_filter_op_t;

typedef enum store_filter_kind { SF_CMP = 0, SF_AND, SF_OR, SF_NOT } store_filter_kind_t;

typedef struct store_filter_node {
    store_filter_kind_t kind;
    int a, b;                    /* children (node indexes) of AND/OR; a of NOT */
    store_filter_field_t field;  /* SF_CMP */
    store_filter_op_t op;
    const char *name;            /* param.NAME's NAME (in the filter's text) */
    const char *value;           /* the value as text (unescaped) */
    double num;                  /* param numeric comparisons */
    int64_t time;                /* last_inform/first_seen: Unix s, or seconds ago when rel */
    bool rel;                    /* time is "ago" (resolved against now when compiled) */
    bool yes;                    /* online=true */
} store_filter_node_t;

typedef struct store_filter {
    store_filter_node_t n[STORE_FILTER_NODES];
    int count;
    int root;                    /* -1: no condition (matches every device) */
    char text[STORE_FILTER_MAX * 2 + 64]; /* names and values, NUL-separated */
    size_t used;
} store_filter_t;

typedef struct store_filter_error {
    size_t pos;                  /* byte offset in the input */
    char msg[96];
} store_filter_error_t;

void store_filter_init(store_filter_t *f);
/* Parse src[0..len) into f (initialised here). -EINVAL with err filled on
 * a syntax or value error; -E2BIG when the text or tree is too large. */
int store_filter_parse(store_filter_t *f, const char *src, size_t len, store_filter_error_t *err);
/* AND one more comparison onto f (the API's ?tag=, ?online=, ?q=).
 * value is copied. -E2BIG when full. */
int store_filter_and_cmp(store_filter_t *f, store_filter_field_t field, store_filter_op_t op,
                         const char *value);
/* AND (a OR b OR ...) of prefix comparisons of one value on several fields. */
int store_filter_and_any(store_filter_t *f, const store_filter_field_t *fields, size_t n,
                         store_filter_op_t op, const char *value);
/* The text of a field (its first name) and of an operator, for messages. */
const char *store_filter_field_name(store_filter_field_t field);
const char *store_filter_op_name(store_filter_op_t op);
/* A number as the language takes one: [-+]digits[.digits][e[-+]digits]. */
bool store_filter_number(const char *s, double *out);

#endif
