/* Internal: a one-shot "done" flag a thread can block on (futex). */
#ifndef ROOST_BASE_FUTEX_H
#define ROOST_BASE_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Blocks while *word == expected (spurious returns are possible: re-check). */
static inline void roost__futex_wait(_Atomic unsigned *word, unsigned expected)
{
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

/* Wakes up to n threads blocked on word. */
static inline void roost__futex_wake(_Atomic unsigned *word, int n)
{
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#endif
