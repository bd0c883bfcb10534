/* Unit tests: provisioning paths, the device state, and the planner's RPC
 * sequences against a fake CPE. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acs/provision/prov_declare.h"
#include "acs/provision/prov_path.h"
#include "acs/provision/prov_state.h"
#include "core/buf.h"
#include "prov_fakecpe.h"

#define NOW 1000

/* ---- paths ----------------------------------------------------------------- */

static void test_path_parse(void **state)
{
    prov_path_t p;
    assert_int_equal(prov_path_parse("Device.WiFi.SSID.1.SSID", &p), 0);
    assert_int_equal(p.nseg, 5);
    assert_false(p.pattern);
    assert_false(p.object);
    assert_string_equal(p.seg[4].name, "SSID");

    assert_int_equal(prov_path_parse("Device.WiFi.SSID.*.", &p), 0);
    assert_true(p.object);
    assert_true(p.pattern);
    assert_int_equal(p.seg[3].kind, PROV_SEG_ANY);

    assert_int_equal(prov_path_parse("Device.IP.Interface.[Alias:wan,X_A.B:c\\,d\\]].Enable", &p), 0);
    assert_int_equal(p.seg[3].kind, PROV_SEG_KEYS);
    assert_int_equal(p.seg[3].nkeys, 2);
    assert_string_equal(p.key[0].name, "Alias");
    assert_string_equal(p.key[0].value, "wan");
    assert_string_equal(p.key[1].name, "X_A.B");
    assert_string_equal(p.key[1].value, "c,d]");
    assert_string_equal(p.seg[4].name, "Enable");
    char out[600];
    assert_int_equal(prov_path_format(&p, out, sizeof out), 0);
    assert_string_equal(out, "Device.IP.Interface.[Alias:wan,X_A.B:c\\,d\\]].Enable");
    assert_int_equal(prov_path_parse("A.[K:].B", &p), 0); /* an empty key value */
    assert_string_equal(p.key[0].value, "");

    const char *bad[] = { "", ".", "A..B", ".A", "A.B c", "A.[K]", "A.[:v]", "A.[K:v", "A.[K:v]x",
                          "A.[K.:v]", "A.[K:v\\x]", "A.**", "A.*x", "A/B", "A.[K:a[b]" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(prov_path_parse(bad[i], &p), -EINVAL);
    char longp[PROV_PATH_MAX + 8];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(prov_path_parse(longp, &p), -ENAMETOOLONG);
    char many[200] = "";
    for (int i = 0; i < PROV_SEG_MAX + 1; i++)
        strcat(many, i ? ".a" : "a");
    assert_int_equal(prov_path_parse(many, &p), -ENAMETOOLONG);
    assert_true(prov_name_ok("Device.X.", 9));
    assert_false(prov_name_ok("Device.*", 8));
}

/* ---- state ----------------------------------------------------------------- */

static void test_state_load(void **state)
{
    prov_state_t *st;
    assert_int_equal(prov_state_new(NULL, &st), 0);
    store_param_t ps[] = {
        { "Device.DeviceInfo.SoftwareVersion", "1.0", "xsd:string", 0, 500, NULL, 0, -1, NULL },
        { "Device.WiFi.SSID.1.SSID", "one", "xsd:string", 1, 0, NULL, 0, -1, NULL },
        { "Device.WiFi.SSID.1.", NULL, NULL, 1, 600, NULL, 0, -1, NULL },
        { "Device.Future", "x", NULL, -1, 5000, NULL, 0, -1, NULL }, /* a clock ahead of the session */
        { "bad name", "x", NULL, -1, 1, NULL, 0, -1, NULL },
    };
    assert_int_equal(prov_state_load(st, ps, 5, NOW), 0);
    prov_node_info_t n;
    assert_int_equal(prov_state_get(st, "Device.DeviceInfo.SoftwareVersion", &n), 0);
    assert_string_equal(n.value, "1.0");
    assert_int_equal(n.type, PROV_T_STRING);
    assert_int_equal(n.t_value, 500);
    assert_int_equal(n.writable, 0);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.1.SSID", &n), 0);
    assert_int_equal(n.t_value, 1); /* no time stored: "before this session" */
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.1.", &n), 0);
    assert_true(n.object);
    assert_int_equal(n.t_children, 0); /* stored rows never prove a list complete */
    assert_int_equal(prov_state_get(st, "Device.Future", &n), 0);
    assert_int_equal(n.t_value, NOW - 1);
    assert_int_equal(prov_state_get(st, "bad name", &n), -ENOENT);
    prov_state_assume_listed(st, "Device.WiFi.", 700);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID", &n), 0);
    assert_int_equal(n.t_children, 700);
    prov_state_free(st);
}

static void test_state_gpn_gpv(void **state)
{
    prov_state_t *st;
    assert_int_equal(prov_state_new(NULL, &st), 0);
    cwmp_param_t l1[] = {
        { .name = "Device.WiFi.SSID.1.", .writable = 1 },
        { .name = "Device.WiFi.SSID.2.", .writable = 1 },
        { .name = "Device.WiFi.SSID.3.", .writable = 1 },
        { .name = "Device.Other.X", .writable = 1 }, /* outside what was asked: ignored */
    };
    assert_int_equal(prov_state_gpn(st, "Device.WiFi.SSID.", true, l1, 4, 100), 0);
    prov_node_info_t n;
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID", &n), 0);
    assert_int_equal(n.t_children, 100);
    assert_int_equal(prov_state_get(st, "Device.Other.X", &n), -ENOENT);
    cwmp_param_t v[] = { { .name = "Device.WiFi.SSID.2.SSID", .value = "two", .type = "xsd:string" },
                         { .name = "Device.WiFi.SSID.2.", .value = "obj" } };
    const char *req[] = { "Device.WiFi.SSID.2.SSID", "Device.WiFi.SSID.3.", "Device.WiFi.SSID.3.Quiet" };
    assert_int_equal(prov_state_gpv(st, req, 3, v, 2, 150), 0);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.2.SSID", &n), 0);
    assert_string_equal(n.value, "two");
    assert_int_equal(n.t_value, 150);
    assert_int_equal(n.t_path, 150);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.2", &n), 0);
    assert_true(n.object); /* a value for an object is not believed */
    /* asked, not answered, no fault: read as nothing (else asked forever) */
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.3.Quiet", &n), 0);
    assert_null(n.value);
    assert_int_equal(n.t_value, 150);
    /* instance 2 vanished: a NextLevel=true listing says so */
    cwmp_param_t l2[] = { { .name = "Device.WiFi.SSID.1.", .writable = 1 },
                          { .name = "Device.WiFi.SSID.3.", .writable = 1 } };
    assert_int_equal(prov_state_gpn(st, "Device.WiFi.SSID.", true, l2, 2, 200), 0);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.2.SSID", &n), -ENOENT);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.2", &n), -ENOENT);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID", &n), 0);
    assert_int_equal(n.t_children, 200);
    /* NextLevel=false: the whole subtree, and every object in it is listed */
    cwmp_param_t l3[] = { { .name = "Device.WiFi.", .writable = 0 },
                          { .name = "Device.WiFi.SSID.", .writable = 0 },
                          { .name = "Device.WiFi.SSID.3.", .writable = 1 },
                          { .name = "Device.WiFi.SSID.3.SSID", .writable = 1 } };
    assert_int_equal(prov_state_gpn(st, "Device.WiFi.", false, l3, 4, 300), 0);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.1", &n), -ENOENT);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.3", &n), 0);
    assert_int_equal(n.t_children, 300);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.3.SSID", &n), 0);
    assert_int_equal(n.writable, 1);
    assert_int_equal(n.t_writable, 300);
    /* a 9005 / DeleteObject leaves a tombstone */
    assert_int_equal(prov_state_absent(st, "Device.WiFi.SSID.3.", 400), 0);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.3", &n), 0);
    assert_false(n.exists);
    assert_int_equal(n.t_path, 400);
    assert_int_equal(prov_state_get(st, "Device.WiFi.SSID.3.SSID", &n), -ENOENT);
    prov_state_free(st);
}

