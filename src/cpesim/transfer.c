/*
 * transfer: the file transfers an ACS orders with Download and Upload.
 *
 * Download: HTTP GET in 1 MiB Range requests while the server answers 206
 * (a server that ignores Range answers 200 with the whole file, which is
 * accepted up to the client's cap); a connection lost after a range came
 * through is resumed from the next byte, up to 3 times. Bytes are counted,
 * not kept. The size
 * is checked against the FileSize the ACS announced. Upload: a PUT of the
 * CPE's configuration (its writable parameters; or a log), POST when the
 * server refuses PUT. Both
 * answer a 401 once with Digest or Basic from the RPC's Username/Password
 * (once more after each range that came through: a nonce may go stale);
 * each request answers the Digest nonce with the next nonce count.
 *
 * The result becomes the CPE's pending TransferComplete (fault 9010-9018
 * on failure); a successful firmware image reboots the CPE first, as a
 * real one would, so its next Inform carries "1 BOOT" and
 * "7 TRANSFER COMPLETE" + "M Download".
 */
#include "cpesim/fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { CHUNK = 1024 * 1024 };
#define MAX_DOWNLOAD (4ull * 1024 * 1024 * 1024)

struct transfer {
    bool upload;
    char *url, *user, *pass, *command_key, *file_type;
    uint32_t file_size, delay_s;
    /* while running */
    fleet_t *f;
    cpe_t *c;
    http_call_t *call;
    buf_t authz;
    char *challenge;     /* the Digest challenge answered: each request counts its nonce up */
    uint32_t nc;
    bool auth_tried, ranged, no_range, post;
    uint8_t resumes;     /* broken ranged downloads picked up again */
    uint64_t got, total;
    int64_t start_s;
    buf_t body;          /* upload body */
    transfer_t *prev, *next; /* running transfers, for abort */
};

/* Times a broken ranged download is resumed before it fails with 9017. */
enum { TRANSFER_RESUMES = 3 };

static transfer_t *running;

static char *dup0(const char *s) { return strdup(s ? s : ""); }

transfer_t *transfer_new(const cwmp_msg_t *req)
{
    transfer_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->upload = req->type == CWMP_UPLOAD;
    t->url = dup0(req->url);
    t->user = dup0(req->username);
    t->pass = dup0(req->password);
    t->command_key = dup0(req->command_key);
    t->file_type = dup0(req->file_type);
    t->file_size = req->file_size;
    t->delay_s = req->delay_seconds;
    t->authz = BUF_INIT(HTTP_AUTH_HEADER_MAX);
    t->body = BUF_INIT(64 * 1024 * 1024);
    if (!t->url || !t->user || !t->pass || !t->command_key || !t->file_type) {
        transfer_free(t);
        return NULL;
    }
    return t;
}

void transfer_free(transfer_t *t)
{
    if (!t)
        return;
    if (t->call)
        http_call_cancel(t->call);
    if (t->prev || t->next || running == t) {
        if (t->prev)
            t->prev->next = t->next;
        else
            running = t->next;
        if (t->next)
            t->next->prev = t->prev;
    }
    free(t->url);
    free(t->user);
    if (t->pass)
        explicit_bzero(t->pass, strlen(t->pass)); /* the ACS gave it for this transfer only */
    free(t->pass);
    free(t->command_key);
    free(t->file_type);
    buf_free_secret(&t->authz);
    buf_free(&t->body);
    free(t->challenge);
    free(t);
}

int64_t transfer_delay_ms(const transfer_t *t) { return (int64_t)t->delay_s * 1000; }

static void issue(transfer_t *t);

