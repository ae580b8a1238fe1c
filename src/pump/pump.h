/* Internal: the channel interface every channel implements, and the pump's helpers. */
#ifndef ROOST_PUMP_PUMP_H
#define ROOST_PUMP_PUMP_H

#include <stdint.h>

#include <roost/pump.h>

struct channel_ops {
    int (*receive)(roost_channel *ch, struct roost_pump_batch *b, unsigned timeout_ms);
    int (*ack)(roost_channel *ch, struct roost_pump_msg *m);
    int (*nack)(roost_channel *ch, struct roost_pump_msg *m, unsigned delay_ms);
    void (*release)(roost_channel *ch, struct roost_pump_batch *b);
    void (*close)(roost_channel *ch);
};

struct roost_channel {
    const struct channel_ops *ops;
};

uint64_t pump_now_ns(void);

/*
 * Sleeps ms: an await on a reactor (other tasks run meanwhile), a plain sleep elsewhere
 * (a Reactor performer's own thread, where blocking is the model).
 */
void pump_sleep_ms(unsigned ms);

#endif
