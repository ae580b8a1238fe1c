/* roost — per-reactor counters. */
#ifndef ROOST_STATS_H
#define ROOST_STATS_H

#include <stdint.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * One list of counters, used for the struct below, /metrics and `roost bench`, so a
 * counter has one name everywhere. X(name, help). Each layer counts its own (the core's,
 * the tasks', the network's); roost_reactor_stats gathers them.
 */
#define ROOST_STATS_CORE_FIELDS(X)                                                                 \
    X(ticks, "reactor loop iterations")                                                            \
    X(enters, "io_uring_enter calls made by the reactor loop")                                     \
    X(sqes_submitted, "SQEs submitted to the kernel")                                              \
    X(cqes_reaped, "CQEs reaped")                                                                  \
    X(sq_full_submits, "early submits because the SQ filled up mid-batch")                         \
    X(stale_cqes, "completions for a recycled op slot, recognised by generation and dropped")      \
    X(local_posts, "work posted by the reactor thread to itself")                                  \
    X(remote_posts, "work received through the cross-thread inbox")                                \
    X(wakes_written, "eventfd writes by producers to wake this reactor")                           \
    X(park_polls, "inbox polls before parking while work was away on other threads")               \
    X(park_poll_hits, "inbox polls before parking that found work, so the reactor did not park")   \
    X(timers_fired, "timer callbacks run")                                                         \
    X(task_failures, "posted work or detached tasks that returned a failure")

#define ROOST_STATS_TASK_FIELDS(X)                                                                 \
    X(inline_resumes, "tasks resumed inline in the CQE loop")                                      \
    X(posted_resumes, "tasks resumed through a post")

#define ROOST_STATS_NET_FIELDS(X)                                                                  \
    X(speculative_hits, "speculative syscalls that completed without the ring")                    \
    X(speculative_misses, "speculative syscalls that returned EAGAIN")                             \
    X(budget_exhaustions, "speculation stopped because the inline budget ran out")                 \
    X(enobufs_parks, "multishot receives ended by ENOBUFS: waiting for buffers to come back")      \
    X(enobufs_rearms, "multishot receives re-armed after ENOBUFS")                                 \
    X(ring_window_grows, "provided buffer ring window doublings: a burst needed more buffers")     \
    X(ring_window_shrinks, "provided buffer ring windows halved: an epoch used a quarter or less") \
    X(recv_throttles, "multishot receives stopped: a connection held its cap of buffers")          \
    X(send_timeouts, "sends that made no progress for the send timeout (connection failed)")       \
    X(sends_behind, "sends staged on the ring that their task did not wait for (send behind)")     \
    X(shed_accepts, "accepted connections closed at the connection cap")                           \
    X(accept_pauses, "accepting paused on EMFILE/ENFILE, retried on a timer")

#define ROOST_STATS_FIELDS(X)                                                                      \
    ROOST_STATS_CORE_FIELDS(X)                                                                     \
    ROOST_STATS_TASK_FIELDS(X)                                                                     \
    ROOST_STATS_NET_FIELDS(X)

/* A snapshot of one reactor's counters (roost_reactor_stats). */
struct roost_stats {
#define ROOST_STATS_MEMBER_(name, help) uint64_t name;
    ROOST_STATS_FIELDS(ROOST_STATS_MEMBER_)
#undef ROOST_STATS_MEMBER_
};

ROOST_END_DECLS

#endif
