/*
 * dm_state: a CPE's overlay as text lines, for --state-dir. One record per
 * line, fields separated by one space, strings percent-encoded:
 *
 *   d NAME                         a shared instance was deleted
 *   n TABLE LAST                   last instance number handed out
 *   o NAME PROTO VALUE NOTIFY SUB  an added node (PROTO: its template node)
 *   v NAME VALUE                   a changed value of a shared parameter
 *   a NAME NOTIFY SUB              changed attributes of a shared parameter
 *
 * VALUE is "=" followed by the encoded text, or "-" for "the default".
 * Loading skips records whose names the model does not know (the model
 * file changed between runs) instead of failing the whole CPE.
 */
#include "cpesim/dm_ref.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

static const char keep[] = "._-:/{}";

static int put_str(buf_t *out, const char *s)
{
    return str_pct_encode(out, s, strlen(s), keep);
}

static int put_value(buf_t *out, const char *v)
{
    if (!v)
        return buf_append_byte(out, '-');
    int rc = buf_append_byte(out, '=');
    return rc ? rc : put_str(out, v);
}

int dm_inst_save(const dm_view_t *v, buf_t *out)
{
    const dm_model_t *m = v->m;
    const dm_inst_t *in = *v->inst;
    int rc = 0;
    if (!in)
        return 0;
    for (uint32_t i = 0; i < in->n_del && !rc; i++) {
        rc = buf_append_str(out, "d ");
        rc = rc ? rc : put_str(out, m->nodes[in->del[i]].name);
        rc = rc ? rc : buf_append_byte(out, '\n');
    }
    for (uint32_t i = 0; i < in->n_ctr && !rc; i++) {
        rc = buf_append_str(out, "n ");
        rc = rc ? rc : put_str(out, in->ctr[i].table);
        rc = rc ? rc : buf_printf(out, " %u\n", in->ctr[i].last);
    }
    for (uint32_t i = 0; i < in->n_on && !rc; i++) {
        const dm_onode_t *o = &in->on[i];
        rc = buf_append_str(out, "o ");
        rc = rc ? rc : put_str(out, o->name);
        rc = rc ? rc : buf_append_byte(out, ' ');
        rc = rc ? rc : put_str(out, m->nodes[o->proto].name);
        rc = rc ? rc : buf_append_byte(out, ' ');
        rc = rc ? rc : put_value(out, o->value);
        rc = rc ? rc : buf_printf(out, " %u %u\n", o->notify, o->subscriber);
    }
    for (uint32_t i = 0; i < in->n_ovr && !rc; i++) {
        const dm_ovr_t *o = &in->ovr[i];
        if (o->flags & DM_OV_VALUE) {
            rc = buf_append_str(out, "v ");
            rc = rc ? rc : put_str(out, m->nodes[o->node].name);
            rc = rc ? rc : buf_append_byte(out, ' ');
            rc = rc ? rc : put_value(out, o->value);
            rc = rc ? rc : buf_append_byte(out, '\n');
        }
        if (!rc && (o->flags & DM_OV_ATTR)) {
            rc = buf_append_str(out, "a ");
            rc = rc ? rc : put_str(out, m->nodes[o->node].name);
            rc = rc ? rc : buf_printf(out, " %u %u\n", o->notify, o->subscriber);
        }
    }
    return rc;
}

enum { MAX_FIELDS = 6 };

/* Decode field i into out (NUL-terminated); -EINVAL when malformed. */
static int field(const char *f, size_t n, buf_t *out)
{
    buf_reset(out);
    int rc = str_pct_decode(out, f, n, false);
    if (rc)
        return rc;
    if (!out->data)
        return buf_append(out, "", 0);
    return memchr(out->data, '\0', out->len) ? -EINVAL : 0;
}

static int parse_u8(const char *f, size_t n, unsigned max, uint8_t *out)
{
    uint64_t v;
    if (str_to_u64n(f, n, max, &v))
        return -EINVAL;
    *out = (uint8_t)v;
    return 0;
}