/* The result: a TransferComplete to deliver, maybe a reboot before it. */
static void complete(transfer_t *t, int fault, const char *why)
{
    fleet_t *f = t->f;
    cpe_t *c = t->c;
    t->call = NULL;
    cpe_x_t *x = c->x;
    char serial[96];
    fleet_serial(f, c, serial, sizeof serial);
    char shown[NET_URL_SHOWN];
    net_url_redacted(t->url, shown, sizeof shown);
    log_info(t->upload ? "upload_done" : "download_done", LF_S("cpe", serial), LF_S("url", shown),
             LF_U("bytes", t->upload ? t->body.len : t->got), LF_I("fault", fault),
             LF_S("reason", why ? why : "ok"));
    if (t->upload)
        fault ? f->st.uploads_failed++ : f->st.uploads_ok++;
    else
        fault ? f->st.downloads_failed++ : f->st.downloads_ok++;
    x->tc.command_key = t->command_key;
    t->command_key = NULL;
    x->tc.fault_code = fault;
    x->tc.fault_string = strdup(fault ? (why ? why : cwmp_fault_text(fault)) : "");
    x->tc.start_s = t->start_s;
    x->tc.complete_s = clock_real_s();
    x->tc.is_upload = t->upload;
    x->has_tc = true;
    bool firmware = !t->upload && !fault && str_starts_with(t->file_type, "1 ");
    x->xfer = NULL;
    transfer_free(t);
    c->events |= EV_TRANSFER_COMPLETE | (x->tc.is_upload ? EV_M_UPLOAD : EV_M_DOWNLOAD);
    f->state_dirty = true;
    if (firmware)
        fleet_reboot(f, c, false); /* the new image boots; the Inform after it reports */
    else
        fleet_trigger(f, c, 0);
}

/* Answer a 401 once from the RPC's credentials. */
static bool authenticate(transfer_t *t, const http_response_t *r, const char *method)
{
    if (t->auth_tried || !*t->user)
        return false;
    const char *vals[8];
    size_t n = 0;
    for (size_t i = 0; i < r->msg->nheaders && n < 8; i++) {
        const char *name, *value;
        http_msg_header_at(r->msg, i, &name, &value);
        if (strcasecmp(name, "WWW-Authenticate") == 0)
            vals[n++] = value;
    }
    int pick = n ? http_auth_pick_challenge(vals, n, true) : -1;
    if (pick < 0)
        return false;
    net_url_t u;
    if (net_url_parse(t->url, &u) != 0)
        return false;
    net_url_clear(&u); /* only its having parsed matters here */
    buf_free_secret(&t->authz);
    free(t->challenge);
    t->challenge = NULL;
    t->nc = 0;
    bool basic = strncasecmp(vals[pick], "Basic", 5) == 0;
    int rc = basic ? http_auth_client_basic(t->user, t->pass, &t->authz)
                   : (t->challenge = strdup(vals[pick])) ? 0 : -ENOMEM; /* answered in issue() */
    t->auth_tried = rc == 0;
    return rc == 0;
}

/* A Digest nonce answers each request once (nc 1, 2, ...): a server that
 * checks the count refuses a repeated one as a replay. */
static void digest_next(transfer_t *t, const char *method)
{
    net_url_t u;
    if (!t->challenge || net_url_parse(t->url, &u) != 0)
        return;
    buf_free_secret(&t->authz);
    if (http_auth_client_digest(t->challenge, method, u.path, t->user, t->pass, ++t->nc, NULL,
                                &t->authz) != 0)
        buf_free_secret(&t->authz);
    net_url_clear(&u);
}

/* "bytes 0-1048575/5000000" -> first byte and total (total 0 when "*"). */
static bool content_range(const char *v, uint64_t *first, uint64_t *total)
{
    unsigned long long a, b;
    char tot[32];
    if (!v || sscanf(v, "bytes %llu-%llu/%31s", &a, &b, tot) != 3 || b < a)
        return false;
    *first = a;
    *total = strcmp(tot, "*") == 0 ? 0 : strtoull(tot, NULL, 10);
    return true;
}

