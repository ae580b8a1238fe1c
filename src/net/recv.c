/*
 * Receive, two strategies behind one call (the recv switch; see docs/net.md).
 *
 * multishot: one multishot recv per connection, armed on its first receive, picks buffers
 * from the reactor's provided buffer ring. Completions queue the buffers on the connection
 * (linked through the per-buffer table, no allocation); roost_conn_recv hands them out
 * one at a time and roost_conn_release gives them back to the ring.
 *
 * -ENOBUFS is flow control, never a teardown (ioxide #93): the ring ran dry because other
 * connections hold its buffers. The multishot ends; the connection is parked (FIFO) with
 * its data still in the socket, and each buffer given back re-arms one parked connection
 * (enobufs_rearms). A buffer ring of 4 under 64 busy clients therefore loses no
 * connection, it makes them take turns. A completion can report ENOBUFS after buffers
 * already came back in the same batch; parking then schedules a re-arm pass for the next
 * tick so no connection waits for a return that already happened. A receive that ends
 * without taking a buffer (EOF, a reset: with the ring empty the kernel reports even a
 * peer's close as ENOBUFS) passes its turn on to the next parked connection.
 *
 * No connection holds more than conn_cap queued buffers: see spill_append.
 *
 * oneshot: a recv per call into the connection's own buffer (buf_size bytes). When
 * speculation is on, recv(2) with MSG_DONTWAIT is tried first while the inline budget
 * allows: the budget (inline-budget, default 2) is refilled each time the task comes back
 * from a ring wait and spent by each speculative attempt; when it is spent the receive
 * goes to the ring anyway (budget_exhaustions), so a client that keeps the socket full
 * cannot keep its task from yielding to the rest of the reactor. After NET_EAGAIN_LIMIT
 * EAGAINs in a row a socket stops speculating (a request/response peer is rarely ahead of
 * us) until a ring receive reports more data waiting (IORING_CQE_F_SOCK_NONEMPTY) or fills
 * the buffer. A ring receive after an EAGAIN asks the kernel to poll first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/net.h"

static int ms_arm(struct roost_conn *c);

/* ---- the parked list (ENOBUFS) ------------------------------------------------------------- */

void net_park(struct roost_conn *c)
{
    struct roost_net *net = c->net;
    if (c->parked)
        return;
    c->parked = true;
    ROOST_STAT_INC(net, enobufs_parks);
    c->park_next = NULL;
    if (net->parked_tail)
        net->parked_tail->park_next = c;
    else
        net->parked_head = c;
    net->parked_tail = c;
    net->nparked++;
}

void net_unpark(struct roost_conn *c)
{
    struct roost_net *net = c->net;
    if (!c->parked)
        return;
    struct roost_conn *prev = NULL;
    for (struct roost_conn *p = net->parked_head; p; prev = p, p = p->park_next) {
        if (p != c)
            continue;
        if (prev)
            prev->park_next = c->park_next;
        else
            net->parked_head = c->park_next;
        if (net->parked_tail == c)
            net->parked_tail = prev;
        break;
    }
    c->parked = false;
    c->park_next = NULL;
    net->nparked--;
}

void net_unpark_some(struct roost_net *net, unsigned n)
{
    while (n > 0 && net->parked_head) {
        struct roost_conn *c = net->parked_head;
        net_unpark(c);
        if (c->closing || c->aborted || c->ms_op)
            continue; /* needs no turn: the turn goes to the next one */
        if (ms_arm(c) == 0) {
            ROOST_STAT_INC(net, enobufs_rearms);
            n--;
        }
    }
}

static int unpark_pass(void *arg)
{
    struct roost_net *net = arg;
    net->unpark_scheduled = false;
    net_unpark_some(net, net->ring.avail);
    return 0;
}

