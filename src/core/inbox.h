/*
 * Internal: a reactor's cross-thread inbox — a lock-free intrusive MPSC queue (Vyukov's,
 * with a stub node) and a gate that closes it at stop. Any thread may push; only the
 * reactor thread pops. The parked flag of coalesced wakes lives in the reactor.
 */
#ifndef ROOST_CORE_INBOX_H
#define ROOST_CORE_INBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <roost/ctx.h>

struct roost_inbox {
    /* Producers' cache line: the tail they exchange and the gate they pass. */
    _Alignas(64) struct roost_work *_Atomic tail;
    /* 2 x producers inside push, plus bit 0 once closed. */
    _Atomic uint64_t gate;
    /* Consumer's cache line. */
    _Alignas(64) struct roost_work *head;
    struct roost_work stub;
};

void roost__inbox_init(struct roost_inbox *q);

/*
 * Passes the gate: false once the inbox is closed. A producer that entered must push, do
 * whatever else touches the reactor (the wake), then leave.
 */
bool roost__inbox_enter(struct roost_inbox *q);
void roost__inbox_leave(struct roost_inbox *q);

/* Links work in; only between enter and leave. */
void roost__inbox_push(struct roost_inbox *q, struct roost_work *work);

/*
 * Unlinks the oldest item, or returns NULL when the inbox is empty or the next item's
 * producer is between its two steps (roost__inbox_busy then stays true: try again soon).
 */
struct roost_work *roost__inbox_pop(struct roost_inbox *q);

/*
 * True when an item is linked or being linked. Sequentially consistent, so that it pairs
 * with the producer's exchange in the parking protocol (see reactor.c).
 */
bool roost__inbox_busy(struct roost_inbox *q);

/*
 * Closes the gate: later enters fail. Returns once every producer that got through the
 * gate has left, so a final drain sees all accepted work.
 */
void roost__inbox_close(struct roost_inbox *q);

/* True once roost__inbox_close has begun. */
bool roost__inbox_closed(const struct roost_inbox *q);

#endif
