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
    /*
     * Coalesced wakes: before parking while tasks are away on other threads, poll the inbox
     * for up to park_poll_us microseconds (default 30; 0: never) and park_poll_spins checks
     * (default 256), yielding the CPU between them.
     */
    unsigned park_poll_us;
    unsigned park_poll_spins;
};

/* ---- switches and their descriptions ------------------------------------------------- */

/* How a switch's value is written on the command line and checked. */
enum roost_option_kind {
    ROOST_OPT_COUNT, /* decimal digits only (no sign, no space), within [min, max] */
    ROOST_OPT_POW2,  /* a COUNT that is also a power of two */
    ROOST_OPT_BYTES, /* decimal digits with an optional k, m or g suffix (KiB, MiB, GiB) */
    ROOST_OPT_BOOL,  /* on|off (also 1|0, true|false, yes|no) */
    ROOST_OPT_ENUM,  /* one of the '|'-separated names in `values`, stored as its index */
    ROOST_OPT_TEXT,  /* a non-empty string, stored as a pointer to it (the caller keeps it) */
};

/*
 * One switch: its name (the `--name` flag, the ROOST_NAME environment variable with dashes
 * as underscores, and roost_config_set's name), where it lives in its struct, its default
 * written as on the command line, and its documented range. Tables of these are generated
 * from X-macro lists such as ROOST_CONFIG_SWITCHES with ROOST_OPTION.
 */
struct roost_option {
    const char *name;
    enum roost_option_kind kind;
    size_t offset;               /* of the field in its struct */
    size_t size;                 /* of the field: 1, 2, 4 or 8 bytes (a pointer for TEXT) */
    const char *def;             /* NULL: none (TEXT only; the field keeps what it had) */
    unsigned long long min, max; /* COUNT, POW2, BYTES: the accepted range, inclusive */
    const char *values;          /* placeholder or names for help texts: "N", "on|off" */
    const char *help;
};

/* A struct roost_option for `field` of `type`, from one line of an X-macro list. */
#define ROOST_OPTION(type, name, field, kind, def, min, max, values, help)                         \
    {                                                                                              \
        name, kind, offsetof(type, field), sizeof(((type *)0)->field), def, min, max, values, help \
    }

/*
 * Every runtime switch of struct roost_config, with its default and range:
 *   X(name, field, kind, default, min, max, values, help)
 * Adding a switch: add its field to struct roost_config and one line here; parsing,
 * roost_config_set, the flags, the environment variable and the help text follow.
 * The ranges are what start-up can honour: stack-size's floor is what roost's own
 * handlers need with room to spare (8k in a release build, 12k under ASan, measured with
 * `roost serve`); sq-entries' ceiling is the kernel's (its CQ is clamped to the kernel's
 * limit); buf-count is the kernel's 16-bit buffer id space.
 */
#define ROOST_CONFIG_SWITCHES(X)                                                                   \
    X("reactors", reactors, ROOST_OPT_COUNT, "0", 0, 1024, "N",                                    \
      "reactor threads; 0: one per online CPU")                                                    \
    X("resume", resume, ROOST_OPT_ENUM, "inline", 0, 1, "inline|posted",                           \
      "how ring completions resume tasks")                                                         \
    X("run-on", run_on, ROOST_OPT_ENUM, "reactor", 0, 1, "reactor|pool",                           \
      "where task continuations after ring completions run")                                       \
    X("wake", wake, ROOST_OPT_ENUM, "coalesced", 0, 1, "coalesced|per-item",                       \
      "eventfd writes: one per park, or one per posted item")                                      \
    X("park-poll-us", park_poll_us, ROOST_OPT_COUNT, "30", 0, 100000, "N",                         \
      "before parking, poll the inbox N us while tasks are away (0: off)")                         \
    X("park-poll-spins", park_poll_spins, ROOST_OPT_COUNT, "256", 0, 1u << 20, "N",                \
      "inbox checks at most in that poll, sched_yield between")                                    \
    X("affinity", affinity, ROOST_OPT_BOOL, "on", 0, 1, "on|off",                                  \
      "reactor threads carry a scheduling context")                                                \
    X("speculative", speculative, ROOST_OPT_BOOL, "on", 0, 1, "on|off",                            \
      "try the syscall before suspending")                                                         \
    X("inline-budget", inline_budget, ROOST_OPT_COUNT, "2", 0, 1u << 20, "N",                      \
      "speculative attempts per dispatch")                                                         \
    X("sq-entries", sq_entries, ROOST_OPT_COUNT, "256", 1, 32768, "N",                             \
      "SQ entries per reactor ring (the CQ is 4x, at most the kernel's 65536)")                    \
    X("inbox-budget", inbox_budget, ROOST_OPT_COUNT, "4096", 1, 1u << 30, "N",                     \
      "inbox items run per tick before I/O gets its turn")                                         \
    X("pool-threads", pool_threads, ROOST_OPT_COUNT, "0", 0, 1024, "N",                            \
      "worker pool threads; 0: one per online CPU")                                                \
    X("stack-size", stack_size, ROOST_OPT_BYTES, "64k", 16384, 1ull << 30, "BYTES",                \
      "task stack size")                                                                           \
    X("pin-threads", pin_threads, ROOST_OPT_BOOL, "off", 0, 1, "on|off", "pin reactor i to CPU i") \
    X("recv", recv, ROOST_OPT_ENUM, "multishot", 0, 1, "multishot|oneshot",                        \
      "receive strategy: provided-buffer multishot, or one-shot")                                  \
    X("buf-count", buf_count, ROOST_OPT_POW2, "1024", 1, 32768, "N",                               \
      "provided buffers per reactor")                                                              \
    X("buf-size", buf_size, ROOST_OPT_BYTES, "4k", 64, 1u << 20, "BYTES",                          \
      "bytes per provided buffer (and per one-shot connection buffer)")                            \
    X("max-conns", max_conns, ROOST_OPT_COUNT, "10000", 1, 1u << 24, "N",                          \
      "open connections per reactor; more are shed")

