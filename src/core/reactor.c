/*
 * The reactor loop. One tick, in this order, written down once here and spelled out as one
 * call per step in loop():
 *
 *   1. tick_begin            count the tick
 *   2. drain_inbox           cross-thread posts, up to inbox_budget items
 *   3. run_local             the work ready when the step began (own-thread posts, resumed
 *                            tasks); what it posts waits for the next tick
 *   4. returns_flush         hand post items back to their producers' caches
 *   5. fire_timers           due timers
 *   6. layers_draining       stopping: leave once no attached layer still winds down
 *   7. layers_before_enter   the attached layers' hooks (the pool's batched posts go out)
 *   8. plan_wait, poll_before_park, park, valgrind_slice
 *                            wait only if nothing is ready, until the nearest timer;
 *                            while tasks are away on other threads and no I/O is pending,
 *                            poll the inbox briefly; announce parking, re-check the inbox;
 *                            under valgrind, wait in 1 ms slices and yield its lock while
 *                            parked
 *   9. enter                 ONE io_uring_enter: submit everything staged, wait as planned;
 *                            a busy tick with nothing to submit may skip it (enter_needed)
 *  10. unpark, reap          the whole CQE batch, handlers inline (their SQEs are staged for
 *                            the next enter), one CQ advance
 *  11. run_local             what the reap posted to this reactor (resume=posted: every
 *                            resume) runs in the same tick, as it would have run inline, so
 *                            that a posted resume costs a FIFO push and pop and never a
 *                            tick of its own (which could mean an enter of its own); only
 *                            when step 3 left nothing queued, so that work posted by work
 *                            still waits one tick and stays behind it (FIFO)
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
 *
 * Polling before parking. Coalesced wakes save nothing when the reactor parks between
 * every two items, which is what happens when its tasks' continuations run on a pool
 * worker sharing its CPU: each item finds it parked. So, in coalesced mode, a reactor about
 * to park while some of its tasks are away on other threads (the `away` count: offloads in
 * flight, run-on=pool tasks between a resume and their next request) first polls its inbox
 * for a short bounded time, with sched_yield between the checks (on a shared CPU that is
 * what lets the worker run). It has not announced parking, so producers see parked == 0
 * and write nothing. If the poll finds an item the tick does not wait; if the budget runs
 * out or nothing is away any more, it parks exactly as above (and a budget run out makes
 * the next parks skip the poll, more of them after each miss: poll_before_park). No
 * producer holds a wake back; the poll only moves the moment the reactor announces
 * parking, and the argument above starts from that announcement, so it is untouched.
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

#include "base/futex.h"
#include "core/reactor.h"
#include "core/ring.h"
#include "core/thread.h"

void roost__reactor_report_failure(struct roost_reactor *r, int err, const char *what)
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
        roost__reactor_report_failure(r, rc, "posted work");
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

/*
 * Deferred wakes (reactor.h). A batch owner (a runtime pool's worker) running a task slice
 * does not write the eventfd of a parked reactor at once: it notes
 * the reactor and writes once when that job ends, however many items the job posted there.
 * It never holds a wake across the next job: a job is user code of any length, and may even
 * wait for the task the held wake would resume (test_pool_wakes). So on one CPU shared by a
 * reactor and a worker, a burst of N jobs could still cost up to N writes (the reactor
 * wakes, preempts the worker and parks again between jobs); what the batch saves is the
 * writes of a job that posts several items, and what saves the rest is the reactor's poll
 * before parking (top of this file), which needs no producer to hold anything.
 *
 * Why no wake is lost: the check of `parked` only moves later in the producer's program
 * order, after the seq_cst exchange that linked its item, so the argument at the top of
 * this file holds unchanged at flush time: either the reactor re-reads the tail after our
 * exchange and does not wait, or we see parked and write. Meanwhile the item may wait in
 * the inbox until the owner's job ends, and no longer. A reactor not
 * parked when the item is linked needs no wake at all, as before, so nothing is noted.
 * Flushing re-enters the inbox's gate: a reactor that closed meanwhile drains everything
 * in its shutdown and its eventfd is not written. Only a runtime's own pool owns batches,
 * and the runtime joins it before it frees its reactors, so the noted reactor is alive.
 */
#define DEFERRED_WAKES_MAX 8

struct deferred_wakes {
    bool owner;
    unsigned depth;
    unsigned n;
    struct roost_reactor *r[DEFERRED_WAKES_MAX];
};

static _Thread_local struct deferred_wakes deferred;

