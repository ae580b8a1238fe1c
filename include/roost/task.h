/* roost — stackful tasks. */
#ifndef ROOST_TASK_H
#define ROOST_TASK_H

#include <stdint.h>

#include <roost/ctx.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * A task: a function running on its own small stack, which can await (suspend) anywhere
 * and is resumed on its home context (continuation affinity). Created by roost_spawn*;
 * whoever spawns it must roost_join or roost_detach it exactly once.
 */
typedef struct roost_task roost_task;

/* A task's body: returns >= 0 or -errno (a detached task's failure is counted and hooked). */
typedef int (*roost_task_fn)(void *arg);

/*
 * Spawns fn(arg) as a task on the calling thread's context (or, with affinity off, on the
 * calling reactor). It first runs after the caller yields or returns: never inline.
 * Returns 0 and *out, -EPERM when the calling thread has no context, or -ENOMEM.
 */
int roost_spawn(roost_task_fn fn, void *arg, roost_task **out);

/* As roost_spawn, on the given context (a reactor's, the pool's, roost_run's). Any thread. */
int roost_spawn_on(roost_ctx *ctx, roost_task_fn fn, void *arg, roost_task **out);

/*
 * From a task: waits until t finishes, frees it and returns its result. -EPERM outside a
 * task, -EINVAL if t is the calling task; -ECANCELED if the calling task is cancelled while
 * waiting (t is then detached: it finishes on its own and is freed).
 */
int roost_join(roost_task *t);

/* Lets t finish on its own; it is freed when it does. A failure is counted and hooked. */
void roost_detach(roost_task *t);

/* From a task: lets every other ready item on this context run, then continues. 0/-EPERM. */
int roost_yield(void);

/*
 * From a task: suspends for at least ms milliseconds. The timer lives on the task's
 * reactor: the one it runs on, or, for a task running elsewhere (a pool worker with
 * run-on=pool, or after an opt-out await), the reactor it last ran on or was spawned from,
 * reached through that reactor's inbox; the task resumes where it waits. Returns 0,
 * -ECANCELED if cancelled meanwhile, -ESHUTDOWN if that reactor has stopped, -EPERM outside
 * a task or for a task that never met a reactor.
 */
int roost_sleep(uint64_t ms);

/*
 * Cancels t's current await (or its next one, if it is not awaiting): that await returns
 * -ECANCELED, and once this call returns on t's home context a success of the cancelled
 * operation is never delivered. Sources that can abandon their operation (timers, offloads
 * not yet started, joins) resume the task at once; others resume it when they complete, so
 * memory an operation uses is never freed under it. Call it on t's home context; from
 * elsewhere it is posted there. Returns 0 or -ESHUTDOWN.
 */
int roost_task_cancel(roost_task *t);

/*
 * From a task: moves the task to ctx and continues there (an explicit hop). Returns 0 on
 * arrival, -EPERM outside a task, -ESHUTDOWN if ctx has stopped (the task stays put).
 */
int roost_hop(roost_ctx *ctx);

/* The task running on the calling thread, or NULL. */
roost_task *roost_task_current(void);

ROOST_END_DECLS

#endif
