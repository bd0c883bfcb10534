/*
 * stun: cpe-sim's side of TR-111 Part 2 (TR-069 Annex G). With
 * --stun-server every CPE has its own UDP socket (its own NAT mapping),
 * bound to --udp-listen on a port of its own. From it the CPE
 *   - sends STUN Binding Requests to ManagementServer.STUNServerAddress:
 *     STUNServerPort every STUNMinimumKeepAlivePeriod seconds (an
 *     unanswered one again at 0.5, 1.5, 3.5 and 7.5 s), with
 *     CONNECTION-REQUEST-BINDING, USERNAME (STUNUsername, or
 *     --stun-username), MESSAGE-INTEGRITY when STUNPassword is set, and
 *     BINDING-CHANGE right after it saw its mapped address change;
 *   - learns its mapped address from the answers: UDPConnectionRequest-
 *     Address ("ip:port") and NATDetected (mapped != local) are set with
 *     active notification, so a change goes out in a "4 VALUE CHANGE"
 *     Inform;
 *   - answers UDP connection requests: a valid one (its ConnectionRequest-
 *     Username, the signature its ConnectionRequestPassword makes, a new id,
 *     a ts not older than the last accepted one nor further than
 *     --udp-cr-max-age from now) starts a session with "6 CONNECTION
 *     REQUEST". Anything else is ignored: counted by reason, one log line
 *     per reason per 10 s.
 * One timer serves the whole fleet. The fleet owns the stun_fleet_t; all of
 * it runs on the loop thread.
 */
#include "cpesim/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/stun.h"
#include "codec/udpcr.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "cpesim/dm_ref.h"

enum { TICK_MS = 100, LOG_WINDOW_MS = 10000 };

typedef enum ign {
    IGN_MALFORMED,
    IGN_AUTH,      /* wrong username or signature */
    IGN_REPLAY,    /* an id seen already, or older than the last accepted */
    IGN_STALE,     /* ts too far from now */
    IGN_OFFLINE,   /* rebooting */
    IGN_COUNT
} ign_t;

static const char *const ign_names[IGN_COUNT] = { "malformed", "auth", "replay", "stale", "offline" };

typedef struct stun_cpe {
    uv_udp_t h;                /* h.data: the stun_fleet_t */
    uint8_t tid[STUN_TID];     /* of the last request */
    int64_t t_next;            /* next Binding Request (mono ms) */
    int64_t t_retry;           /* retransmit the unanswered one (mono ms; 0: none out) */
    uint8_t tries;             /* transmissions of the one out */
    int64_t last_ts;           /* the last accepted connection request */
    uint32_t last_id;
    bool have_last, open, change;
    char mapped[NET_ADDR_STR]; /* "" until learnt */
} stun_cpe_t;

struct stun_fleet {
    fleet_t *f;
    stun_cpe_t *cpes;
    uv_timer_t tick;
    char n_addr[DM_NAME_MAX + 1], n_port[DM_NAME_MAX + 1], n_user[DM_NAME_MAX + 1],
        n_pass[DM_NAME_MAX + 1], n_period[DM_NAME_MAX + 1], n_enable[DM_NAME_MAX + 1],
        n_udp[DM_NAME_MAX + 1], n_nat[DM_NAME_MAX + 1];
    uint8_t rbuf[2048];
    uint64_t sent, answers, errors, changes, accepted, dup, ignored[IGN_COUNT];
    int64_t logged_at[IGN_COUNT];
    uint64_t suppressed[IGN_COUNT];
    size_t open;
};

/* ---- the model -------------------------------------------------------------------- */

static void full(const dm_model_t *m, char *out, const char *rel)
{
    snprintf(out, DM_NAME_MAX + 1, "%sManagementServer.%s", dm_model_root(m), rel);
}

