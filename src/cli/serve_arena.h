/* `roost serve`'s HttpArena HTTP/1.1 profiles (serve_arena.c): /pipeline, /baseline11, /json/N,
 * /upload. */
#ifndef ROOST_CLI_SERVE_ARENA_H
#define ROOST_CLI_SERVE_ARENA_H

#include <roost/http.h>

/*
 * Before the routes: loads the /json dataset from flag (--dataset or ROOST_DATASET), else from
 * the environment variable ROOST_SERVE_DATASET, else from data/arena-items.json relative to
 * the working directory. A path given by the flag or either variable that cannot be read or
 * is malformed is an error: it says why on stderr and returns -1. The default path missing
 * only leaves /json/N out, with a warning; returns 0.
 */
int serve_arena_dataset(const char *flag);

/* Adds the routes (/json/N only if serve_arena_dataset loaded the dataset). 0 or -errno. */
int serve_arena_routes(roost_http_router *router);

#endif
