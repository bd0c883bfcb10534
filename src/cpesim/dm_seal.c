/*
 * dm_seal: turning a freshly loaded tree into the fleet's immutable model:
 * numeric order of instances, table templates for AddObject, the links of
 * *NumberOfEntries counters, well-known parameters, the forced Inform list.
 * Also the read-only queries on a sealed model.
 */
#include "cpesim/dm_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

static uint32_t inst_number(const dm_node_t *n)
{
    return (uint32_t)strtoul(n->name + n->seg, NULL, 10);
}

static int cmp_inst(const void *a, const void *b, void *ud)
{
    const dm_model_t *m = ud;
    uint32_t x = inst_number(&m->nodes[*(const uint32_t *)a]);
    uint32_t y = inst_number(&m->nodes[*(const uint32_t *)b]);
    return x < y ? -1 : x > y;
}

/* Tables list their instances by number (1, 2, 10), not as text sorts them. */
static int sort_instances(dm_model_t *m, uint32_t t)
{
    size_t k = 0;
    for (uint32_t c = m->nodes[t].first_child; c != DM_NONE; c = m->nodes[c].next_sibling)
        k++;
    if (k < 2)
        return 0;
    uint32_t *v = malloc(sizeof *v * k);
    if (!v)
        return -ENOMEM;
    k = 0;
    for (uint32_t c = m->nodes[t].first_child; c != DM_NONE; c = m->nodes[c].next_sibling)
        v[k++] = c;
    /* instances first by number; anything else a vendor put there keeps its place after */
    size_t ni = 0;
    for (size_t i = 0; i < k; i++)
        if (m->nodes[v[i]].flags & DM_N_INSTANCE) {
            uint32_t x = v[i];
            memmove(v + ni + 1, v + ni, (i - ni) * sizeof *v);
            v[ni++] = x;
        }
    qsort_r(v, ni, sizeof *v, cmp_inst, m);
    m->nodes[t].first_child = v[0];
    for (size_t i = 0; i + 1 < k; i++)
        m->nodes[v[i]].next_sibling = v[i + 1];
    m->nodes[v[k - 1]].next_sibling = DM_NONE;
    m->nodes[t].last_child = v[k - 1];
    free(v);
    return 0;
}

/* Copy the structure under src_obj below dst_obj as template nodes (values
 * reset to their type's default; sub-tables get their own template). */
