/* Unit tests of what a second backend could get wrong beside the SQL: a
 * lost connection and its recovery (PostgreSQL only), long parameter lists
 * cut into statements, bytes a TEXT column refuses, byte order of names,
 * PostgreSQL's own migrations (15 and 18, the history; 16, the search's
 * functions).
 * Run on SQLite (suite unit) and on PostgreSQL (suite store-pg). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "store_test_db.h"

static char dbpath[TEST_DB_MAX];

static int setup(void **state)
{
    assert_int_equal(test_db_new(dbpath, sizeof dbpath, "/tmp/store-be-XXXXXX"), 0);
    store_t *s;
    assert_int_equal(store_open(dbpath, NULL, &s), 0);
    *state = s;
    store_device_t d = { .first_seen = 10, .last_inform = 10 };
    snprintf(d.id, sizeof d.id, "D1");
    assert_int_equal(store_device_inform(s, &d, false), 0);
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    test_db_drop(dbpath);
    return 0;
}

/* The server ends the store's session (a restart, a failover, an admin). */
static void kill_sessions(void)
{
    assert_int_equal(test_db_sql(dbpath, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                                         " WHERE datname = current_database() AND pid <> pg_backend_pid()"),
                     0);
}

/* A lost connection fails the call that finds it, and the next call
 * reconnects; inside a transaction, every call fails until the caller ends
 * it, so no half of a batch lands on a fresh connection. */
static void test_lost_connection(void **state)
{
    if (!test_db_pg())
        skip(); /* SQLite has no connection to lose */
    store_t *s = *state;
    store_device_t d;
    kill_sessions();
    assert_int_equal(store_device_get(s, "D1", &d), -EIO);
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_string_equal(d.id, "D1");

    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_device_set_tags(s, "D1", "before"), 0);
    kill_sessions();
    assert_int_equal(store_device_set_tags(s, "D1", "lost"), -EIO);
    assert_int_equal(store_device_get(s, "D1", &d), -EIO); /* still in the broken batch */
    assert_int_equal(store_commit(s), -ENOTCONN); /* the server's absence, told apart */
    store_rollback(s);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_string_equal(d.tags, ""); /* the lost batch is gone whole */
    assert_int_equal(store_device_set_tags(s, "D1", "after"), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_string_equal(d.tags, "after");
}

/* A batch the connection died in, never ended by its caller: the next
 * begin reconnects and really begins (a rollback undoes what follows). */
static void test_begin_after_lost_batch(void **state)
{
    if (!test_db_pg())
        skip();
    store_t *s = *state;
    store_device_t d;
    assert_int_equal(store_begin(s), 0);
    kill_sessions();
    assert_int_equal(store_device_set_tags(s, "D1", "lost"), -EIO);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_device_set_tags(s, "D1", "undone"), 0);
    assert_int_equal(store_rollback(s), 0);
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_string_equal(d.tags, "");
}

/* No transaction inside another, on either backend; the open one goes on. */
static void test_nested_begin_refused(void **state)
{
    store_t *s = *state;
    store_device_t d;
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_device_set_tags(s, "D1", "kept"), 0);
    assert_int_equal(store_begin(s), -EIO);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_string_equal(d.tags, "kept");
}

typedef struct seen {
    int n;
    int64_t set_at_first, set_at_last;
    char first[64], last[64];
    char value_first[16];
} seen_t;

static int see(const store_param_t *p, void *ud)
{
    seen_t *w = ud;
    if (w->n == 0) {
        snprintf(w->first, sizeof w->first, "%s", p->name);
        snprintf(w->value_first, sizeof w->value_first, "%s", p->value ? p->value : "(null)");
        w->set_at_first = p->set_at;
    }
    snprintf(w->last, sizeof w->last, "%s", p->name);
    w->set_at_last = p->set_at;
    w->n++;
    return 0;
}

/* 1,200 values (several statements' worth) with names twice, close
 * together and far apart: the later value wins; a value reported again
 * unchanged keeps when it was set, a changed one gets the new time. */
