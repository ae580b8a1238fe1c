/*
 * The send behind (src/net/send.c, net_send_behind): a send staged on the ring that its task
 * does not wait for. Its bytes go out before any later send or close of the connection, its
 * owner gets the data back (done) once the kernel is through with it, and a send behind that
 * fails or makes no progress for the send timeout ends the connection for the task too. Off
 * the connection's reactor it is refused, nothing staged. Also the send timeout's lazy timer
 * (net_send_timer_restart): a timer left armed by an earlier send never cuts a later one
 * short.
 */
#include "net/net.h"
#include "test_net_support.h"

#define TAG 42

static _Atomic long dones;
static _Atomic int done_res;
static _Atomic long bad_tags;

/* The owner's callback: counts, keeps the result, frees what was malloc'd (tag TAG + 1). */
static void on_done(void *arg, void *data, size_t len, size_t tag, int res)
{
    (void)arg, (void)len;
    if (tag != TAG && tag != TAG + 1)
        atomic_fetch_add(&bad_tags, 1);
    if (tag == TAG + 1)
        free(data);
    atomic_store(&done_res, res);
    atomic_fetch_add(&dones, 1);
}

static void reset(void)
{
    atomic_store(&dones, 0);
    atomic_store(&done_res, 1);
    atomic_store(&bad_tags, 0);
}

/* Reads from fd until EOF, an error or the deadline; the bytes read (at most cap). */
static size_t read_to_eof(int fd, char *buf, size_t cap, unsigned timeout_ms)
{
    size_t got = 0;
    uint64_t end = test_deadline_ns(timeout_ms);
    while (test_now_ns() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) < 0 && errno != EINTR)
            break;
        char sink[65536];
        char *to = got < cap ? buf + got : sink;
        size_t room = got < cap ? cap - got : sizeof(sink);
        ssize_t r = recv(fd, to, room, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            break;
        if (r > 0)
            got += (size_t)r;
    }
    return got;
}

/* ---- order, and the task does not wait ----------------------------------------------------- */

struct order_probe {
    int staged;        /* net_send_behind's result */
    long dones_staged; /* callbacks run when net_send_behind returned */
    long dones_sent;   /* ... and when the next roost_conn_send returned */
    _Atomic long done;
};

static int order_handler(roost_conn *c, void *arg)
{
    struct order_probe *p = arg;
    static char first[] = "first,";
    p->staged = net_send_behind(c, first, 6, on_done, NULL, TAG);
    p->dones_staged = atomic_load(&dones);
    int rc = roost_conn_send(c, "second", 6);
    p->dones_sent = atomic_load(&dones);
    atomic_store(&p->done, 1);
    return rc;
}

static void order_in(const struct net_mode *m)
{
    reset();
    struct roost_config cfg;
    net_mode_config(m, ROOST_RECV_MULTISHOT, &cfg);
    struct order_probe p = {0};
    struct test_server srv = test_server_start(1, &cfg, 0, order_handler, &p);
    int fd = test_connect(srv.port);
    assert_true(fd >= 0);
    char buf[64] = {0};
    size_t got = read_to_eof(fd, buf, sizeof(buf) - 1, 10000);
    assert_true(test_wait_at_least(&p.done, 1, 10000));
    bool on_reactor = m->run_on == ROOST_RUN_ON_REACTOR;
    printf("# %s: staged %d, callbacks %ld then %ld, peer read \"%s\"\n", m->name, p.staged,
           p.dones_staged, p.dones_sent, buf);
    if (on_reactor) {
        assert_int_equal(p.staged, 0);
        assert_int_equal(p.dones_staged, 0); /* not waited for: over only at its completion */
        assert_int_equal(p.dones_sent, 1);   /* over before the next send went out */
        assert_int_equal(atomic_load(&done_res), 0);
        assert_int_equal(test_stats(srv.rt, 0).sends_behind, 1);
        assert_int_equal(got, 12);
        assert_string_equal(buf, "first,second");
    } else {
        /* a task off the reactor is refused: nothing staged, nothing called back */
        assert_int_equal(p.staged, -EPERM);
        assert_int_equal(p.dones_sent, 0);
        assert_int_equal(test_stats(srv.rt, 0).sends_behind, 0);
        assert_string_equal(buf, "second");
    }
    assert_int_equal(atomic_load(&bad_tags), 0);
    close(fd);
    test_server_stop(&srv);
    assert_int_equal(atomic_load(&dones), on_reactor ? 1 : 0);
}

