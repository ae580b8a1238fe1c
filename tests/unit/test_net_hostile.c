/*
 * Peers that do not play along cannot take a reactor's buffers or hold a connection
 * forever: a connection whose task stops receiving holds at most its cap of ring buffers
 * (the others keep receiving), connections parked on ENOBUFS whose peers left are all
 * closed, and a send that makes no progress fails after the send timeout while a slow
 * reader that keeps reading is served.
 */
#include "test_net_support.h"

/* ROOST_TEST_TIME_SCALE (a float, default 1) stretches every wait for slow machines. */
static unsigned scaled_ms(unsigned ms)
{
    const char *s = getenv("ROOST_TEST_TIME_SCALE");
    double f = s ? atof(s) : 1.0;
    return f > 0 ? (unsigned)(ms * f) : ms;
}

/* Sends up to len bytes without blocking until the peer stops taking them for stall_ms. */
static size_t flood(int fd, size_t len, unsigned stall_ms)
{
    static char chunk[65536];
    memset(chunk, 'f', sizeof(chunk));
    size_t sent = 0;
    uint64_t last = test_now_ns();
    uint64_t end = last + (uint64_t)scaled_ms(30000) * 1000000u;
    while (sent < len && test_now_ns() < end) {
        size_t n = len - sent < sizeof(chunk) ? len - sent : sizeof(chunk);
        ssize_t w = send(fd, chunk, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            last = test_now_ns();
        } else if (w < 0 && errno != EAGAIN) {
            break;
        } else if (test_now_ns() - last > (uint64_t)stall_ms * 1000000u) {
            break;
        } else {
            test_sleep_ms(1);
        }
    }
    return sent;
}

/* ---- a task that stops receiving holds at most its cap of buffers ---------------------------- */

static _Atomic long staller_release;

/*
 * The first byte chooses: 'S' receives once and then stops receiving (as a handler that
 * sleeps or waits in a send does) until the test releases it; anything else is echoed.
 */
static int stall_or_echo(roost_conn *c, void *arg)
{
    struct roost_buf b;
    int n = roost_conn_recv(c, &b);
    if (n <= 0)
        return 0;
    if (b.data[0] != 'S') {
        int rc = roost_conn_send(c, b.data, b.len);
        roost_conn_release(c, &b);
        return rc < 0 ? 0 : test_echo_handler(c, arg);
    }
    roost_conn_release(c, &b);
    while (!atomic_load(&staller_release))
        if (roost_sleep(5) < 0)
            break;
    while (roost_conn_recv(c, &b) > 0)
        roost_conn_release(c, &b);
    return 0;
}

static void stalled_reader_holds_at_most_its_cap(const struct net_mode *m)
{
    struct roost_config cfg;
    net_mode_config(m, ROOST_RECV_MULTISHOT, &cfg);
    cfg.buf_count = 64; /* a cap of 4 buffers per connection */
    atomic_store(&staller_release, 0);
    struct test_server srv = test_server_start(1, &cfg, 0, stall_or_echo, NULL);

    int staller = test_connect(srv.port);
    assert_true(staller >= 0);
    assert_int_equal(send(staller, "S", 1, MSG_NOSIGNAL), 1);
    size_t flooded = flood(staller, 8u << 20, scaled_ms(500));

    /* Without the cap the staller holds all 64 buffers and this client is parked for good. */
    bool echoed = test_echo_once(srv.port, 256 * 1024, false, scaled_ms(10000));
    struct roost_stats s = test_stats(srv.rt, 0);
    printf("# %s: staller sent %zu bytes, recv_throttles %llu, other client echoed: %d\n", m->name,
           flooded, (unsigned long long)s.recv_throttles, echoed);
    atomic_store(&staller_release, 1);
    close(staller);
    assert_true(echoed);
    assert_true(s.recv_throttles > 0);
    test_server_stop(&srv);
}

static void stalled_reader_cannot_starve_the_reactor(void **state)
{
    (void)state;
    for (size_t m = 0; m < NET_NMODES; m++)
        stalled_reader_holds_at_most_its_cap(&net_modes[m]);
}

/* ---- after an ENOBUFS storm, connections whose peers left are all closed ------------------- */