static void test_long_list(void **state)
{
    store_t *s = *state;
    enum { N = 1200 };
    static char names[N][48], vals[N][16];
    static store_param_t p[N];
    for (int i = 0; i < N; i++) {
        int k = i == 11 ? 10 : i == 900 ? 3 : i;
        snprintf(names[i], sizeof names[i], "L.Host.%04d.Name", k);
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        p[i] = (store_param_t){ names[i], vals[i], "xsd:string", -1, 0, NULL, 0, -1, NULL };
    }
    assert_int_equal(store_params_put(s, "D1", p, N, 100), 0);
    snprintf(vals[N - 1], sizeof vals[N - 1], "changed");
    assert_int_equal(store_params_put(s, "D1", p, N, 200), 0);
    seen_t w = { 0 };
    assert_int_equal(store_params_list(s, "D1", "L.", see, &w), 0);
    assert_int_equal(w.n, N - 2);
    assert_string_equal(w.first, "L.Host.0000.Name");
    assert_int_equal(w.set_at_first, 100);
    assert_string_equal(w.last, "L.Host.1199.Name");
    assert_int_equal(w.set_at_last, 200);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_params_list(s, "D1", "L.Host.0003.", see, &w), 0);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.value_first, "v900");
    memset(&w, 0, sizeof w);
    assert_int_equal(store_params_list(s, "D1", "L.Host.0010.", see, &w), 0);
    assert_string_equal(w.value_first, "v11");
    assert_int_equal(store_params_put(s, "NOPE", p, 1, 1), -ENOENT);
    assert_int_equal(store_params_put(s, "NOPE", p, 0, 1), -ENOENT);
    assert_int_equal(store_params_put(s, "D1", p, 0, 1), 0);
}

/* Names sort and match by bytes (SQLite's BINARY order), whatever the
 * database's locale: 'B' < '_' < 'b', and a prefix is not case-folded. */
static void test_byte_order(void **state)
{
    store_t *s = *state;
    store_param_t p[] = {
        { "O.b", "1", NULL, -1, 0, NULL, 0, -1, NULL },
        { "O._", "2", NULL, -1, 0, NULL, 0, -1, NULL },
        { "O.B", "3", NULL, -1, 0, NULL, 0, -1, NULL },
        { "O.\xc3\xa9", "4", NULL, -1, 0, NULL, 0, -1, NULL },
    };
    assert_int_equal(store_params_put(s, "D1", p, 4, 100), 0);
    seen_t w = { 0 };
    assert_int_equal(store_params_list(s, "D1", "O.", see, &w), 0);
    assert_int_equal(w.n, 4);
    assert_string_equal(w.first, "O.B");
    assert_string_equal(w.last, "O.\xc3\xa9");
    memset(&w, 0, sizeof w);
    assert_int_equal(store_params_list(s, "D1", "O.b", see, &w), 0);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.value_first, "1");
}

static int take_log(const store_session_t *ss, void *ud)
{
    snprintf(ud, 64, "%s", ss->log ? ss->log : "(null)");
    return 1;
}

/* A session's log is what the peer sent: a NUL or bytes that are not
 * UTF-8 must not lose the session row. */
static void test_session_log_bytes(void **state)
{
    store_t *s = *state;
    static const char log[] = "<a>\xff\xfe ok\xc3</a>\0tail";
    store_session_t ss = { .started = 5, .duration_ms = 1, .rpcs = 1 };
    snprintf(ss.device_id, sizeof ss.device_id, "D1");
    snprintf(ss.outcome, sizeof ss.outcome, "ok");
    assert_int_equal(store_session_add(s, &ss, log, sizeof log - 1), 0);
    assert_true(ss.id > 0);
    char got[64] = "";
    assert_int_equal(store_session_list(s, "D1", 10, take_log, got), 0);
    assert_int_equal(strncmp(got, "<a>", 3), 0);
}

/* A second store on the same database (another node, a command-line tool)
 * finds the schema in place. */
static void test_second_open(void **state)
{
    store_t *s2;
    assert_int_equal(store_open(dbpath, NULL, &s2), 0);
    assert_int_equal(store_schema_version(s2), SCHEMA_NOW);
    store_device_t d;
    assert_int_equal(store_device_get(s2, "D1", &d), 0);
    store_close(s2);
    (void)state;
}