static void test_state_hostile_sizes(void **state)
{
    prov_state_t *st;
    prov_state_opts_t o = { .max_nodes = 50, .max_bytes = 64 * 1024 };
    assert_int_equal(prov_state_new(&o, &st), 0);
    assert_int_equal(prov_state_gpn_begin(st, "Device.", false, 10), 0);
    int rc = 0;
    char name[64];
    for (int i = 0; i < 1000 && rc == 0; i++) {
        snprintf(name, sizeof name, "Device.Hosts.Host.%d.", i);
        rc = prov_state_gpn_item(st, name, 0);
    }
    prov_state_gpn_end(st);
    assert_int_equal(rc, -ENOBUFS);
    assert_true(prov_state_nodes(st) <= 50);
    /* a huge value hits the byte cap, not the allocator */
    char *big = malloc(100 * 1024);
    memset(big, 'x', 100 * 1024 - 1);
    big[100 * 1024 - 1] = '\0';
    assert_int_equal(prov_state_gpv_item(st, "Device.X", big, "xsd:string", 20), -ENOBUFS);
    assert_true(prov_state_bytes(st) <= 64 * 1024);
    /* names the codec would pass but TR-106 does not allow are ignored */
    assert_int_equal(prov_state_gpv_item(st, "Device.<script>", "v", NULL, 20), 0);
    memset(big, 'a', PROV_PATH_MAX + 10);
    big[PROV_PATH_MAX + 10] = '\0';
    assert_int_equal(prov_state_gpv_item(st, big, "v", NULL, 20), 0);
    prov_node_info_t n;
    assert_int_equal(prov_state_get(st, "Device.<script>", &n), -ENOENT);
    free(big);
    prov_state_free(st); /* and ASan sees no leak */
}