void stun_model_prepare(dm_model_t *m, const cpesim_opts_t *o)
{
    if (!o->stun_server || !*o->stun_server)
        return;
    char host[NET_HOST_MAX], num[24], name[DM_NAME_MAX + 1];
    uint16_t port = 3478;
    if (net_split_hostport(o->stun_server, host, sizeof host, &port) != 0)
        return; /* the option's check said so */
    static const struct {
        const char *rel;
        dm_type_t t;
        unsigned flags;
    } rows[] = {
        { "STUNEnable", DM_BOOL, DM_W },
        { "STUNServerAddress", DM_STRING, DM_W },
        { "STUNServerPort", DM_UINT, DM_W },
        { "STUNUsername", DM_STRING, DM_W },
        { "STUNPassword", DM_STRING, DM_W | DM_SECRET },
        { "STUNMinimumKeepAlivePeriod", DM_UINT, DM_W },
        { "STUNMaximumKeepAlivePeriod", DM_INT, DM_W },
        { "UDPConnectionRequestAddress", DM_STRING, 0 },
        { "NATDetected", DM_BOOL, 0 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        full(m, name, rows[i].rel);
        if (!dm_model_has(m, name))
            dm_model_add(m, name, rows[i].t, rows[i].flags, "");
    }
    uint32_t keep = (uint32_t)((o->stun_keepalive_ms + 999) / 1000);
    const struct {
        const char *rel, *value;
    } defs[] = {
        { "STUNEnable", "true" },
        { "STUNServerAddress", host },
        { "STUNServerPort", (snprintf(num, sizeof num, "%u", port), num) },
        { "STUNPassword", o->stun_password ? o->stun_password : "" },
        { "STUNUsername", "" },
        { "UDPConnectionRequestAddress", "" },
        { "NATDetected", "false" },
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        full(m, name, defs[i].rel);
        if (dm_model_set_default(m, name, defs[i].value) != 0)
            log_warn("model_default_refused", LF_S("param", name), LF_S("value", defs[i].value));
    }
    char k[16];
    snprintf(k, sizeof k, "%u", keep ? keep : 1);
    full(m, name, "STUNMinimumKeepAlivePeriod");
    dm_model_set_default(m, name, k);
    full(m, name, "STUNMaximumKeepAlivePeriod");
    dm_model_set_default(m, name, k);
    /* TR-111: the ACS must hear of a new address at once */
    full(m, name, "UDPConnectionRequestAddress");
    dm_model_set_notify(m, name, 2, false);
    full(m, name, "NATDetected");
    dm_model_set_notify(m, name, 2, false);
}

/* A parameter's value as the CPE itself sees it: secrets too (the STUN
 * password signs its requests; a read through dm_get_values hides it). */
static void param(fleet_t *f, cpe_t *c, const char *name, char *out, size_t len)
{
    fleet_env_t e;
    dm_view_t v = fleet_view(f, c, &e);
    dm_ref_t r;
    buf_t tmp = BUF_INIT(len);
    const char *val = dm_lookup(&v, name, strlen(name), &r) == 0 ? dm_ref_value(&v, r, &tmp, true) : NULL;
    str_copy(out, len, val ? val : "");
    buf_free_secret(&tmp); /* name may be the STUN password */
}

static void wk(fleet_t *f, cpe_t *c, dm_wk_t k, char *out, size_t len)
{
    fleet_env_t e;
    dm_view_t v = fleet_view(f, c, &e);
    buf_t b = BUF_INIT(len);
    str_copy(out, len, dm_wk_get(&v, k, &b) == 0 && b.data ? b.data : "");
    buf_free_secret(&b); /* k may be a password */
}

/* The ACS's device id form (store_device_id): bytes outside [A-Za-z0-9_.]
 * %-escaped, so '-' separates the parts unambiguously. */
static void id_part(buf_t *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
            *p == '.')
            buf_append(out, p, 1);
        else
            buf_printf(out, "%%%02X", *p);
    }
}

/* STUNUsername, or --stun-username with {serial} and {id} replaced. */
static void username(struct stun_fleet *sf, cpe_t *c, char *out, size_t len)
{
    fleet_t *f = sf->f;
    param(f, c, sf->n_user, out, len);
    if (*out)
        return;
    char serial[65], oui[65], pc[65];
    wk(f, c, DM_WK_SERIAL, serial, sizeof serial);
    buf_t b = BUF_INIT(len);
    for (const char *t = f->o->stun_username; t && *t;) {
        if (str_starts_with(t, "{serial}")) {
            buf_append_str(&b, serial);
            t += 8;
        } else if (str_starts_with(t, "{id}")) {
            wk(f, c, DM_WK_OUI, oui, sizeof oui);
            wk(f, c, DM_WK_PRODUCT_CLASS, pc, sizeof pc);
            id_part(&b, oui);
            buf_append_str(&b, "-");
            id_part(&b, pc);
            buf_append_str(&b, "-");
            id_part(&b, serial);
            t += 4;
        } else {
            buf_append(&b, t++, 1);
        }
    }
    str_copy(out, len, b.data ? b.data : "");
    buf_free(&b);
}

