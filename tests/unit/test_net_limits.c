/*
 * Limits: the connection cap sheds accepts beyond it (closed at once, counted) while the
 * reactor keeps serving; EMFILE pauses accepting on a timer, without spinning or flooding
 * the log, and resumes when descriptors are free again; roost_listener_stop stops new
 * connections and lets existing ones go on.
 */
#include <dirent.h>
#include <sys/resource.h>

#include "test_net_support.h"

/* Sends a short probe on each client; then classifies: echoed (served) or closed (shed). */
static void classify(int *fds, int n, bool *served, bool *closed, unsigned timeout_ms)
{
    for (int i = 0; i < n; i++) {
        served[i] = closed[i] = false;
        if (send(fds[i], "ping", 4, MSG_NOSIGNAL) != 4)
            closed[i] = true; /* already reset */
    }
    char buf[16];
    size_t got[256] = {0};
    uint64_t end = test_now_ns() + test_scaled_ms(timeout_ms) * 1000000u;
    for (;;) {
        int open = 0;
        for (int i = 0; i < n; i++) {
            if (served[i] || closed[i])
                continue;
            open++;
            ssize_t r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
            if (r > 0) {
                got[i] += (size_t)r;
                if (got[i] >= 4)
                    served[i] = true;
            } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                closed[i] = true;
            }
        }
        if (!open || test_now_ns() > end)
            break;
        test_sleep_ms(2);
    }
}

static void cap_sheds_extra_accepts_and_keeps_serving(void **state)
{
    (void)state;
    enum { CAP = 16, CLIENTS = 64, NEW = 8 };
    struct test_server srv = test_server_start(1, NULL, CAP, NULL, NULL);
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        fds[i] = test_connect(srv.port);
        assert_true(fds[i] >= 0);
    }
    /* Every client hears back within 2 s: an echo, or the close of a shed connection. */
    bool served[CLIENTS], closed[CLIENTS];
    uint64_t t0 = test_now_ns();
    classify(fds, CLIENTS, served, closed, 5000);
    unsigned nserved = 0, nclosed = 0;
    for (int i = 0; i < CLIENTS; i++) {
        nserved += served[i];
        nclosed += closed[i];
    }
    printf("# served %u, closed %u in %.0f ms\n", nserved, nclosed, (test_now_ns() - t0) / 1e6);
    assert_int_equal(nserved, CAP);
    assert_int_equal(nclosed, CLIENTS - CAP);
    assert_true(test_now_ns() - t0 < 2000000000ull);
    assert_int_equal(test_wait_stat(srv.rt, 0, shed_accepts, CLIENTS - CAP, 2000), CLIENTS - CAP);
    assert_int_equal(roost_listener_conn_count(srv.l), CAP);

    /* The served ones keep working: 64 KiB more each, echoed intact. */
    struct test_client cs[CAP];
    int k = 0;
    for (int i = 0; i < CLIENTS; i++) {
        if (!served[i])
            continue;
        /* They already got "ping" back; go on with a fresh stream on the same socket. */
        cs[k] = (struct test_client){.fd = fds[i], .k = (unsigned)i, .total = 65536};
        k++;
    }
    assert_int_equal(test_drive(cs, CAP, 30000), CAP);

    /* NEW of them leave; once the server has closed them, NEW newcomers are served. */
    for (int i = 0; i < NEW; i++)
        close(cs[i].fd);
    assert_true(test_wait_conns(srv.l, CAP - NEW, 5000));
    int fresh[NEW + 1];
    for (int i = 0; i < NEW; i++) {
        fresh[i] = test_connect(srv.port);
        assert_true(fresh[i] >= 0);
    }
    bool fs[NEW + 1], fc[NEW + 1];
    classify(fresh, NEW, fs, fc, 5000);
    for (int i = 0; i < NEW; i++)
        assert_true(fs[i]);
    /* At the cap again: one more is shed. */
    assert_true(test_wait_conns(srv.l, CAP, 5000));
    fresh[NEW] = test_connect(srv.port);
    assert_true(fresh[NEW] >= 0);
    classify(&fresh[NEW], 1, &fs[NEW], &fc[NEW], 5000);
    assert_true(fc[NEW]);
    assert_int_equal(test_wait_stat(srv.rt, 0, shed_accepts, CLIENTS - CAP + 1, 2000),
                     CLIENTS - CAP + 1);

    for (int i = NEW; i < CAP; i++)
        close(cs[i].fd);
    for (int i = 0; i <= NEW; i++)
        close(fresh[i]);
    for (int i = 0; i < CLIENTS; i++)
        if (!served[i])
            close(fds[i]);
    test_server_stop(&srv);
}

/* ---- EMFILE ---- */

static int highest_open_fd(void)
{
    int hi = 2;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 1023;
    struct dirent *e;
    while ((e = readdir(d)))
        if (atoi(e->d_name) > hi)
            hi = atoi(e->d_name);
    closedir(d);
    return hi;
}

