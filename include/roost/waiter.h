/* roost — the waiter: the one await primitive every source is built on. */
#ifndef ROOST_WAITER_H
#define ROOST_WAITER_H

#include <stdbool.h>

#include <roost/ctx.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

struct roost_task;
struct roost_waiter;

/*
 * A source's cancel hook, run on the awaiting task's home context when the task is
 * cancelled. Return true if the source has abandoned the operation and will never call
 * roost_complete on this waiter (the task then resumes at once with -ECANCELED); false if
 * the completion will still come (the task resumes then, with -ECANCELED).
 */
typedef bool (*roost_waiter_cancel_fn)(struct roost_waiter *w);

/* Flags for roost_wait_flags. */
enum {
    /*
     * Opt out of affinity for this await (ConfigureAwait(false)): resume where the
     * completion happened; the task then belongs to that thread's context.
     */
    ROOST_WAIT_ANYWHERE = 1u << 0,
};

/*
 * A one-shot await (the role of ManualResetValueTaskSourceCore). Caller-owned, usually on
 * the awaiting task's stack: it must stay valid until roost_complete was called on it or
 * its cancel hook returned true. Initialise with roost_waiter_init; reuse after init again.
 */
struct roost_waiter {
    unsigned _state; /* read and written atomically by the runtime: never touch */
    int result;
    unsigned flags;
    bool _cancel_requested; /* likewise */
    struct roost_task *task;
    roost_ctx *home; /* captured when the task suspends */
    roost_waiter_cancel_fn cancel;
    void *source; /* for the source's use (e.g. its cancel hook) */
};

void roost_waiter_init(struct roost_waiter *w);

/*
 * Makes w abandonable: fn is called on the home context if the awaiting task is cancelled.
 * Set it before handing w to the completer.
 */
void roost_waiter_set_cancel(struct roost_waiter *w, roost_waiter_cancel_fn fn, void *source);

/*
 * From a task: suspends until w is completed and returns the result (>= 0 or -errno), or
 * -ECANCELED. Returns at once, where the task is, if w was already completed. The task
 * resumes on the context that was current when it suspended. -EPERM when not called from
 * a task.
 */
int roost_wait(struct roost_waiter *w);

/* roost_wait with flags (ROOST_WAIT_ANYWHERE). */
int roost_wait_flags(struct roost_waiter *w, unsigned flags);

/*
 * Completes w with result, from any thread. The first completion wins; returns false if w
 * was already completed. The waiting task is resumed by a post to its home context, never
 * inline on the completing thread (unless it opted out with ROOST_WAIT_ANYWHERE). The caller
 * must not touch w after this returns.
 */
bool roost_complete(struct roost_waiter *w, int result);

ROOST_END_DECLS

#endif
