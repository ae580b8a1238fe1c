#include <errno.h>
#include <stdlib.h>

#include "core/timer_heap.h"

void roost__timer_heap_init(struct roost_timer_heap *h)
{
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

void roost__timer_heap_destroy(struct roost_timer_heap *h)
{
    free(h->v);
    roost__timer_heap_init(h);
}

static void place(struct roost_timer_heap *h, uint32_t i, struct roost_timer *t)
{
    h->v[i] = t;
    t->heap_index = i;
}

static void sift_up(struct roost_timer_heap *h, uint32_t i)
{
    struct roost_timer *t = h->v[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->v[parent]->deadline_ns <= t->deadline_ns)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct roost_timer_heap *h, uint32_t i)
{
    struct roost_timer *t = h->v[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->v[child + 1]->deadline_ns < h->v[child]->deadline_ns)
            child++;
        if (t->deadline_ns <= h->v[child]->deadline_ns)
            break;
        place(h, i, h->v[child]);
        i = child;
    }
    place(h, i, t);
}

int roost__timer_heap_insert(struct roost_timer_heap *h, struct roost_timer *t)
{
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        struct roost_timer **v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    place(h, h->n++, t);
    sift_up(h, t->heap_index);
    return 0;
}

void roost__timer_heap_remove(struct roost_timer_heap *h, struct roost_timer *t)
{
    uint32_t i = t->heap_index;
    struct roost_timer *last = h->v[--h->n];
    t->heap_index = UINT32_MAX;
    if (i == h->n)
        return;
    place(h, i, last);
    /* The moved timer may belong above or below its new slot. */
    if (i > 0 && h->v[(i - 1) / 2]->deadline_ns > last->deadline_ns)
        sift_up(h, i);
    else
        sift_down(h, i);
}