__attribute__((noinline)) static struct deferred_wakes *deferred_self(void)
{
    return &deferred;
}

void roost__wakes_batch_owner(bool on)
{
    struct deferred_wakes *d = deferred_self();
    if (!on && d->owner) {
        d->depth = 0;
        roost__wakes_flush();
    }
    d->owner = on;
}

void roost__wakes_defer_begin(void)
{
    struct deferred_wakes *d = deferred_self();
    if (d->owner)
        d->depth++;
}

void roost__wakes_defer_end(void)
{
    struct deferred_wakes *d = deferred_self();
    if (d->depth)
        d->depth--;
}

/* True if the wake r needs is left to the flush (noted, or needless: r is not parked). */
static bool wake_deferred(struct roost_reactor *r)
{
    struct deferred_wakes *d = deferred_self();
    if (!d->depth)
        return false;
    if (!atomic_load_explicit(&r->parked, memory_order_seq_cst))
        return true; /* running: it re-checks the inbox before it parks */
    for (unsigned i = 0; i < d->n; i++)
        if (d->r[i] == r)
            return true;
    if (d->n == DEFERRED_WAKES_MAX)
        return false;
    d->r[d->n++] = r;
    return true;
}

void roost__wakes_flush(void)
{
    struct deferred_wakes *d = deferred_self();
    for (unsigned i = 0; i < d->n; i++) {
        struct roost_reactor *r = d->r[i];
        if (!roost__inbox_enter(&r->inbox))
            continue; /* closed: its shutdown drains the item without a wake */
        wake(r);
        roost__inbox_leave(&r->inbox);
    }
    d->n = 0;
}

static int reactor_post(roost_ctx *ctx, struct roost_work *w)
{
    struct roost_reactor *r = roost__reactor_of(ctx);
    if (roost__thread_reactor() == r) {
        /* Own thread: queue locally, never inline (it runs in phase 2 of a later pass). */
        if (r->closed)
            return -ESHUTDOWN;
        roost__fifo_push(&r->local, w);
        ROOST_STAT_INC(r, local_posts);
        return 0;
    }
    /* The gate also covers the wake: the reactor closes its eventfd only after close. */
    if (!roost__inbox_enter(&r->inbox))
        return -ESHUTDOWN;
    roost__inbox_push(&r->inbox, w);
    if (r->wake_mode == ROOST_WAKE_PER_ITEM || !wake_deferred(r))
        wake(r);
    roost__inbox_leave(&r->inbox);
    return 0;
}

static bool reactor_on_thread(const roost_ctx *ctx)
{
    return roost__thread_reactor() == (const struct roost_reactor *)ctx;
}

static bool reactor_closed(const roost_ctx *ctx)
{
    return roost__inbox_closed(&((const struct roost_reactor *)ctx)->inbox);
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
    while (n < budget && (w = roost__inbox_pop(&r->inbox))) {
        n++;
        run_work(r, w);
    }
    ROOST_STAT_ADD(r, remote_posts, n);
    return n;
}

/* Runs what was queued locally when the phase began; later posts wait for the next pass. */
static unsigned run_local(struct roost_reactor *r)
{
    struct roost_work *w = roost__fifo_take_all(&r->local);
    unsigned n = 0;
    while (w) {
        struct roost_work *next = roost__fifo_next(w); /* read first: w's fn may free it */
        run_work(r, w);
        w = next;
        n++;
    }
    return n;
}

static void fire_timers(struct roost_reactor *r, uint64_t now)
{
    struct roost_timer *t;
    while ((t = roost__timer_heap_top(&r->timers)) && t->deadline_ns <= now) {
        roost__timer_heap_remove(&r->timers, t);
        ROOST_STAT_INC(r, timers_fired);
        t->cb(t, 0);
    }
}

static void arm_wake_read(struct roost_reactor *r, struct roost_op *op)
{
    struct io_uring_sqe *sqe = roost__reactor_sqe(r);
    if (!sqe) {
        /* Cannot happen short of a broken ring; without the read, wakes would be lost. */
        roost_log(ROOST_LOG_ERROR, "reactor %u cannot arm its wake read", r->id);
        return;
    }
    io_uring_prep_read(sqe, r->wake_fd, &r->wake_buf, sizeof(r->wake_buf), 0);
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    r->wake_read_staged = true;
}

static void on_wake_read(struct roost_reactor *r, struct roost_op *op,
                         const struct io_uring_cqe *cqe)
{
    (void)cqe;
    arm_wake_read(r, op);
}

