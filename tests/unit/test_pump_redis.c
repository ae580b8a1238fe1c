/* Performers on Redis Streams against a real redis-server, each case one behaviour. */
#include <pthread.h>
#include <string.h>

#include "pump_support.h"

static _Atomic long handled;

/* ---- order within each partition --------------------------------------------------------- */

#define ORDER_KEYS 8
#define ORDER_MSGS 2000
static long last_seq[ORDER_KEYS];
static _Atomic long out_of_order;

static int order_handler(struct roost_pump_msg *m, void *arg)
{
    (void)arg;
    unsigned key = (unsigned)atoi(m->key + 1);
    long seq = atol(m->body);
    /* Messages of key k are k, k + KEYS, k + 2 KEYS, ... in publishing order. */
    if (seq != last_seq[key] + ORDER_KEYS)
        atomic_fetch_add(&out_of_order, 1);
    last_seq[key] = seq;
    roost_yield(); /* let the other performers interleave */
    atomic_fetch_add(&handled, 1);
    return 0;
}

static void test_order_within_each_partition(void **state)
{
    (void)state;
    pump_env_start(2);
    for (unsigned k = 0; k < ORDER_KEYS; k++)
        last_seq[k] = (long)k - ORDER_KEYS;
    atomic_store(&handled, 0);
    pump_fill("orders", 4, ORDER_MSGS, ORDER_KEYS);
    struct chan_cfg cfg = {.stream = "orders", .partitions = 4};
    struct roost_pump_opts o = {.type = ROOST_PUMP_PROACTOR,
                                .performers = 4, /* one per partition, on 2 reactors */
                                .in_flight = 32,
                                .handler = order_handler,
                                .channel = make_channel,
                                .channel_arg = &cfg};
    struct roost_pump_stats s = pump_run_until(&o, &handled, ORDER_MSGS);
    assert_int_equal(atomic_load(&out_of_order), 0);
    assert_int_equal(s.acked, ORDER_MSGS);
    for (unsigned k = 0; k < ORDER_KEYS; k++)
        assert_int_equal(last_seq[k], ORDER_MSGS - ORDER_KEYS + k);
    pump_env_stop();
}

/* ---- poison message -------------------------------------------------------------------- */

static int poison_handler(struct roost_pump_msg *m, void *arg)
{
    (void)arg;
    atomic_fetch_add(&handled, 1);
    return strcmp(m->body, "7") == 0 ? -EINVAL : 0;
}

static void test_poison_message_reaches_dead_letter_after_n_deliveries(void **state)
{
    (void)state;
    pump_env_start(1);
    atomic_store(&handled, 0);
    pump_fill("jobs", 1, 20, 0);
    struct chan_cfg cfg = {.stream = "jobs", .max_deliveries = 3};
    struct roost_pump_opts o = {.type = ROOST_PUMP_PROACTOR,
                                .performers = 1,
                                .handler = poison_handler,
                                .channel = make_channel,
                                .channel_arg = &cfg};
    /* 19 good messages once, the poison one 3 times. */
    struct roost_pump_stats s = pump_run_until(&o, &handled, 19 + 3);
    assert_int_equal(s.acked, 19);
    assert_int_equal(s.dead, 1);
    assert_int_equal(s.nacked, 2);
    assert_int_equal(pump_int("XLEN %s", "jobs:dead", NULL), 1);
    assert_int_equal(pump_int("XPENDING %s %s", "jobs", "g"), 0);
    redisContext *c = test_redis_connect(&srv);
    redisReply *rep = redisCommand(c, "XRANGE jobs:dead - +");
    assert_int_equal(rep->elements, 1);
    redisReply *f = rep->element[0]->element[1];
    bool saw_body = false, saw_count = false;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        saw_body |= !strcmp(f->element[i]->str, "b") && !strcmp(f->element[i + 1]->str, "7");
        saw_count |=
            !strcmp(f->element[i]->str, "deliveries") && !strcmp(f->element[i + 1]->str, "3");
    }
    assert_true(saw_body);
    assert_true(saw_count);
    freeReplyObject(rep);
    redisFree(c);
    pump_env_stop();
}

/* ---- a handler that waits does not stop the others ----------------------------------------- */

#define OTHERS_MSGS 50
static _Atomic long others;
static _Atomic long waiter_saw_others;

/*
 * On stream "a" the handler waits until the performer on "b" has handled all of its
 * messages: if waiting stopped that performer, the count never comes and the wait gives
 * up after a generous deadline, failing the test. No timing is assumed either way.
 */
