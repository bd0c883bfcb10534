/*
 * dm_int: the data model engine's private structures, shared by
 * dm_model.c (the shared tree), dm_inst.c (per-CPE overlays and the RPC
 * operations) and dm_state.c (persistence). Nothing outside src/cpesim/dm*
 * includes this.
 */
#ifndef OUTPOST_CPESIM_DM_INT_H
#define OUTPOST_CPESIM_DM_INT_H

#include "cpesim/dm.h"

#define DM_NONE UINT32_MAX

/* Internal node flags (beyond the public DM_W...DM_TABLE). */
enum {
    DM_N_INSTANCE = 1 << 8,  /* object named by a number under a table */
    DM_N_TEMPLATE = 1 << 9,  /* hidden: part of a table's template */
    DM_N_COUNT = 1 << 10,    /* a *NumberOfEntries parameter; link = its table */
};

typedef struct dm_node {
    const char *name;      /* full path (arena) */
    const char *value;     /* default (arena); NULL for objects */
    const char *constraint;/* NULL or "min:max" / "len:N" / "enum:a|b" */
    uint32_t parent;
    uint32_t first_child, last_child, next_sibling;
    uint32_t link;         /* tables: template instance; COUNT params: the counted table */
    uint32_t inst_max;     /* tables: highest instance number in the model */
    uint16_t flags;
    uint16_t seg;          /* offset of the last segment in name */
    uint8_t type;
    uint8_t notify;
    uint8_t dyn;
    uint8_t dyn_arg;
    uint8_t subscriber;
} dm_node_t;

typedef struct dm_arena_chunk dm_arena_chunk_t;

struct dm_model {
    dm_node_t *nodes;
    uint32_t n, cap;
    uint32_t *hash;        /* open addressing, node index or DM_NONE */
    uint32_t hash_cap;     /* power of two */
    dm_arena_chunk_t *arena;
    size_t bytes;
    uint32_t root;         /* DM_NONE while empty */
    bool sealed;
    uint32_t nvisible, nparams;
    uint32_t wk[DM_WK_COUNT];
    uint32_t *forced;      /* DM_FORCED parameters, tree order */
    uint32_t nforced;
    uint32_t *volatiles;   /* DM_VOLATILE parameters */
    uint32_t nvolatile;
};

/* Builders shared by dm_model.c and dm_seal.c. */
char *dm_arena_strdup(dm_model_t *m, const char *s, size_t n);
uint32_t dm_node_create(dm_model_t *m, const char *name, size_t len, uint32_t parent);
int dm_node_set_value(dm_model_t *m, uint32_t idx, const char *value);

/* Lookup of a full name in the shared tree (templates included). */
uint32_t dm_model_find(const dm_model_t *m, const char *name, size_t len);
/* Default text of a node's type ("", "0", "false", the unknown time). */
const char *dm_type_default(dm_type_t t);
/* Check a value against a type and a constraint: 0 or DM_FAULT_BAD_VALUE. */
int dm_value_check(dm_type_t t, const char *constraint, const char *v);
/* Split a path into segments, checking the TR-069 name syntax. Objects end
 * in '.'. Returns the number of segments or -EINVAL. */
int dm_path_check(const char *path, size_t len, bool allow_template);

/* ---- overlay --------------------------------------------------------------- */

enum {
    DM_OV_VALUE = 1 << 0,   /* value set */
    DM_OV_ATTR = 1 << 1,    /* notify/subscriber set */
    DM_OV_CHANGED = 1 << 2, /* changed by the CPE, pending notification */
};

typedef struct dm_ovr {    /* override of a shared node */
    uint32_t node;
    uint8_t flags;
    uint8_t notify;
    uint8_t subscriber;
    char *value;
} dm_ovr_t;

typedef struct dm_onode {  /* a node that only this CPE has (added objects) */
    char *name;
    char *value;           /* NULL: the template's default */
    uint32_t proto;        /* template node in the shared model */
    uint8_t flags;         /* DM_OV_* (VALUE is implied by value != NULL) */
    uint8_t notify;
    uint8_t subscriber;
} dm_onode_t;

typedef struct dm_ctr {    /* last instance number handed out per table */
    char *table;
    uint32_t last;
} dm_ctr_t;

struct dm_inst {
    dm_ovr_t *ovr;         /* sorted by node */
    uint32_t n_ovr, cap_ovr;
    dm_onode_t *on;        /* tree order within each parent */
    uint32_t n_on, cap_on;
    uint32_t *del;         /* deleted shared instances, sorted */
    uint32_t n_del, cap_del;
    dm_ctr_t *ctr;
    uint32_t n_ctr, cap_ctr;
    size_t bytes;
};

#endif
