/* Unit tests of presets (src/acs/provision/preset*.c): validation with
 * field paths, templates, conditions, the cron schedule and each device's
 * window, the index (and what matching costs with 5 and 5,000 presets),
 * and the run/retry decision. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "acs/provision/preset.h"

static preset_t *parse_ok(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, je.text);
    preset_t *p = NULL;
    preset_err_t err;
    int rc = preset_parse(j, NULL, &p, &err);
    json_decref(j);
    if (rc != 0)
        fail_msg("%s: rejected: %s: %s", text, err.field, err.reason);
    return p;
}

static void expect_err(const char *text, const char *field, const char *reason)
{
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    preset_t *p = NULL;
    preset_err_t err;
    int rc = preset_parse(j, NULL, &p, &err);
    json_decref(j);
    if (rc != -EINVAL)
        fail_msg("%s: accepted (rc %d)", text, rc);
    if (strcmp(err.field, field) != 0 || !strstr(err.reason, reason))
        fail_msg("%s:\n  got      %s: %s\n  expected %s: ...%s...", text, err.field, err.reason,
                 field, reason);
}

#define P(...) "{\"name\": \"p\", " __VA_ARGS__ "}"
#define OKPROV "\"provisions\": [{\"type\": \"reboot\"}]"

static void test_parse_full(void **state)
{
    preset_t *p = parse_ok(P("\"weight\": -5, \"events\": [\"0 BOOTSTRAP\", \"M X_ACME_Thing\","
                             " \"X 00D09E Fancy event\"],"
                             "\"schedule\": {\"cron\": \"30 3 * * MON-FRI\", \"spread\": \"2h\", \"window\": 3600},"
                             "\"match\": [{\"field\": \"oui\", \"op\": \"=\", \"value\": \"00D09E\"},"
                             "  {\"field\": \"param:Device.DeviceInfo.SoftwareVersion\", \"op\": \"<\", \"value\": 2.5},"
                             "  {\"field\": \"tag\", \"op\": \"glob\", \"value\": \"lab*\"}],"
                             "\"provisions\": ["
                             "  {\"type\": \"set\", \"path\": \"Device.X.Name\", \"value\": \"cpe-{serial_number}\"},"
                             "  {\"type\": \"set\", \"path\": \"Device.X.N\", \"value\": 5, \"value_type\": \"xsd:unsignedInt\"},"
                             "  {\"type\": \"add_tag\", \"tag\": \"seen\"}, {\"type\": \"remove_tag\", \"tag\": \"new-{oui}\"},"
                             "  {\"type\": \"refresh\", \"path\": \"Device.WiFi.\"},"
                             "  {\"type\": \"download\", \"url\": \"https://files.example/{product_class}.bin\"},"
                             "  {\"type\": \"download\", \"file\": \"fw-2.1.bin\", \"file_type\": \"3 Vendor Configuration File\"},"
                             "  {\"type\": \"reboot\"},"
                             "  {\"type\": \"script\", \"name\": \"wifi\", \"args\": [1, \"x\", {\"k\": null}]}],"
                             "\"max_tries\": 3, \"retry_backoff\": \"1m\","
                             "\"source\": \"api\", \"created\": \"x\", \"updated\": null"));
    assert_string_equal(p->name, "p");
    assert_int_equal(p->weight, -5);
    assert_int_equal(p->nevents, 3);
    assert_false(p->any_event);
    assert_true(p->sched.on);
    assert_int_equal(p->sched.spread_s, 7200);
    assert_int_equal(p->sched.window_s, 3600);
    assert_int_equal(p->nconds, 3);
    assert_int_equal(p->conds[1].field, PF_PARAM);
    assert_string_equal(p->conds[1].param, "Device.DeviceInfo.SoftwareVersion");
    assert_string_equal(p->conds[1].value, "2.5");
    assert_int_equal(p->conds[2].op, PO_GLOB);
    assert_int_equal(p->nprovs, 9);
    assert_int_equal(p->provs[0].type, PP_SET);
    assert_string_equal(p->provs[1].value, "5");
    assert_string_equal(p->provs[1].value_type, "xsd:unsignedInt");
    assert_string_equal(p->provs[5].value, "https://files.example/{product_class}.bin");
    assert_string_equal(p->provs[5].file_type, "1 Firmware Upgrade Image");
    assert_string_equal(p->provs[6].file, "fw-2.1.bin");
    assert_int_equal(p->provs[8].type, PP_SCRIPT);
    assert_int_equal(json_array_size(p->provs[8].args), 3);
    assert_int_equal(p->max_tries, 3);
    assert_int_equal(p->backoff_s, 60);
    preset_free(p);

    /* defaults; the name from the caller; "*" */
    json_t *j = json_loads("{\"events\": [\"*\"], " OKPROV "}", 0, NULL);
    preset_err_t err;
    assert_int_equal(preset_parse(j, "from-path", &p, &err), 0);
    assert_string_equal(p->name, "from-path");
    assert_true(p->any_event);
    assert_int_equal(p->weight, 0);
    assert_int_equal(p->max_tries, PRESET_MAX_TRIES_DEFAULT);
    assert_int_equal(p->backoff_s, PRESET_BACKOFF_DEFAULT_S);
    assert_false(p->sched.on);
    preset_free(p);
    /* a body name that is not the path's */
    json_object_set_new(j, "name", json_string("other"));
    assert_int_equal(preset_parse(j, "from-path", &p, &err), -EINVAL);
    assert_string_equal(err.field, "name");
    json_decref(j);
}

