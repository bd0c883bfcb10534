/* Unit tests of the device search language's parser (store_filter.c) and,
 * through a real store (SQLite, or PostgreSQL in suite store-pg), of what it
 * compiles to. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/str.h"
#include "store/store.h"
#include "store/store_filter.h"
#include "store_test_db.h"

static int parse(store_filter_t *f, const char *s, store_filter_error_t *e)
{
    return store_filter_parse(f, s, strlen(s), e);
}

/* The tree as text: (a AND b), (NOT a), field op value. */
static void show(const store_filter_t *f, int i, char *out, size_t len)
{
    const store_filter_node_t *n = &f->n[i];
    char a[512], b[512];
    switch (n->kind) {
    case SF_AND:
    case SF_OR:
        show(f, n->a, a, sizeof a);
        show(f, n->b, b, sizeof b);
        snprintf(out, len, "(%s %s %s)", a, n->kind == SF_AND ? "AND" : "OR", b);
        return;
    case SF_NOT:
        show(f, n->a, a, sizeof a);
        snprintf(out, len, "(NOT %s)", a);
        return;
    case SF_CMP:
        snprintf(out, len, "%s%s%s%s[%s]", store_filter_field_name(n->field), n->name ? "." : "",
                 n->name ? n->name : "", store_filter_op_name(n->op), n->value);
        return;
    }
}

static void expect(const char *in, const char *tree)
{
    store_filter_t f;
    store_filter_error_t e;
    int rc = parse(&f, in, &e);
    if (rc != 0)
        fail_msg("%s: %d at %zu: %s", in, rc, e.pos, e.msg);
    char out[2048];
    show(&f, f.root, out, sizeof out);
    assert_string_equal(out, tree);
}

static void expect_error(const char *in, size_t pos)
{
    store_filter_t f;
    store_filter_error_t e;
    assert_int_equal(parse(&f, in, &e), -EINVAL);
    if (e.pos != pos)
        fail_msg("%s: error at %zu (%s), expected at %zu", in, e.pos, e.msg, pos);
    assert_true(e.msg[0] != '\0');
}

static void test_grammar(void **state)
{
    (void)state;
    expect("model=HG8245", "model=[HG8245]");
    expect("  product_class = \"A B\"  ", "model=[A B]");
    expect("serial^=SN1 AND tag=lab", "(serial^=[SN1] AND tag=[lab])");
    expect("model=a or oui=2 and tag=x", "(model=[a] OR (oui=[2] AND tag=[x]))");
}

static void test_grammar_more(void **state)
{
    (void)state;
    /* AND binds tighter than OR; NOT tighter than both; left associative */
    expect("param.a.b=1 OR oui=2 AND tag=x", "(param.a.b=[1] OR (oui=[2] AND tag=[x]))");
    expect("NOT oui=1 AND NOT (tag=a OR tag=b)",
           "((NOT oui=[1]) AND (NOT (tag=[a] OR tag=[b])))");
    expect("id=1 AND id=2 AND id=3", "((id=[1] AND id=[2]) AND id=[3])");
    expect("online", "online=[true]");
    expect("offline AND ONLINE=false", "(online=[false] AND online=[false])");
    expect("online!=false", "online=[false]"); /* the value is kept; yes is what counts */
    expect("param.X.Y>=-1.5e3", "param.X.Y>=[-1.5e3]");
    expect("param.X<3", "param.X<[3]");
    expect("param.X^=\"a \\\"q\\\" \\\\ b\"", "param.X^=[a \"q\" \\ b]");
    expect("version!=1.0", "software_version!=[1.0]");
    expect("last_inform<2026-01-01T00:00:00Z", "last_inform<[2026-01-01T00:00:00Z]");
    expect("inform>=-2h", "last_inform>=[-2h]");
    expect("param.a=b=c", "param.a=[b=c]");
    expect("(((model=x)))", "model=[x]");
    expect("param.ANDROID=1 AND model=ORx", "(param.ANDROID=[1] AND model=[ORx])");
}

