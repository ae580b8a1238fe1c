/* Internal: tasks and the per-thread scheduler that switches into them. */
#ifndef ROOST_TASK_TASK_H
#define ROOST_TASK_TASK_H

#include <stdatomic.h>
#include <stdbool.h>

#include <roost/task.h>
#include <roost/waiter.h>

#include "task/fiber.h"

/* join_state bits: who of finish, join and detach came first. */
enum {
    ROOST_TASK_DONE = 1u << 0,
    ROOST_TASK_JOINING = 1u << 1,
    ROOST_TASK_DETACHED = 1u << 2,
};

struct roost_task {
    struct roost_work run; /* posting this starts or resumes the task */
    struct roost_fiber fiber;
    roost_task_fn fn;
    void *arg;
    int result;
    bool started;
    roost_ctx *ctx;       /* where the task runs now: yields are posted here */
    roost_ctx *spawn_ctx; /* told when the task finishes (roost_run counts its tasks) */
    /*
     * The task's reactor: the last reactor thread it ran on, else the one it was spawned
     * from (a connection task on the pool belongs to its connection's reactor). Timers of a
     * task running elsewhere live there (roost_sleep). NULL when it never met a reactor.
     */
    struct roost_reactor *reactor;
    struct roost_waiter *waiting; /* the await in progress, NULL when running freely */
    _Atomic bool cancel_pending;  /* cancel arrived while not awaiting: fail the next await */
    _Atomic unsigned join_state;
    struct roost_waiter *joiner;
    _Atomic unsigned refs; /* the handle, the running life, posted cancels */
};

/* What the scheduler does once the task that suspended has left its stack. */
typedef void (*roost_after_switch_fn)(struct roost_task *t);

/* A thread's scheduler: the thread's own stack as a fiber, and the task it runs. */
struct roost_sched {
    struct roost_fiber thread_fiber;
    struct roost_task *current;
    roost_after_switch_fn after;
    struct roost_stack_pool stacks;
};

/*
 * The calling thread's scheduler, created on first use (stacks of stack_size bytes, 0 for
 * the default) and freed at thread exit or by roost_sched_thread_exit. NULL on ENOMEM.
 */
struct roost_sched *roost_sched_self(size_t stack_size);

/* The calling thread's scheduler if it has one; never creates. */
struct roost_sched *roost_sched_peek(void);

/* Frees the calling thread's scheduler now (a reactor or pool thread on its way out). */
void roost_sched_thread_exit(void);

/* Switches into t on this thread, from the scheduler's stack; returns when t suspends. */
void roost_task_run(struct roost_task *t);

/* From the running task: switch out; `after` runs on the scheduler's stack once t is off it. */
void roost_task_suspend(roost_after_switch_fn after);

/* Where "here" is for a post: the thread's exclusive context, else its current one. */
roost_ctx *roost_thread_runner(void);

/* Resume a suspended task at target (NULL: where the caller is); inline only if allowed. */
void roost_task_resume(struct roost_task *t, roost_ctx *target, bool inline_ok);

/*
 * Completes w from a source that only ever completes on the awaiting task's home reactor
 * (timers, ring ops): resumes inline in the reactor loop when resume=inline.
 */
bool roost_complete_local(struct roost_waiter *w, int result);

#endif
