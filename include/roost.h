/* roost — a thread-per-core io_uring runtime with continuation affinity. */
#ifndef ROOST_H
#define ROOST_H

#include <roost/common.h>
#include <roost/config.h>
#include <roost/ctx.h>
#include <roost/http.h>
#include <roost/log.h>
#include <roost/http_client.h>
#include <roost/http_static.h>
#include <roost/net.h>
#include <roost/pg.h>
#include <roost/pool.h>
#include <roost/pump.h>
#include <roost/reactor.h>
#include <roost/redis.h>
#include <roost/run.h>
#include <roost/runtime.h>
#include <roost/stats.h>
#include <roost/task.h>
#include <roost/timer.h>
#include <roost/version.h>
#include <roost/waiter.h>
#include <roost/work.h>

#endif
