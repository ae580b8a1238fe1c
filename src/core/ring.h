/* Internal: ring setup and CQE dispatch, used by the reactor loop. */
#ifndef ROOST_CORE_RING_H
#define ROOST_CORE_RING_H

#include "core/reactor.h"

/* Creates r's ring with the best flags the kernel takes; sets r->ring_mode. */
int roost__ring_setup(struct roost_reactor *r);

/*
 * Hands the n CQEs from head on, in order, each to its op's handler, or counts it stale.
 * Each is warmed before: the op slot of the one three ahead is prefetched, and its kind's
 * prefetch (hooks.h) runs for the ones two and one ahead.
 */
void roost__ring_dispatch_batch(struct roost_reactor *r, unsigned head, unsigned n);

void roost__op_table_destroy(struct roost_op_table *t);

#endif
