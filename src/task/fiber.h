/* Fibers: the low-level mechanism under roost's stackful tasks.
 *
 * A fiber is a saved stack pointer plus the stack it points into. Switching saves the
 * callee-saved registers on the current stack, swaps stack pointers and restores the other
 * side's registers (src/task/fiber_switch_x86_64.S). There is no scheduler here: whoever
 * calls roost__fiber_switch() decides what runs next.
 *
 * Stacks come from a roost_stack_pool (one per reactor; not thread-safe). Each stack is an
 * mmap'd region with a PROT_NONE guard page below it; an overflow into the guard page is
 * reported by name (roost__fiber_overflow_guard_install) instead of corrupting a neighbour.
 *
 * Internal header: not part of include/roost.
 */
#ifndef ROOST_TASK_FIBER_H
#define ROOST_TASK_FIBER_H

#if !defined(__x86_64__) || defined(__ILP32__)
#error "roost: fibers support x86-64 only (aarch64 not yet)"
#endif

#include <stdbool.h>
#include <stddef.h>

/* Default usable stack size. Only touched pages become resident, so an idle task costs the
 * page or two at the top of its stack, not this. */
#define ROOST_STACK_DEFAULT ((size_t)64 * 1024)

/* One mmap'd stack: [map, lo) is the guard page, [lo, hi) the usable stack (grows down from
 * hi). Plain value: copying it does not duplicate the mapping. */
struct roost_stack {
    void *map;
    size_t map_size;
    void *lo;
    void *hi;
    unsigned valgrind_id; /* VALGRIND_STACK_REGISTER id; 0 when not built with valgrind.h */
};

/* A cache of stacks of one size. Long-lived, one per reactor, used by one thread at a time. */
struct roost_stack_pool {
    size_t stack_size; /* usable bytes per stack, a multiple of page_size */
    size_t page_size;
    unsigned cached;           /* stacks currently in cache[] */
    unsigned max_cached;       /* capacity of cache[] */
    struct roost_stack *cache; /* LIFO: the most recently released stack is reused first */
};

/* A fiber: long-lived while its task lives. The struct must stay at a fixed address while
 * the fiber is suspended (the switch code and the sanitizers keep pointers to it). */
struct roost_fiber {
    void *sp;                 /* saved stack pointer while suspended */
    struct roost_stack stack; /* copy of the stack it runs on; all zero for a thread fiber */
    const char *name;         /* borrowed, for the overflow message; may be NULL */
    void (*entry)(void *arg);
    void *arg;
    bool is_thread; /* describes a thread's native stack (roost__fiber_init_thread) */
    /* Sanitizer state (unused fields cost a few bytes in normal builds). */
    void *asan_fake_stack;
    const void *asan_stack_bottom; /* bounds ASan knows this fiber's stack by */
    size_t asan_stack_size;
    struct roost_fiber *asan_switched_from; /* set by the switcher, read by the landing side */
    void *tsan_fiber;
};

/* Initializes an empty pool of stacks of stack_size bytes (rounded up to whole pages; 0 means
 * ROOST_STACK_DEFAULT) caching at most max_cached released stacks. Returns 0 or -errno
 * (-EINVAL for an absurd size, -ENOMEM). */
int roost__stack_pool_init(struct roost_stack_pool *p, size_t stack_size, unsigned max_cached);

/* Fills *out with a cached stack or a fresh mapping (guard page + MAP_NORESERVE stack, never
 * touched here). The caller owns it until roost__stack_release. Returns 0 or -errno. */
int roost__stack_alloc(struct roost_stack_pool *p, struct roost_stack *out);

/* Gives s back to p: cached if there is room, unmapped otherwise. The stack must not be in
 * use (its fiber finished with roost__fiber_switch_final). *s is cleared. */
void roost__stack_release(struct roost_stack_pool *p, struct roost_stack *s);

/* Unmaps every cached stack and frees the cache. Stacks still allocated stay the callers'. */
void roost__stack_pool_destroy(struct roost_stack_pool *p);

/* Prepares f so that the first roost__fiber_switch into it calls entry(arg) on *stack. The
 * stack is copied into f but stays owned by the caller (release it after the fiber has
 * finished). entry must never return: it ends by roost__fiber_switch_final away from f (a
 * return aborts with a message). name is borrowed. Returns 0 or -EINVAL (stack too small). */
int roost__fiber_init(struct roost_fiber *f, struct roost_stack *stack, void (*entry)(void *arg),
                      void *arg, const char *name);

/* Describes the calling thread's own stack as fiber f, the one a scheduler switches from and
 * back to, and makes it the thread's current fiber. f must outlive every switch to it. */
void roost__fiber_init_thread(struct roost_fiber *f);

/* Suspends from (which must be the running fiber) and resumes to; returns when some fiber
 * switches back to from, possibly on another thread. Saves rbx, rbp, r12-r15, the x87
 * control word and MXCSR. from != to. */
void roost__fiber_switch(struct roost_fiber *from, struct roost_fiber *to);

/* The last switch out of a finished fiber: like roost__fiber_switch, but never returns and
 * tells ASan/TSan that from's stack is dead, so it may be released and reused. */
__attribute__((noreturn)) void roost__fiber_switch_final(struct roost_fiber *from,
                                                         struct roost_fiber *to);

/* Releases f's sanitizer state (TSan fiber). Not the stack, not f itself. f must not be
 * running. Harmless for a thread fiber and in non-sanitizer builds. */
void roost__fiber_destroy(struct roost_fiber *f);

/* The fiber running on the calling thread (NULL before roost__fiber_init_thread). Not inlined:
 * a task that migrates must not keep this thread's TLS address across a switch. */
struct roost_fiber *roost__fiber_current(void);

/* Once per process (later calls return the first result): installs the SIGSEGV/SIGBUS handler
 * that reports a guard-page hit by task name and aborts. Other faults go to the handler that
 * was installed before (normally the default: the process dies as usual). 0 or -errno. */
int roost__fiber_overflow_guard_install(void);

/* Per thread that runs fibers: gives the thread an alternate signal stack so the handler can
 * run after the fiber stack is exhausted. Keeps an existing one if it is big enough. 0 or
 * -errno. */
int roost__fiber_thread_altstack(void);

/* Before a thread that called roost__fiber_thread_altstack exits: disables and unmaps the
 * alternate stack that call mapped (nothing if it kept an existing one). */
void roost__fiber_thread_altstack_release(void);

#endif