static void test_values(void **state)
{
    (void)state;
    store_filter_t f;
    assert_int_equal(parse(&f, "param.N>12.5", NULL), 0);
    assert_true(f.n[f.root].num == 12.5);
    assert_int_equal(parse(&f, "last_inform<1700000000", NULL), 0);
    assert_int_equal(f.n[f.root].time, 1700000000);
    assert_false(f.n[f.root].rel);
    assert_int_equal(parse(&f, "first_seen>-7d", NULL), 0);
    assert_int_equal(f.n[f.root].time, 7 * 86400);
    assert_true(f.n[f.root].rel);
    assert_int_equal(parse(&f, "last_inform<2026-01-01T00:00:00Z", NULL), 0);
    assert_int_equal(f.n[f.root].time, 1767225600);
    assert_int_equal(parse(&f, "online=false", NULL), 0);
    assert_false(f.n[f.root].yes);
    assert_int_equal(parse(&f, "online!=false", NULL), 0);
    assert_true(f.n[f.root].yes);
    /* empty: every device */
    assert_int_equal(parse(&f, "   ", NULL), 0);
    assert_int_equal(f.root, -1);
    double d;
    assert_true(store_filter_number("-3", &d) && d == -3);
    assert_true(store_filter_number("1e3", &d) && d == 1000);
    assert_true(store_filter_number(".5", &d) && d == 0.5);
    assert_false(store_filter_number("", &d));
    assert_false(store_filter_number("1e", &d));
    assert_false(store_filter_number("0x10", &d));
    assert_false(store_filter_number("inf", &d));
    assert_false(store_filter_number("1e999", &d));
    assert_false(store_filter_number(" 1", &d));
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("model=", 6);
    expect_error("model=x AND", 11);
    expect_error("(model=x", 0);
    expect_error("model=x)", 7);
    expect_error("bogus=1", 0);
    expect_error("model<3", 5);      /* no order on text fields */
    expect_error("tag^=a", 3);
    expect_error("param.X>abc", 8);  /* a numeric comparison needs a number */
    expect_error("last_inform<yesterday", 12);
    expect_error("last_inform=5", 11);
    expect_error("model=x tag=y", 8);
    expect_error("serial=\"abc", 7);
    expect_error("serial=\"a\\nb\"", 9);
    expect_error("NOT", 3);
    expect_error("online=maybe", 7);
    expect_error("=x", 0);
    expect_error("param.=x", 0);     /* "param." alone is no field */
    expect_error("model x", 6);
    expect_error("()", 1);
    char deep[64] = "";
    for (int i = 0; i < 18; i++)
        strcat(deep, "(");
    strcat(deep, "model=x");
    for (int i = 0; i < 18; i++)
        strcat(deep, ")");
    expect_error(deep, 16);
    store_filter_t f;
    store_filter_error_t e;
    assert_int_equal(store_filter_parse(&f, "model=a\0b", 9, &e), -EINVAL);
    assert_int_equal(e.pos, 7);
}