static void park_enobufs(struct roost_conn *c)
{
    struct roost_net *net = c->net;
    net_park(c);
    if (net->ring.avail > 0 && !net->unpark_scheduled) {
        net->unpark_work.fn = unpark_pass;
        net->unpark_work.arg = net;
        if (roost_ctx_post_work(&net->r->ctx, &net->unpark_work) == 0)
            net->unpark_scheduled = true;
    }
}

/* ---- multishot ---------------------------------------------------------------------------- */

/*
 * One connection may keep at most conn_cap ring buffers queued. The kernel fills buffers
 * for a multishot receive as long as the socket has data, before any completion is seen,
 * so the cap cannot stop it in time: what comes past the cap is copied out (the spill)
 * and its buffers go straight back to the ring, the multishot is cancelled, and from then
 * on the connection receives only when its task asks, one buffer per receive. What a
 * stalled connection keeps is therefore its cap plus one burst, and the ring stays
 * available to every other connection of the reactor.
 */
static int spill_append(struct roost_conn *c, const char *data, size_t len)
{
    if (!c->spill)
        ROOST_STAT_INC(c->net, recv_throttles);
    if (c->spill_len + len > c->spill_cap) {
        size_t cap = c->spill_cap ? c->spill_cap : 16384;
        while (cap < c->spill_len + len)
            cap *= 2;
        char *p = realloc(c->spill, cap);
        if (!p)
            return -ENOMEM;
        c->spill = p;
        c->spill_cap = cap;
    }
    memcpy(c->spill + c->spill_len, data, len);
    c->spill_len += len;
    c->bounded = true;
    return 0;
}

static void rq_push(struct roost_conn *c, unsigned bid, uint32_t len)
{
    struct net_buf *b = &c->net->ring.bufs[bid];
    b->len = len;
    b->next = -1;
    if (c->rq_tail >= 0)
        c->net->ring.bufs[c->rq_tail].next = (int32_t)bid;
    else
        c->rq_head = (int32_t)bid;
    c->rq_tail = (int32_t)bid;
    c->rq_count++;
}

/* Hands the oldest queued buffer (or then the spill) to q; false if none. */
static bool rq_pop_into(struct roost_conn *c, struct net_req *q)
{
    if (c->rq_head < 0 && c->spill) {
        /* The spill's memory goes to the task; the reactor starts a new one if needed. */
        q->recv.id = NET_BUF_SPILL;
        q->recv.len = (uint32_t)c->spill_len;
        q->recv.spill = c->spill;
        c->spill = NULL;
        c->spill_len = c->spill_cap = 0;
        return true;
    }
    if (c->rq_head < 0)
        return false;
    unsigned bid = (unsigned)c->rq_head;
    struct net_buf *b = &c->net->ring.bufs[bid];
    c->rq_head = b->next;
    if (c->rq_head < 0)
        c->rq_tail = -1;
    c->rq_count--;
    q->recv.id = bid + 1;
    q->recv.len = b->len;
    return true;
}

void net_recv_drop_queue(struct roost_conn *c)
{
    while (c->rq_head >= 0) {
        unsigned bid = (unsigned)c->rq_head;
        c->rq_head = c->net->ring.bufs[bid].next;
        net_bufring_put(c->net, bid);
    }
    c->rq_tail = -1;
    c->rq_count = 0;
    free(c->spill);
    c->spill = NULL;
    c->spill_len = c->spill_cap = 0;
}

/*
 * What a waiting multishot receive gets now, if anything: 1 and *res set, or 0 to go on
 * waiting.
 */
static bool ms_ready(struct roost_conn *c, struct net_req *q, int *res)
{
    if (rq_pop_into(c, q))
        *res = (int)q->recv.len;
    else if (c->rx_err)
        *res = c->rx_err;
    else if (c->rx_eof)
        *res = 0;
    else if (c->aborted)
        *res = -ESHUTDOWN;
    else
        return false;
    return true;
}

