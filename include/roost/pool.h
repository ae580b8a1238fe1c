/* roost — the worker pool and offload. */
#ifndef ROOST_POOL_H
#define ROOST_POOL_H

#include <roost/ctx.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * A fixed set of worker threads sharing one context. The pool context is NOT exclusive:
 * posted items run in FIFO order of the queue but several at once, one per worker.
 */
typedef struct roost_pool roost_pool;

/* Starts threads workers (0: one per online CPU). Returns 0 and *out, or -errno. */
int roost_pool_create(unsigned threads, roost_pool **out);

/* Runs what is queued, stops and joins the workers, frees the pool. Not from a worker. */
void roost_pool_destroy(roost_pool *p);

roost_ctx *roost_pool_ctx(roost_pool *p);

/*
 * From a task: runs fn(arg) on the runtime's pool (or, outside a runtime, on a process-wide
 * default pool) and resumes the task on its home context with fn's result. Cancelling the
 * task before fn has started removes fn from the queue: it never runs, and the offload
 * returns -ECANCELED. -EPERM when not called from a task.
 */
int roost_offload(roost_work_fn fn, void *arg);

/* As roost_offload, on the given pool, with roost_wait_flags flags. */
int roost_offload_on(roost_pool *p, roost_work_fn fn, void *arg, unsigned wait_flags);

ROOST_END_DECLS

#endif
