/* The `roost` subcommands. Each returns the process exit code. */
#ifndef ROOST_CLI_COMMANDS_H
#define ROOST_CLI_COMMANDS_H

#include <roost/config.h>
#include <roost/http.h>

int roost_cmd_bench(const struct roost_config *cfg, int argc, char **argv);
void roost_cmd_bench_help(void);
int roost_cmd_demo(const struct roost_config *cfg, int argc, char **argv);
int roost_cmd_serve(const struct roost_config *cfg, int argc, char **argv);
int roost_cmd_load(const struct roost_config *cfg, int argc, char **argv);
void roost_cmd_load_help(void);
void roost_cmd_serve_help(void);
int roost_cmd_pump(const struct roost_config *cfg, int argc, char **argv);
void roost_cmd_pump_help(void);
int roost_cmd_produce(const struct roost_config *cfg, int argc, char **argv);
void roost_cmd_produce_help(void);

/* serve --upstream (serve_upstream.c): the flag (0 or -EINVAL/-EPROTONOSUPPORT), the route
 * and client once the runtime runs (0 or -errno; nothing without the flag), the teardown
 * before the runtime stops. */
int roost_serve_upstream_flag(const char *url);
int roost_serve_upstream_start(roost_runtime *rt, roost_http_router *router);
void roost_serve_upstream_stop(void);

#endif
