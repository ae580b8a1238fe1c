#define _GNU_SOURCE /* sched_setaffinity, wait4 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench_proc.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int bench_spawn(char *const argv[], int cpu, int out_fd, int err_fd, pid_t *pid)
{
    pid_t p = fork();
    if (p < 0)
        return -errno;
    if (p == 0) {
        /* The child: only async-signal-safe calls until exec. */
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(out_fd >= 0 ? out_fd : null, 1);
            dup2(err_fd >= 0 ? err_fd : null, 2);
        }
        if (cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            if (sched_setaffinity(0, sizeof(set), &set) < 0)
                _exit(126);
        }
        /* A blocked mask survives exec: the child must get its SIGTERM. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[0], argv);
        _exit(127);
    }
    *pid = p;
    return 0;
}

int bench_wait(pid_t pid, double timeout, int *status, uint64_t *ru_us)
{
    double end = bench_now() + timeout;
    struct rusage ru;
    int rc = 0;
    for (;;) {
        pid_t w = wait4(pid, status, WNOHANG, &ru);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (bench_now() > end && rc == 0) {
            kill(pid, SIGKILL);
            rc = -ETIMEDOUT;
            end += 30;
        }
        nap(0.01);
    }
    if (ru_us)
        *ru_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                 (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return rc;
}

void bench_stop(pid_t pid, double grace)
{
    int st;
    kill(pid, SIGTERM);
    bench_wait(pid, grace, &st, NULL);
}

/* Fields of /proc/PID/stat after the command name, which may hold spaces and parentheses. */
static bool proc_stat(pid_t pid, char *state, long *ppid, uint64_t *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, stt = 0;
    char st = '?';
    long pp = 0;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 1, " %c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &st, &pp, &ut,
                     &stt) != 4)
        return false;
    if (state)
        *state = st;
    if (ppid)
        *ppid = pp;
    if (ticks)
        *ticks = ut + stt;
    return true;
}

bool bench_alive(pid_t pid)
{
    char st;
    return proc_stat(pid, &st, NULL, NULL) && st != 'Z' && st != 'X';
}

/* On-CPU ns of every live thread of pid (the first field of each task's schedstat). */
static bool schedstat_ns(pid_t pid, uint64_t *ns)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool any = false;
    *ns = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char sp[320];
        snprintf(sp, sizeof(sp), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(sp, "r");
        unsigned long long v;
        if (f && fscanf(f, "%llu", &v) == 1) {
            *ns += v;
            any = true;
        }
        if (f)
            fclose(f);
    }
    closedir(d);
    return any;
}

static void add_cpu(pid_t p, uint64_t ticks, struct bench_cpu *c)
{
    uint64_t ns;
    c->ticks += ticks;
    if (schedstat_ns(p, &ns))
        c->ns += ns;
    else
        c->ns_ok = false;
}

void bench_cpu(pid_t pid, struct bench_cpu *c)
{
    c->ticks = c->ns = 0;
    c->ns_ok = true;
    uint64_t t;
    if (proc_stat(pid, NULL, NULL, &t))
        add_cpu(pid, t, c);
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        long pp;
        pid_t ch = (pid_t)atol(e->d_name);
        if (ch != pid && proc_stat(ch, NULL, &pp, &t) && pp == pid)
            add_cpu(ch, t, c);
    }
    closedir(d);
}

double bench_cpu_seconds(const struct bench_cpu *a, const struct bench_cpu *b)
{
    /* A thread that ended between the two reads takes its schedstat with it; then only the
     * ticks, which count every thread, live and exited, are right. */
    if (a->ns_ok && b->ns_ok && b->ns >= a->ns && b->ticks >= a->ticks)
        return (double)(b->ns - a->ns) / 1e9;
    return b->ticks >= a->ticks ? (double)(b->ticks - a->ticks) / (double)sysconf(_SC_CLK_TCK) : 0;
}

uint64_t bench_cpus_busy(int a, int b)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    char line[512];
    uint64_t sum = 0;
    while (fgets(line, sizeof(line), f)) {
        int cpu;
        unsigned long long v[8];
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
            continue;
        if (cpu == a || (cpu == b && b != a))
            sum += v[0] + v[1] + v[2] + v[7];
    }
    fclose(f);
    return sum;
}

