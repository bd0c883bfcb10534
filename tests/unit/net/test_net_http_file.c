/* Unit tests: net/http_file's Range parsing (RFC 9110 14.1.2): one range,
 * suffixes, open ends, what is ignored (the whole file) and what is
 * unsatisfiable (416). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/http_file.h"

static void test_range_parse(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int64_t size;
        int rc;
        int64_t first, last;
    } cases[] = {
        { NULL, 100, 0, 0, 0 },
        { "bytes=0-9", 100, 1, 0, 9 },
        { "bytes=10-", 100, 1, 10, 99 },
        { "bytes=90-200", 100, 1, 90, 99 },           /* last past the end: cut */
        { "bytes=99-99", 100, 1, 99, 99 },
        { "bytes=-10", 100, 1, 90, 99 },              /* the last 10 */
        { "bytes=-1000", 100, 1, 0, 99 },             /* more than there is: all */
        { " bytes = 5-6 ", 100, 1, 5, 6 },            /* blanks around */
        { "BYTES=5-6", 100, 1, 5, 6 },                /* the unit is case-insensitive */
        { "bytes=100-", 100, -ERANGE, 0, 0 },         /* starts at the end */
        { "bytes=500-600", 100, -ERANGE, 0, 0 },
        { "bytes=-0", 100, -ERANGE, 0, 0 },           /* no bytes */
        { "bytes=0-", 0, -ERANGE, 0, 0 },             /* an empty file has no range */
        { "bytes=-5", 0, -ERANGE, 0, 0 },
        { "bytes=5-1", 100, 0, 0, 0 },                /* invalid: ignored */
        { "bytes=0-1,5-6", 100, 0, 0, 0 },            /* several: the whole file */
        { "items=0-1", 100, 0, 0, 0 },
        { "bytes0-1", 100, 0, 0, 0 },
        { "bytes=", 100, 0, 0, 0 },
        { "bytes=-", 100, 0, 0, 0 },
        { "bytes=a-b", 100, 0, 0, 0 },
        { "bytes=1-2x", 100, 0, 0, 0 },
        { "bytes=+1-2", 100, 0, 0, 0 },
        { "bytes=9999999999999999999-", 100, 0, 0, 0 }, /* 19 digits: not a number we take */
        { "bytes=999999999999999999-", 100, -ERANGE, 0, 0 },
        { "bytes=0-999999999999999999", 100, 1, 0, 99 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t first = -1, last = -1;
        int rc = http_range_parse(cases[i].v, cases[i].size, &first, &last);
        if (rc != cases[i].rc)
            fail_msg("Range: %s (size %lld): %d, expected %d", cases[i].v ? cases[i].v : "(none)",
                     (long long)cases[i].size, rc, cases[i].rc);
        if (rc == 1 && (first != cases[i].first || last != cases[i].last))
            fail_msg("Range: %s: %lld-%lld, expected %lld-%lld", cases[i].v, (long long)first,
                     (long long)last, (long long)cases[i].first, (long long)cases[i].last);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
