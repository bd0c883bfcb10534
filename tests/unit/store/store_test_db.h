/* Where a store unit test's database lives. By default a SQLite file in a
 * fresh temp directory (DIR/acs.db, removed with the directory). With
 * OUTPOST_TEST_STORE_URL set (suite 'store-pg': tests/pg_server.py starts a
 * throwaway PostgreSQL server and sets it), a fresh database on that server
 * for each test, dropped afterwards; the store opens its URL. The tests' own
 * SQL on PostgreSQL goes through psql ($OUTPOST_TEST_PSQL, else `psql`).
 * Checks that only make sense on SQLite (raw sqlite3 calls: migrations from
 * older SQLite versions, a second file beside the first) call skip() when
 * test_db_pg() is true. Header-only: every test binary includes it once. */
#ifndef STORE_TEST_DB_H
#define STORE_TEST_DB_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

enum { TEST_DB_MAX = 256 };

/* The schema version the migrations leave (both backends). */
#define SCHEMA_NOW_TEXT "19"
enum { SCHEMA_NOW = 19 };

static inline const char *test_db_url(void)
{
    const char *u = getenv("OUTPOST_TEST_STORE_URL");
    return u && *u ? u : NULL;
}

static inline bool test_db_pg(void)
{
    return test_db_url() != NULL;
}

/* `url` with its database name replaced by `name` (the path after the
 * authority, up to '?'): postgresql://h/postgres?x=y -> postgresql://h/NAME?x=y */
static inline void test_db_url_for(const char *url, const char *name, char *out, size_t n)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    const char *q = strchr(auth, '?');
    const char *end = q ? q : auth + strlen(auth);
    const char *slash = memchr(auth, '/', (size_t)(end - auth));
    const char *cut = slash ? slash : end;
    int w = snprintf(out, n, "%.*s/%s%s", (int)(cut - url), url, name, q ? q : "");
    if (w < 0 || (size_t)w >= n) {
        fprintf(stderr, "test_db: URL too long: %s\n", url);
        abort();
    }
}

/* Runs one SQL statement (no single quotes) on the database at `url`;
 * 0 on success. */
static inline int test_db_sql(const char *url, const char *sql)
{
    if (strchr(sql, '\'') || strchr(url, '\'')) {
        fprintf(stderr, "test_db: quote in SQL or URL\n");
        return -1;
    }
    const char *psql = getenv("OUTPOST_TEST_PSQL");
    char cmd[4096];
    int w = snprintf(cmd, sizeof cmd, "'%s' -X -q -v ON_ERROR_STOP=1 -d '%s' -c '%s' >/dev/null",
                     psql && *psql ? psql : "psql", url, sql);
    if (w < 0 || (size_t)w >= sizeof cmd)
        return -1;
    return system(cmd) == 0 ? 0 : -1;
}

/* A fresh database for one test: `where` gets what store_open takes. On
 * SQLite `tmpl` ("/tmp/store-x-XXXXXX") becomes the directory of DIR/acs.db. */
static inline int test_db_new(char *where, size_t n, const char *tmpl)
{
    const char *url = test_db_url();
    if (!url) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s", tmpl);
        if (!mkdtemp(dir))
            return -1;
        snprintf(where, n, "%s/acs.db", dir);
        return 0;
    }
    static unsigned seq;
    char name[48], sql[96];
    snprintf(name, sizeof name, "t_%ld_%u", (long)getpid(), ++seq);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (test_db_sql(url, sql) != 0)
        return -1;
    test_db_url_for(url, name, where, n);
    return 0;
}

/* Removes what test_db_new made (the store closed first). */
static inline void test_db_drop(const char *where)
{
    const char *url = test_db_url();
    char cmd[TEST_DB_MAX + 64];
    if (!url) {
        snprintf(cmd, sizeof cmd, "rm -rf \"$(dirname %s)\"", where);
        (void)!system(cmd);
        return;
    }
    const char *q = strchr(where, '?');
    const char *slash = q ? q : where + strlen(where);
    while (slash > where && *slash != '/')
        slash--;
    char sql[96];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
             (int)((q ? q : where + strlen(where)) - slash - 1), slash + 1);
    (void)test_db_sql(url, sql);
}

/* The fixture most store tests share: a fresh database with the store
 * opened on it (default options) as the test's state; test_db_where() is
 * what it was opened from, for a second handle or the tests' own SQL. */
static inline char *test_db_where(void)
{
    static char where[TEST_DB_MAX];
    return where;
}

static inline int test_db_setup(void **state)
{
    store_t *s;
    if (test_db_new(test_db_where(), TEST_DB_MAX, "/tmp/store-test-XXXXXX") != 0 ||
        store_open(test_db_where(), NULL, &s) != 0)
        return -1;
    *state = s;
    return 0;
}

static inline int test_db_teardown(void **state)
{
    store_close(*state);
    test_db_drop(test_db_where());
    return 0;
}

#endif
