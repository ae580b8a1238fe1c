/* Scheduling contexts: the generic half of post and send. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/ctx.h"
#include "core/futex.h"
#include "core/thread.h"

roost_ctx *roost_ctx_current(void)
{
    return roost_thread_ctx();
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

/* roost_ctx_post's allocated item: runs the user's function, then frees itself. */
struct owned_work {
    struct roost_work work;
    roost_work_fn fn;
    void *arg;
};

static int owned_work_run(void *arg)
{
    struct owned_work *ow = arg;
    roost_work_fn fn = ow->fn;
    void *fn_arg = ow->arg;
    free(ow);
    return fn(fn_arg);
}

int roost_ctx_post(roost_ctx *ctx, roost_work_fn fn, void *arg)
{
    struct owned_work *ow = malloc(sizeof(*ow));
    if (!ow)
        return -ENOMEM;
    ow->fn = fn;
    ow->arg = arg;
    ow->work.fn = owned_work_run;
    ow->work.arg = ow;
    int rc = ctx->ops->post(ctx, &ow->work);
    if (rc < 0)
        free(ow);
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
    roost_futex_wake(done, 1);
    return 0;
}

int roost_ctx_send(roost_ctx *ctx, roost_work_fn fn, void *arg)
{
    if (ctx->ops->on_thread(ctx))
        return fn(arg);
    /* An exclusive context's thread blocking on another context can deadlock: refuse. */
    if (roost_thread_exclusive())
        return -EDEADLK;

    struct send_call call = {.work = {.fn = send_call_run}, .fn = fn, .arg = arg};
    call.work.arg = &call;
    atomic_init(&call.done, 0);
    int rc = ctx->ops->post(ctx, &call.work);
    if (rc < 0)
        return rc;
    while (!atomic_load_explicit(&call.done, memory_order_acquire))
        roost_futex_wait(&call.done, 0);
    return call.result;
}
