/* The channel calls: one interface, two implementations (mem.c, stream.c). */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <roost/reactor.h>
#include <roost/task.h>

#include "pump/pump.h"

uint64_t pump_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pump_sleep_ms(unsigned ms)
{
    if (roost_reactor_current() && roost_task_current() && roost_sleep(ms) == 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int roost_channel_receive(roost_channel *ch, struct roost_pump_batch *b, unsigned timeout_ms)
{
    if (!roost_task_current())
        return -EPERM;
    b->count = 0;
    b->_ch = NULL;
    int rc = ch->ops->receive(ch, b, timeout_ms);
    if (rc <= 0) {
        /* Nothing to hand out: what the channel kept for the batch goes back now. */
        ch->ops->release(ch, b);
        b->count = 0;
        b->_ch = NULL;
    }
    return rc;
}

int roost_channel_ack(roost_channel *ch, struct roost_pump_msg *m)
{
    return ch->ops->ack(ch, m);
}

int roost_channel_nack(roost_channel *ch, struct roost_pump_msg *m, unsigned delay_ms)
{
    return ch->ops->nack(ch, m, delay_ms);
}

void roost_channel_release(roost_channel *ch, struct roost_pump_batch *b)
{
    ch->ops->release(ch, b);
    b->count = 0;
    b->_ch = NULL;
}

void roost_channel_close(roost_channel *ch)
{
    if (ch)
        ch->ops->close(ch);
}

/* FNV-1a: stable across processes and machines, so every producer picks the same partition. */
const char *roost_pump_partition(char *buf, size_t buflen, const char *stream, unsigned partitions,
                                 const char *key)
{
    if (partitions <= 1 || !key) {
        snprintf(buf, buflen, "%s", stream);
        return buf;
    }
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return roost_pump_partition_stream(buf, buflen, stream, partitions, h);
}

const char *roost_pump_partition_stream(char *buf, size_t buflen, const char *stream,
                                        unsigned partitions, unsigned i)
{
    if (partitions <= 1)
        snprintf(buf, buflen, "%s", stream);
    else
        snprintf(buf, buflen, "%s:%u", stream, i % partitions);
    return buf;
}
