/*
 * dm_csv: load a device's parameter dump (the GenieACS CSV export:
 * "Parameter,Object,…,Writable,…,Value,Value type,…") into a model.
 *
 * RFC 4180 records: quoted fields may hold commas, doubled quotes and line
 * breaks; CRLF or LF; an optional UTF-8 BOM. Columns are found by their
 * header names, so both the 5-column and the 12-column exports load. Rows
 * outside the device's root object (GenieACS's DeviceID.*, Events.*, Tags)
 * are skipped. A value that breaks its declared type is replaced by the
 * type's default (counted in `fixed`), because the codec refuses to put an
 * invalid typed value on the wire and one bad row must not make the whole
 * model unusable. Everything is capped: file size, field length, rows.
 */
#include "cpesim/dm_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "cpesim/dm_int.h"

enum {
    CSV_MAX_FIELDS = 32,
    CSV_MAX_FIELD = DM_VALUE_MAX + 1,
    CSV_MAX_ROWS = 1000000,
    CSV_MAX_FILE = 64 * 1024 * 1024,
};

typedef enum col {
    COL_PARAM, COL_OBJECT, COL_WRITABLE, COL_VALUE, COL_TYPE, COL_NOTIFY, COL_ACCESS, COL_COUNT
} col_t;

static const char *const col_names[COL_COUNT] = {
    "Parameter", "Object", "Writable", "Value", "Value type", "Notification", "Access list",
};

typedef struct csv {
    const char *p, *end;
    buf_t field[CSV_MAX_FIELDS];
    int nfields;
    size_t line;
} csv_t;

/* Read one record into c->field[]. 1 = a record, 0 = end of input, -EINVAL. */
static int csv_record(csv_t *c)
{
    if (c->p >= c->end)
        return 0;
    c->nfields = 0;
    buf_t *f = &c->field[0];
    buf_reset(f);
    c->line++;
    bool quoted = false, was_quoted = false;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (quoted) {
            if (ch == '"') {
                if (c->p < c->end && *c->p == '"') {
                    c->p++;
                } else {
                    quoted = false;
                    continue;
                }
            } else if (ch == '\n') {
                c->line++;
            }
        } else if (ch == '"' && f->len == 0 && !was_quoted) {
            quoted = was_quoted = true;
            continue;
        } else if (ch == ',' || ch == '\n' || ch == '\r') {
            if (ch == '\r') {
                if (c->p < c->end && *c->p != '\n')
                    return -EINVAL; /* a lone CR */
                continue;
            }
            if (!f->data && buf_append(f, "", 0))
                return -ENOMEM;
            c->nfields++;
            if (ch == '\n')
                return 1;
            if (c->nfields == CSV_MAX_FIELDS)
                return -E2BIG;
            f = &c->field[c->nfields];
            buf_reset(f);
            was_quoted = false;
            continue;
        } else if (was_quoted) {
            return -EINVAL; /* text after a closing quote */
        }
        int rc = buf_append_byte(f, ch);
        if (rc)
            return rc;
    }
    if (quoted)
        return -EINVAL; /* unterminated quote at the end */
    if (!f->data && buf_append(f, "", 0))
        return -ENOMEM;
    c->nfields++;
    return 1;
}

static bool truthy(const char *s)
{
    return strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0;
}

static const char *col(const csv_t *c, const int *map, col_t k)
{
    int i = map[k];
    return i >= 0 && i < c->nfields ? c->field[i].data : "";
}

static int header(csv_t *c, int *map, char *err, size_t errlen)
{
    int rc = csv_record(c);
    if (rc <= 0) {
        snprintf(err, errlen, "no header line");
        return rc ? rc : -EINVAL;
    }
    for (int k = 0; k < COL_COUNT; k++)
        map[k] = -1;
    for (int i = 0; i < c->nfields; i++) {
        char *name = str_trim(c->field[i].data);
        for (int k = 0; k < COL_COUNT; k++)
            if (map[k] < 0 && strcasecmp(name, col_names[k]) == 0)
                map[k] = i;
    }
    if (map[COL_PARAM] < 0) {
        snprintf(err, errlen, "line 1: no \"Parameter\" column");
        return -EINVAL;
    }
    return 0;
}