/* ---- logging ------------------------------------------------------------------------- */

static void ignore(struct stun_fleet *sf, cpe_t *c, ign_t why, const char *reason, const struct sockaddr *from)
{
    fleet_t *f = sf->f;
    sf->ignored[why]++;
    int64_t now = fleet_now(f);
    if (sf->logged_at[why] && now - sf->logged_at[why] < LOG_WINDOW_MS) {
        sf->suppressed[why]++;
        return;
    }
    char serial[65], peer[NET_ADDR_STR];
    fleet_serial(f, c, serial, sizeof serial);
    net_addr_format(from, peer, sizeof peer);
    log_warn("udp_connection_request_ignored", LF_S("cpe", serial), LF_S("peer", peer),
             LF_S("reason", reason), LF_S("kind", ign_names[why]), LF_U("suppressed", sf->suppressed[why]));
    sf->logged_at[why] = now;
    sf->suppressed[why] = 0;
}

/* ---- Binding Requests ---------------------------------------------------------------- */

static int64_t period_ms(struct stun_fleet *sf, cpe_t *c)
{
    char v[32];
    int64_t s = 0;
    param(sf->f, c, sf->n_period, v, sizeof v);
    if (str_to_i64(v, 1, 86400 * 365, &s) != 0)
        s = (sf->f->o->stun_keepalive_ms + 999) / 1000;
    int64_t ms = (s > 0 ? s : 1) * 1000;
    /* +-10%: thousands of CPEs do not keep in step */
    return ms - ms / 10 + (int64_t)(fleet_random(sf->f) * (double)(ms / 5));
}

/* again: the unanswered request once more, same transaction id (RFC 5389
 * 7.2.1: at 0.5, 1.5, 3.5, 7.5 s, then the next keep-alive). */
static void send_binding(struct stun_fleet *sf, uint32_t i, bool again)
{
    fleet_t *f = sf->f;
    cpe_t *c = &f->cpes[i];
    stun_cpe_t *s = &sf->cpes[i];
    int64_t now = fleet_now(f);
    if (!again) {
        s->t_next = now + period_ms(sf, c);
        s->tries = 0;
    }
    s->t_retry = s->tries < 4 ? now + (500LL << s->tries) : 0;
    s->tries++;
    char v[300], host[300];
    param(f, c, sf->n_enable, v, sizeof v);
    if (strcmp(v, "true") != 0 && strcmp(v, "1") != 0)
        return;
    if ((c->flags & CPE_OFFLINE) || f->stopping)
        return;
    param(f, c, sf->n_addr, host, sizeof host);
    param(f, c, sf->n_port, v, sizeof v);
    int64_t port = 3478;
    if (*v && str_to_i64(v, 1, 65535, &port) != 0)
        return;
    struct sockaddr_storage to;
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&to) != 0 &&
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&to) != 0)
        return; /* names are not resolved by the simulator */
    if (!again && str_random(s->tid, sizeof s->tid) != 0)
        return;
    char user[300], pass[300];
    username(sf, c, user, sizeof user);
    param(f, c, sf->n_pass, pass, sizeof pass);
    uint8_t msg[STUN_MAX];
    stun_enc_t e;
    stun_enc_start(&e, msg, sizeof msg, STUN_BINDING_REQUEST, s->tid);
    stun_enc_attr(&e, STUN_A_CONNECTION_REQUEST_BINDING, STUN_CRB_VALUE, STUN_CRB_LEN);
    if (s->change)
        stun_enc_attr(&e, STUN_A_BINDING_CHANGE, NULL, 0);
    if (*user)
        stun_enc_attr(&e, STUN_A_USERNAME, user, strlen(user));
    if (*pass)
        stun_enc_integrity(&e, pass, strlen(pass));
    explicit_bzero(pass, sizeof pass); /* the STUN password's copy */
    stun_enc_fingerprint(&e);
    size_t n = stun_enc_end(&e);
    if (!n)
        return;
    uv_buf_t b = uv_buf_init((char *)msg, (unsigned)n);
    if (uv_udp_try_send(&s->h, &b, 1, (const struct sockaddr *)&to) >= 0)
        sf->sent++;
}

