/*
 * The provided buffer ring's window (src/net/bufring.c): the ring holds only a window of the
 * free buffers, so receives reuse a few recently given back buffers instead of cycling
 * through all of them (and the buffers held back still count as free for a task that would
 * keep its buffer); a burst that finds the ring empty while buffers were held back widens
 * the window and loses nothing; a quiet spell narrows it again.
 */
#include "net/net.h"
#include "test_net_support.h"

#define ROUND_TRIPS 2000
#define MAX_DISTINCT 2048

/* The distinct buffer addresses the handler received into (reactor thread only). */
static const void *seen[MAX_DISTINCT];
static unsigned nseen;
static unsigned receives;
static unsigned keepable; /* receives whose buffer a task could have kept (net_buf_may_keep) */

/* Notes where each receive landed, and whether its task could have kept the buffer. */
static void note_buffer(roost_conn *c, const struct roost_buf *b)
{
    receives++;
    keepable += net_buf_may_keep(c, b);
    for (unsigned i = 0; i < nseen; i++)
        if (seen[i] == b->data)
            return;
    if (nseen < MAX_DISTINCT)
        seen[nseen++] = b->data;
}

static const struct test_echo_note noting = {note_buffer};

/* One byte out, the same byte back; false on an error or when the deadline passed. */
static bool round_trip(int fd, uint64_t deadline)
{
    char out = 'x', in = 0;
    if (send(fd, &out, 1, MSG_NOSIGNAL) != 1)
        return false;
    while (test_now_ns() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) < 0 && errno != EINTR)
            return false;
        ssize_t r = recv(fd, &in, 1, MSG_DONTWAIT);
        if (r == 1)
            return in == out;
        if (r == 0 || (r < 0 && errno != EAGAIN))
            return false;
    }
    return false;
}

static void sequential_receives_reuse_a_few_buffers(void **state)
{
    (void)state;
    struct roost_config cfg;
    net_mode_config(&net_modes[0], ROOST_RECV_MULTISHOT, &cfg);
    cfg.buf_count = 1024;
    struct test_server srv = test_server_start(1, &cfg, 0, test_echo_handler, (void *)&noting);
    int fd = test_connect(srv.port);
    assert_true(fd >= 0);
    uint64_t deadline = test_deadline_ns(60000);
    for (int i = 0; i < ROUND_TRIPS; i++)
        if (!round_trip(fd, deadline))
            fail_msg("round trip %d of %d failed", i, ROUND_TRIPS);
    close(fd);
    test_server_stop(&srv);
    printf("# %u receives landed in %u distinct buffers of 1024\n", receives, nseen);
    assert_int_equal(receives, ROUND_TRIPS);
    /* A ring holding every free buffer would have used all 1024, each one cold. */
    assert_true(nseen <= 64);
    /* Free buffers held back from the ring still count as free: a task may keep its own. */
    assert_int_equal(keepable, ROUND_TRIPS);
}

/*
 * Each client sends 64 KiB while the reactor is held: the kernel's multishot receive takes
 * a 4 KiB buffer after another for one socket, so a few sockets empty a window of 32.
 */
#define BURST_CLIENTS 32
#define BURST_BYTES 65536

static _Atomic int reactor_held;
static _Atomic int burst_sent;

/* Keeps the reactor from entering until the test has sent its burst (bounded). */
static int hold_reactor(void *arg)
{
    (void)arg;
    atomic_store(&reactor_held, 1);
    uint64_t deadline = test_deadline_ns(30000);
    while (!atomic_load(&burst_sent) && test_now_ns() < deadline)
        usleep(1000);
    atomic_store(&reactor_held, 0);
    return 0;
}

/*
 * Round trips on one connection until the window is back at its start (every doubling
 * halved again: a tick then takes one buffer, far less than a quarter of any window
 * wider than the first). Returns the round trips it took.
 */
