/*
 * store_sqlite_ckpt: the WAL checkpointer of a daemon's store.
 *
 * SQLite's own automatic checkpoint runs inside the commit that takes the
 * WAL past 1,000 frames, on the connection that commits: the store worker,
 * whose queued jobs (and the CWMP answers waiting on them) wait meanwhile.
 * With 500-parameter reads that copying back was a seventh of the worker's
 * time (bench/RESULTS.md, the ACS's hot path). Here a thread of its own,
 * with a connection of its own, copies the WAL back into the database
 * instead: PASSIVE checkpoints, which never block the writer nor wait for
 * it. Commits stay exactly as durable (the WAL is unchanged; a checkpoint
 * syncs the WAL before it copies, as before).
 *
 * The WAL starts over only after a checkpoint that caught up with the
 * writer, which a thread racing a steady stream of commits seldom does: so
 * once the WAL holds CKPT_FRAMES_MAX frames, the committing connection runs
 * a PASSIVE checkpoint itself, between its transactions, copying only what
 * the thread has not yet copied; the WAL then starts over. It stays under
 * 16 MB (SQLite's own checkpoint kept it under 4 MB).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "core/log.h"
#include "store/store_impl.h"
#include "store/store_sqlite.h"

/* WAL frames (pages) after which the thread is woken: SQLite's default
 * automatic checkpoint point. */
enum { CKPT_FRAMES = 1000, CKPT_FRAMES_MAX = 4 * CKPT_FRAMES };

struct sq_ckpt {
    sqlite3 *db;       /* the checkpointer's own connection, used by its thread only */
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    bool want, stop;
    bool warned;       /* a failing checkpoint is logged once per run of failures */
    int mark;          /* the WAL's length when the thread was last woken */
};

/* After every commit of the main connection, on the committing thread. */
static int on_wal_commit(void *ud, sqlite3 *db, const char *name, int frames)
{
    sq_ckpt_t *c = ud;
    if (frames >= CKPT_FRAMES_MAX) { /* the rest, and the WAL starts over */
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    /* Every CKPT_FRAMES new frames, as SQLite's own would (not after every
     * commit once the WAL is long: while the writer keeps appending, the
     * WAL starts over only after a checkpoint that caught up with it). */
    uv_mutex_lock(&c->mu);
    if (frames < c->mark) /* the WAL started over */
        c->mark = 0;
    if (frames - c->mark >= CKPT_FRAMES) {
        c->mark = frames;
        if (!c->want) {
            c->want = true;
            uv_cond_signal(&c->cv);
        }
    }
    uv_mutex_unlock(&c->mu);
    return SQLITE_OK;
}

static void ckpt_main(void *arg)
{
    sq_ckpt_t *c = arg;
    uv_mutex_lock(&c->mu);
    for (;;) {
        while (!c->want && !c->stop)
            uv_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->want = false;
        uv_mutex_unlock(&c->mu);
        int log_frames = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
        uv_mutex_lock(&c->mu);
        /* BUSY: the writer's own fallback checkpoint is running; it does the
         * work. A failure is logged once until a checkpoint succeeds again. */
        if (rc == SQLITE_OK)
            c->warned = false;
        else if (rc != SQLITE_BUSY && !c->warned) {
            c->warned = true;
            log_warn("store_checkpoint_failed", LF_S("reason", sqlite3_errmsg(c->db)),
                     LF_I("wal_frames", log_frames));
        }
    }
    uv_mutex_unlock(&c->mu);
}

int sq_ckpt_start(sq_t *q, const char *path)
{
    sq_ckpt_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        log_error("store_open", LF_S("path", path), LF_S("what", "checkpoint connection"),
                  LF_S("reason", c->db ? sqlite3_errmsg(c->db) : "out of memory"));
        sqlite3_close(c->db);
        free(c);
        return -EIO;
    }
    char sql[96];
    /* its checkpoints sync as the writer's would; reading the schema opens the WAL */
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s; SELECT count(*) FROM sqlite_master;",
             q->o.sync_full ? "FULL" : "NORMAL");
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store_open", LF_S("path", path), LF_S("what", "checkpoint connection"),
                  LF_S("reason", msg ? msg : "?"));
        sqlite3_free(msg);
        sqlite3_close(c->db);
        free(c);
        return -EIO;
    }
    int rc = uv_mutex_init(&c->mu);
    if (rc == 0 && (rc = uv_cond_init(&c->cv)) != 0)
        uv_mutex_destroy(&c->mu);
    if (rc == 0 && (rc = uv_thread_create(&c->thread, ckpt_main, c)) != 0) {
        uv_mutex_destroy(&c->mu);
        uv_cond_destroy(&c->cv);
    }
    if (rc != 0) {
        log_error("store_open", LF_S("path", path), LF_S("what", "checkpoint thread"),
                  LF_S("reason", uv_strerror(rc)));
        sqlite3_close(c->db);
        free(c);
        return -EAGAIN;
    }
    q->ckpt = c;
    /* replaces SQLite's automatic checkpoint on the main connection */
    sqlite3_wal_hook(q->db, on_wal_commit, c);
    return 0;
}

void sq_ckpt_stop(sq_t *q)
{
    sq_ckpt_t *c = q->ckpt;
    if (!c)
        return;
    sqlite3_wal_hook(q->db, NULL, NULL);
    uv_mutex_lock(&c->mu);
    c->stop = true;
    uv_cond_signal(&c->cv);
    uv_mutex_unlock(&c->mu);
    uv_thread_join(&c->thread);
    uv_mutex_destroy(&c->mu);
    uv_cond_destroy(&c->cv);
    sqlite3_close(c->db); /* not the last connection: the main one checkpoints at its close */
    free(c);
    q->ckpt = NULL;
}
