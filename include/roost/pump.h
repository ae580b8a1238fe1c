/* roost — message pumps: channels, and the performers that drain them (Brighter's model). */
#ifndef ROOST_PUMP_H
#define ROOST_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include <roost/redis.h>
#include <roost/runtime.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * A received message, borrowed from its channel until it is acked or nacked and its batch
 * released. deliveries is 1 the first time, and counts every redelivery (nack, a claim
 * after a consumer died).
 */
struct roost_pump_msg {
    const char *id; /* the stream entry id ("1700000000000-0"), or a sequence number */
    const char *body;
    size_t body_len;
    const char *key; /* partition key, NULL when the message had none */
    size_t key_len;
    unsigned deliveries;
    uintptr_t _ch; /* the channel's */
};

/* A batch: the caller owns msgs (cap entries); receive fills count of them. */
struct roost_pump_batch {
    struct roost_pump_msg *msgs;
    unsigned cap;
    unsigned count;
    void *_ch; /* the channel's */
};

/*
 * A channel: where a performer receives messages and acks or nacks them. Long-lived.
 * A Redis channel is one consumer of a group and belongs to one performer; the in-memory
 * channel may be shared by performers on any threads.
 */
typedef struct roost_channel roost_channel;

/*
 * From a task: receives up to b->cap messages, waiting up to timeout_ms for the first.
 * Returns the count (0 when the time passed), or -errno (-ECONNRESET, -ENOTCONN, ... from
 * the broker: the performer retries; -ESHUTDOWN once closed; -EPERM outside a task).
 */
int roost_channel_receive(roost_channel *ch, struct roost_pump_batch *b, unsigned timeout_ms);

/* From a task: the message was handled; it is never delivered again. 0 or -errno. */
int roost_channel_ack(roost_channel *ch, struct roost_pump_msg *m);

/*
 * From a task: the message failed. It is delivered again after delay_ms (0: at once), or,
 * when it has been delivered max_deliveries times, moved to the dead letters and acked.
 * Returns 0, 1 when it was dead-lettered, or -errno.
 */
int roost_channel_nack(roost_channel *ch, struct roost_pump_msg *m, unsigned delay_ms);

/* Gives the batch's memory back after its messages were acked or nacked. */
void roost_channel_release(roost_channel *ch, struct roost_pump_batch *b);

/* Frees the channel (a Redis channel closes its connection: from a task or plain thread). */
void roost_channel_close(roost_channel *ch);

/* ---- the in-memory channel ------------------------------------------------------------- */

struct roost_mem_channel_opts {
    unsigned capacity;       /* messages held at once, in flight included (0: 1024) */
    unsigned max_deliveries; /* dead-letter at this many deliveries (0: 5) */
};

/* An in-memory bounded channel (in-process pipelines, tests). Returns 0 and *out, -ENOMEM. */
int roost_mem_channel_open(const struct roost_mem_channel_opts *o, roost_channel **out);

/*
 * Any thread: appends a copy of the message. Returns 0, -EAGAIN when the channel holds
 * capacity messages (the bound: producers back off), -ENOMEM.
 */
int roost_mem_channel_send(roost_channel *ch, const char *key, const void *body, size_t len);

/* Messages moved to the dead letters so far. Any thread. */
unsigned roost_mem_channel_dead(roost_channel *ch);

/* ---- Redis Streams ----------------------------------------------------------------------- */

struct roost_redis_channel_opts {
    const char *stream;      /* the stream (one partition of it) */
    const char *group;       /* the consumer group, created at the stream's start if missing */
    const char *consumer;    /* this consumer's name, unique in the group */
    unsigned claim_idle_ms;  /* claim entries pending this long on any consumer (0: 30000) */
    unsigned max_deliveries; /* dead-letter at this many deliveries (0: 5) */
    const char *dead_letter; /* the dead-letter stream (NULL: "<stream>:dead") */
};

/*
 * A consumer on a Redis stream: XREADGROUP BLOCK on a dedicated link (so blocking never
 * stalls other commands), XACK, XAUTOCLAIM of entries idle for claim_idle_ms (a killed
 * consumer's), nacks kept pending and claimed back after their delay, dead letters XADDed
 * to the dead-letter stream and acked. Strings in o are copied. Any thread.
 */
