/*
 * prov_state_int: the tree behind prov_state.h, shared by prov_state.c
 * (storage and updates) and prov_resolve.c (lookups). Not for other modules.
 */
#ifndef OUTPOST_ACS_PROV_STATE_INT_H
#define OUTPOST_ACS_PROV_STATE_INT_H

#include "acs/provision/prov_state.h"
#include "core/hmap.h"

struct prov_node {
    prov_node_t *parent;
    prov_node_t **kids;     /* unordered; sorted on demand (kids_sorted) */
    uint32_t nkids, capkids;
    bool kids_sorted;
    bool object, exists;
    int8_t writable;
    uint8_t type, pending_type;
    uint32_t plen;          /* strlen(path) */
    uint32_t name_off;      /* last segment: path + name_off */
    uint32_t mark;          /* GetParameterNames sweep generation */
    char *path;             /* owned; the hmap key */
    char *value, *pending;  /* owned or NULL */
    int64_t t_value, t_path, t_writable, t_children;
    prov_node_t *pend_next, *pend_prev; /* pending-write list */
};

struct prov_state {
    hmap_t map;             /* path -> node (root not in it) */
    prov_node_t root;       /* path "" */
    size_t nodes, bytes;
    prov_state_opts_t opts;
    prov_node_t *pending;   /* head of the pending-write list */
    /* GetParameterNames in progress */
    prov_node_t *gpn_root;
    bool gpn_active, gpn_next_level;
    int64_t gpn_now;
    uint32_t gen;
    char gpn_prefix[PROV_PATH_MAX + 2];
    size_t gpn_prefix_len;
};

/* path[0..len) without trailing '.'; len 0 is the root. NULL if unknown. */
prov_node_t *prov_node_find(const prov_state_t *st, const char *path, size_t len);
/* The children in their deterministic order (instances by number first,
 * then names by byte order). Sorting is logically const. */
prov_node_t **prov_node_kids(const prov_node_t *n);

#endif
