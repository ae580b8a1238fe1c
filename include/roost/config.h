/* roost — runtime configuration and mode switches. */
#ifndef ROOST_CONFIG_H
#define ROOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

struct roost_reactor;

/* resume: how a ring completion resumes its task. */
enum roost_resume {
    ROOST_RESUME_INLINE, /* in the CQE loop (default) */
    ROOST_RESUME_POSTED, /* through the home context's queue, same thread */
};

/* run-on: where task continuations after ring completions run. */
enum roost_run_on {
    ROOST_RUN_ON_REACTOR, /* default */
    ROOST_RUN_ON_POOL,
};

/* wake: how cross-thread producers wake a parked reactor. */
enum roost_wake {
    ROOST_WAKE_COALESCED, /* one eventfd write per park (default) */
    ROOST_WAKE_PER_ITEM,  /* one eventfd write per posted item (benchmark row c) */
};

/* recv: how connections receive (see docs/net.md). */
enum roost_recv {
    ROOST_RECV_MULTISHOT, /* one multishot recv per connection into the reactor's provided
                             buffer ring: zero copy, ENOBUFS parks (default) */
    ROOST_RECV_ONESHOT,   /* one recv per call into the connection's own buffer, after a
                             speculative recv(2) while the inline budget allows */
};

/*
 * Called on the reactor thread when posted work or a detached task reports a failure
 * (returns a negative errno). `what` says which kind of work failed. The loop goes on.
 */
typedef void (*roost_error_hook)(struct roost_reactor *r, int err, const char *what, void *arg);

struct roost_config {
    unsigned reactors;     /* 0: one per online CPU */
    unsigned sq_entries;   /* SQ size per reactor ring (default 256) */
    unsigned inbox_budget; /* inbox items run per tick before I/O gets its turn (4096) */
    enum roost_resume resume;
    enum roost_run_on run_on;
    enum roost_wake wake;
    bool affinity;          /* reactor threads carry a scheduling context (default on) */
    bool speculative;       /* try the syscall before suspending (default on) */
    unsigned inline_budget; /* speculative attempts per dispatch (default 2) */
    unsigned pool_threads;  /* worker pool size (0: number of online CPUs) */
    enum roost_recv recv;   /* receive strategy */
    unsigned buf_count;     /* buffers in each reactor's provided-buffer ring (power of 2) */
    unsigned buf_size;      /* bytes per ring buffer, and of a one-shot connection's buffer */
    unsigned max_conns;     /* open connections per listener and reactor (listen default) */
    size_t stack_size;      /* task stack size in bytes (0: default) */
    bool pin_threads;       /* pin reactor i to CPU i modulo online CPUs */
    roost_error_hook error_hook;
    void *error_hook_arg;
};

/* Fills cfg with the defaults. */
void roost_config_init(struct roost_config *cfg);

/*
 * Sets one switch or limit by its name, as used by the `--name` flags and the ROOST_NAME
 * environment variables: resume, run-on, wake, affinity, speculative, inline-budget,
 * reactors, sq-entries, inbox-budget, pool-threads, stack-size, pin-threads, recv,
 * buf-count, buf-size, max-conns.
 * Returns 0, -ENOENT for an unknown name, or -EINVAL for a bad value.
 */
int roost_config_set(struct roost_config *cfg, const char *name, const char *value);

/*
 * Applies every ROOST_<NAME> environment variable (ROOST_WAKE=per-item, ...).
 * Returns 0 or the first error of roost_config_set; *bad (if not NULL) names the variable.
 */
int roost_config_from_env(struct roost_config *cfg, const char **bad);

/* The value names of the switches, for help texts and stats ("inline", "posted", ...). */
const char *roost_resume_name(enum roost_resume v);
const char *roost_run_on_name(enum roost_run_on v);
const char *roost_wake_name(enum roost_wake v);
const char *roost_recv_name(enum roost_recv v);

ROOST_END_DECLS

#endif