/* A database a newer binary migrated is refused, not written with the
 * older schema's statements. */
static void test_newer_schema_refused(void **state)
{
    if (!test_db_pg())
        skip(); /* SQLite's user_version: test_store.c */
    store_t *s2;
    assert_int_equal(test_db_sql(dbpath, "UPDATE settings SET v = 999 WHERE k = $$schema_version$$"), 0);
    assert_int_equal(store_open(dbpath, NULL, &s2), -EPROTO);
    assert_int_equal(test_db_sql(dbpath, "UPDATE settings SET v = " SCHEMA_NOW_TEXT " WHERE k = $$schema_version$$"), 0);
    (void)state;
}

/* Schema 15 to 17's history trigger (one call per statement, rows in
 * param_history), as a version-17 database has it. */
#define PG_V17_HISTORY                                                                         \
    "CREATE FUNCTION params_keep_history() RETURNS trigger LANGUAGE plpgsql AS $$"             \
    " DECLARE keep bigint;"                                                                    \
    " BEGIN"                                                                                   \
    "  IF NOT EXISTS (SELECT 1 FROM params_old) THEN RETURN NULL; END IF;"                     \
    "  keep := COALESCE((SELECT v FROM settings WHERE k = $k$param_history$k$), 0);"           \
    "  WITH changed AS MATERIALIZED ("                                                         \
    "    SELECT device, name, max(value) FILTER (WHERE was) AS value, max(updated) AS updated," \
    "     max(set_at) AS set_at, max(set_by) AS set_by FROM ("                                 \
    "      SELECT device, name, value, updated, set_at, set_by, true AS was FROM params_old"   \
    "      UNION ALL SELECT device, name, value, NULL, NULL, NULL, false FROM params_new) t"   \
    "    GROUP BY device, name"                                                                \
    "    HAVING max(value) FILTER (WHERE was) IS NOT NULL"                                     \
    "     AND max(value) FILTER (WHERE was) IS DISTINCT FROM max(value) FILTER (WHERE NOT was)" \
    "    ORDER BY device, name),"                                                              \
    "   kept AS (INSERT INTO param_history (device, name, value, updated, set_by)"             \
    "    SELECT device, name, value, CASE WHEN set_at > 0 THEN set_at ELSE updated END, set_by" \
    "    FROM changed WHERE keep > 0)"                                                         \
    "  DELETE FROM param_history WHERE id = ANY (ARRAY("                                       \
    "    SELECT x.id FROM changed c, LATERAL (SELECT h.id FROM param_history h"                \
    "     WHERE h.device = c.device AND h.name = c.name"                                       \
    "     ORDER BY h.id DESC OFFSET GREATEST(keep - 1, 0)) x));"                               \
    "  RETURN NULL;"                                                                           \
    " END $$;"                                                                                 \
    "CREATE TRIGGER params_keep_history AFTER UPDATE ON params"                                \
    "  REFERENCING OLD TABLE AS params_old NEW TABLE AS params_new FOR EACH STATEMENT"         \
    "  EXECUTE FUNCTION params_keep_history();"

/* Migration 18 undone (the old values in their rows, the deleted ones'
 * trigger): a version-17 database, with schema 17's history trigger. Run
 * with the store closed: its statements name params.history. */
#define PG_UNDO_18                                                                             \
    "DROP TRIGGER params_keep_deleted ON params; DROP FUNCTION params_keep_deleted();"         \
    "ALTER TABLE params DROP COLUMN history; DROP TYPE param_old;" PG_V17_HISTORY             \
    "UPDATE settings SET v = 17 WHERE k = $k$schema_version$k$"

/* What migration 17 made, undone: an older database has none of it. */
#define PG_UNDO_17 "DROP TABLE file_chunks; DROP TABLE file_keys;"

/* A value changed as an older binary's store writes it, with the store
 * closed (the value, when and by whom; the database's triggers do the rest). */
