/* Unit tests: the cpe-sim data model engine on the built-in models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpesim/dm.h"
#include "cpesim/dm_csv.h"

/* ---- helpers ------------------------------------------------------------- */

static int dyn(void *ctx, dm_dyn_t kind, unsigned arg, buf_t *out)
{
    switch (kind) {
    case DM_DYN_SERIAL: return buf_printf(out, "SIM%06d", *(int *)ctx);
    case DM_DYN_CR_URL: return buf_printf(out, "http://127.0.0.1:30000/cr/SIM%06d", *(int *)ctx);
    case DM_DYN_CR_USER: return buf_printf(out, "SIM%06d", *(int *)ctx);
    case DM_DYN_CR_PASS: return buf_append_str(out, "crpass");
    case DM_DYN_UPTIME: return buf_append_str(out, "42");
    case DM_DYN_NOW: return buf_append_str(out, "2026-01-01T00:00:00Z");
    case DM_DYN_MAC: return buf_printf(out, "02:00:00:00:%02X:%02X", *(int *)ctx & 0xff, arg);
    case DM_DYN_WAN_IP: return buf_printf(out, "100.64.0.%d", *(int *)ctx);
    default: return -1;
    }
}

typedef struct cpe {
    int id;
    dm_inst_t *inst;
    dm_env_t env;
    dm_view_t v;
} cpe_t;

static void cpe_init(cpe_t *c, const dm_model_t *m, int id)
{
    c->id = id;
    c->inst = NULL;
    c->env = (dm_env_t){ dyn, &c->id };
    c->v = (dm_view_t){ m, &c->inst, &c->env };
}

typedef struct list {
    size_t n;
    char names[4096][160];
    char values[4096][64];
    bool writable[4096];
    uint8_t notify[4096];
} list_t;

static int collect(void *ud, const dm_item_t *it)
{
    list_t *l = ud;
    if (l->n >= 4096)
        return -1;
    snprintf(l->names[l->n], sizeof l->names[0], "%s", it->name);
    snprintf(l->values[l->n], sizeof l->values[0], "%s", it->value ? it->value : "(obj)");
    l->writable[l->n] = it->writable;
    l->notify[l->n] = it->notify;
    l->n++;
    return 0;
}

static list_t *list_new(void) { return calloc(1, sizeof(list_t)); }

static int find(const list_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return (int)i;
    return -1;
}

static const char *get1(cpe_t *c, const char *name)
{
    static list_t l;
    l.n = 0;
    if (dm_get_values(&c->v, name, collect, &l) != 0 || l.n != 1)
        return NULL;
    return l.values[0];
}

static int setv(cpe_t *c, const char *name, const char *value, const char *type, int *fault)
{
    dm_set_t s = { name, value, type };
    int f = 0;
    int rc = dm_set_values(&c->v, &s, 1, "pk1", &f, NULL);
    if (fault)
        *fault = f;
    return rc;
}

