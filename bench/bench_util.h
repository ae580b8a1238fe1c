/*
 * bench_util.h: helpers shared by the benchmark programs in bench/ (bench_* and their libuv
 * peers peer_uv_*). Header-only and static inline, so that a program pays only for what it
 * uses; it includes no roost header, because the peer programs link only libuv and pthreads.
 *
 * Define _GNU_SOURCE before the first #include of the program (for pthread_setaffinity_np
 * and CPU_SET).
 */
#ifndef ROOST_BENCH_UTIL_H
#define ROOST_BENCH_UTIL_H

#ifndef _GNU_SOURCE
#error "bench_util.h needs _GNU_SOURCE defined before the first #include"
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

/* Parses a decimal in [min, max] into *out; 0, or -EINVAL (also for a sign or trailing junk). */
static inline int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-' || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Pins the calling thread to cpu (threads it creates later inherit that); cpu < 0: no-op. */
static inline int pin_self(int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Reads clock clk into *out in nanoseconds; 0, or -errno (errno left set). */
static inline int clock_ns(clockid_t clk, uint64_t *out)
{
    struct timespec ts;
    if (clock_gettime(clk, &ts) != 0)
        return -errno;
    *out = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return 0;
}

/* CLOCK_MONOTONIC in ns; it cannot fail with a valid pointer, a zero would show in figures. */
static inline uint64_t now_ns(void)
{
    uint64_t ns = 0; /* stays 0 if the clock fails */
    (void)clock_ns(CLOCK_MONOTONIC, &ns);
    return ns;
}

/* CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID) in ns; 0 if the clock fails. */
static inline uint64_t thread_cpu_ns(void)
{
    uint64_t ns = 0; /* stays 0 if the clock fails */
    (void)clock_ns(CLOCK_THREAD_CPUTIME_ID, &ns);
    return ns;
}

/* CPU time of the whole process, user plus system (getrusage), in ns; 0 if that fails. */
static inline uint64_t process_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    uint64_t us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
                  (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
    return us * 1000u;
}

/* pthread_barrier_wait, 0 for every thread that passed (serial one included) or -error. */
static inline int barrier_wait(pthread_barrier_t *b)
{
    int rc = pthread_barrier_wait(b);
    return rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD ? 0 : -rc;
}

/* qsort comparison of two uint64_t, ascending. */
static inline int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static inline uint64_t percentile(const uint64_t *v, uint64_t n, unsigned pct)
{
    uint64_t rank = (n * pct + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

/* Sorts the n latencies lat and prints "<prefix>_ns_median" and "<prefix>_ns_p99" lines. */
static inline void print_latency(const char *prefix, uint64_t *lat, uint64_t n)
{
    qsort(lat, n, sizeof(*lat), cmp_u64);
    printf("%s_ns_median %" PRIu64 "\n", prefix, percentile(lat, n, 50));
    printf("%s_ns_p99 %" PRIu64 "\n", prefix, percentile(lat, n, 99));
}

/* Prints "<prefix>_throughput_items_per_s", "_cpu_ns_per_item", "_loop_cpu_ns_per_item". */
static inline void print_throughput(const char *prefix, uint64_t items, uint64_t elapsed_ns,
                                    uint64_t process_cpu, uint64_t loop_cpu)
{
    double n = (double)items;
    printf("%s_throughput_items_per_s %.0f\n", prefix, n * 1e9 / (double)elapsed_ns);
    printf("%s_cpu_ns_per_item %.1f\n", prefix, (double)process_cpu / n);
    printf("%s_loop_cpu_ns_per_item %.1f\n", prefix, (double)loop_cpu / n);
}

/* Prints "<prefix>_per_s" and "<prefix>_cpu_ns_per_op" for ops operations. */
static inline void print_rate(const char *prefix, uint64_t ops, uint64_t elapsed_ns,
                              uint64_t process_cpu)
{
    printf("%s_per_s %.0f\n", prefix, (double)ops * 1e9 / (double)elapsed_ns);
    printf("%s_cpu_ns_per_op %.0f\n", prefix, (double)process_cpu / (double)ops);
}

#endif /* ROOST_BENCH_UTIL_H */
