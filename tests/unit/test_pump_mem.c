/* The in-memory bounded channel, and performers on it (no broker needed). */
#include <pthread.h>
#include <string.h>

#include "redis_support.h"

static int receive_all(void *arg)
{
    roost_channel *ch = arg;
    struct roost_pump_msg msgs[8];
    struct roost_pump_batch b = {.msgs = msgs, .cap = 8};
    int n = roost_channel_receive(ch, &b, 0);
    for (int i = 0; i < n; i++) {
        if (atoi(msgs[i].body) != i || msgs[i].deliveries != 1)
            return -EBADMSG;
        roost_channel_ack(ch, &msgs[i]);
    }
    roost_channel_release(ch, &b);
    return n;
}

static void test_mem_channel_is_bounded_and_fifo(void **state)
{
    (void)state;
    struct roost_mem_channel_opts o = {.capacity = 4};
    roost_channel *ch;
    assert_int_equal(roost_mem_channel_open(&o, &ch), 0);
    for (int i = 0; i < 4; i++) {
        char body[8];
        snprintf(body, sizeof(body), "%d", i);
        assert_int_equal(roost_mem_channel_send(ch, NULL, body, strlen(body)), 0);
    }
    assert_int_equal(roost_mem_channel_send(ch, NULL, "x", 1), -EAGAIN);
    assert_int_equal(roost_run(receive_all, ch), 4);
    /* Acked: room again. */
    assert_int_equal(roost_mem_channel_send(ch, NULL, "0", 1), 0);
    roost_channel_close(ch);
}

static int nack_until_dead(void *arg)
{
    roost_channel *ch = arg;
    struct roost_pump_msg m;
    struct roost_pump_batch b = {.msgs = &m, .cap = 1};
    for (unsigned d = 1;; d++) {
        if (roost_channel_receive(ch, &b, test_ms(5000)) != 1 || m.deliveries != d)
            return -EBADMSG;
        int rc = roost_channel_nack(ch, &m, 0);
        roost_channel_release(ch, &b);
        if (rc == 1)
            return (int)d;
    }
}

static void test_mem_nack_dead_letters_after_max_deliveries(void **state)
{
    (void)state;
    struct roost_mem_channel_opts o = {.max_deliveries = 3};
    roost_channel *ch;
    assert_int_equal(roost_mem_channel_open(&o, &ch), 0);
    assert_int_equal(roost_mem_channel_send(ch, "k", "poison", 6), 0);
    assert_int_equal(roost_run(nack_until_dead, ch), 3);
    assert_int_equal(roost_mem_channel_dead(ch), 1);
    roost_channel_close(ch);
}

static _Atomic long handled;
static roost_channel *shared;

static int count_handler(struct roost_pump_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    roost_sleep(0);
    atomic_fetch_add(&handled, 1);
    return 0;
}

static int shared_channel(unsigned i, void *arg, roost_channel **out)
{
    (void)i;
    (void)arg;
    *out = shared;
    return 0;
}

static void keep_channel(unsigned i, roost_channel *ch, void *arg)
{
    (void)i;
    (void)ch;
    (void)arg;
}

static void test_proactors_share_a_mem_channel(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(2, NULL);
    assert_int_equal(roost_mem_channel_open(NULL, &shared), 0);
    for (int i = 0; i < 500; i++)
        assert_int_equal(roost_mem_channel_send(shared, NULL, "m", 1), 0);
    struct roost_pump_opts o = {.type = ROOST_PUMP_PROACTOR,
                                .performers = 4,
                                .handler = count_handler,
                                .channel = shared_channel,
                                .channel_done = keep_channel};
    roost_pump *p;
    assert_int_equal(roost_pump_start(rt, &o, &p), 0);
    assert_true(test_wait_at_least(&handled, 500, test_ms(30000)));
    roost_pump_stop(p);
    assert_int_equal(roost_pump_wait(p), 0);
    struct roost_pump_stats s;
    roost_pump_stats(p, &s);
    roost_pump_free(p);
    assert_int_equal(s.acked, 500);
    assert_int_equal(atomic_load(&handled), 500);
    roost_channel_close(shared);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_channel_is_bounded_and_fifo),
        cmocka_unit_test(test_mem_nack_dead_letters_after_max_deliveries),
        cmocka_unit_test(test_proactors_share_a_mem_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