static int clone_children(dm_model_t *m, uint32_t src_obj, uint32_t dst_obj, int depth)
{
    if (depth > DM_SEG_MAX)
        return -ELOOP;
    char name[DM_NAME_MAX * 2];
    for (uint32_t c = m->nodes[src_obj].first_child; c != DM_NONE; c = m->nodes[c].next_sibling) {
        const dm_node_t *sn = &m->nodes[c];
        int len = snprintf(name, sizeof name, "%s%s", m->nodes[dst_obj].name, sn->name + sn->seg);
        if (len <= 0 || (size_t)len >= sizeof name)
            return -ENAMETOOLONG;
        if (dm_model_find(m, name, (size_t)len) != DM_NONE)
            continue;
        uint32_t d = dm_node_create(m, name, (size_t)len, dst_obj);
        if (d == DM_NONE)
            return -ENOMEM;
        sn = &m->nodes[c]; /* the array may have moved */
        dm_node_t *dn = &m->nodes[d];
        dn->type = sn->type;
        dn->flags = (uint16_t)(dn->flags | (sn->flags & (DM_W | DM_NO_ACTIVE | DM_SECRET | DM_TABLE)));
        dn->dyn = sn->dyn;
        dn->dyn_arg = sn->dyn_arg;
        dn->constraint = sn->constraint;
        if (sn->type != DM_OBJECT) {
            int rc = dm_node_set_value(m, d, NULL);
            if (rc)
                return rc;
            continue;
        }
        if (sn->flags & DM_TABLE) {
            uint32_t src_inst = sn->link != DM_NONE ? sn->link : sn->first_child;
            bool has_inst = src_inst != DM_NONE && (m->nodes[src_inst].flags & DM_N_INSTANCE);
            if (!has_inst && !(sn->flags & DM_W))
                continue;
            len = snprintf(name, sizeof name, "%s{i}.", m->nodes[d].name);
            if (len <= 0 || (size_t)len >= sizeof name)
                return -ENAMETOOLONG;
            uint32_t ti = dm_node_create(m, name, (size_t)len, d);
            if (ti == DM_NONE)
                return -ENOMEM;
            if (!has_inst) {
                m->nodes[ti].flags |= DM_W;
                continue;
            }
            m->nodes[ti].flags |= (uint16_t)(m->nodes[src_inst].flags & DM_W);
            int rc = clone_children(m, src_inst, ti, depth + 1);
            if (rc)
                return rc;
        } else {
            int rc = clone_children(m, c, d, depth + 1);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int make_template(dm_model_t *m, uint32_t t)
{
    uint32_t first = m->nodes[t].first_child;
    if (m->nodes[t].link != DM_NONE)
        return 0;
    bool has_inst = first != DM_NONE && (m->nodes[first].flags & DM_N_INSTANCE);
    if (!has_inst && !(m->nodes[t].flags & DM_W))
        return 0; /* read-only and empty: nothing will ever be added */
    char name[DM_NAME_MAX * 2];
    int len = snprintf(name, sizeof name, "%s{i}.", m->nodes[t].name);
    if (len <= 0 || (size_t)len >= sizeof name)
        return -ENAMETOOLONG;
    uint32_t ti = dm_node_create(m, name, (size_t)len, t);
    if (ti == DM_NONE)
        return -ENOMEM;
    if (!has_inst) { /* an empty writable table: instances without parameters */
        m->nodes[ti].flags |= DM_W;
        return 0;
    }
    m->nodes[ti].flags |= (uint16_t)(m->nodes[first].flags & DM_W);
    return clone_children(m, first, ti, 0);
}

static uint32_t count_instances(const dm_model_t *m, uint32_t t)
{
    uint32_t k = 0;
    for (uint32_t c = m->nodes[t].first_child; c != DM_NONE; c = m->nodes[c].next_sibling)
        if (m->nodes[c].flags & DM_N_INSTANCE)
            k++;
    return k;
}

/* "XNumberOfEntries" in object O counts the table "O.X." when there is one;
 * TR-098 names some counters differently from their tables (the table is
 * "O.XConfig.", "O.XDevice.", "O.Xing." or X without its "LAN" prefix). */
static int link_counter(dm_model_t *m, uint32_t i)
{
    static const char sfx[] = "NumberOfEntries";
    static const char *const tails[] = { "", "Config", "Device", "ing" };
    const dm_node_t *n = &m->nodes[i];
    size_t seglen = strlen(n->name + n->seg);
    if (n->type == DM_OBJECT || seglen <= sizeof sfx - 1 || !str_ends_with(n->name, sfx) ||
        n->parent == DM_NONE)
        return 0;
    const char *stem = n->name + n->seg;
    int stemlen = (int)(seglen - (sizeof sfx - 1));
    char name[DM_NAME_MAX * 2];
    uint32_t t = DM_NONE;
    for (size_t k = 0; k < sizeof tails / sizeof tails[0] + 1 && t == DM_NONE; k++) {
        int len;
        if (k < sizeof tails / sizeof tails[0])
            len = snprintf(name, sizeof name, "%s%.*s%s.", m->nodes[n->parent].name, stemlen, stem, tails[k]);
        else if (stemlen > 3 && strncmp(stem, "LAN", 3) == 0)
            len = snprintf(name, sizeof name, "%s%.*s.", m->nodes[n->parent].name, stemlen - 3, stem + 3);
        else
            break;
        if (len <= 0 || (size_t)len >= sizeof name)
            return 0;
        t = dm_model_find(m, name, (size_t)len);
        if (t != DM_NONE && !(m->nodes[t].flags & DM_TABLE))
            t = DM_NONE;
    }
    if (t == DM_NONE)
        return 0;
    m->nodes[i].flags |= DM_N_COUNT;
    m->nodes[i].link = t;
    m->nodes[i].type = DM_UINT;
    char num[16];
    snprintf(num, sizeof num, "%u", count_instances(m, t));
    return dm_node_set_value(m, i, num);
}

static const char *const wk_rel[DM_WK_COUNT][3] = {
    [DM_WK_MANUFACTURER] = { "DeviceInfo.Manufacturer" },
    [DM_WK_OUI] = { "DeviceInfo.ManufacturerOUI" },
    [DM_WK_PRODUCT_CLASS] = { "DeviceInfo.ProductClass" },
    [DM_WK_SERIAL] = { "DeviceInfo.SerialNumber" },
    [DM_WK_SW_VERSION] = { "DeviceInfo.SoftwareVersion" },
    [DM_WK_HW_VERSION] = { "DeviceInfo.HardwareVersion" },
    [DM_WK_UPTIME] = { "DeviceInfo.UpTime" },
    [DM_WK_ACS_URL] = { "ManagementServer.URL" },
    [DM_WK_ACS_USER] = { "ManagementServer.Username" },
    [DM_WK_ACS_PASS] = { "ManagementServer.Password" },
    [DM_WK_PERIODIC_ENABLE] = { "ManagementServer.PeriodicInformEnable" },
    [DM_WK_PERIODIC_INTERVAL] = { "ManagementServer.PeriodicInformInterval" },
    [DM_WK_PARAMETER_KEY] = { "ManagementServer.ParameterKey" },
    [DM_WK_CR_URL] = { "ManagementServer.ConnectionRequestURL" },
    [DM_WK_CR_USER] = { "ManagementServer.ConnectionRequestUsername" },
    [DM_WK_CR_PASS] = { "ManagementServer.ConnectionRequestPassword" },
    [DM_WK_RETRY_MIN] = { "ManagementServer.CWMPRetryMinimumWaitInterval" },
    [DM_WK_RETRY_MULT] = { "ManagementServer.CWMPRetryIntervalMultiplier" },
    [DM_WK_WAN_IP] = { "IP.Interface.1.IPv4Address.1.IPAddress",
                       "WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress",
                       "WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.ExternalIPAddress" },
};

/* The parameters every Inform carries (TR-098 / TR-181 "forced inform"). */
static const char *const forced_igd[] = {
    "DeviceSummary", "DeviceInfo.SpecVersion", "DeviceInfo.HardwareVersion",
    "DeviceInfo.SoftwareVersion", "DeviceInfo.ProvisioningCode",
    "ManagementServer.ConnectionRequestURL", "ManagementServer.ParameterKey", NULL,
};
static const char *const forced_dev[] = {
    "RootDataModelVersion", "DeviceInfo.HardwareVersion", "DeviceInfo.SoftwareVersion",
    "DeviceInfo.ProvisioningCode", "ManagementServer.ParameterKey",
    "ManagementServer.ConnectionRequestURL", "ManagementServer.AliasBasedAddressing", NULL,
};

static uint32_t find_rel(const dm_model_t *m, const char *rel)
{
    char name[DM_NAME_MAX * 2];
    int len = snprintf(name, sizeof name, "%s%s", m->nodes[m->root].name, rel);
    if (len <= 0 || (size_t)len >= sizeof name)
        return DM_NONE;
    uint32_t i = dm_model_find(m, name, (size_t)len);
    return i != DM_NONE && m->nodes[i].type != DM_OBJECT ? i : DM_NONE;
}

static int push(uint32_t **v, uint32_t *n, uint32_t x)
{
    uint32_t *nv = realloc(*v, sizeof *nv * (*n + 1));
    if (!nv)
        return -ENOMEM;
    nv[(*n)++] = x;
    *v = nv;
    return 0;
}

static uint32_t wk_lookup(const dm_model_t *m, int w)
{
    if (m->root == DM_NONE)
        return DM_NONE;
    for (int k = 0; k < 3 && wk_rel[w][k]; k++) {
        uint32_t i = find_rel(m, wk_rel[w][k]);
        if (i != DM_NONE)
            return i;
    }
    if (w != DM_WK_WAN_IP)
        return DM_NONE;
    /* some gateway's WAN connection is not instance 1: take the first
     * external address that holds a value, else the first at all */
    uint32_t any = DM_NONE;
    for (uint32_t i = 0; i < m->n; i++) {
        const dm_node_t *n = &m->nodes[i];
        if (n->type == DM_OBJECT || (n->flags & DM_N_TEMPLATE) ||
            strcmp(n->name + n->seg, "ExternalIPAddress") != 0)
            continue;
        if (n->value && *n->value)
            return i;
        if (any == DM_NONE)
            any = i;
    }
    return any;
}

static void resolve_wk(dm_model_t *m)
{
    for (int w = 0; w < DM_WK_COUNT; w++)
        m->wk[w] = wk_lookup(m, w);
}

int dm_model_seal(dm_model_t *m, char *err, size_t errlen)
{
    if (m->sealed)
        return 0;
    if (m->root == DM_NONE) {
        snprintf(err, errlen, "the model has no parameters");
        return -EINVAL;
    }
    uint32_t n0 = m->n;
    int rc = 0;
    for (uint32_t i = 0; i < n0 && !rc; i++)
        if (m->nodes[i].flags & DM_TABLE)
            rc = sort_instances(m, i);
    for (uint32_t i = 0; i < n0 && !rc; i++)
        if ((m->nodes[i].flags & DM_TABLE) && !(m->nodes[i].flags & DM_N_TEMPLATE))
            rc = make_template(m, i);
    for (uint32_t i = 0; i < m->n && !rc; i++)
        rc = link_counter(m, i);
    if (rc) {
        snprintf(err, errlen, "building templates: %s", rc == -ENOMEM ? "out of memory" : "name too long");
        return rc;
    }
    resolve_wk(m);
    bool igd = str_starts_with(m->nodes[m->root].name, "InternetGatewayDevice.");
    for (const char *const *f = igd ? forced_igd : forced_dev; *f && !rc; f++) {
        uint32_t i = find_rel(m, *f);
        if (i != DM_NONE && !(m->nodes[i].flags & DM_FORCED)) {
            m->nodes[i].flags |= DM_FORCED;
            rc = push(&m->forced, &m->nforced, i);
        }
    }
    uint32_t wan = m->wk[DM_WK_WAN_IP];
    if (!rc && wan != DM_NONE && !(m->nodes[wan].flags & DM_FORCED)) {
        m->nodes[wan].flags |= DM_FORCED;
        rc = push(&m->forced, &m->nforced, wan);
    }
    uint32_t nf = m->nforced;
    for (uint32_t i = 0; i < m->n && !rc; i++) {
        const dm_node_t *n = &m->nodes[i];
        if (n->flags & DM_N_TEMPLATE)
            continue;
        m->nvisible++;
        if (n->type == DM_OBJECT)
            continue;
        m->nparams++;
        bool listed = false;
        for (uint32_t k = 0; k < nf; k++)
            listed |= m->forced[k] == i;
        if ((n->flags & DM_FORCED) && !listed)
            rc = push(&m->forced, &m->nforced, i);
        if (!rc && (n->flags & DM_VOLATILE))
            rc = push(&m->volatiles, &m->nvolatile, i);
    }
    if (rc) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    m->bytes += (size_t)(m->nforced + m->nvolatile) * sizeof(uint32_t) + m->hash_cap * sizeof(uint32_t);
    m->sealed = true;
    return 0;
}

/* ---- queries -------------------------------------------------------------- */

const char *dm_model_root(const dm_model_t *m)
{
    return m->root == DM_NONE ? "" : m->nodes[m->root].name;
}

size_t dm_model_nodes(const dm_model_t *m) { return m->nvisible; }
size_t dm_model_params(const dm_model_t *m) { return m->nparams; }
size_t dm_model_bytes(const dm_model_t *m) { return m->bytes + sizeof *m; }

bool dm_model_has(const dm_model_t *m, const char *path)
{
    uint32_t i = dm_model_find(m, path, strlen(path));
    return i != DM_NONE && !(m->nodes[i].flags & DM_N_TEMPLATE);
}

const char *dm_model_default(const dm_model_t *m, const char *path)
{
    uint32_t i = dm_model_find(m, path, strlen(path));
    return i == DM_NONE || m->nodes[i].type == DM_OBJECT ? NULL : m->nodes[i].value;
}

const char *dm_wk_name(const dm_model_t *m, dm_wk_t wk)
{
    if ((unsigned)wk >= DM_WK_COUNT)
        return NULL;
    uint32_t i = m->sealed ? m->wk[wk] : wk_lookup(m, (int)wk); /* set-up runs before seal */
    return i == DM_NONE ? NULL : m->nodes[i].name;
}

const char *dm_volatile_param(const dm_model_t *m, size_t n, dm_type_t *type)
{
    if (!m->nvolatile)
        return NULL;
    const dm_node_t *node = &m->nodes[m->volatiles[n % m->nvolatile]];
    if (type)
        *type = (dm_type_t)node->type;
    return node->name;
}