static int loopback(uint16_t port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int bench_free_port(uint16_t *port)
{
    struct sockaddr_in sa;
    int fd = loopback(0, &sa);
    if (fd < 0)
        return fd;
    socklen_t sl = sizeof(sa);
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        rc = -errno;
    else
        *port = ntohs(sa.sin_port);
    close(fd);
    return rc;
}

/* Decodes a chunked body in place; returns its length. */
static size_t dechunk(char *b, size_t n)
{
    size_t in = 0, out = 0;
    while (in < n) {
        char *end;
        unsigned long sz = strtoul(b + in, &end, 16);
        char *crlf = strstr(end, "\r\n");
        if (!crlf || sz == 0)
            break;
        in = (size_t)(crlf - b) + 2;
        if (sz > n - in)
            sz = n - in;
        memmove(b + out, b + in, sz);
        out += sz;
        in += sz + 2;
    }
    b[out] = 0;
    return out;
}

int bench_http_get(uint16_t port, const char *path, double timeout, int *status, char **body,
                   size_t *len)
{
    struct sockaddr_in sa;
    int fd = loopback(port, &sa);
    if (fd < 0)
        return fd;
    struct timeval tv = {(time_t)timeout, (long)((timeout - (double)(time_t)timeout) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char req[512];
    int qn =
        snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", path, port);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    if (!buf) {
        rc = -ENOMEM;
        goto out_close;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send(fd, req, (size_t)qn, 0) != qn) {
        rc = -errno;
        goto out_free;
    }
    double end = bench_now() + timeout;
    /* Read to EOF (Connection: close), or until Content-Length bytes of body arrived. */
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = -ENOMEM;
                goto out_free;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r == 0)
            break;
        if (r < 0) {
            rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
            goto out_free;
        }
        n += (size_t)r;
        buf[n] = 0;
        char *head_end = strstr(buf, "\r\n\r\n");
        char *cl = head_end ? strcasestr(buf, "\r\ncontent-length:") : NULL;
        if (cl && cl < head_end && n >= (size_t)(head_end + 4 - buf) + strtoul(cl + 17, NULL, 10))
            break;
        if (bench_now() > end) {
            rc = -ETIMEDOUT;
            goto out_free;
        }
    }
    buf[n] = 0;
    char *head_end = strstr(buf, "\r\n\r\n");
    if (!head_end || sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
        rc = -EPROTO;
        goto out_free;
    }
    *head_end = 0;
    bool chunked = strcasestr(buf, "\r\ntransfer-encoding: chunked") != NULL;
    size_t bl = n - (size_t)(head_end + 4 - buf);
    memmove(buf, head_end + 4, bl);
    buf[bl] = 0;
    if (chunked)
        bl = dechunk(buf, bl);
    *body = buf;
    *len = bl;
    close(fd);
    return 0;
out_free:
    free(buf);
out_close:
    close(fd);
    return rc;
}

int bench_metrics(uint16_t port, struct bench_counters *c)
{
    int status;
    char *body;
    size_t len;
    int rc = bench_http_get(port, "/metrics", 5, &status, &body, &len);
    if (rc < 0)
        return rc;
    memset(c, 0, sizeof(*c));
    bool seen = status == 200 && strlen(body) == len;
    bool bad = !seen;
    static const struct {
        const char *name;
        size_t off;
    } want[] = {
        {"enters", offsetof(struct bench_counters, enters)},
        {"wakes_written", offsetof(struct bench_counters, wakes_written)},
        {"inline_resumes", offsetof(struct bench_counters, inline_resumes)},
        {"posted_resumes", offsetof(struct bench_counters, posted_resumes)},
    };
    bool have_enters = false;
    for (char *line = strtok(body, "\n"); line && !bad; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || line[0] == 0)
            continue;
        if (strncmp(line, "roost_", 6) != 0)
            continue; /* someone else's metric: not ours to judge */
        char *name = line + 6;
        size_t nl = strcspn(name, "{ ");
        char *val = strrchr(line, ' ');
        if (!val) {
            bad = true;
            break;
        }
        char *end;
        unsigned long long v = strtoull(val + 1, &end, 10);
        if (*end && *end != '.') {
            bad = true;
            break;
        }
        static const char cls[] = "http_requests_total{class=\"";
        if (!strncmp(name, cls, sizeof(cls) - 1)) {
            c->have_classes = true;
            if (!strncmp(name + sizeof(cls) - 1, "2xx\"", 4))
                c->http_2xx += v;
            else
                c->http_not_2xx += v;
            continue;
        }
        if (nl > 6 && !strncmp(name + nl - 6, "_total", 6))
            nl -= 6;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            if (strlen(want[i].name) == nl && !strncmp(want[i].name, name, nl)) {
                *(uint64_t *)((char *)c + want[i].off) += v;
                have_enters |= i == 0;
            }
        }
    }
    free(body);
    return bad || !have_enters ? -EPROTO : 0;
}

/* --- load generators ------------------------------------------------------------------- */

/* The value after `"key":` in a flat JSON text, or false. */
static bool json_u64(const char *js, const char *key, uint64_t *out)
{
    char k[64];
    snprintf(k, sizeof(k), "\"%s\"", key);
    const char *p = strstr(js, k);
    if (!p)
        return false;
    p += strlen(k);
    while (*p == ' ' || *p == ':')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    *out = strtoull(p, NULL, 10);
    return true;
}

/* "errors" as a number, or the sum of the numbers in its object. */
static uint64_t json_errors(const char *js)
{
    uint64_t n = 0;
    if (json_u64(js, "errors", &n))
        return n;
    const char *p = strstr(js, "\"errors\"");
    if (!p || !(p = strchr(p, '{')))
        return 0;
    for (p++; *p && *p != '}'; p++) {
        if (*p == ':') {
            while (*++p == ' ') {
            }
            n += strtoull(p, NULL, 10);
        }
    }
    return n;
}

