/*
 * store_pg_schema: the PostgreSQL backend's versioned migrations. The
 * schema is SQLite's after the same migrations (store_sqlite.c migrations[])
 * in PostgreSQL's dialect: BIGINT times, identity ids, the same partial
 * indexes, a parameter's old values in its own row (since 18; a trigger
 * kept them in param_history before). Text columns sort
 * with the "C" collation: byte order, as SQLite's BINARY, so name ranges
 * (a prefix, an object's subtree) and every ORDER BY match the SQLite
 * backend whatever the database's locale.
 *
 * The version lives in settings (k = 'schema_version') and is SQLite's
 * number: each later schema change is a migration in both backends (an
 * empty one where a backend needs nothing). A new database goes straight
 * to 12 (there are no older PostgreSQL databases to carry forward), then
 * through the later ones. Migrations run in one transaction under an
 * advisory lock, so two nodes starting together do not race.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "store/store_pg.h"

/* pg_advisory_xact_lock key: "outpost" in ASCII (0x6f7574706f7374), the schema's lock */
#define PG_MIGRATE_LOCK "31372865377891188"

#define T "TEXT COLLATE \"C\""

/* Percent of a params page new rows fill (migration 15). */
#define PG_PARAMS_FILLFACTOR "80"

/* The history of a statement's changed values (migrations 15 to 17; 18
 * keeps it in the params rows instead and drops this), as
 * SQLite's row trigger keeps it: each value that changed from a non-NULL
 * one goes into param_history with when and by whom it was set, and each
 * such parameter keeps its newest settings.param_history rows. It runs
 * after every UPDATE of params (a trigger with transition tables cannot
 * name columns), and returns at once when the statement updated nothing
 * (a list of new parameters).
 *  - changed: the statement's rows before (params_old) and after
 *    (params_new) paired by grouping on the key, not by a join: a cached
 *    plan does not know how many rows a transition table holds (it
 *    guesses one), and a join planned for one row is a nested loop,
 *    quadratic over 5,000. A statement updates a row at most once, so a
 *    key has one old row and one new one (max() picks it).
 *  - the trim sees the rows from before the statement's INSERT (one
 *    snapshot), so it keeps the newest keep - 1 of those; with the new one,
 *    keep. keep 0 (or no setting) keeps none, as SQLite's OFFSET does.
 *  - the rows beyond go by id (one probe of param_history_key per changed
 *    parameter, then the primary key). */
#define PG_KEEP_HISTORY_FN \
    "CREATE OR REPLACE FUNCTION params_keep_history() RETURNS trigger LANGUAGE plpgsql AS $$" \
    " DECLARE keep bigint;" \
    " BEGIN" \
    "  IF NOT EXISTS (SELECT 1 FROM params_old) THEN RETURN NULL; END IF;" \
    "  keep := COALESCE((SELECT v FROM settings WHERE k = 'param_history'), 0);" \
    "  WITH changed AS MATERIALIZED (" \
    "    SELECT device, name, max(value) FILTER (WHERE was) AS value, max(updated) AS updated," \
    "     max(set_at) AS set_at, max(set_by) AS set_by FROM (" \
    "      SELECT device, name, value, updated, set_at, set_by, true AS was FROM params_old" \
    "      UNION ALL SELECT device, name, value, NULL, NULL, NULL, false FROM params_new) t" \
    "    GROUP BY device, name" \
    "    HAVING max(value) FILTER (WHERE was) IS NOT NULL" \
    "     AND max(value) FILTER (WHERE was) IS DISTINCT FROM max(value) FILTER (WHERE NOT was)" \
    "    ORDER BY device, name)," \
    "   kept AS (INSERT INTO param_history (device, name, value, updated, set_by)" \
    "    SELECT device, name, value, CASE WHEN set_at > 0 THEN set_at ELSE updated END, set_by" \
    "    FROM changed WHERE keep > 0)" \
    "  DELETE FROM param_history WHERE id = ANY (ARRAY(" \
    "    SELECT x.id FROM changed c, LATERAL (SELECT h.id FROM param_history h" \
    "     WHERE h.device = c.device AND h.name = c.name" \
    "     ORDER BY h.id DESC OFFSET GREATEST(keep - 1, 0)) x));" \
    "  RETURN NULL;" \
    " END $$;"

