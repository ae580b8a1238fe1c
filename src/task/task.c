/*
 * Tasks: spawn, run, suspend, finish, join, detach, yield, hop, cancel.
 *
 * A task runs on its own fiber; each thread that runs tasks has a scheduler whose thread
 * fiber is the stack the task switches back to. Suspension is two-step: the task picks an
 * `after` action and switches out; the scheduler runs `after` once the task's stack is no
 * longer in use. Anything that could resume the task on another thread (publishing a
 * waiter, posting a yield to a non-exclusive context) happens in `after`, so a task is
 * never running on two threads at once.
 */
#include <errno.h>
#include <roost/log.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx.h"
#include "core/reactor.h"
#include "core/thread.h"
#include "task/task.h"

#define ROOST_STACK_CACHE 256

/* ---- the per-thread scheduler ---------------------------------------------------------- */

static _Thread_local struct roost_sched *thread_sched;
static pthread_key_t sched_key;
static pthread_once_t sched_key_once = PTHREAD_ONCE_INIT;

static void sched_free(void *p)
{
    struct roost_sched *s = p;
    if (!s)
        return;
    roost__stack_pool_destroy(&s->stacks);
    roost__fiber_destroy(&s->thread_fiber);
    free(s);
}

static void sched_key_create(void)
{
    pthread_key_create(&sched_key, sched_free);
    roost__fiber_overflow_guard_install();
}

__attribute__((noinline)) struct roost_sched *roost__sched_peek(void)
{
    return thread_sched;
}

__attribute__((noinline)) struct roost_sched *roost__sched_self(size_t stack_size)
{
    if (thread_sched)
        return thread_sched;
    pthread_once(&sched_key_once, sched_key_create);
    struct roost_sched *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (roost__stack_pool_init(&s->stacks, stack_size, ROOST_STACK_CACHE) < 0) {
        free(s);
        return NULL;
    }
    roost__fiber_init_thread(&s->thread_fiber);
    roost__fiber_thread_altstack();
    thread_sched = s;
    pthread_setspecific(sched_key, s);
    return s;
}

void roost__sched_thread_exit(void)
{
    struct roost_sched *s = thread_sched;
    if (!s)
        return;
    thread_sched = NULL;
    pthread_setspecific(sched_key, NULL);
    sched_free(s);
    roost__fiber_thread_altstack_release();
}

/* ---- the task layer on a reactor ------------------------------------------------------------ */

static int task_thread_start(struct roost_reactor *r, void *arg)
{
    (void)r;
    struct roost__task_reactor *tr = arg;
    struct roost_sched *s = roost__sched_self(tr->stack_size);
    if (!s)
        return -ENOMEM;
    s->reactor = tr;
    return 0;
}

static void task_thread_exit(struct roost_reactor *r, void *arg)
{
    (void)r, (void)arg;
    roost__sched_thread_exit();
}

static void task_destroy(struct roost_reactor *r, void *arg)
{
    (void)r;
    free(arg);
}

static const struct roost__hooks task_hooks = {
    .name = "task",
    .thread_start = task_thread_start,
    .thread_exit = task_thread_exit,
    .destroy = task_destroy,
};

int roost__task_attach(struct roost_reactor *r, size_t stack_size, bool resume_inline)
{
    struct roost__task_reactor *tr = calloc(1, sizeof(*tr));
    if (!tr)
        return -ENOMEM;
    tr->stack_size = stack_size;
    tr->resume_inline = resume_inline;
    int rc = roost__reactor_hooks_add(r, &task_hooks, tr);
    if (rc < 0)
        free(tr);
    return rc;
}

void roost__task_stats(const struct roost_reactor *r, struct roost_stats *out)
{
    struct roost__task_reactor *tr = roost__reactor_hooks_arg(r, &task_hooks);
#define ROOST_TASK_COPY_(name, help)                                                               \
    out->name = tr ? atomic_load_explicit(&tr->stats.name, memory_order_relaxed) : 0;
    ROOST_STATS_TASK_FIELDS(ROOST_TASK_COPY_)
#undef ROOST_TASK_COPY_
}