static void a_send_behind_goes_out_before_the_next_send(void **state)
{
    (void)state;
    for (size_t m = 0; m < NET_NMODES; m++)
        order_in(&net_modes[m]);
}

/* ---- close ---------------------------------------------------------------------------------- */

#define BIG (8u << 20)
#define FILL_MAX (64u << 20)

static _Atomic long filled; /* bytes the handler put in the socket before its send behind */

static int big_then_close(roost_conn *c, void *arg)
{
    (void)arg;
    /* Fill the socket first: the send behind then waits for room, where a close that did not
     * wait for it would cancel it before its first byte. */
    static char chunk[65536];
    memset(chunk, 'f', sizeof(chunk));
    long fill = 0;
    for (;;) {
        ssize_t n = send(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0 || fill + n > (long)FILL_MAX)
            break;
        fill += n;
    }
    atomic_store(&filled, fill);
    char *data = malloc(BIG);
    if (!data)
        return -ENOMEM;
    for (size_t i = 0; i < BIG; i++)
        data[i] = (char)test_pattern(0, i);
    int rc = net_send_behind(c, data, BIG, on_done, NULL, TAG + 1);
    if (rc < 0)
        free(data);
    return rc; /* the connection is closed as the handler returns */
}

static void close_sends_what_was_sent_behind_first(void **state)
{
    (void)state;
    reset();
    atomic_store(&filled, -1);
    struct roost_config cfg;
    roost_config_init(&cfg);
    struct test_server srv = test_server_start(1, &cfg, 0, big_then_close, NULL);
    int fd = test_connect(srv.port);
    assert_true(fd >= 0);
    /* Read nothing until the handler has ended (and its connection is being closed). */
    assert_true(test_wait_at_least(&filled, 0, 10000));
    test_sleep_ms(50);
    size_t cap = FILL_MAX + 2 * (size_t)BIG;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got = read_to_eof(fd, buf, cap, 30000);
    size_t fill = (size_t)atomic_load(&filled);
    printf("# read %zu bytes before EOF: %zu that filled the socket, then %zu of %u sent behind\n",
           got, fill, got > fill ? got - fill : 0, BIG);
    assert_int_equal(got, fill + BIG);
    for (size_t i = 0; i < BIG; i++)
        if (buf[fill + i] != (char)test_pattern(0, i))
            fail_msg("byte %zu differs", i);
    free(buf);
    assert_true(test_wait_at_least(&dones, 1, 10000));
    assert_int_equal(atomic_load(&done_res), 0);
    close(fd);
    test_server_stop(&srv);
}

/* ---- failure ends the task's receive ------------------------------------------------------ */

struct stall_probe {
    int recv_rc; /* what the task's receive returned */
    uint64_t recv_ns;
    _Atomic long done;
};

static int stall_handler(roost_conn *c, void *arg)
{
    struct stall_probe *p = arg;
    roost_conn_set_send_timeout(c, 200);
    /* A peer that never reads: 64 MiB never fit in the socket buffers. */
    size_t len = 64u << 20;
    char *data = calloc(1, len);
    if (!data)
        return -ENOMEM;
    int rc = net_send_behind(c, data, len, on_done, NULL, TAG + 1);
    if (rc < 0) {
        free(data);
        return rc;
    }
    /* The peer sends nothing either: only the failed send can end this receive early. */
    roost_conn_set_recv_timeout(c, test_scaled_ms(20000));
    uint64_t t0 = test_now_ns();
    struct roost_buf b;
    p->recv_rc = roost_conn_recv(c, &b);
    p->recv_ns = test_now_ns() - t0;
    if (p->recv_rc > 0)
        roost_conn_release(c, &b);
    atomic_store(&p->done, 1);
    return 0;
}

