/*
 * Echo round trips in every mode (resume inline/posted, run-on pool with per-item and
 * coalesced wakes, affinity off) and with both receive strategies: 1 B, 4 KiB and 16 MiB
 * come back intact; a client that half-closes after its request still gets all of it
 * back; a roost_connect client in a task round-trips through the same API.
 */
#include "test_net_support.h"

static const enum roost_recv strategies[] = {ROOST_RECV_MULTISHOT, ROOST_RECV_ONESHOT};

static void echo_round_trips_are_intact_in_every_mode(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 4096, 16u << 20};
    for (size_t m = 0; m < NET_NMODES; m++) {
        for (size_t s = 0; s < 2; s++) {
            struct roost_config cfg;
            net_mode_config(&net_modes[m], strategies[s], &cfg);
            struct test_server srv = test_server_start(2, &cfg, 0, NULL, NULL);
            for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                if (!test_echo_once(srv.port, sizes[i], false, 60000))
                    fail_msg("%s recv=%s: echo of %zu bytes failed", net_modes[m].name,
                             roost_recv_name(strategies[s]), sizes[i]);
            }
            test_assert_mode_signature(&net_modes[m], srv.rt);
            test_server_stop(&srv);
        }
    }
}

static void half_close_after_request_still_gets_full_echo_in_every_mode(void **state)
{
    (void)state;
    for (size_t m = 0; m < NET_NMODES; m++) {
        for (size_t s = 0; s < 2; s++) {
            struct roost_config cfg;
            net_mode_config(&net_modes[m], strategies[s], &cfg);
            struct test_server srv = test_server_start(2, &cfg, 0, NULL, NULL);
            /* The client sends, shuts its write side, and must still read every byte. */
            if (!test_echo_once(srv.port, 256 * 1024, true, 30000))
                fail_msg("%s recv=%s: half-closed client lost its echo", net_modes[m].name,
                         roost_recv_name(strategies[s]));
            test_server_stop(&srv);
        }
    }
}

/* ---- roost_connect from a task ---- */

struct connect_job {
    roost_reactor *r;
    uint16_t port;
    int rc;
    bool intact;
};

static int connect_and_echo(void *arg)
{
    struct connect_job *j = arg;
    roost_conn *c;
    j->rc = roost_connect_on(j->r, "127.0.0.1", j->port, &c);
    if (j->rc < 0)
        return j->rc;
    enum { LEN = 100000 };
    static char out[LEN];
    for (size_t i = 0; i < LEN; i++)
        out[i] = (char)test_pattern(3, i);
    j->rc = roost_conn_send(c, out, LEN);
    size_t got = 0;
    j->intact = true;
    while (j->rc == 0 && got < LEN) {
        struct roost_buf b;
        int n = roost_conn_recv(c, &b);
        if (n <= 0) {
            j->rc = n < 0 ? n : -EPIPE;
            break;
        }
        if (got + b.len > LEN || memcmp(b.data, out + got, b.len) != 0)
            j->intact = false;
        got += b.len;
        roost_conn_release(c, &b);
    }
    roost_conn_close(c);
    return j->rc;
}

static int join_task(void *arg)
{
    return roost_join(arg);
}

static void connect_from_a_task_round_trips_in_every_mode(void **state)
{
    (void)state;
    for (size_t m = 0; m < NET_NMODES; m++) {
        for (size_t s = 0; s < 2; s++) {
            struct roost_config cfg;
            net_mode_config(&net_modes[m], strategies[s], &cfg);
            struct test_server srv = test_server_start(2, &cfg, 0, NULL, NULL);
            struct connect_job j = {.r = roost_runtime_reactor(srv.rt, 1), .port = srv.port};
            roost_ctx *ctx = net_modes[m].run_on == ROOST_RUN_ON_POOL
                                 ? roost_pool_ctx(roost_runtime_pool(srv.rt))
                                 : roost_reactor_ctx(j.r);
            roost_task *t;
            assert_int_equal(roost_spawn_on(ctx, connect_and_echo, &j, &t), 0);
            int rc = roost_run(join_task, t);
            if (rc != 0 || !j.intact)
                fail_msg("%s recv=%s: connect client: rc %d intact %d", net_modes[m].name,
                         roost_recv_name(strategies[s]), rc, j.intact);
            test_server_stop(&srv);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_round_trips_are_intact_in_every_mode),
        cmocka_unit_test(half_close_after_request_still_gets_full_echo_in_every_mode),
        cmocka_unit_test(connect_from_a_task_round_trips_in_every_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
