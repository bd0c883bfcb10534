/* Unit tests: cwmp_proxy/origins, the wake-up allowlist over the origin store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cwmp_proxy/origins.h"

static char path[64];

static int setup(void **state)
{
    snprintf(path, sizeof path, "/tmp/test-origins-XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    char p[96];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    return 0;
}

static void test_record_lookup_persist(void **state)
{
    origins_t o;
    assert_int_equal(origins_open(&o, path, 0), 0);
    assert_int_equal(origins_record(&o, "DEV1", "http://10.0.0.1:7547/", 1000), 1);
    assert_true(origins_pending(&o));
    assert_int_equal(origins_record(&o, "DEV1", "http://10.0.0.1:7547/", 1010), 0); /* known */
    assert_int_equal(origins_record(&o, "", "http://10.0.0.9:7547/", 1000), 1);
    const char *dev;
    assert_true(origins_lookup(&o, "http://10.0.0.1:7547/", &dev));
    assert_string_equal(dev, "DEV1");
    assert_false(origins_lookup(&o, "http://10.0.0.2:7547/", &dev));
    assert_null(dev);
    assert_int_equal(origins_flush(&o), 0);
    assert_false(origins_pending(&o));
    /* The device moves: the old address is refused from now on. */
    assert_int_equal(origins_record(&o, "DEV1", "http://10.0.0.2:7547/", 2000), 1);
    assert_false(origins_lookup(&o, "http://10.0.0.1:7547/", NULL));
    assert_string_equal(origins_of_device(&o, "DEV1"), "http://10.0.0.2:7547/");
    /* Seen again much later: a refresh of `seen` is written. */
    assert_int_equal(origins_record(&o, "DEV1", "http://10.0.0.2:7547/", 2000 + 7200), 1);
    origins_close(&o); /* flushes */

    assert_int_equal(origins_open(&o, path, 0), 0);
    assert_int_equal(origins_count(&o), 2);
    assert_true(origins_lookup(&o, "http://10.0.0.2:7547/", &dev));
    assert_string_equal(dev, "DEV1");
    assert_true(origins_lookup(&o, "http://10.0.0.9:7547/", &dev));
    assert_string_equal(dev, "");
    assert_false(origins_lookup(&o, "http://10.0.0.1:7547/", NULL));
    /* A device-less report does not take a device's origin away from it. */
    assert_int_equal(origins_record(&o, "", "http://10.0.0.2:7547/", 9300), 0);
    assert_true(origins_lookup(&o, "http://10.0.0.2:7547/", &dev));
    assert_string_equal(dev, "DEV1");
    /* An unknown-device origin gets its device later. */
    assert_int_equal(origins_record(&o, "DEV9", "http://10.0.0.9:7547/", 9300), 1);
    assert_string_equal(origins_of_device(&o, "DEV9"), "http://10.0.0.9:7547/");
    /* Another device claims DEV1's address: it changes hands. */
    assert_int_equal(origins_record(&o, "DEV2", "http://10.0.0.2:7547/", 9400), 1);
    assert_null(origins_of_device(&o, "DEV1"));
    assert_string_equal(origins_of_device(&o, "DEV2"), "http://10.0.0.2:7547/");
    origins_close(&o);
}

static void test_cap_and_memory_only(void **state)
{
    origins_t o;
    assert_int_equal(origins_open(&o, NULL, 2), 0);
    assert_int_equal(origins_record(&o, "A", "http://a/", 1), 1);
    assert_int_equal(origins_record(&o, "B", "http://b/", 1), 1);
    assert_int_equal(origins_record(&o, "C", "http://c/", 1), -ENOSPC);
    assert_int_equal(o.refused, 1);
    /* A device moving within the cap still works. */
    assert_int_equal(origins_record(&o, "A", "http://a2/", 1), 1);
    assert_int_equal(origins_count(&o), 2);
    assert_true(origins_lookup(&o, "http://a2/", NULL));
    assert_false(origins_pending(&o)); /* no store: nothing to write */
    assert_int_equal(origins_flush(&o), 0);
    origins_close(&o);
}

