/*
 * store_pg_cluster: what several nodes on one PostgreSQL store need of it.
 * A sent task's lease (renewed by its node, recovered when it runs out),
 * the leader lock of a cluster-wide sweep (a transaction-scoped advisory
 * lock: held until the job's batch commits or rolls back, so a node that
 * dies mid-sweep frees it with its connection), and NOTIFY for the other
 * nodes' listeners (store_pg_listen.c), sent by PostgreSQL at commit only.
 */
#include <errno.h>

#include "store/store_pg.h"

/* Namespace of the sweeps' advisory locks: the two-int4 key space, apart
 * from the migration's one-bigint lock. */
#define PG_LEADER_SPACE "7370"

int pg_task_recover(store_t *s, const char *const *types, int64_t now, bool startup,
                    int (*fn)(const char *, void *), void *ud)
{
    pg_t *p = PG(s);
    int total = 0;
    pg_num_t a;
    for (; types && *types; types++) {
        /* at start, this node's own tasks are not in flight whatever their
         * lease says (a restart with the same --node-id) */
        const char *v[] = { *types, pg_i64(&a, now), startup ? store_node(s) : NULL };
        PGresult *r = pg_query(p, "UPDATE tasks SET status = 0, updated = $2, lease_until = 0"
                                  " WHERE status = 1 AND type = $1"
                                  " AND (lease_until < $2 OR node = $3) RETURNING device_id",
                               3, v, "task_recover");
        if (!r)
            return -EIO;
        int n = PQntuples(r);
        for (int i = 0; fn && i < n; i++)
            (void)fn(pg_col(r, i, 0), ud);
        PQclear(r);
        total += n;
    }
    return total;
}

int pg_task_lease_renew(store_t *s, const char *ids, int64_t until)
{
    pg_num_t a;
    const char *v[] = { ids, pg_i64(&a, until), store_node(s) };
    return pg_cmd_sql(PG(s), "UPDATE tasks SET lease_until = $2 WHERE status = 1 AND node = $3"
                             " AND id = ANY(('{' || $1 || '}')::bigint[])", 3, v, "task_lease_renew");
}

int pg_try_leader(store_t *s, const char *what)
{
    const char *v[] = { what };
    bool ok = true;
    int64_t got = pg_scalar(PG(s), "SELECT pg_try_advisory_xact_lock(" PG_LEADER_SPACE ", hashtext($1))::int",
                            1, v, &ok);
    return !ok ? -EIO : got == 1 ? 1 : 0;
}

/* Interests are settings rows, k = "watch/WHAT/NODE", v = until: a few
 * rows, read and written every few seconds by the nodes that have one. */
int pg_watch_set(store_t *s, const char *what, int64_t until, int64_t now)
{
    pg_num_t a, b;
    const char *v[] = { what, store_node(s), pg_i64(&a, until), pg_i64(&b, now - 86400) };
    return pg_cmd_sql(PG(s), "WITH gone AS (DELETE FROM settings WHERE k > 'watch/' || $1 || '/'"
                             "  AND k < 'watch/' || $1 || '0' AND v < $4::bigint"
                             "  AND k <> 'watch/' || $1 || '/' || $2)"
                             " INSERT INTO settings (k, v) VALUES ('watch/' || $1 || '/' || $2, $3::bigint)"
                             " ON CONFLICT (k) DO UPDATE SET v = excluded.v", 4, v, "watch_set") < 0
               ? -EIO : 0;
}

int pg_watched(store_t *s, const char *what, int64_t now)
{
    pg_num_t a;
    const char *v[] = { what, store_node(s), pg_i64(&a, now) };
    bool ok = true;
    int64_t got = pg_scalar(PG(s), "SELECT EXISTS (SELECT 1 FROM settings WHERE k > 'watch/' || $1 || '/'"
                                   "  AND k < 'watch/' || $1 || '0' AND k <> 'watch/' || $1 || '/' || $2"
                                   "  AND v > $3::bigint)::int", 3, v, &ok);
    return !ok ? -EIO : got == 1;
}

int pg_notify(store_t *s, const char *channel, const char *payload)
{
    const char *v[] = { channel, payload };
    PGresult *r = pg_query(PG(s), "SELECT pg_notify($1, $2)", 2, v, "notify");
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}