#define HOLDERS 4 /* = buf_count: they hold the whole ring */
#define PARKED 64

static _Atomic long holders_release, holders_holding;

/*
 * The first byte chooses: 'H' holds the received buffer (the ring has 4) until the test
 * releases it; anything else is echoed until EOF.
 */
static int hold_or_echo(roost_conn *c, void *arg)
{
    struct roost_buf b;
    int n = roost_conn_recv(c, &b);
    if (n <= 0)
        return 0;
    if (b.data[0] == 'H') {
        atomic_fetch_add(&holders_holding, 1);
        while (!atomic_load(&holders_release))
            if (roost_sleep(5) < 0)
                break;
        roost_conn_release(c, &b);
        return test_echo_handler(c, arg);
    }
    int rc = roost_conn_send(c, b.data, b.len);
    roost_conn_release(c, &b);
    return rc < 0 ? 0 : test_echo_handler(c, arg);
}

/*
 * The interleaving forced: the 4 holders take the whole ring; 64 idle connections wait in
 * their receives; their peers all leave (half with a reset, half with a FIN) and, the ring
 * being empty, the kernel reports even that as ENOBUFS: all 64 are parked. Only then do
 * the buffers come back. Each returned buffer re-arms one parked connection, whose receive
 * ends in EOF or a reset without taking a buffer: it must pass its turn on, or the rest
 * stay parked, unclosed, with the ring full of free buffers.
 */
