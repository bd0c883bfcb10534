/*
 * rpc: the CPE side of every CWMP message: the Inform and the CPE's own
 * requests, and the answer to each ACS request, computed on the CPE's data
 * model and encoded with the shared codec. What an RPC asks to happen after
 * the session (reboot, factory reset, transfers, a new schedule) is returned
 * as ACT_* flags and carried out by rpc_after_session().
 */
#include "cpesim/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { PLIST_MAX = 200000 };

/* ---- parameter lists ---------------------------------------------------------- */

typedef struct pitem {
    size_t name, value; /* offsets into text */
    dm_type_t type;
    int writable;
    int notify;
    bool subscriber;
} pitem_t;

typedef struct plist {
    buf_t text;
    pitem_t *items;
    size_t n, cap;
    cwmp_param_t *params; /* built by plist_params() */
} plist_t;

static void plist_init(plist_t *p)
{
    memset(p, 0, sizeof *p);
    p->text = BUF_INIT(256 * 1024 * 1024);
}

static void plist_free(plist_t *p)
{
    buf_free(&p->text);
    free(p->items);
    free(p->params);
}

static int plist_add(void *ud, const dm_item_t *it)
{
    plist_t *p = ud;
    if (p->n == p->cap) {
        if (p->cap >= PLIST_MAX)
            return -E2BIG;
        size_t ncap = p->cap ? p->cap * 2 : 64;
        pitem_t *ni = realloc(p->items, sizeof *ni * ncap);
        if (!ni)
            return -ENOMEM;
        p->items = ni;
        p->cap = ncap;
    }
    pitem_t *e = &p->items[p->n];
    e->name = p->text.len;
    int rc = buf_append(&p->text, it->name, strlen(it->name) + 1);
    e->value = p->text.len;
    if (!rc)
        rc = buf_append(&p->text, it->value ? it->value : "", (it->value ? strlen(it->value) : 0) + 1);
    if (rc)
        return rc;
    e->type = it->type;
    e->writable = it->writable;
    e->notify = it->notify;
    e->subscriber = it->access_subscriber;
    p->n++;
    return 0;
}

static const cwmp_param_t *plist_params(plist_t *p)
{
    p->params = calloc(p->n ? p->n : 1, sizeof *p->params);
    if (!p->params)
        return NULL;
    for (size_t i = 0; i < p->n; i++) {
        const pitem_t *e = &p->items[i];
        cwmp_param_t *c = &p->params[i];
        c->name = p->text.data + e->name;
        c->value = p->text.data + e->value;
        c->type = e->type == DM_OBJECT ? NULL : dm_type_name(e->type);
        c->writable = e->writable;
        c->notification = e->notify;
        c->access_list = e->subscriber ? "Subscriber" : "";
    }
    return p->params;
}

/* ---- building envelopes ------------------------------------------------------------ */

static unsigned long next_id;

static void set_id(cwmp_msg_t *m, char *buf, size_t len)
{
    snprintf(buf, len, "cpesim-%lu", ++next_id);
    m->id = buf;
}

static int encode(buf_t *out, const cwmp_msg_t *m, const char *what)
{
    int rc = cwmp_encode(out, m);
    if (rc)
        log_warn("encode_failed", LF_S("message", what), LF_ERR(rc));
    return rc;
}

static int fault(fleet_t *f, buf_t *out, const cwmp_msg_t *req, int code, const char *text,
                 const cwmp_spv_fault_t *spv, size_t n_spv)
{
    cwmp_msg_t m = { .type = CWMP_FAULT, .ns = req->ns, .id = req->id };
    m.fault.code = code;
    m.fault.string = text;
    m.fault.spv = spv;
    m.fault.n_spv = n_spv;
    f->st.faults_sent++;
    return encode(out, &m, "Fault");
}

static const char *const event_codes[EV_COUNT_BITS] = {
    "0 BOOTSTRAP", "1 BOOT", "2 PERIODIC", "3 SCHEDULED", "4 VALUE CHANGE", "6 CONNECTION REQUEST",
    "7 TRANSFER COMPLETE", "M Reboot", "M ScheduleInform", "M Download", "M Upload",
    "8 DIAGNOSTICS COMPLETE",
};

static int wk_string(const dm_view_t *v, dm_wk_t wk, char *out, size_t len)
{
    buf_t b = BUF_INIT(len - 1);
    int rc = dm_wk_get(v, wk, &b);
    str_copy(out, len, rc == 0 && b.data ? b.data : "");
    buf_free(&b);
    return rc;
}