static void on_ms_recv(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct roost_conn *c = op->owner;
    struct roost_net *net = c->net;
    int res = cqe->res;
    bool more = cqe->flags & IORING_CQE_F_MORE;

    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        net_bufring_taken(net);
        if (res > 0 && c->rx_err) {
            net_bufring_put(net, bid); /* after a lost chunk nothing more is delivered */
        } else if (res > 0 && !c->spill && c->rq_count < net->ring.conn_cap) {
            rq_push(c, bid, (uint32_t)res);
        } else {
            if (res > 0 && spill_append(c, net_buf_data(net, bid), (size_t)res) < 0)
                res = -ENOMEM;
            net_bufring_put(net, bid);
        }
    }
    if (res == 0)
        c->rx_eof = true;
    else if (res < 0 && res != -ENOBUFS && res != -ECANCELED)
        c->rx_err = res;

    if (more && (c->spill || c->rx_err) && !c->throttled) {
        /*
         * The task is not taking what arrives (it sleeps, or waits in a send to a peer
         * that does not read): stop receiving for it; the rest waits in the socket. Its
         * next receive that finds nothing queued arms a receive again.
         */
        c->throttled = true;
        net_cancel_op(r, op);
    }
    if (!more) {
        roost__op_free(r, op);
        c->ms_op = NULL;
        if (res == -ENOBUFS)
            net_bufring_ran_dry(net);
        if (res == -ENOBUFS && !c->closing && !c->aborted) {
            park_enobufs(c);
        } else if (!(cqe->flags & IORING_CQE_F_BUFFER) && net->parked_head && net->ring.avail > 0) {
            /*
             * This receive ended without taking a buffer for good (EOF, a reset, a
             * throttle, or a re-armed connection that found nothing to read): if it was
             * given a parked connection's turn, pass the turn on while buffers are free.
             */
            net_unpark_some(net, 1);
        }
    }

    struct net_req *q = c->recv_q;
    int qres = 0;
    if (q && !ms_ready(c, q, &qres)) {
        /* Still waiting: keep a receive armed unless the connection is parked. */
        if (!c->ms_op && !c->parked && !c->closing && ms_arm(c) < 0) {
            qres = -ENOMEM;
        } else {
            q = NULL;
        }
    }
    if (q) {
        c->recv_q = NULL;
        c->recv_deadline_ns = 0;
    }
    if (!more)
        net_conn_op_end(c); /* may finish a close: c is not touched after it */
    if (q)
        net_req_complete(q, qres); /* last: it may resume the task inline */
}

static int ms_arm(struct roost_conn *c)
{
    struct roost_reactor *r = c->r;
    struct roost_op *op = roost__op_alloc(r, net_op_kinds[NET_OP_RECV], on_ms_recv, c);
    if (!op)
        return -ENOMEM;
    struct io_uring_sqe *sqe = roost__reactor_sqe(r);
    if (!sqe) {
        roost__op_free(r, op);
        return -ENOMEM;
    }
    if (c->bounded)
        io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
    else
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    c->ms_op = op;
    c->throttled = false;
    net_conn_op_begin(c);
    return 0;
}

/* Receive deadlines: the timer stays armed between receives (net_deadline_move); the
 * connection's close cancels it. */
static void recv_timeout_fired(struct roost_timer *t, int status);

static void recv_deadline_start(struct roost_conn *c, uint64_t timeout_ms)
{
    net_deadline_move(c, &c->recv_timer, &c->recv_deadline_ns, timeout_ms, recv_timeout_fired);
}

static void recv_timeout_fired(struct roost_timer *t, int status)
{
    struct roost_conn *c = t->arg;
    struct net_req *q = c->recv_q;
    if (!q || (status == 0 && !c->recv_deadline_ns))
        return; /* no receive waiting with a deadline: the timer was left armed */
    if (status == 0 &&
        net_deadline_early(c, &c->recv_timer, c->recv_deadline_ns, recv_timeout_fired))
        return;
    c->recv_deadline_ns = 0;
    if (c->oneshot) {
        /* The kernel is writing into the connection's buffer: cancel, wait for the CQE. */
        q->timed_out = true;
        if (c->os_op)
            net_cancel_op(c->r, c->os_op);
        return;
    }
    c->recv_q = NULL;
    net_req_complete(q, status < 0 ? status : -ETIMEDOUT);
}

