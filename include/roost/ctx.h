/* roost — scheduling contexts: where work and task continuations run. */
#ifndef ROOST_CTX_H
#define ROOST_CTX_H

#include <stdbool.h>

#include <roost/work.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * A scheduling context (the role of .NET's SynchronizationContext). Every reactor thread
 * has one for its whole life (unless affinity is off); pool workers share the pool's; any
 * other thread has none. New threads never inherit one.
 */
typedef struct roost_ctx roost_ctx;

/* The calling thread's current context, or NULL. */
roost_ctx *roost_ctx_current(void);

/*
 * Runs fn(arg) later on ctx. Never inline, not even on ctx's own thread. On an exclusive
 * context (a reactor) posted work runs exactly once, FIFO per producer, one item at a
 * time, with ctx current. Returns 0, -ESHUTDOWN if ctx has stopped (fn never runs), or
 * -ENOMEM. Allocates a small item; roost_ctx_post_work does not.
 */
int roost_ctx_post(roost_ctx *ctx, roost_work_fn fn, void *arg);

/* As roost_ctx_post, with a caller-owned item (see struct roost_work). */
int roost_ctx_post_work(roost_ctx *ctx, struct roost_work *work);

/*
 * Runs fn(arg) on ctx and returns its result. Inline when the caller is on ctx's thread;
 * otherwise posts and blocks until fn has run. Returns -EDEADLK instead of blocking when
 * called on a reactor (or any exclusive context's) thread for another context, and
 * -ESHUTDOWN if ctx has stopped. fn's result is returned, not counted as a failure.
 */
int roost_ctx_send(roost_ctx *ctx, roost_work_fn fn, void *arg);

/* True when ctx runs one thing at a time on one thread (reactors, roost_run). */
bool roost_ctx_is_exclusive(const roost_ctx *ctx);

/* True when the calling thread is one of ctx's threads. */
bool roost_ctx_on_thread(const roost_ctx *ctx);

ROOST_END_DECLS

#endif