static dm_model_t *model(const char *name)
{
    dm_model_t *m = dm_model_new();
    assert_non_null(m);
    assert_int_equal(dm_builtin_load(m, name), 0);
    char err[256] = "";
    assert_int_equal(dm_model_seal(m, err, sizeof err), 0);
    return m;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_builtin_tr181(void **state)
{
    dm_model_t *m = model("tr181");
    assert_string_equal(dm_model_root(m), "Device.");
    assert_true(dm_model_params(m) >= 300);
    assert_string_equal(dm_wk_name(m, DM_WK_SERIAL), "Device.DeviceInfo.SerialNumber");
    assert_string_equal(dm_wk_name(m, DM_WK_WAN_IP), "Device.IP.Interface.1.IPv4Address.1.IPAddress");
    assert_string_equal(dm_wk_name(m, DM_WK_PERIODIC_INTERVAL),
                        "Device.ManagementServer.PeriodicInformInterval");
    assert_false(dm_model_has(m, "Device.NAT.PortMapping.{i}.Enable"));
    assert_true(dm_model_has(m, "Device.NAT.PortMapping."));
    dm_model_free(m);
}

static void test_gpn(void **state)
{
    dm_model_t *m = model("tr181");
    cpe_t c;
    cpe_init(&c, m, 1);
    list_t *l = list_new();
    assert_int_equal(dm_get_names(&c.v, "", true, collect, l), 0);
    assert_int_equal(l->n, 1);
    assert_string_equal(l->names[0], "Device.");

    l->n = 0;
    assert_int_equal(dm_get_names(&c.v, "Device.", true, collect, l), 0);
    assert_true(find(l, "Device.DeviceInfo.") >= 0);
    assert_true(find(l, "Device.RootDataModelVersion") >= 0);
    assert_true(find(l, "Device.") < 0);
    assert_true(find(l, "Device.DeviceInfo.Manufacturer") < 0);

    l->n = 0;
    assert_int_equal(dm_get_names(&c.v, "Device.NAT.", false, collect, l), 0);
    assert_string_equal(l->names[0], "Device.NAT.");
    int pm = find(l, "Device.NAT.PortMapping.");
    assert_true(pm >= 0);
    assert_true(l->writable[pm]); /* AddObject allowed */
    assert_int_equal(find(l, "Device.NAT.PortMapping.{i}."), -1);

    l->n = 0;
    assert_int_equal(dm_get_names(&c.v, "Device.WiFi.SSID.1.SSID", false, collect, l), 0);
    assert_int_equal(l->n, 1);
    assert_true(l->writable[0]);
    assert_int_equal(dm_get_names(&c.v, "Device.WiFi.SSID.1.SSID", true, collect, l), 9003);
    assert_int_equal(dm_get_names(&c.v, "Device.Nope.", false, collect, l), 9005);
    assert_int_equal(dm_get_names(&c.v, "Device.DeviceInfo", false, collect, l), 9005);
    assert_int_equal(dm_get_names(&c.v, "Device..X", false, collect, l), 9005);
    assert_int_equal(dm_get_names(&c.v, "Device.NAT.PortMapping.{i}.", false, collect, l), 9005);

    /* the whole tree: every parameter once, instances in numeric order */
    l->n = 0;
    assert_int_equal(dm_get_names(&c.v, "", false, collect, l), 0);
    assert_int_equal(l->n, dm_model_nodes(m));
    assert_true(find(l, "Device.Ethernet.Interface.1.") < find(l, "Device.Ethernet.Interface.2."));
    free(l);
    dm_model_free(m);
}

static void test_gpv_dynamic(void **state)
{
    dm_model_t *m = model("tr181");
    cpe_t a, b;
    cpe_init(&a, m, 7);
    cpe_init(&b, m, 8);
    assert_string_equal(get1(&a, "Device.DeviceInfo.SerialNumber"), "SIM000007");
    assert_string_equal(get1(&b, "Device.DeviceInfo.SerialNumber"), "SIM000008");
    assert_string_equal(get1(&a, "Device.ManagementServer.ConnectionRequestURL"),
                        "http://127.0.0.1:30000/cr/SIM000007");
    assert_string_equal(get1(&a, "Device.ManagementServer.ConnectionRequestPassword"), "");
    assert_string_equal(get1(&a, "Device.ManagementServer.Password"), "");
    list_t *l = list_new();
    assert_int_equal(dm_get_values(&a.v, "Device.DeviceInfo.", collect, l), 0);
    assert_true(l->n > 15);
    assert_int_equal(find(l, "Device.DeviceInfo.MemoryStatus."), -1); /* parameters only */
    assert_true(find(l, "Device.DeviceInfo.MemoryStatus.Total") >= 0);
    assert_int_equal(dm_get_values(&a.v, "Device.DeviceInfo.Nope", collect, l), 9005);
    assert_int_equal(dm_get_values(&a.v, "Device.DeviceInfo.Manufacturer.", collect, l), 9005);
    buf_t out = BUF_INIT(1024);
    assert_int_equal(dm_wk_get(&a.v, DM_WK_CR_PASS, &out), 0);
    assert_string_equal(out.data, "crpass");
    buf_free(&out);
    free(l);
    assert_null(a.inst); /* reading never creates an overlay */
    dm_model_free(m);
}

static void test_spv(void **state)
{
    dm_model_t *m = model("tr181");
    cpe_t c, other;
    cpe_init(&c, m, 1);
    cpe_init(&other, m, 2);
    int f;
    assert_int_equal(setv(&c, "Device.WiFi.SSID.1.SSID", "home", "xsd:string", &f), 0);
    assert_string_equal(get1(&c, "Device.WiFi.SSID.1.SSID"), "home");
    assert_string_equal(get1(&other, "Device.WiFi.SSID.1.SSID"), "Outpost-2G");
    assert_string_equal(get1(&c, "Device.ManagementServer.ParameterKey"), "pk1");
    assert_int_equal(setv(&c, "Device.WiFi.SSID.1.SSID", "x", NULL, &f), 0); /* no xsi:type */

    assert_int_equal(setv(&c, "Device.DeviceInfo.Manufacturer", "x", NULL, &f), 9003);
    assert_int_equal(f, 9008);
    assert_int_equal(setv(&c, "Device.Nope", "x", NULL, &f), 9003);
    assert_int_equal(f, 9005);
    assert_int_equal(setv(&c, "Device.DeviceInfo.", "x", NULL, &f), 9003);
    assert_int_equal(f, 9005);
    assert_int_equal(setv(&c, "Device.WiFi.SSID.1.SSID", "x", "xsd:boolean", &f), 9003);
    assert_int_equal(f, 9006);
    assert_int_equal(setv(&c, "Device.WiFi.SSID.1.SSID", "x", "xsd:bogus", &f), 9003);
    assert_int_equal(f, 9006);
    assert_int_equal(setv(&c, "Device.ManagementServer.PeriodicInformInterval", "abc", "xsd:unsignedInt", &f), 9003);
    assert_int_equal(f, 9007);
    assert_int_equal(setv(&c, "Device.ManagementServer.PeriodicInformInterval", "0", NULL, &f), 9003);
    assert_int_equal(f, 9007);
    assert_int_equal(setv(&c, "Device.ManagementServer.PeriodicInformInterval", "4294967296", NULL, &f), 9003);
    assert_int_equal(setv(&c, "Device.WiFi.SSID.1.SSID", "0123456789012345678901234567890123", NULL, &f), 9003);
    assert_int_equal(f, 9007);
    assert_int_equal(setv(&c, "Device.WiFi.Radio.1.OperatingChannelBandwidth", "33MHz", NULL, &f), 9003);
    assert_int_equal(setv(&c, "Device.WiFi.Radio.1.OperatingChannelBandwidth", "40MHz", NULL, &f), 0);
    assert_int_equal(setv(&c, "Device.ManagementServer.EnableCWMP", "maybe", NULL, &f), 9003);
    assert_int_equal(setv(&c, "Device.ManagementServer.EnableCWMP", "1", "xsd:boolean", &f), 0);
    assert_int_equal(setv(&c, "Device.UserInterface.TextColor", "12345", NULL, &f), 9003);
    assert_int_equal(setv(&c, "Device.UserInterface.ISPLogo", "aGk=", "xsd:base64", &f), 0);
    assert_int_equal(setv(&c, "Device.UserInterface.ISPLogo", "a*k=", NULL, &f), 9003);
    assert_int_equal(setv(&c, "Device.UserInterface.WarrantyDate", "2030-01-02T03:04:05Z", NULL, &f), 0);
    assert_int_equal(setv(&c, "Device.UserInterface.WarrantyDate", "tomorrow", NULL, &f), 9003);
    assert_int_equal(setv(&c, "Device.WiFi.SSID.1.SSID", "bad\x01", NULL, &f), 9003);

    /* all or nothing, one fault per bad item, duplicates refused */
    dm_set_t items[3] = {
        { "Device.WiFi.SSID.2.SSID", "new5g", NULL },
        { "Device.DeviceInfo.UpTime", "1", NULL },
        { "Device.WiFi.SSID.2.SSID", "again", NULL },
    };
    int faults[3];
    uint32_t mask;
    assert_int_equal(dm_set_values(&c.v, items, 3, "pk2", faults, &mask), 9003);
    assert_int_equal(faults[0], 0);
    assert_int_equal(faults[1], 9008);
    assert_int_equal(faults[2], 9003);
    assert_string_equal(get1(&c, "Device.WiFi.SSID.2.SSID"), "Outpost-5G");
    assert_string_equal(get1(&c, "Device.ManagementServer.ParameterKey"), "pk1");

    dm_set_t pi = { "Device.ManagementServer.PeriodicInformInterval", "60", "xsd:unsignedInt" };
    assert_int_equal(dm_set_values(&c.v, &pi, 1, NULL, faults, &mask), 0);
    assert_int_equal(mask, 1u << DM_WK_PERIODIC_INTERVAL);
    assert_int_equal(dm_set_values(&c.v, &pi, 1, "0123456789012345678901234567890123", faults, &mask), 9003);

    /* a secret reads back empty but the CPE itself sees it */
    assert_int_equal(setv(&c, "Device.ManagementServer.ConnectionRequestPassword", "s3cret", NULL, &f), 0);
    assert_string_equal(get1(&c, "Device.ManagementServer.ConnectionRequestPassword"), "");
    buf_t out = BUF_INIT(1024);
    assert_int_equal(dm_wk_get(&c.v, DM_WK_CR_PASS, &out), 0);
    assert_string_equal(out.data, "s3cret");
    buf_free(&out);

    /* factory reset: the overlay goes, defaults are back */
    dm_inst_free(c.inst);
    c.inst = NULL;
    assert_string_equal(get1(&c, "Device.WiFi.SSID.1.SSID"), "Outpost-2G");
    assert_null(other.inst);
    dm_model_free(m);
}

/* A hostile ACS's 50,000-item SetParameterValues: linear-ish, one fault per repeat. */
static void test_spv_many(void **state)
{
    dm_model_t *m = model("tr181");
    cpe_t c;
    cpe_init(&c, m, 1);
    enum { N = 50000 };
    dm_set_t *items = calloc(N, sizeof *items);
    int *faults = calloc(N, sizeof *faults);
    for (size_t i = 0; i < N; i++)
        items[i] = (dm_set_t){ i % 2 ? "Device.WiFi.SSID.1.SSID" : "Device.WiFi.SSID.2.SSID", "x", NULL };
    assert_int_equal(dm_set_values(&c.v, items, N, NULL, faults, NULL), 9003);
    assert_int_equal(faults[0], 0);
    assert_int_equal(faults[1], 0);
    for (size_t i = 2; i < N; i++)
        assert_int_equal(faults[i], 9003);
    assert_null(c.inst);
    free(items);
    free(faults);
    dm_model_free(m);
}

static void test_add_delete(void **state)
{
    dm_model_t *m = model("tr181");
    cpe_t c;
    cpe_init(&c, m, 1);
    uint32_t n = 0;
    assert_int_equal(dm_add_object(&c.v, "Device.NAT.PortMapping.", "k1", &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(get1(&c, "Device.ManagementServer.ParameterKey"), "k1");
    assert_int_equal(dm_add_object(&c.v, "Device.NAT.PortMapping.", NULL, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(get1(&c, "Device.NAT.PortMappingNumberOfEntries"), "2");
    assert_string_equal(get1(&c, "Device.NAT.PortMapping.2.Protocol"), "TCP");
    int f;
    assert_int_equal(setv(&c, "Device.NAT.PortMapping.2.ExternalPort", "8080", "xsd:unsignedInt", &f), 0);
    assert_int_equal(setv(&c, "Device.NAT.PortMapping.2.ExternalPort", "80800", NULL, &f), 9003);
    assert_int_equal(setv(&c, "Device.NAT.PortMapping.2.Status", "x", NULL, &f), 9003);
    assert_int_equal(f, 9008);
    assert_string_equal(get1(&c, "Device.NAT.PortMapping.2.ExternalPort"), "8080");

    list_t *l = list_new();
    assert_int_equal(dm_get_names(&c.v, "Device.NAT.PortMapping.", true, collect, l), 0);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->names[0], "Device.NAT.PortMapping.1.");
    assert_true(l->writable[0]); /* deletable */

    assert_int_equal(dm_delete_object(&c.v, "Device.NAT.PortMapping.1.", "k2"), 0);
    assert_null(get1(&c, "Device.NAT.PortMapping.1.Enable"));
    assert_string_equal(get1(&c, "Device.NAT.PortMappingNumberOfEntries"), "1");
    assert_int_equal(dm_add_object(&c.v, "Device.NAT.PortMapping.", NULL, &n), 0);
    assert_int_equal(n, 3); /* numbers are not reused */
    assert_int_equal(dm_delete_object(&c.v, "Device.NAT.PortMapping.1.", NULL), 9005);
    assert_int_equal(dm_delete_object(&c.v, "Device.NAT.PortMapping.", NULL), 9005);
    assert_int_equal(dm_delete_object(&c.v, "Device.NAT.PortMapping.3", NULL), 9005);

    assert_int_equal(dm_add_object(&c.v, "Device.DeviceInfo.", NULL, &n), 9005);
    assert_int_equal(dm_add_object(&c.v, "Device.Hosts.Host.", NULL, &n), 9001);
    assert_int_equal(dm_add_object(&c.v, "Device.Nope.", NULL, &n), 9005);
    assert_int_equal(dm_add_object(&c.v, "Device.NAT.PortMapping", NULL, &n), 9005);
    assert_int_equal(dm_delete_object(&c.v, "Device.Hosts.Host.1.", NULL), 9001);

    /* deleting a shared instance */
    assert_string_equal(get1(&c, "Device.DNS.Client.ServerNumberOfEntries"), "2");
    assert_int_equal(setv(&c, "Device.DNS.Client.Server.2.DNSServer", "203.0.113.1", NULL, &f), 0);
    assert_int_equal(dm_delete_object(&c.v, "Device.DNS.Client.Server.2.", NULL), 0);
    assert_null(get1(&c, "Device.DNS.Client.Server.2.DNSServer"));
    assert_string_equal(get1(&c, "Device.DNS.Client.ServerNumberOfEntries"), "1");
    l->n = 0;
    assert_int_equal(dm_get_names(&c.v, "Device.DNS.Client.Server.", false, collect, l), 0);
    assert_int_equal(find(l, "Device.DNS.Client.Server.2."), -1);
    assert_int_equal(dm_add_object(&c.v, "Device.DNS.Client.Server.", NULL, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(get1(&c, "Device.DNS.Client.Server.3.Type"), "Static");

    /* nested: a new IP interface has an empty address table that grows */
    assert_int_equal(dm_add_object(&c.v, "Device.IP.Interface.", NULL, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(get1(&c, "Device.IP.Interface.3.IPv4AddressNumberOfEntries"), "0");
    assert_int_equal(dm_add_object(&c.v, "Device.IP.Interface.3.IPv4Address.", NULL, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(setv(&c, "Device.IP.Interface.3.IPv4Address.1.IPAddress", "10.1.2.3", NULL, &f), 0);
    assert_string_equal(get1(&c, "Device.IP.Interface.3.IPv4AddressNumberOfEntries"), "1");
    assert_string_equal(get1(&c, "Device.IP.InterfaceNumberOfEntries"), "3");
    l->n = 0;
    assert_int_equal(dm_get_values(&c.v, "Device.IP.Interface.3.", collect, l), 0);
    assert_true(find(l, "Device.IP.Interface.3.IPv4Address.1.IPAddress") > find(l, "Device.IP.Interface.3.Enable"));
    assert_int_equal(dm_delete_object(&c.v, "Device.IP.Interface.3.", NULL), 0);
    assert_null(get1(&c, "Device.IP.Interface.3.IPv4Address.1.IPAddress"));
    assert_int_equal(dm_add_object(&c.v, "Device.IP.Interface.", NULL, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(dm_add_object(&c.v, "Device.IP.Interface.4.IPv4Address.", NULL, &n), 0);
    assert_int_equal(n, 1); /* a new table numbers from 1 again */
    free(l);
    dm_inst_free(c.inst);
    dm_model_free(m);
}

static void test_attributes_and_notifications(void **state)
{
    dm_model_t *m = model("tr181");
    cpe_t c;
    cpe_init(&c, m, 3);
    dm_attr_set_t a = { "Device.WiFi.Radio.1.Channel", true, 2, true, true };
    size_t bad = 99;
    assert_int_equal(dm_set_attrs(&c.v, &a, 1, &bad), 0);
    list_t *l = list_new();
    assert_int_equal(dm_get_attrs(&c.v, "Device.WiFi.Radio.1.Channel", collect, l), 0);
    assert_int_equal(l->notify[0], 2);

    dm_attr_set_t up = { "Device.DeviceInfo.UpTime", true, 2, false, false };
    assert_int_equal(dm_set_attrs(&c.v, &up, 1, &bad), 9009);
    up.notification = 1;
    assert_int_equal(dm_set_attrs(&c.v, &up, 1, &bad), 0);
    dm_attr_set_t three = { "Device.DeviceInfo.UpTime", true, 7, false, false };
    assert_int_equal(dm_set_attrs(&c.v, &three, 1, &bad), 9003);
    dm_attr_set_t nope = { "Device.Nope", true, 1, false, false };
    dm_attr_set_t two[2] = { a, nope };
    assert_int_equal(dm_set_attrs(&c.v, two, 2, &bad), 9005);
    assert_int_equal(bad, 1);
    /* a partial path sets every parameter below, skipping those refusing active */
    dm_attr_set_t part = { "Device.DeviceInfo.", true, 2, false, false };
    assert_int_equal(dm_set_attrs(&c.v, &part, 1, &bad), 0);
    l->n = 0;
    assert_int_equal(dm_get_attrs(&c.v, "Device.DeviceInfo.", collect, l), 0);
    assert_int_equal(l->notify[find(l, "Device.DeviceInfo.Manufacturer")], 2);
    assert_int_equal(l->notify[find(l, "Device.DeviceInfo.UpTime")], 1);

    /* the CPE's own change of an actively notified parameter */
    assert_false(dm_has_active_change(&c.v));
    assert_int_equal(dm_set_internal(&c.v, "Device.WiFi.Radio.1.Channel", "11"), 2);
    assert_true(dm_has_active_change(&c.v));
    assert_int_equal(dm_set_internal(&c.v, "Device.WiFi.Radio.2.Channel", "40"), 0);
    l->n = 0;
    assert_int_equal(dm_inform_params(&c.v, collect, l), 0);
    assert_true(find(l, "Device.ManagementServer.ConnectionRequestURL") >= 0);
    assert_string_equal(l->values[find(l, "Device.ManagementServer.ConnectionRequestURL")],
                        "http://127.0.0.1:30000/cr/SIM000003");
    assert_string_equal(l->values[find(l, "Device.IP.Interface.1.IPv4Address.1.IPAddress")], "100.64.0.3");
    assert_string_equal(l->values[find(l, "Device.WiFi.Radio.1.Channel")], "11");
    assert_int_equal(find(l, "Device.WiFi.Radio.2.Channel"), -1);
    dm_clear_changes(&c.v);
    assert_false(dm_has_active_change(&c.v));
    l->n = 0;
    assert_int_equal(dm_inform_params(&c.v, collect, l), 0);
    assert_int_equal(find(l, "Device.WiFi.Radio.1.Channel"), -1);

    /* passive notification: no session of its own, but in the next Inform */
    dm_attr_set_t passive = { "Device.WiFi.Radio.2.Channel", true, 1, false, false };
    assert_int_equal(dm_set_attrs(&c.v, &passive, 1, &bad), 0);
    assert_int_equal(dm_set_internal(&c.v, "Device.WiFi.Radio.2.Channel", "44"), 1);
    assert_false(dm_has_active_change(&c.v));
    l->n = 0;
    assert_int_equal(dm_inform_params(&c.v, collect, l), 0);
    assert_string_equal(l->values[find(l, "Device.WiFi.Radio.2.Channel")], "44");
    dm_clear_changes(&c.v);
    dm_type_t t;
    assert_non_null(dm_volatile_param(m, 0, &t));
    free(l);
    dm_inst_free(c.inst);
    dm_model_free(m);
}

static void test_state_roundtrip(void **state)
{
    dm_model_t *m = model("tr181");
    cpe_t a, b;
    cpe_init(&a, m, 1);
    cpe_init(&b, m, 1);
    uint32_t n;
    int f;
    assert_int_equal(dm_add_object(&a.v, "Device.NAT.PortMapping.", NULL, &n), 0);
    assert_int_equal(setv(&a, "Device.NAT.PortMapping.1.Description", "a b%c\nd", NULL, &f), 0);
    assert_int_equal(setv(&a, "Device.WiFi.SSID.1.SSID", "", NULL, &f), 0);
    assert_int_equal(dm_delete_object(&a.v, "Device.DNS.Client.Server.1.", NULL), 0);
    dm_attr_set_t at = { "Device.WiFi.SSID.1.SSID", true, 1, true, true };
    assert_int_equal(dm_set_attrs(&a.v, &at, 1, NULL), 0);
    assert_int_equal(dm_delete_object(&a.v, "Device.NAT.PortMapping.1.", "key with space"), 0);
    assert_int_equal(dm_add_object(&a.v, "Device.NAT.PortMapping.", NULL, &n), 0);
    assert_int_equal(setv(&a, "Device.NAT.PortMapping.2.Description", "a b%c\nd", NULL, &f), 0);
    assert_int_equal(dm_delete_object(&a.v, "Device.NAT.PortMapping.2.", "key with space"), 0);
    assert_int_equal(dm_add_object(&a.v, "Device.NAT.PortMapping.", NULL, &n), 0);
    assert_int_equal(n, 3);
    buf_t out = BUF_INIT(1 << 20);
    assert_int_equal(dm_inst_save(&a.v, &out), 0);
    for (size_t off = 0; off < out.len;) {
        const char *nl = memchr(out.data + off, '\n', out.len - off);
        assert_non_null(nl);
        assert_int_equal(dm_inst_load_line(&b.v, out.data + off, (size_t)(nl - out.data - off)), 0);
        off = (size_t)(nl - out.data) + 1;
    }
    assert_int_equal(dm_inst_load_line(&b.v, "v Device.Gone =x", 16), 0); /* unknown: skipped */
    assert_int_equal(dm_inst_load_line(&b.v, "q x", 3), -22);
    list_t *la = list_new(), *lb = list_new();
    assert_int_equal(dm_get_values(&a.v, "", collect, la), 0);
    assert_int_equal(dm_get_values(&b.v, "", collect, lb), 0);
    assert_int_equal(la->n, lb->n);
    for (size_t i = 0; i < la->n; i++) {
        assert_string_equal(la->names[i], lb->names[i]);
        assert_string_equal(la->values[i], lb->values[i]);
        assert_int_equal(la->notify[i], lb->notify[i]);
    }
    assert_string_equal(get1(&b, "Device.ManagementServer.ParameterKey"), "key with space");
    assert_string_equal(get1(&b, "Device.NAT.PortMapping.3.Description"), "");
    assert_int_equal(dm_add_object(&b.v, "Device.NAT.PortMapping.", NULL, &n), 0);
    assert_int_equal(n, 4);
    free(la);
    free(lb);
    buf_free(&out);
    dm_inst_free(a.inst);
    dm_inst_free(b.inst);
    dm_model_free(m);
}

static void test_overlay_cap(void **state)
{
    dm_model_t *m = model("tr181");
    cpe_t c;
    cpe_init(&c, m, 1);
    dm_set_inst_cap(8 * 1024);
    uint32_t n;
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = dm_add_object(&c.v, "Device.NAT.PortMapping.", NULL, &n);
    assert_int_equal(rc, 9004);
    assert_true(dm_inst_bytes(c.inst) <= 8 * 1024);
    dm_set_inst_cap(256 * 1024);
    dm_inst_free(c.inst);
    dm_model_free(m);
}

static void test_builtin_tr098(void **state)
{
    dm_model_t *m = model("tr098");
    assert_string_equal(dm_model_root(m), "InternetGatewayDevice.");
    assert_true(dm_model_params(m) >= 250);
    assert_string_equal(dm_wk_name(m, DM_WK_WAN_IP),
                        "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress");
    cpe_t c;
    cpe_init(&c, m, 5);
    assert_string_equal(get1(&c, "InternetGatewayDevice.LANDevice.1.LANWLANConfigurationNumberOfEntries"), "2");
    uint32_t n;
    const char *wcd = "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.";
    assert_int_equal(dm_add_object(&c.v, wcd, NULL, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(dm_add_object(&c.v, "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.2.WANPPPConnection.", NULL, &n), 0);
    assert_int_equal(n, 1);
    int f;
    assert_int_equal(setv(&c, "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.2.WANPPPConnection.1.Username", "u@isp", NULL, &f), 0);
    assert_string_equal(get1(&c, "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.2.WANPPPConnectionNumberOfEntries"), "1");
    assert_string_equal(get1(&c, "InternetGatewayDevice.WANDevice.1.WANConnectionNumberOfEntries"), "2");
    list_t *l = list_new();
    assert_int_equal(dm_inform_params(&c.v, collect, l), 0);
    assert_string_equal(l->names[0], "InternetGatewayDevice.DeviceSummary");
    assert_true(find(l, "InternetGatewayDevice.DeviceInfo.SpecVersion") >= 0);
    free(l);
    dm_inst_free(c.inst);
    dm_model_free(m);
}

static void test_model_building(void **state)
{
    dm_model_t *m = dm_model_new();
    assert_int_equal(dm_model_add(m, "Device.A.B", DM_UINT, DM_W, "x"), -22); /* bad value */
    assert_int_equal(dm_model_add(m, "Device.A.B", DM_UINT, DM_W, "3"), 0);
    assert_int_equal(dm_model_add(m, "Device.A.B.", DM_OBJECT, 0, NULL), -17);
    assert_int_equal(dm_model_add(m, "Device.A.B.C", DM_STRING, 0, NULL), -17);
    assert_int_equal(dm_model_add(m, "Other.X", DM_STRING, 0, NULL), -17); /* a second root */
    assert_int_equal(dm_model_add(m, "Device", DM_STRING, 0, NULL), -22);
    assert_int_equal(dm_model_add(m, "Device.A B", DM_STRING, 0, NULL), -22);
    assert_int_equal(dm_model_add(m, "Device.T.2.X", DM_INT, 0, "-5"), 0);
    assert_int_equal(dm_model_add(m, "Device.T.10.X", DM_INT, 0, "5"), 0);
    assert_int_equal(dm_model_add(m, "Device.TNumberOfEntries", DM_UINT, 0, "7"), 0);
    char err[128];
    assert_int_equal(dm_model_seal(m, err, sizeof err), 0);
    assert_string_equal(dm_model_default(m, "Device.TNumberOfEntries"), "2");
    assert_int_equal(dm_model_add(m, "Device.Late", DM_STRING, 0, NULL), -22);
    dm_model_free(m);

    assert_int_equal(dm_type_parse("xsd:unsignedint", 15), DM_UINT);
    assert_int_equal(dm_type_parse("Int", 3), DM_INT);
    assert_int_equal(dm_type_parse("xsd:base64Binary", 16), DM_BASE64);
    assert_true(dm_type_parse("xsd:float", 9) < 0);
    dm_model_t *e = dm_model_new();
    assert_int_not_equal(dm_model_seal(e, err, sizeof err), 0);
    dm_model_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_tr181),
        cmocka_unit_test(test_gpn),
        cmocka_unit_test(test_gpv_dynamic),
        cmocka_unit_test(test_spv),
        cmocka_unit_test(test_spv_many),
        cmocka_unit_test(test_add_delete),
        cmocka_unit_test(test_attributes_and_notifications),
        cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_overlay_cap),
        cmocka_unit_test(test_builtin_tr098),
        cmocka_unit_test(test_model_building),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
