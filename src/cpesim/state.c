/*
 * state: the fleet's CPE state across runs (--state-dir DIR), in one text
 * file DIR/cpesim.state, written atomically (temporary file, fsync,
 * rename) at exit and every minute while something changed:
 *
 *   outpost-cpesim-state 1 <root object> <serial prefix>
 *   C <serial> <bootstrapped 0|1>             one block per CPE with state
 *   T <cmdkey> <fault> <fault string> <start> <complete> <upload 0|1>
 *   d|n|o|v|a ...                             its data model overlay (dm_state.c)
 *
 * A file written for another model or serial prefix is ignored (logged);
 * unknown serials and malformed lines are skipped, counted and logged once.
 */
#include "cpesim/fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/runtime.h"
#include "core/str.h"

/* STATE_LINE_MAX: the longest record (a 64 KiB value percent-encoded, its
 * name, the rest); longer lines are damage, skipped without being held. */
enum { STATE_MAX = 1024 * 1024 * 1024, STATE_LINE_MAX = 256 * 1024 };

static const char magic[] = "outpost-cpesim-state 1";

static int path_of(const char *dir, const char *name, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static int enc(buf_t *out, const char *s)
{
    if (!*s)
        return buf_append_byte(out, '-'); /* an empty field must still be a field */
    return str_pct_encode(out, s, strlen(s), "._:/");
}

static int save_cpe(fleet_t *f, cpe_t *c, buf_t *out)
{
    bool tc = c->x && c->x->has_tc;
    if (!c->dm && !tc && !(c->flags & CPE_BOOTSTRAPPED))
        return 0;
    char serial[96];
    fleet_serial(f, c, serial, sizeof serial);
    int rc = buf_printf(out, "C %s %d\n", serial, (c->flags & CPE_BOOTSTRAPPED) ? 1 : 0);
    if (!rc && tc) {
        const cpe_tc_t *t = &c->x->tc;
        rc = buf_append_str(out, "T ");
        rc = rc ? rc : enc(out, t->command_key ? t->command_key : "");
        rc = rc ? rc : buf_printf(out, " %d ", t->fault_code);
        rc = rc ? rc : enc(out, t->fault_string ? t->fault_string : "");
        rc = rc ? rc : buf_printf(out, " %lld %lld %d\n", (long long)t->start_s, (long long)t->complete_s,
                                  t->is_upload ? 1 : 0);
    }
    if (!rc && c->dm) {
        fleet_env_t env;
        dm_view_t v = fleet_view(f, c, &env);
        rc = dm_inst_save(&v, out);
    }
    return rc;
}

int state_save(fleet_t *f, const char *dir)
{
    char path[4096], tmp[4096];
    if (runtime_mkdirs(dir) != 0 || path_of(dir, "cpesim.state", path, sizeof path) ||
        path_of(dir, "cpesim.state.tmp", tmp, sizeof tmp))
        return -EINVAL;
    buf_t out = BUF_INIT(STATE_MAX);
    int rc = buf_printf(&out, "%s %s %s\n", magic, dm_model_root(f->model), f->o->serial_prefix);
    for (uint32_t i = 0; i < f->count && !rc; i++)
        rc = save_cpe(f, &f->cpes[i], &out);
    if (rc) {
        log_error("state_save_failed", LF_S("path", path), LF_ERR(rc));
        buf_free(&out);
        return rc;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t off = 0;
    while (fd >= 0 && off < out.len) {
        ssize_t n = write(fd, out.data + off, out.len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    bool ok = fd >= 0 && off == out.len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    rc = ok ? 0 : -errno;
    if (!ok) {
        log_error("state_save_failed", LF_S("path", path), LF_ERR(rc ? rc : -EIO));
        unlink(tmp);
    } else {
        f->state_dirty = false;
        log_debug("state_saved", LF_S("path", path), LF_U("bytes", out.len));
    }
    buf_free(&out);
    return rc;
}

static int dec(const char *s, size_t n, char **out)
{
    buf_t b = BUF_INIT(4096);
    int rc = (n == 1 && s[0] == '-') ? buf_append(&b, "", 0) : str_pct_decode(&b, s, n, false);
    if (!rc && !b.data)
        rc = buf_append(&b, "", 0);
    if (rc || memchr(b.data, '\0', b.len)) {
        buf_free(&b);
        return -EINVAL;
    }
    *out = buf_steal(&b, NULL);
    return 0;
}

static int load_tc(cpe_t *c, const char *line, size_t len)
{
    const char *f[7];
    size_t fl[7];
    int nf = 0;
    for (size_t i = 0; i < len && nf < 7;) {
        size_t j = i;
        while (j < len && line[j] != ' ')
            j++;
        f[nf] = line + i;
        fl[nf++] = j - i;
        i = j + 1;
    }
    if (nf != 7)
        return -EINVAL;
    cpe_x_t *x = fleet_x(c);
    if (!x || x->has_tc)
        return -EINVAL;
    char *ck = NULL, *fs = NULL, num[32];
    int64_t code, start, done, up;
    int rc = dec(f[1], fl[1], &ck);
    rc = rc ? rc : dec(f[3], fl[3], &fs);
    rc = rc ? rc : str_copyn(num, sizeof num, f[2], fl[2]) ? -EINVAL : str_to_i64(num, 0, 9899, &code);
    rc = rc ? rc : str_copyn(num, sizeof num, f[4], fl[4]) ? -EINVAL : str_to_i64(num, 0, INT64_MAX, &start);
    rc = rc ? rc : str_copyn(num, sizeof num, f[5], fl[5]) ? -EINVAL : str_to_i64(num, 0, INT64_MAX, &done);
    rc = rc ? rc : str_copyn(num, sizeof num, f[6], fl[6]) ? -EINVAL : str_to_i64(num, 0, 1, &up);
    if (rc || strlen(ck) > 32) {
        free(ck);
        free(fs);
        fleet_x_release(c);
        return -EINVAL;
    }
    x->tc = (cpe_tc_t){ ck, fs, (int)code, start, done, up == 1 };
    x->has_tc = true;
    c->events |= EV_TRANSFER_COMPLETE | (up ? EV_M_UPLOAD : EV_M_DOWNLOAD);
    return 0;
}

/* One line without its '\n' into buf (cap bytes); -1 at the end of the file.
 * *too_long when it did not fit (the rest of it is read and dropped). */
static ssize_t read_line(FILE *fp, char *buf, size_t cap, bool *too_long)
{
    size_t n = 0;
    int ch = EOF;
    while ((ch = getc_unlocked(fp)) != EOF && ch != '\n') {
        if (n < cap)
            buf[n] = (char)ch;
        n++;
    }
    if (ch == EOF && n == 0)
        return -1;
    *too_long = n > cap;
    return (ssize_t)(n > cap ? cap : n);
}

int state_load(fleet_t *f, const char *dir)
{
    char path[4096];
    if (path_of(dir, "cpesim.state", path, sizeof path))
        return -EINVAL;
    FILE *fp = fopen(path, "re");
    if (!fp)
        return errno == ENOENT ? 0 : -errno; /* first run */
    char *line = malloc(STATE_LINE_MAX + 1);
    bool too_long = false;
    ssize_t n = line ? read_line(fp, line, STATE_LINE_MAX, &too_long) : -1;
    char head[512];
    snprintf(head, sizeof head, "%s %s %s", magic, dm_model_root(f->model), f->o->serial_prefix);
    if (n <= 0 || too_long || (size_t)n != strlen(head) || memcmp(line, head, (size_t)n) != 0) {
        log_warn("state_ignored", LF_S("path", path),
                 LF_S("reason", "written for another model or serial prefix"));
        free(line);
        fclose(fp);
        return 0;
    }
    cpe_t *c = NULL;
    size_t cpes = 0, bad = 0;
    while ((n = read_line(fp, line, STATE_LINE_MAX, &too_long)) >= 0) {
        size_t len = (size_t)n;
        line[len] = '\0';
        if (too_long || memchr(line, '\0', len)) {
            bad++; /* damage: neither kept nor parsed */
            continue;
        }
        if (len > 2 && line[0] == 'C' && line[1] == ' ') {
            char *sp = strchr(line + 2, ' ');
            c = sp ? fleet_find_serial(f, line + 2, (size_t)(sp - line - 2)) : NULL;
            if (!c) {
                bad++;
                continue;
            }
            if (sp[1] == '1')
                c->flags |= CPE_BOOTSTRAPPED;
            cpes++;
        } else if (!c) {
            bad++; /* belongs to a CPE we skipped */
        } else if (len > 2 && line[0] == 'T' && line[1] == ' ') {
            if (load_tc(c, line, len) != 0)
                bad++;
        } else {
            fleet_env_t env;
            dm_view_t v = fleet_view(f, c, &env);
            if (dm_inst_load_line(&v, line, len) != 0)
                bad++;
        }
    }
    free(line);
    fclose(fp);
    log_info("state_loaded", LF_S("path", path), LF_U("cpes", cpes), LF_U("skipped_lines", bad));
    return 0;
}
