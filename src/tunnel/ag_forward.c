/*
 * ag_forward: the agent's local port forwards, in the seed's shape
 * {local, gateway, ip, remote}: listen on `local` (127.0.0.1 unless an
 * address is given), carry each connection to agent `gateway`, which
 * connects to ip:remote in its own network.
 *
 * SOCKS5 listeners (--socks, /api/socks) are forwards whose target each
 * client names (ag_socks.c); they share the list, the ids and the state file.
 *
 * Forwards created through the REST API persist in DATA_DIR/forwards.json
 * (written to a temporary file, fsynced, renamed: a crash leaves the old or
 * the new file, never half of one) and come back on restart, on the port
 * they had. Forwards from the configuration are not written there.
 *
 * Stored forwards are never lost to a bad start: an entry that cannot be
 * loaded (its port taken by another process for now, say) is written back
 * as it was and tried again at the next start, and a file that is not
 * valid JSON is moved aside to forwards.json.bad before anything overwrites
 * it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/ag.h"

static int listen_and_add(ag_t *ag, ag_forward_t *f, char *err, size_t errlen);

static void on_accept(net_listener_t *l, net_conn_t *c, void *ud)
{
    ag_forward_t *f = ud;
    if (f->socks)
        ag_socks_accept(f, c);
    else
        ag_stream_local_accept(f, c);
}

static int normalise_local(const char *in, char *out, size_t outlen)
{
    int64_t port;
    if (str_to_i64(in, 0, 65535, &port) == 0)
        return snprintf(out, outlen, "127.0.0.1:%d", (int)port) < (int)outlen ? 0 : -EINVAL;
    char host[NET_HOST_MAX];
    uint16_t p;
    if (net_split_hostport(in, host, sizeof host, &p) != 0)
        return -EINVAL;
    return str_copy(out, outlen, in);
}

int ag_forward_add(ag_t *ag, const char *local, const char *gateway, const char *ip,
                   int64_t remote, bool persist, char *err, size_t errlen, ag_forward_t **out)
{
    uint8_t addr[16];
    ag_forward_t *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = -EINVAL;
    if (!local || normalise_local(local, f->local, sizeof f->local) != 0)
        snprintf(err, errlen, "local must be PORT or HOST:PORT");
    else if (!gateway || !tunnel_name_valid(gateway, strlen(gateway)))
        snprintf(err, errlen, "gateway must be an agent name (A-Z a-z 0-9 . _ -)");
    else if (!ip || net_ip_parse(ip, addr) != 0)
        snprintf(err, errlen, "ip must be an IPv4 or IPv6 address");
    else if (remote < 1 || remote > 65535)
        snprintf(err, errlen, "remote must be a port 1-65535");
    else
        rc = 0;
    if (rc != 0) {
        free(f);
        return rc;
    }
    f->ag = ag;
    str_copy(f->gateway, sizeof f->gateway, gateway);
    str_copy(f->ip, sizeof f->ip, ip);
    f->remote = (uint16_t)remote;
    f->persist = persist;
    if ((rc = listen_and_add(ag, f, err, errlen)) != 0) {
        free(f);
        return rc;
    }
    log_info("forward_open", LF_U("forward", f->id), LF_S("local", f->bound),
             LF_S("gateway", f->gateway), LF_S("ip", f->ip), LF_I("remote", f->remote),
             LF_B("persistent", persist));
    if (out)
        *out = f;
    return 0;
}

int ag_forward_add_text(ag_t *ag, const char *text, bool persist, char *err, size_t errlen)
{
    char key[32], val[300], local[300] = "", gateway[300] = "", ip[300] = "", remote[16] = "";
    size_t pos = 0;
    int rc;
    while ((rc = cfg_kv_next(text, &pos, key, sizeof key, val, sizeof val)) == 1) {
        if (strcmp(key, "local") == 0)
            str_copy(local, sizeof local, val);
        else if (strcmp(key, "gateway") == 0)
            str_copy(gateway, sizeof gateway, val);
        else if (strcmp(key, "ip") == 0)
            str_copy(ip, sizeof ip, val);
        else if (strcmp(key, "remote") == 0)
            str_copy(remote, sizeof remote, val);
        else {
            snprintf(err, errlen, "unknown key '%s' (want local, gateway, ip, remote)", key);
            return -EINVAL;
        }
    }
    int64_t port = 0;
    if (rc < 0 || str_to_i64(remote, 1, 65535, &port) != 0) {
        snprintf(err, errlen, "want 'local=PORT gateway=AGENT ip=ADDR remote=PORT'");
        return -EINVAL;
    }
    return ag_forward_add(ag, local, gateway, ip, port, persist, err, errlen, NULL);
}

/* Start listening for f (filled in but for the listener) and add it. */
static int listen_and_add(ag_t *ag, ag_forward_t *f, char *err, size_t errlen)
{
    net_listen_opts_t lo = { .addr = f->local };
    int rc = net_listen(ag->loop, &lo, on_accept, f, &f->listener);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", f->local, log_strerror(rc));
        return rc;
    }
    str_copy(f->bound, sizeof f->bound, net_listener_addr(f->listener));
    f->id = ++ag->next_forward_id;
    ag_forward_t **pp = &ag->forwards;
    while (*pp)
        pp = &(*pp)->next;
    *pp = f;
    return 0;
}

