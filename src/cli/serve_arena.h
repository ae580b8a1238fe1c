/* `roost serve`'s HttpArena HTTP/1.1 profiles (serve_arena.c): /pipeline, /baseline11, /json/N. */
#ifndef ROOST_CLI_SERVE_ARENA_H
#define ROOST_CLI_SERVE_ARENA_H

#include <roost/http.h>

/*
 * Before the runtime starts: loads the /json dataset (ROOST_SERVE_DATASET, else
 * data/arena-items.json relative to the working directory) and adds the routes. /json/N is
 * left out, with a warning, when the dataset cannot be read. 0 or -errno.
 */
int serve_arena_routes(roost_http_router *router);

#endif