int rpc_inform(fleet_t *f, cpe_t *c, buf_t *out)
{
    fleet_env_t env;
    dm_view_t v = fleet_view(f, c, &env);
    char manu[65], oui[8], pclass[65], serial[65], now[CLOCK_ISO_LEN], id[32];
    wk_string(&v, DM_WK_MANUFACTURER, manu, sizeof manu);
    wk_string(&v, DM_WK_OUI, oui, sizeof oui);
    wk_string(&v, DM_WK_PRODUCT_CLASS, pclass, sizeof pclass);
    wk_string(&v, DM_WK_SERIAL, serial, sizeof serial);
    for (char *p = oui; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    if (strlen(oui) != 6 || strspn(oui, "0123456789ABCDEF") != 6)
        str_copy(oui, sizeof oui, "000000"); /* the schema wants six hex digits */
    clock_iso8601(clock_real_s(), now);

    cwmp_event_t ev[EV_COUNT_BITS];
    size_t nev = 0;
    for (int b = 0; b < EV_COUNT_BITS; b++) {
        if (!(c->events & (1u << b)))
            continue;
        const char *ck = "";
        if ((1u << b) == EV_M_REBOOT && c->x && c->x->ck_reboot)
            ck = c->x->ck_reboot;
        else if ((1u << b) == EV_M_SCHEDULE && c->x && c->x->ck_sched)
            ck = c->x->ck_sched;
        else if (((1u << b) == EV_M_DOWNLOAD || (1u << b) == EV_M_UPLOAD) && c->x && c->x->tc.command_key)
            ck = c->x->tc.command_key;
        ev[nev++] = (cwmp_event_t){ event_codes[b], ck };
    }
    plist_t pl;
    plist_init(&pl);
    int rc = dm_inform_params(&v, plist_add, &pl);
    if (!rc)
        rc = cr_xmpp_inform_param(f, &v, plist_add, &pl);
    const cwmp_param_t *params = rc ? NULL : plist_params(&pl);
    cwmp_msg_t m = {
        .type = CWMP_INFORM,
        .ns = f->ns,
        .device = { manu, oui, pclass, serial },
        .events = ev,
        .n_events = nev,
        .max_envelopes = 1,
        .current_time = now,
        .retry_count = c->retries,
        .params = params,
        .n_params = params ? pl.n : 0,
    };
    set_id(&m, id, sizeof id);
    rc = rc ? rc : !params ? -ENOMEM : encode(out, &m, "Inform");
    plist_free(&pl);
    return rc;
}

/* TransferComplete's FaultCode is an enumeration in the CWMP schemas. 1.0
 * knows only 9001, 9002, 9010 (download failed), 9011 (upload failed) and
 * 9012; the specific causes (9014-9019: unreachable, file not found, broken
 * off, size mismatch...) came with 1.1, 9020 with 1.2. An older CPE reports
 * the generic code and keeps the cause in FaultString, or an ACS validating
 * against its schema would reject the whole message. */
static int tc_fault_code(cwmp_ns_t ns, int code, bool upload)
{
    bool ok = code == 0 || code == 9001 || code == 9002 || (code >= 9010 && code <= 9012);
    if (ns != CWMP_NS_1_0)
        ok = ok || (code >= 9014 && code <= (ns == CWMP_NS_1_1 ? 9019 : 9020)) ||
             (ns != CWMP_NS_1_1 && code >= 9800 && code <= 9899);
    return ok ? code : upload ? 9011 : 9010;
}

int rpc_transfer_complete(fleet_t *f, cpe_t *c, buf_t *out)
{
    const cpe_tc_t *tc = &c->x->tc;
    char start[CLOCK_ISO_LEN], done[CLOCK_ISO_LEN], id[32];
    clock_iso8601(tc->start_s, start);
    clock_iso8601(tc->complete_s, done);
    cwmp_msg_t m = {
        .type = CWMP_TRANSFER_COMPLETE,
        .ns = f->ns,
        .command_key = tc->command_key ? tc->command_key : "",
        .fault_code = tc_fault_code(f->ns, tc->fault_code, tc->is_upload),
        .fault_string = tc->fault_string ? tc->fault_string : "",
        .start_time = tc->start_s ? start : NULL,
        .complete_time = tc->complete_s ? done : NULL,
    };
    set_id(&m, id, sizeof id);
    return encode(out, &m, "TransferComplete");
}

static const char *const methods[] = {
    "GetRPCMethods", "SetParameterValues", "GetParameterValues", "GetParameterNames",
    "SetParameterAttributes", "GetParameterAttributes", "AddObject", "DeleteObject", "Reboot",
    "Download", "Upload", "FactoryReset", "ScheduleInform",
};

int rpc_get_rpc_methods(fleet_t *f, buf_t *out)
{
    char id[32];
    cwmp_msg_t m = { .type = CWMP_GET_RPC_METHODS, .ns = f->ns };
    set_id(&m, id, sizeof id);
    return encode(out, &m, "GetRPCMethods");
}

/* ---- answering the ACS --------------------------------------------------------------- */

static int respond(buf_t *out, const cwmp_msg_t *req, cwmp_msg_t *m)
{
    m->type = cwmp_response_type(req->type);
    m->ns = req->ns;
    m->id = req->id;
    return encode(out, m, cwmp_type_name(m->type));
}

static int do_names(fleet_t *f, const dm_view_t *v, const cwmp_msg_t *req, buf_t *out)
{
    plist_t pl;
    plist_init(&pl);
    int rc = dm_get_names(v, req->parameter_path ? req->parameter_path : "", req->next_level,
                          plist_add, &pl);
    if (rc > 0 || rc == -E2BIG) {
        plist_free(&pl);
        return fault(f, out, req, rc > 0 ? rc : DM_FAULT_RESOURCES, NULL, NULL, 0);
    }
    cwmp_msg_t m = { .params = rc ? NULL : plist_params(&pl), .n_params = pl.n };
    rc = rc ? rc : !m.params ? -ENOMEM : respond(out, req, &m);
    plist_free(&pl);
    return rc;
}

/* GetParameterValues / GetParameterAttributes: every name, or the first fault. */
static int do_get(fleet_t *f, const dm_view_t *v, const cwmp_msg_t *req, buf_t *out, bool attrs)
{
    plist_t pl;
    plist_init(&pl);
    int rc = 0;
    for (size_t i = 0; i < req->n_names && rc == 0; i++)
        rc = attrs ? dm_get_attrs(v, req->names[i], plist_add, &pl)
                   : dm_get_values(v, req->names[i], plist_add, &pl);
    if (rc > 0 || rc == -E2BIG) {
        plist_free(&pl);
        return fault(f, out, req, rc > 0 ? rc : DM_FAULT_RESOURCES, NULL, NULL, 0);
    }
    cwmp_msg_t m = { .params = rc ? NULL : plist_params(&pl), .n_params = pl.n };
    rc = rc ? rc : !m.params ? -ENOMEM : respond(out, req, &m);
    plist_free(&pl);
    return rc;
}

static int do_spv(fleet_t *f, const dm_view_t *v, const cwmp_msg_t *req, buf_t *out, unsigned *act)
{
    size_t n = req->n_params;
    dm_set_t *items = calloc(n ? n : 1, sizeof *items);
    int *faults = calloc(n ? n : 1, sizeof *faults);
    cwmp_spv_fault_t *spv = calloc(n ? n : 1, sizeof *spv);
    int rc = -ENOMEM;
    if (items && faults && spv) {
        for (size_t i = 0; i < n; i++)
            items[i] = (dm_set_t){ req->params[i].name, req->params[i].value, req->params[i].type };
        uint32_t mask = 0;
        int fc = dm_set_values(v, items, n, req->parameter_key, faults, &mask);
        if (fc == 0) {
            if (mask & ((1u << DM_WK_PERIODIC_ENABLE) | (1u << DM_WK_PERIODIC_INTERVAL)))
                *act |= ACT_PERIODIC;
            if (mask & (1u << DM_WK_ACS_URL))
                *act |= ACT_BOOTSTRAP;
            for (size_t i = 0; i < n; i++)
                if (str_ends_with(items[i].name, "Ping.DiagnosticsState") ||
                    str_ends_with(items[i].name, "PingDiagnostics.DiagnosticsState"))
                    *act |= strcmp(items[i].value, "Requested") == 0 ? ACT_DIAG : 0;
            f->state_dirty = true;
            cwmp_msg_t m = { .status = 0 };
            rc = respond(out, req, &m);
        } else {
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (faults[i])
                    spv[k++] = (cwmp_spv_fault_t){ items[i].name, faults[i], NULL };
            rc = fault(f, out, req, fc, NULL, spv, k);
        }
    }
    free(items);
    free(faults);
    free(spv);
    return rc;
}

static int do_spa(fleet_t *f, const dm_view_t *v, const cwmp_msg_t *req, buf_t *out)
{
    size_t n = req->n_params;
    dm_attr_set_t *items = calloc(n ? n : 1, sizeof *items);
    if (!items)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const cwmp_param_t *p = &req->params[i];
        items[i] = (dm_attr_set_t){
            .name = p->name,
            .notification_change = p->notification_change,
            .notification = p->notification,
            .access_list_change = p->access_list_change,
            .subscriber = p->access_list && strstr(p->access_list, "Subscriber") != NULL,
        };
    }
    int fc = dm_set_attrs(v, items, n, NULL);
    free(items);
    if (fc)
        return fault(f, out, req, fc > 0 ? fc : DM_FAULT_INTERNAL, NULL, NULL, 0);
    f->state_dirty = true;
    cwmp_msg_t m = { 0 };
    return respond(out, req, &m);
}