static void sql_put(const char *name, const char *value, int64_t at)
{
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE params SET value = $$%s$$, updated = %lld, set_at = %lld,"
             " set_by = $$cpe$$ WHERE device = (SELECT rid FROM devices WHERE id = $$D1$$)"
             " AND name = $$%s$$", value, (long long)at, (long long)at, name);
    assert_int_equal(test_db_sql(dbpath, sql), 0);
}

/* The store closed and the database taken back to schema 17, then 16 and older */
static void pg_back_to_17(void **state)
{
    store_close(*state);
    *state = NULL;
    assert_int_equal(test_db_sql(dbpath, PG_UNDO_18), 0);
}

static void reopen(void **state)
{
    store_t *s;
    assert_int_equal(store_open(dbpath, NULL, &s), 0);
    *state = s;
    assert_int_equal(store_schema_version(s), SCHEMA_NOW);
}

/* Schema 14's history trigger (one call per row), as a version-14 database
 * has it: migration 15 replaces it, keeping the history already there. */
#define PG_V14_HISTORY                                                                        \
    "DROP TRIGGER params_keep_history ON params; ALTER TABLE params RESET (fillfactor);"       \
    "CREATE OR REPLACE FUNCTION params_keep_history() RETURNS trigger LANGUAGE plpgsql AS $$"  \
    " BEGIN"                                                                                  \
    "  INSERT INTO param_history(device, name, value, updated, set_by)"                        \
    "    VALUES (OLD.device, OLD.name, OLD.value,"                                             \
    "            CASE WHEN OLD.set_at > 0 THEN OLD.set_at ELSE OLD.updated END, OLD.set_by);"  \
    "  DELETE FROM param_history WHERE device = OLD.device AND name = OLD.name AND id <="      \
    "    (SELECT id FROM param_history WHERE device = OLD.device AND name = OLD.name"          \
    "     ORDER BY id DESC LIMIT 1 OFFSET (SELECT v FROM settings WHERE k = $k$param_history$k$));" \
    "  RETURN NULL;"                                                                           \
    " END $$;"                                                                                 \
    "CREATE TRIGGER params_keep_history AFTER UPDATE OF value ON params FOR EACH ROW"          \
    "  WHEN (OLD.value IS NOT NULL AND OLD.value IS DISTINCT FROM NEW.value)"                  \
    "  EXECUTE FUNCTION params_keep_history();"                                                \
    PG_UNDO_17 "UPDATE settings SET v = 14 WHERE k = $k$schema_version$k$"

/* A version-14 database with history: opening it migrates (a trigger per
 * statement, then the old values in their rows), the old values stay and
 * the next change adds to them. */
static void test_migrate_v14_history(void **state)
{
    if (!test_db_pg())
        skip(); /* SQLite's 15 changes nothing */
    store_param_t p = { .name = "X.A", .value = "1", .writable = -1 };
    assert_int_equal(store_params_put(*state, "D1", &p, 1, 100), 0);
    pg_back_to_17(state);
    assert_int_equal(test_db_sql(dbpath, PG_V14_HISTORY), 0);
    sql_put("X.A", "2", 200);
    sql_put("X.A", "3", 300);
    reopen(state);
    store_t *s = *state;
    /* no history trigger left, one for deleted rows, per statement (tgtype's bit 0: per row) */
    assert_int_equal(test_db_sql(dbpath, "SELECT 1 / (SELECT count(*) = 0 FROM pg_trigger WHERE tgrelid ="
                                         " $$params$$::regclass AND tgname = $$params_keep_history$$)::int"), 0);
    assert_int_equal(test_db_sql(dbpath, "SELECT 1 / (SELECT count(*) FROM pg_trigger WHERE tgrelid ="
                                         " $$params$$::regclass AND tgname = $$params_keep_deleted$$"
                                         " AND tgtype & 1 = 0)::int"), 0);
    p.value = "4";
    assert_int_equal(store_params_put(s, "D1", &p, 1, 400), 0);
    seen_t w = { 0 };
    assert_int_equal(store_param_history(s, "D1", "X.A", see, &w), 0);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.value_first, "3");
    assert_int_equal(w.set_at_first, 300);
    assert_int_equal(w.set_at_last, 100);
}