static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return 0;
}

bool bench_roost_load_usable(const char *roost)
{
    char path[] = "/tmp/roost-bench-probe.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    unlink(path);
    char *argv[] = {(char *)roost, "load", "--help", NULL};
    pid_t pid;
    int st = -1;
    bool ok = bench_spawn(argv, -1, fd, -1, &pid) == 0 && bench_wait(pid, 10, &st, NULL) == 0 &&
              WIFEXITED(st) && WEXITSTATUS(st) == 0;
    char help[8192] = "";
    if (ok && lseek(fd, 0, SEEK_SET) == 0) {
        ssize_t n = read(fd, help, sizeof(help) - 1);
        help[n > 0 ? n : 0] = 0;
    }
    close(fd);
    static const char *const flags[] = {"--json", " -c N", " -p N", " -d DURATION"};
    for (size_t i = 0; ok && i < sizeof(flags) / sizeof(flags[0]); i++)
        ok = strstr(help, flags[i]) != NULL;
    return ok;
}

int bench_load_run(const struct bench_load *l, uint16_t port, const char *path, unsigned depth,
                   unsigned seconds, const char *log, struct bench_load_result *r)
{
    memset(r, 0, sizeof(*r));
    char url[128], conns[16], dep[16], dur[16];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    snprintf(conns, sizeof(conns), "%u", l->conns);
    snprintf(dep, sizeof(dep), "%u", depth);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(r->note, sizeof(r->note), "cannot write %s", log);
        return -errno;
    }
    pid_t pid;
    int rc;
    if (l->kind == BENCH_LOAD_WRK) {
        char c[24];
        snprintf(c, sizeof(c), "-c%u", l->conns);
        snprintf(dur, sizeof(dur), "-d%us", seconds);
        /* One thread: the generator has one CPU. */
        char *argv[] = {"wrk", "-t1",          c,   dur,  "--timeout", "5s",
                        "-s",  (char *)l->lua, url, "--", dep,         NULL};
        rc = bench_spawn(argv, l->cpu, fd, fd, &pid);
    } else {
        /* One thread (one reactor): the generator has one CPU. */
        snprintf(dur, sizeof(dur), "%us", seconds);
        char *argv[] = {(char *)l->roost,
                        "load",
                        "--json",
                        "-t",
                        "1",
                        "-c",
                        conns,
                        "-p",
                        dep,
                        "-d",
                        dur,
                        url,
                        NULL};
        rc = bench_spawn(argv, l->cpu, fd, -1, &pid);
    }
    close(fd);
    if (rc < 0) {
        snprintf(r->note, sizeof(r->note), "cannot start the load generator");
        return rc;
    }
    int st = 0;
    rc = bench_wait(pid, seconds + 30.0, &st, &r->cpu_us);
    if (rc < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(r->note, sizeof(r->note), "load generator failed (%s %d)",
                 rc < 0          ? "timeout"
                 : WIFEXITED(st) ? "exit"
                                 : "signal",
                 WIFEXITED(st)     ? WEXITSTATUS(st)
                 : WIFSIGNALED(st) ? WTERMSIG(st)
                                   : 0);
        return rc < 0 ? rc : -ECHILD;
    }
    char out[16384];
    if (read_file(log, out, sizeof(out)) < 0) {
        snprintf(r->note, sizeof(r->note), "cannot read %s", log);
        return -EIO;
    }
    if (l->kind == BENCH_LOAD_WRK) {
        /* bench/pipeline.lua's RESULT line: status = responses with a status above 399,
         * which is all wrk tells apart. */
        const char *p = strstr(out, "RESULT ");
        unsigned long long req, us, e[5];
        if (!p || sscanf(p,
                         "RESULT requests=%llu duration_us=%llu connect=%llu read=%llu "
                         "write=%llu status=%llu timeout=%llu",
                         &req, &us, &e[0], &e[1], &e[2], &e[3], &e[4]) != 7) {
            snprintf(r->note, sizeof(r->note), "no RESULT line from wrk");
            return -EPROTO;
        }
        r->responses = req;
        r->bad_status = e[3];
        r->ok = req > e[3] ? req - e[3] : 0;
        r->errors = e[0] + e[1] + e[2] + e[4];
        r->seconds = (double)us / 1e6;
        r->status_exact = false;
    } else {
        uint64_t v;
        const char *js = strchr(out, '{');
        if (!js || !json_u64(js, "requests", &r->responses)) {
            snprintf(r->note, sizeof(r->note), "no JSON report from roost load");
            return -EPROTO;
        }
        r->ok = json_u64(js, "2xx", &v) ? v : 0;
        /* "other": answers whose status line could not be read. */
        static const char *const others[] = {"1xx", "3xx", "4xx", "5xx", "other"};
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
            if (json_u64(js, others[i], &v))
                r->bad_status += v;
        r->errors = json_errors(js);
        const char *sec = strstr(js, "\"seconds\":");
        r->seconds = sec ? strtod(sec + 10, NULL) : 0;
        if (!(r->seconds > 0))
            r->seconds = seconds;
        r->status_exact = true;
    }
    return 0;
}
