/* Internal: the pool's helpers for other modules. */
#ifndef ROOST_POOL_POOL_H
#define ROOST_POOL_POOL_H

#include <stdbool.h>

#include <roost/pool.h>

struct roost_reactor;

/* The pool whose worker is calling, or NULL. */
roost_pool *roost__pool_of_thread(void);

/* The pool offload uses from here: the runtime's, the worker's own, or the default one. */
roost_pool *roost__pool_for_caller(void);

/*
 * Attaches p to reactor r before r's thread starts: offload from r uses p, and the posts r
 * batches during a tick go out in r's before-enter step (and at its stop). 0 or -errno.
 */
int roost__pool_attach(struct roost_reactor *r, roost_pool *p);

/*
 * Hands the pool posts this reactor thread batched during the tick to their pool (the
 * pool's before-enter hook).
 */
void roost__pool_flush_pending(void);

/* Takes w out of p's queue if it has not started; true if it was removed. */
bool roost__pool_remove(roost_pool *p, struct roost_work *w);

#endif
