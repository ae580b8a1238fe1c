#include "core/thread.h"

#define ROOST_NOINLINE __attribute__((noinline))

static _Thread_local struct roost_ctx *thread_ctx;
static _Thread_local struct roost_reactor *thread_reactor;
static _Thread_local struct roost_ctx *thread_exclusive;

ROOST_NOINLINE struct roost_ctx *roost__thread_ctx(void)
{
    return thread_ctx;
}

ROOST_NOINLINE void roost__thread_set_ctx(struct roost_ctx *ctx)
{
    thread_ctx = ctx;
}

ROOST_NOINLINE struct roost_reactor *roost__thread_reactor(void)
{
    return thread_reactor;
}

ROOST_NOINLINE void roost__thread_set_reactor(struct roost_reactor *r)
{
    thread_reactor = r;
}

ROOST_NOINLINE struct roost_ctx *roost__thread_exclusive(void)
{
    return thread_exclusive;
}

ROOST_NOINLINE void roost__thread_set_exclusive(struct roost_ctx *ctx)
{
    thread_exclusive = ctx;
}