static void test_parse_errors(void **state)
{
    expect_err("[]", "", "a JSON object");
    expect_err("{\"events\": [\"*\"], " OKPROV "}", "name", "required");
    expect_err("{\"name\": \"a b\", \"events\": [\"*\"], " OKPROV "}", "name", "A-Z a-z 0-9");
    expect_err(P("\"events\": [\"*\"], " OKPROV ", \"colour\": 1"), "colour", "unknown field");
    expect_err(P(OKPROV), "events", "required");
    expect_err(P("\"events\": [], " OKPROV), "events", "required");
    expect_err(P("\"events\": [\"1 BOOT\", \"9 BOGUS\"], " OKPROV), "events[1]", "unknown event '9 BOGUS'");
    expect_err(P("\"events\": [\"1 boot\"], " OKPROV), "events[0]", "unknown event");
    expect_err(P("\"events\": [\"X 00D0 short\"], " OKPROV), "events[0]", "unknown event");
    expect_err(P("\"events\": [\"1 BOOT\", \"*\"], " OKPROV), "events[1]", "stands alone");
    expect_err(P("\"events\": [\"1 BOOT\", \"1 BOOT\"], " OKPROV), "events[1]", "given twice");
    expect_err(P("\"events\": [3], " OKPROV), "events[0]", "an event code");
    expect_err(P("\"events\": [\"*\"], \"weight\": 1.5, " OKPROV), "weight", "an integer");
    expect_err(P("\"events\": [\"*\"], \"max_tries\": 0, " OKPROV), "max_tries", "1 to 100");
    expect_err(P("\"events\": [\"*\"], \"retry_backoff\": \"soon\", " OKPROV), "retry_backoff", "duration");
    /* match */
    expect_err(P("\"events\": [\"*\"], \"match\": {}, " OKPROV), "match", "a list");
    expect_err(P("\"events\": [\"*\"], \"match\": [{\"field\": \"oui\", \"op\": \"==\", \"value\": \"x\"}], " OKPROV),
               "match[0].op", "unknown operator '=='");
    expect_err(P("\"events\": [\"*\"], \"match\": [{\"field\": \"oui\", \"value\": \"x\"}], " OKPROV),
               "match[0].op", "required");
    expect_err(P("\"events\": [\"*\"], \"match\": [{\"field\": \"colour\", \"op\": \"=\", \"value\": \"x\"}], " OKPROV),
               "match[0].field", "unknown field 'colour'");
    expect_err(P("\"events\": [\"*\"], \"match\": [{\"field\": \"param:\", \"op\": \"=\", \"value\": \"x\"}], " OKPROV),
               "match[0].field", "param:NAME");
    expect_err(P("\"events\": [\"*\"], \"match\": [{\"field\": \"tag\", \"op\": \"<\", \"value\": \"x\"}], " OKPROV),
               "match[0].op", "a tag is matched with");
    expect_err(P("\"events\": [\"*\"], \"match\": [{\"field\": \"oui\", \"op\": \"=\", \"value\": true}], " OKPROV),
               "match[0].value", "a string or a number");
    expect_err(P("\"events\": [\"*\"], \"match\": [{\"field\": \"oui\", \"op\": \"=\", \"value\": \"x\", \"x\": 1}], " OKPROV),
               "match[0].x", "unknown field");
    /* provisions */
    expect_err(P("\"events\": [\"*\"]"), "provisions", "required");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"sett\"}]"), "provisions[0].type",
               "unknown built-in provision 'sett'");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"path\": \"x\"}]"), "provisions[0].type", "required");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"reboot\", \"delay\": 1}]"),
               "provisions[0].delay", "unknown field for a 'reboot' provision");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"set\", \"path\": \"X.Y\", \"value\": \"{serial}\"}]"),
               "provisions[0].value", "unknown template field '{serial}'");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"reboot\"}, {\"type\": \"set\", \"path\": \"X.Y\", \"value\": \"a{oui\"}]"),
               "provisions[1].value", "without its '}'");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"set\", \"path\": \"X.Y\", \"value\": \"a}b\"}]"),
               "provisions[0].value", "a lone '}'");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"set\", \"path\": \"X.Y.\", \"value\": \"1\"}]"),
               "provisions[0].path", "not ending in '.'");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"set\", \"path\": \"X.Y\"}]"),
               "provisions[0].value", "required");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"set\", \"path\": \"X.Y\", \"value\": \"abc\","
                 " \"value_type\": \"xsd:int\"}]"),
               "provisions[0].value", "not a valid xsd:int");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"set\", \"path\": \"X.Y\", \"value\": 1,"
                 " \"value_type\": \"xsd:bogus\"}]"),
               "provisions[0].value_type", "one of xsd:string");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"add_tag\", \"tag\": \"a,b\"}]"),
               "provisions[0].tag", "without commas");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"add_tag\", \"tag\": \"{model}\"}]"),
               "provisions[0].tag", "unknown template field '{model}'");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"refresh\", \"path\": \"a b\"}]"),
               "provisions[0].path", "a parameter or object path");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"download\", \"url\": \"file:///etc/passwd\"}]"),
               "provisions[0].url", "an http, https or ftp URL");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"download\", \"url\": \"{param:X}/fw\"}]"),
               "provisions[0].url", "an http, https or ftp URL");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"download\", \"url\": \"http:///x\"}]"),
               "provisions[0].url", "names no host");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"download\", \"url\": \"http://h/\","
                 " \"file\": \"f\"}]"),
               "provisions[0].file", "not both");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"download\"}]"),
               "provisions[0].url", "not both");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"download\", \"file\": \"../etc\"}]"),
               "provisions[0].file", "a stored file's name");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"download\", \"file\": \"f\","
                 " \"file_type\": \"Firmware\"}]"),
               "provisions[0].file_type", "");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"script\", \"name\": \"a/b\"}]"),
               "provisions[0].name", "a stored provision's name");
    expect_err(P("\"events\": [\"*\"], \"provisions\": [{\"type\": \"script\", \"name\": \"a\", \"args\": {}}]"),
               "provisions[0].args", "a list");
    /* schedule */
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"61 * * * *\"}, " OKPROV), "schedule.cron",
               "field 1 (minute): 61 out of range 0-59");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"0 24 * * *\"}, " OKPROV), "schedule.cron",
               "field 2 (hour)");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"0 0 * *\"}, " OKPROV), "schedule.cron",
               "five fields");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"0 0 31 FEB *\"}, " OKPROV), "schedule.cron",
               "never fires");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"0 0 * * MON-FUN\"}, " OKPROV),
               "schedule.cron", "field 5 (day of week)");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"*/0 * * * *\"}, " OKPROV), "schedule.cron",
               "step 0 out of range");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"5-1 * * * *\"}, " OKPROV), "schedule.cron",
               "backwards");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {}, " OKPROV), "schedule.cron", "required");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"@daily\", \"spread\": \"40d\"}, " OKPROV),
               "schedule.spread", "0 to 31 days");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"@daily\", \"window\": 10}, " OKPROV),
               "schedule.window", "1 minute");
    expect_err(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"@daily\", \"every\": 1}, " OKPROV),
               "schedule.every", "unknown field");
}

