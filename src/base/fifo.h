/*
 * Internal: a plain FIFO of intrusive work items (head + tail link), for queues touched by
 * one thread or under a lock: a reactor's and roost_run's own-thread posts, the pool's
 * queue and a reactor's batch of pool posts. The cross-thread inbox is inbox.h.
 */
#ifndef ROOST_BASE_FIFO_H
#define ROOST_BASE_FIFO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/work.h"

struct roost_fifo {
    struct roost_work *head;
    struct roost_work **tailp;
};

static inline void roost__fifo_init(struct roost_fifo *f)
{
    f->head = NULL;
    f->tailp = &f->head;
}

static inline bool roost__fifo_empty(const struct roost_fifo *f)
{
    return f->head == NULL;
}

static inline void roost__fifo_push(struct roost_fifo *f, struct roost_work *w)
{
    atomic_store_explicit(roost__work_link(w), NULL, memory_order_relaxed);
    *f->tailp = w;
    f->tailp = &w->_next;
}

/* Moves every item of src, in order, to the end of dst; src is left empty. */
static inline void roost__fifo_splice(struct roost_fifo *dst, struct roost_fifo *src)
{
    if (!src->head)
        return;
    *dst->tailp = src->head;
    dst->tailp = src->tailp;
    roost__fifo_init(src);
}

/* Unlinks and returns the oldest item, or NULL. */
static inline struct roost_work *roost__fifo_pop(struct roost_fifo *f)
{
    struct roost_work *w = f->head;
    if (!w)
        return NULL;
    f->head = atomic_load_explicit(roost__work_link(w), memory_order_relaxed);
    if (!f->head)
        f->tailp = &f->head;
    return w;
}

/* Detaches the whole chain (walk it with roost__fifo_next); f is left empty. */
static inline struct roost_work *roost__fifo_take_all(struct roost_fifo *f)
{
    struct roost_work *w = f->head;
    roost__fifo_init(f);
    return w;
}

static inline struct roost_work *roost__fifo_next(const struct roost_work *w)
{
    return atomic_load_explicit(roost__work_link((struct roost_work *)w), memory_order_relaxed);
}

/* Unlinks w if it is queued in f; true if it was. */
static inline bool roost__fifo_remove(struct roost_fifo *f, struct roost_work *w)
{
    for (struct roost_work **link = &f->head; *link; link = &(*link)->_next) {
        if (*link != w)
            continue;
        *link = roost__fifo_next(w);
        if (f->tailp == &w->_next)
            f->tailp = link;
        return true;
    }
    return false;
}

#endif