/* ---- resolution ------------------------------------------------------------ */

typedef struct rlog {
    char buf[2048];
} rlog_t;

static int rlog_fn(void *ud, const prov_res_t *r)
{
    rlog_t *l = ud;
    size_t o = strlen(l->buf);
    const char *k = r->kind == PROV_RES_MATCH ? "M" : r->kind == PROV_RES_NEED_NAMES ? "N" : "V";
    snprintf(l->buf + o, sizeof l->buf - o, "%s:%s%s ", k, r->path,
             r->kind == PROV_RES_NEED_NAMES ? (r->next_level ? "(1)" : "(0)") : "");
    return 0;
}

static int resolve(prov_state_t *st, const char *path, int64_t t, rlog_t *l)
{
    prov_path_t p;
    assert_int_equal(prov_path_parse(path, &p), 0);
    l->buf[0] = '\0';
    return prov_state_resolve(st, &p, t, rlog_fn, l);
}

static void test_selectors(void **state)
{
    prov_state_t *st;
    assert_int_equal(prov_state_new(NULL, &st), 0);
    rlog_t l;
    /* nothing known: the smallest covering subtree is asked for */
    assert_int_equal(resolve(st, "Device.IP.Interface.[Alias:wan].Enable", 0, &l), 1);
    assert_string_equal(l.buf, "N:Device.IP.Interface.(0) ");
    assert_int_equal(resolve(st, "Device.WiFi.SSID.*", 0, &l), 1);
    assert_string_equal(l.buf, "N:Device.WiFi.SSID.(1) ");
    assert_int_equal(resolve(st, "Device.WiFi.SSID.*.SSID", 0, &l), 1);
    assert_string_equal(l.buf, "N:Device.WiFi.SSID.(0) ");
    assert_int_equal(resolve(st, "Device.X.Y", 5, &l), 1);
    assert_string_equal(l.buf, "N:Device.X.Y(0) ");
    /* a literal path without a timestamp is trusted */
    assert_int_equal(resolve(st, "Device.X.Y", 0, &l), 0);
    assert_string_equal(l.buf, "M:Device.X.Y ");

    cwmp_param_t names[] = {
        { .name = "Device.IP.Interface.", .writable = 1 },
        { .name = "Device.IP.Interface.1.", .writable = 1 },
        { .name = "Device.IP.Interface.1.Alias", .writable = 1 },
        { .name = "Device.IP.Interface.1.Enable", .writable = 1 },
        { .name = "Device.IP.Interface.10.", .writable = 1 },
        { .name = "Device.IP.Interface.10.Alias", .writable = 1 },
        { .name = "Device.IP.Interface.10.Enable", .writable = 1 },
        { .name = "Device.IP.Interface.2.", .writable = 1 },
        { .name = "Device.IP.Interface.2.Enable", .writable = 1 }, /* no Alias */
    };
    assert_int_equal(prov_state_gpn(st, "Device.IP.Interface.", false, names, 9, 100), 0);
    /* instances by number (2 before 10) */
    assert_int_equal(resolve(st, "Device.IP.Interface.*.Enable", 0, &l), 0);
    assert_string_equal(l.buf, "M:Device.IP.Interface.1.Enable M:Device.IP.Interface.2.Enable "
                               "M:Device.IP.Interface.10.Enable ");
    /* keys need the values first */
    assert_int_equal(resolve(st, "Device.IP.Interface.[Alias:wan].Enable", 0, &l), 1);
    assert_string_equal(l.buf, "V:Device.IP.Interface.1.Alias V:Device.IP.Interface.10.Alias ");
    cwmp_param_t vals[] = { { .name = "Device.IP.Interface.1.Alias", .value = "lan" },
                            { .name = "Device.IP.Interface.10.Alias", .value = "wan" } };
    assert_int_equal(prov_state_gpv(st, NULL, 0, vals, 2, 110), 0);
    assert_int_equal(resolve(st, "Device.IP.Interface.[Alias:wan].Enable", 0, &l), 0);
    assert_string_equal(l.buf, "M:Device.IP.Interface.10.Enable ");
    assert_int_equal(resolve(st, "Device.IP.Interface.[Alias:wan,Enable:1]", 0, &l), 1);
    assert_string_equal(l.buf, "V:Device.IP.Interface.10.Enable ");
    /* fresher structure than known: ask again */
    assert_int_equal(resolve(st, "Device.IP.Interface.*", 200, &l), 1);
    assert_string_equal(l.buf, "N:Device.IP.Interface.(1) ");
    /* a known absence is no match, and no question */
    assert_int_equal(resolve(st, "Device.IP.Interface.3.Enable", 50, &l), 0);
    assert_string_equal(l.buf, "");
    assert_int_equal(resolve(st, "Device.IP.Interface.3.Enable", 0, &l), 0);
    assert_string_equal(l.buf, "");
    prov_state_free(st);
}

