/*
 * acs_creds: CPE authentication. Per-device credentials and the identity
 * they prove, who may continue which session, and the guard that locks out
 * addresses that keep failing.
 *
 * The file holds "USER PASSWORD [DEVICE_ID]" lines (# comments, blank lines
 * ignored), kept sorted for binary search. DEVICE_ID is the device id as the
 * ACS builds it (OUI-ProductClass-Serial, escaped, as the API shows it), or
 * `*` for any device. A line without it is bound by --cpe-username-template
 * (the user name must be the template filled in with the Inform's DeviceId);
 * without a template such a line would prove nothing about which device is
 * speaking, so the file is refused (file:line in the log). Loaded at start
 * and again on SIGHUP; a bad file keeps the old table.
 *
 * A user that is not in the file but is --cpe-username is the fleet-wide
 * credential: it authenticates any device and binds none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_session.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

typedef struct cred {
    char *user, *pass;
    char *device;   /* NULL: bound by the template; "*": any device */
    size_t line;
} cred_t;

struct acs_creds {
    cred_t *v;
    size_t n;
};

static int cmp(const void *a, const void *b)
{
    return strcmp(((const cred_t *)a)->user, ((const cred_t *)b)->user);
}

void acs_creds_free(acs_creds_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].user);
        free(c->v[i].pass);
        free(c->v[i].device);
    }
    free(c->v);
    free(c);
}

/* A device id as store_device_id writes it: three parts joined by '-',
 * every other byte of them escaped (%XX), so exactly two '-'. */
static bool device_id_ok(const char *s)
{
    size_t dashes = 0, n = strlen(s);
    if (n == 0 || n >= STORE_ID_MAX)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p == '-')
            dashes++;
        else if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.%", *p))
            return false;
    }
    return dashes == 2;
}

static char *next_field(char **p)
{
    char *s = *p + strspn(*p, " \t");
    if (!*s)
        return NULL;
    char *e = s + strcspn(s, " \t");
    *p = *e ? e + 1 : e;
    *e = '\0';
    return s;
}

/* One line into c->v[c->n]; the reason on failure. */
static const char *parse_line(acs_creds_t *c, char *s, bool have_template, size_t lineno)
{
    char *user = next_field(&s), *pass = next_field(&s), *dev = next_field(&s);
    if (!user || !pass || next_field(&s))
        return "expected USER PASSWORD [DEVICE_ID] (no blanks inside a field)";
    if (strlen(user) >= ACS_USER_MAX)
        return "user name longer than 127 bytes";
    if (dev && strcmp(dev, "*") != 0 && !device_id_ok(dev))
        return "DEVICE_ID is not a device id as the ACS builds it (OUI-ProductClass-Serial, "
               "as GET /api/devices shows it) nor *";
    if (!dev && !have_template)
        return "no device for this user: add its DEVICE_ID (or * for any device) as a third "
               "column, or set --cpe-username-template";
    cred_t *r = &c->v[c->n];
    r->user = strdup(user);
    r->pass = strdup(pass);
    r->device = dev ? strdup(dev) : NULL;
    r->line = lineno;
    if (!r->user || !r->pass || (dev && !r->device)) {
        free(r->user);
        free(r->pass);
        free(r->device);
        return "out of memory";
    }
    c->n++;
    return NULL;
}

static void log_at(const char *path, size_t line, const char *reason)
{
    char at[4200];
    snprintf(at, sizeof at, "%s:%zu", path, line);
    log_error("acs_credentials", LF_S("at", at), LF_S("reason", reason));
}

int acs_creds_load(const char *path, bool have_template, acs_creds_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = -errno;
        log_error("acs_credentials", LF_S("file", path), LF_ERR(e));
        return e;
    }
    acs_creds_t *c = calloc(1, sizeof *c);
    size_t cap = 0, lineno = 0;
    char line[1024];
    int rc = c ? 0 : -ENOMEM;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            log_at(path, lineno, "line too long (1023 bytes at most)");
            rc = -EINVAL;
            break;
        }
        char *s = str_trim(line);
        if (!*s || *s == '#')
            continue;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 64;
            cred_t *nv = realloc(c->v, cap * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            c->v = nv;
        }
        const char *why = parse_line(c, s, have_template, lineno);
        if (why) {
            log_at(path, lineno, why);
            rc = -EINVAL;
        }
    }
    fclose(f);
    if (!rc) {
        qsort(c->v, c->n, sizeof *c->v, cmp);
        /* One user, one password and one device: a second line would make
         * which one counts depend on the sort. */
        for (size_t i = 1; i < c->n; i++) {
            if (strcmp(c->v[i - 1].user, c->v[i].user) == 0) {
                const cred_t *later = c->v[i].line > c->v[i - 1].line ? &c->v[i] : &c->v[i - 1];
                log_at(path, later->line, "duplicate user (each user on one line)");
                rc = -EINVAL;
                break;
            }
        }
    }
    if (rc) {
        if (rc == -ENOMEM)
            log_error("acs_credentials", LF_S("file", path), LF_ERR(rc));
        acs_creds_free(c);
        return rc;
    }
    log_info("acs_credentials", LF_S("file", path), LF_U("users", c->n));
    *out = c;
    return 0;
}

