/*
 * The inbox: Vyukov's intrusive MPSC queue.
 *
 * push(n): n->next = NULL; prev = XCHG(tail, n); prev->next = n.
 * Between the exchange and the link the queue is briefly "busy": the consumer sees a tail
 * it cannot reach yet and returns NULL; it never loses the item, it picks it up on a later
 * tick (roost__inbox_busy stays true, so the reactor does not park meanwhile).
 *
 * Ordering: the producer writes the item's fields, then publishes it with the release
 * store to prev->next; the consumer reads next with acquire before touching the item, so
 * the fields happen-before the consumer's read. The exchange on tail is acq_rel, which
 * orders producers among themselves: each producer's items are linked in its own program
 * order, giving FIFO per producer.
 *
 * The gate: a producer enters (adds 2) before pushing and leaves (subtracts 2) after its
 * push and its wake; close sets bit 0 and waits until only bit 0 remains. Both are
 * read-modify-writes on one variable, so they are totally ordered: a producer either saw
 * the bit (and refused) or was counted before it (and close waits for its link and its
 * eventfd write). No push lands after the final drain, and no wake writes to an eventfd the
 * reactor has closed (and whose number the process may have reused).
 */
#include <errno.h>
#include <sched.h>

#include "base/work.h"
#include "core/inbox.h"

void roost__inbox_init(struct roost_inbox *q)
{
    atomic_init(roost__work_link(&q->stub), NULL);
    atomic_init(&q->tail, &q->stub);
    atomic_init(&q->gate, 0);
    q->head = &q->stub;
}

static void link_node(struct roost_inbox *q, struct roost_work *n)
{
    atomic_store_explicit(roost__work_link(n), NULL, memory_order_relaxed);
    /* seq_cst: this exchange is one half of the parking handshake (reactor.c). */
    struct roost_work *prev = atomic_exchange_explicit(&q->tail, n, memory_order_seq_cst);
    atomic_store_explicit(roost__work_link(prev), n, memory_order_release);
}

bool roost__inbox_enter(struct roost_inbox *q)
{
    uint64_t g = atomic_fetch_add_explicit(&q->gate, 2, memory_order_acquire);
    if (g & 1) {
        atomic_fetch_sub_explicit(&q->gate, 2, memory_order_release);
        return false;
    }
    return true;
}

void roost__inbox_leave(struct roost_inbox *q)
{
    atomic_fetch_sub_explicit(&q->gate, 2, memory_order_release);
}

void roost__inbox_push(struct roost_inbox *q, struct roost_work *work)
{
    link_node(q, work);
}

struct roost_work *roost__inbox_pop(struct roost_inbox *q)
{
    struct roost_work *head = q->head;
    struct roost_work *next = atomic_load_explicit(roost__work_link(head), memory_order_acquire);
    if (head == &q->stub) {
        if (!next)
            return NULL;
        q->head = next;
        head = next;
        next = atomic_load_explicit(roost__work_link(head), memory_order_acquire);
    }
    if (next) {
        q->head = next;
        return head;
    }
    /* head is the last linked node; if the tail moved on, its producer is mid-link. */
    if (head != atomic_load_explicit(&q->tail, memory_order_acquire))
        return NULL;
    /* Put the stub behind head so head can be handed out without emptying the list. */
    link_node(q, &q->stub);
    next = atomic_load_explicit(roost__work_link(head), memory_order_acquire);
    if (next) {
        q->head = next;
        return head;
    }
    return NULL;
}

bool roost__inbox_busy(struct roost_inbox *q)
{
    /* Empty is exactly: the consumer waits at the stub and no producer has moved the tail. */
    struct roost_work *tail = atomic_load_explicit(&q->tail, memory_order_seq_cst);
    return tail != &q->stub || q->head != &q->stub;
}

void roost__inbox_close(struct roost_inbox *q)
{
    atomic_fetch_or_explicit(&q->gate, 1, memory_order_acq_rel);
    while (atomic_load_explicit(&q->gate, memory_order_acquire) != 1)
        sched_yield();
}

bool roost__inbox_closed(const struct roost_inbox *q)
{
    return atomic_load_explicit(&((struct roost_inbox *)q)->gate, memory_order_acquire) & 1;
}