/* ---- templates and conditions ----------------------------------------------------------- */

static const char *params(void *ud, const char *name)
{
    if (strcmp(name, "Device.DeviceInfo.SoftwareVersion") == 0)
        return "10.2";
    if (strcmp(name, "Device.X.Text") == 0)
        return "abc";
    return NULL;
}

static const preset_device_t dev = {
    .id = "00D09E-IGD-SN1", .oui = "00D09E", .product_class = "IGD", .serial = "SN1",
    .manufacturer = "Acme", .model = NULL, .software_version = "2.10", .hardware_version = "1",
    .tags = "lab-north,fast", .param = params,
};

static int collect(const char *name, void *ud)
{
    strcat(ud, name);
    strcat(ud, ";");
    return 0;
}

static void test_templates(void **state)
{
    char out[64], missing[64], err[256];
    assert_int_equal(preset_template_expand("cpe-{serial_number}/{oui}/{product_class}/{device_id}",
                                            &dev, out, sizeof out, missing, sizeof missing), 0);
    assert_string_equal(out, "cpe-SN1/00D09E/IGD/00D09E-IGD-SN1");
    assert_int_equal(preset_template_expand("{{literal}} v{param:Device.DeviceInfo.SoftwareVersion}", &dev,
                                            out, sizeof out, missing, sizeof missing), 0);
    assert_string_equal(out, "{literal} v10.2");
    assert_int_equal(preset_template_expand("x{param:Device.Nope}", &dev, out, sizeof out, missing,
                                            sizeof missing), -ENOENT);
    assert_string_equal(missing, "Device.Nope");
    /* the caps: the caller's buffer, and PRESET_EXPAND_MAX whatever the buffer */
    char small[8];
    assert_int_equal(preset_template_expand("{device_id}", &dev, small, sizeof small, NULL, 0), -E2BIG);
    char *big = malloc(PRESET_EXPAND_MAX * 2), *tmpl = malloc(1000 * 11 + 1);
    tmpl[0] = '\0';
    for (int i = 0; i < 1000; i++)
        strcat(tmpl, "{device_id}");
    assert_int_equal(preset_template_expand(tmpl, &dev, big, PRESET_EXPAND_MAX * 2, NULL, 0), -E2BIG);
    free(big);
    free(tmpl);
    /* what a template can become: every placeholder as "x" */
    assert_int_equal(preset_template_sample("https://{oui}.example/{param:A.B}/{{x}}", out, sizeof out), 0);
    assert_string_equal(out, "https://x.example/x/{x}");
    /* what a template reads */
    char names[128] = "";
    assert_int_equal(preset_template_params("{param:A.B}-{oui}-{param:C}", collect, names), 0);
    assert_string_equal(names, "A.B;C;");
    /* checks name the field */
    assert_int_equal(preset_template_check("{serial}", err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "'{serial}'"));
    assert_int_equal(preset_template_check("{param:a b}", err, sizeof err), -EINVAL);
    assert_int_equal(preset_template_check("plain {{ and }}", err, sizeof err), 0);
}