static void set_value(fleet_t *f, cpe_t *c, const char *name, const char *value, int *level)
{
    fleet_env_t e;
    dm_view_t v = fleet_view(f, c, &e);
    int n = dm_set_internal(&v, name, value);
    if (n > *level)
        *level = n;
}

static void on_answer(struct stun_fleet *sf, uint32_t i, const uint8_t *p, size_t n, const stun_msg_t *m)
{
    fleet_t *f = sf->f;
    cpe_t *c = &f->cpes[i];
    stun_cpe_t *s = &sf->cpes[i];
    if (memcmp(m->tid, s->tid, STUN_TID) != 0)
        return; /* not the request we have out */
    s->t_retry = 0;
    if (m->type == STUN_BINDING_ERROR) {
        sf->errors++;
        char serial[65];
        fleet_serial(f, c, serial, sizeof serial);
        log_info("stun_error", LF_S("cpe", serial), LF_I("code", m->error_code));
        return;
    }
    if (!m->has_xor_mapped && !m->has_mapped)
        return;
    sf->answers++;
    struct sockaddr_storage ss, local;
    stun_addr_to_sockaddr(m->has_xor_mapped ? &m->xor_mapped : &m->mapped, &ss);
    char mapped[NET_ADDR_STR], mine[NET_ADDR_STR];
    net_addr_format((struct sockaddr *)&ss, mapped, sizeof mapped);
    int len = sizeof local;
    if (uv_udp_getsockname(&s->h, (struct sockaddr *)&local, &len) != 0)
        return;
    net_addr_format((struct sockaddr *)&local, mine, sizeof mine);
    bool had_change = s->change;
    s->change = false; /* the server has seen it */
    if (strcmp(mapped, s->mapped) == 0)
        return;
    bool first = !s->mapped[0];
    str_copy(s->mapped, sizeof s->mapped, mapped);
    if (!first && !had_change) {
        /* TR-111 2.2.1.2: tell the server at once, with BINDING-CHANGE */
        s->change = true;
        s->t_next = fleet_now(f);
        sf->changes++;
    }
    int level = 0;
    set_value(f, c, sf->n_udp, mapped, &level);
    set_value(f, c, sf->n_nat, strcmp(mapped, mine) != 0 ? "true" : "false", &level);
    f->state_dirty = true;
    char serial[65];
    fleet_serial(f, c, serial, sizeof serial);
    log_info("stun_mapped_address", LF_S("cpe", serial), LF_S("local", mine), LF_S("mapped", mapped),
             LF_B("nat", strcmp(mapped, mine) != 0));
    if (level == 2)
        fleet_trigger(f, c, EV_VALUE_CHANGE);
    else if (level == 1)
        c->events |= EV_VALUE_CHANGE;
}

/* ---- UDP connection requests --------------------------------------------------------- */

