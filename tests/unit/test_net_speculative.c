/*
 * The speculative fast path, through its counters: sends complete inline on loopback; a
 * pipelining client keeps the socket full and exhausts the inline budget of one-shot
 * receives (budget_exhaustions); a request/response client makes a socket stop
 * speculating after a few EAGAINs; with speculation off nothing is tried.
 */
#include "test_net_support.h"

/* Ping-pong: n messages of len bytes, each waiting for its echo. True if all came back. */
static bool ping_pong(uint16_t port, int n, size_t len)
{
    int fd = test_connect(port);
    if (fd < 0)
        return false;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        struct test_client c = {.fd = fd, .k = (unsigned)i, .total = len};
        ok = test_drive(&c, 1, 5000) == 1;
    }
    close(fd);
    return ok;
}

static struct test_server server(bool speculative, enum roost_recv recv, unsigned buf_size)
{
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.speculative = speculative;
    cfg.recv = recv;
    if (buf_size)
        cfg.buf_size = buf_size;
    return test_server_start(1, &cfg, 0, NULL, NULL);
}

static void sends_mostly_complete_inline_on_loopback(void **state)
{
    (void)state;
    enum { MSGS = 300 };
    /* Multishot receives never speculate: these counters are the sends alone. */
    struct test_server srv = server(true, ROOST_RECV_MULTISHOT, 0);
    assert_true(ping_pong(srv.port, MSGS, 64));
    roost_runtime_stop(srv.rt); /* the counters are final once the reactor has stopped */
    struct roost_stats s = test_stats(srv.rt, 0);
    printf("# sends: %llu inline, %llu through the ring\n", (unsigned long long)s.speculative_hits,
           (unsigned long long)s.speculative_misses);
    assert_true(s.speculative_hits + s.speculative_misses >= MSGS);
    assert_true(s.speculative_hits >= (s.speculative_hits + s.speculative_misses) * 9 / 10);
    test_server_stop(&srv);
}

static void pipelining_client_exhausts_the_inline_budget(void **state)
{
    (void)state;
    /* Small buffers, 512 KiB sent at once: every speculative recv(2) finds data waiting. */
    struct test_server srv = server(true, ROOST_RECV_ONESHOT, 1024);
    assert_true(test_echo_once(srv.port, 512 * 1024, false, 30000));
    roost_runtime_stop(srv.rt); /* the counters are final once the reactor has stopped */
    struct roost_stats s = test_stats(srv.rt, 0);
    printf("# hits %llu misses %llu budget_exhaustions %llu\n",
           (unsigned long long)s.speculative_hits, (unsigned long long)s.speculative_misses,
           (unsigned long long)s.budget_exhaustions);
    assert_true(s.budget_exhaustions > 0);
    test_server_stop(&srv);
}

static void request_response_client_stops_speculation_after_eagains(void **state)
{
    (void)state;
    enum { MSGS = 200 };
    struct test_server srv = server(true, ROOST_RECV_ONESHOT, 0);
    assert_true(ping_pong(srv.port, MSGS, 64));
    roost_runtime_stop(srv.rt); /* the counters are final once the reactor has stopped */
    struct roost_stats s = test_stats(srv.rt, 0);
    printf("# recv+send: hits %llu misses %llu\n", (unsigned long long)s.speculative_hits,
           (unsigned long long)s.speculative_misses);
    /*
     * Without the streak limit nearly every receive would try recv(2) first and get EAGAIN
     * (the client waits for the echo before it sends again): ~MSGS misses.
     */
    assert_true(s.speculative_misses < MSGS / 4);
    test_server_stop(&srv);
}

static void speculation_off_tries_nothing(void **state)
{
    (void)state;
    for (int strategy = 0; strategy < 2; strategy++) {
        enum roost_recv recv = strategy ? ROOST_RECV_ONESHOT : ROOST_RECV_MULTISHOT;
        struct test_server srv = server(false, recv, 1024);
        assert_true(test_echo_once(srv.port, 256 * 1024, false, 30000));
        assert_true(ping_pong(srv.port, 20, 64));
        roost_runtime_stop(srv.rt); /* the counters are final once the reactor has stopped */
    struct roost_stats s = test_stats(srv.rt, 0);
        assert_int_equal(s.speculative_hits, 0);
        assert_int_equal(s.speculative_misses, 0);
        assert_int_equal(s.budget_exhaustions, 0);
        test_server_stop(&srv);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sends_mostly_complete_inline_on_loopback),
        cmocka_unit_test(pipelining_client_exhausts_the_inline_budget),
        cmocka_unit_test(request_response_client_stops_speculation_after_eagains),
        cmocka_unit_test(speculation_off_tries_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
