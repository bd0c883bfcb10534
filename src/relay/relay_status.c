#include "relay/relay_status.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>

#include "codec/relay_msg.h"
#include "core/clock.h"
#include "core/metrics.h"

typedef struct walk {
    relay_hub_t *hub;
    json_t *paths;
    int64_t mono_now, real_now;
} walk_t;

static json_t *peer_json(const relay_peer_t *p, const walk_t *w)
{
    char since[CLOCK_ISO_LEN];
    clock_iso8601((w->real_now - (w->mono_now - p->since_ms)) / 1000, since);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "class", p->peer_class, "id", p->peer_id, "subject", p->subject,
                     "remote", p->remote, "state", relay_peer_state_name(p->state), "since", since,
                     "bytes_in", (json_int_t)p->bytes_in, "bytes_out", (json_int_t)p->bytes_out,
                     "messages_in", (json_int_t)p->msgs_in, "messages_out", (json_int_t)p->msgs_out,
                     "dropped", (json_int_t)p->dropped,
                     "queued", (json_int_t)relay_hub_peer_queued(w->hub, (relay_peer_t *)p));
}

static void each_path(const char *meeting, relay_peer_t *a, relay_peer_t *b, void *ud)
{
    walk_t *w = ud;
    json_t *peers = json_array();
    if (a)
        json_array_append_new(peers, peer_json(a, w));
    if (b)
        json_array_append_new(peers, peer_json(b, w));
    json_array_append_new(w->paths, json_pack("{s:s, s:s, s:o}", "path", meeting, "state",
                                              b ? "paired" : "waiting", "peers", peers));
}

int relay_status_json(buf_t *out, relay_hub_t *hub, const relay_counters_t *cnt)
{
    const relay_hub_stats_t *st = relay_hub_stats(hub);
    walk_t w = { hub, json_array(), clock_mono_ms(), clock_real_ms() };
    if (!w.paths)
        return -ENOMEM;
    relay_hub_each_path(hub, each_path, &w);
    json_t *doc = json_pack(
        "{s:I, s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
        "connections", (json_int_t)st->peers, "pending", (json_int_t)st->pending,
        "waiting_paths", (json_int_t)st->waiting_paths, "paired_paths", (json_int_t)st->paired_paths,
        "paths", w.paths, "totals", "connections", (json_int_t)st->connections_total,
        "pairings", (json_int_t)st->pairings, "messages", (json_int_t)st->messages,
        "bytes", (json_int_t)st->bytes, "dropped", (json_int_t)st->dropped,
        "rejected_protocol", (json_int_t)st->protocol_rejects, "rejected_busy", (json_int_t)st->busy_rejects,
        "rejected_forbidden", (json_int_t)cnt->forbidden, "rejected_not_found", (json_int_t)cnt->not_found,
        "rejected_full", (json_int_t)cnt->full, "rejected_per_cert", (json_int_t)cnt->per_cert,
        "partner_left", (json_int_t)st->partner_left);
    if (!doc)
        return -ENOMEM;
    int rc = relay_json_append(out, doc);
    json_decref(doc);
    return rc;
}

int relay_status_metrics(buf_t *out, relay_hub_t *hub, const relay_counters_t *cnt, size_t conns)
{
    const relay_hub_stats_t *st = relay_hub_stats(hub);
    const struct {
        const char *name, *type, *help;
        double v;
    } one[] = {
        { "outpost_relay_connections", "gauge", "Open WebSocket connections.", (double)conns },
        { "outpost_relay_pending_hello", "gauge", "Connections that have not sent CONN:HELLO yet.",
          (double)st->pending },
        { "outpost_relay_connections_total", "counter", "WebSocket connections accepted.",
          (double)st->connections_total },
        { "outpost_relay_pairings_total", "counter", "Two peers paired on a path.", (double)st->pairings },
        { "outpost_relay_messages_total", "counter", "Messages copied between partners.",
          (double)st->messages },
        { "outpost_relay_bytes_total", "counter", "Bytes copied between partners.", (double)st->bytes },
        { "outpost_relay_dropped_total", "counter", "Messages sent after the partner left (keep-waiting).",
          (double)st->dropped },
        { "outpost_relay_backpressure_pauses_total", "counter",
          "Times a sender was paused for a slow partner.", (double)st->pauses },
        { "outpost_relay_partner_left_total", "counter", "Peers closed because their partner left.",
          (double)st->partner_left },
        { "outpost_relay_send_overflow_total", "counter", "Peers closed for overflowing a send queue.",
          (double)st->overflow_closes },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof one / sizeof one[0] && !rc; i++)
        rc = metrics_one(out, one[i].name, one[i].type, one[i].help, one[i].v);
    if (!rc)
        rc = metrics_head(out, "outpost_relay_paths", "gauge",
                          "Meeting ids with one (waiting) or two (paired) peers.");
    if (!rc)
        rc = metrics_value(out, "outpost_relay_paths", "state=\"waiting\"", (double)st->waiting_paths);
    if (!rc)
        rc = metrics_value(out, "outpost_relay_paths", "state=\"paired\"", (double)st->paired_paths);
    const struct {
        const char *reason;
        uint64_t v;
    } rejects[] = { { "protocol", st->protocol_rejects }, { "busy", st->busy_rejects },
                    { "forbidden", cnt->forbidden }, { "not_found", cnt->not_found },
                    { "full", cnt->full }, { "per_cert", cnt->per_cert } };
    if (!rc)
        rc = metrics_head(out, "outpost_relay_rejects_total", "counter", "Connections refused, by reason.");
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0] && !rc; i++) {
        char l[48];
        snprintf(l, sizeof l, "reason=\"%s\"", rejects[i].reason);
        rc = metrics_value(out, "outpost_relay_rejects_total", l, (double)rejects[i].v);
    }
    return rc;
}