static void csv_init(csv_t *c, const char *data, size_t len)
{
    memset(c, 0, sizeof *c);
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3;
        len -= 3;
    }
    c->p = data;
    c->end = data + len;
    for (int i = 0; i < CSV_MAX_FIELDS; i++)
        c->field[i] = BUF_INIT(CSV_MAX_FIELD);
}

static void csv_free(csv_t *c)
{
    for (int i = 0; i < CSV_MAX_FIELDS; i++)
        buf_free(&c->field[i]);
}

static size_t root_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

/* Pass 1: which root has more rows, Device or InternetGatewayDevice. */
static int pick_root(const char *data, size_t len, char *root, size_t rootlen, char *err, size_t errlen)
{
    csv_t c;
    int map[COL_COUNT];
    csv_init(&c, data, len);
    int rc = header(&c, map, err, errlen);
    size_t ndev = 0, nigd = 0;
    while (rc == 0) {
        int r = csv_record(&c);
        if (r <= 0) {
            rc = r;
            if (r < 0)
                snprintf(err, errlen, "line %zu: %s", c.line,
                         r == -E2BIG ? "too many fields" : r == -ENOBUFS ? "field too long" : "malformed CSV");
            break;
        }
        if (c.line > CSV_MAX_ROWS) {
            snprintf(err, errlen, "more than %d rows", CSV_MAX_ROWS);
            rc = -E2BIG;
            break;
        }
        const char *name = col(&c, map, COL_PARAM);
        size_t rl = root_len(name);
        if (rl == 6 && memcmp(name, "Device", 6) == 0)
            ndev++;
        else if (rl == 21 && memcmp(name, "InternetGatewayDevice", 21) == 0)
            nigd++;
    }
    csv_free(&c);
    if (rc)
        return rc;
    if (!ndev && !nigd) {
        snprintf(err, errlen, "no Device. or InternetGatewayDevice. parameters");
        return -EINVAL;
    }
    str_copy(root, rootlen, nigd > ndev ? "InternetGatewayDevice" : "Device");
    return 0;
}

static int add_row(dm_model_t *m, csv_t *c, const int *map, dm_csv_stats_t *st)
{
    char name[DM_NAME_MAX + 2];
    const char *pname = str_trim(c->field[map[COL_PARAM]].data);
    size_t plen = strlen(pname);
    bool obj = truthy(col(c, map, COL_OBJECT)) || (plen && pname[plen - 1] == '.');
    if (plen == 0 || plen > DM_NAME_MAX || (obj && pname[plen - 1] != '.' && plen + 1 > DM_NAME_MAX)) {
        st->skipped++;
        return 0;
    }
    memcpy(name, pname, plen + 1);
    if (obj && name[plen - 1] != '.') {
        name[plen++] = '.';
        name[plen] = '\0';
    }
    if (dm_path_check(name, plen, false) < 0) {
        st->skipped++;
        return 0;
    }
    unsigned flags = truthy(col(c, map, COL_WRITABLE)) ? DM_W : 0;
    dm_type_t type = DM_OBJECT;
    if (!obj) {
        const char *t = str_trim((char *)col(c, map, COL_TYPE));
        int ti = *t ? dm_type_parse(t, strlen(t)) : DM_STRING;
        if (ti < 0) {
            st->fixed++;
            ti = DM_STRING;
        }
        type = (dm_type_t)ti;
    }
    const char *value = obj ? NULL : col(c, map, COL_VALUE);
    int rc = dm_model_add(m, name, type, flags, value);
    if (rc == -EINVAL && !obj) {
        st->fixed++;
        rc = dm_model_add(m, name, type, flags, NULL);
    }
    if (rc == -EEXIST || rc == -EINVAL) {
        st->skipped++;
        return 0;
    }
    if (rc)
        return rc;
    if (obj) {
        st->objects++;
        return 0;
    }
    st->params++;
    const char *nt = col(c, map, COL_NOTIFY);
    const char *acl = col(c, map, COL_ACCESS);
    int64_t notify = 0;
    if (*nt && str_to_i64(nt, 0, 2, &notify) != 0)
        notify = 0;
    if (notify || strstr(acl, "Subscriber"))
        dm_model_set_notify(m, name, (uint8_t)notify, strstr(acl, "Subscriber") != NULL);
    return 0;
}

