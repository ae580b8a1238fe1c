/*
 * ENOBUFS is flow control: with a provided buffer ring of 4 buffers and 64 clients each
 * sending 1 MiB at once, the ring runs dry all the time. Every connection must be parked
 * and re-armed, never closed: every byte comes back, no client sees a reset, and the
 * enobufs_rearms counter shows the re-arms happened. In every mode.
 */
#include "test_net_support.h"

#define CLIENTS 64
#define BYTES (1u << 20)

static void tiny_ring_loses_no_connection(const struct net_mode *m)
{
    struct roost_config cfg;
    net_mode_config(m, ROOST_RECV_MULTISHOT, &cfg);
    cfg.buf_count = 4;
    struct test_server srv = test_server_start(1, &cfg, 0, NULL, NULL);

    static struct test_client cs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cs[i] = (struct test_client){.k = (unsigned)i, .total = BYTES};
        cs[i].fd = test_connect(srv.port);
        assert_true(cs[i].fd >= 0);
    }
    int ok = test_drive(cs, CLIENTS, 120000);
    int resets = 0;
    for (int i = 0; i < CLIENTS; i++) {
        if (cs[i].err == -ECONNRESET || cs[i].err == -EPIPE)
            resets++;
        close(cs[i].fd);
    }
    struct roost_stats s = test_stats(srv.rt, 0);
    printf("# %s: %d/%d echoed, %d resets, enobufs_rearms %llu\n", m->name, ok, CLIENTS, resets,
           (unsigned long long)s.enobufs_rearms);
    if (ok != CLIENTS)
        fail_msg("%s: %d of %d clients got their 1 MiB back (%d resets)", m->name, ok, CLIENTS,
                 resets);
    assert_int_equal(resets, 0);
    assert_true(s.enobufs_rearms > 0);
    test_server_stop(&srv);
}

static void enobufs_parks_and_rearms_in_every_mode(void **state)
{
    (void)state;
    for (size_t m = 0; m < NET_NMODES; m++)
        tiny_ring_loses_no_connection(&net_modes[m]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enobufs_parks_and_rearms_in_every_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
