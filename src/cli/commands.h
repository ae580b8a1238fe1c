/* The `roost` subcommands. Each returns the process exit code. */
#ifndef ROOST_CLI_COMMANDS_H
#define ROOST_CLI_COMMANDS_H

#include <roost/config.h>

int roost_cmd_demo(const struct roost_config *cfg, int argc, char **argv);

#endif
