/*
 * bench_echo: echo throughput and server CPU per message (issue 4). A roost echo server
 * (one reactor, and the pool for run-on=pool) and a client in the same process, pinned
 * apart: the server's threads on --server-cpu, the client thread on --client-cpu.
 * bench/run_echo.sh runs it once per mode, alternating, and makes the table.
 *
 *   bench_echo [--resume inline|posted] [--run-on reactor|pool] [--wake coalesced|per-item]
 *              [--affinity on|off] [--speculative on|off] [--recv multishot|oneshot]
 *              [--inline-budget N] [--pool-threads N] [--conns N] [--size BYTES]
 *              [--depth N] [--seconds S] [--warmup S] [--server-cpu CPU] [--client-cpu CPU]
 *
 * The client keeps --depth messages of --size bytes in flight on each of --conns
 * connections (epoll, non-blocking sockets) and counts echoed messages. After --warmup
 * seconds it measures for --seconds.
 *
 * Output: one "name value" line per figure ('#' lines are comments). server_cpu_us_per_msg
 * is the process's CPU time (getrusage) minus the client thread's (CLOCK_THREAD_CPUTIME_ID),
 * per echoed message: the reactor, the pool workers and the kernel work charged to them.
 * server_softirq_us_per_msg is the softirq time of the server CPU (/proc/stat; loopback
 * TCP processing the kernel accounts to no task), foreign_cpu_pct the share of the two
 * CPUs other processes took during the measurement (a disturbed run shows here).
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <roost.h>

#include "bench_util.h"

struct opts {
    unsigned conns;
    unsigned size;
    unsigned depth;
    double seconds;
    double warmup;
    int server_cpu; /* -1: not pinned */
    int client_cpu;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_echo [--resume inline|posted] [--run-on reactor|pool]\n"
            "                  [--wake coalesced|per-item] [--affinity on|off]\n"
            "                  [--speculative on|off] [--recv multishot|oneshot]\n"
            "                  [--inline-budget N] [--pool-threads N] [--conns N] [--size BYTES]\n"
            "                  [--depth N] [--seconds S] [--warmup S] [--server-cpu CPU]\n"
            "                  [--client-cpu CPU]\n");
}

static int parse_args(int argc, char **argv, struct opts *o, struct roost_config *cfg)
{
    o->conns = 64;
    o->size = 64;
    o->depth = 1;
    o->seconds = 2;
    o->warmup = 0.5;
    o->server_cpu = -1;
    o->client_cpu = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) || i + 1 >= argc) {
            fprintf(stderr, "bench_echo: bad argument %s\n", a);
            usage(stderr);
            return -EINVAL;
        }
        const char *v = argv[++i];
        const char *name = a + 2;
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        bool num_ok = !errno && *end == 0 && n >= 0;
        if (!strcmp(name, "conns") && num_ok && n >= 1 && n <= 10000) {
            o->conns = (unsigned)n;
        } else if (!strcmp(name, "size") && num_ok && n >= 1 && n <= 65536) {
            o->size = (unsigned)n;
        } else if (!strcmp(name, "depth") && num_ok && n >= 1 && n <= 64) {
            o->depth = (unsigned)n;
        } else if (!strcmp(name, "seconds") || !strcmp(name, "warmup")) {
            double d = strtod(v, &end);
            if (*end || d < 0 || d > 3600) {
                fprintf(stderr, "bench_echo: bad value for %s: %s\n", a, v);
                return -EINVAL;
            }
            *(name[0] == 's' ? &o->seconds : &o->warmup) = d;
        } else if (!strcmp(name, "server-cpu") && num_ok && n < CPU_SETSIZE) {
            o->server_cpu = (int)n;
        } else if (!strcmp(name, "client-cpu") && num_ok && n < CPU_SETSIZE) {
            o->client_cpu = (int)n;
        } else {
            /* Everything else is a roost switch, by its one name. */
            int rc = roost_config_set(cfg, name, v);
            if (rc < 0) {
                fprintf(stderr, "bench_echo: bad option %s %s\n", a, v);
                return rc;
            }
        }
    }
    if ((uint64_t)o->size * o->depth > 65536) {
        fprintf(stderr, "bench_echo: size x depth must fit a 64 KiB send\n");
        return -EINVAL;
    }
    return 0;
}

/*
 * From /proc/stat, for one CPU: user + nice + system + steal time, and softirq time (ns).
 * busy minus our own process's CPU time is what others took from the measured CPUs; irq
 * and softirq are left out of busy because the kernel may account them to no task.
 */