roost_ctx *roost__thread_runner(void)
{
    roost_ctx *ctx = roost__thread_exclusive();
    return ctx ? ctx : roost__thread_ctx();
}

/* ---- task life ------------------------------------------------------------------------- */

static void task_unref(struct roost_task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    roost__fiber_destroy(&t->fiber);
    free(t);
}

static void task_entry(void *arg)
{
    struct roost_task *t = arg;
    t->result = t->fn(t->arg);
    struct roost_sched *s = roost__sched_peek();
    s->after = NULL; /* finishing: roost__task_run sees started && !after */
    roost__fiber_switch_final(&t->fiber, &s->thread_fiber);
}

static void spawn_ctx_delta(roost_ctx *ctx, int delta)
{
    if (ctx && ctx->ops->task_delta)
        ctx->ops->task_delta(ctx, delta);
}

/* On the scheduler's stack, after t's last switch: its stack is free. */
static void task_finished(struct roost_sched *s, struct roost_task *t)
{
    if (s)
        roost__stack_release(&s->stacks, &t->fiber.stack);
    if (t->away) {
        roost__reactor_away_sub(t->away); /* nothing more will come back from it */
        t->away = NULL;
    }
    /*
     * Uncount first: completing the joiner may end the joiner's whole context (roost_run
     * returns), and nothing may touch spawn_ctx after that.
     */
    spawn_ctx_delta(t->spawn_ctx, -1);
    unsigned old = atomic_fetch_or_explicit(&t->join_state, ROOST_TASK_DONE, memory_order_acq_rel);
    if (old & ROOST_TASK_JOINING) {
        roost_complete(t->joiner, t->result);
    } else if ((old & ROOST_TASK_DETACHED) && t->result < 0) {
        /* The async-void case: nobody will see this result; count it, hook it, go on. */
        struct roost_reactor *r = roost__thread_reactor();
        if (r)
            roost__reactor_report_failure(r, t->result, "detached task");
        else
            roost_log(ROOST_LOG_ERROR, "detached task failed: %d", t->result);
    }
    task_unref(t);
}

void roost__task_run(struct roost_task *t)
{
    struct roost_sched *s = roost__sched_self(0);
    if (!t->started) {
        struct roost_stack stack = {0};
        if (!s || roost__stack_alloc(&s->stacks, &stack) < 0 ||
            roost__fiber_init(&t->fiber, &stack, task_entry, t, "task") < 0) {
            /* No stack: the task fails without running, as if it returned -ENOMEM. */
            t->result = -ENOMEM;
            if (s)
                roost__stack_release(&s->stacks, &stack);
            t->started = true;
            task_finished(s, t);
            return;
        }
        t->started = true;
    }
    struct roost_reactor *here = roost__thread_reactor();
    if (here)
        t->reactor = here;
    if (t->away && t->away == here) {
        roost__reactor_away_sub(here); /* back home: it is no longer awaited elsewhere */
        t->away = NULL;
    }
    struct roost_task *outer = s->current;
    s->current = t;
    s->after = NULL;
    roost__fiber_switch(&s->thread_fiber, &t->fiber);
    /* Back on the scheduler's stack: t suspended (after set) or finished (after NULL). */
    s->current = outer;
    roost_after_switch_fn after = s->after;
    s->after = NULL;
    if (after)
        after(t);
    else
        task_finished(s, t);
}

void roost__task_suspend(roost_after_switch_fn after)
{
    struct roost_sched *s = roost__sched_peek();
    struct roost_task *t = s->current;
    s->after = after;
    roost__fiber_switch(&t->fiber, &s->thread_fiber);
    /* Resumed: possibly on another thread, whose scheduler now has us as current. */
}