/* Fills cfg with the defaults of ROOST_CONFIG_SWITCHES. */
void roost_config_init(struct roost_config *cfg);

/* The runtime switches, in the order of ROOST_CONFIG_SWITCHES; *count gets their number. */
const struct roost_option *roost_config_options(size_t *count);

/*
 * Sets one switch or limit by its name, as used by the `--name` flags and the ROOST_NAME
 * environment variables (see ROOST_CONFIG_SWITCHES).
 * Returns 0, -ENOENT for an unknown name, -EINVAL for a value that is not of the switch's
 * kind, or -ERANGE for a value outside its range; cfg is unchanged on error.
 */
int roost_config_set(struct roost_config *cfg, const char *name, const char *value);

/*
 * Applies every ROOST_<NAME> environment variable (ROOST_WAKE=per-item, ...).
 * Returns 0 or the first error of roost_config_set; *bad (if not NULL) names the variable.
 */
int roost_config_from_env(struct roost_config *cfg, const char **bad);

/*
 * Parses value as option o requires and stores it in the struct at base.
 * Returns 0, -EINVAL (not of o's kind) or -ERANGE (outside [min, max]); nothing is stored
 * on error.
 */
int roost_option_set(const struct roost_option *o, void *base, const char *value);

/* The option named name (length len) among opts[0..n), or NULL. */
const struct roost_option *roost_option_find(const struct roost_option *opts, size_t n,
                                             const char *name, size_t len);

/*
 * Writes what o accepts into buf, as its help text and error messages show it:
 * "0..1024", "16k..1g bytes", "1..32768, a power of two", "on|off". Returns the length
 * snprintf would have written.
 */
int roost_option_range(const struct roost_option *o, char *buf, size_t len);

/*
 * Stores the default of each of opts[0..n) into the struct at base. Returns 0, or the
 * error of the first default that does not parse or lies outside its own range (a
 * mistake in the table; the others are still stored) with *bad its index if not NULL.
 */
int roost_options_defaults(const struct roost_option *opts, size_t n, void *base, size_t *bad);

/* Writes o's environment variable name, ROOST_<NAME> with dashes as underscores, to buf. */
int roost_option_env_name(const struct roost_option *o, char *buf, size_t len);

/*
 * Applies the environment variable ROOST_<NAME> of each of opts[0..n) that is set.
 * Returns 0 or the first error of roost_option_set; *bad (if not NULL) then gets the
 * index of the option refused.
 */
int roost_options_from_env(const struct roost_option *opts, size_t n, void *base, size_t *bad);

/* The value names of the switches, for help texts and stats ("inline", "posted", ...). */
const char *roost_resume_name(enum roost_resume v);
const char *roost_run_on_name(enum roost_run_on v);
const char *roost_wake_name(enum roost_wake v);
const char *roost_recv_name(enum roost_recv v);

ROOST_END_DECLS

#endif