static bool holds(const char *field, const char *op, const char *value)
{
    char text[512];
    snprintf(text, sizeof text,
             P("\"events\": [\"*\"], \"match\": [{\"field\": \"%s\", \"op\": \"%s\", \"value\": %s}], " OKPROV),
             field, op, value);
    preset_t *p = parse_ok(text);
    bool r = preset_matches(p, &dev);
    preset_free(p);
    return r;
}

static void test_conditions(void **state)
{
    assert_true(holds("oui", "=", "\"00D09E\""));
    assert_false(holds("oui", "=", "\"00d09e\""));
    assert_true(holds("oui", "!=", "\"000000\""));
    assert_true(holds("serial_number", "^=", "\"SN\""));
    assert_true(holds("device_id", "glob", "\"00D09E-*-SN?\""));
    assert_false(holds("device_id", "glob", "\"00D09E-*-SN\""));
    assert_true(holds("manufacturer", "=", "\"Acme\""));
    /* numbers both sides: numeric; otherwise bytewise */
    assert_false(holds("software_version", ">", "2.9"));     /* "2.10" is the number 2.1 */
    assert_true(holds("software_version", ">", "\"2.09\"")); /* 2.1 > 2.09 */
    assert_true(holds("param:Device.DeviceInfo.SoftwareVersion", ">", "9.5"));  /* 10.2 > 9.5 */
    assert_false(holds("param:Device.DeviceInfo.SoftwareVersion", "<", "\"9.5\""));
    assert_true(holds("param:Device.X.Text", "<", "\"abd\""));
    assert_true(holds("param:Device.X.Text", ">=", "\"abc\""));
    assert_true(holds("param:Device.X.Text", "<=", "\"abc\""));
    assert_false(holds("param:Device.X.Text", "<", "\"abc\""));
    assert_true(holds("hardware_version", "=", "1"));        /* a number matched as its text */
    /* = is exact text even for numbers (the index files presets by that text) */
    assert_false(holds("hardware_version", "=", "\"1.0\""));
    /* unknown: false whatever the operator */
    assert_false(holds("param:Device.Nope", "!=", "\"x\""));
    assert_false(holds("model", "!=", "\"x\""));
    /* tags: has, lacks, some tag with the prefix / glob */
    assert_true(holds("tag", "=", "\"fast\""));
    assert_false(holds("tag", "=", "\"lab\""));
    assert_true(holds("tag", "!=", "\"lab\""));
    assert_false(holds("tag", "!=", "\"fast\""));
    assert_true(holds("tag", "^=", "\"lab-\""));
    assert_true(holds("tag", "glob", "\"*-north\""));
    assert_false(holds("tag", "glob", "\"*-south\""));

    assert_true(preset_glob("*", ""));
    assert_true(preset_glob("a*b*c", "aXbYbZc"));
    assert_false(preset_glob("a*b*c", "aXbYbZ"));
    assert_true(preset_glob("??", "ab"));
    assert_false(preset_glob("??", "abc"));
}

