/*
 * Links: one Redis connection each, owned by one reactor.
 *
 * Two tasks per link. The driver connects (AUTH, SELECT), then reads: it feeds what the
 * connection receives to hiredis's redisReader and hands each reply to the oldest request
 * (Redis answers a connection's commands in order, so the FIFO is the whole matching).
 * The writer flushes the commands that queued up while it was sending, all in one send:
 * under load, many tasks' commands share one write (pipelining for free). When the
 * connection drops, every request in flight fails, and the driver reconnects at once; a
 * failed connect puts the link in backoff (doubling), where commands fail fast with
 * -ENOTCONN rather than queue behind a server that is not there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/read.h>

#include "redis/redis.h"

static void req_finish(struct redis_req *q, int rc, redisReply *reply)
{
    q->reply = reply;
    roost_complete(&q->w, rc); /* q may be gone after this */
}

static void fail_all(struct roost_redis_link *l, int rc)
{
    struct redis_req *q = l->head;
    l->head = l->tail = NULL;
    l->out_len = 0;
    while (q) {
        struct redis_req *next = q->next;
        req_finish(q, rc, NULL);
        q = next;
    }
}

static void wake_writer(struct roost_redis_link *l, int rc)
{
    struct roost_waiter *w = l->writer_wait;
    if (w) {
        l->writer_wait = NULL;
        roost_complete(w, rc);
    }
}

void redis_link_submit(struct roost_redis_link *l, struct redis_req *q)
{
    int rc = l->state == LINK_CLOSING ? -ESHUTDOWN : l->state == LINK_BACKOFF ? -ENOTCONN : 0;
    if (rc == 0)
        rc = redis_encode(l, q->argc, q->argv, q->argvlen);
    if (rc < 0) {
        req_finish(q, rc, NULL);
        return;
    }
    q->next = NULL;
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    wake_writer(l, 0);
}

static int writer(void *arg)
{
    struct roost_redis_link *l = arg;
    while (l->state == LINK_UP) {
        if (l->out_len == 0) {
            struct roost_waiter w;
            roost_waiter_init(&w);
            l->writer_wait = &w;
            if (roost_wait(&w) < 0)
                break;
            continue;
        }
        /* Swap buffers: commands submitted while this send runs collect in the other. */
        char *buf = l->out;
        size_t len = l->out_len, cap = l->out_cap;
        l->out = l->spare;
        l->out_cap = l->spare_cap;
        l->out_len = 0;
        l->spare = buf;
        l->spare_cap = cap;
        if (roost_conn_send(l->conn, buf, len) < 0) {
            /* The reader sees the shutdown and tears the connection down. */
            roost_conn_shutdown(l->conn, SHUT_RDWR);
            break;
        }
    }
    return 0;
}

/* Receives the next bytes into the reader: the buffer goes back to the ring at once. */
static int recv_feed(struct roost_redis_link *l, redisReader *rd)
{
    struct roost_buf b;
    int n = roost_conn_recv(l->conn, &b);
    if (n <= 0)
        return n == 0 ? -ECONNRESET : n;
    int ok = redisReaderFeed(rd, b.data, b.len);
    roost_conn_release(l->conn, &b);
    return ok == REDIS_OK ? 0 : -EPROTO;
}

/* Reads one reply during the handshake, before any request's command was sent. */
static int read_one(struct roost_redis_link *l, redisReader *rd, redisReply **out)
{
    for (;;) {
        void *rep = NULL;
        if (redisReaderGetReply(rd, &rep) != REDIS_OK)
            return -EPROTO;
        if (rep) {
            *out = rep;
            return 0;
        }
        int rc = recv_feed(l, rd);
        if (rc < 0)
            return rc;
    }
}

static int handshake(struct roost_redis_link *l, redisReader *rd)
{
    const struct roost_redis_opts *o = &l->client->o;
    struct roost_redis_link tmp = {0}; /* its out buffer only: user commands may be queued */
    int n = 0, rc = 0;
    char db[16];
    if (o->password && o->username)
        rc = redis_encode(&tmp, 3, (const char *[]){"AUTH", o->username, o->password}, NULL);
    else if (o->password)
        rc = redis_encode(&tmp, 2, (const char *[]){"AUTH", o->password}, NULL);
    n += o->password != NULL;
    if (rc == 0 && o->db > 0) {
        snprintf(db, sizeof(db), "%u", o->db);
        rc = redis_encode(&tmp, 2, (const char *[]){"SELECT", db}, NULL);
        n++;
    }
    if (rc == 0 && n > 0)
        rc = roost_conn_send(l->conn, tmp.out, tmp.out_len);
    free(tmp.out);
    for (int i = 0; rc == 0 && i < n; i++) {
        redisReply *rep = NULL;
        rc = read_one(l, rd, &rep);
        if (rc == 0 && rep->type == REDIS_REPLY_ERROR)
            rc = i == 0 && o->password ? -EACCES : -EINVAL;
        if (rep)
            freeReplyObject(rep);
    }
    return rc;
}

