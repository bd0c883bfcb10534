/*
 * fleet: scheduling and identity of the simulated CPEs (see fleet.h).
 */
#include "cpesim/fleet.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { FAIL_LOG_PER_INTERVAL = 20, FAIL_LOG_WINDOW_MS = 10000, WAKE_BATCH = 2048 };

#define HEAP_NONE UINT32_MAX

/* ---- small helpers ------------------------------------------------------------ */

int64_t fleet_now(const fleet_t *f) { return clock_mono_ms(); }

/* xorshift64*: fast, good enough for jitter and fault injection. */
double fleet_random(fleet_t *f)
{
    uint64_t x = f->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    f->rng = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

uint32_t fleet_index(const fleet_t *f, const cpe_t *c) { return (uint32_t)(c - f->cpes); }

void fleet_serial(const fleet_t *f, const cpe_t *c, char *out, size_t len)
{
    snprintf(out, len, "%s%0*u", f->o->serial_prefix, (int)f->serial_width, fleet_index(f, c) + 1);
}

cpe_t *fleet_find_serial(fleet_t *f, const char *serial, size_t len)
{
    size_t pl = strlen(f->o->serial_prefix);
    uint64_t n;
    if (len <= pl || memcmp(serial, f->o->serial_prefix, pl) != 0 ||
        str_to_u64n(serial + pl, len - pl, UINT32_MAX, &n) != 0 || n == 0 || n > f->count)
        return NULL;
    cpe_t *c = &f->cpes[n - 1];
    char check[96];
    fleet_serial(f, c, check, sizeof check);
    return strlen(check) == len && memcmp(check, serial, len) == 0 ? c : NULL;
}

cpe_x_t *fleet_x(cpe_t *c)
{
    if (!c->x)
        c->x = calloc(1, sizeof *c->x);
    return c->x;
}

void fleet_x_release(cpe_t *c)
{
    cpe_x_t *x = c->x;
    if (!x || x->ck_reboot || x->ck_sched || x->t_sched || x->t_reboot || x->xfer || x->has_tc)
        return;
    free(x);
    c->x = NULL;
}

/* ---- dynamic values --------------------------------------------------------- */

/* "{serial}" in a configured user name stands for the CPE's serial. */
static int with_serial(const fleet_t *f, const cpe_t *c, const char *tmpl, buf_t *out)
{
    const char *p = strstr(tmpl, "{serial}");
    char serial[96];
    fleet_serial(f, c, serial, sizeof serial);
    if (!p)
        return buf_append_str(out, tmpl);
    int rc = buf_append(out, tmpl, (size_t)(p - tmpl));
    rc = rc ? rc : buf_append_str(out, serial);
    return rc ? rc : buf_append_str(out, p + 8);
}

int fleet_fill_serial(fleet_t *f, const cpe_t *c, const char *tmpl, buf_t *out)
{
    return with_serial(f, c, tmpl, out);
}

static int dyn_value(void *ctx, dm_dyn_t kind, unsigned arg, buf_t *out)
{
    fleet_env_t *e = ctx;
    fleet_t *f = e->f;
    uint32_t idx = fleet_index(f, e->c);
    char tmp[96];
    switch (kind) {
    case DM_DYN_SERIAL:
        fleet_serial(f, e->c, tmp, sizeof tmp);
        return buf_append_str(out, tmp);
    case DM_DYN_CR_URL:
        fleet_serial(f, e->c, tmp, sizeof tmp);
        return buf_printf(out, "%s%s", f->cr_base, tmp);
    case DM_DYN_CR_USER:
        if (f->o->cr_username && *f->o->cr_username)
            return with_serial(f, e->c, f->o->cr_username, out);
        fleet_serial(f, e->c, tmp, sizeof tmp);
        return buf_append_str(out, tmp);
    case DM_DYN_CR_PASS:
        return buf_append_str(out, f->o->cr_password ? f->o->cr_password : "");
    case DM_DYN_UPTIME: {
        int64_t now_s = (fleet_now(f) - f->t0_ms) / 1000;
        return buf_printf(out, "%lld", (long long)(now_s - e->c->boot_s));
    }
    case DM_DYN_NOW: {
        char iso[CLOCK_ISO_LEN];
        clock_iso8601(clock_real_s(), iso);
        return buf_append_str(out, iso);
    }
    case DM_DYN_MAC:
        return buf_printf(out, "02:AC:%02X:%02X:%02X:%02X", (idx >> 16) & 0xff, (idx >> 8) & 0xff,
                          idx & 0xff, arg & 0xff);
    case DM_DYN_CR_JID:
        return cr_xmpp_jid(f, e->c, out);
    case DM_DYN_WAN_IP: {
        uint32_t v = idx + 257; /* 100.64.1.1 onwards */
        return buf_printf(out, "100.%u.%u.%u", 64 + ((v >> 16) & 63), (v >> 8) & 0xff, v & 0xff);
    }
    default:
        return -EINVAL;
    }
}

dm_view_t fleet_view(fleet_t *f, cpe_t *c, fleet_env_t *e)
{
    e->env.dyn = dyn_value;
    e->env.ctx = e;
    e->f = f;
    e->c = c;
    return (dm_view_t){ f->model, &c->dm, &e->env };
}

/* ---- the heap ------------------------------------------------------------------ */

static int64_t due_of(const cpe_t *c)
{
    int64_t t[6] = { c->t_session, c->t_periodic, c->t_drift, 0, 0, 0 };
    if (c->x) {
        t[3] = c->x->t_sched;
        t[4] = c->x->t_reboot;
        t[5] = c->x->xfer ? c->x->t_xfer : 0;
    }
    int64_t due = 0;
    for (int i = 0; i < 6; i++)
        if (t[i] && (!due || t[i] < due))
            due = t[i];
    if (c->flags & CPE_OFFLINE) /* a rebooting CPE only wakes to finish booting */
        due = c->x ? c->x->t_reboot : 0;
    return due;
}


static void heap_swap(fleet_t *f, uint32_t a, uint32_t b)
{
    uint32_t ia = f->heap[a], ib = f->heap[b];
    int64_t ka = f->heap_key[a];
    f->heap[a] = ib;
    f->heap_key[a] = f->heap_key[b];
    f->heap[b] = ia;
    f->heap_key[b] = ka;
    f->cpes[ib].heap_pos = a;
    f->cpes[ia].heap_pos = b;
}

static void sift_up(fleet_t *f, uint32_t i)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (f->heap_key[p] <= f->heap_key[i])
            break;
        heap_swap(f, i, p);
        i = p;
    }
}

