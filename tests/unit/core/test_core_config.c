/* Unit tests: core/config — defaults, YAML, flags overriding YAML, and errors
 * that name the file, line and key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/log.h"

typedef struct opts {
    cfg_common_t common;
    int64_t workers;
    int64_t timeout_ms;
    int64_t pause_ms;
    uint64_t max_body;
    double ratio;
    bool verbose;
    cfg_list_t backends;
    cfg_list_t rules;
    cfg_list_t deny;
    char *doc;
} opts_t;

/* CFG_JSON's check: anything but a document holding "refuse". */
static int check_doc(const char *v, char *err, size_t errlen)
{
    if (!strstr(v, "\"refuse\""))
        return 0;
    snprintf(err, errlen, "items[1]: refused by the check");
    return -EINVAL;
}

static const cfg_opt_t table[] = {
    CFG_COMMON_LISTEN(opts_t, "0.0.0.0:7547", "main listener"),
    CFG_COMMON_ADMIN(opts_t, "127.0.0.1:7549"),
    CFG_COMMON_API_TOKEN(opts_t),
    CFG_OPT("workers", CFG_INT, opts_t, workers, "4", "N", "worker count", .min = 1, .max = 64),
    CFG_OPT("timeout", CFG_DURATION, opts_t, timeout_ms, "10s", "DUR", "timeout", .min = 100, .max = 60000),
    CFG_OPT("pause-ms", CFG_DURATION, opts_t, pause_ms, "0", "DUR", "pause", .flags = CFG_BARE_MS),
    CFG_OPT("max-body", CFG_SIZE, opts_t, max_body, "1MiB", "SIZE", "body cap"),
    CFG_OPT("ratio", CFG_DOUBLE, opts_t, ratio, "0.5", "R", "a ratio", .min = 0, .max = 1),
    CFG_OPT("verbose", CFG_BOOL, opts_t, verbose, "false", NULL, "chatty"),
    CFG_OPT("backend", CFG_LIST, opts_t, backends, NULL, "URL", "backend"),
    CFG_OPT("rule", CFG_LIST, opts_t, rules, NULL, "RULE", "rule"),
    CFG_OPT("deny", CFG_LIST, opts_t, deny, "127.0.0.0/8,::1", "CIDR", "deny list"),
    CFG_OPT("doc", CFG_JSON, opts_t, doc, NULL, "JSON", "a structured value", .check = check_doc),
    CFG_COMMON_DATA_DIR(opts_t, "unit"),
    CFG_END,
};
static const cfg_cmd_t cmd = { "unit", "a test command", NULL, table };

static char errtext[4096];

/* Run cfg_load with stderr captured into errtext. */
static int load(opts_t *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    cfg_result_t res;
    int rc = cfg_load(&cmd, o, argc, argv, &res);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(errtext, 1, sizeof errtext - 1, tmp);
    errtext[n] = '\0';
    fclose(tmp);
    return rc;
}

static char yaml_path[64];

