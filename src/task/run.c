/*
 * roost_run: block-on. The calling plain thread becomes a temporary exclusive context
 * with its own inbox, runs the root task, and pumps until every task spawned on the
 * context has finished (counted like AsyncContext counts async-void operations).
 *
 * Parking: the pump stores parked = 1 (seq_cst), re-checks its inbox and task count, and
 * only then sleeps on the futex; producers link their item (seq_cst exchange) or drop the
 * count (seq_cst), then swap parked to 0 and wake the futex if it was 1 — the same
 * handshake as a reactor's coalesced wake (see core/reactor.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <roost/run.h>
#include <roost/log.h>

#include "core/ctx.h"
#include "base/fifo.h"
#include "base/futex.h"
#include "core/inbox.h"
#include "core/reactor.h"
#include "core/thread.h"
#include "task/task.h"

struct run_ctx {
    struct roost_ctx ctx; /* first member */
    struct roost_inbox inbox;
    _Atomic unsigned parked;
    _Atomic long tasks;      /* spawned here and not yet finished */
    struct roost_fifo local; /* posts from the pumping thread itself */
};

static void wake_pump(struct run_ctx *rc)
{
    if (atomic_exchange_explicit(&rc->parked, 0, memory_order_seq_cst))
        roost__futex_wake(&rc->parked, 1);
}

static bool run_on_thread(const roost_ctx *ctx)
{
    return roost__thread_exclusive() == ctx;
}

static int run_post(roost_ctx *ctx, struct roost_work *w)
{
    struct run_ctx *rc = (struct run_ctx *)ctx;
    if (run_on_thread(ctx)) {
        roost__fifo_push(&rc->local, w);
        return 0;
    }
    if (!roost__inbox_enter(&rc->inbox))
        return -ESHUTDOWN;
    roost__inbox_push(&rc->inbox, w);
    wake_pump(rc);
    roost__inbox_leave(&rc->inbox);
    return 0;
}

static bool run_closed(const roost_ctx *ctx)
{
    return roost__inbox_closed(&((const struct run_ctx *)ctx)->inbox);
}

static void run_task_delta(roost_ctx *ctx, int delta)
{
    struct run_ctx *rc = (struct run_ctx *)ctx;
    /*
     * Through the inbox's gate, as a post: the last task may finish on another thread (it
     * hopped away), and once the count reaches zero roost_run may return and its frame,
     * which holds *rc, die while this thread is still in wake_pump. roost_run closes the
     * inbox before returning, and closing waits for every thread inside the gate.
     */
    bool gated = roost__inbox_enter(&rc->inbox);
    if (atomic_fetch_add_explicit(&rc->tasks, delta, memory_order_seq_cst) + delta == 0)
        wake_pump(rc);
    if (gated)
        roost__inbox_leave(&rc->inbox);
}

static const struct roost_ctx_ops run_ctx_ops = {
    .post = run_post,
    .on_thread = run_on_thread,
    .closed = run_closed,
    .task_delta = run_task_delta,
};

/* A failure of posted work never stops the pump; with no reactor hook here, it is logged. */
static void run_one(struct roost_work *w)
{
    roost_work_fn fn = w->fn;
    void *arg = w->arg;
    int rc = fn(arg);
    if (rc < 0)
        roost_log(ROOST_LOG_ERROR, "posted work failed on roost_run's context: %d", rc);
}

static unsigned run_ready(struct run_ctx *rc)
{
    unsigned n = 0;
    struct roost_work *w;
    while ((w = roost__inbox_pop(&rc->inbox))) {
        run_one(w);
        n++;
    }
    w = roost__fifo_take_all(&rc->local);
    while (w) {
        struct roost_work *next = roost__fifo_next(w); /* read first: w's fn may free it */
        run_one(w);
        w = next;
        n++;
    }
    roost__work_returns_flush();
    return n;
}

struct root {
    roost_task_fn fn;
    void *arg;
    int result;
};

static int root_body(void *arg)
{
    struct root *root = arg;
    root->result = root->fn(root->arg);
    return 0; /* the result goes to roost_run's caller: not a detached failure */
}

int roost_run(roost_task_fn fn, void *arg)
{
    if (roost__thread_exclusive())
        return -EDEADLK;
    struct run_ctx rc = {.ctx = {.ops = &run_ctx_ops, .exclusive = true}};
    roost__inbox_init(&rc.inbox);
    roost__fifo_init(&rc.local);
    if (!roost__sched_self(0))
        return -ENOMEM;
    roost_ctx *saved_ctx = roost__thread_ctx();
    roost__thread_set_exclusive(&rc.ctx);
    roost__thread_set_ctx(&rc.ctx);

    struct root root = {.fn = fn, .arg = arg};
    roost_task *task;
    int err = roost_spawn_on(&rc.ctx, root_body, &root, &task);
    if (err == 0) {
        roost_detach(task); /* its result comes back through root */
        for (;;) {
            if (run_ready(&rc))
                continue;
            if (atomic_load_explicit(&rc.tasks, memory_order_seq_cst) == 0)
                break;
            atomic_store_explicit(&rc.parked, 1, memory_order_seq_cst);
            if (roost__inbox_busy(&rc.inbox) || !roost__fifo_empty(&rc.local) ||
                atomic_load_explicit(&rc.tasks, memory_order_seq_cst) == 0) {
                atomic_store_explicit(&rc.parked, 0, memory_order_relaxed);
                continue;
            }
            roost__wakes_flush(); /* a pool worker's deferred wakes go out before it sleeps */
            roost__futex_wait(&rc.parked, 1);
        }
    }
    /* Refuse later posts; run what was accepted meanwhile. */
    roost__inbox_close(&rc.inbox);
    while (run_ready(&rc))
        ;
    roost__thread_set_ctx(saved_ctx);
    roost__thread_set_exclusive(NULL);
    roost__sched_thread_exit();
    return err < 0 ? err : root.result;
}