static bool transfer_type_ok(const char *t, bool upload)
{
    if (!t)
        return false;
    if (t[0] == 'X' && t[1] == ' ')
        return true;
    static const char *const down[] = { "1 Firmware Upgrade Image", "2 Web Content",
                                        "3 Vendor Configuration File", "4 Tone File", "5 Ringer File" };
    static const char *const up[] = { "1 Vendor Configuration File", "2 Vendor Log File" };
    const char *const *list = upload ? up : down;
    size_t n = upload ? 2 : 5;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t, list[i]) == 0)
            return true;
    /* 1.2+: "3 Vendor Configuration File <i>", "4 Vendor Log File <i>" for uploads */
    return upload && (str_starts_with(t, "3 Vendor Configuration File") || str_starts_with(t, "4 Vendor Log File"));
}

static int do_transfer(fleet_t *f, cpe_t *c, const cwmp_msg_t *req, buf_t *out, unsigned *act)
{
    bool upload = req->type == CWMP_UPLOAD;
    net_url_t u;
    if (!transfer_type_ok(req->file_type, upload))
        return fault(f, out, req, DM_FAULT_INVALID_ARGS, "unsupported FileType", NULL, 0);
    bool url_ok = req->url && net_url_parse(req->url, &u) == 0 &&
                  (strcmp(u.scheme, "http") == 0 || strcmp(u.scheme, "https") == 0);
    net_url_clear(&u); /* its password is not used */
    if (!url_ok)
        return fault(f, out, req, 9013, "only HTTP and HTTPS transfers", NULL, 0);
    cpe_x_t *x = fleet_x(c);
    if (!x)
        return fault(f, out, req, DM_FAULT_INTERNAL, NULL, NULL, 0);
    if (x->xfer || x->has_tc)
        return fault(f, out, req, DM_FAULT_RESOURCES, "a transfer is already queued", NULL, 0);
    x->xfer = transfer_new(req);
    if (!x->xfer)
        return fault(f, out, req, DM_FAULT_INTERNAL, NULL, NULL, 0);
    x->t_xfer = 0; /* armed when the session ends */
    *act |= ACT_TRANSFER;
    cwmp_msg_t m = { .status = 1 }; /* done later; TransferComplete follows */
    return respond(out, req, &m);
}

