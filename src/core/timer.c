/* Public one-shot timers over the calling reactor's heap. */
#include <errno.h>

#include "core/reactor.h"
#include "core/thread.h"

void roost_timer_init(struct roost_timer *t)
{
    t->deadline_ns = 0;
    t->heap_index = UINT32_MAX;
    t->reactor = NULL;
    t->cb = NULL;
    t->arg = NULL;
}

bool roost_timer_pending(const struct roost_timer *t)
{
    return t->heap_index != UINT32_MAX;
}

int roost_timer_start_ns(struct roost_timer *t, uint64_t timeout_ns, roost_timer_cb cb, void *arg)
{
    struct roost_reactor *r = roost__thread_reactor();
    if (!r)
        return -EPERM;
    if (r->timers_closed)
        return -ESHUTDOWN;
    if (roost_timer_pending(t))
        roost_timer_cancel(t);
    t->deadline_ns = roost__now_ns() + timeout_ns;
    t->reactor = r;
    t->cb = cb;
    t->arg = arg;
    return roost__timer_heap_insert(&r->timers, t);
}

int roost_timer_start(struct roost_timer *t, uint64_t timeout_ms, roost_timer_cb cb, void *arg)
{
    return roost_timer_start_ns(t, timeout_ms * 1000000u, cb, arg);
}

bool roost_timer_cancel(struct roost_timer *t)
{
    if (!roost_timer_pending(t))
        return false;
    roost__timer_heap_remove(&t->reactor->timers, t);
    return true;
}
