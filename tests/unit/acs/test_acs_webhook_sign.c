/* Unit tests of the webhook signature (src/acs/acs_webhook_sign.c):
 * hex(HMAC-SHA256(secret, "<timestamp>.<body>")), against vectors computed
 * independently of this code:
 *
 *   python3 -c 'import hmac, hashlib; print(hmac.new(b"whsec_test_0123456789",
 *       b"1700000000." + b"{\"event\":\"task.done\",\"data\":{\"id\":1}}",
 *       hashlib.sha256).hexdigest())'
 *   printf '%s' '1700000000.{"event":"task.done","data":{"id":1}}' |
 *       openssl dgst -sha256 -hmac whsec_test_0123456789
 *
 * both give dfc5a121...163daf; the empty body's vector comes from the
 * python line with b"1700000000." alone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "acs/acs_webhook.h"

static const char SECRET[] = "whsec_test_0123456789";
static const char BODY[] = "{\"event\":\"task.done\",\"data\":{\"id\":1}}";

static void test_known_vector(void **state)
{
    (void)state;
    char sig[ACS_WEBHOOK_SIG_HEX];
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET), 1700000000, BODY, strlen(BODY), sig), 0);
    assert_string_equal(sig, "dfc5a121f070bcbe540a7d083a0b82627b036c71c4dcdc7f8dd06bf321163daf");
}

static void test_empty_body(void **state)
{
    (void)state;
    char sig[ACS_WEBHOOK_SIG_HEX];
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET), 1700000000, "", 0, sig), 0);
    assert_string_equal(sig, "d4e31ce0d70fd6d14abe8159e527246a783634bb5fe72b7d4910e35957819212");
}

/* The timestamp, the body and the secret are all covered. */
static void test_every_input_counts(void **state)
{
    (void)state;
    char a[ACS_WEBHOOK_SIG_HEX], b[ACS_WEBHOOK_SIG_HEX];
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET), 1700000000, BODY, strlen(BODY), a), 0);
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET), 1700000001, BODY, strlen(BODY), b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET), 1700000000, BODY, strlen(BODY) - 1, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET) - 1, 1700000000, BODY, strlen(BODY), b), 0);
    assert_string_not_equal(a, b);
    /* a body with NUL bytes is signed by its length, not up to the NUL */
    static const char nul[] = { 'a', 0, 'b' };
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET), 1, nul, 3, a), 0);
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET), 1, nul, 1, b), 0);
    assert_string_not_equal(a, b);
}

static void test_refused(void **state)
{
    (void)state;
    char sig[ACS_WEBHOOK_SIG_HEX];
    assert_int_equal(acs_webhook_sign("", 0, 1, BODY, strlen(BODY), sig), -EINVAL);
    assert_int_equal(acs_webhook_sign(NULL, 5, 1, BODY, strlen(BODY), sig), -EINVAL);
    assert_int_equal(acs_webhook_sign(SECRET, strlen(SECRET), 1, NULL, 4, sig), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_every_input_counts),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
