/* Unit tests of acs_prov_scope.c: which stored parameters a session's
 * provisioning loads. What Lua literals name (rooted paths to their parent
 * objects, patterns cut, comments and relative suffixes ignored, a path
 * fragment making the scope everything), and a session's scope from its
 * presets' built-ins, templates, scripts, args, virtual parameters and a
 * delegated task. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acs/acs_prov.h"

static void scope_text(const acs_prov_scope_t *s, char *out, size_t len)
{
    out[0] = '\0';
    if (s->all) {
        snprintf(out, len, "ALL");
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        strncat(out, s->v[i], len - strlen(out) - 1);
        strncat(out, " ", len - strlen(out) - 1);
    }
}

static acs_prov_script_t *script(const char *src)
{
    acs_prov_script_t *sc = calloc(1, sizeof *sc);
    sc->src = strdup(src);
    sc->len = strlen(src);
    acs_prov_script_scan(sc);
    return sc;
}

static void script_free(acs_prov_script_t *sc)
{
    acs_prov_scope_free(&sc->scope);
    free(sc->src);
    free(sc);
}

static void expect_scan(const char *src, const char *want)
{
    acs_prov_script_t *sc = script(src);
    char got[512];
    scope_text(&sc->scope, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("script:\n%s\nscope '%s', wanted '%s'", src, got, want);
    script_free(sc);
}

static void test_scan(void **state)
{
    expect_scan("local m = declare('Device.DeviceInfo.ModelName', {value = 1})",
                "Device.DeviceInfo. ");
    /* patterns and selectors: up to them */
    expect_scan("declare(\"Device.WiFi.SSID.*.SSID\", nil, {value = 'x'})\n"
                "declare('Device.IP.Interface.[Alias:wan].Enable', nil, {value = true})",
                "Device.WiFi.SSID. Device.IP.Interface. ");
    /* objects are their own scope; TR-098 and virtual parameters are rooted too */
    expect_scan("declare('InternetGatewayDevice.LANDevice.', {path = now()})\n"
                "declare([[VirtualParameters.Wlan]], nil, {value = 'k'})",
                "InternetGatewayDevice.LANDevice. VirtualParameters. ");
    /* relative suffixes, text and comments: nothing */
    expect_scan("-- Device.Commented.Out\n--[[ Device.Long.Comment ]]\n"
                "for _, s in ipairs(x) do declare(s.path .. '.SSID', nil, {value = 'net-' .. i}) end\n"
                "log('version 1.0 done')", "");
    /* a path that is not rooted, joined at run time: everything */
    expect_scan("local root = args[1]\ndeclare(root .. 'DeviceInfo.ModelName', {value = 1})", "ALL");
    /* an escape is kept as written: at worst a prefix no stored name has, and the
     * parameter is read from the device; a quote inside does not end the literal */
    expect_scan("declare('Device.A\\'B.C', {value = 1}) declare(\"Device.Z.W\", nil)",
                "Device.A\\'B. Device.Z. ");
}

static preset_t *preset(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    preset_t *p = NULL;
    preset_err_t err;
    if (preset_parse(j, "p", &p, &err) != 0)
        fail_msg("%s: %s: %s", json, err.field, err.reason);
    json_decref(j);
    return p;
}

static void test_session_scope(void **state)
{
    acs_prov_snap_t snap = { .refs = 1 };
    hmap_init(&snap.provisions);
    hmap_init(&snap.vps);
    acs_prov_script_t *wifi = script("declare('Device.WiFi.SSID.1.SSID', nil, {value = args[1]})");
    acs_prov_script_t *anywhere = script("declare(args[1] .. 'X.Y', {value = 1})");
    acs_prov_script_t *vp = script("declare('Device.WiFi.AccessPoint.*.Security.KeyPassphrase', {path = 1})");
    assert_int_equal(hmap_put(&snap.provisions, "wifi", 4, wifi), 0);
    assert_int_equal(hmap_put(&snap.provisions, "anywhere", 8, anywhere), 0);
    assert_int_equal(hmap_put(&snap.vps, "Wlan", 4, vp), 0);
    preset_t *a = preset("{\"events\": [\"*\"], \"provisions\": ["
                         "{\"type\": \"set\", \"path\": \"Device.ManagementServer.PeriodicInformInterval\","
                         " \"value\": 300},"
                         "{\"type\": \"add_tag\", \"tag\": \"v{param:Device.DeviceInfo.SoftwareVersion}\"},"
                         "{\"type\": \"refresh\", \"path\": \"Device.Hosts.\"},"
                         "{\"type\": \"script\", \"name\": \"wifi\", \"args\": [\"Device.NAT.PortMapping.\", 3]}]}");
    acs_pr_t pr[2] = { { .p = a } };
    acs_prov_sess_t S = { .snap = &snap, .pr = pr, .npr = 1 };
    acs_prov_scope_t s;
    char got[512];
    assert_int_equal(acs_prov_scope(&S, NULL, &s), 0);
    scope_text(&s, got, sizeof got);
    assert_string_equal(got, "Device.ManagementServer. Device.DeviceInfo. Device.Hosts. Device.WiFi.SSID.1. "
                             "Device.NAT.PortMapping. ");
    acs_prov_scope_free(&s);
    /* a task naming a virtual parameter: the stored values and the VP scripts' scope */
    store_task_t t = { .id = 1, .params = "{\"values\":{\"VirtualParameters.Wlan\":\"k\"}}" };
    assert_int_equal(acs_prov_scope(&S, &t, &s), 0);
    scope_text(&s, got, sizeof got);
    assert_non_null(strstr(got, "VirtualParameters. Device.WiFi.AccessPoint. "));
    acs_prov_scope_free(&s);
    /* a script whose paths cannot be told: everything */
    preset_t *b = preset("{\"events\": [\"*\"], \"provisions\": [{\"type\": \"script\", \"name\": \"anywhere\"}]}");
    pr[1].p = b;
    S.npr = 2;
    assert_int_equal(acs_prov_scope(&S, NULL, &s), 0);
    assert_true(s.all);
    acs_prov_scope_free(&s);
    /* more prefixes than queries are worth: everything */
    acs_prov_scope_t many = { 0 };
    for (int i = 0; i < 40; i++) {
        char p[64];
        snprintf(p, sizeof p, "Device.X%d.Y", i);
        assert_int_equal(acs_prov_scope_path(&many, p, strlen(p)), 0);
    }
    assert_true(many.all);
    acs_prov_scope_free(&many);
    preset_free(a);
    preset_free(b);
    script_free(wifi);
    script_free(anywhere);
    script_free(vp);
    hmap_free(&snap.provisions);
    hmap_free(&snap.vps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_session_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