/* ---- steps 6 and 7: the attached layers ----------------------------------------------- */

static unsigned hook_count(const struct roost_reactor *r)
{
    return atomic_load_explicit(&r->nhooks, memory_order_acquire);
}

/* True while any layer still winds down; every layer is asked every time. */
static bool layers_draining(struct roost_reactor *r)
{
    bool busy = false;
    for (unsigned i = 0, n = hook_count(r); i < n; i++)
        if (r->hooks[i].hooks->draining && r->hooks[i].hooks->draining(r, r->hooks[i].arg))
            busy = true;
    return busy;
}

static void layers_before_enter(struct roost_reactor *r)
{
    for (unsigned i = 0, n = hook_count(r); i < n; i++)
        if (r->hooks[i].hooks->before_enter)
            r->hooks[i].hooks->before_enter(r, r->hooks[i].arg);
}

/* ---- step 8: how long the enter may wait -------------------------------------------------- */

struct tick_wait {
    bool wait;    /* the enter may block */
    bool bounded; /* ... for at most ns */
    uint64_t ns;
};

/* Wait only when nothing is ready, and no longer than the nearest timer. */
static struct tick_wait plan_wait(struct roost_reactor *r, bool idle)
{
    struct tick_wait w = {.wait = idle, .bounded = false, .ns = 0};
    struct roost_timer *t = roost__timer_heap_top(&r->timers);
    if (idle && t) {
        uint64_t now = roost__now_ns();
        w.ns = t->deadline_ns > now ? t->deadline_ns - now : 0;
        w.bounded = true;
        w.wait = w.ns > 0;
    }
    return w;
}

/*
 * Valgrind's time slicing, all of it. Valgrind does not know io_uring_enter can block and
 * keeps its one big lock while the thread sleeps in it, stalling every other thread: under
 * valgrind a wait lasts at most 1 ms, and the lock is yielded before every enter (after
 * parking, so that other threads see the reactor parked).
 */
static void valgrind_slice(struct tick_wait *w)
{
    if (!RUNNING_ON_VALGRIND)
        return;
    if (w->wait && (!w->bounded || w->ns > 1000000u)) {
        w->bounded = true;
        w->ns = 1000000u;
    }
    sched_yield();
}

/* The most parks a reactor whose polls keep missing skips before it polls again. */
#define PARK_POLL_BACKOFF_MAX 64u

/*
 * True if I/O is pending that a poll would delay: staged SQEs (the enter submits them),
 * reaped-to-be completions, or completion work the kernel flags for us.
 */
static bool io_pending(struct roost_reactor *r)
{
    /*
     * The eventfd read re-armed after a wake is not I/O anyone waits for: the enter that
     * parks submits it, and until the reactor parks nobody needs to wake it.
     */
    if (io_uring_sq_ready(&r->ring) > (r->wake_read_staged ? 1u : 0u) ||
        io_uring_cq_ready(&r->ring))
        return true;
    unsigned kflags = IO_URING_READ_ONCE(*r->ring.sq.kflags);
    return kflags & (IORING_SQ_CQ_OVERFLOW | (r->taskrun_flag ? IORING_SQ_TASKRUN : 0));
}

/*
 * Step 8, before parking (the argument at the top of this file): while tasks are away and
 * will post back, check the inbox up to park_poll_spins times within park_poll_ns, with
 * sched_yield between. Not when I/O is pending or a timer is due sooner than the budget,
 * and I/O arriving meanwhile ends it: the poll never delays I/O or a timer. An item found
 * means no wait this tick.
 */