static void test_bounds(void **state)
{
    (void)state;
    store_filter_t f;
    store_filter_error_t e;
    /* too long */
    char *big = malloc(STORE_FILTER_MAX + 2);
    memset(big, 'a', STORE_FILTER_MAX + 1);
    big[STORE_FILTER_MAX + 1] = '\0';
    assert_int_equal(store_filter_parse(&f, big, STORE_FILTER_MAX + 1, &e), -E2BIG);
    /* one long value fits */
    memcpy(big, "serial=", 7);
    assert_int_equal(store_filter_parse(&f, big, STORE_FILTER_MAX, &e), 0);
    free(big);
    /* too many nodes: a clear error, not a crash */
    char many[STORE_FILTER_MAX];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "%sid=%d", i ? " OR " : "", i);
    int rc = store_filter_parse(&f, many, n, &e);
    assert_int_equal(rc, -E2BIG);
    assert_non_null(strstr(e.msg, "complex"));
    /* the API's extra conditions: ANDed onto the root */
    assert_int_equal(parse(&f, "model=x OR model=y", NULL), 0);
    assert_int_equal(store_filter_and_cmp(&f, SF_F_TAG, SF_EQ, "lab"), 0);
    static const store_filter_field_t q[] = { SF_F_ID, SF_F_SERIAL };
    assert_int_equal(store_filter_and_any(&f, q, 2, SF_PREFIX_CI, "ab"), 0);
    char out[512];
    show(&f, f.root, out, sizeof out);
    assert_string_equal(out, "(((model=[x] OR model=[y]) AND tag=[lab]) AND (id^=[ab] OR serial^=[ab]))");
    store_filter_init(&f);
    assert_int_equal(store_filter_and_cmp(&f, SF_F_ONLINE, SF_EQ, "true"), 0);
    assert_true(f.n[f.root].yes);
}

/* ---- compiled, against a real store --------------------------------------------------- */

static int add_id(const store_device_t *d, int64_t rid, void *ud)
{
    (void)rid;
    char *out = ud;
    strcat(out, d->serial);
    strcat(out, " ");
    return 0;
}

/* a page's last row: the key of the next page */
typedef struct walk {
    char out[128], key[64];
    int64_t rid;
    int n;
} walk_t;

static int walk_row(const store_device_t *d, int64_t rid, void *ud)
{
    walk_t *w = ud;
    strcat(w->out, d->serial);
    strcat(w->out, " ");
    str_copy(w->key, sizeof w->key, d->product_class);
    w->rid = rid;
    w->n++;
    return 0;
}

static void search(store_t *s, const char *flt, store_sort_t sort, bool desc, const char *want,
                   int64_t want_total)
{
    store_filter_t f;
    store_filter_error_t e;
    assert_int_equal(parse(&f, flt, &e), 0);
    store_search_t q = { .filter = &f, .now = 100000, .default_interval = 300, .sort = sort,
                         .desc = desc, .limit = 100 };
    char out[512] = "";
    int64_t total = -1;
    assert_int_equal(store_device_search(s, &q, add_id, out, &total), 0);
    if (strcmp(out, want) != 0)
        fail_msg("%s: got '%s', want '%s'", flt, out, want);
    assert_int_equal(total, want_total);
}

