/* Internal: ring setup and CQE dispatch, used by the reactor loop. */
#ifndef ROOST_CORE_RING_H
#define ROOST_CORE_RING_H

#include "core/reactor.h"

/* Creates r's ring with the best flags the kernel takes; sets r->ring_mode. */
int roost__ring_setup(struct roost_reactor *r);

/* Hands one CQE to its op's handler, or counts it stale. */
void roost__ring_dispatch(struct roost_reactor *r, const struct io_uring_cqe *cqe);
/* Warms what cqe's dispatch will touch, ahead (3, 2 or 1) completions before it (hooks.h,
 * roost__prefetch_fn). */
void roost__ring_prefetch(struct roost_reactor *r, const struct io_uring_cqe *cqe, unsigned ahead);

void roost__op_table_destroy(struct roost_op_table *t);

#endif
