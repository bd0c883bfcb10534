/*
 * runtime: what every daemon does around its event loop.
 *
 * - SIGTERM/SIGINT call on_stop once; the daemon closes its listeners and
 *   connections and uv_run() returns when nothing is left. A second SIGINT
 *   (Ctrl-C twice), or a drain that outlasts drain_ms, exits at once with
 *   status 1; a repeated SIGTERM changes nothing.
 * - SIGHUP calls on_reload (when set; otherwise it is logged and ignored).
 * - runtime_ready() prints the `ready <name> listen=...` line tests wait for.
 * - Every RUNTIME_TRIM_MS, freed heap memory goes back to the system
 *   (malloc_trim): glibc keeps what a burst used, and a tunnel agent that
 *   carried a bulk transfer through 16 MiB windows held ~10 MB for good.
 * - Descriptors: the soft RLIMIT_NOFILE is raised to the hard limit (every
 *   connection is a descriptor, and listeners' default caps are shares of
 *   this limit, see runtime_conn_cap).
 * - Data directory and API token helpers shared by the daemons.
 *
 * The runtime_t is owned by the caller (usually on the daemon's stack).
 */
#ifndef OUTPOST_CORE_RUNTIME_H
#define OUTPOST_CORE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/log.h"

typedef struct runtime {
    uv_loop_t *loop;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t drain_timer;
    uv_timer_t trim_timer; /* hands freed heap back to the system */
    void (*on_stop)(void *ud);
    void (*on_reload)(void *ud);
    void *ud;
    int64_t drain_ms;
    bool stopping;
    bool started;
} runtime_t;

enum { RUNTIME_TRIM_MS = 10000 };

/* Install the handlers. drain_ms <= 0 means 10 s. */
int runtime_init(runtime_t *rt, uv_loop_t *loop, void (*on_stop)(void *), void (*on_reload)(void *),
                 void *ud, int64_t drain_ms);
/* Run the loop until the daemon has closed everything, then close the
 * runtime's own handles. Returns the exit status (0 after a clean drain). */
int runtime_run(runtime_t *rt);
/* Ask for a stop from inside the daemon (as if SIGTERM arrived). */
void runtime_stop(runtime_t *rt);

#define runtime_ready(NAME, ...) log_info("ready " NAME, __VA_ARGS__)

/* uv_close of a handle on the heap (or the first member of a struct on the
 * heap): freed once closed. */
void runtime_close_free(uv_handle_t *h);

/* The descriptor limit in force (soft RLIMIT_NOFILE). The first call (or
 * runtime_init) raises it to the hard limit, once, logging the outcome. */
uint64_t runtime_fd_limit(void);
/* What a daemon keeps for itself besides its listeners' connections: stdio,
 * the loop's own descriptors, listeners and their spares, SQLite files and
 * journals, logs, certificate and credential reloads. */
enum { RUNTIME_FD_RESERVE = 64 };
/* A listener's connection cap: `configured` when > 0; otherwise what the
 * descriptor limit leaves after `reserve` descriptors, divided by the
 * descriptors one connection costs (`per_conn`, at least 1), never below
 * `min`. */
int64_t runtime_conn_cap(int64_t configured, uint64_t reserve, unsigned per_conn, int64_t min);

/* mkdir -p with mode 0700 for the leaf; 0 or -errno (logged). */
int runtime_mkdirs(const char *path);
/* The API token: `configured` when given; else the one stored in
 * DATA_DIR/api-token; else a new random one written there (mode 0600) and
 * logged once at warn level so the operator sees it. out: >= 65 bytes. */
int runtime_api_token(const char *data_dir, const char *configured, const char *daemon, char *out,
                      size_t outlen);

#endif