static void poll_before_park(struct roost_reactor *r, struct tick_wait *w)
{
    if (!w->wait || !r->park_poll_ns || !atomic_load_explicit(&r->away, memory_order_relaxed))
        return;
    if ((w->bounded && w->ns <= r->park_poll_ns) || io_pending(r))
        return;
    if (r->park_poll_skip) { /* backing off: the last polls found nothing */
        r->park_poll_skip--;
        return;
    }
    ROOST_STAT_INC(r, park_polls);
    uint64_t end = roost__now_ns() + r->park_poll_ns;
    for (unsigned i = 0; i < r->park_poll_spins; i++) {
        sched_yield();
        /* Acquire: the away count drops only after its post is linked (reactor.h). */
        unsigned away = atomic_load_explicit(&r->away, memory_order_acquire);
        if (roost__inbox_busy(&r->inbox)) {
            ROOST_STAT_INC(r, park_poll_hits);
            r->park_poll_backoff = 0;
            w->wait = false;
            return;
        }
        /* I/O that came in meanwhile ends the poll too: the enter then returns at once. */
        if (!away || io_pending(r))
            return;
        if (roost__now_ns() >= end)
            break;
    }
    /*
     * The budget ran out: what is away takes longer than a poll (a slow offload). Each such
     * miss doubles the parks skipped before the next poll, up to PARK_POLL_BACKOFF_MAX, and a
     * hit ends the backoff: a reactor ticking often beside a long offload would otherwise
     * spend a poll's budget of CPU on every park.
     */
    r->park_poll_backoff = r->park_poll_backoff == 0                      ? 1
                           : r->park_poll_backoff < PARK_POLL_BACKOFF_MAX ? 2 * r->park_poll_backoff
                                                                          : PARK_POLL_BACKOFF_MAX;
    r->park_poll_skip = r->park_poll_backoff;
}

/* Announce parking, then re-check the inbox (the argument at the top of this file). */
static void park(struct roost_reactor *r, struct tick_wait *w)
{
    if (!w->wait)
        return;
    atomic_store_explicit(&r->parked, 1, memory_order_seq_cst);
    if (roost__inbox_busy(&r->inbox)) {
        atomic_store_explicit(&r->parked, 0, memory_order_relaxed);
        w->wait = false;
    }
}

/* ---- step 9: the tick's one enter ---------------------------------------------------------- */

/* How many busy ticks an IORING_SQ_TASKRUN that led to an empty enter is not believed. */
#define TASKRUN_DISTRUST_TICKS 64u

/*
 * Busy (not waiting) and with nothing to submit, an enter is worth making only if the
 * kernel has completion work for us: IORING_SQ_TASKRUN or an overflowed CQ. The kernel can
 * leave TASKRUN set with nothing queued, so, as liburing does with its `looped` flag, the
 * hint is worth at most one enter that finds nothing: after such an enter, busy ticks skip
 * the enter for TASKRUN_DISTRUST_TICKS ticks whatever the flag says (an overflow is still
 * believed). The bound keeps completions that did arrive from starving behind a reactor
 * that never idles; any waiting or submitting enter, which runs the kernel's work anyway,
 * ends the distrust.
 */
static bool enter_needed(struct roost_reactor *r, bool wait, unsigned staged)
{
    if (wait || staged > 0 || !r->taskrun_flag)
        return true;
    unsigned kflags = IO_URING_READ_ONCE(*r->ring.sq.kflags);
    if (kflags & IORING_SQ_CQ_OVERFLOW)
        return true;
    if (!(kflags & IORING_SQ_TASKRUN))
        return false;
    if (r->taskrun_distrust) {
        r->taskrun_distrust--;
        return false;
    }
    return true;
}

/* Submits what is staged and waits as planned; returns whether the kernel was entered. */
static bool enter(struct roost_reactor *r, const struct tick_wait *w)
{
    unsigned staged = io_uring_sq_ready(&r->ring);
    if (!enter_needed(r, w->wait, staged))
        return false;
    bool hint_only = !w->wait && staged == 0;
    int rc;
    if (w->wait) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = (long long)(w->ns / 1000000000u),
                                       .tv_nsec = (long long)(w->ns % 1000000000u)};
        rc = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, w->bounded ? &ts : NULL, NULL);
    } else {
        rc = io_uring_submit_and_get_events(&r->ring);
    }
    ROOST_STAT_INC(r, enters);
    r->tick_enters++;
    if (io_uring_sq_ready(&r->ring) == 0)
        r->wake_read_staged = false;
    if (rc >= 0 || rc == -ETIME)
        ROOST_STAT_ADD(r, sqes_submitted, staged - io_uring_sq_ready(&r->ring));
    else if (rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        roost_log(ROOST_LOG_ERROR, "reactor %u: io_uring_enter: %s", r->id, strerror(-rc));
    if (!hint_only)
        r->taskrun_distrust = 0;
    else if (io_uring_cq_ready(&r->ring) == 0)
        r->taskrun_distrust = TASKRUN_DISTRUST_TICKS;
    return true;
}

static void unpark(struct roost_reactor *r, const struct tick_wait *w)
{
    if (w->wait)
        atomic_store_explicit(&r->parked, 0, memory_order_relaxed);
}