static void ms_recv_start(struct net_req *q)
{
    struct roost_conn *c = q->c;
    int res;
    if (ms_ready(c, q, &res)) {
        net_req_complete(q, res);
        return;
    }
    if (!c->ms_op && !c->parked) {
        int rc = ms_arm(c);
        if (rc < 0) {
            net_req_complete(q, rc);
            return;
        }
    }
    c->recv_q = q;
    if (q->recv.timeout_ms)
        recv_deadline_start(c, q->recv.timeout_ms);
}

static void ms_recv_cancel(struct net_req *q)
{
    struct roost_conn *c = q->c;
    if (c->recv_q != q)
        return;
    c->recv_q = NULL;
    c->recv_deadline_ns = 0;
    q->cancelled = true;
    net_req_complete(q, -ECANCELED);
}

/* ---- oneshot ------------------------------------------------------------------------------- */

static void on_os_recv(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct roost_conn *c = op->owner;
    struct net_req *q = c->recv_q;
    c->recv_q = NULL;
    c->os_op = NULL;
    roost__op_free(r, op);
    c->recv_deadline_ns = 0;
    int res = cqe->res;
    q->recv.cqe_flags = cqe->flags;
    if (res < 0 && (res == -ECANCELED || q->timed_out || q->cancelled || c->aborted))
        res = c->aborted ? -ESHUTDOWN : q->timed_out ? -ETIMEDOUT : -ECANCELED;
    net_conn_op_end(c);
    net_req_complete(q, res);
}

static void os_recv_start(struct net_req *q)
{
    struct roost_conn *c = q->c;
    struct roost_reactor *r = c->r;
    if (c->aborted) {
        net_req_complete(q, -ESHUTDOWN);
        return;
    }
    struct roost_op *op = roost__op_alloc(r, net_op_kinds[NET_OP_RECV], on_os_recv, c);
    struct io_uring_sqe *sqe = op ? roost__reactor_sqe(r) : NULL;
    if (!sqe) {
        if (op)
            roost__op_free(r, op);
        net_req_complete(q, -ENOMEM);
        return;
    }
    io_uring_prep_recv(sqe, c->fd, c->rbuf, c->net->buf_size, 0);
    if (q->recv.poll_first)
        sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    c->os_op = op;
    c->recv_q = q;
    net_conn_op_begin(c);
    if (q->recv.timeout_ms)
        recv_deadline_start(c, q->recv.timeout_ms);
}

static void os_recv_cancel(struct net_req *q)
{
    struct roost_conn *c = q->c;
    if (c->recv_q != q || !c->os_op)
        return;
    q->cancelled = true;
    net_cancel_op(c->r, c->os_op);
}

/* ---- the task's side ----------------------------------------------------------------------- */

static int deliver(struct roost_conn *c, uint32_t id, uint32_t len, struct roost_buf *out)
{
    c->borrowed = id;
    out->_id = id;
    out->len = len;
    out->data = id == NET_BUF_INTERNAL ? c->rbuf
                : id == NET_BUF_SPILL  ? c->spill_task
                                       : net_buf_data(c->net, id - 1);
    return (int)len;
}

static int recv_multishot(struct roost_conn *c, struct roost_buf *out)
{
    /*
     * Field by field: an initializer would zero all of struct net_req, whose union is sized by
     * its largest member (a sockaddr_storage), on every receive. net_call sets the rest.
     */
    struct net_req q;
    q.r = c->r;
    q.c = c;
    q.start = ms_recv_start;
    q.cancel = ms_recv_cancel;
    q.recv.timeout_ms = c->recv_timeout_ms;
    q.recv.id = 0;
    q.recv.len = 0;
    q.recv.spill = NULL;
    q.recv.cqe_flags = 0;
    q.recv.poll_first = false;
    int rc = net_call(&q);
    c->budget = c->net->inline_budget;
    if (q.recv.id == NET_BUF_SPILL)
        c->spill_task = q.recv.spill;
    if (q.recv.id) {
        if (rc < 0) {
            /* Delivered as the cancel came: keep it for the next call, lose nothing. */
            c->stash_id = q.recv.id;
            c->stash_len = q.recv.len;
            return rc;
        }
        return deliver(c, q.recv.id, q.recv.len, out);
    }
    return rc;
}