static int wait_for_others(struct roost_pump_msg *m, void *arg)
{
    bool reactor = arg != NULL;
    if (!strcmp(m->key ? m->key : "", "a")) {
        uint64_t end = test_now_ns() + (uint64_t)test_ms(20000) * 1000000u;
        while (atomic_load(&others) < OTHERS_MSGS && test_now_ns() < end) {
            if (reactor)
                test_sleep_ms(1); /* blocks the performer's thread */
            else
                roost_sleep(1); /* awaits: the reactor runs the other performer */
        }
        atomic_store(&waiter_saw_others, atomic_load(&others));
    } else {
        atomic_fetch_add(&others, 1);
    }
    atomic_fetch_add(&handled, 1);
    return 0;
}

static int ab_channel(unsigned i, void *arg, roost_channel **out)
{
    (void)arg;
    struct roost_redis_channel_opts o = {
        .stream = i == 0 ? "ab:a" : "ab:b", .group = "g", .consumer = i == 0 ? "ca" : "cb"};
    return roost_redis_channel_open(cli, &o, out);
}

static void fill_ab(void)
{
    redisContext *c = test_redis_connect(&srv);
    freeReplyObject(redisCommand(c, "XADD ab:a * k a b 0"));
    for (int i = 0; i < OTHERS_MSGS; i++)
        freeReplyObject(redisCommand(c, "XADD ab:b * k b b %d", i));
    redisFree(c);
}

static void run_ab(enum roost_pump_type type)
{
    atomic_store(&handled, 0);
    atomic_store(&others, 0);
    atomic_store(&waiter_saw_others, 0);
    fill_ab();
    struct roost_pump_opts o = {.type = type,
                                .performers = 2,
                                .in_flight = 1, /* b's messages one by one */
                                .handler = wait_for_others,
                                .handler_arg = type == ROOST_PUMP_REACTOR ? (void *)1 : NULL,
                                .channel = ab_channel};
    pump_run_until(&o, &handled, 1 + OTHERS_MSGS);
    assert_int_equal(atomic_load(&waiter_saw_others), OTHERS_MSGS);
}

static void test_proactor_sleep_does_not_stop_others_on_its_reactor(void **state)
{
    (void)state;
    pump_env_start(1); /* one reactor: both performers are tasks on it */
    run_ab(ROOST_PUMP_PROACTOR);
    pump_env_stop();
}

static void test_reactor_blocking_does_not_stop_other_threads(void **state)
{
    (void)state;
    pump_env_start(1);
    run_ab(ROOST_PUMP_REACTOR);
    pump_env_stop();
}

/* ---- affinity after every await ---------------------------------------------------------- */

#define AFF_MSGS 200
struct home {
    roost_task *task;
    pthread_t thread;
    roost_ctx *ctx;
};
static struct home homes[8];
static unsigned nhomes;
static pthread_mutex_t homes_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic long away;

/* The thread and context this performer's task was first seen on. */
static struct home *my_home(void)
{
    pthread_mutex_lock(&homes_mu);
    struct home *h = NULL;
    for (unsigned i = 0; i < nhomes && !h; i++)
        if (homes[i].task == roost_task_current())
            h = &homes[i];
    if (!h && nhomes < 8) {
        h = &homes[nhomes++];
        *h = (struct home){roost_task_current(), pthread_self(), roost_ctx_current()};
    }
    pthread_mutex_unlock(&homes_mu);
    return h;
}

static void check_home(const struct home *h)
{
    if (!h || !pthread_equal(h->thread, pthread_self()) || h->ctx != roost_ctx_current())
        atomic_fetch_add(&away, 1);
}

static int pool_work(void *arg)
{
    (void)arg;
    return 7;
}

static int affinity_handler(struct roost_pump_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    const struct home *h = my_home();
    check_home(h);
    redisReply *rep = NULL;
    if (roost_redis_cmd(cli, &rep, "INCR", "affinity", NULL) < 0)
        atomic_fetch_add(&away, 1000);
    roost_redis_reply_free(rep);
    check_home(h);
    if (roost_offload(pool_work, NULL) != 7)
        atomic_fetch_add(&away, 1000);
    check_home(h);
    roost_yield();
    check_home(h);
    if (roost_reactor_current()) {
        roost_sleep(1);
        check_home(h);
    }
    atomic_fetch_add(&handled, 1);
    return 0;
}