/* ---- the planner ----------------------------------------------------------- */

static void trace_rpc(buf_t *b, const prov_rpc_t *r)
{
    switch (r->kind) {
    case PROV_RPC_GPN:
        buf_printf(b, "GPN %s %d; ", r->path, r->next_level);
        break;
    case PROV_RPC_GPV:
        buf_append_str(b, "GPV");
        for (size_t i = 0; i < r->n_names; i++)
            buf_printf(b, " %s", r->names[i]);
        buf_append_str(b, "; ");
        break;
    case PROV_RPC_SPV:
        buf_append_str(b, "SPV");
        for (size_t i = 0; i < r->n_params; i++)
            buf_printf(b, " %s=%s(%s)", r->params[i].name, r->params[i].value,
                       r->params[i].type + 4);
        buf_append_str(b, "; ");
        break;
    case PROV_RPC_ADD:
        buf_printf(b, "ADD %s; ", r->path);
        break;
    case PROV_RPC_DEL:
        buf_printf(b, "DEL %s; ", r->path);
        break;
    case PROV_RPC_FAULT:
        buf_printf(b, "FAULT %s; ", r->fault.message);
        break;
    case PROV_RPC_NONE:
        buf_append_str(b, "DONE");
        break;
    }
}

/* Plan, answer, apply until converged (or max rounds). */
static void drive(prov_state_t *st, const prov_decls_t *d, fakecpe_t *f, int max, buf_t *trace)
{
    for (int i = 0; i < max; i++) {
        prov_rpc_t rpc;
        assert_int_equal(prov_plan(st, d, NOW, &rpc), 0);
        trace_rpc(trace, &rpc);
        if (rpc.kind == PROV_RPC_NONE || rpc.kind == PROV_RPC_FAULT) {
            prov_rpc_clear(&rpc);
            return;
        }
        const cwmp_msg_t *resp = fake_answer(f, &rpc);
        prov_fault_t fault;
        int rc = prov_rpc_apply(st, &rpc, resp, NOW + i, &fault);
        if (rc == 1)
            buf_printf(trace, "CPEFAULT %d; ", fault.code);
        assert_true(rc == 0 || rc == 1);
        prov_rpc_clear(&rpc);
    }
    buf_append_str(trace, "GAVE UP");
}

static void decl(prov_decls_t *d, const char *path, int64_t tp, int64_t tv, const char *value)
{
    prov_decl_spec_t s = { .path = path, .t_path = tp, .t_value = tv, .value = value };
    const char *why;
    assert_int_equal(prov_decls_add(d, &s, &why), 0);
}

static void decl_count(prov_decls_t *d, const char *path, uint32_t min, uint32_t max)
{
    prov_decl_spec_t s = { .path = path, .t_path = 1, .count = true, .count_min = min,
                           .count_max = max };
    assert_int_equal(prov_decls_add(d, &s, NULL), 0);
}