/* The search's functions (migration 16; store_pg_search.c has the
 * filter's dialect and makes the triggers while some --search-param is
 * set). Until schema 16 pg_search_init made them at open when missing,
 * outside the migrations, so a changed definition never reached an
 * existing database; now the migrations own them.
 *  - outpost_num(text): the value as a number when it is one in the filter
 *    language's sense (store_filter_number: digits with an optional fraction
 *    and exponent, finite), else NULL (which compares false).
 *  - params_index_*: param_index follows the values of the names in
 *    search_params, SQLite's row triggers (store_sqlite_search.c) once per
 *    statement: the rows it inserted, changed or deleted. An update pairs
 *    its old and new rows by grouping on the key, as params_keep_history
 *    does and for the same reason: the join of the two transition tables
 *    (schema 12 to 15) was planned for one row each, a nested loop,
 *    quadratic: a changed 5,000-parameter answer took 0.8-1.6 s with a
 *    --search-param set instead of ~70 ms (bench/RESULTS.md). Only the rows
 *    of indexed names are grouped; old_value and new_value, not old and new,
 *    which plpgsql takes for its OLD and NEW. Within a statement the DELETE (the old
 *    values) and the INSERT (the new ones) touch different index rows: a
 *    key changes value once per statement. */
#define PG_SEARCH_FNS \
    "CREATE OR REPLACE FUNCTION outpost_num(t text) RETURNS double precision" \
    " LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$" \
    " BEGIN" \
    "  IF t !~ '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$' THEN RETURN NULL; END IF;" \
    "  RETURN t::double precision;" \
    " EXCEPTION WHEN numeric_value_out_of_range THEN" \
    /* strtod: an overflow is infinite (no number), an underflow 0 */ \
    "  RETURN CASE WHEN t ~ '[eE]-' THEN 0 END;" \
    " END $$;" \
    "CREATE OR REPLACE FUNCTION params_index_insert() RETURNS trigger LANGUAGE plpgsql AS $$" \
    " BEGIN" \
    "  INSERT INTO param_index SELECT n.name, n.value, n.device FROM params_new n" \
    "   JOIN search_params s ON s.name = n.name WHERE n.value IS NOT NULL ON CONFLICT DO NOTHING;" \
    "  RETURN NULL;" \
    " END $$;" \
    "CREATE OR REPLACE FUNCTION params_index_update() RETURNS trigger LANGUAGE plpgsql AS $$" \
    " BEGIN" \
    "  WITH changed AS MATERIALIZED (" \
    "    SELECT device, name, max(value) FILTER (WHERE was) AS old_value," \
    "     max(value) FILTER (WHERE NOT was) AS new_value FROM (" \
    "      SELECT device, name, value, true AS was FROM params_old" \
    "       WHERE name IN (SELECT name FROM search_params)" \
    "      UNION ALL SELECT device, name, value, false FROM params_new" \
    "       WHERE name IN (SELECT name FROM search_params)) t" \
    "    GROUP BY device, name" \
    "    HAVING max(value) FILTER (WHERE was) IS DISTINCT FROM max(value) FILTER (WHERE NOT was))," \
    "   gone AS (DELETE FROM param_index i USING changed c" \
    "    WHERE i.name = c.name AND i.value = c.old_value AND i.device = c.device)" \
    "  INSERT INTO param_index SELECT name, new_value, device FROM changed WHERE new_value IS NOT NULL" \
    "   ON CONFLICT DO NOTHING;" \
    "  RETURN NULL;" \
    " END $$;" \
    "CREATE OR REPLACE FUNCTION params_index_delete() RETURNS trigger LANGUAGE plpgsql AS $$" \
    " BEGIN" \
    "  DELETE FROM param_index i USING params_old o JOIN search_params s ON s.name = o.name" \
    "   WHERE o.value IS NOT NULL AND i.name = o.name AND i.value = o.value AND i.device = o.device;" \
    "  RETURN NULL;" \
    " END $$;"

