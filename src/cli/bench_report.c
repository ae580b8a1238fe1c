/*
 * `roost bench`'s report: medians over the valid cells, the decomposition table with each
 * row's ratio to (a) and what each gap means, the perf gate, the peers, the issue's
 * targets, the invalid cells; then the same as CSV and JSON files and gnuplot figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/bench.h"
#include "cli/bench_proc.h"

/* The columns a summary takes medians of, in table order. */
static const struct {
    size_t off;
    const char *csv;
} cols[] = {
    {offsetof(struct bench_cell, req_s), "req_s"},
    {offsetof(struct bench_cell, cpu_us_per_req), "cpu_us_per_req"},
    {offsetof(struct bench_cell, enters), "enters_per_req"},
    {offsetof(struct bench_cell, wakes), "eventfd_writes_per_req"},
    {offsetof(struct bench_cell, posted), "posted_resumes_per_req"},
    {offsetof(struct bench_cell, inl), "inline_resumes_per_req"},
    {offsetof(struct bench_cell, foreign_pct), "others_cpu_pct"},
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))
enum { C_RPS, C_CPU, C_ENTERS, C_WAKES, C_POSTED, C_INLINE, C_FOREIGN };

struct sum {
    const char *section, *server;
    char row;
    bool affinity;
    const char *handler;
    unsigned depth;
    double v[NCOLS];
    unsigned valid, total;
    double rps_vs_a, cpu_vs_a; /* NAN without an (a) to compare with */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const struct bench_run *run, const char *section, const char *server, char row,
                    int affinity, const char *handler, unsigned depth, size_t field,
                    unsigned *valid, unsigned *total)
{
    double v[256];
    size_t n = 0;
    unsigned t = 0;
    for (size_t i = 0; i < run->ncells; i++) {
        const struct bench_cell *c = &run->cells[i];
        if (strcmp(c->section, section) || strcmp(c->server, server) || c->row != row ||
            (affinity >= 0 && c->affinity != affinity) || strcmp(c->handler, handler) ||
            c->depth != depth)
            continue;
        t++;
        if (!c->valid || n == sizeof(v) / sizeof(v[0]))
            continue;
        if (!c->counters && field != cols[C_RPS].off && field != cols[C_CPU].off &&
            field != cols[C_FOREIGN].off)
            continue;
        v[n++] = *(const double *)((const char *)c + field);
    }
    if (valid)
        *valid = 0;
    if (total)
        *total = t;
    if (!n)
        return NAN;
    if (valid) {
        *valid = 0;
        for (size_t i = 0; i < run->ncells; i++) {
            const struct bench_cell *c = &run->cells[i];
            *valid += !strcmp(c->section, section) && !strcmp(c->server, server) && c->row == row &&
                      (affinity < 0 || c->affinity == affinity) && !strcmp(c->handler, handler) &&
                      c->depth == depth && c->valid;
        }
    }
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The median over rounds of one row's figure divided by row (a)'s, both of the same round,
 * affinity, handler and depth: the two cells ran seconds apart (bench.c's run_round), so
 * the machine's drift between rounds cancels out of each ratio. NAN without a valid pair.
 */
static double paired_ratio(const struct bench_run *run, char row, bool affinity,
                           const char *handler, unsigned depth, size_t field)
{
    double v[256];
    size_t n = 0;
    for (size_t i = 0; i < run->ncells && n < sizeof(v) / sizeof(v[0]); i++) {
        const struct bench_cell *x = &run->cells[i];
        if (!x->valid || strcmp(x->section, "decomposition") || x->row != row ||
            x->affinity != affinity || strcmp(x->handler, handler) || x->depth != depth)
            continue;
        for (size_t j = 0; j < run->ncells; j++) {
            const struct bench_cell *a = &run->cells[j];
            if (!a->valid || strcmp(a->section, "decomposition") || a->row != 'a' ||
                a->affinity != affinity || strcmp(a->handler, handler) || a->depth != depth ||
                a->round != x->round)
                continue;
            double num = *(const double *)((const char *)x + field);
            double den = *(const double *)((const char *)a + field);
            if (den > 0)
                v[n++] = num / den;
            break;
        }
    }
    if (!n)
        return NAN;
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarise(const struct bench_run *run, struct sum *s)
{
    for (size_t k = 0; k < NCOLS; k++)
        s->v[k] =
            bench_median(run, s->section, s->server, s->row, s->affinity, s->handler, s->depth,
                         cols[k].off, k == 0 ? &s->valid : NULL, k == 0 ? &s->total : NULL);
    s->rps_vs_a = s->cpu_vs_a = NAN;
}

/* "1234567" or "3.14": integers from 1000 up, otherwise 3 significant digits; "-" for none. */
static const char *fmt(char *buf, size_t n, double x)
{
    if (isnan(x))
        snprintf(buf, n, "-");
    else if (fabs(x) >= 1000)
        snprintf(buf, n, "%.0f", x);
    else
        snprintf(buf, n, "%.3g", x);
    return buf;
}
#define F(x) fmt((char[32]){0}, 32, (x))

static const char *ratio(char *buf, size_t n, double x)
{
    if (isnan(x) || isinf(x))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2fx", x);
    return buf;
}
#define R(x) ratio((char[32]){0}, 32, (x))

/* A JSON number, or null. */
static void jnum(FILE *f, const char *key, double x, bool comma)
{
    if (isnan(x) || isinf(x))
        fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
    else
        fprintf(f, "\"%s\": %.6g%s", key, x, comma ? ", " : "");
}

static void jstr(FILE *f, const char *key, const char *s, bool comma)
{
    fprintf(f, "\"%s\": \"", key);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fprintf(f, "\"%s", comma ? ", " : "");
}

struct target {
    char text[240];
    int met; /* 1 met, 0 missed, -1 no valid data, -2 inconclusive (noisy machine) */
};

struct report {
    struct bench_run *run;
    struct sum *sums;
    size_t nsums;
    struct target targets[32];
    size_t ntargets;
};

static const struct sum *find(const struct report *rp, const char *section, const char *server,
                              char row, bool aff, const char *handler, unsigned depth)
{
    for (size_t i = 0; i < rp->nsums; i++) {
        const struct sum *s = &rp->sums[i];
        if (!strcmp(s->section, section) && !strcmp(s->server, server) && s->row == row &&
            s->affinity == aff && !strcmp(s->handler, handler) && s->depth == depth)
            return s;
    }
    return NULL;
}

static void build_sums(struct report *rp)
{
    struct bench_run *run = rp->run;
    size_t cap = run->ncells + 8;
    rp->sums = calloc(cap, sizeof(*rp->sums));
    if (!rp->sums)
        return;
    /* One summary per distinct configuration, in the order the cells ran. */
    for (size_t i = 0; i < run->ncells; i++) {
        const struct bench_cell *c = &run->cells[i];
        if (find(rp, c->section, c->server, c->row, c->affinity, c->handler, c->depth))
            continue;
        struct sum *s = &rp->sums[rp->nsums++];
        s->section = c->section;
        s->server = c->server;
        s->row = c->row;
        s->affinity = c->affinity;
        s->handler = c->handler;
        s->depth = c->depth;
        summarise(run, s);
    }
    for (size_t i = 0; i < rp->nsums; i++) {
        struct sum *s = &rp->sums[i];
        if (strcmp(s->section, "decomposition"))
            continue;
        const struct sum *a =
            find(rp, "decomposition", "roost", 'a', s->affinity, s->handler, s->depth);
        if (a) {
            s->rps_vs_a =
                paired_ratio(run, s->row, s->affinity, s->handler, s->depth, cols[C_RPS].off);
            s->cpu_vs_a =
                paired_ratio(run, s->row, s->affinity, s->handler, s->depth, cols[C_CPU].off);
        }
    }
}

static void add_target(struct report *rp, int met, const char *fmt_, ...)
    __attribute__((format(printf, 3, 4)));
static void add_target(struct report *rp, int met, const char *fmt_, ...)
{
    if (rp->ntargets == sizeof(rp->targets) / sizeof(rp->targets[0]))
        return;
    struct target *t = &rp->targets[rp->ntargets++];
    va_list ap;
    va_start(ap, fmt_);
    vsnprintf(t->text, sizeof(t->text), fmt_, ap);
    va_end(ap);
    t->met = met;
}

/* The targets, for every handler and depth that ran with affinity on. */
static void build_targets(struct report *rp)
{
    struct bench_run *run = rp->run;
    for (size_t h = 0; h < run->nhandlers; h++) {
        const char *hd = run->handlers[h];
        bool offload = !strncmp(hd, "offload", 7);
        for (size_t d = 0; d < run->ndepths; d++) {
            unsigned dp = run->depths[d];
            const struct sum *a = find(rp, "decomposition", "roost", 'a', true, hd, dp);
            const struct sum *b = find(rp, "decomposition", "roost", 'b', true, hd, dp);
            const struct sum *c = find(rp, "decomposition", "roost", 'c', true, hd, dp);
            const struct sum *dd = find(rp, "decomposition", "roost", 'd', true, hd, dp);
            if (a && b) {
                double x = b->rps_vs_a;
                add_target(rp, isnan(x) ? -1 : x >= 0.95,
                           "(b)/(a) req/s >= 0.95 on /%s depth %u: %s (CPU/req %s)", hd, dp, R(x),
                           R(b->cpu_vs_a));
            }
            if (offload && a && dd) {
                double x = dd->cpu_vs_a;
                add_target(rp, isnan(x) ? -1 : x <= 1.5,
                           "(d) CPU/req <= 1.5x (a)'s on /%s depth %u: %s (%s vs %s us)", hd, dp,
                           R(x), F(dd->v[C_CPU]), F(a->v[C_CPU]));
            }
            if (offload && c && dd) {
                double wc = c->v[C_WAKES], wd = dd->v[C_WAKES];
                int met = isnan(wc) || isnan(wd) ? -1 : wc >= 10 * wd && wc > 0;
                add_target(rp, met,
                           "(d) >= 10x fewer eventfd writes/req than (c) on /%s depth %u: "
                           "(c) %s vs (d) %s per request (%s)",
                           hd, dp, F(wc), F(wd), wd > 0 ? R(wc / wd) : "(d) wrote none");
            }
        }
    }
    if (run->gate)
        add_target(rp,
                   run->gate_verdict == 0   ? 1
                   : run->gate_verdict == 3 ? 0
                   : run->gate_verdict == 5 ? -2
                                            : -1,
                   "perf gate: affinity on vs off within %.0f%% CPU/req on /plaintext depth %u: "
                   "%+.1f%% (spread ±%.1f%%, %u pairs)",
                   run->gate_limit_pct, run->gate_depth, run->gate_diff_pct, run->gate_spread_pct,
                   run->gate_pairs);
}

/* P(X <= k) for X ~ Binomial(n, 1/2). */
static double binom_half_cdf(unsigned n, unsigned k)
{
    double c = 1; /* C(n, i) / 2^n, starting at i = 0 (no libm here) */
    for (unsigned i = 0; i < n; i++)
        c /= 2;
    double p = 0;
    for (unsigned i = 0; i <= k && i <= n; i++) {
        p += c;
        c = c * (n - i) / (i + 1);
    }
    return p;
}

/*
 * The gate's verdict from the paired differences d (sorted, n of them), in % of off's CPU
 * per request. The median m is the estimate; [d(k), d(n+1-k)] with the largest k whose
 * coverage 1 - 2 P(Bin(n, 1/2) < k) is at least 90% is a distribution-free interval for
 * the true median (the full range when n is too small for 90%), and its half-width is the
 * spread. A spread above the limit means this machine cannot tell the limit apart:
 * inconclusive, unless even the whole interval lies beyond the limit (a difference that
 * stands out of the noise: failed). Otherwise the median decides.
 */
static void gate_verdict(struct bench_run *run, const double *d, unsigned n)
{
    unsigned k = 1;
    while (k + 1 <= (n + 1) / 2 && 1 - 2 * binom_half_cdf(n, k) >= 0.90)
        k++;
    run->gate_pairs = n;
    run->gate_diff_pct = n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
    run->gate_lo_pct = d[k - 1];
    run->gate_hi_pct = d[n - k];
    run->gate_spread_pct = (run->gate_hi_pct - run->gate_lo_pct) / 2;
    double lim = run->gate_limit_pct;
    if (run->gate_lo_pct > lim || run->gate_hi_pct < -lim)
        run->gate_verdict = 3;
    else if (run->gate_spread_pct > lim)
        run->gate_verdict = 5;
    else
        run->gate_verdict = fabs(run->gate_diff_pct) > lim ? 3 : 0;
}

static void decide_gate(struct bench_run *run)
{
    if (!run->gate)
        return;
    size_t cpu = offsetof(struct bench_cell, cpu_us_per_req);
    size_t rps = offsetof(struct bench_cell, req_s);
    unsigned von, voff;
    run->gate_on_cpu =
        bench_median(run, "gate", "roost", 'a', 1, "plaintext", run->gate_depth, cpu, &von, NULL);
    run->gate_off_cpu =
        bench_median(run, "gate", "roost", 'a', 0, "plaintext", run->gate_depth, cpu, &voff, NULL);
    run->gate_on_rps =
        bench_median(run, "gate", "roost", 'a', 1, "plaintext", run->gate_depth, rps, NULL, NULL);
    run->gate_off_rps =
        bench_median(run, "gate", "roost", 'a', 0, "plaintext", run->gate_depth, rps, NULL, NULL);
    run->gate_foreign_pct =
        bench_median(run, "gate", "roost", 'a', -1, "plaintext", run->gate_depth,
                     offsetof(struct bench_cell, foreign_pct), NULL, NULL);
    /* The pairs: each round's on and off cells, measured back to back. */
    double d[256];
    unsigned n = 0;
    for (size_t i = 0; i < run->ncells && n < sizeof(d) / sizeof(d[0]); i++) {
        const struct bench_cell *on = &run->cells[i];
        if (strcmp(on->section, "gate") || !on->affinity || !on->valid)
            continue;
        for (size_t j = 0; j < run->ncells; j++) {
            const struct bench_cell *off = &run->cells[j];
            if (!strcmp(off->section, "gate") && !off->affinity && off->valid &&
                off->round == on->round && off->cpu_us_per_req > 0) {
                d[n++] = (on->cpu_us_per_req / off->cpu_us_per_req - 1) * 100;
                break;
            }
        }
    }
    run->gate_diff_pct = run->gate_spread_pct = run->gate_lo_pct = run->gate_hi_pct = NAN;
    run->gate_pairs = n;
    if (!n || !von || !voff) {
        run->gate_verdict = 4;
        return;
    }
    qsort(d, n, sizeof(d[0]), cmp_double);
    gate_verdict(run, d, n);
}

static void print_header(const struct bench_run *run, FILE *f, const char *prefix)
{
    struct utsname u;
    uname(&u);
    char model[128] = "?";
    FILE *ci = fopen("/proc/cpuinfo", "r");
    if (ci) {
        char line[256];
        while (fgets(line, sizeof(line), ci)) {
            char *p = strchr(line, ':');
            if (!strncmp(line, "model name", 10) && p) {
                snprintf(model, sizeof(model), "%s", p + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        }
        fclose(ci);
    }
    fprintf(f, "%s%s, %s %s, %ld CPUs (%s); %s\n", prefix, run->started, u.sysname, u.release,
            sysconf(_SC_NPROCESSORS_ONLN), model, run->command);
    fprintf(f,
            "%sserver on CPU %d (roost serve --reactors 1 --pool-threads 1), load on CPU %d: "
            "%s, %u connections; %u round(s) of %u s cells after %u s warm-up; %.0f s in all\n",
            prefix, run->server_cpu, run->load_cpu, run->load_name, run->conns, run->rounds,
            run->seconds, run->warmup, run->elapsed);
}

static void print_table(const struct report *rp)
{
    const struct bench_run *run = rp->run;
    printf("\n## Decomposition\n\nMedians over the valid cells of each configuration. CPU = "
           "the server's on-CPU time (utime+stime, from each thread's schedstat) per 2xx "
           "response; enters, eventfd "
           "writes and resumes are reactor counters (/metrics) per response; ratios are to "
           "row (a) with the same affinity, handler and depth: the median over rounds of the "
           "ratio of two cells measured seconds apart in the same round; others' CPU %% is "
           "what other processes took of the two CPUs during the cells (median).\n\n");
    printf("| handler | depth | affinity | row | req/s | CPU µs/req | io_uring_enter/req | "
           "eventfd writes/req | posted resumes/req | inline resumes/req | req/s ÷ (a) | "
           "CPU/req ÷ (a) | others' CPU %% | valid cells |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t h = 0; h < run->nhandlers; h++)
        for (size_t d = 0; d < run->ndepths; d++)
            for (int aff = 1; aff >= 0; aff--)
                for (const char *r = run->rows; *r; r++) {
                    const struct sum *s = find(rp, "decomposition", "roost", *r, aff,
                                               run->handlers[h], run->depths[d]);
                    if (!s)
                        continue;
                    printf("| /%s | %u | %s | (%c) %s | %s | %s | %s | %s | %s | %s | %s | %s "
                           "| %.0f | %u/%u |\n",
                           s->handler, s->depth, aff ? "on" : "off", s->row,
                           bench_rows[s->row - 'a'].what, F(s->v[C_RPS]), F(s->v[C_CPU]),
                           F(s->v[C_ENTERS]), F(s->v[C_WAKES]), F(s->v[C_POSTED]),
                           F(s->v[C_INLINE]), R(s->rps_vs_a), R(s->cpu_vs_a), s->v[C_FOREIGN],
                           s->valid, s->total);
                }

    printf("\nWhat the gaps mean (affinity on):\n\n");
    for (size_t h = 0; h < run->nhandlers; h++)
        for (size_t d = 0; d < run->ndepths; d++) {
            const char *hd = run->handlers[h];
            unsigned dp = run->depths[d];
            const struct sum *a = find(rp, "decomposition", "roost", 'a', true, hd, dp);
            const struct sum *b = find(rp, "decomposition", "roost", 'b', true, hd, dp);
            const struct sum *c = find(rp, "decomposition", "roost", 'c', true, hd, dp);
            const struct sum *dd = find(rp, "decomposition", "roost", 'd', true, hd, dp);
            if (a && b)
                printf("- /%s depth %u, (a)-(b) queue discipline: resuming through the home "
                       "queue on the same thread instead of inline gives %s the requests/s at "
                       "%s the CPU per request (posted resumes/req %s -> %s).\n",
                       hd, dp, R(b->rps_vs_a), R(b->cpu_vs_a), F(a->v[C_POSTED]),
                       F(b->v[C_POSTED]));
            if (b && dd)
                printf("- /%s depth %u, (b)-(d) migration and pool hop: running continuations "
                       "on a pool worker and posting them home costs %s the CPU per request of "
                       "(b) and gives %s its requests/s.\n",
                       hd, dp, R(dd->v[C_CPU] / b->v[C_CPU]), R(dd->v[C_RPS] / b->v[C_RPS]));
            if (c && dd)
                printf("- /%s depth %u, (c)-(d) the eventfd storm: per-item wakes write the "
                       "eventfd %s times per request, coalesced ones %s; (c) costs %s the CPU "
                       "per request of (d) and io_uring_enter/req goes %s -> %s.\n",
                       hd, dp, F(c->v[C_WAKES]), F(dd->v[C_WAKES]), R(c->v[C_CPU] / dd->v[C_CPU]),
                       F(c->v[C_ENTERS]), F(dd->v[C_ENTERS]));
        }
}

static void print_rest(const struct report *rp)
{
    const struct bench_run *run = rp->run;
    if (run->gate) {
        printf("\n## Perf gate\n\nAffinity on vs off, /plaintext depth %u, %u alternated pairs "
               "of %u s cells (order flipped each round). Paired differences of CPU per request, "
               "on vs off: median %+.1f%%, 90%% interval of the median [%+.1f%%, %+.1f%%], "
               "spread ±%.1f%% over %u valid pairs (limit ±%.0f%%). Medians per side: CPU µs/req "
               "on %s, off %s; req/s on %s, off %s. ",
               run->gate_depth, run->gate_rounds, run->gate_seconds, run->gate_diff_pct,
               run->gate_lo_pct, run->gate_hi_pct, run->gate_spread_pct, run->gate_pairs,
               run->gate_limit_pct, F(run->gate_on_cpu), F(run->gate_off_cpu), F(run->gate_on_rps),
               F(run->gate_off_rps));
        if (run->gate_verdict == 0)
            printf("**The gate holds.**\n");
        else if (run->gate_verdict == 3)
            printf("**GATE FAILED**: affinity on and off differ by more than %.0f%% in CPU per "
                   "request.\n",
                   run->gate_limit_pct);
        else if (run->gate_verdict == 5)
            printf("**Gate inconclusive (noisy machine)**: the paired differences spread "
                   "±%.1f%%, more than the ±%.0f%% the gate must resolve; rerun it on a quieter "
                   "machine or with more --gate-rounds.\n",
                   run->gate_spread_pct, run->gate_limit_pct);
        else
            printf("**Gate undecided**: no valid cells on one side.\n");
        if (run->gate_foreign_pct > run->max_foreign)
            printf("\nOther processes took %.0f%% of the two CPUs during the gate's cells "
                   "(median): on a machine this busy a difference of a few %% is within the "
                   "noise; judge the gate on a quiet machine.\n",
                   run->gate_foreign_pct);
    }

    bool peers = false;
    for (size_t i = 0; i < rp->nsums; i++)
        peers |= !strcmp(rp->sums[i].section, "peer");
    printf("\n## Peers on /plaintext\n\n");
    if (!peers && !run->peer_note[0])
        printf("None ran (--peers).\n");
    if (run->peer_note[0])
        printf("%s\n\n", run->peer_note);
    if (peers) {
        printf("roost is row (a) with affinity on from the same rounds.\n\n"
               "| depth | server | req/s | CPU µs/req | req/s roost÷server | CPU/req server÷roost "
               "| valid cells |\n|---|---|---|---|---|---|---|\n");
        for (size_t d = 0; d < run->ndepths; d++) {
            unsigned dp = run->depths[d];
            const struct sum *ro = find(rp, "decomposition", "roost", 'a', true, "plaintext", dp);
            if (ro)
                printf("| %u | roost | %s | %s | 1.00x | 1.00x | %u/%u |\n", dp, F(ro->v[C_RPS]),
                       F(ro->v[C_CPU]), ro->valid, ro->total);
            static const char *const names[] = {"nginx", "h2o"};
            for (size_t p = 0; p < 2; p++) {
                const struct sum *s = find(rp, "peer", names[p], 0, true, "plaintext", dp);
                if (!s)
                    continue;
                printf("| %u | %s | %s | %s | %s | %s | %u/%u |\n", dp, names[p], F(s->v[C_RPS]),
                       F(s->v[C_CPU]), R(ro ? ro->v[C_RPS] / s->v[C_RPS] : NAN),
                       R(ro ? s->v[C_CPU] / ro->v[C_CPU] : NAN), s->valid, s->total);
            }
        }
    }
    if (run->nmicro || run->micro_note[0]) {
        printf("\n## libuv peers\n\nbench/bench_post vs bench/peer_uv_post (cross-thread posts) "
               "and bench/bench_task vs bench/peer_uv_queue_work (offload round trips), the "
               "same flags, alternated, medians. Rates (_per_s) are better higher, times and "
               "costs (_ns) lower.\n\n");
        if (run->micro_note[0])
            printf("%s\n\n", run->micro_note);
        /* Only the figures both programs print; bench.json holds the others. */
        printf("| pair | figure | roost | libuv | roost ÷ libuv |\n|---|---|---|---|---|\n");
        for (size_t i = 0; i < run->nmicro; i++) {
            const struct bench_micro *m = &run->micro[i];
            if (!isnan(m->roost) && !isnan(m->uv))
                printf("| %s | %s | %s | %s | %s |\n", m->pair, m->name, F(m->roost), F(m->uv),
                       R(m->roost / m->uv));
        }
    }

    printf("\n## Targets (issue 14)\n\n");
    for (size_t i = 0; i < rp->ntargets; i++)
        printf("- %s: %s\n", rp->targets[i].text,
               rp->targets[i].met == 1    ? "met"
               : rp->targets[i].met == 0  ? "MISSED"
               : rp->targets[i].met == -2 ? "INCONCLUSIVE"
                                          : "no valid data");

    size_t invalid = 0, disturbed = 0;
    for (size_t i = 0; i < run->ncells; i++) {
        invalid += !run->cells[i].valid;
        disturbed += run->cells[i].disturbed;
    }
    bool inexact = false;
    for (size_t i = 0; i < run->ncells; i++)
        inexact |= !run->cells[i].status_exact && run->cells[i].responses &&
                   !strcmp(run->cells[i].server, "roost");
    printf("\n## Cells\n\n%zu cells, %zu invalid (left out of the medians), %zu disturbed "
           "(others took more than %.0f%% of the two CPUs; kept, flagged). A cell is valid only "
           "if every response was 2xx%s, with no socket error, and the server lived.\n",
           run->ncells, invalid, disturbed, run->max_foreign,
           inexact ? " (wrk tells only statuses above 399 apart and this server exports no "
                     "status classes; each route is checked to answer 200 before its cell)"
                   : " (counted by the load generator, and by roost itself where it exports "
                     "roost_http_requests_total by class)");
    for (size_t i = 0; i < run->ncells; i++) {
        const struct bench_cell *c = &run->cells[i];
        if (c->valid)
            continue;
        printf("- INVALID: %s round %u %s%s%c affinity %s /%s depth %u: %s\n", c->section, c->round,
               c->server, c->row ? " row " : "", c->row ? c->row : ' ', c->affinity ? "on" : "off",
               c->handler, c->depth, c->note);
    }
    printf("\nFiles in %s/: cells.csv, summary.csv, bench.json, decomposition.png, peers.png, "
           "logs/.\n",
           run->out);
}

static void write_csv(const struct report *rp)
{
    const struct bench_run *run = rp->run;
    char path[4096];
    snprintf(path, sizeof(path), "%s/cells.csv", run->out);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "section,round,server,row,affinity,handler,depth,responses,ok_2xx,non_2xx,"
                   "errors,seconds,req_s,cpu_us_per_req,enters_per_req,eventfd_writes_per_req,"
                   "posted_resumes_per_req,inline_resumes_per_req,server_cpu_pct,load_cpu_pct,"
                   "foreign_pct,valid,disturbed,note\n");
        for (size_t i = 0; i < run->ncells; i++) {
            const struct bench_cell *c = &run->cells[i];
            char note[256];
            size_t k = 0;
            for (const char *p = c->note; *p && k < sizeof(note) - 1; p++)
                note[k++] = *p == ',' ? ';' : *p;
            note[k] = 0;
            fprintf(f,
                    "%s,%u,%s,%c,%s,%s,%u,%llu,%llu,%llu,%llu,%.3f,%.1f,%.4f,%.4f,%.4f,%.4f,%.4f,"
                    "%.1f,%.1f,%.1f,%d,%d,%s\n",
                    c->section, c->round, c->server, c->row ? c->row : '-',
                    c->affinity ? "on" : "off", c->handler, c->depth,
                    (unsigned long long)c->responses, (unsigned long long)c->ok,
                    (unsigned long long)c->bad_status, (unsigned long long)c->errors, c->seconds,
                    c->req_s, c->cpu_us_per_req, c->counters ? c->enters : NAN,
                    c->counters ? c->wakes : NAN, c->counters ? c->posted : NAN,
                    c->counters ? c->inl : NAN, c->server_pct, c->load_pct, c->foreign_pct,
                    c->valid, c->disturbed, note);
        }
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/summary.csv", run->out);
    f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "section,server,row,affinity,handler,depth");
    for (size_t k = 0; k < NCOLS; k++)
        fprintf(f, ",%s", cols[k].csv);
    fprintf(f, ",req_s_vs_a,cpu_vs_a,valid,total\n");
    for (size_t i = 0; i < rp->nsums; i++) {
        const struct sum *s = &rp->sums[i];
        fprintf(f, "%s,%s,%c,%s,%s,%u", s->section, s->server, s->row ? s->row : '-',
                s->affinity ? "on" : "off", s->handler, s->depth);
        for (size_t k = 0; k < NCOLS; k++)
            fprintf(f, ",%.6g", s->v[k]);
        fprintf(f, ",%.4f,%.4f,%u,%u\n", s->rps_vs_a, s->cpu_vs_a, s->valid, s->total);
    }
    fclose(f);
}

static void write_json(const struct report *rp)
{
    const struct bench_run *run = rp->run;
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench.json", run->out);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    struct utsname u;
    uname(&u);
    fprintf(f, "{\n  \"meta\": {");
    jstr(f, "started", run->started, true);
    jstr(f, "command", run->command, true);
    jstr(f, "kernel", u.release, true);
    fprintf(f, "\"cpus\": %ld, ", sysconf(_SC_NPROCESSORS_ONLN));
    jstr(f, "load", run->load_name, true);
    fprintf(f,
            "\"quick\": %s, \"rounds\": %u, \"seconds\": %u, \"warmup\": %u, "
            "\"connections\": %u, \"server_cpu\": %d, \"load_cpu\": %d, ",
            run->quick ? "true" : "false", run->rounds, run->seconds, run->warmup, run->conns,
            run->server_cpu, run->load_cpu);
    jnum(f, "elapsed_s", run->elapsed, false);
    fprintf(f, "},\n  \"cells\": [\n");
    for (size_t i = 0; i < run->ncells; i++) {
        const struct bench_cell *c = &run->cells[i];
        fprintf(f, "    {");
        jstr(f, "section", c->section, true);
        fprintf(f, "\"round\": %u, ", c->round);
        jstr(f, "server", c->server, true);
        jstr(f, "row", c->row ? (char[2]){c->row, 0} : "", true);
        fprintf(f,
                "\"affinity\": %s, \"handler\": \"/%s\", \"depth\": %u, \"responses\": %llu, "
                "\"ok_2xx\": %llu, \"non_2xx\": %llu, \"errors\": %llu, \"status_exact\": %s, ",
                c->affinity ? "true" : "false", c->handler, c->depth,
                (unsigned long long)c->responses, (unsigned long long)c->ok,
                (unsigned long long)c->bad_status, (unsigned long long)c->errors,
                c->status_exact ? "true" : "false");
        jnum(f, "seconds", c->seconds, true);
        jnum(f, "req_s", c->req_s, true);
        jnum(f, "cpu_us_per_req", c->cpu_us_per_req, true);
        jnum(f, "enters_per_req", c->counters ? c->enters : NAN, true);
        jnum(f, "eventfd_writes_per_req", c->counters ? c->wakes : NAN, true);
        jnum(f, "posted_resumes_per_req", c->counters ? c->posted : NAN, true);
        jnum(f, "inline_resumes_per_req", c->counters ? c->inl : NAN, true);
        jnum(f, "foreign_pct", c->foreign_pct, true);
        fprintf(f, "\"valid\": %s, \"disturbed\": %s, ", c->valid ? "true" : "false",
                c->disturbed ? "true" : "false");
        jstr(f, "note", c->note, false);
        fprintf(f, "}%s\n", i + 1 < run->ncells ? "," : "");
    }
    fprintf(f, "  ],\n  \"summary\": [\n");
    for (size_t i = 0; i < rp->nsums; i++) {
        const struct sum *s = &rp->sums[i];
        fprintf(f, "    {");
        jstr(f, "section", s->section, true);
        jstr(f, "server", s->server, true);
        jstr(f, "row", s->row ? (char[2]){s->row, 0} : "", true);
        fprintf(f, "\"affinity\": %s, \"handler\": \"/%s\", \"depth\": %u, ",
                s->affinity ? "true" : "false", s->handler, s->depth);
        for (size_t k = 0; k < NCOLS; k++)
            jnum(f, cols[k].csv, s->v[k], true);
        jnum(f, "req_s_vs_a", s->rps_vs_a, true);
        jnum(f, "cpu_vs_a", s->cpu_vs_a, true);
        fprintf(f, "\"valid\": %u, \"total\": %u}%s\n", s->valid, s->total,
                i + 1 < rp->nsums ? "," : "");
    }
    fprintf(f, "  ],\n  \"gate\": {\"ran\": %s, ", run->gate ? "true" : "false");
    jnum(f, "on_cpu_us_per_req", run->gate_on_cpu, true);
    jnum(f, "off_cpu_us_per_req", run->gate_off_cpu, true);
    jnum(f, "on_req_s", run->gate_on_rps, true);
    jnum(f, "off_req_s", run->gate_off_rps, true);
    jnum(f, "diff_pct", run->gate_diff_pct, true);
    jnum(f, "interval_lo_pct", run->gate_lo_pct, true);
    jnum(f, "interval_hi_pct", run->gate_hi_pct, true);
    jnum(f, "spread_pct", run->gate_spread_pct, true);
    fprintf(f, "\"pairs\": %u, ", run->gate_pairs);
    jnum(f, "limit_pct", run->gate_limit_pct, true);
    jstr(f, "verdict",
         run->gate_verdict == 0   ? "held"
         : run->gate_verdict == 3 ? "failed"
         : run->gate_verdict == 4 ? "undecided"
         : run->gate_verdict == 5 ? "inconclusive"
                                  : "not run",
         false);
    fprintf(f, "},\n  \"libuv_peers\": [\n");
    for (size_t i = 0; i < run->nmicro; i++) {
        fprintf(f, "    {");
        jstr(f, "pair", run->micro[i].pair, true);
        jstr(f, "figure", run->micro[i].name, true);
        jnum(f, "roost", run->micro[i].roost, true);
        jnum(f, "libuv", run->micro[i].uv, false);
        fprintf(f, "}%s\n", i + 1 < run->nmicro ? "," : "");
    }
    fprintf(f, "  ],\n  \"targets\": [\n");
    for (size_t i = 0; i < rp->ntargets; i++) {
        fprintf(f, "    {");
        jstr(f, "target", rp->targets[i].text, true);
        jstr(f, "verdict",
             rp->targets[i].met == 1    ? "met"
             : rp->targets[i].met == 0  ? "missed"
             : rp->targets[i].met == -2 ? "inconclusive"
                                        : "no data",
             false);
        fprintf(f, "}%s\n", i + 1 < rp->ntargets ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
}

/* --- figures ---------------------------------------------------------------------------- */

/* Writes x (NaN: a missing bar); counts the values that will draw a bar. */
static void gnum(FILE *f, double x, unsigned *drawn)
{
    if (isnan(x) || isinf(x)) {
        fprintf(f, " NaN");
        return;
    }
    fprintf(f, " %.6g", x);
    ++*drawn;
}

/* Runs gnuplot on the script; returns 0 or a negative errno. */
static int gnuplot(const struct bench_run *run, const char *script)
{
    char log[4096];
    snprintf(log, sizeof(log), "%s/logs/gnuplot.log", run->out);
    FILE *lf = fopen(log, "w");
    char *argv[] = {"gnuplot", (char *)script, NULL};
    pid_t pid;
    int st = 0;
    int rc = bench_spawn(argv, -1, lf ? fileno(lf) : -1, lf ? fileno(lf) : -1, &pid);
    if (lf)
        fclose(lf);
    if (rc == 0)
        rc = bench_wait(pid, 60, &st, NULL);
    if (rc == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
        rc = -ECHILD;
    return rc;
}

/* noenhanced: labels like "/plaintext,d16" are text, not sub- and superscripts. */
static const char gp_common[] = "set terminal pngcairo size 1280,560 font ',10' noenhanced\n"
                                "set xtics rotate by -25 font ',9'\n"
                                "set datafile missing 'NaN'\n"
                                "set style data histograms\n"
                                "set style histogram clustered gap 1\n"
                                "set style fill solid 0.85 border -1\n"
                                "set boxwidth 0.9\n"
                                "set key below\n"
                                "set grid ytics\n"
                                "set yrange [0:*]\n";

/*
 * The two panels every figure has, from a data file whose lines are a label, n req/s
 * columns, then n CPU µs/req columns; one bar colour per name.
 */
static void plot_panels(FILE *f, const char *dat, const char *const *names, int n, unsigned drawn)
{
    if (!drawn) {
        /* gnuplot refuses a plot with no point at all: an empty frame that says why. */
        fprintf(f, "set title 'no valid cells to draw'\nunset key\nplot [0:1][0:1] NaN\n"
                   "unset multiplot\n");
        return;
    }
    for (int panel = 0; panel < 2; panel++) {
        fprintf(f, "set title '%s'\nplot ",
                panel ? "server CPU µs per request (lower is better)"
                      : "requests/s, thousands (higher is better)");
        for (int i = 0; i < n; i++)
            fprintf(f, "%s'%s' using ($%d%s)%s title '%s'", i ? ", " : "", dat, 2 + panel * n + i,
                    panel ? "" : "/1000", i ? "" : ":xtic(1)", names[i]);
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
}

/* Two panels: req/s per row and CPU µs/req per row, clustered by handler and depth. */
static bool figure_decomposition(const struct report *rp)
{
    const struct bench_run *run = rp->run;
    char dat[4096], gp[4096];
    snprintf(dat, sizeof(dat), "%s/decomposition.dat", run->out);
    snprintf(gp, sizeof(gp), "%s/decomposition.gp", run->out);
    bool aff = run->affinities[1];
    unsigned drawn = 0;
    FILE *f = fopen(dat, "w");
    if (!f)
        return false;
    fprintf(f, "# group, req/s of rows a b c d, CPU us/req of rows a b c d (affinity %s)\n",
            aff ? "on" : "off");
    for (size_t h = 0; h < run->nhandlers; h++)
        for (size_t d = 0; d < run->ndepths; d++) {
            fprintf(f, "/%s,d%u", run->handlers[h], run->depths[d]);
            for (size_t k = 0; k < 2; k++)
                for (char r = 'a'; r <= 'd'; r++) {
                    const struct sum *s = find(rp, "decomposition", "roost", r, aff,
                                               run->handlers[h], run->depths[d]);
                    gnum(f, s ? s->v[k == 0 ? C_RPS : C_CPU] : NAN, &drawn);
                }
            fputc('\n', f);
        }
    fclose(f);
    f = fopen(gp, "w");
    if (!f)
        return false;
    fprintf(f, "%sset output '%s/decomposition.png'\n", gp_common, run->out);
    fprintf(f,
            "set multiplot layout 1,2 title 'roost bench: the decomposition (affinity %s, %s, "
            "medians)'\n",
            aff ? "on" : "off", run->started);
    static const char *const names[] = {"(a) inline", "(b) posted", "(c) pool, per-item wakes",
                                        "(d) pool, coalesced wakes"};
    plot_panels(f, dat, names, 4, drawn);
    fclose(f);
    return gnuplot(run, gp) == 0;
}

/* Two panels: req/s and CPU µs/req on /plaintext per server, clustered by depth. */
static bool figure_peers(const struct report *rp)
{
    const struct bench_run *run = rp->run;
    char dat[4096], gp[4096];
    snprintf(dat, sizeof(dat), "%s/peers.dat", run->out);
    snprintf(gp, sizeof(gp), "%s/peers.gp", run->out);
    unsigned drawn = 0;
    FILE *f = fopen(dat, "w");
    if (!f)
        return false;
    fprintf(f, "# depth, req/s of roost nginx h2o, CPU us/req of roost nginx h2o\n");
    for (size_t d = 0; d < run->ndepths; d++) {
        fprintf(f, "depth_%u", run->depths[d]);
        for (size_t k = 0; k < 2; k++) {
            const struct sum *ro =
                find(rp, "decomposition", "roost", 'a', true, "plaintext", run->depths[d]);
            gnum(f, ro ? ro->v[k ? C_CPU : C_RPS] : NAN, &drawn);
            static const char *const names[] = {"nginx", "h2o"};
            for (size_t p = 0; p < 2; p++) {
                const struct sum *s =
                    find(rp, "peer", names[p], 0, true, "plaintext", run->depths[d]);
                gnum(f, s ? s->v[k ? C_CPU : C_RPS] : NAN, &drawn);
            }
        }
        fputc('\n', f);
    }
    fclose(f);
    f = fopen(gp, "w");
    if (!f)
        return false;
    fprintf(f, "%sset output '%s/peers.png'\n", gp_common, run->out);
    fprintf(f,
            "set multiplot layout 1,2 title 'roost bench: GET /plaintext, roost (row a) and "
            "its peers (%s, medians)'\n",
            run->started);
    static const char *const names[] = {"roost", "nginx", "h2o"};
    plot_panels(f, dat, names, 3, drawn);
    fclose(f);
    return gnuplot(run, gp) == 0;
}

int bench_report(struct bench_run *run)
{
    struct report rp = {.run = run};
    decide_gate(run);
    build_sums(&rp);
    build_targets(&rp);
    print_header(run, stdout, "# roost bench: ");
    print_table(&rp);
    print_rest(&rp);
    write_csv(&rp);
    write_json(&rp);
    bool d = figure_decomposition(&rp);
    bool p = figure_peers(&rp);
    if (!d || !p)
        fprintf(stderr,
                "roost bench: %s figures not drawn: gnuplot failed or is missing "
                "(Debian gnuplot-nox; see %s/logs/gnuplot.log)\n",
                !d && !p ? "the"
                : !d     ? "the decomposition"
                         : "the peers",
                run->out);
    fflush(stdout);
    free(rp.sums);
    if (run->gate_verdict == 3)
        fprintf(stderr,
                "roost bench: GATE FAILED: affinity on costs %+.1f%% CPU per request against "
                "affinity off on /plaintext depth %u (limit ±%.0f%%)\n",
                run->gate_diff_pct, run->gate_depth, run->gate_limit_pct);
    if (run->gate_verdict == 3 && run->gate_foreign_pct > run->max_foreign)
        fprintf(stderr,
                "roost bench: other processes took %.0f%% of the two CPUs during the gate: "
                "rerun it on a quiet machine before trusting the verdict\n",
                run->gate_foreign_pct);
    else if (run->gate_verdict == 4)
        fprintf(stderr, "roost bench: gate undecided: no valid cells on one side\n");
    else if (run->gate_verdict == 5)
        fprintf(stderr,
                "roost bench: gate inconclusive (noisy machine): paired differences %+.1f%% "
                "spread ±%.1f%%, more than the ±%.0f%% limit\n",
                run->gate_diff_pct, run->gate_spread_pct, run->gate_limit_pct);
    return run->gate_verdict > 0 ? run->gate_verdict : 0;
}
