/* The writer's output for every message type, in every namespace, checked
 * against the BBF schemas with ../shared/cwmp/validate-soap (skipped when
 * the reference kit is not beside the checkout). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/cwmp.h"
#include "cwmp_samples.h"

static const char *validator;

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_validate_every_message(void **state)
{
    if (!validator || access(validator, X_OK) != 0) {
        printf("validate-soap not found (%s): skipped\n", validator ? validator : "-");
        skip();
    }
    if (system("command -v xmllint >/dev/null 2>&1") != 0) {
        printf("xmllint missing: skipped\n");
        skip();
    }
    char dir[] = "/tmp/cwmp-validate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    buf_t out = BUF_INIT(1 << 20);
    int files = 0;
    for (int ns = CWMP_NS_1_0; ns <= CWMP_NS_1_3; ns++) {
        for (int t = CWMP_FAULT; t < CWMP_TYPE_COUNT; t++) {
            cwmp_msg_t m;
            cwmp_sample((cwmp_type_t)t, (cwmp_ns_t)ns, &m);
            buf_reset(&out);
            int rc = cwmp_encode(&out, &m);
            if (rc == -ENOTSUP)
                continue;
            assert_int_equal(rc, 0);
            char path[256];
            snprintf(path, sizeof path, "%s/%d-%s.xml", dir, ns, cwmp_type_name((cwmp_type_t)t));
            write_file(path, out.data, out.len);
            files++;
        }
        /* Every ACS fault code the namespace defines. */
        for (int code = 8000; code <= (ns == CWMP_NS_1_0 ? 8005 : 8006); code++) {
            cwmp_msg_t m = { .type = CWMP_FAULT, .ns = (cwmp_ns_t)ns, .id = "1",
                             .fault = { .code = code } };
            buf_reset(&out);
            assert_int_equal(cwmp_encode(&out, &m), 0);
            char path[256];
            snprintf(path, sizeof path, "%s/%d-fault-%d.xml", dir, ns, code);
            write_file(path, out.data, out.len);
            files++;
        }
        /* No header at all, HoldRequests alone. */
        cwmp_msg_t m = { .type = CWMP_GET_RPC_METHODS, .ns = (cwmp_ns_t)ns,
                         .has_hold_requests = true, .hold_requests = true };
        buf_reset(&out);
        assert_int_equal(cwmp_encode(&out, &m), 0);
        char path[256];
        snprintf(path, sizeof path, "%s/%d-hold.xml", dir, ns);
        write_file(path, out.data, out.len);
        files++;
    }
    buf_free(&out);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s/*.xml > %s.log 2>&1", validator, dir, dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "grep -v ' validates$' %s.log | head -40", dir);
        (void)!system(cmd);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.log'", dir, dir);
    (void)!system(cmd);
    printf("validated %d envelopes\n", files);
    assert_int_equal(rc, 0);
}

int main(int argc, char **argv)
{
    validator = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_every_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