static void sift_down(fleet_t *f, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < f->heap_n && f->heap_key[l] < f->heap_key[m])
            m = l;
        if (r < f->heap_n && f->heap_key[r] < f->heap_key[m])
            m = r;
        if (m == i)
            return;
        heap_swap(f, i, m);
        i = m;
    }
}

static void heap_remove(fleet_t *f, cpe_t *c)
{
    uint32_t i = c->heap_pos;
    if (i == HEAP_NONE)
        return;
    c->heap_pos = HEAP_NONE;
    uint32_t last = --f->heap_n;
    if (i == last)
        return;
    f->heap[i] = f->heap[last];
    f->heap_key[i] = f->heap_key[last];
    f->cpes[f->heap[i]].heap_pos = i;
    sift_down(f, i);
    sift_up(f, i);
}

static void arm_timer(fleet_t *f);

void fleet_reschedule(fleet_t *f, cpe_t *c)
{
    int64_t due = due_of(c);
    if (!due) {
        heap_remove(f, c);
    } else if (c->heap_pos == HEAP_NONE) {
        uint32_t i = f->heap_n++;
        f->heap[i] = fleet_index(f, c);
        f->heap_key[i] = due;
        c->heap_pos = i;
        sift_up(f, i);
    } else {
        uint32_t i = c->heap_pos;
        int64_t old = f->heap_key[i];
        f->heap_key[i] = due;
        if (due < old)
            sift_up(f, i);
        else
            sift_down(f, i);
    }
    if (f->heap_n && (!f->timer_due || f->heap_key[0] < f->timer_due))
        arm_timer(f);
}

/* ---- periodic Informs, retries, value changes --------------------------------- */

static int64_t dm_uint(fleet_t *f, cpe_t *c, dm_wk_t wk, int64_t def)
{
    if (!c->dm) /* untouched CPEs use the fleet's defaults without a lookup */
        return def;
    fleet_env_t e;
    dm_view_t v = fleet_view(f, c, &e);
    char tmp[32];
    buf_t b = BUF_INIT(sizeof tmp);
    int64_t out = def;
    if (dm_wk_get(&v, wk, &b) == 0 && b.data) {
        if (strcmp(b.data, "true") == 0)
            out = 1;
        else if (strcmp(b.data, "false") == 0)
            out = 0;
        else if (str_to_i64(b.data, INT64_MIN, INT64_MAX, &out) != 0)
            out = def;
    }
    buf_free(&b);
    return out;
}