struct cpu_times {
    uint64_t busy, softirq;
};

static struct cpu_times cpu_times(int cpu)
{
    struct cpu_times t = {0, 0};
    if (cpu < 0)
        return t;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return t;
    char line[512], want[16];
    snprintf(want, sizeof(want), "cpu%d ", cpu);
    uint64_t tick = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
    while (fgets(line, sizeof(line), f)) {
        unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
        if (strncmp(line, want, strlen(want)))
            continue;
        if (sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice,
                   &sys, &idle, &iowait, &irq, &softirq, &steal) == 8) {
            t.busy = (user + nice + sys + steal) * tick;
            t.softirq = softirq * tick;
        }
        break;
    }
    fclose(f);
    return t;
}

/* ---- the server ------------------------------------------------------------------------- */

static int echo(roost_conn *c, void *arg)
{
    (void)arg;
    for (;;) {
        struct roost_buf b;
        int n = roost_conn_recv(c, &b);
        if (n <= 0)
            return 0;
        int rc = roost_conn_send(c, b.data, b.len);
        roost_conn_release(c, &b);
        if (rc < 0)
            return 0;
    }
}

/* ---- the client ------------------------------------------------------------------------- */

struct mark {
    uint64_t t, msgs, client_cpu, process_cpu, cpus_busy, server_softirq;
    struct roost_stats s;
};

struct bconn {
    int fd;
    unsigned inflight;
    size_t rx; /* bytes of the message being received */
};

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static char out_msgs[65536];

static int top_up(struct bconn *c, const struct opts *o)
{
    unsigned k = o->depth - c->inflight;
    if (!k)
        return 0;
    ssize_t n = send(c->fd, out_msgs, (size_t)k * o->size, MSG_NOSIGNAL);
    if (n != (ssize_t)((size_t)k * o->size)) {
        fprintf(stderr, "bench_echo: short or failed send (%zd): %s\n", n, strerror(errno));
        return -EIO;
    }
    c->inflight += k;
    return 0;
}

static int mark_cpus[2] = {-1, -1};

static void take_mark(struct mark *m, uint64_t msgs, roost_reactor *r)
{
    struct cpu_times server = cpu_times(mark_cpus[0]);
    m->cpus_busy = server.busy + (mark_cpus[1] != mark_cpus[0] ? cpu_times(mark_cpus[1]).busy : 0);
    m->server_softirq = server.softirq;
    m->t = now_ns();
    m->msgs = msgs;
    m->client_cpu = thread_cpu_ns();
    m->process_cpu = process_cpu_ns();
    roost_reactor_stats(r, &m->s);
}

static int run_client(const struct opts *o, uint16_t port, roost_reactor *r, struct mark *m0,
                      struct mark *m1)
{
    memset(out_msgs, 'e', sizeof(out_msgs));
    struct bconn *cs = calloc(o->conns, sizeof(*cs));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int rc = 0;
    for (unsigned i = 0; i < o->conns; i++) {
        cs[i].fd = connect_to(port);
        if (cs[i].fd < 0) {
            fprintf(stderr, "bench_echo: connect: %s\n", strerror(-cs[i].fd));
            return cs[i].fd;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    for (unsigned i = 0; i < o->conns && !rc; i++)
        rc = top_up(&cs[i], o);

    static char in[65536];
    struct epoll_event evs[256];
    uint64_t msgs = 0;
    uint64_t start = now_ns();
    uint64_t warm_end = start + (uint64_t)(o->warmup * 1e9);
    uint64_t end = warm_end + (uint64_t)(o->seconds * 1e9);
    bool warm = false;
    while (!rc) {
        uint64_t now = now_ns();
        if (!warm && now >= warm_end) {
            take_mark(m0, msgs, r);
            warm = true;
        }
        if (now >= end)
            break;
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n && !rc; i++) {
            struct bconn *c = evs[i].data.ptr;
            ssize_t got = recv(c->fd, in, sizeof(in), 0);
            if (got <= 0) {
                fprintf(stderr, "bench_echo: connection lost (%zd)\n", got);
                rc = -EIO;
                break;
            }
            c->rx += (size_t)got;
            unsigned done = (unsigned)(c->rx / o->size);
            c->rx %= o->size;
            c->inflight -= done;
            msgs += done;
            rc = top_up(c, o);
        }
    }
    take_mark(m1, msgs, r);
    for (unsigned i = 0; i < o->conns; i++)
        close(cs[i].fd);
    close(ep);
    free(cs);
    return rc;
}

int main(int argc, char **argv)
{
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.pool_threads = 1;
    struct opts o;
    if (parse_args(argc, argv, &o, &cfg) < 0)
        return 2;
    cfg.reactors = 1;

    /* The runtime's threads (reactor, pool) inherit the server CPU; then the client's. */
    if (pin_self(o.server_cpu) < 0) {
        fprintf(stderr, "bench_echo: cannot pin to CPU %d\n", o.server_cpu);
        return 1;
    }
    roost_runtime *rt;
    int rc = roost_runtime_start(&cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "bench_echo: runtime: %s\n", strerror(-rc));
        return 1;
    }
    roost_listener *l;
    struct roost_listen_opts lo = {.host = "127.0.0.1", .port = 0, .max_conns = o.conns + 16};
    rc = roost_listen(rt, &lo, echo, NULL, &l);
    if (rc < 0) {
        fprintf(stderr, "bench_echo: listen: %s\n", strerror(-rc));
        return 1;
    }
    if (pin_self(o.client_cpu) < 0) {
        fprintf(stderr, "bench_echo: cannot pin to CPU %d\n", o.client_cpu);
        return 1;
    }