static void storm_then_leave(const struct net_mode *m)
{
    struct roost_config cfg;
    net_mode_config(m, ROOST_RECV_MULTISHOT, &cfg);
    cfg.buf_count = HOLDERS;
    atomic_store(&holders_release, 0);
    atomic_store(&holders_holding, 0);
    struct test_server srv = test_server_start(1, &cfg, 0, hold_or_echo, NULL);
    int holders[HOLDERS], parked[PARKED];
    for (int i = 0; i < HOLDERS; i++) {
        holders[i] = test_connect(srv.port);
        assert_true(holders[i] >= 0);
        assert_int_equal(send(holders[i], "H", 1, MSG_NOSIGNAL), 1);
    }
    assert_true(test_wait_at_least(&holders_holding, HOLDERS, scaled_ms(10000)));
    uint64_t rearms0 = test_stats(srv.rt, 0).enobufs_rearms;
    uint64_t parks0 = test_stats(srv.rt, 0).enobufs_parks;
    for (int i = 0; i < PARKED; i++) {
        parked[i] = test_connect(srv.port);
        assert_true(parked[i] >= 0);
    }
    assert_true(test_wait_conns(srv.l, HOLDERS + PARKED, scaled_ms(10000)));
    test_sleep_ms(scaled_ms(100)); /* their tasks are in their receives */
    for (int i = 0; i < PARKED; i++) {
        if (i % 2) {
            struct linger rst = {.l_onoff = 1, .l_linger = 0};
            setsockopt(parked[i], SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
        }
        close(parked[i]);
    }
    /* Every one of them parks (EOF and resets, too, arrive as ENOBUFS): wait for that, not
     * for a time, before the buffers come back. */
    uint64_t parks_end = test_deadline_ns(scaled_ms(10000));
    while (test_stats(srv.rt, 0).enobufs_parks - parks0 < PARKED && test_now_ns() < parks_end)
        test_poll_sleep_ms(1);
    uint64_t parks = test_stats(srv.rt, 0).enobufs_parks - parks0;
    printf("# %s: %llu of %d parked\n", m->name, (unsigned long long)parks, PARKED);
    assert_int_equal(parks, PARKED);
    atomic_store(&holders_release, 1);
    for (int i = 0; i < HOLDERS; i++)
        close(holders[i]);
    bool all = test_wait_conns(srv.l, 0, scaled_ms(5000));
    struct roost_stats s = test_stats(srv.rt, 0);
    printf("# %s: %u of %d connections still open, enobufs_rearms %llu\n", m->name,
           roost_listener_conn_count(srv.l), HOLDERS + PARKED,
           (unsigned long long)(s.enobufs_rearms - rearms0));
    assert_true(all);
    assert_true(s.enobufs_rearms > rearms0); /* they were parked: the scenario happened */
    /* And the reactor still serves. */
    assert_true(test_echo_once(srv.port, 64 * 1024, false, scaled_ms(10000)));
    test_server_stop(&srv);
}

static void parked_connections_whose_peers_left_are_closed(void **state)
{
    (void)state;
    for (size_t m = 0; m < NET_NMODES; m++)
        storm_then_leave(&net_modes[m]);
}

/* ---- send timeout -------------------------------------------------------------------------- */

struct send_probe {
    size_t len;
    uint64_t timeout_ms;
    int rc;
    uint64_t took_ns;
    _Atomic long done;
};

static int big_sender(roost_conn *c, void *arg)
{
    struct send_probe *p = arg;
    char *data = malloc(p->len);
    if (!data)
        return -ENOMEM;
    memset(data, 'y', p->len);
    roost_conn_set_send_timeout(c, p->timeout_ms);
    uint64_t t0 = test_now_ns();
    p->rc = roost_conn_send(c, data, p->len);
    p->took_ns = test_now_ns() - t0;
    free(data);
    atomic_store(&p->done, 1);
    return 0;
}

static void non_reading_peer(const struct net_mode *m)
{
    struct roost_config cfg;
    net_mode_config(m, ROOST_RECV_MULTISHOT, &cfg);
    struct send_probe p = {.len = 64u << 20, .timeout_ms = 200};
    struct test_server srv = test_server_start(1, &cfg, 0, big_sender, &p);
    int fd = test_connect(srv.port);
    assert_true(fd >= 0);
    bool done = test_wait_at_least(&p.done, 1, scaled_ms(30000));
    printf("# %s: send to a peer that never reads: %d after %llu ms, send_timeouts %llu\n", m->name,
           p.rc, (unsigned long long)(p.took_ns / 1000000u),
           (unsigned long long)test_stats(srv.rt, 0).send_timeouts);
    assert_true(done);
    assert_int_equal(p.rc, -ETIMEDOUT);
    assert_true(p.took_ns >= 200u * 1000000u);
    assert_int_equal(test_stats(srv.rt, 0).send_timeouts, 1);
    close(fd);
    test_server_stop(&srv);
}

static void send_without_progress_times_out(void **state)
{
    (void)state;
    for (size_t m = 0; m < NET_NMODES; m++)
        non_reading_peer(&net_modes[m]);
}

static void slow_reader_is_not_cut(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    /* Longer in all than the timeout, but never a whole second without progress. */
    struct send_probe p = {.len = 32u << 20, .timeout_ms = scaled_ms(1000)};
    struct test_server srv = test_server_start(1, &cfg, 0, big_sender, &p);
    int fd = test_connect(srv.port);
    assert_true(fd >= 0);
    static char in[256 * 1024];
    /* Read a slice every 20 ms, so that the whole transfer takes about 3 timeouts. */
    size_t slice = (size_t)(p.len * 20 / (3 * p.timeout_ms));
    if (slice > sizeof(in))
        slice = sizeof(in);
    size_t got = 0;
    uint64_t t0 = test_now_ns();
    uint64_t end = t0 + (uint64_t)scaled_ms(60000) * 1000000u;
    while (got < p.len && test_now_ns() < end) {
        test_sleep_ms(20);
        ssize_t r = recv(fd, in, slice, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            break;
    }
    assert_true(test_wait_at_least(&p.done, 1, scaled_ms(10000)));
    uint64_t took_ms = (test_now_ns() - t0) / 1000000u;
    printf("# slow reader: %zu of %zu bytes in %llu ms, send returned %d\n", got, p.len,
           (unsigned long long)took_ms, p.rc);
    assert_int_equal(p.rc, 0);
    assert_int_equal(got, p.len);
    assert_true(took_ms > p.timeout_ms); /* a deadline on the whole send would have cut it */
    close(fd);
    test_server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stalled_reader_cannot_starve_the_reactor),
        cmocka_unit_test(parked_connections_whose_peers_left_are_closed),
        cmocka_unit_test(send_without_progress_times_out),
        cmocka_unit_test(slow_reader_is_not_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
