/* Unit tests: loading device CSV dumps into the cpe-sim data model. */
#include <dirent.h>
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

static const char csv12[] =
    "\xef\xbb\xbf"
    "Parameter,Object,Object timestamp,Writable,Writable timestamp,Value,Value type,Value timestamp,"
    "Notification,Notification timestamp,Access list,Access list timestamp\r\n"
    "DeviceID.ID,false,,false,,\"X-Y-Z\",xsd:string,,,,,\r\n"
    "DeviceID.OUI,false,,false,,\"00259E\",xsd:string,,,,,\r\n"
    "InternetGatewayDevice,true,,false,,\"\",,,,,,\r\n"
    "InternetGatewayDevice.DeviceInfo,true,,true,,\"\",,,,,,\r\n"
    "InternetGatewayDevice.DeviceInfo.Manufacturer,false,,false,,\"Acme, Inc.\",xsd:string,,,,,\r\n"
    "InternetGatewayDevice.DeviceInfo.SerialNumber,false,,false,,\"ABC123\",xsd:string,,,,,\r\n"
    "InternetGatewayDevice.DeviceInfo.DeviceLog,false,,false,,\"line 1\nline \"\"2\"\"\",xsd:string,,,,,\r\n"
    "InternetGatewayDevice.DeviceInfo.UpTime,false,,false,,\"oops\",xsd:unsignedInt,,,,,\r\n"
    "InternetGatewayDevice.DeviceInfo.Odd,false,,false,,\"7\",xsd:Int,,2,,Subscriber,\r\n"
    "InternetGatewayDevice.ManagementServer.PeriodicInformInterval,false,,true,,\"120\",xsd:unsignedInt,,,,,\r\n"
    "InternetGatewayDevice.X_Table,true,,true,,\"\",,,,,,\r\n"
    "InternetGatewayDevice.Lan.Host,true,,false,,\"\",,,,,,\r\n"
    "InternetGatewayDevice.Lan.Host.2,true,,true,,\"\",,,,,,\r\n"
    "InternetGatewayDevice.Lan.Host.2.Name,false,,true,,\"b\",xsd:string,,,,,\r\n"
    "InternetGatewayDevice.Lan.Host.2.Sub.Deep,false,,true,,\"d\",xsd:string,,,,,\r\n"
    "InternetGatewayDevice.Lan.Host.10.Name,false,,true,,\"c\",xsd:string,,,,,\r\n"
    "InternetGatewayDevice.Lan.HostNumberOfEntries,false,,false,,\"9\",xsd:unsignedInt,,,,,\r\n"
    "Events.Inform,false,,false,,\"2023-01-01T00:00:00.000Z\",xsd:dateTime,,,,,\r\n"
    "InternetGatewayDevice.Bad..Name,false,,false,,\"\",xsd:string,,,,,\r\n";

typedef struct list {
    size_t n;
    char names[256][128];
    char values[256][64];
} list_t;

static int collect(void *ud, const dm_item_t *it)
{
    list_t *l = ud;
    if (l->n >= 256)
        return -1;
    snprintf(l->names[l->n], sizeof l->names[0], "%s", it->name);
    snprintf(l->values[l->n], sizeof l->values[0], "%s", it->value ? it->value : "");
    l->n++;
    return 0;
}

static const char *get1(const dm_view_t *v, const char *name)
{
    static list_t l;
    l.n = 0;
    return dm_get_values(v, name, collect, &l) == 0 && l.n == 1 ? l.values[0] : NULL;
}

