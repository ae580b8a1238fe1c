/* `roost bench`: what the runner measured, shared with the report (bench_report.c). */
#ifndef ROOST_CLI_BENCH_H
#define ROOST_CLI_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_LIST 8

/* The decomposition rows: the runtime switches each one runs with. */
struct bench_row {
    char id; /* 'a'..'d' */
    const char *resume, *run_on, *wake;
    const char *what;
};
extern const struct bench_row bench_rows[4];

/* One measured cell: a server configuration, a route and a depth, for one round. */
struct bench_cell {
    const char *section; /* "decomposition", "gate" or "peer" */
    unsigned round;
    const char *server; /* "roost", "nginx", "h2o" */
    char row;           /* roost: 'a'..'d'; peers: 0 */
    bool affinity;
    const char *handler; /* route name without the slash */
    unsigned depth;
    uint64_t responses, ok, bad_status, errors;
    double seconds, req_s, cpu_us_per_req;
    bool counters;                     /* the counters below were read from /metrics */
    double enters, wakes, posted, inl; /* per request */
    double server_pct, load_pct, foreign_pct;
    bool status_exact; /* false: the generator cannot tell 3xx from 2xx */
    bool valid;
    bool disturbed;
    char note[200];
};

/* A figure of a roost micro-benchmark program and of its libuv peer (medians). */
struct bench_micro {
    char pair[24];    /* "post" or "offload" */
    char name[64];    /* the program's figure name */
    double roost, uv; /* NAN if that side did not print it */
};

struct bench_run {
    /* how it ran */
    bool quick;
    unsigned rounds, seconds, warmup, gate_rounds, gate_seconds, gate_depth, conns;
    int server_cpu, load_cpu;
    double max_foreign, gate_limit_pct;
    const char *load_name;
    const char *park_poll_us; /* --park-poll-us for every roost server; NULL: its default */
    char rows[5];
    bool affinities[2]; /* [0] off, [1] on */
    const char *handlers[BENCH_MAX_LIST];
    size_t nhandlers;
    unsigned depths[BENCH_MAX_LIST];
    size_t ndepths;
    bool gate;
    const char *out;
    char command[512];
    char started[64];
    double elapsed;
    /* what it measured */
    struct bench_cell *cells;
    size_t ncells, cap;
    struct bench_micro micro[64];
    size_t nmicro;
    char micro_note[200];
    char peer_note[200];
    /* the gate's verdict, filled by bench_report */
    double gate_on_cpu, gate_off_cpu, gate_on_rps, gate_off_rps, gate_diff_pct;
    double gate_foreign_pct; /* median share of the two CPUs others took in the gate's cells */
    /*
     * The gate decides on paired differences: per round, CPU/req on vs off in % of off,
     * from two cells measured back to back. Their median, the distribution-free interval
     * of that median (about 90%: order statistics), and its half-width, the spread.
     */
    unsigned gate_pairs;
    double gate_lo_pct, gate_hi_pct, gate_spread_pct;
    int gate_verdict; /* 0 held, 3 failed, 4 undecided, 5 inconclusive (noisy), -1 not run */
};

/*
 * Prints the report on stdout, writes cells.csv, summary.csv, bench.json and (with
 * gnuplot) decomposition.png and peers.png into run->out, and decides the gate. Returns the
 * exit code: 0, or 3 when the gate failed, 4 when it could not be decided.
 */
int bench_report(struct bench_run *run);

/* Median of the valid cells matching the filter, for one column; NAN if none. */
double bench_median(const struct bench_run *run, const char *section, const char *server, char row,
                    int affinity, const char *handler, unsigned depth, size_t field,
                    unsigned *valid, unsigned *total);

#endif