/* ---- schedule ------------------------------------------------------------------------- */

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
    return (int64_t)timegm(&tm);
}

static preset_cron_t cron(const char *text)
{
    preset_cron_t c;
    char err[256];
    if (preset_cron_parse(text, &c, err, sizeof err) != 0)
        fail_msg("%s: %s", text, err);
    return c;
}

static void test_cron(void **state)
{
    preset_cron_t c = cron("30 3 * * *");
    int64_t t = utc(2026, 3, 10, 12, 0);
    assert_int_equal(preset_cron_prev(&c, t), utc(2026, 3, 10, 3, 30));
    assert_int_equal(preset_cron_next(&c, t), utc(2026, 3, 11, 3, 30));
    /* at the firing itself: prev is it, next is the one after */
    assert_int_equal(preset_cron_prev(&c, utc(2026, 3, 10, 3, 30)), utc(2026, 3, 10, 3, 30));
    assert_int_equal(preset_cron_next(&c, utc(2026, 3, 10, 3, 30)), utc(2026, 3, 11, 3, 30));
    /* weekdays by name; 2026-03-14 is a Saturday */
    c = cron("0 9 * * mon-fri");
    assert_int_equal(preset_cron_next(&c, utc(2026, 3, 13, 10, 0)), utc(2026, 3, 16, 9, 0));
    assert_int_equal(preset_cron_prev(&c, utc(2026, 3, 15, 10, 0)), utc(2026, 3, 13, 9, 0));
    /* steps, lists, ranges */
    c = cron("*/15 8-10/2,23 * * *");
    assert_int_equal(preset_cron_next(&c, utc(2026, 1, 1, 8, 50)), utc(2026, 1, 1, 10, 0));
    assert_int_equal(preset_cron_next(&c, utc(2026, 1, 1, 10, 45)), utc(2026, 1, 1, 23, 0));
    c = cron("5/20 * * * *");   /* 5, 25, 45 */
    assert_int_equal(preset_cron_next(&c, utc(2026, 1, 1, 0, 26)), utc(2026, 1, 1, 0, 45));
    /* day of month and day of week restricted: either (Vixie cron) */
    c = cron("0 0 13 * FRI");
    assert_true(preset_cron_day(&c, utc(2026, 3, 13, 0, 0) / 86400));  /* the 13th, a Friday */
    assert_true(preset_cron_day(&c, utc(2026, 3, 20, 0, 0) / 86400));  /* a Friday */
    assert_true(preset_cron_day(&c, utc(2026, 4, 13, 0, 0) / 86400));  /* the 13th, a Monday */
    assert_false(preset_cron_day(&c, utc(2026, 4, 14, 0, 0) / 86400));
    /* one of them '*'-started: both */
    c = cron("0 0 */2 * FRI");
    assert_false(preset_cron_day(&c, utc(2026, 3, 20, 0, 0) / 86400)); /* Friday the 20th: even */
    assert_true(preset_cron_day(&c, utc(2026, 3, 13, 0, 0) / 86400));
    /* 29 February: the next leap year; Sunday is 0 and 7 */
    c = cron("0 12 29 2 *");
    assert_int_equal(preset_cron_next(&c, utc(2025, 3, 1, 0, 0)), utc(2028, 2, 29, 12, 0));
    assert_int_equal(preset_cron_prev(&c, utc(2027, 1, 1, 0, 0)), utc(2024, 2, 29, 12, 0));
    preset_cron_t a = cron("0 0 * * 7"), b = cron("0 0 * * 0");
    assert_int_equal(a.dow, b.dow);
    a = cron("@weekly");
    assert_int_equal(a.dow, b.dow);
}