static void on_cr(struct stun_fleet *sf, uint32_t i, const char *p, size_t n, const struct sockaddr *from)
{
    fleet_t *f = sf->f;
    cpe_t *c = &f->cpes[i];
    stun_cpe_t *s = &sf->cpes[i];
    udpcr_t m;
    const char *why = NULL;
    if (udpcr_parse(p, n, &m, &why) != 0) {
        ignore(sf, c, IGN_MALFORMED, why, from);
        return;
    }
    char user[300], pass[300];
    wk(f, c, DM_WK_CR_USER, user, sizeof user);
    wk(f, c, DM_WK_CR_PASS, pass, sizeof pass);
    bool our_user = strcmp(m.un, user) == 0, signed_ok = our_user && udpcr_verify(&m, pass);
    explicit_bzero(pass, sizeof pass); /* the connection request password's copy */
    if (!our_user) {
        ignore(sf, c, IGN_AUTH, "not our ConnectionRequestUsername", from);
        return;
    }
    if (!signed_ok) {
        ignore(sf, c, IGN_AUTH, "the signature is not our ConnectionRequestPassword's", from);
        return;
    }
    if (s->have_last && m.id == s->last_id) {
        sf->dup++; /* Annex G: the copies of one request share the id */
        return;
    }
    if (s->have_last && m.ts < s->last_ts) {
        ignore(sf, c, IGN_REPLAY, "ts older than the last accepted connection request", from);
        return;
    }
    int64_t now = clock_real_s(), age = now - m.ts;
    if (age > f->o->udp_cr_max_age_ms / 1000 || -age > f->o->udp_cr_max_age_ms / 1000) {
        ignore(sf, c, IGN_STALE, "ts too far from our clock (--udp-cr-max-age)", from);
        return;
    }
    if ((c->flags & CPE_OFFLINE) || f->stopping) {
        ignore(sf, c, IGN_OFFLINE, "rebooting", from);
        return;
    }
    s->have_last = true;
    s->last_id = m.id;
    s->last_ts = m.ts;
    sf->accepted++;
    f->st.cr_answered++;
    char serial[65], peer[NET_ADDR_STR];
    fleet_serial(f, c, serial, sizeof serial);
    net_addr_format(from, peer, sizeof peer);
    log_info("udp_connection_request", LF_S("cpe", serial), LF_S("peer", peer), LF_U("id", m.id),
             LF_B("in_session", c->sess != NULL));
    fleet_trigger(f, c, EV_CONNREQ);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct stun_fleet *sf = h->data;
    (void)suggested;
    *b = uv_buf_init((char *)sf->rbuf, sizeof sf->rbuf);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *from, unsigned flags)
{
    struct stun_fleet *sf = h->data;
    if (nread <= 0 || !from || sf->f->stopping)
        return;
    uint32_t i = (uint32_t)((stun_cpe_t *)(void *)h - sf->cpes);
    const uint8_t *p = (const uint8_t *)b->base;
    size_t n = (size_t)nread;
    if (flags & UV_UDP_PARTIAL) {
        ignore(sf, &sf->f->cpes[i], IGN_MALFORMED, "datagram larger than any message", from);
        return;
    }
    /* STUN's first two bits are zero; an HTTP request starts with a letter */
    if (n >= STUN_HDR && (p[0] & 0xC0) == 0) {
        stun_msg_t m;
        const char *why;
        if (stun_parse(p, n, &m, &why) == 0)
            on_answer(sf, i, p, n, &m);
        return;
    }
    on_cr(sf, i, (const char *)p, n, from);
}

