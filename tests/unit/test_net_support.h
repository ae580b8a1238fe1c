/*
 * Helpers for the network tests: the mode table, an echo server, and blocking-free test
 * clients driven by poll(2) with a deadline (every loop is bounded in time).
 */
#ifndef ROOST_TEST_NET_SUPPORT_H
#define ROOST_TEST_NET_SUPPORT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

/* ---- modes ---------------------------------------------------------------------------------- */

struct net_mode {
    const char *name;
    enum roost_resume resume;
    enum roost_run_on run_on;
    enum roost_wake wake;
    bool affinity;
};

/* Every mode of the decomposition benchmark, plus affinity off. */
static const struct net_mode net_modes[] = {
    {"resume=inline", ROOST_RESUME_INLINE, ROOST_RUN_ON_REACTOR, ROOST_WAKE_COALESCED, true},
    {"resume=posted", ROOST_RESUME_POSTED, ROOST_RUN_ON_REACTOR, ROOST_WAKE_COALESCED, true},
    {"run-on=pool wake=per-item", ROOST_RESUME_INLINE, ROOST_RUN_ON_POOL, ROOST_WAKE_PER_ITEM,
     true},
    {"run-on=pool wake=coalesced", ROOST_RESUME_INLINE, ROOST_RUN_ON_POOL, ROOST_WAKE_COALESCED,
     true},
    {"affinity=off", ROOST_RESUME_INLINE, ROOST_RUN_ON_REACTOR, ROOST_WAKE_COALESCED, false},
};
#define NET_NMODES (sizeof(net_modes) / sizeof(net_modes[0]))

static inline void net_mode_config(const struct net_mode *m, enum roost_recv recv,
                                   struct roost_config *cfg)
{
    roost_config_init(cfg);
    cfg->resume = m->resume;
    cfg->run_on = m->run_on;
    cfg->wake = m->wake;
    cfg->affinity = m->affinity;
    cfg->recv = recv;
    cfg->pool_threads = 2;
}

/* ---- the echo server --------------------------------------------------------------------------
 */

static _Atomic long echo_handlers_done;

/* What test_echo_handler's arg may point to: called with each buffer before it is echoed. */
struct test_echo_note {
    void (*fn)(roost_conn *c, const struct roost_buf *b);
};

/* Echoes until EOF or an error; counts finished handlers. arg: a test_echo_note, or NULL. */
static inline int test_echo_handler(roost_conn *c, void *arg)
{
    const struct test_echo_note *note = arg;
    for (;;) {
        struct roost_buf b;
        int n = roost_conn_recv(c, &b);
        if (n <= 0)
            break;
        if (note)
            note->fn(c, &b);
        int rc = roost_conn_send(c, b.data, b.len);
        roost_conn_release(c, &b);
        if (rc < 0)
            break;
    }
    atomic_fetch_add(&echo_handlers_done, 1);
    return 0;
}

struct test_server {
    roost_runtime *rt;
    roost_listener *l;
    uint16_t port;
};

static inline struct test_server test_server_start(unsigned reactors,
                                                   const struct roost_config *cfg,
                                                   unsigned max_conns, roost_conn_handler h,
                                                   void *arg)
{
    struct test_server s;
    s.rt = test_runtime(reactors, cfg);
    struct roost_listen_opts o = {.host = "127.0.0.1", .port = 0, .max_conns = max_conns};
    assert_int_equal(roost_listen(s.rt, &o, h ? h : test_echo_handler, arg, &s.l), 0);
    s.port = roost_listener_port(s.l);
    assert_true(s.port != 0);
    return s;
}

static inline void test_server_stop(struct test_server *s)
{
    roost_listener_stop(s->l);
    roost_runtime_stop(s->rt);
    roost_listener_free(s->l);
    roost_runtime_destroy(s->rt);
}

/* The counters of every reactor, added up. */
static inline struct roost_stats test_stats_sum(roost_runtime *rt)
{
    struct roost_stats sum;
    memset(&sum, 0, sizeof(sum));
    for (unsigned i = 0; i < roost_runtime_reactor_count(rt); i++) {
        struct roost_stats s = test_stats(rt, i);
#define ADD_(name, help) sum.name += s.name;
        ROOST_STATS_FIELDS(ADD_)
#undef ADD_
    }
    return sum;
}

/*
 * Asserts the counters show mode m was in effect: inline resumes under resume=inline on
 * the reactor, none under resume=posted, ring requests arriving through the inbox under
 * run-on=pool.
 */
static inline void test_assert_mode_signature(const struct net_mode *m, roost_runtime *rt)
{
    struct roost_stats s = test_stats_sum(rt);
    printf("# %s: inline_resumes %llu posted_resumes %llu remote_posts %llu wakes %llu\n", m->name,
           (unsigned long long)s.inline_resumes, (unsigned long long)s.posted_resumes,
           (unsigned long long)s.remote_posts, (unsigned long long)s.wakes_written);
    if (m->run_on == ROOST_RUN_ON_POOL) {
        assert_true(s.remote_posts > 0);
    } else if (m->resume == ROOST_RESUME_POSTED) {
        assert_int_equal(s.inline_resumes, 0);
        assert_true(s.posted_resumes > 0);
    } else {
        assert_true(s.inline_resumes > 0);
    }
}

