/*
 * The reactor loop. One tick, in this order, written down once:
 *
 *   1. drain the cross-thread inbox (up to inbox_budget items)
 *   2. run the work that was ready when the phase began (own-thread posts, resumed tasks)
 *   3. fire due timers
 *   4. ONE io_uring_enter: submit everything staged; wait only if nothing is ready,
 *      with the nearest timer deadline as the timeout
 *   5. reap the whole CQE batch, running handlers inline (their SQEs are staged for the
 *      next enter), then advance the CQ head once
 *
 * Parking and coalesced wakes. A producer links its item (a seq_cst exchange on the inbox
 * tail), then reads `parked` (seq_cst); if it is 1 and the producer is the one that swaps
 * it to 0, it writes the eventfd. The reactor, before a waiting enter, stores parked = 1
 * (seq_cst), then re-reads the inbox tail (seq_cst). In the single total order of these
 * seq_cst operations either the producer's exchange comes before the reactor's re-read
 * (the reactor sees the item and does not wait) or the reactor's store comes before the
 * producer's read (the producer sees parked and writes the eventfd, whose read completion
 * ends the wait). So an item is never left sleeping in the inbox, and while the reactor is
 * running nobody writes the eventfd at all: one write per park, however many items.
 * The reactor clears parked after the enter; a producer racing that clear may write one
 * needless wake, which costs a spurious tick and nothing else.
 */
#include <errno.h>
#include <roost/log.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "core/futex.h"
#include "core/reactor.h"
#include "core/ring.h"
#include "core/thread.h"
#include "pool/pool.h"
#include "task/task.h"

uint64_t roost_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void roost_reactor_report_failure(struct roost_reactor *r, int err, const char *what)
{
    ROOST_STAT_INC(r, task_failures);
    if (r->error_hook)
        r->error_hook(r, err, what, r->error_hook_arg);
}

/* Runs one item with the failure contract: a negative result is counted and hooked. */
static void run_work(struct roost_reactor *r, struct roost_work *w)
{
    /* Read before the call: fn may free w. */
    roost_work_fn fn = w->fn;
    void *arg = w->arg;
    int rc = fn(arg);
    if (rc < 0)
        roost_reactor_report_failure(r, rc, "posted work");
}

/* ---- posting ------------------------------------------------------------------------- */