static void test_search_sql(void **state)
{
    (void)state;
    char path[TEST_DB_MAX];
    assert_int_equal(test_db_new(path, sizeof path, "/tmp/store-filter-XXXXXX"), 0);
    store_t *s;
    assert_int_equal(store_open(path, NULL, &s), 0);
    static const struct { const char *serial, *model, *tags, *x; int64_t last; } devs[] = {
        { "S1", "M1", "lab", "10", 100000 },
        { "S2", "M1", "", "9.5", 1000 },
        { "S3", "M2", "lab,vip", "abc", 99990 },
        { "S4", "M%", "vip", NULL, 50 },
    };
    for (size_t i = 0; i < 4; i++) {
        store_device_t d = { .first_seen = 1, .last_inform = devs[i].last, .periodic_interval = 0 };
        str_copy(d.serial, sizeof d.serial, devs[i].serial);
        str_copy(d.product_class, sizeof d.product_class, devs[i].model);
        str_copy(d.oui, sizeof d.oui, "OUI");
        str_copy(d.tags, sizeof d.tags, devs[i].tags);
        assert_int_equal(store_device_id(d.oui, d.product_class, d.serial, d.id, sizeof d.id), 0);
        assert_int_equal(store_device_inform(s, &d, false), 0);
        if (devs[i].x) {
            store_param_t p = { .name = "X", .value = devs[i].x, .type = "xsd:string", .writable = -1 };
            assert_int_equal(store_params_put(s, d.id, &p, 1, 1), 0);
        }
    }
    search(s, "", STORE_SORT_ID, false, "S4 S1 S2 S3 ", 4); /* ids: OUI-M%25-S4 first */
    search(s, "model=M1", STORE_SORT_ID, true, "S2 S1 ", 2);
    search(s, "model^=M", STORE_SORT_LAST_INFORM, false, "S4 S2 S3 S1 ", 4);
    search(s, "model=\"M%\"", STORE_SORT_ID, false, "S4 ", 1); /* a LIKE wildcard is a byte */
    search(s, "model^=\"M%\"", STORE_SORT_ID, false, "S4 ", 1);
    search(s, "model^=M_", STORE_SORT_ID, false, "", 0);
    search(s, "model^=\"M\\\\\"", STORE_SORT_ID, false, "", 0); /* M\ */
    /* not UTF-8: matches nothing (PostgreSQL refuses such text; no error) */
    search(s, "serial=\xff OR param.X^=\xc3", STORE_SORT_ID, false, "", 0);
    search(s, "serial!=\xff", STORE_SORT_ID, false, "S4 S1 S2 S3 ", 4);
    search(s, "tag=lab", STORE_SORT_ID, false, "S1 S3 ", 2);
    search(s, "tag=la", STORE_SORT_ID, false, "", 0);
    search(s, "tag!=vip", STORE_SORT_ID, false, "S1 S2 ", 2);
    search(s, "param.X>9", STORE_SORT_ID, false, "S1 S2 ", 2);
    search(s, "param.X<=9.5", STORE_SORT_ID, false, "S2 ", 1);
    search(s, "param.X!=10", STORE_SORT_ID, false, "S4 S2 S3 ", 3);
    search(s, "param.X^=a", STORE_SORT_ID, false, "S3 ", 1);
    search(s, "online", STORE_SORT_ID, false, "S1 S3 ", 2);
    search(s, "offline OR tag=lab", STORE_SORT_SERIAL, false, "S1 S2 S3 S4 ", 4);
    search(s, "last_inform<-10s", STORE_SORT_SERIAL, false, "S2 S4 ", 2);
    search(s, "last_inform<=-10s", STORE_SORT_SERIAL, true, "S4 S3 S2 ", 3);
    search(s, "NOT (model=M1 OR model=M2) AND tag=vip", STORE_SORT_ID, false, "S4 ", 1);
    /* the same through the index of a --search-param, kept by triggers */
    for (int pass = 0; pass < 2; pass++) {
        static const char *const names[] = { "X" };
        assert_int_equal(store_search_params_set(s, names, pass == 0 ? 1 : 0), 0);
        search(s, "param.X>9", STORE_SORT_ID, false, "S1 S2 ", 2);
        search(s, "param.X!=10", STORE_SORT_ID, false, "S4 S2 S3 ", 3);
        search(s, "param.X^=a", STORE_SORT_ID, false, "S3 ", 1);
        search(s, "param.X=abc OR param.X=9.5", STORE_SORT_SERIAL, false, "S2 S3 ", 2);
    }
    static const char *const xs[] = { "X" };
    assert_int_equal(store_search_params_set(s, xs, 1), 0);
    char id3[STORE_ID_MAX];
    assert_int_equal(store_device_id("OUI", "M2", "S3", id3, sizeof id3), 0);
    store_param_t np = { .name = "X", .value = "abd", .type = "xsd:string", .writable = -1 };
    assert_int_equal(store_params_put(s, id3, &np, 1, 2), 0);       /* a changed value */
    search(s, "param.X=abc", STORE_SORT_ID, false, "", 0);
    search(s, "param.X=abd", STORE_SORT_ID, false, "S3 ", 1);
    store_param_t np4 = { .name = "X", .value = "new", .type = "xsd:string", .writable = -1 };
    char id4[STORE_ID_MAX];
    assert_int_equal(store_device_id("OUI", "M%", "S4", id4, sizeof id4), 0);
    assert_int_equal(store_params_put(s, id4, &np4, 1, 2), 0);      /* a new one */
    search(s, "param.X=new", STORE_SORT_ID, false, "S4 ", 1);
    assert_int_equal(store_device_delete(s, id4), 0);               /* gone with its device */
    search(s, "param.X=new", STORE_SORT_ID, false, "", 0);
    assert_int_equal(store_search_params_set(s, NULL, 0), 0);
    search(s, "param.X=abd", STORE_SORT_ID, false, "S3 ", 1);
    /* keyset: after S2 in last_inform order */
    store_search_t q = { .now = 100000, .sort = STORE_SORT_LAST_INFORM, .has_key = true,
                         .key_num = 1000, .key_rid = 2, .limit = 10 };
    char out[128] = "";
    assert_int_equal(store_device_search(s, &q, add_id, out, NULL), 0);
    assert_string_equal(out, "S3 S1 ");
    q.backward = true;
    out[0] = '\0';
    assert_int_equal(store_device_search(s, &q, add_id, out, NULL), 0);
    assert_string_equal(out, ""); /* S4 (last_inform 50) was deleted above */
    /* pages of one row through ties of the sort key (S1 and S2 are both M1):
     * the row id each row comes with takes the next page past it */
    walk_t w = { .out = "" };
    store_search_t mq = { .now = 100000, .sort = STORE_SORT_MODEL, .limit = 1 };
    for (int page = 0; page < 5; page++) {
        w.n = 0;
        assert_int_equal(store_device_search(s, &mq, walk_row, &w, NULL), 0);
        if (w.n == 0)
            break;
        mq.has_key = true;
        mq.key_text = w.key;
        mq.key_rid = w.rid;
    }
    assert_string_equal(w.out, "S1 S2 S3 ");
    store_close(s);
    test_db_drop(path);
}