static int64_t jittered(fleet_t *f, int64_t ms)
{
    double j = f->o->jitter;
    double k = 1.0 + j * (2.0 * fleet_random(f) - 1.0);
    int64_t v = (int64_t)((double)ms * k);
    return v > 0 ? v : 1;
}

void fleet_periodic_reset(fleet_t *f, cpe_t *c)
{
    int64_t enabled = dm_uint(f, c, DM_WK_PERIODIC_ENABLE, 1);
    int64_t secs = dm_uint(f, c, DM_WK_PERIODIC_INTERVAL, -1);
    int64_t ms = secs > 0 && secs != f->periodic_s ? secs * 1000 : f->interval_ms;
    c->t_periodic = enabled && ms > 0 ? fleet_now(f) + jittered(f, ms) : 0;
    fleet_reschedule(f, c);
}

/* TR-069 3.2.1.1: wait between m·k^(n-1) and m·k^n seconds after the n-th
 * failure (n capped at 10), m and k from the CPE's own ManagementServer
 * (--retry-min overrides m, for tests). */
static int64_t retry_delay(fleet_t *f, cpe_t *c)
{
    double m = f->o->retry_min_ms > 0 ? (double)f->o->retry_min_ms
                                       : 1000.0 * (double)dm_uint(f, c, DM_WK_RETRY_MIN, 5);
    double k = (double)dm_uint(f, c, DM_WK_RETRY_MULT, 2000) / 1000.0;
    if (m < 1)
        m = 1;
    if (k < 1)
        k = 1;
    unsigned n = c->retries > 10 ? 10 : c->retries ? c->retries : 1;
    double lo = m * pow(k, n - 1), hi = m * pow(k, n);
    return (int64_t)(lo + (hi - lo) * fleet_random(f));
}

/* A new value for a parameter that changes by itself. */
static void drift_value(fleet_t *f, dm_type_t t, const char *name, const char *cur, char *out, size_t len)
{
    if (t == DM_BOOL) {
        snprintf(out, len, "%s", strcmp(cur, "true") == 0 || strcmp(cur, "1") == 0 ? "false" : "true");
    } else if (t == DM_UINT || t == DM_ULONG || t == DM_INT || t == DM_LONG) {
        long long v = atoll(cur);
        v = v >= 0 && v < 13 ? v % 13 + 1 : (v % 2 ? v - 4 : v + 4); /* 2.4 GHz channels wrap at 13 */
        snprintf(out, len, "%lld", v);
    } else if (str_ends_with(name, "IPAddress")) {
        uint32_t r = (uint32_t)(fleet_random(f) * 4194303.0);
        snprintf(out, len, "100.%u.%u.%u", 64 + (r >> 16), (r >> 8) & 0xff, (r & 0xfe) | 1);
    } else {
        snprintf(out, len, "%.40s+", cur);
    }
}

typedef struct one_value {
    char v[128];
} one_value_t;

static int take_value(void *ud, const dm_item_t *it)
{
    snprintf(((one_value_t *)ud)->v, sizeof((one_value_t *)ud)->v, "%s", it->value ? it->value : "");
    return 0;
}

static void drift(fleet_t *f, cpe_t *c)
{
    dm_type_t t;
    const char *name = dm_volatile_param(f->model, (size_t)(fleet_random(f) * 1e9), &t);
    c->t_drift = fleet_now(f) + jittered(f, f->o->value_change_ms);
    if (!name)
        return;
    fleet_env_t e;
    dm_view_t v = fleet_view(f, c, &e);
    one_value_t cur = { "" };
    char next[128];
    if (dm_get_values(&v, name, take_value, &cur) != 0)
        return; /* deleted by the ACS */
    drift_value(f, t, name, cur.v, next, sizeof next);
    int n = dm_set_internal(&v, name, next);
    if (n < 0)
        return;
    f->st.value_changes++;
    f->state_dirty = true;
    log_debug("value_change", LF_U("cpe", fleet_index(f, c)), LF_S("param", name), LF_S("value", next),
              LF_I("notification", n));
    if (n == 2)
        fleet_trigger(f, c, EV_VALUE_CHANGE);
    else if (n == 1)
        c->events |= EV_VALUE_CHANGE;
}