static void write_yaml(const char *text)
{
    strcpy(yaml_path, "/tmp/outpost-cfg-XXXXXX");
    int fd = mkstemp(yaml_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_defaults(void **state)
{
    opts_t o;
    char *argv[] = { "unit" };
    assert_int_equal(load(&o, 1, argv), 0);
    assert_string_equal(o.common.listen, "0.0.0.0:7547");
    assert_int_equal(o.workers, 4);
    assert_int_equal(o.timeout_ms, 10000);
    assert_int_equal(o.max_body, 1048576);
    assert_true(o.ratio == 0.5);
    assert_false(o.verbose);
    assert_int_equal(o.backends.n, 0);
    cfg_free(&cmd, &o);
}

static void test_yaml_then_flags(void **state)
{
    write_yaml("listen: 127.0.0.1:9000\n"
               "workers: 8\n"
               "timeout: 250ms\n"
               "max_body: 64KiB\n"
               "backend:\n  - http://a:1/\n  - http://b:2/\n"
               "rule:\n  - {from: a, to: b, ports: 22, org: ACME \"Corp\" 2}\n"
               "log-level: warn\n");
    opts_t o;
    char *argv[] = { "unit", "--config", yaml_path, "--workers=16", "--verbose", "--backend", "http://c:3/" };
    assert_int_equal(load(&o, 7, argv), 0);
    assert_string_equal(o.common.listen, "127.0.0.1:9000");
    assert_int_equal(o.workers, 16); /* the flag wins */
    assert_int_equal(o.timeout_ms, 250);
    assert_int_equal(o.max_body, 65536);
    assert_true(o.verbose);
    /* a flag replaces the file's list instead of extending it */
    assert_int_equal(o.backends.n, 1);
    assert_string_equal(o.backends.v[0], "http://c:3/");
    assert_int_equal(o.rules.n, 1);
    /* a value with spaces or quotes comes back quoted, and reads back whole */
    assert_string_equal(o.rules.v[0], "from=a to=b ports=22 org=\"ACME \\\"Corp\\\" 2\"");
    char k[16], v[32];
    size_t pos = 0;
    for (int i = 0; i < 4; i++)
        assert_int_equal(cfg_kv_next(o.rules.v[0], &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(v, "ACME \"Corp\" 2");
    assert_int_equal(log_current_level, LOG_WARN);
    log_set_level(LOG_INFO);
    cfg_free(&cmd, &o);
    unlink(yaml_path);
}

static void expect_yaml_error(const char *text, const char *needle)
{
    write_yaml(text);
    opts_t o;
    char *argv[] = { "unit", "--config", yaml_path };
    if (load(&o, 3, argv) != -EINVAL)
        fail_msg("accepted: %.200s", text);
    if (!strstr(errtext, needle))
        fail_msg("error '%s' lacks '%s'", errtext, needle);
    if (!strstr(errtext, yaml_path))
        fail_msg("error '%s' does not name the file", errtext);
    unlink(yaml_path);
}

static void test_yaml_errors_name_file_line_key(void **state)
{
    expect_yaml_error("listen: 127.0.0.1:1\nbogus: 1\n", ":2: key 'bogus': unknown key");
    expect_yaml_error("workers: many\n", ":1: key 'workers': expected an integer");
    expect_yaml_error("\n\nworkers: 1000\n", ":3: key 'workers': must be between 1 and 64");
    expect_yaml_error("timeout: 10 parsecs\n", "key 'timeout': expected a duration");
    expect_yaml_error("listen: nocolon\n", "key 'listen': expected HOST:PORT");
    expect_yaml_error("ratio: 2\n", "key 'ratio': must be between 0 and 1");
    expect_yaml_error("workers: 1\nworkers: 2\n", ":2: key 'workers': given twice");
    expect_yaml_error("workers: [1, 2]\n", "key 'workers': expected a single value");
    expect_yaml_error("workers: 1\nlisten: 'unclosed\n", "YAML syntax error");
    expect_yaml_error("- a\n- b\n", "expected a mapping");
    expect_yaml_error("rule:\n  - {from a: b}\n", "must not contain spaces");
}

static void test_flag_errors(void **state)
{
    opts_t o;
    char *a1[] = { "unit", "--nope" };
    assert_int_equal(load(&o, 2, a1), -EINVAL);
    assert_non_null(strstr(errtext, "unknown option '--nope'"));
    char *a2[] = { "unit", "--workers" };
    assert_int_equal(load(&o, 2, a2), -EINVAL);
    assert_non_null(strstr(errtext, "--workers: needs a value"));
    char *a3[] = { "unit", "--verbose=maybe" };
    assert_int_equal(load(&o, 2, a3), -EINVAL);
    assert_non_null(strstr(errtext, "--verbose: expected true or false"));
    char *a4[] = { "unit", "stray" };
    assert_int_equal(load(&o, 2, a4), -EINVAL);
    assert_non_null(strstr(errtext, "unexpected argument 'stray'"));
    char *a5[] = { "unit", "--config", "/nonexistent/x.yaml" };
    assert_int_equal(load(&o, 3, a5), -EINVAL);
    assert_non_null(strstr(errtext, "cannot open config /nonexistent/x.yaml"));
    char *a6[] = { "unit", "--log-level", "loud" };
    assert_int_equal(load(&o, 3, a6), -EINVAL);
    assert_non_null(strstr(errtext, "--log-level: must be one of"));
}

static void test_list_defaults_are_replaced(void **state)
{
    opts_t o;
    char *argv0[] = { "unit" };
    assert_int_equal(load(&o, 1, argv0), 0);
    assert_int_equal(o.deny.n, 2);
    cfg_free(&cmd, &o);
    /* a list in the file replaces the default; an empty key empties it */
    write_yaml("deny: [10.0.0.0/8]\n");
    char *argv1[] = { "unit", "--config", yaml_path };
    assert_int_equal(load(&o, 3, argv1), 0);
    assert_int_equal(o.deny.n, 1);
    assert_string_equal(o.deny.v[0], "10.0.0.0/8");
    cfg_free(&cmd, &o);
    unlink(yaml_path);
    write_yaml("deny:\n");
    assert_int_equal(load(&o, 3, argv1), 0);
    assert_int_equal(o.deny.n, 0);
    cfg_free(&cmd, &o);
    unlink(yaml_path);
    /* flags replace it too, and --deny '' empties it */
    char *argv2[] = { "unit", "--deny", "" };
    assert_int_equal(load(&o, 3, argv2), 0);
    assert_int_equal(o.deny.n, 0);
    cfg_free(&cmd, &o);
    char *argv3[] = { "unit", "--deny", "", "--deny", "192.0.2.0/24" };
    assert_int_equal(load(&o, 5, argv3), 0);
    assert_int_equal(o.deny.n, 1);
    cfg_free(&cmd, &o);
}

static void test_version_man_and_state_dir(void **state)
{
    opts_t o;
    char *argv1[] = { "unit", "--version" };
    assert_int_equal(load(&o, 2, argv1), 1);
    char *argv2[] = { "unit", "--listen", "x", "--man" };
    assert_int_equal(load(&o, 4, argv2), 1); /* printed before any flag is looked at */
    /* the data dir: ./NAME-data by hand, $STATE_DIRECTORY under systemd */
    char *argv0[] = { "unit" };
    unsetenv("STATE_DIRECTORY");
    assert_int_equal(load(&o, 1, argv0), 0);
    assert_string_equal(o.common.data_dir, "./unit-data");
    cfg_free(&cmd, &o);
    setenv("STATE_DIRECTORY", "/var/lib/outpost/unit:/var/lib/other", 1);
    assert_int_equal(load(&o, 1, argv0), 0);
    assert_string_equal(o.common.data_dir, "/var/lib/outpost/unit");
    cfg_free(&cmd, &o);
    char *argv3[] = { "unit", "--data-dir", "/srv/x" };
    assert_int_equal(load(&o, 3, argv3), 0);
    assert_string_equal(o.common.data_dir, "/srv/x");
    cfg_free(&cmd, &o);
    unsetenv("STATE_DIRECTORY");
}

static void test_help_lists_every_option(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfg_help(&cmd, f);
    fclose(f);
    for (const cfg_opt_t *o = table; o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        assert_non_null(strstr(buf, flag));
    }
    assert_non_null(strstr(buf, "(default: 0.0.0.0:7547)"));
    assert_non_null(strstr(buf, "--log-level LEVEL"));
    assert_non_null(strstr(buf, "--config FILE"));
    free(buf);
}

static void test_kv_items(void **state)
{
    const char *item = "from=a to=b ports=22,80";
    char k[16], v[16];
    size_t pos = 0;
    assert_int_equal(cfg_kv_next(item, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(k, "from");
    assert_string_equal(v, "a");
    assert_int_equal(cfg_kv_next(item, &pos, k, sizeof k, v, sizeof v), 1);
    assert_int_equal(cfg_kv_next(item, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(v, "22,80");
    assert_int_equal(cfg_kv_next(item, &pos, k, sizeof k, v, sizeof v), 0);
    pos = 0;
    assert_int_equal(cfg_kv_next("novalue", &pos, k, sizeof k, v, sizeof v), -EINVAL);

    /* quoted values hold spaces, quotes and backslashes */
    const char *q = "org=\"ACME Corp\" cn=\"a \\\"b\\\\\" x=";
    pos = 0;
    assert_int_equal(cfg_kv_next(q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(k, "org");
    assert_string_equal(v, "ACME Corp");
    assert_int_equal(cfg_kv_next(q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(v, "a \"b\\");
    assert_int_equal(cfg_kv_next(q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(v, "");
    assert_int_equal(cfg_kv_next(q, &pos, k, sizeof k, v, sizeof v), 0);
    const char *bad[] = { "k=\"open", "k=\"a\"b", "k=\"0123456789abcdef\"" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pos = 0;
        assert_int_equal(cfg_kv_next(bad[i], &pos, k, sizeof k, v, sizeof v), -EINVAL);
    }
}

static void test_units(void **state)
{
    int64_t ms;
    uint64_t b;
    assert_int_equal(cfg_parse_duration_ms("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(cfg_parse_duration_ms("2m", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(cfg_parse_duration_ms("-1s", &ms), -EINVAL);
    assert_int_equal(cfg_parse_size("256KiB", &b), 0);
    assert_int_equal(b, 262144);
    assert_int_equal(cfg_parse_size("1 MiB", &b), 0);
    assert_int_equal(b, 1048576);
    assert_int_equal(cfg_parse_size("1 parsec", &b), -EINVAL);
    /* past half the type's range: too large, not malformed */
    assert_int_equal(cfg_parse_duration_ms("1e300s", &ms), -ERANGE);
    assert_int_equal(cfg_parse_size("1e30GiB", &b), -ERANGE);
    assert_int_equal(cfg_parse_duration_ms("10", &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(cfg_parse_size("2.5K", &b), 0);
    assert_int_equal(b, 2560);
}

/* An option named *-ms takes a bare number as milliseconds (CFG_BARE_MS),
 * as its name says; with a unit it is any duration. Others keep seconds. */
static void test_bare_ms_duration(void **state)
{
    opts_t o;
    char *a1[] = { "unit", "--pause-ms", "400", "--timeout", "2" };
    assert_int_equal(load(&o, 5, a1), 0);
    assert_int_equal(o.pause_ms, 400);
    assert_int_equal(o.timeout_ms, 2000);
    cfg_free(&cmd, &o);
    char *a2[] = { "unit", "--pause-ms=1.5s" };
    assert_int_equal(load(&o, 2, a2), 0);
    assert_int_equal(o.pause_ms, 1500);
    cfg_free(&cmd, &o);
    char *a3[] = { "unit", "--pause-ms", "250ms" };
    assert_int_equal(load(&o, 3, a3), 0);
    assert_int_equal(o.pause_ms, 250);
    cfg_free(&cmd, &o);
    write_yaml("pause-ms: 75\n");
    char *a4[] = { "unit", "--config", yaml_path };
    assert_int_equal(load(&o, 3, a4), 0);
    unlink(yaml_path);
    assert_int_equal(o.pause_ms, 75);
    cfg_free(&cmd, &o);
    char *a5[] = { "unit", "--pause-ms", "soon" };
    assert_int_equal(load(&o, 3, a5), -EINVAL);
    assert_non_null(strstr(errtext, "--pause-ms: expected"));
    char *a6[] = { "unit", "--pause-ms", "1e300" };
    assert_int_equal(load(&o, 3, a6), -EINVAL);
    assert_non_null(strstr(errtext, "--pause-ms: expected"));
}

/* CFG_JSON: any YAML value becomes JSON text; a flag's value is JSON already. */
static void test_json_option(void **state)
{
    opts_t o;
    char *argv[] = { "unit", "--config", yaml_path };
    write_yaml("workers: 2\n"
               "doc:\n"
               "  - name: a\n"
               "    weight: -5\n"
               "    events: [\"1 BOOT\", '2 PERIODIC']\n"
               "    match: {oui: 00D09E, n: 1.5e3, z: 007, s: '12', p: +1, t: true, f: False,"
               " n1: ~, n2: null, n3: , tagged: !!str 5}\n"
               "    text: \"line\\nbreak \\\"q\\\" \\\\ \\t\"\n"
               "  - {}\n"
               "  - []\n"
               "verbose: true\n");
    assert_int_equal(load(&o, 3, argv), 0);
    assert_string_equal(o.doc,
        "[{\"name\":\"a\",\"weight\":-5,\"events\":[\"1 BOOT\",\"2 PERIODIC\"],"
        "\"match\":{\"oui\":\"00D09E\",\"n\":1.5e3,\"z\":\"007\",\"s\":\"12\",\"p\":\"+1\","
        "\"t\":true,\"f\":false,\"n1\":null,\"n2\":null,\"n3\":null,\"tagged\":\"5\"},"
        "\"text\":\"line\\u000abreak \\\"q\\\" \\\\ \\u0009\"},{},[]]");
    assert_int_equal(o.workers, 2);      /* the keys around it are read as before */
    assert_true(o.verbose);
    cfg_free(&cmd, &o);
    unlink(yaml_path);

    /* a scalar, and nothing */
    write_yaml("doc: 42\n");
    assert_int_equal(load(&o, 3, argv), 0);
    assert_string_equal(o.doc, "42");
    cfg_free(&cmd, &o);
    unlink(yaml_path);
    write_yaml("doc:\n");
    assert_int_equal(load(&o, 3, argv), 0);
    assert_string_equal(o.doc, "null");
    cfg_free(&cmd, &o);
    unlink(yaml_path);

    /* the flag: JSON text as given, and it wins over the file */
    write_yaml("doc: [1]\n");
    char *argv2[] = { "unit", "--config", yaml_path, "--doc", "{\"a\": [true]}" };
    assert_int_equal(load(&o, 5, argv2), 0);
    assert_string_equal(o.doc, "{\"a\": [true]}");
    cfg_free(&cmd, &o);
    unlink(yaml_path);
    char *argv3[] = { "unit", "--doc", "[\"refuse\"]" };
    assert_int_equal(load(&o, 3, argv3), -EINVAL);
    assert_non_null(strstr(errtext, "--doc: items[1]: refused by the check"));

    /* errors name the file, the line where the value starts and the key */
    expect_yaml_error("workers: 1\ndoc:\n  - a\n  - refuse\n", ":3: key 'doc': items[1]: refused");
    expect_yaml_error("doc:\n  - &x {a: 1}\n  - *x\n", "key 'doc': anchors (&name) are not supported");
    expect_yaml_error("doc:\n  - a\n  - *x\n", ":3: key 'doc': aliases (*name) are not supported");
    expect_yaml_error("doc:\n  ? [a]\n  : 1\n", "key 'doc': mapping keys must be plain text");
    expect_yaml_error("doc: \"a\\0b\"\n", "key 'doc': a NUL character");
    char deep[256] = "doc: ";
    for (int i = 0; i < CFG_JSON_DEPTH + 1; i++)
        strcat(deep, "[");
    for (int i = 0; i < CFG_JSON_DEPTH + 1; i++)
        strcat(deep, "]");
    strcat(deep, "\n");
    expect_yaml_error(deep, "key 'doc': nested deeper than 32 levels");
    /* the cap: a value over CFG_JSON_MAX as JSON */
    size_t n = CFG_JSON_MAX / 13 + 10; /* "abcdefghij", is 13 bytes of JSON */
    char *big = malloc(n * 14 + 64), *p = big;
    p += sprintf(p, "doc:\n");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "- abcdefghij\n");
    expect_yaml_error(big, "key 'doc': over 1048576 bytes as JSON");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_yaml_then_flags),
        cmocka_unit_test(test_yaml_errors_name_file_line_key),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_list_defaults_are_replaced),
        cmocka_unit_test(test_version_man_and_state_dir),
        cmocka_unit_test(test_kv_items),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_bare_ms_duration),
        cmocka_unit_test(test_json_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
