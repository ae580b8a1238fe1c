/* Scheduling contexts: the generic half of post and send. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/ctx.h"
#include "base/futex.h"
#include "core/reactor.h"
#include "core/thread.h"

roost_ctx *roost_ctx_current(void)
{
    return roost__thread_ctx();
}

bool roost_ctx_is_exclusive(const roost_ctx *ctx)
{
    return ctx->exclusive;
}

bool roost_ctx_on_thread(const roost_ctx *ctx)
{
    return ctx->ops->on_thread(ctx);
}

int roost_ctx_post_work(roost_ctx *ctx, struct roost_work *work)
{
    return ctx->ops->post(ctx, work);
}

/*
 * roost_ctx_post's items come from a per-producer-thread cache instead of malloc: the
 * item is taken on the producer's thread and given back from the consumer's, and glibc's
 * malloc pays an arena lock for exactly that pattern (it dominated the post benchmark).
 *
 * Each producer thread owns a cache: a private free list, plus a `returned` stack that
 * consumers push used items onto (a lock-free Treiber push; only the owner pops, all at
 * once, with an exchange, so there is no ABA). Caches are never freed: a thread's cache
 * goes back to a global list when the thread exits, items still in flight return to it
 * later, and the next new thread adopts it. So an item can always be returned, and the
 * memory kept is bounded by the peak number of producer threads and ITEM_CACHE_MAX items
 * each (the surplus goes back to malloc).
 */
struct item_cache;

struct owned_work {
    struct roost_work work;
    roost_work_fn fn;
    void *arg;
    struct item_cache *cache;
    struct owned_work *next_free;
};

#define ITEM_CACHE_MAX 4096u

struct item_cache {
    _Alignas(64) struct owned_work *_Atomic returned; /* consumers push here */
    _Alignas(64) struct owned_work *free;             /* owner only */
    unsigned nfree;
    struct item_cache *next_orphan;
};

static pthread_mutex_t orphans_lock = PTHREAD_MUTEX_INITIALIZER;
static struct item_cache *orphans;
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;
static _Thread_local struct item_cache *thread_cache;

static void cache_orphan(void *p)
{
    struct item_cache *c = p;
    pthread_mutex_lock(&orphans_lock);
    c->next_orphan = orphans;
    orphans = c;
    pthread_mutex_unlock(&orphans_lock);
}

static void cache_key_create(void)
{
    pthread_key_create(&cache_key, cache_orphan);
}

/* Not inlined: callers may be tasks that migrate between threads. */
__attribute__((noinline)) static struct item_cache *cache_self(void)
{
    if (thread_cache)
        return thread_cache;
    pthread_once(&cache_key_once, cache_key_create);
    pthread_mutex_lock(&orphans_lock);
    struct item_cache *c = orphans;
    if (c)
        orphans = c->next_orphan;
    pthread_mutex_unlock(&orphans_lock);
    if (!c && !(c = calloc(1, sizeof(*c))))
        return NULL;
    c->next_orphan = NULL;
    thread_cache = c;
    pthread_setspecific(cache_key, c);
    return c;
}

static struct owned_work *item_take(struct item_cache *c)
{
    if (!c->free) {
        /* Adopt everything consumers gave back since the last time, in one exchange. */
        struct owned_work *back =
            atomic_exchange_explicit(&c->returned, NULL, memory_order_acquire);
        while (back) {
            struct owned_work *next = back->next_free;
            if (c->nfree < ITEM_CACHE_MAX) {
                back->next_free = c->free;
                c->free = back;
                c->nfree++;
            } else {
                free(back);
            }
            back = next;
        }
    }
    struct owned_work *ow = c->free;
    if (ow) {
        c->free = ow->next_free;
        c->nfree--;
        return ow;
    }
    ow = malloc(sizeof(*ow));
    if (ow)
        ow->cache = c;
    return ow;
}

