/* Configuration: defaults, one name per switch, environment variables, bad values. */
#include <errno.h>
#include <stdlib.h>

#include "support.h"

static void defaults_match_the_design(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    assert_int_equal(c.resume, ROOST_RESUME_INLINE);
    assert_int_equal(c.run_on, ROOST_RUN_ON_REACTOR);
    assert_int_equal(c.wake, ROOST_WAKE_COALESCED);
    assert_true(c.affinity);
    assert_true(c.speculative);
    assert_int_equal(c.inline_budget, 2);
    assert_int_equal(c.recv, ROOST_RECV_MULTISHOT);
    assert_int_equal(c.buf_count, 1024);
    assert_int_equal(c.buf_size, 4096);
    assert_int_equal(c.max_conns, 10000);
}

static void set_by_name(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    assert_int_equal(roost_config_set(&c, "resume", "posted"), 0);
    assert_int_equal(roost_config_set(&c, "run-on", "pool"), 0);
    assert_int_equal(roost_config_set(&c, "wake", "per-item"), 0);
    assert_int_equal(roost_config_set(&c, "affinity", "off"), 0);
    assert_int_equal(roost_config_set(&c, "speculative", "off"), 0);
    assert_int_equal(roost_config_set(&c, "inline-budget", "5"), 0);
    assert_int_equal(roost_config_set(&c, "stack-size", "32k"), 0);
    assert_int_equal(c.resume, ROOST_RESUME_POSTED);
    assert_int_equal(c.run_on, ROOST_RUN_ON_POOL);
    assert_int_equal(c.wake, ROOST_WAKE_PER_ITEM);
    assert_false(c.affinity);
    assert_false(c.speculative);
    assert_int_equal(c.inline_budget, 5);
    assert_int_equal(c.stack_size, 32768);
    assert_string_equal(roost_wake_name(c.wake), "per-item");
    assert_string_equal(roost_resume_name(c.resume), "posted");
    assert_string_equal(roost_run_on_name(c.run_on), "pool");
}

static void network_switches_set_by_name(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    assert_int_equal(roost_config_set(&c, "recv", "oneshot"), 0);
    assert_int_equal(roost_config_set(&c, "buf-count", "4"), 0);
    assert_int_equal(roost_config_set(&c, "buf-size", "16k"), 0);
    assert_int_equal(roost_config_set(&c, "max-conns", "16"), 0);
    assert_int_equal(c.recv, ROOST_RECV_ONESHOT);
    assert_int_equal(c.buf_count, 4);
    assert_int_equal(c.buf_size, 16384);
    assert_int_equal(c.max_conns, 16);
    assert_string_equal(roost_recv_name(c.recv), "oneshot");
    assert_int_equal(roost_config_set(&c, "recv", "multishot"), 0);
    assert_string_equal(roost_recv_name(c.recv), "multishot");
}

static void network_bad_values_are_refused(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    assert_int_equal(roost_config_set(&c, "recv", "twoshot"), -EINVAL);
    assert_int_equal(roost_config_set(&c, "buf-count", "3"), -EINVAL);     /* not a power of 2 */
    assert_int_equal(roost_config_set(&c, "buf-count", "65536"), -EINVAL); /* 16-bit ids */
    assert_int_equal(roost_config_set(&c, "buf-count", "0"), -EINVAL);
    assert_int_equal(roost_config_set(&c, "buf-size", "16"), -EINVAL);
    assert_int_equal(roost_config_set(&c, "max-conns", "0"), -EINVAL);
    assert_int_equal(c.recv, ROOST_RECV_MULTISHOT);
    assert_int_equal(c.buf_count, 1024);
    assert_int_equal(c.buf_size, 4096);
    assert_int_equal(c.max_conns, 10000);
}

static void bad_names_and_values_are_refused(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    assert_int_equal(roost_config_set(&c, "wakes", "per-item"), -ENOENT);
    assert_int_equal(roost_config_set(&c, "wake", "sometimes"), -EINVAL);
    assert_int_equal(roost_config_set(&c, "inline-budget", "-1"), -EINVAL);
    assert_int_equal(roost_config_set(&c, "inline-budget", "2x"), -EINVAL);
    assert_int_equal(roost_config_set(&c, "sq-entries", "1"), -EINVAL);
    assert_int_equal(roost_config_set(&c, "affinity", "maybe"), -EINVAL);
    assert_int_equal(c.wake, ROOST_WAKE_COALESCED); /* unchanged */
}

static void environment_variables_use_the_same_names(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    setenv("ROOST_WAKE", "per-item", 1);
    setenv("ROOST_RUN_ON", "pool", 1);
    setenv("ROOST_INLINE_BUDGET", "7", 1);
    setenv("ROOST_RECV", "oneshot", 1);
    setenv("ROOST_BUF_COUNT", "64", 1);
    const char *bad = NULL;
    assert_int_equal(roost_config_from_env(&c, &bad), 0);
    assert_int_equal(c.wake, ROOST_WAKE_PER_ITEM);
    assert_int_equal(c.run_on, ROOST_RUN_ON_POOL);
    assert_int_equal(c.inline_budget, 7);
    assert_int_equal(c.recv, ROOST_RECV_ONESHOT);
    assert_int_equal(c.buf_count, 64);
    setenv("ROOST_RESUME", "later", 1);
    assert_int_equal(roost_config_from_env(&c, &bad), -EINVAL);
    assert_string_equal(bad, "ROOST_RESUME");
    unsetenv("ROOST_WAKE");
    unsetenv("ROOST_RUN_ON");
    unsetenv("ROOST_INLINE_BUDGET");
    unsetenv("ROOST_RESUME");
    unsetenv("ROOST_RECV");
    unsetenv("ROOST_BUF_COUNT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_match_the_design),
        cmocka_unit_test(set_by_name),
        cmocka_unit_test(bad_names_and_values_are_refused),
        cmocka_unit_test(network_switches_set_by_name),
        cmocka_unit_test(network_bad_values_are_refused),
        cmocka_unit_test(environment_variables_use_the_same_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