/* 5,000 values of one device in one call, each round through the --search-param index's
 * triggers (PostgreSQL's run once per statement of 500 rows: its update trigger pairs a
 * statement's old and new rows, which a join did quadratically): the values of the indexed
 * names find the device by their new value and not by their old one. */
enum { MANY = 5000, MANY_EVERY = 7 }; /* every 7th name indexed, 715 of them */

typedef struct many {
    store_param_t p[MANY];
    char name[MANY][24], value[MANY][24];
} many_t;

/* m's MANY values: P.<i>.Value = <tag>-<i> */
static void fill_many(many_t *m, const char *tag)
{
    for (int i = 0; i < MANY; i++) {
        snprintf(m->name[i], sizeof m->name[i], "P.%d.Value", i + 1);
        snprintf(m->value[i], sizeof m->value[i], "%s-%d", tag, i + 1);
        m->p[i] = (store_param_t){ .name = m->name[i], .value = m->value[i], .type = "xsd:string",
                                   .writable = -1 };
    }
}

static void many_device(store_t *s, const char *serial, char *id, size_t n)
{
    store_device_t d = { .first_seen = 1, .last_inform = 100000 };
    str_copy(d.serial, sizeof d.serial, serial);
    str_copy(d.product_class, sizeof d.product_class, "M");
    str_copy(d.oui, sizeof d.oui, "OUI");
    assert_int_equal(store_device_id(d.oui, d.product_class, d.serial, d.id, sizeof d.id), 0);
    assert_int_equal(store_device_inform(s, &d, false), 0);
    str_copy(id, n, d.id);
}

/* search "param.P.<i>.Value=<value>": the serials found */
static void search_many(store_t *s, int i, const char *value, const char *want)
{
    char flt[96];
    snprintf(flt, sizeof flt, "param.P.%d.Value=\"%s\"", i, value);
    search(s, flt, STORE_SORT_SERIAL, false, want, *want ? (int64_t)(strlen(want) / 3) : 0);
}

