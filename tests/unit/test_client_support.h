/*
 * Helpers for the resolver and HTTP client tests: a time scale for slow machines, running a
 * task on a reactor from the test thread, counting open fds, and small raw TCP servers (a
 * plain thread each) that answer with canned bytes, so every malformed or truncated response
 * is exactly what the test wrote.
 */
#ifndef ROOST_TEST_CLIENT_SUPPORT_H
#define ROOST_TEST_CLIENT_SUPPORT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, accept4 */
#endif

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

struct test_task_run {
    roost_task_fn fn;
    void *arg;
    roost_task *t;
};

static inline int test_spawn_here_(void *arg)
{
    struct test_task_run *r = arg;
    return roost_spawn(r->fn, r->arg, &r->t);
}

static inline int test_join_(void *arg)
{
    return roost_join(arg);
}

/* Runs fn(arg) as a task on reactor i and returns its result (the test thread blocks). */
static inline int test_task_on(roost_runtime *rt, unsigned i, roost_task_fn fn, void *arg)
{
    struct test_task_run r = {fn, arg, NULL};
    int rc = roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(rt, i)), test_spawn_here_, &r);
    if (rc < 0)
        return rc;
    return roost_run(test_join_, r.t);
}

/* Open file descriptors of this process. */
static inline int test_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

/* Waits (bounded) until the fd count is back to want; returns the last count. */
static inline int test_wait_fds(int want, unsigned timeout_ms)
{
    uint64_t end = test_now_ns() + (uint64_t)timeout_ms * 1000000u;
    int n;
    while ((n = test_fd_count()) != want && test_now_ns() < end)
        test_sleep_ms(2);
    return n;
}

/* A listening socket on 127.0.0.1, an ephemeral port; returns the fd, *port set. */
static inline int test_listen_raw(int backlog, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, backlog), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/*
 * A listener that never accepts, its queue full: backlog 0 holds one connection, and four
 * non-blocking connects fill it, so a further SYN is dropped and a connect to *port can
 * only end by its timeout. Close the five fds with test_full_listener_close.
 */
struct full_listener {
    int lfd, fill[4];
    uint16_t port;
};

static inline void test_full_listener(struct full_listener *f)
{
    f->lfd = test_listen_raw(0, &f->port);
    for (int i = 0; i < 4; i++) {
        f->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        (void)connect(f->fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    test_sleep_ms(50);
}

static inline void test_full_listener_close(struct full_listener *f)
{
    for (int i = 0; i < 4; i++)
        close(f->fill[i]);
    close(f->lfd);
}

/*
 * A raw server: accepts up to `conns` connections one after another. On each it reads a
 * request head (up to its blank line) and writes `reply` (len bytes), again for every further
 * head, until the peer closes; with close_after it closes the connection after the first
 * reply. A NULL reply is never sent: the connection is held until the peer closes. Counts
 * accepts. Every wait is bounded by timeout_ms.
 */
struct raw_server {
    int lfd;
    uint16_t port;
    const char *reply;
    size_t len;
    bool close_after;
    unsigned conns;
    unsigned timeout_ms;
    _Atomic unsigned accepts;
    _Atomic unsigned requests;
    _Atomic bool stop; /* raw_server_stop: give up waiting */
    pthread_t th;
};

static inline bool raw_read_head(struct raw_server *s, int fd, unsigned timeout_ms)
{
    char buf[8192];
    size_t got = 0;
    uint64_t end = test_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (got < sizeof(buf) && test_now_ns() < end && !atomic_load(&s->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t r = recv(fd, buf + got, sizeof(buf) - got, 0);
        if (r <= 0)
            return false;
        got += (size_t)r;
        if (got >= 4 && memmem(buf, got, "\r\n\r\n", 4))
            return true;
    }
    return false;
}

static inline void *raw_server_main(void *arg)
{
    struct raw_server *s = arg;
    uint64_t end = test_now_ns() + (uint64_t)s->timeout_ms * 1000000u;
    for (unsigned i = 0; i < s->conns && test_now_ns() < end && !atomic_load(&s->stop); i++) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        int pr = poll(&p, 1, 50);
        if (pr <= 0) {
            i--;
            continue;
        }
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->accepts, 1);
        while (raw_read_head(s, fd, s->timeout_ms)) {
            atomic_fetch_add(&s->requests, 1);
            if (!s->reply)
                continue;
            (void)!send(fd, s->reply, s->len, MSG_NOSIGNAL);
            if (s->close_after)
                break;
        }
        close(fd);
    }
    return NULL;
}

static inline void raw_server_start(struct raw_server *s, const char *reply, size_t len,
                                    bool close_after, unsigned conns)
{
    s->reply = reply;
    s->len = len;
    s->close_after = close_after;
    s->conns = conns;
    s->timeout_ms = test_ms(10000);
    atomic_init(&s->accepts, 0);
    atomic_init(&s->requests, 0);
    atomic_init(&s->stop, false);
    s->lfd = test_listen_raw(16, &s->port);
    assert_int_equal(pthread_create(&s->th, NULL, raw_server_main, s), 0);
}

static inline void raw_server_stop(struct raw_server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->lfd);
}

#endif
