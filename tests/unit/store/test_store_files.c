/* Unit tests of the store's file rows (store_sqlite_files.c,
 * store_pg_files.c): create, replace (created kept), get, list by name,
 * delete; and the bytes a shared store keeps (PostgreSQL: pieces, one
 * snapshot per reader, a row's put and delete taking other versions'
 * bytes; SQLite: -ENOTSUP). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "store_test_db.h"

static store_file_t file(const char *name, int64_t size, int64_t at)
{
    store_file_t f = { 0 };
    snprintf(f.name, sizeof f.name, "%s", name);
    snprintf(f.file_type, sizeof f.file_type, "1 Firmware Upgrade Image");
    snprintf(f.sha256, sizeof f.sha256, "%064d", (int)size);
    f.size = size;
    f.created = f.updated = at;
    return f;
}

static int collect(const store_file_t *f, void *ud)
{
    char *names = ud;
    strcat(names, f->name);
    strcat(names, ",");
    return 0;
}

static void test_file_rows(void **state)
{
    store_t *s = *state;
    store_file_t a = file("fw-2.bin", 100, 10), b = file("cfg.xml", 5, 11), got;
    snprintf(a.oui, sizeof a.oui, "00D09E");
    snprintf(a.username, sizeof a.username, "dl");
    snprintf(a.password, sizeof a.password, "pw");
    assert_int_equal(store_file_put(s, &a), 1);
    assert_int_equal(store_file_put(s, &b), 1);
    assert_int_equal(store_file_get(s, "fw-2.bin", &got), 0);
    assert_string_equal(got.oui, "00D09E");
    assert_string_equal(got.password, "pw");
    assert_int_equal(got.size, 100);
    assert_int_equal(got.created, 10);

    /* replaced: new values, the first created time */
    store_file_t a2 = file("fw-2.bin", 200, 20);
    a2.task_id = 7;
    assert_int_equal(store_file_put(s, &a2), 0);
    assert_int_equal(store_file_get(s, "fw-2.bin", &got), 0);
    assert_int_equal(got.size, 200);
    assert_int_equal(got.task_id, 7);
    assert_string_equal(got.username, "");
    assert_int_equal(got.created, 10);
    assert_int_equal(got.updated, 20);

    char names[256] = "";
    assert_int_equal(store_file_list(s, collect, names), 0);
    assert_string_equal(names, "cfg.xml,fw-2.bin,");

    assert_int_equal(store_file_delete(s, "cfg.xml"), 0);
    assert_int_equal(store_file_delete(s, "cfg.xml"), -ENOENT);
    assert_int_equal(store_file_get(s, "cfg.xml", &got), -ENOENT);
    names[0] = '\0';
    assert_int_equal(store_file_list(s, collect, names), 0);
    assert_string_equal(names, "fw-2.bin,");
}

/* ---- contents ---------------------------------------------------------------------- */

typedef struct mem_in {
    const unsigned char *data;
    size_t size, off;
    int calls;
} mem_in_t;

static int mem_read(void *buf, size_t len, size_t *got, void *ud)
{
    mem_in_t *m = ud;
    m->calls++;
    size_t n = m->size - m->off < len ? m->size - m->off : len;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    *got = n;
    return 0;
}

typedef struct mem_out {
    unsigned char *data;
    size_t len, max_piece;
    int pieces, fail_at;
    void (*after_first)(struct mem_out *o);
    store_t *other;
    const unsigned char *other_data;
    size_t other_size;
} mem_out_t;

static int mem_write(const void *d, size_t n, void *ud)
{
    mem_out_t *o = ud;
    o->data = realloc(o->data, o->len + n + 1);
    assert_non_null(o->data);
    memcpy(o->data + o->len, d, n);
    o->len += n;
    o->max_piece = n > o->max_piece ? n : o->max_piece;
    o->pieces++;
    if (o->pieces == 1 && o->after_first)
        o->after_first(o);
    return o->fail_at && o->pieces == o->fail_at ? -ECANCELED : 0;
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 31 + seed * 7 + i / 4096) & 0xff);
    return b;
}

static int put_mem(store_t *s, const char *name, const char *sha, const unsigned char *d, size_t n,
                   int64_t size, int *calls)
{
    mem_in_t in = { .data = d, .size = n };
    int rc = store_file_content_put(s, name, sha, size, mem_read, &in);
    if (calls)
        *calls = in.calls;
    return rc;
}

static mem_out_t get_mem(store_t *s, const char *name, const char *sha, int *rc)
{
    mem_out_t o = { 0 };
    *rc = store_file_content_get(s, name, sha, mem_write, &o);
    return o;
}

#define SHA1 "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA3 "3333333333333333333333333333333333333333333333333333333333333333"

/* Another node replaces the file while the reader is past its first piece. */
static void replace_meanwhile(mem_out_t *o)
{
    assert_int_equal(put_mem(o->other, "fw.bin", SHA2, o->other_data, o->other_size,
                             (int64_t)o->other_size, NULL), 0);
    store_file_t f = file("fw.bin", (int64_t)o->other_size, 30);
    snprintf(f.sha256, sizeof f.sha256, SHA2);
    assert_int_equal(store_file_put(o->other, &f), 0);
}