static int take_history(const store_param_t *p, void *ud)
{
    char *got = ud;
    size_t n = strlen(got);
    snprintf(got + n, 256 - n, "%s%s@%lld", n ? "," : "", p->value ? p->value : "(null)",
             (long long)p->set_at);
    return 0;
}

/* The history of D1's `name` is "v@at,v@at" (newest first) */
static void history_is(store_t *s, const char *name, const char *want)
{
    char got[256] = "";
    assert_int_equal(store_param_history(s, "D1", name, take_history, got), 0);
    assert_string_equal(got, want);
}

/* A version-17 database with old values in param_history, of live
 * parameters (changed in separate statements and in one) and of a deleted
 * one: opening it moves the live ones' into their rows, newest first, and
 * leaves the deleted one's; every parameter's history reads as before, and
 * the next changes add to it, trimmed to 5. */
static void test_migrate_v17_history(void **state)
{
    if (!test_db_pg())
        skip(); /* SQLite's 18 changes nothing */
    store_param_t p[] = { { .name = "X.A", .value = "1", .writable = -1 },
                          { .name = "X.B", .value = "b1", .writable = -1 },
                          { .name = "X.N", .value = NULL, .writable = 1 },
                          { .name = "Gone.C", .value = "c1", .writable = -1 } };
    assert_int_equal(store_params_put(*state, "D1", p, 4, 100), 0);
    pg_back_to_17(state);
    sql_put("X.A", "2", 200);
    sql_put("X.A", "3", 300);
    assert_int_equal(test_db_sql(dbpath, "UPDATE params SET value = value || $$x$$, set_at = 350"
                                         " WHERE name IN ($$X.A$$, $$X.B$$, $$X.N$$)"), 0);
    sql_put("Gone.C", "c2", 200);
    assert_int_equal(test_db_sql(dbpath, "DELETE FROM params WHERE name = $$Gone.C$$"), 0);
    reopen(state);
    store_t *s = *state;
    history_is(s, "X.A", "3@300,2@200,1@100");
    history_is(s, "X.B", "b1@100");
    history_is(s, "X.N", "");
    history_is(s, "Gone.C", "c1@100");
    assert_int_equal(test_db_sql(dbpath, "SELECT 1 / ((SELECT count(*) FROM param_history) = 1)::int"), 0);
    for (int i = 4; i <= 6; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        p[0].value = v;
        p[1].value = v;
        assert_int_equal(store_params_put(s, "D1", p, 2, 100 * i), 0);
    }
    history_is(s, "X.A", "5@500,4@400,3x@350,3@300,2@200");
    history_is(s, "X.B", "5@500,4@400,b1x@350,b1@100");
}

/* Schema 15's param_index update function (pg_search_init made it at open, schemas 12 to 15):
 * the old and new rows of a statement paired by a join. */
#define PG_V15_SEARCH                                                                          \
    "CREATE OR REPLACE FUNCTION params_index_update() RETURNS trigger LANGUAGE plpgsql AS $$"   \
    " BEGIN"                                                                                   \
    "  DELETE FROM param_index i USING params_old o"                                           \
    "   JOIN params_new n ON n.device = o.device AND n.name = o.name"                          \
    "   JOIN search_params s ON s.name = n.name"                                               \
    "   WHERE o.value IS DISTINCT FROM n.value"                                                \
    "    AND i.name = o.name AND i.value = o.value AND i.device = o.device;"                   \
    "  INSERT INTO param_index SELECT n.name, n.value, n.device FROM params_old o"             \
    "   JOIN params_new n ON n.device = o.device AND n.name = o.name"                          \
    "   JOIN search_params s ON s.name = n.name"                                               \
    "   WHERE o.value IS DISTINCT FROM n.value AND n.value IS NOT NULL ON CONFLICT DO NOTHING;" \
    "  RETURN NULL;"                                                                           \
    " END $$;"                                                                                 \
    PG_UNDO_17 "UPDATE settings SET v = 15 WHERE k = $k$schema_version$k$"

