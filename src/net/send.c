/*
 * Send. With speculation on, send(2)/sendmsg(2) with MSG_DONTWAIT|MSG_NOSIGNAL goes first
 * (on loopback and with room in the socket buffer it usually takes everything: no ring
 * round trip, no suspension). What is left goes through the ring, resubmitted from the
 * completion handler on the reactor until all is sent, so a short send costs no task
 * wake-up. The call returns only after the last completion: the caller's memory is never
 * read by the kernel after roost_conn_send returns, whatever the peer did meanwhile
 * (ioxide #221, #244). A cancel or a stopping reactor cancels the op in flight and still
 * waits for its completion.
 */
#define _GNU_SOURCE /* IOV_MAX */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/net.h"

#define NET_IOV_STACK 16

static size_t send_left(const struct net_req *q)
{
    if (!q->send.msg.msg_iov)
        return q->send.len - q->send.done;
    size_t left = 0;
    for (size_t i = 0; i < q->send.msg.msg_iovlen; i++)
        left += q->send.msg.msg_iov[i].iov_len;
    return left;
}

/* Drops n sent bytes from the front of q's data. */
static void send_advance(struct net_req *q, size_t n)
{
    if (!q->send.msg.msg_iov) {
        q->send.done += n;
        return;
    }
    struct msghdr *m = &q->send.msg;
    while (n > 0 && m->msg_iovlen > 0) {
        struct iovec *v = &m->msg_iov[0];
        if (n < v->iov_len) {
            v->iov_base = (char *)v->iov_base + n;
            v->iov_len -= n;
            return;
        }
        n -= v->iov_len;
        m->msg_iov++;
        m->msg_iovlen--;
    }
    while (m->msg_iovlen > 0 && m->msg_iov[0].iov_len == 0) {
        m->msg_iov++;
        m->msg_iovlen--;
    }
}

static void on_send(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe);

/*
 * The send timeout is about progress, not the whole transfer: a peer that reads slowly
 * keeps its connection, one that stops reading loses it send_timeout_ms after the last
 * byte the kernel took. Fired, it cancels the op in flight; its completion fails the send
 * with -ETIMEDOUT (the caller's memory is still not released before that completion).
 */
static void send_timeout_fired(struct roost_timer *t, int status)
{
    struct roost_conn *c = t->arg;
    struct net_req *q = c->send_q;
    if (status < 0 || !q || !c->send_op)
        return;
    q->timed_out = true;
    ROOST_STAT_INC(c->net, send_timeouts);
    net_cancel_op(c->r, c->send_op);
}

static void send_timer_restart(struct roost_conn *c)
{
    if (c->send_timeout_ms)
        roost_timer_start(&c->send_timer, c->send_timeout_ms, send_timeout_fired, c);
}

static int send_stage(struct roost_conn *c, struct net_req *q)
{
    struct roost_reactor *r = c->r;
    struct roost_op *op = roost__op_alloc(r, net_op_kinds[NET_OP_SEND], on_send, c);
    struct io_uring_sqe *sqe = op ? roost__reactor_sqe(r) : NULL;
    if (!sqe) {
        if (op)
            roost__op_free(r, op);
        return -ENOMEM;
    }
    if (q->send.msg.msg_iov)
        io_uring_prep_sendmsg(sqe, c->fd, &q->send.msg, MSG_NOSIGNAL);
    else
        io_uring_prep_send(sqe, c->fd, q->send.buf + q->send.done, q->send.len - q->send.done,
                           MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    c->send_op = op;
    c->send_q = q;
    net_conn_op_begin(c);
    return 0;
}

static void on_send(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct roost_conn *c = op->owner;
    struct net_req *q = c->send_q;
    int res = cqe->res;
    c->send_op = NULL;
    c->send_q = NULL;
    roost__op_free(r, op);
    if (res > 0)
        send_advance(q, (size_t)res);
    int out;
    if (res < 0) {
        out = res;
    } else if (send_left(q) == 0) {
        out = 0;
    } else if (q->cancelled || c->aborted || q->timed_out) {
        out = -ECANCELED;
    } else {
        /* A short send: stage the rest from here, without waking the task. */
        out = send_stage(c, q);
        if (out == 0) {
            if (res > 0)
                send_timer_restart(c); /* progress */
            net_conn_op_end(c);        /* the new op keeps the count above 0 */
            return;
        }
    }
    roost_timer_cancel(&c->send_timer);
    if (out < 0 && (c->aborted || q->cancelled))
        out = c->aborted ? -ESHUTDOWN : -ECANCELED;
    else if (out < 0 && q->timed_out)
        out = -ETIMEDOUT;
    net_conn_op_end(c);
    net_req_complete(q, out);
}

static void send_start(struct net_req *q)
{
    struct roost_conn *c = q->c;
    int rc = c->aborted ? -ESHUTDOWN : send_stage(c, q);
    if (rc < 0)
        net_req_complete(q, rc);
    else
        send_timer_restart(c);
}

static void send_cancel(struct net_req *q)
{
    struct roost_conn *c = q->c;
    if (c->send_q != q || !c->send_op)
        return;
    q->cancelled = true;
    net_cancel_op(c->r, c->send_op);
}

/* The speculative attempt: bytes sent (maybe 0 on EAGAIN), or -errno. */
static ssize_t send_now(struct roost_conn *c, const void *data, size_t len, struct msghdr *m)
{
    ssize_t n = m ? sendmsg(c->fd, m, MSG_DONTWAIT | MSG_NOSIGNAL)
                  : send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0 && (size_t)n == len) {
        NET_STAT_INC(c->net, speculative_hits);
        return n;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -errno;
    NET_STAT_INC(c->net, speculative_misses); /* EAGAIN or short: the ring takes the rest */
    return n < 0 ? 0 : n;
}

int roost_conn_send(roost_conn *c, const void *data, size_t len)
{
    if (!roost_task_current())
        return -EPERM;
    if (len == 0)
        return 0;
    size_t done = 0;
    if (c->net->speculative) {
        ssize_t n = send_now(c, data, len, NULL);
        if (n < 0)
            return (int)n;
        if ((size_t)n == len)
            return 0;
        done = (size_t)n;
    }
    struct net_req q = {.r = c->r, .c = c, .start = send_start, .cancel = send_cancel};
    q.send.buf = data;
    q.send.len = len;
    q.send.done = done;
    int rc = net_call(&q);
    c->budget = c->net->inline_budget;
    return rc;
}

int roost_conn_sendv(roost_conn *c, const struct iovec *iov, int iovcnt)
{
    if (!roost_task_current())
        return -EPERM;
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return -EINVAL;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (len == 0)
        return 0;
    /* A copy the send can advance through: the caller's array stays untouched. */
    struct iovec stack_iov[NET_IOV_STACK];
    struct iovec *v = stack_iov;
    if (iovcnt > NET_IOV_STACK) {
        v = malloc((size_t)iovcnt * sizeof(*v));
        if (!v)
            return -ENOMEM;
    }
    memcpy(v, iov, (size_t)iovcnt * sizeof(*v));
    struct net_req q = {.r = c->r, .c = c, .start = send_start, .cancel = send_cancel};
    q.send.msg.msg_iov = v;
    q.send.msg.msg_iovlen = (size_t)iovcnt;
    int rc = 0;
    if (c->net->speculative) {
        ssize_t n = send_now(c, NULL, len, &q.send.msg);
        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        if ((size_t)n == len)
            goto out;
        send_advance(&q, (size_t)n);
    }
    rc = net_call(&q);
    c->budget = c->net->inline_budget;
out:
    if (v != stack_iov)
        free(v);
    return rc;
}