static void deliver(struct roost_redis_link *l, redisReply *rep)
{
    struct redis_req *q = l->head;
    if (!q) {
        freeReplyObject(rep); /* nobody asked (a push message): drop it */
        return;
    }
    l->head = q->next;
    if (!l->head)
        l->tail = NULL;
    req_finish(q, rep->type == REDIS_REPLY_ERROR ? -EREMOTEIO : 0, rep);
}

static int read_loop(struct roost_redis_link *l, redisReader *rd)
{
    for (;;) {
        void *rep = NULL;
        while (redisReaderGetReply(rd, &rep) == REDIS_OK && rep) {
            deliver(l, rep);
            rep = NULL;
        }
        if (rd->err)
            return -EPROTO;
        int rc = recv_feed(l, rd);
        if (rc < 0)
            return rc;
    }
}

static int connect_link(struct roost_redis_link *l, redisReader **rd)
{
    const struct roost_redis_opts *o = &l->client->o;
    int rc = roost_connect_on(l->r, o->host, o->port, &l->conn);
    if (rc < 0) {
        l->conn = NULL;
        return rc;
    }
    *rd = redisReaderCreate();
    rc = *rd ? handshake(l, *rd) : -ENOMEM;
    return rc;
}

static void disconnect(struct roost_redis_link *l, redisReader **rd)
{
    if (l->conn) {
        roost_conn_close(l->conn);
        l->conn = NULL;
    }
    if (*rd) {
        redisReaderFree(*rd);
        *rd = NULL;
    }
}

static void stop_writer(struct roost_redis_link *l)
{
    if (!l->writer)
        return;
    if (l->writer_wait)
        wake_writer(l, -ECONNRESET);
    else
        roost_task_cancel(l->writer); /* in a send: cut it short */
    roost_join(l->writer);
    l->writer = NULL;
}

static int driver(void *arg)
{
    struct roost_redis_link *l = arg;
    const struct roost_redis_opts *o = &l->client->o;
    redisReader *rd = NULL;
    while (l->state != LINK_CLOSING) {
        l->cancellable = true;
        int rc = connect_link(l, &rd);
        if (rc == 0) {
            l->backoff_ms = o->backoff_min_ms;
            l->state = LINK_UP;
            rc = roost_spawn(writer, l, &l->writer);
            if (rc == 0)
                rc = read_loop(l, rd);
            l->cancellable = false;
            if (l->state == LINK_UP)
                l->state = LINK_BACKOFF; /* while it tears down: fail fast */
            stop_writer(l);
            fail_all(l, l->state == LINK_CLOSING ? -ESHUTDOWN : rc < 0 ? rc : -ECONNRESET);
            disconnect(l, &rd);
            if (l->state != LINK_CLOSING)
                l->state = LINK_CONNECTING; /* reconnect at once: it was up */
            continue;
        }
        l->cancellable = false;
        disconnect(l, &rd);
        if (l->state == LINK_CLOSING)
            break;
        l->state = LINK_BACKOFF;
        fail_all(l, rc);
        l->cancellable = true;
        roost_sleep(l->backoff_ms);
        l->cancellable = false;
        l->backoff_ms =
            l->backoff_ms * 2 > o->backoff_max_ms ? o->backoff_max_ms : l->backoff_ms * 2;
        if (l->state != LINK_CLOSING)
            l->state = LINK_CONNECTING;
    }
    fail_all(l, -ESHUTDOWN);
    struct roost_waiter *closed = l->closed;
    free(l->out);
    free(l->spare);
    free(l);
    if (closed)
        roost_complete(closed, 0);
    return 0;
}

int redis_link_create(struct roost_redis *c, roost_reactor *r, bool dedicated,
                      struct roost_redis_link **out)
{
    struct roost_redis_link *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->client = c;
    l->r = r;
    l->dedicated = dedicated;
    l->state = LINK_CONNECTING;
    l->backoff_ms = c->o.backoff_min_ms;
    int rc = roost_spawn_on(roost_reactor_ctx(r), driver, l, &l->driver);
    if (rc < 0) {
        free(l);
        return rc;
    }
    roost_detach(l->driver);
    *out = l;
    return 0;
}

/* On the link's reactor: the driver notices CLOSING after its current await. */
void redis_link_begin_close(struct roost_redis_link *l, struct roost_waiter *closed)
{
    l->closed = closed;
    l->state = LINK_CLOSING;
    wake_writer(l, -ESHUTDOWN);
    if (l->cancellable)
        roost_task_cancel(l->driver);
}
