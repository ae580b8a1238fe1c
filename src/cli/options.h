/* The command line's shared option handling: every runtime switch by its one name. */
#ifndef ROOST_CLI_OPTIONS_H
#define ROOST_CLI_OPTIONS_H

#include <roost/config.h>

/*
 * Applies ROOST_* environment variables, then the runtime switches among argv
 * (`--wake=per-item` or `--wake per-item`), removing them from argv. Returns the new argc,
 * or -1 after printing an error for a bad value.
 */
int roost_cli_config(struct roost_config *cfg, int argc, char **argv);

/* Prints the runtime switches, for --help texts. */
void roost_cli_config_help(void);

#endif