/* ---- sessions ------------------------------------------------------------------- */

static void waitq_push(fleet_t *f, cpe_t *c)
{
    if (c->flags & CPE_WAITING)
        return;
    c->flags |= CPE_WAITING;
    f->waitq[(f->wq_head + f->wq_n++) % f->count] = fleet_index(f, c);
}

static void begin_session(fleet_t *f, cpe_t *c)
{
    if (c->sess) {
        c->flags |= CPE_AGAIN;
        return;
    }
    if ((c->flags & CPE_OFFLINE) || f->stopping || !c->events)
        return; /* an Inform needs at least one event */
    if (f->active >= (uint32_t)f->o->max_sessions) {
        waitq_push(f, c);
        return;
    }
    c->t_session = 0;
    f->active++;
    f->st.sessions_started++;
    if (session_start(f, c) != 0) {
        /* nothing went out: count it as a failed session and retry later */
        fleet_log_fail(f, c, STATS_FAIL_CONNECT, "cannot start a session", 0);
        fleet_session_done(f, c, false);
    }
}

void fleet_trigger(fleet_t *f, cpe_t *c, uint16_t events)
{
    c->events |= events;
    if (c->sess) {
        c->flags |= CPE_AGAIN;
        return;
    }
    begin_session(f, c);
    fleet_reschedule(f, c);
}

void fleet_session_done(fleet_t *f, cpe_t *c, bool ok)
{
    f->active--;
    f->st.last_ok = ok;
    int64_t now = fleet_now(f);
    if (ok) {
        f->st.sessions_completed++;
        c->retries = 0;
        if (c->flags & CPE_AGAIN)
            c->t_session = now;
    } else {
        f->st.sessions_failed++;
        if (c->retries < 255)
            c->retries++;
        /* retry what is undelivered; a session that failed after its events
         * were acknowledged has nothing left to say (the ACS calls again) */
        if (c->events)
            c->t_session = now + retry_delay(f, c);
    }
    c->flags &= (uint8_t)~CPE_AGAIN;
    fleet_reschedule(f, c);
    /* hand the freed slot to whoever waited longest */
    while (f->wq_n && f->active < (uint32_t)f->o->max_sessions && !f->stopping) {
        cpe_t *w = &f->cpes[f->waitq[f->wq_head]];
        f->wq_head = (f->wq_head + 1) % f->count;
        f->wq_n--;
        w->flags &= (uint8_t)~CPE_WAITING;
        begin_session(f, w);
        fleet_reschedule(f, w);
    }
}

void fleet_log_fail(fleet_t *f, const cpe_t *c, stats_fail_t why, const char *reason, int status)
{
    f->st.fail[why]++;
    /* The budget renews with each stats line; with --stats-interval 0 there
     * are none, so it renews every 10 s: a long outage must stay visible. */
    int64_t now = fleet_now(f);
    if (f->o->stats_interval_ms <= 0 && now - f->fail_window_ms >= FAIL_LOG_WINDOW_MS) {
        if (f->fail_suppressed)
            log_warn("session_failures_not_logged", LF_U("count", f->fail_suppressed));
        f->fail_logged = f->fail_suppressed = 0;
        f->fail_window_ms = now;
    }
    if (f->fail_logged >= FAIL_LOG_PER_INTERVAL && !log_enabled(LOG_DEBUG)) {
        f->fail_suppressed++;
        return;
    }
    f->fail_logged++;
    char serial[96];
    fleet_serial(f, c, serial, sizeof serial);
    log_warn("session_failed", LF_S("cpe", serial), LF_S("why", stats_fail_name(why)),
             LF_S("reason", reason), LF_I("status", status), LF_U("retry", c->retries + 1u));
}

/* ---- waking up --------------------------------------------------------------------- */