static void test_window_and_spread(void **state)
{
    preset_schedule_t s = { .on = true, .cron = cron("0 3 * * *"), .spread_s = 7200 };
    /* the slot is stable and inside the spread; devices spread out */
    int64_t slot = preset_slot("00D09E-IGD-SN1", 7200);
    assert_int_equal(slot, preset_slot("00D09E-IGD-SN1", 7200));
    assert_true(slot >= 0 && slot < 7200);
    int64_t lo = 7200, hi = 0;
    for (int i = 0; i < 1000; i++) {
        char id[32];
        snprintf(id, sizeof id, "00D09E-IGD-SN%d", i);
        int64_t v = preset_slot(id, 7200);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    assert_true(lo < 300 && hi > 6900);
    assert_int_equal(preset_slot("x", 0), 0);

    int64_t f = utc(2026, 3, 10, 3, 0), start, end;
    /* before its slot: the previous day's window (until today's opening) */
    assert_true(preset_window(&s, "00D09E-IGD-SN1", f + slot - 1, &start, &end));
    assert_int_equal(start, f - 86400 + slot);
    assert_int_equal(end, f + slot);
    assert_true(preset_window(&s, "00D09E-IGD-SN1", f + slot, &start, &end));
    assert_int_equal(start, f + slot);
    assert_int_equal(end, f + 86400 + slot);
    /* a window shorter than the period: outside it until the next opening */
    s.window_s = 3600;
    assert_true(preset_window(&s, "00D09E-IGD-SN1", f + slot + 3599, &start, &end));
    assert_int_equal(end, f + slot + 3600);
    assert_false(preset_window(&s, "00D09E-IGD-SN1", f + slot + 3600, &start, &end));
}

/* ---- the set ---------------------------------------------------------------------------- */

static preset_t *mk(const char *name, int weight, const char *events, const char *match)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"%s\", \"weight\": %d, \"events\": %s, \"match\": %s, " OKPROV "}", name,
             weight, events, match);
    return parse_ok(text);
}

static const char *const boot[] = { "1 BOOT" };
static const char *const periodic[] = { "2 PERIODIC", "M Reboot" };

static void names_of(const preset_t **v, size_t n, char *out)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(out, v[i]->name);
        strcat(out, " ");
    }
}

static void test_set_match(void **state)
{
    preset_t *v[] = {
        mk("any", 0, "[\"*\"]", "[]"),
        mk("boot-igd", 5, "[\"1 BOOT\"]", "[{\"field\": \"product_class\", \"op\": \"=\", \"value\": \"IGD\"}]"),
        mk("boot-other", 5, "[\"1 BOOT\"]", "[{\"field\": \"product_class\", \"op\": \"=\", \"value\": \"XYZ\"}]"),
        mk("a-first", 5, "[\"1 BOOT\", \"2 PERIODIC\"]",
           "[{\"field\": \"oui\", \"op\": \"=\", \"value\": \"00D09E\"},"
           " {\"field\": \"serial_number\", \"op\": \"=\", \"value\": \"SN1\"}]"),
        mk("heavy", 100, "[\"*\"]", "[{\"field\": \"tag\", \"op\": \"=\", \"value\": \"fast\"}]"),
        mk("light", -100, "[\"2 PERIODIC\"]", "[{\"field\": \"software_version\", \"op\": \">\", \"value\": 1}]"),
        mk("untagged", 1, "[\"*\"]", "[{\"field\": \"tag\", \"op\": \"=\", \"value\": \"slow\"}]"),
        mk("reboot", 1, "[\"M Reboot\"]", "[{\"field\": \"tag\", \"op\": \"!=\", \"value\": \"slow\"}]"),
    };
    preset_set_t *s;
    char dup[PRESET_NAME_MAX + 1] = "";
    assert_int_equal(preset_set_new(v, 8, &s, dup, sizeof dup), 0);
    assert_int_equal(preset_set_size(s), 8);
    assert_non_null(preset_set_get(s, "heavy"));
    assert_null(preset_set_get(s, "nope"));
    assert_string_equal(preset_set_at(s, 0)->name, "light");
    const preset_t **out;
    size_t n, examined;
    char got[256];
    assert_int_equal(preset_set_match(s, &dev, boot, 1, &out, &n, &examined), 0);
    names_of(out, n, got);
    assert_string_equal(got, "any a-first boot-igd heavy ");  /* weight, then name */
    assert_true(examined <= 5);                                   /* not boot-other's bucket */
    free(out);
    assert_int_equal(preset_set_match(s, &dev, periodic, 2, &out, &n, NULL), 0);
    names_of(out, n, got);
    assert_string_equal(got, "light any reboot a-first heavy ");
    free(out);
    assert_int_equal(preset_set_match(s, &dev, NULL, 0, &out, &n, NULL), 0);
    names_of(out, n, got);
    assert_string_equal(got, "any heavy ");
    free(out);
    preset_set_free(s);

    /* A partial look (the Inform alone): tags and unknown parameters may
     * hold, so presets keyed on a tag come too; known fields still decide. */
    assert_int_equal(preset_set_new((preset_t *[]){
        mk("tagged", 0, "[\"1 BOOT\"]", "[{\"field\": \"tag\", \"op\": \"=\", \"value\": \"fast\"}]"),
        mk("by-param", 1, "[\"1 BOOT\"]",
           "[{\"field\": \"param:Device.Unknown\", \"op\": \"=\", \"value\": \"1\"}]"),
        mk("by-model", 2, "[\"1 BOOT\"]", "[{\"field\": \"model\", \"op\": \"=\", \"value\": \"M1\"}]"),
        mk("other-class", 3, "[\"1 BOOT\"]",
           "[{\"field\": \"product_class\", \"op\": \"=\", \"value\": \"XYZ\"}]"),
        mk("lacks-tag", 4, "[\"1 BOOT\"]", "[{\"field\": \"tag\", \"op\": \"!=\", \"value\": \"x\"}]"),
    }, 5, &s, NULL, 0), 0);
    preset_device_t part = dev;
    part.tags = NULL;
    part.partial = true;
    assert_int_equal(preset_set_match(s, &part, boot, 1, &out, &n, NULL), 0);
    names_of(out, n, got);
    assert_string_equal(got, "tagged by-param by-model lacks-tag ");
    free(out);
    /* with everything known, the same device matches what it does */
    assert_int_equal(preset_set_match(s, &dev, boot, 1, &out, &n, NULL), 0);
    names_of(out, n, got);
    assert_string_equal(got, "tagged lacks-tag ");
    free(out);
    preset_set_free(s);

    /* a name twice */
    preset_t *w[] = { mk("twice", 0, "[\"*\"]", "[]"), mk("twice", 1, "[\"*\"]", "[]") };
    assert_int_equal(preset_set_new(w, 2, &s, dup, sizeof dup), -EEXIST);
    assert_string_equal(dup, "twice");
}