static int narrow_by_quiet_round_trips(struct test_server *srv, int fd)
{
    uint64_t deadline = test_deadline_ns(60000);
    int trips = 0;
    for (;;) {
        struct roost_stats s = test_stats(srv->rt, 0);
        if (s.ring_window_shrinks == s.ring_window_grows)
            return trips;
        if (trips == 100000 || !round_trip(fd, deadline))
            fail_msg("after %d round trips the window was halved %llu times of %llu doublings",
                     trips, (unsigned long long)s.ring_window_shrinks,
                     (unsigned long long)s.ring_window_grows);
        trips++;
    }
}

static void a_burst_widens_the_window_and_a_quiet_spell_narrows_it(void **state)
{
    (void)state;
    struct roost_config cfg;
    net_mode_config(&net_modes[0], ROOST_RECV_MULTISHOT, &cfg);
    cfg.buf_count = 1024;
    struct test_server srv = test_server_start(1, &cfg, 0, NULL, NULL);

    /* Every connection echoes once, so that each has its multishot receive armed. */
    static struct test_client cs[BURST_CLIENTS];
    for (int i = 0; i < BURST_CLIENTS; i++) {
        cs[i] = (struct test_client){.k = (unsigned)i, .total = 1};
        cs[i].fd = test_connect(srv.port);
        assert_true(cs[i].fd >= 0);
    }
    assert_int_equal(test_drive(cs, BURST_CLIENTS, 60000), BURST_CLIENTS);
    /* Connecting may itself have been a burst: start from the first window. */
    int trips = narrow_by_quiet_round_trips(&srv, cs[0].fd);
    struct roost_stats s0 = test_stats(srv.rt, 0);
    printf("# before the burst: %d round trips to the first window (%llu doublings)\n", trips,
           (unsigned long long)s0.ring_window_grows);

    /* While the reactor cannot enter, every client sends: the next enter finds them all. */
    roost_ctx *ctx = roost_reactor_ctx(roost_runtime_reactor(srv.rt, 0));
    assert_int_equal(roost_ctx_post(ctx, hold_reactor, NULL), 0);
    uint64_t deadline = test_deadline_ns(30000);
    while (!atomic_load(&reactor_held) && test_now_ns() < deadline)
        usleep(1000);
    assert_true(atomic_load(&reactor_held));
    static char chunk[BURST_BYTES];
    size_t queued = 0;
    for (int i = 0; i < BURST_CLIENTS; i++) {
        struct test_client *c = &cs[i];
        c->total = 1 + BURST_BYTES; /* test_drive sends the rest and expects all back */
        for (size_t j = 0; j < BURST_BYTES; j++)
            chunk[j] = (char)test_pattern(c->k, 1 + j);
        ssize_t w = send(c->fd, chunk, BURST_BYTES, MSG_NOSIGNAL | MSG_DONTWAIT);
        assert_true(w > 0);
        c->sent += (size_t)w;
        queued += (size_t)w;
    }
    atomic_store(&burst_sent, 1);
    int ok = test_drive(cs, BURST_CLIENTS, 60000);
    struct roost_stats s = test_stats(srv.rt, 0);
    printf("# burst of %zu bytes: %d/%d echoed, ring_window_grows %llu, enobufs_rearms %llu\n",
           queued, ok, BURST_CLIENTS,
           (unsigned long long)(s.ring_window_grows - s0.ring_window_grows),
           (unsigned long long)(s.enobufs_rearms - s0.enobufs_rearms));
    assert_int_equal(ok, BURST_CLIENTS);
    assert_true(s.ring_window_grows > s0.ring_window_grows);
    for (int i = 1; i < BURST_CLIENTS; i++)
        close(cs[i].fd);

    trips = narrow_by_quiet_round_trips(&srv, cs[0].fd);
    printf("# after it: %d round trips to the first window\n", trips);
    close(cs[0].fd);
    test_server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sequential_receives_reuse_a_few_buffers),
        cmocka_unit_test(a_burst_widens_the_window_and_a_quiet_spell_narrows_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
