/*
 * roost_connect with names: getaddrinfo runs on the worker pool and the task comes home;
 * the per-reactor cache answers until its TTL passes; every address is tried in order; the
 * connect timeout cancels a connect that a full listener never completes.
 */
#include "test_client_support.h"
#include "net/resolve.h"
#include "unit/test_net_support.h"

static roost_runtime *rt;
static roost_listener *lst;
static uint16_t port;
static roost_listener *extra_listener; /* freed once the runtime has stopped */

static int setup(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.pool_threads = 2;
    rt = test_runtime(2, &cfg);
    struct roost_listen_opts o = {.host = "127.0.0.1"};
    assert_int_equal(roost_listen(rt, &o, test_echo_handler, NULL, &lst), 0);
    port = roost_listener_port(lst);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    roost_listener_stop(lst);
    roost_runtime_stop(rt);
    roost_listener_free(lst);
    if (extra_listener)
        roost_listener_free(extra_listener);
    roost_runtime_destroy(rt);
    roost_resolve_set_ttl(NET_RESOLVE_DEFAULT_TTL_MS);
    return 0;
}

struct connect_case {
    const char *host;
    uint16_t port;
    uint64_t timeout_ms;
    int rc;
    bool same_reactor;
    bool echoed;
};

/* A task: connects, echoes one byte through the connection, notes where it came back. */
static int connect_task(void *arg)
{
    struct connect_case *k = arg;
    roost_reactor *home = roost_reactor_current();
    roost_conn *c = NULL;
    k->rc = roost_connect_timeout(k->host, k->port, k->timeout_ms, &c);
    k->same_reactor = roost_reactor_current() == home;
    if (k->rc == 0) {
        struct roost_buf b;
        if (roost_conn_send(c, "x", 1) == 0 && roost_conn_recv(c, &b) == 1 && b.data[0] == 'x')
            k->echoed = true;
        roost_conn_release(c, &b);
        roost_conn_close(c);
    }
    return 0;
}

static void localhost_is_resolved_on_the_pool_and_comes_home(void **state)
{
    (void)state;
    roost_resolve_set_ttl(60000);
    unsigned long before = atomic_load(&net_resolve_lookups);
    struct connect_case k = {.host = "localhost", .port = port};
    assert_int_equal(test_task_on(rt, 1, connect_task, &k), 0);
    assert_int_equal(k.rc, 0);
    assert_true(k.echoed);
    assert_true(k.same_reactor);
    assert_int_equal(atomic_load(&net_resolve_lookups), before + 1);
    assert_true(atomic_load(&net_resolve_last_on_pool));
}

static void a_cached_name_is_not_looked_up_again_until_its_ttl_passes(void **state)
{
    (void)state;
    roost_resolve_set_ttl(60000);
    struct connect_case k = {.host = "localhost", .port = port};
    assert_int_equal(test_task_on(rt, 0, connect_task, &k), 0); /* fills reactor 0's cache */
    unsigned long before = atomic_load(&net_resolve_lookups);
    assert_int_equal(test_task_on(rt, 0, connect_task, &k), 0);
    assert_int_equal(k.rc, 0);
    assert_int_equal(atomic_load(&net_resolve_lookups), before); /* a hit */

    roost_resolve_set_ttl(1); /* the entry, older than 1 ms by now, has expired */
    test_sleep_ms(5);
    assert_int_equal(test_task_on(rt, 0, connect_task, &k), 0);
    assert_int_equal(k.rc, 0);
    assert_true(k.echoed);
    assert_int_equal(atomic_load(&net_resolve_lookups), before + 1);
}

static void literals_never_reach_the_resolver(void **state)
{
    (void)state;
    unsigned long before = atomic_load(&net_resolve_lookups);
    struct connect_case k = {.host = "127.0.0.1", .port = port};
    assert_int_equal(test_task_on(rt, 0, connect_task, &k), 0);
    assert_int_equal(k.rc, 0);
    assert_true(k.echoed);
    assert_int_equal(atomic_load(&net_resolve_lookups), before);
}

static void refused_on_every_address_is_econnrefused(void **state)
{
    (void)state;
    uint16_t closed;
    int fd = test_listen_raw(1, &closed);
    close(fd); /* nothing listens there now */
    int fds = test_fd_count();
    struct connect_case k = {.host = "localhost", .port = closed};
    assert_int_equal(test_task_on(rt, 0, connect_task, &k), 0);
    assert_int_equal(k.rc, -ECONNREFUSED);
    assert_true(k.same_reactor);
    assert_int_equal(test_wait_fds(fds, test_ms(2000)), fds);
}

static void a_listener_that_never_accepts_times_the_connect_out(void **state)
{
    (void)state;
    struct full_listener f;
    test_full_listener(&f);
    int fds = test_fd_count();
    struct connect_case k = {.host = "127.0.0.1", .port = f.port, .timeout_ms = 200};
    uint64_t t0 = test_now_ns();
    assert_int_equal(test_task_on(rt, 1, connect_task, &k), 0);
    uint64_t took_ms = (test_now_ns() - t0) / 1000000u;
    assert_int_equal(k.rc, -ETIMEDOUT);
    assert_true(k.same_reactor);
    assert_true(took_ms >= 200);
    assert_int_equal(test_wait_fds(fds, test_ms(2000)), fds);
    test_full_listener_close(&f);
}

static void ipv6_literals_connect_with_or_without_brackets(void **state)
{
    (void)state;
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (probe >= 0)
        close(probe);
    if (!have_v6)
        skip(); /* no IPv6 loopback on this machine */
    roost_listener *l6;
    struct roost_listen_opts o = {.host = "::1"};
    assert_int_equal(roost_listen(rt, &o, test_echo_handler, NULL, &l6), 0);
    unsigned long before = atomic_load(&net_resolve_lookups);
    const char *hosts[] = {"::1", "[::1]"};
    for (int i = 0; i < 2; i++) {
        struct connect_case k = {.host = hosts[i], .port = roost_listener_port(l6)};
        assert_int_equal(test_task_on(rt, 0, connect_task, &k), 0);
        assert_int_equal(k.rc, 0);
        assert_true(k.echoed);
    }
    assert_int_equal(atomic_load(&net_resolve_lookups), before);
    roost_listener_stop(l6);
    assert_true(test_wait_conns(l6, 0, test_ms(2000)));
    /* freed with the runtime's listeners in teardown order: stop now, free after stop */
    extra_listener = l6;
}

static void a_bad_host_is_einval(void **state)
{
    (void)state;
    struct connect_case k = {.host = "", .port = port};
    assert_int_equal(test_task_on(rt, 0, connect_task, &k), 0);
    assert_int_equal(k.rc, -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(localhost_is_resolved_on_the_pool_and_comes_home),
        cmocka_unit_test(a_cached_name_is_not_looked_up_again_until_its_ttl_passes),
        cmocka_unit_test(literals_never_reach_the_resolver),
        cmocka_unit_test(refused_on_every_address_is_econnrefused),
        cmocka_unit_test(a_listener_that_never_accepts_times_the_connect_out),
        cmocka_unit_test(ipv6_literals_connect_with_or_without_brackets),
        cmocka_unit_test(a_bad_host_is_einval),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
