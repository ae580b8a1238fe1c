/*
 * `roost bench`: the decomposition benchmark. It starts `roost serve` (this binary) with
 * each mode's switches on one CPU, drives it with a load generator pinned to another, and
 * reports what running continuations away from the reactor costs, row by row: (a) resume
 * inline, (b) resume posted, (c) run-on pool with per-item wakes, (d) run-on pool with
 * coalesced wakes, each with affinity on and off. Then the perf gate (affinity on vs off on
 * /plaintext must be flat), and the peers when installed (nginx, h2o, the libuv programs).
 * The report is written by bench_report.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench.h"
#include "cli/bench_proc.h"
#include "cli/commands.h"

const struct bench_row bench_rows[4] = {
    {'a', "inline", "reactor", "coalesced", "resume inline"},
    {'b', "posted", "reactor", "coalesced", "resume posted"},
    {'c', "inline", "pool", "per-item", "run-on pool, per-item wakes"},
    {'d', "inline", "pool", "coalesced", "run-on pool, coalesced wakes"},
};

/* The routes `roost serve` answers that the decomposition may use. */
static const char *const known_handlers[] = {"plaintext", "offload0", "yield", "offload", "json"};

struct ctx {
    struct bench_run run;
    struct bench_load load;
    char self[PATH_MAX];
    char bench_dir[PATH_MAX]; /* the source tree's bench/: pipeline.lua, peers/ */
    char exe_dir[PATH_MAX - 64];
    bool nginx, h2o, peers_uv;
    unsigned retries, retry_budget;
    double retry_spent;
    double scale; /* ROOST_TEST_TIME_SCALE: start-up waits only, never the measured time */
    unsigned seconds, warmup; /* of the cells being measured now (the gate's differ) */
    size_t done, planned;
    double t0;
};

static void progress(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "roost bench [%4.0f s %3zu/%zu] ", bench_now() - c->t0, c->done, c->planned);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* --- servers ---------------------------------------------------------------------------- */

struct server {
    const char *name;
    pid_t pid;
    uint16_t port;
    int out; /* roost: the read end of its stdout */
    bool roost;
};

static int wait_ready(struct ctx *c, struct server *s)
{
    double end = bench_now() + 10 * c->scale;
    while (bench_now() < end) {
        if (!bench_alive(s->pid))
            return -ECHILD;
        int st;
        char *body;
        size_t len;
        if (bench_http_get(s->port, "/plaintext", 1, &st, &body, &len) == 0) {
            bool ok = st == 200 && !strcmp(body, "Hello, World!");
            free(body);
            if (ok)
                return 0;
        }
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return -ETIMEDOUT;
}

/* Starts `roost serve` with row's switches on the server CPU, on an ephemeral port. */
static int start_roost(struct ctx *c, const struct bench_row *row, bool affinity, struct server *s)
{
    memset(s, 0, sizeof(*s));
    s->name = "roost";
    s->roost = true;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    char log[PATH_MAX];
    snprintf(log, sizeof(log), "%s/logs/serve-%c-%s.err", c->run.out, row->id,
             affinity ? "on" : "off");
    int err = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    /* One reactor and one pool worker, all on the server CPU: every row then spends the
     * same single CPU, and the pool rows pay for their hops on it. */
    char *argv[] = {c->self,
                    "serve",
                    "--port",
                    "0",
                    "--reactors",
                    "1",
                    "--pool-threads",
                    "1",
                    "--resume",
                    (char *)row->resume,
                    "--run-on",
                    (char *)row->run_on,
                    "--wake",
                    (char *)row->wake,
                    "--affinity",
                    affinity ? "on" : "off",
                    c->run.park_poll_us ? "--park-poll-us" : NULL,
                    (char *)c->run.park_poll_us,
                    NULL};
    int rc = bench_spawn(argv, c->run.server_cpu, p[1], err, &s->pid);
    close(p[1]);
    if (err >= 0)
        close(err);
    if (rc < 0) {
        close(p[0]);
        return rc;
    }
    s->out = p[0];
    /* The first line names the port: "roost serve: listening on http://127.0.0.1:N/ ...". */
    char line[256];
    size_t n = 0;
    bool eof = false; /* the child closed its output: it is exiting */
    double end = bench_now() + 10 * c->scale;
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        struct pollfd pf = {s->out, POLLIN, 0};
        int left = (int)((end - bench_now()) * 1000);
        if (left <= 0 || poll(&pf, 1, left) <= 0)
            break;
        ssize_t r = read(s->out, line + n, sizeof(line) - 1 - n);
        if (r <= 0) {
            eof = r == 0;
            break;
        }
        n += (size_t)r;
    }
    line[n] = 0;
    const char *u = strstr(line, "http://127.0.0.1:");
    if (u)
        s->port = (uint16_t)atoi(u + 17);
    if (!s->port || (rc = wait_ready(c, s)) < 0) {
        /* bench_spawn's child exits 126 when it cannot be pinned, 127 when exec fails. */
        int st = 0;
        bool gone = waitpid(s->pid, &st, WNOHANG) == s->pid;
        /* A child that closed its output is exiting but may not be reapable yet: wait for it
         * (bounded), so the reason below is its exit status rather than a race. */
        for (double until = bench_now() + 5 * c->scale; !gone && eof && bench_now() < until;) {
            usleep(10000);
            gone = waitpid(s->pid, &st, WNOHANG) == s->pid;
        }
        const char *why = !gone || !WIFEXITED(st)  ? "no output (see logs/)"
                          : WEXITSTATUS(st) == 126 ? "it could not be pinned to --server-cpu"
                          : WEXITSTATUS(st) == 127 ? "it could not be executed"
                                                   : "it exited (see logs/)";
        fprintf(stderr, "roost bench: roost serve (row %c, affinity %s) did not start: %s\n",
                row->id, affinity ? "on" : "off", line[0] ? line : why);
        if (!gone)
            bench_stop(s->pid, 5);
        close(s->out);
        return rc < 0 ? rc : -EPROTO;
    }
    return 0;
}