/* Presets for distinct product classes: what one Inform costs with n of
 * them (measured and printed; the assertion is on the presets examined). */
static double match_cost(size_t n, size_t *examined)
{
    preset_t **v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        char name[32], match[128];
        snprintf(name, sizeof name, "p%05zu", i);
        snprintf(match, sizeof match, "[{\"field\": \"product_class\", \"op\": \"=\", \"value\": \"PC%zu\"}]",
                 i);
        v[i] = mk(name, (int)(i % 7), "[\"1 BOOT\", \"2 PERIODIC\"]", match);
    }
    preset_set_t *s;
    assert_int_equal(preset_set_new(v, n, &s, NULL, 0), 0);
    free(v);
    preset_device_t d = dev;
    d.product_class = "PC0";
    const char *const ev[] = { "2 PERIODIC", "4 VALUE CHANGE" };
    enum { ROUNDS = 20000 };
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int r = 0; r < ROUNDS; r++) {
        const preset_t **out;
        size_t m;
        assert_int_equal(preset_set_match(s, &d, ev, 2, &out, &m, examined), 0);
        assert_int_equal(m, 1);
        free(out);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    preset_set_free(s);
    return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / ROUNDS;
}

static void test_index_cost(void **state)
{
    size_t e5, e5000;
    double t5 = match_cost(5, &e5), t5000 = match_cost(5000, &e5000);
    printf("preset match per Inform: 5 presets %.0f ns (%zu examined), 5000 presets %.0f ns"
           " (%zu examined)\n", t5, e5, t5000, e5000);
    assert_int_equal(e5, 1);
    assert_int_equal(e5000, 1);
}

/* ---- run or not -------------------------------------------------------------------------- */

