/*
 * Connections: the per-reactor table (slots with generations), the task that runs a
 * handler, close, abort, and the op accounting close relies on.
 *
 * Close never frees what the kernel may still use. Every SQE staged for a connection is
 * counted (ops); close cancels what is in flight and frees the slot, closes the socket and
 * returns ring buffers only once the count is back to 0, i.e. after the last completion.
 * A send's data stays the caller's until its completion, so a peer that resets meanwhile
 * or a slot recycled afterwards can never make the kernel send from reused memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"

static struct roost_conn *conn_slot(struct roost_net *net, uint32_t index)
{
    return &net->chunks[index / NET_CONN_CHUNK][index % NET_CONN_CHUNK];
}

static int conn_table_grow(struct roost_net *net)
{
    if ((uint64_t)(net->nchunks + 1) * NET_CONN_CHUNK > (1u << 24))
        return -ENFILE; /* the id has 24 bits for the slot */
    struct roost_conn **chunks = realloc(net->chunks, (net->nchunks + 1) * sizeof(*chunks));
    if (!chunks)
        return -ENOMEM;
    net->chunks = chunks;
    /* Slots start cache lines: a connection's hot fields then take as few as can be. */
    size_t size = NET_CONN_CHUNK * sizeof(struct roost_conn);
    struct roost_conn *chunk = aligned_alloc(_Alignof(struct roost_conn), size);
    if (!chunk)
        return -ENOMEM;
    memset(chunk, 0, size);
    uint32_t base = net->nchunks * NET_CONN_CHUNK;
    net->chunks[net->nchunks++] = chunk;
    for (uint32_t i = NET_CONN_CHUNK; i-- > 0;) {
        chunk[i].index = base + i;
        chunk[i].fd = -1;
        chunk[i].next_free = net->free_head;
        net->free_head = base + i;
    }
    return 0;
}

struct roost_conn *net_conn_alloc(struct roost_net *net, int fd, struct net_lsock *ls)
{
    if (net->free_head == UINT32_MAX && conn_table_grow(net) < 0)
        return NULL;
    struct roost_conn *c = conn_slot(net, net->free_head);
    net->free_head = c->next_free;
    /* Keep what survives reuse: the slot's index and generation, its receive buffer. */
    uint32_t index = c->index, gen = c->gen;
    char *rbuf = c->rbuf;
    memset(c, 0, sizeof(*c));
    c->index = index;
    c->gen = gen;
    c->rbuf = rbuf;
    c->net = net;
    c->r = net->r;
    c->fd = fd;
    c->ls = ls;
    c->in_use = true;
    c->oneshot = net->oneshot;
    c->rq_head = c->rq_tail = -1;
    c->budget = net->inline_budget;
    roost_timer_init(&c->recv_timer);
    roost_timer_init(&c->send_timer);
    net->nconns++;
    if (ls) {
        ls->live++;
        atomic_fetch_add_explicit(&ls->l->conns, 1, memory_order_relaxed);
    }
    return c;
}

/*
 * Closes a connection's socket on the ring: the close(2) rides the tick's one enter instead of
 * being a syscall of its own. Every op of the connection has completed by now (close_finish
 * runs at ops == 0), so nothing of the kernel's still uses the descriptor, and the number is
 * not reused before the close runs. Off the reactor thread, or once the reactor is stopping
 * (its last tick may not enter again), close(2) at once.
 */
static void close_fd(struct roost_reactor *r, int fd)
{
    if (net_on_reactor(r) && !r->stopping) {
        struct io_uring_sqe *sqe = roost__reactor_sqe(r);
        if (sqe) {
            io_uring_prep_close(sqe, fd);
            io_uring_sqe_set_data64(sqe, 0);
            return;
        }
    }
    close(fd);
}

void net_conn_free(struct roost_conn *c)
{
    struct roost_net *net = c->net;
    roost_timer_cancel(&c->recv_timer);
    roost_timer_cancel(&c->send_timer);
    net_unpark(c);
    net_recv_drop_queue(c);
    /* A buffer the handler kept, or one that raced with a cancel, goes back as well. */
    uint32_t ids[2] = {c->borrowed, c->stash_id};
    for (int i = 0; i < 2; i++)
        if (ids[i] && ids[i] < NET_BUF_INTERNAL && net->have_ring)
            net_bufring_put(net, ids[i] - 1);
    free(c->spill_task); /* a spill the handler kept, or one that raced with a cancel */
    c->spill_task = NULL;
    net_conn_drop_pipe(c);
    if (c->fd >= 0)
        close_fd(c->r, c->fd);
    c->fd = -1;
    if (c->ls) {
        c->ls->live--;
        atomic_fetch_sub_explicit(&c->ls->l->conns, 1, memory_order_relaxed);
    }
    c->in_use = false;
    c->gen = (c->gen + 1) & 0xffffffu; /* roost_conn_id changes: the old id is stale */
    c->next_free = net->free_head;
    net->free_head = c->index;
    net->nconns--;
}

