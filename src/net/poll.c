/*
 * Poll: a task awaits readiness of any file descriptor through its reactor's ring
 * (IORING_OP_POLL_ADD, one-shot). This is how foreign libraries that own their sockets
 * (libpq, a resolver, ...) are driven without a blocking call on the reactor: the library
 * is asked to read or write without blocking, and when it would block, its descriptor is
 * polled here.
 *
 * The request rides on net_call like every other net op, so a task running on the pool
 * (run-on=pool) stages its poll on the reactor it names and comes back to the pool. The
 * timeout is a reactor timer rather than a linked timeout SQE: a link must not be split
 * across two submits, and an SQ-full submit in the middle of a batch could split it.
 * Timeout, task cancel and reactor stop all cancel the poll in the ring and wait for its
 * completion, so the request (on the task's stack) outlives every use the kernel makes
 * of it.
 */
#include <errno.h>
#include <poll.h>

#include <roost/net.h>

#include "net/net.h"

static void poll_unlink(struct roost_net *net, struct net_req *q)
{
    if (q->poll.prev)
        q->poll.prev->poll.next = q->poll.next;
    else
        net->polls = q->poll.next;
    if (q->poll.next)
        q->poll.next->poll.prev = q->poll.prev;
    q->poll.prev = q->poll.next = NULL;
    net->npolls--;
}

static void on_poll(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct net_req *q = op->owner;
    roost__op_free(r, op);
    q->poll.op = NULL;
    poll_unlink(net_of(r), q);
    roost_timer_cancel(&q->poll.timer);
    int res = cqe->res;
    /* A readiness that raced with a task cancel is not delivered; one that beat the timer is. */
    if (q->cancelled)
        res = -ECANCELED;
    else if (res < 0 && q->timed_out)
        res = -ETIMEDOUT;
    else if (res < 0 && net_of(r)->draining)
        res = -ESHUTDOWN;
    net_req_complete(q, res);
}

static void poll_timeout_fired(struct roost_timer *t, int status)
{
    struct net_req *q = t->arg;
    (void)status;
    if (!q->poll.op)
        return;
    q->timed_out = true;
    net_cancel_op(q->r, q->poll.op);
}

static void poll_start(struct net_req *q)
{
    struct roost_reactor *r = q->r;
    struct roost_net *net = net_get(r);
    if (!net) {
        net_req_complete(q, -ENOMEM);
        return;
    }
    if (net->draining) {
        net_req_complete(q, -ESHUTDOWN);
        return;
    }
    struct roost_op *op;
    struct io_uring_sqe *sqe = net_op_sqe(r, ROOST_OP_GENERIC, on_poll, q, &op);
    if (!sqe) {
        net_req_complete(q, -ENOMEM);
        return;
    }
    io_uring_prep_poll_add(sqe, q->poll.fd, q->poll.events);
    q->poll.op = op;
    q->poll.prev = NULL;
    q->poll.next = net->polls;
    if (net->polls)
        net->polls->poll.prev = q;
    net->polls = q;
    net->npolls++;
    roost_timer_init(&q->poll.timer);
    if (q->poll.timeout_ms &&
        roost_timer_start(&q->poll.timer, q->poll.timeout_ms, poll_timeout_fired, q) < 0) {
        q->timed_out = true; /* no timer to be had: give up at once rather than never */
        net_cancel_op(r, op);
    }
}

static void poll_cancel(struct net_req *q)
{
    if (!q->poll.op)
        return;
    q->cancelled = true;
    net_cancel_op(q->r, q->poll.op);
}

void net_polls_abort(struct roost_net *net)
{
    for (struct net_req *q = net->polls; q; q = q->poll.next)
        if (q->poll.op)
            net_cancel_op(net->r, q->poll.op);
}

int roost_fd_poll_on(roost_reactor *r, int fd, unsigned events, uint64_t timeout_ms)
{
    if (!roost_task_current() || !r)
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    struct net_req q = {.r = r, .start = poll_start, .cancel = poll_cancel};
    q.poll.fd = fd;
    q.poll.events = events;
    q.poll.timeout_ms = timeout_ms;
    return net_call(&q);
}

int roost_fd_poll(int fd, unsigned events, uint64_t timeout_ms)
{
    roost_reactor *r = roost_reactor_current();
    if (!r)
        return -EPERM;
    return roost_fd_poll_on(r, fd, events, timeout_ms);
}
