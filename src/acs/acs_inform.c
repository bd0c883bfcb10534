/*
 * acs_inform: the CPE's own requests that need the store: the Inform that
 * opens a session (the device row, its parameters, its events) and
 * TransferComplete / AutonomousTransferComplete. The session's work
 * (acs_work.h) begins at the Inform and takes note of both in the same
 * store job (the tasks they confirm or finish). The rest of the CWMP
 * endpoint is in acs_cwmp.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_session.h"
#include "acs/acs_tasks.h"
#include "acs/acs_webhook.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/* ---- the Inform ---------------------------------------------------------------------- */

typedef struct inform_job {
    acs_session_t *s;
    store_device_t dev;
    bool bootstrap;
    store_param_t *params;
    size_t nparams;
    char *strings;
    struct acs_hooks *hooks;  /* webhooks to tell (acs_webhook.h), NULL: none */
    int hooks_queued;
    int64_t check_online;     /* > 0: was the device offline (or new)? (the default interval) */
    bool came_online;
    acs_t *a;
} inform_job_t;

/* The session's part of the Inform's store job (the work's follows). */
static int inform_run(store_t *st, void *ud)
{
    inform_job_t *j = ud;
    int64_t now = j->dev.last_inform;
    bool fresh = j->hooks && acs_webhook_inform_fresh(j->hooks, st, j->dev.id);
    if (j->check_online) { /* the live "online" event (acs_events.h) */
        store_device_t *old = malloc(sizeof *old);
        int grc = old ? store_device_get(st, j->dev.id, old) : -ENOMEM;
        j->came_online = grc == -ENOENT || (grc == 0 && !store_device_online(old, now, j->check_online));
        free(old);
    }
    int rc = store_device_inform(st, &j->dev, j->bootstrap);
    if (rc < 0)
        return rc;
    if (j->nparams && (rc = store_params_put(st, j->dev.id, j->params, j->nparams, now)) < 0)
        return rc;
    store_device_facts_t facts; /* a changed UDP address, JID... (4 VALUE CHANGE) */
    if (j->nparams && acs_params_facts(j->params, j->nparams, now, &facts) &&
        (facts.nat >= 0 || facts.has_udp || facts.has_jid) &&
        (rc = store_device_set_facts(st, j->dev.id, &facts)) < 0)
        return rc;
    /* device.registered / device.boot, committed with the Inform */
    if (j->hooks && (rc = acs_webhook_inform(j->hooks, st, &j->dev, fresh)) < 0)
        return rc;
    j->hooks_queued = j->hooks ? rc : 0;
    return 0;
}

static void inform_free(inform_job_t *j)
{
    free(j->params);
    free(j->strings);
    free(j);
}

static void inform_done(int rc, void *ud)
{
    inform_job_t *j = ud;
    acs_session_t *s = j->s;
    http_req_t *req = s->req;
    s->req = NULL;
    if (rc >= 0 && j->hooks_queued > 0)
        acs_webhook_kick(s->a);
    if (rc >= 0)
        acs_events_inform(j->a, j->dev.id, j->dev.last_events, j->came_online);
    if (!s->ended && req) {
        acs_session_touch(s);
        if (rc < 0) {
            acs_cwmp_store_error(req, rc); /* nothing of the Inform stored: the CPE retries */
            acs_session_end(s, "store error");
        } else {
            cwmp_msg_t m = { .type = CWMP_INFORM_RESPONSE, .ns = s->ns, .max_envelopes = 1,
                             .id = s->req_id[0] ? s->req_id : NULL };
            acs_respond_xml(s, req, &m);
        }
    }
    acs_session_unref(s);
    inform_free(j);
}

static const char *find_param(const cwmp_msg_t *m, const char *suffix)
{
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < m->n_params; i++) {
        size_t nl = strlen(m->params[i].name);
        if (nl >= sl && strcmp(m->params[i].name + nl - sl, suffix) == 0)
            return m->params[i].value;
    }
    return NULL;
}

int acs_inform_device_id(const cwmp_msg_t *m, char *id, size_t idlen)
{
    if (!m->device.oui || !m->device.serial_number ||
        store_device_id(m->device.oui, m->device.product_class, m->device.serial_number, id,
                        idlen) != 0)
        return -EINVAL;
    return 0;
}

