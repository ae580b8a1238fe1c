/*
 * A real redis-server for the Redis client and pump tests: loopback, a free port, a
 * temporary directory, no persistence unless asked (AOF for the restart tests). Tests skip
 * (exit 77) when redis-server is not installed.
 */
#ifndef ROOST_TEST_REDIS_SUPPORT_H
#define ROOST_TEST_REDIS_SUPPORT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "support.h"

struct test_redis {
    pid_t pid;
    uint16_t port;
    bool aof;
    const char *password;
    char dir[64];
};

static inline uint16_t test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* A blocking hiredis connection to the test server (the tests' independent view). */
static inline redisContext *test_redis_connect(const struct test_redis *r)
{
    struct timeval tv = {.tv_sec = 2};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c && r->password) {
        redisReply *rep = redisCommand(c, "AUTH %s", r->password);
        freeReplyObject(rep);
    }
    return c;
}

static inline bool test_redis_ping(const struct test_redis *r)
{
    redisContext *c = test_redis_connect(r);
    if (!c)
        return false;
    redisReply *rep = redisCommand(c, "PING");
    bool ok = rep && rep->type == REDIS_REPLY_STATUS && !strcmp(rep->str, "PONG");
    freeReplyObject(rep);
    redisFree(c);
    return ok;
}

/* Starts redis-server on r->port (0: a free one). false when it would not come up. */
static inline bool test_redis_spawn(struct test_redis *r)
{
    char port[16];
    snprintf(port, sizeof(port), "%u", r->port);
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[24];
        int n = 0;
        argv[n++] = "redis-server";
        argv[n++] = "--port";
        argv[n++] = port;
        argv[n++] = "--bind";
        argv[n++] = "127.0.0.1";
        argv[n++] = "--dir";
        argv[n++] = r->dir;
        argv[n++] = "--save";
        argv[n++] = "";
        argv[n++] = "--appendonly";
        argv[n++] = r->aof ? "yes" : "no";
        argv[n++] = "--appendfsync";
        argv[n++] = "always";
        argv[n++] = "--logfile";
        argv[n++] = "redis.log";
        if (r->password) {
            argv[n++] = "--requirepass";
            argv[n++] = r->password;
        }
        argv[n] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
        return false;
    r->pid = pid;
    uint64_t end = test_now_ns() + (uint64_t)test_ms(10000) * 1000000u;
    while (test_now_ns() < end) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            return false; /* exited: port taken meanwhile, or no redis-server */
        }
        if (test_redis_ping(r))
            return true;
        test_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    r->pid = 0;
    return false;
}

static inline bool test_have_redis(void)
{
    return system("command -v redis-server >/dev/null 2>&1") == 0;
}

/* Starts a fresh server; exits the test program with 77 when redis-server is missing. */
static inline void test_redis_start(struct test_redis *r)
{
    if (!test_have_redis()) {
        fprintf(stderr, "redis-server not installed: skipped\n");
        exit(77);
    }
    snprintf(r->dir, sizeof(r->dir), "/tmp/roost-redis-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    for (int i = 0; i < 10; i++) {
        r->port = test_free_port();
        if (r->port && test_redis_spawn(r))
            return;
    }
    fail_msg("redis-server did not start");
}

static inline void test_redis_kill(struct test_redis *r, int sig)
{
    if (r->pid > 0) {
        kill(r->pid, sig);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

/* Stops the server (SIGTERM: with AOF on, what was acknowledged is on disk) and restarts it. */
static inline void test_redis_restart(struct test_redis *r)
{
    test_redis_kill(r, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (test_redis_spawn(r))
            return;
        test_sleep_ms(100);
    }
    fail_msg("redis-server did not restart on port %u", r->port);
}

static inline void test_redis_stop(struct test_redis *r)
{
    test_redis_kill(r, SIGTERM);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", r->dir);
}

static inline struct roost_redis_opts test_redis_opts(const struct test_redis *r)
{
    struct roost_redis_opts o = {.host = "127.0.0.1", .port = r->port, .password = r->password};
    return o;
}

#endif