static bool loopback(const char *hostport)
{
    char host[NET_HOST_MAX];
    uint16_t port;
    return net_split_hostport(hostport, host, sizeof host, &port) == 0 &&
           (strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
            strcmp(host, "localhost") == 0);
}

int ag_socks_add(ag_t *ag, const char *listen, const char *gateway, const char *user,
                 const char *pass, bool persist, char *err, size_t errlen, ag_forward_t **out)
{
    ag_forward_t *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    user = user ? user : "";
    pass = pass ? pass : "";
    int rc = -EINVAL;
    if (!listen || normalise_local(listen, f->local, sizeof f->local) != 0)
        snprintf(err, errlen, "listen must be PORT or HOST:PORT");
    else if (!gateway || !tunnel_name_valid(gateway, strlen(gateway)))
        snprintf(err, errlen, "gateway must be an agent name (A-Z a-z 0-9 . _ -)");
    else if (!*user != !*pass)
        snprintf(err, errlen, "give user and password together (or neither: no authentication)");
    else if (strlen(user) > 255 || strlen(pass) > 255)
        snprintf(err, errlen, "user and password are 1-255 bytes (RFC 1929)");
    else
        rc = 0;
    if (rc == 0) {
        f->ag = ag;
        f->socks = true;
        f->persist = persist;
        str_copy(f->gateway, sizeof f->gateway, gateway);
        str_copy(f->user, sizeof f->user, user);
        str_copy(f->pass, sizeof f->pass, pass);
        rc = listen_and_add(ag, f, err, errlen);
    }
    if (rc != 0) {
        OPENSSL_cleanse(f, sizeof *f);
        free(f);
        return rc;
    }
    if (!f->user[0] && !loopback(f->bound))
        log_warn("socks_open_to_network", LF_U("listener", f->id), LF_S("listen", f->bound),
                 LF_S("reason", "no authentication on a non-loopback address: anyone who reaches "
                                "it may use the tunnel"));
    log_info("socks_open", LF_U("listener", f->id), LF_S("listen", f->bound),
             LF_S("gateway", f->gateway), LF_S("auth", f->user[0] ? "password" : "none"),
             LF_B("persistent", persist));
    if (out)
        *out = f;
    return 0;
}

int ag_socks_add_text(ag_t *ag, const char *text, bool persist, char *err, size_t errlen)
{
    char key[32], val[300], listen[300] = "", gateway[300] = "", user[300] = "";
    char pass[300] = "", pfile[300] = "";
    size_t pos = 0;
    int rc;
    while ((rc = cfg_kv_next(text, &pos, key, sizeof key, val, sizeof val)) == 1) {
        if (strcmp(key, "listen") == 0 || strcmp(key, "local") == 0)
            str_copy(listen, sizeof listen, val);
        else if (strcmp(key, "gateway") == 0)
            str_copy(gateway, sizeof gateway, val);
        else if (strcmp(key, "user") == 0)
            str_copy(user, sizeof user, val);
        else if (strcmp(key, "password") == 0)
            str_copy(pass, sizeof pass, val);
        else if (strcmp(key, "password-file") == 0)
            str_copy(pfile, sizeof pfile, val);
        else {
            snprintf(err, errlen, "unknown key '%s' (want listen, gateway, user, password-file)",
                     key);
            OPENSSL_cleanse(pass, sizeof pass);
            return -EINVAL;
        }
    }
    if (rc < 0 || (pass[0] && pfile[0])) {
        snprintf(err, errlen, "want 'listen=HOST:PORT gateway=AGENT [user=U password-file=F]'");
        OPENSSL_cleanse(pass, sizeof pass);
        return -EINVAL;
    }
    if (pfile[0]) {
        FILE *fp = fopen(pfile, "re");
        if (!fp || !fgets(pass, sizeof pass, fp)) {
            snprintf(err, errlen, "cannot read password-file %s", pfile);
            if (fp)
                fclose(fp);
            return -EINVAL;
        }
        fclose(fp);
        pass[strcspn(pass, "\r\n")] = '\0';
    }
    rc = ag_socks_add(ag, listen[0] ? listen : NULL, gateway[0] ? gateway : NULL, user, pass,
                      persist, err, errlen, NULL);
    OPENSSL_cleanse(pass, sizeof pass);
    return rc;
}

