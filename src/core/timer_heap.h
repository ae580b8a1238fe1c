/*
 * Internal: a reactor's pending timers, a binary min-heap on deadline. Start, cancel and
 * pop are O(log n) and allocate only when the heap grows, so tens of thousands of pending
 * sleeps stay cheap; the nearest deadline becomes the wait timeout of the tick's enter.
 */
#ifndef ROOST_CORE_TIMER_HEAP_H
#define ROOST_CORE_TIMER_HEAP_H

#include <stdint.h>

#include <roost/timer.h>

struct roost_timer_heap {
    struct roost_timer **v;
    uint32_t n;
    uint32_t cap;
};

void roost__timer_heap_init(struct roost_timer_heap *h);
void roost__timer_heap_destroy(struct roost_timer_heap *h);
int roost__timer_heap_insert(struct roost_timer_heap *h, struct roost_timer *t);
void roost__timer_heap_remove(struct roost_timer_heap *h, struct roost_timer *t);

/* The timer with the nearest deadline, or NULL. */
static inline struct roost_timer *roost__timer_heap_top(const struct roost_timer_heap *h)
{
    return h->n ? h->v[0] : NULL;
}

#endif