/* param_index is exactly `want` (name=value@device, sorted, comma-separated) */
static void pg_index_is(const char *want)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT 1 / ((SELECT COALESCE(string_agg(i.name || $$=$$ || i.value || $$@$$ || d.id,"
             " $$,$$ ORDER BY i.name, i.value, d.id), $$$$) FROM param_index i JOIN devices d"
             " ON d.rid = i.device) = $$%s$$)::int", want);
    if (test_db_sql(dbpath, sql) != 0)
        fail_msg("param_index is not %s", want);
}

static void put_one(store_t *s, const char *device, const char *name, const char *value, int64_t now)
{
    store_param_t p = { .name = name, .value = value, .writable = -1 };
    assert_int_equal(store_params_put(s, device, &p, 1, now), 0);
}

/* A version-15 database with a --search-param: opening it migrates (the update function
 * replaced, the triggers kept), param_index keeps its rows, and the next change of an indexed
 * value is followed by the new function. */
static void test_migrate_v15_search(void **state)
{
    if (!test_db_pg())
        skip(); /* SQLite's 16 changes nothing */
    store_t *s = *state;
    store_device_t d = { .first_seen = 10, .last_inform = 10 };
    snprintf(d.id, sizeof d.id, "D2");
    assert_int_equal(store_device_inform(s, &d, false), 0);
    static const char *const names[] = { "X.A" };
    assert_int_equal(store_search_params_set(s, names, 1), 0);
    put_one(s, "D1", "X.A", "1", 100);
    put_one(s, "D2", "X.A", "2", 100);
    put_one(s, "D1", "X.B", "1", 100); /* not indexed */
    pg_back_to_17(state);
    assert_int_equal(test_db_sql(dbpath, PG_V15_SEARCH), 0);
    sql_put("X.A", "3", 200); /* through schema 15's function */
    pg_index_is("X.A=2@D2,X.A=3@D1");
    reopen(state);
    s = *state;
    assert_int_equal(test_db_sql(dbpath, "SELECT 1 / (SELECT count(*) FROM pg_proc WHERE proname ="
                                         " $$params_index_update$$ AND prosrc NOT LIKE $$%JOIN params_new%$$"
                                         " AND prosrc LIKE $$%GROUP BY%$$)::int"), 0);
    assert_int_equal(test_db_sql(dbpath, "SELECT 1 / ((SELECT count(*) FROM pg_trigger WHERE tgrelid ="
                                         " $$params$$::regclass AND tgname LIKE $$params_index_%$$"
                                         " AND tgtype & 1 = 0) = 3)::int"), 0);
    pg_index_is("X.A=2@D2,X.A=3@D1");
    put_one(s, "D1", "X.A", "4", 300);
    put_one(s, "D2", "X.A", "2", 300); /* unchanged */
    put_one(s, "D1", "X.B", "2", 300);
    pg_index_is("X.A=2@D2,X.A=4@D1");
}

static void *open_one(void *arg)
{
    store_t *s = NULL;
    intptr_t rc = store_open(arg, NULL, &s);
    if (rc == 0 && store_schema_version(s) != SCHEMA_NOW)
        rc = -EINVAL;
    store_close(s);
    return (void *)rc;
}

/* Nodes starting together on an empty database: one migrates, the others
 * wait for it and find the schema made. */
static void test_concurrent_first_open(void **state)
{
    if (!test_db_pg())
        skip(); /* one SQLite file, one process */
    char fresh[TEST_DB_MAX];
    assert_int_equal(test_db_new(fresh, sizeof fresh, "/tmp/store-be-XXXXXX"), 0);
    enum { N = 4 };
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, open_one, fresh), 0);
    for (int i = 0; i < N; i++) {
        void *rc;
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_int_equal((intptr_t)rc, 0);
    }
    test_db_drop(fresh);
    (void)state;
}

static void test_bad_url(void **state)
{
    store_t *s;
    assert_int_equal(store_open("postgresql://nobody@/nodb?host=/nonexistent-dir&connect_timeout=2",
                                NULL, &s), -EIO);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lost_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_begin_after_lost_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_begin_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_log_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v14_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v15_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v17_history, setup, teardown),
        cmocka_unit_test(test_concurrent_first_open),
        cmocka_unit_test(test_bad_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