typedef struct fixture {
    prov_state_t *st;
    prov_decls_t d;
    fakecpe_t f;
    buf_t trace;
} fixture_t;

static int fx_setup(void **state)
{
    fixture_t *x = calloc(1, sizeof *x);
    assert_int_equal(prov_state_new(NULL, &x->st), 0);
    prov_decls_init(&x->d);
    fake_init(&x->f);
    fake_tr181(&x->f);
    x->trace = BUF_INIT(1 << 16);
    *state = x;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture_t *x = *state;
    prov_state_free(x->st);
    prov_decls_free(&x->d);
    fake_free(&x->f);
    buf_free(&x->trace);
    free(x);
    return 0;
}

static void test_plan_read_first(void **state)
{
    fixture_t *x = *state;
    decl(&x->d, "Device.DeviceInfo.ModelName", 0, 1, NULL);
    decl(&x->d, "Device.DeviceInfo.SoftwareVersion", 0, 1, NULL);
    drive(x->st, &x->d, &x->f, 10, &x->trace);
    assert_string_equal(x->trace.data, "GPV Device.DeviceInfo.ModelName "
                                       "Device.DeviceInfo.SoftwareVersion; DONE");
}

static void test_plan_one_spv(void **state)
{
    fixture_t *x = *state;
    /* types: the data model's (read), else a sibling instance's, else string */
    cwmp_param_t v[] = { { .name = "Device.WiFi.SSID.1.Enable", .value = "true", .type = "xsd:boolean" } };
    assert_int_equal(prov_state_gpv(x->st, NULL, 0, v, 1, 10), 0);
    decl(&x->d, "Device.ManagementServer.PeriodicInformInterval", 0, 0, "300");
    decl(&x->d, "Device.WiFi.SSID.2.Enable", 0, 0, "1");
    decl(&x->d, "Device.WiFi.SSID.1.SSID", 0, 0, "first");
    decl(&x->d, "Device.WiFi.SSID.1.SSID", 0, 0, "last wins");
    drive(x->st, &x->d, &x->f, 10, &x->trace);
    assert_string_equal(x->trace.data,
                        "SPV Device.ManagementServer.PeriodicInformInterval=300(string) "
                        "Device.WiFi.SSID.1.SSID=last wins(string) "
                        "Device.WiFi.SSID.2.Enable=1(boolean); DONE");
    assert_string_equal(fake_get(&x->f, "Device.WiFi.SSID.1.SSID"), "last wins");
    /* already there: nothing to send */
    buf_reset(&x->trace);
    drive(x->st, &x->d, &x->f, 10, &x->trace);
    assert_string_equal(x->trace.data, "DONE");
}

static void test_plan_count_up_keys(void **state)
{
    fixture_t *x = *state;
    decl_count(&x->d, "Device.WiFi.SSID.*", 4, 4);
    decl_count(&x->d, "Device.IP.Interface.[Alias:wan]", 1, 1);
    drive(x->st, &x->d, &x->f, 20, &x->trace);
    assert_string_equal(x->trace.data,
                        "GPN Device.IP.Interface. 0; GPN Device.WiFi.SSID. 1; "
                        "GPV Device.IP.Interface.1.Alias; "
                        "ADD Device.WiFi.SSID.; ADD Device.WiFi.SSID.; ADD Device.IP.Interface.; "
                        "SPV Device.IP.Interface.2.Alias=wan(string); DONE");
    assert_true(fake_has(&x->f, "Device.WiFi.SSID.4."));
    assert_false(fake_has(&x->f, "Device.WiFi.SSID.5."));
    assert_string_equal(fake_get(&x->f, "Device.IP.Interface.2.Alias"), "wan");
}

static void test_plan_count_down(void **state)
{
    fixture_t *x = *state;
    fake_set(&x->f, "Device.WiFi.SSID.3.SSID", "three", NULL, 1);
    decl_count(&x->d, "Device.WiFi.SSID.*", 0, 1);
    drive(x->st, &x->d, &x->f, 20, &x->trace);
    assert_string_equal(x->trace.data, "GPN Device.WiFi.SSID. 1; DEL Device.WiFi.SSID.3.; "
                                       "DEL Device.WiFi.SSID.2.; DONE");
    assert_true(fake_has(&x->f, "Device.WiFi.SSID.1."));
    assert_false(fake_has(&x->f, "Device.WiFi.SSID.2."));
}