/* ---- close ------------------------------------------------------------------------------ */

static void close_finish(struct roost_conn *c)
{
    struct net_req *q = c->close_q;
    c->close_q = NULL;
    net_conn_free(c);
    if (q)
        net_req_complete(q, 0); /* last: it may resume the task inline */
}

/*
 * Deadlines. A connection's next receive (or send) follows the last one at once, with a
 * deadline a little later: cancelling its timer at each end and inserting it again at each
 * start cost, at pipelining depth 1, more than the rest of the receive path. So the timer
 * stays armed and only the deadline moves. It counts from the tick's time, not a clock read
 * of its own (docs/net.md: the read missed in a cache hundreds of connections keep full), so
 * a deadline may end early by what its tick ran before the call.
 */
void net_deadline_move(struct roost_conn *c, struct roost_timer *t, uint64_t *deadline_ns,
                       uint64_t timeout_ms, roost_timer_cb cb)
{
    uint64_t deadline = c->r->now_ns + timeout_ms * 1000000u;
    *deadline_ns = deadline;
    if (roost_timer_pending(t) && t->deadline_ns <= deadline)
        return;
    roost_timer_start(t, timeout_ms, cb, c);
}

bool net_deadline_early(struct roost_conn *c, struct roost_timer *t, uint64_t deadline_ns,
                        roost_timer_cb cb)
{
    uint64_t now = roost__now_ns();
    if (now >= deadline_ns)
        return false;
    roost_timer_start_ns(t, deadline_ns - now, cb, c);
    return true;
}

void net_conn_op_begin(struct roost_conn *c)
{
    c->ops++;
}

void net_conn_op_end(struct roost_conn *c)
{
    if (--c->ops == 0 && c->close_q)
        close_finish(c);
}

static void cancel_ops(struct roost_conn *c)
{
    struct roost_op *ops[] = {c->ms_op, c->os_op, c->send_op};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (ops[i])
            net_cancel_op(c->r, ops[i]);
}

static void close_start(struct net_req *q)
{
    struct roost_conn *c = q->c;
    c->closing = true;
    net_unpark(c);
    roost_timer_cancel(&c->recv_timer);
    if (c->ops == 0) {
        c->close_q = q;
        close_finish(c);
        return;
    }
    c->close_q = q;
    cancel_ops(c);
}

/* Closes c from its task, wherever the task runs; the slot is free when this returns. */
static void conn_close(struct roost_conn *c)
{
    (void)net_send_settle(c); /* a send behind goes out before the close */
    struct net_req q = {.r = c->r, .c = c, .start = close_start};
    /* -ESHUTDOWN: the reactor is gone; its teardown frees the slot. */
    (void)net_call(&q);
}

void net_conn_abort(struct roost_conn *c)
{
    c->aborted = true;
    net_unpark(c);
    if (c->recv_q && !c->oneshot) {
        /* A multishot receive waiting for data: nothing of the kernel's to wait for. */
        struct net_req *q = c->recv_q;
        c->recv_q = NULL;
        roost_timer_cancel(&c->recv_timer);
        cancel_ops(c);
        net_req_complete(q, -ESHUTDOWN);
        return;
    }
    cancel_ops(c); /* their completions fail the waiting requests with -ESHUTDOWN */
}

/* ---- the handler's task ------------------------------------------------------------------ */

static int conn_task(void *arg)
{
    struct roost_conn *c = arg;
    struct roost_listener *l = c->ls->l;
    int rc = l->handler(c, l->arg);
    conn_close(c);
    return rc < 0 ? rc : 0;
}

int net_conn_start(struct roost_conn *c)
{
    roost_task *t;
    int rc = roost_spawn_on(c->net->task_ctx, conn_task, c, &t);
    if (rc < 0)
        return rc;
    roost_detach(t);
    return 0;
}

/* ---- public ----------------------------------------------------------------------------- */

void roost_conn_close(roost_conn *c)
{
    if (c)
        conn_close(c);
}

int roost_conn_shutdown(roost_conn *c, int how)
{
    if (how != SHUT_RD) {
        int rc = net_send_settle(c); /* a send behind goes out first */
        if (rc < 0)
            return rc;
    }
    return shutdown(c->fd, how) < 0 ? -errno : 0;
}

void roost_conn_set_recv_timeout(roost_conn *c, uint64_t ms)
{
    c->recv_timeout_ms = ms;
}

void roost_conn_set_send_timeout(roost_conn *c, uint64_t ms)
{
    c->send_timeout_ms = ms;
}

roost_reactor *roost_conn_reactor(const roost_conn *c)
{
    return c->r;
}

uint64_t roost_conn_id(const roost_conn *c)
{
    return ((uint64_t)(c->r->id & 0xffffu) << 48) | ((uint64_t)(c->gen & 0xffffffu) << 24) |
           (c->index & 0xffffffu);
}