static void run_affinity(enum roost_pump_type type)
{
    atomic_store(&handled, 0);
    atomic_store(&away, 0);
    nhomes = 0;
    pump_fill("aff", 1, AFF_MSGS, 0);
    struct chan_cfg cfg = {.stream = "aff"};
    struct roost_pump_opts o = {.type = type,
                                .performers = 4,
                                .in_flight = 4,
                                .handler = affinity_handler,
                                .channel = make_channel,
                                .channel_arg = &cfg};
    pump_run_until(&o, &handled, AFF_MSGS);
    assert_int_equal(atomic_load(&away), 0);
    assert_true(nhomes >= 1);
}

static void test_proactor_handler_stays_on_its_reactor_after_every_await(void **state)
{
    (void)state;
    pump_env_start(2);
    run_affinity(ROOST_PUMP_PROACTOR);
    pump_env_stop();
}

static void test_reactor_handler_stays_on_its_thread_after_every_await(void **state)
{
    (void)state;
    pump_env_start(2);
    run_affinity(ROOST_PUMP_REACTOR);
    pump_env_stop();
}

/* ---- shutdown finishes and acks what is in flight ----------------------------------------- */

static _Atomic bool stop_asked;

static int slow_handler(struct roost_pump_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    atomic_fetch_add(&handled, 1);
    /* Hold the batch until stop was asked: the rest of it is then in flight. */
    uint64_t end = test_now_ns() + (uint64_t)test_ms(20000) * 1000000u;
    while (!atomic_load(&stop_asked) && test_now_ns() < end)
        roost_sleep(1);
    return 0;
}

static void test_stop_finishes_and_acks_the_batch_in_flight(void **state)
{
    (void)state;
    pump_env_start(1);
    atomic_store(&handled, 0);
    atomic_store(&stop_asked, false);
    pump_fill("stopping", 1, 100, 0);
    struct chan_cfg cfg = {.stream = "stopping"};
    struct roost_pump_opts o = {.type = ROOST_PUMP_PROACTOR,
                                .performers = 1,
                                .in_flight = 10,
                                .handler = slow_handler,
                                .channel = make_channel,
                                .channel_arg = &cfg};
    roost_pump *p;
    assert_int_equal(roost_pump_start(rt, &o, &p), 0);
    assert_true(test_wait_at_least(&handled, 1, test_ms(20000)));
    roost_pump_stop(p);
    atomic_store(&stop_asked, true);
    assert_int_equal(roost_pump_wait(p), 0);
    struct roost_pump_stats s;
    roost_pump_stats(p, &s);
    roost_pump_free(p);
    /* The whole first batch was handled and acked, nothing more was received. */
    assert_int_equal(s.received, 10);
    assert_int_equal(s.acked, 10);
    assert_int_equal(pump_int("XPENDING %s %s", "stopping", "g"), 0);
    pump_env_stop();
}

/* ---- nack with a delay comes back ------------------------------------------------------ */

static _Atomic uint64_t first_seen_ns, second_seen_ns;

static int fail_once(struct roost_pump_msg *m, void *arg)
{
    (void)arg;
    atomic_fetch_add(&handled, 1);
    if (m->deliveries == 1) {
        atomic_store(&first_seen_ns, test_now_ns());
        return -EAGAIN;
    }
    atomic_store(&second_seen_ns, test_now_ns());
    return 0;
}

static void test_nack_with_delay_redelivers_after_the_delay(void **state)
{
    (void)state;
    pump_env_start(1);
    atomic_store(&handled, 0);
    pump_fill("retry", 1, 1, 0);
    struct chan_cfg cfg = {.stream = "retry"};
    struct roost_pump_opts o = {.type = ROOST_PUMP_PROACTOR,
                                .performers = 1,
                                .nack_delay_ms = 200,
                                .handler = fail_once,
                                .channel = make_channel,
                                .channel_arg = &cfg};
    struct roost_pump_stats s = pump_run_until(&o, &handled, 2);
    assert_int_equal(s.nacked, 1);
    assert_int_equal(s.acked, 1);
    /* Never earlier than the delay (a lower bound only: no upper bound is assumed). */
    assert_true(atomic_load(&second_seen_ns) - atomic_load(&first_seen_ns) >= 200u * 1000000u);
    assert_int_equal(pump_int("XPENDING %s %s", "retry", "g"), 0);
    pump_env_stop();
}

/* ---- backpressure: the in-flight limit and the rate limit ---------------------------------- */

static _Atomic long max_pending;