/*
 * Step 10: reap the batch, handlers inline, one CQ advance. The completions ready now, in
 * order, each warmed a few completions before its handler runs (roost__ring_dispatch_batch):
 * with hundreds of connections the state each one touches is cold, and fetching the next
 * ones' while this one runs hides most of the wait. Completions that arrive meanwhile (only
 * without DEFER_TASKRUN) wait for the next tick's reap.
 */
static void reap(struct roost_reactor *r)
{
    unsigned head = *r->ring.cq.khead;
    unsigned n = io_uring_cq_ready(&r->ring);
    roost__ring_dispatch_batch(r, head, n);
    io_uring_cq_advance(&r->ring, n);
    ROOST_STAT_ADD(r, cqes_reaped, n);
}

/*
 * Stop: close the inbox (accepted work still runs), run everything queued, tell pending
 * timers, and refuse own-thread posts from then on. Nothing accepted is dropped.
 */
static void shut_down(struct roost_reactor *r)
{
    roost__inbox_close(&r->inbox);
    for (;;) {
        unsigned ran = drain_inbox(r, UINT32_MAX) + run_local(r);
        struct roost_timer *t = roost__timer_heap_top(&r->timers);
        if (t) {
            r->timers_closed = true;
            roost__timer_heap_remove(&r->timers, t);
            t->cb(t, -ESHUTDOWN);
            ran++;
        }
        if (!ran && !roost__inbox_busy(&r->inbox))
            break;
    }
    roost__work_returns_flush();
    /* The reactor will not enter again: what the layers batched goes out now. */
    layers_before_enter(r);
    r->closed = true;
}

/* Step 1: the tick starts; a test holds every tick to one enter. */
static void tick_begin(struct roost_reactor *r)
{
    ROOST_STAT_INC(r, ticks);
    if (r->tick_enters > r->max_tick_enters)
        r->max_tick_enters = r->tick_enters;
    r->tick_enters = 0;
}