/* What a deleted parameter's old values become (migration 18): rows of
 * param_history, as SQLite keeps them (its param_history rows outlive the
 * parameter: an object's subtree deleted, a BOOTSTRAP's forgotten list).
 * Rare statements: once per statement, the in-row history of every deleted
 * row, oldest first so ids keep their order, then each such name trimmed to
 * what it kept in its row or keep, whichever is more (the older rows of an
 * earlier incarnation go first, as the trigger before migration 18 trimmed
 * them at each change). `CREATE` is the statement that makes it, `LIVE` the
 * condition a deleted row `o` meets for its history to be kept (18: every
 * row; its text only gained the TRUE). */
#define PG_KEEP_LIVE "EXISTS (SELECT 1 FROM devices d WHERE d.rid = o.device)"
#define PG_KEEP_DELETED_FN(CREATE, LIVE) \
    CREATE " FUNCTION params_keep_deleted() RETURNS trigger LANGUAGE plpgsql AS $$" \
    " DECLARE keep bigint;" \
    " BEGIN" \
    "  IF NOT EXISTS (SELECT 1 FROM params_old o WHERE cardinality(history) > 0 AND " LIVE ") THEN" \
    "   RETURN NULL;" \
    "  END IF;" \
    "  keep := COALESCE((SELECT v FROM settings WHERE k = 'param_history'), 0);" \
    "  INSERT INTO param_history (device, name, value, updated, set_by)" \
    "   SELECT o.device, o.name, h.value, h.updated, h.set_by FROM params_old o," \
    "    unnest(o.history) WITH ORDINALITY h(value, updated, set_by, i) WHERE " LIVE \
    "   ORDER BY o.device, o.name, h.i DESC;" \
    "  DELETE FROM param_history WHERE id = ANY (ARRAY(" \
    "    SELECT x.id FROM params_old o, LATERAL (SELECT h.id FROM param_history h" \
    "     WHERE h.device = o.device AND h.name = o.name" \
    "     ORDER BY h.id DESC OFFSET GREATEST(keep, cardinality(o.history))) x" \
    "    WHERE cardinality(o.history) > 0 AND " LIVE "));" \
    "  RETURN NULL;" \
    " END $$;"

