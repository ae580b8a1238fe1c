/* The log hook: roost's own messages go through it (never straight to stderr), the level
 * threshold drops what is less severe before the hook is called, and NULL restores the
 * default. */
#include <errno.h>
#include <string.h>

#include <roost/log.h>

#include "support.h"

static char last[1024];
static int calls;
static enum roost_log_level last_level;

static void capture(enum roost_log_level level, const char *msg, void *arg)
{
    assert_ptr_equal(arg, &calls);
    snprintf(last, sizeof(last), "%s", msg);
    last_level = level;
    calls++;
}

static int reset(void **state)
{
    (void)state;
    roost_log_set_hook(NULL, NULL);
    roost_log_set_level(ROOST_LOG_WARN);
    calls = 0;
    last[0] = 0;
    return 0;
}

static int fails(void *arg)
{
    (void)arg;
    return -EIO;
}

/* Posts work that fails onto roost_run's context: roost reports it, through the hook. */
static int post_failing_work(void *arg)
{
    (void)arg;
    return roost_ctx_post(roost_ctx_current(), fails, NULL);
}

static void library_messages_go_through_the_hook(void **state)
{
    (void)state;
    roost_log_set_hook(capture, &calls);
    assert_int_equal(roost_run(post_failing_work, NULL), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(last_level, ROOST_LOG_ERROR);
    assert_non_null(strstr(last, "posted work failed"));
    assert_non_null(strstr(last, "-5"));
}

static void level_threshold_drops_less_severe_messages(void **state)
{
    (void)state;
    roost_log_set_hook(capture, &calls);
    roost_log(ROOST_LOG_INFO, "dropped at the default threshold %d", 1);
    assert_int_equal(calls, 0);
    roost_log(ROOST_LOG_WARN, "kept %s", "warn");
    assert_int_equal(calls, 1);
    assert_string_equal(last, "kept warn");
    roost_log_set_level(ROOST_LOG_ERROR);
    assert_int_equal(roost_log_get_level(), ROOST_LOG_ERROR);
    roost_log(ROOST_LOG_WARN, "dropped");
    assert_int_equal(calls, 1);
    roost_log_set_level(ROOST_LOG_DEBUG);
    roost_log(ROOST_LOG_DEBUG, "kept debug");
    assert_int_equal(calls, 2);
    assert_int_equal(last_level, ROOST_LOG_DEBUG);
}

static void null_hook_restores_the_default(void **state)
{
    (void)state;
    roost_log_set_hook(capture, &calls);
    roost_log_set_hook(NULL, NULL);
    roost_log(ROOST_LOG_ERROR, "to stderr, not to the captured hook");
    assert_int_equal(calls, 0);
}

static void level_names_parse(void **state)
{
    (void)state;
    enum roost_log_level l;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(roost_log_level_parse(names[i], &l), 0);
        assert_int_equal(l, i);
        assert_string_equal(roost_log_level_name(l), names[i]);
    }
    assert_int_equal(roost_log_level_parse("verbose", &l), -EINVAL);
    assert_int_equal(roost_log_level_parse("", &l), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(library_messages_go_through_the_hook, reset),
        cmocka_unit_test_setup(level_threshold_drops_less_severe_messages, reset),
        cmocka_unit_test_setup(null_hook_restores_the_default, reset),
        cmocka_unit_test_setup(level_names_parse, reset),
    };
    return cmocka_run_group_tests(tests, NULL, reset);
}