int roost_redis_channel_open(roost_redis *c, const struct roost_redis_channel_opts *o,
                             roost_channel **out);

/*
 * The stream a key's messages go to: "<stream>:<hash(key) mod partitions>", or stream
 * itself when partitions <= 1 or key is NULL. Writes into buf; returns buf.
 */
const char *roost_pump_partition(char *buf, size_t buflen, const char *stream, unsigned partitions,
                                 const char *key);

/* Partition i's stream: "<stream>:<i mod partitions>", or stream when partitions <= 1. */
const char *roost_pump_partition_stream(char *buf, size_t buflen, const char *stream,
                                        unsigned partitions, unsigned i);

/*
 * From a task: XADD of one message to stream (to its partition when partitions > 1 and
 * key is set), trimmed to about maxlen entries when maxlen > 0 (XADD MAXLEN ~: trimming
 * also drops entries no consumer has read, so size it above the backlog). Returns 0, or
 * -errno as roost_redis_command. id (may be NULL) receives the entry id.
 */
int roost_redis_publish(roost_redis *c, const char *stream, unsigned partitions, const char *key,
                        const void *body, size_t len, unsigned maxlen, char *id, size_t idlen);

/* ---- performers and pumps ---------------------------------------------------------------- */

/*
 * The two pump types (Brighter's names). A Proactor performer is a task on a reactor:
 * while its handler awaits, the other performers on that reactor run. A Reactor performer
 * owns a thread running roost_run: its handler may block the thread, and awaits in it come
 * back to that thread.
 */
enum roost_pump_type {
    ROOST_PUMP_PROACTOR,
    ROOST_PUMP_REACTOR,
};

/*
 * The handler: runs in the performer's task, one message at a time. Returns >= 0 to ack,
 * -errno to nack (redelivered after nack_delay_ms, dead-lettered at max_deliveries).
 */
typedef int (*roost_pump_handler)(struct roost_pump_msg *m, void *arg);

/* Makes performer i's channel (one per performer: a partition each, or a consumer each). */
typedef int (*roost_pump_channel_fn)(unsigned i, void *arg, roost_channel **out);

/* Called by performer i as it exits, in its task: NULL closes the channel. */
typedef void (*roost_pump_channel_done_fn)(unsigned i, roost_channel *ch, void *arg);

struct roost_pump_opts {
    enum roost_pump_type type;
    unsigned performers;    /* 0: 1 */
    unsigned in_flight;     /* messages received and not yet acked, per performer (0: 16) */
    double rate;            /* messages/s per performer; 0: no limit */
    unsigned poll_ms;       /* each receive waits at most this: bounds how fast stop is seen
                               (0: 500) */
    unsigned nack_delay_ms; /* delay before a nacked message comes back */
    roost_pump_handler handler;
    void *handler_arg;
    roost_pump_channel_fn channel;
    roost_pump_channel_done_fn channel_done; /* a shared channel: the caller closes it */
    void *channel_arg;
};

/* A pump: long-lived, N performers. */
typedef struct roost_pump roost_pump;

struct roost_pump_stats {
    uint64_t received, acked, nacked, dead, errors;
};

/*
 * Starts o->performers performers (Proactors spread over rt's reactors in turn, or one
 * thread each for Reactors). Any thread. Returns 0 and *out, or -errno (none left running).
 */
int roost_pump_start(roost_runtime *rt, const struct roost_pump_opts *o, roost_pump **out);

/*
 * Shutdown, step 1, from anywhere (a signal handler excepted): performers stop receiving,
 * finish and ack what they hold, close their channels and exit.
 */
void roost_pump_stop(roost_pump *p);

/* From a plain thread: waits until every performer has exited. 0, or -EDEADLK on a reactor. */
int roost_pump_wait(roost_pump *p);

/* Sums the performers' counters. Any thread. */
void roost_pump_stats(const roost_pump *p, struct roost_pump_stats *out);

/* Frees the pump after roost_pump_wait. */
void roost_pump_free(roost_pump *p);

ROOST_END_DECLS

#endif
