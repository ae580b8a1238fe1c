/* The `roost` subcommands. Each returns the process exit code. */
#ifndef ROOST_CLI_COMMANDS_H
#define ROOST_CLI_COMMANDS_H

#include <roost/config.h>

int roost_cmd_bench(const struct roost_config *cfg, int argc, char **argv);
void roost_cmd_bench_help(void);
int roost_cmd_demo(const struct roost_config *cfg, int argc, char **argv);
int roost_cmd_serve(const struct roost_config *cfg, int argc, char **argv);
void roost_cmd_serve_help(void);

#endif
