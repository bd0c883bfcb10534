/*
 * dm_ref: node references and overlay helpers shared by the data model's
 * read side (dm_inst.c), write side (dm_write.c) and persistence
 * (dm_state.c). Private to src/cpesim/dm*.
 */
#ifndef OUTPOST_CPESIM_DM_REF_H
#define OUTPOST_CPESIM_DM_REF_H

#include "cpesim/dm_int.h"

/* A shared node index, or (ov) an index into the overlay's own nodes. */
typedef struct dm_ref {
    uint32_t idx;
    bool ov;
} dm_ref_t;

extern size_t dm_inst_cap;

/* The overlay, created when missing (NULL only when out of memory). */
dm_inst_t *dm_inst_get(const dm_view_t *v);
dm_ovr_t *dm_ovr_find(const dm_inst_t *in, uint32_t node);
bool dm_is_deleted(const dm_model_t *m, const dm_inst_t *in, uint32_t node);
int32_t dm_on_find(const dm_inst_t *in, const char *name, size_t len);
/* Resolve a visible node by full name ("" = the root); -ENOENT. */
int dm_lookup(const dm_view_t *v, const char *path, size_t len, dm_ref_t *r);
/* The shared node giving type and flags (the template node for added ones). */
const dm_node_t *dm_ref_node(const dm_view_t *v, dm_ref_t r);
const char *dm_ref_name(const dm_view_t *v, dm_ref_t r);
bool dm_ref_writable(const dm_view_t *v, dm_ref_t r);
void dm_ref_attrs(const dm_view_t *v, dm_ref_t r, uint8_t *notify, bool *subscriber);
/* Current value (overlay, counter, dynamic or default); tmp may hold it.
 * reveal: secrets too (the CPE's own use). */
const char *dm_ref_value(const dm_view_t *v, dm_ref_t r, buf_t *tmp, bool reveal);
bool dm_is_child(const char *child, const char *parent, size_t plen);

/* Overlay writers (dm_write.c), memory counted in the overlay's bytes. */
int dm_grow(void **p, uint32_t *cap, uint32_t need, size_t elem, dm_inst_t *in);
dm_ovr_t *dm_ovr_get(dm_inst_t *in, uint32_t node);
char *dm_dup_counted(dm_inst_t *in, const char *s);
int dm_store_value(const dm_view_t *v, dm_ref_t r, const char *value, bool changed);
dm_ctr_t *dm_ctr_get(dm_inst_t *in, const char *table, bool create);
int dm_on_add(dm_inst_t *in, const char *name, uint32_t proto);

#endif
