/*
 * `roost pump`: a consumer group on a Redis stream, N performers of either type, a demo
 * handler that sleeps, offloads or fails as its flags say, progress on stderr and a
 * summary on stdout. `roost produce`: publishes N messages (bodies "0".."N-1").
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <roost.h>

#include "cli/commands.h"

/* ---- flags ------------------------------------------------------------------------------- */

struct flag {
    const char *name;
    const char *value; /* NULL for a switch that takes no value */
    const char *help;
};

static const struct flag pump_flags[] = {
    {"--redis", "URL",
     "redis://[[user]:password@]host[:port][/db] (default redis://127.0.0.1:6379)"},
    {"--stream", "NAME", "the stream (with --partitions P: NAME:0 .. NAME:P-1)"},
    {"--group", "NAME", "consumer group (default roost)"},
    {"--consumer", "NAME", "consumer name prefix, performer i is NAME-i (default host-pid)"},
    {"--performers", "N", "performers (default 1); with partitions, performer i reads i mod P"},
    {"--type", "proactor|reactor", "proactor: tasks on the reactors; reactor: a thread each"},
    {"--partitions", "P", "partitioned stream: one performer per partition keeps order"},
    {"--in-flight", "N", "messages received and not yet acked per performer (default 16)"},
    {"--rate", "R", "messages per second per performer (default: no limit)"},
    {"--claim-idle-ms", "N", "claim what another consumer left pending this long (30000)"},
    {"--max-deliveries", "N", "dead-letter to STREAM:dead after N deliveries (default 5)"},
    {"--nack-delay-ms", "N", "a failed message comes back after N ms (default 0)"},
    {"--sleep-ms", "N", "handler: sleep N ms (proactor awaits, reactor blocks its thread)"},
    {"--offload", NULL, "handler: hash on the worker pool, come back"},
    {"--fail-body", "TEXT", "handler: fail messages whose body is TEXT (a poison message)"},
    {"--log", "FILE", "append \"body id\" per handled message"},
    {"--count", "N", "exit once N messages were acked"},
    {"--idle-exit-ms", "N", "exit once nothing was handled for N ms"},
    {"--quiet", NULL, "no progress lines"},
};

static const struct flag produce_flags[] = {
    {"--redis", "URL", "as for roost pump"},
    {"--stream", "NAME", "the stream"},
    {"--count", "N", "messages to publish (default 1000)"},
    {"--start", "N", "first body number (default 0)"},
    {"--partitions", "P", "publish to NAME:hash(key) mod P"},
    {"--keys", "K", "partition keys k0 .. kK-1, message i gets k(i mod K)"},
    {"--size", "BYTES", "pad bodies to this size"},
    {"--maxlen", "N", "trim the stream to about N entries (XADD MAXLEN ~)"},
    {"--tasks", "N", "publishing tasks (default 16; each key stays in one task, in order)"},
};

static void print_flags(const struct flag *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("  %-18s %-17s %s\n", f[i].name, f[i].value ? f[i].value : "", f[i].help);
    printf("\n");
}

void roost_cmd_pump_help(void)
{
    print_flags(pump_flags, sizeof(pump_flags) / sizeof(pump_flags[0]));
}

void roost_cmd_produce_help(void)
{
    print_flags(produce_flags, sizeof(produce_flags) / sizeof(produce_flags[0]));
}

/* Walks argv: each known flag and its value go to set(); -1 after printing an error. */
static int parse_flags(const char *cmd, const struct flag *flags, size_t nflags, int argc,
                       char **argv, int (*set)(void *, const char *, const char *), void *ctx)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct flag *f = NULL;
        for (size_t j = 0; j < nflags && !f; j++)
            if (strlen(flags[j].name) == len && !strncmp(flags[j].name, a, len))
                f = &flags[j];
        if (!f) {
            fprintf(stderr, "roost %s: unknown flag %s (see --help)\n", cmd, a);
            return -1;
        }
        const char *v = "";
        if (f->value) {
            v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "roost %s: %s needs a value\n", cmd, f->name);
                return -1;
            }
        }
        if (set(ctx, f->name, v) < 0) {
            fprintf(stderr, "roost %s: bad value for %s: %s\n", cmd, f->name, v);
            return -1;
        }
    }
    return 0;
}

