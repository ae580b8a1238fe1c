/* roost — the runtime: a set of reactor threads. */
#ifndef ROOST_RUNTIME_H
#define ROOST_RUNTIME_H

#include <roost/config.h>
#include <roost/pool.h>
#include <roost/reactor.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/* Long-lived: created by roost_runtime_start, freed by roost_runtime_destroy. */
typedef struct roost_runtime roost_runtime;

/*
 * Starts cfg->reactors reactor threads (cfg NULL: defaults) and returns once every ring is
 * set up. Returns 0 and *out, or -errno (nothing is left running).
 */
int roost_runtime_start(const struct roost_config *cfg, roost_runtime **out);

/* The configuration in effect (after defaults were filled in). */
const struct roost_config *roost_runtime_config(const roost_runtime *rt);

unsigned roost_runtime_reactor_count(const roost_runtime *rt);

/* The runtime's worker pool (cfg->pool_threads workers), used by roost_offload. */
roost_pool *roost_runtime_pool(roost_runtime *rt);
roost_reactor *roost_runtime_reactor(roost_runtime *rt, unsigned i);

/*
 * Asks every reactor to stop, from any thread (a reactor's own included). Each reactor runs
 * the work already accepted, then refuses new posts with -ESHUTDOWN, tells pending timers
 * (-ESHUTDOWN) and exits its thread. Returns at once.
 */
void roost_runtime_request_stop(roost_runtime *rt);

/* Waits until every reactor thread has exited. -EDEADLK on one of rt's reactor threads. */
int roost_runtime_wait(roost_runtime *rt);

/* request_stop + wait. */
int roost_runtime_stop(roost_runtime *rt);

/* Stops rt if needed and frees it. Not on one of its own reactor threads. */
void roost_runtime_destroy(roost_runtime *rt);

ROOST_END_DECLS

#endif