static const struct migration {
    int version; /* the schema version this step leaves */
    const char *sql;
} migrations[] = {
    { 12,
      "CREATE TABLE devices ("
      "  rid BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, id " T " NOT NULL UNIQUE,"
      "  manufacturer " T " NOT NULL DEFAULT '', oui " T " NOT NULL DEFAULT '',"
      "  product_class " T " NOT NULL DEFAULT '', serial " T " NOT NULL DEFAULT '',"
      "  software_version " T " NOT NULL DEFAULT '', hardware_version " T " NOT NULL DEFAULT '',"
      "  ip " T " NOT NULL DEFAULT '', cr_url " T " NOT NULL DEFAULT '', cr_user " T " NOT NULL DEFAULT '',"
      "  cr_pass " T " NOT NULL DEFAULT '', tags " T " NOT NULL DEFAULT '',"
      "  first_seen BIGINT NOT NULL, last_inform BIGINT NOT NULL,"
      "  periodic_interval BIGINT NOT NULL DEFAULT 0, last_events " T " NOT NULL DEFAULT '',"
      "  session_log INTEGER NOT NULL DEFAULT 0,"
      "  cr_udp " T ", cr_udp_at BIGINT, cr_nat INTEGER, cr_jid " T ");"
      "CREATE INDEX devices_serial ON devices(serial);"
      "CREATE INDEX devices_class ON devices(product_class);"
      "CREATE INDEX devices_session_log ON devices(id) WHERE session_log = 1;"
      "CREATE INDEX devices_last_inform ON devices(last_inform);"
      "CREATE INDEX devices_version ON devices(software_version);"
      "CREATE TABLE params ("
      "  device BIGINT NOT NULL, name " T " NOT NULL, value " T ", type " T " NOT NULL DEFAULT '',"
      "  writable INTEGER NOT NULL DEFAULT -1, updated BIGINT NOT NULL,"
      "  set_by " T " NOT NULL DEFAULT '', set_at BIGINT NOT NULL DEFAULT 0,"
      "  notification INTEGER NOT NULL DEFAULT -1, access_list " T ","
      "  PRIMARY KEY (device, name));"
      "CREATE TABLE param_history ("
      "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, device BIGINT NOT NULL,"
      "  name " T " NOT NULL, value " T ", updated BIGINT NOT NULL,"
      "  set_by " T " NOT NULL DEFAULT '');"
      "CREATE INDEX param_history_key ON param_history(device, name, id);"
      /* SQLite's params_keep_history trigger: the old value (with when and
       * by whom it was set) into the history, which keeps the newest
       * settings.param_history rows per parameter */
      "CREATE FUNCTION params_keep_history() RETURNS trigger LANGUAGE plpgsql AS $$"
      " BEGIN"
      "  INSERT INTO param_history(device, name, value, updated, set_by)"
      "    VALUES (OLD.device, OLD.name, OLD.value,"
      "            CASE WHEN OLD.set_at > 0 THEN OLD.set_at ELSE OLD.updated END, OLD.set_by);"
      "  DELETE FROM param_history WHERE device = OLD.device AND name = OLD.name AND id <="
      "    (SELECT id FROM param_history WHERE device = OLD.device AND name = OLD.name"
      "     ORDER BY id DESC LIMIT 1 OFFSET (SELECT v FROM settings WHERE k = 'param_history'));"
      "  RETURN NULL;"
      " END $$;"
      "CREATE TRIGGER params_keep_history AFTER UPDATE OF value ON params FOR EACH ROW"
      "  WHEN (OLD.value IS NOT NULL AND OLD.value IS DISTINCT FROM NEW.value)"
      "  EXECUTE FUNCTION params_keep_history();"
      "CREATE TABLE tasks ("
      "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, device_id " T " NOT NULL,"
      "  type " T " NOT NULL, params " T " NOT NULL DEFAULT '{}', status INTEGER NOT NULL DEFAULT 0,"
      "  result " T ", fault_code INTEGER NOT NULL DEFAULT 0, fault_string " T " NOT NULL DEFAULT '',"
      "  attempts INTEGER NOT NULL DEFAULT 0, created BIGINT NOT NULL, updated BIGINT NOT NULL,"
      "  sent_at BIGINT NOT NULL DEFAULT 0, done_at BIGINT NOT NULL DEFAULT 0,"
      "  expires_at BIGINT NOT NULL DEFAULT 0,"
      "  cr_status " T " NOT NULL DEFAULT '', cr_reason " T " NOT NULL DEFAULT '',"
      "  cr_at BIGINT NOT NULL DEFAULT 0, fault_cleared BIGINT NOT NULL DEFAULT 0,"
      "  bulk BIGINT NOT NULL DEFAULT 0, held INTEGER NOT NULL DEFAULT 0);"
      "CREATE INDEX tasks_device ON tasks(device_id, status, id);"
      "CREATE INDEX tasks_status ON tasks(status);"
      "CREATE INDEX tasks_done ON tasks(done_at) WHERE status >= 2;"
      "CREATE INDEX tasks_open_faults ON tasks(done_at) WHERE status = 3 AND fault_cleared = 0;"
      "CREATE INDEX tasks_bulk ON tasks(bulk, status, held) WHERE bulk > 0;"
      "CREATE TABLE sessions ("
      "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, device_id " T " NOT NULL,"
      "  started BIGINT NOT NULL, duration_ms BIGINT NOT NULL, events " T " NOT NULL,"
      "  rpcs INTEGER NOT NULL, outcome " T " NOT NULL, log " T ","
      "  rpc_list " T " NOT NULL DEFAULT '');"
      "CREATE INDEX sessions_device ON sessions(device_id, id);"
      "CREATE TABLE presets ("
      "  name " T " PRIMARY KEY, body " T " NOT NULL, source " T " NOT NULL DEFAULT 'api',"
      "  created BIGINT NOT NULL, updated BIGINT NOT NULL);"
      "CREATE TABLE provisions ("
      "  name " T " PRIMARY KEY, script " T " NOT NULL, updated BIGINT NOT NULL);"
      "CREATE TABLE virtual_parameters ("
      "  name " T " PRIMARY KEY, script " T " NOT NULL, updated BIGINT NOT NULL);"
      "CREATE TABLE preset_runs ("
      "  device_id " T " NOT NULL, preset " T " NOT NULL, status INTEGER NOT NULL,"
      "  fault_code INTEGER NOT NULL DEFAULT 0, fault_message " T " NOT NULL DEFAULT '',"
      "  tries INTEGER NOT NULL DEFAULT 0, next_retry BIGINT NOT NULL DEFAULT 0,"
      "  last_event BIGINT NOT NULL DEFAULT 0, updated BIGINT NOT NULL,"
      "  fault_provision " T " NOT NULL DEFAULT '', fault_line INTEGER NOT NULL DEFAULT 0,"
      "  PRIMARY KEY (device_id, preset));"
      "CREATE INDEX preset_runs_preset ON preset_runs(preset);"
      "CREATE INDEX preset_runs_owed ON preset_runs(device_id)"
      "  WHERE status = 3 OR (status = 2 AND next_retry > 0);"
      "CREATE INDEX preset_runs_faults ON preset_runs(updated) WHERE status = 2;"
      "CREATE TABLE api_keys ("
      "  id " T " PRIMARY KEY, hash " T " NOT NULL UNIQUE, name " T " NOT NULL, role " T " NOT NULL,"
      "  created BIGINT NOT NULL, last_used BIGINT NOT NULL DEFAULT 0);"
      "INSERT INTO settings (k, v) VALUES ('keys_version', 0) ON CONFLICT (k) DO NOTHING;"
      "CREATE TABLE webhook_deliveries ("
      "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, hook " T " NOT NULL,"
      "  event " T " NOT NULL, body " T " NOT NULL, status INTEGER NOT NULL DEFAULT 0,"
      "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt BIGINT NOT NULL,"
      "  lease_until BIGINT NOT NULL DEFAULT 0, deadline BIGINT NOT NULL,"
      "  last_status INTEGER NOT NULL DEFAULT 0, last_error " T " NOT NULL DEFAULT '',"
      "  created BIGINT NOT NULL, updated BIGINT NOT NULL);"
      "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt) WHERE status = 0;"
      "CREATE INDEX webhook_deliveries_status ON webhook_deliveries(status, id);"
      "CREATE TABLE webhook_offline (device_id " T " PRIMARY KEY, since BIGINT NOT NULL);"
      "CREATE TABLE files ("
      "  name " T " PRIMARY KEY, file_type " T " NOT NULL, oui " T " NOT NULL DEFAULT '',"
      "  product_class " T " NOT NULL DEFAULT '', version " T " NOT NULL DEFAULT '',"
      "  size BIGINT NOT NULL, sha256 " T " NOT NULL, username " T " NOT NULL DEFAULT '',"
      "  password " T " NOT NULL DEFAULT '', task_id BIGINT NOT NULL DEFAULT 0,"
      "  created BIGINT NOT NULL, updated BIGINT NOT NULL);"
      "CREATE TABLE search_params (name " T " PRIMARY KEY);"
      "CREATE TABLE param_index (name " T " NOT NULL, value " T " NOT NULL, device BIGINT NOT NULL,"
      "  PRIMARY KEY (name, value, device));"
      "CREATE TABLE bulks ("
      "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, type " T " NOT NULL,"
      "  params " T " NOT NULL, filter " T " NOT NULL DEFAULT '', total BIGINT NOT NULL,"
      "  state INTEGER NOT NULL DEFAULT 0, reason " T " NOT NULL DEFAULT '',"
      "  max_in_flight BIGINT NOT NULL DEFAULT 0, max_failure_ratio DOUBLE PRECISION NOT NULL DEFAULT 0,"
      "  min_finished BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL, updated BIGINT NOT NULL);" },
    /* 13: SQLite moved long task parameters into task_params (it rewrites a
     * changed row whole). Nothing here: PostgreSQL keeps a long value out of
     * line (TOAST), and an UPDATE that leaves it alone does not copy it. */
    { 13, "SELECT 1" },
    /* 14 (cluster): a sent task's owner and lease (store_sqlite.c's 14) */
    { 14, "ALTER TABLE tasks ADD COLUMN node " T " NOT NULL DEFAULT '';"
          "ALTER TABLE tasks ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;"
          "CREATE INDEX tasks_leased ON tasks(lease_until) WHERE status = 1;" },
    /* 15: the history kept once per statement, not once per row: 5,000
     * changed values were 5,000 trigger calls of two statements each, about
     * three quarters of the server's time for such an answer (bench/
     * RESULTS.md). The same rows as SQLite's row trigger, which stays
     * (store_sqlite.c's 15 is empty). And room on params' pages for a row's
     * next version: every reported value is an update (its time), and an
     * update of a row on a full page moves it (a new index entry, dead
     * space until a vacuum); with room it stays on its page (HOT). */
    { 15, "DROP TRIGGER params_keep_history ON params;"
          "ALTER TABLE params SET (fillfactor = " PG_PARAMS_FILLFACTOR ");"
          PG_KEEP_HISTORY_FN
          "CREATE TRIGGER params_keep_history AFTER UPDATE ON params"
          "  REFERENCING OLD TABLE AS params_old NEW TABLE AS params_new FOR EACH STATEMENT"
          "  EXECUTE FUNCTION params_keep_history();" },
    /* 16: the search's functions into the schema, params_index_update
     * pairing its rows by grouping (PG_SEARCH_FNS above). The triggers stay
     * store_pg_search.c's, made and dropped with the --search-param names;
     * one already there calls the new definition. SQLite's 16 is empty. */
    { 16, PG_SEARCH_FNS },
    /* 17 (files in a shared store, store_pg_files.c): each file version's
     * bytes in 1 MiB pieces, kept out of line uncompressed (firmware is
     * compressed already: pglz would spend CPU for nothing), and the upload
     * URLs' key every node signs with */
    { 17, "CREATE TABLE file_chunks (name " T " NOT NULL, sha256 " T " NOT NULL,"
          "  seq INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (name, sha256, seq));"
          "ALTER TABLE file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;"
          "CREATE TABLE file_keys (id INTEGER PRIMARY KEY, key BYTEA NOT NULL);" },
    /* 18: a parameter's old values in its own row (params.history, newest
     * first), kept by the statements that change a value (PQ_PARAM_PUT_MANY),
     * not by a trigger: a changed 5,000-parameter answer inserted 5,000
     * param_history rows and deleted as many, two indexes each, three
     * quarters of its server time (bench/RESULTS.md). The rows there move
     * into their parameters' rows in the same order (the old trigger
     * trimmed them at each change); param_history keeps the old values of
     * deleted parameters only (PG_KEEP_DELETED_FN). SQLite's 18 is empty:
     * its row trigger is a few steps of the same statement. */
    { 18, "CREATE TYPE param_old AS (value " T ", updated BIGINT, set_by " T ");"
          "DROP TRIGGER params_keep_history ON params;"
          "DROP FUNCTION params_keep_history();"
          "ALTER TABLE params ADD COLUMN history param_old[];"
          "UPDATE params p SET history = h.a FROM (SELECT device, name,"
          "  array_agg(ROW(value, updated, set_by)::param_old ORDER BY id DESC) AS a"
          "  FROM param_history GROUP BY device, name) h"
          " WHERE p.device = h.device AND p.name = h.name;"
          "DELETE FROM param_history h USING params p WHERE h.device = p.device AND h.name = p.name;"
          PG_KEEP_DELETED_FN("CREATE", "TRUE")
          "CREATE TRIGGER params_keep_deleted AFTER DELETE ON params"
          "  REFERENCING OLD TABLE AS params_old FOR EACH STATEMENT"
          "  EXECUTE FUNCTION params_keep_deleted();" },
    /* 19: a deleted device's parameters take their old values with them.
     * store_device_delete removes the device row first (so a parameter
     * write racing it waits for it, store_pg.c), and this trigger's copy of
     * up to --param-history rows per parameter into param_history, deleted
     * by the next statement, was the most of a device delete's work.
     * SQLite's 19 is empty: its device delete never copied. */
    { 19, PG_KEEP_DELETED_FN("CREATE OR REPLACE", PG_KEEP_LIVE) },
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
#define PG_SCHEMA_VERSION (migrations[NMIGRATIONS - 1].version)

static int version_in(pg_t *p, bool *ok)
{
    int64_t v = pg_scalar(p, "SELECT v FROM settings WHERE k = 'schema_version'", 0, NULL, ok);
    return v < 0 ? 0 : (int)v;
}

int pg_migrate(pg_t *p)
{
    /* no lock or statement timeout here: another node's migration holds
     * the lock as long as it takes, and a migration over a large fleet may
     * take minutes */
    if (pg_cmd_sql(p, "BEGIN", 0, NULL, "migrate") < 0 ||
        pg_cmd_sql(p, "SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0", 0, NULL,
                   "migrate") < 0)
        return -EIO;
    int rc = 0;
    /* the settings table first, under the lock: it holds the version */
    if (pg_cmd_sql(p, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", 0, NULL, "migrate") < 0 ||
        pg_cmd_sql(p, "CREATE TABLE IF NOT EXISTS settings (k " T " PRIMARY KEY, v BIGINT NOT NULL)",
                   0, NULL, "migrate") < 0)
        rc = -EIO;
    bool ok = true;
    int v = rc ? 0 : version_in(p, &ok);
    if (!rc && !ok)
        rc = -EIO;
    if (!rc && v > PG_SCHEMA_VERSION) {
        log_error("store_pg", LF_S("reason", "database is newer than this binary"),
                  LF_I("version", v), LF_I("known", PG_SCHEMA_VERSION));
        rc = -EPROTO;
    }
    for (int i = 0; !rc && i < NMIGRATIONS; i++) {
        if (migrations[i].version <= v)
            continue;
        pg_num_t n;
        const char *arg[] = { pg_i64(&n, migrations[i].version) };
        if (pg_cmd_sql(p, migrations[i].sql, 0, NULL, "migrate") < 0 ||
            pg_cmd_sql(p, "INSERT INTO settings (k, v) VALUES ('schema_version', $1)"
                          " ON CONFLICT (k) DO UPDATE SET v = excluded.v", 1, arg, "migrate") < 0) {
            rc = -EIO;
            break;
        }
        log_info("store_migrated", LF_S("backend", "pg"), LF_I("version", migrations[i].version));
    }
    if (rc) {
        pg_cmd_sql(p, "ROLLBACK", 0, NULL, "migrate");
        return rc;
    }
    return pg_cmd_sql(p, "COMMIT", 0, NULL, "migrate") < 0 ? -EIO : 0;
}

int pg_schema_version(store_t *s)
{
    bool ok = true;
    int v = version_in(PG(s), &ok);
    return ok ? v : -EIO;
}