static void loop(struct roost_reactor *r)
{
    for (;;) {
        tick_begin(r);
        drain_inbox(r, r->inbox_budget);
        run_local(r);
        roost__work_returns_flush();
        fire_timers(r, r->now_ns);
        if (r->stopping && !layers_draining(r))
            break;
        layers_before_enter(r);
        struct tick_wait w = plan_wait(r, roost__fifo_empty(&r->local));
        poll_before_park(r, &w);
        park(r, &w);
        valgrind_slice(&w);
        enter(r, &w);
        unpark(r, &w);
        /* The tick's one clock read: completions reaped below, the tasks they resume and the
         * next tick's timers all see this time (roost_reactor_now_ns). */
        r->now_ns = roost__now_ns();
        bool queued = !roost__fifo_empty(&r->local);
        reap(r);
        if (!queued)
            run_local(r);
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

void roost__reactor_request_stop(struct roost_reactor *r)
{
    if (atomic_exchange_explicit(&r->stop_requested, 1, memory_order_acq_rel))
        return;
    /*
     * FIFO: everything posted before the request runs before the reactor stops. The post
     * fails only if the reactor never started, and then there is nothing to stop.
     */
    (void)roost_ctx_post_work(&r->ctx, &r->stop_work);
}

void roost__reactor_init(struct roost_reactor *r, void *owner, unsigned id,
                         const struct roost__core_config *cfg)
{
    memset(r, 0, sizeof(*r));
    r->ctx.ops = &reactor_ctx_ops;
    r->ctx.exclusive = true;
    roost__inbox_init(&r->inbox);
    r->owner = owner;
    r->id = id;
    r->wake_mode = cfg->wake;
    /* Per-item wakes stay the storm's baseline (benchmark row c): no poll there. */
    r->park_poll_ns = cfg->wake == ROOST_WAKE_COALESCED ? cfg->park_poll_ns : 0;
    r->park_poll_spins = cfg->park_poll_spins;
    r->inbox_budget = cfg->inbox_budget;
    r->affinity = cfg->affinity;
    r->error_hook = cfg->error_hook;
    r->error_hook_arg = cfg->error_hook_arg;
    r->sq_entries = cfg->sq_entries;
    r->wake_fd = -1;
    r->ops.free_head = UINT32_MAX;
    roost__timer_heap_init(&r->timers);
    roost__fifo_init(&r->local);
    r->stop_work.fn = stop_work_run;
    r->stop_work.arg = r;
}

static void publish_start(struct roost_reactor *r, int rc)
{
    r->start_rc = rc;
    atomic_store_explicit(&r->started, 1, memory_order_release);
    roost__futex_wake(&r->started, 1);
}

/* Runs the thread_start hooks in order; on a failure, undoes the ones that ran. */
static int layers_thread_start(struct roost_reactor *r)
{
    unsigned n = hook_count(r);
    for (unsigned i = 0; i < n; i++) {
        const struct roost__hooks *h = r->hooks[i].hooks;
        int rc = h->thread_start ? h->thread_start(r, r->hooks[i].arg) : 0;
        if (rc < 0) {
            while (i-- > 0)
                if (r->hooks[i].hooks->thread_exit)
                    r->hooks[i].hooks->thread_exit(r, r->hooks[i].arg);
            return rc;
        }
    }
    return 0;
}

static void layers_thread_exit(struct roost_reactor *r)
{
    for (unsigned i = hook_count(r); i-- > 0;)
        if (r->hooks[i].hooks->thread_exit)
            r->hooks[i].hooks->thread_exit(r, r->hooks[i].arg);
}

void *roost__reactor_thread_main(void *arg)
{
    struct roost_reactor *r = arg;
    roost__thread_set_reactor(r);
    roost__thread_set_exclusive(&r->ctx);
    if (r->affinity)
        roost__thread_set_ctx(&r->ctx);

    int rc = layers_thread_start(r);
    if (rc < 0)
        goto fail;
    /* SINGLE_ISSUER: the ring must be created by the thread that submits to it. */
    rc = roost__ring_setup(r);
    if (rc < 0)
        goto fail_layers;
    r->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (r->wake_fd < 0) {
        rc = -errno;
        goto fail_ring;
    }
    struct roost_op *wake_op = roost__op_alloc(r, ROOST_OP_WAKE, on_wake_read, r);
    if (!wake_op) {
        rc = -ENOMEM;
        goto fail_eventfd;
    }
    arm_wake_read(r, wake_op);
    r->now_ns = roost__now_ns();
    publish_start(r, 0);

    loop(r);

    io_uring_queue_exit(&r->ring);
    close(r->wake_fd);
    r->wake_fd = -1;
    layers_thread_exit(r);
    return NULL;

fail_eventfd:
    close(r->wake_fd);
    r->wake_fd = -1;
fail_ring:
    io_uring_queue_exit(&r->ring);
fail_layers:
    layers_thread_exit(r);
fail:
    /* Refuse posts: the thread is gone. */
    roost__inbox_close(&r->inbox);
    r->closed = true;
    publish_start(r, rc);
    return NULL;
}

void roost__reactor_free(struct roost_reactor *r)
{
    for (unsigned i = hook_count(r); i-- > 0;)
        if (r->hooks[i].hooks->destroy)
            r->hooks[i].hooks->destroy(r, r->hooks[i].arg);
    atomic_store_explicit(&r->nhooks, 0, memory_order_release);
    roost__timer_heap_destroy(&r->timers);
    roost__op_table_destroy(&r->ops);
}

/* ---- attaching layers (hooks.h) ------------------------------------------------------------ */

int roost__reactor_hooks_add(struct roost_reactor *r, const struct roost__hooks *h, void *arg)
{
    unsigned n = hook_count(r);
    if (roost__reactor_hooks_arg(r, h))
        return -EEXIST;
    if (n == ROOST__HOOKS_MAX)
        return -ENOSPC;
    r->hooks[n].hooks = h;
    r->hooks[n].arg = arg;
    /* Release: a reader that sees the count sees the entry. */
    atomic_store_explicit(&r->nhooks, n + 1, memory_order_release);
    return 0;
}

void *roost__reactor_hooks_arg(const struct roost_reactor *r, const struct roost__hooks *h)
{
    for (unsigned i = 0, n = hook_count(r); i < n; i++)
        if (r->hooks[i].hooks == h)
            return r->hooks[i].arg;
    return NULL;
}

/* ---- public accessors ------------------------------------------------------------------ */

uint64_t roost_reactor_now_ns(void)
{
    struct roost_reactor *r = roost__thread_reactor();
    return r && r->now_ns ? r->now_ns : roost__now_ns();
}

roost_reactor *roost_reactor_current(void)
{
    return roost__thread_reactor();
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

void roost__reactor_core_stats(const struct roost_reactor *r, struct roost_stats *out)
{
#define ROOST_COPY_(name, help)                                                                    \
    out->name =                                                                                    \
        atomic_load_explicit(&((struct roost_reactor *)r)->stats.name, memory_order_relaxed);
    ROOST_STATS_CORE_FIELDS(ROOST_COPY_)
#undef ROOST_COPY_
}