/* Pushes a chain of items (first..last) onto their owner's returned stack. */
static void items_give_back(struct item_cache *c, struct owned_work *first, struct owned_work *last)
{
    struct owned_work *head = atomic_load_explicit(&c->returned, memory_order_relaxed);
    do
        last->next_free = head;
    while (!atomic_compare_exchange_weak_explicit(&c->returned, &head, first, memory_order_release,
                                                  memory_order_relaxed));
}

/*
 * A consumer returns items in batches: consecutive items usually come from one producer,
 * so one CAS on the producer's cache line returns many. Flushed when the owner changes,
 * when the batch is full, and by roost__work_returns_flush at the end of each drain.
 */
#define RETURN_BATCH_MAX 64u

static _Thread_local struct {
    struct item_cache *cache;
    struct owned_work *first, *last;
    unsigned n;
} returns;

__attribute__((noinline)) void roost__work_returns_flush(void)
{
    if (returns.n) {
        items_give_back(returns.cache, returns.first, returns.last);
        returns.n = 0;
        returns.cache = NULL;
    }
}

__attribute__((noinline)) static void item_give_back(struct owned_work *ow)
{
    if (returns.n && (returns.cache != ow->cache || returns.n == RETURN_BATCH_MAX))
        roost__work_returns_flush();
    if (!returns.n) {
        returns.cache = ow->cache;
        returns.last = ow;
    }
    ow->next_free = returns.first;
    returns.first = ow;
    if (!returns.n++)
        ow->next_free = NULL;
}

static int owned_work_run(void *arg)
{
    struct owned_work *ow = arg;
    roost_work_fn fn = ow->fn;
    void *fn_arg = ow->arg;
    item_give_back(ow);
    return fn(fn_arg);
}

int roost_ctx_post(roost_ctx *ctx, roost_work_fn fn, void *arg)
{
    struct item_cache *c = cache_self();
    struct owned_work *ow = c ? item_take(c) : NULL;
    if (!ow)
        return -ENOMEM;
    ow->fn = fn;
    ow->arg = arg;
    ow->work.fn = owned_work_run;
    ow->work.arg = ow;
    int rc = ctx->ops->post(ctx, &ow->work);
    if (rc < 0) {
        ow->next_free = c->free; /* never left this thread: straight back to the free list */
        c->free = ow;
        c->nfree++;
    }
    return rc;
}

/* A send in flight: lives on the blocked sender's stack. */
struct send_call {
    struct roost_work work;
    roost_work_fn fn;
    void *arg;
    int result;
    _Atomic unsigned done;
};

static int send_call_run(void *arg)
{
    struct send_call *call = arg;
    call->result = call->fn(call->arg);
    /*
     * The release store publishes result; the sender may return (and its stack frame,
     * which holds *call, die) as soon as it sees done, so nothing touches *call after
     * it. A futex wake on a dead address wakes nobody that matters.
     */
    _Atomic unsigned *done = &call->done;
    atomic_store_explicit(done, 1, memory_order_release);
    roost__futex_wake(done, 1);
    return 0;
}

int roost_ctx_send(roost_ctx *ctx, roost_work_fn fn, void *arg)
{
    if (ctx->ops->on_thread(ctx))
        return fn(arg);
    /* An exclusive context's thread blocking on another context can deadlock: refuse. */
    if (roost__thread_exclusive())
        return -EDEADLK;

    struct send_call call = {.work = {.fn = send_call_run}, .fn = fn, .arg = arg};
    call.work.arg = &call;
    atomic_init(&call.done, 0);
    int rc = ctx->ops->post(ctx, &call.work);
    if (rc < 0)
        return rc;
    /* A wake this thread deferred (a pool worker's batch) must not wait behind the block. */
    roost__wakes_flush();
    while (!atomic_load_explicit(&call.done, memory_order_acquire))
        roost__futex_wait(&call.done, 0);
    return call.result;
}