/* Stop listening. Streams that came in on it carry on and still point at
 * it (also while their connections close), so the last of them frees it. */
static void forward_release(ag_forward_t *f)
{
    OPENSSL_cleanse(f->pass, sizeof f->pass);
    free(f);
}

static void forward_free(ag_forward_t *f)
{
    if (f->listener)
        net_listener_close(f->listener);
    f->listener = NULL;
    f->closed = true;
    if (f->active == 0)
        forward_release(f);
}

void ag_forward_stream_gone(ag_forward_t *f)
{
    if (f->active)
        f->active--;
    if (f->closed && f->active == 0)
        forward_release(f);
}

int ag_forward_remove(ag_t *ag, uint64_t id, bool socks)
{
    for (ag_forward_t **pp = &ag->forwards; *pp; pp = &(*pp)->next) {
        ag_forward_t *f = *pp;
        if (f->id != id || f->socks != socks)
            continue;
        *pp = f->next;
        bool persist = f->persist;
        log_info("forward_closed", LF_U("forward", f->id), LF_S("local", f->bound));
        forward_free(f);
        return persist ? ag_forward_save_state(ag) : 0;
    }
    return -ENOENT;
}

void ag_forward_close_all(ag_t *ag)
{
    while (ag->forwards) {
        ag_forward_t *f = ag->forwards;
        ag->forwards = f->next;
        forward_free(f);
    }
    json_decref(ag->state_kept);
    ag->state_kept = NULL;
}

int ag_forward_save_state(ag_t *ag)
{
    json_t *arr = json_array();
    for (ag_forward_t *f = ag->forwards; f; f = f->next) {
        if (!f->persist)
            continue;
        if (f->socks)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "socks", "listen",
                                                 f->bound, "gateway", f->gateway, "user", f->user,
                                                 "password", f->pass));
        else
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:i}", "local", f->bound, "gateway",
                                                 f->gateway, "ip", f->ip, "remote", f->remote));
    }
    if (ag->state_kept)
        json_array_extend(arr, ag->state_kept);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", ag->state_path);
    char *text = json_dumps(arr, JSON_INDENT(2));
    json_decref(arr);
    if (!text)
        return -ENOMEM;
    int rc = 0;
    errno = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t n = strlen(text);
    if (fd < 0 || write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
        rc = errno ? -errno : -EIO;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, ag->state_path) != 0)
        rc = -errno;
    OPENSSL_cleanse(text, n); /* SOCKS passwords */
    free(text);
    if (rc != 0) {
        unlink(tmp);
        log_error("state_save_failed", LF_S("path", ag->state_path), LF_ERR(rc));
    }
    return rc;
}

int ag_forward_load_state(ag_t *ag)
{
    json_error_t jerr;
    FILE *fp = fopen(ag->state_path, "re");
    if (!fp)
        return errno == ENOENT ? 0 : -errno;
    json_t *arr = json_loadf(fp, 0, &jerr);
    fclose(fp);
    if (!json_is_array(arr)) {
        /* Keep the operator's data: the next save would overwrite it. */
        char bad[sizeof ag->state_path + 8];
        snprintf(bad, sizeof bad, "%s.bad", ag->state_path);
        int rc = rename(ag->state_path, bad) == 0 ? 0 : -errno;
        log_error("state_load_failed", LF_S("path", ag->state_path),
                  LF_S("reason", arr ? "not a JSON array" : jerr.text), LF_I("line", jerr.line),
                  LF_S("moved_to", bad), LF_S("move", rc == 0 ? "ok" : log_strerror(rc)));
        json_decref(arr);
        return -EINVAL;
    }
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        const char *local = json_string_value(json_object_get(it, "local"));
        const char *gw = json_string_value(json_object_get(it, "gateway"));
        const char *ip = json_string_value(json_object_get(it, "ip"));
        const char *type = json_string_value(json_object_get(it, "type"));
        json_int_t remote = json_integer_value(json_object_get(it, "remote"));
        char err[200];
        int rc;
        if (type && strcmp(type, "socks") == 0)
            rc = ag_socks_add(ag, json_string_value(json_object_get(it, "listen")), gw,
                              json_string_value(json_object_get(it, "user")),
                              json_string_value(json_object_get(it, "password")), true, err,
                              sizeof err, NULL);
        else
            rc = ag_forward_add(ag, local, gw, ip, remote, true, err, sizeof err, NULL);
        if (rc != 0) {
            /* a port in use may be free at the next start; a malformed entry never loads */
            bool keep = rc != -EINVAL;
            log_error("state_forward_skipped", LF_S("path", ag->state_path), LF_I("index", i),
                      LF_S("reason", err), LF_S("kept", keep ? "retried at the next start" : "no"));
            if (keep && (ag->state_kept || (ag->state_kept = json_array())))
                json_array_append(ag->state_kept, it);
        }
    }
    json_decref(arr);
    return 0;
}