/* ---- clients ------------------------------------------------------------------------------------
 */

/* A connected, non-blocking client socket, or -errno. */
static inline int test_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Client k's byte at offset i: differs per client and per position, so swaps show. */
static inline uint8_t test_pattern(unsigned k, size_t i)
{
    return (uint8_t)(i * 131u + (i >> 8) * 7u + k * 29u + 1u);
}

struct test_client {
    int fd;
    unsigned k;       /* pattern key */
    size_t total;     /* bytes to send and expect back */
    size_t sent, got; /* progress */
    bool half_close;  /* shutdown(SHUT_WR) once everything is sent; expect EOF after */
    bool wr_shut;
    bool eof;
    bool corrupt;
    int err; /* -errno from send/recv (e.g. -ECONNRESET) */
};

static inline bool test_client_done(const struct test_client *c)
{
    if (c->err || c->corrupt)
        return true;
    if (c->got < c->total)
        return false;
    return !c->half_close || c->eof;
}

/*
 * Drives n clients until each has sent its bytes and read back its echo (and the EOF, for
 * half-closing ones), or an error, or timeout_ms passed. Returns the number of clients
 * whose echo came back complete and intact.
 */
static inline int test_drive(struct test_client *cs, int n, unsigned timeout_ms)
{
    static char chunk[65536];
    static char in[65536];
    struct pollfd *p = calloc((size_t)n, sizeof(*p));
    uint64_t end = test_now_ns() + test_scaled_ms(timeout_ms) * 1000000u;
    for (;;) {
        int live = 0;
        for (int i = 0; i < n; i++) {
            struct test_client *c = &cs[i];
            p[i].fd = -1;
            p[i].events = 0;
            p[i].revents = 0;
            if (test_client_done(c))
                continue;
            live++;
            p[i].fd = c->fd;
            if (c->sent < c->total)
                p[i].events |= POLLOUT;
            p[i].events |= POLLIN;
        }
        if (!live || test_now_ns() > end)
            break;
        if (poll(p, (nfds_t)n, 20) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct test_client *c = &cs[i];
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            if ((p[i].revents & POLLOUT) && c->sent < c->total) {
                size_t len = c->total - c->sent;
                if (len > sizeof(chunk))
                    len = sizeof(chunk);
                for (size_t j = 0; j < len; j++)
                    chunk[j] = (char)test_pattern(c->k, c->sent + j);
                ssize_t w = send(c->fd, chunk, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0)
                    c->sent += (size_t)w;
                else if (w < 0 && errno != EAGAIN)
                    c->err = -errno;
            }
            if (c->sent == c->total && c->half_close && !c->wr_shut) {
                shutdown(c->fd, SHUT_WR);
                c->wr_shut = true;
            }
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = recv(c->fd, in, sizeof(in), MSG_DONTWAIT);
                if (r > 0) {
                    for (ssize_t j = 0; j < r; j++)
                        if ((uint8_t)in[j] != test_pattern(c->k, c->got + (size_t)j))
                            c->corrupt = true;
                    c->got += (size_t)r;
                    if (c->got > c->total)
                        c->corrupt = true;
                } else if (r == 0) {
                    c->eof = true;
                    if (c->got < c->total)
                        c->err = -EPIPE; /* closed before the echo was complete */
                } else if (errno != EAGAIN) {
                    c->err = -errno;
                }
            }
        }
    }
    free(p);
    int ok = 0;
    for (int i = 0; i < n; i++)
        if (!cs[i].err && !cs[i].corrupt && cs[i].got == cs[i].total &&
            (!cs[i].half_close || cs[i].eof))
            ok++;
    return ok;
}

/* One client, one echo of len bytes; true if it came back intact. */
static inline bool test_echo_once(uint16_t port, size_t len, bool half_close, unsigned timeout_ms)
{
    struct test_client c = {.k = (unsigned)len, .total = len, .half_close = half_close};
    c.fd = test_connect(port);
    if (c.fd < 0)
        return false;
    int ok = test_drive(&c, 1, timeout_ms);
    close(c.fd);
    if (!ok)
        printf("# echo of %zu bytes: sent %zu got %zu err %d corrupt %d eof %d\n", len, c.sent,
               c.got, c.err, c.corrupt, c.eof);
    return ok == 1;
}

/* Waits (bounded) until roost_listener_conn_count(l) == want. */
static inline bool test_wait_conns(roost_listener *l, unsigned want, unsigned timeout_ms)
{
    uint64_t end = test_now_ns() + test_scaled_ms(timeout_ms) * 1000000u;
    while (roost_listener_conn_count(l) != want) {
        if (test_now_ns() > end)
            return false;
        test_sleep_ms(1);
    }
    return true;
}

/* Waits (bounded) until reactor i's counter `field` reaches want; returns its value. */
#define test_wait_stat(rt, i, field, want, timeout_ms)                                             \
    ({                                                                                             \
        uint64_t end_ = test_now_ns() + test_scaled_ms(timeout_ms) * 1000000u;                     \
        while (test_stats(rt, i).field < (want) && test_now_ns() < end_)                           \
            test_sleep_ms(1);                                                                      \
        test_stats(rt, i).field;                                                                   \
    })

#endif
