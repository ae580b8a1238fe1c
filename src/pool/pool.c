/*
 * The worker pool: N threads sharing one FIFO queue under a mutex, and one (non-exclusive)
 * context. Offload posts a job here and awaits a waiter the worker completes; the waiter
 * posts the task's resume back to its home context (continuation affinity).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <roost/pool.h>
#include <roost/log.h>
#include <roost/task.h>
#include <roost/waiter.h>

#include "core/ctx.h"
#include "base/fifo.h"
#include "core/reactor.h"
#include "core/thread.h"
#include "pool/pool.h"
#include "task/task.h"

struct roost_pool {
    struct roost_ctx ctx; /* first member */
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct roost_fifo queue;
    unsigned idle;         /* workers waiting on `ready` */
    bool stopping;         /* no new posts; workers exit once the queue is empty */
    _Atomic bool closing;  /* stopping, readable without the lock (batched posts) */
    _Atomic bool nonempty; /* queue not empty, readable without the lock (spinning workers) */
    unsigned nthreads;
    pthread_t *threads;
    _Atomic unsigned long failures;
    _Atomic bool batch_wakes; /* a runtime's pool: workers defer reactor wakes per job */
};

static _Thread_local roost_pool *thread_pool;

__attribute__((noinline)) roost_pool *roost__pool_of_thread(void)
{
    return thread_pool;
}

/* Moves batch (n items) to the end of the queue under the lock; wakes up to n idle workers. */
static int enqueue(roost_pool *p, struct roost_fifo *batch, unsigned n)
{
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return -ESHUTDOWN;
    }
    roost__fifo_splice(&p->queue, batch);
    atomic_store_explicit(&p->nonempty, true, memory_order_relaxed);
    unsigned wake = n < p->idle ? n : p->idle;
    pthread_mutex_unlock(&p->lock);
    /* Signalled after unlocking, so a woken worker does not block on the lock we hold. */
    if (wake == p->nthreads)
        pthread_cond_broadcast(&p->ready);
    else
        while (wake--)
            pthread_cond_signal(&p->ready);
    return 0;
}

/*
 * Posts from a reactor thread are batched: queued on a thread-local list and handed to the
 * pool once per tick, just before the reactor's enter (roost__pool_flush_pending), under one
 * lock with one wake per item at most. Signalling a worker on every post made the woken
 * worker preempt the reactor and go back to sleep after one item: the pool-hop benchmark
 * spent half its reactor time in futex wakes.
 */
static _Thread_local struct {
    roost_pool *pool;
    struct roost_fifo batch;
    unsigned n;
} pending;

__attribute__((noinline)) void roost__pool_flush_pending(void)
{
    if (!pending.n)
        return;
    unsigned n = pending.n;
    pending.n = 0;
    if (enqueue(pending.pool, &pending.batch, n) < 0) {
        roost__fifo_init(&pending.batch);
        roost_log(ROOST_LOG_WARN, "%u items posted to a stopped pool were dropped", n);
    }
    pending.pool = NULL;
}

static int pool_post(roost_ctx *ctx, struct roost_work *w)
{
    roost_pool *p = (roost_pool *)ctx;
    if (!roost__thread_reactor()) {
        struct roost_fifo one;
        roost__fifo_init(&one);
        roost__fifo_push(&one, w);
        return enqueue(p, &one, 1);
    }
    if (atomic_load_explicit(&p->closing, memory_order_acquire))
        return -ESHUTDOWN;
    if (pending.n && pending.pool != p)
        roost__pool_flush_pending();
    if (!pending.n) {
        pending.pool = p;
        roost__fifo_init(&pending.batch);
    }
    roost__fifo_push(&pending.batch, w);
    pending.n++;
    return 0;
}

static bool pool_on_thread(const roost_ctx *ctx)
{
    return roost__pool_of_thread() == (const roost_pool *)ctx;
}

static bool pool_closed(const roost_ctx *ctx)
{
    return atomic_load_explicit(&((roost_pool *)ctx)->closing, memory_order_acquire);
}

static const struct roost_ctx_ops pool_ctx_ops = {
    .post = pool_post,
    .on_thread = pool_on_thread,
    .closed = pool_closed,
};

bool roost__pool_remove(roost_pool *p, struct roost_work *w)
{
    /* Still in this reactor's batch? (Cancel runs on the task's home reactor.) */
    if (pending.n && pending.pool == p && roost__fifo_remove(&pending.batch, w)) {
        if (--pending.n == 0)
            pending.pool = NULL;
        return true;
    }
    pthread_mutex_lock(&p->lock);
    bool found = roost__fifo_remove(&p->queue, w);
    if (roost__fifo_empty(&p->queue))
        atomic_store_explicit(&p->nonempty, false, memory_order_relaxed);
    pthread_mutex_unlock(&p->lock);
    return found;
}

/* How long a worker with nothing to do polls the queue before it sleeps on the condition. */
#define POOL_SPIN_NS 50000u

/*
 * Every 64 checks the spinner also yields its CPU: a reactor sharing the CPU (as in `roost
 * bench`) may be polling its inbox for what this worker just posted, and gets to run it
 * now instead of after the spin.
 */
static void spin_for_work(roost_pool *p)
{
    uint64_t end = roost__now_ns() + POOL_SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&p->nonempty, memory_order_relaxed))
            return;
        __builtin_ia32_pause();
        if (i % 64 == 0) {
            if (roost__now_ns() >= end)
                return;
            sched_yield();
        }
    }
}