static unsigned count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    unsigned n = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

static void emfile_pauses_accepting_on_a_timer_and_resumes(void **state)
{
    (void)state;
    enum { CLIENTS = 4, PAUSE_MS = 1300 };
    roost_runtime *rt = test_runtime(1, NULL);

    /* Capture stderr to count the log lines. */
    char log_path[] = "/tmp/roost_emfile_XXXXXX";
    int log_fd = mkstemp(log_path);
    assert_true(log_fd >= 0);
    fflush(stderr);
    int saved_err = dup(2);
    dup2(log_fd, 2);

    int clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /*
     * Run out of descriptors: a low limit, every free descriptor below it taken but one,
     * which the listening socket takes. The kernel reads the limit when the accept is
     * prepared, so it is lowered before roost_listen arms the accept.
     */
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = (rlim_t)highest_open_fd() + 8;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    static int fillers[4096];
    int nfill = 0;
    int fill_err = 0;
    while (nfill < 4096) {
        int fd = dup(0);
        if (fd < 0) {
            fill_err = errno;
            break;
        }
        fillers[nfill++] = fd;
    }
    close(fillers[--nfill]);
    roost_listener *l = NULL;
    struct roost_listen_opts o = {.host = "127.0.0.1"};
    int listen_rc = roost_listen(rt, &o, test_echo_handler, NULL, &l);
    int connected = 0;
    if (listen_rc == 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(roost_listener_port(l))};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < CLIENTS; i++)
            connected += connect(clients[i], (struct sockaddr *)&a, sizeof(a)) == 0;
        /* Connected in the backlog, unanswered while the server is out of descriptors. */
        test_sleep_ms(PAUSE_MS);
    }
    struct roost_stats paused = test_stats(rt, 0);
    unsigned conns_while_paused = l ? roost_listener_conn_count(l) : 0;

    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    setrlimit(RLIMIT_NOFILE, &old);
    fflush(stderr);
    dup2(saved_err, 2);
    close(saved_err);
    close(log_fd);
    unsigned lines = count_lines(log_path, "pausing accepts");
    unlink(log_path);

    /* Checked only now that stderr and the limit are back. */
    assert_int_equal(fill_err, EMFILE);
    assert_int_equal(listen_rc, 0);
    assert_int_equal(connected, CLIENTS);
    printf("# accept_pauses %llu in %u ms, %u log line(s)\n",
           (unsigned long long)paused.accept_pauses, PAUSE_MS, lines);
    assert_int_equal(conns_while_paused, 0);
    /* Paused and retried on the 100 ms timer: a handful of pauses, not a busy loop. */
    assert_true(paused.accept_pauses >= 1);
    assert_true(paused.accept_pauses <= PAUSE_MS / 100 + 2);
    /* At most one log line per second. */
    assert_true(lines >= 1 && lines <= PAUSE_MS / 1000 + 1);

    /* Descriptors are back: the waiting clients are accepted and served. */
    struct test_client cs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        fcntl(clients[i], F_SETFL, fcntl(clients[i], F_GETFL) | O_NONBLOCK);
        cs[i] = (struct test_client){.fd = clients[i], .k = (unsigned)i, .total = 1000};
    }
    assert_int_equal(test_drive(cs, CLIENTS, 10000), CLIENTS);
    for (int i = 0; i < CLIENTS; i++)
        close(clients[i]);
    roost_listener_stop(l);
    roost_runtime_stop(rt);
    roost_listener_free(l);
    roost_runtime_destroy(rt);
}

/* ---- stop ---- */

static void listener_stop_refuses_new_and_keeps_existing(void **state)
{
    (void)state;
    struct test_server srv = test_server_start(2, NULL, 0, NULL, NULL);
    struct test_client c = {.k = 1, .total = 1000};
    c.fd = test_connect(srv.port);
    assert_true(c.fd >= 0);
    assert_int_equal(test_drive(&c, 1, 5000), 1);

    roost_listener_stop(srv.l);
    roost_listener_stop(srv.l); /* again: nothing */
    /* Each reactor closes its socket on its next tick: new connections are refused. */
    int rc = 0;
    uint64_t end = test_now_ns() + 5000000000ull;
    while (test_now_ns() < end) {
        rc = test_connect(srv.port);
        if (rc == -ECONNREFUSED)
            break;
        if (rc >= 0)
            close(rc); /* still listening (or reset as its socket closed): try again */
        test_sleep_ms(5);
    }
    assert_int_equal(rc, -ECONNREFUSED);

    /* The connection accepted before goes on. */
    c.total += 5000;
    assert_int_equal(test_drive(&c, 1, 5000), 1);
    close(c.fd);
    test_server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cap_sheds_extra_accepts_and_keeps_serving),
        cmocka_unit_test(emfile_pauses_accepting_on_a_timer_and_resumes),
        cmocka_unit_test(listener_stop_refuses_new_and_keeps_existing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