    struct mark m0, m1;
    mark_cpus[0] = o.server_cpu;
    mark_cpus[1] = o.client_cpu;
    roost_reactor *r = roost_runtime_reactor(rt, 0);
    rc = run_client(&o, roost_listener_port(l), r, &m0, &m1);

    roost_listener_stop(l);
    roost_runtime_stop(rt);
    roost_listener_free(l);
    if (rc < 0) {
        roost_runtime_destroy(rt);
        return 1;
    }

    const struct roost_config *c = roost_runtime_config(rt);
    double secs = (double)(m1.t - m0.t) / 1e9;
    double msgs = (double)(m1.msgs - m0.msgs);
    double client_cpu = (double)(m1.client_cpu - m0.client_cpu);
    double server_cpu = (double)(m1.process_cpu - m0.process_cpu) - client_cpu;
    printf("# resume=%s run-on=%s wake=%s affinity=%s speculative=%s recv=%s inline-budget=%u "
           "pool-threads=%u conns=%u size=%u depth=%u server-cpu=%d client-cpu=%d ring=%s\n",
           roost_resume_name(c->resume), roost_run_on_name(c->run_on), roost_wake_name(c->wake),
           c->affinity ? "on" : "off", c->speculative ? "on" : "off", roost_recv_name(c->recv),
           c->inline_budget, c->pool_threads, o.conns, o.size, o.depth, o.server_cpu, o.client_cpu,
           roost_reactor_ring_mode(r));
    printf("msgs_per_s %.0f\n", msgs / secs);
    printf("server_cpu_us_per_msg %.3f\n", msgs > 0 ? server_cpu / 1e3 / msgs : 0);
    printf("client_cpu_us_per_msg %.3f\n", msgs > 0 ? client_cpu / 1e3 / msgs : 0);
    if (o.server_cpu >= 0)
        printf("server_softirq_us_per_msg %.3f\n",
               msgs > 0 ? (double)(m1.server_softirq - m0.server_softirq) / 1e3 / msgs : 0);
    /* Others' share of the measured CPUs (needs both pinned): a disturbed run shows here. */
    double others =
        (double)(m1.cpus_busy - m0.cpus_busy) - (double)(m1.process_cpu - m0.process_cpu);
    int ncpus = o.server_cpu >= 0 && o.client_cpu >= 0 ? (o.server_cpu == o.client_cpu ? 1 : 2) : 0;
    if (ncpus)
        printf("foreign_cpu_pct %.1f\n", others > 0 ? 100 * others / (secs * 1e9 * ncpus) : 0);
#define PER_MSG_(name)                                                                             \
    printf(#name "_per_msg %.4f\n", msgs > 0 ? (double)(m1.s.name - m0.s.name) / msgs : 0)
    PER_MSG_(enters);
    PER_MSG_(wakes_written);
    PER_MSG_(remote_posts);
    PER_MSG_(inline_resumes);
    PER_MSG_(posted_resumes);
    PER_MSG_(speculative_hits);
    PER_MSG_(speculative_misses);
    PER_MSG_(budget_exhaustions);
#undef PER_MSG_
    roost_runtime_destroy(rt);
    return 0;
}