static int to_uint(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || *s == '-' || v > 0xffffffffu)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The runtime with the signals blocked everywhere: the main thread takes them. */
static int start_runtime(const struct roost_config *cfg, const char *url, roost_runtime **rt,
                         roost_redis **cli, sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct roost_redis_opts ro;
    char buf[512];
    if (roost_redis_parse_url(url, &ro, buf, sizeof(buf)) < 0) {
        fprintf(stderr, "roost: bad Redis URL %s\n", url);
        return -EINVAL;
    }
    int rc = roost_runtime_start(cfg, rt);
    if (rc < 0) {
        fprintf(stderr, "roost: runtime: %s\n", strerror(-rc));
        return rc;
    }
    rc = roost_redis_open(*rt, &ro, cli);
    if (rc < 0)
        roost_runtime_destroy(*rt);
    return rc;
}

/* ---- roost pump ------------------------------------------------------------------------- */

struct pump_cli {
    const char *url, *stream, *group, *consumer, *fail_body, *log;
    unsigned partitions, sleep_ms, count, idle_exit_ms, claim_idle_ms, max_deliveries;
    bool offload, quiet;
    struct roost_pump_opts o;
    roost_redis *cli;
    int log_fd;
    _Atomic long handled;
};

static int pump_set(void *arg, const char *name, const char *v)
{
    struct pump_cli *p = arg;
    if (!strcmp(name, "--redis"))
        p->url = v;
    else if (!strcmp(name, "--stream"))
        p->stream = v;
    else if (!strcmp(name, "--group"))
        p->group = v;
    else if (!strcmp(name, "--consumer"))
        p->consumer = v;
    else if (!strcmp(name, "--fail-body"))
        p->fail_body = v;
    else if (!strcmp(name, "--log"))
        p->log = v;
    else if (!strcmp(name, "--offload"))
        p->offload = true;
    else if (!strcmp(name, "--quiet"))
        p->quiet = true;
    else if (!strcmp(name, "--type")) {
        if (!strcmp(v, "proactor"))
            p->o.type = ROOST_PUMP_PROACTOR;
        else if (!strcmp(v, "reactor"))
            p->o.type = ROOST_PUMP_REACTOR;
        else
            return -EINVAL;
    } else if (!strcmp(name, "--rate")) {
        char *end;
        p->o.rate = strtod(v, &end);
        return *v && !*end && p->o.rate >= 0 ? 0 : -EINVAL;
    } else {
        static const char *const names[] = {
            "--performers",    "--partitions", "--in-flight", "--claim-idle-ms", "--max-deliveries",
            "--nack-delay-ms", "--sleep-ms",   "--count",     "--idle-exit-ms"};
        unsigned *dst[] = {&p->o.performers,  &p->partitions,     &p->o.in_flight,
                           &p->claim_idle_ms, &p->max_deliveries, &p->o.nack_delay_ms,
                           &p->sleep_ms,      &p->count,          &p->idle_exit_ms};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (!strcmp(name, names[i]))
                return to_uint(v, dst[i]);
        return -EINVAL;
    }
    return 0;
}

static int pump_channel(unsigned i, void *arg, roost_channel **out)
{
    struct pump_cli *p = arg;
    char stream[256], consumer[256];
    roost_pump_partition_stream(stream, sizeof(stream), p->stream, p->partitions, i);
    snprintf(consumer, sizeof(consumer), "%s-%u", p->consumer, i);
    struct roost_redis_channel_opts o = {.stream = stream,
                                         .group = p->group,
                                         .consumer = consumer,
                                         .claim_idle_ms = p->claim_idle_ms,
                                         .max_deliveries = p->max_deliveries};
    return roost_redis_channel_open(p->cli, &o, out);
}

static int hash_work(void *arg)
{
    uint64_t *h = arg;
    for (int i = 0; i < 20000; i++)
        *h = (*h ^ (uint64_t)i) * 0x100000001b3ull;
    return 0;
}