static void test_plan_unknown_structure(void **state)
{
    fixture_t *x = *state;
    decl(&x->d, "Device.WiFi.SSID.*.SSID", 0, 1, NULL);
    /* no type known for Enable: the one the script's value suggests */
    prov_decl_spec_t s = { .path = "Device.WiFi.SSID.*.Enable", .value = "true",
                           .fallback = PROV_T_BOOL };
    assert_int_equal(prov_decls_add(&x->d, &s, NULL), 0);
    decl(&x->d, "Device.Nope.X", 1, 1, NULL); /* checked first, found missing */
    drive(x->st, &x->d, &x->f, 20, &x->trace);
    assert_string_equal(x->trace.data,
                        "GPN Device.Nope.X 0; GPN Device.WiFi.SSID. 0; "
                        "GPV Device.WiFi.SSID.1.SSID Device.WiFi.SSID.2.SSID; "
                        "SPV Device.WiFi.SSID.1.Enable=true(boolean) "
                        "Device.WiFi.SSID.2.Enable=true(boolean); DONE");
    assert_string_equal(fake_get(&x->f, "Device.WiFi.SSID.2.Enable"), "true");
}

static void test_plan_refresh_and_writable(void **state)
{
    fixture_t *x = *state;
    decl(&x->d, "Device.WiFi.", NOW, NOW, NULL);
    prov_decl_spec_t s = { .path = "Device.DeviceInfo.ModelName", .t_writable = 1, .value = "X" };
    assert_int_equal(prov_decls_add(&x->d, &s, NULL), 0);
    drive(x->st, &x->d, &x->f, 20, &x->trace);
    /* the fault is known as soon as the writable flag is: before the rest */
    assert_string_equal(x->trace.data, "GPN Device.DeviceInfo. 1; "
                                       "FAULT Device.DeviceInfo.ModelName is not writable; ");
    prov_decls_reset(&x->d);
    decl(&x->d, "Device.WiFi.", NOW, NOW, NULL);
    buf_reset(&x->trace);
    drive(x->st, &x->d, &x->f, 20, &x->trace);
    assert_string_equal(x->trace.data, "GPN Device.WiFi. 0; GPV Device.WiFi.; DONE");
    prov_node_info_t n;
    assert_int_equal(prov_state_get(x->st, "Device.WiFi.AccessPoint.1.Security.KeyPassphrase", &n), 0);
    assert_true(n.t_value >= NOW);
}

static void test_plan_invalid(void **state)
{
    fixture_t *x = *state;
    const char *why;
    prov_decl_spec_t s = { .path = "Device.WiFi.SSID.1", .count = true, .count_max = 1 };
    assert_int_equal(prov_decls_add(&x->d, &s, &why), -EINVAL);
    assert_non_null(why);
    prov_decl_spec_t s2 = { .path = "Device.WiFi.", .value = "x" };
    assert_int_equal(prov_decls_add(&x->d, &s2, &why), -EINVAL);
    prov_decl_spec_t s3 = { .path = "Device.X", .value = "abc", .type = PROV_T_UINT };
    assert_int_equal(prov_decls_add(&x->d, &s3, &why), 0);
    drive(x->st, &x->d, &x->f, 5, &x->trace);
    assert_string_equal(x->trace.data, "FAULT value is not a valid xsd:unsignedInt for Device.X; ");
    x->d.max = 1;
    assert_int_equal(prov_decls_add(&x->d, &s3, &why), -ENOBUFS);
}

static void test_plan_never_converges(void **state)
{
    fixture_t *x = *state;
    decl(&x->d, "Device.DeviceInfo.ModelName", 0, NOW + 3600, NULL); /* a read from the future */
    drive(x->st, &x->d, &x->f, 5, &x->trace);
    assert_non_null(strstr(x->trace.data, "GAVE UP"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_parse),
        cmocka_unit_test(test_state_load),
        cmocka_unit_test(test_state_gpn_gpv),
        cmocka_unit_test(test_state_hostile_sizes),
        cmocka_unit_test(test_selectors),
        cmocka_unit_test_setup_teardown(test_plan_read_first, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_one_spv, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_count_up_keys, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_count_down, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_unknown_structure, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_refresh_and_writable, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_invalid, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_never_converges, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