int dm_inst_load_line(const dm_view_t *v, const char *line, size_t len)
{
    const dm_model_t *m = v->m;
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    int nf = 0;
    for (size_t i = 0; i < len && nf < MAX_FIELDS;) {
        size_t j = i;
        while (j < len && line[j] != ' ')
            j++;
        f[nf] = line + i;
        fl[nf++] = j - i;
        i = j + 1;
    }
    if (nf < 2 || fl[0] != 1)
        return -EINVAL;
    dm_inst_t *in = dm_inst_get(v);
    if (!in)
        return -ENOMEM;
    buf_t name = BUF_INIT(DM_NAME_MAX + 1), val = BUF_INIT(DM_VALUE_MAX + 1);
    int rc = field(f[1], fl[1], &name);
    uint32_t idx = rc ? DM_NONE : dm_model_find(m, name.data, name.len);
    uint8_t notify = 0, sub = 0;
    if (rc)
        goto out;
    switch (f[0][0]) {
    case 'd':
        if (idx == DM_NONE || !(m->nodes[idx].flags & DM_N_INSTANCE) ||
            (m->nodes[idx].flags & DM_N_TEMPLATE) || dm_is_deleted(m, in, idx))
            break;
        rc = dm_grow((void **)&in->del, &in->cap_del, in->n_del + 1, sizeof *in->del, in);
        if (!rc) {
            uint32_t pos = 0;
            while (pos < in->n_del && in->del[pos] < idx)
                pos++;
            memmove(&in->del[pos + 1], &in->del[pos], (in->n_del - pos) * sizeof *in->del);
            in->del[pos] = idx;
            in->n_del++;
        }
        break;
    case 'n': {
        uint64_t last;
        if (nf < 3 || str_to_u64n(f[2], fl[2], 999999999u, &last)) {
            rc = -EINVAL;
            break;
        }
        dm_ctr_t *c = dm_ctr_get(in, name.data, true);
        if (!c)
            rc = -ENOMEM;
        else if (last > c->last)
            c->last = (uint32_t)last;
        break;
    }
    case 'o': {
        if (nf < 6 || parse_u8(f[4], fl[4], 2, &notify) || parse_u8(f[5], fl[5], 1, &sub)) {
            rc = -EINVAL;
            break;
        }
        rc = field(f[2], fl[2], &val);
        uint32_t proto = rc ? DM_NONE : dm_model_find(m, val.data, val.len);
        if (proto == DM_NONE || !(m->nodes[proto].flags & DM_N_TEMPLATE) ||
            dm_path_check(name.data, name.len, false) < 0 || dm_on_find(in, name.data, name.len) >= 0 ||
            (m->nodes[proto].type == DM_OBJECT) != (name.data[name.len - 1] == '.'))
            break;
        if ((rc = dm_on_add(in, name.data, proto)) != 0)
            break;
        dm_onode_t *o = &in->on[in->n_on - 1];
        o->notify = notify;
        o->subscriber = sub;
        if (fl[3] >= 1 && f[3][0] == '=' && m->nodes[proto].type != DM_OBJECT) {
            rc = field(f[3] + 1, fl[3] - 1, &val);
            if (!rc && dm_value_check((dm_type_t)m->nodes[proto].type, NULL, val.data) == 0)
                rc = dm_store_value(v, (dm_ref_t){ in->n_on - 1, true }, val.data, false);
        }
        break;
    }
    case 'v':
        if (idx == DM_NONE || m->nodes[idx].type == DM_OBJECT || (m->nodes[idx].flags & DM_N_TEMPLATE) ||
            nf < 3 || fl[2] < 1 || f[2][0] != '=')
            break;
        rc = field(f[2] + 1, fl[2] - 1, &val);
        if (!rc && dm_value_check((dm_type_t)m->nodes[idx].type, NULL, val.data) == 0)
            rc = dm_store_value(v, (dm_ref_t){ idx, false }, val.data, false);
        break;
    case 'a': {
        if (idx == DM_NONE || m->nodes[idx].type == DM_OBJECT || (m->nodes[idx].flags & DM_N_TEMPLATE))
            break;
        if (nf < 4 || parse_u8(f[2], fl[2], 2, &notify) || parse_u8(f[3], fl[3], 1, &sub)) {
            rc = -EINVAL;
            break;
        }
        dm_ovr_t *o = dm_ovr_get(in, idx);
        if (!o) {
            rc = -ENOMEM;
            break;
        }
        o->flags |= DM_OV_ATTR;
        o->notify = notify;
        o->subscriber = sub;
        break;
    }
    default:
        rc = -EINVAL;
    }
out:
    buf_free(&name);
    buf_free(&val);
    return rc;
}