int rpc_handle(fleet_t *f, cpe_t *c, const cwmp_msg_t *req, buf_t *out, unsigned *act)
{
    fleet_env_t env;
    dm_view_t v = fleet_view(f, c, &env);
    *act = 0;
    if (f->o->fault_rate > 0 && fleet_random(f) < f->o->fault_rate)
        return fault(f, out, req, DM_FAULT_INTERNAL, "simulated failure (--fault-rate)", NULL, 0);
    cwmp_msg_t m = { 0 };
    uint32_t inst = 0;
    int fc;
    switch (req->type) {
    case CWMP_GET_RPC_METHODS:
        m.names = methods;
        m.n_names = sizeof methods / sizeof methods[0];
        return respond(out, req, &m);
    case CWMP_GET_PARAMETER_NAMES:
        return do_names(f, &v, req, out);
    case CWMP_GET_PARAMETER_VALUES:
        return do_get(f, &v, req, out, false);
    case CWMP_GET_PARAMETER_ATTRIBUTES:
        return do_get(f, &v, req, out, true);
    case CWMP_SET_PARAMETER_VALUES:
        return do_spv(f, &v, req, out, act);
    case CWMP_SET_PARAMETER_ATTRIBUTES:
        return do_spa(f, &v, req, out);
    case CWMP_ADD_OBJECT:
        fc = dm_add_object(&v, req->object_name ? req->object_name : "", req->parameter_key, &inst);
        if (fc)
            return fault(f, out, req, fc > 0 ? fc : DM_FAULT_INTERNAL, NULL, NULL, 0);
        f->state_dirty = true;
        m.instance_number = inst;
        return respond(out, req, &m);
    case CWMP_DELETE_OBJECT:
        fc = dm_delete_object(&v, req->object_name ? req->object_name : "", req->parameter_key);
        if (fc)
            return fault(f, out, req, fc > 0 ? fc : DM_FAULT_INTERNAL, NULL, NULL, 0);
        f->state_dirty = true;
        return respond(out, req, &m);
    case CWMP_REBOOT: {
        cpe_x_t *x = fleet_x(c);
        if (!x)
            return fault(f, out, req, DM_FAULT_INTERNAL, NULL, NULL, 0);
        free(x->ck_reboot);
        x->ck_reboot = strdup(req->command_key ? req->command_key : "");
        *act |= ACT_REBOOT;
        return respond(out, req, &m);
    }
    case CWMP_FACTORY_RESET:
        *act |= ACT_FACTORY_RESET;
        return respond(out, req, &m);
    case CWMP_DOWNLOAD:
    case CWMP_UPLOAD:
        return do_transfer(f, c, req, out, act);
    case CWMP_SCHEDULE_INFORM: {
        if (req->delay_seconds == 0)
            return fault(f, out, req, DM_FAULT_INVALID_ARGS, "DelaySeconds must be positive", NULL, 0);
        cpe_x_t *x = fleet_x(c);
        if (!x)
            return fault(f, out, req, DM_FAULT_INTERNAL, NULL, NULL, 0);
        free(x->ck_sched);
        x->ck_sched = strdup(req->command_key ? req->command_key : "");
        x->t_sched = fleet_now(f) + (int64_t)req->delay_seconds * 1000;
        *act |= ACT_SCHEDULE;
        return respond(out, req, &m);
    }
    default:
        return fault(f, out, req, 9000, NULL, NULL, 0);
    }
}