static void test_csv12(void **state)
{
    dm_model_t *m = dm_model_new();
    dm_csv_stats_t st;
    char err[256] = "";
    assert_int_equal(dm_csv_load(m, csv12, sizeof csv12 - 1, &st, err, sizeof err), 0);
    assert_int_equal(st.rows, 19);
    assert_int_equal(st.skipped, 4); /* DeviceID x2, Events, the bad name */
    assert_int_equal(st.fixed, 1);   /* UpTime "oops" */
    assert_int_equal(dm_model_seal(m, err, sizeof err), 0);
    assert_string_equal(dm_model_root(m), "InternetGatewayDevice.");
    dm_inst_t *in = NULL;
    dm_view_t v = { m, &in, NULL };
    assert_string_equal(get1(&v, "InternetGatewayDevice.DeviceInfo.Manufacturer"), "Acme, Inc.");
    /* the OUI came from GenieACS's DeviceID row */
    assert_string_equal(get1(&v, "InternetGatewayDevice.DeviceInfo.ManufacturerOUI"), "00259E");
    assert_string_equal(get1(&v, "InternetGatewayDevice.DeviceInfo.DeviceLog"), "line 1\nline \"2\"");
    assert_string_equal(get1(&v, "InternetGatewayDevice.DeviceInfo.UpTime"), "0");
    assert_string_equal(get1(&v, "InternetGatewayDevice.Lan.HostNumberOfEntries"), "2");
    assert_string_equal(dm_wk_name(m, DM_WK_SERIAL), "InternetGatewayDevice.DeviceInfo.SerialNumber");

    list_t l = { 0 };
    assert_int_equal(dm_get_names(&v, "InternetGatewayDevice.Lan.Host.", true, collect, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "InternetGatewayDevice.Lan.Host.2.");
    assert_string_equal(l.names[1], "InternetGatewayDevice.Lan.Host.10.");
    l.n = 0;
    assert_int_equal(dm_get_attrs(&v, "InternetGatewayDevice.DeviceInfo.Odd", collect, &l), 0);

    /* a writable plain object is not a table; an empty writable one is */
    uint32_t n;
    assert_int_equal(dm_add_object(&v, "InternetGatewayDevice.DeviceInfo.", NULL, &n), 9005);
    assert_int_equal(dm_add_object(&v, "InternetGatewayDevice.X_Table.", NULL, &n), 0);
    assert_int_equal(n, 1);
    /* the read-only table has a template from its first instance but refuses AddObject */
    assert_int_equal(dm_add_object(&v, "InternetGatewayDevice.Lan.Host.", NULL, &n), 9001);
    dm_inst_free(in);
    dm_model_free(m);
}

static void test_csv5_and_templates(void **state)
{
    static const char csv5[] =
        "Parameter,Object,Writable,Value,Value type\n"
        "Device.NAT.PortMapping,true,true,,\n"
        "Device.NAT.PortMapping.1,true,true,,\n"
        "Device.NAT.PortMapping.1.Enable,false,true,1,xsd:boolean\n"
        "Device.NAT.PortMapping.1.ExternalPort,false,true,443,xsd:unsignedInt\n"
        "Device.NAT.PortMapping.1.Rule,true,true,,\n"
        "Device.NAT.PortMapping.1.Rule.1.Port,false,true,5,xsd:unsignedInt\n"
        "Device.NAT.PortMapping.1.Stats.Hits,false,false,12,xsd:unsignedLong\n"
        "Device.NAT.PortMappingNumberOfEntries,false,false,1,xsd:unsignedInt";
    dm_model_t *m = dm_model_new();
    dm_csv_stats_t st;
    char err[256] = "";
    assert_int_equal(dm_csv_load(m, csv5, sizeof csv5 - 1, &st, err, sizeof err), 0);
    assert_int_equal(st.params, 5);
    assert_int_equal(dm_model_seal(m, err, sizeof err), 0);
    dm_inst_t *in = NULL;
    dm_view_t v = { m, &in, NULL };
    uint32_t n;
    assert_int_equal(dm_add_object(&v, "Device.NAT.PortMapping.", NULL, &n), 0);
    assert_int_equal(n, 2);
    /* the new instance has the first one's structure with default values */
    assert_string_equal(get1(&v, "Device.NAT.PortMapping.2.Enable"), "false");
    assert_string_equal(get1(&v, "Device.NAT.PortMapping.2.ExternalPort"), "0");
    assert_string_equal(get1(&v, "Device.NAT.PortMapping.2.Stats.Hits"), "0");
    assert_string_equal(get1(&v, "Device.NAT.PortMappingNumberOfEntries"), "2");
    assert_null(get1(&v, "Device.NAT.PortMapping.2.Rule.1.Port"));
    assert_int_equal(dm_add_object(&v, "Device.NAT.PortMapping.2.Rule.", NULL, &n), 0);
    assert_string_equal(get1(&v, "Device.NAT.PortMapping.2.Rule.1.Port"), "0");
    dm_inst_free(in);
    dm_model_free(m);
}

static void test_csv_errors(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        { "", "no header" },
        { "Name,Value\nDevice.X,1\n", "no Parameter column" },
        { "Parameter,Value\nDevice.X,\"unterminated\n", "unterminated quote" },
        { "Parameter,Value\nDevice.X,\"a\"b\n", "text after a quote" },
        { "Parameter,Value\nDeviceID.X,1\n", "no root" },
        { "Parameter,Value\nDevice.X,a\rb\n", "lone CR" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dm_model_t *m = dm_model_new();
        dm_csv_stats_t st;
        char err[256] = "";
        int rc = dm_csv_load(m, bad[i].text, strlen(bad[i].text), &st, err, sizeof err);
        if (rc == 0)
            fail_msg("accepted: %s", bad[i].why);
        assert_true(err[0] != '\0');
        dm_model_free(m);
    }
    char err[256];
    dm_csv_stats_t st;
    dm_model_t *m = dm_model_new();
    assert_true(dm_csv_load_file(m, "/nonexistent/x.csv", &st, err, sizeof err) < 0);
    dm_model_free(m);
}

static int count_items(void *ud, const dm_item_t *it)
{
    (void)it;
    (*(size_t *)ud)++;
    return 0;
}

/* Every real dump in ../shared loads, seals and walks (skipped without it). */
static void test_shared_devices(void **state)
{
    const char *dir = SHARED_DEVICES;
    DIR *d = opendir(dir);
    if (!d)
        skip();
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".csv") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        dm_model_t *m = dm_model_new();
        dm_csv_stats_t st;
        char err[512] = "";
        int rc = dm_csv_load_file(m, path, &st, err, sizeof err);
        if (rc)
            fail_msg("%s: %s", path, err);
        assert_int_equal(dm_model_seal(m, err, sizeof err), 0);
        assert_non_null(dm_wk_name(m, DM_WK_SERIAL));
        assert_non_null(dm_wk_name(m, DM_WK_PERIODIC_INTERVAL));
        const char *oui = dm_model_default(m, dm_wk_name(m, DM_WK_OUI));
        if (!oui || strlen(oui) != 6)
            fail_msg("%s: ManufacturerOUI '%s'", path, oui ? oui : "(none)");
        dm_inst_t *in = NULL;
        dm_view_t v = { m, &in, NULL };
        size_t n = 0;
        assert_int_equal(dm_get_names(&v, "", false, count_items, &n), 0);
        assert_int_equal(n, dm_model_nodes(m));
        n = 0;
        assert_int_equal(dm_get_values(&v, "", count_items, &n), 0);
        assert_int_equal(n, dm_model_params(m));
        dm_model_free(m);
        files++;
    }
    closedir(d);
    assert_true(files > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv12),
        cmocka_unit_test(test_csv5_and_templates),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_shared_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