void acs_on_inform(acs_t *a, acs_session_t *s, http_req_t *req, const cwmp_msg_t *m)
{
    inform_job_t *j = calloc(1, sizeof *j);
    if (!j || acs_copy_params(m, true, &j->params, &j->strings, &j->nparams) != 0) {
        free(j);
        http_respond_error(req, 503, "out of memory");
        acs_session_end(s, "error");
        return;
    }
    store_device_t *d = &j->dev;
    if (acs_inform_device_id(m, d->id, sizeof d->id) != 0) {
        inform_free(j);
        a->n.bad_requests++;
        acs_respond_fault(s, req, s->ns, m->id, CWMP_FAULT_INVALID_ARGUMENTS, "bad DeviceId");
        acs_session_end(s, "bad inform");
        return;
    }
    acs_utf8_copy(d->manufacturer, sizeof d->manufacturer, m->device.manufacturer ? m->device.manufacturer : "");
    acs_utf8_copy(d->oui, sizeof d->oui, m->device.oui);
    acs_utf8_copy(d->product_class, sizeof d->product_class, m->device.product_class ? m->device.product_class : "");
    acs_utf8_copy(d->serial, sizeof d->serial, m->device.serial_number);
    const char *v;
    if ((v = find_param(m, ".DeviceInfo.SoftwareVersion")))
        acs_utf8_copy(d->software_version, sizeof d->software_version, v);
    if ((v = find_param(m, ".DeviceInfo.HardwareVersion")))
        acs_utf8_copy(d->hardware_version, sizeof d->hardware_version, v);
    /* A cut URL would wake nobody: one too long is not stored (and said once). */
    if ((v = find_param(m, ".ManagementServer.ConnectionRequestURL")) &&
        str_copy(d->cr_url, sizeof d->cr_url, v) != 0) {
        d->cr_url[0] = '\0';
        log_warn("cwmp_inform_bad_cr_url", LF_S("peer", http_req_peer(req)),
                 LF_S("reason", "ConnectionRequestURL too long"), LF_U("max", sizeof d->cr_url - 1));
    }
    if ((v = find_param(m, ".ManagementServer.PeriodicInformInterval")))
        d->periodic_interval = strtoll(v, NULL, 10);
    /* behind outpost cwmp-proxy, the CPE's own address comes from the proxy */
    http_req_client_ip(req, a->trusted, a->ntrusted, d->ip, sizeof d->ip);
    str_copy(s->client_ip, sizeof s->client_ip, d->ip); /* who may continue it by connection */
    d->first_seen = d->last_inform = clock_real_s();

    /* A second Inform from a device with a live session: that one is over. */
    acs_session_t *old = acs_session_by_device(a, d->id);
    if (old && old != s)
        acs_session_end(old, "superseded");
    /* a device whose sessions are all logged, with --session-log none */
    if (!s->log.max && acs_session_logged(a, d->id))
        buf_init(&s->log, ACS_SESSION_LOG_HELD);
    if (acs_session_set_device(s, d->id) != 0 || !(s->work = acs_work_begin(a, d->id))) {
        inform_free(j);
        http_respond_error(req, 503, "out of memory");
        acs_session_end(s, "error");
        return;
    }

    size_t off = 0;
    for (size_t i = 0; i < m->n_events; i++) {
        const char *code = m->events[i].code;
        acs_metrics_event(a, code);
        if (strcmp(code, "0 BOOTSTRAP") == 0)
            j->bootstrap = true;
        else if (strcmp(code, "6 CONNECTION REQUEST") == 0)
            acs_cr_udp_informed(a, d->id); /* a UDP connection request worked */
        int n = snprintf(s->events + off, sizeof s->events - off, "%s%s", off ? "," : "", code);
        if (n > 0 && (size_t)n < sizeof s->events - off)
            off += (size_t)n;
        else
            s->events[off] = '\0'; /* whole codes only: no cut one (or cut character) */
    }
    acs_utf8_copy(d->last_events, sizeof d->last_events, s->events);
    if (acs_webhook_wants(a->hooks, ACS_HOOK_DEVICE_REGISTERED) ||
        acs_webhook_wants(a->hooks, ACS_HOOK_DEVICE_BOOT))
        j->hooks = a->hooks;
    j->a = a;
    if (acs_events_wanted(a, ACS_EV_DEVICE))
        j->check_online = a->default_interval_s > 0 ? a->default_interval_s : 1;
    a->n.informs++;
    log_info("cwmp_inform", LF_S("device", d->id), LF_S("events", s->events),
             LF_S("peer", http_req_peer(req)), LF_S("ns", cwmp_ns_uri(s->ns)));
    j->s = s;
    s->req = req;
    s->refs++;
    int rc = acs_work_event(s->work, m, inform_run, inform_done, j);
    if (rc != 0) {
        s->refs--;
        s->req = NULL;
        inform_free(j);
        http_respond_error(req, 503, rc == -ENOMEM ? "out of memory" : "store busy");
        acs_session_end(s, rc == -ENOMEM ? "error" : "store busy");
    }
}

/* ---- TransferComplete ------------------------------------------------------------------ */

typedef struct tc_job {
    acs_session_t *s;
    cwmp_type_t answer;
} tc_job_t;

static void tc_done(int rc, void *ud)
{
    tc_job_t *j = ud;
    acs_session_t *s = j->s;
    http_req_t *req = s->req;
    s->req = NULL;
    (void)rc; /* answered either way, as before: the CPE would send it again forever */
    if (!s->ended && req) {
        cwmp_msg_t m = { .type = j->answer, .ns = s->ns, .id = s->req_id[0] ? s->req_id : NULL };
        acs_respond_xml(s, req, &m);
    }
    acs_session_unref(s);
    free(j);
}

void acs_on_transfer_complete(acs_session_t *s, http_req_t *req, const cwmp_msg_t *m)
{
    tc_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    j->s = s;
    j->answer = cwmp_response_type(m->type);
    log_info("cwmp_transfer_complete", LF_S("device", s->device_id),
             LF_S("command_key", m->command_key ? m->command_key : ""),
             LF_I("fault", m->fault_code), LF_B("autonomous", m->type != CWMP_TRANSFER_COMPLETE));
    s->req = req;
    s->refs++;
    /* The work finishes the task it names in this job (acs_work_tasks.c). */
    int rc = s->work ? acs_work_event(s->work, m, NULL, tc_done, j) : -ENOENT;
    if (rc != 0) {
        s->req = NULL;
        s->refs--;
        free(j);
        http_respond_error(req, 503, rc == -ENOMEM ? "out of memory" : "store busy");
    }
}