static int recv_oneshot(struct roost_conn *c, struct roost_buf *out)
{
    struct roost_net *net = c->net;
    if (!c->rbuf) {
        c->rbuf = malloc(net->buf_size);
        if (!c->rbuf)
            return -ENOMEM;
    }
    bool poll_first = false;
    if (net->speculative && c->eagain < NET_EAGAIN_LIMIT) {
        if (c->budget > 0) {
            c->budget--;
            ssize_t n = recv(c->fd, c->rbuf, net->buf_size, MSG_DONTWAIT);
            if (n >= 0) {
                NET_STAT_INC(c->net, speculative_hits);
                c->eagain = 0;
                return n ? deliver(c, NET_BUF_INTERNAL, (uint32_t)n, out) : 0;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -errno;
            NET_STAT_INC(c->net, speculative_misses);
            c->eagain++;
            poll_first = true;
        } else {
            NET_STAT_INC(c->net, budget_exhaustions);
        }
    }
    struct net_req q = {.r = c->r, .c = c, .start = os_recv_start, .cancel = os_recv_cancel};
    q.recv.timeout_ms = c->recv_timeout_ms;
    q.recv.poll_first = poll_first;
    int rc = net_call(&q);
    c->budget = net->inline_budget;
    if ((q.recv.cqe_flags & IORING_CQE_F_SOCK_NONEMPTY) ||
        (rc > 0 && (unsigned)rc == net->buf_size))
        c->eagain = 0;
    if (rc > 0)
        return deliver(c, NET_BUF_INTERNAL, (uint32_t)rc, out);
    if (rc < 0 && q.res > 0) {
        c->stash_id = NET_BUF_INTERNAL;
        c->stash_len = (uint32_t)q.res;
    }
    return rc;
}

int roost_conn_recv(roost_conn *c, struct roost_buf *out)
{
    *out = (struct roost_buf){0};
    if (!roost_task_current())
        return -EPERM; /* touches nothing: the connection is its task's */
    if (c->borrowed)
        return -EBUSY;
    if (c->stash_id) {
        uint32_t id = c->stash_id;
        c->stash_id = 0;
        return deliver(c, id, c->stash_len, out);
    }
    return c->oneshot ? recv_oneshot(c, out) : recv_multishot(c, out);
}

static int buf_return_run(void *arg)
{
    struct net_buf *b = arg;
    struct roost_net *net = b->net;
    net_bufring_put(net, (unsigned)(b - net->ring.bufs));
    return 0;
}

void roost_conn_release(roost_conn *c, struct roost_buf *b)
{
    uint32_t id = b->_id;
    *b = (struct roost_buf){0};
    if (!id || id != c->borrowed)
        return;
    c->borrowed = 0;
    if (id == NET_BUF_INTERNAL)
        return;
    if (id == NET_BUF_SPILL) {
        free(c->spill_task);
        c->spill_task = NULL;
        return;
    }
    struct roost_net *net = c->net;
    unsigned bid = id - 1;
    if (net_on_reactor(c->r)) {
        net_bufring_put(net, bid);
        return;
    }
    /* Off the reactor (run-on=pool): the ring's tail is the reactor's; post the return. */
    struct net_buf *nb = &net->ring.bufs[bid];
    nb->ret.fn = buf_return_run;
    nb->ret.arg = nb;
    (void)roost_ctx_post_work(&c->r->ctx, &nb->ret);
}