static void wake(struct roost_reactor *r)
{
    bool write_it;
    if (r->wake_mode == ROOST_WAKE_PER_ITEM)
        write_it = true;
    else
        write_it = atomic_load_explicit(&r->parked, memory_order_seq_cst) &&
                   atomic_exchange_explicit(&r->parked, 0, memory_order_seq_cst);
    if (!write_it)
        return;
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(r->wake_fd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
    atomic_fetch_add_explicit(&r->stats.wakes_written, 1, memory_order_relaxed);
}

static int reactor_post(roost_ctx *ctx, struct roost_work *w)
{
    struct roost_reactor *r = roost_reactor_of(ctx);
    if (roost_thread_reactor() == r) {
        /* Own thread: queue locally, never inline (it runs in phase 2 of a later pass). */
        if (r->closed)
            return -ESHUTDOWN;
        roost_fifo_push(&r->local, w);
        ROOST_STAT_INC(r, local_posts);
        return 0;
    }
    /* The gate also covers the wake: the reactor closes its eventfd only after close. */
    if (!roost_inbox_enter(&r->inbox))
        return -ESHUTDOWN;
    roost_inbox_push(&r->inbox, w);
    wake(r);
    roost_inbox_leave(&r->inbox);
    return 0;
}

static bool reactor_on_thread(const roost_ctx *ctx)
{
    return roost_thread_reactor() == (const struct roost_reactor *)ctx;
}

static bool reactor_closed(const roost_ctx *ctx)
{
    return roost_inbox_closed(&((const struct roost_reactor *)ctx)->inbox);
}

static const struct roost_ctx_ops reactor_ctx_ops = {
    .post = reactor_post,
    .on_thread = reactor_on_thread,
    .closed = reactor_closed,
};

/* ---- the tick's phases ----------------------------------------------------------------- */

static unsigned drain_inbox(struct roost_reactor *r, unsigned budget)
{
    unsigned n = 0;
    struct roost_work *w;
    while (n < budget && (w = roost_inbox_pop(&r->inbox))) {
        n++;
        run_work(r, w);
    }
    ROOST_STAT_ADD(r, remote_posts, n);
    return n;
}

/* Runs what was queued locally when the phase began; later posts wait for the next pass. */
static unsigned run_local(struct roost_reactor *r)
{
    struct roost_work *w = roost_fifo_take_all(&r->local);
    unsigned n = 0;
    while (w) {
        struct roost_work *next = roost_fifo_next(w); /* read first: w's fn may free it */
        run_work(r, w);
        w = next;
        n++;
    }
    return n;
}

static void fire_timers(struct roost_reactor *r, uint64_t now)
{
    struct roost_timer *t;
    while ((t = roost_timer_heap_top(&r->timers)) && t->deadline_ns <= now) {
        roost_timer_heap_remove(&r->timers, t);
        ROOST_STAT_INC(r, timers_fired);
        t->cb(t, 0);
    }
}

static void arm_wake_read(struct roost_reactor *r, struct roost_op *op)
{
    struct io_uring_sqe *sqe = roost_reactor_sqe(r);
    if (!sqe) {
        /* Cannot happen short of a broken ring; without the read, wakes would be lost. */
        roost_log(ROOST_LOG_ERROR, "reactor %u cannot arm its wake read", r->id);
        return;
    }
    io_uring_prep_read(sqe, r->wake_fd, &r->wake_buf, sizeof(r->wake_buf), 0);
    io_uring_sqe_set_data64(sqe, roost_op_user_data(op));
}

static void on_wake_read(struct roost_reactor *r, struct roost_op *op,
                         const struct io_uring_cqe *cqe)
{
    (void)cqe;
    arm_wake_read(r, op);
}

/* Phase 4: the tick's one enter. */
static void enter(struct roost_reactor *r, bool may_wait)
{
    /* Pool posts batched during this tick go out before we may sleep. */
    roost_pool_flush_pending();
    struct __kernel_timespec ts, *tsp = NULL;
    if (may_wait) {
        struct roost_timer *t = roost_timer_heap_top(&r->timers);
        /*
         * Valgrind does not know io_uring_enter can block and keeps its one big lock while
         * the thread sleeps in it, stalling every other thread: there, wait in 1 ms slices
         * and yield the lock before each.
         */
        if (t || RUNNING_ON_VALGRIND) {
            uint64_t now = roost_now_ns();
            uint64_t d = t && t->deadline_ns > now ? t->deadline_ns - now : 0;
            if (RUNNING_ON_VALGRIND && (!t || d > 1000000u))
                d = 1000000u;
            ts.tv_sec = (long long)(d / 1000000000u);
            ts.tv_nsec = (long long)(d % 1000000000u);
            tsp = &ts;
            may_wait = d > 0;
        }
    }
    if (may_wait) {
        atomic_store_explicit(&r->parked, 1, memory_order_seq_cst);
        if (roost_inbox_busy(&r->inbox)) {
            atomic_store_explicit(&r->parked, 0, memory_order_relaxed);
            may_wait = false;
        }
    }

    if (RUNNING_ON_VALGRIND)
        sched_yield();
    unsigned staged = io_uring_sq_ready(&r->ring);
    /*
     * Busy and with nothing to submit: when the kernel also has no completion work
     * waiting for us (IORING_SQ_TASKRUN clear, nothing overflowed), an enter would do
     * nothing; skip it. A tick still makes at most one enter.
     */
    if (!may_wait && staged == 0 && r->taskrun_flag &&
        !(IO_URING_READ_ONCE(*r->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
        return;
    int rc;
    if (may_wait) {
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, tsp, NULL);
        atomic_store_explicit(&r->parked, 0, memory_order_relaxed);
    } else {
        rc = io_uring_submit_and_get_events(&r->ring);
    }
    ROOST_STAT_INC(r, enters);
    if (rc >= 0 || rc == -ETIME)
        ROOST_STAT_ADD(r, sqes_submitted, staged - io_uring_sq_ready(&r->ring));
    else if (rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        roost_log(ROOST_LOG_ERROR, "reactor %u: io_uring_enter: %s", r->id, strerror(-rc));
}

/* Phase 5: reap the batch, handlers inline, one CQ advance. */
static void reap(struct roost_reactor *r)
{
    unsigned head, n = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&r->ring, head, cqe)
    {
        roost_ring_dispatch(r, cqe);
        n++;
    }
    io_uring_cq_advance(&r->ring, n);
    ROOST_STAT_ADD(r, cqes_reaped, n);
}

/*
 * Stop: close the inbox (accepted work still runs), run everything queued, tell pending
 * timers, and refuse own-thread posts from then on. Nothing accepted is dropped.
 */
static void shut_down(struct roost_reactor *r)
{
    roost_inbox_close(&r->inbox);
    for (;;) {
        unsigned ran = drain_inbox(r, UINT32_MAX) + run_local(r);
        struct roost_timer *t = roost_timer_heap_top(&r->timers);
        if (t) {
            r->timers_closed = true;
            roost_timer_heap_remove(&r->timers, t);
            t->cb(t, -ESHUTDOWN);
            ran++;
        }
        if (!ran && !roost_inbox_busy(&r->inbox))
            break;
    }
    roost_work_returns_flush();
    roost_pool_flush_pending();
    r->closed = true;
}

static void loop(struct roost_reactor *r)
{
    for (;;) {
        ROOST_STAT_INC(r, ticks);
        drain_inbox(r, r->inbox_budget);
        run_local(r);
        roost_work_returns_flush();
        fire_timers(r, roost_now_ns());
        /* Stopping: keep ticking while the network module still waits for completions. */
        if (r->stopping && !(r->net_ops && r->net_ops->draining(r)))
            break;
        enter(r, roost_fifo_empty(&r->local));
        reap(r);
    }
    shut_down(r);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int stop_work_run(void *arg)
{
    struct roost_reactor *r = arg;
    r->stopping = true;
    return 0;
}

void roost_reactor_request_stop(struct roost_reactor *r)
{
    if (atomic_exchange_explicit(&r->stop_requested, 1, memory_order_acq_rel))
        return;
    /*
     * FIFO: everything posted before the request runs before the reactor stops. The post
     * fails only if the reactor never started, and then there is nothing to stop.
     */
    (void)roost_ctx_post_work(&r->ctx, &r->stop_work);
}

void roost_reactor_init(struct roost_reactor *r, struct roost_runtime *rt, unsigned id,
                        const struct roost_config *cfg)
{
    memset(r, 0, sizeof(*r));
    r->ctx.ops = &reactor_ctx_ops;
    r->ctx.exclusive = true;
    roost_inbox_init(&r->inbox);
    r->rt = rt;
    r->id = id;
    r->wake_mode = cfg->wake;
    r->resume_mode = cfg->resume;
    r->stack_size = cfg->stack_size;
    r->inbox_budget = cfg->inbox_budget;
    r->affinity = cfg->affinity;
    r->error_hook = cfg->error_hook;
    r->error_hook_arg = cfg->error_hook_arg;
    r->sq_entries = cfg->sq_entries;
    r->wake_fd = -1;
    r->ops.free_head = UINT32_MAX;
    roost_timer_heap_init(&r->timers);
    roost_fifo_init(&r->local);
    r->stop_work.fn = stop_work_run;
    r->stop_work.arg = r;
}

static void publish_start(struct roost_reactor *r, int rc)
{
    r->start_rc = rc;
    atomic_store_explicit(&r->started, 1, memory_order_release);
    roost_futex_wake(&r->started, 1);
}

void *roost_reactor_thread_main(void *arg)
{
    struct roost_reactor *r = arg;
    roost_thread_set_reactor(r);
    roost_thread_set_exclusive(&r->ctx);
    if (r->affinity)
        roost_thread_set_ctx(&r->ctx);

    int rc = -ENOMEM;
    if (!roost_sched_self(r->stack_size))
        goto fail;
    /* SINGLE_ISSUER: the ring must be created by the thread that submits to it. */
    rc = roost_ring_setup(r);
    if (rc < 0)
        goto fail_sched;
    r->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (r->wake_fd < 0) {
        rc = -errno;
        goto fail_ring;
    }
    struct roost_op *wake_op = roost_op_alloc(r, ROOST_OP_WAKE, on_wake_read, r);
    if (!wake_op) {
        rc = -ENOMEM;
        goto fail_eventfd;
    }
    arm_wake_read(r, wake_op);
    publish_start(r, 0);

    loop(r);

    io_uring_queue_exit(&r->ring);
    close(r->wake_fd);
    r->wake_fd = -1;
    roost_sched_thread_exit();
    return NULL;

fail_eventfd:
    close(r->wake_fd);
    r->wake_fd = -1;
fail_ring:
    io_uring_queue_exit(&r->ring);
fail_sched:
    roost_sched_thread_exit();
fail:
    /* Refuse posts: the thread is gone. */
    roost_inbox_close(&r->inbox);
    r->closed = true;
    publish_start(r, rc);
    return NULL;
}

void roost_reactor_free(struct roost_reactor *r)
{
    if (r->net_ops)
        r->net_ops->destroy(r);
    roost_timer_heap_destroy(&r->timers);
    roost_op_table_destroy(&r->ops);
}

/* ---- public accessors ------------------------------------------------------------------ */

roost_reactor *roost_reactor_current(void)
{
    return roost_thread_reactor();
}

roost_ctx *roost_reactor_ctx(roost_reactor *r)
{
    return &r->ctx;
}

unsigned roost_reactor_id(const roost_reactor *r)
{
    return r->id;
}

const char *roost_reactor_ring_mode(const roost_reactor *r)
{
    return r->ring_mode;
}

int roost_reactor_stats(const roost_reactor *r, struct roost_stats *out)
{
#define ROOST_COPY_(name, help)                                                                    \
    out->name = atomic_load_explicit(&((roost_reactor *)r)->stats.name, memory_order_relaxed);
    ROOST_STATS_FIELDS(ROOST_COPY_)
#undef ROOST_COPY_
    return 0;
}