/* Writes bench/peers/NAME.conf.in into dir with @DIR@ and @PORT@ replaced. */
static int peer_config(const char *src, const char *dst, const char *dir, uint16_t port)
{
    FILE *in = fopen(src, "r");
    if (!in)
        return -errno;
    FILE *out = fopen(dst, "w");
    if (!out) {
        fclose(in);
        return -errno;
    }
    char line[1024];
    while (fgets(line, sizeof(line), in)) {
        for (char *p = line; *p; p++) {
            if (!strncmp(p, "@DIR@", 5)) {
                fputs(dir, out);
                p += 4;
            } else if (!strncmp(p, "@PORT@", 6)) {
                fprintf(out, "%u", port);
                p += 5;
            } else {
                fputc(*p, out);
            }
        }
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : -EIO;
}

static int start_peer(struct ctx *c, const char *name, struct server *s)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->out = -1;
    char dir[PATH_MAX], src[PATH_MAX + 32], conf[PATH_MAX + 32], log[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/peers/%s", c->run.out, name);
    mkdir(dir, 0755);
    /* Started as root, nginx's worker and h2o drop to "nobody": they must read here. */
    chmod(dir, 0755);
    int rc = bench_free_port(&s->port);
    if (rc < 0)
        return rc;
    snprintf(src, sizeof(src), "%s/peers/%s.conf.in", c->bench_dir, name);
    snprintf(conf, sizeof(conf), "%s/%s.conf", dir, name);
    if ((rc = peer_config(src, conf, dir, s->port)) < 0)
        return rc;
    snprintf(log, sizeof(log), "%s/out.log", dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!strcmp(name, "nginx")) {
        char prefix[PATH_MAX + 2], elog[PATH_MAX + 16];
        snprintf(prefix, sizeof(prefix), "%s/", dir);
        snprintf(elog, sizeof(elog), "%s/error.log", dir);
        char *argv[] = {"nginx", "-p", prefix, "-c", conf, "-e", elog, NULL};
        rc = bench_spawn(argv, c->run.server_cpu, fd, fd, &s->pid);
    } else {
        char www[PATH_MAX + 16];
        snprintf(www, sizeof(www), "%s/www", dir);
        mkdir(www, 0755);
        chmod(www, 0755);
        snprintf(www, sizeof(www), "%s/www/plaintext", dir);
        FILE *f = fopen(www, "w");
        if (f) {
            fputs("Hello, World!", f);
            fclose(f);
            chmod(www, 0644);
        }
        char *argv[] = {"h2o", "-c", conf, NULL};
        rc = bench_spawn(argv, c->run.server_cpu, fd, fd, &s->pid);
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        return rc;
    if ((rc = wait_ready(c, s)) < 0) {
        fprintf(stderr, "roost bench: %s did not start (see %s)\n", name, log);
        bench_stop(s->pid, 5);
    }
    return rc;
}

static void stop_server(struct server *s)
{
    bench_stop(s->pid, 10);
    if (s->out >= 0 && s->roost)
        close(s->out);
}

/* --- cells ------------------------------------------------------------------------------ */

static struct bench_cell *new_cell(struct ctx *c)
{
    struct bench_run *r = &c->run;
    if (r->ncells == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct bench_cell *n = realloc(r->cells, cap * sizeof(*n));
        if (!n)
            return NULL;
        r->cells = n;
        r->cap = cap;
    }
    struct bench_cell *cell = &r->cells[r->ncells];
    memset(cell, 0, sizeof(*cell));
    return cell;
}

/*
 * One measurement: the route must answer 200 first; then an unmeasured warm-up, then the
 * measured run with the server's CPU time (/proc) and counters (/metrics) read on both
 * sides. A cell is valid only if every response was 2xx, no socket error happened and the
 * server is still alive.
 */
static void measure_once(struct ctx *c, struct server *s, struct bench_cell *cell)
{
    char path[64], log[PATH_MAX];
    snprintf(path, sizeof(path), "/%s", cell->handler);
    snprintf(log, sizeof(log), "%s/logs/load-%s-%s-%c-%s-%s-%u-r%u.log", c->run.out, cell->section,
             cell->server, cell->row ? cell->row : '-', cell->affinity ? "on" : "off",
             cell->handler, cell->depth, cell->round);
    int st = 0;
    char *body;
    size_t len;
    int rc = bench_http_get(s->port, path, 5 * c->scale, &st, &body, &len);
    if (rc == 0)
        free(body);
    if (rc < 0 || st != 200) {
        snprintf(cell->note, sizeof(cell->note), "%s answered %d before the run", path,
                 rc < 0 ? rc : st);
        return;
    }
    struct bench_load_result lr;
    if (c->warmup)
        bench_load_run(&c->load, s->port, path, cell->depth, c->warmup, log, &lr);
    struct bench_counters m0 = {0}, m1 = {0};
    bool counters = s->roost && bench_metrics(s->port, &m0) == 0;
    struct bench_cpu cpu0, cpu1;
    bench_cpu(s->pid, &cpu0);
    uint64_t busy0 = bench_cpus_busy(c->run.server_cpu, c->run.load_cpu);
    double t0 = bench_now();
    rc = bench_load_run(&c->load, s->port, path, cell->depth, c->seconds, log, &lr);
    double wall = bench_now() - t0;
    uint64_t busy1 = bench_cpus_busy(c->run.server_cpu, c->run.load_cpu);
    bench_cpu(s->pid, &cpu1);
    counters = counters && bench_metrics(s->port, &m1) == 0;

    double tck = (double)sysconf(_SC_CLK_TCK);
    double server_s = bench_cpu_seconds(&cpu0, &cpu1);
    double load_s = (double)lr.cpu_us / 1e6;
    unsigned ncpu = c->run.server_cpu == c->run.load_cpu ? 1 : 2;
    cell->responses = lr.responses;
    cell->ok = lr.ok;
    cell->bad_status = lr.bad_status;
    cell->errors = lr.errors;
    cell->seconds = lr.seconds;
    cell->status_exact = lr.status_exact || (counters && m1.have_classes);
    uint64_t server_not_2xx = counters && m1.have_classes ? m1.http_not_2xx - m0.http_not_2xx : 0;
    cell->server_pct = server_s / wall * 100;
    cell->load_pct = load_s / wall * 100;
    cell->foreign_pct = ((double)(busy1 - busy0) / tck - server_s - load_s) / (ncpu * wall) * 100;
    if (cell->foreign_pct < 0)
        cell->foreign_pct = 0;
    if (lr.ok && lr.seconds > 0) {
        double n = (double)lr.ok;
        cell->req_s = n / lr.seconds;
        cell->cpu_us_per_req = server_s * 1e6 / n;
        if (counters) {
            cell->counters = true;
            cell->enters = (double)(m1.enters - m0.enters) / n;
            cell->wakes = (double)(m1.wakes_written - m0.wakes_written) / n;
            cell->posted = (double)(m1.posted_resumes - m0.posted_resumes) / n;
            cell->inl = (double)(m1.inline_resumes - m0.inline_resumes) / n;
        }
    }
    if (rc < 0)
        snprintf(cell->note, sizeof(cell->note), "%s", lr.note);
    else if (!bench_alive(s->pid))
        snprintf(cell->note, sizeof(cell->note), "the server died");
    else if (lr.responses == 0)
        snprintf(cell->note, sizeof(cell->note), "no responses");
    else if (server_not_2xx)
        snprintf(cell->note, sizeof(cell->note),
                 "the server counted %llu non-2xx responses (roost_http_requests_total)",
                 (unsigned long long)server_not_2xx);
    else if (lr.bad_status || lr.errors || lr.ok != lr.responses)
        snprintf(cell->note, sizeof(cell->note),
                 "%llu non-2xx responses, %llu socket errors or timeouts",
                 (unsigned long long)(lr.responses - lr.ok), (unsigned long long)lr.errors);
    else if (s->roost && !counters)
        snprintf(cell->note, sizeof(cell->note), "/metrics unreadable: counters missing");
    else
        cell->valid = true;
}

/*
 * Measures a cell; a cell in which other processes took more than max_foreign % of the two
 * CPUs is measured again, a bounded number of times, then kept and flagged.
 */
static void measure(struct ctx *c, struct server *s, const char *section, unsigned round, char row,
                    bool affinity, const char *handler, unsigned depth)
{
    struct bench_cell *cell = new_cell(c);
    if (!cell)
        return;
    for (unsigned attempt = 0;; attempt++) {
        memset(cell, 0, sizeof(*cell));
        cell->section = section;
        cell->round = round;
        cell->server = s->name;
        cell->row = row;
        cell->affinity = affinity;
        cell->handler = handler;
        cell->depth = depth;
        double t = bench_now();
        measure_once(c, s, cell);
        if (cell->foreign_pct <= c->run.max_foreign || !cell->valid)
            break;
        if (attempt >= c->retries || c->retry_spent >= c->retry_budget) {
            cell->disturbed = true;
            break;
        }
        progress(c, "  disturbed: others took %.0f%% of the two CPUs; again", cell->foreign_pct);
        c->retry_spent += bench_now() - t;
    }
    c->run.ncells++;
    c->done++;
    progress(c, "%s %s%s%c %s /%s depth %u: %s%.0f req/s, %.2f us/req CPU%s%s", section, s->name,
             row ? " row " : "", row ? row : ' ', affinity ? "aff-on" : "aff-off", handler, depth,
             cell->valid ? "" : "INVALID ", cell->req_s, cell->cpu_us_per_req,
             cell->note[0] ? "; " : "", cell->note);
}

/* --- the libuv peers -------------------------------------------------------------------- */

/* Runs one micro-benchmark program; adds its "name value" lines to the pair's figures. */
static int run_micro(struct ctx *c, const char *prog, char *const args[], const char *pair, bool uv,
                     double **vals, size_t *nvals)
{
    char path[PATH_MAX + 32], log[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/bench/%s", c->exe_dir, prog);
    if (access(path, X_OK) < 0)
        return -ENOENT;
    snprintf(log, sizeof(log), "%s/logs/%s.log", c->run.out, prog);
    int fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char *argv[16] = {path};
    size_t n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid;
    int st = 0, rc = bench_spawn(argv, -1, fd, -1, &pid);
    if (rc == 0)
        rc = bench_wait(pid, 60 * c->scale, &st, NULL);
    close(fd);
    if (rc < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return rc < 0 ? rc : -ECHILD;
    FILE *f = fopen(log, "r");
    if (!f)
        return -errno;
    char line[256], name[64];
    double v;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || sscanf(line, "%63s %lf", name, &v) != 2)
            continue;
        struct bench_run *r = &c->run;
        size_t i = 0;
        while (i < r->nmicro && (strcmp(r->micro[i].pair, pair) || strcmp(r->micro[i].name, name)))
            i++;
        if (i == r->nmicro) {
            if (i == sizeof(r->micro) / sizeof(r->micro[0]))
                continue;
            r->nmicro++;
            snprintf(r->micro[i].pair, sizeof(r->micro[i].pair), "%s", pair);
            snprintf(r->micro[i].name, sizeof(r->micro[i].name), "%s", name);
            r->micro[i].roost = r->micro[i].uv = NAN;
        }
        /* Rounds' values are kept per figure and side; medians are taken after the rounds. */
        size_t k = i * 2 + uv;
        double *nv = realloc(vals[k], (nvals[k] + 1) * sizeof(double));
        if (nv) {
            nv[nvals[k]++] = v;
            vals[k] = nv;
        }
    }
    fclose(f);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * roost's post and offload micro-benchmarks beside their libuv peers, alternated, with
 * the same flags (they were written to take them).
 */
static void run_micro_peers(struct ctx *c)
{
    char items[24], rts[24], offs[24];
    bool q = c->run.quick;
    snprintf(items, sizeof(items), "%u", q ? 200000 : 1000000);
    snprintf(rts, sizeof(rts), "%u", q ? 5000 : 20000);
    snprintf(offs, sizeof(offs), "%u", q ? 20000 : 100000);
    char *post_args[] = {"--items", items, "--roundtrips", rts, NULL};
    char *task_args[] = {"--offloads", offs, "--concurrency", "16", NULL};
    static const struct {
        const char *pair, *roost, *uv;
    } progs[] = {
        {"post", "bench_post", "peer_uv_post"},
        {"offload", "bench_task", "peer_uv_queue_work"},
    };
    double *vals[128] = {0};
    size_t nvals[128] = {0};
    unsigned rounds = q ? 1 : 3;
    int missing = 0;
    for (unsigned r = 0; r < rounds; r++) {
        for (size_t i = 0; i < 2; i++) {
            char **args = i == 0 ? post_args : task_args;
            progress(c, "libuv peers, round %u: %s vs %s", r + 1, progs[i].roost, progs[i].uv);
            if (run_micro(c, progs[i].roost, args, progs[i].pair, false, vals, nvals) < 0)
                missing++;
            if (run_micro(c, progs[i].uv, args, progs[i].pair, true, vals, nvals) < 0)
                missing++;
        }
    }
    if (missing)
        snprintf(c->run.micro_note, sizeof(c->run.micro_note),
                 "%d program runs missing or failed (the libuv peers are built only with "
                 "libuv1-dev; see logs/)",
                 missing);
    for (size_t i = 0; i < c->run.nmicro; i++) {
        c->run.micro[i].roost = median_of(vals[i * 2], nvals[i * 2]);
        c->run.micro[i].uv = median_of(vals[i * 2 + 1], nvals[i * 2 + 1]);
    }
    for (size_t i = 0; i < 128; i++)
        free(vals[i]);
}

/* --- options ---------------------------------------------------------------------------- */

void roost_cmd_bench_help(void)
{
    printf(
        "  --quick                one round of 1 s cells at depth 16, a 4-round gate (< 2 min)\n"
        "  --out DIR              where cells.csv, summary.csv, bench.json, *.png and logs/\n"
        "                         go (default roost-bench)\n"
        "  --load wrk|roost|auto  load generator (auto: `roost load` if this binary has it,\n"
        "                         otherwise wrk with bench/pipeline.lua)\n"
        "  --rows abcd            decomposition rows to run (default abcd)\n"
        "  --affinities on,off    affinity settings per row (default on,off)\n"
        "  --handlers LIST        routes (default plaintext,offload0,yield; also offload, json)\n"
        "  --depths LIST          pipelined requests per connection (default 1,16)\n"
        "  --rounds N             rounds of the whole matrix (default 3); in each, every\n"
        "                         server's cell of a handler and depth runs back to back,\n"
        "                         the servers' order rotating from round to round\n"
        "  --seconds N            measured seconds per cell (default 3)\n"
        "  --warmup N             unmeasured seconds before each cell (default 1)\n"
        "  --connections N        load connections (default 64)\n"
        "  --gate-rounds N        alternated on/off pairs of the perf gate (default 12; 0\n"
        "                         skips it)\n"
        "  --gate-seconds N       measured seconds per gate cell (default 1)\n"
        "  --gate-depth N         the gate's depth (default 16)\n"
        "  --gate-limit PCT       the gate fails above this CPU/req difference (default 3);\n"
        "                         it is inconclusive when the spread of the paired\n"
        "                         differences exceeds it\n"
        "  --peers LIST           nginx,h2o,uv or none (default: those installed)\n"
        "  --server-cpu N         CPU of the servers (default 0)\n"
        "  --load-cpu N           CPU of the load generator (default 1)\n"
        "  --max-foreign PCT      a cell in which others took more of the two CPUs is run\n"
        "                         again, up to --retries times (default 10 %%, 1 retry)\n"
        "  --retries N\n"
        "  --park-poll-us N       every roost server's park poll (default: the server's, 30;\n"
        "                         0: off); it acts in coalesced rows, (c) never polls\n"
        "  --bench-dir DIR        the source tree's bench/ (default: found beside the binary)\n\n"
        "exit codes: 0 done (invalid cells are reported, not fatal), 1 could not run,\n"
        "2 usage, 3 the perf gate failed, 4 the gate had no valid cells to decide on,\n"
        "5 the gate was inconclusive: the machine was too noisy to tell 3%% apart.\n"
        "Runtime switches below are set by each row; ROOST_* variables reach every server.\n\n");
}

/* A decimal in 0..max and nothing else (no sign, no suffix). */
static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    unsigned long long v = 0;
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 9 || s[n])
        return false;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    if (v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

static bool parse_handlers(struct bench_run *r, char *v)
{
    r->nhandlers = 0;
    for (char *t = strtok(v, ","); t; t = strtok(NULL, ",")) {
        size_t i = 0;
        while (i < sizeof(known_handlers) / sizeof(known_handlers[0]) &&
               strcmp(t, known_handlers[i]))
            i++;
        if (i == sizeof(known_handlers) / sizeof(known_handlers[0]) ||
            r->nhandlers == BENCH_MAX_LIST)
            return false;
        r->handlers[r->nhandlers++] = known_handlers[i];
    }
    return r->nhandlers > 0;
}

static bool parse_depths(struct bench_run *r, char *v)
{
    r->ndepths = 0;
    for (char *t = strtok(v, ","); t; t = strtok(NULL, ",")) {
        unsigned d;
        if (!parse_uint(t, 1024, &d) || d == 0 || r->ndepths == BENCH_MAX_LIST)
            return false;
        r->depths[r->ndepths++] = d;
    }
    return r->ndepths > 0;
}

static bool has_program(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char buf[PATH_MAX];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, name);
        if (access(buf, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

static int parse_opts(struct ctx *c, int argc, char **argv)
{
    struct bench_run *r = &c->run;
    r->rounds = 3;
    r->seconds = 3;
    r->warmup = 1;
    r->gate_rounds = 12;
    r->gate_seconds = 1;
    r->gate_depth = 16;
    r->gate_limit_pct = 3;
    r->conns = 64;
    r->server_cpu = 0;
    r->load_cpu = 1;
    r->max_foreign = 10;
    r->out = "roost-bench";
    snprintf(r->rows, sizeof(r->rows), "abcd");
    r->affinities[0] = r->affinities[1] = true;
    c->retries = 1;
    c->retry_budget = 120;
    const char *load = "auto", *peers = NULL;
    bool rounds_set = false, seconds_set = false, warmup_set = false, gate_set = false,
         depths_set = false, retries_set = false;
    static char handlers_default[] = "plaintext,offload0,yield";
    parse_handlers(r, handlers_default);
    r->depths[0] = 1;
    r->depths[1] = 16;
    r->ndepths = 2;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quick")) {
            r->quick = true;
            continue;
        }
        char flag[32];
        char *v;
        char *eq = strchr(a, '=');
        if (eq) {
            snprintf(flag, sizeof(flag), "%.*s", (int)(eq - a), a);
            v = eq + 1;
        } else if (i + 1 < argc) {
            snprintf(flag, sizeof(flag), "%s", a);
            v = argv[++i];
        } else {
            fprintf(stderr, "roost bench: %s needs a value (see --help)\n", a);
            return 2;
        }
        unsigned n;
        bool ok = true;
        if (!strcmp(flag, "--out"))
            r->out = v;
        else if (!strcmp(flag, "--load"))
            load = v, ok = !strcmp(v, "wrk") || !strcmp(v, "roost") || !strcmp(v, "auto");
        else if (!strcmp(flag, "--rows")) {
            ok = strlen(v) >= 1 && strlen(v) <= 4 && strspn(v, "abcd") == strlen(v);
            if (ok)
                snprintf(r->rows, sizeof(r->rows), "%s", v);
        } else if (!strcmp(flag, "--affinities")) {
            r->affinities[0] = strstr(v, "off") != NULL;
            r->affinities[1] = !strcmp(v, "on") || !strncmp(v, "on,", 3) || strstr(v, ",on");
            ok = r->affinities[0] || r->affinities[1];
        } else if (!strcmp(flag, "--handlers"))
            ok = parse_handlers(r, v);
        else if (!strcmp(flag, "--depths"))
            ok = parse_depths(r, v), depths_set = true;
        else if (!strcmp(flag, "--rounds"))
            ok = parse_uint(v, 100, &r->rounds) && r->rounds > 0, rounds_set = true;
        else if (!strcmp(flag, "--seconds"))
            ok = parse_uint(v, 3600, &r->seconds) && r->seconds > 0, seconds_set = true;
        else if (!strcmp(flag, "--warmup"))
            ok = parse_uint(v, 600, &r->warmup), warmup_set = true;
        else if (!strcmp(flag, "--connections"))
            ok = parse_uint(v, 10000, &r->conns) && r->conns > 0;
        else if (!strcmp(flag, "--gate-rounds"))
            ok = parse_uint(v, 100, &r->gate_rounds), gate_set = true;
        else if (!strcmp(flag, "--gate-seconds"))
            ok = parse_uint(v, 3600, &r->gate_seconds) && r->gate_seconds > 0;
        else if (!strcmp(flag, "--gate-depth"))
            ok = parse_uint(v, 1024, &r->gate_depth) && r->gate_depth > 0;
        else if (!strcmp(flag, "--gate-limit")) {
            char *end;
            r->gate_limit_pct = strtod(v, &end);
            ok = !*end && r->gate_limit_pct > 0;
        } else if (!strcmp(flag, "--peers"))
            peers = v;
        else if (!strcmp(flag, "--server-cpu"))
            ok = parse_uint(v, 4095, &n), r->server_cpu = (int)n;
        else if (!strcmp(flag, "--load-cpu"))
            ok = parse_uint(v, 4095, &n), c->load.cpu = r->load_cpu = (int)n;
        else if (!strcmp(flag, "--max-foreign")) {
            char *end;
            r->max_foreign = strtod(v, &end);
            ok = !*end && r->max_foreign >= 0;
        } else if (!strcmp(flag, "--retries"))
            ok = parse_uint(v, 10, &c->retries), retries_set = true;
        else if (!strcmp(flag, "--park-poll-us"))
            ok = parse_uint(v, 100000, &n), r->park_poll_us = v;
        else if (!strcmp(flag, "--bench-dir"))
            snprintf(c->bench_dir, sizeof(c->bench_dir), "%s", v);
        else {
            fprintf(stderr, "roost bench: unknown flag %s (see --help)\n", flag);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "roost bench: bad value for %s: %s\n", flag, v);
            return 2;
        }
    }
    if (r->quick) {
        /* Quick: one pass of short cells and no warm-up, so that the whole run, peers
         * included, stays well under two minutes on a 2-CPU machine. */
        if (!rounds_set)
            r->rounds = 1;
        if (!seconds_set)
            r->seconds = 1;
        if (!warmup_set)
            r->warmup = 0;
        if (!gate_set)
            r->gate_rounds = 4;
        if (!depths_set) {
            r->depths[0] = 16;
            r->ndepths = 1;
        }
        if (!retries_set)
            c->retries = 0;
    }
    r->gate = r->gate_rounds > 0;

    /* Where the source tree's bench/ is: beside a build directory inside it. */
    if (!c->bench_dir[0])
        snprintf(c->bench_dir, sizeof(c->bench_dir), "%s/../bench", c->exe_dir);
    static char lua[PATH_MAX + 16];
    snprintf(lua, sizeof(lua), "%s/pipeline.lua", c->bench_dir);
    c->load.lua = lua;
    c->load.roost = c->self;
    c->load.cpu = r->load_cpu;
    c->load.conns = r->conns;
    bool roost_load = strcmp(load, "wrk") && bench_roost_load_usable(c->self);
    if (!strcmp(load, "roost") && !roost_load) {
        fprintf(stderr, "roost bench: --load roost: this binary has no usable `roost load`\n");
        return 1;
    }
    if (roost_load) {
        c->load.kind = BENCH_LOAD_ROOST;
        r->load_name = "roost load";
    } else {
        c->load.kind = BENCH_LOAD_WRK;
        r->load_name = "wrk + bench/pipeline.lua";
        if (!has_program("wrk") || access(lua, R_OK) < 0) {
            fprintf(stderr,
                    "roost bench: no load generator: `roost load` is not in this binary and "
                    "wrk or %s is missing (scripts/install-deps.sh installs wrk; --bench-dir "
                    "names the source tree's bench/)\n",
                    lua);
            return 1;
        }
    }
    /* Peers: those asked for (default: all), if installed. */
    bool want_nginx = !peers || strstr(peers, "nginx"), want_h2o = !peers || strstr(peers, "h2o");
    c->peers_uv = !peers || strstr(peers, "uv");
    char note[200] = "";
    size_t nl = 0;
    if (want_nginx && !has_program("nginx"))
        nl += (size_t)snprintf(note + nl, sizeof(note) - nl, "nginx not installed. "),
            want_nginx = false;
    if (want_h2o && !has_program("h2o"))
        nl += (size_t)snprintf(note + nl, sizeof(note) - nl, "h2o not installed. "),
            want_h2o = false;
    snprintf(r->peer_note, sizeof(r->peer_note), "%s", note);
    c->nginx = want_nginx;
    c->h2o = want_h2o;
    return 0;
}

/* --- the run ---------------------------------------------------------------------------- */

/* A cell whose server did not start: invalid, and said so. */
static void not_started(struct ctx *c, const char *section, unsigned round, char row, bool affinity,
                        const char *handler, unsigned depth)
{
    struct bench_cell *cell = new_cell(c);
    if (!cell)
        return;
    cell->section = section;
    cell->round = round;
    cell->server = "roost";
    cell->row = row;
    cell->affinity = affinity;
    cell->handler = handler;
    cell->depth = depth;
    snprintf(cell->note, sizeof(cell->note), "roost serve did not start (see logs/serve-*.err)");
    c->run.ncells++;
    c->done++;
}

/*
 * The gate: two row-(a) servers, affinity on and off, both up for the whole gate, idle on
 * the server CPU while the other is measured. Each round is a pair of short cells back to
 * back, the order flipped every round (on-off, off-on, ...), so that the machine's drift
 * hits both sides of a pair alike; the report decides on the pairs' differences. Each
 * server is warmed up once; its cells then run without a warm-up of their own.
 */
static void run_gate(struct ctx *c)
{
    struct server on, off;
    const struct bench_row *a = &bench_rows[0];
    int on_rc = start_roost(c, a, true, &on);
    int off_rc = on_rc < 0 ? on_rc : start_roost(c, a, false, &off);
    if (on_rc < 0 || off_rc < 0) {
        if (on_rc == 0)
            stop_server(&on);
        for (unsigned r = 1; r <= c->run.gate_rounds; r++) {
            not_started(c, "gate", r, 'a', true, "plaintext", c->run.gate_depth);
            not_started(c, "gate", r, 'a', false, "plaintext", c->run.gate_depth);
        }
        return;
    }
    if (c->run.warmup) {
        struct bench_load_result lr;
        char log[PATH_MAX];
        snprintf(log, sizeof(log), "%s/logs/load-gate-warmup.log", c->run.out);
        bench_load_run(&c->load, on.port, "/plaintext", c->run.gate_depth, c->run.warmup, log, &lr);
        bench_load_run(&c->load, off.port, "/plaintext", c->run.gate_depth, c->run.warmup, log,
                       &lr);
    }
    c->seconds = c->run.gate_seconds;
    c->warmup = 0;
    for (unsigned r = 1; r <= c->run.gate_rounds; r++) {
        bool first_on = r % 2;
        measure(c, first_on ? &on : &off, "gate", r, 'a', first_on, "plaintext", c->run.gate_depth);
        measure(c, first_on ? &off : &on, "gate", r, 'a', !first_on, "plaintext",
                c->run.gate_depth);
    }
    stop_server(&on);
    stop_server(&off);
}

/*
 * One round of the decomposition: every row and affinity gets its own server, all started
 * first and idle on the server CPU while another is measured. For each handler and depth
 * the servers are measured back to back, their order rotated by one every round, so that
 * a row and row (a) are compared on cells seconds apart, and no row always goes first.
 */
static void run_round(struct ctx *c, unsigned round)
{
    struct bench_run *r = &c->run;
    struct {
        const struct bench_row *row;
        bool aff;
        bool up;
        struct server s;
    } sv[8];
    size_t n = 0;
    for (const char *id = r->rows; *id; id++)
        for (int aff = 1; aff >= 0; aff--) {
            if (!r->affinities[aff])
                continue;
            sv[n].row = &bench_rows[*id - 'a'];
            sv[n].aff = aff;
            sv[n].up = start_roost(c, sv[n].row, aff, &sv[n].s) == 0;
            if (!sv[n].up) /* its cells are reported invalid; the rest of the run goes on */
                for (size_t h = 0; h < r->nhandlers; h++)
                    for (size_t d = 0; d < r->ndepths; d++)
                        not_started(c, "decomposition", round, sv[n].row->id, aff, r->handlers[h],
                                    r->depths[d]);
            n++;
        }
    progress(c, "round %u/%u: %zu servers (rows %s), measured in turn, first: row (%c)", round,
             r->rounds, n, r->rows, n ? sv[(round - 1) % n].row->id : '-');
    for (size_t h = 0; h < r->nhandlers; h++)
        for (size_t d = 0; d < r->ndepths; d++)
            for (size_t k = 0; k < n; k++) {
                size_t i = (k + round - 1) % n;
                if (sv[i].up)
                    measure(c, &sv[i].s, "decomposition", round, sv[i].row->id, sv[i].aff,
                            r->handlers[h], r->depths[d]);
            }
    for (size_t i = 0; i < n; i++)
        if (sv[i].up)
            stop_server(&sv[i].s);
}

int roost_cmd_bench(const struct roost_config *cfg, int argc, char **argv)
{
    (void)cfg;
    static struct ctx c;
    memset(&c, 0, sizeof(c));
    c.t0 = bench_now();
    c.run.gate_verdict = -1;
    const char *sc = getenv("ROOST_TEST_TIME_SCALE");
    c.scale = sc && atof(sc) > 0 ? atof(sc) : 1;
    ssize_t n = readlink("/proc/self/exe", c.self, sizeof(c.self) - 1);
    if (n <= 0) {
        fprintf(stderr, "roost bench: cannot find this binary (/proc/self/exe)\n");
        return 1;
    }
    c.self[n] = 0;
    size_t dl = (size_t)(strrchr(c.self, '/') - c.self);
    if (dl >= sizeof(c.exe_dir)) {
        fprintf(stderr, "roost bench: the path of this binary is too long\n");
        return 1;
    }
    memcpy(c.exe_dir, c.self, dl);
    c.exe_dir[dl] = 0;
    size_t cl = 0;
    cl += (size_t)snprintf(c.run.command, sizeof(c.run.command), "roost bench");
    for (int i = 1; i < argc && cl < sizeof(c.run.command); i++)
        cl += (size_t)snprintf(c.run.command + cl, sizeof(c.run.command) - cl, " %s", argv[i]);

    int rc = parse_opts(&c, argc, argv);
    if (rc)
        return rc;
    bool nginx = c.nginx, h2o = c.h2o;

    struct bench_run *r = &c.run;
    char dir[PATH_MAX + 16];
    if (mkdir(r->out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "roost bench: cannot create %s: %s\n", r->out, strerror(errno));
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s/logs", r->out);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/peers", r->out);
    if (nginx || h2o) {
        mkdir(dir, 0755);
        chmod(r->out, 0755);
    }
    time_t now = time(NULL);
    strftime(r->started, sizeof(r->started), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    signal(SIGPIPE, SIG_IGN);

    size_t nrows = strlen(r->rows), naff = r->affinities[0] + r->affinities[1];
    c.planned = r->rounds * (nrows * naff * r->nhandlers * r->ndepths +
                             (size_t)(nginx + h2o) * r->ndepths) +
                2 * r->gate_rounds;
    progress(&c, "%zu cells of %u s (+%u s warm-up), load: %s, server CPU %d, load CPU %d",
             c.planned, r->seconds, r->warmup, r->load_name, r->server_cpu, r->load_cpu);

    for (unsigned round = 1; round <= r->rounds; round++) {
        c.seconds = r->seconds;
        c.warmup = r->warmup;
        run_round(&c, round);
        static const char *const peer_names[] = {"nginx", "h2o"};
        for (size_t p = 0; p < 2; p++) {
            if (!(p == 0 ? nginx : h2o))
                continue;
            progress(&c, "round %u/%u: peer %s", round, r->rounds, peer_names[p]);
            struct server s;
            if (start_peer(&c, peer_names[p], &s) < 0) {
                snprintf(r->peer_note + strlen(r->peer_note),
                         sizeof(r->peer_note) - strlen(r->peer_note),
                         "%s did not start in round %u. ", peer_names[p], round);
                continue;
            }
            for (size_t d = 0; d < r->ndepths; d++)
                measure(&c, &s, "peer", round, 0, true, "plaintext", r->depths[d]);
            stop_server(&s);
        }
    }
    if (r->gate) {
        progress(&c, "perf gate: affinity on vs off, /plaintext depth %u, %u rounds", r->gate_depth,
                 r->gate_rounds);
        run_gate(&c);
    }
    if (c.peers_uv)
        run_micro_peers(&c);
    r->elapsed = bench_now() - c.t0;
    progress(&c, "done in %.0f s; writing the report", r->elapsed);
    rc = bench_report(r);
    free(r->cells);
    return rc;
}
