/*
 * Requests: how a task's operation reaches its connection's reactor and comes back.
 *
 * On the reactor thread (run-on=reactor, the default) a request's start runs directly:
 * it stages the SQE or completes at once (data already queued), and the task awaits the
 * waiter, which the CQE handler completes with roost__complete_local (inline resume under
 * resume=inline). A task elsewhere (run-on=pool) posts the request's embedded work item
 * to the reactor's inbox (no allocation; one wake per item or per park, per the wake
 * switch) and the completion posts the task back to the pool.
 *
 * Cancel. The waiter's cancel hook runs where the task's home is. On the reactor it calls
 * q->cancel directly. Elsewhere it posts q->cancel_work, and the request must outlive that
 * item, so a completion that finds a posted cancel not yet run is deferred until the item
 * runs (cstate: NONE -> POSTED by the hook, then the reactor alone moves it to RAN or
 * DONE). The hook and the completion race only on that one CAS.
 */
#include <errno.h>

#include "net/net.h"
#include "task/task.h"

static void do_complete(struct net_req *q, int res)
{
    q->pending = false;
    q->deferred = false;
    roost__complete_local(&q->w, res);
}

void net_req_complete(struct net_req *q, int res)
{
    q->res = res;
    unsigned s = NET_CANCEL_NONE;
    if (atomic_compare_exchange_strong_explicit(&q->cstate, &s, NET_CANCEL_DONE,
                                                memory_order_acq_rel, memory_order_acquire)) {
        do_complete(q, res);
        return;
    }
    if (s == NET_CANCEL_POSTED) {
        /* The cancel item is on its way and points at q: q must live until it has run. */
        q->pending = false;
        q->deferred = true;
        return;
    }
    do_complete(q, res); /* RAN: the cancel item is done with q */
}

static int cancel_work_run(void *arg)
{
    struct net_req *q = arg;
    if (q->deferred) {
        atomic_store_explicit(&q->cstate, NET_CANCEL_DONE, memory_order_relaxed);
        do_complete(q, q->res);
        return 0;
    }
    atomic_store_explicit(&q->cstate, NET_CANCEL_RAN, memory_order_relaxed);
    if (q->pending && q->cancel)
        q->cancel(q);
    return 0;
}

static bool req_cancel_hook(struct roost_waiter *w)
{
    struct net_req *q = w->source;
    if (net_on_reactor(q->r)) {
        if (q->pending && q->cancel)
            q->cancel(q);
        return false; /* the cancel path completes q itself */
    }
    unsigned s = NET_CANCEL_NONE;
    if (!atomic_compare_exchange_strong_explicit(&q->cstate, &s, NET_CANCEL_POSTED,
                                                 memory_order_acq_rel, memory_order_acquire))
        return false;                    /* already completed: the resume is on its way */
    q->cancel_work.fn = cancel_work_run; /* the CAS above made this the only post of it */
    q->cancel_work.arg = q;
    if (roost_ctx_post_work(&q->r->ctx, &q->cancel_work) < 0) {
        /* The reactor is gone: nothing will complete q any more than it would have. */
        atomic_store_explicit(&q->cstate, NET_CANCEL_RAN, memory_order_relaxed);
    }
    return false;
}

static int start_work_run(void *arg)
{
    struct net_req *q = arg;
    q->pending = true;
    q->start(q);
    return 0;
}

int net_call(struct net_req *q)
{
    /* Only a task can wait; anything else would leave the op pointing at a dead frame. */
    if (!roost_task_current())
        return -EPERM;
    roost_waiter_init(&q->w);
    roost_waiter_set_cancel(&q->w, q->cancel ? req_cancel_hook : NULL, q);
    atomic_init(&q->cstate, NET_CANCEL_NONE);
    q->pending = false;
    q->deferred = false;
    q->cancelled = false;
    q->timed_out = false;
    q->res = 0;
    if (net_on_reactor(q->r)) {
        q->pending = true;
        q->start(q);
    } else {
        /* This request is what the reactor was polling for: the task is no longer away. */
        struct roost_reactor *away = roost__task_away_take();
        q->work.fn = start_work_run;
        q->work.arg = q;
        int rc = roost_ctx_post_work(&q->r->ctx, &q->work);
        if (away)
            roost__reactor_away_sub(away);
        if (rc < 0)
            return rc;
    }
    return roost_wait(&q->w);
}

void net_cancel_op(struct roost_reactor *r, struct roost_op *op)
{
    struct io_uring_sqe *sqe = roost__reactor_sqe(r);
    if (!sqe)
        return;
    io_uring_prep_cancel64(sqe, roost__op_user_data(op), 0);
    io_uring_sqe_set_data64(sqe, 0);
}

struct io_uring_sqe *net_op_sqe(struct roost_reactor *r, uint8_t kind, roost_op_fn fn, void *owner,
                                struct roost_op **out)
{
    struct roost_op *op = roost__op_alloc(r, kind, fn, owner);
    struct io_uring_sqe *sqe = op ? roost__reactor_sqe(r) : NULL;
    if (!sqe) {
        if (op)
            roost__op_free(r, op);
        return NULL;
    }
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op)); /* the prep_* helpers keep it */
    *out = op;
    return sqe;
}