static void *worker_main(void *arg)
{
    roost_pool *p = arg;
    thread_pool = p;
    roost__thread_set_ctx(&p->ctx);
    roost__sched_self(0);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct roost_work *w = roost__fifo_pop(&p->queue);
        if (!w) {
            if (p->stopping)
                break;
            /*
             * Spin a little before sleeping: a task offloading in a loop posts its next job
             * within microseconds, and catching it here saves a futex sleep and wake per job.
             */
            pthread_mutex_unlock(&p->lock);
            spin_for_work(p);
            pthread_mutex_lock(&p->lock);
            if (!roost__fifo_empty(&p->queue) || p->stopping)
                continue;
            p->idle++;
            pthread_cond_wait(&p->ready, &p->lock);
            p->idle--;
            continue;
        }
        if (roost__fifo_empty(&p->queue))
            atomic_store_explicit(&p->nonempty, false, memory_order_relaxed);
        pthread_mutex_unlock(&p->lock);
        roost__wakes_batch_owner(atomic_load_explicit(&p->batch_wakes, memory_order_relaxed));
        roost_work_fn fn = w->fn; /* fn may free w */
        if (fn(w->arg) < 0)
            atomic_fetch_add_explicit(&p->failures, 1, memory_order_relaxed);
        roost__work_returns_flush();
        /*
         * The wakes this job deferred go out as it ends, before the worker takes the next
         * job or sleeps: a job is user code of any length (it may even wait for the task
         * this one resumed), and no wake may wait behind it.
         */
        roost__wakes_flush();
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    roost__wakes_batch_owner(false);
    roost__sched_thread_exit();
    return NULL;
}

int roost_pool_create(unsigned threads, roost_pool **out)
{
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (unsigned)cpus : 1;
    }
    roost_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->ctx.ops = &pool_ctx_ops;
    p->ctx.exclusive = false;
    roost__fifo_init(&p->queue);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->ready, NULL);
    p->threads = calloc(threads, sizeof(*p->threads));
    if (!p->threads) {
        roost_pool_destroy(p);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < threads; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (rc) {
            roost_pool_destroy(p);
            return -rc;
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

void roost_pool_destroy(roost_pool *p)
{
    if (!p)
        return;
    atomic_store_explicit(&p->closing, true, memory_order_release);
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_mutex_unlock(&p->lock);
    pthread_cond_broadcast(&p->ready);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

roost_ctx *roost_pool_ctx(roost_pool *p)
{
    return &p->ctx;
}

/* ---- offload --------------------------------------------------------------------------- */

struct offload {
    struct roost_work work;
    struct roost_waiter w;
    roost_work_fn fn;
    void *arg;
    roost_pool *pool;
};

static int offload_run(void *arg)
{
    struct offload *o = arg;
    int rc = o->fn(o->arg);
    /* One post, the job's last act: its wake goes out now (nothing to coalesce it with). */
    roost_complete(&o->w, rc); /* o may be gone after this */
    return 0;
}

/* Not started yet: take it out of the queue, and it never runs. */
static bool offload_cancel(struct roost_waiter *w)
{
    struct offload *o = w->source;
    return roost__pool_remove(o->pool, &o->work);
}

int roost_offload_on(roost_pool *p, roost_work_fn fn, void *arg, unsigned wait_flags)
{
    if (!roost_task_current())
        return -EPERM;
    struct offload o = {.fn = fn, .arg = arg, .pool = p};
    o.work.fn = offload_run;
    o.work.arg = &o;
    roost_waiter_init(&o.w);
    roost_waiter_set_cancel(&o.w, offload_cancel, &o);
    int rc = pool_post(&p->ctx, &o.work);
    if (rc < 0)
        return rc;
    roost__task_away(); /* on a reactor: its completion posts back there */
    return roost_wait_flags(&o.w, wait_flags);
}

static roost_pool *default_pool;
static pthread_once_t default_pool_once = PTHREAD_ONCE_INIT;

static void default_pool_create(void)
{
    if (roost_pool_create(0, &default_pool) < 0)
        default_pool = NULL;
}

/* The runtime pool of the reactor this thread runs (set by the pool's reactor hooks). */
static _Thread_local roost_pool *reactor_pool;

__attribute__((noinline)) static roost_pool *reactor_pool_of_thread(void)
{
    return reactor_pool;
}

roost_pool *roost__pool_for_caller(void)
{
    roost_pool *p = reactor_pool_of_thread();
    if (p)
        return p;
    if (roost__pool_of_thread())
        return roost__pool_of_thread();
    pthread_once(&default_pool_once, default_pool_create);
    return default_pool;
}

/* ---- the pool on a reactor ------------------------------------------------------------------ */

static int pool_thread_start(struct roost_reactor *r, void *arg)
{
    (void)r;
    reactor_pool = arg;
    return 0;
}

/* The reactor's posts to any pool, batched during the tick, go out before it may sleep. */
static void pool_before_enter(struct roost_reactor *r, void *arg)
{
    (void)r, (void)arg;
    roost__pool_flush_pending();
}

static void pool_thread_exit(struct roost_reactor *r, void *arg)
{
    (void)r, (void)arg;
    reactor_pool = NULL;
}

static const struct roost__hooks pool_hooks = {
    .name = "pool",
    .thread_start = pool_thread_start,
    .before_enter = pool_before_enter,
    .thread_exit = pool_thread_exit,
};

int roost__pool_attach(struct roost_reactor *r, roost_pool *p)
{
    /* The runtime joins this pool before it frees r: its workers may hold r's wakes. */
    atomic_store_explicit(&p->batch_wakes, true, memory_order_relaxed);
    return roost__reactor_hooks_add(r, &pool_hooks, p);
}

int roost_offload(roost_work_fn fn, void *arg)
{
    roost_pool *p = roost__pool_for_caller();
    if (!p)
        return -ENOMEM;
    return roost_offload_on(p, fn, arg, 0);
}
