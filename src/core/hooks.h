/*
 * Internal: how a layer above the core attaches to a reactor without the core naming it.
 *
 * The loop calls a table of hooks that higher layers register, the way redis's event loop
 * calls its before-sleep procedure and nginx's calls the event actions its chosen module
 * installed: the core includes nothing above it and never names a layer. A layer registers
 * one `struct roost__hooks` (static, const) per reactor with its per-reactor object as
 * `arg`, either before the reactor's thread starts or on the reactor's own thread; it finds
 * the object again with roost__reactor_hooks_arg. Every callback is optional (NULL) and
 * runs on the reactor thread, except destroy (after the thread has exited).
 *
 * Stale completions are dispatched by op kind instead: a layer registers its kinds once per
 * process (roost__op_kind_register) with what to do with a completion for a freed slot of
 * that kind (net gives the provided buffer it carries back to its ring).
 */
#ifndef ROOST_CORE_HOOKS_H
#define ROOST_CORE_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

struct roost_reactor;
struct roost_op;
struct io_uring_cqe;

struct roost__hooks {
    const char *name; /* the layer's name, for messages */
    /*
     * As the reactor thread starts, before its ring exists, in registration order. A
     * negative result fails the start: the hooks that started get thread_exit, and the
     * runtime's start returns the error.
     */
    int (*thread_start)(struct roost_reactor *r, void *arg);
    /*
     * Every tick, as the step just before the enter (which may sleep), and once more after
     * the final drain at stop: work batched during the tick goes out here.
     */
    void (*before_enter)(struct roost_reactor *r, void *arg);
    /*
     * Every tick once a stop was requested (every registered layer is asked, each tick):
     * start winding down, and return true while the loop must go on ticking to reap the
     * layer's completions. The loop stops when no layer says true. While it says true,
     * the layer must have something pending that ends the tick's wait (a ring op, a timer),
     * or the reactor sleeps until it has.
     */
    bool (*draining)(struct roost_reactor *r, void *arg);
    /* On the reactor thread after its loop has ended and its ring is gone; reverse order. */
    void (*thread_exit)(struct roost_reactor *r, void *arg);
    /* From roost__reactor_free, once the thread has exited; reverse order. Frees arg. */
    void (*destroy)(struct roost_reactor *r, void *arg);
};

/* Layers one reactor can carry. */
#define ROOST__HOOKS_MAX 16

/*
 * Attaches h with arg to r: before r's thread starts (from any one thread), or on r's own
 * thread. A layer attached on the running thread has missed thread_start (call what it
 * needs itself) but gets every later hook, thread_exit included. Returns 0, -EEXIST if h
 * is already attached, or -ENOSPC.
 */
int roost__reactor_hooks_add(struct roost_reactor *r, const struct roost__hooks *h, void *arg);

/* The arg h was attached with, or NULL. Any thread. */
void *roost__reactor_hooks_arg(const struct roost_reactor *r, const struct roost__hooks *h);

/* What to do with a completion for a freed or recycled op slot of one kind. */
typedef void (*roost__stale_fn)(struct roost_reactor *r, const struct io_uring_cqe *cqe);

/*
 * Allocates a process-wide op kind (the 8-bit tag in user_data) for a layer's ring ops.
 * stale (may be NULL) sees the completions of that kind that arrive after their slot was
 * freed. Call once per kind per process (pthread_once). Returns the kind or -ENOSPC.
 */
int roost__op_kind_register(const char *name, roost__stale_fn stale);

/* The handler registered for kind (NULL: none). */
roost__stale_fn roost__op_kind_stale(uint8_t kind);

/*
 * Warms the memory a completion of one kind will touch, before the reap reaches it: a
 * reactor serving hundreds of connections finds each one's state cold, and a handler that
 * meets one cold line after another waits for each in turn. The reap prefetches the op slot
 * of the completion three ahead of the one it dispatches, then calls this with step 0 for
 * the one two ahead (prefetch what op points to) and step 1 for the next (what that points
 * to, read from the lines step 0 warmed). It only reads the live op's state and prefetches,
 * on r's thread.
 */
typedef void (*roost__prefetch_fn)(const struct roost_op *op, int step);

/* Sets kind's prefetch (process-wide, like the kind; call once, where the kind is registered). */
void roost__op_kind_set_prefetch(uint8_t kind, roost__prefetch_fn fn);

#endif