static void finish_reboot(fleet_t *f, cpe_t *c, int64_t now)
{
    cpe_x_t *x = c->x;
    x->t_reboot = 0;
    c->flags &= (uint8_t)~CPE_OFFLINE;
    c->boot_s = (uint32_t)((now - f->t0_ms) / 1000);
    if (x->factory_reset) {
        x->factory_reset = false;
        dm_inst_free(c->dm);
        c->dm = NULL;
        c->flags &= (uint8_t)~CPE_BOOTSTRAPPED;
        c->events = (uint16_t)((c->events & EV_UNTIL_TC) | EV_BOOTSTRAP | EV_BOOT);
        free(x->ck_reboot);
        x->ck_reboot = NULL;
        free(x->ck_sched); /* a scheduled Inform does not survive either */
        x->ck_sched = NULL;
        x->t_sched = 0;
    } else {
        /* "M Reboot" only when the ACS asked for it (a new firmware boots too) */
        c->events |= EV_BOOT | (x->ck_reboot ? EV_M_REBOOT : 0);
    }
    f->state_dirty = true;
    fleet_periodic_reset(f, c);
    c->t_session = now;
    fleet_x_release(c);
}

void fleet_reboot(fleet_t *f, cpe_t *c, bool factory)
{
    cpe_x_t *x = fleet_x(c);
    if (!x)
        return;
    x->factory_reset = factory;
    x->t_reboot = fleet_now(f) + (f->o->reboot_ms > 0 ? f->o->reboot_ms : 1);
    c->flags |= CPE_OFFLINE;
    if (factory) {
        f->st.factory_resets++;
        if (x->xfer) { /* queued transfers do not survive a factory reset */
            transfer_free(x->xfer);
            x->xfer = NULL;
        }
    } else {
        f->st.reboots++;
    }
    char serial[96];
    fleet_serial(f, c, serial, sizeof serial);
    log_info(factory ? "factory_reset" : "reboot", LF_S("cpe", serial), LF_I("ms", f->o->reboot_ms));
    fleet_reschedule(f, c);
}

static void wake(fleet_t *f, cpe_t *c, int64_t now)
{
    bool need = false;
    /* c->x is re-read after each step: finishing a reboot or a transfer may free it */
    if (c->x && c->x->t_reboot && now >= c->x->t_reboot)
        finish_reboot(f, c, now);
    if (c->flags & CPE_OFFLINE) {
        fleet_reschedule(f, c);
        return;
    }
    if (c->t_periodic && now >= c->t_periodic) {
        c->events |= EV_PERIODIC;
        int64_t enabled = dm_uint(f, c, DM_WK_PERIODIC_ENABLE, 1);
        int64_t secs = dm_uint(f, c, DM_WK_PERIODIC_INTERVAL, -1);
        int64_t ms = secs > 0 && secs != f->periodic_s ? secs * 1000 : f->interval_ms;
        c->t_periodic = enabled && ms > 0 ? now + jittered(f, ms) : 0;
        need = true;
    }
    if (c->x && c->x->t_sched && now >= c->x->t_sched) {
        c->x->t_sched = 0;
        c->events |= EV_SCHEDULED | EV_M_SCHEDULE;
        need = true;
    }
    if (c->x && c->x->xfer && c->x->t_xfer && now >= c->x->t_xfer) {
        c->x->t_xfer = 0;
        transfer_run(f, c);
    }
    if (c->t_drift && now >= c->t_drift)
        drift(f, c);
    if (c->t_session && now >= c->t_session) {
        c->t_session = 0;
        need = true;
    }
    if (need) {
        if (c->sess)
            c->flags |= CPE_AGAIN;
        else
            begin_session(f, c);
    }
    fleet_reschedule(f, c);
}

static void on_timer(uv_timer_t *t)
{
    fleet_t *f = t->data;
    f->timer_due = 0;
    int64_t now = fleet_now(f);
    for (int n = 0; n < WAKE_BATCH && f->heap_n && f->heap_key[0] <= now && !f->stopping; n++) {
        cpe_t *c = &f->cpes[f->heap[0]];
        heap_remove(f, c);
        wake(f, c, now);
    }
    if (f->heap_n && !f->stopping)
        arm_timer(f);
}

static void arm_timer(fleet_t *f)
{
    if (f->stopping || !f->heap_n)
        return;
    int64_t now = fleet_now(f), due = f->heap_key[0];
    f->timer_due = due;
    uv_timer_start(&f->timer, on_timer, (uint64_t)(due > now ? due - now : 0), 0);
}

/* ---- statistics --------------------------------------------------------------------- */

static const char *const *rpc_names(void)
{
    static const char *names[STATS_RPC_KINDS];
    for (int i = 0; i < CWMP_TYPE_COUNT && i < STATS_RPC_KINDS; i++)
        names[i] = cwmp_type_name((cwmp_type_t)i);
    return names;
}