/*
 * Posts t's start or resume to ctx. From a reactor thread to a non-exclusive context (the
 * pool) the task is counted away from the reactor until it posts its next request there,
 * comes back or ends (reactor.h: the reactor polls its inbox before parking meanwhile).
 */
static int post_task(struct roost_task *t, roost_ctx *ctx)
{
    struct roost_reactor *here = roost__thread_reactor();
    bool mark = here && !ctx->exclusive && !t->away;
    if (mark) {
        t->away = here;
        roost__reactor_away_add(here);
    }
    int rc = ctx->ops->post(ctx, &t->run);
    if (rc < 0 && mark) {
        t->away = NULL; /* refused: nobody else holds t */
        roost__reactor_away_sub(here);
    }
    return rc;
}

void roost__task_away(void)
{
    struct roost_task *t = roost_task_current();
    struct roost_reactor *here = roost__thread_reactor();
    if (t && here && !t->away) {
        t->away = here;
        roost__reactor_away_add(here);
    }
}

struct roost_reactor *roost__task_away_take(void)
{
    struct roost_task *t = roost_task_current();
    if (!t)
        return NULL;
    struct roost_reactor *r = t->away;
    t->away = NULL;
    return r;
}

/*
 * A posted start or resume. On a pool worker, the posts the slice makes to reactors (ring
 * requests, buffer returns, resumes) defer their wakes to the end of the worker's batch
 * (reactor.h): a task never blocks its thread, it awaits, so nothing it posted can be
 * what its own slice waits for.
 */
static int task_run_work(void *arg)
{
    struct roost_task *t = arg;
    if (t->started) {
        struct roost_sched *s = roost__sched_peek();
        if (s && s->reactor)
            ROOST_STAT_INC(s->reactor, posted_resumes);
    }
    roost__wakes_defer_begin();
    roost__task_run(t);
    roost__wakes_defer_end();
    return 0;
}

void roost__task_resume(struct roost_task *t, roost_ctx *target, bool inline_ok)
{
    if (!target)
        target = roost__thread_runner();
    if (!target) {
        /* A plain thread with no context completed an opt-out await: run it right here. */
        roost__task_run(t);
        return;
    }
    t->ctx = target;
    if (inline_ok && target->exclusive && target->ops->on_thread(target)) {
        struct roost_sched *s = roost__sched_peek();
        if (s && !s->current && s->reactor && s->reactor->resume_inline) {
            ROOST_STAT_INC(s->reactor, inline_resumes);
            roost__task_run(t);
            return;
        }
    }
    int rc = post_task(t, target);
    if (rc < 0)
        roost_log(ROOST_LOG_ERROR, "cannot resume a task, its context has stopped (%d)", rc);
}

/* ---- the public task API --------------------------------------------------------------- */

roost_task *roost_task_current(void)
{
    struct roost_sched *s = roost__sched_peek();
    return s ? s->current : NULL;
}

