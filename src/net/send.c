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
 * The timer is kept armed lazily, as the receive's is (net_deadline_move): one that finds no
 * send in flight does nothing.
 */
static void send_timeout_fired(struct roost_timer *t, int status)
{
    struct roost_conn *c = t->arg;
    struct net_req *q = c->send_q;
    if (status < 0 || !q || !c->send_op ||
        net_deadline_early(c, &c->send_timer, c->send_deadline_ns, send_timeout_fired))
        return;
    q->timed_out = true;
    ROOST_STAT_INC(c->net, send_timeouts);
    net_cancel_op(c->r, c->send_op);
}

void net_send_timer_restart(struct roost_conn *c)
{
    if (c->send_timeout_ms)
        net_deadline_move(c, &c->send_timer, &c->send_deadline_ns, c->send_timeout_ms,
                          send_timeout_fired);
}

struct io_uring_sqe *net_send_sqe(struct roost_conn *c, struct net_req *q, roost_op_fn fn)
{
    struct roost_op *op;
    struct io_uring_sqe *sqe = net_op_sqe(c->r, net_op_kinds[NET_OP_SEND], fn, c, &op);
    if (!sqe)
        return NULL;
    c->send_op = op;
    c->send_q = q;
    net_conn_op_begin(c);
    return sqe;
}

struct net_req *net_send_done(struct roost_reactor *r, struct roost_op *op)
{
    struct roost_conn *c = op->owner;
    struct net_req *q = c->send_q;
    c->send_op = NULL;
    c->send_q = NULL;
    roost__op_free(r, op);
    return q;
}

static int send_stage(struct roost_conn *c, struct net_req *q)
{
    struct io_uring_sqe *sqe = net_send_sqe(c, q, on_send);
    if (!sqe)
        return -ENOMEM;
    if (q->send.msg.msg_iov)
        io_uring_prep_sendmsg(sqe, c->fd, &q->send.msg, MSG_NOSIGNAL);
    else
        io_uring_prep_send(sqe, c->fd, q->send.buf + q->send.done, q->send.len - q->send.done,
                           MSG_NOSIGNAL);
    return 0;
}

/* A send behind is over: its data goes back to its owner, a task settling it resumes, and a
 * failure ends the connection for the task too (a receive it waits in sees EOF). */
static void behind_done(struct roost_conn *c, int out)
{
    struct net_behind *b = &c->behind;
    struct net_req *settle = b->settle_q;
    b->settle_q = NULL;
    c->behind_in_flight = false;
    b->res = out;
    if (out < 0 && !c->aborted)
        shutdown(c->fd, SHUT_RDWR);
    b->done(b->arg, (void *)b->q.send.buf, b->q.send.len, b->tag, out);
    net_conn_op_end(c);
    if (settle)
        net_req_complete(settle, out); /* last: it may resume the task inline */
}

static void on_send(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct roost_conn *c = op->owner;
    struct net_req *q = net_send_done(r, op);
    int res = cqe->res;
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
                net_send_timer_restart(c); /* progress */
            net_conn_op_end(c);            /* the new op keeps the count above 0 */
            return;
        }
    }
    out = net_send_outcome(c, q, out);
    if (q == &c->behind.q) {
        behind_done(c, out);
        return;
    }
    net_conn_op_end(c);
    net_req_complete(q, out);
}

int net_send_outcome(struct roost_conn *c, struct net_req *q, int out)
{
    if (out < 0 && (c->aborted || q->cancelled))
        return c->aborted ? -ESHUTDOWN : -ECANCELED;
    if (out < 0 && q->timed_out)
        return -ETIMEDOUT;
    return out;
}

static void send_start(struct net_req *q)
{
    struct roost_conn *c = q->c;
    int rc = c->aborted ? -ESHUTDOWN : send_stage(c, q);
    if (rc < 0)
        net_req_complete(q, rc);
    else
        net_send_timer_restart(c);
}

void net_send_cancel(struct net_req *q)
{
    struct roost_conn *c = q->c;
    if (c->send_q != q || !c->send_op)
        return;
    q->cancelled = true;
    net_cancel_op(c->r, c->send_op);
}

int net_send_behind(struct roost_conn *c, void *data, size_t len, net_sent_fn done, void *arg,
                    size_t tag)
{
    if (!roost_task_current() || !net_on_reactor(c->r))
        return -EPERM;
    int rc = net_send_settle(c);
    if (rc < 0)
        return rc;
    if (c->aborted)
        return -ESHUTDOWN;
    struct net_behind *b = &c->behind;
    struct net_req *q = &b->q;
    q->r = c->r;
    q->c = c;
    q->cancelled = false;
    q->timed_out = false;
    q->send.buf = data;
    q->send.len = len;
    q->send.done = 0;
    q->send.msg.msg_iov = NULL;
    rc = send_stage(c, q);
    if (rc < 0)
        return rc;
    b->done = done;
    b->arg = arg;
    b->tag = tag;
    c->behind_in_flight = true;
    c->behind_active = true;
    ROOST_STAT_INC(c->net, sends_behind);
    net_send_timer_restart(c);
    return 0;
}

static void settle_start(struct net_req *q)
{
    struct roost_conn *c = q->c;
    if (c->behind_in_flight)
        c->behind.settle_q = q;
    else
        net_req_complete(q, c->behind.res);
}

static void settle_cancel(struct net_req *q)
{
    struct roost_conn *c = q->c;
    if (c->behind_in_flight && c->send_op) {
        c->behind.q.cancelled = true;
        net_cancel_op(c->r, c->send_op); /* its completion resumes the task */
    }
}

int net_send_settle(struct roost_conn *c)
{
    if (!c->behind_active)
        return 0;
    int rc;
    if (net_on_reactor(c->r) && !c->behind_in_flight) {
        rc = c->behind.res; /* the common case: over already, nothing to wait for */
    } else {
        struct net_req q = {.r = c->r, .c = c, .start = settle_start, .cancel = settle_cancel};
        rc = net_call(&q);
    }
    c->behind_active = false;
    return rc;
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
    int rc = net_send_settle(c);
    if (rc < 0)
        return rc;
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
    struct net_req q = {.r = c->r, .c = c, .start = send_start, .cancel = net_send_cancel};
    q.send.buf = data;
    q.send.len = len;
    q.send.done = done;
    rc = net_call(&q);
    c->budget = c->net->inline_budget;
    return rc;
}

int roost_conn_sendv(roost_conn *c, const struct iovec *iov, int iovcnt)
{
    if (!roost_task_current())
        return -EPERM;
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return -EINVAL;
    int rc = net_send_settle(c);
    if (rc < 0)
        return rc;
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
    struct net_req q = {.r = c->r, .c = c, .start = send_start, .cancel = net_send_cancel};
    q.send.msg.msg_iov = v;
    q.send.msg.msg_iovlen = (size_t)iovcnt;
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
