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
    assert_int_equal(roost_config_set(&c, "buf-count", "3"), -ERANGE);     /* not a power of 2 */
    assert_int_equal(roost_config_set(&c, "buf-count", "65536"), -ERANGE); /* 16-bit ids */
    assert_int_equal(roost_config_set(&c, "buf-count", "0"), -ERANGE);
    assert_int_equal(roost_config_set(&c, "buf-size", "16"), -ERANGE);
    assert_int_equal(roost_config_set(&c, "max-conns", "0"), -ERANGE);
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
    assert_int_equal(roost_config_set(&c, "sq-entries", "0"), -ERANGE);
    assert_int_equal(roost_config_set(&c, "sq-entries", "32769"), -ERANGE);
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
    setenv("ROOST_RESUME", "inline", 1);
    setenv("ROOST_STACK_SIZE", "4k", 1);
    assert_int_equal(roost_config_from_env(&c, &bad), -ERANGE);
    assert_string_equal(bad, "ROOST_STACK_SIZE");
    unsetenv("ROOST_STACK_SIZE");
    unsetenv("ROOST_WAKE");
    unsetenv("ROOST_RUN_ON");
    unsetenv("ROOST_INLINE_BUDGET");
    unsetenv("ROOST_RESUME");
    unsetenv("ROOST_RECV");
    unsetenv("ROOST_BUF_COUNT");
}