/* ---- after the session ------------------------------------------------------------- */

typedef struct diag_read {
    char host[257];
    uint64_t reps;
} diag_read_t;

static int diag_take(void *ud, const dm_item_t *it)
{
    diag_read_t *d = ud;
    if (str_ends_with(it->name, ".Host"))
        str_copy(d->host, sizeof d->host, it->value);
    else if (str_ends_with(it->name, ".NumberOfRepetitions"))
        str_to_u64n(it->value, strlen(it->value), 1000000, &d->reps);
    return 0;
}

/* The IP ping the ACS asked for: results in the model, then
 * "8 DIAGNOSTICS COMPLETE" (TR-069 3.7.1.5). Every probe answers. */
static void run_ping(fleet_t *f, cpe_t *c)
{
    static const char *const objs[] = { "Device.IP.Diagnostics.IPPing.",
                                        "InternetGatewayDevice.IPPingDiagnostics." };
    fleet_env_t env;
    dm_view_t v = fleet_view(f, c, &env);
    for (size_t k = 0; k < 2; k++) {
        diag_read_t d = { "", 0 };
        if (dm_get_values(&v, objs[k], diag_take, &d) != 0)
            continue;
        char name[DM_NAME_MAX + 1], num[24];
        struct { const char *p; const char *v; } out[] = {
            { "SuccessCount", NULL }, { "FailureCount", "0" }, { "AverageResponseTime", "12" },
            { "MinimumResponseTime", "8" }, { "MaximumResponseTime", "19" },
        };
        snprintf(num, sizeof num, "%llu", (unsigned long long)d.reps);
        out[0].v = num;
        bool ok = d.host[0] != '\0';
        for (size_t i = 0; ok && i < sizeof out / sizeof out[0]; i++) {
            snprintf(name, sizeof name, "%s%s", objs[k], out[i].p);
            dm_set_internal(&v, name, out[i].v);
        }
        snprintf(name, sizeof name, "%sDiagnosticsState", objs[k]);
        dm_set_internal(&v, name, ok ? "Complete" : "Error_CannotResolveHostName");
        fleet_trigger(f, c, EV_DIAG_COMPLETE);
        return;
    }
}

void rpc_after_session(fleet_t *f, cpe_t *c, unsigned act)
{
    if (act & ACT_FACTORY_RESET)
        fleet_reboot(f, c, true);
    else if (act & ACT_REBOOT)
        fleet_reboot(f, c, false);
    if ((act & ACT_TRANSFER) && c->x && c->x->xfer)
        c->x->t_xfer = fleet_now(f) + (int64_t)transfer_delay_ms(c->x->xfer);
    if (act & ACT_PERIODIC)
        fleet_periodic_reset(f, c);
    if ((act & ACT_DIAG) && !(c->flags & CPE_OFFLINE))
        run_ping(f, c);
    if ((act & ACT_BOOTSTRAP) && !(c->flags & CPE_OFFLINE)) {
        c->flags &= (uint8_t)~CPE_BOOTSTRAPPED;
        fleet_trigger(f, c, EV_BOOTSTRAP);
    }
    fleet_reschedule(f, c);
}