int fleet_metrics(fleet_t *f, buf_t *out)
{
    int rc = stats_prometheus(&f->st, rpc_names(), STATS_RPC_KINDS, f->count, f->active, out);
    if (!rc)
        rc = stun_metrics(f, out);
    if (!rc && f->xmpp)
        rc = buf_printf(out, "# HELP outpost_cpesim_xmpp_online CPEs logged in to the XMPP server.\n"
                             "# TYPE outpost_cpesim_xmpp_online gauge\noutpost_cpesim_xmpp_online %u\n",
                        cr_xmpp_online(f));
    return rc;
}

void fleet_stats_print(fleet_t *f, bool final)
{
    int64_t now = fleet_now(f);
    double elapsed = (double)(now - f->t0_ms) / 1000.0;
    double since = (double)(now - f->t_last_stats) / 1000.0;
    double recent = since > 0 ? (double)(f->st.sessions_completed - f->completed_last) / since : 0;
    f->t_last_stats = now;
    f->completed_last = f->st.sessions_completed;
    buf_t out = BUF_INIT(16384);
    if (f->o->json) {
        if (stats_json(&f->st, elapsed, recent, rpc_names(), STATS_RPC_KINDS, f->count, f->active, &out) == 0) {
            fprintf(stdout, "%s%s%s\n", final ? "{\"final\":true,\"stats\":" : "{\"stats\":", out.data,
                    "}");
            fflush(stdout);
        }
    } else if (stats_text(&f->st, elapsed, recent, rpc_names(), STATS_RPC_KINDS, f->count, f->active,
                          &out) == 0) {
        log_info(final ? "summary" : "stats", LF_S("cpesim", out.data));
    }
    if (f->fail_suppressed)
        log_warn("session_failures_not_logged", LF_U("count", f->fail_suppressed));
    f->fail_logged = f->fail_suppressed = 0;
    buf_free(&out);
}

static void on_stats(uv_timer_t *t) { fleet_stats_print(t->data, false); }

static void on_stop_timer(uv_timer_t *t)
{
    fleet_t *f = t->data;
    log_info("duration_reached", LF_I("ms", f->o->duration_ms));
    if (f->request_stop)
        f->request_stop(f->stop_ud);
}

static void on_save_timer(uv_timer_t *t)
{
    fleet_t *f = t->data;
    if (f->state_dirty && f->o->state_dir)
        state_save(f, f->o->state_dir);
}

/* ---- life cycle ----------------------------------------------------------------------- */

int fleet_parse_rate(const char *s, double *rate)
{
    if (!s || !*s) {
        *rate = 0;
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0) || (*end && strcmp(end, "/s") != 0)) /* !(>=): NaN too */
        return -EINVAL;
    *rate = v;
    return 0;
}

int fleet_init(fleet_t *f, uv_loop_t *loop, const cpesim_opts_t *o, dm_model_t *model)
{
    memset(f, 0, sizeof *f);
    f->loop = loop;
    f->o = o;
    f->model = model;
    f->count = (uint32_t)o->count;
    if (fleet_parse_rate(o->rate, &f->rate) != 0) {
        log_error("bad_option", LF_S("option", "rate"), LF_S("value", o->rate),
                  LF_S("reason", "expected N or N/s"));
        return -EINVAL;
    }
    unsigned width = 1;
    for (uint32_t n = f->count; n >= 10; n /= 10)
        width++;
    f->serial_width = width < 6 ? 6 : width;
    f->interval_ms = o->inform_interval_ms;
    f->periodic_s = (uint32_t)((o->inform_interval_ms + 999) / 1000);
    if (f->periodic_s == 0)
        f->periodic_s = 1;
    f->ns = CWMP_NS_1_0;
    if (o->cwmp_version && strcmp(o->cwmp_version, "1.1") == 0)
        f->ns = CWMP_NS_1_1;
    else if (o->cwmp_version && strcmp(o->cwmp_version, "1.2") == 0)
        f->ns = CWMP_NS_1_2;
    if (o->seed)
        f->rng = (uint64_t)o->seed;
    else if (str_random(&f->rng, sizeof f->rng) != 0)
        f->rng = (uint64_t)clock_mono_us();
    f->rng |= 1;
    f->cpes = calloc(f->count, sizeof *f->cpes);
    f->heap = malloc(sizeof *f->heap * f->count);
    f->heap_key = malloc(sizeof *f->heap_key * f->count);
    f->waitq = malloc(sizeof *f->waitq * f->count);
    f->scratch = BUF_INIT(64 * 1024 * 1024);
    f->dec = cwmp_decoder_new(&(cwmp_decode_opts_t){ .max_body = o->max_response });
    if (!f->cpes || !f->heap || !f->heap_key || !f->waitq || !f->dec)
        return -ENOMEM;
    f->t0_ms = fleet_now(f);
    f->t_last_stats = f->t0_ms;
    f->t0_real_s = clock_real_s();
    for (uint32_t i = 0; i < f->count; i++) {
        cpe_t *c = &f->cpes[i];
        c->heap_pos = HEAP_NONE;
        c->events = EV_BOOTSTRAP | EV_BOOT;
        /* start-up pacing: the i-th CPE boots i/rate seconds in */
        c->t_session = f->t0_ms + (f->rate > 0 ? (int64_t)((double)i * 1000.0 / f->rate) : 0);
    }
    uv_timer_init(loop, &f->timer);
    uv_timer_init(loop, &f->stats_timer);
    uv_timer_init(loop, &f->stop_timer);
    uv_timer_init(loop, &f->save_timer);
    f->timer.data = f->stats_timer.data = f->stop_timer.data = f->save_timer.data = f;
    return 0;
}