static const cred_t *find(const acs_creds_t *c, const char *user)
{
    if (!c)
        return NULL;
    cred_t key = { (char *)user, NULL, NULL, 0 };
    return bsearch(&key, c->v, c->n, sizeof *c->v, cmp);
}

const char *acs_creds_find(const acs_creds_t *c, const char *user)
{
    const cred_t *r = find(c, user);
    return r ? r->pass : NULL;
}

/* ---- the user name template ------------------------------------------------------------ */

/* The placeholders, in the order of the table below. */
static const char *const placeholders[] = { "{oui}", "{product_class}", "{serial}", "{id}" };
enum { N_PLACEHOLDERS = sizeof placeholders / sizeof *placeholders };

/* The placeholder at p (index), or -1. */
static int placeholder_at(const char *p, size_t *len)
{
    for (int i = 0; i < N_PLACEHOLDERS; i++) {
        size_t l = strlen(placeholders[i]);
        if (strncmp(p, placeholders[i], l) == 0) {
            *len = l;
            return i;
        }
    }
    return -1;
}

int acs_template_check(const char *v, char *err, size_t errlen)
{
    bool any = false;
    for (const char *p = v; *p;) {
        size_t l = 1;
        if (*p == '{') {
            if (placeholder_at(p, &l) < 0) {
                snprintf(err, errlen, "unknown placeholder %.*s (use {oui}, {product_class}, "
                         "{serial}, {id})", (int)strcspn(p, "}") + 1, p);
                return -EINVAL;
            }
            any = true;
        } else if (*p == '}' || (unsigned char)*p < 0x20) {
            snprintf(err, errlen, "a stray '}' or control character");
            return -EINVAL;
        }
        p += l;
    }
    if (!any) {
        snprintf(err, errlen, "no placeholder: every device would have the same user name "
                 "(use {oui}, {product_class}, {serial}, {id})");
        return -EINVAL;
    }
    return 0;
}

/* The template filled in for this DeviceId: the Inform's own values for
 * {oui}, {product_class} and {serial}, the ACS's device id for {id}. */
static int expand(const char *tmpl, const cwmp_device_id_t *d, const char *device_id, char *out,
                  size_t outlen)
{
    const char *val[N_PLACEHOLDERS] = { d->oui, d->product_class, d->serial_number, device_id };
    size_t pos = 0;
    for (const char *p = tmpl; *p;) {
        size_t l = 1;
        int i = *p == '{' ? placeholder_at(p, &l) : -1;
        const char *v = i >= 0 ? (val[i] ? val[i] : "") : p;
        size_t vl = i >= 0 ? strlen(v) : 1;
        if (pos + vl >= outlen)
            return -ENAMETOOLONG;
        memcpy(out + pos, v, vl);
        pos += vl;
        p += l;
    }
    out[pos] = '\0';
    return 0;
}

bool acs_identity_allows(const acs_t *a, const char *user, const cwmp_device_id_t *d,
                         const char *device_id)
{
    const cred_t *r = find(a->creds, user);
    if (r && r->device)
        return strcmp(r->device, "*") == 0 || strcmp(r->device, device_id) == 0;
    if (r) {
        char want[512];
        return a->o.cpe_username_template &&
               expand(a->o.cpe_username_template, d, device_id, want, sizeof want) == 0 &&
               strcmp(want, user) == 0;
    }
    /* Not in the file (any more): only the fleet-wide credential is left. */
    return a->o.cpe_password && a->o.cpe_username && strcmp(user, a->o.cpe_username) == 0;
}

/* ---- authenticating a request ---------------------------------------------------------- */

static int cpe_lookup(const char *user, char *out, size_t outlen, void *ud)
{
    acs_t *a = ud;
    const char *p = acs_creds_find(a->creds, user); /* per device first */
    if (p)
        return str_copy(out, outlen, p);
    if (a->o.cpe_username && a->o.cpe_password && strcmp(user, a->o.cpe_username) == 0)
        return str_copy(out, outlen, a->o.cpe_password);
    return -ENOENT;
}

/* Whose failures a request counts as: the TCP peer, or behind a
 * --trusted-proxy the CPE's address it forwards (the one the Inform
 * records), so that one CPE's wrong password does not lock out every CPE
 * behind the proxy. */
static const char *guard_addr(const acs_t *a, const http_req_t *req, char *out, size_t outlen)
{
    return http_req_client_ip(req, a->trusted, a->ntrusted, out, outlen);
}

bool acs_cpe_guard_admits(acs_t *a, http_req_t *req, char *addr, size_t addrlen)
{
    guard_addr(a, req, addr, addrlen);
    int64_t locked = authguard_check(&a->cpe_guard, addr, clock_mono_ms(), NULL);
    if (locked <= 0)
        return true;
    static const char msg[] = "too many failed logins from this address; retry later\n";
    char hdr[HTTP_RETRY_AFTER_MAX];
    http_retry_after(hdr, locked);
    http_respond_hdrs(req, 429, hdr, "text/plain", msg, sizeof msg - 1);
    return false;
}