static void test_search_param_many(void **state)
{
    (void)state;
    char path[TEST_DB_MAX];
    assert_int_equal(test_db_new(path, sizeof path, "/tmp/store-filter-XXXXXX"), 0);
    store_t *s;
    assert_int_equal(store_open(path, NULL, &s), 0);
    static char names[MANY / MANY_EVERY + 1][24];
    const char *nv[MANY / MANY_EVERY + 1];
    size_t nn = 0;
    for (int i = 1; i <= MANY; i += MANY_EVERY) {
        snprintf(names[nn], sizeof names[nn], "P.%d.Value", i);
        nv[nn] = names[nn];
        nn++;
    }
    assert_int_equal(store_search_params_set(s, nv, nn), 0);
    char a[STORE_ID_MAX], b[STORE_ID_MAX];
    many_device(s, "SA", a, sizeof a);
    many_device(s, "SB", b, sizeof b);
    many_t *m = malloc(sizeof *m);
    assert_non_null(m);
    fill_many(m, "a"); /* new: the insert trigger */
    assert_int_equal(store_params_put(s, a, m->p, MANY, 10), 0);
    fill_many(m, "b");
    assert_int_equal(store_params_put(s, b, m->p, MANY, 10), 0);
    search_many(s, 1, "a-1", "SA ");
    search_many(s, 4999, "b-4999", "SB ");
    /* every value of A changed in one call, but P.701 (set to c-701 before, unchanged now);
     * P.4999 becomes B's value */
    fill_many(m, "c");
    m->value[700][0] = 'x';
    assert_int_equal(store_params_put(s, a, m->p + 700, 1, 15), 0);
    m->value[700][0] = 'c';
    assert_int_equal(store_params_put(s, a, m->p + 700, 1, 16), 0);
    snprintf(m->value[MANY - 2], sizeof m->value[MANY - 2], "b-%d", MANY - 1);
    assert_int_equal(store_params_put(s, a, m->p, MANY, 20), 0);
    for (int i = 1; i < MANY - 1; i += MANY_EVERY * 51) { /* 1, 358, ..., 4642: every chunk */
        char v[24];
        snprintf(v, sizeof v, "a-%d", i);
        search_many(s, i, v, "");
        snprintf(v, sizeof v, "c-%d", i);
        search_many(s, i, v, "SA ");
        snprintf(v, sizeof v, "b-%d", i);
        search_many(s, i, v, "SB ");
    }
    search_many(s, 701, "c-701", "SA ");
    search_many(s, 4999, "b-4999", "SA SB ");
    search_many(s, 4999, "c-4999", "");
    search_many(s, 701, "x-701", "");
    search_many(s, 4992, "c-4992", "SA ");
    search_many(s, 4992, "a-4992", "");
    /* a deleted device's 5,000 rows: the delete trigger */
    assert_int_equal(store_device_delete(s, b), 0);
    search_many(s, 4999, "b-4999", "SA ");
    search_many(s, 1, "b-1", "");
    free(m);
    store_close(s);
    test_db_drop(path);
}

/* ---- bulks ------------------------------------------------------------------------------- */

static int on_rel(int64_t task, const char *device, void *ud)
{
    (*(int *)ud)++;
    return 0;
}

static int task_pending(const store_task_t *t, void *ud)
{
    (*(int *)ud)++;
    return 0;
}

