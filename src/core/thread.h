/*
 * Internal: per-thread state. Every read goes through a non-inlined accessor: a task that
 * migrates between threads (pool mode, opt-out awaits) must never keep the address of
 * another thread's thread-local across an await, and the compiler may otherwise cache the
 * TLS base across a fiber switch.
 */
#ifndef ROOST_CORE_THREAD_H
#define ROOST_CORE_THREAD_H

#include <stdbool.h>

struct roost_ctx;
struct roost_reactor;

/* The context roost_ctx_current returns (NULL with affinity off). */
struct roost_ctx *roost__thread_ctx(void);
void roost__thread_set_ctx(struct roost_ctx *ctx);

/* The reactor this thread runs, whatever the affinity switch says. */
struct roost_reactor *roost__thread_reactor(void);
void roost__thread_set_reactor(struct roost_reactor *r);

/*
 * The exclusive context this thread pumps (a reactor's or roost_run's), whatever the
 * affinity switch says; such a thread must never block on another context.
 */
struct roost_ctx *roost__thread_exclusive(void);
void roost__thread_set_exclusive(struct roost_ctx *ctx);

#endif