static void on_download(int err, const http_response_t *r, void *ud)
{
    transfer_t *t = ud;
    t->call = NULL;
    if (err && err != -ENOBUFS && t->ranged && t->resumes < TRANSFER_RESUMES) {
        /* a connection lost mid-file: ask again from the first byte not yet
         * counted (what a CPE on a flaky line does; the server's ETag is not
         * checked, as the size check at the end catches a changed file) */
        char serial[96];
        fleet_serial(t->f, t->c, serial, sizeof serial);
        t->resumes++;
        log_info("download_resumed", LF_S("cpe", serial), LF_U("from", t->got), LF_ERR(err));
        issue(t);
        return;
    }
    if (err) {
        char why[128];
        snprintf(why, sizeof why, "%s: %s", t->got ? "transfer broke off" : "cannot reach the file server",
                 log_strerror(err));
        complete(t, err == -ENOBUFS ? 9010 : t->got ? 9017 : 9015, why);
        return;
    }
    if (r->status == 401) {
        if (authenticate(t, r, "GET"))
            issue(t);
        else
            complete(t, 9012, "the file server refused our credentials");
        return;
    }
    if (r->status == 416 && t->got == 0 && !t->no_range) {
        t->no_range = true; /* an empty file cannot be ranged: ask for it whole */
        issue(t);
        return;
    }
    if (r->status == 404 || r->status == 403 || r->status == 410) {
        char why[64];
        snprintf(why, sizeof why, "HTTP %d for the file", r->status);
        complete(t, 9016, why);
        return;
    }
    if (r->status == 200) {
        t->got = r->body_len;
        t->total = r->body_len;
    } else if (r->status == 206) {
        uint64_t first, total;
        if (!content_range(http_msg_header(r->msg, "Content-Range"), &first, &total) || first != t->got) {
            complete(t, 9010, "bad Content-Range from the file server");
            return;
        }
        t->ranged = true;
        t->auth_tried = false; /* a later 401 (a stale nonce) may be answered again */
        t->got += r->body_len;
        t->total = total;
        if (r->body_len > 0 && t->got < t->total && t->got < MAX_DOWNLOAD) {
            issue(t);
            return;
        }
    } else {
        char why[64];
        snprintf(why, sizeof why, "HTTP %d from the file server", r->status);
        complete(t, 9010, why);
        return;
    }
    if (t->file_size && t->got != t->file_size) {
        char why[96];
        snprintf(why, sizeof why, "size %" PRIu64 " instead of the announced %u", t->got, t->file_size);
        complete(t, 9018, why);
        return;
    }
    if (t->total && t->got != t->total) {
        complete(t, 9017, "the transfer ended early");
        return;
    }
    complete(t, 0, NULL);
}

static void on_upload(int err, const http_response_t *r, void *ud)
{
    transfer_t *t = ud;
    t->call = NULL;
    if (err) {
        complete(t, 9015, "cannot reach the file server");
        return;
    }
    if (r->status == 401) {
        if (authenticate(t, r, t->post ? "POST" : "PUT"))
            issue(t);
        else
            complete(t, 9012, "the file server refused our credentials");
        return;
    }
    if (r->status == 405 && !t->post) {
        t->post = true; /* some servers only take POST */
        t->auth_tried = false;
        buf_free_secret(&t->authz);
        issue(t);
        return;
    }
    if (r->status < 200 || r->status > 299) {
        char why[64];
        snprintf(why, sizeof why, "HTTP %d from the file server", r->status);
        complete(t, 9011, why);
        return;
    }
    complete(t, 0, NULL);
}