void fleet_start(fleet_t *f)
{
    int64_t vc = f->o->value_change_ms;
    for (uint32_t i = 0; i < f->count; i++) {
        cpe_t *c = &f->cpes[i];
        if (c->flags & CPE_BOOTSTRAPPED)
            c->events = (uint16_t)((c->events & ~EV_BOOTSTRAP) | EV_BOOT);
        if (vc > 0)
            c->t_drift = c->t_session + (int64_t)(fleet_random(f) * 2.0 * (double)vc) + 1;
        /* the first periodic Inform comes one interval after boot */
        int64_t enabled = dm_uint(f, c, DM_WK_PERIODIC_ENABLE, 1);
        int64_t secs = dm_uint(f, c, DM_WK_PERIODIC_INTERVAL, -1);
        int64_t ms = secs > 0 && secs != f->periodic_s ? secs * 1000 : f->interval_ms;
        c->t_periodic = enabled && ms > 0 ? c->t_session + jittered(f, ms) : 0;
        fleet_reschedule(f, c);
    }
    if (f->o->stats_interval_ms > 0)
        uv_timer_start(&f->stats_timer, on_stats, (uint64_t)f->o->stats_interval_ms,
                       (uint64_t)f->o->stats_interval_ms);
    if (f->o->duration_ms > 0)
        uv_timer_start(&f->stop_timer, on_stop_timer, (uint64_t)f->o->duration_ms, 0);
    if (f->o->state_dir)
        uv_timer_start(&f->save_timer, on_save_timer, 60000, 60000);
}

static void close_quiet(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void fleet_stop(fleet_t *f)
{
    if (f->stopping)
        return;
    f->stopping = true;
    close_quiet((uv_handle_t *)&f->timer);
    close_quiet((uv_handle_t *)&f->stats_timer);
    close_quiet((uv_handle_t *)&f->stop_timer);
    close_quiet((uv_handle_t *)&f->save_timer);
    cr_stop(f);
    stun_stop(f);
    cr_xmpp_stop(f);
    transfer_abort_all(f);
    for (uint32_t i = 0; i < f->count; i++)
        if (f->cpes[i].sess) {
            session_abort(f->cpes[i].sess);
            f->cpes[i].sess = NULL;
            f->active--;
        }
}

void fleet_free(fleet_t *f)
{
    for (uint32_t i = 0; f->cpes && i < f->count; i++) {
        cpe_t *c = &f->cpes[i];
        dm_inst_free(c->dm);
        if (c->x) {
            free(c->x->ck_reboot);
            free(c->x->ck_sched);
            free(c->x->tc.command_key);
            free(c->x->tc.fault_string);
            transfer_free(c->x->xfer);
            free(c->x);
        }
    }
    cr_xmpp_free(f);
    free(f->cpes);
    free(f->heap);
    free(f->heap_key);
    free(f->waitq);
    http_auth_free(f->cr_auth);
    f->cr_auth = NULL;
    buf_free(&f->scratch);
    cwmp_decoder_free(f->dec);
    f->cpes = NULL;
}