int roost_spawn_on(roost_ctx *ctx, roost_task_fn fn, void *arg, roost_task **out)
{
    if (!ctx)
        return -EPERM;
    struct roost_task *t = aligned_alloc(_Alignof(struct roost_task), sizeof(*t));
    if (!t)
        return -ENOMEM;
    memset(t, 0, sizeof(*t));
    t->run.fn = task_run_work;
    t->run.arg = t;
    t->fn = fn;
    t->arg = arg;
    t->ctx = ctx;
    t->spawn_ctx = ctx;
    struct roost_task *parent = roost_task_current();
    t->reactor = roost__thread_reactor();
    if (!t->reactor && parent)
        t->reactor = parent->reactor;
    atomic_init(&t->refs, 2); /* the caller's handle and the task's own life */
    spawn_ctx_delta(ctx, +1);
    int rc = post_task(t, ctx);
    if (rc < 0) {
        spawn_ctx_delta(ctx, -1);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int roost_spawn(roost_task_fn fn, void *arg, roost_task **out)
{
    return roost_spawn_on(roost__thread_runner(), fn, arg, out);
}

void roost_detach(roost_task *t)
{
    atomic_fetch_or_explicit(&t->join_state, ROOST_TASK_DETACHED, memory_order_acq_rel);
    task_unref(t);
}

struct join_wait {
    struct roost_waiter w;
    struct roost_task *child;
    bool abandoned;
};

/* A joiner that is cancelled gives up on the child: the child is detached instead. */
static bool join_cancel(struct roost_waiter *w)
{
    struct join_wait *jw = w->source;
    struct roost_task *child = jw->child;
    unsigned s = atomic_load_explicit(&child->join_state, memory_order_acquire);
    while (!(s & ROOST_TASK_DONE)) {
        unsigned next = (s & ~ROOST_TASK_JOINING) | ROOST_TASK_DETACHED;
        if (atomic_compare_exchange_weak_explicit(&child->join_state, &s, next,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            jw->abandoned = true;
            task_unref(child); /* the joiner's handle */
            return true;
        }
    }
    return false; /* it finished: its completion of w is on the way */
}

int roost_join(roost_task *t)
{
    struct roost_task *self = roost_task_current();
    if (!self)
        return -EPERM;
    if (self == t)
        return -EINVAL;
    struct join_wait jw = {.child = t};
    roost_waiter_init(&jw.w);
    roost_waiter_set_cancel(&jw.w, join_cancel, &jw);
    t->joiner = &jw.w;
    unsigned old =
        atomic_fetch_or_explicit(&t->join_state, ROOST_TASK_JOINING, memory_order_acq_rel);
    int rc;
    if (old & ROOST_TASK_DONE) {
        rc = t->result;
    } else {
        rc = roost_wait(&jw.w);
        if (jw.abandoned)
            return rc; /* the child now finishes on its own */
    }
    task_unref(t);
    return rc;
}

static void post_here(struct roost_task *t)
{
    roost__task_resume(t, t->ctx, false);
}

int roost_yield(void)
{
    struct roost_task *t = roost_task_current();
    if (!t)
        return -EPERM;
    roost__task_suspend(post_here);
    return 0;
}

static void hop_away(struct roost_task *t)
{
    int rc = post_task(t, t->ctx);
    if (rc < 0)
        roost_log(ROOST_LOG_ERROR, "hop target refused the task (%d)", rc);
}

int roost_hop(roost_ctx *ctx)
{
    struct roost_task *t = roost_task_current();
    if (!t)
        return -EPERM;
    /* Refuse up front what the target would refuse: a stopped context. */
    if (ctx->ops->closed && ctx->ops->closed(ctx))
        return -ESHUTDOWN;
    t->ctx = ctx;
    roost__task_suspend(hop_away);
    return 0;
}

static void cancel_here(struct roost_task *t)
{
    if (atomic_load_explicit(&t->join_state, memory_order_acquire) & ROOST_TASK_DONE)
        return;
    struct roost_waiter *w = t->waiting;
    if (!w) {
        atomic_store(&t->cancel_pending, true);
        return;
    }
    atomic_store(roost__waiter_cancel_requested(w), true);
    if (w->cancel && w->cancel(w))
        roost_complete(w, -ECANCELED);
}

static int cancel_work(void *arg)
{
    struct roost_task *t = arg;
    cancel_here(t);
    task_unref(t);
    return 0;
}

int roost_task_cancel(roost_task *t)
{
    roost_ctx *home = t->ctx;
    if (!home || home->ops->on_thread(home)) {
        cancel_here(t);
        return 0;
    }
    atomic_fetch_add(&t->refs, 1); /* the posted cancel keeps t alive */
    int rc = roost_ctx_post(home, cancel_work, t);
    if (rc < 0)
        task_unref(t);
    return rc;
}
