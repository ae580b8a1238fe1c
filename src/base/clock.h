/* Internal: the one clock every layer measures deadlines with. */
#ifndef ROOST_BASE_CLOCK_H
#define ROOST_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds (vDSO: no syscall). */
static inline uint64_t roost__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