static void test_file_content(void **state)
{
    store_t *s = *state;
    unsigned char key[32], got_key[32];
    memset(key, 7, sizeof key);
    if (!test_db_pg()) { /* one node: the bytes are the ACS's files on disk */
        assert_int_equal(put_mem(s, "a", SHA1, (const unsigned char *)"x", 1, 1, NULL), -ENOTSUP);
        int rc;
        mem_out_t o = get_mem(s, "a", SHA1, &rc);
        assert_int_equal(rc, -ENOTSUP);
        assert_int_equal(store_file_content_has(s, "a", SHA1, 1), -ENOTSUP);
        assert_int_equal(store_file_upload_key(s, key, got_key), -ENOTSUP);
        free(o.data);
        return;
    }
    size_t n1 = 2 * STORE_FILE_PIECE + STORE_FILE_PIECE / 2, n2 = 2 * STORE_FILE_PIECE;
    unsigned char *d1 = pattern(n1, 1), *d2 = pattern(n2, 2);
    int calls, rc;
    assert_int_equal(put_mem(s, "fw.bin", SHA1, d1, n1, (int64_t)n1, &calls), 0);
    assert_int_equal(calls, 3);
    assert_int_equal(store_file_content_has(s, "fw.bin", SHA1, (int64_t)n1), 1);
    assert_int_equal(store_file_content_has(s, "fw.bin", SHA1, (int64_t)n1 + 1), 0);
    assert_int_equal(store_file_content_has(s, "fw.bin", SHA2, (int64_t)n1), 0);
    /* stored in full already: nothing read */
    assert_int_equal(put_mem(s, "fw.bin", SHA1, d1, n1, (int64_t)n1, &calls), 1);
    assert_int_equal(calls, 0);
    mem_out_t o = get_mem(s, "fw.bin", SHA1, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(o.len, n1);
    assert_memory_equal(o.data, d1, n1);
    assert_int_equal(o.pieces, 3);
    assert_int_equal(o.max_piece, STORE_FILE_PIECE);
    free(o.data);
    store_file_t f = file("fw.bin", (int64_t)n1, 20);
    snprintf(f.sha256, sizeof f.sha256, SHA1);
    assert_int_equal(store_file_put(s, &f), 1);

    /* a reader keeps its version whole while another node replaces it */
    store_t *s2;
    char url[TEST_DB_MAX];
    snprintf(url, sizeof url, "%s", test_db_where());
    assert_int_equal(store_open(url, NULL, &s2), 0);
    o = (mem_out_t){ .after_first = replace_meanwhile, .other = s2, .other_data = d2, .other_size = n2 };
    rc = store_file_content_get(s, "fw.bin", SHA1, mem_write, &o);
    assert_int_equal(rc, 0);
    assert_int_equal(o.len, n1);
    assert_memory_equal(o.data, d1, n1);
    free(o.data);
    /* the row's put took the old version's bytes; the new one is whole (2 pieces, no empty third) */
    assert_int_equal(store_file_content_has(s, "fw.bin", SHA1, (int64_t)n1), 0);
    o = get_mem(s, "fw.bin", SHA1, &rc);
    assert_int_equal(rc, -ENOENT);
    free(o.data);
    o = get_mem(s, "fw.bin", SHA2, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(o.pieces, 2);
    assert_int_equal(o.len, n2);
    assert_memory_equal(o.data, d2, n2);
    free(o.data);

    /* the reader's own error stops it; the connection goes on */
    o = (mem_out_t){ .fail_at = 1 };
    assert_int_equal(store_file_content_get(s, "fw.bin", SHA2, mem_write, &o), -ECANCELED);
    free(o.data);
    o = get_mem(s, "fw.bin", SHA2, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(o.len, n2);
    free(o.data);

    /* fewer bytes than the size said: nothing kept */
    assert_int_equal(put_mem(s, "short.bin", SHA3, d1, n1, (int64_t)n1 + 5, NULL), -EIO);
    assert_int_equal(store_file_content_has(s, "short.bin", SHA3, (int64_t)n1), 0);
    o = get_mem(s, "short.bin", SHA3, &rc);
    assert_int_equal(rc, -ENOENT);
    free(o.data);
    /* more than it said: the same */
    assert_int_equal(put_mem(s, "long.bin", SHA3, d1, n1, 10, NULL), -EIO);
    assert_int_equal(store_file_content_has(s, "long.bin", SHA3, 10), 0);

    /* an empty file: one empty piece, so "stored" and "not stored" differ */
    assert_int_equal(put_mem(s, "empty", SHA3, d1, 0, 0, NULL), 0);
    assert_int_equal(store_file_content_has(s, "empty", SHA3, 0), 1);
    o = get_mem(s, "empty", SHA3, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(o.len, 0);
    free(o.data);

    /* in the caller's transaction: a failed put undoes only itself; a rollback undoes it all */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(put_mem(s, "tx.bin", SHA1, d1, n1, (int64_t)n1 + 1, NULL), -EIO);
    assert_int_equal(put_mem(s, "tx.bin", SHA1, d1, 10, 10, NULL), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_file_content_has(s, "tx.bin", SHA1, 10), 1);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(put_mem(s, "tx2.bin", SHA1, d1, 10, 10, NULL), 0);
    assert_int_equal(store_rollback(s), 0);
    assert_int_equal(store_file_content_has(s, "tx2.bin", SHA1, 10), 0);

    /* a file's delete takes its bytes */
    assert_int_equal(store_file_delete(s, "fw.bin"), 0);
    assert_int_equal(store_file_content_has(s, "fw.bin", SHA2, (int64_t)n2), 0);

    /* one upload key for every node: the first stored */
    assert_int_equal(store_file_upload_key(s, key, got_key), 0);
    assert_memory_equal(got_key, key, sizeof key);
    unsigned char other[32];
    memset(other, 9, sizeof other);
    assert_int_equal(store_file_upload_key(s2, other, got_key), 0);
    assert_memory_equal(got_key, key, sizeof key);

    store_close(s2);
    free(d1);
    free(d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_rows, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_file_content, test_db_setup, test_db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