static void test_bulk(void **state)
{
    (void)state;
    char path[TEST_DB_MAX];
    assert_int_equal(test_db_new(path, sizeof path, "/tmp/store-bulk-XXXXXX"), 0);
    store_t *s;
    assert_int_equal(store_open(path, NULL, &s), 0);
    char ids[5][STORE_ID_MAX];
    for (int i = 0; i < 5; i++) {
        store_device_t d = { .first_seen = 1, .last_inform = 100 };
        snprintf(d.serial, sizeof d.serial, "S%d", i);
        snprintf(d.product_class, sizeof d.product_class, i < 4 ? "M1" : "M2");
        snprintf(d.oui, sizeof d.oui, "OUI");
        assert_int_equal(store_device_id(d.oui, d.product_class, d.serial, d.id, sizeof d.id), 0);
        str_copy(ids[i], sizeof ids[i], d.id);
        assert_int_equal(store_device_inform(s, &d, false), 0);
    }
    store_filter_t f;
    assert_int_equal(parse(&f, "model=M1", NULL), 0);
    store_search_t q = { .filter = &f, .now = 100 };
    store_bulk_t b = { .type = "reboot", .params = "{}", .filter = "model=M1", .max_in_flight = 2 };
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_bulk_create(s, &b, &q, NULL, 1000), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(b.total, 4);
    /* held: no session sees them */
    int n = 0;
    assert_int_equal(store_task_pending(s, ids[0], 10, task_pending, &n), 0);
    assert_int_equal(n, 0);
    bool has;
    assert_int_equal(store_task_has_pending(s, ids[0], &has), 0);
    assert_false(has);
    /* released: the first two in order */
    n = 0;
    assert_int_equal(store_bulk_release(s, b.id, 2, on_rel, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_task_has_pending(s, ids[0], &has), 0);
    assert_true(has);
    assert_int_equal(store_task_has_pending(s, ids[2], &has), 0);
    assert_false(has);
    store_bulk_t g;
    assert_int_equal(store_bulk_get(s, b.id, &g), 0);
    assert_int_equal(g.held, 2);
    assert_int_equal(g.pending, 2);
    assert_int_equal(g.max_in_flight, 2);
    assert_string_equal(g.filter, "model=M1");
    store_bulk_clear(&g);
    /* one fails; a stop cancels only the held ones */
    store_task_t t;
    n = 0;
    assert_int_equal(store_task_pending(s, ids[0], 10, task_pending, &n), 0);
    assert_int_equal(store_task_get(s, 1, &t), 0);
    assert_int_equal(store_task_finish(s, t.id, STORE_TASK_FAILED, NULL, 9003, "no", 1001), 0);
    store_task_clear(&t);
    assert_int_equal(store_bulk_end(s, b.id, STORE_BULK_STOPPED, "ratio", 1002), 2);
    assert_int_equal(store_bulk_end(s, b.id, STORE_BULK_CANCELLED, "", 1003), -ESTALE);
    assert_int_equal(store_bulk_end(s, 999, STORE_BULK_CANCELLED, "", 1003), -ENOENT);
    assert_int_equal(store_bulk_get(s, b.id, &g), 0);
    assert_int_equal(g.state, STORE_BULK_STOPPED);
    assert_int_equal(g.failed, 1);
    assert_int_equal(g.pending, 1);
    assert_int_equal(g.cancelled, 2);
    assert_string_equal(g.reason, "ratio");
    store_bulk_clear(&g);
    /* ids; none matching is -ENODATA and leaves nothing behind */
    store_bulk_t c = { .type = "reboot", .params = "{}", .filter = "" };
    char list[1024];
    snprintf(list, sizeof list, "[\"%s\", \"%s\", \"nope\"]", ids[4], ids[4]);
    assert_int_equal(store_bulk_create(s, &c, &q, list, 1000), 0);
    assert_int_equal(c.total, 1);
    /* cancel: every task not sent, released or held */
    n = 0;
    assert_int_equal(store_bulk_release(s, c.id, 5, on_rel, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_bulk_end(s, c.id, STORE_BULK_CANCELLED, "api", 1004), 1);
    assert_int_equal(store_begin(s), 0);
    store_bulk_t e = { .type = "reboot", .params = "{}", .filter = "" };
    assert_int_equal(store_bulk_create(s, &e, &q, "[\"nope\"]", 1000), -ENODATA);
    assert_int_equal(store_rollback(s), 0);
    assert_int_equal(store_bulk_get(s, e.id, &g), -ENOENT);
    store_close(s);
    test_db_drop(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar),
        cmocka_unit_test(test_grammar_more),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_search_sql),
        cmocka_unit_test(test_search_param_many),
        cmocka_unit_test(test_bulk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