static void test_decision(void **state)
{
    preset_t *p = parse_ok(P("\"events\": [\"0 BOOTSTRAP\"], \"max_tries\": 3, \"retry_backoff\": 60, " OKPROV));
    const char *const bs[] = { "0 BOOTSTRAP", "1 BOOT" }, *const per[] = { "2 PERIODIC" };
    preset_session_t s1 = { bs, 2, 1000, 1000 };
    const char *why;
    assert_true(preset_should_run(p, "d", NULL, &s1, &why));
    assert_string_equal(why, "triggered");
    store_preset_run_t r = { 0 };
    preset_record_outcome(p, &r, &s1, true, 0, NULL);
    assert_int_equal(r.status, STORE_PRESET_DONE);
    assert_int_equal(r.last_event, 1000);
    /* the same occurrence (the session re-evaluates): not again */
    s1.now = 1010;
    assert_false(preset_should_run(p, "d", &r, &s1, &why));
    assert_string_equal(why, "already ran for this event");
    /* a session without the event: no; the next BOOTSTRAP: yes */
    preset_session_t s2 = { per, 1, 2000, 2000 }, s3 = { bs, 1, 3000, 3000 };
    assert_false(preset_should_run(p, "d", &r, &s2, &why));
    assert_string_equal(why, "no triggering event");
    assert_true(preset_should_run(p, "d", &r, &s3, NULL));

    /* faults: retried with backoff 60, 120, whatever the events; then they stay */
    preset_record_outcome(p, &r, &s3, false, 9002, "Internal error");
    assert_int_equal(r.status, STORE_PRESET_FAULT);
    assert_int_equal(r.tries, 1);
    assert_int_equal(r.next_retry, 3060);
    assert_string_equal(r.fault_message, "Internal error");
    preset_session_t s4 = { per, 1, 3030, 3030 };
    assert_false(preset_should_run(p, "d", &r, &s4, &why));
    assert_string_equal(why, "backing off after a fault");
    s4.event_time = s4.now = 3060;
    assert_true(preset_should_run(p, "d", &r, &s4, &why));
    assert_string_equal(why, "retry after a fault");
    preset_record_outcome(p, &r, &s4, false, 9002, "again");
    assert_int_equal(r.tries, 2);
    assert_int_equal(r.next_retry, 3060 + 120);
    /* not twice in one session even once the backoff is over */
    s4.now = 4000;
    assert_false(preset_should_run(p, "d", &r, &s4, &why));
    assert_string_equal(why, "already ran in this session");
    preset_session_t s5 = { NULL, 0, 5000, 5000 };
    assert_true(preset_should_run(p, "d", &r, &s5, NULL));
    preset_record_outcome(p, &r, &s5, false, 9002, "third");
    assert_int_equal(r.tries, 3);
    assert_int_equal(r.next_retry, 0);
    preset_session_t s6 = { bs, 2, 999999, 999999 };
    assert_false(preset_should_run(p, "d", &r, &s6, &why));
    assert_non_null(strstr(why, "until an operator clears"));
    /* cleared (the store makes it pending): runs at the next session */
    r.status = STORE_PRESET_PENDING;
    r.tries = 0;
    assert_true(preset_should_run(p, "d", &r, &s2, &why));
    assert_string_equal(why, "pending: its fault was cleared");
    preset_record_outcome(p, &r, &s2, true, 0, NULL);
    assert_int_equal(r.status, STORE_PRESET_DONE);
    assert_int_equal(r.fault_code, 0);
    assert_int_equal(r.tries, 0);
    preset_free(p);

    /* backoff doubles up to a day */
    p = parse_ok(P("\"events\": [\"*\"], \"retry_backoff\": \"1h\", " OKPROV));
    assert_int_equal(preset_backoff(p, 1), 3600);
    assert_int_equal(preset_backoff(p, 3), 4 * 3600);
    assert_int_equal(preset_backoff(p, 40), 86400);
    preset_free(p);
}

static void test_decision_schedule(void **state)
{
    /* daily at 03:00, devices spread over 2 h, any session */
    preset_t *p = parse_ok(P("\"events\": [\"*\"], \"schedule\": {\"cron\": \"0 3 * * *\", \"spread\": 7200}, " OKPROV));
    const char *id = "00D09E-IGD-SN1";
    int64_t open = utc(2026, 3, 10, 3, 0) + preset_slot(id, 7200);
    const char *const per[] = { "2 PERIODIC" };
    const char *why;
    store_preset_run_t r = { 0 };
    /* it ran yesterday; today's window is not open yet */
    preset_session_t s = { per, 1, open - 10, open - 10 };
    r.status = STORE_PRESET_DONE;
    r.last_event = open - 86400 + 5;
    assert_false(preset_should_run(p, id, &r, &s, &why));
    assert_string_equal(why, "already ran in this window");
    /* the first session in the window runs it, once */
    s.event_time = s.now = open + 100;
    assert_true(preset_should_run(p, id, &r, &s, &why));
    assert_string_equal(why, "scheduled");
    preset_record_outcome(p, &r, &s, true, 0, NULL);
    s.event_time = s.now = open + 5000;
    assert_false(preset_should_run(p, id, &r, &s, &why));
    assert_string_equal(why, "already ran in this window");
    /* tomorrow's window */
    s.event_time = s.now = open + 86400;
    assert_true(preset_should_run(p, id, &r, &s, NULL));
    preset_free(p);
    /* with a one-hour window: a session after it waits for the next */
    p = parse_ok(P("\"events\": [\"2 PERIODIC\"], \"schedule\": {\"cron\": \"0 3 * * *\", \"window\": \"1h\"}, " OKPROV));
    preset_session_t late = { per, 1, utc(2026, 3, 10, 4, 30), utc(2026, 3, 10, 4, 30) };
    assert_false(preset_should_run(p, id, NULL, &late, &why));
    assert_string_equal(why, "outside its schedule");
    late.event_time = late.now = utc(2026, 3, 10, 3, 59);
    assert_true(preset_should_run(p, id, NULL, &late, NULL));
    preset_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_cron),
        cmocka_unit_test(test_window_and_spread),
        cmocka_unit_test(test_set_match),
        cmocka_unit_test(test_index_cost),
        cmocka_unit_test(test_decision),
        cmocka_unit_test(test_decision_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