static int pending_handler(struct roost_pump_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    redisReply *rep = NULL;
    /* Entries delivered to this (only) consumer and not yet acked, seen from the server. */
    if (roost_redis_cmd(cli, &rep, "XPENDING", "limited", "g", NULL) == 0) {
        long n = (long)rep->element[0]->integer;
        long seen = atomic_load(&max_pending);
        while (n > seen && !atomic_compare_exchange_weak(&max_pending, &seen, n))
            ;
    }
    roost_redis_reply_free(rep);
    atomic_fetch_add(&handled, 1);
    return 0;
}

static void test_in_flight_limit_bounds_unacked_messages(void **state)
{
    (void)state;
    pump_env_start(1);
    atomic_store(&handled, 0);
    atomic_store(&max_pending, 0);
    pump_fill("limited", 1, 60, 0);
    struct chan_cfg cfg = {.stream = "limited"};
    struct roost_pump_opts o = {.type = ROOST_PUMP_PROACTOR,
                                .performers = 1,
                                .in_flight = 5,
                                .handler = pending_handler,
                                .channel = make_channel,
                                .channel_arg = &cfg};
    pump_run_until(&o, &handled, 60);
    /* Reached (batches of 5 arrive whole) and never exceeded. */
    assert_int_equal(atomic_load(&max_pending), 5);
    pump_env_stop();
}

static int count_handler(struct roost_pump_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    atomic_fetch_add(&handled, 1);
    return 0;
}

static void test_rate_limit_spaces_out_dispatches(void **state)
{
    (void)state;
    pump_env_start(1);
    atomic_store(&handled, 0);
    pump_fill("paced", 1, 31, 0);
    struct chan_cfg cfg = {.stream = "paced"};
    struct roost_pump_opts o = {.type = ROOST_PUMP_PROACTOR,
                                .performers = 1,
                                .rate = 100, /* 10 ms apart: 31 messages take >= 300 ms */
                                .handler = count_handler,
                                .channel = make_channel,
                                .channel_arg = &cfg};
    uint64_t t0 = test_now_ns();
    pump_run_until(&o, &handled, 31);
    /* A lower bound only: a slow machine may take longer, never shorter. */
    assert_true(test_now_ns() - t0 >= 300u * 1000000u);
    pump_env_stop();
}

/* ---- publishing -------------------------------------------------------------------------- */

static int publish_some(void *arg)
{
    (void)arg;
    char id[64];
    for (int i = 0; i < 300; i++) {
        char body[16];
        snprintf(body, sizeof(body), "%d", i);
        int rc = roost_redis_publish(cli, "pub", 3, i % 2 ? "odd" : "even", body, strlen(body), 0,
                                     id, sizeof(id));
        if (rc < 0 || !strchr(id, '-'))
            return rc < 0 ? rc : -EBADMSG;
    }
    /* Trimmed publishing keeps about maxlen entries. */
    for (int i = 0; i < 1000; i++)
        if (roost_redis_publish(cli, "trimmed", 1, NULL, "x", 1, 100, NULL, 0) < 0)
            return -EIO;
    return 0;
}

static void test_publish_puts_each_key_in_one_partition_and_trims(void **state)
{
    (void)state;
    pump_env_start(1);
    assert_int_equal(roost_run(publish_some, NULL), 0);
    char even[64], odd[64];
    roost_pump_partition(even, sizeof(even), "pub", 3, "even");
    roost_pump_partition(odd, sizeof(odd), "pub", 3, "odd");
    long long ne = pump_int("XLEN %s", even, NULL), no = pump_int("XLEN %s", odd, NULL);
    if (!strcmp(even, odd))
        assert_int_equal(ne, 300);
    else {
        assert_int_equal(ne, 150);
        assert_int_equal(no, 150);
    }
    long long nt = pump_int("XLEN %s", "trimmed", NULL);
    assert_true(nt >= 100 && nt < 1000);
    pump_env_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_within_each_partition),
        cmocka_unit_test(test_poison_message_reaches_dead_letter_after_n_deliveries),
        cmocka_unit_test(test_proactor_sleep_does_not_stop_others_on_its_reactor),
        cmocka_unit_test(test_reactor_blocking_does_not_stop_other_threads),
        cmocka_unit_test(test_proactor_handler_stays_on_its_reactor_after_every_await),
        cmocka_unit_test(test_reactor_handler_stays_on_its_thread_after_every_await),
        cmocka_unit_test(test_stop_finishes_and_acks_the_batch_in_flight),
        cmocka_unit_test(test_nack_with_delay_redelivers_after_the_delay),
        cmocka_unit_test(test_in_flight_limit_bounds_unacked_messages),
        cmocka_unit_test(test_rate_limit_spaces_out_dispatches),
        cmocka_unit_test(test_publish_puts_each_key_in_one_partition_and_trims),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
