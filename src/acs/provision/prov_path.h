/*
 * prov_path: parameter paths as provisions write them, parsed once.
 *
 *   Device.WiFi.SSID.1.SSID             a parameter
 *   Device.WiFi.SSID.                   an object (trailing '.')
 *   Device.WiFi.SSID.*.SSID             '*' matches any child (instance numbers in practice)
 *   Device.IP.Interface.[Alias:wan].Enable
 *                                       instances whose child Alias is "wan"
 *   Device.X.[Name:a,Sub.Key:b\,c]      several keys (all must match); a key is a
 *                                       relative parameter path; '\' escapes
 *                                       ',' ']' and '\' in a value
 *
 * Names are [A-Za-z0-9_-]+ (what TR-106 allows, vendor prefixes included).
 * A parsed path is a fixed-size value (no allocation): text is copied into
 * it, segment names and key strings point into that copy. Pure code, no I/O;
 * it parses input from scripts and CPE answers, so every size is capped and
 * any malformed input is -EINVAL, never a crash.
 */
#ifndef OUTPOST_ACS_PROV_PATH_H
#define OUTPOST_ACS_PROV_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PROV_PATH_MAX = 512, /* bytes of a path (TR-069 allows 256 for a name) */
    PROV_SEG_MAX = 32,   /* segments of a path */
    PROV_KEY_MAX = 8,    /* keys in all selectors of one path */
};

typedef enum prov_seg_kind {
    PROV_SEG_NAME = 0, /* a literal name or instance number */
    PROV_SEG_ANY,      /* '*' */
    PROV_SEG_KEYS,     /* [Key:value,...] */
} prov_seg_kind_t;

typedef struct prov_key {
    const char *name;  /* relative path below the instance ("Alias", "A.B") */
    const char *value; /* unescaped */
} prov_key_t;

typedef struct prov_seg {
    prov_seg_kind_t kind;
    const char *name;  /* PROV_SEG_NAME */
    uint8_t key0;      /* PROV_SEG_KEYS: keys[key0 .. key0 + nkeys) */
    uint8_t nkeys;
} prov_seg_t;

typedef struct prov_path {
    char text[PROV_PATH_MAX + 2 * PROV_KEY_MAX]; /* NUL-separated pieces */
    prov_seg_t seg[PROV_SEG_MAX];
    prov_key_t key[PROV_KEY_MAX];
    uint8_t nseg, nkey;
    bool object;  /* written with a trailing '.' */
    bool pattern; /* has '*' or a key selector */
} prov_path_t;

/* Parse s. 0; -EINVAL (empty, bad character, empty segment, unbalanced
 * selector...), -ENAMETOOLONG (past PROV_PATH_MAX / PROV_SEG_MAX /
 * PROV_KEY_MAX). */
int prov_path_parse(const char *s, prov_path_t *out);
/* Same for s[0..n) (s need not be NUL-terminated). */
int prov_path_parsen(const char *s, size_t n, prov_path_t *out);
/* The canonical text (keys re-escaped, trailing '.' for objects) into
 * out[size]; -ENAMETOOLONG if it does not fit. Parsing it gives the same path. */
int prov_path_format(const prov_path_t *p, char *out, size_t size);
/* Is s a concrete parameter or object name: names only, no selector, no
 * empty segment, at most PROV_PATH_MAX bytes ("" is the root and is not)? */
bool prov_name_ok(const char *s, size_t n);

#endif
