/* `roost serve`'s database endpoints (serve_db.c): the three hooks serve.c calls. */
#ifndef ROOST_CLI_SERVE_DB_H
#define ROOST_CLI_SERVE_DB_H

#include <stdbool.h>

#include <roost/http.h>
#include <roost/runtime.h>

struct serve_db_opts {
    const char *url;    /* --pg, else DATABASE_URL; NULL: no database endpoints */
    unsigned pool_size; /* --pg-pool, else DATABASE_MAX_CONN; 0: the client's default */
    bool offload;       /* --pg-client offload: blocking libpq on the worker pool */
};

/* Before the runtime starts: adds the routes when o->url is set. 0 or -errno. */
int serve_db_routes(roost_http_router *router, const struct serve_db_opts *o);
/* After the runtime started: opens the database client. 0 or -errno. */
int serve_db_start(roost_runtime *rt);
/* Before the runtime stops: closes it. */
void serve_db_stop(void);

#endif
