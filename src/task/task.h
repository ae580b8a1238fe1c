/* Internal: tasks and the per-thread scheduler that switches into them. */
#ifndef ROOST_TASK_TASK_H
#define ROOST_TASK_TASK_H

#include <stdatomic.h>
#include <stdbool.h>

#include <roost/stats.h>
#include <roost/task.h>
#include <roost/waiter.h>

#include "task/fiber.h"

struct roost_reactor;

/*
 * The waiter's atomic fields, declared plain in the public header so that C++ can include
 * it; an atomic unsigned or bool is laid out as the plain type on every target roost builds
 * for (checked below).
 */
_Static_assert(sizeof(_Atomic unsigned) == sizeof(unsigned) && sizeof(_Atomic bool) == sizeof(bool),
               "atomic fields must be laid out as plain ones");

static inline _Atomic unsigned *roost__waiter_state(struct roost_waiter *w)
{
    return (_Atomic unsigned *)&w->_state;
}

static inline _Atomic bool *roost__waiter_cancel_requested(struct roost_waiter *w)
{
    return (_Atomic bool *)&w->_cancel_requested;
}

/* True once the waiter's task has suspended on it (tests force the "completed after the
 * suspension" interleaving with it instead of a timed sleep). */
bool roost__waiter_suspended(struct roost_waiter *w);

/* join_state bits: who of finish, join and detach came first. */
enum {
    ROOST_TASK_DONE = 1u << 0,
    ROOST_TASK_JOINING = 1u << 1,
    ROOST_TASK_DETACHED = 1u << 2,
};

/*
 * What every run and every await touches comes first and shares one cache line (a task is
 * allocated 64-byte aligned): a reactor serving hundreds of connections finds a task's
 * fields cold each time its turn comes, and each line is one more miss per request.
 */
struct roost_task {
    roost_ctx *ctx; /* where the task runs now: yields are posted here */
    /*
     * The task's reactor: the last reactor thread it ran on, else the one it was spawned
     * from (a connection task on the pool belongs to its connection's reactor). Timers of a
     * task running elsewhere live there (roost_sleep). NULL when it never met a reactor.
     */
    struct roost_reactor *reactor;
    struct roost_waiter *waiting; /* the await in progress, NULL when running freely */
    /*
     * The reactor that counts this task away (reactor.h, roost__reactor_away_add): it left
     * that reactor's thread for another one that will post back. Touched only by whoever
     * holds the task (it is not running elsewhere), so plain.
     */
    struct roost_reactor *away;
    bool started;
    _Atomic bool cancel_pending; /* cancel arrived while not awaiting: fail the next await */
    struct roost_fiber fiber;    /* its sp (first) is still on the first line */

    struct roost_work run; /* posting this starts or resumes the task */
    roost_task_fn fn;
    void *arg;
    int result;
    roost_ctx *spawn_ctx; /* told when the task finishes (roost_run counts its tasks) */
    _Atomic unsigned join_state;
    struct roost_waiter *joiner;
    _Atomic unsigned refs; /* the handle, the running life, posted cancels */
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct roost_task, fiber) + offsetof(struct roost_fiber, sp) +
                       sizeof(void *) <=
                   64,
               "a task's hot fields and its saved stack pointer share the first cache line");

/* What the scheduler does once the task that suspended has left its stack. */
typedef void (*roost_after_switch_fn)(struct roost_task *t);

/* The task layer's part of one reactor: its configuration and its counters. */
struct roost__task_reactor {
    size_t stack_size;  /* task stacks on this reactor (0: the default) */
    bool resume_inline; /* resume=inline: ring completions resume their task in the CQE loop */
    struct {
#define ROOST_TASK_COUNTER_(name, help) _Atomic uint64_t name;
        ROOST_STATS_TASK_FIELDS(ROOST_TASK_COUNTER_)
#undef ROOST_TASK_COUNTER_
    } stats;
};

/*
 * Attaches the task layer to r before its thread starts: the thread gets a scheduler
 * (stacks of stack_size bytes) as it starts and frees it as it exits. 0 or -errno.
 */
int roost__task_attach(struct roost_reactor *r, size_t stack_size, bool resume_inline);

/* Copies the task layer's counters of r into *out (zero if not attached). */
void roost__task_stats(const struct roost_reactor *r, struct roost_stats *out);

/* A thread's scheduler: the thread's own stack as a fiber, and the task it runs. */
struct roost_sched {
    struct roost_fiber thread_fiber;
    struct roost_task *current;
    roost_after_switch_fn after;
    struct roost_stack_pool stacks;
    struct roost__task_reactor *reactor; /* on a reactor thread: its task state, else NULL */
};

/*
 * The calling thread's scheduler, created on first use (stacks of stack_size bytes, 0 for
 * the default) and freed at thread exit or by roost__sched_thread_exit. NULL on ENOMEM.
 */
struct roost_sched *roost__sched_self(size_t stack_size);

/* The calling thread's scheduler if it has one; never creates. */
struct roost_sched *roost__sched_peek(void);

/* Frees the calling thread's scheduler now (a reactor or pool thread on its way out). */
void roost__sched_thread_exit(void);

/* Switches into t on this thread, from the scheduler's stack; returns when t suspends. */
void roost__task_run(struct roost_task *t);

/* From the running task: switch out; `after` runs on the scheduler's stack once t is off it. */
void roost__task_suspend(roost_after_switch_fn after);

/* Where "here" is for a post: the thread's exclusive context, else its current one. */
roost_ctx *roost__thread_runner(void);

/* Resume a suspended task at target (NULL: where the caller is); inline only if allowed. */
void roost__task_resume(struct roost_task *t, roost_ctx *target, bool inline_ok);

/*
 * The calling task (on a reactor thread) now waits for a post back from another thread
 * (an offload in flight): counted away from this reactor until it runs here again.
 */
void roost__task_away(void);

/*
 * The calling task, on a thread other than its reactor's, is about to post the request it
 * will wait on: returns the reactor that counted it away (or NULL) and forgets it; the
 * caller subtracts the count once the post is linked (roost__reactor_away_sub).
 */
struct roost_reactor *roost__task_away_take(void);

/*
 * Completes w from a source that only ever completes on the awaiting task's home reactor
 * (timers, ring ops): resumes inline in the reactor loop when resume=inline.
 */
bool roost__complete_local(struct roost_waiter *w, int result);

#endif