/* The table's defaults are what roost_config_init gives, and each lies in its own range. */
static void every_default_parses_within_its_range(void **state)
{
    (void)state;
    size_t n = 0;
    const struct roost_option *opts = roost_config_options(&n);
    assert_true(n >= 16);
    struct roost_config c;
    assert_int_equal(roost_options_defaults(opts, n, &c, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        roost_config_init(&c);
        assert_int_equal(roost_option_set(&opts[i], &c, opts[i].def), 0);
        assert_int_equal(roost_config_set(&c, opts[i].name, opts[i].def), 0);
    }
    roost_config_init(&c);
    assert_int_equal(c.sq_entries, 256);
    assert_int_equal(c.inbox_budget, 4096);
    assert_int_equal(c.stack_size, 64 * 1024);
    assert_false(c.pin_threads);
    assert_int_equal(c.reactors, 0);
}

/* The names an enum switch accepts are those its *_name function prints, in enum order. */
static void enum_switch_values_follow_the_enums(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    for (int v = 0; v < 2; v++) {
        assert_int_equal(roost_config_set(&c, "resume", roost_resume_name(v)), 0);
        assert_int_equal(c.resume, v);
        assert_int_equal(roost_config_set(&c, "run-on", roost_run_on_name(v)), 0);
        assert_int_equal(c.run_on, v);
        assert_int_equal(roost_config_set(&c, "wake", roost_wake_name(v)), 0);
        assert_int_equal(c.wake, v);
        assert_int_equal(roost_config_set(&c, "recv", roost_recv_name(v)), 0);
        assert_int_equal(c.recv, v);
    }
    assert_int_equal(roost_config_set(&c, "resume", ""), -EINVAL);
    assert_int_equal(roost_config_set(&c, "resume", "inline|posted"), -EINVAL);
}

/* Digits only: a leading space, a sign, hex or trailing junk is a typo, not a number. */
static void numbers_are_digits_only(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    static const char *const bad[] = {" 16", "+16", "-16", "0x10", "16 ", "", "1 6", "16kk", "k"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(roost_config_set(&c, "max-conns", bad[i]), -EINVAL);
        assert_int_equal(roost_config_set(&c, "buf-size", bad[i]), -EINVAL);
    }
    assert_int_equal(roost_config_set(&c, "max-conns", "99999999999999999999999"), -ERANGE);
    assert_int_equal(roost_config_set(&c, "stack-size", "99999999999999999999k"), -ERANGE);
    assert_int_equal(roost_config_set(&c, "stack-size", "17179869184g"), -ERANGE);
    assert_int_equal(c.max_conns, 10000);
    assert_int_equal(roost_config_set(&c, "stack-size", "1g"), 0);
    assert_int_equal(c.stack_size, 1u << 30);
    assert_int_equal(roost_config_set(&c, "stack-size", "1M"), 0);
    assert_int_equal(c.stack_size, 1u << 20);
}

/* Below 16k roost's own handlers overflow the stack (8k in release, 12k under ASan). */
static void stack_size_floor_is_enforced(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    assert_int_equal(roost_config_set(&c, "stack-size", "0"), -ERANGE);
    assert_int_equal(roost_config_set(&c, "stack-size", "8k"), -ERANGE);
    assert_int_equal(roost_config_set(&c, "stack-size", "16383"), -ERANGE);
    assert_int_equal(c.stack_size, 64 * 1024);
    assert_int_equal(roost_config_set(&c, "stack-size", "16k"), 0);
    assert_int_equal(c.stack_size, 16 * 1024);
}

/* The largest documented SQ starts: its CQ is clamped to the kernel's limit. */
static void largest_sq_entries_start(void **state)
{
    (void)state;
    struct roost_config c;
    roost_config_init(&c);
    assert_int_equal(roost_config_set(&c, "sq-entries", "32768"), 0);
    c.reactors = 1;
    c.pool_threads = 1;
    roost_runtime *rt = NULL;
    assert_int_equal(roost_runtime_start(&c, &rt), 0);
    roost_runtime_destroy(rt);
}

/* What help texts and error messages say a switch accepts. */
static void ranges_read_as_written(void **state)
{
    (void)state;
    size_t n = 0;
    const struct roost_option *opts = roost_config_options(&n);
    char buf[96];
    roost_option_range(roost_option_find(opts, n, "stack-size", 10), buf, sizeof(buf));
    assert_string_equal(buf, "16k..1g bytes");
    roost_option_range(roost_option_find(opts, n, "buf-count", 9), buf, sizeof(buf));
    assert_string_equal(buf, "1..32768, a power of two");
    roost_option_range(roost_option_find(opts, n, "sq-entries", 10), buf, sizeof(buf));
    assert_string_equal(buf, "1..32768");
    roost_option_range(roost_option_find(opts, n, "wake", 4), buf, sizeof(buf));
    assert_string_equal(buf, "coalesced|per-item");
    assert_null(roost_option_find(opts, n, "wak", 3));
    roost_option_env_name(roost_option_find(opts, n, "inline-budget", 13), buf, sizeof(buf));
    assert_string_equal(buf, "ROOST_INLINE_BUDGET");
}

/* A table of another struct (as `roost serve` has) uses the same machinery. */
struct other {
    const char *host;
    uint16_t port;
    bool flag;
    uint64_t big;
};
#define OTHER_OPTIONS(X)                                                                           \
    X("host", host, ROOST_OPT_TEXT, "::1", 0, 0, "ADDR", "an address")                             \
    X("port", port, ROOST_OPT_COUNT, "80", 0, 65535, "N", "a port")                                \
    X("flag", flag, ROOST_OPT_BOOL, "on", 0, 1, "on|off", "a flag")                                \
    X("big", big, ROOST_OPT_BYTES, "16g", 0, 1ull << 40, "BYTES", "a size")
#define OTHER_OPTION_(...) ROOST_OPTION(struct other, __VA_ARGS__),
static const struct roost_option other_options[] = {OTHER_OPTIONS(OTHER_OPTION_)};

static void other_tables_share_the_machinery(void **state)
{
    (void)state;
    struct other o = {0};
    assert_int_equal(roost_options_defaults(other_options, 4, &o, NULL), 0);
    assert_string_equal(o.host, "::1");
    assert_int_equal(o.port, 80);
    assert_true(o.flag);
    assert_true(o.big == 16ull << 30);
    assert_int_equal(roost_option_set(&other_options[1], &o, "65536"), -ERANGE);
    assert_int_equal(roost_option_set(&other_options[1], &o, " 19180"), -EINVAL);
    assert_int_equal(roost_option_set(&other_options[1], &o, "+19180"), -EINVAL);
    assert_int_equal(roost_option_set(&other_options[1], &o, "19180"), 0);
    assert_int_equal(o.port, 19180);
    assert_int_equal(roost_option_set(&other_options[0], &o, ""), -EINVAL);
    assert_int_equal(roost_option_set(&other_options[2], &o, "no"), 0);
    assert_false(o.flag);
    setenv("ROOST_PORT", "x", 1);
    size_t bad = 99;
    assert_int_equal(roost_options_from_env(other_options, 4, &o, &bad), -EINVAL);
    assert_int_equal(bad, 1);
    unsetenv("ROOST_PORT");
    static const struct roost_option wrong[] = {
        ROOST_OPTION(struct other, "port", port, ROOST_OPT_COUNT, "8080", 1, 1024, "N", "a port"),
    };
    size_t which = 99;
    assert_int_equal(roost_options_defaults(wrong, 1, &o, &which), -ERANGE);
    assert_int_equal(which, 0);
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
        cmocka_unit_test(every_default_parses_within_its_range),
        cmocka_unit_test(enum_switch_values_follow_the_enums),
        cmocka_unit_test(numbers_are_digits_only),
        cmocka_unit_test(stack_size_floor_is_enforced),
        cmocka_unit_test(largest_sq_entries_start),
        cmocka_unit_test(ranges_read_as_written),
        cmocka_unit_test(other_tables_share_the_machinery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
