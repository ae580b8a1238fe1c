/* roost — a Redis client on the reactors: pipelined, one connection per reactor. */
#ifndef ROOST_REDIS_H
#define ROOST_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h> /* redisReply: replies are hiredis's objects */

#include <roost/reactor.h>
#include <roost/runtime.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * A client: long-lived, one per server. It keeps one shared connection per reactor of its
 * runtime, opened on first use; every task on that reactor pipelines its commands on it
 * and replies are matched first in, first out. A dropped connection is reopened (with
 * AUTH and SELECT) on the next command, after a backoff while the server keeps refusing.
 * Thread-safe: any task on any context may use it.
 */
typedef struct roost_redis roost_redis;

/*
 * A dedicated connection (a link): long-lived, used by one task at a time, for blocking
 * commands (XREADGROUP BLOCK, BLPOP) that would stall every command pipelined behind them
 * on a shared connection. It lives on one reactor and reconnects like the shared ones.
 */
typedef struct roost_redis_link roost_redis_link;

struct roost_redis_opts {
    const char *host;        /* IPv4/IPv6 literal or a name roost_connect takes; NULL: 127.0.0.1 */
    uint16_t port;           /* 0: 6379 */
    const char *username;    /* AUTH username password when both are set (ACL) */
    const char *password;    /* AUTH password when set */
    unsigned db;             /* SELECT db when > 0 */
    unsigned backoff_min_ms; /* first wait after a failed connect (0: 10) */
    unsigned backoff_max_ms; /* the wait doubles up to this (0: 1000) */
};

/*
 * Parses redis://[[user]:password@]host[:port][/db] into *o. The strings point into buf,
 * a copy of url (buflen bytes). Returns 0 or -EINVAL.
 */
int roost_redis_parse_url(const char *url, struct roost_redis_opts *o, char *buf, size_t buflen);

/*
 * Creates a client for rt's reactors (o is copied). Connects lazily. Any thread.
 * Returns 0 and *out, or -ENOMEM. Free with roost_redis_close.
 */
int roost_redis_open(roost_runtime *rt, const struct roost_redis_opts *o, roost_redis **out);

/*
 * Closes every connection (commands in flight fail with -ESHUTDOWN) and frees c, after
 * every dedicated link was closed. From a task (it awaits) or from a plain thread (it
 * blocks); -EDEADLK from a reactor thread outside a task. Returns 0.
 */
int roost_redis_close(roost_redis *c);

/*
 * From a task on any context: sends one command (argc arguments, argvlen[i] bytes each,
 * or strlen when argvlen is NULL) on the calling reactor's shared connection (off the
 * reactors: one picked in turn), and awaits its reply; the task is back on its own
 * context afterwards. Returns 0 with *reply (free it with roost_redis_reply_free),
 * -EREMOTEIO with *reply holding the server's error reply (its str is the text),
 * -ECONNRESET/-ECONNREFUSED/-ENOTCONN (in a reconnect backoff) and other -errno from the
 * connection, -EPROTO for bytes that are not RESP, -ESHUTDOWN once closing, -ECANCELED if
 * the task was cancelled (the reply, when it comes, is dropped), -EPERM outside a task.
 * reply may be NULL to drop it.
 */
int roost_redis_command(roost_redis *c, redisReply **reply, int argc, const char *const *argv,
                        const size_t *argvlen);

/* As roost_redis_command, the arguments as C strings ending with NULL (at most 64). */
int roost_redis_cmd(roost_redis *c, redisReply **reply, const char *arg0, ...);

/*
 * Opens a dedicated link on reactor r (NULL: the calling reactor, else one in turn).
 * Connects lazily, like the shared connections. Any thread. Returns 0 and *out, or -errno.
 */
int roost_redis_link_open(roost_redis *c, roost_reactor *r, roost_redis_link **out);

/* roost_redis_command on a dedicated link. */
int roost_redis_link_command(roost_redis_link *l, redisReply **reply, int argc,
                             const char *const *argv, const size_t *argvlen);

/*
 * From a task (or a plain thread, blocking): closes the link and frees it. A command in
 * flight on it fails with -ESHUTDOWN. Returns 0.
 */
int roost_redis_link_close(roost_redis_link *l);

/* Frees a reply (NULL does nothing). */
void roost_redis_reply_free(redisReply *r);

ROOST_END_DECLS

#endif