/* ---- life cycle ---------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    struct stun_fleet *sf = t->data;
    int64_t now = fleet_now(sf->f);
    for (uint32_t i = 0; i < sf->f->count; i++)
        if (sf->cpes[i].open && sf->cpes[i].t_next <= now)
            send_binding(sf, i, false);
        else if (sf->cpes[i].open && sf->cpes[i].t_retry && sf->cpes[i].t_retry <= now)
            send_binding(sf, i, true);
}

int stun_start(fleet_t *f, char *err, size_t errlen)
{
    const cpesim_opts_t *o = f->o;
    if (!o->stun_server || !*o->stun_server)
        return 0;
    struct stun_fleet *sf = calloc(1, sizeof *sf);
    if (!sf || !(sf->cpes = calloc(f->count, sizeof *sf->cpes))) {
        free(sf);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    sf->f = f;
    f->stun = sf;
    const dm_model_t *m = f->model;
    full(m, sf->n_addr, "STUNServerAddress");
    full(m, sf->n_port, "STUNServerPort");
    full(m, sf->n_user, "STUNUsername");
    full(m, sf->n_pass, "STUNPassword");
    full(m, sf->n_period, "STUNMinimumKeepAlivePeriod");
    full(m, sf->n_enable, "STUNEnable");
    full(m, sf->n_udp, "UDPConnectionRequestAddress");
    full(m, sf->n_nat, "NATDetected");
    uv_timer_init(f->loop, &sf->tick);
    sf->tick.data = sf;
    /* --udp-listen is an address; --cr-listen's host is taken from HOST:PORT */
    char host[NET_HOST_MAX];
    uint16_t port = 0;
    if (o->udp_listen && *o->udp_listen)
        str_copy(host, sizeof host, o->udp_listen);
    else if (net_split_hostport(o->cr_listen, host, sizeof host, &port) != 0)
        str_copy(host, sizeof host, "127.0.0.1");
    struct sockaddr_storage bind_to;
    if (uv_ip4_addr(host, 0, (struct sockaddr_in *)&bind_to) != 0 &&
        uv_ip6_addr(host, 0, (struct sockaddr_in6 *)&bind_to) != 0) {
        snprintf(err, errlen, "--udp-listen %s: not an IP address", host);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < f->count; i++) {
        stun_cpe_t *s = &sf->cpes[i];
        uv_udp_init(f->loop, &s->h);
        s->h.data = sf;
        s->open = true;
        sf->open++;
        int rc = uv_udp_bind(&s->h, (struct sockaddr *)&bind_to, 0);
        if (rc == 0)
            rc = uv_udp_recv_start(&s->h, on_alloc, on_recv);
        if (rc) {
            snprintf(err, errlen, "UDP socket %u on %s: %s (raise the open files limit?)", i + 1, host,
                     uv_strerror(rc));
            return rc;
        }
        /* the first request goes when the CPE boots (its start-up pacing) */
        s->t_next = f->cpes[i].t_session;
    }
    uv_timer_start(&sf->tick, on_tick, TICK_MS, TICK_MS);
    log_info("stun_client", LF_S("server", o->stun_server), LF_S("udp_listen", host), LF_U("sockets", f->count));
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct stun_fleet *sf = h->data;
    if (--sf->open == 0) {
        free(sf->cpes);
        free(sf);
    }
}

void stun_stop(fleet_t *f)
{
    struct stun_fleet *sf = f->stun;
    if (!sf)
        return;
    f->stun = NULL;
    sf->open++; /* the timer */
    uv_close((uv_handle_t *)&sf->tick, on_closed);
    for (uint32_t i = 0; i < f->count; i++)
        if (sf->cpes[i].open) {
            sf->cpes[i].open = false;
            uv_close((uv_handle_t *)&sf->cpes[i].h, on_closed);
        }
}

int stun_metrics(fleet_t *f, buf_t *out)
{
    struct stun_fleet *sf = f->stun;
    if (!sf)
        return 0;
    int rc = metrics_one(out, "outpost_cpesim_stun_requests_total", "counter", "STUN Binding Requests sent.",
                         (double)sf->sent);
    rc = rc ? rc : metrics_one(out, "outpost_cpesim_stun_answers_total", "counter",
                               "STUN Binding Responses with a mapped address.", (double)sf->answers);
    rc = rc ? rc : metrics_one(out, "outpost_cpesim_stun_errors_total", "counter", "STUN error responses.",
                               (double)sf->errors);
    rc = rc ? rc : metrics_one(out, "outpost_cpesim_stun_binding_changes_total", "counter",
                               "Mapped addresses that changed (BINDING-CHANGE sent).", (double)sf->changes);
    rc = rc ? rc : metrics_one(out, "outpost_cpesim_udp_connection_requests_total", "counter",
                               "UDP connection requests accepted.", (double)sf->accepted);
    rc = rc ? rc : metrics_one(out, "outpost_cpesim_udp_connection_request_copies_total", "counter",
                               "Copies of an accepted UDP connection request (same id).", (double)sf->dup);
    rc = rc ? rc : metrics_head(out, "outpost_cpesim_udp_connection_requests_ignored_total", "counter",
                                "UDP connection requests ignored, by reason.");
    for (int i = 0; i < IGN_COUNT && !rc; i++) {
        char l[32];
        snprintf(l, sizeof l, "reason=\"%s\"", ign_names[i]);
        rc = metrics_value(out, "outpost_cpesim_udp_connection_requests_ignored_total", l, (double)sf->ignored[i]);
    }
    return rc;
}