static int demo_handler(struct roost_pump_msg *m, void *arg)
{
    struct pump_cli *p = arg;
    if (p->fail_body && m->body_len == strlen(p->fail_body) &&
        !memcmp(m->body, p->fail_body, m->body_len))
        return -EINVAL;
    if (p->sleep_ms) {
        if (roost_reactor_current()) {
            int rc = roost_sleep(p->sleep_ms); /* a Proactor: the others run meanwhile */
            if (rc < 0)
                return rc;
        } else {
            struct timespec ts = {p->sleep_ms / 1000, (long)(p->sleep_ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0) /* a Reactor blocks its own thread */
                ;
        }
    }
    if (p->offload) {
        uint64_t h = 0xcbf29ce484222325ull;
        int rc = roost_offload(hash_work, &h);
        if (rc < 0)
            return rc;
    }
    if (p->log_fd >= 0) {
        /* One write(2) per line on an O_APPEND file: lines never interleave. */
        char line[256];
        int n = snprintf(line, sizeof(line), "%.*s %s\n",
                         (int)(m->body_len > 128 ? 128 : m->body_len), m->body, m->id);
        if (write(p->log_fd, line, (size_t)n) != n)
            return -EIO;
    }
    atomic_fetch_add_explicit(&p->handled, 1, memory_order_relaxed);
    return 0;
}

static void print_stats(FILE *out, const char *what, const struct roost_pump_stats *s, double secs,
                        double cpu)
{
    fprintf(out,
            "pump: %s received %llu acked %llu nacked %llu dead %llu errors %llu in %.1f s, "
            "%.0f msg/s, %.1f us CPU/msg\n",
            what, (unsigned long long)s->received, (unsigned long long)s->acked,
            (unsigned long long)s->nacked, (unsigned long long)s->dead,
            (unsigned long long)s->errors, secs, secs > 0 ? (double)s->acked / secs : 0.0,
            s->acked ? cpu * 1e6 / (double)s->acked : 0.0);
}

int roost_cmd_pump(const struct roost_config *cfg, int argc, char **argv)
{
    static struct pump_cli p; /* the handler reads it from every performer */
    char consumer[128];
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(consumer, sizeof(consumer), "%s-%d", host, (int)getpid());
    p = (struct pump_cli){
        .url = "redis://127.0.0.1:6379", .group = "roost", .consumer = consumer, .log_fd = -1};
    if (parse_flags("pump", pump_flags, sizeof(pump_flags) / sizeof(pump_flags[0]), argc, argv,
                    pump_set, &p) < 0)
        return 2;
    if (!p.stream) {
        fprintf(stderr, "roost pump: --stream is required\n");
        return 2;
    }
    if (p.log && (p.log_fd = open(p.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "roost pump: %s: %s\n", p.log, strerror(errno));
        return 1;
    }
    roost_runtime *rt;
    sigset_t stop;
    if (start_runtime(cfg, p.url, &rt, &p.cli, &stop) < 0)
        return 1;
    p.o.handler = demo_handler;
    p.o.handler_arg = &p;
    p.o.channel = pump_channel;
    p.o.channel_arg = &p;
    roost_pump *pump;
    int rc = roost_pump_start(rt, &p.o, &pump);
    if (rc < 0) {
        fprintf(stderr, "roost pump: %s\n", strerror(-rc));
        roost_redis_close(p.cli);
        roost_runtime_destroy(rt);
        return 1;
    }
    if (!p.quiet)
        fprintf(stderr, "pump: %u %s performer(s) on %s, group %s\n",
                p.o.performers ? p.o.performers : 1,
                p.o.type == ROOST_PUMP_REACTOR ? "reactor" : "proactor", p.stream, p.group);
    uint64_t start = now_ns(), last_progress = start, last_change = start;
    long last_handled = 0;
    double cpu0 = cpu_seconds();
    struct roost_pump_stats s;
    const struct timespec tick = {0, 10 * 1000000L}; /* --count ends within 10 ms */
    for (;;) {
        if (sigtimedwait(&stop, NULL, &tick) > 0)
            break;
        uint64_t now = now_ns();
        long h = atomic_load(&p.handled);
        if (h != last_handled) {
            last_handled = h;
            last_change = now;
        }
        roost_pump_stats(pump, &s);
        if (p.count && s.acked + s.dead >= p.count)
            break;
        if (p.idle_exit_ms && now - last_change >= (uint64_t)p.idle_exit_ms * 1000000u)
            break;
        if (!p.quiet && now - last_progress >= 1000000000u) {
            print_stats(stderr, "..", &s, (double)(now - start) / 1e9, cpu_seconds() - cpu0);
            last_progress = now;
        }
    }
    roost_pump_stop(pump);
    roost_pump_wait(pump);
    roost_pump_stats(pump, &s);
    print_stats(stdout, "done:", &s, (double)(now_ns() - start) / 1e9, cpu_seconds() - cpu0);
    roost_pump_free(pump);
    roost_redis_close(p.cli);
    roost_runtime_destroy(rt);
    if (p.log_fd >= 0)
        close(p.log_fd);
    return 0;
}

/* ---- roost produce ------------------------------------------------------------------------ */

struct produce_cli {
    const char *url, *stream;
    unsigned count, start, partitions, keys, size, maxlen, tasks;
    roost_runtime *rt;
    roost_redis *cli;
    _Atomic long sent, failed;
};

struct producer {
    struct produce_cli *p;
    unsigned j;
};

static int produce_set(void *arg, const char *name, const char *v)
{
    struct produce_cli *p = arg;
    if (!strcmp(name, "--redis"))
        p->url = v;
    else if (!strcmp(name, "--stream"))
        p->stream = v;
    else {
        static const char *const names[] = {"--count", "--start",  "--partitions", "--keys",
                                            "--size",  "--maxlen", "--tasks"};
        unsigned *dst[] = {&p->count, &p->start,  &p->partitions, &p->keys,
                           &p->size,  &p->maxlen, &p->tasks};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (!strcmp(name, names[i]))
                return to_uint(v, dst[i]);
        return -EINVAL;
    }
    return 0;
}

/* Task j publishes the messages whose key (or number) is j mod tasks, in order. */
static int producer_body(void *arg)
{
    struct producer *pr = arg;
    struct produce_cli *p = pr->p;
    char *body = malloc(p->size > 32 ? p->size + 1 : 33);
    if (!body)
        return -ENOMEM;
    for (unsigned i = 0; i < p->count; i++) {
        unsigned k = p->keys ? i % p->keys : i;
        if (k % p->tasks != pr->j)
            continue;
        char key[32];
        snprintf(key, sizeof(key), "k%u", k);
        int n = snprintf(body, 33, "%u", p->start + i);
        if (p->size > (unsigned)n) {
            memset(body + n, '.', p->size - (unsigned)n);
            n = (int)p->size;
        }
        /* Through a server restart: retry the same message until it is in (bounded). */
        int rc = -1;
        for (int attempt = 0; attempt < 200 && rc < 0; attempt++) {
            rc = roost_redis_publish(p->cli, p->stream, p->partitions, p->keys ? key : NULL, body,
                                     (size_t)n, p->maxlen, NULL, 0);
            if (rc < 0)
                roost_sleep(50);
        }
        atomic_fetch_add(rc < 0 ? &p->failed : &p->sent, 1);
    }
    free(body);
    return 0;
}

/* Spreads the producers over the reactors (roost_run's task joins them). */
static int spawn_producers(void *arg)
{
    struct produce_cli *p = arg;
    struct producer *prs = calloc(p->tasks, sizeof(*prs));
    roost_task **ts = calloc(p->tasks, sizeof(*ts));
    int rc = prs && ts ? 0 : -ENOMEM;
    unsigned started = 0, n = roost_runtime_reactor_count(p->rt);
    for (unsigned j = 0; rc == 0 && j < p->tasks; j++) {
        prs[j] = (struct producer){p, j};
        roost_ctx *ctx = roost_reactor_ctx(roost_runtime_reactor(p->rt, j % n));
        rc = roost_spawn_on(ctx, producer_body, &prs[j], &ts[started]);
        started += rc == 0;
    }
    for (unsigned j = 0; j < started; j++)
        roost_join(ts[j]);
    free(prs);
    free(ts);
    return rc;
}

int roost_cmd_produce(const struct roost_config *cfg, int argc, char **argv)
{
    struct produce_cli p = {.url = "redis://127.0.0.1:6379", .count = 1000, .tasks = 16};
    if (parse_flags("produce", produce_flags, sizeof(produce_flags) / sizeof(produce_flags[0]),
                    argc, argv, produce_set, &p) < 0)
        return 2;
    if (!p.stream || !p.tasks) {
        fprintf(stderr, "roost produce: --stream is required, --tasks at least 1\n");
        return 2;
    }
    sigset_t stop;
    if (start_runtime(cfg, p.url, &p.rt, &p.cli, &stop) < 0)
        return 1;
    uint64_t start = now_ns();
    int rc = roost_run(spawn_producers, &p);
    double secs = (double)(now_ns() - start) / 1e9;
    printf("produce: sent %ld failed %ld to %s in %.2f s (%.0f msg/s)\n", atomic_load(&p.sent),
           atomic_load(&p.failed), p.stream, secs,
           secs > 0 ? (double)atomic_load(&p.sent) / secs : 0);
    roost_redis_close(p.cli);
    roost_runtime_destroy(p.rt);
    return rc < 0 || atomic_load(&p.failed) ? 1 : 0;
}