/* One line per address and minute (and when a lock-out starts), with the
 * failures and refused attempts since its previous line. */
static void guard_report(const authguard_report_t *rep, void *ud)
{
    (void)ud;
    log_warn("cwmp_auth_failed", LF_S("addr", rep->addr), LF_U("failures", rep->count),
             LF_I("locked_ms", rep->locked_ms), LF_U("strike", rep->strike));
}

static void guard_fail(acs_t *a, const char *addr)
{
    a->n.auth_failures++;
    (void)authguard_fail(&a->cpe_guard, addr, clock_mono_ms(), NULL);
}

static void challenge(acs_t *a, http_req_t *req, bool stale)
{
    buf_t h = BUF_INIT(4096);
    (void)http_auth_challenge(a->cpe_auth, stale, &h);
    http_respond_hdrs(req, 401, h.data, "text/plain", "authentication required\n", 24);
    buf_free(&h);
}

/* Check the request's credentials, the user into `user`. False once
 * answered: 401 with a challenge, or 429 while the address is locked out
 * (its credentials are not even looked at then). */
static bool authenticate(acs_t *a, http_req_t *req, char *user, size_t userlen)
{
    char addr[64];
    if (!acs_cpe_guard_admits(a, req, addr, sizeof addr))
        return false;
    const char *why = NULL;
    http_auth_result_t r = http_auth_check(a->cpe_auth, "POST", http_req_target(req),
                                           http_req_header(req, "Authorization"), cpe_lookup, a,
                                           user, userlen, &why);
    if (r == HTTP_AUTH_OK) {
        authguard_ok(&a->cpe_guard, addr);
        return true;
    }
    /* Missing credentials are how a client asks for the challenge: never a
     * failure. A stale nonce came with the right password. */
    if (r == HTTP_AUTH_FAILED) {
        log_debug("cwmp_auth_failure", LF_S("addr", addr), LF_S("reason", why ? why : "-"));
        guard_fail(a, addr);
    }
    challenge(a, req, r == HTTP_AUTH_STALE);
    return false;
}

/* `user` authenticated but may not speak for `device`: 401 like a wrong
 * password (the CPE may try other credentials), logged once, and counted
 * against the address like one. */
void acs_identity_refused(acs_t *a, http_req_t *req, const char *user, const char *device,
                          const char *what)
{
    char addr[64];
    guard_addr(a, req, addr, sizeof addr);
    log_warn("cwmp_identity_mismatch", LF_S("user", user), LF_S("device", device),
             LF_S("peer", http_req_peer(req)), LF_S("addr", addr), LF_S("on", what));
    guard_fail(a, addr);
    challenge(a, req, false);
}

bool acs_cpe_authenticate(acs_t *a, http_req_t *req, acs_conn_t *c)
{
    if (!c->authed && authenticate(a, req, c->user, sizeof c->user))
        c->authed = true;
    return c->authed;
}

/* Whether the request may go on, and with which session (*sp). The
 * connection that carries a session is its proof; any other request
 * authenticates (once: on_head's verdict stays on the connection for the
 * handler) and continues a session, cookie or not, only as the user that
 * started it; that connection then carries it. False once answered. */
bool acs_admit(acs_t *a, http_req_t *req, acs_conn_t *c, acs_session_t **sp)
{
    bool own;
    acs_session_t *s = acs_session_find(a, req, &own);
    *sp = s;
    if (own || !a->cpe_auth)
        return true;
    if (!acs_cpe_authenticate(a, req, c))
        return false;
    if (s && strcmp(c->user, s->user) != 0) {
        acs_identity_refused(a, req, c->user, s->device_id, "session");
        return false;
    }
    if (s)
        acs_session_adopt(s, req);
    return true;
}

int acs_cpe_auth_start(acs_t *a)
{
    authguard_init(&a->cpe_guard, 0, (uint32_t)a->o.cpe_auth_max_failures,
                   a->o.cpe_auth_lockout_ms);
    authguard_set_say(&a->cpe_guard, guard_report, NULL);
    const char *mode = a->o.cpe_auth ? a->o.cpe_auth : "digest";
    if (strcmp(mode, "none") == 0)
        return 0;
    http_auth_opts_t ao = {
        .realm = "outpost-acs",
        .digest = strcmp(mode, "basic") != 0,
        .basic = strcmp(mode, "digest") != 0 && (a->tls || a->o.cpe_basic_plain),
    };
    if (!ao.digest && !ao.basic)
        return -EINVAL; /* acs_run refused this configuration already */
    a->cpe_auth = http_auth_new(&ao);
    return a->cpe_auth ? 0 : -ENOMEM;
}

void acs_cpe_auth_sweep(acs_t *a)
{
    if (!a->cpe_guard.max)
        return;
    authguard_sweep(&a->cpe_guard, clock_mono_ms(), guard_report, NULL);
}

void acs_cpe_auth_free(acs_t *a)
{
    http_auth_free(a->cpe_auth);
    a->cpe_auth = NULL;
    if (a->cpe_guard.max) /* initialised; says what no later failure flushed */
        authguard_free(&a->cpe_guard);
}