static void issue(transfer_t *t)
{
    char headers[HTTP_AUTH_HEADER_MAX + 128];
    int n = 0;
    headers[0] = '\0';
    if (!t->upload && !t->no_range)
        n = snprintf(headers, sizeof headers, "Range: bytes=%" PRIu64 "-%" PRIu64 "\r\n", t->got,
                     t->got + CHUNK - 1);
    if (t->upload)
        n += snprintf(headers + n, sizeof headers - (size_t)n, "Content-Type: text/plain\r\n");
    digest_next(t, t->upload ? (t->post ? "POST" : "PUT") : "GET");
    if (t->authz.len) /* the http client copies the headers: this copy is wiped below */
        snprintf(headers + n, sizeof headers - (size_t)n, "Authorization: %s\r\n", t->authz.data);
    http_request_spec_t spec = {
        .method = t->upload ? (t->post ? "POST" : "PUT") : "GET",
        .url = t->url,
        .headers = headers,
        .body = t->upload ? t->body.data : NULL,
        .body_len = t->upload ? t->body.len : 0,
        .timeout_ms = 300000,
    };
    int err = 0;
    t->call = http_client_request(t->f->http, &spec, t->upload ? on_upload : on_download, t, &err);
    explicit_bzero(headers, sizeof headers);
    if (!t->call)
        complete(t, t->upload ? 9011 : 9010, "cannot issue the request");
}

/* One line of the configuration: the settings (writable parameters), not the
 * state; values percent-encoded so that a line break in one stays in its line. */
static int config_line(void *ud, const dm_item_t *it)
{
    buf_t *out = ud;
    if (!it->value || !it->writable)
        return 0;
    int rc = buf_printf(out, "%s=", it->name);
    rc = rc ? rc : str_pct_encode(out, it->value, strlen(it->value), " -._~:/,;@+()[]*!$'");
    return rc ? rc : buf_append_byte(out, '\n');
}

/* The upload's content: the configuration as name=value lines, or a log. */
static int upload_body(fleet_t *f, cpe_t *c, transfer_t *t)
{
    if (str_starts_with(t->file_type, "2 ") || str_starts_with(t->file_type, "4 ")) {
        char serial[96], now[CLOCK_ISO_LEN];
        fleet_serial(f, c, serial, sizeof serial);
        clock_iso8601(clock_real_s(), now);
        return buf_printf(&t->body, "%s cpe-sim %s: log upload requested, uptime %llds\n", now, serial,
                          (long long)((fleet_now(f) - f->t0_ms) / 1000 - c->boot_s));
    }
    fleet_env_t env;
    dm_view_t v = fleet_view(f, c, &env);
    char serial[96];
    fleet_serial(f, c, serial, sizeof serial);
    int rc = buf_printf(&t->body, "# cpe-sim %s configuration\n", serial);
    return rc ? rc : dm_get_values(&v, dm_model_root(f->model), config_line, &t->body);
}

void transfer_run(fleet_t *f, cpe_t *c)
{
    transfer_t *t = c->x->xfer;
    if (t->call)
        return;
    t->f = f;
    t->c = c;
    t->start_s = clock_real_s();
    if (!f->http) {
        http_client_opts_t o = { .tls = f->tls, .max_response_bytes = 2 * CHUNK + 64 * 1024 * 1024,
                                 .user_agent = "outpost-cpesim" };
        f->http = http_client_new(f->loop, &o);
    }
    if (!f->http) {
        complete(t, t->upload ? 9011 : 9010, "out of memory");
        return;
    }
    t->next = running;
    if (running)
        running->prev = t;
    running = t;
    if (t->upload && upload_body(f, c, t) != 0) {
        complete(t, 9011, "cannot build the file");
        return;
    }
    issue(t);
}

void transfer_abort_all(fleet_t *f)
{
    while (running) {
        transfer_t *t = running;
        cpe_t *c = t->c;
        running = t->next;
        if (running)
            running->prev = NULL;
        t->next = t->prev = NULL;
        if (t->call)
            http_call_cancel(t->call);
        t->call = NULL;
        (void)c; /* stays queued in c->x->xfer, freed with the fleet */
    }
    if (f->http)
        http_client_free(f->http);
    f->http = NULL;
}