static void a_stalled_send_behind_ends_the_receive(void **state)
{
    (void)state;
    reset();
    struct roost_config cfg;
    roost_config_init(&cfg);
    struct stall_probe p = {0};
    struct test_server srv = test_server_start(1, &cfg, 0, stall_handler, &p);
    int fd = test_connect(srv.port);
    assert_true(fd >= 0);
    assert_true(test_wait_at_least(&p.done, 1, 30000));
    printf("# receive returned %d after %llu ms; the send behind ended with %d\n", p.recv_rc,
           (unsigned long long)(p.recv_ns / 1000000u), atomic_load(&done_res));
    assert_true(test_wait_at_least(&dones, 1, 10000));
    assert_int_equal(atomic_load(&done_res), -ETIMEDOUT);
    assert_int_equal(test_stats(srv.rt, 0).send_timeouts, 1);
    /* EOF (the socket was shut down), not the receive's own 20 s timeout */
    assert_true(p.recv_rc == 0 || (p.recv_rc < 0 && p.recv_rc != -ETIMEDOUT));
    close(fd);
    test_server_stop(&srv);
}

/* ---- the lazy send timer ------------------------------------------------------------------- */

#define STALL_TIMEOUT_MS 400u

struct late_probe {
    int rc;
    uint64_t took_ns;
    _Atomic long done;
};

/*
 * A send behind arms the send timer at t0 + T; half a timeout later a send to a peer that
 * never reads begins. The timer still fires at t0 + T, while that send is in flight and its
 * own deadline is t0 + 1.5 T: it must re-arm, not time the send out after half its time.
 */
static int late_handler(roost_conn *c, void *arg)
{
    struct late_probe *p = arg;
    unsigned timeout = (unsigned)test_scaled_ms(STALL_TIMEOUT_MS);
    roost_conn_set_send_timeout(c, timeout);
    size_t len = 64u << 20;
    char *data = calloc(1, len);
    if (!data)
        return -ENOMEM;
    static char hello[] = "hello";
    int rc = net_send_behind(c, hello, 5, on_done, NULL, TAG);
    if (rc == 0)
        rc = roost_sleep(timeout / 2);
    if (rc < 0) {
        free(data);
        return rc;
    }
    uint64_t t0 = test_now_ns();
    p->rc = roost_conn_send(c, data, len);
    p->took_ns = test_now_ns() - t0;
    free(data);
    atomic_store(&p->done, 1);
    return 0;
}

static void a_timer_left_armed_never_cuts_a_later_send_short(void **state)
{
    (void)state;
    reset();
    struct roost_config cfg;
    roost_config_init(&cfg);
    struct late_probe p = {0};
    struct test_server srv = test_server_start(1, &cfg, 0, late_handler, &p);
    int fd = test_connect(srv.port);
    assert_true(fd >= 0);
    assert_true(test_wait_at_least(&p.done, 1, 30000));
    uint64_t timeout = test_scaled_ms(STALL_TIMEOUT_MS);
    printf("# the stalled send ended with %d after %llu ms (timeout %llu ms)\n", p.rc,
           (unsigned long long)(p.took_ns / 1000000u), (unsigned long long)timeout);
    assert_int_equal(p.rc, -ETIMEDOUT);
    /* Deadlines count from the reactor's tick time, so up to what the tick ran before the send
     * early (here little: it only resumed the task); never half a timeout, which is what a
     * timer that did not re-arm gives. */
    assert_true(p.took_ns >= timeout * 1000000u * 9 / 10);
    assert_int_equal(atomic_load(&dones), 1);
    close(fd);
    test_server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_send_behind_goes_out_before_the_next_send),
        cmocka_unit_test(close_sends_what_was_sent_behind_first),
        cmocka_unit_test(a_stalled_send_behind_ends_the_receive),
        cmocka_unit_test(a_timer_left_armed_never_cuts_a_later_send_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