static void test_expire(void **state)
{
    origins_t o;
    assert_int_equal(origins_open(&o, path, 0), 0);
    origins_record(&o, "OLD", "http://old/", 100);
    origins_record(&o, "NEW", "http://new/", 1000);
    origins_record(&o, "", "http://anon/", 50);
    assert_int_equal(origins_expire(&o, 500), 2);
    assert_false(origins_lookup(&o, "http://old/", NULL));
    assert_null(origins_of_device(&o, "OLD"));
    assert_true(origins_lookup(&o, "http://new/", NULL));
    origins_close(&o);
    assert_int_equal(origins_open(&o, path, 0), 0);
    assert_int_equal(origins_count(&o), 1);
    origins_close(&o);
}

/* Rows another proxy wrote to a shared store: merged as records, never
 * written back; older than what this proxy knows: ignored. */
static void test_merge_and_take(void **state)
{
    origins_t o;
    assert_int_equal(origins_open(&o, NULL, 0), 0);
    const char *dev = NULL;
    origin_rec_t a = { "http://10.0.0.1/", "D1", 100, 0 };
    assert_int_equal(origins_merge(&o, &a), 1);
    assert_true(origins_lookup(&o, "http://10.0.0.1/", &dev));
    assert_string_equal(dev, "D1");
    assert_false(origins_pending(&o));
    assert_int_equal(origins_merge(&o, &a), 0); /* known */
    /* the device moved through the other proxy: its old origin goes */
    origin_rec_t b = { "http://10.0.0.2/", "D1", 200, 0 };
    assert_int_equal(origins_merge(&o, &b), 1);
    assert_false(origins_lookup(&o, "http://10.0.0.1/", NULL));
    assert_string_equal(origins_of_device(&o, "D1"), "http://10.0.0.2/");
    /* this proxy saw D1 move on later than a stale row says: the row loses */
    assert_int_equal(origins_record(&o, "D1", "http://10.0.0.3/", 300), 1);
    assert_int_equal(origins_merge(&o, &b), 0);
    assert_string_equal(origins_of_device(&o, "D1"), "http://10.0.0.3/");
    /* nor does a stale row give a newer origin to another device */
    origin_rec_t c = { "http://10.0.0.3/", "D9", 250, 0 };
    assert_int_equal(origins_merge(&o, &c), 0);
    assert_true(origins_lookup(&o, "http://10.0.0.3/", &dev));
    assert_string_equal(dev, "D1");
    origins_close(&o);

    /* the pending batch, taken: the table keeps nothing pending */
    assert_int_equal(origins_open(&o, path, 0), 0);
    assert_int_equal(origins_record(&o, "D1", "http://10.0.0.1/", 100), 1);
    assert_int_equal(origins_record(&o, "D2", "http://10.0.0.2/", 100), 1);
    origin_rec_t *recs;
    size_t n;
    origins_take_pending(&o, &recs, &n);
    assert_int_equal(n, 2);
    assert_false(origins_pending(&o));
    assert_string_equal(recs[1].device, "D2");
    /* the write failed: the batch goes back in front of a newer record */
    assert_int_equal(origins_record(&o, "D3", "http://10.0.0.3/", 100), 1);
    assert_int_equal(origins_requeue(&o, recs, n, 10), 0);
    origins_take_pending(&o, &recs, &n);
    assert_int_equal(n, 3);
    assert_string_equal(recs[0].device, "D1");
    assert_string_equal(recs[2].device, "D3");
    /* over the cap: dropped, nothing pending */
    assert_int_equal(origins_requeue(&o, recs, n, 2), -ENOSPC);
    assert_false(origins_pending(&o));
    origins_take_pending(&o, &recs, &n);
    assert_int_equal(n, 0);
    assert_null(recs);
    origins_close(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_lookup_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_and_memory_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_and_take, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