/* A writable object with neither instances nor named children is an empty
 * table (GenieACS marks plain objects writable too, so children decide). */
static void mark_empty_tables(dm_model_t *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        dm_node_t *n = &m->nodes[i];
        if (n->type == DM_OBJECT && (n->flags & DM_W) && !(n->flags & DM_N_INSTANCE) &&
            n->first_child == DM_NONE && n->parent != DM_NONE)
            n->flags |= DM_TABLE;
    }
}

/* GenieACS keeps the Inform's DeviceId in DeviceID.*; a dump whose
 * DeviceInfo values were never fetched still knows them there. */
static void fill_device_id(dm_model_t *m, const char *root, char id[3][128])
{
    static const char *const rel[3] = { "DeviceInfo.Manufacturer", "DeviceInfo.ManufacturerOUI",
                                        "DeviceInfo.ProductClass" };
    for (int k = 0; k < 3; k++) {
        char name[DM_NAME_MAX + 1];
        snprintf(name, sizeof name, "%s.%s", root, rel[k]);
        const char *cur = dm_model_default(m, name);
        if (id[k][0] && (!cur || !*cur) &&
            (cur || dm_model_add(m, name, DM_STRING, 0, NULL) == 0))
            dm_model_set_default(m, name, id[k]);
    }
}

int dm_csv_load(dm_model_t *m, const char *data, size_t len, dm_csv_stats_t *st, char *err,
                size_t errlen)
{
    char devid[3][128] = { "", "", "" };
    memset(st, 0, sizeof *st);
    char root[32];
    int rc = pick_root(data, len, root, sizeof root, err, errlen);
    if (rc)
        return rc;
    size_t rl = strlen(root);
    csv_t c;
    int map[COL_COUNT];
    csv_init(&c, data, len);
    rc = header(&c, map, err, errlen);
    while (rc == 0) {
        int r = csv_record(&c);
        if (r <= 0) {
            rc = r;
            break;
        }
        st->rows++;
        const char *name = col(&c, map, COL_PARAM);
        if (root_len(name) != rl || strncmp(name, root, rl) != 0) {
            static const char *const idf[3] = { "DeviceID.Manufacturer", "DeviceID.OUI", "DeviceID.ProductClass" };
            for (int k = 0; k < 3; k++)
                if (strcmp(name, idf[k]) == 0)
                    str_copy(devid[k], sizeof devid[k], col(&c, map, COL_VALUE));
            st->skipped++;
            continue;
        }
        rc = add_row(m, &c, map, st);
        if (rc)
            snprintf(err, errlen, "line %zu: %s", c.line, log_strerror(rc));
    }
    csv_free(&c);
    if (!rc) {
        mark_empty_tables(m);
        fill_device_id(m, root, devid);
    }
    return rc;
}

int dm_csv_load_file(dm_model_t *m, const char *path, dm_csv_stats_t *st, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > CSV_MAX_FILE) {
        snprintf(err, errlen, "%s: not a regular file of at most %d MiB", path, CSV_MAX_FILE >> 20);
        close(fd);
        return -EINVAL;
    }
    size_t n = (size_t)sb.st_size;
    char *data = malloc(n ? n : 1);
    size_t got = 0;
    while (data && got < n) {
        ssize_t r = read(fd, data + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!data || got != n) {
        free(data);
        snprintf(err, errlen, "%s: cannot read", path);
        return -EIO;
    }
    char sub[256];
    int rc = dm_csv_load(m, data, n, st, sub, sizeof sub);
    if (rc)
        snprintf(err, errlen, "%s: %s", path, sub);
    free(data);
    return rc;
}
