/*
 * store_sqlite: the SQLite backend. WAL journal, versioned migrations
 * (PRAGMA user_version), prepared statements kept for the connection's
 * life, and a trigger that keeps each parameter's bounded history so a
 * value change costs no extra round trip.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "store/store_sqlite.h"

/* Each migration moves the schema from version i to i+1; never edit one
 * that has shipped, append a new one. */
static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE settings (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
    /* rid: a small integer key for the parameter rows (keys of 500-row
     * parameter lists are compared a lot; text device ids made them ~40%
     * slower to write). */
    "CREATE TABLE devices ("
    "  rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, manufacturer TEXT NOT NULL DEFAULT '', oui TEXT NOT NULL DEFAULT '',"
    "  product_class TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '',"
    "  software_version TEXT NOT NULL DEFAULT '', hardware_version TEXT NOT NULL DEFAULT '',"
    "  ip TEXT NOT NULL DEFAULT '', cr_url TEXT NOT NULL DEFAULT '', cr_user TEXT NOT NULL DEFAULT '',"
    "  cr_pass TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '',"
    "  first_seen INTEGER NOT NULL, last_inform INTEGER NOT NULL,"
    "  periodic_interval INTEGER NOT NULL DEFAULT 0, last_events TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX devices_serial ON devices(serial);"
    "CREATE INDEX devices_class ON devices(product_class);"
    "CREATE TABLE params ("
    "  device INTEGER NOT NULL, name TEXT NOT NULL, value TEXT, type TEXT NOT NULL DEFAULT '',"
    "  writable INTEGER NOT NULL DEFAULT -1, updated INTEGER NOT NULL,"
    "  PRIMARY KEY (device, name)) WITHOUT ROWID;"
    "CREATE TABLE param_history ("
    "  id INTEGER PRIMARY KEY, device INTEGER NOT NULL, name TEXT NOT NULL, value TEXT,"
    "  updated INTEGER NOT NULL);"
    "CREATE INDEX param_history_key ON param_history(device, name, id);"
    "CREATE TRIGGER params_keep_history AFTER UPDATE OF value ON params"
    "  WHEN old.value IS NOT NULL AND old.value IS NOT new.value BEGIN"
    "  INSERT INTO param_history(device, name, value, updated)"
    "    VALUES (old.device, old.name, old.value, old.updated);"
    "  DELETE FROM param_history WHERE device = old.device AND name = old.name AND id <="
    "    (SELECT id FROM param_history WHERE device = old.device AND name = old.name"
    "     ORDER BY id DESC LIMIT 1 OFFSET (SELECT v FROM settings WHERE k = 'param_history'));"
    "  END;"
    "CREATE TABLE tasks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, type TEXT NOT NULL,"
    "  params TEXT NOT NULL DEFAULT '{}', status INTEGER NOT NULL DEFAULT 0, result TEXT,"
    "  fault_code INTEGER NOT NULL DEFAULT 0, fault_string TEXT NOT NULL DEFAULT '',"
    "  attempts INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  sent_at INTEGER NOT NULL DEFAULT 0, done_at INTEGER NOT NULL DEFAULT 0,"
    "  expires_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX tasks_device ON tasks(device_id, status, id);"
    "CREATE INDEX tasks_status ON tasks(status);"
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, started INTEGER NOT NULL,"
    "  duration_ms INTEGER NOT NULL, events TEXT NOT NULL, rpcs INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL, log TEXT);"
    "CREATE INDEX sessions_device ON sessions(device_id, id);",
    /* 2: what became of the connection request that woke the device for a task */
    "ALTER TABLE tasks ADD COLUMN wakeup TEXT NOT NULL DEFAULT '';",
    /* 3: that outcome as status, reason and time; version 2's text ("ok
     * http_status=200 at=...", "failed ...: reason") becomes the reason */
    "ALTER TABLE tasks ADD COLUMN cr_status TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tasks ADD COLUMN cr_reason TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tasks ADD COLUMN cr_at INTEGER NOT NULL DEFAULT 0;"
    "UPDATE tasks SET cr_status = CASE WHEN wakeup LIKE 'ok%' THEN 'ok' ELSE 'failed' END,"
    "  cr_reason = wakeup, cr_at = updated WHERE wakeup <> '';"
    "ALTER TABLE tasks DROP COLUMN wakeup;",
    /* 4: tasks by when they finished (the ACS counts those finished since its
     * last look, for /metrics) */
    "CREATE INDEX tasks_done ON tasks(done_at) WHERE status >= 2;",
    /* 5: provisioning. Presets (JSON bodies, from the API or the config
     * file), Lua sources of provisions and virtual parameters, and what
     * became of each preset on each device (store_sqlite_prov.c). */
    "CREATE TABLE presets ("
    "  name TEXT PRIMARY KEY, body TEXT NOT NULL, source TEXT NOT NULL DEFAULT 'api',"
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE provisions ("
    "  name TEXT PRIMARY KEY, script TEXT NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE virtual_parameters ("
    "  name TEXT PRIMARY KEY, script TEXT NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE preset_runs ("
    "  device_id TEXT NOT NULL, preset TEXT NOT NULL, status INTEGER NOT NULL,"
    "  fault_code INTEGER NOT NULL DEFAULT 0, fault_message TEXT NOT NULL DEFAULT '',"
    "  tries INTEGER NOT NULL DEFAULT 0, next_retry INTEGER NOT NULL DEFAULT 0,"
    "  last_event INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL,"
    "  PRIMARY KEY (device_id, preset)) WITHOUT ROWID;"
    "CREATE INDEX preset_runs_preset ON preset_runs(preset);",
    /* 6: a fault's provision and script line; the records a later session
     * owes a run (a fault still to retry, a cleared one), found at start
     * without reading every record */
    "ALTER TABLE preset_runs ADD COLUMN fault_provision TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE preset_runs ADD COLUMN fault_line INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX preset_runs_owed ON preset_runs(device_id)"
    "  WHERE status = 3 OR (status = 2 AND next_retry > 0);",
    /* 7 (API keys): bearer tokens with roles, stored as the SHA-256 of
     * their secret; keys_version changes with every add and delete so a
     * running ACS sees what `outpost acs keys` did (store_sqlite_keys.c) */
    "CREATE TABLE api_keys ("
    "  id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL,"
    "  created INTEGER NOT NULL, last_used INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO settings (k, v) VALUES ('keys_version', 0);",
    /* 8: webhooks (store_sqlite_hooks.c). The durable delivery queue: one
     * row per (hook, event), status 0 pending, 1 delivered, 2 failed; a
     * pending row is due at next_attempt unless a dispatcher holds it
     * (lease_until, cleared at start). And the devices a device.offline
     * event was queued for, so it is sent once per offline spell. */
    "CREATE TABLE webhook_deliveries ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, hook TEXT NOT NULL, event TEXT NOT NULL,"
    "  body TEXT NOT NULL, status INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0,"
    "  deadline INTEGER NOT NULL, last_status INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt) WHERE status = 0;"
    "CREATE INDEX webhook_deliveries_status ON webhook_deliveries(status, id);"
    "CREATE TABLE webhook_offline (device_id TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;",
    /* 9 (history): who set a value (cpe/acs) and when, kept in the history
     * too; notification attributes per parameter; the RPCs of a session;
     * failed tasks an operator cleared; open faults found without a scan
     * (store_sqlite_history.c) */
    "ALTER TABLE params ADD COLUMN set_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE params ADD COLUMN set_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE params ADD COLUMN notification INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE params ADD COLUMN access_list TEXT;"
    "ALTER TABLE param_history ADD COLUMN set_by TEXT NOT NULL DEFAULT '';"
    "DROP TRIGGER params_keep_history;"
    /* rows from before have set_at 0: when they were last written stands in */
    "CREATE TRIGGER params_keep_history AFTER UPDATE OF value ON params"
    "  WHEN old.value IS NOT NULL AND old.value IS NOT new.value BEGIN"
    "  INSERT INTO param_history(device, name, value, updated, set_by)"
    "    VALUES (old.device, old.name, old.value,"
    "            CASE WHEN old.set_at > 0 THEN old.set_at ELSE old.updated END, old.set_by);"
    "  DELETE FROM param_history WHERE device = old.device AND name = old.name AND id <="
    "    (SELECT id FROM param_history WHERE device = old.device AND name = old.name"
    "     ORDER BY id DESC LIMIT 1 OFFSET (SELECT v FROM settings WHERE k = 'param_history'));"
    "  END;"
    "ALTER TABLE sessions ADD COLUMN rpc_list TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tasks ADD COLUMN fault_cleared INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX tasks_open_faults ON tasks(done_at) WHERE status = 3 AND fault_cleared = 0;"
    "CREATE INDEX preset_runs_faults ON preset_runs(updated) WHERE status = 2;"
    "ALTER TABLE devices ADD COLUMN session_log INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX devices_session_log ON devices(id) WHERE session_log = 1;",
    /* 10 (files): the file store's metadata (store_sqlite_files.c); the bytes
     * are files in the data directory */
    "CREATE TABLE files ("
    "  name TEXT PRIMARY KEY, file_type TEXT NOT NULL, oui TEXT NOT NULL DEFAULT '',"
    "  product_class TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '',"
    "  size INTEGER NOT NULL, sha256 TEXT NOT NULL, username TEXT NOT NULL DEFAULT '',"
    "  password TEXT NOT NULL DEFAULT '', task_id INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;",
    /* 11: fleet search and bulk tasks (store_sqlite_search.c, _bulk.c): the
     * --search-param values by (name, value, device), mirrored by triggers
     * made only while there are such names (an index over all of params
     * made 500-parameter writes 3-4x slower); devices by last inform and
     * version; bulks, whose tasks are held until the bulk releases them. */
    "CREATE TABLE search_params (name TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE param_index (name TEXT NOT NULL, value TEXT NOT NULL, device INTEGER NOT NULL,"
    "  PRIMARY KEY (name, value, device)) WITHOUT ROWID;"
    "CREATE INDEX devices_last_inform ON devices(last_inform);"
    "CREATE INDEX devices_version ON devices(software_version);"
    "CREATE TABLE bulks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, params TEXT NOT NULL,"
    "  filter TEXT NOT NULL DEFAULT '', total INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  max_in_flight INTEGER NOT NULL DEFAULT 0, max_failure_ratio REAL NOT NULL DEFAULT 0,"
    "  min_finished INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "ALTER TABLE tasks ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX tasks_bulk ON tasks(bulk, status, held) WHERE bulk > 0;",
    /* 12: how a CPE behind NAT is reached (TR-069 Annex G and K): its UDP
     * connection-request address ("host:port") with when it was learnt, its
     * NATDetected, its XMPP JID. NULL: never reported (an Inform that does
     * not carry them keeps what was learnt). */
    "ALTER TABLE devices ADD COLUMN cr_udp TEXT;"
    "ALTER TABLE devices ADD COLUMN cr_udp_at INTEGER;"
    "ALTER TABLE devices ADD COLUMN cr_nat INTEGER;"
    "ALTER TABLE devices ADD COLUMN cr_jid TEXT;",
    /* 13: a task's long parameters (a 500-name read: 24 KB) in a table of
     * their own. A task row is updated at least twice (sent, finished), and
     * SQLite writes a changed row whole, its overflow pages too: two thirds
     * of what such a session wrote (bench/RESULTS.md, the ACS's hot path).
     * Short ones stay in tasks.params; readers take task_params' when there
     * is one (TASK_COLS). */
    "CREATE TABLE task_params (id INTEGER PRIMARY KEY, params TEXT NOT NULL);"
    "CREATE TRIGGER task_params_gone AFTER DELETE ON tasks BEGIN"
    "  DELETE FROM task_params WHERE id = old.id; END;",
    /* 14 (cluster): a sent task's owner (the node that sent it) and its
     * lease (Unix seconds): the owner renews it while the task is in one of
     * its live sessions; a re-runnable task whose lease ran out goes back to
     * the queue (store_task_recover). Rows sent before: lease 0, expired. */
    "ALTER TABLE tasks ADD COLUMN node TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tasks ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX tasks_leased ON tasks(lease_until) WHERE status = 1;",
    /* 15: nothing here. PostgreSQL's history trigger became one call per
     * statement (store_pg_schema.c's 15); SQLite's row trigger is a few
     * steps of the same statement, not a call of its own. */
    "SELECT 1;",
    /* 16: nothing here either. PostgreSQL's search functions moved into its
     * migrations and its param_index update trigger pairs a statement's rows
     * by grouping (store_pg_schema.c's 16); SQLite's are row triggers and a
     * C function (store_sqlite_search.c). */
    "SELECT 1;",
    /* 17 (files in a shared store): PostgreSQL keeps file contents and the
     * upload key in the database (store_pg_schema.c's 17). Nothing here: one
     * node keeps its files on disk. */
    "SELECT 1;",
    /* 18: nothing here. PostgreSQL keeps a parameter's old values in its
     * row, written by the statement that changes the value, instead of a
     * per-statement trigger's inserts and deletes (store_pg_schema.c's 18);
     * SQLite's row trigger is a few steps of the same statement. Empty so
     * both backends number their schemas alike. */
    "SELECT 1;",    /* 19: nothing here either: a deleted device's parameters no longer
     * copy their old values on PostgreSQL (store_pg_schema.c's 19); here
     * the device delete never did. */
    "SELECT 1;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))


static const char *const queries[Q_COUNT] = {
    [Q_DEV_INFORM] =
        "INSERT INTO devices (id, manufacturer, oui, product_class, serial, software_version,"
        " hardware_version, ip, cr_url, cr_user, cr_pass, tags, first_seen, last_inform,"
        " periodic_interval, last_events) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?13,?14,?15)"
        " ON CONFLICT(id) DO UPDATE SET manufacturer=excluded.manufacturer, oui=excluded.oui,"
        " product_class=excluded.product_class, serial=excluded.serial,"
        " software_version=CASE WHEN excluded.software_version<>'' THEN excluded.software_version ELSE software_version END,"
        " hardware_version=CASE WHEN excluded.hardware_version<>'' THEN excluded.hardware_version ELSE hardware_version END,"
        " ip=excluded.ip,"
        " cr_url=CASE WHEN excluded.cr_url<>'' THEN excluded.cr_url ELSE cr_url END,"
        " cr_user=CASE WHEN excluded.cr_user<>'' THEN excluded.cr_user ELSE cr_user END,"
        " cr_pass=CASE WHEN excluded.cr_pass<>'' THEN excluded.cr_pass ELSE cr_pass END,"
        " tags=CASE WHEN excluded.tags<>'' THEN excluded.tags ELSE tags END,"
        " last_inform=excluded.last_inform,"
        " periodic_interval=CASE WHEN excluded.periodic_interval>0 THEN excluded.periodic_interval ELSE periodic_interval END,"
        " last_events=excluded.last_events",
    /* Q_DEV_INFORM's update for an Inform that changes no indexed column
     * (SQLite maintains the indexes of the columns an UPDATE sets, changed
     * or not): the same row as the upsert makes, when it matches */
    [Q_DEV_TOUCH] =
        "UPDATE devices SET ip=?8,"
        " cr_url=CASE WHEN ?9<>'' THEN ?9 ELSE cr_url END,"
        " cr_user=CASE WHEN ?10<>'' THEN ?10 ELSE cr_user END,"
        " cr_pass=CASE WHEN ?11<>'' THEN ?11 ELSE cr_pass END,"
        " tags=CASE WHEN ?12<>'' THEN ?12 ELSE tags END,"
        " last_inform=?13,"
        " periodic_interval=CASE WHEN ?14>0 THEN ?14 ELSE periodic_interval END,"
        " last_events=?15"
        " WHERE id=?1 AND manufacturer=?2 AND oui=?3 AND product_class=?4 AND serial=?5"
        " AND (?6='' OR software_version=?6) AND (?7='' OR hardware_version=?7)",
    [Q_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE id = ?1",
    [Q_PARAMS_FORGET] = "DELETE FROM params WHERE device = (SELECT rid FROM devices WHERE id = ?1)",
    [Q_DEV_RID] = "SELECT rid FROM devices WHERE id = ?1",
    /* set_by/set_at: who made the value what it is, and when; a value
     * reported again unchanged keeps them (SET reads the old row) */
    [Q_PARAM_PUT] = "INSERT INTO params (device, name, value, type, writable, updated, set_by, set_at)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6) ON CONFLICT(device, name) DO UPDATE SET"
                    " value=excluded.value,"
                    " type=CASE WHEN excluded.type<>'' THEN excluded.type ELSE type END,"
                    " writable=CASE WHEN excluded.writable>=0 THEN excluded.writable ELSE writable END,"
                    " updated=excluded.updated," PARAM_SET_BY,
    [Q_PARAM_PUT_NAME] = "INSERT INTO params (device, name, value, writable, updated)"
                         " VALUES (?1, ?2, NULL, ?3, ?4) ON CONFLICT(device, name) DO UPDATE SET"
                         " writable=CASE WHEN excluded.writable>=0 THEN excluded.writable ELSE writable END",
    [Q_TASK_ADD] = "INSERT INTO tasks (device_id, type, params, status, created, updated, expires_at)"
                   " VALUES (?1, ?2, ?3, 0, ?4, ?4, ?5)",
    [Q_TASK_GET] = "SELECT " TASK_COLS " FROM tasks"
                   " WHERE id = ?1",
    [Q_TASK_SENT] = "UPDATE tasks SET status = 1, attempts = attempts + 1, sent_at = ?2, updated = ?2,"
                    " node = ?3, lease_until = ?4 WHERE id = ?1 AND status = 0",
    [Q_TASK_FINISH] = "UPDATE tasks SET status = ?2, result = ?3, fault_code = ?4, fault_string = ?5,"
                      " done_at = ?6, updated = ?6 WHERE id = ?1 AND status IN (0, 1)",
    [Q_SESSION_ADD] = "INSERT INTO sessions (device_id, started, duration_ms, events, rpcs, outcome, log,"
                      " rpc_list) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_SESSION_TRIM] = "DELETE FROM sessions WHERE device_id = ?1 AND id <= (SELECT id FROM sessions"
                       " WHERE device_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    [Q_TASK_PENDING] = "SELECT " TASK_COLS " FROM tasks"
                       " WHERE device_id = ?1 AND status = 0 AND held = 0 ORDER BY id LIMIT ?2",
    [Q_TASK_HAS_PENDING] = "SELECT EXISTS (SELECT 1 FROM tasks WHERE device_id = ?1 AND status = 0 AND held = 0)",
    /* Prepared once: the worker runs four of these per job. */
    /* a device's preset records: read and written at each of its sessions */
    [Q_RUN_PUT] = "INSERT OR REPLACE INTO preset_runs (device_id, preset, status, fault_code,"
                  " fault_message, tries, next_retry, last_event, updated, fault_provision,"
                  " fault_line) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [Q_RUN_LIST] = "SELECT " RUN_COLS " FROM preset_runs WHERE device_id = ?1 ORDER BY preset",
    /* a prefix range on the primary key: name >= prefix AND name < prefix+0xFF */
    [Q_PARAMS_LIST] = "SELECT " PARAM_COLS " FROM params"
                      " WHERE device = (SELECT rid FROM devices WHERE id = ?1) ORDER BY name",
    [Q_PARAMS_LIST_PREFIX] = "SELECT " PARAM_COLS " FROM params"
                             " WHERE device = (SELECT rid FROM devices WHERE id = ?1)"
                             " AND name >= ?2 AND name < ?3 ORDER BY name",
    [Q_TX_BEGIN] = "BEGIN IMMEDIATE",
    [Q_TX_COMMIT] = "COMMIT",
    [Q_TX_ROLLBACK] = "ROLLBACK",
    [Q_TX_SAVEPOINT] = "SAVEPOINT job",
    [Q_TX_RELEASE] = "RELEASE job",
    [Q_TX_ROLLBACK_TO] = "ROLLBACK TO job",
    [Q_TASK_PARAMS_ADD] = "INSERT INTO task_params (id, params) VALUES (?1, ?2)",
    [Q_TASK_ADD_SAVEPOINT] = "SAVEPOINT task_add",
    [Q_TASK_ADD_RELEASE] = "RELEASE task_add",
    [Q_TASK_ADD_ROLLBACK_TO] = "ROLLBACK TO task_add",
    /* a finished task's outcome, without its (possibly large) params and result */
    [Q_TASK_OUTCOME] = "SELECT id, device_id, type, status, fault_code, fault_string FROM tasks"
                       " WHERE id = ?1",
};

int sq_err(sq_t *q, const char *what)
{
    log_error("store_sqlite", LF_S("op", what), LF_S("reason", sqlite3_errmsg(q->db)));
    return -EIO;
}

static char *put_many_sql(void)
{
    static char sql[8192];
    if (sql[0])
        return sql;
    size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO params (device, name, value, type,"
                                                 " writable, updated, set_by, set_at) VALUES ");
    for (int i = 0; i < PUT_MANY; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s(?1,?%d,?%d,?%d,?%d,?2,'cpe',?2)", i ? "," : "",
                              4 * i + 3, 4 * i + 4, 4 * i + 5, 4 * i + 6);
    snprintf(sql + n, sizeof sql - n, " ON CONFLICT(device, name) DO UPDATE SET value=excluded.value,"
                                      " type=CASE WHEN excluded.type<>'' THEN excluded.type ELSE type END,"
                                      " writable=CASE WHEN excluded.writable>=0 THEN excluded.writable"
                                      " ELSE writable END,"
                                      " updated=excluded.updated," PARAM_SET_BY);
    return sql;
}

sqlite3_stmt *sq_stmt(sq_t *q, int i)
{
    const char *sql = i == Q_PARAM_PUT_MANY         ? put_many_sql()
                      : i == Q_PARAM_PUT_NAMES_MANY ? sq_put_names_sql()
                                                    : queries[i];
    if (!q->st[i] && sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                        &q->st[i], NULL) != SQLITE_OK) {
        sq_err(q, "prepare");
        return NULL;
    }
    sqlite3_reset(q->st[i]);
    sqlite3_clear_bindings(q->st[i]);
    return q->st[i];
}

sqlite3_stmt *sq_prepare(sq_t *q, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sq_err(q, "prepare");
        return NULL;
    }
    return st;
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

/* Run a statement that returns no rows; returns changes() or -EIO. */
int sq_step_done(sq_t *q, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_err(q, what);
    return sqlite3_changes(q->db);
}

int sq_exec(sq_t *q, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store_sqlite", LF_S("op", "exec"), LF_S("reason", msg ? msg : "?"));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

void sq_col_copy(sqlite3_stmt *st, int i, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    str_copy(out, len, t ? (const char *)t : "");
}

char *sq_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

/* ---- open / close / transactions ----------------------------------------------- */

static int user_version(sq_t *q)
{
    sqlite3_stmt *st = sq_prepare(q, "PRAGMA user_version");
    int v = -1;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int migrate(sq_t *q)
{
    int v = user_version(q);
    if (v < 0)
        return -EIO;
    if (v > NMIGRATIONS) {
        log_error("store_sqlite", LF_S("reason", "database is newer than this binary"),
                  LF_I("version", v), LF_I("known", NMIGRATIONS));
        return -EPROTO;
    }
    for (; v < NMIGRATIONS; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (sq_exec(q, "BEGIN IMMEDIATE") < 0)
            return -EIO;
        if (sq_exec(q, migrations[v]) < 0 || sq_exec(q, sql) < 0) {
            sq_exec(q, "ROLLBACK");
            return -EIO;
        }
        if (sq_exec(q, "COMMIT") < 0)
            return -EIO;
        log_info("store_migrated", LF_I("version", v + 1));
    }
    return 0;
}

static void sq_close(store_t *s)
{
    sq_t *q = SQ(s);
    sq_ckpt_stop(q);
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close(q->db);
    free(q);
}

static void sq_global_init(void)
{
    /* Memory statistics take a global mutex on every allocation; nothing
     * here reads them. Must run before SQLite initialises. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* Keep savepoint journals in memory however large (store_worker puts
     * every job in a savepoint; the default spills them to temp files). */
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
}

/* A database file in WAL mode (not one in memory, nor a file system
 * without WAL support). */
static bool wal_mode(sq_t *q)
{
    const char *file = sqlite3_db_filename(q->db, "main");
    sqlite3_stmt *st = file && *file ? sq_prepare(q, "PRAGMA journal_mode") : NULL;
    bool wal = st && sqlite3_step(st) == SQLITE_ROW &&
               sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    return wal;
}

static int sq_open(const char *path, const store_opts_t *o, store_t **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sq_global_init);
    sq_t *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->base.be = &store_sqlite_backend;
    q->o = *o;
    if (sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        log_error("store_open", LF_S("path", path),
                  LF_S("reason", q->db ? sqlite3_errmsg(q->db) : "out of memory"));
        sqlite3_close(q->db);
        free(q);
        return -EIO;
    }
    sqlite3_busy_timeout(q->db, 5000);
    char sql[256];
    snprintf(sql, sizeof sql,
             /* 4 KiB pages (new databases only). Every store job runs in
              * a savepoint, which copies each page it first writes, and
              * the WAL gets whole pages: sessions touch a few rows of many
              * devices, so small pages make them ~10% cheaper (bench/acs.sh
              * (a), (e)) for ~7% on 500-row parameter lists (b). */
             "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
             " PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000;",
             o->sync_full ? "FULL" : "NORMAL");
    int rc = sq_exec(q, sql);
    if (!rc)
        rc = migrate(q);
    if (!rc)
        rc = sq_search_init(q->db);
    /* Every statement is prepared now, so a database whose tables do not
     * match this build (one from a development version with the same
     * user_version) stops the daemon at start with the reason, instead of
     * failing every later request. */
    for (int i = 0; !rc && i < Q_COUNT; i++)
        if (!sq_stmt(q, i)) {
            log_error("store_schema_mismatch", LF_S("path", path),
                      LF_S("reason", "the database's tables do not match this version of "
                                     "outpost; move it aside to start afresh"));
            rc = -EIO;
        }
    if (!rc) {
        /* a tool beside the daemon keeps the daemon's value */
        snprintf(sql, sizeof sql,
                 "INSERT INTO settings(k, v) VALUES ('param_history', %d)"
                 " ON CONFLICT(k) DO %s",
                 o->param_history, o->tool ? "NOTHING" : "UPDATE SET v = excluded.v");
        rc = sq_exec(q, sql);
    }
    if (!rc && !o->tool && wal_mode(q))
        rc = sq_ckpt_start(q, path);
    if (rc) {
        sq_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return 0;
}

static int sq_tx(store_t *s, int what)
{
    sq_t *q = SQ(s);
    if (what < 0 || what > 5)
        return -EINVAL;
    sqlite3_stmt *st = sq_stmt(q, Q_TX_BEGIN + what);
    if (!st || sq_step_done(q, st, "transaction") < 0)
        return -EIO;
    if (what == 5) { /* rolled back to the savepoint: now leave it */
        st = sq_stmt(q, Q_TX_RELEASE);
        if (!st || sq_step_done(q, st, "transaction") < 0)
            return -EIO;
    }
    return 0;
}

static int sq_version(store_t *s)
{
    return user_version(SQ(s));
}

/* ---- devices ------------------------------------------------------------------ */

void sq_dev_row(sqlite3_stmt *st, store_device_t *d)
{
    memset(d, 0, sizeof *d);
    sq_col_copy(st, 0, d->id, sizeof d->id);
    sq_col_copy(st, 1, d->manufacturer, sizeof d->manufacturer);
    sq_col_copy(st, 2, d->oui, sizeof d->oui);
    sq_col_copy(st, 3, d->product_class, sizeof d->product_class);
    sq_col_copy(st, 4, d->serial, sizeof d->serial);
    sq_col_copy(st, 5, d->software_version, sizeof d->software_version);
    sq_col_copy(st, 6, d->hardware_version, sizeof d->hardware_version);
    sq_col_copy(st, 7, d->ip, sizeof d->ip);
    sq_col_copy(st, 8, d->cr_url, sizeof d->cr_url);
    sq_col_copy(st, 9, d->cr_user, sizeof d->cr_user);
    sq_col_copy(st, 10, d->cr_pass, sizeof d->cr_pass);
    sq_col_copy(st, 11, d->tags, sizeof d->tags);
    d->first_seen = sqlite3_column_int64(st, 12);
    d->last_inform = sqlite3_column_int64(st, 13);
    d->periodic_interval = sqlite3_column_int64(st, 14);
    sq_col_copy(st, 15, d->last_events, sizeof d->last_events);
    sq_col_copy(st, 16, d->cr_udp, sizeof d->cr_udp);
    d->cr_udp_at = sqlite3_column_int64(st, 17);
    d->cr_nat = sqlite3_column_int(st, 18) == 1;
    sq_col_copy(st, 19, d->cr_jid, sizeof d->cr_jid);
}

static void bind_inform(sqlite3_stmt *st, const store_device_t *d)
{
    sq_bind_text(st, 1, d->id);
    sq_bind_text(st, 2, d->manufacturer);
    sq_bind_text(st, 3, d->oui);
    sq_bind_text(st, 4, d->product_class);
    sq_bind_text(st, 5, d->serial);
    sq_bind_text(st, 6, d->software_version);
    sq_bind_text(st, 7, d->hardware_version);
    sq_bind_text(st, 8, d->ip);
    sq_bind_text(st, 9, d->cr_url);
    sq_bind_text(st, 10, d->cr_user);
    sq_bind_text(st, 11, d->cr_pass);
    sq_bind_text(st, 12, d->tags);
    sqlite3_bind_int64(st, 13, d->last_inform);
    sqlite3_bind_int64(st, 14, d->periodic_interval);
    sq_bind_text(st, 15, d->last_events);
}

static int sq_device_inform(store_t *s, const store_device_t *d, bool bootstrap)
{
    sq_t *q = SQ(s);
    /* A known device whose identity and versions are unchanged (most
     * Informs): the update leaves the serial, class and version indexes
     * alone; otherwise (new, or changed) the whole upsert. */
    sqlite3_stmt *st = sq_stmt(q, Q_DEV_TOUCH);
    if (!st)
        return -EIO;
    bind_inform(st, d);
    int rc = sq_step_done(q, st, "device_inform");
    if (rc == 0) {
        if (!(st = sq_stmt(q, Q_DEV_INFORM)))
            return -EIO;
        bind_inform(st, d);
        rc = sq_step_done(q, st, "device_inform");
    }
    if (rc >= 0 && bootstrap) {
        st = sq_stmt(q, Q_PARAMS_FORGET);
        if (!st)
            return -EIO;
        sq_bind_text(st, 1, d->id);
        rc = sq_step_done(q, st, "params_forget");
    }
    return rc < 0 ? rc : 0;
}

static int sq_device_get(store_t *s, const char *id, store_device_t *out)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_DEV_GET);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sq_dev_row(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sq_err(q, "device_get");
}

static int run_simple(sq_t *q, const char *sql, const char *a, const char *b, const char *c,
                      const char *what)
{
    sqlite3_stmt *st = sq_prepare(q, sql);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, a);
    if (b)
        sq_bind_text(st, 2, b);
    if (c)
        sq_bind_text(st, 3, c);
    int rc = sq_step_done(q, st, what);
    sqlite3_finalize(st);
    return rc;
}

static int sq_device_delete(store_t *s, const char *id)
{
    sq_t *q = SQ(s);
    /* Parameters first: they are keyed by the device row. */
    if (run_simple(q, "DELETE FROM params WHERE device = (SELECT rid FROM devices WHERE id = ?1)",
                   id, NULL, NULL, "delete") < 0 ||
        run_simple(q, "DELETE FROM param_history WHERE device ="
                      " (SELECT rid FROM devices WHERE id = ?1)", id, NULL, NULL, "delete") < 0)
        return -EIO;
    int rc = run_simple(q, "DELETE FROM devices WHERE id = ?1", id, NULL, NULL, "device_delete");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ENOENT;
    if (run_simple(q, "DELETE FROM tasks WHERE device_id = ?1", id, NULL, NULL, "delete") < 0 ||
        run_simple(q, "DELETE FROM sessions WHERE device_id = ?1", id, NULL, NULL, "delete") < 0 ||
        run_simple(q, "DELETE FROM preset_runs WHERE device_id = ?1", id, NULL, NULL, "delete") < 0)
        return -EIO;
    return 0;
}

static int sq_device_set_tags(store_t *s, const char *id, const char *tags)
{
    int rc = run_simple(SQ(s), "UPDATE devices SET tags = ?2 WHERE id = ?1", id, tags, NULL, "tags");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

static int sq_device_set_cr_auth(store_t *s, const char *id, const char *user, const char *pass)
{
    int rc = run_simple(SQ(s), "UPDATE devices SET cr_user = ?2, cr_pass = ?3 WHERE id = ?1", id,
                        user, pass, "cr_auth");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int64_t sq_scalar(sq_t *q, const char *sql, int64_t a, int64_t b)
{
    sqlite3_stmt *st = sq_prepare(q, sql);
    int64_t v = -1;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int sq_stats(store_t *s, int64_t now, int64_t default_interval, store_stats_t *out)
{
    sq_t *q = SQ(s);
    out->total_devices = sq_scalar(q, "SELECT COUNT(*) FROM devices", 0, 0);
    out->online_devices = sq_scalar(q,
                                 "SELECT COUNT(*) FROM devices WHERE last_inform >= ?1 - (2 * (CASE"
                                 " WHEN periodic_interval > 0 THEN periodic_interval ELSE ?2 END) + 60)",
                                 now, default_interval);
    out->pending_tasks = sq_scalar(q, "SELECT COUNT(*) FROM tasks WHERE status = 0", 0, 0);
    out->sent_tasks = sq_scalar(q, "SELECT COUNT(*) FROM tasks WHERE status = 1", 0, 0);
    return out->total_devices < 0 || out->online_devices < 0 || out->pending_tasks < 0 ? -EIO : 0;
}

static int sq_device_counts(store_t *s, store_by_t by, int64_t limit, store_count_fn fn, void *ud,
                            int64_t *others)
{
    sq_t *q = SQ(s);
    /* both columns are indexed (devices_class, devices_version): a scan of the index */
    sqlite3_stmt *st = sq_prepare(q, by == STORE_BY_VERSION
                                         ? "SELECT software_version, COUNT(*) AS n FROM devices"
                                           " GROUP BY software_version ORDER BY n DESC, software_version"
                                         : "SELECT product_class, COUNT(*) AS n FROM devices"
                                           " GROUP BY product_class ORDER BY n DESC, product_class");
    if (!st)
        return -EIO;
    int64_t i = 0, rest = 0;
    bool stop = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 1);
        if (i++ < limit && !stop) {
            const char *v = (const char *)sqlite3_column_text(st, 0);
            stop = fn(v ? v : "", n, ud) != 0;
        } else {
            rest += n;
        }
    }
    sqlite3_finalize(st);
    if (others)
        *others = rest;
    return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Counts by type and status, of the open tasks or of those finished in [from, to). */
static int sq_task_counts(store_t *s, bool finished, int64_t from, int64_t to, store_task_count_fn fn,
                          void *ud)
{
    sq_t *q = SQ(s);
    /* tasks_status narrows the open ones and tasks_done the finished ones to
     * the rows asked for, however long the history */
    sqlite3_stmt *st = sq_prepare(q, finished ? "SELECT type, status, COUNT(*) FROM tasks"
                                                " WHERE status >= 2 AND done_at >= ?1 AND done_at < ?2"
                                                " GROUP BY type, status"
                                              : "SELECT type, status, COUNT(*) FROM tasks"
                                                " WHERE status IN (0, 1) GROUP BY type, status");
    if (!st)
        return -EIO;
    if (finished) {
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int64(st, 2, to);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
               sqlite3_column_int64(st, 2), ud))
            break;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_err(q, "task_counts");
}

static int sq_task_open_counts(store_t *s, store_task_count_fn fn, void *ud)
{
    return sq_task_counts(s, false, 0, 0, fn, ud);
}

static int sq_task_finished_counts(store_t *s, int64_t from, int64_t to, store_task_count_fn fn, void *ud)
{
    return sq_task_counts(s, true, from, to, fn, ud);
}

/* ---- parameters ----------------------------------------------------------------- */

static int sq_params_put(store_t *s, const char *dev, const store_param_t *p, size_t n, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_DEV_RID);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    int rc = sqlite3_step(st);
    int64_t rid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? -ENOENT : sq_err(q, "params_put");
    size_t i = 0;
    /* Runs of PUT_MANY values the CPE reported (with or without their
     * writability), or of names with their writability (GetParameterNames),
     * go together. A name twice in one run would make the statement fail:
     * such runs fall back to single rows below. */
    while (n - i >= PUT_MANY) {
        bool vals = true, names = true;
        for (size_t k = i; k < i + PUT_MANY && (vals || names); k++) {
            vals = vals && p[k].value && !sq_set_by_acs(&p[k]);
            names = names && !p[k].value && p[k].writable >= 0;
        }
        if (!vals && !names)
            break;
        st = sq_stmt(q, vals ? Q_PARAM_PUT_MANY : Q_PARAM_PUT_NAMES_MANY);
        if (!st)
            return -EIO;
        sqlite3_bind_int64(st, 1, rid);
        sqlite3_bind_int64(st, 2, now);
        for (int k = 0; k < PUT_MANY; k++) {
            const store_param_t *r = &p[i + (size_t)k];
            if (names) {
                sq_bind_text(st, 2 * k + 3, r->name);
                sqlite3_bind_int(st, 2 * k + 4, r->writable);
                continue;
            }
            sq_bind_text(st, 4 * k + 3, r->name);
            sq_bind_text(st, 4 * k + 4, r->value);
            sq_bind_text(st, 4 * k + 5, r->type);
            sqlite3_bind_int(st, 4 * k + 6, r->writable);
        }
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            break; /* e.g. a duplicate name within the run: do it row by row */
        i += PUT_MANY;
    }
    for (; i < n; i++) {
        st = sq_stmt(q, p[i].value ? Q_PARAM_PUT : Q_PARAM_PUT_NAME);
        if (!st)
            return -EIO;
        sqlite3_bind_int64(st, 1, rid);
        sq_bind_text(st, 2, p[i].name);
        if (p[i].value) {
            sq_bind_text(st, 3, p[i].value);
            sq_bind_text(st, 4, p[i].type);
            sqlite3_bind_int(st, 5, p[i].writable);
            sqlite3_bind_int64(st, 6, now);
            sq_bind_text(st, 7, sq_set_by_acs(&p[i]) ? STORE_SET_BY_ACS : STORE_SET_BY_CPE);
        } else {
            sqlite3_bind_int(st, 3, p[i].writable);
            sqlite3_bind_int64(st, 4, now);
        }
        if (sq_step_done(q, st, "params_put") < 0)
            return -EIO;
    }
    return 0;
}

static int sq_params_list(store_t *s, const char *dev, const char *prefix, store_param_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    /* A prefix range on the primary key: name >= prefix AND name < prefix+0xFF. */
    /* prepared once: provisioning reads a device's parameters at each of its sessions */
    sqlite3_stmt *st = sq_stmt(q, prefix && *prefix ? Q_PARAMS_LIST_PREFIX : Q_PARAMS_LIST);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    char hi[1100];
    if (prefix && *prefix) {
        sq_bind_text(st, 2, prefix);
        snprintf(hi, sizeof hi, "%s\xff", prefix);
        sq_bind_text(st, 3, hi);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_param_t p;
        sq_param_row(st, &p);
        if (fn(&p, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "params_list");
}

const store_backend_t store_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec_tx = sq_tx,
    .schema_version = sq_version,
    .device_inform = sq_device_inform,
    .device_get = sq_device_get,
    .device_delete = sq_device_delete,
    .device_set_tags = sq_device_set_tags,
    .device_set_cr_auth = sq_device_set_cr_auth,
    .stats = sq_stats,
    .device_counts = sq_device_counts,
    .task_open_counts = sq_task_open_counts,
    .task_finished_counts = sq_task_finished_counts,
    .params_put = sq_params_put,
    .params_list = sq_params_list,
    .param_history = sq_param_history,
    .task_add = sq_task_add,
    .task_get = sq_task_get,
    .task_outcome = sq_task_outcome,
    .task_list = sq_task_list,
    .task_query = sq_task_query,
    .task_has_pending = sq_task_has_pending,
    .task_mark_sent = sq_task_mark_sent,
    .task_finish = sq_task_finish,
    .task_cancel = sq_task_cancel,
    .task_requeue = sq_task_requeue,
    .task_set_cr = sq_task_set_cr,
    .task_recover = sq_task_recover,
    .task_lease_renew = sq_task_lease_renew,
    .try_leader = sq_try_leader,
    .notify = sq_notify,
    .task_expire = sq_task_expire,
    .task_trim = sq_task_trim,
    .task_devices_pending = sq_task_devices_pending,
    .session_add = sq_session_add,
    .session_list = sq_session_list,
    .preset_write = sq_preset_write,
    .preset_get = sq_preset_get,
    .preset_list = sq_preset_list,
    .preset_delete = sq_preset_delete,
    .preset_sync_config = sq_preset_sync_config,
    .script_put = sq_script_put,
    .script_get = sq_script_get,
    .script_list = sq_script_list,
    .script_delete = sq_script_delete,
    .preset_run_put = sq_preset_run_put,
    .preset_run_list = sq_preset_run_list,
    .preset_run_clear_fault = sq_preset_run_clear_fault,
    .preset_run_owed = sq_preset_run_owed,
    .key_add = sq_key_add,
    .key_delete = sq_key_delete,
    .key_list = sq_key_list,
    .key_touch = sq_key_touch,
    .key_version = sq_key_version,
    /* webhooks (store_sqlite_hooks.c) */
    .hook_enqueue = sq_hook_enqueue,
    .hook_claim = sq_hook_claim,
    .hook_result = sq_hook_result,
    .hook_list = sq_hook_list,
    .hook_retry = sq_hook_retry,
    .hook_counts = sq_hook_counts,
    .hook_release_leases = sq_hook_release_leases,
    .hook_offline_sweep = sq_hook_offline_sweep,
    .hook_prune = sq_hook_prune,
    .params_set_attributes = sq_params_set_attributes,
    .params_delete_object = sq_params_delete_object,
    .device_set_facts = sq_device_set_facts,
    .fault_list = sq_fault_list,
    .task_fault_clear = sq_task_fault_clear,
    .preset_run_forget_fault = sq_preset_run_forget_fault,
    .device_set_session_log = sq_device_set_session_log,
    .device_session_log_list = sq_device_session_log_list,
    .file_put = sq_file_put,
    .file_get = sq_file_get,
    .file_list = sq_file_list,
    .file_delete = sq_file_delete,
    .device_search = sq_device_search,
    .search_params_set = sq_search_params_set,
    .bulk_create = sq_bulk_create,
    .bulk_get = sq_bulk_get,
    .bulk_tasks = sq_bulk_tasks,
    .bulk_running = sq_bulk_running,
    .bulk_list = sq_bulk_list,
    .bulk_release = sq_bulk_release,
    .bulk_rehold = sq_bulk_rehold,
    .bulk_end = sq_bulk_end,
};
