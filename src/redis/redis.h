/*
 * Internal: the Redis client. A link is one connection owned by one reactor: every field
 * below is touched only on that reactor's thread (requests from elsewhere are posted there
 * through their embedded work item), so the link needs no lock.
 */
#ifndef ROOST_REDIS_REDIS_H
#define ROOST_REDIS_REDIS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <roost/ctx.h>
#include <roost/net.h>
#include <roost/redis.h>
#include <roost/task.h>
#include <roost/waiter.h>

/* One command in flight: lives on the calling task's stack until its waiter completes. */
struct redis_req {
    struct roost_work work; /* posts it to the link's reactor */
    struct redis_req *next; /* the link's reply FIFO */
    struct roost_waiter w;
    struct roost_redis *client;    /* shared requests: pick the link on arrival */
    struct roost_redis_link *link; /* dedicated requests */
    int argc;
    const char *const *argv;
    const size_t *argvlen;
    redisReply *reply;
};

enum redis_link_state {
    LINK_CONNECTING, /* requests queue until the handshake is done */
    LINK_UP,
    LINK_BACKOFF, /* the last connect failed: requests fail at once with -ENOTCONN */
    LINK_CLOSING,
};

struct roost_redis_link {
    struct roost_redis *client;
    roost_reactor *r;
    bool dedicated;
    enum redis_link_state state;
    roost_conn *conn;
    roost_task *driver;               /* connects, reads replies, reconnects */
    roost_task *writer;               /* flushes out while the connection is up */
    struct roost_waiter *writer_wait; /* the idle writer parks here */
    struct roost_waiter *closed;      /* completed when the driver has freed the link */
    struct roost_work close_work;
    struct redis_req *head, *tail; /* awaiting replies, oldest first */
    char *out, *spare;             /* commands not yet sent; the writer sends from spare */
    size_t out_len, out_cap, spare_cap;
    unsigned backoff_ms;
    bool cancellable; /* the driver is in an await that a close may cancel */
};

struct roost_redis {
    roost_runtime *rt;
    struct roost_redis_opts o;
    char *strings; /* copies of o's strings */
    unsigned nlinks;
    struct roost_redis_link **links; /* shared link per reactor; links[i] only on reactor i */
    _Atomic unsigned next;           /* round robin for callers off the reactors */
    _Atomic unsigned dedicated;      /* open dedicated links */
};

/* The sentinel left in links[i] once the client is closing. */
#define REDIS_LINK_CLOSED ((struct roost_redis_link *)1)

/* Appends one command in RESP (an array of bulk strings) to the link's out buffer. */
int redis_encode(struct roost_redis_link *l, int argc, const char *const *argv,
                 const size_t *argvlen);

/* On l's reactor: queues q's command, or fails q at once (closing, in backoff). */
void redis_link_submit(struct roost_redis_link *l, struct redis_req *q);

/* Creates a link on reactor r; its driver task starts connecting there. Any thread. */
int redis_link_create(struct roost_redis *c, roost_reactor *r, bool dedicated,
                      struct roost_redis_link **out);

/* On l's reactor: starts closing l; the driver completes closed once it has freed l. */
void redis_link_begin_close(struct roost_redis_link *l, struct roost_waiter *closed);

#endif
