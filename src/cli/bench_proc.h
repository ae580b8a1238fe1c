/*
 * `roost bench`'s process plumbing: pinned child processes, their CPU time from /proc, a
 * blocking loopback HTTP GET, the reactor counters from /metrics, and the load generators
 * (wrk with bench/pipeline.lua, or `roost load`) behind one call.
 */
#ifndef ROOST_CLI_BENCH_PROC_H
#define ROOST_CLI_BENCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Seconds on the monotonic clock. */
double bench_now(void);

/*
 * Starts argv[0] (a path, or a name looked up in PATH) with its CPU affinity set to `cpu`
 * (-1: inherited), stdin from /dev/null, stdout to out_fd and stderr to err_fd (-1:
 * /dev/null). Returns 0 and the pid, or -errno.
 */
int bench_spawn(char *const argv[], int cpu, int out_fd, int err_fd, pid_t *pid);

/*
 * Waits up to `timeout` seconds for pid to end, then kills it (SIGKILL) and reaps it.
 * Returns the wait status (as waitpid's) and, if ru_us is not NULL, the child's user+system
 * CPU in microseconds; -ETIMEDOUT if it had to be killed.
 */
int bench_wait(pid_t pid, double timeout, int *status, uint64_t *ru_us);

/* SIGTERM, up to `grace` seconds for it to end, then SIGKILL; reaps it. */
void bench_stop(pid_t pid, double grace);

/* Whether pid exists and is not a zombie. */
bool bench_alive(pid_t pid);

/*
 * The CPU time of pid and its direct children (nginx's worker): utime+stime in clock ticks
 * from /proc/PID/stat, and the same on-CPU time in ns summed over the schedstat file of
 * every thread (/proc/PID/task/TID/schedstat).
 * A tick is 10 ms: a 1 s cell at 1 µs per request spends a few dozen, too coarse for a 3%
 * gate, so the ns are used whenever both reads have them.
 */
struct bench_cpu {
    uint64_t ticks;
    uint64_t ns;
    bool ns_ok;
};
void bench_cpu(pid_t pid, struct bench_cpu *c);

/* Seconds of CPU between two reads (ns if both have them and no thread ended, else ticks). */
double bench_cpu_seconds(const struct bench_cpu *a, const struct bench_cpu *b);

/*
 * Busy ticks (user+nice+system+steal) of CPUs a and b from /proc/stat. Interrupt time is
 * left out: loopback TCP work lands in softirq, charged to no task, so it would be counted
 * as other processes' load.
 */
uint64_t bench_cpus_busy(int a, int b);

/* A TCP port on 127.0.0.1 that was free a moment ago (for peers that cannot take port 0). */
int bench_free_port(uint16_t *port);

/*
 * GET http://127.0.0.1:port/path with Connection: close, waiting at most `timeout` seconds.
 * Returns 0 with the status and the body (malloc'd, NUL-terminated; chunked bodies decoded),
 * or -errno.
 */
int bench_http_get(uint16_t port, const char *path, double timeout, int *status, char **body,
                   size_t *len);

/* The reactor counters `roost bench` reads, summed over the reactors. */
struct bench_counters {
    uint64_t enters;
    uint64_t wakes_written;
    uint64_t inline_resumes;
    uint64_t posted_resumes;
    /* Responses by status class, where the server exports roost_http_requests_total{class=}:
     * a server-side check that a generator blind to 3xx (wrk) saw only 2xx. */
    bool have_classes;
    uint64_t http_2xx, http_not_2xx;
};

/*
 * Reads /metrics and sums the counters over reactors. Accepts both `roost_<name>` and the
 * Prometheus-style `roost_<name>_total`. Returns 0, or -EPROTO when the answer is not a
 * clean exposition holding `enters` (figures from such a server are not to be trusted).
 */
int bench_metrics(uint16_t port, struct bench_counters *c);

/* The load generators. */
enum bench_load_kind {
    BENCH_LOAD_WRK,
    BENCH_LOAD_ROOST,
};

struct bench_load {
    enum bench_load_kind kind;
    const char *roost; /* this binary, for `roost load` */
    const char *lua;   /* bench/pipeline.lua, for wrk */
    int cpu;           /* where the generator runs */
    unsigned conns;
};

/* What one load run counted. Only 2xx responses count as requests served. */
struct bench_load_result {
    uint64_t responses;  /* every response received */
    uint64_t ok;         /* 2xx among them */
    uint64_t bad_status; /* non-2xx */
    uint64_t errors;     /* socket errors and timeouts */
    double seconds;      /* the generator's own measured time */
    uint64_t cpu_us;     /* the generator's CPU time */
    bool status_exact;   /* false: the generator cannot tell 3xx from 2xx (wrk) */
    char note[160];      /* why the run failed, if it did */
};

/*
 * Runs the generator against 127.0.0.1:port/path for `seconds` with `depth` pipelined
 * requests per connection, its output kept in `log`. Returns 0 when the generator ran and
 * reported, or a negative errno with r->note saying why.
 */
int bench_load_run(const struct bench_load *l, uint16_t port, const char *path, unsigned depth,
                   unsigned seconds, const char *log, struct bench_load_result *r);

/*
 * Whether `roost load` exists in this binary and takes the flags bench_load_run passes
 * (its --help names them).
 */
bool bench_roost_load_usable(const char *roost);

#endif
